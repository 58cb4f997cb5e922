//! The HTTP server: migrations, state, app, graceful stop.

use actix_web::middleware::Compress;
use actix_web::{HttpServer, web};
use app_core::Config;
use app_core::database::{wait_for_database, with_conn};

/// Builds the actix `App` of the dashboard (used by the server and by tests).
/// An optional second argument is a middleware wrapped innermost, inside authentication
/// and error shaping (the server passes `Compress`).
#[macro_export]
macro_rules! dashboard_app {
    ($state:expr $(, $inner:expr)? $(,)?) => {{
        let state: actix_web::web::Data<$crate::state::AppState> = $state;
        let (payload, json, query, path) = $crate::http::shape::limits(state.config.max_body_bytes);
        actix_web::App::new()
            .app_data(state.clone())
            .app_data(payload)
            .app_data(json)
            .app_data(query)
            .app_data(path)
            $(.wrap($inner))?
            .wrap(actix_web::middleware::from_fn(
                $crate::http::authenticate::authenticate,
            ))
            .wrap($crate::http::shape::cors(&state.config))
            .wrap($crate::http::shape::error_shaper())
            .wrap(actix_web::middleware::from_fn($crate::http::metrics::record))
            .configure(|cfg| $crate::app::configure(cfg, &state))
    }};
}

pub async fn serve(config: Config) -> anyhow::Result<()> {
    let Some(pool) = wait_for_database(&config.database_url, config.db_pool_size, true, None).await
    else {
        anyhow::bail!("database unreachable");
    };
    let applied = with_conn(&pool, app_models::db::run_migrations).await?;
    if !applied.is_empty() {
        tracing::info!(?applied, "migrations applied");
    }
    let addr = config.dashboard_addr.clone();
    let workers = std::env::var("DASHBOARD_WORKERS")
        .ok()
        .and_then(|w| w.parse().ok())
        .unwrap_or(2usize)
        .max(1);
    // database work runs on each worker's blocking threads, and waits for a pooled
    // connection beyond the pool's size: more threads would only hold memory
    let blocking = std::env::var("DASHBOARD_BLOCKING_THREADS")
        .ok()
        .and_then(|w| w.parse().ok())
        .unwrap_or_else(|| (config.db_pool_size as usize).div_ceil(workers))
        .max(2);
    let p2 = pool.clone();
    let state = web::Data::new(
        tokio::task::spawn_blocking(move || crate::app::build_state(p2, config)).await??,
    );
    tracing::info!(%addr, views = state.views.len(), "dashboard listening");
    // the tests' app, with responses compressed
    HttpServer::new(move || crate::dashboard_app!(state.clone(), Compress::default()))
        .workers(workers)
        .worker_max_blocking_threads(blocking)
        .shutdown_timeout(10)
        .bind(&addr)?
        .run()
        .await?;
    tracing::info!("dashboard stopped");
    Ok(())
}
