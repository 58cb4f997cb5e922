//! The container template of one task, as serialization views that borrow the
//! task's own pieces and the run's shared values (see [`super::manifest`]).

use k8s_openapi::api::core::v1::{HostAlias, NodeAffinity, Volume, VolumeMount};
use serde::Serialize;
use serde::ser::{SerializeSeq, SerializeStruct, Serializer};

use super::manifest::{Pairs, RunShared, TaskTemplate, pairs};

/// A task's container template, borrowing the task and the run.
#[derive(Serialize)]
pub(super) struct ContainerTemplate<'a> {
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
    pub(super) fn new(run: &'a RunShared, task: &'a TaskTemplate) -> Self {
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
