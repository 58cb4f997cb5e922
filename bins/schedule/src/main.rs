//! `schedule`: runs the periodic tasks; see the crate docs in lib.rs.

use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use app_core::Config;
use app_core::database::wait_for_database;
use app_core::redis_conn::wait_for_redis;
use app_core::service::ServiceFrame;
use app_core::telemetry::init_tracing;
use schedule::context::Ctx;

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
    let Some(redis) = wait_for_redis(&config.redis_url, move || sd.is_triggered()).await else {
        frame.finish().await;
        return ExitCode::SUCCESS;
    };
    redis_up.store(true, Ordering::Relaxed);
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
    // health follows MySQL: a failing probe marks it down until it answers again
    let probe_pool = pool.clone();
    let mut probe_shutdown = frame.shutdown.clone();
    tokio::spawn(async move {
        let mut failures = 0u32;
        loop {
            let ok = app_core::database::with_conn(&probe_pool, |conn| {
                use diesel::RunQueryDsl;
                Ok(diesel::sql_query("SELECT 1").execute(conn)?)
            })
            .await;
            match ok {
                Ok(_) => {
                    if failures > 0 {
                        tracing::info!("mysql is back");
                    }
                    failures = 0;
                    db_up.store(true, Ordering::Relaxed);
                }
                Err(e) => {
                    failures += 1;
                    db_up.store(false, Ordering::Relaxed);
                    tracing::warn!(error = %e, failures, "mysql unreachable, retrying");
                }
            }
            let wait = std::time::Duration::from_secs(if failures == 0 {
                5
            } else {
                2u64.pow(failures.min(4))
            });
            if probe_shutdown.sleep(wait).await {
                break;
            }
        }
    });
    schedule::periodic::run_loop(ctx, tasks, frame.shutdown.clone()).await;
    tracing::info!("schedule stopped");
    frame.finish().await;
    ExitCode::SUCCESS
}
