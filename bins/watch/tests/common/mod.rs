//! Fixtures of the watch tests: the shared rows and configuration (`testkit::fixtures`),
//! in-process watchers, local HTTP stubs (webhook, Prometheus).
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use app_core::Config;
use app_core::metrics::Metrics;
use app_core::shutdown::{ShutdownTrigger, shutdown_channel};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use watch::{WatchSettings, WatchState};

#[allow(unused_imports)]
pub use testkit::fixtures::*;
#[allow(unused_imports)]
pub use testkit::webhook::Webhook;

/// An in-process `watch` (the real watchers) and its stop button.
pub struct TestWatch {
    pub state: Arc<WatchState>,
    trigger: ShutdownTrigger,
    handle: tokio::task::JoinHandle<()>,
}

impl TestWatch {
    pub async fn start(config: Config, prefix: &str, extra: &[(&str, &str)]) -> TestWatch {
        let mut vars: HashMap<String, String> =
            [("WATCH_KEY_PREFIX", prefix), ("WATCH_SHARDS", "4")]
                .into_iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect();
        for (k, v) in extra {
            vars.insert(k.to_string(), v.to_string());
        }
        let settings = WatchSettings::from_lookup(&config, &|k| vars.get(k).cloned()).unwrap();
        let redis = app_core::redis_conn::wait_for_redis(&config.redis_url, None)
            .await
            .unwrap();
        let pool = app_models::db::build_pool(&config.database_url, 8);
        let (trigger, shutdown) = shutdown_channel();
        let state = Arc::new(WatchState::new(
            config,
            settings,
            pool,
            redis,
            Metrics::new(),
            shutdown,
        ));
        let handle = tokio::spawn(watch::run(state.clone()));
        TestWatch {
            state,
            trigger,
            handle,
        }
    }

    /// A counter or gauge of this watcher's metrics.
    pub fn metric(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        self.state.metrics.get(name, labels)
    }

    /// Stops it as SIGTERM would and waits.
    pub async fn stop(self) {
        self.trigger.trigger();
        let _ = tokio::time::timeout(Duration::from_secs(30), self.handle).await;
    }
}

/// A local Prometheus: `/api/v1/query` answers `cpu` for CPU queries and `memory_bytes`
/// for the others, and keeps the queries.
pub struct FakePrometheus {
    pub url: String,
    pub queries: Arc<Mutex<Vec<String>>>,
}

impl FakePrometheus {
    pub async fn start(cpu: f64, memory_bytes: f64) -> FakePrometheus {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let queries: Arc<Mutex<Vec<String>>> = Arc::default();
        let store = queries.clone();
        tokio::spawn(async move {
            while let Ok((mut sock, _)) = listener.accept().await {
                let store = store.clone();
                tokio::spawn(async move {
                    let mut buf = Vec::new();
                    loop {
                        let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") else {
                            let mut chunk = [0u8; 4096];
                            match sock.read(&mut chunk).await {
                                Ok(0) | Err(_) => return,
                                Ok(n) => {
                                    buf.extend_from_slice(&chunk[..n]);
                                    continue;
                                }
                            }
                        };
                        let head = String::from_utf8_lossy(&buf[..end]).to_string();
                        buf.drain(..end + 4);
                        let target = head.split_whitespace().nth(1).unwrap_or("").to_string();
                        let query = url::Url::parse(&format!("http://x{target}"))
                            .ok()
                            .and_then(|u| {
                                u.query_pairs()
                                    .find(|(k, _)| k == "query")
                                    .map(|(_, v)| v.to_string())
                            })
                            .unwrap_or_default();
                        let value = if query.contains("cpu") {
                            cpu
                        } else {
                            memory_bytes
                        };
                        store.lock().unwrap().push(query);
                        let body = serde_json::json!({"status": "success", "data": {"resultType": "vector",
                            "result": [{"metric": {"pod": "p"}, "value": [1, value.to_string()]}]}})
                        .to_string();
                        let reply = format!(
                            "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
                            body.len()
                        );
                        if sock.write_all(reply.as_bytes()).await.is_err() {
                            return;
                        }
                    }
                });
            }
        });
        FakePrometheus { url, queries }
    }
}
