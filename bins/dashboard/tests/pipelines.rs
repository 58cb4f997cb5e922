//! Pipelines end to end through HTTP only, on the fake cluster: log in, build a
//! pipeline of three tasks from two templates (a → b, a → c), save the DAG as the
//! editor does, run it, look at the Workflow, stop it; single-task debug, run and log;
//! and the errors that must stop a run before anything is submitted.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use actix_web::test;
use common::{TestApp, send};
use serde_json::{Value, json};
use testkit::fake_kube::{FakeKube, FakeKubeOptions};
use testkit::process::{Process, free_port};

struct Env {
    kube: FakeKube,
    app: TestApp,
    /// The real `worker`: stopping runs is its job, queued by the dashboard.
    worker: Process,
    prefix: String,
    _dir: tempfile::TempDir,
}

async fn env() -> Env {
    let kube = FakeKube::start(
        FakeKubeOptions::simulated()
            .step_interval(Duration::from_millis(50))
            .pod_run_duration(Duration::from_millis(200)),
    )
    .await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("kubeconfig");
    // the dashboard's own identity: its requests are checked against its RBAC
    kube.write_kubeconfig_for(&path, "dashboard").unwrap();
    let worker_kubeconfig = dir.path().join("worker-kubeconfig");
    kube.write_kubeconfig_for(&worker_kubeconfig, "worker")
        .unwrap();
    let prefix = testkit::fixtures::prefix();
    let app = TestApp::with_config(&[
        ("KUBECONFIG", path.to_str().unwrap()),
        ("QUEUE_PREFIX", &prefix),
    ]);
    let worker_addr = format!("127.0.0.1:{}", free_port());
    let worker = Process::spawn(
        "worker",
        &[
            ("DATABASE_URL", app.db.url.as_str()),
            ("REDIS_URL", "redis://127.0.0.1:6379/0"),
            ("KUBECONFIG", worker_kubeconfig.to_str().unwrap()),
            ("QUEUE_PREFIX", &prefix),
            ("WORKER_POLL_MS", "100"),
            ("WORKER_RETRY_INITIAL_MS", "100"),
            ("WORKER_RETRY_MAX_MS", "500"),
            ("WORKER_ADDR", &worker_addr),
            ("RUST_LOG", "info"),
        ],
    );
    Env {
        kube,
        app,
        worker,
        prefix,
        _dir: dir,
    }
}

/// Waits until `done` holds (the worker does the cluster work the dashboard queued).
async fn eventually(what: &str, worker: &Process, mut done: impl FnMut() -> bool) {
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while !done() {
        assert!(
            std::time::Instant::now() < deadline,
            "timed out waiting for {what}; worker log:\n{}",
            worker.logs()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn workflows(kube: &FakeKube) -> Vec<Value> {
    kube.objects("argoproj.io", "v1alpha1", "workflows", Some("pipeline"))
}

#[actix_web::test]
async fn build_run_inspect_and_stop_a_pipeline() {
    let Env {
        kube,
        app,
        mut worker,
        prefix,
        _dir,
    } = env().await;
    let svc = test::init_service(dashboard::dashboard_app!(app.state.clone())).await;

    // log in like a browser would, then use only the session cookie
    let r = send(
        &svc,
        test::TestRequest::post()
            .uri("/login/")
            .insert_header(("Content-Type", "application/json"))
            .set_payload(r#"{"username":"admin","password":"admin"}"#),
    )
    .await;
    assert_eq!(r.status, 200);
    let cookie = r
        .cookies()
        .into_iter()
        .find(|c| c.starts_with("session="))
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_string();
    let call = |method: &str, uri: &str, body: Option<Value>| {
        let req = match method {
            "POST" => test::TestRequest::post(),
            "PUT" => test::TestRequest::put(),
            "DELETE" => test::TestRequest::delete(),
            _ => test::TestRequest::get(),
        }
        .uri(uri)
        .insert_header(("Cookie", cookie.clone()));
        match body {
            Some(b) => req
                .insert_header(("Content-Type", "application/json"))
                .set_payload(b.to_string()),
            None => req,
        }
    };

    // the two templates: the custom image and python
    let r = send(
        &svc,
        call(
            "GET",
            &format!(
                "/job_template_modelview/api/?{}",
                common::form_data(&json!({"page_size": 100, "columns": ["name"]}))
            ),
            None,
        ),
    )
    .await;
    let tid = |name: &str| {
        r.body["result"]["data"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["name"] == json!(name))
            .unwrap()["id"]
            .as_i64()
            .unwrap()
    };
    let (custom, python) = (tid("自定义镜像"), tid("python"));

    let r = send(
        &svc,
        call(
            "POST",
            "/pipeline_modelview/api/",
            Some(json!({"name": "E2E_Pipe", "describe": "end to end"})),
        ),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let pid = r.body["result"]["id"].as_i64().unwrap();
    assert_eq!(r.body["result"]["name"], json!("e2e-pipe"));

    let mut task_ids = Vec::new();
    for (name, tpl, args, gpu) in [
        (
            "a",
            custom,
            json!({"images": "busybox:1.36", "workdir": "/mnt/{{creator}}", "command": "echo prepare {{pipeline_name}}"}),
            "0",
        ),
        ("b", python, json!({"code": "print('train')"}), "1(V100)"),
        (
            "c",
            custom,
            json!({"images": "alpine:3.20", "command": "echo report"}),
            "0",
        ),
    ] {
        let body = json!({"pipeline": pid, "job_template": tpl, "name": name, "label": format!("task {name}"), "args": args.to_string(),
                          "resource_memory": "1G~2G", "resource_cpu": "1~2", "resource_gpu": gpu});
        let r = send(&svc, call("POST", "/task_modelview/api/", Some(body))).await;
        assert_eq!(r.status, 200, "{name}: {}", r.body);
        task_ids.push(r.body["result"]["id"].as_i64().unwrap());
    }
    // the editor saves the DAG keyed by task names and its layout keyed by task ids
    let (a, b, c) = (task_ids[0], task_ids[1], task_ids[2]);
    let node = |id: i64, name: &str, y: i64| json!({"id": id.to_string(), "type": "dataSet", "position": {"x": 400, "y": y}, "data": {"info": {"describe": "d", "args": {}}, "name": name, "label": name}});
    let edge = |s: i64, t: i64| json!({"source": s.to_string(), "arrowHeadType": "arrow", "target": t.to_string(), "id": format!("e2e-pipe__edge-{s}null-{t}null")});
    let expand = json!([
        node(a, "a", 100),
        node(b, "b", 200),
        node(c, "c", 200),
        edge(a, b),
        edge(a, c)
    ]);
    let dag = json!({"b": {"upstream": ["a"]}, "c": {"upstream": ["a"]}});
    let r = send(&svc, call("PUT", &format!("/pipeline_modelview/api/{pid}"), Some(json!({"dag_json": dag.to_string(), "expand": expand.to_string(), "parallelism": 2})))).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(
        !r.body["result"]["expand"]
            .as_str()
            .unwrap()
            .contains("\"args\""),
        "the editor's node args are not stored"
    );

    // the dry run shows the manifest without submitting it
    let r = send(
        &svc,
        call(
            "GET",
            &format!("/pipeline_modelview/api/dry_run/{pid}"),
            None,
        ),
    )
    .await;
    assert_eq!(r.status, 200);
    assert!(r.body.as_str().unwrap().contains("kind: Workflow"));
    assert!(workflows(&kube).is_empty());

    // the pipeline's links: no run yet, so no run page
    let link = |kind: &str| {
        call(
            "GET",
            &format!("/pipeline_modelview/api/web/{kind}/{pid}"),
            None,
        )
    };
    let r = send(&svc, link("log")).await;
    assert_eq!(r.status, 404, "{}", r.body);
    assert!(r.body["message"].as_str().unwrap().contains("not been run"));
    let r = send(&svc, link("runhistory")).await;
    assert_eq!(r.status, 302);
    assert_eq!(
        r.header("location").unwrap(),
        format!(
            "/frontend/train/train_task/runhistory?filter=%5B%7B%22key%22%3A%20%22pipeline%22%2C%20%22value%22%3A%20{pid}%7D%5D"
        )
    );
    let r = send(&svc, link("workflow")).await;
    assert_eq!(r.status, 302);
    assert_eq!(
        r.header("location").unwrap(),
        format!(
            "/frontend/train/train_task/workflow?filter=%5B%7B%22key%22%3A%20%22labels%22%2C%20%22value%22%3A%20%22%5C%22pipeline-id%5C%22%3A%20%5C%22{pid}%5C%22%22%7D%5D"
        )
    );
    let r = send(&svc, link("monitoring")).await;
    assert_eq!(r.status, 302);
    assert!(
        r.header("location").unwrap().starts_with("//")
            && r.header("location")
                .unwrap()
                .ends_with("/grafana/d/pod-info/pod-info?var-pod=e2e-pipe"),
        "{:?}",
        r.header("location")
    );
    let r = send(&svc, link("pod")).await;
    assert_eq!(r.status, 302);
    let pods_page = r.header("location").unwrap();
    assert_eq!(pods_page, "/k8s/web/search/dev/pipeline/e2e-pipe");
    assert_eq!(send(&svc, call("GET", &pods_page, None)).await.status, 200);
    assert_eq!(send(&svc, link("nothing")).await.status, 404);

    // run
    let r = send(
        &svc,
        call(
            "GET",
            &format!("/pipeline_modelview/api/run_pipeline/{pid}"),
            None,
        ),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let wf_name = r.body["result"]["workflow"].as_str().unwrap().to_string();
    let run_id = r.body["result"]["run_id"].as_str().unwrap().to_string();
    // the log link now opens the run's page
    let r = send(&svc, link("log")).await;
    assert_eq!(r.status, 302);
    let to = r.header("location").unwrap();
    assert!(
        to.starts_with("/frontend/commonRelation?backurl=/workflow_modelview/api/web/dag/")
            && to.ends_with(&format!("/pipeline/{wf_name}")),
        "{to}"
    );
    let all = workflows(&kube);
    assert_eq!(all.len(), 1);
    let wf = &all[0];
    assert_eq!(wf["metadata"]["name"], json!(wf_name));
    let labels = &wf["metadata"]["labels"];
    assert_eq!(labels["pipeline-id"], json!(pid.to_string()));
    assert_eq!(labels["run-id"], json!(run_id));
    assert_eq!(labels["run-username"], json!("admin"));
    assert_eq!(labels["schedule_type"], json!("once"));
    assert_eq!(wf["spec"]["parallelism"], json!(2));
    let dag_tasks = wf["spec"]["templates"][0]["dag"]["tasks"]
        .as_array()
        .unwrap();
    let deps =
        |n: &str| dag_tasks.iter().find(|t| t["name"] == json!(n)).unwrap()["dependencies"].clone();
    assert_eq!(deps("a"), json!([]));
    assert_eq!(deps("b"), json!(["a"]));
    assert_eq!(deps("c"), json!(["a"]));
    let template = |n: &str| {
        wf["spec"]["templates"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["name"] == json!(n))
            .unwrap()
            .clone()
    };
    let ta = template("a");
    assert_eq!(ta["container"]["image"], json!("busybox:1.36"));
    assert_eq!(
        ta["container"]["command"],
        json!(["bash", "-c", "echo prepare e2e-pipe"])
    );
    assert_eq!(ta["container"]["workingDir"], json!("/mnt/admin"));
    assert_eq!(
        ta["container"]["resources"]["requests"],
        json!({"cpu": "1", "memory": "1G"})
    );
    assert_eq!(
        ta["container"]["resources"]["limits"],
        json!({"cpu": "2", "memory": "2G"})
    );
    let env: Vec<String> = ta["container"]["env"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["name"].as_str().unwrap().to_string())
        .collect();
    for k in [
        "KFJ_RUN_ID",
        "KFJ_PIPELINE_ID",
        "KFJ_TASK_NAME",
        "NVIDIA_VISIBLE_DEVICES",
        "K8S_POD_NAME",
    ] {
        assert!(env.iter().any(|e| e == k), "env {k} in {env:?}");
    }
    let tb = template("b");
    assert_eq!(tb["container"]["image"], json!("python:3.9"));
    assert_eq!(
        tb["container"]["command"],
        json!(["python3", "-c", "print('train')"])
    );
    assert_eq!(
        tb["container"]["resources"]["limits"]["nvidia.com/gpu"],
        json!("1")
    );
    assert_eq!(tb["nodeSelector"]["gpu-type"], json!("V100"));
    assert_eq!(template("c")["container"]["image"], json!("alpine:3.20"));

    // the simulated Argo controller runs it to the end
    let phase = kube
        .wait_for(Duration::from_secs(20), |k| {
            let w = k.get(
                "argoproj.io",
                "v1alpha1",
                "workflows",
                Some("pipeline"),
                &wf_name,
            )?;
            let p = w["status"]["phase"].as_str()?.to_string();
            (p == "Succeeded" || p == "Failed").then_some(p)
        })
        .await;
    assert_eq!(phase.as_deref(), Some("Succeeded"));
    let r = send(
        &svc,
        call(
            "GET",
            &format!("/workflow_modelview/api/web/dag/dev/pipeline/{wf_name}"),
            None,
        ),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["result"]["layout"]["status"], json!("Succeeded"));
    assert_eq!(r.body["result"]["layout"]["progress"], json!("3/3"));
    // a → b, a → c: one root node with two children
    let dag = r.body["result"]["dag"].as_array().unwrap();
    assert_eq!(dag.len(), 1, "{dag:?}");
    assert_eq!(dag[0]["children"].as_array().unwrap().len(), 2);

    // a second run replaces the first manual run
    let r = send(
        &svc,
        call(
            "GET",
            &format!("/pipeline_modelview/api/run_pipeline/{pid}"),
            None,
        ),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let second = r.body["result"]["run_id"].as_str().unwrap().to_string();
    let all = workflows(&kube);
    assert_eq!(all.len(), 1, "the previous manual run was replaced");
    assert_eq!(all[0]["metadata"]["labels"]["run-id"], json!(second));

    // stop: everything labelled with the run id goes
    for (group, plural, name) in [
        ("apps", "deployments", "helper"),
        ("", "services", "helper-svc"),
    ] {
        kube.insert(group, "v1", plural, json!({"metadata": {"name": name, "namespace": "pipeline", "labels": {"run-id": second}}}));
    }
    let wf_row = app.scalar(&format!(
        "SELECT CAST(id AS SIGNED) AS n FROM workflow WHERE labels LIKE '%{second}%'"
    ));
    let r = send(
        &svc,
        call(
            "GET",
            &format!("/workflow_modelview/api/stop/{wf_row}"),
            None,
        ),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    // the answer comes once the stop is queued; the worker does it
    eventually("the run's objects to go", &worker, || {
        workflows(&kube).is_empty()
            && kube
                .objects("apps", "v1", "deployments", Some("pipeline"))
                .is_empty()
            && kube
                .objects("", "v1", "services", Some("pipeline"))
                .is_empty()
    })
    .await;
    eventually("the workflow row to read Deleted", &worker, || {
        app.scalar(&format!(
            "SELECT COUNT(*) AS n FROM workflow WHERE id={wf_row} AND status='Deleted'"
        )) == 1
    })
    .await;

    // single task: debug pod, run pod, log, clear: redirects, as the original's buttons
    let r = send(
        &svc,
        call("POST", &format!("/task_modelview/api/debug/{a}"), None),
    )
    .await;
    assert_eq!(r.status, 302, "{}", r.body);
    assert_eq!(
        r.header("location").as_deref(),
        Some("/k8s/web/debug/dev/pipeline/debug-e2e-pipe-a/debug-e2e-pipe-a")
    );
    assert!(
        kube.get("", "v1", "pods", Some("pipeline"), "debug-e2e-pipe-a")
            .is_some()
    );
    let r = send(
        &svc,
        call("POST", &format!("/task_modelview/api/run/{a}"), None),
    )
    .await;
    assert_eq!(r.status, 302, "{}", r.body);
    assert_eq!(
        r.header("location").as_deref(),
        Some("/k8s/web/log/dev/pipeline/run-e2e-pipe-a")
    );
    let pod = kube
        .get("", "v1", "pods", Some("pipeline"), "run-e2e-pipe-a")
        .expect("run pod");
    assert_eq!(
        pod["metadata"]["labels"]["run-id"],
        json!(format!("run-{pid}-{a}"))
    );
    assert_eq!(pod["spec"]["restartPolicy"], json!("Never"));
    kube.set_pod_log(
        "pipeline",
        "run-e2e-pipe-a",
        "hello from the fake kubelet\n",
    );
    let r = send(
        &svc,
        call("GET", &format!("/task_modelview/api/log/{a}"), None),
    )
    .await;
    assert_eq!(r.status, 302);
    let log_page = r.header("location").unwrap();
    assert_eq!(log_page, "/k8s/web/log/dev/pipeline/run-e2e-pipe-a");
    // the page it leads to, and the log as text
    let r = send(&svc, call("GET", &log_page, None)).await;
    assert_eq!(r.status, 200);
    let r = send(
        &svc,
        call("GET", "/k8s/read/log/dev/pipeline/run-e2e-pipe-a", None),
    )
    .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body, json!("hello from the fake kubelet\n"));
    let r = send(
        &svc,
        call("GET", &format!("/task_modelview/api/clear/{a}"), None),
    )
    .await;
    assert_eq!(r.status, 302);
    assert_eq!(
        r.header("location"),
        Some(format!("/pipeline_modelview/api/web/{pid}"))
    );
    assert!(
        kube.get("", "v1", "pods", Some("pipeline"), "run-e2e-pipe-a")
            .is_none()
    );
    assert!(
        kube.get("", "v1", "pods", Some("pipeline"), "debug-e2e-pipe-a")
            .is_none()
    );
    // with no run pod, log goes back to the editor
    let r = send(
        &svc,
        call("GET", &format!("/task_modelview/api/log/{a}"), None),
    )
    .await;
    assert_eq!(r.status, 302);
    assert_eq!(
        r.header("location"),
        Some(format!("/pipeline_modelview/api/web/{pid}"))
    );

    // copy and delete
    let r = send(
        &svc,
        call(
            "GET",
            &format!("/pipeline_modelview/api/copy_pipeline/{pid}"),
            None,
        ),
    )
    .await;
    let copy = r.body["result"]["id"].as_i64().unwrap();
    assert_eq!(
        app.scalar(&format!(
            "SELECT COUNT(*) AS n FROM task WHERE pipeline_id={copy}"
        )),
        3
    );
    let r = send(
        &svc,
        call("DELETE", &format!("/pipeline_modelview/api/{copy}"), None),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        app.scalar(&format!(
            "SELECT COUNT(*) AS n FROM task WHERE pipeline_id={copy}"
        )),
        0
    );
    assert!(testkit::rbac::assert_allowed(&kube, "dashboard") > 0);
    assert!(testkit::rbac::assert_allowed(&kube, "worker") > 0);
    worker.terminate(Duration::from_secs(10));
    testkit::fixtures::cleanup_redis_prefix(&prefix).await;
}

#[actix_web::test]
async fn bad_pipelines_are_400_and_nothing_is_submitted() {
    let Env {
        kube,
        app,
        mut worker,
        prefix,
        _dir,
    } = env().await;
    let svc = test::init_service(dashboard::dashboard_app!(app.state.clone())).await;
    let auth = app.auth("admin");
    let call = |method: &str, uri: &str, body: Option<Value>| {
        let req = match method {
            "POST" => test::TestRequest::post(),
            "PUT" => test::TestRequest::put(),
            _ => test::TestRequest::get(),
        }
        .uri(uri)
        .insert_header(("Authorization", auth.clone()));
        match body {
            Some(b) => req
                .insert_header(("Content-Type", "application/json"))
                .set_payload(b.to_string()),
            None => req,
        }
    };
    let r = send(
        &svc,
        call(
            "POST",
            "/pipeline_modelview/api/",
            Some(json!({"name": "bad-pipe", "describe": "bad"})),
        ),
    )
    .await;
    let pid = r.body["result"]["id"].as_i64().unwrap();
    for name in ["x", "y"] {
        let r = send(&svc, call("POST", "/task_modelview/api/", Some(json!({"pipeline": pid, "job_template": 1, "name": name, "args": "{\"command\": \"true\"}"})))).await;
        assert_eq!(r.status, 200, "{}", r.body);
    }
    // a cycle, and a dependency on a task that does not exist: 400 naming them
    let r = send(&svc, call("PUT", &format!("/pipeline_modelview/api/{pid}"), Some(json!({"dag_json": "{\"x\": {\"upstream\": [\"y\"]}, \"y\": {\"upstream\": [\"x\"]}}"})))).await;
    assert_eq!(r.status, 400);
    assert!(
        r.body["message"]
            .as_str()
            .unwrap()
            .contains("cycle between tasks"),
        "{}",
        r.body
    );
    let r = send(
        &svc,
        call(
            "PUT",
            &format!("/pipeline_modelview/api/{pid}"),
            Some(json!({"dag_json": "{\"x\": {\"upstream\": [\"ghost\"]}}"})),
        ),
    )
    .await;
    assert_eq!(
        (r.status, r.body["message"].as_str().unwrap()),
        (400, "task x depends on missing task ghost")
    );
    // bad strings at save time are refused (422)
    let r = send(
        &svc,
        call(
            "POST",
            "/task_modelview/api/",
            Some(json!({"pipeline": pid, "job_template": 1, "name": "z", "resource_gpu": "abc"})),
        ),
    )
    .await;
    assert_eq!(r.status, 422, "{}", r.body);
    let r = send(&svc, call("POST", "/task_modelview/api/", Some(json!({"pipeline": pid, "job_template": 1, "name": "z", "volume_mount": "nope(weird):/x"})))).await;
    assert_eq!(r.status, 422, "{}", r.body);
    // rows that got bad anyway (an adopted database, direct edits) are caught at run time
    let x = app.scalar(&format!(
        "SELECT CAST(id AS SIGNED) AS n FROM task WHERE pipeline_id={pid} AND name='x'"
    ));
    for (sql, expected) in [
        (
            format!("UPDATE task SET resource_gpu='abc' WHERE id={x}"),
            "task x: invalid gpu",
        ),
        (
            format!("UPDATE task SET resource_gpu='0', volume_mount='oops:/a:b(zzz)' WHERE id={x}"),
            "task x: bad volume mount",
        ),
        (
            format!("UPDATE task SET volume_mount='', job_template_id=NULL WHERE id={x}"),
            "task x has no job template",
        ),
    ] {
        app.exec(&sql);
        let r = send(
            &svc,
            call(
                "GET",
                &format!("/pipeline_modelview/api/run_pipeline/{pid}"),
                None,
            ),
        )
        .await;
        assert_eq!(r.status, 400, "{sql}: {}", r.body);
        assert!(
            r.body["message"].as_str().unwrap().starts_with(expected),
            "{sql}: {}",
            r.body["message"]
        );
    }
    assert!(workflows(&kube).is_empty(), "nothing was submitted");
    testkit::rbac::assert_allowed(&kube, "dashboard");
    worker.terminate(Duration::from_secs(10));
    testkit::fixtures::cleanup_redis_prefix(&prefix).await;
}

/// Issue 10's slow cluster: stopping runs and deleting pipelines only queue work for the
/// worker. While the API server answers slowly and the worker waits on it, the 10 stop and
/// delete requests are answered, list requests too, the dashboard makes no cluster call
/// and holds no database connection; then the worker finishes every stop.
#[actix_web::test]
async fn stops_and_deletes_queue_work_and_hold_nothing_while_the_cluster_is_slow() {
    let Env {
        kube,
        app,
        mut worker,
        prefix,
        _dir,
    } = env().await;
    let svc = test::init_service(dashboard::dashboard_app!(app.state.clone())).await;
    let auth = app.auth("admin");
    let get = |uri: String| {
        test::TestRequest::get()
            .uri(&uri)
            .insert_header(("Authorization", auth.clone()))
    };
    // 8 running workflows, each with its object on the cluster
    let mut rows = Vec::new();
    for i in 0..8 {
        let run_id = format!("slow-run-{i}");
        let name = format!("slow-wf-{i}");
        app.exec(&format!(
            "INSERT INTO workflow (name, namespace, status, labels) VALUES ('{name}', 'pipeline', 'Running', '{{\n    \"run-id\": \"{run_id}\",\n    \"pipeline-id\": \"999{i}\"\n}}')"
        ));
        kube.insert(
            "argoproj.io",
            "v1alpha1",
            "workflows",
            json!({"metadata": {"name": name, "namespace": "pipeline", "labels": {"run-id": run_id, "pipeline-id": format!("999{i}")}}}),
        );
        rows.push(app.scalar(&format!(
            "SELECT CAST(id AS SIGNED) AS n FROM workflow WHERE name = '{name}'"
        )));
    }
    // and 2 pipelines to delete (copies of the demo, so they have tasks)
    let demo = app.scalar("SELECT CAST(MIN(id) AS SIGNED) AS n FROM pipeline");
    for _ in 0..2 {
        let r = send(
            &svc,
            test::TestRequest::post()
                .uri("/pipeline_modelview/api/multi_action/copy")
                .insert_header(("Authorization", auth.clone()))
                .insert_header(("Content-Type", "application/json"))
                .set_payload(json!({"ids": [demo]}).to_string()),
        )
        .await;
        assert_eq!(r.status, 200, "{}", r.body);
    }
    let copies: Vec<i64> = (0..2)
        .map(|k| {
            app.scalar(&format!(
                "SELECT CAST(id AS SIGNED) AS n FROM pipeline WHERE id <> {demo} ORDER BY id LIMIT 1 OFFSET {k}"
            ))
        })
        .collect();

    kube.set_latency(Duration::from_secs(2));
    let dashboard_calls_before = kube.requests_by("dashboard").len();
    let mut requests: Vec<test::TestRequest> = rows
        .iter()
        .map(|id| get(format!("/workflow_modelview/api/stop/{id}")))
        .collect();
    for id in &copies {
        requests.push(
            test::TestRequest::delete()
                .uri(&format!("/pipeline_modelview/api/{id}"))
                .insert_header(("Authorization", auth.clone())),
        );
    }
    assert_eq!(requests.len(), 10);
    let answers = futures::future::join_all(requests.into_iter().map(|r| send(&svc, r))).await;
    for a in &answers {
        assert_eq!(a.status, 200, "{}", a.body);
    }
    // lists are answered while the worker waits on the cluster
    for uri in [
        "/workflow_modelview/api/",
        "/pipeline_modelview/api/",
        "/project_modelview/api/",
    ] {
        assert_eq!(send(&svc, get(uri.to_string())).await.status, 200);
    }
    // the dashboard made no cluster call and holds no connection
    assert_eq!(kube.requests_by("dashboard").len(), dashboard_calls_before);
    let pool = app.state.pool.state();
    assert_eq!(
        pool.idle_connections, pool.connections,
        "a database connection is still held: {pool:?}"
    );
    for id in &copies {
        assert_eq!(
            app.scalar(&format!(
                "SELECT COUNT(*) AS n FROM pipeline WHERE id = {id}"
            )),
            0
        );
    }
    // the worker stops every run, however slow the cluster
    eventually("every run to be stopped", &worker, || {
        workflows(&kube)
            .iter()
            .all(|w| !w["metadata"]["name"].as_str().unwrap_or("").starts_with("slow-wf-"))
            && app.scalar(
                "SELECT COUNT(*) AS n FROM workflow WHERE name LIKE 'slow-wf-%' AND status <> 'Deleted'",
            ) == 0
    })
    .await;
    kube.set_latency(Duration::ZERO);
    testkit::rbac::assert_allowed(&kube, "worker");
    worker.terminate(Duration::from_secs(10));
    testkit::fixtures::cleanup_redis_prefix(&prefix).await;
}

/// Without the queue, a stop or a delete that would leave cluster work is refused with a
/// clear 503 and nothing is written.
#[actix_web::test]
async fn without_the_queue_stops_and_deletes_are_refused_and_nothing_is_written() {
    let app = TestApp::with_config(&[("REDIS_URL", "redis://127.0.0.1:1/0")]);
    let svc = test::init_service(dashboard::dashboard_app!(app.state.clone())).await;
    let auth = app.auth("admin");
    app.exec(
        "INSERT INTO workflow (name, namespace, status, labels) VALUES ('q-wf', 'pipeline', 'Running', '{\n    \"run-id\": \"q-run\"\n}')",
    );
    let wf = app.scalar("SELECT CAST(id AS SIGNED) AS n FROM workflow WHERE name = 'q-wf'");
    let pipeline = app.scalar("SELECT CAST(MIN(id) AS SIGNED) AS n FROM pipeline");
    let before = app.scalar("SELECT COUNT(*) AS n FROM task");
    for req in [
        test::TestRequest::get().uri(&format!("/workflow_modelview/api/stop/{wf}")),
        test::TestRequest::delete().uri(&format!("/workflow_modelview/api/{wf}")),
        test::TestRequest::delete().uri(&format!("/pipeline_modelview/api/{pipeline}")),
    ] {
        let r = send(&svc, req.insert_header(("Authorization", auth.clone()))).await;
        assert_eq!(r.status, 503, "{}", r.body);
        assert!(
            r.body["message"]
                .as_str()
                .unwrap()
                .contains("work queue (Redis) cannot be reached"),
            "{}",
            r.body
        );
    }
    assert_eq!(
        app.scalar("SELECT COUNT(*) AS n FROM workflow WHERE name = 'q-wf' AND status = 'Running'"),
        1
    );
    assert_eq!(
        app.scalar(&format!(
            "SELECT COUNT(*) AS n FROM pipeline WHERE id = {pipeline}"
        )),
        1
    );
    assert_eq!(app.scalar("SELECT COUNT(*) AS n FROM task"), before);
}

/// `muldelete` of pipelines deletes as the generic delete does: only what the caller may
/// delete (the others are reported), with tasks and favourites; the runs of each deleted
/// pipeline are queued for the worker.
#[actix_web::test]
async fn muldelete_deletes_like_delete_and_reports_the_rest() {
    let prefix = testkit::fixtures::prefix();
    let app = TestApp::with_config(&[("QUEUE_PREFIX", &prefix)]);
    let bob = app.add_user("bob");
    // bob works in the demo's project
    app.exec(&format!(
        "INSERT INTO project_user (project_id, user_id, role, created_on, changed_on) SELECT project_id, {bob}, 'dev', NOW(), NOW() FROM pipeline ORDER BY id LIMIT 1"
    ));
    app.state.ctx_cache.clear();
    let svc = test::init_service(dashboard::dashboard_app!(app.state.clone())).await;
    let demo = app.scalar("SELECT CAST(MIN(id) AS SIGNED) AS n FROM pipeline");
    // admin's copy, and bob's own pipeline (a copy made by bob)
    let copy = |user: String| {
        test::TestRequest::post()
            .uri("/pipeline_modelview/api/multi_action/copy")
            .insert_header(("Authorization", user))
            .insert_header(("Content-Type", "application/json"))
            .set_payload(json!({"ids": [demo]}).to_string())
    };
    assert_eq!(send(&svc, copy(app.auth("admin"))).await.status, 200);
    let admins = app.scalar(&format!(
        "SELECT CAST(MAX(id) AS SIGNED) AS n FROM pipeline WHERE id <> {demo}"
    ));
    assert_eq!(send(&svc, copy(app.auth("admin"))).await.status, 200);
    app.exec(&format!(
        "UPDATE pipeline SET created_by_fk = {bob}, changed_by_fk = {bob} WHERE id = (SELECT m FROM (SELECT MAX(id) AS m FROM pipeline) x)"
    ));
    let bobs = app.scalar(&format!(
        "SELECT CAST(id AS SIGNED) AS n FROM pipeline WHERE created_by_fk = {bob}"
    ));
    app.exec(&format!(
        "INSERT INTO favorite (model_name, row_id, user_id) VALUES ('pipeline', '{bobs}', {bob}), ('pipeline', '{admins}', {bob})"
    ));
    let r = send(
        &svc,
        test::TestRequest::post()
            .uri("/pipeline_modelview/api/multi_action/muldelete")
            .insert_header(("Authorization", app.auth("bob")))
            .insert_header(("Content-Type", "application/json"))
            .set_payload(json!({"ids": [bobs, admins]}).to_string()),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let outcome: Value = serde_json::from_str(r.body["message"].as_str().unwrap()).unwrap();
    assert_eq!(outcome, json!({"success": [bobs], "fail": [admins]}));
    assert_eq!(
        app.scalar(&format!(
            "SELECT COUNT(*) AS n FROM pipeline WHERE id = {bobs}"
        )),
        0
    );
    assert_eq!(
        app.scalar(&format!(
            "SELECT COUNT(*) AS n FROM pipeline WHERE id = {admins}"
        )),
        1
    );
    // favourites of the deleted pipeline go with it; the other's stay
    assert_eq!(
        app.scalar(&format!(
            "SELECT COUNT(*) AS n FROM favorite WHERE model_name = 'pipeline' AND row_id = '{bobs}'"
        )),
        0
    );
    assert_eq!(
        app.scalar(&format!(
            "SELECT COUNT(*) AS n FROM favorite WHERE model_name = 'pipeline' AND row_id = '{admins}'"
        )),
        1
    );
    testkit::fixtures::cleanup_redis_prefix(&prefix).await;
}
