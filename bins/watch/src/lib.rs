//! `watch`: mirrors the clusters into MySQL and notifies (the original's
//! `watch_workflow.py` and `watch_service.py`, orchestration.md §5).
//!
//! Per configured cluster (`ClusterRegistry`), `kube::runtime::watcher`s on:
//! * Argo Workflows in all namespaces ([`workflows`]): the `workflow` row, the owning
//!   `run` row, per-task durations, notifications, usage samples on success;
//! * the training-job custom resources ([`training`]): status changes logged, final ones
//!   notified; kinds whose CRD is absent are skipped and looked for again later;
//! * pods ([`pods`]): crash notifications of inference pods, at most one an hour.
//!
//! Restart safety: every watcher starts with a full list (and relists after a `410
//! Gone`); listed objects are applied like changes, and the row rules of
//! `app_core::workflow_status` make a replayed or stale event harmless, so a transition
//! that happened while `watch` was down is applied at the next start.

pub mod apply;
pub mod pods;
pub mod settings;
pub mod store;
pub mod training;
pub mod workflows;

use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use app_core::Config;
use app_core::k8s::cluster::ClusterRegistry;
use app_core::metrics::Metrics;
use app_core::notify::{self, Notification, SendOnceError, Sender};
use app_core::retry::{Backoff, retry_forever};
use app_core::shutdown::Shutdown;
use app_core::usage::Prometheus;
use app_models::db::DbPool;
use redis::aio::ConnectionManager;

pub use settings::WatchSettings;

/// Everything the watchers share.
pub struct WatchState {
    /// The configuration of every binary.
    pub config: Config,
    /// The watcher's own knobs.
    pub settings: WatchSettings,
    /// MySQL.
    pub pool: DbPool,
    /// Redis, for once-only notification keys.
    pub redis: ConnectionManager,
    /// Where notifications go (webhook or log).
    pub sender: Arc<dyn Sender>,
    /// The `/metrics` registry.
    pub metrics: Metrics,
    /// The configured clusters.
    pub registry: ClusterRegistry,
    /// `PROMETHEUS_URL`; without it no usage samples are recorded.
    pub prometheus: Option<Prometheus>,
    /// Triggered on SIGTERM/SIGINT.
    pub shutdown: Shutdown,
    /// Set once "no Prometheus" was logged.
    pub(crate) no_prometheus_logged: AtomicBool,
    /// The largest lag seen (seconds).
    pub(crate) lag_max: std::sync::Mutex<f64>,
}

impl WatchState {
    /// A state with the cluster registry, sender and Prometheus of the configuration.
    pub fn new(
        config: Config,
        settings: WatchSettings,
        pool: DbPool,
        redis: ConnectionManager,
        metrics: Metrics,
        shutdown: Shutdown,
    ) -> WatchState {
        WatchState {
            registry: ClusterRegistry::from_config(&config),
            sender: app_core::notify::sender_from_config(&config),
            prometheus: config.prometheus_url.as_deref().map(Prometheus::new),
            config,
            settings,
            pool,
            redis,
            metrics,
            shutdown,
            no_prometheus_logged: AtomicBool::new(false),
            lag_max: std::sync::Mutex::new(0.0),
        }
    }
}

/// Sends `n` once per `key` within `ttl_secs` (`app_core::notify::send_once`: a failed
/// send releases the claim) and counts a sent one in `watch_notifications_total{source}`.
pub(crate) async fn notify_once(
    state: &WatchState,
    key: &str,
    ttl_secs: u64,
    n: &Notification,
) -> Result<bool, SendOnceError> {
    let mut conn = state.redis.clone();
    let sent = notify::send_once(&mut conn, state.sender.as_ref(), key, ttl_secs, n).await?;
    if sent {
        state.metrics.inc(
            "watch_notifications_total",
            "Notifications sent",
            &[("source", &n.source)],
        );
    }
    Ok(sent)
}

/// Counts a watcher restart in `watch_restarts_total{cluster,kind,why}`: `why` is
/// `relist` (a list after the first one) or `error` (the watch failed and resumes).
pub(crate) fn restarted(state: &WatchState, cluster: &str, kind: &str, why: &str) {
    state.metrics.inc(
        "watch_restarts_total",
        "Watch restarts: relists after the first list, and watch errors",
        &[("cluster", cluster), ("kind", kind), ("why", why)],
    );
}

/// Runs the watchers of every configured cluster until shutdown.
pub async fn run(state: Arc<WatchState>) {
    let mut set = tokio::task::JoinSet::new();
    for cluster in state.registry.names() {
        set.spawn(run_cluster(state.clone(), cluster));
    }
    while let Some(r) = set.join_next().await {
        if let Err(e) = r {
            tracing::error!(error = %e, "a watcher task panicked");
        }
    }
}

/// The watchers of one cluster; waits (with backoff) until its client can be built.
async fn run_cluster(state: Arc<WatchState>, cluster: String) {
    let Some(client) = retry_forever(
        &format!("cluster {cluster}"),
        Backoff::default(),
        Some(state.shutdown.clone()),
        || state.registry.client(&cluster),
    )
    .await
    else {
        return;
    };
    tracing::info!(%cluster, "watching");
    let mut set = tokio::task::JoinSet::new();
    set.spawn(workflows::watch(
        state.clone(),
        cluster.clone(),
        client.clone(),
    ));
    if state.settings.training {
        for kind in app_core::k8s::ops::TRAINING_KINDS {
            set.spawn(training::watch(
                state.clone(),
                cluster.clone(),
                client.clone(),
                *kind,
            ));
        }
    }
    if state.settings.pods {
        set.spawn(pods::watch(state.clone(), cluster.clone(), client.clone()));
    }
    while let Some(r) = set.join_next().await {
        if let Err(e) = r {
            tracing::error!(%cluster, error = %e, "a watcher task panicked");
        }
    }
}
