//! The `/k8s` routes against the fake API server through the real `kube::Client`: logs
//! (tail, seconds, ANSI removed, download), the pod and its events, search, delete, who
//! may (the pod's user or an admin); the live log over a real socket (lines as the pod
//! writes them); a shell over a real websocket (`echo hello` → `hello`); offline logs
//! read from an S3 store.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::net::SocketAddr;
use std::time::Duration;

use actix_web::body::MessageBody;
use actix_web::dev::{Service, ServiceResponse};
use actix_web::test;
use common::{TestApp, send};
use futures::{SinkExt, StreamExt};
use serde_json::{Value, json};
use testkit::fake_kube::{FakeKube, FakeKubeOptions};

fn pod(name: &str, user: &str, phase: &str) -> Value {
    json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "namespace": "pipeline",
                     "labels": {"run-username": user, "app": name},
                     "creationTimestamp": "2026-12-07T08:00:00Z"},
        "spec": {"containers": [{"name": "wait", "image": "argoexec:v3.4"},
                                 {"name": "main", "image": "python:3.9"}],
                 "nodeName": "node-1"},
        "status": {"phase": phase, "hostIP": "10.0.0.7", "podIP": "172.16.0.9",
                   "containerStatuses": [{"name": "main", "image": "python:3.9", "imageID": "",
                       "ready": true, "restartCount": 0, "state": {"running": {}}}]}
    })
}

fn event(name: &str, pod: &str, reason: &str, message: &str, at: &str) -> Value {
    json!({
        "apiVersion": "v1", "kind": "Event",
        "metadata": {"name": name, "namespace": "pipeline"},
        "involvedObject": {"kind": "Pod", "name": pod, "namespace": "pipeline"},
        "reason": reason, "message": message, "type": "Normal",
        "firstTimestamp": at, "lastTimestamp": at, "count": 1
    })
}

/// An app on `kube`, with user alice.
fn kube_app(dir: &tempfile::TempDir, kube: &FakeKube, extra: &[(&str, &str)]) -> TestApp {
    let app = TestApp::with_cluster(dir, Some(kube), extra);
    app.add_user("alice");
    app
}

async fn get<S, B>(app: &TestApp, svc: &S, user: &str, uri: &str) -> common::Resp
where
    S: Service<actix_http::Request, Response = ServiceResponse<B>, Error = actix_web::Error>,
    B: MessageBody,
{
    send(
        svc,
        test::TestRequest::get()
            .uri(uri)
            .insert_header(("Authorization", app.auth(user))),
    )
    .await
}

fn text(r: &common::Resp) -> String {
    match &r.body {
        Value::String(s) => s.clone(),
        v => v.to_string(),
    }
}

#[actix_web::test]
async fn pod_routes_read_logs_show_search_and_delete_for_the_pods_user() {
    let kube = FakeKube::start(FakeKubeOptions::default()).await;
    kube.insert("", "v1", "pods", pod("alice-pod", "alice", "Running"));
    kube.insert("", "v1", "pods", pod("admin-pod", "admin", "Running"));
    kube.insert(
        "",
        "v1",
        "events",
        event(
            "e1",
            "alice-pod",
            "Scheduled",
            "assigned to node-1",
            "2026-12-07T08:00:01Z",
        ),
    );
    kube.insert(
        "",
        "v1",
        "events",
        event(
            "e2",
            "alice-pod",
            "Started",
            "started main",
            "2026-12-07T08:00:05Z",
        ),
    );
    kube.insert(
        "",
        "v1",
        "events",
        event(
            "e3",
            "admin-pod",
            "Started",
            "other pod",
            "2026-12-07T08:00:05Z",
        ),
    );
    kube.set_pod_log(
        "pipeline",
        "alice-pod",
        "line 1\n\x1b[31mred\x1b[0m line 2\nline 3\n",
    );
    let dir = tempfile::tempdir().unwrap();
    let app = kube_app(&dir, &kube, &[]);
    let svc = test::init_service(dashboard::dashboard_app!(app.state.clone())).await;

    // the log, ANSI removed, of the default container (main)
    let r = get(&app, &svc, "alice", "/k8s/read/log/dev/pipeline/alice-pod").await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(text(&r), "line 1\nred line 2\nline 3\n");
    let asked = kube
        .requests()
        .into_iter()
        .rfind(|q| q.path.ends_with("/alice-pod/log"))
        .unwrap();
    assert_eq!(asked.param("container"), Some("main"));
    // tail: lines, seconds, garbage
    let r = get(
        &app,
        &svc,
        "alice",
        "/k8s/read/log/dev/pipeline/alice-pod/main/2",
    )
    .await;
    assert_eq!(text(&r), "red line 2\nline 3\n");
    let _ = get(
        &app,
        &svc,
        "alice",
        "/k8s/read/log/dev/pipeline/alice-pod/main/30s",
    )
    .await;
    let asked = kube
        .requests()
        .into_iter()
        .rfind(|q| q.path.ends_with("/alice-pod/log"))
        .unwrap();
    assert_eq!(asked.param("sinceSeconds"), Some("30"));
    let r = get(
        &app,
        &svc,
        "alice",
        "/k8s/read/log/dev/pipeline/alice-pod/main/lots",
    )
    .await;
    assert_eq!(r.status, 400, "{}", r.body);
    assert!(r.body["message"].as_str().unwrap().contains("tail"));
    let r = get(
        &app,
        &svc,
        "alice",
        "/k8s/read/log/dev/pipeline/alice-pod/sidecar",
    )
    .await;
    assert_eq!(r.status, 400);
    assert!(r.body["message"].as_str().unwrap().contains("wait, main"));
    // download
    let r = get(
        &app,
        &svc,
        "alice",
        "/k8s/download/log/dev/pipeline/alice-pod",
    )
    .await;
    assert_eq!(r.status, 200);
    assert_eq!(
        r.header("content-disposition").as_deref(),
        Some("attachment; filename=\"alice-pod.log\"")
    );

    // who may: the pod's user and admins; a missing pod is a 404
    let r = get(&app, &svc, "alice", "/k8s/read/log/dev/pipeline/admin-pod").await;
    assert_eq!(r.status, 403, "{}", r.body);
    let r = get(&app, &svc, "admin", "/k8s/read/log/dev/pipeline/alice-pod").await;
    assert_eq!(r.status, 200);
    let r = get(&app, &svc, "alice", "/k8s/read/log/dev/pipeline/nobody").await;
    assert_eq!(r.status, 404);
    assert!(
        r.body["message"]
            .as_str()
            .unwrap()
            .contains("pipeline/nobody")
    );

    // the pod and its own events, oldest first
    let r = get(&app, &svc, "alice", "/k8s/read/pod/dev/pipeline/alice-pod").await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body["status"], json!(0));
    let pod_dict = &r.body["result"];
    assert_eq!(pod_dict["username"], json!("alice"));
    assert_eq!(pod_dict["host_ip"], json!("10.0.0.7"));
    assert_eq!(pod_dict["containers"], json!(["wait", "main"]));
    let reasons: Vec<&str> = pod_dict["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["reason"].as_str().unwrap())
        .collect();
    assert_eq!(reasons, ["Scheduled", "Started"]);
    let r = get(&app, &svc, "alice", "/k8s/read/pod/dev/pipeline/nobody").await;
    assert_eq!(
        r.body,
        json!({"status": 1, "message": "pod不存在", "result": {}})
    );

    // pages
    for uri in [
        "/k8s/web/log/dev/pipeline/alice-pod",
        "/k8s/web/log/dev/pipeline/alice-pod/main",
        "/k8s/web/debug/dev/pipeline/alice-pod/main",
        "/k8s/web/pod/dev/pipeline/alice-pod",
    ] {
        let r = get(&app, &svc, "alice", uri).await;
        assert_eq!(r.status, 200, "{uri}: {}", r.body);
        assert!(
            r.header("content-type").unwrap().starts_with("text/html"),
            "{uri}"
        );
        assert!(text(&r).contains("alice-pod"), "{uri}");
    }
    let r = get(
        &app,
        &svc,
        "alice",
        "/k8s/web/debug/dev/pipeline/alice-pod/main",
    )
    .await;
    assert!(text(&r).contains("/k8s/stream/exec/dev/pipeline/alice-pod/main"));
    let r = get(
        &app,
        &svc,
        "alice",
        "/k8s/web/log/dev/pipeline/alice-pod/main",
    )
    .await;
    assert!(text(&r).contains("/k8s/stream/log/dev/pipeline/alice-pod/main"));
    let r = get(&app, &svc, "alice", "/k8s/web/pod/dev/pipeline/admin-pod").await;
    assert_eq!(r.status, 403);
    let r = get(
        &app,
        &svc,
        "alice",
        "/k8s/watch/log/dev/pipeline/alice-pod/main",
    )
    .await;
    assert_eq!(r.status, 302);
    assert_eq!(
        r.header("location").as_deref(),
        Some("/k8s/web/log/dev/pipeline/alice-pod/main")
    );
    let r = get(&app, &svc, "alice", "/k8s/web1/search/dev/pipeline/alice").await;
    assert_eq!(
        r.header("location").as_deref(),
        Some("/k8s/web/search/dev/pipeline/alice")
    );

    // search: a plain user sees only their pods
    let r = get(&app, &svc, "alice", "/k8s/web/search/dev/pipeline/pod").await;
    assert_eq!(r.status, 200);
    let page = text(&r);
    assert!(
        page.contains("alice-pod") && !page.contains("admin-pod"),
        "{page}"
    );
    let r = get(&app, &svc, "admin", "/k8s/web/search/dev/pipeline/pod").await;
    let page = text(&r);
    assert!(page.contains("alice-pod") && page.contains("admin-pod"));

    // delete: not another user's pod; the own one, then back where the user came from
    let r = get(
        &app,
        &svc,
        "alice",
        "/k8s/delete/pod/dev/pipeline/admin-pod",
    )
    .await;
    assert_eq!(r.status, 403);
    assert!(
        kube.get("", "v1", "pods", Some("pipeline"), "admin-pod")
            .is_some()
    );
    let r = send(
        &svc,
        test::TestRequest::get()
            .uri("/k8s/web/delete/pod/dev/pipeline/alice-pod")
            .insert_header(("Authorization", app.auth("alice")))
            .insert_header(("Referer", "/k8s/web/search/dev/pipeline/pod")),
    )
    .await;
    assert_eq!(r.status, 302);
    assert_eq!(
        r.header("location").as_deref(),
        Some("/k8s/web/search/dev/pipeline/pod")
    );
    assert!(
        kube.get("", "v1", "pods", Some("pipeline"), "alice-pod")
            .is_none()
    );
    let r = get(
        &app,
        &svc,
        "admin",
        "/k8s/delete/pod/dev/pipeline/admin-pod",
    )
    .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body["status"], json!(0));
    assert!(
        kube.get("", "v1", "pods", Some("pipeline"), "admin-pod")
            .is_none()
    );
}

/// The dashboard on a real socket (streams and websockets need one).
fn serve(app: &TestApp) -> SocketAddr {
    let state = app.state.clone();
    let server = actix_web::HttpServer::new(move || dashboard::dashboard_app!(state.clone()))
        .workers(1)
        .bind(("127.0.0.1", 0))
        .unwrap();
    let addr = server.addrs()[0];
    actix_web::rt::spawn(server.run());
    addr
}

/// Reads a streamed answer until `needle` has arrived (10 s at most).
async fn read_until(res: &mut reqwest::Response, needle: &str, seen: &mut String) {
    let done = tokio::time::timeout(Duration::from_secs(10), async {
        while !seen.contains(needle) {
            let chunk = res.chunk().await.unwrap().expect("the stream ended");
            seen.push_str(&String::from_utf8_lossy(&chunk));
        }
    })
    .await;
    assert!(done.is_ok(), "no {needle:?} in {seen:?}");
}

#[actix_web::test]
async fn the_live_log_receives_lines_as_the_pod_writes_them() {
    let kube = FakeKube::start(FakeKubeOptions::default()).await;
    kube.insert("", "v1", "pods", pod("alice-pod", "alice", "Running"));
    kube.set_pod_log("pipeline", "alice-pod", "started\n");
    let dir = tempfile::tempdir().unwrap();
    let app = kube_app(&dir, &kube, &[]);
    let addr = serve(&app);

    let client = reqwest::Client::new();
    let res = client
        .get(format!(
            "http://{addr}/k8s/stream/log/dev/pipeline/alice-pod/main"
        ))
        .header("Authorization", app.auth("alice"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(
        res.headers()["content-type"].to_str().unwrap(),
        "text/event-stream"
    );
    let mut res = res;
    let mut seen = String::new();
    read_until(&mut res, "data: started\n\n", &mut seen).await;
    // lines written after the page opened arrive as they are written
    kube.append_pod_log("pipeline", "alice-pod", "epoch 1 \x1b[32mok\x1b[0m\n");
    read_until(&mut res, "data: epoch 1 ok\n\n", &mut seen).await;
    kube.append_pod_log("pipeline", "alice-pod", "epoch 2\n");
    read_until(&mut res, "data: epoch 2\n\n", &mut seen).await;
    // the pod finishes: the stream says so and ends
    let mut done = kube
        .get("", "v1", "pods", Some("pipeline"), "alice-pod")
        .unwrap();
    done["status"]["phase"] = json!("Succeeded");
    kube.insert("", "v1", "pods", done);
    read_until(&mut res, "event: end\n", &mut seen).await;

    // another user's pod cannot be followed
    let res = client
        .get(format!(
            "http://{addr}/k8s/stream/log/dev/pipeline/alice-pod/main"
        ))
        .header("Authorization", app.auth("admin"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200, "admins may");
    app.add_user("bob");
    let res = client
        .get(format!(
            "http://{addr}/k8s/stream/log/dev/pipeline/alice-pod/main"
        ))
        .header("Authorization", app.auth("bob"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
    assert!(testkit::rbac::assert_allowed(&kube, "dashboard") > 0);
}

#[actix_web::test]
async fn a_shell_through_the_dashboard_runs_echo_hello_in_the_pod() {
    use tokio_tungstenite::tungstenite::Message;
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;

    let kube = FakeKube::start(FakeKubeOptions::default()).await;
    kube.insert("", "v1", "pods", pod("alice-pod", "alice", "Running"));
    kube.insert("", "v1", "pods", pod("done-pod", "alice", "Succeeded"));
    let dir = tempfile::tempdir().unwrap();
    let app = kube_app(&dir, &kube, &[]);
    let addr = serve(&app);

    let mut req = format!("ws://{addr}/k8s/stream/exec/dev/pipeline/alice-pod/main")
        .into_client_request()
        .unwrap();
    req.headers_mut()
        .insert("Authorization", app.auth("alice").parse().unwrap());
    let (mut ws, _) = tokio_tungstenite::connect_async(req).await.unwrap();
    ws.send(Message::text(r#"{"op":"resize","cols":120,"rows":40}"#))
        .await
        .unwrap();
    ws.send(Message::text(r#"{"op":"stdin","data":"echo hello\n"}"#))
        .await
        .unwrap();
    let mut out = String::new();
    let got = tokio::time::timeout(Duration::from_secs(10), async {
        while !out.lines().any(|l| l.trim_end_matches('\r') == "hello") {
            match ws.next().await {
                Some(Ok(Message::Binary(b))) => out.push_str(&String::from_utf8_lossy(&b)),
                Some(Ok(Message::Text(t))) => out.push_str(&t),
                Some(Ok(_)) => {}
                other => panic!("socket ended: {other:?} after {out:?}"),
            }
        }
    })
    .await;
    assert!(got.is_ok(), "no hello in {out:?}");
    // the exec reached the pod's container with the shell command, and the resize
    let exec = kube
        .requests()
        .into_iter()
        .rfind(|q| q.path.ends_with("/alice-pod/exec"))
        .expect("an exec request");
    assert_eq!(exec.param("container"), Some("main"));
    assert_eq!(exec.param("tty"), Some("true"));
    assert_eq!(kube.last_resize("pipeline", "alice-pod"), Some((120, 40)));
    // exit ends the shell: the socket closes with its status
    ws.send(Message::text(r#"{"op":"stdin","data":"exit\n"}"#))
        .await
        .unwrap();
    let reason = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            match ws.next().await {
                Some(Ok(Message::Close(frame))) => {
                    return frame.map(|f| f.reason.to_string()).unwrap_or_default();
                }
                Some(Ok(_)) => {}
                other => panic!("socket ended without a close: {other:?}"),
            }
        }
    })
    .await
    .unwrap();
    assert_eq!(reason, "exit 0");

    // a finished pod has no shell; another user's pod neither
    let mut req = format!("ws://{addr}/k8s/stream/exec/dev/pipeline/done-pod/main")
        .into_client_request()
        .unwrap();
    req.headers_mut()
        .insert("Authorization", app.auth("alice").parse().unwrap());
    match tokio_tungstenite::connect_async(req).await {
        Err(tokio_tungstenite::tungstenite::Error::Http(res)) => {
            assert_eq!(res.status(), 409)
        }
        other => panic!("expected a 409, got {other:?}"),
    }
    app.add_user("bob");
    let mut req = format!("ws://{addr}/k8s/stream/exec/dev/pipeline/alice-pod/main")
        .into_client_request()
        .unwrap();
    req.headers_mut()
        .insert("Authorization", app.auth("bob").parse().unwrap());
    match tokio_tungstenite::connect_async(req).await {
        Err(tokio_tungstenite::tungstenite::Error::Http(res)) => {
            assert_eq!(res.status(), 403)
        }
        other => panic!("expected a 403, got {other:?}"),
    }
    assert!(testkit::rbac::assert_allowed(&kube, "dashboard") > 0);
}

/// A one-object S3 store: `GET /mlpipeline/wf-1/wf-1-main-1/main.log`, signed.
fn fake_s3() -> (SocketAddr, std::sync::Arc<std::sync::Mutex<Vec<String>>>) {
    use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let log = seen.clone();
    let server = HttpServer::new(move || {
        let log = log.clone();
        App::new().default_service(web::to(move |req: HttpRequest| {
            let log = log.clone();
            async move {
                log.lock()
                    .unwrap()
                    .push(format!("{}?{}", req.path(), req.query_string()));
                if !req.query_string().contains("X-Amz-Signature=") {
                    return HttpResponse::Forbidden()
                        .body("<Error><Code>AccessDenied</Code><Message>unsigned</Message></Error>");
                }
                if req.path() == "/mlpipeline/wf-1/wf-1-main-1/main.log" {
                    HttpResponse::Ok().body("archived line <1>\n\x1b[1mdone\x1b[0m\n")
                } else {
                    HttpResponse::NotFound()
                        .body("<Error><Code>NoSuchKey</Code><Message>The specified key does not exist.</Message></Error>")
                }
            }
        }))
    })
    .workers(1)
    .bind(("127.0.0.1", 0))
    .unwrap();
    let addr = server.addrs()[0];
    actix_web::rt::spawn(server.run());
    (addr, seen)
}

fn workflow(name: &str) -> Value {
    json!({
        "apiVersion": "argoproj.io/v1alpha1", "kind": "Workflow",
        "metadata": {"name": name, "namespace": "pipeline",
                     "labels": {"run-rtx": "admin", "pipeline-name": "demo"},
                     "creationTimestamp": "2026-12-07T08:00:00Z"},
        "spec": {"entrypoint": "main", "templates": []},
        "status": {"phase": "Succeeded", "startedAt": "2026-12-07T08:00:00Z",
                   "finishedAt": "2026-12-07T08:01:00Z", "nodes": {}}
    })
}

#[actix_web::test]
async fn offline_logs_are_read_from_the_s3_store_or_said_to_be_missing() {
    let kube = FakeKube::start(FakeKubeOptions::default()).await;
    kube.insert("argoproj.io", "v1alpha1", "workflows", workflow("wf-1"));
    let (s3, seen) = fake_s3();
    let endpoint = format!("http://{s3}");
    let dir = tempfile::tempdir().unwrap();
    let app = kube_app(
        &dir,
        &kube,
        &[
            ("S3_ENDPOINT", endpoint.as_str()),
            ("S3_ACCESS_KEY", "minio"),
            ("S3_SECRET_KEY", "minio123"),
        ],
    );
    let svc = test::init_service(dashboard::dashboard_app!(app.state.clone())).await;
    let base = "/workflow_modelview/api/web/log/dev/pipeline/wf-1/wf-1-main-1";
    let r = get(&app, &svc, "admin", base).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        text(&r),
        "<pre><code>archived line &lt;1&gt;\ndone\n</code></pre>"
    );
    let r = get(&app, &svc, "admin", &format!("{base}/main.log")).await;
    assert_eq!(r.status, 200);
    let r = get(
        &app,
        &svc,
        "admin",
        "/workflow_modelview/api/web/log_node/dev/pipeline/wf-1/wf-1-main-1",
    )
    .await;
    assert_eq!(r.body["result"]["type"], json!("html"));
    assert!(
        r.body["result"]["value"]
            .as_str()
            .unwrap()
            .contains("archived line &lt;1&gt;")
    );
    assert!(seen.lock().unwrap()[0].starts_with("/mlpipeline/wf-1/wf-1-main-1/main.log?"));
    // a step without an archived log; a workflow that does not exist
    let r = get(
        &app,
        &svc,
        "admin",
        "/workflow_modelview/api/web/log/dev/pipeline/wf-1/wf-1-other-2",
    )
    .await;
    assert_eq!(r.status, 404, "{}", r.body);
    assert!(
        r.body["message"]
            .as_str()
            .unwrap()
            .contains("wf-1/wf-1-other-2/main.log")
    );
    let r = get(
        &app,
        &svc,
        "admin",
        "/workflow_modelview/api/web/log/dev/pipeline/wf-9/wf-9-main-1",
    )
    .await;
    assert_eq!(r.status, 404);
    // a plain user the workflow does not name sees nothing
    let r = get(&app, &svc, "alice", base).await;
    assert_eq!(r.status, 404);

    // without a store: a clear 503
    let dir2 = tempfile::tempdir().unwrap();
    let bare = kube_app(&dir2, &kube, &[]);
    let svc2 = test::init_service(dashboard::dashboard_app!(bare.state.clone())).await;
    let r = get(&bare, &svc2, "admin", base).await;
    assert_eq!(r.status, 503);
    assert!(r.body["message"].as_str().unwrap().contains("S3_ENDPOINT"));
}
