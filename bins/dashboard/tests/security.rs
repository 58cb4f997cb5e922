//! Nobody can forge a login: no public keys, tokens that can be revoked, throttled
//! logins, CORS for configured origins only, security headers, and keys shared by every
//! dashboard through the database.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::{Duration, Instant};

use actix_web::test;
use app_core::token::{UserClaims, issue_user_token};
use common::{TestApp, send};
use serde_json::{Value, json};

fn original_claims(user: &str) -> UserClaims {
    UserClaims {
        iss: "cube-studio".into(),
        sub: user.into(),
        uid: None,
        ver: None,
        iat: None,
        exp: None,
    }
}

fn get(uri: &str, auth: &str) -> test::TestRequest {
    test::TestRequest::get()
        .uri(uri)
        .insert_header(("Authorization", auth.to_string()))
}

fn login(user: &str, password: &str, peer: &str) -> test::TestRequest {
    test::TestRequest::post()
        .uri("/login/")
        .peer_addr(peer.parse().unwrap())
        .insert_header(("Content-Type", "application/json"))
        .set_payload(json!({"username": user, "password": password}).to_string())
}

#[actix_web::test]
async fn tokens_signed_with_any_other_key_are_refused() {
    let app = TestApp::new();
    let svc = test::init_service(dashboard::dashboard_app!(app.state.clone())).await;
    // the generated key: 256 bits, never a public one
    assert_eq!(app.state.keys.token.len(), 64);
    assert_ne!(app.state.keys.token, app.state.keys.session);
    let admin_id = app.scalar("SELECT CAST(id AS SIGNED) AS n FROM ab_user WHERE username='admin'");
    for key in ["cube-studio", "local-stack-secret", "some-other-key"] {
        let original = issue_user_token(&original_claims("admin"), key).unwrap();
        let ours = issue_user_token(
            &UserClaims {
                uid: Some(admin_id),
                ver: Some(0),
                ..original_claims("admin")
            },
            key,
        )
        .unwrap();
        for t in [&original, &ours] {
            for auth in [t.to_string(), format!("admin|{t}"), format!("Bearer {t}")] {
                let r = send(&svc, get("/users/api/", &auth)).await;
                assert_eq!(r.status, 401, "{key}: {auth}");
                assert_eq!(r.body["status"], json!(1));
            }
        }
        let r = send(
            &svc,
            test::TestRequest::get().uri(&format!("/login/api/?token={original}")),
        )
        .await;
        assert_eq!(r.status, 401);
    }
    // the admin's real token works
    let r = send(&svc, get("/users/api/", &app.auth("admin"))).await;
    assert_eq!(r.status, 200);
}

#[actix_web::test]
async fn session_cookies_signed_with_another_key_are_refused() {
    let app = TestApp::with_config(&[("SECRET_KEY", "")]);
    let svc = test::init_service(dashboard::dashboard_app!(app.state.clone())).await;
    let admin_id = app.scalar("SELECT CAST(id AS SIGNED) AS n FROM ab_user WHERE username='admin'");
    let now = chrono::Utc::now().timestamp();
    for key in ["local-stack-secret", "cube-studio-dev-secret-key-change-me"] {
        let forged = dashboard::auth::session::encode_session("admin", admin_id, key, now);
        let r = send(
            &svc,
            test::TestRequest::get()
                .uri("/project_modelview/api/")
                .insert_header(("Cookie", format!("session={forged}"))),
        )
        .await;
        assert_eq!(r.status, 401, "{key}");
    }
    let real =
        dashboard::auth::session::encode_session("admin", admin_id, &app.state.keys.session, now);
    let r = send(
        &svc,
        test::TestRequest::get()
            .uri("/project_modelview/api/")
            .insert_header(("Cookie", format!("session={real}"))),
    )
    .await;
    assert_eq!(r.status, 200);
}

#[::core::prelude::v1::test]
fn public_keys_are_refused_in_the_configuration() {
    for (name, value) in [
        ("JWT_PASSWORD", "cube-studio"),
        ("SECRET_KEY", "local-stack-secret"),
        ("SECRET_KEY", "cube-studio-dev-secret-key-change-me"),
    ] {
        let err = app_core::Config::from_lookup(&|k| (k == name).then(|| value.to_string()))
            .unwrap_err()
            .to_string();
        assert!(err.contains(name), "{err}");
    }
}

#[actix_web::test]
async fn a_rotated_token_is_refused_and_the_new_one_accepted() {
    let app = TestApp::new();
    app.add_user("bob");
    let svc = test::init_service(dashboard::dashboard_app!(app.state.clone())).await;
    let old = app.auth("bob");
    let r = send(&svc, get("/userinfo/api/current/userinfo", &old)).await;
    assert_eq!(r.status, 200);
    assert_eq!(format!("bob|{}", r.body["secret"].as_str().unwrap()), old);
    // the user rotates their own token
    let r = send(
        &svc,
        test::TestRequest::post()
            .uri("/userinfo/api/current/token")
            .insert_header(("Authorization", old.clone())),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let new = format!("bob|{}", r.body["result"]["secret"].as_str().unwrap());
    assert_ne!(new, old);
    assert_eq!(
        send(&svc, get("/project_modelview/api/", &old))
            .await
            .status,
        401
    );
    assert_eq!(
        send(&svc, get("/project_modelview/api/", &new))
            .await
            .status,
        200
    );
    let r = send(&svc, get("/userinfo/api/current/userinfo", &new)).await;
    assert_eq!(format!("bob|{}", r.body["secret"].as_str().unwrap()), new);

    // an admin rotates it through the users view's action
    let bob = app.scalar("SELECT CAST(id AS SIGNED) AS n FROM ab_user WHERE username='bob'");
    let r = send(
        &svc,
        get(
            &format!("/users/api/action/rotate_token/{bob}"),
            &app.auth("admin"),
        ),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        send(&svc, get("/project_modelview/api/", &new))
            .await
            .status,
        401
    );
    assert_eq!(
        send(&svc, get("/project_modelview/api/", &app.auth("bob")))
            .await
            .status,
        200
    );
    // the action is offered by _info, and a plain user cannot rotate the admin's token
    let info = send(&svc, get("/users/api/_info", &app.auth("admin"))).await;
    assert!(info.body["action"].to_string().contains("rotate_token"));
    let admin = app.scalar("SELECT CAST(id AS SIGNED) AS n FROM ab_user WHERE username='admin'");
    let before = app.auth("admin");
    let r = send(
        &svc,
        get(
            &format!("/userinfo/api/action/rotate_token/{admin}"),
            &app.auth("bob"),
        ),
    )
    .await;
    assert!(matches!(r.status, 403 | 404), "{}", r.status);
    assert_eq!(send(&svc, get("/users/api/", &before)).await.status, 200);
}

#[actix_web::test]
async fn tokens_of_deactivated_and_deleted_users_are_refused() {
    let app = TestApp::new();
    let carol = app.add_user("carol");
    let svc = test::init_service(dashboard::dashboard_app!(app.state.clone())).await;
    let token = app.auth("carol");
    assert_eq!(
        send(&svc, get("/project_modelview/api/", &token))
            .await
            .status,
        200
    );
    // deactivated by an admin through the users view
    let r = send(
        &svc,
        test::TestRequest::put()
            .uri(&format!("/users/api/{carol}"))
            .insert_header(("Authorization", app.auth("admin")))
            .insert_header(("Content-Type", "application/json"))
            .set_payload(json!({"active": false}).to_string()),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let r = send(&svc, get("/project_modelview/api/", &token)).await;
    assert_eq!(r.status, 401);
    // deleted, then a new user of the same name: the old token does not open it
    let r = send(
        &svc,
        test::TestRequest::delete()
            .uri(&format!("/users/api/{carol}"))
            .insert_header(("Authorization", app.auth("admin"))),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        send(&svc, get("/project_modelview/api/", &token))
            .await
            .status,
        401
    );
    app.add_user("carol");
    assert_eq!(
        send(&svc, get("/project_modelview/api/", &token))
            .await
            .status,
        401
    );
    assert_eq!(
        send(&svc, get("/project_modelview/api/", &app.auth("carol")))
            .await
            .status,
        200
    );
}

#[actix_web::test]
async fn the_originals_tokens_work_with_the_adopted_key_until_rotated() {
    let app = TestApp::with_config(&[("JWT_PASSWORD", "the-old-deployment-key")]);
    let svc = test::init_service(dashboard::dashboard_app!(app.state.clone())).await;
    let original = issue_user_token(&original_claims("admin"), "the-old-deployment-key").unwrap();
    let auth = format!("admin|{original}");
    assert_eq!(send(&svc, get("/users/api/", &auth)).await.status, 200);
    let r = send(
        &svc,
        test::TestRequest::post()
            .uri("/userinfo/api/current/token")
            .insert_header(("Authorization", auth.clone())),
    )
    .await;
    assert_eq!(r.status, 200);
    assert_eq!(send(&svc, get("/users/api/", &auth)).await.status, 401);
}

#[actix_web::test]
async fn expiring_tokens() {
    let app = TestApp::with_config(&[("TOKEN_TTL_DAYS", "30")]);
    let svc = test::init_service(dashboard::dashboard_app!(app.state.clone())).await;
    let token = app.token("admin");
    let claims = app_core::token::verify_user_token(&token, &app.state.keys.token).unwrap();
    let now = chrono::Utc::now().timestamp();
    let exp = claims.exp.unwrap();
    assert!((exp - now - 30 * 86400).abs() < 120, "exp {exp} now {now}");
    // stable: the user centre shows the same token again
    assert_eq!(app.token("admin"), token);
    assert_eq!(send(&svc, get("/users/api/", &token)).await.status, 200);
    // a token without expiry is refused when tokens expire
    let admin_id = app.scalar("SELECT CAST(id AS SIGNED) AS n FROM ab_user WHERE username='admin'");
    let forever = app.sign(&UserClaims {
        uid: Some(admin_id),
        ver: Some(0),
        ..original_claims("admin")
    });
    assert_eq!(send(&svc, get("/users/api/", &forever)).await.status, 401);
    let expired = app.sign(&UserClaims {
        exp: Some(now - 10),
        ..claims
    });
    assert_eq!(send(&svc, get("/users/api/", &expired)).await.status, 401);
}

#[actix_web::test]
async fn failed_logins_are_throttled_per_user_then_let_in_after_the_window() {
    let app = TestApp::with_config(&[
        ("LOGIN_MAX_FAILURES_PER_USER", "3"),
        ("LOGIN_MAX_FAILURES_PER_ADDR", "100"),
        ("LOGIN_WINDOW_SECS", "2"),
    ]);
    let svc = test::init_service(dashboard::dashboard_app!(app.state.clone())).await;
    let peer = "10.1.2.3:5000";
    for _ in 0..3 {
        let r = send(&svc, login("admin", "wrong", peer)).await;
        assert_eq!(r.status, 401);
    }
    assert_eq!(
        app.scalar(
            "SELECT CAST(fail_login_count AS SIGNED) AS n FROM ab_user WHERE username='admin'"
        ),
        3
    );
    // now even the right password waits, told how long
    let r = send(&svc, login("admin", "admin", peer)).await;
    assert_eq!(r.status, 429, "{}", r.body);
    assert_eq!(r.body["status"], json!(1));
    let retry: i64 = r.header("retry-after").unwrap().parse().unwrap();
    assert!((1..=2).contains(&retry), "{retry}");
    // other users are not affected
    app.add_user("dave");
    assert_eq!(send(&svc, login("dave", "secret", peer)).await.status, 200);
    // after the window the right password gets in, and the counters are reset
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let r = send(&svc, login("admin", "admin", peer)).await;
        if r.status == 200 {
            break;
        }
        assert_eq!(r.status, 429);
        assert!(Instant::now() < deadline, "still throttled");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert_eq!(
        app.scalar(
            "SELECT CAST(fail_login_count AS SIGNED) AS n FROM ab_user WHERE username='admin'"
        ),
        0
    );
    assert_eq!(
        app.scalar("SELECT CAST(login_count AS SIGNED) AS n FROM ab_user WHERE username='admin'"),
        1
    );
    assert_eq!(
        app.scalar(
            "SELECT CAST(COUNT(*) AS SIGNED) AS n FROM ab_user WHERE username='admin' AND last_login > NOW() - INTERVAL 1 MINUTE"
        ),
        1
    );
}

#[actix_web::test]
async fn failed_logins_are_throttled_per_client_address() {
    let app = TestApp::with_config(&[
        ("LOGIN_MAX_FAILURES_PER_USER", "100"),
        ("LOGIN_MAX_FAILURES_PER_ADDR", "2"),
        ("LOGIN_WINDOW_SECS", "300"),
    ]);
    let svc = test::init_service(dashboard::dashboard_app!(app.state.clone())).await;
    let guesser = "10.9.9.9:4000";
    assert_eq!(send(&svc, login("alice", "x", guesser)).await.status, 401);
    assert_eq!(send(&svc, login("bob", "x", guesser)).await.status, 401);
    // a form login (the browser) gets the page with 429
    let r = send(
        &svc,
        test::TestRequest::post()
            .uri("/login/")
            .peer_addr(guesser.parse().unwrap())
            .insert_header(("Content-Type", "application/x-www-form-urlencoded"))
            .set_payload("username=admin&password=admin"),
    )
    .await;
    assert_eq!(r.status, 429);
    assert!(r.header("retry-after").is_some());
    assert!(r.body.as_str().unwrap().contains("too many failed logins"));
    // another address is not affected
    assert_eq!(
        send(&svc, login("admin", "admin", "10.0.0.7:4000"))
            .await
            .status,
        200
    );
}

#[actix_web::test]
async fn cors_only_for_configured_origins() {
    let app = TestApp::new();
    let svc = test::init_service(dashboard::dashboard_app!(app.state.clone())).await;
    let r = send(
        &svc,
        get("/project_modelview/api/", &app.auth("admin"))
            .insert_header(("Origin", "https://evil.example")),
    )
    .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.header("access-control-allow-origin"), None);
    // JSON names its charset, as the original's answers do
    assert_eq!(
        r.header("content-type").as_deref(),
        Some("application/json; charset=utf-8")
    );
    assert_eq!(
        r.header("x-content-type-options").as_deref(),
        Some("nosniff")
    );
    let r = send(
        &svc,
        test::TestRequest::default()
            .method(actix_web::http::Method::OPTIONS)
            .uri("/project_modelview/api/")
            .insert_header(("Origin", "https://evil.example"))
            .insert_header(("Access-Control-Request-Method", "DELETE")),
    )
    .await;
    assert_eq!(r.header("access-control-allow-origin"), None);

    let app = TestApp::with_config(&[("CORS_ORIGINS", "https://ui.example")]);
    let svc = test::init_service(dashboard::dashboard_app!(app.state.clone())).await;
    let r = send(
        &svc,
        get("/project_modelview/api/", &app.auth("admin"))
            .insert_header(("Origin", "https://ui.example")),
    )
    .await;
    assert_eq!(
        r.header("access-control-allow-origin").as_deref(),
        Some("https://ui.example")
    );
    let r = send(
        &svc,
        test::TestRequest::default()
            .method(actix_web::http::Method::OPTIONS)
            .uri("/project_modelview/api/")
            .insert_header(("Origin", "https://ui.example"))
            .insert_header(("Access-Control-Request-Method", "DELETE")),
    )
    .await;
    assert_eq!(r.status, 200);
    assert_eq!(
        r.header("access-control-allow-origin").as_deref(),
        Some("https://ui.example")
    );
    let r = send(
        &svc,
        get("/project_modelview/api/", &app.auth("admin"))
            .insert_header(("Origin", "https://evil.example")),
    )
    .await;
    assert_eq!(r.header("access-control-allow-origin"), None);
}

#[actix_web::test]
async fn html_pages_carry_security_headers_and_cookies_their_flags() {
    let app = TestApp::with_config(&[("SESSION_COOKIE_SECURE", "true")]);
    let svc = test::init_service(dashboard::dashboard_app!(app.state.clone())).await;
    let r = send(&svc, test::TestRequest::get().uri("/login/")).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.header("x-frame-options").as_deref(), Some("SAMEORIGIN"));
    assert_eq!(
        r.header("x-content-type-options").as_deref(),
        Some("nosniff")
    );
    assert_eq!(
        r.header("referrer-policy").as_deref(),
        Some("strict-origin-when-cross-origin")
    );
    let r = send(&svc, login("admin", "admin", "10.0.0.1:1")).await;
    assert_eq!(r.status, 200);
    let session = r
        .cookies()
        .into_iter()
        .find(|c| c.starts_with("session="))
        .unwrap();
    for flag in ["HttpOnly", "SameSite=Lax", "Secure"] {
        assert!(session.contains(flag), "{session}");
    }
    // auto (the default): Secure only over HTTPS
    let app = TestApp::new();
    let svc = test::init_service(dashboard::dashboard_app!(app.state.clone())).await;
    let r = send(&svc, login("admin", "admin", "10.0.0.1:1")).await;
    let session = r
        .cookies()
        .into_iter()
        .find(|c| c.starts_with("session="))
        .unwrap();
    assert!(!session.contains("Secure"), "{session}");
    let r = send(
        &svc,
        login("admin", "admin", "10.0.0.1:1").insert_header(("X-Forwarded-Proto", "https")),
    )
    .await;
    let session = r
        .cookies()
        .into_iter()
        .find(|c| c.starts_with("session="))
        .unwrap();
    assert!(session.contains("Secure"), "{session}");
}

#[::core::prelude::v1::test]
fn replicas_on_one_database_share_the_generated_keys() {
    let app = TestApp::with_config(&[("SECRET_KEY", "")]);
    let again = common::test_config(&app.db.url, &[("SECRET_KEY", "")]);
    let mut conn = app.db.conn();
    let keys = dashboard::auth::keys::load_or_create(&mut conn, &again).unwrap();
    assert_eq!(keys.session, app.state.keys.session);
    assert_eq!(keys.token, app.state.keys.token);
    assert_eq!(keys.session.len(), 64);
    // a configured key overrides the stored one
    let configured = common::test_config(&app.db.url, &[("SECRET_KEY", "my-own-session-key")]);
    let keys = dashboard::auth::keys::load_or_create(&mut conn, &configured).unwrap();
    assert_eq!(keys.session, "my-own-session-key");
    assert_eq!(keys.token, app.state.keys.token);
    // rotation replaces the stored key
    dashboard::auth::keys::rotate(&mut conn, dashboard::auth::keys::KeyKind::Token).unwrap();
    let keys = dashboard::auth::keys::load_or_create(&mut conn, &again).unwrap();
    assert_ne!(keys.token, app.state.keys.token);
}

/// Two real dashboard processes on one database, with no key configured: each accepts
/// the other's session and tokens; the admin password was generated by `init`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_dashboard_processes_accept_each_others_sessions_and_tokens() {
    use testkit::process::{Process, binary, free_port};
    let db = testkit::TestDb::empty();
    let (pa, pb) = (free_port(), free_port());
    let base_env: Vec<(String, String)> = vec![
        ("DATABASE_URL".into(), db.url.clone()),
        ("REDIS_URL".into(), "redis://127.0.0.1:6379/0".into()),
        ("PASSWORD_HASH_ITERATIONS".into(), "1000".into()),
        ("RUST_LOG".into(), "info".into()),
    ];
    let env_of = |port: u16| -> Vec<(String, String)> {
        let mut e = base_env.clone();
        e.push(("DASHBOARD_ADDR".into(), format!("127.0.0.1:{port}")));
        e
    };
    let (ea, eb) = (env_of(pa), env_of(pb));
    let ra: Vec<(&str, &str)> = ea.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let rb: Vec<(&str, &str)> = eb.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let mut init = Process::spawn_path(&binary("dashboard"), &["init"], &ra);
    assert!(
        init.wait_timeout(Duration::from_secs(60))
            .map(|s| s.success())
            .unwrap_or(false),
        "{}",
        init.logs()
    );
    let logs = init.logs();
    let password = logs
        .lines()
        .find_map(|l| {
            l.split("generated admin password for user 'admin': ")
                .nth(1)
        })
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap_or_else(|| panic!("no generated password in:\n{logs}"))
        .to_string();
    assert_eq!(password.len(), 20);
    // a second init keeps the password and prints none
    let mut again = Process::spawn_path(&binary("dashboard"), &["init"], &ra);
    assert!(
        again
            .wait_timeout(Duration::from_secs(60))
            .unwrap()
            .success()
    );
    assert!(!again.logs().contains("generated admin password"));

    let mut a = Process::spawn("dashboard", &ra);
    let mut b = Process::spawn("dashboard", &rb);
    let client = reqwest::Client::new();
    for port in [pa, pb] {
        let deadline = Instant::now() + Duration::from_secs(30);
        while client
            .get(format!("http://127.0.0.1:{port}/health"))
            .send()
            .await
            .map(|r| !r.status().is_success())
            .unwrap_or(true)
        {
            assert!(
                Instant::now() < deadline,
                "dashboard on {port} did not start"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
    let url = |port: u16, path: &str| format!("http://127.0.0.1:{port}{path}");
    // log in on A with the generated password
    let r = client
        .post(url(pa, "/login/"))
        .json(&json!({"username": "admin", "password": password}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let session = r
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|c| c.starts_with("session="))
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_string();
    // B accepts A's session
    let r = client
        .get(url(pb, "/userinfo/api/current/userinfo"))
        .header("Cookie", session.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let info: Value = r.json().await.unwrap();
    let token = format!("admin|{}", info["secret"].as_str().unwrap());
    // A accepts the token B showed
    let r = client
        .get(url(pa, "/users/api/"))
        .header("Authorization", token.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    // rotated on B: refused by B at once, and by A once its short user cache expires
    let r = client
        .post(url(pb, "/userinfo/api/current/token"))
        .header("Authorization", token.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let status = |port| {
        let (client, token) = (client.clone(), token.clone());
        async move {
            client
                .get(url(port, "/users/api/"))
                .header("Authorization", token)
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }
    };
    assert_eq!(status(pb).await, 401);
    let deadline = Instant::now() + Duration::from_secs(10);
    while status(pa).await != 401 {
        assert!(
            Instant::now() < deadline,
            "A still accepts the rotated token"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    a.terminate(Duration::from_secs(10));
    b.terminate(Duration::from_secs(10));
}
