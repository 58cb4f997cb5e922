//! `watch`: mirrors the clusters into MySQL and notifies (see the crate docs and README).

use std::process::ExitCode;
use std::sync::Arc;

use app_core::Config;
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
    let Some((pool, redis)) = frame.connect(&config).await else {
        frame.finish().await;
        return ExitCode::SUCCESS;
    };
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
