//! The generic engine through HTTP: list semantics, show, add, edit, delete, actions,
//! favourites, CSV, redirects, login, the user centre and the front-end support routes.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::unnecessary_to_owned)]

mod common;

use actix_web::test;
use common::{TestApp, form_data, send};
use serde_json::{Value, json};

macro_rules! req {
    ($app:expr, $method:ident, $uri:expr) => {
        test::TestRequest::$method()
            .uri(&$uri)
            .insert_header(("Authorization", $app.auth("admin")))
    };
    ($app:expr, $method:ident, $uri:expr, $body:expr) => {
        test::TestRequest::$method()
            .uri(&$uri)
            .insert_header(("Authorization", $app.auth("admin")))
            .insert_header(("Content-Type", "application/json"))
            .set_payload($body.to_string())
    };
}

#[actix_web::test]
async fn list_semantics() {
    let app = TestApp::new();
    let svc = test::init_service(dashboard::dashboard_app!(app.state.clone())).await;
    let list = |fd: Value| format!("/project_modelview/job_template/api/?{}", form_data(&fd));

    let r = send(
        &svc,
        req!(app, get, list(json!({"page": 0, "page_size": 5}))),
    )
    .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body["result"]["count"], json!(22));
    assert_eq!(r.body["result"]["data"].as_array().unwrap().len(), 5);
    // base order id desc
    let ids: Vec<i64> = r.body["result"]["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["id"].as_i64().unwrap())
        .collect();
    assert!(ids.windows(2).all(|w| w[0] > w[1]));
    // filters: contains, starts with, not contains, equal
    let r = send(
        &svc,
        req!(
            app,
            get,
            list(json!({"filters": [{"col": "name", "opr": "ct", "value": "处理"}]}))
        ),
    )
    .await;
    assert_eq!(r.body["result"]["count"], json!(7));
    let r = send(
        &svc,
        req!(
            app,
            get,
            list(json!({"filters": [{"col": "name", "opr": "sw", "value": "机器"}]}))
        ),
    )
    .await;
    assert_eq!(r.body["result"]["count"], json!(3));
    let r = send(
        &svc,
        req!(
            app,
            get,
            list(json!({"filters": [{"col": "name", "opr": "nct", "value": "处理"}]}))
        ),
    )
    .await;
    assert_eq!(r.body["result"]["count"], json!(15));
    let r = send(
        &svc,
        req!(
            app,
            get,
            list(json!({"filters": [{"col": "name", "opr": "eq", "value": "深度学习"}]}))
        ),
    )
    .await;
    assert_eq!(
        r.body["result"]["data"][0]["job_template"],
        json!("pytorchjob,tfjob")
    );
    // a list value applies the filter per element (AND)
    let r = send(
        &svc,
        req!(
            app,
            get,
            list(json!({"filters": [{"col": "name", "opr": "ct", "value": ["机器", "算法"]}]}))
        ),
    )
    .await;
    assert_eq!(r.body["result"]["count"], json!(1));
    // LIKE metacharacters are literal
    let r = send(
        &svc,
        req!(
            app,
            get,
            list(json!({"filters": [{"col": "name", "opr": "ct", "value": "%"}]}))
        ),
    )
    .await;
    assert_eq!(r.body["result"]["count"], json!(0));
    // order and paging
    let r = send(
        &svc,
        req!(
            app,
            get,
            list(
                json!({"order_column": "id", "order_direction": "asc", "page": 1, "page_size": 10})
            )
        ),
    )
    .await;
    let first = r.body["result"]["data"][0]["id"].as_i64().unwrap();
    assert_eq!(
        first,
        app.scalar(
            "SELECT CAST(MIN(id) AS SIGNED) + 10 AS n FROM project WHERE type='job-template'"
        )
    );
    // page_size over the cap is clamped, 0 means the view's default
    let r = send(&svc, req!(app, get, list(json!({"page_size": 1000000})))).await;
    assert_eq!(r.status, 200);
    // columns restricts the keys
    let r = send(
        &svc,
        req!(app, get, list(json!({"columns": ["name"], "page_size": 1}))),
    )
    .await;
    let keys: Vec<&String> = r.body["result"]["data"][0]
        .as_object()
        .unwrap()
        .keys()
        .collect();
    assert_eq!(keys, vec!["name", "id"]);

    // errors: 400 with the original's messages
    for (fd, msg) in [
        (
            json!({"filters": [{"col": "nosuch", "opr": "eq", "value": 1}]}),
            "Filter column: nosuch not allowed to filter",
        ),
        (
            json!({"filters": [{"col": "name", "opr": "gt", "value": 1}]}),
            "Filter operation: gt not allowed on column: name",
        ),
        (
            json!({"order_column": "name"}),
            "Invalid order by column: name",
        ),
        (json!({"page": -1}), "page must be 0 or more"),
        (json!({"page": "x"}), "page must be an integer, got \"x\""),
    ] {
        let r = send(&svc, req!(app, get, list(fd))).await;
        assert_eq!((r.status, r.body["message"].as_str().unwrap()), (400, msg));
        assert_eq!(r.body["status"], json!(1));
    }
    let r = send(
        &svc,
        req!(
            app,
            get,
            "/project_modelview/job_template/api/?form_data={oops".to_string()
        ),
    )
    .await;
    assert_eq!(r.status, 400);
    // loose params work too (the original gave a 500 for string page_size)
    let r = send(
        &svc,
        req!(
            app,
            get,
            "/project_modelview/job_template/api/?page_size=3".to_string()
        ),
    )
    .await;
    assert_eq!(r.body["result"]["data"].as_array().unwrap().len(), 3);

    // str_related and nested objects
    let r = send(
        &svc,
        req!(
            app,
            get,
            format!(
                "/images_modelview/api/?{}",
                form_data(&json!({"str_related": 1}))
            )
        ),
    )
    .await;
    assert!(r.body["result"]["data"][0]["project"].is_string());
    let r = send(&svc, req!(app, get, "/images_modelview/api/".to_string())).await;
    assert!(r.body["result"]["data"][0]["project"].is_object());
    // relation filter
    let tpl_group = app.scalar("SELECT CAST(id AS SIGNED) AS n FROM project WHERE name='深度学习'");
    let r = send(
        &svc,
        req!(
            app,
            get,
            format!(
                "/images_modelview/api/?{}",
                form_data(
                    &json!({"filters": [{"col": "project", "opr": "rel_o_m", "value": tpl_group}]})
                )
            )
        ),
    )
    .await;
    assert_eq!(r.body["result"]["count"], json!(2));
    let r = send(
        &svc,
        req!(
            app,
            get,
            format!(
                "/images_modelview/api/?{}",
                form_data(
                    &json!({"filters": [{"col": "project", "opr": "rel_o_m", "value": "abc"}]})
                )
            )
        ),
    )
    .await;
    assert_eq!(r.status, 400);
}

#[actix_web::test]
async fn writes_and_their_errors() {
    let app = TestApp::new();
    let svc = test::init_service(dashboard::dashboard_app!(app.state.clone())).await;
    let base = "/project_modelview/job_template/api/";
    // non-JSON body
    let r = send(
        &svc,
        test::TestRequest::post()
            .uri(base)
            .insert_header(("Authorization", app.auth("admin")))
            .set_payload("name=x"),
    )
    .await;
    assert_eq!(
        (r.status, r.body["message"].as_str()),
        (400, Some("Request is not JSON"))
    );
    // missing required field
    let r = send(
        &svc,
        req!(app, post, base.to_string(), json!({"describe": "d"})),
    )
    .await;
    assert_eq!(r.status, 422);
    assert_eq!(
        r.body["message"],
        json!("{'name': ['Missing data for required field.']}")
    );
    assert!(r.header("api_flashes").unwrap().contains("error"));
    // too long
    let r = send(
        &svc,
        req!(
            app,
            post,
            base.to_string(),
            json!({"name": "x".repeat(51), "describe": "d"})
        ),
    )
    .await;
    assert_eq!(r.status, 422);
    // a good one; keys outside add_columns are dropped; strings are stripped
    let r = send(&svc, req!(app, post, base.to_string(), json!({"name": "  grp  ", "describe": "d", "expand": "{\"index\": 3}", "id": 999, "type": "org"}))).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let id = r.body["result"]["id"].as_i64().unwrap();
    assert_ne!(id, 999);
    assert_eq!(r.body["result"]["name"], json!("grp"));
    assert_eq!(
        app.scalar(&format!(
            "SELECT COUNT(*) AS n FROM project WHERE id={id} AND type='job-template'"
        )),
        1
    );
    // duplicate unique key → 422, nothing changed
    let r = send(
        &svc,
        req!(
            app,
            post,
            base.to_string(),
            json!({"name": "grp", "describe": "again"})
        ),
    )
    .await;
    assert_eq!(r.status, 422, "{}", r.body);
    assert_eq!(
        app.scalar("SELECT COUNT(*) AS n FROM project WHERE name='grp'"),
        1
    );
    // bad JSON in expand → 422, the row keeps its values
    let r = send(
        &svc,
        req!(
            app,
            put,
            format!("{base}{id}"),
            json!({"expand": "{not json"})
        ),
    )
    .await;
    assert_eq!(r.status, 422);
    assert_eq!(
        app.scalar(&format!(
            "SELECT COUNT(*) AS n FROM project WHERE id={id} AND expand LIKE '%\"index\": 3%'"
        )),
        1
    );
    // PUT is PATCH: describe changes, name stays
    let r = send(
        &svc,
        req!(app, put, format!("{base}{id}"), json!({"describe": "new"})),
    )
    .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body["result"]["name"], json!("grp"));
    assert_eq!(r.body["result"]["describe"], json!("new"));
    assert_eq!(r.body["result"]["expand"], json!("{\n    \"index\": 3\n}"));
    // unknown ids
    assert_eq!(
        send(&svc, req!(app, get, format!("{base}999999")))
            .await
            .status,
        404
    );
    assert_eq!(
        send(
            &svc,
            req!(app, put, format!("{base}999999"), json!({"describe": "x"}))
        )
        .await
        .status,
        404
    );
    assert_eq!(
        send(&svc, req!(app, delete, format!("{base}999999")))
            .await
            .status,
        404
    );
    assert_eq!(
        send(&svc, req!(app, get, format!("{base}abc")))
            .await
            .status,
        404
    );
    // oversized body → 413 JSON
    let big = json!({"name": "x", "describe": "y".repeat(5 * 1024 * 1024)});
    let r = send(&svc, req!(app, post, base.to_string(), big)).await;
    assert_eq!(r.status, 413);
    assert_eq!(r.body["status"], json!(1));
    // delete returns every column
    let r = send(&svc, req!(app, delete, format!("{base}{id}"))).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body["result"]["created_by_fk"], json!(1));
    // every write and its outcome is in logs
    assert!(app.scalar("SELECT COUNT(*) AS n FROM logs") >= 10);
    // redirects with strict slashes
    let r = send(
        &svc,
        req!(app, get, "/project_modelview/job_template/api".to_string()),
    )
    .await;
    assert_eq!(r.status, 308);
    assert_eq!(
        r.header("location").unwrap(),
        "/project_modelview/job_template/api/"
    );
    // a view without can_list
    let r = send(&svc, req!(app, get, "/userinfo/api/".to_string())).await;
    assert_eq!(
        (r.status, r.body["message"].as_str()),
        (403, Some("no permission to list"))
    );
    // unknown URL → JSON 404
    let r = send(&svc, req!(app, get, "/nosuch/api/".to_string())).await;
    assert_eq!(r.status, 404);
    assert_eq!(r.body["status"], json!(1));
}

#[actix_web::test]
async fn actions_favourites_and_csv() {
    let app = TestApp::new();
    let svc = test::init_service(dashboard::dashboard_app!(app.state.clone())).await;
    let jt = "/job_template_modelview/api/";
    let r = send(
        &svc,
        req!(
            app,
            post,
            format!("{jt}multi_action/copy"),
            json!({"ids": [1, 2]})
        ),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        app.scalar("SELECT COUNT(*) AS n FROM job_template WHERE name LIKE '%-copy-%'"),
        2
    );
    let r = send(
        &svc,
        req!(
            app,
            post,
            format!("{jt}multi_action/nosuch"),
            json!({"ids": [1]})
        ),
    )
    .await;
    assert_eq!(r.status, 400);
    let r = send(
        &svc,
        req!(
            app,
            post,
            format!("{jt}multi_action/copy"),
            json!({"ids": "1"})
        ),
    )
    .await;
    assert_eq!(r.status, 400);
    let r = send(&svc, req!(app, get, format!("{jt}action/copy/999999"))).await;
    assert_eq!(r.status, 404);

    // favourites
    let r = send(
        &svc,
        req!(
            app,
            post,
            "/images_modelview/api/favorite/1".to_string(),
            json!({})
        ),
    )
    .await;
    assert_eq!(
        r.body,
        json!({"result": "", "status": "success", "message": "favorite success"})
    );
    let r = send(
        &svc,
        req!(
            app,
            get,
            format!(
                "/images_modelview/api/?{}",
                form_data(&json!({"only_favorite": true}))
            )
        ),
    )
    .await;
    assert_eq!(r.body["result"]["count"], json!(1));
    let r = send(
        &svc,
        req!(app, delete, "/images_modelview/api/favorite/1".to_string()),
    )
    .await;
    assert_eq!(r.body["status"], json!("success"));
    let r = send(
        &svc,
        req!(
            app,
            post,
            "/images_modelview/api/favorite/424242".to_string(),
            json!({})
        ),
    )
    .await;
    assert_eq!((r.status, r.body["status"].as_str()), (404, Some("fail")));

    // CSV: template, download, upload
    let r = send(
        &svc,
        req!(
            app,
            get,
            "/repository_modelview/api/download_template/".to_string()
        ),
    )
    .await;
    assert_eq!(r.status, 200);
    // as the original: text/csv with a byte-order mark, no line break at the end
    assert_eq!(
        r.header("content-type").as_deref(),
        Some("text/csv; charset=utf-8")
    );
    assert_eq!(
        r.body.as_str().unwrap(),
        "\u{feff}name,server,user,password,hubsecret\nxx,xx,xx,xx,xx"
    );
    let r = send(
        &svc,
        req!(app, get, "/images_modelview/api/download/".to_string()),
    )
    .await;
    assert!(
        r.body
            .as_str()
            .unwrap()
            .starts_with("\u{feff}project,repository,created_by,changed_by")
    );
    // a file saved with a byte-order mark (like the template) uploads the same
    let csv = "\u{feff}name,server,user,password,hubsecret\nr1,s.example.com/x/,u,p,r1-secret\nr2,s.example.com/x/,u,p,BAD SECRET\n";
    let body = format!(
        "--XX\r\nContent-Disposition: form-data; name=\"csv_file\"; filename=\"repos.csv\"\r\nContent-Type: text/csv\r\n\r\n{csv}\r\n--XX--\r\n"
    );
    let r = send(
        &svc,
        test::TestRequest::post()
            .uri("/repository_modelview/api/upload/")
            .insert_header(("Authorization", app.auth("admin")))
            .insert_header(("Content-Type", "multipart/form-data; boundary=XX"))
            .set_payload(body),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["message"], json!("success 1 rows"));
    assert_eq!(r.body["result"][0], json!("success"));
    assert!(r.body["result"][1].as_str().unwrap().contains("hubsecret"));
}

#[actix_web::test]
async fn login_logout_userinfo_and_front_end() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("index.html"), "<html>spa</html>").unwrap();
    std::fs::create_dir_all(dir.path().join("static/js")).unwrap();
    std::fs::write(dir.path().join("static/js/main.js"), "console.log(1)").unwrap();
    let app = TestApp::with_config(&[("FRONTEND_DIR", dir.path().to_str().unwrap())]);
    let svc = test::init_service(dashboard::dashboard_app!(app.state.clone())).await;

    // the login form, a wrong password, a right one
    let r = send(
        &svc,
        test::TestRequest::get().uri("/login/?login_url=/frontend/x"),
    )
    .await;
    assert_eq!(r.status, 200);
    assert!(r.body.as_str().unwrap().contains("<form"));
    let form = |pw: &str| {
        test::TestRequest::post()
            .uri("/login/?login_url=/frontend/x")
            .insert_header(("Content-Type", "application/x-www-form-urlencoded"))
            .set_payload(format!("username=admin&password={pw}"))
    };
    assert_eq!(send(&svc, form("wrong")).await.status, 401);
    let r = send(&svc, form("admin")).await;
    assert_eq!(r.status, 302);
    assert_eq!(r.header("location").unwrap(), "/frontend/x");
    let session = r
        .cookies()
        .into_iter()
        .find(|c| c.starts_with("session="))
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_string();
    // unauthenticated: JSON calls get 401 JSON, page loads get the login redirect
    let r = send(
        &svc,
        test::TestRequest::get().uri("/project_modelview/api/"),
    )
    .await;
    assert_eq!((r.status, r.body["status"].clone()), (401, json!(1)));
    let r = send(
        &svc,
        test::TestRequest::get()
            .uri("/pipeline_modelview/web/1")
            .insert_header(("Accept", "text/html")),
    )
    .await;
    assert_eq!(r.status, 302);
    assert!(
        r.header("location")
            .unwrap()
            .starts_with("/login/?login_url=")
    );

    // the user centre with the session
    let r = send(
        &svc,
        test::TestRequest::get()
            .uri("/userinfo/api/current/userinfo")
            .insert_header(("Cookie", session.clone())),
    )
    .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body["secret"], json!(app.token("admin")));
    assert!(r.body["created_on"].as_str().unwrap().ends_with("GMT"));
    let r = send(
        &svc,
        test::TestRequest::post()
            .uri("/userinfo/api/current/userinfo")
            .insert_header(("Cookie", session.clone()))
            .insert_header(("Content-Type", "application/json"))
            .set_payload(
                json!({"nickname": "boss", "email": "boss@x.org", "org": "public"}).to_string(),
            ),
    )
    .await;
    assert_eq!(
        r.body,
        json!({"status": 0, "message": "修正完成", "result": {}})
    );
    assert_eq!(
        app.scalar("SELECT COUNT(*) AS n FROM ab_user WHERE nickname='boss'"),
        1
    );

    // menu, navbar, feature check, health
    let r = send(
        &svc,
        test::TestRequest::get()
            .uri("/myapp/menu")
            .insert_header(("Cookie", session.clone())),
    )
    .await;
    assert!(
        r.body.to_string().contains("/users/api/"),
        "admins see the security menu"
    );
    let r = send(
        &svc,
        test::TestRequest::get()
            .uri("/myapp/feature/check?url=/frontend/")
            .insert_header(("Cookie", session.clone())),
    )
    .await;
    assert_eq!(r.body, json!({}));
    let r = send(&svc, test::TestRequest::get().uri("/health")).await;
    assert_eq!((r.status, r.body.as_str()), (200, Some("OK")));

    // the SPA: files as they are, routes fall back to index.html, no escaping the dir
    let r = send(
        &svc,
        test::TestRequest::get().uri("/frontend/static/js/main.js"),
    )
    .await;
    assert_eq!(r.body.as_str(), Some("console.log(1)"));
    let r = send(
        &svc,
        test::TestRequest::get().uri("/frontend/train/pipeline"),
    )
    .await;
    assert_eq!(r.body.as_str(), Some("<html>spa</html>"));
    let r = send(
        &svc,
        test::TestRequest::get().uri("/frontend/../../etc/passwd"),
    )
    .await;
    assert!(!r.body.to_string().contains("root:"));
    let r = send(&svc, test::TestRequest::get().uri("/")).await;
    assert_eq!(r.header("location").unwrap(), "/frontend/");

    // logout clears the cookies
    let r = send(
        &svc,
        test::TestRequest::get()
            .uri("/logout")
            .insert_header(("Cookie", session)),
    )
    .await;
    assert_eq!(r.status, 302);
    assert!(r.cookies().iter().any(|c| c.starts_with("session=;")));
}

#[actix_web::test]
async fn users_and_roles_lists_print_each_rows_roles_and_permissions() {
    let app = TestApp::new();
    let gamma = app.add_user("gamma1");
    let both = app.add_user("both1");
    app.exec(&format!(
        "INSERT INTO ab_user_role (user_id, role_id) SELECT {both}, id FROM ab_role WHERE name='Admin'"
    ));
    let roles_in_id_order = |user: i64| -> String {
        let names: Vec<String> = ["Admin", "Gamma"]
            .into_iter()
            .filter(|r| {
                app.scalar(&format!(
                    "SELECT COUNT(*) AS n FROM ab_user_role ur JOIN ab_role r ON r.id = ur.role_id WHERE ur.user_id = {user} AND r.name = '{r}'"
                )) > 0
            })
            .map(String::from)
            .collect();
        let mut by_id: Vec<(i64, String)> = names
            .into_iter()
            .map(|n| {
                let id = app.scalar(&format!(
                    "SELECT CAST(id AS SIGNED) AS n FROM ab_role WHERE name = '{n}'"
                ));
                (id, n)
            })
            .collect();
        by_id.sort();
        format!(
            "[{}]",
            by_id
                .into_iter()
                .map(|(_, n)| n)
                .collect::<Vec<_>>()
                .join(", ")
        )
    };
    let svc = test::init_service(dashboard::dashboard_app!(app.state.clone())).await;

    // every user row has its own roles, in role-id order
    let r = send(
        &svc,
        req!(
            app,
            get,
            format!(
                "/users/api/?{}",
                form_data(&json!({"page": 0, "page_size": 100}))
            )
        ),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let rows = r.body["result"]["data"].as_array().unwrap();
    let html_of = |name: &str| {
        rows.iter()
            .find(|d| d["username"] == json!(name))
            .unwrap_or_else(|| panic!("{name} listed"))["roles_html"]
            .clone()
    };
    assert_eq!(html_of("gamma1"), json!(roles_in_id_order(gamma)));
    assert_eq!(html_of("gamma1"), json!("[Gamma]"));
    assert_eq!(html_of("both1"), json!(roles_in_id_order(both)));
    assert_eq!(
        html_of("both1").as_str().unwrap().matches(", ").count(),
        1,
        "two roles"
    );

    // every role row has its own permissions, `[perm on view]` by permission name, then view id
    let r = send(
        &svc,
        req!(
            app,
            get,
            format!(
                "/roles/api/?{}",
                form_data(&json!({"page": 0, "page_size": 100}))
            )
        ),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let rows = r.body["result"]["data"].as_array().unwrap();
    assert_eq!(
        rows.len() as i64,
        app.scalar("SELECT COUNT(*) AS n FROM ab_role")
    );
    let text = |sql: &str| -> String {
        #[derive(diesel::QueryableByName)]
        struct T {
            #[diesel(sql_type = diesel::sql_types::Text)]
            t: String,
        }
        use diesel::RunQueryDsl;
        let mut conn = app.db.conn();
        diesel::sql_query("SET SESSION group_concat_max_len = 1048576")
            .execute(&mut conn)
            .unwrap();
        let found: Vec<T> = diesel::sql_query(sql).load(&mut conn).unwrap();
        found.into_iter().next().map(|t| t.t).unwrap_or_default()
    };
    for row in rows {
        let name = row["name"].as_str().unwrap();
        let expected = text(&format!(
            "SELECT COALESCE(GROUP_CONCAT(CONCAT('[', p.name, ' on ', v.name, ']') ORDER BY p.name, v.id SEPARATOR ',\n'), '') AS t \
             FROM ab_role r LEFT JOIN ab_permission_view_role pvr ON pvr.role_id = r.id \
             LEFT JOIN ab_permission_view pv ON pv.id = pvr.permission_view_id LEFT JOIN ab_permission p ON p.id = pv.permission_id \
             LEFT JOIN ab_view_menu v ON v.id = pv.view_menu_id WHERE r.name = '{name}'"
        ));
        assert_eq!(row["permissions_html"], json!(expected), "{name}");
    }
    assert!(
        rows.iter()
            .any(|r| r["permissions_html"].as_str().unwrap().contains(",\n")),
        "some role has several permissions"
    );
}

#[actix_web::test]
async fn user_centre_refuses_a_short_password_like_the_user_views() {
    let app = TestApp::new();
    let id = app.add_user("short1");
    let svc = test::init_service(dashboard::dashboard_app!(app.state.clone())).await;
    let password_and_nickname = || {
        #[derive(diesel::QueryableByName)]
        struct U {
            #[diesel(sql_type = diesel::sql_types::Text)]
            password: String,
            #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Text>)]
            nickname: Option<String>,
        }
        use diesel::RunQueryDsl;
        let found: Vec<U> = diesel::sql_query(format!(
            "SELECT password, nickname FROM ab_user WHERE id = {id}"
        ))
        .load(&mut app.db.conn())
        .unwrap();
        let u = found.into_iter().next().unwrap();
        (u.password, u.nickname)
    };
    let post = |body: Value| {
        test::TestRequest::post()
            .uri("/userinfo/api/current/userinfo")
            .insert_header(("Authorization", app.auth("short1")))
            .insert_header(("Content-Type", "application/json"))
            .set_payload(body.to_string())
    };
    let before = password_and_nickname();

    // three characters: refused with a JSON error, nothing written
    let r = send(
        &svc,
        post(json!({"nickname": "changed", "password": "abc"})),
    )
    .await;
    assert!((400..500).contains(&r.status), "{}: {}", r.status, r.body);
    assert_eq!(r.body["status"], json!(1), "{}", r.body);
    assert!(
        r.body["message"]
            .as_str()
            .unwrap()
            .contains("at least 4 characters"),
        "{}",
        r.body
    );
    assert_eq!(password_and_nickname(), before);

    // the same minimum as /users/api
    let r = send(
        &svc,
        req!(
            app,
            put,
            format!("/users/api/{id}"),
            json!({"password": "abc"})
        ),
    )
    .await;
    assert!((400..500).contains(&r.status), "{}: {}", r.status, r.body);
    assert_eq!(password_and_nickname(), before);

    // four characters are enough: the password is stored hashed
    let r = send(
        &svc,
        post(json!({"nickname": "changed", "password": "abcd"})),
    )
    .await;
    assert_eq!(
        r.body,
        json!({"status": 0, "message": "修正完成", "result": {}})
    );
    let (password, nickname) = password_and_nickname();
    assert_eq!(nickname.as_deref(), Some("changed"));
    assert_ne!(password, before.0);
    assert!(app_core::password::is_hash(&password));
    assert!(app_core::password::verify_password(&password, "abcd"));
}

#[actix_web::test]
async fn the_demo_pipeline_and_its_tasks_are_read_only() {
    let app = TestApp::new();
    let svc = test::init_service(dashboard::dashboard_app!(app.state.clone())).await;
    let demo =
        app.scalar("SELECT CAST(id AS SIGNED) AS n FROM pipeline WHERE name = 'demo-pipeline'");
    let task = app.scalar(&format!(
        "SELECT CAST(MIN(id) AS SIGNED) AS n FROM task WHERE pipeline_id = {demo}"
    ));
    let tasks = || {
        app.scalar(&format!(
            "SELECT COUNT(*) AS n FROM task WHERE pipeline_id = {demo}"
        ))
    };
    let before = tasks();

    let r = send(
        &svc,
        req!(
            app,
            post,
            "/task_modelview/api/".to_string(),
            json!({"pipeline": demo, "job_template": 1, "name": "extra", "args": "{\"command\": \"true\"}"})
        ),
    )
    .await;
    assert_eq!(r.status, 422, "{}", r.body);
    assert!(
        r.body["message"]
            .as_str()
            .unwrap()
            .contains("demo pipeline")
    );
    assert_eq!(tasks(), before);

    let r = send(
        &svc,
        req!(
            app,
            put,
            format!("/task_modelview/api/{task}"),
            json!({"label": "changed"})
        ),
    )
    .await;
    assert_eq!(r.status, 422, "{}", r.body);
    assert!(
        r.body["message"]
            .as_str()
            .unwrap()
            .contains("demo pipeline")
    );

    let r = send(
        &svc,
        req!(
            app,
            put,
            format!("/pipeline_modelview/api/{demo}"),
            json!({"describe": "changed"})
        ),
    )
    .await;
    assert_eq!(r.status, 422, "{}", r.body);
    assert!(
        r.body["message"]
            .as_str()
            .unwrap()
            .contains("demo pipeline")
    );
}

#[actix_web::test]
async fn metrics_count_requests_per_route_and_show_the_pool() {
    let app = TestApp::new();
    let svc = test::init_service(dashboard::dashboard_app!(app.state.clone())).await;
    for id in [1, 2, 999_999] {
        send(&svc, req!(app, get, format!("/project_modelview/api/{id}"))).await;
    }
    send(&svc, test::TestRequest::get().uri("/users/api/")).await; // 401
    let r = send(&svc, test::TestRequest::get().uri("/metrics")).await;
    assert_eq!(r.status, 200);
    let text = r.body.as_str().unwrap();
    // one series per route pattern, not per id (statuses are not asserted: a loaded
    // machine may answer 503 when the pool is slow)
    assert!(
        text.contains(
            r#"dashboard_requests_total{route="/project_modelview/api/{pk}",method="GET",status=""#
        ),
        "{text}"
    );
    assert!(
        text.contains(
            r#"dashboard_requests_total{route="/users/api/",method="GET",status="4xx"} 1"#
        )
    );
    assert!(text.contains(
        r#"dashboard_request_seconds_count{route="/project_modelview/api/{pk}",method="GET"} 3"#
    ));
    // ids never make a series (latency values may hold any digits)
    assert!(!text.contains("/999999"));
    for name in [
        "dashboard_db_pool_connections",
        "dashboard_db_pool_idle",
        "dashboard_db_pool_max",
    ] {
        assert!(text.contains(&format!("# TYPE {name} gauge")), "{name}");
    }
}

#[actix_web::test]
async fn declarations_naming_unknown_columns_are_refused_at_start() {
    use dashboard::engine::resolve::validate_views;
    use dashboard::engine::view::{Access, ModelView, ViewId, cols};
    let app = TestApp::new();
    // every real declaration passes (build_state checked them too)
    validate_views(&app.state.views, &app.state.schema, &app.state.models).unwrap();
    let mut bad = ModelView::new(ViewId("/bad/api"), "Bad_Api", "project", "bad");
    bad.list_columns = cols(&["name", "no_such_column"]);
    bad.order_columns = cols(&["nme"]);
    bad.base_order = Some(("id", "desc"));
    let mut missing = ModelView::new(ViewId("/missing/api"), "Missing_Api", "no_such_table", "x");
    missing.list_columns = cols(&["id"]);
    // access rules and related views are declarations too
    let mut rules = ModelView::new(ViewId("/rules/api"), "Rules_Api", "pipeline", "r");
    rules.access.list = Access::Owner;
    rules.access.edit = Access::ProjectCreator {
        project: "no_project_column",
    };
    rules.related_views = vec![ViewId("/not_declared/api")];
    let problems =
        validate_views(&[bad, missing, rules], &app.state.schema, &app.state.models).unwrap_err();
    assert_eq!(problems.len(), 6, "{problems:#?}");
    assert!(problems[0].contains("/bad/api") && problems[0].contains("`no_such_column`"));
    assert!(problems[1].contains("order_columns") && problems[1].contains("`nme`"));
    assert!(problems[2].contains("no_such_table"));
    assert!(problems[3].contains("/rules/api") && problems[3].contains("access of list"));
    assert!(problems[4].contains("access of edit") && problems[4].contains("`no_project_column`"));
    assert!(problems[5].contains("related view /not_declared/api"));
}

#[actix_web::test]
async fn a_failed_audit_write_is_logged_and_counted_not_dropped() {
    let app = TestApp::new();
    let svc = test::init_service(dashboard::dashboard_app!(app.state.clone())).await;
    app.exec("RENAME TABLE logs TO logs_away");
    let r = send(
        &svc,
        req!(
            app,
            post,
            "/repository_modelview/api/".to_string(),
            json!({"name": "audit-probe", "server": "s.example.com/x/", "user": "u", "password": "p", "hubsecret": "audit-probe"})
        ),
    )
    .await;
    // the write itself stands; only its audit row could not be written
    assert_eq!(r.status, 200, "{}", r.body);
    app.exec("RENAME TABLE logs_away TO logs");
    let text = send(&svc, test::TestRequest::get().uri("/metrics"))
        .await
        .body
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        text.contains(r#"dashboard_failed_writes_total{what="logs"} 1"#),
        "{text}"
    );
}
