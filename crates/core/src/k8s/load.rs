//! What nodes offer and what pods hold (kubernetes.md §8.1): allocatable resources per
//! node, the requests of the pods that hold resources, usage from `metrics.k8s.io`.
//! Pure functions over the API objects, with the original's units and rounding
//! (cores, GiB, whole cards; `nvidia.com/gpucores` ÷ 100 counts as GPU).

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use k8s_openapi::api::core::v1::{Container, Node, Pod};
use serde_json::Value;

use super::resources::GpuConfig;

/// The vGPU resource whose hundredths count as cards.
pub const VGPU_CORES: &str = "nvidia.com/gpucores";

/// A Kubernetes time as chrono (whole seconds).
pub fn k8s_time(t: &k8s_openapi::apimachinery::pkg::apis::meta::v1::Time) -> Option<DateTime<Utc>> {
    DateTime::from_timestamp(t.0.as_second(), 0)
}

fn round2(v: f64) -> f64 {
    (v * 100.0).round() / 100.0
}

fn number(s: &str) -> f64 {
    s.trim().parse::<f64>().unwrap_or(0.0)
}

/// A CPU quantity in cores, rounded to 2 decimals (`250m` → 0.25, `1500000n` → 0.0,
/// `2` → 2.0). Unreadable text is 0.
pub fn cores(q: &str) -> f64 {
    let q = q.trim();
    let v = if let Some(n) = q.strip_suffix('m') {
        number(n) / 1e3
    } else if let Some(n) = q.strip_suffix('u') {
        number(n) / 1e6
    } else if let Some(n) = q.strip_suffix('n') {
        number(n) / 1e9
    } else {
        number(q)
    };
    round2(v)
}

/// A memory quantity in GiB, rounded to 2 decimals (`512Mi` → 0.5, `2G` → 2.0, bytes
/// otherwise). As the original, decimal and binary suffixes count the same.
pub fn gib(q: &str) -> f64 {
    let q = q.trim();
    let strip = |suffix: &[&str]| suffix.iter().find_map(|s| q.strip_suffix(s)).map(number);
    let v = if let Some(n) = strip(&["Ki", "K", "k"]) {
        n / 1024.0 / 1024.0
    } else if let Some(n) = strip(&["Mi", "M"]) {
        n / 1024.0
    } else if let Some(n) = strip(&["Gi", "G"]) {
        n
    } else if let Some(n) = strip(&["Ti", "T"]) {
        n * 1024.0
    } else if let Some(n) = q.strip_suffix('m') {
        number(n) / 1000.0 / 1024f64.powi(3)
    } else {
        number(q) / 1024f64.powi(3)
    };
    round2(v)
}

fn whole(q: &str) -> i64 {
    let q = q.trim();
    q.parse::<i64>()
        .unwrap_or_else(|_| number(q).trunc() as i64)
}

/// A node as the total-resource page shows it (`get_node`).
#[derive(Debug, Clone, PartialEq)]
pub struct NodeLoad {
    pub name: String,
    /// The `InternalIP` address ("" without one).
    pub host_ip: String,
    pub labels: BTreeMap<String, String>,
    /// The `Ready` condition is `True`.
    pub ready: bool,
    /// Allocatable cores and GiB, truncated.
    pub cpu: i64,
    pub memory: i64,
    /// Allocatable cards per vendor key of the GPU configuration (`gpu` → 4).
    pub cards: BTreeMap<String, i64>,
    pub created: Option<DateTime<Utc>>,
    /// `status.nodeInfo`.
    pub node_info: Value,
    /// Requests of the pods on it that hold resources: cores, GiB (truncated), cards
    /// (whole cards + vGPU hundredths, one decimal) and cards per vendor.
    pub used_cpu: i64,
    pub used_memory: i64,
    pub used_gpu: f64,
    pub used_cards: BTreeMap<String, i64>,
}

impl NodeLoad {
    /// The node's label `key` ("" when absent).
    pub fn label(&self, key: &str) -> &str {
        self.labels.get(key).map(String::as_str).unwrap_or("")
    }
}

/// What a node offers (its requests are added by [`allocate`]).
pub fn node_load(node: &Node, gpus: &GpuConfig) -> NodeLoad {
    let status = node.status.clone().unwrap_or_default();
    let alloc = status.allocatable.unwrap_or_default();
    let q = |k: &str| {
        alloc
            .get(k)
            .map(|q| q.0.clone())
            .unwrap_or_else(|| "0".into())
    };
    let cards = gpus
        .resources
        .iter()
        .map(|(vendor, res)| (vendor.clone(), whole(&q(res))))
        .collect();
    let ready = status
        .conditions
        .iter()
        .flatten()
        .any(|c| c.type_ == "Ready" && c.status == "True");
    let host_ip = status
        .addresses
        .iter()
        .flatten()
        .find(|a| a.type_ == "InternalIP")
        .map(|a| a.address.clone())
        .unwrap_or_default();
    NodeLoad {
        name: node.metadata.name.clone().unwrap_or_default(),
        host_ip,
        labels: node.metadata.labels.clone().unwrap_or_default(),
        ready,
        cpu: cores(&q("cpu")).trunc() as i64,
        memory: gib(&q("memory")).trunc() as i64,
        cards,
        created: node.metadata.creation_timestamp.as_ref().and_then(k8s_time),
        node_info: status
            .node_info
            .and_then(|i| serde_json::to_value(i).ok())
            .unwrap_or(Value::Null),
        used_cpu: 0,
        used_memory: 0,
        used_gpu: 0.0,
        used_cards: BTreeMap::new(),
    }
}

/// A pod as the total-resource page shows it (`pod_model2dict`).
#[derive(Debug, Clone, PartialEq)]
pub struct PodLoad {
    pub name: String,
    pub namespace: String,
    pub labels: BTreeMap<String, String>,
    pub annotations: BTreeMap<String, String>,
    pub host_ip: String,
    pub pod_ip: String,
    pub node_name: String,
    /// The node selector, required node affinity (`In`: its first value) included.
    pub node_selector: BTreeMap<String, String>,
    /// Sums over the containers: cores and GiB.
    pub request_cpu: f64,
    pub request_memory: f64,
    pub limit_cpu: f64,
    pub limit_memory: f64,
    /// Requested whole cards per vendor key, and vGPU cards (`gpucores` ÷ 100).
    pub cards: BTreeMap<String, i64>,
    pub vgpu: f64,
    pub created: Option<DateTime<Utc>>,
    /// Running, or Pending and scheduled (`exist_hold_resource`).
    pub holds: bool,
}

impl PodLoad {
    /// Requested cards: every vendor's whole cards plus vGPU (the page's `gpu`).
    pub fn gpu(&self) -> f64 {
        self.cards.values().sum::<i64>() as f64 + self.vgpu
    }

    /// The user the page files the pod under: the first of the labels `user`,
    /// `username`, `run-rtx`, `rtx-user`, else `admin` (as `pod_resource`).
    pub fn owner(&self) -> &str {
        ["user", "username", "run-rtx", "rtx-user"]
            .iter()
            .find_map(|k| self.labels.get(*k))
            .map(String::as_str)
            .unwrap_or("admin")
    }

    /// The resource group: the node selector's `org` (`unknown` without one).
    pub fn org(&self) -> &str {
        self.node_selector
            .get("org")
            .map(String::as_str)
            .unwrap_or("unknown")
    }
}

fn sum_of(containers: &[Container], limits: bool, f: impl Fn(&str) -> f64, key: &str) -> f64 {
    containers
        .iter()
        .filter_map(|c| {
            let r = c.resources.as_ref()?;
            let m = if limits {
                r.limits.as_ref()
            } else {
                r.requests.as_ref()
            }?;
            Some(m.get(key).map(|q| f(&q.0)).unwrap_or(0.0))
        })
        // from +0.0: `sum()` of no f64 is -0.0, written "-0.0" in JSON
        .fold(0.0, |a, b| a + b)
}

/// What a pod asks for and whether it holds it.
pub fn pod_load(pod: &Pod, gpus: &GpuConfig) -> PodLoad {
    let spec = pod.spec.clone().unwrap_or_default();
    let status = pod.status.clone().unwrap_or_default();
    let containers = &spec.containers;
    let mut node_selector = BTreeMap::new();
    let terms = spec
        .affinity
        .as_ref()
        .and_then(|a| a.node_affinity.as_ref())
        .and_then(|a| {
            a.required_during_scheduling_ignored_during_execution
                .as_ref()
        })
        .and_then(|r| r.node_selector_terms.first())
        .and_then(|t| t.match_expressions.clone())
        .unwrap_or_default();
    for e in terms {
        if e.operator == "In"
            && let Some(v) = e.values.as_ref().and_then(|v| v.first())
        {
            node_selector.insert(e.key.clone(), v.clone());
        }
    }
    node_selector.extend(spec.node_selector.clone().unwrap_or_default());
    let cards = gpus
        .resources
        .iter()
        .map(|(vendor, res)| {
            (
                vendor.clone(),
                sum_of(containers, false, |q| whole(q) as f64, res) as i64,
            )
        })
        .collect();
    let phase = status.phase.clone().unwrap_or_default();
    let holds = match phase.as_str() {
        "Running" => true,
        // the original counts a Pending pod without conditions as holding
        "Pending" => match &status.conditions {
            None => true,
            Some(cs) => cs
                .iter()
                .any(|c| c.type_ == "PodScheduled" && c.status.eq_ignore_ascii_case("true")),
        },
        _ => false,
    };
    PodLoad {
        name: pod.metadata.name.clone().unwrap_or_default(),
        namespace: pod.metadata.namespace.clone().unwrap_or_default(),
        labels: pod.metadata.labels.clone().unwrap_or_default(),
        annotations: pod.metadata.annotations.clone().unwrap_or_default(),
        host_ip: status.host_ip.clone().unwrap_or_default(),
        pod_ip: status.pod_ip.clone().unwrap_or_default(),
        node_name: spec.node_name.clone().unwrap_or_default(),
        node_selector,
        request_cpu: sum_of(containers, false, cores, "cpu"),
        request_memory: sum_of(containers, false, gib, "memory"),
        limit_cpu: sum_of(containers, true, cores, "cpu"),
        limit_memory: sum_of(containers, true, gib, "memory"),
        cards,
        vgpu: sum_of(containers, false, number, VGPU_CORES) / 100.0,
        created: pod.metadata.creation_timestamp.as_ref().and_then(k8s_time),
        holds,
    }
}

/// Adds the requests of the pods that hold resources to the nodes they run on
/// (`get_all_node_allocated_resources`): cores and GiB truncated once summed, cards
/// with vGPU rounded to one decimal.
pub fn allocate(nodes: &mut [NodeLoad], pods: &[PodLoad]) {
    for node in nodes.iter_mut() {
        let on: Vec<&PodLoad> = pods
            .iter()
            .filter(|p| p.holds && p.node_name == node.name)
            .collect();
        node.used_cpu = on.iter().map(|p| p.request_cpu).sum::<f64>().trunc() as i64;
        node.used_memory = on.iter().map(|p| p.request_memory).sum::<f64>().trunc() as i64;
        let mut cards: BTreeMap<String, i64> = BTreeMap::new();
        for p in &on {
            for (vendor, n) in &p.cards {
                *cards.entry(vendor.clone()).or_default() += n;
            }
        }
        let vgpu: f64 = on.iter().map(|p| p.vgpu).sum();
        let whole_gpu = cards.get("gpu").copied().unwrap_or(0) as f64;
        node.used_gpu = ((whole_gpu + vgpu) * 10.0).round() / 10.0;
        node.used_cards = cards;
    }
}

/// The usage of one `metrics.k8s.io` PodMetrics item: (namespace, name, cores, GiB),
/// summed over its containers.
pub fn pod_usage(item: &Value) -> Option<(String, String, f64, f64)> {
    let meta = item.get("metadata")?;
    let name = meta.get("name")?.as_str()?.to_string();
    let ns = meta
        .get("namespace")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    let (mut cpu, mut mem) = (0.0, 0.0);
    for c in item.get("containers")?.as_array()? {
        let usage = c.get("usage")?;
        cpu += cores(usage.get("cpu").and_then(Value::as_str).unwrap_or("0"));
        mem += gib(usage.get("memory").and_then(Value::as_str).unwrap_or("0"));
    }
    Some((ns, name, cpu, mem))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn quantities() {
        assert_eq!(cores("250m"), 0.25);
        assert_eq!(cores("2"), 2.0);
        assert_eq!(cores("1500000000n"), 1.5);
        assert_eq!(cores("x"), 0.0);
        assert_eq!(gib("512Mi"), 0.5);
        assert_eq!(gib("16Gi"), 16.0);
        assert_eq!(gib("33554432Ki"), 32.0);
        assert_eq!(gib("1073741824"), 1.0);
        assert_eq!(gib("1Ti"), 1024.0);
    }

    #[test]
    fn pods_and_nodes() {
        let pod: Pod = serde_json::from_value(json!({
            "metadata": {"name": "p", "namespace": "pipeline", "labels": {"run-rtx": "bob"},
                         "creationTimestamp": "2024-01-01T00:00:00Z"},
            "spec": {"nodeName": "n1", "nodeSelector": {"org": "train"}, "containers": [
                {"name": "a", "resources": {"requests": {"cpu": "1500m", "memory": "2Gi", "nvidia.com/gpu": "1"},
                                            "limits": {"cpu": "2", "memory": "4Gi"}}},
                {"name": "b", "resources": {"requests": {"cpu": "1", "nvidia.com/gpucores": "50"}}}]},
            "status": {"phase": "Running", "hostIP": "10.0.0.1"}
        }))
        .unwrap();
        let g = GpuConfig::default();
        let p = pod_load(&pod, &g);
        assert!(p.holds);
        assert_eq!((p.request_cpu, p.request_memory), (2.5, 2.0));
        assert_eq!((p.limit_cpu, p.limit_memory), (2.0, 4.0));
        assert_eq!(p.gpu(), 1.5);
        assert_eq!((p.owner(), p.org()), ("bob", "train"));
        let node: Node = serde_json::from_value(json!({
            "metadata": {"name": "n1"},
            "status": {"allocatable": {"cpu": "7800m", "memory": "32Gi", "nvidia.com/gpu": "4"},
                       "conditions": [{"type": "Ready", "status": "True"}],
                       "addresses": [{"type": "InternalIP", "address": "10.0.0.1"}]}
        }))
        .unwrap();
        let mut nodes = vec![node_load(&node, &g)];
        assert_eq!(
            (nodes[0].cpu, nodes[0].memory, nodes[0].cards["gpu"]),
            (7, 32, 4)
        );
        allocate(&mut nodes, &[p]);
        assert_eq!(
            (nodes[0].used_cpu, nodes[0].used_memory, nodes[0].used_gpu),
            (2, 2, 1.5)
        );
        let usage = json!({"metadata": {"name": "p", "namespace": "pipeline"},
            "containers": [{"usage": {"cpu": "250m", "memory": "1Gi"}}, {"usage": {"cpu": "500000000n", "memory": "512Mi"}}]});
        assert_eq!(
            pod_usage(&usage),
            Some(("pipeline".into(), "p".into(), 0.75, 1.5))
        );
    }
}
