//! Pipelines between the database and the cluster, shared by the dashboard (manual
//! runs, dry runs), the scheduler (frozen cron runs) and the worker (submission):
//! load the rows, compile, and record what was submitted.

use app_models::rows::{Image, JobTemplate, Pipeline, Project, Task};
use app_models::schema::*;
use chrono::NaiveDateTime;
use diesel::mysql::MysqlConnection;
use diesel::prelude::*;
use serde_json::{Map, Value};

use crate::argo::{
    CompileConfig, CompileError, CompileInput, TaskInput, Workflow, compile_workflow,
};
use crate::k8s::project::ProjectSettings;

/// Why a pipeline cannot be run.
#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    #[error("pipeline {0} does not exist")]
    NotFound(i32),
    #[error(transparent)]
    Compile(#[from] CompileError),
    #[error("database: {0}")]
    Db(#[from] diesel::result::Error),
}

/// A compiled workflow and where it goes.
#[derive(Debug, Clone)]
pub struct Compiled {
    /// Typed: stored and submitted by serializing it, with no JSON tree in between.
    pub workflow: Workflow,
    pub name: String,
    pub namespace: String,
    pub run_id: String,
    /// Key of the cluster (`CLUSTERS`) the project deploys to.
    pub cluster: String,
}

/// Loads a pipeline's rows into a compile input (a manual run by `runner`, else by its
/// creator, now): the one-pipeline case of [`load_inputs_bulk`].
pub fn load_input(
    conn: &mut MysqlConnection,
    pipeline_id: i32,
    runner: Option<&str>,
    config: CompileConfig,
    now: NaiveDateTime,
) -> Result<CompileInput, PipelineError> {
    let input = load_inputs_bulk(conn, &[pipeline_id], &config, now)?
        .remove(&pipeline_id)
        .ok_or(PipelineError::NotFound(pipeline_id))?;
    Ok(match runner {
        Some(r) => input.with_runner(r),
        None => input,
    })
}

/// Loads the compile inputs of many pipelines with a handful of queries (the scheduler
/// freezes the workflows of thousands of cron runs per tick). Missing pipelines, and
/// pipelines whose project is gone, are absent.
pub fn load_inputs_bulk(
    conn: &mut MysqlConnection,
    pipeline_ids: &[i32],
    config: &CompileConfig,
    now: NaiveDateTime,
) -> QueryResult<std::collections::HashMap<i32, CompileInput>> {
    use std::collections::{BTreeSet, HashMap};
    let mut out = HashMap::new();
    for chunk in pipeline_ids.chunks(1000) {
        let pipelines: Vec<Pipeline> = pipeline::table
            .filter(pipeline::id.eq_any(chunk))
            .select(Pipeline::as_select())
            .load(conn)?;
        let project_ids: BTreeSet<i32> = pipelines.iter().map(|p| p.project_id).collect();
        let projects: HashMap<i32, Project> = project::table
            .filter(project::id.eq_any(project_ids))
            .select(Project::as_select())
            .load(conn)?
            .into_iter()
            .map(|p| (p.id, p))
            .collect();
        let tasks: Vec<Task> = task::table
            .filter(task::pipeline_id.eq_any(chunk))
            .order(task::id)
            .select(Task::as_select())
            .load(conn)?;
        let template_ids: BTreeSet<i32> = tasks.iter().filter_map(|t| t.job_template_id).collect();
        let templates: HashMap<i32, JobTemplate> = job_template::table
            .filter(job_template::id.eq_any(template_ids))
            .select(JobTemplate::as_select())
            .load(conn)?
            .into_iter()
            .map(|t| (t.id, t))
            .collect();
        let image_ids: BTreeSet<i32> = templates.values().filter_map(|t| t.images_id).collect();
        let images_by_id: HashMap<i32, Image> = images::table
            .filter(images::id.eq_any(image_ids))
            .select(Image::as_select())
            .load(conn)?
            .into_iter()
            .map(|i| (i.id, i))
            .collect();
        let repo_ids: BTreeSet<i32> = images_by_id
            .values()
            .filter_map(|i| i.repository_id)
            .collect();
        let secrets: HashMap<i32, Option<String>> = repository::table
            .filter(repository::id.eq_any(repo_ids))
            .select((repository::id, repository::hubsecret))
            .load::<(i32, Option<String>)>(conn)?
            .into_iter()
            .collect();
        let creator_ids: BTreeSet<i32> = pipelines.iter().filter_map(|p| p.created_by_fk).collect();
        let names: HashMap<i32, String> = ab_user::table
            .filter(ab_user::id.eq_any(creator_ids.iter().copied().collect::<Vec<_>>()))
            .select((ab_user::id, ab_user::username))
            .load::<(i32, String)>(conn)?
            .into_iter()
            .collect();
        let mut creator_secrets: HashMap<i32, Vec<String>> = HashMap::new();
        for (uid, secret) in repository::table
            .filter(
                repository::created_by_fk.eq_any(creator_ids.iter().copied().collect::<Vec<_>>()),
            )
            .order(repository::id)
            .select((repository::created_by_fk, repository::hubsecret))
            .load::<(Option<i32>, Option<String>)>(conn)?
        {
            if let (Some(uid), Some(secret)) = (uid, secret.filter(|s| !s.is_empty())) {
                creator_secrets.entry(uid).or_default().push(secret);
            }
        }
        let mut by_pipeline: HashMap<i32, Vec<TaskInput>> = HashMap::new();
        for t in tasks {
            let template = t.job_template_id.and_then(|id| templates.get(&id).cloned());
            let image = template
                .as_ref()
                .and_then(|j| j.images_id)
                .and_then(|id| images_by_id.get(&id).cloned());
            let hubsecret = image
                .as_ref()
                .and_then(|i| i.repository_id)
                .and_then(|id| secrets.get(&id).cloned().flatten());
            if let Some(pid) = t.pipeline_id {
                by_pipeline
                    .entry(pid)
                    .or_default()
                    .push(TaskInput::new(t, template, image, hubsecret));
            }
        }
        for p in pipelines {
            let Some(project) = projects.get(&p.project_id).cloned() else {
                continue;
            };
            let creator = p
                .created_by_fk
                .and_then(|u| names.get(&u).cloned())
                .unwrap_or_default();
            let secrets = p
                .created_by_fk
                .and_then(|u| creator_secrets.get(&u).cloned())
                .unwrap_or_default();
            let tasks = by_pipeline.remove(&p.id).unwrap_or_default();
            let id = p.id;
            out.insert(
                id,
                CompileInput::new(p, project, tasks, &creator, config.clone(), now)
                    .with_creator_hubsecrets(secrets),
            );
        }
    }
    Ok(out)
}

/// Compiles a loaded input.
pub fn compile(
    input: &CompileInput,
    registry_cluster: impl Fn(Option<&str>) -> String,
) -> Result<Compiled, PipelineError> {
    let workflow = compile_workflow(input)?;
    let name = workflow.name().to_string();
    let namespace = workflow.namespace().to_string();
    let settings = ProjectSettings::from_project(&input.project);
    Ok(Compiled {
        workflow,
        name,
        namespace,
        run_id: input.run_id.clone(),
        cluster: registry_cluster(settings.cluster.as_deref()),
    })
}

/// Records a manual run on the pipeline row (`pipeline_file`, `pipeline_argo_id`, `run_id`).
pub fn record_manual_run(
    conn: &mut MysqlConnection,
    pipeline_id: i32,
    compiled: &Compiled,
) -> QueryResult<()> {
    diesel::update(pipeline::table.filter(pipeline::id.eq(pipeline_id)))
        .set((
            pipeline::pipeline_file.eq(crate::json_text::pretty4(&compiled.workflow)),
            pipeline::pipeline_argo_id.eq(&compiled.name),
            pipeline::run_id.eq(&compiled.run_id),
            pipeline::namespace.eq(&compiled.namespace),
        ))
        .execute(conn)?;
    Ok(())
}

/// Records a just-submitted workflow as a `workflow` row (status `Pending`) unless the
/// watcher recorded it first; the watcher keeps it up to date afterwards.
pub fn record_submitted_workflow(
    conn: &mut MysqlConnection,
    compiled: &Compiled,
    username: &str,
    now: &str,
) -> QueryResult<()> {
    let meta = &compiled.workflow.metadata;
    let pipeline_id = meta
        .labels
        .get("pipeline-id")
        .unwrap_or_default()
        .to_string();
    let info = serde_json::json!({"pipeline_name": meta.labels.get("pipeline-name"), "describe": meta.annotations.description, "run_id": compiled.run_id, "has_push": ""});
    diesel::sql_query(
        "INSERT IGNORE INTO workflow (name, cluster, namespace, create_time, change_time, status, annotations, labels, spec, status_more, username, info_json, add_row_time, foreign_key) \
         VALUES (?, ?, ?, ?, ?, 'Pending', ?, ?, ?, '{}', ?, ?, NOW(), ?)",
    )
    .bind::<diesel::sql_types::Text, _>(&compiled.name)
    .bind::<diesel::sql_types::Text, _>(&compiled.cluster)
    .bind::<diesel::sql_types::Text, _>(&compiled.namespace)
    .bind::<diesel::sql_types::Text, _>(now)
    .bind::<diesel::sql_types::Text, _>(now)
    .bind::<diesel::sql_types::Text, _>(crate::json_text::pretty4(&meta.annotations))
    .bind::<diesel::sql_types::Text, _>(crate::json_text::pretty4(&meta.labels))
    .bind::<diesel::sql_types::Text, _>(crate::json_text::pretty4(&compiled.workflow.spec))
    .bind::<diesel::sql_types::Text, _>(username)
    .bind::<diesel::sql_types::Text, _>(crate::json_text::pretty4(&info))
    .bind::<diesel::sql_types::Text, _>(pipeline_id)
    .execute(conn)?;
    Ok(())
}

/// Marks the workflow rows of a run id `Deleted` (stop, replace, expiry); `now` is the
/// change time as stored (`%Y-%m-%d %H:%M:%S`).
pub fn mark_run_deleted(conn: &mut MysqlConnection, run_id: &str, now: &str) -> QueryResult<usize> {
    diesel::update(
        workflow::table
            .filter(workflow::labels.like(app_models::queries::run_id_label_pattern(run_id))),
    )
    .set((
        workflow::status.eq("Deleted"),
        workflow::change_time.eq(now),
    ))
    .execute(conn)
}

/// Removes deleted tasks from a `dag_json` (keys and upstream entries), keeping order.
pub fn prune_dag_json(dag_json: &str, task_names: &[&str]) -> String {
    let Ok(Value::Object(map)) = serde_json::from_str::<Value>(dag_json) else {
        return "{}".into();
    };
    let mut out = Map::new();
    for (k, v) in map {
        if !task_names.contains(&k.as_str()) {
            continue;
        }
        let mut node = v.as_object().cloned().unwrap_or_default();
        if let Some(Value::Array(up)) = node.get("upstream") {
            let kept: Vec<Value> = up
                .iter()
                .filter(|u| u.as_str().map(|s| task_names.contains(&s)).unwrap_or(false))
                .cloned()
                .collect();
            node.insert("upstream".into(), Value::Array(kept));
        }
        out.insert(k, Value::Object(node));
    }
    crate::json_text::pretty4(&Value::Object(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prunes_deleted_tasks() {
        let dag =
            r#"{"a":{"upstream":[]},"b":{"upstream":["a","gone"]},"gone":{"upstream":["a"]}}"#;
        let out: Value = serde_json::from_str(&prune_dag_json(dag, &["a", "b"])).unwrap();
        assert_eq!(
            out,
            serde_json::json!({"a":{"upstream":[]},"b":{"upstream":["a"]}})
        );
        assert_eq!(prune_dag_json("bad", &[]), "{}");
    }
}
