//! The single-task pods of orchestration.md §2.2: `run-<pipeline>-<task>` runs one
//! task outside Argo, `debug-<pipeline>-<task>` sleeps so that a user can exec into
//! it. Built from the same [`CompileInput`] as the workflow (the caller may pass only
//! the task in question) with `run_id` set by the caller
//! ([`run_pod_run_id`](crate::argo::run_pod_run_id) or
//! [`fresh_debug_run_id`](crate::argo::fresh_debug_run_id)).
//!
//! Differences from upstream: unknown Jinja variables render as empty strings (as in
//! workflows), a multi-value node selector becomes a nodeAffinity, and the run pod's
//! `HostNetwork` ports are not implemented.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{
    Affinity, Container, EnvVar, LocalObjectReference, Pod, PodAffinity, PodAffinityTerm, PodSpec,
    ResourceRequirements, SecurityContext, WeightedPodAffinityTerm,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};

use super::resources::GpuClass;
use super::{label_value, resource_name};
use crate::argo::task::{
    RunContext, TaskSpec, build_task, env, field_env, gpu_none_env, image_pull_secrets, task_env,
};
use crate::argo::{CompileError, CompileInput};

/// The debug pod's command: sleep two hours, then keep sleeping until 06:00.
pub const DEBUG_SLEEP_COMMAND: &str =
    "sleep 7200 && hour=`date +%H` && while [ $hour -ge 06 ];do sleep 3600;hour=`date +%H`;done";

/// Which single-task pod to build.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TaskPodKind {
    /// `run-<pipeline>-<task>`: runs the task's command once.
    Run,
    /// `debug-<pipeline>-<task>`: sleeps, for interactive debugging.
    Debug,
}

impl TaskPodKind {
    fn prefix(self) -> &'static str {
        match self {
            TaskPodKind::Run => "run",
            TaskPodKind::Debug => "debug",
        }
    }
}

/// The pod name: `<run|debug>-<pipeline>-<task>`, lower-cased, `_`→`-`, at most 60
/// characters, `-` trimmed.
pub fn task_pod_name(kind: TaskPodKind, pipeline: &str, task: &str) -> String {
    resource_name(&format!("{}-{pipeline}-{task}", kind.prefix()), 60)
}

fn first_arg<'s>(spec: &'s TaskSpec<'_>, keys: &[&str]) -> Option<&'s str> {
    keys.iter().find_map(|k| spec.arg_str(k)).map(str::trim)
}

fn pod_env(ctx: &RunContext<'_>, spec: &TaskSpec<'_>) -> Vec<EnvVar> {
    let input = ctx.input;
    let mut vars: Vec<EnvVar> = spec
        .template_env
        .iter()
        .map(|(k, v)| env(k, v.as_str()))
        .collect();
    let add = |vars: &mut Vec<EnvVar>, var: EnvVar| {
        if !vars.iter().any(|v| v.name == var.name) {
            vars.push(var);
        }
    };
    for var in task_env(ctx, spec) {
        add(&mut vars, var);
    }
    let pipeline = &input.pipeline;
    for (k, v) in [
        ("KFJ_PIPELINE_ID", pipeline.id.to_string()),
        ("KFJ_RUN_ID", input.run_id.clone()),
        ("KFJ_CREATOR", input.creator.clone()),
        ("KFJ_RUNNER", input.runner.clone()),
        ("KFJ_PIPELINE_NAME", pipeline.name.clone()),
        ("KFJ_NAMESPACE", ctx.namespace.clone()),
        ("GPU_RESOURCE_NAME", spec.gpu.resource_name.clone()),
    ] {
        add(&mut vars, env(k, v));
    }
    for (k, v) in ctx.pipeline_env.iter().chain(&ctx.system_env) {
        add(&mut vars, env(k, v.as_str()));
    }
    add(
        &mut vars,
        env("HUBSECRET", input.config.hubsecret.join(",")),
    );
    vars.push(field_env("K8S_NODE_NAME", "spec.nodeName"));
    vars.push(field_env("K8S_POD_NAMESPACE", "metadata.namespace"));
    vars.push(field_env("K8S_POD_IP", "status.podIP"));
    vars.push(field_env("K8S_HOST_IP", "status.hostIP"));
    vars.push(field_env("K8S_POD_NAME", "metadata.name"));
    vars.extend(gpu_none_env(ctx, spec));
    vars
}

fn pod_resources(spec: &TaskSpec<'_>) -> ResourceRequirements {
    let mut requests = BTreeMap::new();
    let mut limits = BTreeMap::new();
    if let Some(m) = &spec.memory {
        requests.insert("memory".to_string(), Quantity(m.request.clone()));
        limits.insert("memory".to_string(), Quantity(m.limit.clone()));
    }
    if let Some(c) = &spec.cpu {
        requests.insert("cpu".to_string(), Quantity(c.request.clone()));
        limits.insert("cpu".to_string(), Quantity(c.limit.clone()));
    }
    if let Some((name, n)) = spec.gpu_resource() {
        requests.insert(name.clone(), Quantity(n.clone()));
        limits.insert(name, Quantity(n));
    }
    ResourceRequirements {
        requests: Some(requests),
        limits: Some(limits),
        ..Default::default()
    }
}

/// Builds the run or debug pod of one task of `input`.
pub fn build_task_pod(
    input: &CompileInput,
    task_name: &str,
    kind: TaskPodKind,
) -> Result<Pod, CompileError> {
    let ti = input
        .tasks
        .iter()
        .find(|t| t.task.name == task_name)
        .ok_or_else(|| CompileError::UnknownTask {
            task: task_name.to_string(),
        })?;
    let ctx = RunContext::new(input)?;
    let spec = build_task(&ctx, ti)?;
    let pipeline = &input.pipeline;
    let name = task_pod_name(kind, &pipeline.name, &ti.task.name);

    let (image, working_dir, command, args) = match kind {
        TaskPodKind::Run => (
            spec.image.clone(),
            spec.working_dir.clone(),
            spec.command.clone(),
            (!spec.script && !spec.args.is_empty()).then(|| spec.args.clone()),
        ),
        TaskPodKind::Debug => (
            first_arg(
                &spec,
                &[
                    "--work_images",
                    "--work_image",
                    "--images",
                    "--image",
                    "images",
                ],
            )
            .map(String::from)
            .unwrap_or_else(|| spec.image.clone()),
            first_arg(&spec, &["workdir", "--workdir", "--working_dir"])
                .map(String::from)
                .or_else(|| spec.working_dir.clone()),
            vec![
                "sh".to_string(),
                "-c".to_string(),
                DEBUG_SLEEP_COMMAND.to_string(),
            ],
            None,
        ),
    };

    let mut labels = BTreeMap::from([
        ("app".to_string(), "pipeline".to_string()),
        ("pipeline".to_string(), label_value(&pipeline.name)),
        ("task".to_string(), label_value(&ti.task.name)),
        ("user".to_string(), label_value(&input.runner)),
        ("run-id".to_string(), label_value(&input.run_id)),
        ("pod-type".to_string(), "task".to_string()),
    ]);
    let mut placement = spec.selector.placement.clone();
    let mut pod_affinity = None;
    if spec.gpu.class() == GpuClass::Whole {
        placement.remove("cpu");
        placement.set("gpu", "true");
        labels.insert("gpu".into(), "true".into());
        pod_affinity = Some(PodAffinity {
            preferred_during_scheduling_ignored_during_execution: Some(vec![
                WeightedPodAffinityTerm {
                    weight: 10,
                    pod_affinity_term: PodAffinityTerm {
                        label_selector: Some(LabelSelector {
                            match_labels: Some(BTreeMap::from([(
                                "gpu".to_string(),
                                "true".to_string(),
                            )])),
                            match_expressions: None,
                        }),
                        topology_key: "kubernetes.io/hostname".into(),
                        ..Default::default()
                    },
                },
            ]),
            ..Default::default()
        });
    }
    let node_affinity = placement.node_affinity();
    let affinity = (node_affinity.is_some() || pod_affinity.is_some()).then_some(Affinity {
        node_affinity,
        pod_affinity,
        pod_anti_affinity: None,
    });
    let scheduler_name = match spec.gpu.class() {
        GpuClass::None => input.config.gpu_scheduler_name.clone(),
        _ => None,
    };
    let secrets: Vec<LocalObjectReference> = image_pull_secrets(input, std::iter::once(ti))
        .into_iter()
        .map(|name| LocalObjectReference { name })
        .collect();

    let container = Container {
        name: name.clone(),
        image: Some(image),
        image_pull_policy: Some(input.config.image_pull_policy.clone()),
        command: Some(command),
        args,
        working_dir,
        env: Some(pod_env(&ctx, &spec)),
        resources: Some(pod_resources(&spec)),
        volume_mounts: Some(spec.volumes.mounts.clone()),
        security_context: Some(SecurityContext {
            privileged: Some(spec.privileged),
            ..Default::default()
        }),
        ..Default::default()
    };
    Ok(Pod {
        metadata: ObjectMeta {
            name: Some(name),
            namespace: Some(ctx.namespace.clone()),
            labels: Some(labels),
            annotations: Some(BTreeMap::from([(
                "project".to_string(),
                input.project.name.clone(),
            )])),
            ..Default::default()
        },
        spec: Some(PodSpec {
            containers: vec![container],
            restart_policy: Some("Never".into()),
            node_selector: Some(placement.node_selector_map()),
            affinity,
            scheduler_name,
            service_account_name: spec.service_account.clone(),
            host_aliases: Some(spec.host_aliases.to_vec()),
            image_pull_secrets: Some(secrets),
            volumes: Some(spec.volumes.volumes.clone()),
            ..Default::default()
        }),
        status: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::argo::run_pod_run_id;
    use crate::argo::sample::worked_example;

    #[test]
    fn run_pod_of_the_train_task() {
        let input = worked_example().with_run_id(&run_pod_run_id(12, 102));
        let pod = build_task_pod(&input, "train", TaskPodKind::Run).unwrap();
        insta::assert_yaml_snapshot!(pod);
        let spec = pod.spec.as_ref().unwrap();
        let c = &spec.containers[0];
        let res = c.resources.as_ref().unwrap();
        assert_eq!(
            res.requests.as_ref().unwrap()["memory"],
            Quantity("8G".into())
        );
        assert_eq!(
            res.limits.as_ref().unwrap()["memory"],
            Quantity("16G".into())
        );
        let selector = spec.node_selector.as_ref().unwrap();
        assert_eq!(selector.get("gpu").map(String::as_str), Some("true"));
        assert!(!selector.contains_key("cpu"));
        assert_eq!(pod.metadata.labels.as_ref().unwrap()["gpu"], "true");
        let names: Vec<&str> = c
            .env
            .as_ref()
            .unwrap()
            .iter()
            .map(|e| e.name.as_str())
            .collect();
        assert!(names.contains(&"K8S_POD_NAMESPACE"));
        assert_eq!(names.iter().filter(|n| **n == "KFJ_RUN_ID").count(), 1);
        let run_id = c
            .env
            .as_ref()
            .unwrap()
            .iter()
            .find(|e| e.name == "KFJ_RUN_ID")
            .unwrap();
        assert_eq!(run_id.value.as_deref(), Some("run-12-102"));
    }

    #[test]
    fn debug_pod_of_a_custom_task() {
        let mut input = worked_example().with_run_id("debug-0123");
        input.config.gpu_scheduler_name = Some("kube-batch".into());
        let pod = build_task_pod(&input, "prepare", TaskPodKind::Debug).unwrap();
        insta::assert_yaml_snapshot!(pod);
        let spec = pod.spec.as_ref().unwrap();
        let c = &spec.containers[0];
        assert_eq!(
            pod.metadata.name.as_deref(),
            Some("debug-demo-pipeline-prepare")
        );
        assert_eq!(c.command.as_ref().unwrap()[2], DEBUG_SLEEP_COMMAND);
        assert_eq!(c.image.as_deref(), Some("ubuntu:20.04"));
        assert_eq!(c.working_dir.as_deref(), Some("/mnt/alice"));
        assert_eq!(c.args, None);
        assert_eq!(spec.scheduler_name.as_deref(), Some("kube-batch"));
        assert_eq!(spec.restart_policy.as_deref(), Some("Never"));
    }

    #[test]
    fn pod_names_and_errors() {
        assert_eq!(
            task_pod_name(TaskPodKind::Run, "My_Pipe", &format!("{}_", "t".repeat(80))),
            format!("run-my-pipe-{}", "t".repeat(48))
        );
        let input = worked_example();
        let err = build_task_pod(&input, "nope", TaskPodKind::Run).unwrap_err();
        assert!(matches!(err, CompileError::UnknownTask { .. }));
        let mut input = worked_example();
        input.tasks[1].task.resource_gpu = Some("abc".into());
        assert!(build_task_pod(&input, "train", TaskPodKind::Run).is_err());
    }
}
