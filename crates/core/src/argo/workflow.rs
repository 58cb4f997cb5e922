//! Assembly of the Argo `Workflow` (orchestration.md §1.2–1.4).

use std::collections::HashSet;

use serde::Serialize;
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

use super::CompileError;
use super::dag::parse_dag;
use super::input::{CompileInput, TaskInput};
use super::render::python_unicode_escape;
use super::task::{
    RunContext, TaskSpec, build_task, env, field_env, gpu_none_env, image_pull_secrets, task_env,
};
use crate::k8s::label_value;

fn to_json<T: Serialize>(value: &T) -> Value {
    serde_json::to_value(value).unwrap_or(Value::Null)
}

/// An object from pairs, moving the values (`json!` would re-serialise them).
fn obj<const N: usize>(pairs: [(&str, Value); N]) -> Value {
    let mut map = Map::with_capacity(N);
    for (k, v) in pairs {
        map.insert(k.to_string(), v);
    }
    Value::Object(map)
}

fn text(s: &str) -> Value {
    Value::String(s.to_string())
}

fn strings(items: &[String]) -> Value {
    Value::Array(items.iter().map(|s| text(s)).collect())
}

fn string_map<'k>(pairs: impl IntoIterator<Item = (&'k str, String)>) -> Value {
    let mut map = Map::new();
    for (k, v) in pairs {
        map.insert(k.to_string(), Value::String(v));
    }
    Value::Object(map)
}

/// 4 hex derived from the run and the task (upstream: random).
fn container_suffix(run_id: &str, task: &str) -> String {
    let digest = Sha256::digest(format!("{run_id}/{task}").as_bytes());
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
pub fn compile_workflow(input: &CompileInput) -> Result<Value, CompileError> {
    let pipeline = &input.pipeline;
    let mut seen = HashSet::new();
    for t in &input.tasks {
        if !seen.insert(t.task.name.as_str()) {
            return Err(CompileError::DuplicateTask(t.task.name.clone()));
        }
    }
    let names: Vec<&str> = input.tasks.iter().map(|t| t.task.name.as_str()).collect();
    let dag = parse_dag(&pipeline.dag_json, &names)?;
    let ctx = RunContext::new(input)?;

    let by_name: std::collections::HashMap<&str, &TaskInput> = input
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
    let mut templates = Vec::with_capacity(dag.nodes.len() + 1);
    for (node, ti) in dag.nodes.iter().zip(&ordered) {
        let spec = build_task(&ctx, ti)?;
        let mut entry = Map::new();
        entry.insert("name".into(), text(&node.name));
        entry.insert("template".into(), text(&node.name));
        entry.insert("dependencies".into(), strings(&node.upstream));
        if spec.task.skip.unwrap_or(false) {
            entry.insert("when".into(), json!("false"));
        }
        dag_tasks.push(Value::Object(entry));
        templates.push(container_template(&ctx, &spec));
    }
    templates.insert(
        0,
        obj([
            ("name", text(&pipeline.name)),
            ("dag", obj([("tasks", Value::Array(dag_tasks))])),
        ]),
    );

    let workflow_name = format!("{}-{}", pipeline.name, input.name_suffix);
    let mut labels = Map::new();
    for (k, v) in &input.labels {
        labels.insert(k.clone(), Value::String(label_value(v)));
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
        labels.insert(k.into(), Value::String(v));
    }
    let secrets: Vec<Value> = image_pull_secrets(input, ordered.iter().copied())
        .into_iter()
        .map(|s| obj([("name", Value::String(s))]))
        .collect();
    let metadata = obj([
        ("name", Value::String(workflow_name)),
        ("namespace", text(&ctx.namespace)),
        (
            "annotations",
            obj([
                ("name", text(&pipeline.name)),
                (
                    "description",
                    Value::String(python_unicode_escape(&pipeline.describe)),
                ),
            ]),
        ),
        ("labels", Value::Object(labels)),
    ]);
    let spec = obj([
        (
            "ttlStrategy",
            json!({"secondsAfterCompletion": input.config.ttl_seconds_after_completion}),
        ),
        ("archiveLogs", Value::Bool(true)),
        ("entrypoint", text(&pipeline.name)),
        ("templates", Value::Array(templates)),
        ("arguments", json!({"parameters": []})),
        ("serviceAccountName", text(&input.config.service_account)),
        ("parallelism", json!(pipeline.parallelism.max(1))),
        ("imagePullSecrets", Value::Array(secrets)),
    ]);
    Ok(obj([
        ("apiVersion", text("argoproj.io/v1alpha1")),
        ("kind", text("Workflow")),
        ("metadata", metadata),
        ("spec", spec),
    ]))
}

fn resources(spec: &TaskSpec<'_>) -> Value {
    let mut requests = Map::new();
    let mut limits = Map::new();
    if let Some(m) = &spec.memory {
        requests.insert("memory".into(), text(&m.request));
        limits.insert("memory".into(), text(&m.limit));
    }
    if let Some(c) = &spec.cpu {
        requests.insert("cpu".into(), text(&c.request));
        limits.insert("cpu".into(), text(&c.limit));
    }
    if let Some((name, n)) = spec.gpu_resource() {
        requests.insert(name.clone(), text(&n));
        limits.insert(name, Value::String(n));
    }
    obj([
        ("limits", Value::Object(limits)),
        ("requests", Value::Object(requests)),
    ])
}

fn env_json(name: &str, value: &str) -> Value {
    to_json(&env(name, value))
}

fn workflow_env(ctx: &RunContext<'_>, spec: &TaskSpec<'_>) -> Value {
    let input = ctx.input;
    let config = &input.config;
    let mut vars = Vec::with_capacity(48);
    let pairs = spec.template_env.iter().chain(&ctx.global_env);
    vars.extend(pairs.map(|(k, v)| env_json(k, v)));
    // the task block shares its shape with the single-task pods
    vars.extend(task_env(ctx, spec).iter().map(to_json));
    vars.push(env_json("GPU_RESOURCE_NAME", &spec.gpu.resource_name));
    vars.push(env_json("USERNAME", &input.creator));
    vars.push(env_json("IMAGE_PULL_POLICY", &config.image_pull_policy));
    vars.push(env_json("HUBSECRET", &config.hubsecret.join(",")));
    vars.extend(gpu_none_env(ctx, spec).iter().map(to_json));
    for (name, path) in [
        ("K8S_NODE_NAME", "spec.nodeName"),
        ("K8S_POD_IP", "status.podIP"),
        ("K8S_HOST_IP", "status.hostIP"),
        ("K8S_POD_NAME", "metadata.name"),
    ] {
        vars.push(to_json(&field_env(name, path)));
    }
    Value::Array(vars)
}

fn container_template(ctx: &RunContext<'_>, spec: &TaskSpec<'_>) -> Value {
    let input = ctx.input;
    let pipeline = &input.pipeline;
    let task = spec.task;
    let skip = task.skip.unwrap_or(false);
    let (command, args, resources) = if skip {
        (
            json!(["echo", "skip"]),
            Value::Null,
            json!({"limits": null, "requests": null}),
        )
    } else {
        (strings(&spec.command), strings(&spec.args), resources(spec))
    };
    let container = obj([
        (
            "name",
            Value::String(format!(
                "{}-{}",
                task.name,
                container_suffix(&input.run_id, &task.name)
            )),
        ),
        ("ports", Value::Array(Vec::new())),
        ("command", command),
        ("args", args),
        ("image", text(&spec.image)),
        (
            "workingDir",
            spec.working_dir.as_deref().map_or(Value::Null, text),
        ),
        ("imagePullPolicy", text(&input.config.image_pull_policy)),
        ("resources", resources),
        ("volumeMounts", to_json(&spec.volumes.mounts)),
        ("env", workflow_env(ctx, spec)),
        (
            "securityContext",
            obj([("privileged", Value::Bool(spec.privileged))]),
        ),
    ]);

    let mut affinity = Map::new();
    if let Some(node_affinity) = spec.placement.node_affinity() {
        affinity.insert("nodeAffinity".into(), to_json(&node_affinity));
    }
    affinity.insert(
        "podAntiAffinity".into(),
        json!({"preferredDuringSchedulingIgnoredDuringExecution": [{
            "weight": 80,
            "podAffinityTerm": {
                "labelSelector": {"matchLabels": {"pipeline-id": pipeline.id.to_string()}},
                "topologyKey": "kubernetes.io/hostname",
            },
        }]}),
    );
    let node_selector = string_map(
        spec.placement
            .node_selector
            .iter()
            .map(|(k, v)| (k.as_str(), v.clone())),
    );
    let labels = string_map([
        ("pipeline-id", pipeline.id.to_string()),
        ("pipeline-name", pipeline.name.clone()),
        ("app", pipeline.name.clone()),
        ("task-id", task.id.to_string()),
        ("task-name", task.name.clone()),
        ("run-id", label_value(&input.run_id)),
        ("run-username", label_value(&input.runner)),
        ("pipeline-username", label_value(&input.creator)),
    ]);
    let annotations = string_map([
        ("project", input.project.name.clone()),
        ("pipeline", pipeline.describe.clone()),
        ("task", task.label.clone()),
        ("job-template", spec.template.describe.clone()),
    ]);
    let retry = if task.retry > 0 {
        json!({"limit": task.retry})
    } else {
        Value::Null
    };
    let deadline = if task.timeout > 0 {
        json!(task.timeout)
    } else {
        Value::Null
    };
    let mut template = Map::with_capacity(11);
    let fields = [
        ("name", text(&task.name)),
        ("outputs", json!({"artifacts": []})),
        ("container", container),
        ("nodeSelector", node_selector),
        ("affinity", Value::Object(affinity)),
        (
            "metadata",
            obj([("labels", labels), ("annotations", annotations)]),
        ),
        ("retryStrategy", retry),
        ("activeDeadlineSeconds", deadline),
        ("volumes", to_json(&spec.volumes.volumes)),
        ("hostAliases", to_json(&spec.host_aliases)),
    ];
    for (k, v) in fields {
        template.insert(k.to_string(), v);
    }
    if let Some(sa) = &spec.service_account {
        template.insert("serviceAccountName".into(), text(sa));
    }
    Value::Object(template)
}

/// The workflow as YAML, for the dashboard's dry-run endpoint.
pub fn workflow_to_yaml(workflow: &Value) -> String {
    serde_norway::to_string(workflow).unwrap_or_else(|e| format!("# cannot render YAML: {e}\n"))
}
