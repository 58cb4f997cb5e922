//! The simulated kubelet: pods go `Pending` → `Running` → `Succeeded` (or `Failed`), with
//! the events a cluster records when a pod starts (`Scheduled` from the scheduler,
//! `Pulled`/`Created`/`Started` per container from the kubelet), and
//! Deployments/StatefulSets/ReplicaSets report all replicas ready.

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::super::defaults::{NODE_IP, NODE_NAME};
use super::super::resources::Gvr;
use super::super::selectors::Selectors;
use super::super::storage::{Store, now_rfc3339};
use super::argo::WORKFLOW_LABEL;
use super::fnv1a;
use crate::fixtures::cluster::pod_event;

/// Pod annotation: the exit code the pod ends with (non-zero ⇒ `Failed`).
pub const EXIT_CODE_ANNOTATION: &str = "fake-kube.cube-studio.io/exit-code";

/// A stable pod IP in 10.244.0.0/16.
fn pod_ip(pod: &Value) -> String {
    let uid = pod
        .pointer("/metadata/uid")
        .and_then(Value::as_str)
        .unwrap_or("");
    let h = fnv1a(uid);
    format!("10.244.{}.{}", (h >> 8) & 0xff, (h & 0xff) % 253 + 1)
}

fn container_id(pod: &Value, name: &str) -> String {
    let uid = pod
        .pointer("/metadata/uid")
        .and_then(Value::as_str)
        .unwrap_or("");
    format!("containerd://{:08x}{:08x}", fnv1a(uid), fnv1a(name))
}

/// The status of `pod` in `phase` (`Pending`, `Running`, `Succeeded`, `Failed`); the
/// start time is kept from the pod's current status.
pub fn pod_status(pod: &Value, phase: &str, exit_code: i64) -> Value {
    let now = now_rfc3339();
    let prev = pod.get("status");
    let started = prev
        .and_then(|s| s.get("startTime"))
        .and_then(Value::as_str)
        .map(str::to_string)
        .unwrap_or_else(|| now.clone());
    let cond = |t: &str, ok: bool| json!({"type": t, "status": if ok { "True" } else { "False" }, "lastTransitionTime": now});
    if phase == "Pending" {
        return json!({"phase": "Pending", "qosClass": "BestEffort", "conditions": [cond("PodScheduled", true)]});
    }
    let running = phase == "Running";
    let containers = pod.pointer("/spec/containers").and_then(Value::as_array);
    let statuses: Vec<Value> = containers
        .map(|c| c.as_slice())
        .unwrap_or(&[])
        .iter()
        .map(|c| {
            let name = c.get("name").and_then(Value::as_str).unwrap_or("main");
            let image = c.get("image").and_then(Value::as_str).unwrap_or("");
            let state = if running {
                json!({"running": {"startedAt": started}})
            } else {
                json!({"terminated": {
                    "exitCode": exit_code,
                    "reason": if exit_code == 0 { "Completed" } else { "Error" },
                    "startedAt": started,
                    "finishedAt": now,
                    "containerID": container_id(pod, name),
                }})
            };
            json!({
                "name": name,
                "image": image,
                "imageID": format!("docker-pullable://{image}"),
                "containerID": container_id(pod, name),
                "ready": running,
                "started": running,
                "restartCount": 0,
                "state": state,
            })
        })
        .collect();
    let ip = pod_ip(pod);
    json!({
        "phase": phase,
        "qosClass": "BestEffort",
        "hostIP": NODE_IP,
        "hostIPs": [{"ip": NODE_IP}],
        "podIP": ip,
        "podIPs": [{"ip": ip}],
        "startTime": started,
        "conditions": [
            cond("PodScheduled", true),
            cond("Initialized", true),
            cond("ContainersReady", running),
            cond("Ready", running),
        ],
        "containerStatuses": statuses,
    })
}

/// Pods that run to completion: `restartPolicy` `Never`/`OnFailure`, except `debug-*`.
fn completes(pod: &Value) -> bool {
    let name = pod
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or("");
    let policy = pod
        .pointer("/spec/restartPolicy")
        .and_then(Value::as_str)
        .unwrap_or("Always");
    matches!(policy, "Never" | "OnFailure") && !name.starts_with("debug-")
}

/// Controller memory: when each pod (by uid) started running.
#[derive(Default)]
pub struct Kubelet {
    started: HashMap<String, Instant>,
}

impl Kubelet {
    pub fn tick(&mut self, store: &mut Store, run_for: Duration) {
        let gvr = Gvr::new("", "v1", "pods");
        let pods = store.list(&gvr, None, &Selectors::default());
        let mut seen = HashSet::new();
        for pod in pods {
            if pod
                .pointer("/metadata/labels")
                .and_then(|l| l.get(WORKFLOW_LABEL))
                .is_some()
            {
                continue; // driven by the Argo controller
            }
            let s = |p: &str| {
                pod.pointer(p)
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_string()
            };
            let (ns, name, uid) = (
                s("/metadata/namespace"),
                s("/metadata/name"),
                s("/metadata/uid"),
            );
            seen.insert(uid.clone());
            match s("/status/phase").as_str() {
                "" => {
                    let status = pod_status(&pod, "Pending", 0);
                    store.modify(&gvr, Some(&ns), &name, |o| o["status"] = status);
                }
                "Pending" => {
                    let status = pod_status(&pod, "Running", 0);
                    store.modify(&gvr, Some(&ns), &name, |o| {
                        if o.pointer("/spec/nodeName").is_none() && o["spec"].is_object() {
                            o["spec"]["nodeName"] = json!(NODE_NAME);
                        }
                        o["status"] = status;
                    });
                    started_events(store, &pod, &ns, &name);
                    self.started.insert(uid, Instant::now());
                }
                "Running" => {
                    let since = *self.started.entry(uid).or_insert_with(Instant::now);
                    if completes(&pod) && since.elapsed() >= run_for {
                        let code = pod
                            .pointer("/metadata/annotations")
                            .and_then(|a| a.get(EXIT_CODE_ANNOTATION))
                            .and_then(Value::as_str)
                            .and_then(|c| c.trim().parse::<i64>().ok())
                            .unwrap_or(0);
                        let phase = if code == 0 { "Succeeded" } else { "Failed" };
                        let status = pod_status(&pod, phase, code);
                        store.modify(&gvr, Some(&ns), &name, |o| o["status"] = status);
                    }
                }
                _ => {}
            }
        }
        self.started.retain(|uid, _| seen.contains(uid));
        workloads(store);
    }
}

/// The events of a pod that starts on the node (replacing those of an earlier pod of the
/// same name).
fn started_events(store: &mut Store, pod: &Value, ns: &str, name: &str) {
    let gvr = Gvr::new("", "v1", "events");
    let uid = pod.pointer("/metadata/uid").cloned().unwrap_or(Value::Null);
    let mut events = vec![
        pod_event(
            ns,
            name,
            "Scheduled",
            &format!("Successfully assigned {ns}/{name} to {NODE_NAME}"),
        )
        .component("default-scheduler")
        .build(),
    ];
    let containers = pod.pointer("/spec/containers").and_then(Value::as_array);
    for c in containers.map(|c| c.as_slice()).unwrap_or(&[]) {
        let container = c.get("name").and_then(Value::as_str).unwrap_or("main");
        let image = c.get("image").and_then(Value::as_str).unwrap_or("");
        for (reason, message) in [
            (
                "Pulled",
                format!("Container image \"{image}\" already present on machine"),
            ),
            ("Created", format!("Created container {container}")),
            ("Started", format!("Started container {container}")),
        ] {
            let event_name = format!("{name}.{container}.{}", reason.to_lowercase());
            let mut e = pod_event(ns, name, reason, &message)
                .name(&event_name)
                .build();
            e["involvedObject"]["fieldPath"] = json!(format!("spec.containers{{{container}}}"));
            events.push(e);
        }
    }
    for mut e in events {
        e["involvedObject"]["uid"] = uid.clone();
        let _ = store.upsert(&gvr, e);
    }
}

/// Deployments, StatefulSets and ReplicaSets: every replica ready.
fn workloads(store: &mut Store) {
    for plural in ["deployments", "statefulsets", "replicasets"] {
        let gvr = Gvr::new("apps", "v1", plural);
        for obj in store.list(&gvr, None, &Selectors::default()) {
            let replicas = obj
                .pointer("/spec/replicas")
                .and_then(Value::as_i64)
                .unwrap_or(1);
            let generation = obj
                .pointer("/metadata/generation")
                .and_then(Value::as_i64)
                .unwrap_or(1);
            let status = obj.get("status");
            let current = |f: &str| status.and_then(|s| s.get(f)).and_then(Value::as_i64);
            if current("observedGeneration") == Some(generation)
                && current("readyReplicas").unwrap_or(0) == replicas
                && current("replicas") == Some(replicas)
            {
                continue;
            }
            let mut st = json!({
                "observedGeneration": generation,
                "replicas": replicas,
                "readyReplicas": replicas,
                "availableReplicas": replicas,
                "updatedReplicas": replicas,
            });
            if plural == "deployments" {
                st["conditions"] = json!([{"type": "Available", "status": "True", "reason": "MinimumReplicasAvailable"},
                    {"type": "Progressing", "status": "True", "reason": "NewReplicaSetAvailable"}]);
            } else if plural == "statefulsets" {
                st["currentReplicas"] = json!(replicas);
            }
            let ns = obj
                .pointer("/metadata/namespace")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string();
            let name = obj
                .pointer("/metadata/name")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string();
            store.modify(&gvr, Some(&ns), &name, |o| o["status"] = st);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses() {
        let pod = json!({"metadata": {"uid": "u1", "name": "p"},
            "spec": {"containers": [{"name": "c", "image": "busybox"}]}});
        let running = pod_status(&pod, "Running", 0);
        assert!(running["containerStatuses"][0]["state"]["running"].is_object());
        assert!(running["podIP"].as_str().unwrap().starts_with("10.244."));
        let done = pod_status(
            &json!({"status": running, "metadata": pod["metadata"], "spec": pod["spec"]}),
            "Succeeded",
            0,
        );
        assert_eq!(
            done["containerStatuses"][0]["state"]["terminated"]["exitCode"],
            0
        );
        assert_eq!(done["startTime"], running["startTime"]);
    }
}
