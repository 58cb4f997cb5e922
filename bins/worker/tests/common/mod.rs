//! Fixtures of the worker tests: the shared rows and configuration (`testkit::fixtures`),
//! the worker's environment, an in-process worker.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use app_core::Config;
use app_core::metrics::Metrics;
use app_core::shutdown::{ShutdownTrigger, shutdown_channel};
use worker::{WorkerSettings, WorkerState};

#[allow(unused_imports)]
pub use testkit::fixtures::*;
#[allow(unused_imports)]
pub use testkit::webhook::Webhook;

/// The configuration of a test (see `testkit::fixtures::config`), four jobs at once.
pub fn config(db_url: &str, redis_url: &str, kubeconfig: &str, extra: &[(&str, &str)]) -> Config {
    let mut vars = vec![("WORKER_CONCURRENCY", "4")];
    vars.extend_from_slice(extra);
    testkit::fixtures::config(db_url, redis_url, kubeconfig, &vars)
}

/// The environment of a worker process with the same settings.
pub fn process_env(
    db_url: &str,
    redis_url: &str,
    kubeconfig: &str,
    prefix: &str,
) -> Vec<(String, String)> {
    vec![
        ("DATABASE_URL".into(), db_url.into()),
        ("REDIS_URL".into(), redis_url.into()),
        ("SECRET_KEY".into(), "test".into()),
        ("ENVIRONMENT".into(), "dev".into()),
        (
            "CLUSTERS".into(),
            serde_json::json!({"dev": {"NAME": "dev", "KUBECONFIG": kubeconfig}}).to_string(),
        ),
        ("QUEUE_PREFIX".into(), prefix.into()),
        ("WORKER_POLL_MS".into(), "100".into()),
        ("WORKER_RETRY_INITIAL_MS".into(), "100".into()),
        ("WORKER_RETRY_MAX_MS".into(), "500".into()),
        ("WORKER_SHUTDOWN_GRACE_SECS".into(), "10".into()),
        (
            "WORKER_ADDR".into(),
            format!("127.0.0.1:{}", testkit::process::free_port()),
        ),
        ("RUST_LOG".into(), "info".into()),
    ]
}

/// An in-process worker (the real runtime) and its stop button.
pub struct TestWorker {
    pub state: Arc<WorkerState>,
    trigger: ShutdownTrigger,
    handle: tokio::task::JoinHandle<()>,
}

impl TestWorker {
    pub async fn start(config: Config, prefix: &str, extra: &[(&str, &str)]) -> TestWorker {
        let mut vars: HashMap<String, String> = [
            ("QUEUE_PREFIX", prefix),
            ("WORKER_POLL_MS", "50"),
            ("WORKER_RETRY_INITIAL_MS", "100"),
            ("WORKER_RETRY_MAX_MS", "400"),
            ("WORKER_SHUTDOWN_GRACE_SECS", "10"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        for (k, v) in extra {
            vars.insert(k.to_string(), v.to_string());
        }
        let settings = WorkerSettings::from_lookup(&config, &|k| vars.get(k).cloned()).unwrap();
        let redis = app_core::redis_conn::wait_for_redis(&config.redis_url, None)
            .await
            .unwrap();
        let pool = app_models::db::build_pool(&config.database_url, 4);
        let (trigger, shutdown) = shutdown_channel();
        let state = Arc::new(WorkerState::new(
            config,
            settings,
            pool,
            redis.clone(),
            Metrics::new(),
            shutdown,
        ));
        let handle = tokio::spawn(worker::runtime::run(state.clone(), redis));
        TestWorker {
            state,
            trigger,
            handle,
        }
    }

    /// A counter or gauge of the worker's metrics.
    pub fn metric(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        self.state.metrics.get(name, labels)
    }

    /// Stops it as SIGTERM would and waits.
    pub async fn stop(self) {
        self.trigger.trigger();
        let _ = tokio::time::timeout(Duration::from_secs(30), self.handle).await;
    }
}

/// The producer side, on the shared Redis, with the test's prefix.
pub async fn queues(redis_url: &str, prefix: &str) -> app_core::jobs::JobQueues {
    let conn = apalis_redis::connect(redis_url).await.unwrap();
    app_core::jobs::JobQueues::new(conn, prefix)
}
