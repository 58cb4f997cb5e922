//! The apalis side: one supervised worker per queue, retries, metrics, queue depths.
//!
//! Retry policy. apalis-redis reschedules any failed job by itself (`attempt` seconds
//! later, up to 25 attempts, ignoring `RetryAfterError` durations) and sends a job that
//! fails with `AbortError` to its dead set. So:
//! * a **transient** error is retried in-process with exponential backoff
//!   (`WORKER_RETRY_INITIAL_MS` doubling up to `WORKER_RETRY_MAX_MS`, for
//!   `WORKER_RETRY_ATTEMPTS` attempts) while the job stays leased to this worker; if it
//!   still fails, or SIGTERM comes during a backoff, the job goes back to the queue with
//!   a plain error and apalis-redis delivers it again later;
//! * a **permanent** error ends the job with `AbortError`: no retry, the job lands in the
//!   queue's dead set (the submit handler has marked its run `Failed` first).
//!
//! Metrics: `worker_jobs_total{queue,outcome=done|skipped|failed|requeued}`,
//! `worker_job_retries_total{queue}`, `worker_jobs_in_flight{queue}`,
//! `worker_queue_depth{queue,state=active|scheduled|dead}`, `worker_restarts_total{queue}`.

use std::fmt::Debug;
use std::sync::Arc;
use std::time::{Duration, Instant};

use apalis::prelude::{
    AbortError, Attempt, BackendExt, BoxDynError, WorkerBuilder, WorkerBuilderExt, WorkerContext,
};
use apalis_core::backend::Vacuum;
use apalis_redis::RedisStorage;
use app_core::jobs::{
    CLEANUP_QUEUE, Cleanup, STOP_RUN_QUEUE, SUBMIT_RUN_QUEUE, StopRun, SubmitRun, queue_config,
};
use app_core::retry::Backoff;
use futures::future::BoxFuture;
use redis::aio::ConnectionManager;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::WorkerState;
use crate::error::JobError;
use crate::handlers::{self, Outcome};

/// A job handler.
pub type Handler<A> = fn(Arc<WorkerState>, A) -> BoxFuture<'static, Result<Outcome, JobError>>;

/// Numbers the workers of this process: apalis refuses a name it saw alive recently.
static GENERATION: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// Finished jobs older than this are vacuumed from Redis (data and metadata).
const KEEP_FINISHED: Duration = Duration::from_secs(7 * 24 * 3600);

/// Runs the workers of every queue until shutdown; returns when they have stopped.
pub async fn run(state: Arc<WorkerState>, conn: ConnectionManager) {
    let mut set = tokio::task::JoinSet::new();
    set.spawn(supervise::<SubmitRun>(
        state.clone(),
        conn.clone(),
        "submit",
        state.settings.queue(SUBMIT_RUN_QUEUE),
        |s, j| Box::pin(handlers::submit_run(s, j)),
    ));
    set.spawn(supervise::<StopRun>(
        state.clone(),
        conn.clone(),
        "stop",
        state.settings.queue(STOP_RUN_QUEUE),
        |s, j| Box::pin(handlers::stop_run(s, j)),
    ));
    set.spawn(supervise::<Cleanup>(
        state.clone(),
        conn.clone(),
        "cleanup",
        state.settings.queue(CLEANUP_QUEUE),
        |s, j| Box::pin(handlers::cleanup(s, j)),
    ));
    set.spawn(watch_queues(state.clone(), conn));
    while let Some(r) = set.join_next().await {
        if let Err(e) = r {
            tracing::error!(error = %e, "a worker task panicked");
        }
    }
}

/// Decrements the in-flight gauge when a job ends, however it ends.
struct InFlight<'a> {
    state: &'a WorkerState,
    queue: &'static str,
}

impl<'a> InFlight<'a> {
    fn enter(state: &'a WorkerState, queue: &'static str) -> Self {
        state.metrics.add(
            "worker_jobs_in_flight",
            "Jobs being handled",
            &[("queue", queue)],
            1.0,
        );
        InFlight { state, queue }
    }
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.state.metrics.add(
            "worker_jobs_in_flight",
            "Jobs being handled",
            &[("queue", self.queue)],
            -1.0,
        );
    }
}

fn count(state: &WorkerState, queue: &'static str, outcome: &str) {
    state.metrics.inc(
        "worker_jobs_total",
        "Jobs handled, by outcome",
        &[("queue", queue), ("outcome", outcome)],
    );
}

/// Calls `handler` until it succeeds, fails permanently, or the in-process attempts of a
/// transient failure are used up (or shutdown starts).
pub async fn with_retries<A: Clone + Debug>(
    state: &Arc<WorkerState>,
    queue: &'static str,
    job: &A,
    handler: Handler<A>,
) -> Result<Outcome, JobError> {
    let mut shutdown = state.shutdown.clone();
    let attempts = state.settings.retry_attempts.max(1);
    let mut attempt = 0;
    loop {
        match handler(state.clone(), job.clone()).await {
            Err(JobError::Transient(e)) => {
                attempt += 1;
                if attempt >= attempts || shutdown.is_triggered() {
                    return Err(JobError::Transient(e));
                }
                let delay = backoff(state.settings.retry, attempt - 1);
                state.metrics.inc(
                    "worker_job_retries_total",
                    "In-process retries of transient failures",
                    &[("queue", queue)],
                );
                tracing::warn!(queue, ?job, error = %e, attempt, retry_in_ms = delay.as_millis() as u64, "transient failure, retrying");
                if shutdown.sleep(delay).await {
                    return Err(JobError::Transient(format!(
                        "{e} (shutting down before the retry)"
                    )));
                }
            }
            other => return other,
        }
    }
}

fn backoff(policy: Backoff, attempt: u32) -> Duration {
    policy.delay(attempt)
}

/// One delivery of a job: retries, metrics, logs, and the answer apalis understands.
async fn execute<A: Clone + Debug>(
    state: Arc<WorkerState>,
    queue: &'static str,
    job: A,
    delivery: usize,
    handler: Handler<A>,
) -> Result<(), BoxDynError> {
    let _in_flight = InFlight::enter(&state, queue);
    let started = Instant::now();
    let result = with_retries(&state, queue, &job, handler).await;
    let ms = started.elapsed().as_millis() as u64;
    match result {
        Ok(Outcome::Done(what)) => {
            count(&state, queue, "done");
            tracing::info!(queue, ?job, delivery, ms, %what, "job done");
            Ok(())
        }
        Ok(Outcome::Skipped(why)) => {
            count(&state, queue, "skipped");
            tracing::info!(queue, ?job, delivery, ms, %why, "job skipped: nothing to do");
            Ok(())
        }
        Err(JobError::Permanent(e)) => {
            count(&state, queue, "failed");
            tracing::error!(queue, ?job, delivery, ms, error = %e, "job failed permanently, not retried");
            Err(Box::new(AbortError::new(e)))
        }
        Err(JobError::Transient(e)) => {
            count(&state, queue, "requeued");
            tracing::warn!(queue, ?job, delivery, ms, error = %e, "job still failing, returned to the queue");
            Err(e.into())
        }
    }
}

fn hostname() -> String {
    hostname::get()
        .map(|h| h.to_string_lossy().to_string())
        .unwrap_or_else(|_| "worker".into())
}

/// How a worker run ended.
enum Ended {
    Stopped(Result<(), apalis::prelude::WorkerError>),
    /// Shutdown, and the jobs in flight did not finish within the grace period.
    GraceExpired,
}

/// Runs one apalis worker per generation; rebuilds it (new name) when it stops on its
/// own, until shutdown.
async fn supervise<A>(
    state: Arc<WorkerState>,
    conn: ConnectionManager,
    short: &'static str,
    queue: String,
    handler: Handler<A>,
) where
    A: Serialize + DeserializeOwned + Clone + Debug + Send + Sync + Unpin + 'static,
{
    let (host, pid) = (hostname(), std::process::id());
    let mut shutdown = state.shutdown.clone();
    let mut failures = 0u32;
    loop {
        if shutdown.is_triggered() {
            break;
        }
        // unique within the process too (several runtimes in one test process)
        let generation = GENERATION.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let name = format!("{host}-{pid}-{short}-{generation}");
        let config = queue_config(&queue).batch_size(state.settings.concurrency.max(1));
        let storage: RedisStorage<A> = RedisStorage::new(conn.clone()).with_config(config.clone());
        let ctx = WorkerContext::new(&name);
        let st = state.clone();
        let worker = WorkerBuilder::new(ctx.clone())
            .backend(storage.poll_with_interval(state.settings.poll_interval))
            .concurrency(state.settings.concurrency.max(1))
            .build(
                move |job: A, attempt: Attempt| -> BoxFuture<'static, Result<(), BoxDynError>> {
                    Box::pin(execute(st.clone(), short, job, attempt.current(), handler))
                },
            );
        tracing::info!(worker = %name, %queue, concurrency = state.settings.concurrency, "worker starting");
        let started = Instant::now();
        let run: BoxFuture<'static, Result<(), apalis::prelude::WorkerError>> =
            Box::pin(worker.run());
        let ended = run_until_shutdown(
            run,
            ctx.clone(),
            &mut shutdown,
            state.settings.shutdown_grace,
        )
        .await;
        match ended {
            Ended::Stopped(Ok(())) if shutdown.is_triggered() => {
                tracing::info!(worker = %name, "worker stopped");
                break;
            }
            Ended::Stopped(Ok(())) => {
                tracing::warn!(worker = %name, "worker stopped by itself; restarting")
            }
            Ended::Stopped(Err(e)) => {
                tracing::error!(worker = %name, error = %e, "worker failed (Redis unreachable?); restarting")
            }
            Ended::GraceExpired => {
                match return_in_flight(conn.clone(), &config, &ctx).await {
                    Ok(n) => {
                        tracing::warn!(worker = %name, returned = n, "jobs still running after the grace period were returned to the queue")
                    }
                    Err(e) => {
                        tracing::error!(worker = %name, error = %e, "cannot return the jobs in flight; they come back when this worker's heartbeats are missed")
                    }
                }
                break;
            }
        }
        if shutdown.is_triggered() {
            break;
        }
        state.metrics.inc(
            "worker_restarts_total",
            "Workers rebuilt after a failure",
            &[("queue", short)],
        );
        if started.elapsed() > Duration::from_secs(60) {
            failures = 0;
        }
        let delay = Backoff::default().delay(failures);
        failures = failures.saturating_add(1);
        if shutdown.sleep(delay).await {
            break;
        }
    }
}

/// Drives a worker; on shutdown asks it to stop (it finishes the jobs in flight and
/// returns the fetched ones) and waits up to `grace`.
async fn run_until_shutdown<F>(
    run: F,
    ctx: WorkerContext,
    shutdown: &mut app_core::shutdown::Shutdown,
    grace: Duration,
) -> Ended
where
    F: std::future::Future<Output = Result<(), apalis::prelude::WorkerError>>,
{
    tokio::pin!(run);
    tokio::select! {
        r = &mut run => return Ended::Stopped(r),
        _ = shutdown.wait() => {}
    }
    let deadline = tokio::time::sleep(grace);
    tokio::pin!(deadline);
    let mut stopped = false;
    loop {
        tokio::select! {
            r = &mut run => return Ended::Stopped(r),
            _ = &mut deadline => return Ended::GraceExpired,
            // `stop` fails until the worker has started: keep asking
            _ = tokio::time::sleep(Duration::from_millis(20)), if !stopped => {
                stopped = ctx.stop().is_ok();
            }
        }
    }
}

/// Puts every job leased to this worker back at the end of the queue.
fn return_in_flight(
    mut conn: ConnectionManager,
    config: &apalis_redis::Config,
    ctx: &WorkerContext,
) -> BoxFuture<'static, Result<usize, redis::RedisError>> {
    let keys = [
        config.inflight_set_for(ctx),
        config.active_jobs_list(),
        config.signal_list(),
    ];
    Box::pin(async move {
        let script = redis::Script::new(
            r"local ids = redis.call('smembers', KEYS[1])
if #ids > 0 then
  redis.call('rpush', KEYS[2], unpack(ids))
  redis.call('del', KEYS[1])
  redis.call('del', KEYS[3])
  redis.call('lpush', KEYS[3], 1)
end
return #ids",
        );
        let mut invocation = script.prepare_invoke();
        for k in &keys {
            invocation.key(k);
        }
        invocation.invoke_async(&mut conn).await
    })
}

/// Every 5 s: queue depths per queue; every hour: vacuum finished jobs older than a week.
async fn watch_queues(state: Arc<WorkerState>, conn: ConnectionManager) {
    let queues = [
        ("submit", state.settings.queue(SUBMIT_RUN_QUEUE)),
        ("stop", state.settings.queue(STOP_RUN_QUEUE)),
        ("cleanup", state.settings.queue(CLEANUP_QUEUE)),
    ];
    let mut shutdown = state.shutdown.clone();
    let mut last_vacuum: Option<Instant> = None;
    loop {
        for (short, q) in &queues {
            let cfg = queue_config(q);
            let mut c = conn.clone();
            let depth: Result<(i64, i64, i64), redis::RedisError> = redis::pipe()
                .cmd("LLEN")
                .arg(cfg.active_jobs_list())
                .cmd("ZCARD")
                .arg(cfg.scheduled_jobs_set())
                .cmd("SCARD")
                .arg(cfg.dead_jobs_set())
                .query_async(&mut c)
                .await;
            match depth {
                Ok((active, scheduled, dead)) => {
                    for (s, v) in [("active", active), ("scheduled", scheduled), ("dead", dead)] {
                        state.metrics.set(
                            "worker_queue_depth",
                            "Jobs in a queue: waiting (active), waiting for a retry (scheduled), given up (dead)",
                            &[("queue", short), ("state", s)],
                            v as f64,
                        );
                    }
                }
                Err(e) => tracing::warn!(queue = %q, error = %e, "cannot read the queue depth"),
            }
        }
        if last_vacuum.is_none_or(|t| t.elapsed() > Duration::from_secs(3600)) {
            last_vacuum = Some(Instant::now());
            vacuum::<SubmitRun>(&conn, &queues[0].1).await;
            vacuum::<StopRun>(&conn, &queues[1].1).await;
            vacuum::<Cleanup>(&conn, &queues[2].1).await;
        }
        if shutdown.sleep(Duration::from_secs(5)).await {
            return;
        }
    }
}

async fn vacuum<A: Send + Sync + Unpin + 'static>(conn: &ConnectionManager, queue: &str) {
    let mut storage: RedisStorage<A> =
        RedisStorage::new(conn.clone()).with_config(queue_config(queue));
    match storage.vacuum_before(KEEP_FINISHED).await {
        Ok(n) if n > 0 => tracing::info!(queue, removed = n, "vacuumed finished jobs"),
        Ok(_) => {}
        Err(e) => tracing::warn!(queue, error = %e, "cannot vacuum finished jobs"),
    }
}
