//! What the total-resource page reads: each cluster's nodes, pods and pod usage
//! (`metrics.k8s.io`), and what the caller may see of them (their projects' cluster-org
//! pairs, the project namespaces). One read per request, from the async handlers.

use std::collections::{BTreeSet, HashMap};

use app_core::k8s::load::{NodeLoad, PodLoad, allocate, node_load, pod_load, pod_usage};
use app_core::k8s::project::{Namespaces, ProjectSettings};
use app_core::k8s::resources::GpuConfig;
use k8s_openapi::api::core::v1::{Node, Pod};
use kube::api::{Api, ApiResource, DynamicObject, ListParams};

use crate::api::blocking;
use crate::auth::Ctx;
use crate::error::ApiError;
use crate::state::AppState;

type Data = actix_web::web::Data<AppState>;

/// The namespace of the AI-hub apps, listed besides the project namespaces (as the original).
pub const AIHUB_NAMESPACE: &str = "aihub";

/// One cluster as read.
pub struct ClusterView {
    pub name: String,
    /// The host of browser links: the last part of the cluster's `HOST`
    /// (`inner|public:port`), empty when not configured.
    pub host: String,
    /// Nodes with the requests of the pods that hold resources on them.
    pub nodes: Vec<NodeLoad>,
    pub pods: Vec<PodLoad>,
    /// (namespace, pod) → (cores, GiB) used.
    pub usage: HashMap<(String, String), (f64, f64)>,
}

impl ClusterView {
    /// The host of links: the cluster's, else the request's.
    pub fn link_host<'a>(&'a self, request_host: &'a str) -> &'a str {
        if self.host.is_empty() {
            request_host
        } else {
            &self.host
        }
    }
}

/// What the caller may see.
pub struct Scope {
    /// Namespaces whose pods the list shows: every project's, and `aihub`.
    pub namespaces: BTreeSet<String>,
    /// `None` for admins; else the (cluster, org) pairs of the org projects the caller
    /// is a member of.
    pub joined: Option<BTreeSet<(String, String)>>,
}

impl Scope {
    pub fn sees_node(&self, cluster: &str, node: &NodeLoad) -> bool {
        match &self.joined {
            None => true,
            Some(pairs) => {
                let org = node.labels.get("org").map_or("unknown", String::as_str);
                pairs.contains(&(cluster.to_string(), org.to_string()))
            }
        }
    }
}

/// The caller's scope, from the project rows.
pub async fn scope(state: &Data, ctx: &Ctx) -> Result<Scope, ApiError> {
    let projects = blocking(state, |_, conn| {
        Ok(app_models::dashboard::project_expands(conn)?)
    })
    .await?;
    let defaults = Namespaces::from_config(&state.config);
    let mut namespaces: BTreeSet<String> = [
        &defaults.notebook,
        &defaults.pipeline,
        &defaults.service,
        &defaults.automl,
    ]
    .into_iter()
    .cloned()
    .collect();
    namespaces.insert(AIHUB_NAMESPACE.to_string());
    let mut joined = BTreeSet::new();
    for (id, kind, expand) in &projects {
        let settings = ProjectSettings::parse(expand.as_deref());
        let ns = settings.namespaces(&defaults);
        namespaces.extend([ns.notebook, ns.pipeline, ns.service, ns.automl]);
        if kind.as_deref() == Some("org") && ctx.org_projects.contains(id) {
            let cluster = state.kube.registry.cluster_for(settings.cluster.as_deref());
            joined.insert((cluster, settings.org.clone()));
        }
    }
    Ok(Scope {
        namespaces,
        joined: (!ctx.is_admin).then_some(joined),
    })
}

fn pod_metrics() -> ApiResource {
    ApiResource {
        group: "metrics.k8s.io".into(),
        version: "v1beta1".into(),
        api_version: "metrics.k8s.io/v1beta1".into(),
        kind: "PodMetrics".into(),
        plural: "pods".into(),
    }
}

/// Reads one cluster: nodes, pods of every namespace, pod metrics (a cluster without
/// `metrics.k8s.io` reads as no usage, as the original).
async fn read_cluster(state: &Data, name: &str) -> Result<ClusterView, ApiError> {
    let client = state.kube.client(name).await?;
    let gpus = GpuConfig::default();
    let cluster = name.to_string();
    let (nodes, pods, usage) = state
        .kube
        .run(async move {
            let nodes = Api::<Node>::all(client.clone())
                .list(&ListParams::default())
                .await?;
            let pods = Api::<Pod>::all(client.clone())
                .list(&ListParams::default())
                .await?;
            let metrics = match Api::<DynamicObject>::all_with(client, &pod_metrics())
                .list(&ListParams::default())
                .await
            {
                Ok(list) => list.items,
                Err(e) => {
                    tracing::info!(cluster = %cluster, error = %e, "no pod metrics (metrics.k8s.io)");
                    Vec::new()
                }
            };
            Ok::<_, kube::Error>((nodes.items, pods.items, metrics))
        })
        .await?
        .map_err(|e| ApiError::unavailable(format!("cluster {name}: {e}")))?;
    let pods: Vec<PodLoad> = pods.iter().map(|p| pod_load(p, &gpus)).collect();
    let mut nodes: Vec<NodeLoad> = nodes.iter().map(|n| node_load(n, &gpus)).collect();
    allocate(&mut nodes, &pods);
    let usage = usage
        .iter()
        .filter_map(|m| pod_usage(&serde_json::to_value(m).ok()?))
        .map(|(ns, pod, cpu, mem)| ((ns, pod), (cpu, mem)))
        .collect();
    let host = state
        .config
        .clusters
        .get(name)
        .map(|c| c.host.rsplit('|').next().unwrap_or("").trim().to_string())
        .unwrap_or_default();
    Ok(ClusterView {
        name: name.to_string(),
        host,
        nodes,
        pods,
        usage,
    })
}

/// Every configured cluster that answers, in name order. A cluster that cannot be read
/// is left out and logged (as the original, which prints the error and carries on).
pub async fn read_clusters(state: &Data) -> Vec<ClusterView> {
    let mut out = Vec::new();
    for name in state.kube.registry.names() {
        match read_cluster(state, &name).await {
            Ok(c) => out.push(c),
            Err(e) => {
                tracing::warn!(cluster = %name, error = %e, "total resources: cluster not read")
            }
        }
    }
    out
}
