//! Test fixtures of the scheduler: a database with a user, a project, a template and
//! cron pipelines, a scheduler context on a private Redis prefix, and a recording
//! notification sender.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use app_core::Config;
use app_core::notify::{Notification, Sender};
use chrono::NaiveDateTime;
use diesel::RunQueryDsl;
use schedule::context::Ctx;
use testkit::TestDb;

pub fn t(s: &str) -> NaiveDateTime {
    app_models::time::parse_time(s).unwrap()
}

pub fn config(db_url: &str, extra: &[(&str, &str)]) -> Config {
    let mut vars: HashMap<String, String> = HashMap::new();
    vars.insert("DATABASE_URL".into(), db_url.into());
    vars.insert("SECRET_KEY".into(), "test".into());
    for (k, v) in extra {
        vars.insert(k.to_string(), v.to_string());
    }
    Config::from_lookup(&move |k| vars.get(k).cloned()).unwrap()
}

/// Remembers every notification.
#[derive(Default)]
pub struct Recorder(pub Mutex<Vec<Notification>>);

impl Sender for Recorder {
    fn send<'a>(
        &'a self,
        n: &'a Notification,
    ) -> futures::future::BoxFuture<'a, Result<(), app_core::notify::NotifyError>> {
        self.0.lock().unwrap().push(n.clone());
        Box::pin(async { Ok(()) })
    }
}

pub fn exec(db: &TestDb, sql: &str) {
    let mut c = db.conn();
    diesel::sql_query(sql)
        .execute(&mut c)
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
}

pub fn scalar(db: &TestDb, sql: &str) -> i64 {
    #[derive(diesel::QueryableByName)]
    struct N {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }
    let mut c = db.conn();
    let r: Vec<N> = diesel::sql_query(sql)
        .load(&mut c)
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
    r[0].n
}

/// A user, an org project and a custom-image template with its image.
pub fn base_rows(db: &TestDb) {
    exec(
        db,
        "INSERT INTO ab_user (id, first_name, last_name, username, email, active) VALUES (1, 'admin', '', 'admin', 'a@x.org', 1)",
    );
    exec(
        db,
        "INSERT INTO project (id, name, `describe`, type, expand) VALUES (1, 'public', 'p', 'org', '{\"cluster\": \"dev\"}')",
    );
    exec(
        db,
        "INSERT INTO images (id, name, `describe`) VALUES (1, 'busybox:1.36', 'b')",
    );
    exec(
        db,
        "INSERT INTO job_template (id, name, version, images_id, `describe`, args) VALUES (1, '自定义镜像', 'Release', 1, 'custom', '{}')",
    );
}

/// A crontab pipeline with one task; returns its id.
pub fn cron_pipeline(db: &TestDb, name: &str, cron: &str, start: &str, extra_set: &str) -> i64 {
    exec(
        db,
        &format!(
            "INSERT INTO pipeline (name, `describe`, project_id, dag_json, namespace, schedule_type, cron_time, cronjob_start_time, image_pull_policy, \
             parallelism, max_active_runs, expired_limit, depends_on_past, parameter, expand, created_by_fk, changed_by_fk) \
             VALUES ('{name}', 'd', 1, '{{}}', 'pipeline', 'crontab', '{cron}', '{start}', 'Always', 1, 3, 0, 0, '{{}}', '[]', 1, 1)"
        ),
    );
    let id = scalar(
        db,
        &format!("SELECT CAST(id AS SIGNED) AS n FROM pipeline WHERE name='{name}'"),
    );
    exec(
        db,
        &format!(
            "INSERT INTO task (name, label, job_template_id, pipeline_id, namespace, args, volume_mount, resource_memory, resource_cpu, resource_gpu, timeout, retry) \
             VALUES ('step', 'step', 1, {id}, 'pipeline', '{{\"command\": \"echo {{{{execution_date}}}}\"}}', '', '1G', '1', '0', 0, 0)"
        ),
    );
    if !extra_set.is_empty() {
        exec(
            db,
            &format!("UPDATE pipeline SET {extra_set} WHERE id={id}"),
        );
    }
    id
}

pub async fn ctx(db: &TestDb, extra: &[(&str, &str)]) -> (Arc<Ctx>, Arc<Recorder>, String) {
    let cfg = config(&db.url, extra);
    let redis = app_core::redis_conn::wait_for_redis("redis://127.0.0.1:6379/0", None)
        .await
        .unwrap();
    let prefix = testkit::fixtures::prefix();
    let mut ctx = Ctx::new(
        Arc::new(cfg),
        db.pool(),
        redis,
        &prefix,
        app_core::metrics::Metrics::new(),
    );
    let rec = Arc::new(Recorder::default());
    ctx.sender = rec.clone();
    (Arc::new(ctx), rec, prefix)
}

/// The run ids of the submit jobs in the queue (in push order is not guaranteed).
pub async fn queued_submits(prefix: &str) -> Vec<i64> {
    let client = redis::Client::open("redis://127.0.0.1:6379/0").unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    let key = format!("{prefix}{}:data", app_core::jobs::SUBMIT_RUN_QUEUE);
    let all: HashMap<String, Vec<u8>> = redis::cmd("HGETALL")
        .arg(&key)
        .query_async(&mut conn)
        .await
        .unwrap();
    all.values()
        .map(|raw| {
            let v: serde_json::Value = serde_json::from_slice(raw).unwrap();
            v["run"].as_i64().unwrap()
        })
        .collect()
}

/// Deletes every key of a test prefix.
pub async fn cleanup(prefix: &str) {
    testkit::fixtures::cleanup_redis_prefix(prefix).await;
}
