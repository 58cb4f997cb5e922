//! Cron pipelines with a controllable clock: backfill, depends_on_past, expired_limit,
//! max_active_runs, window resets, bad crons, two replicas at once.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use schedule::timerun::tick;
use testkit::TestDb;

#[tokio::test]
async fn backfill_plans_each_missed_fire_time_once() {
    let db = TestDb::new();
    base_rows(&db);
    let p = cron_pipeline(
        &db,
        "hourly",
        "0 * * * *",
        "2026-11-29 00:00:00",
        "max_active_runs = 100",
    );
    let (ctx, _, prefix) = ctx(&db, &[]).await;
    let r = tick(&ctx, t("2026-11-29 10:30:00")).await.unwrap();
    assert_eq!(r.planned, 10, "01:00 .. 10:00");
    assert_eq!(
        scalar(
            &db,
            &format!("SELECT COUNT(*) AS n FROM run WHERE pipeline_id={p}")
        ),
        10
    );
    assert_eq!(
        scalar(
            &db,
            "SELECT COUNT(*) AS n FROM run WHERE execution_date='2026-11-29 01:00:00' AND status='created'"
        ),
        1
    );
    // every run carries its frozen workflow, labelled as a cron run with its run id
    assert_eq!(
        scalar(
            &db,
            "SELECT COUNT(*) AS n FROM run WHERE JSON_VALUE(pipeline_file, '$.metadata.labels.schedule_type') = 'crontab' \
             AND JSON_VALUE(pipeline_file, '$.metadata.labels.\"run-id\"') = run_id"
        ),
        10
    );
    // stored compact (the run view indents it)
    assert_eq!(
        scalar(
            &db,
            "SELECT COUNT(*) AS n FROM run WHERE pipeline_file LIKE '%\n%'"
        ),
        0
    );
    assert_eq!(
        scalar(
            &db,
            "SELECT COUNT(*) AS n FROM run WHERE pipeline_file LIKE '%echo 2026-11-29 03:00:00%'"
        ),
        1,
        "execution_date rendered"
    );
    // a second tick at the same time plans nothing new
    assert_eq!(
        tick(&ctx, t("2026-11-29 10:30:00")).await.unwrap().planned,
        0
    );
    // an hour later, one more
    assert_eq!(
        tick(&ctx, t("2026-11-29 11:00:30")).await.unwrap().planned,
        1
    );
    // launches went to the queue, each once
    let mut queued = queued_submits(&prefix).await;
    queued.sort();
    let before = queued.len();
    queued.dedup();
    assert_eq!(before, queued.len());
    assert_eq!(
        queued.len() as i64,
        scalar(&db, "SELECT COUNT(*) AS n FROM run WHERE status='created'")
    );
    cleanup(&prefix).await;
}

#[tokio::test]
async fn depends_on_past_launches_strictly_in_order_after_success() {
    let db = TestDb::new();
    base_rows(&db);
    let p = cron_pipeline(
        &db,
        "chain",
        "0 * * * *",
        "2026-11-29 00:00:00",
        "depends_on_past = 1",
    );
    let (ctx, _, prefix) = ctx(&db, &[]).await;
    let status_of = |h: u32| {
        scalar(
            &db,
            &format!(
                "SELECT COUNT(*) AS n FROM run WHERE pipeline_id={p} AND execution_date='2026-11-29 {h:02}:00:00' AND status='created'"
            ),
        )
    };
    let r = tick(&ctx, t("2026-11-29 03:30:00")).await.unwrap();
    assert_eq!((r.planned, r.launched), (3, 1));
    assert_eq!(status_of(1), 1);
    // still running (as the watcher writes it): nothing else
    exec(
        &db,
        "UPDATE run SET status='Running' WHERE execution_date='2026-11-29 01:00:00'",
    );
    assert_eq!(
        tick(&ctx, t("2026-11-29 03:31:00")).await.unwrap().launched,
        0
    );
    // failed: the chain holds
    exec(
        &db,
        "UPDATE run SET status='Failed' WHERE execution_date='2026-11-29 01:00:00'",
    );
    assert_eq!(
        tick(&ctx, t("2026-11-29 03:32:00")).await.unwrap().launched,
        0
    );
    // succeeded (the watcher's final status, not 'created'): the next one, and only it
    exec(
        &db,
        "UPDATE run SET status='Succeeded' WHERE execution_date='2026-11-29 01:00:00'",
    );
    assert_eq!(
        tick(&ctx, t("2026-11-29 03:33:00")).await.unwrap().launched,
        1
    );
    assert_eq!(status_of(2), 1);
    assert_eq!(status_of(3), 0);
    exec(
        &db,
        "UPDATE run SET status='Succeeded' WHERE execution_date='2026-11-29 02:00:00'",
    );
    assert_eq!(
        tick(&ctx, t("2026-11-29 03:34:00")).await.unwrap().launched,
        1
    );
    assert_eq!(status_of(3), 1);
    cleanup(&prefix).await;
}

#[tokio::test]
async fn expired_limit_and_max_active_runs_hold_at_every_step() {
    let db = TestDb::new();
    base_rows(&db);
    let keep1 = cron_pipeline(
        &db,
        "keep-one",
        "0 * * * *",
        "2026-11-29 00:00:00",
        "expired_limit = 1",
    );
    let two = cron_pipeline(
        &db,
        "two-at-once",
        "0 * * * *",
        "2026-11-29 00:00:00",
        "max_active_runs = 2",
    );
    let (ctx, _, prefix) = ctx(&db, &[]).await;
    let active = |p: i64| {
        scalar(
            &db,
            &format!(
                "SELECT COUNT(*) AS n FROM run WHERE pipeline_id={p} AND status IN ('created','Pending','Running','')"
            ),
        )
    };
    tick(&ctx, t("2026-11-29 05:10:00")).await.unwrap();
    // expired_limit 1: the newest launched, the four older dropped
    assert_eq!(
        scalar(
            &db,
            &format!(
                "SELECT COUNT(*) AS n FROM run WHERE pipeline_id={keep1} AND status='created' AND execution_date='2026-11-29 05:00:00'"
            )
        ),
        1
    );
    assert_eq!(
        scalar(
            &db,
            &format!(
                "SELECT COUNT(*) AS n FROM run WHERE pipeline_id={keep1} AND status='Deleted'"
            )
        ),
        4
    );
    // max_active_runs 2
    assert_eq!(active(two), 2);
    for step in 0..6 {
        // the oldest active one finishes, a tick passes, the limits still hold
        exec(
            &db,
            &format!(
                "UPDATE run SET status='Succeeded' WHERE pipeline_id={two} AND status='created' ORDER BY execution_date LIMIT 1"
            ),
        );
        exec(
            &db,
            &format!(
                "UPDATE run SET status='Running' WHERE pipeline_id={keep1} AND status='created'"
            ),
        );
        tick(&ctx, t(&format!("2026-11-29 {:02}:10:00", 6 + step)))
            .await
            .unwrap();
        assert!(active(two) <= 2, "step {step}");
        assert!(active(keep1) <= 1, "step {step}: expired_limit keeps one");
    }
    // the older running run of keep-one was stopped when a newer one came
    assert!(
        scalar(
            &db,
            &format!(
                "SELECT COUNT(*) AS n FROM run WHERE pipeline_id={keep1} AND message LIKE 'stopped:%'"
            )
        ) >= 1
    );
    cleanup(&prefix).await;
}

#[tokio::test]
async fn a_new_window_and_a_bad_cron() {
    let db = TestDb::new();
    base_rows(&db);
    let good = cron_pipeline(&db, "good", "0 * * * *", "2026-11-29 00:00:00", "");
    let bad = cron_pipeline(
        &db,
        "bad",
        "61 * * * *",
        "2026-11-29 00:00:00",
        "alert_user = 'ops'",
    );
    let (ctx, rec, prefix) = ctx(&db, &[]).await;
    let r = tick(&ctx, t("2026-11-29 02:30:00")).await.unwrap();
    assert_eq!((r.bad_cron, r.planned), (1, 2));
    assert_eq!(
        scalar(
            &db,
            &format!("SELECT COUNT(*) AS n FROM run WHERE pipeline_id={bad}")
        ),
        0
    );
    tick(&ctx, t("2026-11-29 02:31:00")).await.unwrap();
    let sent = rec.0.lock().unwrap().clone();
    assert_eq!(sent.len(), 1, "reported once: {sent:?}");
    assert!(sent[0].receivers.contains(&"ops".to_string()));
    // a changed cron restarts the window (the dashboard resets cronjob_start_time): no backfill before it
    exec(
        &db,
        &format!(
            "UPDATE pipeline SET cron_time='30 * * * *', cronjob_start_time='2026-11-29 05:00:00' WHERE id={good}"
        ),
    );
    tick(&ctx, t("2026-11-29 06:40:00")).await.unwrap();
    assert_eq!(
        scalar(
            &db,
            &format!(
                "SELECT COUNT(*) AS n FROM run WHERE pipeline_id={good} AND execution_date > '2026-11-29 02:30:00'"
            )
        ),
        2,
        "05:30 and 06:30 only"
    );
    // a suspended pipeline is skipped, however the parameter spells it
    for parameter in [
        r#"{"status": "offline"}"#,
        r#"{"suspend": true}"#,
        r#"{"status": "off\\u006cine"}"#,
    ] {
        exec(
            &db,
            &format!("UPDATE pipeline SET parameter='{parameter}' WHERE id={good}"),
        );
        assert_eq!(
            tick(&ctx, t("2026-11-29 09:40:00")).await.unwrap().planned,
            0,
            "{parameter}"
        );
    }
    // and planned again once resumed
    exec(
        &db,
        &format!("UPDATE pipeline SET parameter='{{}}' WHERE id={good}"),
    );
    assert_eq!(
        tick(&ctx, t("2026-11-29 09:40:00")).await.unwrap().planned,
        3,
        "07:30 .. 09:30"
    );
    cleanup(&prefix).await;
}

#[tokio::test]
async fn two_schedulers_at_once_equal_one() {
    let db = TestDb::new();
    base_rows(&db);
    let mut ids = Vec::new();
    for i in 0..8 {
        let extra = match i % 4 {
            0 => "max_active_runs = 1",
            1 => "expired_limit = 2",
            2 => "depends_on_past = 1",
            _ => "max_active_runs = 3",
        };
        ids.push(cron_pipeline(
            &db,
            &format!("p{i}"),
            "*/10 * * * *",
            "2026-11-29 00:00:00",
            extra,
        ));
    }
    let (a, _, prefix) = ctx(&db, &[]).await;
    // the second replica shares the database and the queues
    let cfg = config(&db.url, &[]);
    let redis = app_core::redis_conn::wait_for_redis("redis://127.0.0.1:6379/0", None)
        .await
        .unwrap();
    let b = std::sync::Arc::new(schedule::context::Ctx::new(
        std::sync::Arc::new(cfg),
        db.pool(),
        redis,
        &prefix,
        app_core::metrics::Metrics::new(),
    ));
    for step in 0..40 {
        let now = t("2026-11-29 00:00:00") + chrono::Duration::minutes(7 * step);
        let (ra, rb) = tokio::join!(tick(&a, now), tick(&b, now));
        ra.unwrap();
        rb.unwrap();
        // some runs finish between ticks, as the watcher would record
        exec(
            &db,
            "UPDATE run SET status='Succeeded' WHERE status='created' AND MOD(id, 2) = 0",
        );
    }
    assert_eq!(
        scalar(
            &db,
            "SELECT COUNT(*) AS n FROM (SELECT pipeline_id, execution_date, COUNT(*) c FROM run GROUP BY pipeline_id, execution_date HAVING c > 1) d"
        ),
        0
    );
    let queued = queued_submits(&prefix).await;
    let mut unique = queued.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(queued.len(), unique.len(), "no run was pushed twice");
    let launched = scalar(
        &db,
        "SELECT COUNT(*) AS n FROM run WHERE version_id LIKE 'claim:%'",
    );
    assert_eq!(
        launched as usize,
        queued.len(),
        "every claim pushed exactly once"
    );
    assert!(launched > 20);
    cleanup(&prefix).await;
}

/// The latest run of each pipeline is kept between ticks; rows deleted below the
/// highest id, and rows that commit below the highest id already read, are caught when
/// the runs are counted.
#[tokio::test]
async fn deleted_and_late_runs_are_caught_by_the_count() {
    let db = TestDb::new();
    base_rows(&db);
    let p = cron_pipeline(
        &db,
        "hourly",
        "0 * * * *",
        "2026-11-29 00:00:00",
        "max_active_runs = 100",
    );
    // a second pipeline whose runs take the highest ids
    cron_pipeline(
        &db,
        "other",
        "0 * * * *",
        "2026-11-29 00:00:00",
        "max_active_runs = 100",
    );
    let (ctx, _, prefix) = ctx(&db, &[]).await;
    let r = tick(&ctx, t("2026-11-29 03:30:00")).await.unwrap();
    assert_eq!(r.planned, 6, "01:00 .. 03:00, twice");
    let latest = format!("pipeline_id={p} AND execution_date='2026-11-29 03:00:00'");
    assert!(
        scalar(&db, &format!("SELECT id AS n FROM run WHERE {latest}"))
            < scalar(&db, "SELECT MAX(id) AS n FROM run"),
        "not the highest id"
    );
    // the next tick reads the new rows (by id)
    assert_eq!(
        tick(&ctx, t("2026-11-29 03:30:30")).await.unwrap().planned,
        0
    );
    // the latest run is deleted: between counts the planner still sees it ...
    exec(&db, &format!("DELETE FROM run WHERE {latest}"));
    let r = tick(&ctx, t("2026-11-29 03:31:00")).await.unwrap();
    assert_eq!(r.planned, 0, "not counted yet");
    // ... and once the runs are counted, the fire time is planned again
    ctx.plan.lock().unwrap().count_runs_every = std::time::Duration::ZERO;
    let r = tick(&ctx, t("2026-11-29 03:32:00")).await.unwrap();
    assert_eq!(r.planned, 1, "03:00 again");
    // a row that commits below the highest id already read (a second replica's
    // insert): without the count, the planner would plan 04:00, older than it
    let low = scalar(
        &db,
        &format!("SELECT MIN(id) AS n FROM run WHERE pipeline_id={p}"),
    );
    exec(&db, &format!("DELETE FROM run WHERE id={low}"));
    tick(&ctx, t("2026-11-29 03:33:00")).await.unwrap();
    exec(
        &db,
        &format!(
            "INSERT INTO run (id, pipeline_id, pipeline_file, pipeline_argo_id, version_id, run_id, message, created_on, execution_date, status) \
             VALUES ({low}, {p}, '', '', '', 'late', '', '2026-11-29 03:33:00', '2026-11-29 05:00:00', 'Succeeded')"
        ),
    );
    let r = tick(&ctx, t("2026-11-29 05:30:00")).await.unwrap();
    assert_eq!(r.planned, 2, "04:00 and 05:00 of the other pipeline only");
    assert_eq!(
        scalar(
            &db,
            &format!(
                "SELECT COUNT(*) AS n FROM run WHERE pipeline_id={p} AND execution_date='2026-11-29 04:00:00'"
            )
        ),
        0,
        "05:00 is the latest: 04:00 is not planned"
    );
    cleanup(&prefix).await;
}
