//! The app factory: builds the state with every view declaration, registers every
//! route, and wraps the middleware (the `dashboard_app!` macro of `server.rs`). The top
//! of the module graph: nothing imports it but `server`.

use std::sync::Arc;

use app_core::Config;
use app_models::DbPool;

use crate::auth::context::CtxCache;
use crate::cluster::Kube;
use crate::engine::models::all_models;
use crate::state::AppState;

/// Builds the state: reads the schema metadata (the database must be migrated), loads
/// or creates the keys, declares the views and checks them against the schema.
pub fn build_state(pool: DbPool, config: Config) -> anyhow::Result<AppState> {
    app_core::password::set_iterations(config.password_hash_iterations);
    let mut conn = pool.get()?;
    let schema = Arc::new(crate::engine::meta::load_schema(&mut conn)?);
    if schema.table("ab_user").is_none() {
        anyhow::bail!("the database has no cube-studio tables: run `dashboard migrate`");
    }
    let keys = crate::auth::keys::load_or_create(&mut conn, &config)?;
    let kube = Kube::new(&config)?;
    let views = crate::views::all_views(&config, &kube, schema.clone());
    let models = all_models();
    let mut problems = crate::engine::resolve::validate_views(&views, &schema, &models)
        .err()
        .unwrap_or_default();
    for id in crate::views::ids::ALL {
        if !views.iter().any(|v| v.id == *id) {
            problems.push(format!("{}: named in views::ids but not declared", id.0));
        }
    }
    if !problems.is_empty() {
        anyhow::bail!(
            "{} view declaration(s) do not match the schema:\n{}",
            problems.len(),
            problems.join("\n")
        );
    }
    let config_redis_url = config.redis_url.clone();
    let archive = match &config.archive {
        Some(a) => Some(Arc::new(app_core::archive::Archive::new(a)?)),
        None => None,
    };
    Ok(AppState {
        archive,
        view_ids: AppState::index_views(&views),
        alerts: crate::views::alerts(),
        keys,
        metrics: app_core::metrics::Metrics::new(),
        pool,
        views,
        kube,
        config: Arc::new(config),
        schema,
        models,
        ctx_cache: CtxCache::default(),
        verified_tokens: Default::default(),
        frontend: crate::settings::Settings::from_env()?,
        queue: crate::queue::Queue::new(
            &config_redis_url,
            &std::env::var("QUEUE_PREFIX").unwrap_or_default(),
        ),
    })
}

/// Every route of the dashboard.
pub fn configure(cfg: &mut actix_web::web::ServiceConfig, state: &AppState) {
    use crate::routing::{Answer, Routes};
    let mut r = Routes::new(cfg);
    r.tag("operations").public();
    r.add(
        "GET",
        "/metrics",
        "Prometheus metrics: requests and latency per route, the database pool",
        Answer::Other("text/plain"),
        crate::http::metrics::render,
    );
    crate::http::login::configure(&mut r);
    crate::http::frontend::configure(&mut r);
    crate::views::configure(&mut r, state);
    r.finish(
        |docs| crate::openapi::document(state, docs),
        crate::openapi::DOCS_PAGE,
    );
}
