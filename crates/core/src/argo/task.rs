//! The per-run context (rendered globals) and the per-task pieces shared by the
//! workflow templates and the single-task pods: command, args, image, working dir,
//! resources, template env, volumes, node placement and host aliases.

use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::Arc;

use app_models::rows::{JobTemplate, Task};
use k8s_openapi::api::core::v1::{
    EnvVar, EnvVarSource, HostAlias, NodeAffinity, ObjectFieldSelector,
};
use serde_json::{Map, Value};

use super::CompileError;
use super::input::{CompileInput, TaskInput};
use super::render::Renderer;
use crate::json_text::python_dumps_utf8;
use crate::k8s::host_aliases::{HostAliasError, add_host_aliases};
use crate::k8s::node_selector::{NodePlacement, parse_node_selector, task_node_selector};
use crate::k8s::project::ProjectSettings;
use crate::k8s::resources::{
    GpuClass, GpuRequest, RequestLimit, parse_cpu, parse_gpu, parse_memory,
};
use crate::k8s::volumes::{VolumeError, VolumeSet, build_volumes};

/// What every task of one run shares.
pub(crate) struct RunContext<'a> {
    pub input: &'a CompileInput,
    pub namespace: String,
    pub cluster_name: String,
    pub project_selector: String,
    pub renderer: Renderer,
    /// `pipeline.global_env` pairs, rendered.
    pub pipeline_env: Vec<(String, String)>,
    /// `GLOBAL_ENV` pairs, rendered.
    pub system_env: Vec<(String, String)>,
    /// System pairs overridden (in place) and extended by the pipeline pairs.
    pub global_env: Vec<(String, String)>,
    /// `HOSTALIASES` of the configuration.
    pub config_host_aliases: Vec<HostAlias>,
    /// What tasks of the run share, computed once.
    shared: RefCell<SharedPieces>,
}

/// Pieces that are a pure function of a few task strings, so tasks with equal
/// strings share one copy: volumes by rendered mount string (the creator is fixed per
/// run), selectors by GPU class and type, host aliases by the template's text.
#[derive(Default)]
struct SharedPieces {
    volumes: HashMap<String, Arc<VolumeSet>>,
    selectors: Vec<(GpuClass, Option<String>, Arc<TaskSelector>)>,
    host_aliases: HashMap<String, Arc<Vec<HostAlias>>>,
}

/// A task's node selector string and the placement it becomes.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct TaskSelector {
    /// The node selector string (`KFJ_TASK_NODE_SELECTOR`).
    pub text: String,
    pub placement: NodePlacement,
    pub node_affinity: Option<NodeAffinity>,
}

fn template_error(field: impl Into<String>, e: super::render::RenderError) -> CompileError {
    CompileError::Template {
        field: field.into(),
        message: e.message,
    }
}

/// `KEY=VALUE` lines split at the first `=`; lines without `=` or with an empty key
/// are skipped.
pub(crate) fn env_lines(text: &str) -> Vec<(String, String)> {
    text.lines()
        .filter_map(|line| {
            let (k, v) = line.trim().split_once('=')?;
            let k = k.trim();
            (!k.is_empty()).then(|| (k.to_string(), v.to_string()))
        })
        .collect()
}

/// Sets `key` in place when present, else appends it.
fn upsert(pairs: &mut Vec<(String, String)>, key: &str, value: &str) {
    match pairs.iter_mut().find(|(k, _)| k == key) {
        Some(p) => p.1 = value.to_string(),
        None => pairs.push((key.to_string(), value.to_string())),
    }
}

impl<'a> RunContext<'a> {
    pub fn new(input: &'a CompileInput) -> Result<RunContext<'a>, CompileError> {
        let settings = ProjectSettings::from_project(&input.project);
        let config = &input.config;
        let namespace = settings.namespaces(&config.namespaces).pipeline;
        let cluster_name = config.cluster_name(settings.cluster.as_deref());
        let pipeline = &input.pipeline;
        let mut renderer = Renderer::new(input.now, &input.run_id);
        renderer.set("creator", input.creator.as_str());
        renderer.set("runner", input.runner.as_str());
        renderer.set("pipeline_id", pipeline.id.to_string());
        renderer.set("pipeline_name", pipeline.name.as_str());
        renderer.set("cluster_name", cluster_name.as_str());
        renderer.set("execution_date", input.execution_date.as_str());
        renderer.set("run_id", input.run_id.as_str());
        renderer.set("pipeline_namespace", namespace.as_str());
        let global_text = renderer
            .render(pipeline.global_env.as_deref().unwrap_or_default())
            .map_err(|e| template_error("the pipeline global_env", e))?;
        let pipeline_env = env_lines(&global_text);
        let mut system_env = Vec::with_capacity(config.global_env.len());
        for (k, v) in &config.global_env {
            let v = renderer
                .render(v)
                .map_err(|e| template_error(format!("GLOBAL_ENV {k}"), e))?;
            system_env.push((k.clone(), v));
        }
        let mut global_env = system_env.clone();
        for (k, v) in &pipeline_env {
            upsert(&mut global_env, k, v);
        }
        for (k, v) in &global_env {
            renderer.set_default(k, v.as_str());
        }
        let mut config_host_aliases = Vec::new();
        add_host_aliases(&mut config_host_aliases, &config.host_aliases).map_err(|source| {
            CompileError::BadHostAlias {
                owner: "config HOSTALIASES".into(),
                source,
            }
        })?;
        Ok(RunContext {
            input,
            namespace,
            cluster_name,
            project_selector: settings.node_selector(),
            renderer,
            pipeline_env,
            system_env,
            global_env,
            config_host_aliases,
            shared: RefCell::default(),
        })
    }

    fn volumes(&self, mount: &str) -> Result<Arc<VolumeSet>, VolumeError> {
        if let Some(v) = self.shared.borrow().volumes.get(mount) {
            return Ok(v.clone());
        }
        let v = Arc::new(build_volumes(mount, &self.input.creator)?);
        let mut shared = self.shared.borrow_mut();
        shared.volumes.insert(mount.to_string(), v.clone());
        Ok(v)
    }

    fn selector(&self, gpu: &GpuRequest) -> Arc<TaskSelector> {
        let class = gpu.class();
        let mut shared = self.shared.borrow_mut();
        let known = shared
            .selectors
            .iter()
            .find(|(c, t, _)| *c == class && *t == gpu.gpu_type);
        if let Some((_, _, s)) = known {
            return s.clone();
        }
        let text = task_node_selector(&self.project_selector, gpu);
        let placement = parse_node_selector(&text);
        let selector = Arc::new(TaskSelector {
            node_affinity: placement.node_affinity(),
            text,
            placement,
        });
        shared
            .selectors
            .push((class, gpu.gpu_type.clone(), selector.clone()));
        selector
    }

    /// `HOSTALIASES` then a template's `host_aliases` text.
    fn host_aliases(&self, template_text: &str) -> Result<Arc<Vec<HostAlias>>, HostAliasError> {
        if let Some(a) = self.shared.borrow().host_aliases.get(template_text) {
            return Ok(a.clone());
        }
        let mut aliases = self.config_host_aliases.clone();
        add_host_aliases(&mut aliases, template_text)?;
        let aliases = Arc::new(aliases);
        let mut shared = self.shared.borrow_mut();
        shared
            .host_aliases
            .insert(template_text.to_string(), aliases.clone());
        Ok(aliases)
    }

    fn render(&self, task: &str, field: &str, text: &str) -> Result<String, CompileError> {
        self.renderer
            .render(text)
            .map_err(|e| template_error(format!("task {task}: {field}"), e))
    }
}

/// The pieces of one task's container and pod.
pub(crate) struct TaskSpec<'a> {
    pub task: &'a Task,
    pub template: &'a JobTemplate,
    /// `task.args` with every string rendered.
    pub args_json: Map<String, Value>,
    pub command: Vec<String>,
    pub args: Vec<String>,
    /// The template runs a script (custom image or python): no argv of its own.
    pub script: bool,
    pub image: String,
    /// The template's own image name (`KFJ_TASK_IMAGES`).
    pub template_image: String,
    pub working_dir: Option<String>,
    pub memory: Option<RequestLimit>,
    pub cpu: Option<RequestLimit>,
    pub gpu: GpuRequest,
    /// `job_template.env` pairs, rendered.
    pub template_env: Vec<(String, String)>,
    /// The rendered volume-mount string.
    pub volume_mount: String,
    pub volumes: Arc<VolumeSet>,
    pub selector: Arc<TaskSelector>,
    pub host_aliases: Arc<Vec<HostAlias>>,
    pub privileged: bool,
    pub service_account: Option<String>,
}

impl TaskSpec<'_> {
    /// A string arg, rendered, when non-blank.
    pub fn arg_str(&self, key: &str) -> Option<&str> {
        self.args_json
            .get(key)
            .and_then(Value::as_str)
            .filter(|s| !s.trim().is_empty())
    }

    /// `str(value)` of an arg for `bash -c` style scripts.
    fn arg_text(&self, key: &str) -> String {
        match self.args_json.get(key) {
            None | Some(Value::Null) => String::new(),
            Some(Value::String(s)) => s.clone(),
            Some(v @ (Value::Array(_) | Value::Object(_))) => python_dumps_utf8(v),
            Some(v) => v.to_string(),
        }
    }

    /// The GPU resource: (name, whole cards) when at least one card is requested.
    pub fn gpu_resource(&self) -> Option<(String, String)> {
        self.gpu
            .whole_cards()
            .map(|n| (self.gpu.resource_name.clone(), n.to_string()))
    }
}

fn is_falsy(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::Bool(b) => !b,
        Value::String(s) => s.is_empty(),
        Value::Number(n) => n.as_f64() == Some(0.0),
        Value::Array(a) => a.is_empty(),
        Value::Object(o) => o.is_empty(),
    }
}

/// argv from `task.args` in insertion order (orchestration.md §1.4).
pub(crate) fn args_to_argv(args: &Map<String, Value>) -> Vec<String> {
    let mut out = Vec::new();
    for (key, value) in args {
        match value {
            Value::Bool(true) => out.push(key.clone()),
            v if is_falsy(v) => {}
            Value::Array(_) | Value::Object(_) => {
                out.push(key.clone());
                out.push(python_dumps_utf8(value));
            }
            _ if key == "images" || key == "workdir" => {}
            Value::String(s) => {
                out.push(key.clone());
                out.push(s.clone());
            }
            other => {
                out.push(key.clone());
                out.push(other.to_string());
            }
        }
    }
    out
}

/// `job_template.get_env(name)`: the value of the first `name=` line.
fn template_env_value<'e>(env: &'e [(String, String)], name: &str) -> Option<&'e str> {
    env.iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.trim())
        .filter(|v| !v.is_empty())
}

fn blank_to_none(s: Option<&str>) -> Option<&str> {
    s.map(str::trim).filter(|s| !s.is_empty())
}

/// Builds the pieces of one task.
pub(crate) fn build_task<'a>(
    ctx: &RunContext<'_>,
    ti: &'a TaskInput,
) -> Result<TaskSpec<'a>, CompileError> {
    let task = &ti.task;
    let name = task.name.as_str();
    let config = &ctx.input.config;
    let template = ti
        .job_template
        .as_ref()
        .ok_or_else(|| CompileError::MissingTemplate { task: name.into() })?;

    let mut args = match blank_to_none(task.args.as_deref()) {
        None => Value::Object(Map::new()),
        Some(text) => serde_json::from_str(text).map_err(|e| CompileError::BadArgs {
            task: name.into(),
            message: e.to_string(),
        })?,
    };
    ctx.renderer
        .render_json_in_place(&mut args)
        .map_err(|e| template_error(format!("task {name}: args"), e))?;
    let Value::Object(args_json) = args else {
        return Err(CompileError::BadArgs {
            task: name.into(),
            message: "not an object".into(),
        });
    };

    let mut template_env = Vec::new();
    for (k, v) in env_lines(template.env.as_deref().unwrap_or_default()) {
        let v = ctx
            .renderer
            .render(&v)
            .map_err(|e| template_error(format!("task {name}: template env {k}"), e))?;
        template_env.push((k, v));
    }

    let resource_error = |source| CompileError::BadResource {
        task: name.into(),
        source,
    };
    let memory_text = template_env_value(&template_env, "TASK_RESOURCE_MEMORY")
        .or(blank_to_none(task.resource_memory.as_deref()));
    let cpu_text = template_env_value(&template_env, "TASK_RESOURCE_CPU")
        .or(blank_to_none(task.resource_cpu.as_deref()));
    let gpu_text = template_env_value(&template_env, "TASK_RESOURCE_GPU")
        .or(blank_to_none(task.resource_gpu.as_deref()))
        .unwrap_or("0");
    let memory = memory_text
        .map(parse_memory)
        .transpose()
        .map_err(resource_error)?;
    let cpu = cpu_text
        .map(parse_cpu)
        .transpose()
        .map_err(resource_error)?;
    let gpu = parse_gpu(gpu_text, &config.gpu).map_err(resource_error)?;

    let volume_mount = ctx.render(
        name,
        "volume_mount",
        task.volume_mount.as_deref().unwrap_or_default(),
    )?;
    let volumes = ctx
        .volumes(&volume_mount)
        .map_err(|source| CompileError::BadVolumeMount {
            task: name.into(),
            source,
        })?;
    let selector = ctx.selector(&gpu);
    let host_aliases = ctx
        .host_aliases(template.host_aliases.as_deref().unwrap_or_default())
        .map_err(|source| CompileError::BadHostAlias {
            owner: format!("task {name}: job template {}", template.name),
            source,
        })?;

    let template_image = ti
        .image
        .as_ref()
        .map(|i| i.name.clone())
        .unwrap_or_default();
    let mut spec = TaskSpec {
        task,
        template,
        args_json,
        command: Vec::new(),
        args: Vec::new(),
        script: false,
        image: String::new(),
        template_image,
        working_dir: None,
        memory,
        cpu,
        gpu,
        template_env,
        volume_mount,
        volumes,
        selector,
        host_aliases,
        privileged: template.privileged.unwrap_or(false),
        service_account: blank_to_none(template.accounts.as_deref()).map(String::from),
    };

    spec.image = match spec.arg_str("images") {
        Some(image) => image.trim().to_string(),
        None if !spec.template_image.trim().is_empty() => spec.template_image.trim().to_string(),
        None => {
            return Err(CompileError::MissingImage {
                task: name.into(),
                template: template.name.clone(),
            });
        }
    };

    let task_workdir = blank_to_none(task.working_dir.as_deref());
    let template_workdir = blank_to_none(template.workdir.as_deref());
    spec.working_dir = match task_workdir.or(template_workdir) {
        Some(w) => Some(ctx.render(name, "working_dir", w)?),
        None => None,
    };

    if template.name == config.customize_job {
        spec.script = true;
        spec.command = vec!["bash".into(), "-c".into(), spec.arg_text("command")];
        if let Some(w) = spec.arg_str("workdir") {
            spec.working_dir = Some(w.to_string());
        }
    } else if template.name == config.python_job {
        spec.script = true;
        spec.command = vec!["python3".into(), "-c".into(), spec.arg_text("code")];
    } else {
        let command_text = match blank_to_none(task.command.as_deref()) {
            Some(c) => c
                .lines()
                .map(str::trim)
                .filter(|l| !l.is_empty())
                .collect::<Vec<_>>()
                .join(" && "),
            None => template.entrypoint.clone().unwrap_or_default(),
        };
        let command_text = ctx.render(name, "command", &command_text)?;
        spec.command = command_text
            .split(' ')
            .filter(|t| !t.is_empty())
            .map(String::from)
            .collect();
        spec.args = args_to_argv(&spec.args_json);
    }
    Ok(spec)
}

/// A plain `name=value` env var.
pub(crate) fn env(name: &str, value: impl Into<String>) -> EnvVar {
    EnvVar {
        name: name.to_string(),
        value: Some(value.into()),
        value_from: None,
    }
}

/// An env var from a pod field.
pub(crate) fn field_env(name: &str, path: &str) -> EnvVar {
    EnvVar {
        name: name.to_string(),
        value: None,
        value_from: Some(EnvVarSource {
            field_ref: Some(ObjectFieldSelector {
                api_version: None,
                field_path: path.to_string(),
            }),
            ..Default::default()
        }),
    }
}

/// The `KFJ_TASK_*` block.
pub(crate) fn task_env(ctx: &RunContext<'_>, spec: &TaskSpec<'_>) -> Vec<EnvVar> {
    let task = spec.task;
    vec![
        env("KFJ_TASK_ID", task.id.to_string()),
        env("KFJ_TASK_NAME", task.name.as_str()),
        env("KFJ_TASK_NODE_SELECTOR", spec.selector.text.as_str()),
        env("KFJ_TASK_VOLUME_MOUNT", spec.volume_mount.as_str()),
        env("KFJ_TASK_IMAGES", spec.template_image.as_str()),
        env(
            "KFJ_TASK_RESOURCE_CPU",
            task.resource_cpu.clone().unwrap_or_default(),
        ),
        env(
            "KFJ_TASK_RESOURCE_MEMORY",
            task.resource_memory.clone().unwrap_or_default(),
        ),
        env(
            "KFJ_TASK_RESOURCE_GPU",
            task.resource_gpu.clone().unwrap_or_default(),
        ),
        env("KFJ_TASK_PROJECT_NAME", ctx.input.project.name.as_str()),
    ]
}

/// `GPU_NONE` env when the task asks for no GPU.
pub(crate) fn gpu_none_env(ctx: &RunContext<'_>, spec: &TaskSpec<'_>) -> Vec<EnvVar> {
    if spec.gpu.class() != GpuClass::None {
        return Vec::new();
    }
    ctx.input
        .config
        .gpu_none
        .iter()
        .map(|(k, v)| env(k, v.as_str()))
        .collect()
}

/// Image-pull secrets: config `HUBSECRET`, the creator's repositories, then the
/// templates' repositories, first occurrence kept.
pub(crate) fn image_pull_secrets<'t>(
    input: &CompileInput,
    tasks: impl Iterator<Item = &'t TaskInput>,
) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let candidates = input
        .config
        .hubsecret
        .iter()
        .chain(input.creator_hubsecrets.iter())
        .cloned()
        .chain(tasks.filter_map(|t| t.hubsecret.clone()));
    for s in candidates {
        let s = s.trim().to_string();
        if !s.is_empty() && !out.contains(&s) {
            out.push(s);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn argv_rules() {
        let args: Map<String, Value> = serde_json::from_str(
            r#"{"--epochs":10,"--use_amp":true,"--debug":false,"--lr":"","--zero":0,"--none":null,
                "--empty":[],"--conf":{"a":1},"--list":[1,"b"],"images":"x","workdir":"/w",
                "--rate":0.5,"--date":"20261130"}"#,
        )
        .unwrap();
        assert_eq!(
            args_to_argv(&args),
            [
                "--epochs",
                "10",
                "--use_amp",
                "--conf",
                "{\"a\": 1}",
                "--list",
                "[1, \"b\"]",
                "--rate",
                "0.5",
                "--date",
                "20261130"
            ]
        );
    }

    #[test]
    fn env_lines_split_at_the_first_equals() {
        assert_eq!(
            env_lines("A=1\n B = x=y \nnoequals\n=v\n"),
            vec![
                ("A".to_string(), "1".to_string()),
                ("B".to_string(), " x=y".to_string())
            ]
        );
    }
}
