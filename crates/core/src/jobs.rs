//! Queue payloads shared by producers (`schedule`, `dashboard`) and the consumer
//! (`worker`), with their queue names set explicitly (never the default type name).

use apalis_redis::{ConnectionManager, RedisStorage};
use serde::{Deserialize, Serialize};

/// Queue of [`SubmitRun`].
pub const SUBMIT_RUN_QUEUE: &str = "cube-studio:submit-run";
/// Queue of [`StopRun`].
pub const STOP_RUN_QUEUE: &str = "cube-studio:stop-run";
/// Queue of [`Cleanup`].
pub const CLEANUP_QUEUE: &str = "cube-studio:cleanup";

/// Create the Argo Workflow of a `run` row (a cron run claimed by the scheduler).
/// Idempotent: a redelivered job finds the existing workflow.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SubmitRun {
    /// `run.id`
    pub run: i32,
    pub pipeline: i32,
}

/// Stop everything labelled with a run id and mark the rows `Deleted`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StopRun {
    pub cluster: String,
    pub namespace: String,
    /// The `run-id` label value.
    pub run_id: String,
    /// The `run` row to mark `Deleted`, when the run is a cron run.
    pub run_row: Option<i32>,
    pub reason: String,
}

/// A clean-up on the cluster: decided by the scheduler's housekeeping or left by a
/// dashboard write (deleting a pipeline).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Cleanup {
    /// Delete one object (404 is success).
    DeleteObject {
        cluster: String,
        group: String,
        version: String,
        kind: String,
        plural: String,
        namespace: String,
        name: String,
    },
    /// Delete a pod.
    DeletePod {
        cluster: String,
        namespace: String,
        name: String,
    },
    /// Stop every run of a deleted pipeline: each workflow labelled with its
    /// `pipeline-id`, and everything labelled with that workflow's `run-id`.
    PipelineRuns {
        cluster: String,
        namespace: String,
        pipeline_id: i64,
    },
}

/// A job that could not be pushed to its queue (Redis unreachable or refusing).
#[derive(Debug, thiserror::Error)]
#[error("cannot push to the queue {queue}: {source}")]
pub struct PushError {
    pub queue: &'static str,
    #[source]
    pub source: Box<dyn std::error::Error + Send + Sync>,
}

fn push_error<E: std::error::Error + Send + Sync + 'static>(
    queue: &'static str,
) -> impl FnOnce(E) -> PushError {
    move |e| PushError {
        queue,
        source: Box::new(e),
    }
}

/// The producer side: one storage per queue on a shared connection.
#[derive(Clone)]
pub struct JobQueues {
    pub submit: RedisStorage<SubmitRun>,
    pub stop: RedisStorage<StopRun>,
    pub cleanup: RedisStorage<Cleanup>,
}

/// The apalis-redis configuration of a queue: explicit name, heartbeats that reclaim
/// a dead worker's jobs within seconds rather than minutes.
pub fn queue_config(name: &str) -> apalis_redis::Config {
    apalis_redis::Config::default()
        .queue(name)
        .heartbeat_interval(std::time::Duration::from_secs(3))
        .missed_heartbeats(3)
        .idempotency_ttl(Some(std::time::Duration::from_secs(24 * 3600)))
}

impl JobQueues {
    /// Storages on an existing connection; `prefix` isolates tests ("" in production).
    pub fn new(conn: ConnectionManager, prefix: &str) -> JobQueues {
        let name = |q: &str| format!("{prefix}{q}");
        JobQueues {
            submit: RedisStorage::new(conn.clone())
                .with_config(queue_config(&name(SUBMIT_RUN_QUEUE))),
            stop: RedisStorage::new(conn.clone()).with_config(queue_config(&name(STOP_RUN_QUEUE))),
            cleanup: RedisStorage::new(conn).with_config(queue_config(&name(CLEANUP_QUEUE))),
        }
    }

    /// Pushes a submit job; the idempotency key (the run row id) makes a second push
    /// of the same run a no-op while the first is known to the queue.
    pub async fn push_submit(&mut self, job: SubmitRun) -> Result<(), PushError> {
        use apalis::prelude::{TaskBuilder, TaskSink};
        let key = format!("run-{}", job.run);
        self.submit
            .push_task(TaskBuilder::new(job).idempotency_key(key).build())
            .await
            .map(|_| ())
            .map_err(push_error(SUBMIT_RUN_QUEUE))
    }

    /// Pushes a stop job.
    pub async fn push_stop(&mut self, job: StopRun) -> Result<(), PushError> {
        use apalis::prelude::TaskSink;
        self.stop
            .push(job)
            .await
            .map(|_| ())
            .map_err(push_error(STOP_RUN_QUEUE))
    }

    /// Pushes a clean-up job.
    pub async fn push_cleanup(&mut self, job: Cleanup) -> Result<(), PushError> {
        use apalis::prelude::TaskSink;
        self.cleanup
            .push(job)
            .await
            .map(|_| ())
            .map_err(push_error(CLEANUP_QUEUE))
    }
}

/// True while the job pushed with `idempotency_key` is still pending or running in the
/// queue of `config` (apalis-redis keeps `<queue>:idempotency:<key>` → task id, and the
/// task's status in `<queue>:meta:<id>`). False when it never arrived, or has finished,
/// failed for good or been killed — the cases where pushing it again is right.
pub async fn job_alive(
    conn: &mut ConnectionManager,
    config: &apalis_redis::Config,
    idempotency_key: &str,
) -> Result<bool, redis::RedisError> {
    let idem = format!("{}:{idempotency_key}", config.idempotency_key_set());
    let task: Option<String> = redis::cmd("GET").arg(&idem).query_async(conn).await?;
    let Some(task) = task else { return Ok(false) };
    let status: Option<String> = redis::cmd("HGET")
        .arg(format!("{}:{task}", config.job_meta_hash()))
        .arg("status")
        .query_async(conn)
        .await?;
    Ok(matches!(
        status.as_deref(),
        Some("Pending" | "Running" | "Queued" | "Scheduled")
    ))
}
