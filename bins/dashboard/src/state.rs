//! The application state and the app factory shared by the server and the tests.

use std::sync::Arc;

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::ServiceResponse;
use actix_web::http::header;
use actix_web::middleware::{ErrorHandlerResponse, ErrorHandlers};
use actix_web::{HttpResponse, web};
use app_core::Config;
use app_models::DbPool;
use diesel::mysql::MysqlConnection;

use crate::auth::context::{Ctx, CtxCache};
use crate::auth::keys::Keys;
use crate::cluster::Kube;
use crate::engine::meta::SchemaMeta;
use crate::engine::models::{ModelDef, all_models};
use crate::engine::response::ApiError;
use crate::engine::view::ModelView;

/// Everything a request handler can reach.
pub struct AppState {
    pub pool: DbPool,
    pub config: Arc<Config>,
    pub schema: Arc<SchemaMeta>,
    pub models: Vec<ModelDef>,
    pub views: Vec<ModelView>,
    pub ctx_cache: CtxCache,
    pub kube: Arc<Kube>,
    /// The session and token keys (configured, or generated and shared through the database).
    pub keys: Keys,
    /// What `/metrics` shows.
    pub metrics: app_core::metrics::Metrics,
    /// `STATIC_DIR`, `NAVBAR_RIGHT`... (read from the process environment by `build`).
    pub frontend: crate::frontend::Settings,
    /// The worker's queues, where requests leave their cluster work.
    pub queue: crate::queue::Queue,
}

impl AppState {
    /// Builds the state: reads the schema metadata (the database must be migrated).
    pub fn build(pool: DbPool, config: Config) -> anyhow::Result<AppState> {
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
        if let Err(problems) = crate::engine::resolve::validate_views(&views, &schema, &models) {
            anyhow::bail!(
                "{} view declaration(s) do not match the schema:\n{}",
                problems.len(),
                problems.join("\n")
            );
        }
        let config_redis_url = config.redis_url.clone();
        Ok(AppState {
            keys,
            metrics: app_core::metrics::Metrics::new(),
            pool,
            views,
            kube,
            config: Arc::new(config),
            schema,
            models,
            ctx_cache: CtxCache::default(),
            frontend: crate::frontend::Settings::from_env()?,
            queue: crate::queue::Queue::new(
                &config_redis_url,
                &std::env::var("QUEUE_PREFIX").unwrap_or_default(),
            ),
        })
    }

    /// The same state with queue names under another prefix (`QUEUE_PREFIX`; tests).
    pub fn with_queue_prefix(mut self, prefix: &str) -> AppState {
        self.queue = crate::queue::Queue::new(&self.config.redis_url, prefix);
        self
    }

    /// The same state with other front-end settings (tests read them from a map).
    pub fn with_frontend(mut self, frontend: crate::frontend::Settings) -> AppState {
        self.frontend = frontend;
        self
    }

    /// The index of the view at `route_base`.
    pub fn view_index(&self, route_base: &str) -> Option<usize> {
        self.views.iter().position(|v| v.route_base == route_base)
    }

    /// The caller behind a username, from a short cache or the database.
    pub async fn load_ctx(&self, username: &str) -> Result<Option<Ctx>, ApiError> {
        if let Some(c) = self.ctx_cache.get(username) {
            return Ok(Some(c));
        }
        let pool = self.pool.clone();
        let name = username.to_string();
        let ctx = web::block(move || -> Result<Option<Ctx>, ApiError> {
            let mut conn = pool.get().map_err(app_models::DbError::from)?;
            Ok(Ctx::load(&mut conn, &name)?)
        })
        .await??;
        if let Some(c) = &ctx {
            self.ctx_cache.put(c);
        }
        Ok(ctx)
    }

    /// The token of a user as the user centre shows it (for an expiring token, the
    /// expiry is anchored at its first issue).
    pub fn user_token(&self, conn: &mut MysqlConnection, ctx: &Ctx) -> Result<String, ApiError> {
        let ttl = self.config.token_ttl_days;
        let mut tv = ctx.token;
        if ttl.is_some() && tv.rotated_at.is_none() {
            tv = app_models::security::anchor_token(conn, ctx.user_id)?;
        }
        crate::auth::tokens::token_for(&self.keys.token, ctx.user_id, &ctx.username, tv, ttl)
            .map_err(|e| ApiError::internal(format!("cannot sign the token: {e}")))
    }

    /// Called after any write: membership and roles may have changed.
    pub fn after_write(&self, idx: usize) {
        if matches!(
            self.views[idx].table,
            "project_user" | "project" | "ab_user" | "ab_role"
        ) {
            self.ctx_cache.clear();
        }
    }
}

/// Turns any error response that is not JSON (extractor errors, payload limits,
/// unknown URLs) into the JSON envelope, so clients never get HTML or plain text.
fn json_errors<B: MessageBody + 'static>(
    res: ServiceResponse<B>,
) -> actix_web::Result<ErrorHandlerResponse<B>> {
    let is_json = res
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| v.contains("json") || v.contains("text/html"))
        .unwrap_or(false);
    if is_json || res.status().as_u16() < 400 {
        return Ok(ErrorHandlerResponse::Response(res.map_into_left_body()));
    }
    let status = res.status();
    let (req, _) = res.into_parts();
    let message = match status.as_u16() {
        404 => "not found".to_string(),
        405 => "method not allowed".to_string(),
        413 => "request body too large".to_string(),
        s => format!("bad request ({s})"),
    };
    let resp: HttpResponse<BoxBody> =
        actix_web::ResponseError::error_response(&ApiError::new(status, message));
    Ok(ErrorHandlerResponse::Response(
        ServiceResponse::new(req, resp).map_into_right_body(),
    ))
}

/// The error-shaping middleware.
pub fn error_shaper<B: MessageBody + 'static>() -> ErrorHandlers<B> {
    ErrorHandlers::new().default_handler(json_errors)
}

/// Body limits and extractor error shapes.
pub fn limits(
    max_body: usize,
) -> (
    web::PayloadConfig,
    web::JsonConfig,
    web::QueryConfig,
    web::PathConfig,
) {
    (
        web::PayloadConfig::new(max_body),
        web::JsonConfig::default()
            .limit(max_body)
            .error_handler(|e, _| ApiError::bad_request(format!("bad JSON body: {e}")).into()),
        web::QueryConfig::default()
            .error_handler(|e, _| ApiError::bad_request(format!("bad query string: {e}")).into()),
        web::PathConfig::default().error_handler(|_, _| ApiError::not_found().into()),
    )
}

/// CORS for the configured origins only (`CORS_ORIGINS`; none by default: the front end
/// is served from the same origin). Requests from other origins are served without
/// CORS headers, so browsers keep their pages from reading the answers.
pub fn cors(config: &Config) -> actix_cors::Cors {
    let mut cors = actix_cors::Cors::default()
        .allow_any_method()
        .allow_any_header()
        .supports_credentials()
        .max_age(3600);
    for origin in &config.cors_origins {
        cors = cors.allowed_origin(origin);
    }
    cors
}

/// Every route of the dashboard.
pub fn configure(cfg: &mut web::ServiceConfig, state: &AppState) {
    use crate::routing::{Answer, Routes};
    let mut r = Routes::new(cfg);
    r.tag("operations").public();
    r.add(
        "GET",
        "/metrics",
        "Prometheus metrics: requests and latency per route, the database pool",
        Answer::Other("text/plain"),
        crate::metrics::render,
    );
    crate::auth::login::configure(&mut r);
    crate::frontend::configure(&mut r);
    crate::views::configure(&mut r, state);
    r.finish(|docs| crate::openapi::document(state, docs));
}
