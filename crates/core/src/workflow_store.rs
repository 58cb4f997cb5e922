//! The `workflow` row as the watcher writes it (orchestration.md §5.1 `save_workflow`):
//! one upsert that two replicas cannot duplicate and that never goes backwards, and the
//! owning `run` row. The watcher calls it on every event; the dashboard when it reads a
//! workflow from the cluster for its run page (the original's `get_dag` upsert).

use app_models::schema::{pipeline, workflow};
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

/// Reads a pipeline; `None` when it does not exist.
pub fn load_pipeline(conn: &mut MysqlConnection, id: i32) -> QueryResult<Option<PipelineRow>> {
    let row: Option<PipelineColumns> = pipeline::table
        .find(id)
        .select((
            pipeline::id,
            pipeline::name,
            pipeline::describe,
            pipeline::alert_status,
            pipeline::alert_user,
        ))
        .first(conn)
        .optional()?;
    Ok(row.map(
        |(id, name, describe, alert_status, alert_user)| PipelineRow {
            id,
            name,
            describe,
            alert_status: alert_status.unwrap_or_default(),
            alert_user: alert_user.unwrap_or_default(),
        },
    ))
}

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

/// The upsert. Assignments run left to right and `status` comes last, so every condition
/// reads the row's old status: a row whose final status would regress keeps everything;
/// a `Deleted` row keeps its status and `info_json`. `create_time`, `username`,
/// `add_row_time` and `foreign_key` are written on insert only.
const UPSERT: &str = "INSERT INTO workflow \
 (name, namespace, cluster, create_time, change_time, status, annotations, labels, spec, status_more, username, info_json, add_row_time, foreign_key) \
 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, NOW(), ?) \
 ON DUPLICATE KEY UPDATE \
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
    let Some(pid) = snap.pipeline_id else {
        return Ok(None);
    };
    conn.transaction(|conn| {
        apply_in_transaction(conn, cluster, snap, pid, tz, now, &mut Pipelines::new())
    })
}

/// The pipelines read in one transaction, by id (`None`: no such pipeline): a batch's
/// events mostly belong to a few pipelines.
type Pipelines = std::collections::HashMap<i32, Option<PipelineRow>>;

/// [`apply_workflow`] for several snapshots, in order, in one transaction (one commit):
/// what one event would do, for each. All or nothing.
pub fn apply_workflows(
    conn: &mut MysqlConnection,
    cluster: &str,
    snaps: &[std::sync::Arc<WorkflowSnapshot>],
    tz: Tz,
    now: &str,
) -> QueryResult<Vec<Option<Applied>>> {
    conn.transaction(|conn| {
        let mut pipelines = Pipelines::new();
        snaps
            .iter()
            .map(|snap| match snap.pipeline_id {
                Some(pid) => {
                    apply_in_transaction(conn, cluster, snap, pid, tz, now, &mut pipelines)
                }
                None => Ok(None),
            })
            .collect()
    })
}

fn apply_in_transaction(
    conn: &mut MysqlConnection,
    cluster: &str,
    snap: &WorkflowSnapshot,
    pid: i32,
    tz: Tz,
    now: &str,
    pipelines: &mut Pipelines,
) -> QueryResult<Option<Applied>> {
    let pipeline = match pipelines.get(&pid) {
        Some(p) => p.clone(),
        None => {
            let p = load_pipeline(conn, pid)?;
            pipelines.insert(pid, p.clone());
            p
        }
    };
    let Some(pipeline) = pipeline else {
        return Ok(None);
    };
    let old: Option<(Option<String>, Option<String>)> = workflow::table
        .filter(workflow::name.eq(&snap.name))
        .filter(workflow::namespace.eq(&snap.namespace))
        .select((workflow::status, workflow::info_json))
        .first(conn)
        .optional()?;
    let old_status = old.as_ref().map(|o| o.0.clone().unwrap_or_default());
    let change = workflow_row_change(old_status.as_deref(), &snap.status);
    if change != RowChange::Stale {
        let info = merge_info_json(
            old.as_ref().and_then(|o| o.1.as_deref()),
            &PipelineInfo {
                name: pipeline.name.clone(),
                describe: pipeline.describe.clone(),
                alert_status: pipeline.alert_status.clone(),
            },
            &snap.run_id,
            &snap.tasks,
            tz,
        );
        let change_time = if old.is_none() && !snap.create_time.is_empty() {
            snap.create_time.as_str()
        } else {
            now
        };
        diesel::sql_query(UPSERT)
            .bind::<Text, _>(&snap.name)
            .bind::<Text, _>(&snap.namespace)
            .bind::<Text, _>(cluster)
            .bind::<Text, _>(&snap.create_time)
            .bind::<Text, _>(change_time)
            .bind::<Text, _>(&snap.status)
            .bind::<Text, _>(&snap.annotations_json)
            .bind::<Text, _>(&snap.labels_json)
            .bind::<Text, _>(&snap.spec_json)
            .bind::<Text, _>(&snap.status_more_json)
            .bind::<Text, _>(&snap.username)
            .bind::<Text, _>(&info)
            .bind::<Text, _>(pid.to_string())
            .execute(conn)?;
    }
    let runs = if snap.run_id.is_empty() {
        0
    } else {
        diesel::sql_query(UPDATE_RUN)
            .bind::<Text, _>(&snap.name)
            .bind::<Text, _>(&snap.status)
            .bind::<Text, _>(&snap.status)
            .bind::<Text, _>(&snap.status)
            .bind::<Text, _>(&snap.run_id)
            .execute(conn)?
    };
    Ok(Some(Applied {
        pipeline,
        old_status,
        change,
        runs,
    }))
}
