//! `schedule`: the periodic tasks and cron pipelines of cube-studio (the Celery beat).

use std::process::ExitCode;
use std::sync::atomic::Ordering;
use std::time::Duration;

use app_core::Config;
use app_core::database::{wait_for_database, with_conn};
use app_core::service::ServiceFrame;
use app_core::telemetry::init_tracing;
use diesel::RunQueryDsl;

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
    let mut shutdown = frame.shutdown.clone();
    let mut failures = 0u32;
    loop {
        let ok = with_conn(&pool, |conn| {
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
        let wait = if failures == 0 {
            Duration::from_secs(5)
        } else {
            Duration::from_secs(2u64.pow(failures.min(4)))
        };
        if shutdown.sleep(wait).await {
            break;
        }
    }
    tracing::info!("schedule stopped");
    frame.finish().await;
    ExitCode::SUCCESS
}
