//! `worker`: apalis 1.0 workers on the apalis-redis queues of `app_core::jobs` (the
//! original's Celery worker, orchestration.md §3.2, §4).
//!
//! * One apalis `Worker` per queue (`SubmitRun`, `StopRun`, `Cleanup`), named
//!   `<hostname>-<pid>-<queue>-<generation>` (unique: apalis refuses a name seen alive
//!   within the orphan timeout), concurrency `WORKER_CONCURRENCY` each. A worker whose
//!   backend fails (Redis restarted, heartbeat lost) is rebuilt under a new name after a
//!   backoff; its leased jobs return to the queue when its heartbeats stop.
//! * Nothing is lost: a job is leased to one worker (its in-flight set) and leaves the
//!   queue only when acknowledged after the handler returns; the heartbeats of any live
//!   worker return the jobs of a worker that missed 3 heartbeats of 3 s (SIGKILL, crash).
//!   Every handler is idempotent, so a job run twice does its work once.
//! * Failures: see [`runtime`] for the retry policy (transient: exponential backoff
//!   in-process, then back to the queue; permanent: no retry, the run is marked `Failed`).
//! * SIGTERM stops fetching, lets jobs in flight finish for `WORKER_SHUTDOWN_GRACE_SECS`,
//!   returns the fetched-but-not-started ones, and on timeout returns the rest too.

pub mod error;
pub mod handlers;
pub mod runtime;
pub mod settings;

use std::sync::Arc;

use app_core::Config;
use app_core::k8s::cluster::ClusterRegistry;
use app_core::metrics::Metrics;
use app_core::notify::Sender;
use app_core::shutdown::Shutdown;
use app_models::db::DbPool;
use redis::aio::ConnectionManager;

pub use settings::WorkerSettings;

/// Everything a job handler may use.
pub struct WorkerState {
    /// The configuration of every binary.
    pub config: Config,
    /// The worker's own knobs.
    pub settings: WorkerSettings,
    /// MySQL.
    pub pool: DbPool,
    /// The configured clusters.
    pub registry: ClusterRegistry,
    /// Redis for once-only notification keys (the queues have their own storages).
    pub redis: ConnectionManager,
    /// Where notifications go (webhook or log).
    pub sender: Arc<dyn Sender>,
    /// The `/metrics` registry.
    pub metrics: Metrics,
    /// Triggered on SIGTERM/SIGINT: retries stop waiting.
    pub shutdown: Shutdown,
}

impl WorkerState {
    /// A state with the cluster registry and notification sender of the configuration.
    pub fn new(
        config: Config,
        settings: WorkerSettings,
        pool: DbPool,
        redis: ConnectionManager,
        metrics: Metrics,
        shutdown: Shutdown,
    ) -> WorkerState {
        WorkerState {
            registry: ClusterRegistry::from_config(&config),
            sender: app_core::notify::sender_from_config(&config),
            config,
            settings,
            pool,
            redis,
            metrics,
            shutdown,
        }
    }
}
