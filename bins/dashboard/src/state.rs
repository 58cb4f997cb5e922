//! What every request handler can reach: the pool, the configuration, the schema, the
//! view declarations, the caches and the clients. Built by [`crate::app::build_state`].

use std::collections::HashMap;
use std::sync::Arc;

use actix_web::web;
use app_core::Config;
use app_models::DbPool;
use diesel::mysql::MysqlConnection;

use crate::auth::context::{Ctx, CtxCache};
use crate::auth::keys::Keys;
use crate::cluster::Kube;
use crate::engine::meta::SchemaMeta;
use crate::engine::models::ModelDef;
use crate::engine::resolve::Resolved;
use crate::engine::view::{ModelView, ViewId};
use crate::error::ApiError;

/// Everything a request handler can reach.
pub struct AppState {
    pub pool: DbPool,
    pub config: Arc<Config>,
    pub schema: Arc<SchemaMeta>,
    pub models: Vec<ModelDef>,
    pub views: Vec<ModelView>,
    pub ctx_cache: CtxCache,
    /// Tokens whose signature was checked already.
    pub verified_tokens: crate::auth::tokens::VerifiedTokens,
    pub kube: Arc<Kube>,
    /// The session and token keys (configured, or generated and shared through the database).
    pub keys: Keys,
    /// What `/metrics` shows.
    pub metrics: app_core::metrics::Metrics,
    /// `STATIC_DIR`, `NAVBAR_RIGHT`... (read from the process environment by `build`).
    pub frontend: crate::settings::Settings,
    /// The worker's queues, where requests leave their cluster work.
    pub queue: crate::queue::Queue,
    /// Where archived step logs are read (`S3_ENDPOINT`), when configured.
    pub archive: Option<Arc<app_core::archive::Archive>>,
    /// Where each view is in `views` ([`AppState::index_views`]).
    pub view_ids: HashMap<ViewId, usize>,
    /// The pop-ups of pages (`/myapp/feature/check`), by front-end path.
    pub alerts: Vec<(&'static str, Alert)>,
}

/// A page's pop-up (the original's `alert_config` entry): the dialog object for the
/// caller; `host` is the request's host, for links.
pub type Alert = std::sync::Arc<
    dyn Fn(
            web::Data<AppState>,
            Ctx,
            String,
        ) -> futures::future::BoxFuture<'static, Result<serde_json::Value, ApiError>>
        + Send
        + Sync,
>;

impl AppState {
    /// The same state with queue names under another prefix (`QUEUE_PREFIX`; tests).
    pub fn with_queue_prefix(mut self, prefix: &str) -> AppState {
        self.queue = crate::queue::Queue::new(&self.config.redis_url, prefix);
        self
    }

    /// The same state with other front-end settings (tests read them from a map).
    pub fn with_frontend(mut self, frontend: crate::settings::Settings) -> AppState {
        self.frontend = frontend;
        self
    }

    /// Where each view is in `views`, by its identity.
    pub fn index_views(views: &[ModelView]) -> HashMap<ViewId, usize> {
        views.iter().enumerate().map(|(i, v)| (v.id, i)).collect()
    }

    /// The index of a view in `views`. Every [`ViewId`] a view or a custom route names
    /// is checked at start (`views::ids::ALL`), so a miss is a programming error that
    /// answers 500 with its name, never a panic.
    pub fn view_index(&self, id: ViewId) -> Result<usize, ApiError> {
        self.view_ids
            .get(&id)
            .copied()
            .ok_or_else(|| ApiError::internal(format!("the view {} is not served", id.0)))
    }

    /// The view `id` resolved against the schema, for custom routes.
    pub fn resolved(&self, id: ViewId) -> Result<Resolved<'_>, ApiError> {
        Resolved::new(
            &self.views[self.view_index(id)?],
            &self.schema,
            &self.models,
        )
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
