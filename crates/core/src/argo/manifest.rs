//! The typed Argo `Workflow` that [`compile_workflow`](super::compile_workflow)
//! returns: plain structs serialized in the manifest's key order, so that storing or
//! submitting a workflow writes its text straight from them, with no
//! `serde_json::Value` tree in between. The run-wide values every task template
//! repeats (pipeline labels, global env) are held once and borrowed while serializing.

use std::sync::Arc;

use k8s_openapi::api::core::v1::HostAlias;
use serde::Serialize;
use serde::ser::{SerializeMap, SerializeSeq, SerializeStruct, Serializer};

use super::container_template::ContainerTemplate;
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
pub(super) struct Pairs<'a, K, V>(&'a [(K, V)]);

pub(super) fn pairs<K, V>(items: &[(K, V)]) -> Pairs<'_, K, V> {
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
