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

struct Env {
    kube: FakeKube,
    app: TestApp,
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
    let app = TestApp::with_config(&[("KUBECONFIG", path.to_str().unwrap())]);
    Env {
        kube,
        app,
        _dir: dir,
    }
}

fn workflows(kube: &FakeKube) -> Vec<Value> {
    kube.objects("argoproj.io", "v1alpha1", "workflows", Some("pipeline"))
}

#[actix_web::test]
async fn build_run_inspect_and_stop_a_pipeline() {
    let Env { kube, app, _dir } = env().await;
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
    assert_eq!(r.body["result"]["phase"], json!("Succeeded"));

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
    assert!(workflows(&kube).is_empty());
    assert!(
        kube.objects("apps", "v1", "deployments", Some("pipeline"))
            .is_empty()
    );
    assert!(
        kube.objects("", "v1", "services", Some("pipeline"))
            .is_empty()
    );
    assert_eq!(
        app.scalar(&format!(
            "SELECT COUNT(*) AS n FROM workflow WHERE id={wf_row} AND status='Deleted'"
        )),
        1
    );

    // single task: debug pod, run pod, log
    let r = send(
        &svc,
        call("POST", &format!("/task_modelview/api/debug/{a}"), None),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["result"]["pod"], json!("debug-e2e-pipe-a"));
    assert!(
        kube.get("", "v1", "pods", Some("pipeline"), "debug-e2e-pipe-a")
            .is_some()
    );
    let r = send(
        &svc,
        call("POST", &format!("/task_modelview/api/run/{a}"), None),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
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
    assert_eq!(
        r.body["result"]["log"],
        json!("hello from the fake kubelet\n")
    );
    let r = send(
        &svc,
        call("GET", &format!("/task_modelview/api/clear/{a}"), None),
    )
    .await;
    assert_eq!(r.status, 200);
    assert!(
        kube.get("", "v1", "pods", Some("pipeline"), "run-e2e-pipe-a")
            .is_none()
    );
    assert!(
        kube.get("", "v1", "pods", Some("pipeline"), "debug-e2e-pipe-a")
            .is_none()
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
}

#[actix_web::test]
async fn bad_pipelines_are_400_and_nothing_is_submitted() {
    let Env { kube, app, _dir } = env().await;
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
}
