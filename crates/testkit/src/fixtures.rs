//! Row and configuration fixtures shared by the worker, watch and schedule tests: a user,
//! an org project, an image and a template (`seed`), chained crontab pipelines, cron runs
//! frozen as the scheduler freezes them, and small polling/HTTP helpers. Cluster objects
//! for the fake API server (nodes, pods holding resources, metrics, events) are in
//! [`cluster`].
#![allow(clippy::unwrap_used, clippy::expect_used)]

pub mod cluster;

use std::collections::HashMap;
use std::time::Duration;

use app_core::Config;
use app_core::argo::CompileConfig;
use app_core::k8s::cluster::ClusterRegistry;
use app_models::forms::{Audit, NewPipeline, NewProject, NewTask, NewUser};
use app_models::queries::last_insert_id;
use app_models::schema::*;
use diesel::mysql::MysqlConnection;
use diesel::prelude::*;
use serde_json::Value;

pub const REDIS_URL: &str = "redis://127.0.0.1:6379/0";

/// A unique Redis prefix for one test.
pub fn prefix() -> String {
    format!("test-{}:", uuid::Uuid::new_v4().simple())
}

/// Deletes every key under a test's Redis prefix (on the shared test Redis).
pub async fn cleanup_redis_prefix(prefix: &str) {
    let client = redis::Client::open(REDIS_URL).unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg(format!("{prefix}*"))
        .query_async(&mut conn)
        .await
        .unwrap();
    if !keys.is_empty() {
        let _: i64 = redis::cmd("DEL")
            .arg(keys)
            .query_async(&mut conn)
            .await
            .unwrap();
    }
}

/// The configuration of a test: its database, a cluster `dev` with `kubeconfig`.
pub fn config(db_url: &str, redis_url: &str, kubeconfig: &str, extra: &[(&str, &str)]) -> Config {
    let mut vars: HashMap<String, String> = HashMap::new();
    vars.insert("DATABASE_URL".into(), db_url.into());
    vars.insert("REDIS_URL".into(), redis_url.into());
    vars.insert("SECRET_KEY".into(), "test".into());
    vars.insert("ENVIRONMENT".into(), "dev".into());
    vars.insert(
        "CLUSTERS".into(),
        serde_json::json!({"dev": {"NAME": "dev", "KUBECONFIG": kubeconfig}}).to_string(),
    );
    for (k, v) in extra {
        vars.insert(k.to_string(), v.to_string());
    }
    Config::from_lookup(&move |k| vars.get(k).cloned()).unwrap()
}

/// Rows every pipeline needs.
pub struct Seed {
    pub user_id: i32,
    pub project_id: i32,
    pub template_id: i32,
}

pub fn seed(conn: &mut MysqlConnection) -> Seed {
    let audit = Audit::new(None);
    diesel::insert_into(ab_user::table)
        .values(NewUser::new(
            "alice",
            "alice@example.com",
            "x".into(),
            audit,
        ))
        .execute(conn)
        .unwrap();
    let user_id = last_insert_id(conn).unwrap();
    let audit = Audit::new(Some(user_id));
    diesel::insert_into(project::table)
        .values(NewProject::new(
            "public",
            "public org",
            "org",
            r#"{"cluster": "dev", "org": "public"}"#,
            audit,
        ))
        .execute(conn)
        .unwrap();
    let project_id = last_insert_id(conn).unwrap();
    diesel::sql_query(
        "INSERT INTO images (name, `describe`, created_on, changed_on) VALUES ('ubuntu:22.04', 'ubuntu', NOW(), NOW())",
    )
    .execute(conn)
    .unwrap();
    let image_id = last_insert_id(conn).unwrap();
    diesel::sql_query(format!(
        "INSERT INTO job_template (project_id, name, version, images_id, `describe`, args, env, created_on, changed_on) \
         VALUES ({project_id}, 'shell', 'Release', {image_id}, 'shell', '{{}}', '', NOW(), NOW())"
    ))
    .execute(conn)
    .unwrap();
    let template_id = last_insert_id(conn).unwrap();
    Seed {
        user_id,
        project_id,
        template_id,
    }
}

/// A crontab pipeline with tasks chained in order (no tasks: an empty pipeline).
pub fn add_pipeline(
    conn: &mut MysqlConnection,
    seed: &Seed,
    name: &str,
    tasks: &[&str],
    alert_user: &str,
) -> i32 {
    let audit = Audit::new(Some(seed.user_id));
    let mut dag = serde_json::Map::new();
    for (i, t) in tasks.iter().enumerate() {
        let up: Vec<&str> = if i == 0 { vec![] } else { vec![tasks[i - 1]] };
        dag.insert(t.to_string(), serde_json::json!({"upstream": up}));
    }
    let mut p = NewPipeline::new(name, &format!("{name} pipeline"), seed.project_id, audit);
    p.dag_json = Value::Object(dag).to_string();
    p.schedule_type = "crontab".into();
    p.cron_time = Some("*/5 * * * *".into());
    p.alert_user = Some(alert_user.into());
    diesel::insert_into(pipeline::table)
        .values(p)
        .execute(conn)
        .unwrap();
    let pipeline_id = last_insert_id(conn).unwrap();
    for t in tasks {
        let mut task = NewTask::new(t, t, pipeline_id, seed.template_id, audit);
        task.args = Some(r#"{"--x": "1"}"#.into());
        task.command = Some("echo hi".into());
        diesel::insert_into(task::table)
            .values(task)
            .execute(conn)
            .unwrap();
    }
    pipeline_id
}

/// A claimed cron run (status `created`) with its frozen workflow, as the scheduler
/// makes it. Returns (row id, run id, workflow name).
pub fn frozen_run(
    conn: &mut MysqlConnection,
    config: &Config,
    pipeline_id: i32,
    execution_date: &str,
) -> (i32, String, String) {
    let registry = ClusterRegistry::from_config(config);
    let run_id = app_core::argo::fresh_run_id();
    let input = app_core::pipeline::load_input(
        conn,
        pipeline_id,
        None,
        CompileConfig::from_config(config),
        chrono::Local::now().naive_local(),
    )
    .unwrap()
    .for_cron_run(execution_date, Some(&run_id));
    let compiled = app_core::pipeline::compile(&input, |c| registry.cluster_for(c)).unwrap();
    let file = app_core::json_text::pretty4(&compiled.workflow);
    let id = insert_run(
        conn,
        pipeline_id,
        execution_date,
        "created",
        &file,
        &compiled.run_id,
    );
    (id, compiled.run_id, compiled.name)
}

/// Inserts a `run` row.
pub fn insert_run(
    conn: &mut MysqlConnection,
    pipeline_id: i32,
    execution_date: &str,
    status: &str,
    pipeline_file: &str,
    run_id: &str,
) -> i32 {
    diesel::insert_into(run::table)
        .values((
            run::pipeline_id.eq(pipeline_id),
            run::pipeline_file.eq(pipeline_file),
            run::pipeline_argo_id.eq(""),
            run::version_id.eq("claim"),
            run::run_id.eq(run_id),
            run::message.eq(""),
            run::created_on.eq(chrono::Local::now().naive_local()),
            run::execution_date.eq(execution_date),
            run::status.eq(status),
        ))
        .execute(conn)
        .unwrap();
    last_insert_id(conn).unwrap()
}

/// (status, pipeline_argo_id, message) of a run row.
pub fn run_row(conn: &mut MysqlConnection, id: i32) -> (String, String, String) {
    let (s, a, m): (Option<String>, Option<String>, Option<String>) = run::table
        .find(id)
        .select((run::status, run::pipeline_argo_id, run::message))
        .first(conn)
        .unwrap();
    (
        s.unwrap_or_default(),
        a.unwrap_or_default(),
        m.unwrap_or_default(),
    )
}

/// Polls `f` every 50 ms until it returns `Some` or `timeout` passes.
pub async fn wait_for<T>(timeout: Duration, mut f: impl FnMut() -> Option<T>) -> Option<T> {
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        if let Some(v) = f() {
            return Some(v);
        }
        if tokio::time::Instant::now() >= deadline {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// `GET http://<addr><path>` (HTTP/1.0, no keep-alive): (status code, body).
pub fn http_get(addr: &str, path: &str) -> std::io::Result<(u16, String)> {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(addr)?;
    s.set_read_timeout(Some(Duration::from_secs(10)))?;
    write!(s, "GET {path} HTTP/1.0\r\nHost: {addr}\r\n\r\n")?;
    let mut out = String::new();
    s.read_to_string(&mut out)?;
    let code = out
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let body = out
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    Ok((code, body))
}
