//! The typed Argo `Workflow` that [`compile_workflow`](super::compile_workflow)
//! returns: plain structs serialized in the manifest's key order, so that storing or
//! submitting a workflow writes its text straight from them, with no
//! `serde_json::Value` tree in between. The run-wide values every task template
//! repeats (pipeline labels, global env) are held once and borrowed while serializing.

use std::sync::Arc;

use k8s_openapi::api::core::v1::{HostAlias, NodeAffinity, Volume, VolumeMount};
use serde::Serialize;
use serde::ser::{SerializeMap, SerializeSeq, SerializeStruct, Serializer};

use super::task::TaskSelector;
use crate::k8s::resources::RequestLimit;
use crate::k8s::volumes::VolumeSet;

/// Ordered `key: value` string pairs serialized as an object; setting a key that is
/// present replaces its value in place (an insertion-ordered map).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StringMap(Vec<(String, String)>);

impl StringMap {
    /// Sets `key`, keeping its position when present.
    pub fn set(&mut self, key: &str, value: String) {
        match self.0.iter_mut().find(|(k, _)| k == key) {
            Some(pair) => pair.1 = value,
            None => self.0.push((key.to_string(), value)),
        }
    }

    /// The value of `key`.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// The pairs in order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }
}

impl Serialize for StringMap {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        pairs(&self.0).serialize(s)
    }
}

/// Serializes `(key, value)` pairs as an object.
struct Pairs<'a, K, V>(&'a [(K, V)]);

fn pairs<K, V>(items: &[(K, V)]) -> Pairs<'_, K, V> {
    Pairs(items)
}

impl<K: AsRef<str>, V: AsRef<str>> Serialize for Pairs<'_, K, V> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(self.0.len()))?;
        for (k, v) in self.0 {
            map.serialize_entry(k.as_ref(), v.as_ref())?;
        }
        map.end()
    }
}

/// An Argo `Workflow` manifest (`argoproj.io/v1alpha1`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Workflow {
    #[serde(rename = "apiVersion")]
    pub api_version: &'static str,
    pub kind: &'static str,
    pub metadata: WorkflowMetadata,
    pub spec: WorkflowSpec,
}

impl Workflow {
    /// `metadata.name`.
    pub fn name(&self) -> &str {
        &self.metadata.name
    }

    /// `metadata.namespace`.
    pub fn namespace(&self) -> &str {
        &self.metadata.namespace
    }

    /// The manifest as a JSON value, for callers that edit or inspect it as one.
    pub fn to_value(&self) -> serde_json::Value {
        serde_json::to_value(self).unwrap_or(serde_json::Value::Null)
    }
}

/// `metadata` of the workflow.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WorkflowMetadata {
    pub name: String,
    pub namespace: String,
    pub annotations: WorkflowAnnotations,
    pub labels: StringMap,
}

/// `metadata.annotations`: the pipeline name and its escaped description.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WorkflowAnnotations {
    pub name: String,
    pub description: String,
}

/// `spec`: run-wide settings, the dag template, then one container template per task.
#[derive(Debug, Clone, PartialEq)]
pub struct WorkflowSpec {
    pub(crate) ttl_seconds_after_completion: i64,
    pub(crate) service_account_name: String,
    pub(crate) parallelism: i32,
    pub(crate) image_pull_secrets: Vec<String>,
    pub(crate) dag: Vec<DagTask>,
    pub(crate) run: RunShared,
    pub(crate) tasks: Vec<TaskTemplate>,
}

/// The values every task template repeats, held once per workflow.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct RunShared {
    pub pipeline_id: String,
    /// The entrypoint, the dag template's name and a label of every template.
    pub pipeline_name: String,
    pub pipeline_describe: String,
    pub project_name: String,
    pub run_id_label: String,
    pub runner_label: String,
    pub creator_label: String,
    pub creator: String,
    pub image_pull_policy: String,
    /// `HUBSECRET` joined with `,`.
    pub hubsecret: String,
    pub global_env: Vec<(String, String)>,
    /// `GPU_NONE` pairs, added to tasks without a GPU.
    pub gpu_none: Vec<(String, String)>,
}

/// One entry of the dag template.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct DagTask {
    pub name: String,
    pub dependencies: Vec<String>,
    pub skip: bool,
}

impl Serialize for DagTask {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut st = s.serialize_struct("DagTask", 3 + usize::from(self.skip))?;
        st.serialize_field("name", &self.name)?;
        st.serialize_field("template", &self.name)?;
        st.serialize_field("dependencies", &self.dependencies)?;
        if self.skip {
            st.serialize_field("when", "false")?;
        }
        st.end()
    }
}

/// What one task's container template holds of its own.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct TaskTemplate {
    pub name: String,
    /// The task id as text (label and env).
    pub id: String,
    pub label: String,
    /// `job_template.describe`.
    pub template_describe: String,
    pub container_name: String,
    pub skip: bool,
    pub command: Vec<String>,
    pub args: Vec<String>,
    pub image: String,
    pub working_dir: Option<String>,
    pub memory: Option<RequestLimit>,
    pub cpu: Option<RequestLimit>,
    /// (resource name, whole cards).
    pub gpu: Option<(String, String)>,
    pub volumes: Arc<VolumeSet>,
    pub env: TaskEnv,
    pub privileged: bool,
    pub selector: Arc<TaskSelector>,
    pub retry: i32,
    pub timeout: i32,
    pub host_aliases: Arc<Vec<HostAlias>>,
    pub service_account: Option<String>,
}

/// The task's own env values (the `KFJ_TASK_*` block and its template env).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct TaskEnv {
    pub template_env: Vec<(String, String)>,
    pub volume_mount: String,
    pub template_image: String,
    pub resource_cpu: String,
    pub resource_memory: String,
    pub resource_gpu: String,
    pub gpu_resource_name: String,
    /// The task asks for no GPU: the `GPU_NONE` pairs apply.
    pub gpu_none: bool,
}

impl Serialize for WorkflowSpec {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut st = s.serialize_struct("WorkflowSpec", 8)?;
        st.serialize_field(
            "ttlStrategy",
            &Ttl {
                seconds_after_completion: self.ttl_seconds_after_completion,
            },
        )?;
        st.serialize_field("archiveLogs", &true)?;
        st.serialize_field("entrypoint", &self.run.pipeline_name)?;
        st.serialize_field("templates", &Templates(self))?;
        st.serialize_field("arguments", &Arguments { parameters: &[] })?;
        st.serialize_field("serviceAccountName", &self.service_account_name)?;
        st.serialize_field("parallelism", &self.parallelism)?;
        st.serialize_field("imagePullSecrets", &Secrets(&self.image_pull_secrets))?;
        st.end()
    }
}

#[derive(Serialize)]
struct Ttl {
    #[serde(rename = "secondsAfterCompletion")]
    seconds_after_completion: i64,
}

#[derive(Serialize)]
struct Arguments {
    parameters: &'static [String],
}

#[derive(Serialize)]
struct Named<'a> {
    name: &'a str,
}

struct Secrets<'a>(&'a [String]);

impl Serialize for Secrets<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.0.iter().map(|name| Named { name }))
    }
}

/// The dag template, then the tasks' container templates.
struct Templates<'a>(&'a WorkflowSpec);

#[derive(Serialize)]
struct DagTemplate<'a> {
    name: &'a str,
    dag: DagTasks<'a>,
}

#[derive(Serialize)]
struct DagTasks<'a> {
    tasks: &'a [DagTask],
}

impl Serialize for Templates<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let spec = self.0;
        let mut seq = s.serialize_seq(Some(spec.tasks.len() + 1))?;
        seq.serialize_element(&DagTemplate {
            name: &spec.run.pipeline_name,
            dag: DagTasks { tasks: &spec.dag },
        })?;
        for task in &spec.tasks {
            seq.serialize_element(&ContainerTemplate::new(&spec.run, task))?;
        }
        seq.end()
    }
}

/// A task's container template, borrowing the task and the run.
#[derive(Serialize)]
struct ContainerTemplate<'a> {
    name: &'a str,
    outputs: Outputs,
    container: Container<'a>,
    #[serde(rename = "nodeSelector")]
    node_selector: Pairs<'a, String, String>,
    affinity: Affinity<'a>,
    metadata: TemplateMetadata<'a>,
    #[serde(rename = "retryStrategy")]
    retry_strategy: Option<Retry>,
    #[serde(rename = "activeDeadlineSeconds")]
    active_deadline_seconds: Option<i32>,
    volumes: &'a [Volume],
    #[serde(rename = "hostAliases")]
    host_aliases: &'a [HostAlias],
    #[serde(rename = "serviceAccountName", skip_serializing_if = "Option::is_none")]
    service_account_name: Option<&'a str>,
}

impl<'a> ContainerTemplate<'a> {
    fn new(run: &'a RunShared, task: &'a TaskTemplate) -> Self {
        let resources = if task.skip {
            Resources {
                limits: None,
                requests: None,
            }
        } else {
            let mut limits = ResourceMap::default();
            let mut requests = ResourceMap::default();
            if let Some(m) = &task.memory {
                requests.set("memory", &m.request);
                limits.set("memory", &m.limit);
            }
            if let Some(c) = &task.cpu {
                requests.set("cpu", &c.request);
                limits.set("cpu", &c.limit);
            }
            if let Some((name, n)) = &task.gpu {
                requests.set(name, n);
                limits.set(name, n);
            }
            Resources {
                limits: Some(limits),
                requests: Some(requests),
            }
        };
        ContainerTemplate {
            name: &task.name,
            outputs: Outputs { artifacts: &[] },
            container: Container {
                name: &task.container_name,
                ports: &[],
                command: if task.skip {
                    Command::Skip
                } else {
                    Command::Argv(&task.command)
                },
                args: (!task.skip).then_some(task.args.as_slice()),
                image: &task.image,
                working_dir: task.working_dir.as_deref(),
                image_pull_policy: &run.image_pull_policy,
                resources,
                volume_mounts: &task.volumes.mounts,
                env: Env { run, task },
                security_context: SecurityContext {
                    privileged: task.privileged,
                },
            },
            node_selector: pairs(&task.selector.placement.node_selector),
            affinity: Affinity {
                node_affinity: task.selector.node_affinity.as_ref(),
                pod_anti_affinity: PodAntiAffinity {
                    preferred: [WeightedTerm {
                        weight: 80,
                        pod_affinity_term: PodAffinityTerm {
                            label_selector: LabelSelector {
                                match_labels: PipelineIdLabel {
                                    pipeline_id: &run.pipeline_id,
                                },
                            },
                            topology_key: "kubernetes.io/hostname",
                        },
                    }],
                },
            },
            metadata: TemplateMetadata {
                labels: TemplateLabels {
                    pipeline_id: &run.pipeline_id,
                    pipeline_name: &run.pipeline_name,
                    app: &run.pipeline_name,
                    task_id: &task.id,
                    task_name: &task.name,
                    run_id: &run.run_id_label,
                    run_username: &run.runner_label,
                    pipeline_username: &run.creator_label,
                },
                annotations: TemplateAnnotations {
                    project: &run.project_name,
                    pipeline: &run.pipeline_describe,
                    task: &task.label,
                    job_template: &task.template_describe,
                },
            },
            retry_strategy: (task.retry > 0).then_some(Retry { limit: task.retry }),
            active_deadline_seconds: (task.timeout > 0).then_some(task.timeout),
            volumes: &task.volumes.volumes,
            host_aliases: &task.host_aliases,
            service_account_name: task.service_account.as_deref(),
        }
    }
}

#[derive(Serialize)]
struct Outputs {
    artifacts: &'static [String],
}

#[derive(Serialize)]
struct Retry {
    limit: i32,
}

#[derive(Serialize)]
struct Container<'a> {
    name: &'a str,
    ports: &'static [String],
    command: Command<'a>,
    args: Option<&'a [String]>,
    image: &'a str,
    #[serde(rename = "workingDir")]
    working_dir: Option<&'a str>,
    #[serde(rename = "imagePullPolicy")]
    image_pull_policy: &'a str,
    resources: Resources<'a>,
    #[serde(rename = "volumeMounts")]
    volume_mounts: &'a [VolumeMount],
    env: Env<'a>,
    #[serde(rename = "securityContext")]
    security_context: SecurityContext,
}

/// A skipped task only echoes `skip`.
enum Command<'a> {
    Skip,
    Argv(&'a [String]),
}

impl Serialize for Command<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Command::Skip => ["echo", "skip"].as_slice().serialize(s),
            Command::Argv(argv) => argv.serialize(s),
        }
    }
}

/// `limits` and `requests`; both `null` for a skipped task.
#[derive(Serialize)]
struct Resources<'a> {
    limits: Option<ResourceMap<'a>>,
    requests: Option<ResourceMap<'a>>,
}

/// Up to three resources (memory, cpu, a GPU), in that order; a GPU resource named
/// like an earlier one replaces its value in place.
#[derive(Default)]
struct ResourceMap<'a> {
    items: [(&'a str, &'a str); 3],
    len: usize,
}

impl<'a> ResourceMap<'a> {
    fn set(&mut self, key: &'a str, value: &'a str) {
        let (items, len) = (&mut self.items, self.len);
        match items[..len].iter_mut().find(|(k, _)| *k == key) {
            Some(item) => item.1 = value,
            None => {
                items[len] = (key, value);
                self.len += 1;
            }
        }
    }
}

impl Serialize for ResourceMap<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        pairs(&self.items[..self.len]).serialize(s)
    }
}

#[derive(Serialize)]
struct SecurityContext {
    privileged: bool,
}

/// The container env: template env, global env, the `KFJ_TASK_*` block, the run's
/// values, `GPU_NONE` for tasks without a GPU, and the pod fields.
struct Env<'a> {
    run: &'a RunShared,
    task: &'a TaskTemplate,
}

#[derive(Serialize)]
struct PlainEnv<'a> {
    name: &'a str,
    value: &'a str,
}

#[derive(Serialize)]
struct FieldEnv<'a> {
    name: &'a str,
    #[serde(rename = "valueFrom")]
    value_from: ValueFrom<'a>,
}

#[derive(Serialize)]
struct ValueFrom<'a> {
    #[serde(rename = "fieldRef")]
    field_ref: FieldRef<'a>,
}

#[derive(Serialize)]
struct FieldRef<'a> {
    #[serde(rename = "fieldPath")]
    field_path: &'a str,
}

/// Env vars read from the pod.
const POD_FIELDS: [(&str, &str); 4] = [
    ("K8S_NODE_NAME", "spec.nodeName"),
    ("K8S_POD_IP", "status.podIP"),
    ("K8S_HOST_IP", "status.hostIP"),
    ("K8S_POD_NAME", "metadata.name"),
];

impl Serialize for Env<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let (run, task, env) = (self.run, self.task, &self.task.env);
        let gpu_none: &[(String, String)] = if env.gpu_none { &run.gpu_none } else { &[] };
        let len = env.template_env.len() + run.global_env.len() + 13 + gpu_none.len() + 4;
        let mut seq = s.serialize_seq(Some(len))?;
        let pairs = env.template_env.iter().chain(&run.global_env);
        for (name, value) in pairs {
            seq.serialize_element(&PlainEnv { name, value })?;
        }
        let block: [(&str, &str); 13] = [
            ("KFJ_TASK_ID", &task.id),
            ("KFJ_TASK_NAME", &task.name),
            ("KFJ_TASK_NODE_SELECTOR", &task.selector.text),
            ("KFJ_TASK_VOLUME_MOUNT", &env.volume_mount),
            ("KFJ_TASK_IMAGES", &env.template_image),
            ("KFJ_TASK_RESOURCE_CPU", &env.resource_cpu),
            ("KFJ_TASK_RESOURCE_MEMORY", &env.resource_memory),
            ("KFJ_TASK_RESOURCE_GPU", &env.resource_gpu),
            ("KFJ_TASK_PROJECT_NAME", &run.project_name),
            ("GPU_RESOURCE_NAME", &env.gpu_resource_name),
            ("USERNAME", &run.creator),
            ("IMAGE_PULL_POLICY", &run.image_pull_policy),
            ("HUBSECRET", &run.hubsecret),
        ];
        for (name, value) in block {
            seq.serialize_element(&PlainEnv { name, value })?;
        }
        for (name, value) in gpu_none {
            seq.serialize_element(&PlainEnv { name, value })?;
        }
        for (name, field_path) in POD_FIELDS {
            seq.serialize_element(&FieldEnv {
                name,
                value_from: ValueFrom {
                    field_ref: FieldRef { field_path },
                },
            })?;
        }
        seq.end()
    }
}

#[derive(Serialize)]
struct Affinity<'a> {
    #[serde(rename = "nodeAffinity", skip_serializing_if = "Option::is_none")]
    node_affinity: Option<&'a NodeAffinity>,
    #[serde(rename = "podAntiAffinity")]
    pod_anti_affinity: PodAntiAffinity<'a>,
}

/// Spread the tasks of a pipeline over hosts.
struct PodAntiAffinity<'a> {
    preferred: [WeightedTerm<'a>; 1],
}

impl Serialize for PodAntiAffinity<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut st = s.serialize_struct("PodAntiAffinity", 1)?;
        st.serialize_field(
            "preferredDuringSchedulingIgnoredDuringExecution",
            self.preferred.as_slice(),
        )?;
        st.end()
    }
}

#[derive(Serialize)]
struct WeightedTerm<'a> {
    weight: i32,
    #[serde(rename = "podAffinityTerm")]
    pod_affinity_term: PodAffinityTerm<'a>,
}

#[derive(Serialize)]
struct PodAffinityTerm<'a> {
    #[serde(rename = "labelSelector")]
    label_selector: LabelSelector<'a>,
    #[serde(rename = "topologyKey")]
    topology_key: &'a str,
}

#[derive(Serialize)]
struct LabelSelector<'a> {
    #[serde(rename = "matchLabels")]
    match_labels: PipelineIdLabel<'a>,
}

#[derive(Serialize)]
struct PipelineIdLabel<'a> {
    #[serde(rename = "pipeline-id")]
    pipeline_id: &'a str,
}

#[derive(Serialize)]
struct TemplateMetadata<'a> {
    labels: TemplateLabels<'a>,
    annotations: TemplateAnnotations<'a>,
}

#[derive(Serialize)]
struct TemplateLabels<'a> {
    #[serde(rename = "pipeline-id")]
    pipeline_id: &'a str,
    #[serde(rename = "pipeline-name")]
    pipeline_name: &'a str,
    app: &'a str,
    #[serde(rename = "task-id")]
    task_id: &'a str,
    #[serde(rename = "task-name")]
    task_name: &'a str,
    #[serde(rename = "run-id")]
    run_id: &'a str,
    #[serde(rename = "run-username")]
    run_username: &'a str,
    #[serde(rename = "pipeline-username")]
    pipeline_username: &'a str,
}

#[derive(Serialize)]
struct TemplateAnnotations<'a> {
    project: &'a str,
    pipeline: &'a str,
    task: &'a str,
    #[serde(rename = "job-template")]
    job_template: &'a str,
}
