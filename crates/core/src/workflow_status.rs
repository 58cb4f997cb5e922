//! What the watcher computes from an Argo Workflow (orchestration.md §5.1, §6), as pure
//! functions: the status string, the local-time copies of its timestamps, per-task
//! durations, and the rules that keep the `workflow` and `run` rows from going backwards.
//!
//! Fixes of the original: times are converted to the configured time zone instead of a
//! hard-coded +8 h; a final status (`Succeeded`, `Failed`, `Error`) is never replaced by
//! a non-final one and `Deleted` is never overwritten (a stale or replayed event cannot
//! undo a transition); the run row never goes back to `''` (it keeps `created` until the
//! workflow has nodes).

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use serde_json::{Map, Value, json};

use crate::json_text::pretty4;

/// Statuses a workflow does not leave.
pub const FINAL_STATUSES: [&str; 3] = ["Succeeded", "Failed", "Error"];
/// The status the application writes when it deletes a workflow.
pub const DELETED: &str = "Deleted";
/// The format of the string time columns (defined with the schema, in app-models).
pub use app_models::time::TIME_FORMAT;

/// True for `Succeeded`, `Failed` and `Error`.
pub fn is_final(status: &str) -> bool {
    FINAL_STATUSES.contains(&status)
}

/// The status of a workflow from its `.status` (§5.1): `''` without nodes; `Pending` when
/// the last node (in JSON order) is `Pending`; otherwise `status.phase`.
pub fn workflow_status(status: Option<&Value>) -> String {
    let Some(st) = status else {
        return String::new();
    };
    let Some((_, last)) = st
        .get("nodes")
        .and_then(Value::as_object)
        .and_then(|n| n.iter().next_back())
    else {
        return String::new();
    };
    if last.get("phase").and_then(Value::as_str) == Some("Pending") {
        return "Pending".into();
    }
    st.get("phase")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string()
}

/// What to do with the `workflow` row when an event brings status `new`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RowChange {
    /// No row yet: insert it.
    Insert,
    /// Overwrite every column.
    Update,
    /// The application deleted it: keep `status` (and `info_json`), refresh the rest.
    KeepDeleted,
    /// The event is older than the row (a final status would regress): leave the row.
    Stale,
}

/// The rule for the `workflow` row, given its current status (`None`: no row).
pub fn workflow_row_change(old: Option<&str>, new: &str) -> RowChange {
    match old {
        None => RowChange::Insert,
        Some(DELETED) => RowChange::KeepDeleted,
        Some(o) if is_final(o) && !is_final(new) => RowChange::Stale,
        Some(_) => RowChange::Update,
    }
}

/// The status to write on the owning `run` row, if any: never `''` (the run stays
/// `created`), never over `Deleted`, never from a final status back to a non-final one.
pub fn run_status_change<'a>(old: Option<&str>, new: &'a str) -> Option<&'a str> {
    if new.is_empty() {
        return None;
    }
    match old {
        Some(DELETED) => None,
        Some(o) if o == new => None,
        Some(o) if is_final(o) && !is_final(new) => None,
        _ => Some(new),
    }
}

/// The user of a workflow: label `run-rtx` > `pipeline-rtx` > `run-username` >
/// `pipeline-username`, the first non-empty one.
pub fn username_from_labels(labels: &BTreeMap<String, String>) -> String {
    [
        "run-rtx",
        "pipeline-rtx",
        "run-username",
        "pipeline-username",
    ]
    .iter()
    .filter_map(|k| labels.get(*k))
    .find(|v| !v.is_empty())
    .cloned()
    .unwrap_or_default()
}

/// Parses an RFC 3339 timestamp.
pub fn parse_time(ts: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(ts)
        .ok()
        .map(|d| d.with_timezone(&Utc))
}

/// An RFC 3339 timestamp as a `%Y-%m-%d %H:%M:%S` string in `tz`.
pub fn local_time(ts: &str, tz: Tz) -> Option<String> {
    parse_time(ts).map(|d| d.with_timezone(&tz).format(TIME_FORMAT).to_string())
}

/// A copy of `v` where every `startedAt` / `finishedAt` string holds local time in `tz`
/// (the original's `check_status_time`); other values are unchanged.
pub fn localize_times(v: &Value, tz: Tz) -> Value {
    match v {
        Value::Object(m) => {
            let mut out = Map::with_capacity(m.len());
            for (k, val) in m {
                let converted = match (k.as_str(), val) {
                    ("startedAt" | "finishedAt", Value::String(s)) => local_time(s, tz)
                        .map(Value::String)
                        .unwrap_or_else(|| val.clone()),
                    _ => localize_times(val, tz),
                };
                out.insert(k.clone(), converted);
            }
            Value::Object(out)
        }
        Value::Array(items) => Value::Array(items.iter().map(|i| localize_times(i, tz)).collect()),
        other => other.clone(),
    }
}

/// The latest `startedAt` / `finishedAt` anywhere in a workflow status: when it last changed.
pub fn last_change(status: &Value) -> Option<DateTime<Utc>> {
    let mut latest: Option<DateTime<Utc>> = None;
    let mut visit = |node: &Value| {
        for key in ["startedAt", "finishedAt"] {
            if let Some(t) = node.get(key).and_then(Value::as_str).and_then(parse_time) {
                latest = Some(latest.map_or(t, |l| l.max(t)));
            }
        }
    };
    visit(status);
    if let Some(nodes) = status.get("nodes").and_then(Value::as_object) {
        nodes.values().for_each(&mut visit);
    }
    latest
}

/// The task of a node: its `displayName` up to the first `(` (retries are `task(0)`).
pub fn task_name(display_name: &str) -> &str {
    display_name
        .split('(')
        .next()
        .unwrap_or(display_name)
        .trim()
}

/// One pod node of a workflow and how long it ran.
#[derive(Debug, Clone, PartialEq)]
pub struct TaskTime {
    /// The pipeline task (`displayName` up to `(`).
    pub task: String,
    /// The node id (`<workflow>-<digits>`).
    pub node_id: String,
    /// The node's template (pods are `<workflow>-<template>-<digits>` in Argo ≥ 3.4).
    pub template: String,
    /// The node's phase.
    pub phase: String,
    /// `startedAt` / `finishedAt` of the node.
    pub started: Option<DateTime<Utc>>,
    /// See `started`.
    pub finished: Option<DateTime<Utc>>,
}

impl TaskTime {
    /// Seconds between start and finish, when both are known.
    pub fn seconds(&self) -> Option<i64> {
        match (self.started, self.finished) {
            (Some(s), Some(f)) => Some((f - s).num_seconds().max(0)),
            _ => None,
        }
    }

    /// The JSON kept in `workflow.info_json.task_time`.
    pub fn to_json(&self, tz: Tz) -> Value {
        let local = |t: Option<DateTime<Utc>>| {
            t.map(|t| Value::String(t.with_timezone(&tz).format(TIME_FORMAT).to_string()))
                .unwrap_or(Value::Null)
        };
        json!({
            "task": self.task,
            "node": self.node_id,
            "phase": self.phase,
            "start": local(self.started),
            "finish": local(self.finished),
            "seconds": self.seconds(),
        })
    }
}

/// Every `Pod` node of a workflow status, in node order.
pub fn task_times(status: &Value) -> Vec<TaskTime> {
    let Some(nodes) = status.get("nodes").and_then(Value::as_object) else {
        return Vec::new();
    };
    let text = |n: &Value, k: &str| n.get(k).and_then(Value::as_str).unwrap_or("").to_string();
    nodes
        .iter()
        .filter(|(_, n)| n.get("type").and_then(Value::as_str) == Some("Pod"))
        .map(|(id, n)| TaskTime {
            task: task_name(&text(n, "displayName")).to_string(),
            node_id: id.clone(),
            template: text(n, "templateName"),
            phase: text(n, "phase"),
            started: n
                .get("startedAt")
                .and_then(Value::as_str)
                .and_then(parse_time),
            finished: n
                .get("finishedAt")
                .and_then(Value::as_str)
                .and_then(parse_time),
        })
        .collect()
}

/// Everything the watcher stores about one workflow object.
#[derive(Debug, Clone, PartialEq)]
pub struct WorkflowSnapshot {
    /// `metadata.name`.
    pub name: String,
    /// `metadata.namespace`.
    pub namespace: String,
    /// `metadata.creationTimestamp` in local time.
    pub create_time: String,
    /// The status of §5.1.
    pub status: String,
    /// `status.phase` as Argo wrote it.
    pub phase: String,
    /// `metadata.labels`.
    pub labels: BTreeMap<String, String>,
    /// `labels`, `annotations`, `spec` and the localized `status` as 4-space JSON.
    pub labels_json: String,
    /// See `labels_json`.
    pub annotations_json: String,
    /// See `labels_json`.
    pub spec_json: String,
    /// See `labels_json` (the `status_more` column).
    pub status_more_json: String,
    /// See [`username_from_labels`].
    pub username: String,
    /// Label `pipeline-id`, when it is a number.
    pub pipeline_id: Option<i32>,
    /// Label `run-id`.
    pub run_id: String,
    /// `status.startedAt` / `status.finishedAt` in local time.
    pub started: String,
    /// See `started`.
    pub finished: String,
    /// The pod nodes and their durations.
    pub tasks: Vec<TaskTime>,
    /// When the status last changed (see [`last_change`]).
    pub last_change: Option<DateTime<Utc>>,
}

impl WorkflowSnapshot {
    /// Reads a Workflow object (as the API serves it); `None` without name or namespace.
    pub fn from_object(obj: &Value, tz: Tz) -> Option<WorkflowSnapshot> {
        let meta = obj.get("metadata")?;
        let name = meta.get("name")?.as_str()?.to_string();
        let namespace = meta.get("namespace")?.as_str()?.to_string();
        let labels: BTreeMap<String, String> = meta
            .get("labels")
            .and_then(Value::as_object)
            .map(|m| {
                m.iter()
                    .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_string())))
                    .collect()
            })
            .unwrap_or_default();
        let object_json = |v: Option<&Value>| match v {
            Some(v @ Value::Object(_)) => pretty4(v),
            _ => "{}".to_string(),
        };
        let status = obj.get("status").filter(|s| s.is_object());
        let empty = Value::Object(Map::new());
        let st = status.unwrap_or(&empty);
        let local = |k: &str| {
            st.get(k)
                .and_then(Value::as_str)
                .and_then(|s| local_time(s, tz))
                .unwrap_or_default()
        };
        Some(WorkflowSnapshot {
            create_time: meta
                .get("creationTimestamp")
                .and_then(Value::as_str)
                .and_then(|s| local_time(s, tz))
                .unwrap_or_default(),
            status: workflow_status(status),
            phase: st
                .get("phase")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string(),
            labels_json: object_json(meta.get("labels")),
            annotations_json: object_json(meta.get("annotations")),
            spec_json: object_json(obj.get("spec")),
            status_more_json: pretty4(&localize_times(st, tz)),
            username: username_from_labels(&labels),
            pipeline_id: labels
                .get("pipeline-id")
                .and_then(|v| v.trim().parse().ok()),
            run_id: labels.get("run-id").cloned().unwrap_or_default(),
            started: local("startedAt"),
            finished: local("finishedAt"),
            tasks: task_times(st),
            last_change: last_change(st),
            labels,
            name,
            namespace,
        })
    }
}

/// What the pipeline contributes to `workflow.info_json`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PipelineInfo {
    /// `pipeline.name`.
    pub name: String,
    /// `pipeline.describe`.
    pub describe: String,
    /// `pipeline.alert_status`.
    pub alert_status: String,
}

/// The new `workflow.info_json`: the old keys are kept (the original's `has_push`, ...),
/// `pipeline_name`, `describe`, `run_id` and `alert_status` are filled when missing (the
/// original copies them at insert time) and `task_time` is replaced by the current
/// per-task durations.
pub fn merge_info_json(
    old: Option<&str>,
    pipeline: &PipelineInfo,
    run_id: &str,
    tasks: &[TaskTime],
    tz: Tz,
) -> String {
    let mut info = crate::json_text::object_or_empty(old);
    let defaults = [
        ("pipeline_name", pipeline.name.as_str()),
        ("describe", pipeline.describe.as_str()),
        ("run_id", run_id),
        ("alert_status", pipeline.alert_status.as_str()),
        ("has_push", ""),
    ];
    for (k, v) in defaults {
        info.entry(k.to_string())
            .or_insert_with(|| Value::String(v.to_string()));
    }
    info.insert(
        "task_time".into(),
        Value::Array(tasks.iter().map(|t| t.to_json(tz)).collect()),
    );
    pretty4(&Value::Object(info))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tz() -> Tz {
        chrono_tz::Asia::Shanghai
    }

    #[test]
    fn status_follows_the_last_node() {
        assert_eq!(workflow_status(None), "");
        assert_eq!(workflow_status(Some(&json!({"phase": "Running"}))), "");
        assert_eq!(
            workflow_status(Some(&json!({"phase": "Running", "nodes": {}}))),
            ""
        );
        let st = json!({"phase": "Running", "nodes": {
            "a": {"phase": "Succeeded"}, "b": {"phase": "Pending"}}});
        assert_eq!(workflow_status(Some(&st)), "Pending");
        let st = json!({"phase": "Running", "nodes": {
            "b": {"phase": "Pending"}, "a": {"phase": "Running"}}});
        assert_eq!(workflow_status(Some(&st)), "Running");
        let st = json!({"phase": "Succeeded", "nodes": {"a": {"phase": "Succeeded"}}});
        assert_eq!(workflow_status(Some(&st)), "Succeeded");
    }

    #[test]
    fn rows_never_go_backwards() {
        assert_eq!(workflow_row_change(None, ""), RowChange::Insert);
        assert_eq!(
            workflow_row_change(Some("Running"), "Succeeded"),
            RowChange::Update
        );
        assert_eq!(
            workflow_row_change(Some("Pending"), "Running"),
            RowChange::Update
        );
        assert_eq!(
            workflow_row_change(Some("Running"), "Pending"),
            RowChange::Update
        );
        assert_eq!(
            workflow_row_change(Some("Succeeded"), "Running"),
            RowChange::Stale
        );
        assert_eq!(workflow_row_change(Some("Failed"), ""), RowChange::Stale);
        assert_eq!(
            workflow_row_change(Some("Failed"), "Error"),
            RowChange::Update
        );
        assert_eq!(
            workflow_row_change(Some("Deleted"), "Failed"),
            RowChange::KeepDeleted
        );
    }

    #[test]
    fn run_rows_keep_the_chain() {
        assert_eq!(run_status_change(Some("created"), ""), None);
        assert_eq!(
            run_status_change(Some("created"), "Pending"),
            Some("Pending")
        );
        assert_eq!(
            run_status_change(Some("Running"), "Succeeded"),
            Some("Succeeded")
        );
        assert_eq!(run_status_change(Some("Succeeded"), "Running"), None);
        assert_eq!(run_status_change(Some("Deleted"), "Succeeded"), None);
        assert_eq!(run_status_change(Some("Running"), "Running"), None);
        assert_eq!(run_status_change(None, "Failed"), Some("Failed"));
    }

    #[test]
    fn usernames_by_priority() {
        let mut labels = BTreeMap::new();
        labels.insert("pipeline-username".to_string(), "creator".to_string());
        assert_eq!(username_from_labels(&labels), "creator");
        labels.insert("run-username".to_string(), "runner".to_string());
        assert_eq!(username_from_labels(&labels), "runner");
        labels.insert("pipeline-rtx".to_string(), String::new());
        assert_eq!(username_from_labels(&labels), "runner");
        labels.insert("run-rtx".to_string(), "rtx".to_string());
        assert_eq!(username_from_labels(&labels), "rtx");
    }

    #[test]
    fn times_follow_the_configured_zone() {
        assert_eq!(
            local_time("2026-11-30T03:38:11Z", tz()).as_deref(),
            Some("2026-11-30 11:38:11")
        );
        assert_eq!(
            local_time("2026-11-30T03:38:11Z", chrono_tz::UTC).as_deref(),
            Some("2026-11-30 03:38:11")
        );
        assert_eq!(local_time("yesterday", tz()), None);
        let v = json!({"startedAt": "2026-11-30T00:00:00Z", "finishedAt": null,
            "nodes": {"a": {"startedAt": "2026-11-30T01:00:00Z", "x": "2026-11-30T01:00:00Z"}}});
        assert_eq!(
            localize_times(&v, tz()),
            json!({"startedAt": "2026-11-30 08:00:00", "finishedAt": null,
                "nodes": {"a": {"startedAt": "2026-11-30 09:00:00", "x": "2026-11-30T01:00:00Z"}}})
        );
    }

    fn sample() -> Value {
        json!({
            "metadata": {"name": "p-ab12", "namespace": "pipeline",
                "creationTimestamp": "2026-11-30T03:00:00Z",
                "labels": {"pipeline-id": "7", "run-id": "r1", "run-username": "alice"},
                "annotations": {"name": "p"}},
            "spec": {"entrypoint": "p"},
            "status": {"phase": "Succeeded", "startedAt": "2026-11-30T03:00:01Z",
                "finishedAt": "2026-11-30T03:10:00.250Z",
                "nodes": {
                    "p-ab12": {"type": "DAG", "phase": "Succeeded", "displayName": "p-ab12"},
                    "p-ab12-1": {"type": "Pod", "phase": "Succeeded", "displayName": "train(0)",
                        "templateName": "train",
                        "startedAt": "2026-11-30T03:00:02Z", "finishedAt": "2026-11-30T03:05:02Z"},
                    "p-ab12-2": {"type": "Pod", "phase": "Succeeded", "displayName": "eval",
                        "startedAt": "2026-11-30T03:05:03Z", "finishedAt": null}
                }}
        })
    }

    #[test]
    fn snapshots_read_everything() {
        let s = WorkflowSnapshot::from_object(&sample(), tz()).unwrap();
        assert_eq!(s.name, "p-ab12");
        assert_eq!(s.status, "Succeeded");
        assert_eq!(s.create_time, "2026-11-30 11:00:00");
        assert_eq!(s.pipeline_id, Some(7));
        assert_eq!(s.run_id, "r1");
        assert_eq!(s.username, "alice");
        assert_eq!(s.started, "2026-11-30 11:00:01");
        assert_eq!(s.finished, "2026-11-30 11:10:00");
        assert!(s.labels_json.starts_with("{\n    \""));
        assert!(
            s.status_more_json
                .contains("\"startedAt\": \"2026-11-30 11:00:01\"")
        );
        assert_eq!(s.tasks.len(), 2);
        assert_eq!(s.tasks[0].task, "train");
        assert_eq!(s.tasks[0].template, "train");
        assert_eq!(s.tasks[0].seconds(), Some(300));
        assert_eq!(s.tasks[1].seconds(), None);
        assert_eq!(
            s.last_change,
            parse_time("2026-11-30T03:10:00.250Z"),
            "fractional seconds are kept"
        );
        assert!(WorkflowSnapshot::from_object(&json!({"metadata": {}}), tz()).is_none());
        let bare = json!({"metadata": {"name": "x", "namespace": "n"}});
        let s = WorkflowSnapshot::from_object(&bare, tz()).unwrap();
        assert_eq!((s.status.as_str(), s.pipeline_id), ("", None));
        assert_eq!(s.status_more_json, "{}");
    }

    #[test]
    fn info_json_keeps_old_keys() {
        let s = WorkflowSnapshot::from_object(&sample(), tz()).unwrap();
        let p = PipelineInfo {
            name: "p".into(),
            describe: "d".into(),
            alert_status: "Failed".into(),
        };
        let first: Value =
            serde_json::from_str(&merge_info_json(None, &p, "r1", &s.tasks, tz())).unwrap();
        assert_eq!(first["pipeline_name"], "p");
        assert_eq!(first["alert_status"], "Failed");
        assert_eq!(first["task_time"][0]["seconds"], 300);
        assert_eq!(first["task_time"][0]["start"], "2026-11-30 11:00:02");
        let old = r#"{"alert_status": "Succeeded", "has_push": "Running"}"#;
        let second: Value =
            serde_json::from_str(&merge_info_json(Some(old), &p, "r1", &[], tz())).unwrap();
        assert_eq!(second["alert_status"], "Succeeded");
        assert_eq!(second["has_push"], "Running");
        assert_eq!(second["task_time"], json!([]));
    }
}
