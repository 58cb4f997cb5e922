//! `_info` payloads pinned by snapshots (admin and a plain user), so any change to
//! what the front end receives is a reviewed change.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use actix_web::test;
use common::{TestApp, send};

const VIEWS: &[(&str, &str)] = &[
    ("project_org", "/project_modelview/org/api/_info"),
    (
        "project_job_template",
        "/project_modelview/job_template/api/_info",
    ),
    ("project", "/project_modelview/api/_info"),
    ("project_user", "/project_user_modelview/api/_info"),
    ("repository", "/repository_modelview/api/_info"),
    ("images", "/images_modelview/api/_info"),
    ("job_template", "/job_template_modelview/api/_info"),
    ("users", "/users/api/_info"),
    ("roles", "/roles/api/_info"),
    ("userinfo", "/userinfo/api/_info"),
    ("log", "/log_modelview/api/_info"),
    ("pipeline", "/pipeline_modelview/api/_info"),
    ("pipeline_home", "/pipeline_modelview/home/api/_info"),
    ("task", "/task_modelview/api/_info"),
    ("workflow", "/workflow_modelview/api/_info"),
    ("runhistory", "/runhistory_modelview/api/_info"),
];

#[actix_web::test]
async fn info_payloads() {
    let app = TestApp::new();
    app.add_user("plain");
    let svc = test::init_service(dashboard::dashboard_app!(app.state.clone())).await;
    for (name, uri) in VIEWS {
        for user in ["admin", "plain"] {
            let r = send(
                &svc,
                test::TestRequest::get()
                    .uri(uri)
                    .insert_header(("Authorization", app.auth(user))),
            )
            .await;
            assert_eq!(r.status, 200, "{uri} as {user}: {}", r.body);
            insta::assert_json_snapshot!(format!("{name}__{user}"), r.body);
        }
    }
}
