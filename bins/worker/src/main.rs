//! `worker`: runs the queued jobs (see the crate docs and the README).

use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use app_core::Config;
use app_core::database::wait_for_database;
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
    let db_up = frame.health.dependency("mysql");
    let redis_up = frame.health.dependency("redis");
    let sd = frame.shutdown.clone();
    let Some(pool) = wait_for_database(
        &config.database_url,
        config.db_pool_size,
        false,
        move || sd.is_triggered(),
    )
    .await
    else {
        frame.finish().await;
        return ExitCode::SUCCESS;
    };
    db_up.store(true, Ordering::Relaxed);
    let sd = frame.shutdown.clone();
    let Some(redis) =
        app_core::redis_conn::wait_for_redis(&config.redis_url, move || sd.is_triggered()).await
    else {
        frame.finish().await;
        return ExitCode::SUCCESS;
    };
    redis_up.store(true, Ordering::Relaxed);
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
