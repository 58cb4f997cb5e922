//! Assembly of the Argo `Workflow` (orchestration.md §1.2–1.4).

use std::collections::{HashMap, HashSet};

use serde::Serialize;
use sha2::{Digest, Sha256};

use super::CompileError;
use super::dag::parse_dag;
use super::input::{CompileInput, TaskInput};
use super::manifest::{
    DagTask, RunShared, StringMap, TaskEnv, TaskTemplate, Workflow, WorkflowAnnotations,
    WorkflowMetadata, WorkflowSpec,
};
use super::render::python_unicode_escape;
use super::task::{RunContext, TaskSpec, build_task, image_pull_secrets};
use crate::k8s::label_value;
use crate::k8s::resources::GpuClass;

/// 4 hex derived from the run and the task (upstream: random).
fn container_suffix(run_id: &str, task: &str) -> String {
    let digest = Sha256::new()
        .chain_update(run_id)
        .chain_update("/")
        .chain_update(task)
        .finalize();
    hex::encode(&digest[..2])
}

/// Compiles a pipeline into an Argo `Workflow` manifest (`argoproj.io/v1alpha1`).
///
/// Pure: everything random or time-dependent comes from the input. Fixes over
/// upstream: requests and limits stay separate; each task has its own template's
/// hostAliases, mapping every hostname; a multi-value node selector (`org=a,b`)
/// becomes a required nodeAffinity; `privileged` is on the container; the dag is
/// checked for cycles and missing tasks; bad volume, GPU, cpu and memory strings are
/// errors; `ttlStrategy` has only `secondsAfterCompletion`; a template's `accounts`
/// becomes that template's `serviceAccountName`; secrets and selectors have a
/// deterministic order.
pub fn compile_workflow(input: &CompileInput) -> Result<Workflow, CompileError> {
    let pipeline = &input.pipeline;
    let mut seen = HashSet::with_capacity(input.tasks.len());
    for t in &input.tasks {
        if !seen.insert(t.task.name.as_str()) {
            return Err(CompileError::DuplicateTask(t.task.name.clone()));
        }
    }
    let names: Vec<&str> = input.tasks.iter().map(|t| t.task.name.as_str()).collect();
    let dag = parse_dag(&pipeline.dag_json, &names)?;
    let ctx = RunContext::new(input)?;

    let by_name: HashMap<&str, &TaskInput> = input
        .tasks
        .iter()
        .map(|t| (t.task.name.as_str(), t))
        .collect();
    let mut ordered: Vec<&TaskInput> = Vec::with_capacity(dag.nodes.len());
    for node in &dag.nodes {
        let ti =
            by_name
                .get(node.name.as_str())
                .copied()
                .ok_or_else(|| CompileError::UnknownTask {
                    task: node.name.clone(),
                })?;
        ordered.push(ti);
    }

    let mut dag_tasks = Vec::with_capacity(dag.nodes.len());
    let mut tasks = Vec::with_capacity(dag.nodes.len());
    for (node, ti) in dag.nodes.into_iter().zip(&ordered) {
        let spec = build_task(&ctx, ti)?;
        let skip = spec.task.skip.unwrap_or(false);
        dag_tasks.push(DagTask {
            name: node.name,
            dependencies: node.upstream,
            skip,
        });
        tasks.push(task_template(input, spec, skip));
    }

    let workflow_name = format!("{}-{}", pipeline.name, input.name_suffix);
    let mut labels = StringMap::default();
    for (k, v) in &input.labels {
        labels.set(k, label_value(v));
    }
    let builtin = [
        ("run-username", label_value(&input.runner)),
        ("pipeline-username", label_value(&input.creator)),
        (
            "save-time",
            input.now.format("%Y-%m-%dT%H-%M-%S").to_string(),
        ),
        ("pipeline-id", pipeline.id.to_string()),
        ("pipeline-name", pipeline.name.clone()),
        ("app", pipeline.name.clone()),
        ("run-id", label_value(&input.run_id)),
        ("cluster", label_value(&ctx.cluster_name)),
        ("workflow-name", workflow_name.clone()),
    ];
    for (k, v) in builtin {
        labels.set(k, v);
    }
    let config = &input.config;
    let run = RunShared {
        pipeline_id: pipeline.id.to_string(),
        pipeline_name: pipeline.name.clone(),
        pipeline_describe: pipeline.describe.clone(),
        project_name: input.project.name.clone(),
        run_id_label: label_value(&input.run_id),
        runner_label: label_value(&input.runner),
        creator_label: label_value(&input.creator),
        creator: input.creator.clone(),
        image_pull_policy: config.image_pull_policy.clone(),
        hubsecret: config.hubsecret.join(","),
        global_env: ctx.global_env,
        gpu_none: config.gpu_none.clone(),
    };
    Ok(Workflow {
        api_version: "argoproj.io/v1alpha1",
        kind: "Workflow",
        metadata: WorkflowMetadata {
            name: workflow_name,
            namespace: ctx.namespace,
            annotations: WorkflowAnnotations {
                name: pipeline.name.clone(),
                description: python_unicode_escape(&pipeline.describe),
            },
            labels,
        },
        spec: WorkflowSpec {
            ttl_seconds_after_completion: config.ttl_seconds_after_completion,
            service_account_name: config.service_account.clone(),
            parallelism: pipeline.parallelism.max(1),
            image_pull_secrets: image_pull_secrets(input, ordered.iter().copied()),
            dag: dag_tasks,
            run,
            tasks,
        },
    })
}

/// A task's container template, moving the pieces out of its spec.
fn task_template(input: &CompileInput, spec: TaskSpec<'_>, skip: bool) -> TaskTemplate {
    let task = spec.task;
    let gpu = spec.gpu_resource();
    let text = |s: &Option<String>| s.clone().unwrap_or_default();
    TaskTemplate {
        name: task.name.clone(),
        id: task.id.to_string(),
        label: task.label.clone(),
        template_describe: spec.template.describe.clone(),
        container_name: format!(
            "{}-{}",
            task.name,
            container_suffix(&input.run_id, &task.name)
        ),
        skip,
        command: spec.command,
        args: spec.args,
        image: spec.image,
        working_dir: spec.working_dir,
        memory: spec.memory,
        cpu: spec.cpu,
        gpu,
        volumes: spec.volumes,
        env: TaskEnv {
            template_env: spec.template_env,
            volume_mount: spec.volume_mount,
            template_image: spec.template_image,
            resource_cpu: text(&task.resource_cpu),
            resource_memory: text(&task.resource_memory),
            resource_gpu: text(&task.resource_gpu),
            gpu_none: spec.gpu.class() == GpuClass::None,
            gpu_resource_name: spec.gpu.resource_name,
        },
        privileged: spec.privileged,
        selector: spec.selector,
        retry: task.retry,
        timeout: task.timeout,
        host_aliases: spec.host_aliases,
        service_account: spec.service_account,
    }
}

/// The workflow as YAML, for the dashboard's dry-run endpoint.
pub fn workflow_to_yaml<T: Serialize + ?Sized>(workflow: &T) -> String {
    serde_norway::to_string(workflow).unwrap_or_else(|e| format!("# cannot render YAML: {e}\n"))
}
