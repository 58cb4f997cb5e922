//! `watch`: see the README. This is the process frame; its jobs are added by later issues.

use std::process::ExitCode;
use std::sync::atomic::Ordering;

use app_core::Config;
use app_core::database::wait_for_database;
use app_core::service::ServiceFrame;
use app_core::telemetry::init_tracing;

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
    let frame = match ServiceFrame::start("watch", &config.watch_addr) {
        Ok(f) => f,
        Err(e) => {
            tracing::error!(error = %e, "cannot bind the ops server");
            return ExitCode::FAILURE;
        }
    };
    let db_up = frame.health.dependency("mysql");
    let sd = frame.shutdown.clone();
    if wait_for_database(
        &config.database_url,
        config.db_pool_size,
        false,
        move || sd.is_triggered(),
    )
    .await
    .is_some()
    {
        db_up.store(true, Ordering::Relaxed);
    }
    let redis_up = frame.health.dependency("redis");
    let sd = frame.shutdown.clone();
    if app_core::redis_conn::wait_for_redis(&config.redis_url, move || sd.is_triggered())
        .await
        .is_some()
    {
        redis_up.store(true, Ordering::Relaxed);
    }
    let mut shutdown = frame.shutdown.clone();
    shutdown.wait().await;
    tracing::info!("watch stopped");
    frame.finish().await;
    ExitCode::SUCCESS
}
