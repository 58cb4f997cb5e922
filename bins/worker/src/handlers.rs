//! The jobs: submit a cron run's workflow, stop a run, delete an object. Each is
//! idempotent: a redelivered job (after a crash, a lost ack, a re-push by the scheduler)
//! finds its work done and does nothing more.

use std::sync::Arc;

use app_core::argo::CompileConfig;
use app_core::database::with_conn_as;
use app_core::jobs::{Cleanup, StopRun, SubmitRun};
use app_core::k8s::ops::{self, WORKFLOW};
use app_core::k8s::project::ProjectSettings;
use app_core::notify::{self, Notification};
use app_core::notify_text::{keys, receivers, run_start_message};
use app_core::pipeline;
use app_models::rows::{Pipeline, Project, Run};
use app_models::schema::{ab_user, pipeline as pipeline_t, project, run};
use diesel::mysql::MysqlConnection;
use diesel::prelude::*;
use kube::api::{ApiResource, GroupVersionKind};
use serde_json::Value;

use crate::WorkerState;
use crate::error::JobError;

/// What a job did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The work was done (e.g. the workflow was created or found and recorded).
    Done(String),
    /// Nothing to do (already done, or no longer wanted).
    Skipped(String),
}

/// Runs blocking database work with a pooled connection on the blocking pool
/// (`app_core::database::with_conn_as` with the job's error type; a task that panicked
/// is transient, see `JobError`'s `DbTaskError`).
pub async fn blocking<T, F>(state: &Arc<WorkerState>, f: F) -> Result<T, JobError>
where
    T: Send + 'static,
    F: FnOnce(&mut MysqlConnection) -> Result<T, JobError> + Send + 'static,
{
    with_conn_as(&state.pool, f).await
}

/// The rows a submission needs.
struct RunRows {
    run: Run,
    pipeline: Pipeline,
    project: Project,
    creator: String,
}

/// The run, its pipeline, project and creator; `expected` is the pipeline the job names.
fn load_rows(
    conn: &mut MysqlConnection,
    run_id: i32,
    expected: Option<i32>,
) -> Result<Option<RunRows>, JobError> {
    let Some(run) = run::table
        .find(run_id)
        .select(Run::as_select())
        .first(conn)
        .optional()?
    else {
        return Ok(None);
    };
    let Some(pipeline_id) = run.pipeline_id.or(expected) else {
        return Err(JobError::Permanent(format!("run {run_id} has no pipeline")));
    };
    if let Some(job_pipeline) = expected.filter(|p| *p != pipeline_id) {
        tracing::warn!(
            run = run_id,
            job_pipeline,
            row_pipeline = pipeline_id,
            "the job and the run row name different pipelines; using the row's"
        );
    }
    let pipeline: Pipeline = pipeline_t::table
        .find(pipeline_id)
        .select(Pipeline::as_select())
        .first(conn)
        .optional()?
        .ok_or_else(|| JobError::Permanent(format!("pipeline {pipeline_id} does not exist")))?;
    let project: Project = project::table
        .find(pipeline.project_id)
        .select(Project::as_select())
        .first(conn)
        .optional()?
        .ok_or_else(|| {
            JobError::Permanent(format!("project {} does not exist", pipeline.project_id))
        })?;
    let creator = match pipeline.created_by_fk {
        Some(id) => ab_user::table
            .find(id)
            .select(ab_user::username)
            .first::<String>(conn)
            .optional()?
            .unwrap_or_default(),
        None => String::new(),
    };
    Ok(Some(RunRows {
        run,
        pipeline,
        project,
        creator,
    }))
}

/// The frozen manifest of a run; `None` when `pipeline_file` is empty or not a JSON object
/// (then it is compiled again).
fn frozen_manifest(run: &Run) -> Option<Value> {
    run.pipeline_file
        .as_deref()
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .and_then(|t| serde_json::from_str::<Value>(t).ok())
        .filter(Value::is_object)
}

/// Compiles the run again (its `pipeline_file` was empty or invalid), keeping its run id
/// and execution date, and stores the result on the row.
async fn recompile(state: &Arc<WorkerState>, run: &Run) -> Result<Value, JobError> {
    let st = state.clone();
    let run = run.clone();
    blocking(state, move |conn| {
        let pipeline_id = run
            .pipeline_id
            .ok_or_else(|| JobError::Permanent(format!("run {} has no pipeline", run.id)))?;
        let now = chrono::Utc::now()
            .with_timezone(&st.config.schedule.time_zone)
            .naive_local();
        let input = pipeline::load_input(
            conn,
            pipeline_id,
            None,
            CompileConfig::from_config(&st.config),
            now,
        )?
        .for_cron_run(&run.execution_date, run.run_id.as_deref());
        let compiled = pipeline::compile(&input, |c| st.registry.cluster_for(c))?;
        diesel::update(run::table.find(run.id))
            .set((
                run::pipeline_file.eq(app_core::json_text::pretty4(&compiled.workflow)),
                run::run_id.eq(&compiled.run_id),
            ))
            .execute(conn)?;
        tracing::info!(run = run.id, workflow = %compiled.name, "recompiled the run's workflow");
        // the fallback when a run has no frozen manifest: checked like a frozen one
        Ok(compiled.workflow.to_value())
    })
    .await
}

fn check_manifest(m: &Value) -> Result<(String, String), JobError> {
    let text = |p: &str| m.pointer(p).and_then(Value::as_str).unwrap_or("");
    if text("/kind") != "Workflow" || !text("/apiVersion").starts_with("argoproj.io/") {
        return Err(JobError::Permanent(format!(
            "bad manifest: expected an argoproj.io Workflow, got {:?} {:?}",
            text("/apiVersion"),
            text("/kind")
        )));
    }
    let (name, ns) = (text("/metadata/name"), text("/metadata/namespace"));
    if name.is_empty() || ns.is_empty() {
        return Err(JobError::Permanent(
            "bad manifest: the workflow has no metadata.name or metadata.namespace".into(),
        ));
    }
    Ok((name.to_string(), ns.to_string()))
}

/// Creates the Argo Workflow of a cron run (orchestration.md §3.2 "Launch") and records
/// its name in `run.pipeline_argo_id`. A permanent failure marks the run `Failed` with
/// the reason in `run.message`.
pub async fn submit_run(state: Arc<WorkerState>, job: SubmitRun) -> Result<Outcome, JobError> {
    match submit_inner(&state, &job).await {
        Err(JobError::Permanent(reason)) => {
            mark_run_failed(&state, job.run, &reason).await?;
            Err(JobError::Permanent(reason))
        }
        other => other,
    }
}

async fn submit_inner(state: &Arc<WorkerState>, job: &SubmitRun) -> Result<Outcome, JobError> {
    let (run_id, pipeline_id) = (job.run, job.pipeline);
    let Some(rows) = blocking(state, move |conn| {
        load_rows(conn, run_id, Some(pipeline_id))
    })
    .await?
    else {
        return Ok(Outcome::Skipped(format!("run {} does not exist", job.run)));
    };
    let status = rows.run.status.clone().unwrap_or_default();
    if status != "created" {
        return Ok(Outcome::Skipped(format!(
            "run status is {status:?}, not \"created\""
        )));
    }
    let manifest = match frozen_manifest(&rows.run) {
        Some(m) => m,
        None => recompile(state, &rows.run).await?,
    };
    let (name, namespace) = check_manifest(&manifest)?;
    let settings = ProjectSettings::from_project(&rows.project);
    let cluster = state.registry.cluster_for(settings.cluster.as_deref());
    let client = state
        .registry
        .client(&cluster)
        .await
        .map_err(|e| JobError::from(e).context(&format!("cluster {cluster}")))?;
    let recorded = rows.run.pipeline_argo_id.clone().unwrap_or_default();
    if !recorded.is_empty()
        && ops::get_object(&client, &WORKFLOW, &namespace, &recorded)
            .await
            .map_err(|e| JobError::from(e).context(&format!("cluster {cluster}")))?
            .is_some()
    {
        return Ok(Outcome::Skipped(format!(
            "workflow {namespace}/{recorded} exists"
        )));
    }
    let created = ops::submit_workflow(&client, &manifest)
        .await
        .map_err(|e| JobError::from(e).context(&format!("cluster {cluster}")))?;
    let created_name = created.metadata.name.clone().unwrap_or(name);
    tracing::info!(run = job.run, %cluster, namespace = %namespace, workflow = %created_name, "workflow submitted");
    if !state.settings.test_delay.is_zero() {
        tracing::info!(
            run = job.run,
            delay_ms = state.settings.test_delay.as_millis() as u64,
            "WORKER_TEST_DELAY_MS: pausing before recording the workflow (test only)"
        );
        tokio::time::sleep(state.settings.test_delay).await;
    }
    let (run_id, wf) = (job.run, created_name.clone());
    blocking(state, move |conn| {
        diesel::update(run::table.find(run_id))
            .set(run::pipeline_argo_id.eq(&wf))
            .execute(conn)?;
        Ok(())
    })
    .await?;
    notify_start(state, &rows, &namespace, None).await;
    Ok(Outcome::Done(format!(
        "workflow {namespace}/{created_name}"
    )))
}

/// Marks a run `Failed` with the reason (only while it is still `created`), and tells the
/// pipeline's creator and alert users.
async fn mark_run_failed(
    state: &Arc<WorkerState>,
    run_id: i32,
    reason: &str,
) -> Result<(), JobError> {
    let msg = reason.chars().take(60_000).collect::<String>();
    let (marked, rows) = blocking(state, move |conn| {
        let n = diesel::update(run::table.find(run_id).filter(run::status.eq("created")))
            .set((run::status.eq("Failed"), run::message.eq(&msg)))
            .execute(conn)?;
        if n == 0 {
            return Ok((false, None));
        }
        // the pipeline may be what is missing: then there is nobody to tell
        Ok((true, load_rows(conn, run_id, None).ok().flatten()))
    })
    .await?;
    if marked {
        tracing::error!(run = run_id, reason, "run marked Failed");
    }
    if let Some(rows) = rows {
        let ns = rows.pipeline.namespace.clone().unwrap_or_default();
        notify_start(state, &rows, &ns, Some(reason)).await;
    }
    Ok(())
}

/// The "start run" (or "fail start run") message, once per run.
async fn notify_start(
    state: &Arc<WorkerState>,
    rows: &RunRows,
    namespace: &str,
    error: Option<&str>,
) {
    let to = receivers(&[
        &rows.creator,
        rows.pipeline.alert_user.as_deref().unwrap_or(""),
    ]);
    if to.is_empty() {
        return;
    }
    let now = app_core::time_string_now(state.config.schedule.time_zone);
    let n = Notification {
        receivers: to,
        message: run_start_message(
            &rows.pipeline.name,
            &rows.pipeline.describe,
            namespace,
            rows.pipeline.cron_time.as_deref().unwrap_or(""),
            &now,
            error,
        ),
        links: Vec::new(),
        source: "worker".into(),
    };
    let key = keys::run_start(&state.settings.queue_prefix, rows.run.id, error.is_some());
    let mut conn = state.redis.clone();
    match notify::send_once(
        &mut conn,
        state.sender.as_ref(),
        &key,
        state.settings.notify_ttl_secs,
        &n,
    )
    .await
    {
        Ok(sent) => tracing::debug!(run = rows.run.id, sent, "start notification"),
        Err(e) => {
            tracing::warn!(run = rows.run.id, error = %e, "cannot send the start notification")
        }
    }
}

/// Deletes everything labelled with the run id, then marks the workflow rows and the
/// run row `Deleted` (rows first, so the watcher cannot write a status in between).
pub async fn stop_run(state: Arc<WorkerState>, job: StopRun) -> Result<Outcome, JobError> {
    let now = app_core::time_string_now(state.config.schedule.time_zone);
    let j = job.clone();
    let (workflows, runs) = blocking(&state, move |conn| {
        let w = pipeline::mark_run_deleted(conn, &j.run_id, &now)?;
        let target = run::table.into_boxed();
        let target = match j.run_row {
            Some(id) => target.filter(run::id.eq(id)),
            None => target.filter(run::run_id.eq(&j.run_id)),
        };
        let ids: Vec<i32> = target.select(run::id).load(conn)?;
        let mut r = 0;
        if !ids.is_empty() {
            r = diesel::update(run::table.filter(run::id.eq_any(&ids)))
                .set(run::status.eq("Deleted"))
                .execute(conn)?;
            if !j.reason.is_empty() {
                diesel::update(run::table.filter(run::id.eq_any(&ids)))
                    .set(run::message.eq(&j.reason))
                    .execute(conn)?;
            }
        }
        Ok((w, r))
    })
    .await?;
    let cluster = state.registry.cluster_for(Some(&job.cluster));
    let client = state
        .registry
        .client(&cluster)
        .await
        .map_err(|e| JobError::from(e).context(&format!("cluster {cluster}")))?;
    let deleted = ops::delete_run(&client, &job.namespace, &job.run_id)
        .await
        .map_err(|e| JobError::from(e).context(&format!("cluster {cluster}")))?;
    Ok(Outcome::Done(format!(
        "run-id {}: {deleted} objects deleted in {cluster}/{}, {workflows} workflow rows and {runs} run rows marked Deleted ({})",
        job.run_id, job.namespace, job.reason
    )))
}

/// Deletes one object or pod; a missing one counts as deleted.
pub async fn cleanup(state: Arc<WorkerState>, job: Cleanup) -> Result<Outcome, JobError> {
    match job {
        Cleanup::DeletePod {
            cluster,
            namespace,
            name,
        } => {
            let c = state.registry.cluster_for(Some(&cluster));
            let client = state.registry.client(&c).await?;
            ops::delete_pod(&client, &namespace, &name).await?;
            Ok(Outcome::Done(format!("pod {c}/{namespace}/{name} deleted")))
        }
        Cleanup::PipelineRuns {
            cluster,
            namespace,
            pipeline_id,
        } => {
            let c = state.registry.cluster_for(Some(&cluster));
            let client = state.registry.client(&c).await?;
            let workflows = ops::list_objects(
                &client,
                &WORKFLOW,
                Some(&namespace),
                &format!("pipeline-id={pipeline_id}"),
            )
            .await?;
            let mut runs: Vec<String> = workflows
                .iter()
                .filter_map(|w| w.metadata.labels.as_ref()?.get("run-id").cloned())
                .filter(|r| !r.is_empty())
                .collect();
            runs.sort();
            runs.dedup();
            for run_id in &runs {
                // one implementation of "stop a run"
                stop_run(
                    state.clone(),
                    StopRun {
                        cluster: cluster.clone(),
                        namespace: namespace.clone(),
                        run_id: run_id.clone(),
                        run_row: None,
                        reason: format!("pipeline {pipeline_id} deleted"),
                    },
                )
                .await?;
            }
            Ok(Outcome::Done(format!(
                "pipeline {pipeline_id}: {} runs stopped in {c}/{namespace}",
                runs.len()
            )))
        }
        Cleanup::DeleteObject {
            cluster,
            group,
            version,
            kind,
            plural,
            namespace,
            name,
        } => {
            let c = state.registry.cluster_for(Some(&cluster));
            let client = state.registry.client(&c).await?;
            let ar = ApiResource::from_gvk_with_plural(
                &GroupVersionKind::gvk(&group, &version, &kind),
                &plural,
            );
            if ops::delete_resource(&client, &ar, &namespace, &name).await? {
                Ok(Outcome::Done(format!(
                    "{plural} {c}/{namespace}/{name} deleted"
                )))
            } else {
                Ok(Outcome::Skipped(format!(
                    "{plural} {c}/{namespace}/{name} is gone"
                )))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn manifests_are_checked() {
        let ok = json!({"apiVersion": "argoproj.io/v1alpha1", "kind": "Workflow",
            "metadata": {"name": "p-1", "namespace": "pipeline"}});
        assert_eq!(
            check_manifest(&ok).unwrap(),
            ("p-1".to_string(), "pipeline".to_string())
        );
        let no_ns = json!({"apiVersion": "argoproj.io/v1alpha1", "kind": "Workflow",
            "metadata": {"name": "p-1"}});
        assert!(matches!(
            check_manifest(&no_ns),
            Err(JobError::Permanent(_))
        ));
        assert!(check_manifest(&json!({"kind": "Pod"})).is_err());
    }
}
