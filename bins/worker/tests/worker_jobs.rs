//! The worker's jobs through the real apalis runtime (in process), on MariaDB, the shared
//! Redis (a unique queue prefix per test) and the fake cluster.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use apalis::prelude::TaskSink;
use app_core::jobs::{Cleanup, StopRun, SubmitRun};
use common::*;
use serde_json::{Value, json};
use testkit::TestDb;
use testkit::fake_kube::{FakeKube, FakeKubeOptions};

const WAIT: Duration = Duration::from_secs(30);

fn workflows(kube: &FakeKube) -> Vec<Value> {
    kube.objects("argoproj.io", "v1alpha1", "workflows", None)
}

struct Env {
    db: TestDb,
    kube: FakeKube,
    _dir: tempfile::TempDir,
    kubeconfig: String,
    prefix: String,
}

async fn env() -> Env {
    let db = TestDb::new();
    let kube = FakeKube::start(FakeKubeOptions::default().seed(true)).await;
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = dir.path().join("kubeconfig").to_string_lossy().to_string();
    // the worker's own identity: its requests are checked against its RBAC
    kube.write_kubeconfig_for(&kubeconfig, "worker").unwrap();
    Env {
        db,
        kube,
        _dir: dir,
        kubeconfig,
        prefix: prefix(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn submit_creates_exactly_one_workflow_however_often_it_is_delivered() {
    let e = env().await;
    let hook = Webhook::start().await;
    let config = config(
        &e.db.url,
        REDIS_URL,
        &e.kubeconfig,
        &[("NOTIFY_WEBHOOK_URL", hook.url.as_str())],
    );
    let mut conn = e.db.conn();
    let s = seed(&mut conn);
    let pid = add_pipeline(&mut conn, &s, "daily", &["prepare", "train"], "bob");
    let (row, run_id, name) = frozen_run(&mut conn, &config, pid, "2026-11-30 01:00:00");
    let worker = TestWorker::start(config, &e.prefix, &[]).await;
    let mut q = queues(REDIS_URL, &e.prefix).await;
    let job = SubmitRun {
        run: row,
        pipeline: pid,
    };
    q.push_submit(job.clone()).await.unwrap();
    // the scheduler's re-push: the idempotency key makes it a no-op
    q.push_submit(job.clone()).await.unwrap();
    let argo_id = wait_for(WAIT, || {
        Some(run_row(&mut conn, row).1).filter(|a| !a.is_empty())
    })
    .await
    .expect("pipeline_argo_id is recorded");
    assert_eq!(argo_id, name);
    let wfs = workflows(&e.kube);
    assert_eq!(wfs.len(), 1, "one workflow");
    assert_eq!(wfs[0]["metadata"]["labels"]["run-id"], run_id.as_str());
    assert_eq!(wfs[0]["metadata"]["labels"]["schedule_type"], "crontab");
    assert_eq!(
        run_row(&mut conn, row).0,
        "created",
        "the watcher moves it on"
    );

    // a redelivery without the key (as after a lost ack) finds the workflow and stops
    q.submit.push(job.clone()).await.unwrap();
    wait_for(WAIT, || {
        (worker.metric(
            "worker_jobs_total",
            &[("queue", "submit"), ("outcome", "skipped")],
        ) >= 1.0)
            .then_some(())
    })
    .await
    .expect("the redelivered job is skipped");

    // crashed between creating and recording: the next delivery adopts the workflow
    diesel::RunQueryDsl::execute(
        diesel::sql_query(format!(
            "UPDATE run SET pipeline_argo_id = '' WHERE id = {row}"
        )),
        &mut conn,
    )
    .unwrap();
    q.submit.push(job).await.unwrap();
    wait_for(WAIT, || {
        Some(run_row(&mut conn, row).1).filter(|a| !a.is_empty())
    })
    .await
    .expect("recorded again");
    assert_eq!(workflows(&e.kube).len(), 1, "still one workflow");
    // the row is written before the handler returns, the metric after: wait for it
    let done = || {
        worker.metric(
            "worker_jobs_total",
            &[("queue", "submit"), ("outcome", "done")],
        )
    };
    wait_for(WAIT, || (done() >= 2.0).then_some(())).await;
    assert_eq!(done(), 2.0);

    // "start run" went to the creator and the alert user, once
    let starts = wait_for(WAIT, || {
        let m = hook.messages();
        (!m.is_empty()).then_some(m)
    })
    .await
    .expect("a start notification");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(hook.messages().len(), 1, "{starts:?}");
    assert_eq!(starts[0]["receivers"], json!(["alice", "bob"]));
    assert!(
        starts[0]["message"]
            .as_str()
            .unwrap()
            .ends_with("start run")
    );
    worker.stop().await;
    assert!(testkit::rbac::assert_allowed(&e.kube, "worker") > 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn permanent_failures_mark_the_run_failed_and_are_not_retried() {
    let e = env().await;
    let config = config(&e.db.url, REDIS_URL, &e.kubeconfig, &[]);
    let mut conn = e.db.conn();
    let s = seed(&mut conn);
    let pid = add_pipeline(&mut conn, &s, "daily", &["train"], "");
    let empty = add_pipeline(&mut conn, &s, "empty", &[], "");
    // a workflow without a namespace: a bad manifest
    let bad = json!({"apiVersion": "argoproj.io/v1alpha1", "kind": "Workflow",
        "metadata": {"name": "daily-x1", "labels": {"run-id": "r1"}}, "spec": {}});
    let bad_row = insert_run(
        &mut conn,
        pid,
        "2026-11-30 01:00:00",
        "created",
        &bad.to_string(),
        "r1",
    );
    // no frozen file and a pipeline that does not compile
    let empty_row = insert_run(&mut conn, empty, "2026-11-30 01:00:00", "created", "", "r2");
    let worker = TestWorker::start(config, &e.prefix, &[]).await;
    let mut q = queues(REDIS_URL, &e.prefix).await;
    for (row, pipeline) in [(bad_row, pid), (empty_row, empty)] {
        q.push_submit(SubmitRun { run: row, pipeline })
            .await
            .unwrap();
    }
    for row in [bad_row, empty_row] {
        wait_for(WAIT, || {
            (run_row(&mut conn, row).0 == "Failed").then_some(())
        })
        .await
        .unwrap_or_else(|| panic!("run {row} is marked Failed"));
    }
    assert!(run_row(&mut conn, bad_row).2.contains("bad manifest"));
    assert!(run_row(&mut conn, empty_row).2.contains("no tasks"));
    // give a retry (there must be none) the time to happen
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(
        worker.metric(
            "worker_jobs_total",
            &[("queue", "submit"), ("outcome", "failed")]
        ),
        2.0
    );
    assert_eq!(
        worker.metric("worker_job_retries_total", &[("queue", "submit")]),
        0.0
    );
    let mut redis = apalis_redis::connect(REDIS_URL).await.unwrap();
    let dead: i64 = redis::cmd("SCARD")
        .arg(format!("{}cube-studio:submit-run:dead", e.prefix))
        .query_async(&mut redis)
        .await
        .unwrap();
    assert_eq!(dead, 2, "both jobs gave up at once");
    assert!(workflows(&e.kube).is_empty());
    worker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn transient_failures_are_retried_until_the_cluster_answers() {
    let db = TestDb::new();
    let dir = tempfile::tempdir().unwrap();
    // a kubeconfig for a cluster that is not there yet
    let port = testkit::process::free_port();
    let addr: std::net::SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let kubeconfig = dir.path().join("kubeconfig");
    std::fs::write(
        &kubeconfig,
        format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster:\n    server: http://127.0.0.1:{port}\n\
             contexts:\n- name: c\n  context:\n    cluster: c\n    user: u\ncurrent-context: c\nusers:\n- name: u\n  user:\n    token: t\n"
        ),
    )
    .unwrap();
    let config = config(&db.url, REDIS_URL, &kubeconfig.to_string_lossy(), &[]);
    let mut conn = db.conn();
    let s = seed(&mut conn);
    let pid = add_pipeline(&mut conn, &s, "daily", &["train"], "");
    let (row, _, name) = frozen_run(&mut conn, &config, pid, "2026-11-30 01:00:00");
    let prefix = prefix();
    let worker = TestWorker::start(config, &prefix, &[("WORKER_RETRY_ATTEMPTS", "1000")]).await;
    let mut q = queues(REDIS_URL, &prefix).await;
    q.push_submit(SubmitRun {
        run: row,
        pipeline: pid,
    })
    .await
    .unwrap();
    wait_for(WAIT, || {
        (worker.metric("worker_job_retries_total", &[("queue", "submit")]) >= 2.0).then_some(())
    })
    .await
    .expect("the unreachable cluster is retried");
    assert_eq!(run_row(&mut conn, row).0, "created", "not failed");
    let kube = FakeKube::start(FakeKubeOptions::default().listen(addr)).await;
    let argo_id = wait_for(WAIT, || {
        Some(run_row(&mut conn, row).1).filter(|a| !a.is_empty())
    })
    .await
    .expect("submitted once the cluster answers");
    assert_eq!(argo_id, name);
    assert_eq!(workflows(&kube).len(), 1);
    worker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn stop_run_deletes_the_run_objects_and_marks_the_rows_deleted() {
    let e = env().await;
    let config = config(&e.db.url, REDIS_URL, &e.kubeconfig, &[]);
    let mut conn = e.db.conn();
    let s = seed(&mut conn);
    let pid = add_pipeline(&mut conn, &s, "daily", &["train"], "");
    let (row, run_id, name) = frozen_run(&mut conn, &config, pid, "2026-11-30 01:00:00");
    let worker = TestWorker::start(config, &e.prefix, &[]).await;
    let mut q = queues(REDIS_URL, &e.prefix).await;
    q.push_submit(SubmitRun {
        run: row,
        pipeline: pid,
    })
    .await
    .unwrap();
    wait_for(WAIT, || {
        Some(run_row(&mut conn, row).1).filter(|a| !a.is_empty())
    })
    .await
    .expect("submitted");
    // a workload of the run, a workload of another run, and the watcher's row
    for (n, rid) in [("svc-a", run_id.as_str()), ("svc-b", "other")] {
        e.kube.insert(
            "apps",
            "v1",
            "deployments",
            json!({"metadata": {"name": n, "namespace": "pipeline", "labels": {"run-id": rid}}}),
        );
    }
    diesel::RunQueryDsl::execute(
        diesel::sql_query(format!(
            "INSERT INTO workflow (name, namespace, status, labels) VALUES ('{name}', 'pipeline', 'Running', '{{\n    \"run-id\": \"{run_id}\"\n}}')"
        )),
        &mut conn,
    )
    .unwrap();
    q.push_stop(StopRun {
        cluster: "dev".into(),
        namespace: "pipeline".into(),
        run_id: run_id.clone(),
        run_row: Some(row),
        reason: "stopped by alice".into(),
    })
    .await
    .unwrap();
    wait_for(WAIT, || {
        (run_row(&mut conn, row).0 == "Deleted").then_some(())
    })
    .await
    .expect("run marked Deleted");
    wait_for(WAIT, || {
        (worker.metric(
            "worker_jobs_total",
            &[("queue", "stop"), ("outcome", "done")],
        ) >= 1.0)
            .then_some(())
    })
    .await
    .expect("stop job done");
    assert!(workflows(&e.kube).is_empty(), "workflow deleted");
    let deployments = e
        .kube
        .objects("apps", "v1", "deployments", Some("pipeline"));
    assert_eq!(deployments.len(), 1);
    assert_eq!(deployments[0]["metadata"]["name"], "svc-b");
    let status: Option<String> = {
        use diesel::prelude::*;
        app_models::schema::workflow::table
            .filter(app_models::schema::workflow::name.eq(&name))
            .select(app_models::schema::workflow::status)
            .first(&mut conn)
            .unwrap()
    };
    assert_eq!(status.as_deref(), Some("Deleted"));
    assert_eq!(run_row(&mut conn, row).2, "stopped by alice");

    // clean-ups: a missing object is fine, an existing pod goes
    e.kube.insert(
        "",
        "v1",
        "pods",
        json!({"metadata": {"name": "debug-1", "namespace": "jupyter"}}),
    );
    q.push_cleanup(Cleanup::DeleteObject {
        cluster: "dev".into(),
        group: "kubeflow.org".into(),
        version: "v1".into(),
        kind: "TFJob".into(),
        plural: "tfjobs".into(),
        namespace: "pipeline".into(),
        name: "gone".into(),
    })
    .await
    .unwrap();
    q.push_cleanup(Cleanup::DeletePod {
        cluster: "dev".into(),
        namespace: "jupyter".into(),
        name: "debug-1".into(),
    })
    .await
    .unwrap();
    wait_for(WAIT, || {
        e.kube
            .get("", "v1", "pods", Some("jupyter"), "debug-1")
            .is_none()
            .then_some(())
    })
    .await
    .expect("pod deleted");
    wait_for(WAIT, || {
        let done = worker.metric(
            "worker_jobs_total",
            &[("queue", "cleanup"), ("outcome", "done")],
        );
        let skipped = worker.metric(
            "worker_jobs_total",
            &[("queue", "cleanup"), ("outcome", "skipped")],
        );
        (done + skipped >= 2.0).then_some(())
    })
    .await
    .expect("both clean-ups handled");
    worker.stop().await;
    assert!(testkit::rbac::assert_allowed(&e.kube, "worker") > 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_long_job_keeps_its_lease_and_is_not_delivered_twice() {
    let e = env().await;
    let config = config(&e.db.url, REDIS_URL, &e.kubeconfig, &[]);
    let mut conn = e.db.conn();
    let s = seed(&mut conn);
    let pid = add_pipeline(&mut conn, &s, "daily", &["train"], "");
    let (row, _, _) = frozen_run(&mut conn, &config, pid, "2026-11-30 01:00:00");
    // two replicas; the job outlives the orphan timeout (3 s × 3) by far
    let slow = [("WORKER_TEST_DELAY_MS", "13000")];
    let a = TestWorker::start(config.clone(), &e.prefix, &slow).await;
    let b = TestWorker::start(config, &e.prefix, &slow).await;
    let mut q = queues(REDIS_URL, &e.prefix).await;
    q.push_submit(SubmitRun {
        run: row,
        pipeline: pid,
    })
    .await
    .unwrap();
    wait_for(Duration::from_secs(40), || {
        Some(run_row(&mut conn, row).1).filter(|a| !a.is_empty())
    })
    .await
    .expect("done");
    tokio::time::sleep(Duration::from_secs(2)).await;
    let handled = |w: &TestWorker| {
        ["done", "skipped", "requeued", "failed"]
            .iter()
            .map(|o| w.metric("worker_jobs_total", &[("queue", "submit"), ("outcome", o)]))
            .sum::<f64>()
    };
    assert_eq!(handled(&a) + handled(&b), 1.0, "one delivery");
    assert_eq!(
        a.metric("worker_jobs_in_flight", &[("queue", "submit")])
            + b.metric("worker_jobs_in_flight", &[("queue", "submit")]),
        0.0
    );
    assert_eq!(workflows(&e.kube).len(), 1);
    a.stop().await;
    b.stop().await;
}
