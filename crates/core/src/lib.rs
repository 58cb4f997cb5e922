//! What more than one cube-studio binary needs: configuration, logging, shutdown,
//! metrics, credentials, queue payloads, the pipeline compiler, cron planning,
//! Kubernetes access and notifications.

pub mod archive;
pub mod argo;
pub mod config;
pub mod cron;
pub mod database;
pub mod jobs;
pub mod json_text;
pub mod k8s;
pub mod metrics;
pub mod notify;
pub mod notify_text;
pub mod ops_server;
pub mod password;
pub mod pipeline;
pub mod redis_conn;
pub mod resource_status;
pub mod retry;
pub mod service;
pub mod shutdown;
pub mod telemetry;
pub mod template_args;
pub mod token;
pub mod usage;
pub mod workflow_status;
pub mod workflow_store;

pub use config::Config;

/// Now in `tz`, as cube-studio stores times in string columns (`%Y-%m-%d %H:%M:%S`).
pub fn time_string_now(tz: chrono_tz::Tz) -> String {
    app_models::time::format_time(chrono::Utc::now().with_timezone(&tz).naive_local())
}
