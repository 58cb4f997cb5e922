//! The page's answers built from what was read: list rows, the node pop-up, per-cluster
//! totals and the `/data` document, with the original's texts, links and rounding.

use std::collections::BTreeMap;

use app_core::k8s::load::{NodeLoad, PodLoad};
use chrono::{DateTime, Utc};
use serde_json::{Map, Value, json};

use super::snapshot::{ClusterView, Scope};
use crate::auth::Ctx;
use crate::engine::view::Row;

/// The original's Grafana and Kubernetes-dashboard paths (`config.py`).
pub const GRAFANA_TASK_PATH: &str = "/grafana/d/pod-info/pod-info?var-pod=";
pub const GRAFANA_NODE_PATH: &str = "/grafana/d/node/node?var-node=";
pub const GRAFANA_CLUSTER_PATH: &str = "/grafana/d/all-node/all-node?var-org=";
pub const GRAFANA_GPU_PATH: &str = "/grafana/d/dcgm/gpu";
pub const K8S_DASHBOARD_CLUSTER: &str = "/k8s/dashboard/cluster/";

/// Python's `round(x)`: halves to even.
pub fn py_round(x: f64) -> i64 {
    let r = x.round();
    if (x - x.trunc()).abs() == 0.5 {
        (2.0 * (x / 2.0).round()) as i64
    } else {
        r as i64
    }
}

/// Python's `str()` of a float: `1.0`, `0.5`.
pub fn py_float(x: f64) -> String {
    if x.fract() == 0.0 && x.abs() < 1e16 {
        format!("{x:.1}")
    } else {
        format!("{x}")
    }
}

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

/// A pod the caller sees, with what it uses.
pub struct PodEntry<'a> {
    pub cluster: &'a ClusterView,
    pub pod: &'a PodLoad,
    /// (cores, GiB) from `metrics.k8s.io`, 0 without a sample.
    pub used: (f64, f64),
    /// Whether `metrics.k8s.io` had a sample of the pod.
    pub measured: bool,
}

impl PodEntry<'_> {
    /// The row key the front end sends back (`cluster:namespace:org:pod`).
    pub fn key(&self) -> String {
        format!(
            "{}:{}:{}:{}",
            self.cluster.name,
            self.pod.namespace,
            self.pod.org(),
            self.pod.name
        )
    }
}

/// The pods holding resources in the project namespaces, for the caller: admins see
/// all, others the pods filed under their name (`pod_resource`, `query_list`). In
/// cluster, namespace, resource group and name order.
pub fn visible_pods<'a>(
    clusters: &'a [ClusterView],
    scope: &Scope,
    ctx: &Ctx,
) -> Vec<PodEntry<'a>> {
    let mut out: Vec<PodEntry<'a>> = clusters
        .iter()
        .flat_map(|c| c.pods.iter().map(move |p| (c, p)))
        .filter(|(_, p)| p.holds && scope.namespaces.contains(&p.namespace))
        .filter(|(_, p)| !p.owner().is_empty())
        .filter(|(_, p)| ctx.is_admin || p.owner() == ctx.username)
        .map(|(c, p)| {
            let used = c.usage.get(&(p.namespace.clone(), p.name.clone()));
            PodEntry {
                cluster: c,
                pod: p,
                used: used.copied().unwrap_or((0.0, 0.0)),
                measured: used.is_some(),
            }
        })
        .collect();
    out.sort_by(|a, b| {
        (&a.cluster.name, &a.pod.namespace, a.pod.org(), &a.pod.name).cmp(&(
            &b.cluster.name,
            &b.pod.namespace,
            b.pod.org(),
            &b.pod.name,
        ))
    });
    out
}

fn local(t: Option<DateTime<Utc>>, tz: chrono_tz::Tz) -> String {
    t.map(|t| t.with_timezone(&tz).format("%Y-%m-%d %H:%M:%S").to_string())
        .unwrap_or_default()
}

fn link(href: &str, text: &str) -> String {
    format!("<a target=\"blank\" href=\"{href}\">{text}</a>")
}

/// `used/requested` with the request falling back to the limit (as the original).
fn share(used: i64, request: f64, limit: f64) -> String {
    let total = match py_round(request) {
        0 => py_round(limit),
        n => n,
    };
    format!("{used}/{total}")
}

/// One list row (`pod_resource`). The CPU used is the whole cores used, rounded up;
/// the original divides the cores by 1000 a second time (kubernetes.md §10), which its
/// reading of nanocores as millionths of a core makes right for metrics-server's usual
/// `…n` values but not for `…m` ones.
pub fn pod_row(e: &PodEntry<'_>, request_host: &str, tz: chrono_tz::Tz) -> Row {
    let (c, p) = (e.cluster, e.pod);
    let host = c.link_host(request_host);
    let labels: Map<String, Value> = p
        .labels
        .iter()
        .map(|(k, v)| (k.clone(), json!(v)))
        .collect();
    let row = json!({
        "cluster": c.name,
        "project": p.annotations.get("project").map_or("unknown", String::as_str),
        "resource_group": p.org(),
        "namespace": link(&format!("/k8s/web/search/{}/{}/{}", c.name, p.namespace, p.name), &p.namespace),
        "pod": link(&format!("//{host}{GRAFANA_TASK_PATH}{}", p.name), &p.name),
        "pod_info": e.key(),
        "label": labels,
        "username": p.owner(),
        "node": link(&format!("//{host}{GRAFANA_NODE_PATH}{}", p.host_ip), &p.host_ip),
        "cpu": share((e.used.0 - 1e-9).ceil().max(0.0) as i64, p.request_cpu, p.limit_cpu),
        "memory": share(py_round(e.used.1), p.request_memory, p.limit_memory),
        "gpu": py_float(round2(p.gpu())),
        "start_time": local(p.created, tz),
    });
    match row {
        Value::Object(m) => m,
        _ => Row::new(),
    }
}

/// A node's device: `cpu/gpu/vgpu/<gpu-type>` from its labels.
fn device(n: &NodeLoad) -> String {
    let mut d = String::new();
    for (label, part) in [("cpu", "cpu/"), ("gpu", "gpu/"), ("vgpu", "vgpu/")] {
        if n.label(label) == "true" {
            d.push_str(part);
        }
    }
    d.push_str(n.label("gpu-type"));
    d.trim_matches('/').to_string()
}

/// The group a node is listed under: `cpu`, `gpu/<type>` or `vgpu/<type>`.
fn device_group(n: &NodeLoad) -> String {
    if n.label("vgpu") == "true" {
        format!("vgpu/{}", n.label("gpu-type"))
    } else if n.label("gpu") == "true" {
        format!("gpu/{}", n.label("gpu-type"))
    } else {
        "cpu".into()
    }
}

/// Totals of one cluster over the nodes the caller sees (`global_cluster_load`).
#[derive(Debug, Clone, Copy, Default, PartialEq, serde::Serialize)]
pub struct ClusterLoad {
    pub cpu_req: i64,
    pub cpu_all: i64,
    pub mem_req: i64,
    pub mem_all: i64,
    pub gpu_req: f64,
    pub gpu_all: i64,
}

/// Cards of a node: (vendor shown, used, total).
fn cards(n: &NodeLoad) -> (String, f64, i64) {
    let mut vendor = String::new();
    let mut total = 0;
    for (v, count) in &n.cards {
        if *count > 0 {
            if vendor.is_empty() {
                vendor = v.clone();
            }
            total += count;
        }
    }
    let used = round2(n.used_gpu);
    (vendor, used, total)
}

/// The nodes the caller sees, grouped by org then device (first-seen order), with the
/// cluster's totals over them.
pub fn visible_nodes<'a>(c: &'a ClusterView, scope: &Scope) -> (Vec<&'a NodeLoad>, ClusterLoad) {
    let mut groups: Vec<(String, String, Vec<&NodeLoad>)> = Vec::new();
    for n in &c.nodes {
        let (org, dev) = (
            n.labels.get("org").map_or("unknown", String::as_str),
            device_group(n),
        );
        match groups.iter_mut().find(|(o, d, _)| o == org && *d == dev) {
            Some(g) => g.2.push(n),
            None => {
                let first_of_org = groups.iter().rposition(|(o, _, _)| o == org);
                let entry = (org.to_string(), dev, vec![n]);
                match first_of_org {
                    Some(i) => groups.insert(i + 1, entry),
                    None => groups.push(entry),
                }
            }
        }
    }
    let nodes: Vec<&NodeLoad> = groups
        .into_iter()
        .flat_map(|(_, _, ns)| ns)
        .filter(|n| scope.sees_node(&c.name, n))
        .collect();
    let mut load = ClusterLoad::default();
    for n in &nodes {
        let (_, used, total) = cards(n);
        load.cpu_req += n.used_cpu;
        load.cpu_all += n.cpu;
        load.mem_req += n.used_memory;
        load.mem_all += n.memory;
        load.gpu_req = round2(load.gpu_req + used);
        load.gpu_all += total;
    }
    (nodes, load)
}

const TD: &str = "<td style=\"border: 1px solid black;padding: 10px\">";

fn td(s: &str) -> String {
    format!("{TD}{s}</th>")
}

/// The node pop-up of the page (`node_traffic`): one table row per node the caller sees.
pub fn node_table(
    clusters: &[ClusterView],
    scope: &Scope,
    admin: bool,
    request_host: &str,
) -> String {
    let header: Vec<String> = [
        "集群",
        "资源组",
        "机器",
        "机型",
        "cpu占用率",
        "内存占用率",
        "AI加速卡",
    ]
    .iter()
    .map(|h| td(h))
    .collect();
    let mut html = format!("<tr>{}<tr>", header.join(" "));
    for c in clusters {
        let host = c.link_host(request_host);
        let (nodes, _) = visible_nodes(c, scope);
        for n in nodes {
            let ip = if n.ready {
                n.host_ip.clone()
            } else {
                format!("<del>{}</del>", n.host_ip)
            };
            let ip_html = if admin {
                format!(
                    "<a target=\"_blank\" href=\"//{host}{K8S_DASHBOARD_CLUSTER}#/node/{}?namespace=default\">{ip}</a>",
                    n.name
                )
            } else {
                ip
            };
            let color = if n.labels.get("share").is_none_or(|s| s == "true") {
                "#FFFFFF"
            } else {
                "#F0F0F0"
            };
            let (vendor, used, total) = cards(n);
            let vendor = if vendor.is_empty() {
                "gpu:".to_string()
            } else {
                format!("{vendor}:")
            };
            let cells = [
                td(&c.name),
                td(n.labels.get("org").map_or("unknown", String::as_str)),
                td(&ip_html),
                td(&link(
                    &format!("//{host}{GRAFANA_CLUSTER_PATH}"),
                    &device(n),
                )),
                td(&format!("cpu:{}/{}", n.used_cpu, n.cpu)),
                td(&format!("mem:{}/{}", n.used_memory, n.memory)),
                td(&format!("{vendor}{}/{total}", py_float(used))),
            ];
            html.push_str(&format!("<tr bgcolor=\"{color}\">{}<tr>", cells.join(" ")));
        }
    }
    format!("<div style=\"padding:20px\"><table>{html}</table></div>")
}

/// The totals per cluster of the nodes the caller sees.
pub fn cluster_loads(clusters: &[ClusterView], scope: &Scope) -> BTreeMap<String, ClusterLoad> {
    clusters
        .iter()
        .map(|c| (c.name.clone(), visible_nodes(c, scope).1))
        .collect()
}

/// `lowerCamelCase` → `snake_case` (`bootID` → `boot_id`), as the original's Kubernetes
/// client names a model's attributes.
fn snake_case(key: &str) -> String {
    let mut out = String::new();
    let mut prev_upper = true;
    for ch in key.chars() {
        if ch.is_ascii_uppercase() {
            if !prev_upper {
                out.push('_');
            }
            out.push(ch.to_ascii_lowercase());
        } else {
            out.push(ch);
        }
        prev_upper = ch.is_ascii_uppercase();
    }
    out
}

/// The node's system info as the original's client gives it (`to_dict()`): attributes
/// in `snake_case`, in name order.
fn node_info(info: &Value) -> Value {
    match info.as_object() {
        Some(m) => {
            let sorted: BTreeMap<String, &Value> =
                m.iter().map(|(k, v)| (snake_case(k), v)).collect();
            json!(sorted)
        }
        None => info.clone(),
    }
}

fn node_json(n: &NodeLoad) -> Value {
    let mut m = json!({
        "cpu": n.cpu,
        "memory": n.memory,
        "labels": n.labels,
        "name": n.name,
        "create_time": n.created.map(|t| t.format("%a, %d %b %Y %H:%M:%S GMT").to_string()),
        "node_info": node_info(&n.node_info),
        "status": if n.ready { "Ready" } else { "Unknown" },
    });
    for (vendor, count) in &n.cards {
        m[vendor] = json!(count);
    }
    m["hostip"] = json!(n.host_ip);
    m["used_memory"] = json!(n.used_memory);
    m["used_cpu"] = json!(n.used_cpu);
    for (vendor, count) in &n.used_cards {
        m[format!("used_{vendor}")] = json!(count);
    }
    m["used_gpu"] = json!(n.used_gpu);
    m
}

/// `/data`: `{pods: cluster → namespace → org → pod → details, nodes: cluster → ip →
/// node, cluster: cluster → totals}`, of what the caller sees. As the original, every
/// project namespace has its entry, and every org of a pod there (the caller's pods
/// for a plain user) even when none holds resources; a pod without a usage sample
/// has the original's initial `"0"` texts for its use.
pub fn data(clusters: &[ClusterView], scope: &Scope, ctx: &Ctx, tz: chrono_tz::Tz) -> Value {
    let mut pods = Map::new();
    let mut nodes = Map::new();
    for c in clusters {
        let by_ns = pods.entry(c.name.clone()).or_insert_with(|| json!({}));
        for ns in &scope.namespaces {
            by_ns[ns] = json!({});
        }
        for p in c.pods.iter().filter(|p| {
            scope.namespaces.contains(&p.namespace) && (ctx.is_admin || p.owner() == ctx.username)
        }) {
            by_ns[&p.namespace][p.org()] = json!({});
        }
        for e in visible_pods(std::slice::from_ref(c), scope, ctx) {
            let used = |x: f64| if e.measured { json!(x) } else { json!("0") };
            let p = e.pod;
            by_ns[&p.namespace][p.org()][&p.name] = json!({
                "username": p.owner(),
                "host_ip": p.host_ip,
                "pod_ip": p.pod_ip,
                "request_memory": p.request_memory,
                "request_cpu": p.request_cpu,
                "limit_memory": p.limit_memory,
                "limit_cpu": p.limit_cpu,
                "request_gpu": p.gpu(),
                "used_memory": used(e.used.1),
                "used_cpu": used(e.used.0),
                "used_gpu": "0",
                "label": p.labels,
                "annotations": p.annotations,
                "start_time": local(p.created, tz),
            });
        }
        let mut by_ip = Map::new();
        for n in visible_nodes(c, scope).0 {
            by_ip.insert(n.host_ip.clone(), node_json(n));
        }
        nodes.insert(c.name.clone(), Value::Object(by_ip));
    }
    json!({"pods": pods, "nodes": nodes, "cluster": cluster_loads(clusters, scope)})
}
