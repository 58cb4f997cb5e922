//! Killing `schedule` mid-tick and restarting it loses and duplicates nothing: the real
//! binary is SIGKILLed between claiming launches and pushing them; the restarted one
//! pushes each claimed run exactly once (and plans no run twice).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use common::*;
use testkit::TestDb;
use testkit::process::{Process, free_port};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_scheduler_loses_and_duplicates_nothing() {
    let db = TestDb::new();
    base_rows(&db);
    // ten pipelines with backfill: every one has runs due at once. They fire at the
    // three past full hours only (next fire: tomorrow), so the count holds whatever the
    // minute the test runs at and however long it takes.
    let now = chrono::Utc::now()
        .with_timezone(&chrono_tz::Asia::Shanghai)
        .naive_local();
    use chrono::Timelike;
    let hours: Vec<String> = (1..=3)
        .rev()
        .map(|back| ((now.hour() + 24 - back) % 24).to_string())
        .collect();
    let cron = format!("0 {} * * *", hours.join(","));
    let start = (now - chrono::Duration::hours(4))
        .format("%Y-%m-%d %H:%M:%S")
        .to_string();
    for i in 0..10 {
        cron_pipeline(&db, &format!("k{i}"), &cron, &start, "max_active_runs = 10");
    }
    let prefix = testkit::fixtures::prefix();
    let env = |pause: &str, port: u16| -> Vec<(String, String)> {
        vec![
            ("DATABASE_URL".into(), db.url.clone()),
            ("REDIS_URL".into(), "redis://127.0.0.1:6379/0".into()),
            ("SECRET_KEY".into(), "test".into()),
            ("QUEUE_PREFIX".into(), prefix.clone()),
            ("SCHEDULE_ADDR".into(), format!("127.0.0.1:{port}")),
            ("SCHEDULE_MAKE_TIMERUN_CONFIG".into(), "* * * * * *".into()),
            ("SCHEDULE_TICK_MS".into(), "200".into()),
            ("SCHEDULE_RECLAIM_SECS".into(), "2".into()),
            ("SCHEDULE_TEST_PAUSE_AFTER_CLAIM_MS".into(), pause.into()),
            ("RUST_LOG".into(), "info".into()),
        ]
    };
    let spawn = |vars: &Vec<(String, String)>| {
        let v: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        Process::spawn("schedule", &v)
    };
    // first run: claims, then pauses before pushing — killed right there
    let mut first = spawn(&env("60000", free_port()));
    assert!(
        first.wait_for_log("test pause after claiming", Duration::from_secs(30)),
        "{}",
        first.logs()
    );
    first.kill();
    let claimed = scalar(&db, "SELECT COUNT(*) AS n FROM run WHERE status='created'");
    assert!(claimed > 0);
    assert!(
        queued_submits(&prefix).await.is_empty(),
        "killed before any push"
    );
    // the restarted scheduler finds the stale claims and pushes them once
    let mut second = spawn(&env("0", free_port()));
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let queued = queued_submits(&prefix).await;
        let created = scalar(&db, "SELECT COUNT(*) AS n FROM run WHERE status='created'");
        if queued.len() as i64 == created && created >= claimed {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "pushed {} of {created}: {}",
            queued.len(),
            second.logs()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // a while later nothing changed: no duplicate pushes, no duplicate runs
    tokio::time::sleep(Duration::from_secs(3)).await;
    second.terminate(Duration::from_secs(10));
    let queued = queued_submits(&prefix).await;
    let mut unique = queued.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(queued.len(), unique.len(), "a run was pushed twice");
    assert_eq!(
        queued.len() as i64,
        scalar(&db, "SELECT COUNT(*) AS n FROM run WHERE status='created'")
    );
    assert_eq!(
        scalar(
            &db,
            "SELECT COUNT(*) AS n FROM (SELECT pipeline_id, execution_date, COUNT(*) c FROM run GROUP BY 1, 2 HAVING c > 1) d"
        ),
        0
    );
    assert_eq!(
        scalar(&db, "SELECT COUNT(*) AS n FROM run"),
        30,
        "3 missed hours × 10 pipelines, each once"
    );
    cleanup(&prefix).await;
}
