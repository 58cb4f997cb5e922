//! Fixtures of the watch tests: rows (user, project, image, template, pipeline, tasks,
//! cron runs), the configuration, in-process watchers, local HTTP stubs (webhook,
//! Prometheus).
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use app_core::Config;
use app_core::argo::CompileConfig;
use app_core::k8s::cluster::ClusterRegistry;
use app_core::metrics::Metrics;
use app_core::shutdown::{ShutdownTrigger, shutdown_channel};
use app_models::forms::{Audit, NewPipeline, NewProject, NewTask, NewUser};
use app_models::queries::last_insert_id;
use app_models::schema::*;
use diesel::mysql::MysqlConnection;
use diesel::prelude::*;
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use watch::{WatchSettings, WatchState};

#[allow(unused_imports)]
pub use testkit::webhook::Webhook;

pub const REDIS_URL: &str = "redis://127.0.0.1:6379/0";

/// A unique Redis prefix for one test.
pub fn prefix() -> String {
    format!("test-{}:", uuid::Uuid::new_v4().simple())
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
    let compiled = app_core::pipeline::compile_cron_run(
        conn,
        pipeline_id,
        execution_date,
        CompileConfig::from_config(config),
        chrono::Local::now().naive_local(),
        |c| registry.cluster_for(c),
    )
    .unwrap();
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

/// An in-process `watch` (the real watchers) and its stop button.
pub struct TestWatch {
    pub state: Arc<WatchState>,
    trigger: ShutdownTrigger,
    handle: tokio::task::JoinHandle<()>,
}

impl TestWatch {
    pub async fn start(config: Config, prefix: &str, extra: &[(&str, &str)]) -> TestWatch {
        let mut vars: HashMap<String, String> =
            [("WATCH_KEY_PREFIX", prefix), ("WATCH_SHARDS", "4")]
                .into_iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect();
        for (k, v) in extra {
            vars.insert(k.to_string(), v.to_string());
        }
        let settings = WatchSettings::from_lookup(&config, &|k| vars.get(k).cloned()).unwrap();
        let redis = app_core::redis_conn::wait_for_redis(&config.redis_url, || false)
            .await
            .unwrap();
        let pool = app_models::db::build_pool(&config.database_url, 8);
        let (trigger, shutdown) = shutdown_channel();
        let state = Arc::new(WatchState::new(
            config,
            settings,
            pool,
            redis,
            Metrics::new(),
            shutdown,
        ));
        let handle = tokio::spawn(watch::run(state.clone()));
        TestWatch {
            state,
            trigger,
            handle,
        }
    }

    /// A counter or gauge of this watcher's metrics.
    pub fn metric(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        self.state.metrics.get(name, labels)
    }

    /// Stops it as SIGTERM would and waits.
    pub async fn stop(self) {
        self.trigger.trigger();
        let _ = tokio::time::timeout(Duration::from_secs(30), self.handle).await;
    }
}

/// A local Prometheus: `/api/v1/query` answers `cpu` for CPU queries and `memory_bytes`
/// for the others, and keeps the queries.
pub struct FakePrometheus {
    pub url: String,
    pub queries: Arc<Mutex<Vec<String>>>,
}

impl FakePrometheus {
    pub async fn start(cpu: f64, memory_bytes: f64) -> FakePrometheus {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let queries: Arc<Mutex<Vec<String>>> = Arc::default();
        let store = queries.clone();
        tokio::spawn(async move {
            while let Ok((mut sock, _)) = listener.accept().await {
                let store = store.clone();
                tokio::spawn(async move {
                    let mut buf = Vec::new();
                    loop {
                        let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") else {
                            let mut chunk = [0u8; 4096];
                            match sock.read(&mut chunk).await {
                                Ok(0) | Err(_) => return,
                                Ok(n) => {
                                    buf.extend_from_slice(&chunk[..n]);
                                    continue;
                                }
                            }
                        };
                        let head = String::from_utf8_lossy(&buf[..end]).to_string();
                        buf.drain(..end + 4);
                        let target = head.split_whitespace().nth(1).unwrap_or("").to_string();
                        let query = url::Url::parse(&format!("http://x{target}"))
                            .ok()
                            .and_then(|u| {
                                u.query_pairs()
                                    .find(|(k, _)| k == "query")
                                    .map(|(_, v)| v.to_string())
                            })
                            .unwrap_or_default();
                        let value = if query.contains("cpu") {
                            cpu
                        } else {
                            memory_bytes
                        };
                        store.lock().unwrap().push(query);
                        let body = serde_json::json!({"status": "success", "data": {"resultType": "vector",
                            "result": [{"metric": {"pod": "p"}, "value": [1, value.to_string()]}]}})
                        .to_string();
                        let reply = format!(
                            "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
                            body.len()
                        );
                        if sock.write_all(reply.as_bytes()).await.is_err() {
                            return;
                        }
                    }
                });
            }
        });
        FakePrometheus { url, queries }
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
