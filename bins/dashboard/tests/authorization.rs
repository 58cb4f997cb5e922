//! The authorization matrix: admin, a project creator, a project member and a
//! non-member × list / show / add / edit / delete on project-scoped rows. Every cell
//! is asserted, and every write leaves a row in `logs`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use actix_web::test;
use common::{TestApp, form_data, send};
use serde_json::{Value, json};

fn ids(body: &Value) -> Vec<i64> {
    body["result"]["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_i64().unwrap())
        .collect()
}

#[actix_web::test]
async fn project_scoped_rows_follow_membership() {
    let app = TestApp::new();
    let creator = app.add_user("carol");
    let member = app.add_user("mike");
    app.add_user("nora");
    // org project P: carol creator, mike dev; org project Q: nobody but admin
    app.exec("INSERT INTO project (name, `describe`, type, expand, created_on, changed_on) VALUES ('team-p','P','org','{}',NOW(),NOW()), ('team-q','Q','org','{}',NOW(),NOW())");
    let p = app.scalar("SELECT CAST(id AS SIGNED) AS n FROM project WHERE name='team-p'");
    let q = app.scalar("SELECT CAST(id AS SIGNED) AS n FROM project WHERE name='team-q'");
    app.exec(&format!("INSERT INTO project_user (project_id,user_id,role,quota,org,expand) VALUES ({p},{creator},'creator','','','{{}}'),({p},{member},'dev','','','{{}}')"));
    let svc = test::init_service(dashboard::dashboard_app!(app.state.clone())).await;
    let get = |user: &str, uri: String| {
        test::TestRequest::get()
            .uri(&uri)
            .insert_header(("Authorization", app.auth(user)))
    };
    let body = |req: test::TestRequest, v: Value| {
        req.insert_header(("Content-Type", "application/json"))
            .set_payload(v.to_string())
    };

    // ---- list org projects
    let list = |user: &str| {
        get(
            user,
            format!(
                "/project_modelview/org/api/?{}",
                form_data(&json!({"page": 0, "page_size": 100}))
            ),
        )
    };
    let admin_ids = ids(&send(&svc, list("admin")).await.body);
    assert!(admin_ids.contains(&p) && admin_ids.contains(&q));
    assert_eq!(ids(&send(&svc, list("carol")).await.body), vec![p]);
    assert_eq!(ids(&send(&svc, list("mike")).await.body), vec![p]);
    assert_eq!(ids(&send(&svc, list("nora")).await.body), Vec::<i64>::new());

    // ---- show
    let show = |user: &str, id: i64| get(user, format!("/project_modelview/org/api/{id}"));
    assert_eq!(send(&svc, show("admin", q)).await.status, 200);
    assert_eq!(send(&svc, show("carol", p)).await.status, 200);
    assert_eq!(send(&svc, show("mike", p)).await.status, 200);
    assert_eq!(send(&svc, show("mike", q)).await.status, 404);
    assert_eq!(send(&svc, show("nora", p)).await.status, 404);

    // ---- add
    let add = |user: &str, name: &str| {
        body(
            test::TestRequest::post()
                .uri("/project_modelview/org/api/")
                .insert_header(("Authorization", app.auth(user))),
            json!({"name": name, "describe": "d", "cluster": "dev", "org": "public"}),
        )
    };
    assert_eq!(send(&svc, add("carol", "x1")).await.status, 403);
    assert_eq!(send(&svc, add("mike", "x2")).await.status, 403);
    assert_eq!(send(&svc, add("nora", "x3")).await.status, 403);

    // ---- edit
    let edit = |user: &str, id: i64| {
        body(
            test::TestRequest::put()
                .uri(&format!("/project_modelview/org/api/{id}"))
                .insert_header(("Authorization", app.auth(user))),
            json!({"describe": format!("by {user}")}),
        )
    };
    assert_eq!(send(&svc, edit("admin", q)).await.status, 200);
    assert_eq!(send(&svc, edit("carol", p)).await.status, 200);
    let r = send(&svc, edit("mike", p)).await;
    assert_eq!(
        (r.status, r.body["message"].as_str()),
        (422, Some("no permission to edit"))
    );
    assert_eq!(send(&svc, edit("nora", p)).await.status, 404);
    assert_eq!(
        app.scalar(&format!(
            "SELECT COUNT(*) AS n FROM project WHERE id={p} AND `describe`='by carol'"
        )),
        1
    );

    // ---- delete
    let del = |user: &str, id: i64| {
        test::TestRequest::delete()
            .uri(&format!("/project_modelview/org/api/{id}"))
            .insert_header(("Authorization", app.auth(user)))
    };
    assert_eq!(send(&svc, del("carol", p)).await.status, 422);
    assert_eq!(send(&svc, del("mike", p)).await.status, 422);
    assert_eq!(send(&svc, del("nora", p)).await.status, 404);

    // ---- members of P (project_user)
    let members = |user: &str| {
        get(
            user,
            format!(
                "/project_user_modelview/api/?{}",
                form_data(&json!({"filters": [{"col": "project", "opr": "rel_o_m", "value": p}]}))
            ),
        )
    };
    assert_eq!(
        send(&svc, members("admin")).await.body["result"]["count"],
        json!(2)
    );
    assert_eq!(
        send(&svc, members("carol")).await.body["result"]["count"],
        json!(2)
    );
    assert_eq!(
        send(&svc, members("mike")).await.body["result"]["count"],
        json!(2)
    );
    assert_eq!(
        send(&svc, members("nora")).await.body["result"]["count"],
        json!(0)
    );
    let nora = app.scalar("SELECT CAST(id AS SIGNED) AS n FROM ab_user WHERE username='nora'");
    let add_member = |user: &str, project: i64| {
        body(
            test::TestRequest::post()
                .uri("/project_user_modelview/api/")
                .insert_header(("Authorization", app.auth(user))),
            json!({"project": project, "user": nora, "role": "dev"}),
        )
    };
    let r = send(&svc, add_member("mike", p)).await;
    assert_eq!(
        (r.status, r.body["message"].as_str()),
        (422, Some("just creator can add/edit user"))
    );
    assert_eq!(send(&svc, add_member("nora", p)).await.status, 422);
    assert_eq!(send(&svc, add_member("carol", q)).await.status, 422);
    let r = send(&svc, add_member("carol", p)).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let row = r.body["result"]["id"].as_i64().unwrap();
    // a duplicate membership is a clear 422, not a 500
    let r = send(&svc, add_member("admin", p)).await;
    assert_eq!(r.status, 422, "{}", r.body);
    // nora now sees P
    assert_eq!(ids(&send(&svc, list("nora")).await.body), vec![p]);
    let edit_member = |user: &str| {
        body(
            test::TestRequest::put()
                .uri(&format!("/project_user_modelview/api/{row}"))
                .insert_header(("Authorization", app.auth(user))),
            json!({"role": "ops"}),
        )
    };
    assert_eq!(send(&svc, edit_member("mike")).await.status, 422);
    assert_eq!(send(&svc, edit_member("carol")).await.status, 200);
    let del_member = |user: &str| {
        test::TestRequest::delete()
            .uri(&format!("/project_user_modelview/api/{row}"))
            .insert_header(("Authorization", app.auth(user)))
    };
    assert_eq!(send(&svc, del_member("mike")).await.status, 422);
    assert_eq!(send(&svc, del_member("carol")).await.status, 200);
    assert_eq!(ids(&send(&svc, list("nora")).await.body), Vec::<i64>::new());

    // ---- delete: admin deletes an empty project (members go with it)
    assert_eq!(send(&svc, del("admin", p)).await.status, 200);
    assert_eq!(
        app.scalar(&format!(
            "SELECT COUNT(*) AS n FROM project_user WHERE project_id={p}"
        )),
        0
    );

    // every write left a logs row, failures included
    assert!(
        app.scalar("SELECT COUNT(*) AS n FROM logs WHERE method IN ('POST','PUT','DELETE')") >= 20
    );
    assert!(app.scalar("SELECT COUNT(*) AS n FROM logs WHERE status = 422") >= 5);
}

#[actix_web::test]
async fn creator_scoped_rows_and_admin_only_views() {
    let app = TestApp::new();
    app.add_user("alice");
    app.add_user("bob");
    let svc = test::init_service(dashboard::dashboard_app!(app.state.clone())).await;
    let as_user =
        |req: test::TestRequest, user: &str| req.insert_header(("Authorization", app.auth(user)));
    let json_body = |req: test::TestRequest, v: Value| {
        req.insert_header(("Content-Type", "application/json"))
            .set_payload(v.to_string())
    };

    // registries hold credentials: only their creator (and admins) see them
    let r = send(&svc, json_body(as_user(test::TestRequest::post().uri("/repository_modelview/api/"), "alice"), json!({"name": "alice-repo", "server": "r.example.com/a/", "user": "u", "password": "p", "hubsecret": "alice-hubsecret"}))).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let repo = r.body["result"]["id"].as_i64().unwrap();
    assert!(
        r.body["result"].get("password").is_none(),
        "registry passwords are never echoed back"
    );
    for (user, status) in [("alice", 200), ("admin", 200), ("bob", 404)] {
        assert_eq!(
            send(
                &svc,
                as_user(
                    test::TestRequest::get().uri(&format!("/repository_modelview/api/{repo}")),
                    user
                )
            )
            .await
            .status,
            status,
            "show as {user}"
        );
    }
    let shown = send(
        &svc,
        as_user(
            test::TestRequest::get().uri(&format!("/repository_modelview/api/{repo}")),
            "alice",
        ),
    )
    .await;
    assert!(
        shown.body["result"].get("password").is_none(),
        "show never returns the registry password"
    );
    for (user, status) in [("bob", 404), ("alice", 200)] {
        let r = send(
            &svc,
            json_body(
                as_user(
                    test::TestRequest::put().uri(&format!("/repository_modelview/api/{repo}")),
                    user,
                ),
                json!({"user": format!("by-{user}")}),
            ),
        )
        .await;
        assert_eq!(r.status, status, "edit as {user}: {}", r.body);
    }
    assert_eq!(
        send(
            &svc,
            as_user(
                test::TestRequest::delete().uri(&format!("/repository_modelview/api/{repo}")),
                "bob"
            )
        )
        .await
        .status,
        404
    );
    assert_eq!(
        send(
            &svc,
            as_user(
                test::TestRequest::delete().uri(&format!("/repository_modelview/api/{repo}")),
                "alice"
            )
        )
        .await
        .status,
        200
    );

    // job templates: admins write, others read Release ones
    let tpl = json!({"project": 2, "images": 1, "name": "t-one", "version": "Alpha", "describe": "d", "args": "{}", "expand": "{}"});
    assert_eq!(
        send(
            &svc,
            json_body(
                as_user(
                    test::TestRequest::post().uri("/job_template_modelview/api/"),
                    "alice"
                ),
                tpl.clone()
            )
        )
        .await
        .status,
        403
    );
    let r = send(
        &svc,
        json_body(
            as_user(
                test::TestRequest::post().uri("/job_template_modelview/api/"),
                "admin",
            ),
            tpl,
        ),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let alpha = r.body["result"]["id"].as_i64().unwrap();
    assert_eq!(
        send(
            &svc,
            as_user(
                test::TestRequest::get().uri(&format!("/job_template_modelview/api/{alpha}")),
                "alice"
            )
        )
        .await
        .status,
        404
    );
    assert_eq!(
        send(
            &svc,
            as_user(
                test::TestRequest::get().uri(&format!("/job_template_modelview/api/{alpha}")),
                "admin"
            )
        )
        .await
        .status,
        200
    );
    let r = send(
        &svc,
        json_body(
            as_user(
                test::TestRequest::put().uri("/job_template_modelview/api/1"),
                "alice",
            ),
            json!({"describe": "x"}),
        ),
    )
    .await;
    assert_eq!(r.status, 422);
    let info = send(
        &svc,
        as_user(
            test::TestRequest::get().uri("/job_template_modelview/api/_info"),
            "alice",
        ),
    )
    .await;
    assert_eq!(info.body["permissions"], json!(["can_list", "can_show"]));

    // users: others see only themselves and cannot add users
    let r = send(
        &svc,
        as_user(test::TestRequest::get().uri("/users/api/"), "bob"),
    )
    .await;
    assert_eq!(r.body["result"]["count"], json!(1));
    let r = send(
        &svc,
        json_body(
            as_user(test::TestRequest::post().uri("/users/api/"), "bob"),
            json!({"username": "eve", "email": "e@x.org", "password": "pw1234"}),
        ),
    )
    .await;
    assert_eq!(r.status, 403);
    let r = send(
        &svc,
        json_body(
            as_user(test::TestRequest::post().uri("/users/api/"), "admin"),
            json!({"username": "eve", "email": "e@x.org", "password": "pw1234", "roles": ""}),
        ),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let hash: Vec<String> = {
        #[derive(diesel::QueryableByName)]
        struct H {
            #[diesel(sql_type = diesel::sql_types::Text)]
            p: String,
        }
        use diesel::RunQueryDsl;
        let mut c = app.db.conn();
        let r: Vec<H> = diesel::sql_query("SELECT password AS p FROM ab_user WHERE username='eve'")
            .load(&mut c)
            .unwrap();
        r.into_iter().map(|h| h.p).collect()
    };
    assert!(
        hash[0].starts_with("pbkdf2:sha256:"),
        "passwords are stored as werkzeug hashes"
    );
    assert!(app_core::password::verify_password(&hash[0], "pw1234"));
    // a new user is Gamma and a member of public
    assert_eq!(app.scalar("SELECT COUNT(*) AS n FROM ab_user_role ur JOIN ab_user u ON u.id=ur.user_id JOIN ab_role r ON r.id=ur.role_id WHERE u.username='eve' AND r.name='Gamma'"), 1);
    assert_eq!(app.scalar("SELECT COUNT(*) AS n FROM project_user pu JOIN ab_user u ON u.id=pu.user_id JOIN project p ON p.id=pu.project_id WHERE u.username='eve' AND p.name='public'"), 1);
    // logs: admins see all, others their own
    let mine = send(
        &svc,
        as_user(test::TestRequest::get().uri("/log_modelview/api/"), "bob"),
    )
    .await;
    assert!(
        mine.body["result"]["data"]
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["user"]["username"] == json!("bob"))
    );
    let r = send(
        &svc,
        as_user(
            test::TestRequest::delete().uri("/log_modelview/api/1"),
            "admin",
        ),
    )
    .await;
    assert_eq!(r.status, 403, "logs cannot be deleted");
}

#[actix_web::test]
async fn a_member_removed_from_a_project_loses_access_at_once() {
    // the caller's memberships are cached for a few seconds; a write through the
    // dashboard that changes them must be seen by the very next request
    let app = TestApp::new();
    let mike = app.add_user("mike");
    app.exec("INSERT INTO project (name, `describe`, type, expand, created_on, changed_on) VALUES ('team-p','P','org','{}',NOW(),NOW())");
    let p = app.scalar("SELECT CAST(id AS SIGNED) AS n FROM project WHERE name='team-p'");
    app.exec(&format!("INSERT INTO project_user (project_id,user_id,role,quota,org,expand) VALUES ({p},{mike},'dev','','','{{}}')"));
    let row = app.scalar(&format!(
        "SELECT CAST(id AS SIGNED) AS n FROM project_user WHERE project_id={p} AND user_id={mike}"
    ));
    let svc = test::init_service(dashboard::dashboard_app!(app.state.clone())).await;
    let list = || {
        test::TestRequest::get()
            .uri(&format!(
                "/project_modelview/org/api/?{}",
                form_data(&json!({"page": 0, "page_size": 100}))
            ))
            .insert_header(("Authorization", app.auth("mike")))
    };
    let show = || {
        test::TestRequest::get()
            .uri(&format!("/project_modelview/org/api/{p}"))
            .insert_header(("Authorization", app.auth("mike")))
    };
    // mike sees P (and his memberships are now cached)
    assert_eq!(ids(&send(&svc, list()).await.body), vec![p]);
    assert_eq!(send(&svc, show()).await.status, 200);
    // the admin removes him
    let del = test::TestRequest::delete()
        .uri(&format!("/project_user_modelview/api/{row}"))
        .insert_header(("Authorization", app.auth("admin")));
    assert_eq!(send(&svc, del).await.status, 200);
    // the next requests, well within the cache's lifetime, no longer show P
    assert_eq!(ids(&send(&svc, list()).await.body), Vec::<i64>::new());
    assert_eq!(send(&svc, show()).await.status, 404);
}
