//! The frame shared by the long-running binaries (`schedule`, `worker`, `watch`):
//! signals, the ops server, and health that follows the dependencies.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::metrics::Metrics;
use crate::ops_server::serve_ops;
use crate::shutdown::{Shutdown, ShutdownTrigger, shutdown_channel, shutdown_signal};

/// A dependency's name and whether it is up.
type DependencyFlag = (String, Arc<AtomicBool>);

/// Named dependency flags; `/health` is 503 while any of them is down.
#[derive(Clone, Default)]
pub struct Health {
    deps: Arc<std::sync::Mutex<Vec<DependencyFlag>>>,
}

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
    pub fn check(&self) -> Result<(), String> {
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
            Err(format!("unavailable: {}", down.join(", ")))
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

    /// Asks everything to stop (as a signal would).
    pub fn stop(&self) {
        self.trigger.trigger();
    }

    /// Stops the ops server; call last.
    pub async fn finish(self) {
        self.server.stop(true).await;
    }
}
