//! The frame shared by the long-running binaries (`schedule`, `worker`, `watch`):
//! signals, the ops server, and health that follows the dependencies.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use app_models::db::DbPool;
use redis::aio::ConnectionManager;

use crate::Config;
use crate::database::{wait_for_database, with_conn};
use crate::metrics::Metrics;
use crate::ops_server::serve_ops;
use crate::redis_conn::wait_for_redis;
use crate::retry::Backoff;
use crate::shutdown::{Shutdown, ShutdownTrigger, shutdown_channel, shutdown_signal};

/// A dependency's name and whether it is up.
type DependencyFlag = (String, Arc<AtomicBool>);

/// Named dependency flags; `/health` is 503 while any of them is down.
#[derive(Clone, Default)]
pub struct Health {
    deps: Arc<std::sync::Mutex<Vec<DependencyFlag>>>,
}

/// The dependencies that are down.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("unavailable: {}", .0.join(", "))]
pub struct Unavailable(pub Vec<String>);

impl Health {
    /// Registers a dependency (initially down) and returns its flag.
    pub fn dependency(&self, name: &str) -> Arc<AtomicBool> {
        let flag = Arc::new(AtomicBool::new(false));
        if let Ok(mut d) = self.deps.lock() {
            d.push((name.to_string(), flag.clone()));
        }
        flag
    }

    /// `Ok` when every dependency is up, else the names of those that are down.
    pub fn check(&self) -> Result<(), Unavailable> {
        let down: Vec<String> = match self.deps.lock() {
            Ok(d) => d
                .iter()
                .filter(|(_, f)| !f.load(Ordering::Relaxed))
                .map(|(n, _)| n.clone())
                .collect(),
            Err(_) => vec!["health registry".into()],
        };
        if down.is_empty() {
            Ok(())
        } else {
            Err(Unavailable(down))
        }
    }
}

/// What a service's main loop gets.
pub struct ServiceFrame {
    pub metrics: Metrics,
    pub health: Health,
    pub shutdown: Shutdown,
    trigger: Arc<ShutdownTrigger>,
    server: actix_web::dev::ServerHandle,
}

impl ServiceFrame {
    /// Starts the ops server on `addr` and listens for SIGTERM/SIGINT.
    pub fn start(name: &str, addr: &str) -> std::io::Result<ServiceFrame> {
        let metrics = Metrics::new();
        let health = Health::default();
        let (trigger, shutdown) = shutdown_channel();
        let trigger = Arc::new(trigger);
        let h = health.clone();
        let server = serve_ops(addr, metrics.clone(), Arc::new(move || h.check()))?;
        let handle = server.handle();
        tokio::spawn(server);
        let t = trigger.clone();
        tokio::spawn(async move {
            shutdown_signal().await;
            t.trigger();
        });
        tracing::info!(service = name, %addr, "ops server listening (/health, /metrics)");
        Ok(ServiceFrame {
            metrics,
            health,
            shutdown,
            trigger,
            server: handle,
        })
    }

    /// Waits for MySQL and then Redis (`/health` says which is still down), then keeps
    /// probing both — every 5 s, backing off to 16 s while one fails — so `/health`
    /// follows them for as long as the service runs. `None` when a shutdown came first.
    pub async fn connect(&self, config: &Config) -> Option<(DbPool, ConnectionManager)> {
        let db_up = self.health.dependency("mysql");
        let redis_up = self.health.dependency("redis");
        let pool = wait_for_database(
            &config.database_url,
            config.db_pool_size,
            false,
            Some(self.shutdown.clone()),
        )
        .await?;
        db_up.store(true, Ordering::Relaxed);
        let redis = wait_for_redis(&config.redis_url, Some(self.shutdown.clone())).await?;
        redis_up.store(true, Ordering::Relaxed);
        tokio::spawn(probe_dependencies(
            pool.clone(),
            redis.clone(),
            db_up,
            redis_up,
            self.shutdown.clone(),
        ));
        Some((pool, redis))
    }

    /// Asks everything to stop (as a signal would).
    pub fn stop(&self) {
        self.trigger.trigger();
    }

    /// Stops the ops server; call last.
    pub async fn finish(self) {
        self.server.stop(true).await;
    }
}

/// Between probes while a dependency is down: 2, 4, 8, then 16 s.
const PROBE_BACKOFF: Backoff = Backoff {
    initial: std::time::Duration::from_secs(2),
    max: std::time::Duration::from_secs(16),
};

/// The loop behind [`ServiceFrame::connect`]: `SELECT 1` and `PING`, flags up or down,
/// one warning per failed probe and one line when a dependency is back.
async fn probe_dependencies(
    pool: DbPool,
    mut redis: ConnectionManager,
    db_up: Arc<AtomicBool>,
    redis_up: Arc<AtomicBool>,
    mut shutdown: Shutdown,
) {
    let mut failures = [0u32; 2];
    loop {
        let db = with_conn(&pool, |conn| {
            use diesel::RunQueryDsl;
            Ok(diesel::sql_query("SELECT 1").execute(conn)?)
        })
        .await
        .map(|_| ())
        .map_err(|e| e.to_string());
        let ping = tokio::time::timeout(
            std::time::Duration::from_secs(5),
            redis::cmd("PING").query_async::<String>(&mut redis),
        )
        .await;
        let red = match ping {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(e)) => Err(e.to_string()),
            Err(_) => Err("no answer within 5 s".to_string()),
        };
        for (i, (name, flag, result)) in [("mysql", &db_up, db), ("redis", &redis_up, red)]
            .into_iter()
            .enumerate()
        {
            match result {
                Ok(()) => {
                    if failures[i] > 0 {
                        tracing::info!(dependency = name, "{name} is back");
                    }
                    failures[i] = 0;
                    flag.store(true, Ordering::Relaxed);
                }
                Err(error) => {
                    failures[i] += 1;
                    flag.store(false, Ordering::Relaxed);
                    tracing::warn!(dependency = name, %error, failures = failures[i], "{name} unreachable, retrying");
                }
            }
        }
        let worst = failures[0].max(failures[1]);
        let wait = if worst == 0 {
            std::time::Duration::from_secs(5)
        } else {
            PROBE_BACKOFF.delay(worst - 1)
        };
        if shutdown.sleep(wait).await {
            break;
        }
    }
}
