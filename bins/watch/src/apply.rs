//! Applying one workflow event: the rows, the notifications, the usage samples.
//!
//! Idempotent: the rows follow the rules of `app_core::workflow_status`, and every
//! notification and the usage recording are claimed once with a Redis key, so applying
//! the same event twice (a relist, a second replica) changes nothing more.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use app_core::database::{DbTaskError, with_conn_as};
use app_core::notify::{self, Notification, SendOnceError};
use app_core::notify_text::{
    WorkflowMessage, is_alerted, keys, pipeline_monitoring_link, pipeline_pod_link, receivers,
    task_time_message,
};
use app_core::usage::{UsageSample, merge_task_sample, pod_regex};
use app_core::workflow_status::WorkflowSnapshot;
use app_models::db::DbError;
use chrono::Utc;

use crate::WatchState;
use crate::store::{self, Applied};

/// Why an event could not be applied.
#[derive(Debug, thiserror::Error)]
pub enum ApplyError {
    /// MySQL or Redis is unreachable: try the event again.
    #[error("{0}")]
    Transient(String),
    /// Trying again cannot help.
    #[error("{0}")]
    Permanent(String),
}

impl From<DbError> for ApplyError {
    fn from(e: DbError) -> Self {
        if e.is_transient() {
            ApplyError::Transient(format!("mysql: {e}"))
        } else {
            ApplyError::Permanent(format!("mysql: {e}"))
        }
    }
}

/// What happened to an event.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// Not a cube-studio workflow (no `pipeline-id` of an existing pipeline).
    Ignored,
    /// The rows were written (or left alone by the rules); see [`Applied`].
    Applied(Box<Applied>),
}

/// A panicked database task stays permanent, as a `DbError` of it always was.
impl DbTaskError for ApplyError {}

async fn db<T, F>(state: &WatchState, f: F) -> Result<T, ApplyError>
where
    T: Send + 'static,
    F: FnOnce(&mut diesel::mysql::MysqlConnection) -> diesel::QueryResult<T> + Send + 'static,
{
    with_conn_as(&state.pool, move |c| {
        f(c).map_err(|e| DbError::from(e).into())
    })
    .await
}

/// Applies one snapshot of a workflow of `cluster`.
pub async fn apply(
    state: &Arc<WatchState>,
    cluster: &str,
    snap: &Arc<WorkflowSnapshot>,
) -> Result<Outcome, ApplyError> {
    if snap.pipeline_id.is_none() {
        return Ok(Outcome::Ignored);
    }
    let tz = state.config.schedule.time_zone;
    let now = app_core::time_string_now(tz);
    let (c, s) = (cluster.to_string(), snap.clone());
    let Some(applied) = db(state, move |conn| {
        store::apply_workflow(conn, &c, &s, tz, &now)
    })
    .await?
    else {
        return Ok(Outcome::Ignored);
    };
    after_rows(state, cluster, snap, &applied).await?;
    Ok(Outcome::Applied(Box::new(applied)))
}

/// The rows of several snapshots (in order; the same workflow may come more than once)
/// in one transaction: one commit for all of them. `None` for a snapshot that is not a
/// cube-studio workflow. Nothing is written when any of them fails; each snapshot's
/// [`after_rows`] is the caller's, after this returns.
pub async fn apply_rows(
    state: &Arc<WatchState>,
    cluster: &str,
    snaps: &[Arc<WorkflowSnapshot>],
) -> Result<Vec<Option<Applied>>, ApplyError> {
    let tz = state.config.schedule.time_zone;
    let now = app_core::time_string_now(tz);
    let (c, s) = (cluster.to_string(), snaps.to_vec());
    db(state, move |conn| {
        store::apply_workflows(conn, &c, &s, tz, &now)
    })
    .await
}

/// What follows the rows of an applied snapshot: the status log line, the notifications,
/// the usage samples of a succeeded workflow (each claimed once, so repeating it after a
/// transient failure sends nothing twice).
pub async fn after_rows(
    state: &Arc<WatchState>,
    cluster: &str,
    snap: &WorkflowSnapshot,
    applied: &Applied,
) -> Result<(), ApplyError> {
    if applied.old_status.as_deref() != Some(snap.status.as_str()) {
        tracing::info!(
            %cluster,
            workflow = %snap.name,
            namespace = %snap.namespace,
            from = applied.old_status.as_deref().unwrap_or("(new)"),
            to = %snap.status,
            change = ?applied.change,
            runs = applied.runs,
            "workflow status"
        );
    }
    notify_status(state, cluster, snap, applied).await?;
    if snap.status == "Succeeded" {
        on_success(state, cluster, snap, applied).await?;
    }
    Ok(())
}

/// Sends `n` unless `key` was claimed: Redis failures are transient (the event is tried
/// again), a failed send is logged and its claim released (a later event may send it).
async fn send_once(
    state: &WatchState,
    key: &str,
    ttl: u64,
    n: &Notification,
) -> Result<(), ApplyError> {
    match crate::notify_once(state, key, ttl, n).await {
        Ok(_) => Ok(()),
        Err(SendOnceError::Claim(e)) => Err(ApplyError::Transient(format!("redis: {e}"))),
        Err(SendOnceError::Send(e)) => {
            tracing::warn!(key, error = %e, receivers = ?n.receivers, "cannot send a notification; a later event will try again");
            Ok(())
        }
    }
}

/// The status notification (§5.1 `deliver_message`): to the workflow's user and the
/// pipeline's alert users, once per status listed in `alert_status`.
async fn notify_status(
    state: &WatchState,
    cluster: &str,
    snap: &WorkflowSnapshot,
    applied: &Applied,
) -> Result<(), ApplyError> {
    let p = &applied.pipeline;
    if !is_alerted(&p.alert_status, &snap.status) {
        return Ok(());
    }
    let to = receivers(&[&snap.username, &p.alert_user]);
    if to.is_empty() {
        return Ok(());
    }
    let n = Notification {
        receivers: to,
        message: WorkflowMessage {
            workflow: &snap.name,
            pipeline_name: &p.name,
            describe: &p.describe,
            namespace: &snap.namespace,
            status: &snap.status,
            start_time: &snap.started,
            finish_time: &snap.finished,
        }
        .text(),
        links: vec![pipeline_pod_link(&state.config.host_url, p.id)],
        source: "workflow".into(),
    };
    let key = keys::workflow_status(
        &state.settings.key_prefix,
        cluster,
        &snap.namespace,
        &snap.name,
        &snap.status,
    );
    send_once(state, &key, state.settings.notify_ttl_secs, &n).await
}

/// Once per succeeded workflow: the usage samples of its tasks and the task-time message.
async fn on_success(
    state: &Arc<WatchState>,
    cluster: &str,
    snap: &WorkflowSnapshot,
    applied: &Applied,
) -> Result<(), ApplyError> {
    let p = &applied.pipeline;
    let prefix = &state.settings.key_prefix;
    let (text, long) = task_time_message(
        &snap.name,
        &p.name,
        &p.describe,
        &snap.tasks,
        state.settings.task_alert_hours,
    );
    let mut to = receivers(&[&p.alert_user, &snap.username]);
    if long {
        for a in &state.config.admin_users {
            if !to.contains(a) {
                to.push(a.clone());
            }
        }
    }
    if !to.is_empty() && !snap.tasks.is_empty() {
        let n = Notification {
            receivers: to,
            message: text,
            links: vec![pipeline_monitoring_link(&state.config.host_url, p.id)],
            source: "workflow-task-time".into(),
        };
        let key = keys::workflow_task_time(prefix, cluster, &snap.namespace, &snap.name);
        send_once(state, &key, state.settings.notify_ttl_secs, &n).await?;
    }
    let Some(prom) = state.prometheus.as_ref() else {
        if !state.no_prometheus_logged.swap(true, Ordering::Relaxed) {
            tracing::info!("PROMETHEUS_URL is not set: no task usage samples are recorded");
        }
        return Ok(());
    };
    let key = keys::workflow_usage(prefix, cluster, &snap.namespace, &snap.name);
    let mut conn = state.redis.clone();
    if !notify::first_time(&mut conn, &key, state.settings.notify_ttl_secs)
        .await
        .map_err(|e| ApplyError::Transient(format!("redis: {e}")))?
    {
        return Ok(());
    }
    let tz = state.config.schedule.time_zone;
    let mut recorded = 0;
    for t in snap.tasks.iter().filter(|t| t.phase == "Succeeded") {
        let (Some(start), Some(end)) = (t.started, t.finished) else {
            continue;
        };
        let usage = match prom
            .pod_usage(
                &snap.namespace,
                &pod_regex(&snap.name, &t.node_id, &t.template),
                start,
                end,
            )
            .await
        {
            Ok(Some(u)) => u,
            Ok(None) => continue,
            Err(e) => {
                tracing::warn!(workflow = %snap.name, task = %t.task, error = %e, "cannot read task usage; a later event will try again");
                if let Err(e) = notify::forget(&mut conn, &key).await {
                    // the claim expires by itself; until then the retry is held back
                    tracing::warn!(key = %key, error = %e, "cannot release the usage claim");
                }
                return Ok(());
            }
        };
        let now_local = Utc::now().with_timezone(&tz).naive_local();
        let sample = UsageSample {
            cpu: usage.0,
            memory: usage.1,
            pod_name: t.node_id.clone(),
            update_time: app_models::time::format_time(now_local),
        };
        let (pid, task_name) = (p.id, t.task.clone());
        let done = db(state, move |conn| {
            let Some((task_id, monitoring)) = store::task_monitoring(conn, pid, &task_name)? else {
                return Ok(false);
            };
            let text = merge_task_sample(monitoring.as_deref(), &sample, now_local);
            store::set_task_monitoring(conn, task_id, &text)?;
            Ok(true)
        })
        .await;
        match done {
            Ok(true) => recorded += 1,
            Ok(false) => tracing::debug!(task = %t.task, "no task row for a usage sample"),
            Err(e) => {
                if let Err(e) = notify::forget(&mut conn, &key).await {
                    // the claim expires by itself; until then the retry is held back
                    tracing::warn!(key = %key, error = %e, "cannot release the usage claim");
                }
                return Err(e);
            }
        }
    }
    tracing::info!(workflow = %snap.name, samples = recorded, "task usage recorded");
    Ok(())
}
