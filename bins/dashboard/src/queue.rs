//! The worker's queues as the dashboard uses them: cluster work a request leaves
//! (stopping runs, cleaning up a deleted pipeline's runs) is pushed here and done by the
//! `worker`, never inside a request's database work.

use std::time::Duration;

use app_core::jobs::{Cleanup, JobQueues, StopRun};
use tokio::sync::OnceCell;

use crate::error::ApiError;

/// Cluster work left by a write, for the worker.
#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    StopRun(StopRun),
    Cleanup(Cleanup),
}

/// The effects of one request.
pub type Effects = Vec<Effect>;

const TIMEOUT: Duration = Duration::from_secs(5);

/// A lazily connected producer of the worker's queues (the connection reconnects by
/// itself once made).
pub struct Queue {
    redis_url: String,
    prefix: String,
    queues: OnceCell<JobQueues>,
}

fn unreachable(e: impl std::fmt::Display) -> ApiError {
    tracing::warn!(error = %e, "the work queue (Redis) is unreachable");
    ApiError::unavailable(format!(
        "the work queue (Redis) cannot be reached, nothing was changed: {e}"
    ))
}

impl Queue {
    /// `prefix` is put in front of the queue names (`QUEUE_PREFIX`; tests isolate
    /// themselves with it).
    pub fn new(redis_url: &str, prefix: &str) -> Queue {
        Queue {
            redis_url: redis_url.to_string(),
            prefix: prefix.to_string(),
            queues: OnceCell::new(),
        }
    }

    async fn queues(&self) -> Result<JobQueues, ApiError> {
        self.queues
            .get_or_try_init(|| async {
                let client = redis::Client::open(self.redis_url.as_str()).map_err(unreachable)?;
                let conn = tokio::time::timeout(TIMEOUT, client.get_connection_manager())
                    .await
                    .map_err(|_| unreachable("connection timed out"))?
                    .map_err(unreachable)?;
                Ok(JobQueues::new(conn, &self.prefix))
            })
            .await
            .cloned()
    }

    /// Queues every effect; the first failure answers 503. Callers push before they
    /// write, so a queue that cannot be reached leaves nothing written.
    pub async fn push(&self, effects: Effects) -> Result<(), ApiError> {
        if effects.is_empty() {
            return Ok(());
        }
        let mut queues = self.queues().await?;
        for effect in effects {
            let pushed = match effect {
                Effect::StopRun(job) => {
                    tokio::time::timeout(TIMEOUT, queues.push_stop(job.clone())).await
                }
                Effect::Cleanup(job) => {
                    tokio::time::timeout(TIMEOUT, queues.push_cleanup(job.clone())).await
                }
            };
            match pushed {
                Ok(Ok(())) => {}
                Ok(Err(e)) => return Err(unreachable(e)),
                Err(_) => return Err(unreachable("push timed out")),
            }
        }
        Ok(())
    }
}
