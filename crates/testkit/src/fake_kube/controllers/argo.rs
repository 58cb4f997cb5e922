//! The simulated Argo Workflows controller.
//!
//! Each step (one per controller tick, each a MODIFIED event) moves a Workflow along:
//! no status → `Pending` (root node) → `Running` (root DAG tasks created `Pending`) → per
//! tick every task node goes `Pending` → `Running` → `Succeeded`/`Failed` and tasks whose
//! dependencies are all `Succeeded`/`Skipped` are created (at most `spec.parallelism`
//! active) → `Succeeded` when every task is done, `Failed` once a task failed and nothing
//! is active any more (dependents of a failed task never start). Node ids are
//! `<workflow>-<10 digits>` (FNV-1a of `<workflow>.<task>`, stable); nodes are inserted
//! into `status.nodes` in the order they are created (root first, then dependency order),
//! and a node's `children` gets a child's id when the child is created, as Argo does.
//! A Workflow whose entrypoint is not a DAG runs as a single `Pod` root node.
//! `spec.shutdown` fails active nodes (`Stopped with strategy '<s>'`); `spec.suspend: true`
//! pauses it. With pods enabled each Pod node gets a Pod `<wf>-<template>-<digits>` whose
//! phase mirrors the node (log container `main`); such pods are deleted with their workflow.

use serde_json::{Map, Value, json};

use super::super::defaults::NODE_NAME;
use super::super::resources::Gvr;
use super::super::selectors::Selectors;
use super::super::storage::{Store, now_rfc3339};
use super::fnv1a;
use super::kubelet::pod_status;

/// Workflow annotation: comma-separated task names to fail.
pub const FAIL_TASK_ANNOTATION: &str = "fake-kube.cube-studio.io/fail-task";
/// Label on the pods of a workflow (its name).
pub const WORKFLOW_LABEL: &str = "workflows.argoproj.io/workflow";

/// The id of a task's node: `<workflow>-<FNV-1a of "<workflow>.<task>", 10 digits>`.
pub fn node_id(workflow: &str, task: &str) -> String {
    format!("{workflow}-{:010}", fnv1a(&format!("{workflow}.{task}")))
}

fn wf_gvr() -> Gvr {
    Gvr::new("argoproj.io", "v1alpha1", "workflows")
}

fn pod_gvr() -> Gvr {
    Gvr::new("", "v1", "pods")
}

fn s<'a>(v: &'a Value, ptr: &str) -> &'a str {
    v.pointer(ptr).and_then(Value::as_str).unwrap_or("")
}

struct Task {
    name: String,
    deps: Vec<String>,
    skip: bool,
    template: String,
}

struct Plan {
    wf: String,
    entry: String,
    tasks: Vec<Task>,
    dag: bool,
    parallelism: Option<usize>,
}

/// Task names in an Argo `depends` expression (`a && (b.Succeeded || c)`).
fn depends_names(expr: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for word in expr.split(|c: char| !(c.is_alphanumeric() || c == '-' || c == '_' || c == '.')) {
        let name = word.split('.').next().unwrap_or("");
        if !name.is_empty() && !out.iter().any(|n| n == name) {
            out.push(name.to_string());
        }
    }
    out
}

fn parse_task(t: &Value) -> Option<Task> {
    let name = t.get("name")?.as_str()?.to_string();
    let template = t
        .get("template")
        .and_then(Value::as_str)
        .unwrap_or(&name)
        .to_string();
    let mut deps: Vec<String> = t
        .get("dependencies")
        .and_then(Value::as_array)
        .map(|d| {
            d.iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default();
    if let Some(expr) = t.get("depends").and_then(Value::as_str) {
        for d in depends_names(expr) {
            if !deps.contains(&d) {
                deps.push(d);
            }
        }
    }
    let skip = match t.get("when") {
        Some(Value::String(w)) => w.trim().eq_ignore_ascii_case("false"),
        Some(Value::Bool(b)) => !b,
        _ => false,
    };
    Some(Task {
        name,
        deps,
        skip,
        template,
    })
}

impl Plan {
    fn of(wf: &Value) -> Option<Plan> {
        let name = wf.pointer("/metadata/name")?.as_str()?.to_string();
        let entry = s(wf, "/spec/entrypoint").to_string();
        let tmpl = wf
            .pointer("/spec/templates")
            .and_then(Value::as_array)
            .and_then(|ts| {
                ts.iter()
                    .find(|t| t.get("name").and_then(Value::as_str) == Some(entry.as_str()))
            });
        let dag_tasks = tmpl
            .and_then(|t| t.pointer("/dag/tasks"))
            .and_then(Value::as_array);
        Some(Plan {
            wf: name,
            entry,
            tasks: dag_tasks
                .map(|ts| ts.iter().filter_map(parse_task).collect())
                .unwrap_or_default(),
            dag: dag_tasks.is_some(),
            parallelism: wf
                .pointer("/spec/parallelism")
                .and_then(Value::as_u64)
                .filter(|p| *p > 0)
                .map(|p| p as usize),
        })
    }

    fn id(&self, task: &str) -> String {
        node_id(&self.wf, task)
    }

    /// `(node id, task name)` of every node that runs a pod.
    fn pod_nodes(&self) -> Vec<(String, String)> {
        if self.dag {
            self.tasks
                .iter()
                .map(|t| (self.id(&t.name), t.name.clone()))
                .collect()
        } else {
            vec![(self.wf.clone(), self.entry.clone())]
        }
    }

    fn is_task(&self, name: &str) -> bool {
        self.tasks.iter().any(|t| t.name == name)
    }

    fn total(&self) -> usize {
        if self.dag {
            self.tasks.iter().filter(|t| !t.skip).count()
        } else {
            1
        }
    }
}

fn phase_of<'a>(nodes: &'a Map<String, Value>, id: &str) -> Option<&'a str> {
    nodes
        .get(id)
        .and_then(|n| n.get("phase"))
        .and_then(Value::as_str)
}

/// The next status of a workflow, `None` when there is nothing to do.
pub fn step(wf: &Value, fail: &dyn Fn(&str) -> bool) -> Option<Value> {
    let plan = Plan::of(wf)?;
    let now = now_rfc3339();
    let mut st = wf
        .get("status")
        .filter(|v| v.is_object())
        .cloned()
        .unwrap_or_else(|| json!({}));
    let phase = s(&st, "/phase").to_string();
    if matches!(phase.as_str(), "Succeeded" | "Failed" | "Error")
        || wf.pointer("/spec/suspend") == Some(&json!(true))
    {
        return None;
    }
    if phase.is_empty() || !st.get("nodes").is_some_and(Value::is_object) {
        init(&plan, &mut st, &now);
        return Some(st);
    }
    let shutdown = s(wf, "/spec/shutdown");
    if !shutdown.is_empty() {
        let msg = format!("Stopped with strategy '{shutdown}'");
        if let Some(nodes) = st["nodes"].as_object_mut() {
            for (id, _) in plan.pod_nodes() {
                if let Some(n) = nodes.get_mut(&id)
                    && matches!(n["phase"].as_str(), Some("Pending" | "Running"))
                {
                    n["phase"] = json!("Failed");
                    n["message"] = json!(msg);
                    n["finishedAt"] = json!(now);
                }
            }
        }
        finish(&plan, &mut st, "Failed", Some(msg), &now);
        return Some(st);
    }
    if phase == "Pending" {
        st["phase"] = json!("Running");
        if plan.dag {
            st["nodes"][&plan.wf]["phase"] = json!("Running");
            schedule(&plan, &mut st, &now);
        }
    } else {
        advance(&plan, &mut st, &now, fail);
        if plan.dag {
            schedule(&plan, &mut st, &now);
        }
        finish_if_done(&plan, &mut st, &now);
    }
    progress(&plan, &mut st);
    Some(st)
}

fn init(plan: &Plan, st: &mut Value, now: &str) {
    let mut root = json!({
        "id": plan.wf,
        "name": plan.wf,
        "displayName": plan.wf,
        "type": if plan.dag { "DAG" } else { "Pod" },
        "templateName": plan.entry,
        "templateScope": format!("local/{}", plan.wf),
        "phase": "Pending",
        "startedAt": now,
        "finishedAt": null,
        "progress": format!("0/{}", plan.total()),
    });
    if plan.dag {
        root["children"] = json!([]);
    }
    st["phase"] = json!("Pending");
    st["startedAt"] = json!(now);
    st["finishedAt"] = Value::Null;
    st["progress"] = json!(format!("0/{}", plan.total()));
    let mut nodes = Map::new();
    nodes.insert(plan.wf.clone(), root);
    st["nodes"] = Value::Object(nodes);
}

/// Every pod node moves one phase: `Pending` → `Running` → `Succeeded`/`Failed`.
fn advance(plan: &Plan, st: &mut Value, now: &str, fail: &dyn Fn(&str) -> bool) {
    let Some(nodes) = st["nodes"].as_object_mut() else {
        return;
    };
    for (id, task) in plan.pod_nodes() {
        let Some(node) = nodes.get_mut(&id) else {
            continue;
        };
        match node["phase"].as_str() {
            Some("Pending") => {
                node["phase"] = json!("Running");
                node["hostNodeName"] = json!(NODE_NAME);
            }
            Some("Running") => {
                let failed = fail(&task);
                node["phase"] = json!(if failed { "Failed" } else { "Succeeded" });
                node["finishedAt"] = json!(now);
                node["progress"] = json!(if failed { "0/1" } else { "1/1" });
                node["outputs"] = json!({"exitCode": if failed { "1" } else { "0" }});
                if failed {
                    node["message"] = json!("Error (exit code 1)");
                }
            }
            _ => {}
        }
    }
}

/// Creates the nodes of tasks whose dependencies are done (none once a task failed).
fn schedule(plan: &Plan, st: &mut Value, now: &str) {
    let Some(nodes) = st["nodes"].as_object_mut() else {
        return;
    };
    loop {
        let ids = plan.pod_nodes();
        if ids
            .iter()
            .any(|(id, _)| matches!(phase_of(nodes, id), Some("Failed" | "Error")))
        {
            return;
        }
        let mut active = ids
            .iter()
            .filter(|(id, _)| matches!(phase_of(nodes, id), Some("Pending" | "Running")))
            .count();
        let mut changed = false;
        for t in &plan.tasks {
            let id = plan.id(&t.name);
            if nodes.contains_key(&id) {
                continue;
            }
            let ready = t.deps.iter().all(|d| {
                !plan.is_task(d)
                    || matches!(phase_of(nodes, &plan.id(d)), Some("Succeeded" | "Skipped"))
            });
            if !ready || (!t.skip && plan.parallelism.is_some_and(|p| active >= p)) {
                continue;
            }
            let mut node = json!({
                "id": id,
                "name": format!("{}.{}", plan.wf, t.name),
                "displayName": t.name,
                "type": if t.skip { "Skipped" } else { "Pod" },
                "templateName": t.template,
                "templateScope": format!("local/{}", plan.wf),
                "phase": if t.skip { "Skipped" } else { "Pending" },
                "boundaryID": plan.wf,
                "startedAt": now,
                "finishedAt": if t.skip { json!(now) } else { Value::Null },
                "progress": "0/1",
                "children": [],
            });
            if t.skip {
                node["message"] = json!("when 'false' evaluated false");
                node["progress"] = json!("0/0");
            } else {
                active += 1;
            }
            nodes.insert(id.clone(), node);
            let mut parents: Vec<String> = t
                .deps
                .iter()
                .filter(|d| plan.is_task(d))
                .map(|d| plan.id(d))
                .collect();
            if parents.is_empty() {
                parents.push(plan.wf.clone());
            }
            for p in parents {
                if let Some(children) = nodes.get_mut(&p).and_then(|n| n["children"].as_array_mut())
                {
                    children.push(json!(id));
                }
            }
            changed = true;
        }
        if !changed {
            return;
        }
    }
}

fn finish_if_done(plan: &Plan, st: &mut Value, now: &str) {
    let Some(nodes) = st["nodes"].as_object() else {
        return;
    };
    let ids = plan.pod_nodes();
    if ids
        .iter()
        .any(|(id, _)| matches!(phase_of(nodes, id), Some("Pending" | "Running")))
    {
        return;
    }
    let failed = ids
        .iter()
        .find(|(id, _)| matches!(phase_of(nodes, id), Some("Failed" | "Error")));
    let (phase, msg) = match failed {
        Some((id, _)) if plan.dag => ("Failed", Some(format!("child '{id}' failed"))),
        Some(_) => ("Failed", Some("Error (exit code 1)".to_string())),
        None if ids.iter().all(|(id, _)| nodes.contains_key(id)) => ("Succeeded", None),
        None => (
            "Failed",
            Some("fake-kube: the DAG cannot make progress (dependency cycle)".to_string()),
        ),
    };
    finish(plan, st, phase, msg, now);
}

fn finish(plan: &Plan, st: &mut Value, phase: &str, msg: Option<String>, now: &str) {
    st["phase"] = json!(phase);
    st["finishedAt"] = json!(now);
    if let Some(m) = &msg {
        st["message"] = json!(m);
    }
    let leaves: Vec<Value> = plan
        .tasks
        .iter()
        .filter(|t| !plan.tasks.iter().any(|o| o.deps.contains(&t.name)))
        .map(|t| plan.id(&t.name))
        .filter(|id| st["nodes"].get(id).is_some())
        .map(Value::String)
        .collect();
    if let Some(root) = st["nodes"].get_mut(&plan.wf) {
        root["phase"] = json!(phase);
        root["finishedAt"] = json!(now);
        if plan.dag {
            root["outboundNodes"] = json!(leaves);
            if let Some(m) = msg {
                root["message"] = json!(m);
            }
        }
    }
    progress(plan, st);
}

fn progress(plan: &Plan, st: &mut Value) {
    let done = match st["nodes"].as_object() {
        Some(nodes) => plan
            .pod_nodes()
            .iter()
            .filter(|(id, _)| phase_of(nodes, id) == Some("Succeeded"))
            .count(),
        None => 0,
    };
    let p = json!(format!("{done}/{}", plan.total()));
    st["progress"] = p.clone();
    if let Some(root) = st["nodes"].get_mut(&plan.wf) {
        root["progress"] = p;
    }
}

/// One controller step over every workflow.
pub fn tick(store: &mut Store, fails: &[(String, String)], make_pods: bool) {
    let gvr = wf_gvr();
    for wf in store.list(&gvr, None, &Selectors::default()) {
        let name = s(&wf, "/metadata/name").to_string();
        let ns = s(&wf, "/metadata/namespace").to_string();
        let annotated: Vec<String> = wf
            .pointer("/metadata/annotations")
            .and_then(|a| a.get(FAIL_TASK_ANNOTATION))
            .and_then(Value::as_str)
            .map(|v| v.split(',').map(|t| t.trim().to_string()).collect())
            .unwrap_or_default();
        let fail = |task: &str| {
            annotated.iter().any(|t| t == task)
                || fails
                    .iter()
                    .any(|(p, t)| name.starts_with(p.as_str()) && t == task)
        };
        let Some(status) = step(&wf, &fail) else {
            continue;
        };
        let Some(updated) = store.modify(&gvr, Some(&ns), &name, |o| o["status"] = status) else {
            continue;
        };
        if make_pods {
            sync_pods(store, &updated);
        }
    }
    if make_pods {
        collect_garbage(store);
    }
}

/// Creates/updates the pod of every Pod node so its phase mirrors the node's.
fn sync_pods(store: &mut Store, wf: &Value) {
    let (wf_name, ns) = (s(wf, "/metadata/name"), s(wf, "/metadata/namespace"));
    let Some(nodes) = wf.pointer("/status/nodes").and_then(Value::as_object) else {
        return;
    };
    let gvr = pod_gvr();
    for node in nodes.values().filter(|n| n["type"] == "Pod") {
        let (id, template, phase) = (s(node, "/id"), s(node, "/templateName"), s(node, "/phase"));
        let pod_name = if id == wf_name {
            wf_name.to_string()
        } else {
            let digits = id.strip_prefix(&format!("{wf_name}-")).unwrap_or(id);
            format!("{wf_name}-{template}-{digits}")
        };
        let pod = match store.get(&gvr, Some(ns), &pod_name) {
            Ok(p) => p,
            Err(_) => match store.create(&gvr, Some(ns), new_pod(wf, node, &pod_name), false) {
                Ok(p) => p,
                Err(e) => {
                    tracing::warn!("fake-kube argo: cannot create pod {pod_name}: {e}");
                    continue;
                }
            },
        };
        if s(&pod, "/status/phase") != phase {
            let status = pod_status(&pod, phase, if phase == "Failed" { 1 } else { 0 });
            let completed = matches!(phase, "Succeeded" | "Failed" | "Error");
            store.modify(&gvr, Some(ns), &pod_name, |o| {
                o["status"] = status;
                o["metadata"]["labels"]["workflows.argoproj.io/completed"] =
                    json!(completed.to_string());
            });
        }
    }
}

fn new_pod(wf: &Value, node: &Value, pod_name: &str) -> Value {
    let template = s(node, "/templateName");
    let tmpl = wf
        .pointer("/spec/templates")
        .and_then(Value::as_array)
        .and_then(|ts| ts.iter().find(|t| t["name"] == template))
        .cloned()
        .unwrap_or_else(|| json!({}));
    let mut main = tmpl
        .get("container")
        .cloned()
        .unwrap_or_else(|| json!({"image": "busybox"}));
    main["name"] = json!("main");
    let wait = json!({"name": "wait", "image": "quay.io/argoproj/argoexec:v3.4.3",
        "command": ["argoexec", "wait", "--loglevel", "info"]});
    let mut labels = wf
        .pointer("/metadata/labels")
        .cloned()
        .unwrap_or_else(|| json!({}));
    labels[WORKFLOW_LABEL] = json!(s(wf, "/metadata/name"));
    labels["workflows.argoproj.io/completed"] = json!("false");
    let mut spec = json!({
        "containers": [main, wait],
        "restartPolicy": "Never",
        "serviceAccountName": wf.pointer("/spec/serviceAccountName").cloned().unwrap_or(json!("default")),
    });
    for field in ["nodeSelector", "affinity", "tolerations", "volumes"] {
        if let Some(v) = tmpl.get(field) {
            spec[field] = v.clone();
        }
    }
    json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": pod_name,
            "namespace": s(wf, "/metadata/namespace"),
            "labels": labels,
            "annotations": {
                "workflows.argoproj.io/node-id": s(node, "/id"),
                "workflows.argoproj.io/node-name": s(node, "/name"),
            },
            "ownerReferences": [{
                "apiVersion": "argoproj.io/v1alpha1", "kind": "Workflow", "name": s(wf, "/metadata/name"),
                "uid": s(wf, "/metadata/uid"), "controller": true, "blockOwnerDeletion": true,
            }],
        },
        "spec": spec,
    })
}

/// Deletes workflow pods whose workflow is gone.
fn collect_garbage(store: &mut Store) {
    let Ok(sel) = Selectors::parse(Some(WORKFLOW_LABEL), None) else {
        return;
    };
    for pod in store.list(&pod_gvr(), None, &sel) {
        let ns = s(&pod, "/metadata/namespace");
        let wf = s(
            &pod,
            &format!("/metadata/labels/{}", WORKFLOW_LABEL.replace('/', "~1")),
        );
        if store.get(&wf_gvr(), Some(ns), wf).is_err() {
            let _ = store.delete(&pod_gvr(), Some(ns), s(&pod, "/metadata/name"), None, false);
        }
    }
}
