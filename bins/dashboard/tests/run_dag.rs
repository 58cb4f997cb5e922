//! The run page of a workflow (`web/dag`, `web/layout`) through HTTP, against the
//! original's recorded answers for the same finished 3-task workflow
//! (`tests/reference/original/4[0-3]_*`, the object `tests/reference/argo-workflow-3task.json`):
//! read from the fake cluster, from the `workflow` row when the cluster cannot be read,
//! and as a user the workflow does not name.
//!
//! Intended differences from the original, checked here:
//! * a user the workflow does not name gets the answer of a missing workflow (the
//!   original shows every workflow to everyone);
//! * `web/layout` of a missing workflow is a 404 envelope (the original: a 500 page);
//! * times read from the row (already local) are not shifted by 8 hours again;
//! * `crd_json.metadata.annotations` keep their text (the original re-decodes it into
//!   mojibake); the icons are our own drawings.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use actix_web::body::MessageBody;
use actix_web::dev::{Service, ServiceResponse};
use actix_web::test;
use common::{TestApp, send};
use serde_json::{Value, json};
use testkit::fake_kube::{FakeKube, FakeKubeOptions};

const WF: &str = "yolov8-dagfix-x7k2p";

fn reference(file: &str) -> Value {
    let path = format!("{}/tests/reference/{file}", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap()
}

/// The original's answer body of a recorded exchange.
fn original(name: &str) -> Value {
    let fx = reference(&format!("original/{name}.json"));
    assert_eq!(fx["response"]["body_type"], json!("json"), "{name}");
    fx["response"]["body"].clone()
}

fn type_of(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// Every place where `ours` and `theirs` differ in keys, JSON types or array lengths.
fn shape_diff(ours: &Value, theirs: &Value, path: &str, out: &mut Vec<String>) {
    match (ours, theirs) {
        (Value::Object(a), Value::Object(b)) => {
            for k in b.keys().filter(|k| !a.contains_key(*k)) {
                out.push(format!("MISSING {path}.{k}"));
            }
            for k in a.keys().filter(|k| !b.contains_key(*k)) {
                out.push(format!("EXTRA {path}.{k}"));
            }
            for (k, v) in a {
                if let Some(w) = b.get(k) {
                    shape_diff(v, w, &format!("{path}.{k}"), out);
                }
            }
        }
        (Value::Array(a), Value::Array(b)) => {
            if a.len() != b.len() {
                out.push(format!("LENGTH {path}: {} vs {}", a.len(), b.len()));
            }
            for (i, (v, w)) in a.iter().zip(b).enumerate() {
                shape_diff(v, w, &format!("{path}[{i}]"), out);
            }
        }
        (a, b) if type_of(a) != type_of(b) => {
            out.push(format!("TYPE {path}: {} vs {}", type_of(a), type_of(b)))
        }
        _ => {}
    }
}

fn assert_same_shape(ours: &Value, theirs: &Value, what: &str) {
    let mut diffs = Vec::new();
    shape_diff(ours, theirs, "$", &mut diffs);
    assert!(
        diffs.is_empty(),
        "{what}: shape differs from the original:\n{}",
        diffs.join("\n")
    );
}

/// The values of a node tree that are not drawings, flattened (path → value).
fn node_values(nodes: &Value, out: &mut Vec<(String, Value)>) {
    for n in nodes.as_array().unwrap() {
        for (k, v) in n.as_object().unwrap() {
            match k.as_str() {
                "icon" => {}
                "status" => out.push((format!("{}.status.label", n["nid"]), v["label"].clone())),
                "children" => node_values(v, out),
                _ => out.push((format!("{}.{k}", n["nid"]), v.clone())),
            }
        }
    }
}

/// The run object in a cluster, naming `pipeline_id` and run by `runner`.
fn workflow_object(name: &str, pipeline_id: i64, runner: &str) -> Value {
    let mut obj = reference("argo-workflow-3task.json");
    let text = serde_json::to_string(&obj).unwrap().replace(WF, name);
    obj = serde_json::from_str(&text).unwrap();
    let labels = &mut obj["metadata"]["labels"];
    labels["pipeline-id"] = json!(pipeline_id.to_string());
    labels["run-username"] = json!(runner);
    labels["pipeline-username"] = json!(runner);
    obj
}

/// The seeded demo pipeline, renamed as the recorded one (`yolov8`, created by admin).
fn recorded_pipeline(app: &TestApp) -> i64 {
    let id = app.scalar("SELECT CAST(MIN(id) AS SIGNED) AS n FROM pipeline");
    app.exec(&format!(
        "UPDATE pipeline SET name = 'yolov8', `describe` = '深度学习：目标识别训练部署' WHERE id = {id}"
    ));
    id
}

async fn get<S, B>(app: &TestApp, svc: &S, user: &str, what: &str, name: &str) -> common::Resp
where
    S: Service<actix_http::Request, Response = ServiceResponse<B>, Error = actix_web::Error>,
    B: MessageBody,
{
    send(
        svc,
        test::TestRequest::get()
            .uri(&format!(
                "/workflow_modelview/api/web/{what}/dev/pipeline/{name}"
            ))
            .insert_header(("Authorization", app.auth(user))),
    )
    .await
}

#[actix_web::test]
async fn the_run_page_of_a_workflow_in_the_cluster_is_the_originals() {
    let kube = FakeKube::start(FakeKubeOptions::default()).await;
    let dir = tempfile::tempdir().unwrap();
    let app = TestApp::with_cluster(&dir, Some(&kube), &[]);
    let pid = recorded_pipeline(&app);
    kube.insert(
        "argoproj.io",
        "v1alpha1",
        "workflows",
        workflow_object(WF, pid, "admin"),
    );
    let svc = test::init_service(dashboard::dashboard_app!(app.state.clone())).await;

    // web/dag as admin: the original's keys and types everywhere, and its values
    let r = get(&app, &svc, "admin", "dag", WF).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        r.header("content-type").as_deref(),
        Some("application/json")
    );
    let theirs = original("40_workflow_web_dag_admin");
    assert_same_shape(&r.body, &theirs, "web/dag");
    let (ours_r, theirs_r) = (&r.body["result"], &theirs["result"]);
    assert_eq!(ours_r["control"], theirs_r["control"]);
    let (mut a, mut b) = (Vec::new(), Vec::new());
    node_values(&ours_r["dag"], &mut a);
    node_values(&theirs_r["dag"], &mut b);
    assert_eq!(a, b, "the node values are the original's");
    let row_id = app.scalar(&format!(
        "SELECT CAST(id AS SIGNED) AS n FROM workflow WHERE name = '{WF}'"
    ));
    let layout = &ours_r["layout"];
    let their_layout = &theirs_r["layout"];
    for k in [
        "search",
        "status",
        "progress",
        "start_time",
        "finish_time",
        "run-id",
        "pipeline-name",
        "pipeline-describe",
        "schedule_type",
        "title",
    ] {
        assert_eq!(layout[k], their_layout[k], "layout.{k}");
    }
    assert_eq!(layout["create_time"], json!("2026-12-07 10:00:00"));
    assert_eq!(
        layout["right_button"],
        json!([{"label": "终止", "url": format!("/workflow_modelview/api/stop/{row_id}")},
               {"label": "任务流", "url": format!("/pipeline_modelview/api/web/{pid}")}])
    );
    let mut detail = layout["detail"].clone();
    let mut their_detail = their_layout["detail"].clone();
    for d in [&mut detail, &mut their_detail] {
        d[0][1]["value"] = json!("<pipeline>");
        d[1][0]["value"] = json!("<create_time>");
    }
    assert_eq!(detail, their_detail);
    assert_eq!(
        layout["crd_json"]["metadata"]["annotations"]["description"],
        json!("深度学习：目标识别训练部署")
    );
    assert_eq!(
        layout["crd_json"]["status"],
        their_layout["crd_json"]["status"]
    );

    // the row was written as the watcher writes it
    assert_eq!(
        app.scalar(&format!(
            "SELECT COUNT(*) AS n FROM workflow WHERE name = '{WF}' AND status = 'Succeeded' \
             AND username = 'admin' AND cluster = 'dev' AND create_time = '2026-12-07 10:00:00' \
             AND status_more LIKE '%\"finishedAt\": \"2026-12-07 10:06:05\"%'"
        )),
        1
    );

    // web/layout: the same header, titled with the place and the times
    let r = get(&app, &svc, "admin", "layout", WF).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let theirs = original("40_workflow_web_layout_admin");
    assert_same_shape(&r.body, &theirs, "web/layout");
    assert_eq!(
        r.body["result"]["title"],
        json!(format!(
            "dev pipeline {WF} 2026-12-07 10:00:01 2026-12-07 10:06:05"
        ))
    );
    assert_eq!(r.body["result"]["title"], theirs["result"]["title"]);

    // a user the workflow does not name: the answer of a missing workflow
    app.add_user("plainuser");
    let missing = original("41_workflow_web_dag_missing_admin");
    let r = get(&app, &svc, "plainuser", "dag", WF).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_same_shape(&r.body, &missing, "web/dag of another's workflow");
    assert_eq!(r.body["result"], missing["result"]);
    assert_eq!(
        original("40_workflow_web_dag_plain")["result"]["dag"]
            .as_array()
            .map(Vec::len),
        Some(1),
        "the original shows it (not copied)"
    );
    let r = get(&app, &svc, "plainuser", "layout", WF).await;
    assert_eq!(r.status, 404, "{}", r.body);

    // … and one it names (its runner) sees it
    app.add_user("runner1");
    kube.insert(
        "argoproj.io",
        "v1alpha1",
        "workflows",
        workflow_object("yolov8-runner-a1b2c", pid, "runner1"),
    );
    let r = get(&app, &svc, "runner1", "dag", "yolov8-runner-a1b2c").await;
    assert_eq!(r.status, 200, "{}", r.body);
    // node ids (keys of crd_json.status.nodes) are made of the workflow's name
    let theirs: Value = serde_json::from_str(
        &original("40_workflow_web_dag_admin")
            .to_string()
            .replace(WF, "yolov8-runner-a1b2c"),
    )
    .unwrap();
    assert_same_shape(&r.body, &theirs, "runner's web/dag");
    assert_eq!(r.body["result"]["layout"]["run-username"], json!("runner1"));

    // missing everywhere: the original's empty answer; web/layout 404 (the original 500s)
    let r = get(&app, &svc, "admin", "dag", "no-such-workflow-x1").await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body["result"], missing["result"]);
    assert_eq!(
        reference("original/41_workflow_web_layout_missing_admin.json")["response"]["status"],
        json!(500)
    );
    let r = get(&app, &svc, "admin", "layout", "no-such-workflow-x1").await;
    assert_eq!(r.status, 404, "{}", r.body);

    // gone from the cluster: the row (the DB fallback), still the original's shape
    kube.remove("argoproj.io", "v1alpha1", "workflows", Some("pipeline"), WF);
    let r = get(&app, &svc, "admin", "dag", WF).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_same_shape(
        &r.body,
        &original("42_workflow_web_dag_admin"),
        "web/dag from the row",
    );
    let mut c = Vec::new();
    node_values(&r.body["result"]["dag"], &mut c);
    assert_eq!(c, b, "the row shows the same nodes and times");
}

#[actix_web::test]
async fn a_cluster_that_cannot_be_read_shows_the_watchers_row() {
    let dir = tempfile::tempdir().unwrap();
    let app = TestApp::with_cluster(&dir, None, &[]);
    let pid = recorded_pipeline(&app);
    // the row as the watcher writes it
    let tz: chrono_tz::Tz = "Asia/Shanghai".parse().unwrap();
    let snap = app_core::workflow_status::WorkflowSnapshot::from_object(
        &workflow_object(WF, pid, "admin"),
        tz,
    )
    .unwrap();
    {
        let mut conn = app.db.conn();
        app_core::workflow_store::apply_workflow(
            &mut conn,
            "dev",
            &snap,
            tz,
            "2026-12-07 10:06:06",
        )
        .unwrap()
        .unwrap();
    }
    let svc = test::init_service(dashboard::dashboard_app!(app.state.clone())).await;
    let row_id = app.scalar(&format!(
        "SELECT CAST(id AS SIGNED) AS n FROM workflow WHERE name = '{WF}'"
    ));

    for (what, fixture) in [
        ("dag", "42_workflow_web_dag_admin"),
        ("layout", "42_workflow_web_layout_admin"),
    ] {
        let r = get(&app, &svc, "admin", what, WF).await;
        assert_eq!(r.status, 200, "{}", r.body);
        let theirs = original(fixture);
        assert_same_shape(&r.body, &theirs, &format!("web/{what} from the row"));
        let layout = if what == "dag" {
            &r.body["result"]["layout"]
        } else {
            &r.body["result"]
        };
        // the original shifts the row's local times by 8 hours a second time
        assert_eq!(layout["start_time"], json!("2026-12-07 10:00:01"));
        assert_eq!(layout["finish_time"], json!("2026-12-07 10:06:05"));
        assert_eq!(
            theirs["result"].get("layout").unwrap_or(&theirs["result"])["start_time"],
            json!("2026-12-07 18:00:01")
        );
        assert_eq!(layout["create_time"], json!("2026-12-07 10:00:00"));
        assert_eq!(layout["status"], json!("Succeeded"));
        assert_eq!(
            layout["right_button"][0]["url"],
            json!(format!("/workflow_modelview/api/stop/{row_id}"))
        );
    }
    let r = get(&app, &svc, "admin", "dag", WF).await;
    let mut ours = Vec::new();
    node_values(&r.body["result"]["dag"], &mut ours);
    let mut theirs = Vec::new();
    node_values(
        &original("40_workflow_web_dag_admin")["result"]["dag"],
        &mut theirs,
    );
    assert_eq!(ours, theirs, "the same nodes as from the cluster");

    // another user: nothing
    app.add_user("plainuser");
    let r = get(&app, &svc, "plainuser", "dag", WF).await;
    assert_eq!(
        r.body["result"],
        original("41_workflow_web_dag_missing_admin")["result"]
    );
}

/// The node of the recorded pod (`download-data`) and a node whose pod is not there.
const NODE: &str = "yolov8-dagfix-x7k2p-1305441720";
const NODE_NO_POD: &str = "yolov8-dagfix-x7k2p-2942193862";

async fn node_detail<S, B>(app: &TestApp, svc: &S, user: &str, node: &str) -> common::Resp
where
    S: Service<actix_http::Request, Response = ServiceResponse<B>, Error = actix_web::Error>,
    B: MessageBody,
{
    send(
        svc,
        test::TestRequest::get()
            .uri(&format!(
                "/workflow_modelview/api/web/node_detail/dev/pipeline/{WF}/{node}"
            ))
            .insert_header(("Authorization", app.auth(user))),
    )
    .await
}

/// The original's node dialog and ours have the same keys and types everywhere; the
/// result tab of the original also has its 15 demo charts (not ours).
fn assert_same_dialog_shape(ours: &Value, theirs: &Value, what: &str) {
    let mut diffs = Vec::new();
    shape_diff(ours, theirs, "$", &mut diffs);
    diffs.retain(|d| !d.starts_with("LENGTH $.result.detail[2].content: 1 vs 16"));
    assert!(
        diffs.is_empty(),
        "{what}: shape differs from the original:\n{}",
        diffs.join("\n")
    );
    assert_eq!(
        theirs["result"]["detail"][2]["content"][1]["groupContent"]["type"],
        json!("echart")
    );
}

fn parsed(v: &Value) -> Value {
    serde_json::from_str(v.as_str().unwrap()).unwrap()
}

#[actix_web::test]
async fn the_node_dialog_is_the_originals() {
    let kube = FakeKube::start(FakeKubeOptions::default()).await;
    let dir = tempfile::tempdir().unwrap();
    let app = TestApp::with_cluster(&dir, Some(&kube), &[]);
    let pid = recorded_pipeline(&app);
    kube.insert(
        "argoproj.io",
        "v1alpha1",
        "workflows",
        workflow_object(WF, pid, "admin"),
    );
    let pod_file = reference("argo-pod-3task-download-data.json");
    kube.insert("", "v1", "pods", pod_file["pod"].clone());
    for ev in pod_file["events"].as_array().unwrap() {
        kube.insert("", "v1", "events", ev.clone());
    }
    let svc = test::init_service(dashboard::dashboard_app!(app.state.clone())).await;

    let r = node_detail(&app, &svc, "admin", NODE).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        r.header("content-type").as_deref(),
        Some("application/json")
    );
    let theirs = original("44_workflow_web_node_detail_admin");
    assert_same_dialog_shape(&r.body, &theirs, "web/node_detail");
    let (ours, theirs) = (&r.body["result"], &theirs["result"]);
    assert_eq!(ours["control"], theirs["control"]);
    let tabs = |v: &Value| -> Vec<Value> {
        v["detail"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["tabName"].clone())
            .collect()
    };
    assert_eq!(tabs(ours), tabs(theirs));
    // the task, its message and mounts are the original's
    assert_eq!(ours["detail"][0]["content"], theirs["detail"][0]["content"]);
    // the buttons: the same targets; those not served here say so
    let buttons = |v: &Value| -> Vec<(Value, Value)> {
        v["detail"][0]["bottomButton"]
            .as_array()
            .unwrap()
            .iter()
            .map(|b| (b["text"].clone(), b["url"].clone()))
            .collect()
    };
    let (ob, tb) = (buttons(ours), buttons(theirs));
    assert_eq!(ob.len(), 5);
    for (i, ((ot, ou), (tt, tu))) in ob.iter().zip(&tb).enumerate() {
        if i == 3 {
            // Grafana below the host the request came to
            let path =
                "/grafana/d/pod-info/pod-info?var-pod=yolov8-dagfix-x7k2p-download-data-1305441720";
            assert!(ou.as_str().unwrap().ends_with(path), "{ou}");
            assert!(tu.as_str().unwrap().ends_with(path), "{tu}");
        } else {
            assert_eq!(ou, tu, "button {i}");
        }
        let _ = (ot, tt);
    }
    let texts: Vec<&str> = ob.iter().map(|(t, _)| t.as_str().unwrap()).collect();
    assert_eq!(
        texts,
        [
            "在线日志",
            "在线调试",
            "相关容器",
            "资源使用",
            // no S3 store configured here (tests/k8s.rs reads one)
            "离线日志(no)"
        ]
    );
    // every button that says it works leads to a page that answers (Grafana is elsewhere)
    for (text, url) in &ob {
        let (text, url) = (text.as_str().unwrap(), url.as_str().unwrap());
        if text.ends_with("(no)") || text == "资源使用" {
            continue;
        }
        let page = send(
            &svc,
            test::TestRequest::get()
                .uri(url)
                .insert_header(("Authorization", app.auth("admin"))),
        )
        .await;
        assert_eq!(page.status, 200, "{text} {url}: {}", page.body);
    }
    // the pod, trimmed as the original trims it
    let pod_text = &ours["detail"][1]["content"][0]["groupContent"]["value"];
    let pod = parsed(pod_text);
    let their_pod = parsed(&theirs["detail"][1]["content"][0]["groupContent"]["value"]);
    let keys = |v: &Value| -> Vec<String> { v.as_object().unwrap().keys().cloned().collect() };
    for k in ["metadata", "spec"] {
        let mut a = keys(&pod[k]);
        let mut b = keys(&their_pod[k]);
        a.sort();
        b.sort();
        assert_eq!(a, b, "pod.{k}");
    }
    assert_eq!(
        pod["metadata"]["annotations"],
        their_pod["metadata"]["annotations"]
    );
    assert_eq!(pod["metadata"]["labels"], their_pod["metadata"]["labels"]);
    assert_eq!(pod["spec"]["volumes"], their_pod["spec"]["volumes"]);
    assert_eq!(
        pod["spec"]["containers"][0]["env"],
        their_pod["spec"]["containers"][0]["env"]
    );
    assert_eq!(pod["spec"]["containers"].as_array().map(Vec::len), Some(1));
    assert!(pod_text.as_str().unwrap().starts_with("{\n    \""));
    // the workflow object of the run page
    let wf = parsed(&ours["detail"][3]["content"][0]["groupContent"]["value"]);
    let their_wf = parsed(&theirs["detail"][3]["content"][0]["groupContent"]["value"]);
    assert_eq!(wf["status"], their_wf["status"]);
    assert_eq!(wf["spec"], their_wf["spec"]);
    assert_eq!(wf["metadata"]["labels"], their_wf["metadata"]["labels"]);

    // a node whose pod is not in the cluster
    let r = node_detail(&app, &svc, "admin", NODE_NO_POD).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let theirs = original("44_workflow_web_node_detail_no_pod_admin");
    assert_same_dialog_shape(&r.body, &theirs, "web/node_detail without a pod");
    assert_eq!(
        r.body["result"]["detail"][1]["content"][0]["groupContent"]["value"],
        theirs["result"]["detail"][1]["content"][0]["groupContent"]["value"]
    );
    assert_eq!(
        r.body["result"]["detail"][0]["bottomButton"][0]["text"],
        json!("在线日志(no)")
    );
    assert_eq!(
        r.body["result"]["detail"][0]["bottomButton"][0]["text"],
        theirs["result"]["detail"][0]["bottomButton"][0]["text"]
    );

    // a node the workflow does not have: the original's bare {}
    let theirs = original("44_workflow_web_node_detail_missing_node_admin");
    let r = node_detail(&app, &svc, "admin", "yolov8-dagfix-x7k2p-999").await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body, theirs);
    assert_eq!(r.body, json!({}));

    // a user the workflow does not name: the answer of a missing node (the original
    // shows it to anyone)
    app.add_user("plainuser");
    let r = node_detail(&app, &svc, "plainuser", NODE).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body, json!({}));
    assert_eq!(
        original("44_workflow_web_node_detail_plain")["result"]["detail"]
            .as_array()
            .map(Vec::len),
        Some(4),
        "the original shows it (not copied)"
    );
}
