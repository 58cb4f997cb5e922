//! The whole product as processes — `dashboard`, `schedule`, `worker`, `watch` — on
//! MariaDB, Redis and the simulated cluster, driven through the dashboard's API only:
//! the seeded demo pipeline runs to `Succeeded`; a cron pipeline's missed runs are
//! backfilled, submitted, run and mirrored, with one notification per alerted status.
//! (The binaries must be built: `cargo build --workspace`, as `install/local/test.sh` does.)
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use testkit::TestDb;
use testkit::fake_kube::{FakeKube, FakeKubeOptions};
use testkit::process::{Process, binary, free_port};
use testkit::webhook::Webhook;

struct Api {
    base: String,
    client: reqwest::Client,
}

impl Api {
    async fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let mut req = self.client.request(method, format!("{}{path}", self.base));
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.unwrap();
        let status = resp.status();
        let text = resp.text().await.unwrap();
        assert!(status.is_success(), "{path}: {status} {text}");
        serde_json::from_str(&text).unwrap_or(Value::String(text))
    }
    async fn get(&self, path: &str) -> Value {
        self.call(reqwest::Method::GET, path, None).await
    }
}

async fn eventually<F, Fut>(what: &str, timeout: Duration, mut f: F) -> Value
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<Value>>,
{
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = f().await {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

fn borrow(vars: &[(String, String)]) -> Vec<(&str, &str)> {
    vars.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect()
}

fn list(path: &str, fd: Value) -> String {
    format!("{path}?form_data={}", urlencoding::encode(&fd.to_string()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_stack_runs_the_demo_and_backfills_cron_runs() {
    let db = TestDb::empty();
    let kube = FakeKube::start(
        FakeKubeOptions::simulated()
            .step_interval(Duration::from_millis(100))
            .pod_run_duration(Duration::from_millis(300)),
    )
    .await;
    let dir = tempfile::tempdir().unwrap();
    // each binary its own identity, so its requests can be checked against its RBAC
    let kubeconfig = |binary: &str| {
        let path = dir.path().join(format!("kubeconfig-{binary}"));
        kube.write_kubeconfig_for(&path, binary).unwrap();
        path.to_string_lossy().to_string()
    };
    let hook = Webhook::start().await;
    let prefix = testkit::fixtures::prefix();
    let port = free_port();
    let env: Vec<(String, String)> = vec![
        ("DATABASE_URL".into(), db.url.clone()),
        ("REDIS_URL".into(), "redis://127.0.0.1:6379/0".into()),
        ("SECRET_KEY".into(), "stack-test".into()),
        ("QUEUE_PREFIX".into(), prefix.clone()),
        ("NOTIFY_WEBHOOK_URL".into(), hook.url.clone()),
        ("PASSWORD_HASH_ITERATIONS".into(), "1000".into()),
        ("ADMIN_PASSWORD".into(), "admin".into()),
        ("DASHBOARD_ADDR".into(), format!("127.0.0.1:{port}")),
        ("SCHEDULE_ADDR".into(), format!("127.0.0.1:{}", free_port())),
        ("WORKER_ADDR".into(), format!("127.0.0.1:{}", free_port())),
        ("WATCH_ADDR".into(), format!("127.0.0.1:{}", free_port())),
        (
            "SCHEDULE_MAKE_TIMERUN_CONFIG".into(),
            "*/2 * * * * *".into(),
        ),
        ("SCHEDULE_TICK_MS".into(), "200".into()),
        ("CRON_LOOK_AHEAD_SECS".into(), "0".into()),
        ("RUST_LOG".into(), "info".into()),
    ];
    let vars_of = |binary: &str| -> Vec<(String, String)> {
        let mut vars = env.clone();
        vars.push(("KUBECONFIG".into(), kubeconfig(binary)));
        vars
    };
    // migrate and seed with the real CLI
    let init_vars = vars_of("dashboard");
    let mut init = Process::spawn_path(&binary("dashboard"), &["init"], &borrow(&init_vars));
    assert!(
        init.wait_timeout(Duration::from_secs(60))
            .map(|s| s.success())
            .unwrap_or(false),
        "{}",
        init.logs()
    );
    let binaries = ["dashboard", "schedule", "worker", "watch"];
    let mut procs: Vec<Process> = binaries
        .iter()
        .map(|b| Process::spawn(b, &borrow(&vars_of(b))))
        .collect();

    let client = reqwest::Client::builder()
        .cookie_store(true)
        .build()
        .unwrap();
    let api = Api {
        base: format!("http://127.0.0.1:{port}"),
        client,
    };
    eventually("the dashboard", Duration::from_secs(30), || async {
        api.client
            .get(format!("{}/health", api.base))
            .send()
            .await
            .ok()
            .filter(|r| r.status().is_success())
            .map(|_| json!(true))
    })
    .await;
    let login = api
        .client
        .post(format!("{}/login/", api.base))
        .json(&json!({"username": "admin", "password": "admin"}))
        .send()
        .await
        .unwrap();
    assert!(login.status().is_success());

    // the demo pipeline runs to the end and its workflow shows Succeeded
    let demos = api.get("/pipeline_modelview/api/demo/list/").await;
    let demo = demos["result"][0]["id"].as_i64().unwrap();
    let run = api
        .get(&format!("/pipeline_modelview/api/run_pipeline/{demo}"))
        .await;
    let wf = run["result"]["workflow"].as_str().unwrap().to_string();
    eventually(
        "the demo workflow to succeed",
        Duration::from_secs(60),
        || {
            let path = list(
                "/workflow_modelview/api/",
                json!({"filters": [{"col": "name", "opr": "eq", "value": wf}]}),
            );
            let api = &api;
            async move {
                let r = api.get(&path).await;
                (r["result"]["data"][0]["status"] == json!("Succeeded")).then_some(r)
            }
        },
    )
    .await;

    // a cron pipeline with three missed hourly runs
    let copy = api
        .get(&format!("/pipeline_modelview/api/copy_pipeline/{demo}"))
        .await;
    let pid = copy["result"]["id"].as_i64().unwrap();
    let now = chrono::Utc::now()
        .with_timezone(&chrono_tz::Asia::Shanghai)
        .naive_local();
    let start = format!(
        "{}:00:01",
        (now - chrono::Duration::hours(3)).format("%Y-%m-%d %H")
    );
    // only the three hours since the start fire (next: tomorrow), so no fourth run
    // appears if the test crosses a full hour
    let cron_time = {
        use chrono::Timelike;
        let hours: Vec<String> = (0..3)
            .rev()
            .map(|back| ((now.hour() + 24 - back) % 24).to_string())
            .collect();
        format!("0 {} * * *", hours.join(","))
    };
    api.call(
        reqwest::Method::PUT,
        &format!("/pipeline_modelview/api/{pid}"),
        Some(json!({"schedule_type": "crontab", "cron_time": cron_time, "cronjob_start_time": start,
                    "alert_status": "Running,Succeeded,Failed", "alert_user": "ops", "max_active_runs": 3})),
    )
    .await;
    let runs = eventually("three backfilled runs to succeed", Duration::from_secs(120), || {
        // the list shows `status_url` (as the original); the columns read here are asked for
        let path = list("/runhistory_modelview/api/", json!({"filters": [{"col": "pipeline", "opr": "rel_o_m", "value": pid}], "page_size": 100,
                                                              "columns": ["status", "pipeline_argo_id"]}));
        let api = &api;
        async move {
            let r = api.get(&path).await;
            let data = r["result"]["data"].as_array().cloned().unwrap_or_default();
            (data.len() == 3 && data.iter().all(|d| d["status"] == json!("Succeeded"))).then_some(r)
        }
    })
    .await;
    assert_eq!(runs["result"]["count"], json!(3));
    // each run's workflow is mirrored as Succeeded
    let names: Vec<String> = runs["result"]["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["pipeline_argo_id"].as_str().unwrap().to_string())
        .collect();
    for name in &names {
        let r = api
            .get(&list(
                "/workflow_modelview/api/",
                json!({"filters": [{"col": "name", "opr": "eq", "value": name}]}),
            ))
            .await;
        assert_eq!(
            r["result"]["data"][0]["status"],
            json!("Succeeded"),
            "{name}"
        );
    }
    assert_eq!(
        kube.objects("argoproj.io", "v1alpha1", "workflows", Some("pipeline"))
            .len(),
        4,
        "the demo run and three cron runs, each once"
    );
    // one notification per alerted status per workflow, to the alert user
    tokio::time::sleep(Duration::from_secs(2)).await;
    for name in &names {
        for status in ["Running", "Succeeded"] {
            let n = hook
                .messages()
                .iter()
                .filter(|m| {
                    let text = m["message"].as_str().unwrap_or("");
                    text.contains(name.as_str())
                        && text.contains(&format!("status: {status}"))
                        && m["receivers"]
                            .as_array()
                            .map(|r| r.contains(&json!("ops")))
                            .unwrap_or(false)
                })
                .count();
            assert_eq!(n, 1, "{name} {status}: {:?}", hook.messages());
        }
    }
    for p in procs.iter_mut() {
        let code = p.terminate(Duration::from_secs(20));
        assert!(
            code.map(|c| c.success()).unwrap_or(false),
            "{} did not stop cleanly: {}",
            p.log_path().display(),
            p.logs()
        );
    }
    // what each binary asked the cluster for is what install/kubernetes grants it
    for b in binaries {
        let checked = testkit::rbac::assert_allowed(&kube, b);
        if b != "schedule" {
            assert!(checked > 0, "{b} made no request with its own identity");
        }
    }
    testkit::fixtures::cleanup_redis_prefix(&prefix).await;
}
