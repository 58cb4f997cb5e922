//! `watch`: mirrors the clusters into MySQL and notifies (see the crate docs and README).

use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use app_core::Config;
use app_core::database::wait_for_database;
use app_core::service::ServiceFrame;
use app_core::telemetry::init_tracing;
use watch::{WatchSettings, WatchState};

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
    let settings = match WatchSettings::from_env(&config) {
        Ok(s) => s,
        Err(e) => {
            tracing::error!(error = %e, "bad watch settings");
            return ExitCode::from(2);
        }
    };
    let frame = match ServiceFrame::start("watch", &config.watch_addr) {
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
        clusters = ?config.clusters.keys().collect::<Vec<_>>(),
        shards = settings.shards,
        prometheus = config.prometheus_url.is_some(),
        "watch ready"
    );
    let state = Arc::new(WatchState::new(
        config,
        settings,
        pool,
        redis,
        frame.metrics.clone(),
        frame.shutdown.clone(),
    ));
    watch::run(state).await;
    tracing::info!("watch stopped");
    frame.finish().await;
    ExitCode::SUCCESS
}
