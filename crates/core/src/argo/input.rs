//! What the caller hands to the compiler: rows, users, configuration bits, the clock
//! and the random parts, so that compiling stays a pure function.

use std::collections::BTreeMap;

use app_models::rows::{Image, JobTemplate, Pipeline, Project, Task};
use chrono::NaiveDateTime;

use crate::Config;
use crate::k8s::project::Namespaces;
use crate::k8s::resources::GpuConfig;

/// The `schedule_type` workflow label.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScheduleType {
    /// A manual run.
    Once,
    /// A cron run.
    Crontab,
}

impl ScheduleType {
    /// The label key.
    pub const LABEL: &'static str = "schedule_type";

    /// The value written on new workflows: `once` or `crontab`. Upstream wrote the
    /// typo `contab` for cron runs; [`ScheduleType::from_label`] still reads it.
    pub fn label_value(self) -> &'static str {
        match self {
            ScheduleType::Once => "once",
            ScheduleType::Crontab => "crontab",
        }
    }

    /// Reads a label value, accepting upstream's `contab` typo as `Crontab`.
    pub fn from_label(value: &str) -> Option<ScheduleType> {
        match value {
            "once" => Some(ScheduleType::Once),
            "crontab" | "contab" => Some(ScheduleType::Crontab),
            _ => None,
        }
    }
}

/// One task with the rows it refers to.
#[derive(Debug, Clone, PartialEq)]
pub struct TaskInput {
    pub task: Task,
    /// `None` when the template was deleted: compiling fails naming the task.
    pub job_template: Option<JobTemplate>,
    /// The template's image row.
    pub image: Option<Image>,
    /// `repository.hubsecret` of the image's repository.
    pub hubsecret: Option<String>,
}

impl TaskInput {
    /// A task with its template, image and pull secret.
    pub fn new(
        task: Task,
        job_template: Option<JobTemplate>,
        image: Option<Image>,
        hubsecret: Option<String>,
    ) -> TaskInput {
        TaskInput {
            task,
            job_template,
            image,
            hubsecret,
        }
    }
}

/// The configuration the compiler reads (orchestration.md §1, kubernetes.md §1).
#[derive(Debug, Clone, PartialEq)]
pub struct CompileConfig {
    /// Default namespaces; a project's `expand.namespace` overrides them.
    pub namespaces: Namespaces,
    /// `CLUSTERS` key → cluster `NAME`.
    pub clusters: BTreeMap<String, String>,
    /// The home cluster key (`ENVIRONMENT`).
    pub environment: String,
    /// `HUBSECRET`: image-pull secrets always added, first.
    pub hubsecret: Vec<String>,
    /// `IMAGE_PULL_POLICY`.
    pub image_pull_policy: String,
    /// `GPU_RESOURCE` and `DEFAULT_GPU_RESOURCE_NAME`.
    pub gpu: GpuConfig,
    /// `GPU_NONE`: env added to containers without a GPU.
    pub gpu_none: Vec<(String, String)>,
    /// `HOSTALIASES`: `ip host...` lines added to every pod.
    pub host_aliases: String,
    /// `CUSTOMIZE_JOB`: the custom-image template (`bash -c args.command`).
    pub customize_job: String,
    /// The template run as `python3 -c args.code`.
    pub python_job: String,
    /// `GLOBAL_ENV`: env of every task; values are Jinja templates.
    pub global_env: Vec<(String, String)>,
    /// The workflow-level service account.
    pub service_account: String,
    /// `ttlStrategy.secondsAfterCompletion`.
    pub ttl_seconds_after_completion: i64,
    /// `GPU_SCHEDULERNAME`: scheduler of single-task pods without a GPU.
    pub gpu_scheduler_name: Option<String>,
}

/// The upstream `GLOBAL_ENV`, except `KFJ_RUN_ID` (the caller's run id) and
/// `KFJ_NAMESPACE` (the real pipeline namespace instead of a literal `pipeline`).
pub fn default_global_env() -> Vec<(String, String)> {
    [
        ("KFJ_PIPELINE_ID", "{{pipeline_id}}"),
        ("KFJ_RUN_ID", "{{run_id}}"),
        ("KFJ_CREATOR", "{{creator}}"),
        ("KFJ_RUNNER", "{{runner}}"),
        ("KFJ_MODEL_REPO_API_URL", "http://kubeflow-dashboard.infra"),
        ("KFJ_ARCHIVE_BASE_PATH", "/archives"),
        ("KFJ_PIPELINE_NAME", "{{pipeline_name}}"),
        ("KFJ_NAMESPACE", "{{pipeline_namespace}}"),
        ("KFJ_ENVIRONMENT", "{{cluster_name}}"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect()
}

impl Default for CompileConfig {
    fn default() -> Self {
        CompileConfig {
            namespaces: Namespaces::default(),
            clusters: BTreeMap::from([("dev".to_string(), "dev".to_string())]),
            environment: "dev".into(),
            hubsecret: vec!["hubsecret".into()],
            image_pull_policy: "Always".into(),
            gpu: GpuConfig::default(),
            gpu_none: vec![("NVIDIA_VISIBLE_DEVICES".into(), "none".into())],
            host_aliases: "127.0.0.1 localhost".into(),
            customize_job: "自定义镜像".into(),
            python_job: "python".into(),
            global_env: default_global_env(),
            service_account: "pipeline-runner".into(),
            ttl_seconds_after_completion: 10800,
            gpu_scheduler_name: None,
        }
    }
}

impl CompileConfig {
    /// The defaults with what `Config` knows: namespaces, clusters, pull secrets and
    /// pull policy.
    pub fn from_config(config: &Config) -> CompileConfig {
        CompileConfig {
            namespaces: Namespaces::from_config(config),
            clusters: config
                .clusters
                .iter()
                .map(|(k, c)| (k.clone(), c.name.clone()))
                .collect(),
            environment: config.environment.clone(),
            hubsecret: config.hubsecret.clone(),
            image_pull_policy: config.image_pull_policy.clone(),
            ..CompileConfig::default()
        }
    }

    /// `NAME` of the cluster with that key, else of the home cluster.
    pub fn cluster_name(&self, key: Option<&str>) -> String {
        key.and_then(|k| self.clusters.get(k))
            .or_else(|| self.clusters.get(&self.environment))
            .cloned()
            .unwrap_or_else(|| self.environment.clone())
    }
}

/// Everything [`compile_workflow`](super::compile_workflow) needs.
#[derive(Debug, Clone, PartialEq)]
pub struct CompileInput {
    pub pipeline: Pipeline,
    pub project: Project,
    /// The pipeline's tasks (any order; the dag gives the order).
    pub tasks: Vec<TaskInput>,
    /// Pipeline creator's username.
    pub creator: String,
    /// Username of who started the run (the creator for cron runs).
    pub runner: String,
    /// `hubsecret` of every repository the creator created.
    pub creator_hubsecrets: Vec<String>,
    pub config: CompileConfig,
    /// The clock behind `datetime.datetime.now()` and the `save-time` label.
    pub now: NaiveDateTime,
    /// `%Y-%m-%d %H:%M:%S`; cron runs pass the scheduled time.
    pub execution_date: String,
    /// `KFJ_RUN_ID` and the `run-id` label (32 hex for workflows).
    pub run_id: String,
    /// The 4 hex of the workflow name `<pipeline>-<suffix>`.
    pub name_suffix: String,
    /// Extra workflow labels, first in `metadata.labels` (e.g. `schedule_type`).
    pub labels: Vec<(String, String)>,
}

/// A new random run id (32 hex).
pub fn fresh_run_id() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

/// A new random workflow name suffix (4 hex).
pub fn fresh_name_suffix() -> String {
    fresh_run_id()[..4].to_string()
}

/// The workflow name suffix that belongs to a run id: its first 4 alphanumerics,
/// lower-cased (the first 4 hex of our own run ids); `None` when it has fewer.
pub fn name_suffix_of(run_id: &str) -> Option<String> {
    let s: String = run_id
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_lowercase())
        .take(4)
        .collect();
    (s.len() == 4).then_some(s)
}

/// The run id of a single-task run pod: `run-<pipeline_id>-<task_id>`.
pub fn run_pod_run_id(pipeline_id: i32, task_id: i32) -> String {
    format!("run-{pipeline_id}-{task_id}")
}

/// A new run id of a debug pod: `debug-<32 hex>`.
pub fn fresh_debug_run_id() -> String {
    format!("debug-{}", fresh_run_id())
}

impl CompileInput {
    /// An input for a manual run by the creator, with a random run id and name
    /// suffix, `execution_date = now` and the label `schedule_type: once`.
    pub fn new(
        pipeline: Pipeline,
        project: Project,
        tasks: Vec<TaskInput>,
        creator: &str,
        config: CompileConfig,
        now: NaiveDateTime,
    ) -> CompileInput {
        CompileInput {
            pipeline,
            project,
            tasks,
            creator: creator.to_string(),
            runner: creator.to_string(),
            creator_hubsecrets: Vec::new(),
            config,
            now,
            execution_date: app_models::time::format_time(now),
            run_id: fresh_run_id(),
            name_suffix: fresh_name_suffix(),
            labels: vec![(
                ScheduleType::LABEL.to_string(),
                ScheduleType::Once.label_value().to_string(),
            )],
        }
    }

    /// Sets who runs it.
    pub fn with_runner(mut self, runner: &str) -> Self {
        self.runner = runner.to_string();
        self
    }

    /// Sets the run id.
    pub fn with_run_id(mut self, run_id: &str) -> Self {
        self.run_id = run_id.to_string();
        self
    }

    /// Makes it the input of a cron run: schedule type `crontab`, the scheduled time as
    /// execution date and, when the run has one, its run id with the workflow name
    /// suffix taken from that id (so a workflow compiled again for the same run keeps
    /// its name). The scheduler and the worker both freeze cron runs through this.
    pub fn for_cron_run(self, execution_date: &str, run_id: Option<&str>) -> Self {
        let mut input = self
            .with_schedule_type(ScheduleType::Crontab)
            .with_execution_date(execution_date);
        if let Some(rid) = run_id.filter(|r| !r.is_empty()) {
            input = input.with_run_id(rid);
            if let Some(suffix) = name_suffix_of(rid) {
                input = input.with_name_suffix(&suffix);
            }
        }
        input
    }

    /// Sets the workflow name suffix.
    pub fn with_name_suffix(mut self, suffix: &str) -> Self {
        self.name_suffix = suffix.to_string();
        self
    }

    /// Sets the execution date (cron runs: the scheduled time).
    pub fn with_execution_date(mut self, execution_date: &str) -> Self {
        self.execution_date = execution_date.to_string();
        self
    }

    /// Sets the creator's repository pull secrets.
    pub fn with_creator_hubsecrets(mut self, secrets: Vec<String>) -> Self {
        self.creator_hubsecrets = secrets;
        self
    }

    /// Sets (or replaces) a workflow label.
    pub fn with_label(mut self, key: &str, value: &str) -> Self {
        match self.labels.iter_mut().find(|(k, _)| k == key) {
            Some(l) => l.1 = value.to_string(),
            None => self.labels.push((key.to_string(), value.to_string())),
        }
        self
    }

    /// Sets the `schedule_type` label.
    pub fn with_schedule_type(self, schedule_type: ScheduleType) -> Self {
        self.with_label(ScheduleType::LABEL, schedule_type.label_value())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schedule_type_labels() {
        assert_eq!(ScheduleType::Crontab.label_value(), "crontab");
        assert_eq!(
            ScheduleType::from_label("contab"),
            Some(ScheduleType::Crontab)
        );
        assert_eq!(
            ScheduleType::from_label("crontab"),
            Some(ScheduleType::Crontab)
        );
        assert_eq!(ScheduleType::from_label("once"), Some(ScheduleType::Once));
        assert_eq!(ScheduleType::from_label("x"), None);
    }

    #[test]
    fn config_cluster_names() {
        let mut c = CompileConfig::default();
        c.clusters.insert("gpu".into(), "gpu-cluster".into());
        assert_eq!(c.cluster_name(Some("gpu")), "gpu-cluster");
        assert_eq!(c.cluster_name(Some("nope")), "dev");
        assert_eq!(c.cluster_name(None), "dev");
        assert_eq!(fresh_name_suffix().len(), 4);
        assert_eq!(run_pod_run_id(3, 9), "run-3-9");
    }
}
