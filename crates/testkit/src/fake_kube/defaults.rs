//! What the API server itself fills in on create (pod phase, namespace phase, service
//! cluster IPs, PVC binding), and the objects seeded at start.

use serde_json::{Value, json};

use super::resources::Gvr;
use super::storage::Store;

/// The node the simulated kubelet runs every pod on.
pub const NODE_NAME: &str = "fake-node-1";
/// Its InternalIP (the pods' `status.hostIP`).
pub const NODE_IP: &str = "192.168.0.10";

/// Namespaces created when seeding (`FakeKubeOptions::seed`), each with the two PVCs.
pub const SEED_NAMESPACES: &[&str] = &["pipeline", "jupyter", "service", "automl"];
/// PVCs created in each seeded namespace.
pub const SEED_PVCS: &[&str] = &["kubeflow-user-workspace", "kubeflow-archives"];

pub fn on_create(store: &mut Store, gvr: &Gvr, obj: &mut Value) {
    if !gvr.group.is_empty() {
        if gvr.group == "apps"
            && ["deployments", "statefulsets", "replicasets"].contains(&gvr.plural.as_str())
        {
            let spec = &mut obj["spec"];
            if spec.is_object() && spec.get("replicas").is_none() {
                spec["replicas"] = json!(1);
            }
        }
        return;
    }
    match gvr.plural.as_str() {
        "pods" => {
            if obj.get("spec").is_some_and(Value::is_object)
                && obj["spec"].get("restartPolicy").is_none()
            {
                obj["spec"]["restartPolicy"] = json!("Always");
            }
            if obj.get("status").is_none_or(|s| s.get("phase").is_none()) {
                obj["status"] = json!({"phase": "Pending", "qosClass": "BestEffort"});
            }
        }
        "namespaces" => {
            if obj.get("status").is_none() {
                obj["status"] = json!({"phase": "Active"});
            }
            if obj.get("spec").is_none() {
                obj["spec"] = json!({"finalizers": ["kubernetes"]});
            }
        }
        "services" => {
            if !obj.get("spec").is_some_and(Value::is_object) {
                obj["spec"] = json!({});
            }
            let spec = &mut obj["spec"];
            if spec.get("type").is_none() {
                spec["type"] = json!("ClusterIP");
            }
            let ip = match spec.get("clusterIP").and_then(Value::as_str) {
                Some(ip) if !ip.is_empty() => ip.to_string(),
                _ => {
                    store.next_ip += 1;
                    let n = store.next_ip;
                    format!("10.96.{}.{}", (n >> 8) & 0xff, n & 0xff)
                }
            };
            spec["clusterIP"] = json!(ip);
            spec["clusterIPs"] = json!([ip]);
            let node_ports = matches!(spec["type"].as_str(), Some("NodePort" | "LoadBalancer"));
            if let Some(ports) = spec.get_mut("ports").and_then(Value::as_array_mut) {
                for port in ports {
                    if port.get("protocol").is_none() {
                        port["protocol"] = json!("TCP");
                    }
                    if port.get("targetPort").is_none()
                        && let Some(p) = port.get("port").cloned()
                    {
                        port["targetPort"] = p;
                    }
                    if node_ports && port.get("nodePort").is_none() {
                        store.next_ip += 1;
                        port["nodePort"] = json!(30000 + store.next_ip % 2767);
                    }
                }
            }
        }
        "persistentvolumeclaims" if obj.get("status").is_none() => {
            let size = obj
                .pointer("/spec/resources/requests/storage")
                .cloned()
                .unwrap_or(json!("10Gi"));
            let modes = obj
                .pointer("/spec/accessModes")
                .cloned()
                .unwrap_or(json!(["ReadWriteMany"]));
            obj["status"] =
                json!({"phase": "Bound", "accessModes": modes, "capacity": {"storage": size}});
        }
        _ => {}
    }
}

/// Namespaces `pipeline`, `jupyter`, `service`, `automl` (and `default`, `kube-system`),
/// the PVCs `kubeflow-user-workspace` and `kubeflow-archives` in each of the four, and the
/// node `fake-node-1` labelled for every cube-studio use.
pub fn seed(store: &mut Store) {
    let ns_gvr = Gvr::new("", "v1", "namespaces");
    let pvc_gvr = Gvr::new("", "v1", "persistentvolumeclaims");
    for ns in ["default", "kube-system"].iter().chain(SEED_NAMESPACES) {
        let _ = store.upsert(
            &ns_gvr,
            json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}}),
        );
    }
    for ns in SEED_NAMESPACES {
        for pvc in SEED_PVCS {
            let _ = store.upsert(
                &pvc_gvr,
                json!({
                    "apiVersion": "v1",
                    "kind": "PersistentVolumeClaim",
                    "metadata": {"name": pvc, "namespace": ns},
                    "spec": {
                        "accessModes": ["ReadWriteMany"],
                        "resources": {"requests": {"storage": "500Gi"}},
                        "storageClassName": "fake",
                        "volumeMode": "Filesystem",
                    },
                }),
            );
        }
    }
    let _ = store.upsert(&Gvr::new("", "v1", "nodes"), node());
}

fn node() -> Value {
    let capacity =
        json!({"cpu": "32", "memory": "128Gi", "pods": "110", "ephemeral-storage": "500Gi"});
    json!({
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": NODE_NAME,
            "labels": {
                "kubernetes.io/hostname": NODE_NAME,
                "kubernetes.io/os": "linux",
                "kubernetes.io/arch": "amd64",
                "org": "public",
                "cpu": "true",
                "train": "true",
                "notebook": "true",
                "service": "true",
            },
        },
        "spec": {"podCIDR": "10.244.0.0/24"},
        "status": {
            "capacity": capacity,
            "allocatable": capacity,
            "addresses": [
                {"type": "InternalIP", "address": NODE_IP},
                {"type": "Hostname", "address": NODE_NAME},
            ],
            "conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady",
                "message": "fake kubelet is posting ready status"}],
            "nodeInfo": {"kubeletVersion": "v1.33.0-fake-kube", "containerRuntimeVersion": "fake://1.0",
                "operatingSystem": "linux", "architecture": "amd64"},
        },
    })
}
