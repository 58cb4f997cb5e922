//! What every scheduled task can use.

use std::sync::Arc;

use app_core::Config;
use app_core::jobs::JobQueues;
use app_core::k8s::cluster::ClusterRegistry;
use app_core::metrics::Metrics;
use app_core::notify::{Notification, SendOnceError, Sender};
use app_models::DbPool;
use redis::aio::ConnectionManager;
use tokio::sync::Mutex;

/// Shared state of the scheduler.
pub struct Ctx {
    pub config: Arc<Config>,
    pub pool: DbPool,
    pub redis: ConnectionManager,
    pub queues: Mutex<JobQueues>,
    pub clusters: Arc<ClusterRegistry>,
    pub sender: Arc<dyn Sender>,
    pub metrics: Metrics,
    /// Prefix of every Redis key this process writes (tests isolate themselves with it).
    pub key_prefix: String,
    /// What the cron planner remembers between ticks.
    pub plan: std::sync::Mutex<crate::plan_state::PlanState>,
}

impl Ctx {
    /// Counts a database write that failed and was given up (logged by the caller).
    pub fn failed_write(&self, what: &str) {
        self.metrics.inc(
            "schedule_failed_writes_total",
            "Database writes that failed and were given up",
            &[("what", what)],
        );
    }

    /// Builds the context from its parts.
    pub fn new(
        config: Arc<Config>,
        pool: DbPool,
        redis: ConnectionManager,
        key_prefix: &str,
        metrics: Metrics,
    ) -> Ctx {
        Ctx {
            queues: Mutex::new(JobQueues::new(redis.clone(), key_prefix)),
            clusters: Arc::new(ClusterRegistry::from_config(&config)),
            sender: app_core::notify::sender_from_config(&config),
            config,
            pool,
            redis,
            metrics,
            key_prefix: key_prefix.to_string(),
            plan: Default::default(),
        }
    }

    /// A Redis key under this process's prefix.
    pub fn key(&self, rest: &str) -> String {
        format!("{}cube-studio:schedule:{rest}", self.key_prefix)
    }

    /// Sends a notification to users (errors are logged, never fatal).
    pub async fn notify(&self, receivers: Vec<String>, message: String, source: &str) {
        let Some(n) = notification(receivers, message, source) else {
            return;
        };
        if let Err(e) = self.sender.send(&n).await {
            tracing::warn!(error = %e, "notification failed");
        }
    }

    /// Sends a notification to the admins (`ADMIN_USER`).
    pub async fn notify_admins(&self, message: String, source: &str) {
        self.notify(self.config.admin_users.clone(), message, source)
            .await;
    }

    /// Sends a notification once per `dedup` key within `ttl_secs`
    /// (`app_core::notify::send_once`): a failed send releases the claim, so a later
    /// attempt sends it.
    pub async fn notify_once(
        &self,
        dedup: &str,
        ttl_secs: u64,
        receivers: Vec<String>,
        message: String,
        source: &str,
    ) {
        let key = self.key(&format!("notified:{dedup}"));
        let mut conn = self.redis.clone();
        let Some(n) = notification(receivers, message, source) else {
            // nobody to tell: the key is claimed all the same, as it always was
            if let Err(e) = app_core::notify::first_time(&mut conn, &key, ttl_secs).await {
                tracing::warn!(error = %e, "redis unavailable: notification skipped");
            }
            return;
        };
        match app_core::notify::send_once(&mut conn, self.sender.as_ref(), &key, ttl_secs, &n).await
        {
            Ok(_) => {}
            Err(SendOnceError::Claim(e)) => {
                tracing::warn!(error = %e, "redis unavailable: notification skipped")
            }
            Err(SendOnceError::Send(e)) => tracing::warn!(error = %e, "notification failed"),
        }
    }

    /// The time now in the configured time zone, as naive local time.
    pub fn now(&self) -> chrono::NaiveDateTime {
        chrono::Utc::now()
            .with_timezone(&self.config.schedule.time_zone)
            .naive_local()
    }
}

/// The notification of `message` to the non-blank `receivers`; `None` when there are none.
fn notification(receivers: Vec<String>, message: String, source: &str) -> Option<Notification> {
    let receivers: Vec<String> = receivers
        .into_iter()
        .filter(|r| !r.trim().is_empty())
        .collect();
    (!receivers.is_empty()).then(|| Notification {
        receivers,
        message,
        links: vec![],
        source: source.to_string(),
    })
}
