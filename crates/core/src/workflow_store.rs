//! The `workflow` row as the watcher writes it (orchestration.md §5.1 `save_workflow`):
//! one upsert that two replicas cannot duplicate and that never goes backwards, and the
//! owning `run` row. The watcher calls it on every event; the dashboard when it reads a
//! workflow from the cluster for its run page (the original's `get_dag` upsert).

use std::collections::{BTreeMap, BTreeSet, HashMap};

use app_models::schema::{pipeline, run, workflow};
use chrono_tz::Tz;
use diesel::mysql::MysqlConnection;
use diesel::prelude::*;
use diesel::sql_types::Text;

use crate::workflow_status::{
    PipelineInfo, RowChange, WorkflowSnapshot, merge_info_json, workflow_row_change,
};

/// What the watcher needs of a pipeline.
#[derive(Debug, Clone, PartialEq)]
pub struct PipelineRow {
    /// `pipeline.id`.
    pub id: i32,
    /// `pipeline.name`.
    pub name: String,
    /// `pipeline.describe`.
    pub describe: String,
    /// `pipeline.alert_status` (comma list of statuses to notify).
    pub alert_status: String,
    /// `pipeline.alert_user` (comma list of users).
    pub alert_user: String,
}

/// id, name, describe, alert_status, alert_user
type PipelineColumns = (i32, String, String, Option<String>, Option<String>);

/// What [`apply_workflow`] did.
#[derive(Debug, Clone, PartialEq)]
pub struct Applied {
    /// The workflow's pipeline.
    pub pipeline: PipelineRow,
    /// The row's status before (`None`: there was no row).
    pub old_status: Option<String>,
    /// The rule applied to the `workflow` row.
    pub change: RowChange,
    /// `run` rows updated.
    pub runs: usize,
}

/// The upsert, of one row or many (`VALUES (…), (…)` between head and tail).
/// Assignments run left to right and `status` comes last, so every condition reads the
/// row's old status: a row whose final status would regress keeps everything; a
/// `Deleted` row keeps its status and `info_json`. `create_time`, `username`,
/// `add_row_time` and `foreign_key` are written on insert only.
const UPSERT_HEAD: &str = "INSERT INTO workflow \
 (name, namespace, cluster, create_time, change_time, status, annotations, labels, spec, status_more, username, info_json, add_row_time, foreign_key) \
 VALUES";
const UPSERT_TAIL: &str = "ON DUPLICATE KEY UPDATE \
 cluster = IF(status IN ('Succeeded','Failed','Error') AND VALUES(status) NOT IN ('Succeeded','Failed','Error'), cluster, VALUES(cluster)), \
 change_time = IF(status IN ('Succeeded','Failed','Error') AND VALUES(status) NOT IN ('Succeeded','Failed','Error'), change_time, VALUES(change_time)), \
 annotations = IF(status IN ('Succeeded','Failed','Error') AND VALUES(status) NOT IN ('Succeeded','Failed','Error'), annotations, VALUES(annotations)), \
 labels = IF(status IN ('Succeeded','Failed','Error') AND VALUES(status) NOT IN ('Succeeded','Failed','Error'), labels, VALUES(labels)), \
 spec = IF(status IN ('Succeeded','Failed','Error') AND VALUES(status) NOT IN ('Succeeded','Failed','Error'), spec, VALUES(spec)), \
 status_more = IF(status IN ('Succeeded','Failed','Error') AND VALUES(status) NOT IN ('Succeeded','Failed','Error'), status_more, VALUES(status_more)), \
 info_json = IF(status = 'Deleted' OR (status IN ('Succeeded','Failed','Error') AND VALUES(status) NOT IN ('Succeeded','Failed','Error')), info_json, VALUES(info_json)), \
 status = IF(status = 'Deleted' OR (status IN ('Succeeded','Failed','Error') AND VALUES(status) NOT IN ('Succeeded','Failed','Error')), status, VALUES(status))";

/// The run update, the SQL form of `workflow_status::run_status_change`: never `''`,
/// never over `Deleted`, never from a final status to a non-final one. It also records
/// the workflow name when the worker died before doing so.
const UPDATE_RUN: &str = "UPDATE run SET \
 pipeline_argo_id = IF(pipeline_argo_id IS NULL OR pipeline_argo_id = '', ?, pipeline_argo_id), \
 status = IF(? = '' OR status = 'Deleted' OR (status IN ('Succeeded','Failed','Error') AND ? NOT IN ('Succeeded','Failed','Error')), status, ?) \
 WHERE run_id = ?";

/// Mirrors one workflow into MySQL (orchestration.md §5.1 `save_workflow`): the
/// `workflow` row and the owning `run` row, in one transaction. `None` when the workflow
/// is not a cube-studio one (no `pipeline-id` label of an existing pipeline).
pub fn apply_workflow(
    conn: &mut MysqlConnection,
    cluster: &str,
    snap: &WorkflowSnapshot,
    tz: Tz,
    now: &str,
) -> QueryResult<Option<Applied>> {
    if snap.pipeline_id.is_none() {
        return Ok(None);
    }
    let applied = conn.transaction(|conn| apply_batch(conn, cluster, &[snap], tz, now))?;
    Ok(applied.into_iter().next().flatten())
}

/// [`apply_workflow`] for several snapshots, in order (the same workflow may come more
/// than once), in one transaction: for each, what one event would do. All or nothing.
pub fn apply_workflows(
    conn: &mut MysqlConnection,
    cluster: &str,
    snaps: &[std::sync::Arc<WorkflowSnapshot>],
    tz: Tz,
    now: &str,
) -> QueryResult<Vec<Option<Applied>>> {
    let snaps: Vec<&WorkflowSnapshot> = snaps.iter().map(|s| s.as_ref()).collect();
    conn.transaction(|conn| apply_batch(conn, cluster, &snaps, tz, now))
}

/// The pipelines of these ids that exist.
fn load_pipelines(
    conn: &mut MysqlConnection,
    ids: &BTreeSet<i32>,
) -> QueryResult<HashMap<i32, PipelineRow>> {
    let rows: Vec<PipelineColumns> = pipeline::table
        .filter(pipeline::id.eq_any(ids))
        .select((
            pipeline::id,
            pipeline::name,
            pipeline::describe,
            pipeline::alert_status,
            pipeline::alert_user,
        ))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .map(|(id, name, describe, alert_status, alert_user)| {
            (
                id,
                PipelineRow {
                    id,
                    name,
                    describe,
                    alert_status: alert_status.unwrap_or_default(),
                    alert_user: alert_user.unwrap_or_default(),
                },
            )
        })
        .collect())
}

/// A `workflow` row as the batch leaves it, event after event.
struct RowState {
    /// The row exists (in the database or written by an earlier event of the batch).
    exists: bool,
    status: String,
    info: Option<String>,
    /// The last event that changes the row, with its merged `info_json` and its
    /// `change_time`: what the batch writes.
    write: Option<(usize, String, String)>,
}

/// The status the run update of several events of one run leaves, whatever the run's
/// status was before (`Deleted` aside, which the SQL keeps): the last final status if
/// any, else the last non-empty one, else `''` (no status change).
fn run_status_of(statuses: &[&str]) -> String {
    statuses
        .iter()
        .rev()
        .find(|s| crate::workflow_status::is_final(s))
        .or_else(|| statuses.iter().rev().find(|s| !s.is_empty()))
        .map(|s| s.to_string())
        .unwrap_or_default()
}

/// The batch in a handful of statements, whatever its size: one read of its pipelines,
/// one of its `workflow` rows, the events applied in memory with the upsert's own rules
/// ([`workflow_row_change`]), one multi-row upsert of each changed row's last state, one
/// read of its runs and an update of each run whose row would change. The upsert and the
/// run update keep their SQL conditions, so a replica racing on the same rows still
/// never moves a row backwards.
fn apply_batch(
    conn: &mut MysqlConnection,
    cluster: &str,
    snaps: &[&WorkflowSnapshot],
    tz: Tz,
    now: &str,
) -> QueryResult<Vec<Option<Applied>>> {
    let pids: BTreeSet<i32> = snaps.iter().filter_map(|s| s.pipeline_id).collect();
    if pids.is_empty() {
        return Ok(vec![None; snaps.len()]);
    }
    let pipelines = load_pipelines(conn, &pids)?;
    let ours = |s: &WorkflowSnapshot| s.pipeline_id.is_some_and(|p| pipelines.contains_key(&p));
    let names: BTreeSet<&str> = snaps
        .iter()
        .filter(|s| ours(s))
        .map(|s| s.name.as_str())
        .collect();
    let mut rows: BTreeMap<(String, String), RowState> = BTreeMap::new();
    if !names.is_empty() {
        type Old = (
            Option<String>,
            Option<String>,
            Option<String>,
            Option<String>,
        );
        let old: Vec<Old> = workflow::table
            .filter(workflow::name.eq_any(names.iter().copied().collect::<Vec<_>>()))
            .select((
                workflow::name,
                workflow::namespace,
                workflow::status,
                workflow::info_json,
            ))
            .load(conn)?;
        for (name, namespace, status, info) in old {
            rows.insert(
                (name.unwrap_or_default(), namespace.unwrap_or_default()),
                RowState {
                    exists: true,
                    status: status.unwrap_or_default(),
                    info,
                    write: None,
                },
            );
        }
    }
    let mut out: Vec<Option<Applied>> = Vec::with_capacity(snaps.len());
    for (i, snap) in snaps.iter().enumerate() {
        let Some(pipeline) = snap.pipeline_id.and_then(|p| pipelines.get(&p)) else {
            out.push(None);
            continue;
        };
        let row = rows
            .entry((snap.name.clone(), snap.namespace.clone()))
            .or_insert(RowState {
                exists: false,
                status: String::new(),
                info: None,
                write: None,
            });
        let old_status = row.exists.then(|| row.status.clone());
        let change = workflow_row_change(old_status.as_deref(), &snap.status);
        if change != RowChange::Stale {
            let info = merge_info_json(
                row.info.as_deref(),
                &PipelineInfo {
                    name: pipeline.name.clone(),
                    describe: pipeline.describe.clone(),
                    alert_status: pipeline.alert_status.clone(),
                },
                &snap.run_id,
                &snap.tasks,
                tz,
            );
            let change_time = if !row.exists && !snap.create_time.is_empty() {
                snap.create_time.clone()
            } else {
                now.to_string()
            };
            if change != RowChange::KeepDeleted {
                row.status = snap.status.clone();
                row.info = Some(info.clone());
            }
            row.exists = true;
            row.write = Some((i, info, change_time));
        }
        out.push(Some(Applied {
            pipeline: pipeline.clone(),
            old_status,
            change,
            runs: 0,
        }));
    }
    let writes: Vec<(&WorkflowSnapshot, &str, &str)> = rows
        .values()
        .filter_map(|r| r.write.as_ref())
        .map(|(i, info, change_time)| (snaps[*i], info.as_str(), change_time.as_str()))
        .collect();
    upsert_rows(conn, cluster, &writes)?;
    update_runs(conn, snaps, &mut out)?;
    Ok(out)
}

/// One `INSERT … ON DUPLICATE KEY UPDATE` of every changed row (in key order: replicas
/// lock rows in the same order).
fn upsert_rows(
    conn: &mut MysqlConnection,
    cluster: &str,
    writes: &[(&WorkflowSnapshot, &str, &str)],
) -> QueryResult<()> {
    if writes.is_empty() {
        return Ok(());
    }
    let tuple = "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, NOW(), ?)";
    let values = vec![tuple; writes.len()].join(", ");
    let sql = format!("{UPSERT_HEAD} {values} {UPSERT_TAIL}");
    let mut q = diesel::sql_query(sql).into_boxed::<diesel::mysql::Mysql>();
    for (snap, info, change_time) in writes {
        q = q
            .bind::<Text, _>(snap.name.clone())
            .bind::<Text, _>(snap.namespace.clone())
            .bind::<Text, _>(cluster.to_string())
            .bind::<Text, _>(snap.create_time.clone())
            .bind::<Text, _>(change_time.to_string())
            .bind::<Text, _>(snap.status.clone())
            .bind::<Text, _>(snap.annotations_json.clone())
            .bind::<Text, _>(snap.labels_json.clone())
            .bind::<Text, _>(snap.spec_json.clone())
            .bind::<Text, _>(snap.status_more_json.clone())
            .bind::<Text, _>(snap.username.clone())
            .bind::<Text, _>(info.to_string())
            .bind::<Text, _>(snap.pipeline_id.unwrap_or_default().to_string());
    }
    q.execute(conn)?;
    Ok(())
}

/// The run rows of the batch: for each run id, the status its events leave
/// ([`run_status_of`]) and the first workflow name, written only where a row would
/// change; the rows changed are counted on the run's last event.
fn update_runs(
    conn: &mut MysqlConnection,
    snaps: &[&WorkflowSnapshot],
    out: &mut [Option<Applied>],
) -> QueryResult<()> {
    // run id → (first workflow name, statuses in order, index of the last event)
    let mut per_run: BTreeMap<&str, (&str, Vec<&str>, usize)> = BTreeMap::new();
    for (i, snap) in snaps.iter().enumerate() {
        if out[i].is_none() || snap.run_id.is_empty() {
            continue;
        }
        let e = per_run
            .entry(snap.run_id.as_str())
            .or_insert((snap.name.as_str(), Vec::new(), i));
        e.1.push(snap.status.as_str());
        e.2 = i;
    }
    if per_run.is_empty() {
        return Ok(());
    }
    let ids: Vec<&str> = per_run.keys().copied().collect();
    let current: Vec<(Option<String>, Option<String>, Option<String>)> = run::table
        .filter(run::run_id.eq_any(&ids))
        .select((run::run_id, run::status, run::pipeline_argo_id))
        .load(conn)?;
    for (run_id, (name, statuses, last)) in per_run {
        let status = run_status_of(&statuses);
        let changes = current
            .iter()
            .filter(|(r, ..)| r.as_deref() == Some(run_id))
            .any(|(_, old, argo)| {
                argo.as_deref().is_none_or(str::is_empty)
                    || crate::workflow_status::run_status_change(old.as_deref(), &status).is_some()
            });
        if !changes {
            continue;
        }
        let n = diesel::sql_query(UPDATE_RUN)
            .bind::<Text, _>(name)
            .bind::<Text, _>(&status)
            .bind::<Text, _>(&status)
            .bind::<Text, _>(&status)
            .bind::<Text, _>(run_id)
            .execute(conn)?;
        if let Some(a) = out[last].as_mut() {
            a.runs = n;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::run_status_of;

    #[test]
    fn the_run_status_of_several_events_is_their_sequential_result() {
        assert_eq!(run_status_of(&["Pending", "Running"]), "Running");
        assert_eq!(
            run_status_of(&["Running", "Succeeded", "Running"]),
            "Succeeded"
        );
        assert_eq!(run_status_of(&["Failed", "Succeeded"]), "Succeeded");
        assert_eq!(run_status_of(&["Running", ""]), "Running");
        assert_eq!(run_status_of(&["", ""]), "");
        assert_eq!(run_status_of(&[]), "");
    }
}
