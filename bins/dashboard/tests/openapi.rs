//! `/openapi.json` lists every route the dashboard serves, as an OpenAPI 3.1 document,
//! and `/docs` renders it with nothing loaded from another site.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeSet;

use actix_web::test;
use common::{TestApp, send};
use serde_json::Value;

/// A concrete URL for an OpenAPI path: integer parameters 1, others `x`.
fn concrete(path: &str, params: &[Value]) -> String {
    let mut out = path.to_string();
    for p in params.iter().filter(|p| p["in"] == "path") {
        let name = p["name"].as_str().unwrap();
        let value = if p["schema"]["type"] == "integer" {
            "1"
        } else {
            "x"
        };
        out = out.replace(&format!("{{{name}}}"), value);
    }
    out
}

#[actix_web::test]
async fn the_document_is_openapi_3_1_and_lists_every_served_route() {
    let app = TestApp::new();
    let svc = test::init_service(dashboard::dashboard_app!(app.state.clone())).await;
    let r = send(&svc, test::TestRequest::get().uri("/openapi.json")).await;
    assert_eq!(r.status, 200, "public, no login");
    let doc = r.body;

    // valid OpenAPI 3.1: it parses as one, and the reference validator accepts it
    let spec = oas3::from_json(doc.to_string()).unwrap();
    assert!(
        spec.validate_version()
            .unwrap()
            .to_string()
            .starts_with("3.1")
    );
    let file = std::env::temp_dir().join(format!("openapi-{}.json", uuid::Uuid::new_v4()));
    std::fs::write(&file, doc.to_string()).unwrap();
    match std::env::var("OPENAPI_VALIDATOR")
        .ok()
        .filter(|v| std::path::Path::new(v).is_file())
    {
        Some(validator) => {
            let out = std::process::Command::new(validator)
                .args(["--schema", "3.1"])
                .arg(&file)
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "openapi-spec-validator refuses the document:\n{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
        }
        None => {
            assert!(
                std::env::var("CI").is_err(),
                "OPENAPI_VALIDATOR is not installed (install/local/test.sh installs it)"
            );
            eprintln!("openapi-spec-validator not installed: only parsed with oas3");
        }
    }
    let _ = std::fs::remove_file(&file);

    // every view's generic routes and the special ones are there
    let paths = doc["paths"].as_object().unwrap();
    for view in &app.state.views {
        let base = format!("/{}", view.route_base().trim_matches('/'));
        for (sub, method) in [
            ("/_info", "get"),
            ("/", "get"),
            ("/", "post"),
            ("/{pk}", "put"),
            ("/{pk}", "delete"),
            ("/multi_action/{name}", "post"),
        ] {
            assert!(
                paths
                    .get(&format!("{base}{sub}"))
                    .is_some_and(|p| p.get(method).is_some()),
                "{method} {base}{sub} is not documented"
            );
        }
    }
    for special in [
        "/login/",
        "/userinfo/api/current/token",
        "/workflow_modelview/api/stop/{id}",
        "/metrics",
        "/openapi.json",
        "/docs",
    ] {
        assert!(paths.contains_key(special), "{special} is not documented");
    }
    assert!(doc["components"]["securitySchemes"]["userToken"].is_object());
    assert!(doc["components"]["schemas"]["Error"].is_object());

    // every documented operation is served under its own route: ask each (without a
    // login, so nothing changes) and read the route patterns /metrics counted
    let mut asked = BTreeSet::new();
    for (path, item) in paths {
        for (method, op) in item.as_object().unwrap() {
            let uri = concrete(path, op["parameters"].as_array().unwrap());
            let req = test::TestRequest::default()
                .method(method.to_uppercase().parse().unwrap())
                .uri(&uri);
            let r = send(&svc, req).await;
            assert!(r.status < 500, "{method} {uri}: {} {}", r.status, r.body);
            asked.insert((path.clone(), method.to_uppercase()));
        }
    }
    let metrics = send(&svc, test::TestRequest::get().uri("/metrics")).await;
    let text = metrics.body.as_str().unwrap();
    for (path, method) in &asked {
        assert!(
            text.contains(&format!(r#"route="{path}",method="{method}""#)),
            "{method} {path} was not served as that route"
        );
    }
    assert!(
        !text.contains(r#"route="unmatched""#),
        "a documented URL matched no route"
    );
}

#[actix_web::test]
async fn the_docs_page_renders_the_document_offline() {
    let app = TestApp::new();
    let svc = test::init_service(dashboard::dashboard_app!(app.state.clone())).await;
    let r = send(&svc, test::TestRequest::get().uri("/docs")).await;
    assert_eq!(r.status, 200);
    assert!(r.header("content-type").unwrap().starts_with("text/html"));
    let page = r.body.as_str().unwrap();
    assert!(page.contains("fetch('/openapi.json')"));
    for external in ["src=\"http", "href=\"http", "@import", "//cdn"] {
        assert!(!page.contains(external), "the page loads {external}…");
    }
}

/// Routes are registered only through `routing::Routes`, which records them for the
/// document: no other `.route(` / `.service(` / `web::scope` in the dashboard's source.
#[::core::prelude::v1::test]
fn every_route_is_registered_through_the_recording_registrar() {
    let src = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut offenders = Vec::new();
    let mut stack = vec![src];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "rs")
                && path.file_name().is_some_and(|n| n != "routing.rs")
            {
                let text = std::fs::read_to_string(&path).unwrap();
                for needle in [".route(", ".service(", "web::scope("] {
                    if text.contains(needle) {
                        offenders.push(format!("{}: {needle}", path.display()));
                    }
                }
            }
        }
    }
    assert!(
        offenders.is_empty(),
        "routes outside routing::Routes: {offenders:?}"
    );
}
