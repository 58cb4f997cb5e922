//! Kubernetes operations shared by the dashboard, scheduler, worker and watcher:
//! dynamic objects by group/version/plural, workflow submission and run-id clean-up.

use k8s_openapi::api::core::v1::Pod;
use kube::api::{
    Api, ApiResource, DeleteParams, DynamicObject, GroupVersionKind, ListParams, LogParams,
    PostParams,
};
use serde::de::DeserializeOwned;

/// A kind the platform manages, as the original's `CRD_INFO`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Kind {
    pub group: &'static str,
    pub version: &'static str,
    pub kind: &'static str,
    pub plural: &'static str,
}

impl Kind {
    /// The kube `ApiResource`.
    pub fn resource(&self) -> ApiResource {
        ApiResource::from_gvk_with_plural(
            &GroupVersionKind::gvk(self.group, self.version, self.kind),
            self.plural,
        )
    }
}

pub const WORKFLOW: Kind = Kind {
    group: "argoproj.io",
    version: "v1alpha1",
    kind: "Workflow",
    plural: "workflows",
};

/// Training-job custom resources the platform cleans up and watches (kubernetes.md §7).
pub const TRAINING_KINDS: &[Kind] = &[
    Kind {
        group: "kubeflow.org",
        version: "v1",
        kind: "TFJob",
        plural: "tfjobs",
    },
    Kind {
        group: "kubeflow.org",
        version: "v1",
        kind: "PyTorchJob",
        plural: "pytorchjobs",
    },
    Kind {
        group: "kubeflow.org",
        version: "v1",
        kind: "MPIJob",
        plural: "mpijobs",
    },
    Kind {
        group: "kubeflow.org",
        version: "v1",
        kind: "PaddleJob",
        plural: "paddlejobs",
    },
    Kind {
        group: "kubeflow.org",
        version: "v1",
        kind: "MXJob",
        plural: "mxjobs",
    },
    VOLCANO_JOB,
    Kind {
        group: "sparkoperator.k8s.io",
        version: "v1beta2",
        kind: "SparkApplication",
        plural: "sparkapplications",
    },
];

/// Volcano's batch job (also the job of an inference service's `-vc` and of NNI).
pub const VOLCANO_JOB: Kind = Kind {
    group: "batch.volcano.sh",
    version: "v1alpha1",
    kind: "Job",
    plural: "jobs",
};

pub const DEPLOYMENT: Kind = Kind {
    group: "apps",
    version: "v1",
    kind: "Deployment",
    plural: "deployments",
};

pub const STATEFUL_SET: Kind = Kind {
    group: "apps",
    version: "v1",
    kind: "StatefulSet",
    plural: "statefulsets",
};

pub const DAEMON_SET: Kind = Kind {
    group: "apps",
    version: "v1",
    kind: "DaemonSet",
    plural: "daemonsets",
};

pub const SERVICE: Kind = Kind {
    group: "",
    version: "v1",
    kind: "Service",
    plural: "services",
};

pub const CONFIG_MAP: Kind = Kind {
    group: "",
    version: "v1",
    kind: "ConfigMap",
    plural: "configmaps",
};

pub const HORIZONTAL_POD_AUTOSCALER: Kind = Kind {
    group: "autoscaling",
    version: "v2",
    kind: "HorizontalPodAutoscaler",
    plural: "horizontalpodautoscalers",
};

pub const VIRTUAL_SERVICE: Kind = Kind {
    group: "networking.istio.io",
    version: "v1alpha3",
    kind: "VirtualService",
    plural: "virtualservices",
};

/// Workload kinds deleted with a run id (the original deletes these but not pods).
pub const RUN_WORKLOADS: &[Kind] = &[DEPLOYMENT, STATEFUL_SET, DAEMON_SET, SERVICE];

/// The objects of an inference service, all named after it.
pub const INFERENCE_SERVICE_OBJECTS: &[Kind] = &[
    DEPLOYMENT,
    SERVICE,
    CONFIG_MAP,
    HORIZONTAL_POD_AUTOSCALER,
    VIRTUAL_SERVICE,
];

/// Errors of cluster calls.
#[derive(Debug, thiserror::Error)]
pub enum OpsError {
    #[error("kubernetes: {0}")]
    Kube(#[from] kube::Error),
    #[error("bad manifest: {0}")]
    Manifest(String),
}

impl OpsError {
    /// True when retrying later could help (network, 5xx, throttling).
    pub fn is_transient(&self) -> bool {
        match self {
            OpsError::Kube(kube::Error::Api(s)) => s.code >= 500 || s.code == 429 || s.code == 409,
            OpsError::Kube(_) => true,
            OpsError::Manifest(_) => false,
        }
    }
}

fn is_not_found(e: &kube::Error) -> bool {
    matches!(e, kube::Error::Api(s) if s.code == 404)
}

/// A namespaced API of a dynamic kind.
pub fn dyn_api(client: &kube::Client, kind: &Kind, namespace: &str) -> Api<DynamicObject> {
    Api::namespaced_with(client.clone(), namespace, &kind.resource())
}

/// Reads an object; `None` when it does not exist.
pub async fn get_object(
    client: &kube::Client,
    kind: &Kind,
    namespace: &str,
    name: &str,
) -> Result<Option<DynamicObject>, OpsError> {
    Ok(dyn_api(client, kind, namespace).get_opt(name).await?)
}

/// Creates a workflow from its manifest, idempotently: when one of that name exists
/// already with the same `run-id` label it is returned (a redelivered submit); one with
/// another run id is replaced (the original's "a manual run replaces the last one").
pub async fn submit_workflow(
    client: &kube::Client,
    manifest: &(impl serde::Serialize + ?Sized),
) -> Result<DynamicObject, OpsError> {
    // kube's dynamic objects hold their body as a `Value`; that one tree is built here
    let obj: DynamicObject = serde_json::to_value(manifest)
        .and_then(serde_json::from_value)
        .map_err(|e| OpsError::Manifest(e.to_string()))?;
    let ns = obj
        .metadata
        .namespace
        .clone()
        .ok_or_else(|| OpsError::Manifest("workflow has no namespace".into()))?;
    let name = obj
        .metadata
        .name
        .clone()
        .ok_or_else(|| OpsError::Manifest("workflow has no name".into()))?;
    let run_id = obj
        .metadata
        .labels
        .as_ref()
        .and_then(|l| l.get("run-id"))
        .cloned();
    let api = dyn_api(client, &WORKFLOW, &ns);
    if let Some(existing) = api.get_opt(&name).await? {
        let existing_run = existing
            .metadata
            .labels
            .as_ref()
            .and_then(|l| l.get("run-id"))
            .cloned();
        if existing_run == run_id {
            return Ok(existing);
        }
        delete_if_present(&api, &name, &DeleteParams::background()).await?;
    }
    match api.create(&PostParams::default(), &obj).await {
        Ok(o) => Ok(o),
        Err(kube::Error::Api(s)) if s.code == 409 => {
            // created concurrently by another replica: that one is ours too if the run id matches
            let existing = api.get(&name).await?;
            Ok(existing)
        }
        Err(e) => Err(e.into()),
    }
}

/// Deletes `name`, a missing one counting as deleted: `Ok(false)` when it was already
/// gone (a 404).
async fn delete_if_present<K>(
    api: &Api<K>,
    name: &str,
    params: &DeleteParams,
) -> Result<bool, OpsError>
where
    K: Clone + DeserializeOwned + std::fmt::Debug,
{
    match api.delete(name, params).await {
        Ok(_) => Ok(true),
        Err(e) if is_not_found(&e) => Ok(false),
        Err(e) => Err(e.into()),
    }
}

/// Deletes one object, ignoring a missing one.
pub async fn delete_object(
    client: &kube::Client,
    kind: &Kind,
    namespace: &str,
    name: &str,
) -> Result<(), OpsError> {
    delete_if_present(
        &dyn_api(client, kind, namespace),
        name,
        &DeleteParams::background(),
    )
    .await?;
    Ok(())
}

/// Deletes one object of any resource (in the background), cluster-scoped when
/// `namespace` is empty; `Ok(false)` when it did not exist.
pub async fn delete_resource(
    client: &kube::Client,
    resource: &ApiResource,
    namespace: &str,
    name: &str,
) -> Result<bool, OpsError> {
    let api: Api<DynamicObject> = if namespace.is_empty() {
        Api::all_with(client.clone(), resource)
    } else {
        Api::namespaced_with(client.clone(), namespace, resource)
    };
    delete_if_present(&api, name, &DeleteParams::background()).await
}

/// Lists objects of a kind in a namespace (or everywhere with `None`) by label selector.
pub async fn list_objects(
    client: &kube::Client,
    kind: &Kind,
    namespace: Option<&str>,
    selector: &str,
) -> Result<Vec<DynamicObject>, OpsError> {
    let api: Api<DynamicObject> = match namespace {
        Some(ns) => Api::namespaced_with(client.clone(), ns, &kind.resource()),
        None => Api::all_with(client.clone(), &kind.resource()),
    };
    let lp = if selector.is_empty() {
        ListParams::default()
    } else {
        ListParams::default().labels(selector)
    };
    match api.list(&lp).await {
        Ok(l) => Ok(l.items),
        // a custom resource not installed on this cluster: nothing to list
        Err(e) if is_not_found(&e) => Ok(vec![]),
        Err(e) => Err(e.into()),
    }
}

/// Deletes everything labelled `run-id=<run_id>` in a namespace: workflows, training
/// jobs and workloads (pods are left, as the original). Returns how many were deleted.
pub async fn delete_run(
    client: &kube::Client,
    namespace: &str,
    run_id: &str,
) -> Result<usize, OpsError> {
    let selector = format!("run-id={run_id}");
    let mut n = 0;
    for kind in std::iter::once(&WORKFLOW)
        .chain(TRAINING_KINDS)
        .chain(RUN_WORKLOADS)
    {
        for obj in list_objects(client, kind, Some(namespace), &selector).await? {
            if let Some(name) = obj.metadata.name.as_deref() {
                delete_object(client, kind, namespace, name).await?;
                n += 1;
            }
        }
    }
    Ok(n)
}

/// Reads a pod; `None` when missing.
pub async fn get_pod(
    client: &kube::Client,
    namespace: &str,
    name: &str,
) -> Result<Option<Pod>, OpsError> {
    Ok(Api::<Pod>::namespaced(client.clone(), namespace)
        .get_opt(name)
        .await?)
}

/// Creates a pod, replacing one of the same name.
pub async fn replace_pod(client: &kube::Client, pod: &Pod) -> Result<Pod, OpsError> {
    let ns = pod
        .metadata
        .namespace
        .clone()
        .ok_or_else(|| OpsError::Manifest("pod has no namespace".into()))?;
    let name = pod
        .metadata
        .name
        .clone()
        .ok_or_else(|| OpsError::Manifest("pod has no name".into()))?;
    let api = Api::<Pod>::namespaced(client.clone(), &ns);
    delete_if_present(&api, &name, &DeleteParams::default().grace_period(0)).await?;
    for _ in 0..50 {
        if api.get_opt(&name).await?.is_none() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    Ok(api.create(&PostParams::default(), pod).await?)
}

/// Deletes a pod, ignoring a missing one.
pub async fn delete_pod(
    client: &kube::Client,
    namespace: &str,
    name: &str,
) -> Result<(), OpsError> {
    let api = Api::<Pod>::namespaced(client.clone(), namespace);
    delete_if_present(&api, name, &DeleteParams::default().grace_period(0)).await?;
    Ok(())
}

/// The last `tail` lines of a pod's log; `None` when the pod does not exist.
pub async fn pod_log(
    client: &kube::Client,
    namespace: &str,
    name: &str,
    tail: Option<i64>,
) -> Result<Option<String>, OpsError> {
    let params = LogParams {
        tail_lines: tail,
        ..LogParams::default()
    };
    match Api::<Pod>::namespaced(client.clone(), namespace)
        .logs(name, &params)
        .await
    {
        Ok(s) => Ok(Some(s)),
        Err(e) if is_not_found(&e) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// True when the named PVC exists.
pub async fn pvc_exists(
    client: &kube::Client,
    namespace: &str,
    name: &str,
) -> Result<bool, OpsError> {
    use k8s_openapi::api::core::v1::PersistentVolumeClaim;
    Ok(
        Api::<PersistentVolumeClaim>::namespaced(client.clone(), namespace)
            .get_opt(name)
            .await?
            .is_some(),
    )
}
