//! The run page of a workflow (`/frontend/commonRelation?backurl=…/web/dag/…`): its
//! header (`layout`) and its node tree (`dag`), as pure functions of the workflow as the
//! cluster or the `workflow` row has it (orchestration.md §2.4, the original's `get_dag`).
//!
//! Kept from the original: every key, the node tree walked from the root node through
//! `children` (a node reached twice appears twice), pod names as Argo (v2) names them,
//! the labels copied into the header, the buttons. Changed: times already in local time
//! (the `workflow` row's, written so by the watcher) are shown as they are instead of
//! being shifted by 8 hours a second time; annotations are not re-decoded (the original
//! turns non-ASCII text into mojibake); a node whose template is missing is still drawn
//! (the original drops it and its subtree); the icons are our own drawings.

use app_core::workflow_status::local_time;
use chrono_tz::Tz;
use serde_json::{Map, Value, json};

/// A workflow as the run page reads it, from the cluster or from its row.
#[derive(Debug, Clone)]
pub struct RunRecord {
    /// `metadata.name`.
    pub name: String,
    /// `metadata.namespace`.
    pub namespace: String,
    /// The cluster named in the URL.
    pub cluster: String,
    /// Creation time, local.
    pub create_time: String,
    /// The workflow status of orchestration.md §5.1 (or the row's).
    pub status: String,
    /// `metadata.labels`.
    pub labels: Map<String, Value>,
    /// `metadata.annotations`.
    pub annotations: Value,
    /// `spec`.
    pub spec: Value,
    /// `status` (the row's `status_more`).
    pub status_more: Value,
    /// The id of its `workflow` row, when there is one (the stop button).
    pub row_id: Option<i64>,
}

/// The pipeline a workflow ran, as the header names it.
#[derive(Debug, Clone)]
pub struct PipelineSummary {
    /// `pipeline.id`.
    pub id: i64,
    /// `pipeline.name`.
    pub name: String,
    /// `pipeline.describe`.
    pub describe: String,
    /// Its creator's username.
    pub creator: String,
}

impl RunRecord {
    /// Label `pipeline-id` as a number.
    pub fn pipeline_id(&self) -> Option<i64> {
        self.labels
            .get("pipeline-id")
            .and_then(Value::as_str)
            .and_then(|s| s.trim().parse().ok())
            .filter(|id| *id != 0)
    }

    fn label(&self, key: &str) -> Option<&str> {
        self.labels.get(key).and_then(Value::as_str)
    }

    fn node(&self, id: &str) -> Option<&Value> {
        self.status_more.get("nodes").and_then(|n| n.get(id))
    }
}

/// A time as the page shows it: an RFC 3339 time (the cluster's) in `tz`; a time already
/// local (the row's) or empty as it is.
pub fn shown_time(ts: &str, tz: Tz) -> String {
    local_time(ts, tz).unwrap_or_else(|| ts.to_string())
}

fn text<'a>(v: &'a Value, key: &str) -> &'a str {
    v.get(key).and_then(Value::as_str).unwrap_or("")
}

/// `(start, finish)` shown, swapped when the finish is before the start (the original).
fn shown_span(v: &Value, tz: Tz) -> (String, String) {
    let start = shown_time(text(v, "startedAt"), tz);
    let finish = shown_time(text(v, "finishedAt"), tz);
    if !finish.is_empty() && finish < start {
        (finish, start)
    } else {
        (start, finish)
    }
}

/// The colour of a node in a status.
pub fn status_color(status: &str) -> &'static str {
    match status {
        "Running" => "#2acc61",
        "Error" | "Failed" => "#CB1B45",
        "Freeze" => "#33A6B8",
        "Succeeded" => "#1B813E",
        _ => "#1C1C1C",
    }
}

/// A status drawn in a circle of 24×24: a check, a cross, an arrow going round, a
/// snowflake-like star, a question mark. `stroke` is the colour of the lines.
pub fn status_icon(status: &str, stroke: &str) -> String {
    let inner = match status {
        "Succeeded" => r#"<path d="M7 12.5l3.2 3.2L17 9"/>"#,
        "Error" | "Failed" => r#"<path d="M8.5 8.5l7 7M15.5 8.5l-7 7"/>"#,
        "Running" => r#"<path d="M16.5 8.5A6 6 0 1 0 18 12"/><path d="M16.5 5v3.5H13"/>"#,
        "Freeze" => r#"<path d="M12 6.5v11M7.2 9.2l9.6 5.6M7.2 14.8l9.6-5.6"/>"#,
        _ => {
            r#"<path d="M9.5 9.5a2.5 2.5 0 1 1 3.5 2.3c-.6.3-1 .9-1 1.6v.6"/><path d="M12 17h.01"/>"#
        }
    };
    format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"icon\" width=\"32\" height=\"32\" viewBox=\"0 0 24 24\" \
         fill=\"none\" stroke=\"{stroke}\" stroke-width=\"2\" stroke-linecap=\"round\" stroke-linejoin=\"round\" \
         style=\"fill:none\"><circle style=\"fill:none\" cx=\"12\" cy=\"12\" r=\"10\"/>{}</svg>",
        inner.replace("<path ", "<path style=\"fill:none\" ")
    )
}

fn item(name: &str, label: &str, value: Value) -> Value {
    json!({"name": name, "label": label, "value": value})
}

/// The header of the run page (`layout`): the workflow's times, status, labels, the
/// whole object (`crd_json`), the pipeline, the stop and pipeline buttons and the detail
/// rows. `title` is the workflow's name (`web/layout` replaces it).
pub fn layout(run: &RunRecord, pipeline: Option<&PipelineSummary>, tz: Tz) -> Map<String, Value> {
    let st = &run.status_more;
    let mut out = Map::new();
    out.insert("create_time".into(), json!(run.create_time));
    out.insert("search".into(), json!(""));
    out.insert("status".into(), json!(run.status));
    for (k, v) in &run.labels {
        out.insert(k.clone(), v.clone());
    }
    let progress = st.get("progress").and_then(Value::as_str).unwrap_or("0/0");
    out.insert("progress".into(), json!(progress));
    let (start, finish) = shown_span(st, tz);
    out.insert("start_time".into(), json!(start));
    out.insert("finish_time".into(), json!(finish));
    out.insert(
        "crd_json".into(),
        json!({
            "apiVersion": "argoproj.io/v1alpha1",
            "kind": "Workflow",
            "metadata": {
                "annotations": run.annotations,
                "name": run.name,
                "labels": run.labels,
                "namespace": run.namespace,
            },
            "spec": run.spec,
            "status": run.status_more,
        }),
    );
    if let Some(p) = pipeline {
        out.insert("pipeline-name".into(), json!(p.name));
        out.insert("pipeline-describe".into(), json!(p.describe));
    }
    out.insert(
        "icon".into(),
        json!(status_icon(&run.status, status_color(&run.status))),
    );
    out.insert("title".into(), json!(run.name));
    let mut buttons = Vec::new();
    if let Some(id) = run.row_id {
        buttons.push(json!({"label": "终止", "url": format!("/workflow_modelview/api/stop/{id}")}));
    }
    if let Some(p) = pipeline {
        buttons.push(
            json!({"label": "任务流", "url": format!("/pipeline_modelview/api/web/{}", p.id)}),
        );
    }
    out.insert("right_button".into(), Value::Array(buttons));
    let pipeline_id = pipeline.map_or_else(
        || "unknown".to_string(),
        |p| format!("{}({})", p.id, p.describe),
    );
    let run_user = run
        .label("run-rtx")
        .or_else(|| run.label("run-username"))
        .unwrap_or("");
    out.insert(
        "detail".into(),
        json!([
            [
                item("cluster", "集群", json!(run.cluster)),
                item("id", "id", json!(pipeline_id)),
                item("status", "状态", json!(run.status)),
                item("message", "消息", json!(text(st, "message"))),
            ],
            [
                item("create_time", "创建时间", json!(run.create_time)),
                item(
                    "start_time",
                    "开始时间",
                    json!(shown_time(text(st, "startedAt"), tz))
                ),
                item(
                    "finish_time",
                    "结束时间",
                    json!(shown_time(text(st, "finishedAt"), tz))
                ),
                item("run_id", "run-id", json!(run.label("run-id").unwrap_or(""))),
            ],
            [
                item(
                    "created_by",
                    "创建人",
                    json!(pipeline.map_or("unknown", |p| p.creator.as_str()))
                ),
                item("run_user", "执行人", json!(run_user)),
                item("progress", "进度", json!(progress)),
                item(
                    "schedule_type",
                    "调度类型",
                    json!(run.label("schedule_type").unwrap_or("once"))
                ),
            ],
        ]),
    );
    out
}

/// The pod of a node, as Argo names pods (v2): `<workflow>-<template>-<node id without
/// the workflow's name>`.
pub fn pod_name(workflow: &str, template: &str, node_id: &str) -> String {
    let suffix = node_id.replace(workflow, "");
    format!("{workflow}-{template}-{}", suffix.trim_matches('-'))
}

/// A node's display name as the title shows it: `(0)` is the first attempt, `(n)` the
/// n-th retry.
fn attempt_name(display: &str) -> String {
    let display = display.replace("(0)", "(first)");
    // the first "(<digits 1-9>)" group
    let bytes = display.as_bytes();
    let mut i = 0;
    while let Some(open) = display[i..].find('(').map(|p| p + i) {
        let digits = bytes[open + 1..]
            .iter()
            .take_while(|b| (b'1'..=b'9').contains(*b))
            .count();
        if digits > 0 && bytes.get(open + 1 + digits) == Some(&b')') {
            let n = &display[open + 1..open + 1 + digits];
            return format!(
                "{}(第{n}次重试){}",
                &display[..open],
                &display[open + 2 + digits..]
            );
        }
        i = open + 1;
    }
    display
}

/// The tree of the run's nodes (`dag`), from the root node (named as the workflow)
/// down through `children`. `gpu_resources` are the extended resource names counted as
/// GPUs.
pub fn dag(run: &RunRecord, gpu_resources: &[String], tz: Tz) -> Vec<Value> {
    let entry = text(&run.spec, "entrypoint");
    let templates: Map<String, Value> = run
        .spec
        .get("templates")
        .and_then(Value::as_array)
        .map(|ts| {
            ts.iter()
                .filter(|t| text(t, "name") != entry)
                .map(|t| (text(t, "name").to_string(), t.clone()))
                .collect()
        })
        .unwrap_or_default();
    let limit = run
        .status_more
        .get("nodes")
        .and_then(Value::as_object)
        .map_or(0, Map::len);
    let walk = Walk {
        run,
        templates: &templates,
        gpu_resources,
        tz,
    };
    walk.children(&run.name, limit)
}

struct Walk<'a> {
    run: &'a RunRecord,
    templates: &'a Map<String, Value>,
    gpu_resources: &'a [String],
    tz: Tz,
}

impl Walk<'_> {
    /// The nodes below `parent`; `depth` bounds the walk (a tree is never deeper than its
    /// node count, a malformed status with a cycle stops there).
    fn children(&self, parent: &str, depth: usize) -> Vec<Value> {
        let Some(up) = self.run.node(parent) else {
            return Vec::new();
        };
        if depth == 0 {
            return Vec::new();
        }
        let ids: Vec<&str> = up
            .get("children")
            .and_then(Value::as_array)
            .map(|c| c.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        ids.into_iter()
            .filter_map(|id| {
                let node = self.run.node(id)?;
                let mut ui = self.node(up, id, node);
                ui.insert(
                    "children".into(),
                    Value::Array(self.children(id, depth - 1)),
                );
                Some(Value::Object(ui))
            })
            .collect()
    }

    fn node(&self, parent: &Value, id: &str, node: &Value) -> Map<String, Value> {
        let wf = self.run.name.as_str();
        let status = node
            .get("phase")
            .and_then(Value::as_str)
            .unwrap_or("unknown");
        let task = text(node, "templateName");
        let empty = Value::Object(Map::new());
        let template = self.templates.get(task).unwrap_or(&empty);
        let pod = pod_name(wf, task, id);
        let outputs = node.get("outputs").cloned().unwrap_or_else(|| json!({}));
        let artifact_key = |name: &str| {
            outputs
                .get("artifacts")
                .and_then(Value::as_array)
                .and_then(|a| a.iter().find(|x| text(x, "name") == name))
                .and_then(|x| x.get("s3"))
                .map(|s3| text(s3, "key").to_string())
                .unwrap_or_default()
        };
        let retry = template
            .get("retryStrategy")
            .and_then(|r| r.get("limit"))
            .cloned()
            .filter(|v| !v.is_null())
            .unwrap_or_else(|| json!(0));
        let meta = template.get("metadata").unwrap_or(&empty);
        let annotation = |k: &str| {
            meta.get("annotations")
                .and_then(|a| a.get(k))
                .and_then(Value::as_str)
        };
        let node_type = text(node, "type");
        let mut title = format!(
            "{}({})",
            annotation("task").unwrap_or(&pod),
            attempt_name(text(node, "displayName"))
        );
        if node_type == "Retry" {
            title.push_str(&format!("(有{}次重试机会)", retry_text(&retry)));
        }
        if node_type == "Skipped" {
            title.push_str("(skip)");
        }
        let node_selector = template
            .get("nodeSelector")
            .and_then(Value::as_object)
            .map(|m| {
                m.iter()
                    .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or_default()))
                    .collect::<Vec<_>>()
                    .join(",")
            })
            .unwrap_or_default();
        let container = template.get("container").unwrap_or(&empty);
        let requests = container
            .get("resources")
            .and_then(|r| r.get("requests"))
            .unwrap_or(&empty);
        let request = |k: &str| match requests.get(k) {
            Some(Value::String(s)) => s.clone(),
            Some(v @ Value::Number(_)) => v.to_string(),
            _ => "0".to_string(),
        };
        let gpu = self
            .gpu_resources
            .iter()
            .find(|r| requests.get(r.as_str()).is_some())
            .map_or_else(|| "0".to_string(), |r| request(r));
        let (start, finish) = shown_span(node, self.tz);
        let icon = status_icon(status, "#ffffff");
        let mut ui = Map::new();
        ui.insert("node_type".into(), json!(node_type));
        ui.insert("nid".into(), json!(text(node, "id")));
        ui.insert("pid".into(), json!(text(parent, "id")));
        ui.insert("title".into(), json!(title));
        ui.insert("pod".into(), json!(pod));
        ui.insert("start_time".into(), json!(start));
        ui.insert("finish_time".into(), json!(finish));
        ui.insert(
            "detail_url".into(),
            json!(format!(
                "/workflow_modelview/api/web/node_detail/{}/{}/{wf}/{id}",
                self.run.cluster, self.run.namespace
            )),
        );
        ui.insert("name".into(), json!(pod));
        ui.insert("outputs".into(), outputs.clone());
        ui.insert("icon".into(), json!(icon));
        ui.insert("status".into(), json!({"label": status, "icon": icon}));
        ui.insert("message".into(), json!(text(node, "message")));
        ui.insert("node_shape".into(), json!("rectangle"));
        ui.insert("color".into(), json!(status_color(status)));
        ui.insert("task_name".into(), json!(task));
        ui.insert(
            "task_id".into(),
            json!(
                meta.get("labels")
                    .and_then(|l| l.get("task-id"))
                    .and_then(Value::as_str)
                    .unwrap_or("")
            ),
        );
        ui.insert("task_label".into(), json!(annotation("task").unwrap_or("")));
        ui.insert(
            "volumeMounts".into(),
            container
                .get("volumeMounts")
                .filter(|v| v.is_array())
                .cloned()
                .unwrap_or_else(|| json!([])),
        );
        ui.insert(
            "volumes".into(),
            template
                .get("volumes")
                .filter(|v| v.is_array())
                .cloned()
                .unwrap_or_else(|| json!([])),
        );
        ui.insert("node_selector".into(), json!(node_selector));
        ui.insert("s3_key".into(), json!(artifact_key("main-logs")));
        ui.insert("metric_key".into(), json!(artifact_key("metric")));
        ui.insert("output_key".into(), json!(artifact_key("output")));
        ui.insert("retry".into(), retry);
        ui.insert("resource_cpu".into(), json!(request("cpu")));
        ui.insert("resource_memory".into(), json!(request("memory")));
        ui.insert("resource_gpu".into(), json!(gpu));
        ui
    }
}

fn retry_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(status_more: Value, spec: Value) -> RunRecord {
        RunRecord {
            name: "wf-a".into(),
            namespace: "pipeline".into(),
            cluster: "dev".into(),
            create_time: "2026-12-07 10:00:00".into(),
            status: "Succeeded".into(),
            labels: json!({"pipeline-id": "7", "run-id": "r1", "run-username": "bob"})
                .as_object()
                .cloned()
                .unwrap_or_default(),
            annotations: json!({}),
            spec,
            status_more,
            row_id: Some(5),
        }
    }

    #[test]
    fn pods_are_named_as_argo_v2_names_them() {
        assert_eq!(pod_name("wf-a", "train", "wf-a-123"), "wf-a-train-123");
    }

    #[test]
    fn retries_and_first_attempts_are_named() {
        assert_eq!(attempt_name("train(0)"), "train(first)");
        assert_eq!(attempt_name("train(2)"), "train(第2次重试)");
        assert_eq!(attempt_name("train(10)"), "train(10)");
        assert_eq!(attempt_name("train"), "train");
    }

    #[test]
    fn times_from_the_cluster_are_localized_and_row_times_kept() {
        let tz: Tz = "Asia/Shanghai".parse().unwrap_or(Tz::UTC);
        assert_eq!(
            shown_time("2026-12-07T02:00:01Z", tz),
            "2026-12-07 10:00:01"
        );
        assert_eq!(shown_time("2026-12-07 10:00:01", tz), "2026-12-07 10:00:01");
        assert_eq!(shown_time("", tz), "");
    }

    #[test]
    fn the_tree_follows_children_and_survives_a_cycle() {
        let st = json!({"nodes": {
            "wf-a": {"id": "wf-a", "type": "DAG", "children": ["wf-a-1"]},
            "wf-a-1": {"id": "wf-a-1", "type": "Pod", "templateName": "t", "displayName": "t",
                       "phase": "Running", "children": ["wf-a-1"]}}});
        let spec = json!({"entrypoint": "wf", "templates": [{"name": "t", "retryStrategy": null,
            "container": {"resources": {"requests": {"cpu": "2", "nvidia.com/gpu": 1}}}}]});
        let tz = Tz::UTC;
        let tree = dag(&run(st, spec), &["nvidia.com/gpu".to_string()], tz);
        assert_eq!(tree.len(), 1);
        assert_eq!(tree[0]["pod"], json!("wf-a-t-1"));
        assert_eq!(tree[0]["pid"], json!("wf-a"));
        assert_eq!(tree[0]["retry"], json!(0));
        assert_eq!(tree[0]["resource_gpu"], json!("1"));
        assert_eq!(tree[0]["resource_memory"], json!("0"));
        assert_eq!(tree[0]["color"], json!("#2acc61"));
        // the node lists itself as its child: drawn once more, then the walk stops
        assert_eq!(tree[0]["children"][0]["nid"], json!("wf-a-1"));
        assert_eq!(tree[0]["children"][0]["children"], json!([]));
    }

    #[test]
    fn the_header_has_buttons_only_for_what_exists() {
        let r = run(json!({}), json!({}));
        let p = PipelineSummary {
            id: 7,
            name: "p".into(),
            describe: "d".into(),
            creator: "alice".into(),
        };
        let with = layout(&r, Some(&p), Tz::UTC);
        assert_eq!(
            with["right_button"],
            json!([{"label": "终止", "url": "/workflow_modelview/api/stop/5"},
                   {"label": "任务流", "url": "/pipeline_modelview/api/web/7"}])
        );
        assert_eq!(with["detail"][0][1]["value"], json!("7(d)"));
        assert_eq!(with["progress"], json!("0/0"));
        let mut r = r;
        r.row_id = None;
        let without = layout(&r, None, Tz::UTC);
        assert_eq!(without["right_button"], json!([]));
        assert_eq!(without["detail"][2][0]["value"], json!("unknown"));
        assert!(without.get("pipeline-name").is_none());
    }
}
