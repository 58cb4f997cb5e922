//! Resource identity (group/version/resource), scope, kinds, and the minimal discovery
//! documents (`/version`, `/api`, `/apis`, `/api/v1`, `/apis/<g>/<v>`).

use serde_json::{Value, json};

/// Plurals served cluster-scoped; every other resource is namespaced.
const CLUSTER_SCOPED: &[&str] = &[
    "namespaces",
    "nodes",
    "persistentvolumes",
    "clusterroles",
    "clusterrolebindings",
    "storageclasses",
    "customresourcedefinitions",
    "priorityclasses",
    "ingressclasses",
    "runtimeclasses",
    "csidrivers",
    "csinodes",
    "volumeattachments",
    "mutatingwebhookconfigurations",
    "validatingwebhookconfigurations",
    "apiservices",
    "certificatesigningrequests",
    "componentstatuses",
    "clusterworkflowtemplates",
    "clusterissuers",
    "tokenreviews",
    "subjectaccessreviews",
    "selfsubjectaccessreviews",
    "selfsubjectrulesreviews",
    "podsecuritypolicies",
];

/// `(group, version, plural, kind)` served by discovery and used to name kinds.
pub const KNOWN: &[(&str, &str, &str, &str)] = &[
    ("", "v1", "pods", "Pod"),
    ("", "v1", "services", "Service"),
    ("", "v1", "configmaps", "ConfigMap"),
    ("", "v1", "secrets", "Secret"),
    ("", "v1", "persistentvolumeclaims", "PersistentVolumeClaim"),
    ("", "v1", "persistentvolumes", "PersistentVolume"),
    ("", "v1", "events", "Event"),
    ("", "v1", "endpoints", "Endpoints"),
    ("", "v1", "namespaces", "Namespace"),
    ("", "v1", "nodes", "Node"),
    ("", "v1", "serviceaccounts", "ServiceAccount"),
    ("", "v1", "resourcequotas", "ResourceQuota"),
    ("", "v1", "limitranges", "LimitRange"),
    ("apps", "v1", "deployments", "Deployment"),
    ("apps", "v1", "statefulsets", "StatefulSet"),
    ("apps", "v1", "daemonsets", "DaemonSet"),
    ("apps", "v1", "replicasets", "ReplicaSet"),
    ("batch", "v1", "jobs", "Job"),
    ("batch", "v1", "cronjobs", "CronJob"),
    (
        "autoscaling",
        "v2",
        "horizontalpodautoscalers",
        "HorizontalPodAutoscaler",
    ),
    (
        "autoscaling",
        "v1",
        "horizontalpodautoscalers",
        "HorizontalPodAutoscaler",
    ),
    (
        "networking.k8s.io",
        "v1",
        "networkpolicies",
        "NetworkPolicy",
    ),
    ("networking.k8s.io", "v1", "ingresses", "Ingress"),
    ("rbac.authorization.k8s.io", "v1", "roles", "Role"),
    (
        "rbac.authorization.k8s.io",
        "v1",
        "rolebindings",
        "RoleBinding",
    ),
    (
        "rbac.authorization.k8s.io",
        "v1",
        "clusterroles",
        "ClusterRole",
    ),
    (
        "rbac.authorization.k8s.io",
        "v1",
        "clusterrolebindings",
        "ClusterRoleBinding",
    ),
    ("storage.k8s.io", "v1", "storageclasses", "StorageClass"),
    ("argoproj.io", "v1alpha1", "workflows", "Workflow"),
    (
        "argoproj.io",
        "v1alpha1",
        "workflowtemplates",
        "WorkflowTemplate",
    ),
    (
        "networking.istio.io",
        "v1alpha3",
        "virtualservices",
        "VirtualService",
    ),
    ("networking.istio.io", "v1alpha3", "gateways", "Gateway"),
    (
        "networking.istio.io",
        "v1alpha3",
        "destinationrules",
        "DestinationRule",
    ),
    (
        "security.istio.io",
        "v1beta1",
        "requestauthentications",
        "RequestAuthentication",
    ),
    (
        "security.istio.io",
        "v1beta1",
        "authorizationpolicies",
        "AuthorizationPolicy",
    ),
    ("kubeflow.org", "v1", "tfjobs", "TFJob"),
    ("kubeflow.org", "v1", "pytorchjobs", "PyTorchJob"),
    ("kubeflow.org", "v1", "mpijobs", "MPIJob"),
    ("kubeflow.org", "v1", "paddlejobs", "PaddleJob"),
    ("kubeflow.org", "v1", "mxjobs", "MXJob"),
    ("kubeflow.org", "v1", "xgboostjobs", "XGBoostJob"),
    (
        "xgboostjob.kubeflow.org",
        "v1alpha1",
        "xgboostjobs",
        "XGBoostJob",
    ),
    ("batch.volcano.sh", "v1alpha1", "jobs", "Job"),
    (
        "sparkoperator.k8s.io",
        "v1beta2",
        "sparkapplications",
        "SparkApplication",
    ),
    ("metrics.k8s.io", "v1beta1", "pods", "PodMetrics"),
    ("metrics.k8s.io", "v1beta1", "nodes", "NodeMetrics"),
];

/// What a resource is stored under: the version is not part of it, so
/// `autoscaling/v1` and `autoscaling/v2` HorizontalPodAutoscalers are the same objects
/// (answered with the `apiVersion` of the request; there is no conversion).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ResKey {
    pub group: String,
    pub plural: String,
}

/// A group/version/resource as named by a request.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Gvr {
    pub group: String,
    pub version: String,
    pub plural: String,
}

impl Gvr {
    pub fn new(group: &str, version: &str, plural: &str) -> Self {
        Gvr {
            group: group.to_string(),
            version: version.to_string(),
            plural: plural.to_string(),
        }
    }

    pub fn key(&self) -> ResKey {
        ResKey {
            group: self.group.clone(),
            plural: self.plural.clone(),
        }
    }

    /// `v1` or `group/version`.
    pub fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.clone()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }

    pub fn cluster_scoped(&self) -> bool {
        is_cluster_scoped(&self.plural)
    }

    /// The kind from the table, else guessed from the plural (`foos` → `Foo`).
    pub fn default_kind(&self) -> String {
        if let Some(k) = KNOWN
            .iter()
            .find(|(g, _, p, _)| *g == self.group && *p == self.plural)
            .or_else(|| KNOWN.iter().find(|(_, _, p, _)| *p == self.plural))
        {
            return k.3.to_string();
        }
        let singular = if let Some(s) = self.plural.strip_suffix("ies") {
            format!("{s}y")
        } else if let Some(s) = self.plural.strip_suffix("sses") {
            format!("{s}ss")
        } else if let Some(s) = self.plural.strip_suffix('s') {
            s.to_string()
        } else {
            self.plural.clone()
        };
        let mut chars = singular.chars();
        match chars.next() {
            Some(c) => c.to_uppercase().chain(chars).collect(),
            None => String::new(),
        }
    }
}

pub fn is_cluster_scoped(plural: &str) -> bool {
    CLUSTER_SCOPED.contains(&plural)
}

/// `GET /version`.
pub fn version_doc() -> Value {
    json!({
        "major": "1",
        "minor": "33",
        "gitVersion": "v1.33.0-fake-kube",
        "gitCommit": "0000000000000000000000000000000000000000",
        "gitTreeState": "clean",
        "buildDate": "2026-01-01T00:00:00Z",
        "goVersion": "go1.24",
        "compiler": "gc",
        "platform": "linux/amd64",
    })
}

/// `GET /api`.
pub fn core_versions(server: &str) -> Value {
    json!({
        "kind": "APIVersions",
        "versions": ["v1"],
        "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": server}],
    })
}

/// `GET /apis`: the groups of the table plus every group that holds objects.
pub fn group_list(stored: &[(String, String)]) -> Value {
    let mut gvs: Vec<(String, String)> = KNOWN
        .iter()
        .filter(|(g, ..)| !g.is_empty())
        .map(|(g, v, ..)| (g.to_string(), v.to_string()))
        .collect();
    gvs.extend(stored.iter().filter(|(g, _)| !g.is_empty()).cloned());
    let mut groups: Vec<(String, Vec<String>)> = Vec::new();
    for (g, v) in gvs {
        match groups.iter_mut().find(|(name, _)| *name == g) {
            Some((_, versions)) => {
                if !versions.contains(&v) {
                    versions.push(v);
                }
            }
            None => groups.push((g, vec![v])),
        }
    }
    let groups: Vec<Value> = groups
        .into_iter()
        .map(|(g, versions)| {
            let vs: Vec<Value> = versions
                .iter()
                .map(|v| json!({"groupVersion": format!("{g}/{v}"), "version": v}))
                .collect();
            json!({"name": g, "versions": vs.clone(), "preferredVersion": vs[0]})
        })
        .collect();
    json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": groups})
}

/// `GET /api/v1` or `/apis/<g>/<v>`: the table's resources of that group/version plus the
/// stored ones (`stored` = `(plural, kind)`).
pub fn resource_list(group: &str, version: &str, stored: &[(String, String)]) -> Value {
    let mut res: Vec<(String, String)> = KNOWN
        .iter()
        .filter(|(g, v, ..)| *g == group && *v == version)
        .map(|(_, _, p, k)| (p.to_string(), k.to_string()))
        .collect();
    for (p, k) in stored {
        if !res.iter().any(|(rp, _)| rp == p) {
            res.push((p.clone(), k.clone()));
        }
    }
    // metrics-server serves get and list only (writes answer 405)
    let metrics = group == "metrics.k8s.io";
    let verbs: &[&str] = if metrics {
        &["get", "list"]
    } else {
        &[
            "create",
            "delete",
            "deletecollection",
            "get",
            "list",
            "patch",
            "update",
            "watch",
        ]
    };
    let mut resources = Vec::new();
    for (p, k) in &res {
        resources.push(json!({
            "name": p,
            "singularName": k.to_lowercase(),
            "namespaced": !is_cluster_scoped(p),
            "kind": k,
            "verbs": verbs,
        }));
        if metrics {
            continue;
        }
        resources.push(json!({
            "name": format!("{p}/status"),
            "singularName": "",
            "namespaced": !is_cluster_scoped(p),
            "kind": k,
            "verbs": ["get", "patch", "update"],
        }));
    }
    let gv = if group.is_empty() {
        version.to_string()
    } else {
        format!("{group}/{version}")
    };
    json!({"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": gv, "resources": resources})
}
