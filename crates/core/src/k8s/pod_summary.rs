//! A pod as the original's pod pages show it (`pod_model2dict` in its `py_k8s.py`): who
//! owns it, its phase and the finer sub-status (`CrashLoopBackOff`, `Terminating`, ...),
//! the messages that explain a pod that does not run, its images, node and requests.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use k8s_openapi::api::core::v1::Pod;
use serde::Serialize;

pub use super::load::k8s_time;

/// The labels that name a pod's user, in the order the original reads them, then the
/// label our pipeline pods carry.
pub const OWNER_LABELS: [&str; 6] = [
    "run-rtx",
    "user",
    "rtx-user",
    "run-username",
    "username",
    "pipeline-username",
];

/// The user a pod belongs to (empty when no owner label is set).
pub fn owner(labels: Option<&BTreeMap<String, String>>) -> String {
    labels
        .and_then(|l| {
            OWNER_LABELS
                .iter()
                .find_map(|k| l.get(*k).filter(|v| !v.is_empty()))
        })
        .cloned()
        .unwrap_or_default()
}

/// What the pod pages show of a pod.
#[derive(Debug, Clone, Serialize)]
pub struct PodSummary {
    pub name: String,
    pub namespace: String,
    pub images: Vec<String>,
    pub username: String,
    pub host_ip: String,
    pub pod_ip: String,
    /// The phase: Pending, Running, Succeeded, Failed, Unknown.
    pub status: String,
    /// The first container's waiting/terminated reason, `Terminating` while deleted,
    /// `Starting` while running but not ready; else the phase.
    pub pod_substatus: String,
    pub node_name: String,
    pub labels: BTreeMap<String, String>,
    pub annotations: BTreeMap<String, String>,
    pub start_time: Option<DateTime<Utc>>,
    pub container_start_time: Option<DateTime<Utc>>,
    pub restart_count: i32,
    /// Why the pod is not running as it should (scheduling, container state, readiness).
    pub message: Vec<String>,
    pub containers: Vec<String>,
}

impl PodSummary {
    /// The container a log or a shell opens by default: `main` (an Argo step's
    /// container) when present, else the last one, as the original's search page picks.
    pub fn default_container(&self) -> Option<&str> {
        if self.containers.iter().any(|c| c == "main") {
            return Some("main");
        }
        self.containers.last().map(String::as_str)
    }

    /// True once the pod cannot run anything any more.
    pub fn finished(&self) -> bool {
        matches!(
            self.pod_substatus.as_str(),
            "Completed" | "Succeeded" | "Failed" | "Error"
        ) || matches!(self.status.as_str(), "Succeeded" | "Failed")
    }
}

/// A Kubernetes micro-time (jiff) as chrono, to the second.
pub fn k8s_micro_time(
    t: &k8s_openapi::apimachinery::pkg::apis::meta::v1::MicroTime,
) -> Option<DateTime<Utc>> {
    DateTime::from_timestamp(t.0.as_second(), 0)
}

/// Summarises a pod.
pub fn summarize(pod: &Pod) -> PodSummary {
    let meta = &pod.metadata;
    let status = pod.status.as_ref();
    let spec = pod.spec.as_ref();
    let phase = status.and_then(|s| s.phase.clone()).unwrap_or_default();
    let first_state = status
        .and_then(|s| s.container_statuses.as_ref())
        .and_then(|c| c.first())
        .and_then(|c| c.state.as_ref());
    let mut substatus = phase.clone();
    if let Some(state) = first_state {
        let reason = state
            .waiting
            .as_ref()
            .and_then(|w| w.reason.clone())
            .or_else(|| state.terminated.as_ref().and_then(|t| t.reason.clone()));
        if let Some(r) = reason.filter(|r| !r.is_empty()) {
            substatus = r;
        }
    }
    if meta.deletion_timestamp.is_some() {
        substatus = "Terminating".into();
    }
    let conditions = status.and_then(|s| s.conditions.as_deref()).unwrap_or(&[]);
    let condition_messages = |kind: &str| -> Vec<String> {
        conditions
            .iter()
            .filter(|c| c.type_ == kind && c.status.eq_ignore_ascii_case("false"))
            .filter_map(|c| c.message.clone())
            .collect()
    };
    let mut message: Vec<String> = Vec::new();
    if phase == "Pending" {
        message = condition_messages("PodScheduled");
    }
    if phase == "Running" {
        if let Some(state) = first_state {
            message.extend(state.waiting.as_ref().and_then(|w| w.message.clone()));
            message.extend(state.terminated.as_ref().and_then(|t| t.message.clone()));
        }
        if message.is_empty() && substatus == phase {
            message = condition_messages("Ready");
            if !message.is_empty() {
                substatus = "Starting".into();
            }
        }
    }
    message.retain(|m| !m.is_empty() && !m.eq_ignore_ascii_case("none"));
    let mut images: Vec<String> = Vec::new();
    if let Some(spec) = spec {
        for c in spec
            .init_containers
            .iter()
            .flatten()
            .chain(&spec.containers)
        {
            images.extend(c.image.clone());
        }
    }
    PodSummary {
        name: meta.name.clone().unwrap_or_default(),
        namespace: meta.namespace.clone().unwrap_or_default(),
        images,
        username: owner(meta.labels.as_ref()),
        host_ip: status.and_then(|s| s.host_ip.clone()).unwrap_or_default(),
        pod_ip: status.and_then(|s| s.pod_ip.clone()).unwrap_or_default(),
        status: phase,
        pod_substatus: substatus,
        node_name: spec.and_then(|s| s.node_name.clone()).unwrap_or_default(),
        labels: meta.labels.clone().unwrap_or_default(),
        annotations: meta.annotations.clone().unwrap_or_default(),
        start_time: meta.creation_timestamp.as_ref().and_then(k8s_time),
        container_start_time: status
            .and_then(|s| s.start_time.as_ref())
            .and_then(k8s_time),
        restart_count: status
            .and_then(|s| s.container_statuses.as_ref())
            .and_then(|c| c.iter().map(|c| c.restart_count).max())
            .unwrap_or(0),
        message,
        containers: spec
            .map(|s| s.containers.iter().map(|c| c.name.clone()).collect())
            .unwrap_or_default(),
    }
}

/// Removes ANSI escape sequences (colours, cursor moves) from a log, as the original's
/// `read/log` does (`\x1B(?:[@-Z\\-_]|\[[0-?]*[ -/]*[@-~])`).
pub fn strip_ansi(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '\x1b' {
            out.push(c);
            continue;
        }
        match chars.peek().copied() {
            Some('[') => {
                chars.next();
                // parameters 0x30-0x3F, intermediates 0x20-0x2F, then one final byte 0x40-0x7E
                while let Some(&p) = chars.peek() {
                    if ('0'..='?').contains(&p) || (' '..='/').contains(&p) {
                        chars.next();
                    } else {
                        break;
                    }
                }
                if chars.peek().is_some_and(|f| ('@'..='~').contains(f)) {
                    chars.next();
                }
            }
            Some(n) if ('@'..='Z').contains(&n) || ('\\'..='_').contains(&n) => {
                chars.next();
            }
            _ => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn ansi_sequences_are_removed() {
        assert_eq!(
            strip_ansi("\x1b[31mred\x1b[0m plain \x1b[1;32mgreen\x1b[K\x1bM!"),
            "red plain green!"
        );
        assert_eq!(strip_ansi("no escapes\n"), "no escapes\n");
    }

    #[test]
    fn a_crashing_pod_is_summarised_as_the_original_does() {
        let pod: Pod = serde_json::from_value(json!({
            "metadata": {"name": "p", "namespace": "pipeline",
                          "labels": {"run-username": "alice"},
                          "creationTimestamp": "2026-12-07T10:00:00Z"},
            "spec": {"containers": [{"name": "wait", "image": "argoexec"},
                                     {"name": "main", "image": "python:3"}],
                     "initContainers": [{"name": "init", "image": "busybox"}],
                     "nodeName": "node-1"},
            "status": {"phase": "Running", "hostIP": "10.0.0.1",
                       "containerStatuses": [{"name": "main", "image": "python:3", "imageID": "",
                           "ready": false, "restartCount": 3,
                           "state": {"waiting": {"reason": "CrashLoopBackOff", "message": "back-off 5m"}}}]}
        }))
        .unwrap();
        let s = summarize(&pod);
        assert_eq!(s.username, "alice");
        assert_eq!(s.status, "Running");
        assert_eq!(s.pod_substatus, "CrashLoopBackOff");
        assert_eq!(s.message, vec!["back-off 5m".to_string()]);
        assert_eq!(s.images, vec!["busybox", "argoexec", "python:3"]);
        assert_eq!(s.restart_count, 3);
        assert_eq!(s.default_container(), Some("main"));
        assert_eq!(s.host_ip, "10.0.0.1");
    }
}
