//! `schedule`: runs the periodic tasks; see the crate docs in lib.rs.

use std::process::ExitCode;
use std::sync::Arc;

use app_core::Config;
use app_core::service::ServiceFrame;
use app_core::telemetry::init_tracing;
use schedule::context::Ctx;

/// mimalloc: a tick that freezes thousands of cron runs builds and drops many small
/// JSON values, where glibc's allocator spends a third of the time.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

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
    let frame = match ServiceFrame::start("schedule", &config.schedule_addr) {
        Ok(f) => f,
        Err(e) => {
            tracing::error!(error = %e, addr = %config.schedule_addr, "cannot bind the ops server");
            return ExitCode::FAILURE;
        }
    };
    let Some((pool, redis)) = frame.connect(&config).await else {
        frame.finish().await;
        return ExitCode::SUCCESS;
    };
    let prefix = std::env::var("QUEUE_PREFIX").unwrap_or_default();
    let ctx = Arc::new(Ctx::new(
        Arc::new(config),
        pool.clone(),
        redis,
        &prefix,
        frame.metrics.clone(),
    ));
    let tasks = match schedule::periodic::configured(&ctx) {
        Ok(t) => t,
        Err(e) => {
            tracing::error!(error = %e, "bad schedule configuration");
            frame.finish().await;
            return ExitCode::from(2);
        }
    };
    tracing::info!(tasks = ?tasks.iter().map(|t| t.name.clone()).collect::<Vec<_>>(), "schedule started");
    schedule::periodic::run_loop(ctx, tasks, frame.shutdown.clone()).await;
    tracing::info!("schedule stopped");
    frame.finish().await;
    ExitCode::SUCCESS
}
