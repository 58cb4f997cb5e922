//! The Argo Workflow watcher of one cluster: a `kube::runtime::watcher` in all
//! namespaces whose events are applied by `WATCH_SHARDS` tasks (a workflow always goes to
//! the same shard, so its events stay in order). A shard applies what has queued up
//! (up to `WATCH_BATCH` events) in one transaction: one commit, so one log flush, for all of
//! them; notifications follow the commit, event by event, in order.
//!
//! Metrics: `watch_events_total{cluster,kind,event}` (received),
//! `watch_events_applied_total{cluster}`, `watch_events_ignored_total{cluster}`,
//! `watch_apply_errors_total{cluster}`, `watch_restarts_total{cluster,kind}` (relists
//! after the first, watch errors), `watch_lag_seconds{cluster}` (now − the workflow's
//! last status change, at the last applied event), `watch_lag_seconds_sum` /
//! `watch_lag_seconds_count` (mean), `watch_lag_seconds_bucket{le}` (cumulative, as a
//! Prometheus histogram's) and `watch_lag_seconds_max`.

use std::hash::{Hash, Hasher};
use std::sync::Arc;

use app_core::k8s::ops::WORKFLOW;
use app_core::retry::Backoff;
use app_core::workflow_status::WorkflowSnapshot;
use futures::StreamExt;
use kube::api::{Api, DynamicObject};
use kube::runtime::WatchStreamExt;
use kube::runtime::watcher::{self, Event};
use tokio::sync::mpsc;

use crate::apply::{self, ApplyError, Outcome};
use crate::{WatchState, restarted};

/// Events queued per shard before the watcher waits.
const SHARD_QUEUE: usize = 256;

/// Watches the workflows of a cluster until shutdown.
pub async fn watch(state: Arc<WatchState>, cluster: String, client: kube::Client) {
    let api: Api<DynamicObject> = Api::all_with(client, &WORKFLOW.resource());
    let shards = state.settings.shards.max(1);
    let mut senders = Vec::with_capacity(shards);
    let mut workers = tokio::task::JoinSet::new();
    for _ in 0..shards {
        let (tx, rx) = mpsc::channel::<DynamicObject>(SHARD_QUEUE);
        senders.push(tx);
        workers.spawn(shard(
            state.clone(),
            cluster.clone(),
            rx,
            state.settings.batch,
        ));
    }
    let stream = watcher::watcher(api, watcher::Config::default()).default_backoff();
    let mut stream = std::pin::pin!(stream);
    let mut shutdown = state.shutdown.clone();
    let mut lists = 0u64;
    let mut listed = 0u64;
    loop {
        let event = tokio::select! {
            _ = shutdown.wait() => break,
            e = stream.next() => e,
        };
        let Some(event) = event else { break };
        match event {
            Ok(Event::Init) => {
                lists += 1;
                listed = 0;
                if lists > 1 {
                    restarted(&state, &cluster, "workflows", "relist");
                }
                tracing::info!(%cluster, "listing workflows");
            }
            Ok(Event::InitApply(obj)) => {
                listed += 1;
                received(&state, &cluster, "list");
                dispatch(&senders, obj).await;
            }
            Ok(Event::InitDone) => {
                tracing::info!(%cluster, workflows = listed, "workflow list applied; watching for changes");
            }
            Ok(Event::Apply(obj)) => {
                received(&state, &cluster, "apply");
                dispatch(&senders, obj).await;
            }
            // as the original: a deleted workflow keeps its last status in MySQL
            Ok(Event::Delete(_)) => received(&state, &cluster, "delete"),
            Err(e) => {
                restarted(&state, &cluster, "workflows", "error");
                tracing::warn!(%cluster, error = %e, "workflow watch failed; it resumes (relisting if needed)");
            }
        }
    }
    drop(senders);
    // the shards finish what was queued (or give up on shutdown)
    while workers.join_next().await.is_some() {}
    tracing::info!(%cluster, "workflow watcher stopped");
}

fn received(state: &WatchState, cluster: &str, event: &str) {
    state.metrics.inc(
        "watch_events_total",
        "Watch events received",
        &[
            ("cluster", cluster),
            ("kind", "workflows"),
            ("event", event),
        ],
    );
}

fn shard_of(obj: &DynamicObject, shards: usize) -> usize {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    obj.metadata.namespace.hash(&mut h);
    obj.metadata.name.hash(&mut h);
    (h.finish() % shards.max(1) as u64) as usize
}

async fn dispatch(senders: &[mpsc::Sender<DynamicObject>], obj: DynamicObject) {
    let i = shard_of(&obj, senders.len());
    if let Some(tx) = senders.get(i)
        && tx.send(obj).await.is_err()
    {
        tracing::error!("a workflow shard stopped; event dropped");
    }
}

async fn shard(
    state: Arc<WatchState>,
    cluster: String,
    mut rx: mpsc::Receiver<DynamicObject>,
    batch: usize,
) {
    let mut queued = Vec::with_capacity(batch);
    while rx.recv_many(&mut queued, batch.max(1)).await > 0 {
        apply_batch(&state, &cluster, &mut queued).await;
    }
}

/// Applies the events of `objs` (emptied), in order: their rows in one transaction, then
/// each one's notifications. When the transaction fails, or what follows an event's rows
/// does, that is retried event by event ([`apply_snapshot_until_done`]: backoff for
/// transient failures, a permanent failure costs only its own event).
pub async fn apply_batch(state: &Arc<WatchState>, cluster: &str, objs: &mut Vec<DynamicObject>) {
    let snaps: Vec<Arc<WorkflowSnapshot>> = objs
        .drain(..)
        .filter_map(|obj| snapshot(state, cluster, &obj))
        .map(Arc::new)
        .collect();
    if snaps.len() <= 1 {
        for snap in snaps {
            apply_snapshot_until_done(state, cluster, snap).await;
        }
        return;
    }
    let rows = match apply::apply_rows(state, cluster, &snaps).await {
        Ok(rows) => rows,
        Err(e) => {
            tracing::warn!(%cluster, events = snaps.len(), error = %e, "cannot apply a batch of workflow events; applying them one by one");
            for snap in snaps {
                apply_snapshot_until_done(state, cluster, snap).await;
            }
            return;
        }
    };
    for (snap, row) in snaps.into_iter().zip(rows) {
        let Some(applied) = row else {
            ignored(state, cluster);
            continue;
        };
        match apply::after_rows(state, cluster, &snap, &applied).await {
            Ok(()) => self::applied(state, cluster, &snap),
            // the rows are in; repeating them is harmless and the claims keep
            // notifications single
            Err(_) => apply_snapshot_until_done(state, cluster, snap).await,
        }
    }
}

/// The `pipeline-id` label as `WorkflowSnapshot::pipeline_id` reads it.
fn pipeline_id(obj: &DynamicObject) -> Option<i32> {
    obj.metadata
        .labels
        .as_ref()?
        .get("pipeline-id")?
        .trim()
        .parse()
        .ok()
}

fn ignored(state: &WatchState, cluster: &str) {
    state.metrics.inc(
        "watch_events_ignored_total",
        "Workflow events of workflows without a pipeline",
        &[("cluster", cluster)],
    );
}

/// The snapshot of a cube-studio workflow event; `None` (counted or logged) otherwise.
fn snapshot(state: &WatchState, cluster: &str, obj: &DynamicObject) -> Option<WorkflowSnapshot> {
    if obj.metadata.name.is_none() || obj.metadata.namespace.is_none() {
        tracing::warn!(%cluster, "a workflow without name or namespace");
        return None;
    }
    // not a cube-studio workflow: nothing to serialise, snapshot or look up
    if pipeline_id(obj).is_none() {
        ignored(state, cluster);
        return None;
    }
    let tz = state.config.schedule.time_zone;
    let json = match serde_json::to_value(obj) {
        Ok(v) => v,
        Err(e) => {
            tracing::error!(%cluster, error = %e, "cannot read a workflow object");
            return None;
        }
    };
    let snap = WorkflowSnapshot::from_object(&json, tz);
    if snap.is_none() {
        tracing::warn!(%cluster, "a workflow without name or namespace");
    }
    snap
}

/// Applies a snapshot, retrying transient failures with backoff until shutdown.
async fn apply_snapshot_until_done(
    state: &Arc<WatchState>,
    cluster: &str,
    snap: Arc<WorkflowSnapshot>,
) {
    let mut shutdown = state.shutdown.clone();
    let mut attempt = 0;
    loop {
        match apply::apply(state, cluster, &snap).await {
            Ok(Outcome::Ignored) => {
                ignored(state, cluster);
                return;
            }
            Ok(Outcome::Applied(_)) => {
                applied(state, cluster, &snap);
                return;
            }
            Err(ApplyError::Transient(e)) => {
                let delay = Backoff::default().delay(attempt);
                attempt += 1;
                tracing::warn!(%cluster, workflow = %snap.name, error = %e, retry_in_ms = delay.as_millis() as u64, "cannot apply a workflow event; retrying");
                if shutdown.sleep(delay).await {
                    tracing::warn!(%cluster, workflow = %snap.name, "shutting down: the event is applied at the next start (relist)");
                    return;
                }
            }
            Err(ApplyError::Permanent(e)) => {
                state.metrics.inc(
                    "watch_apply_errors_total",
                    "Workflow events that could not be applied",
                    &[("cluster", cluster)],
                );
                tracing::error!(%cluster, workflow = %snap.name, namespace = %snap.namespace, error = %e, "cannot apply a workflow event");
                return;
            }
        }
    }
}

/// The upper bounds of the lag buckets (`le`), in seconds.
pub const LAG_BUCKETS: [(&str, f64); 12] = [
    ("0.01", 0.01),
    ("0.025", 0.025),
    ("0.05", 0.05),
    ("0.1", 0.1),
    ("0.25", 0.25),
    ("0.5", 0.5),
    ("1", 1.0),
    ("2.5", 2.5),
    ("5", 5.0),
    ("10", 10.0),
    ("30", 30.0),
    ("+Inf", f64::INFINITY),
];

fn applied(state: &WatchState, cluster: &str, snap: &WorkflowSnapshot) {
    let m = &state.metrics;
    m.inc(
        "watch_events_applied_total",
        "Workflow events applied to MySQL",
        &[("cluster", cluster)],
    );
    let Some(changed) = snap.last_change else {
        return;
    };
    let lag = (chrono::Utc::now() - changed).num_milliseconds().max(0) as f64 / 1000.0;
    m.set(
        "watch_lag_seconds",
        "Now minus the workflow's last status change, at the last applied event",
        &[("cluster", cluster)],
        lag,
    );
    m.inc_by(
        "watch_lag_seconds_sum",
        "Sum of the lags of applied events",
        &[("cluster", cluster)],
        lag,
    );
    m.inc(
        "watch_lag_seconds_count",
        "Applied events with a known lag",
        &[("cluster", cluster)],
    );
    // cumulative, as a Prometheus histogram's buckets
    for (le, bound) in LAG_BUCKETS {
        if lag <= bound {
            m.inc(
                "watch_lag_seconds_bucket",
                "Applied events by lag (cumulative buckets, seconds)",
                &[("cluster", cluster), ("le", le)],
            );
        }
    }
    let max = {
        let mut g = match state.lag_max.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
        *g = g.max(lag);
        *g
    };
    m.set(
        "watch_lag_seconds_max",
        "The largest lag seen since start",
        &[],
        max,
    );
}
