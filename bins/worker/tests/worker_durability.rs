//! Jobs survive the worker and Redis: the real `worker` binary killed with SIGKILL in the
//! middle of a job, and a Redis (our own, with append-only persistence) restarted while
//! jobs are queued.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use app_core::jobs::SubmitRun;
use common::*;
use testkit::TestDb;
use testkit::fake_kube::{FakeKube, FakeKubeOptions};
use testkit::process::{Process, RedisServer};

fn workflows(kube: &FakeKube) -> usize {
    kube.objects("argoproj.io", "v1alpha1", "workflows", None)
        .len()
}

fn spawn_worker(env: &[(String, String)], extra: &[(&str, &str)]) -> Process {
    let mut vars: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    vars.extend_from_slice(extra);
    Process::spawn("worker", &vars)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_job_in_flight_survives_sigkill_and_completes_once() {
    let db = TestDb::new();
    let kube = FakeKube::start(FakeKubeOptions::default()).await;
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = dir.path().join("kubeconfig").to_string_lossy().to_string();
    kube.write_kubeconfig(&kubeconfig).unwrap();
    let hook = Webhook::start().await;
    let config = config(&db.url, REDIS_URL, &kubeconfig, &[]);
    let mut conn = db.conn();
    let s = seed(&mut conn);
    let pid = add_pipeline(&mut conn, &s, "daily", &["train"], "");
    let (row, _, name) = frozen_run(&mut conn, &config, pid, "2026-11-30 01:00:00");
    let prefix = prefix();
    let mut env = process_env(&db.url, REDIS_URL, &kubeconfig, &prefix);
    env.push(("NOTIFY_WEBHOOK_URL".into(), hook.url.clone()));

    let mut first = spawn_worker(&env, &[("WORKER_TEST_DELAY_MS", "60000")]);
    let mut q = queues(REDIS_URL, &prefix).await;
    q.push_submit(SubmitRun {
        run: row,
        pipeline: pid,
    })
    .await
    .unwrap();
    assert!(
        first.wait_for_log("pausing before recording", Duration::from_secs(60)),
        "the job reached the middle:\n{}",
        first.logs()
    );
    first.kill();
    assert_eq!(
        workflows(&kube),
        1,
        "the workflow was created before the kill"
    );
    assert_eq!(run_row(&mut conn, row).1, "", "but not recorded");

    // a new process (new worker name) takes the orphaned job over after the missed
    // heartbeats (3 s × 3) and finishes it
    let mut second = spawn_worker(&env, &[]);
    let argo_id = wait_for(Duration::from_secs(60), || {
        Some(run_row(&mut conn, row).1).filter(|a| !a.is_empty())
    })
    .await
    .unwrap_or_else(|| panic!("the job completes after the restart:\n{}", second.logs()));
    assert_eq!(argo_id, name);
    assert_eq!(workflows(&kube), 1, "exactly one workflow");
    // the creator hears about it once (no alert users here: the creator only)
    wait_for(Duration::from_secs(10), || {
        (!hook.messages().is_empty()).then_some(())
    })
    .await
    .expect("start notification");
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(hook.messages().len(), 1);
    assert!(second.logs().contains("job done"));

    // SIGTERM: a clean stop
    let status = second.terminate(Duration::from_secs(30));
    assert!(
        status.is_some_and(|s| s.success()),
        "graceful exit:\n{}",
        second.logs()
    );
    assert!(second.logs().contains("worker stopped"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sigterm_finishes_or_returns_the_jobs_in_flight() {
    let db = TestDb::new();
    let kube = FakeKube::start(FakeKubeOptions::default()).await;
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = dir.path().join("kubeconfig").to_string_lossy().to_string();
    kube.write_kubeconfig(&kubeconfig).unwrap();
    let config = config(&db.url, REDIS_URL, &kubeconfig, &[]);
    let mut conn = db.conn();
    let s = seed(&mut conn);
    let pid = add_pipeline(&mut conn, &s, "daily", &["train"], "");
    let (short_job, _, _) = frozen_run(&mut conn, &config, pid, "2026-11-30 01:00:00");
    let (long_job, _, _) = frozen_run(&mut conn, &config, pid, "2026-11-30 02:00:00");
    let prefix = prefix();
    let env = process_env(&db.url, REDIS_URL, &kubeconfig, &prefix);
    let mut q = queues(REDIS_URL, &prefix).await;

    // a job shorter than the grace period is finished before the exit
    let mut w = spawn_worker(&env, &[("WORKER_TEST_DELAY_MS", "2000")]);
    q.push_submit(SubmitRun {
        run: short_job,
        pipeline: pid,
    })
    .await
    .unwrap();
    assert!(w.wait_for_log("pausing before recording", Duration::from_secs(60)));
    let status = w.terminate(Duration::from_secs(30));
    assert!(status.is_some_and(|s| s.success()), "{}", w.logs());
    assert!(
        !run_row(&mut conn, short_job).1.is_empty(),
        "finished before exiting:\n{}",
        w.logs()
    );

    // a job longer than the grace period goes back to the queue at once (no need to
    // wait for missed heartbeats) and the next worker finishes it
    let mut w = spawn_worker(
        &env,
        &[
            ("WORKER_TEST_DELAY_MS", "60000"),
            ("WORKER_SHUTDOWN_GRACE_SECS", "1"),
        ],
    );
    q.push_submit(SubmitRun {
        run: long_job,
        pipeline: pid,
    })
    .await
    .unwrap();
    assert!(w.wait_for_log("pausing before recording", Duration::from_secs(60)));
    assert!(w.terminate(Duration::from_secs(30)).is_some());
    assert!(w.logs().contains("returned to the queue"), "{}", w.logs());
    let mut redis = apalis_redis::connect(REDIS_URL).await.unwrap();
    let queued: i64 = redis::cmd("LLEN")
        .arg(format!("{prefix}cube-studio:submit-run:active"))
        .query_async(&mut redis)
        .await
        .unwrap();
    assert_eq!(queued, 1, "the job waits in the queue");
    let mut w = spawn_worker(&env, &[]);
    wait_for(Duration::from_secs(8), || {
        Some(run_row(&mut conn, long_job).1).filter(|a| !a.is_empty())
    })
    .await
    .unwrap_or_else(|| panic!("taken over before any orphan timeout:\n{}", w.logs()));
    assert_eq!(workflows(&kube), 2);
    // the ops server of the process
    let addr = env
        .iter()
        .find(|(k, _)| k == "WORKER_ADDR")
        .map(|(_, v)| v.clone())
        .unwrap();
    let (code, _) = http_get(&addr, "/health").unwrap();
    assert_eq!(code, 200);
    let (_, metrics) = wait_for(Duration::from_secs(10), || {
        http_get(&addr, "/metrics")
            .ok()
            .filter(|(_, m)| m.contains("worker_queue_depth"))
    })
    .await
    .expect("queue depths are published");
    assert!(
        metrics.contains("worker_jobs_total{queue=\"submit\",outcome=\"done\"} 1"),
        "{metrics}"
    );
    assert!(metrics.contains("worker_jobs_in_flight{queue=\"submit\"} 0"));
    assert!(w.terminate(Duration::from_secs(30)).is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn queued_jobs_survive_a_redis_restart() {
    let db = TestDb::new();
    let kube = FakeKube::start(FakeKubeOptions::default()).await;
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = dir.path().join("kubeconfig").to_string_lossy().to_string();
    kube.write_kubeconfig(&kubeconfig).unwrap();
    let data = dir.path().join("redis");
    std::fs::create_dir_all(&data).unwrap();
    let mut redis = RedisServer::start(&data);
    let config = config(&db.url, &redis.url(), &kubeconfig, &[]);
    let mut conn = db.conn();
    let s = seed(&mut conn);
    let pid = add_pipeline(&mut conn, &s, "daily", &["train"], "");
    let runs: Vec<i32> = (0..8)
        .map(|i| frozen_run(&mut conn, &config, pid, &format!("2026-11-30 0{i}:00:00")).0)
        .collect();
    let prefix = prefix();

    // phase 1: queued while no worker runs, then Redis restarts
    {
        let mut q = queues(&redis.url(), &prefix).await;
        for &row in &runs[..5] {
            q.push_submit(SubmitRun {
                run: row,
                pipeline: pid,
            })
            .await
            .unwrap();
        }
    }
    redis.shutdown();
    redis.start_again();
    let env = process_env(&db.url, &redis.url(), &kubeconfig, &prefix);
    let mut worker = spawn_worker(&env, &[]);
    let recorded = |conn: &mut diesel::mysql::MysqlConnection, rows: &[i32]| {
        rows.iter().all(|r| !run_row(conn, *r).1.is_empty())
    };
    wait_for(Duration::from_secs(60), || {
        recorded(&mut conn, &runs[..5]).then_some(())
    })
    .await
    .unwrap_or_else(|| panic!("every queued job ran:\n{}", worker.logs()));
    assert_eq!(workflows(&kube), 5);

    // phase 2: Redis restarts under a running worker, which reconnects; /health
    // reports it down meanwhile and up again afterwards
    let addr = env
        .iter()
        .find(|(k, _)| k == "WORKER_ADDR")
        .map(|(_, v)| v.clone())
        .unwrap();
    redis.shutdown();
    let down = wait_for(Duration::from_secs(20), || {
        http_get(&addr, "/health").ok().filter(|(c, _)| *c == 503)
    })
    .await
    .unwrap_or_else(|| panic!("/health follows Redis:\n{}", worker.logs()));
    assert!(down.1.contains("redis"), "{}", down.1);
    assert!(!down.1.contains("mysql"), "{}", down.1);
    redis.start_again();
    wait_for(Duration::from_secs(40), || {
        http_get(&addr, "/health").ok().filter(|(c, _)| *c == 200)
    })
    .await
    .unwrap_or_else(|| panic!("/health is 200 again:\n{}", worker.logs()));
    {
        let mut q = queues(&redis.url(), &prefix).await;
        for &row in &runs[5..] {
            q.push_submit(SubmitRun {
                run: row,
                pipeline: pid,
            })
            .await
            .unwrap();
        }
    }
    wait_for(Duration::from_secs(90), || {
        recorded(&mut conn, &runs).then_some(())
    })
    .await
    .unwrap_or_else(|| panic!("the worker recovered:\n{}", worker.logs()));
    assert_eq!(workflows(&kube), 8);
    assert!(worker.terminate(Duration::from_secs(30)).is_some());
}
