//! `worker`: runs the queued jobs (see the crate docs and the README).

use std::process::ExitCode;
use std::sync::Arc;

use app_core::Config;
use app_core::service::ServiceFrame;
use app_core::telemetry::init_tracing;
use worker::{WorkerSettings, WorkerState};

#[tokio::main]
async fn main() -> ExitCode {
    let config = match Config::from_env() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    init_tracing(config.log_json);
    let settings = match WorkerSettings::from_env(&config) {
        Ok(s) => s,
        Err(e) => {
            tracing::error!(error = %e, "bad worker settings");
            return ExitCode::from(2);
        }
    };
    let frame = match ServiceFrame::start("worker", &config.worker_addr) {
        Ok(f) => f,
        Err(e) => {
            tracing::error!(error = %e, "cannot bind the ops server");
            return ExitCode::FAILURE;
        }
    };
    let Some((pool, redis)) = frame.connect(&config).await else {
        frame.finish().await;
        return ExitCode::SUCCESS;
    };
    tracing::info!(
        queue_prefix = %settings.queue_prefix,
        concurrency = settings.concurrency,
        clusters = ?config.clusters.keys().collect::<Vec<_>>(),
        "worker ready"
    );
    let state = Arc::new(WorkerState::new(
        config,
        settings,
        pool,
        redis.clone(),
        frame.metrics.clone(),
        frame.shutdown.clone(),
    ));
    worker::runtime::run(state, redis).await;
    tracing::info!("worker stopped");
    frame.finish().await;
    ExitCode::SUCCESS
}
