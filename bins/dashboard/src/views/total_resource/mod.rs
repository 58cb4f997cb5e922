//! Total resources (`/total_resource/api`, kubernetes.md §8.1): the pods holding
//! resources in every cluster with their requests and use, the nodes per cluster, org
//! and device (the page's pop-up), gauges of the totals, and `muldelete`, whose
//! clean-ups go to the worker. A form view: the rows come from the clusters.

mod echart;
mod render;
mod snapshot;

use std::sync::Arc;

use actix_web::HttpRequest;
use app_core::jobs::{Cleanup, StopRun};
use app_core::k8s::ops::{DEPLOYMENT, Kind, SERVICE, VIRTUAL_SERVICE, VOLCANO_JOB};
use app_core::k8s::project::Namespaces;
use futures::future::BoxFuture;
use serde_json::{Value, json};

use super::ids;
use crate::api::form::FormSource;
use crate::auth::Ctx;
use crate::engine::form::{FormAction, FormView, OrderBy};
use crate::engine::view::Row;
use crate::error::ApiError;
use crate::queue::{Effect, Effects};
use crate::routing::{Answer, Routes};
use crate::state::{Alert, AppState};

type Data = actix_web::web::Data<AppState>;

/// The front-end page whose pop-up is the node table (`MODEL_URLS['total_resource']`).
pub const PAGE: &str = "/frontend/service/total_resource";

/// The declaration (`Total_Resource_ModelView_Api`).
pub fn view() -> FormView {
    let width = |w: i64| json!({"type": "ellip2", "width": w});
    FormView {
        id: ids::TOTAL_RESOURCE,
        api_name: "Total_Resource_ModelView_Api",
        label_title: "整体资源",
        list_title: "运行中资源列表",
        primary_key: "pod_info",
        list_columns: vec![
            "cluster",
            "project",
            "resource_group",
            "namespace",
            "pod",
            "username",
            "node",
            "cpu",
            "memory",
            "gpu",
            "start_time",
        ],
        labels: vec![
            ("cluster", "集群"),
            ("project", "项目组"),
            ("resource_group", "资源组"),
            ("namespace", "类型"),
            ("label", "标签"),
            ("pod", "容器(资源使用)"),
            ("username", "用户"),
            ("node", "节点(资源使用)"),
            ("cpu", "cpu"),
            ("memory", "内存"),
            ("gpu", "AI卡"),
            ("start_time", "创建时间"),
        ],
        cols_width: json!({
            "cluster": width(80), "resource_group": width(80), "project": width(100),
            "namespace": width(100), "node": width(130), "pod": width(300),
            "username": width(100), "cpu": width(70), "memory": width(70), "gpu": width(70),
            "start_time": width(200),
        }),
        order_columns: vec![
            ("cpu", OrderBy::Ratio),
            ("memory", OrderBy::Ratio),
            ("start_time", OrderBy::Text),
        ],
        ops_link: json!([
            {"text": "gpu资源监控", "url": render::GRAFANA_GPU_PATH},
            {"text": "集群负载", "url": render::GRAFANA_CLUSTER_PATH},
        ]),
        base_permissions: vec!["can_list"],
        page_size: 1000,
        echart: true,
        actions: vec![FormAction {
            name: "muldelete",
            text: "清理",
            confirmation: "清理选中的pipeline，service，notebook的pod，但并不删除他们?",
            icon: "fa-trash",
            multiple: true,
            single: false,
        }],
        help_url: "",
    }
}

/// Where the rows, the chart and the clean-ups come from.
pub struct TotalResource;

impl FormSource for TotalResource {
    fn rows<'a>(
        &'a self,
        state: &'a Data,
        ctx: &'a Ctx,
        host: &'a str,
    ) -> BoxFuture<'a, Result<Vec<Row>, ApiError>> {
        Box::pin(async move {
            let scope = snapshot::scope(state, ctx).await?;
            let clusters = snapshot::read_clusters(state).await;
            let tz = state.config.schedule.time_zone;
            Ok(render::visible_pods(&clusters, &scope, ctx)
                .iter()
                .map(|e| render::pod_row(e, host, tz))
                .collect())
        })
    }

    fn echart<'a>(
        &'a self,
        state: &'a Data,
        ctx: &'a Ctx,
    ) -> BoxFuture<'a, Result<String, ApiError>> {
        Box::pin(async move {
            let scope = snapshot::scope(state, ctx).await?;
            let clusters = snapshot::read_clusters(state).await;
            let loads: Vec<_> = render::cluster_loads(&clusters, &scope)
                .into_values()
                .collect();
            let usage = match state.config.prometheus_url.as_deref() {
                None => echart::Usage::Missing("未配置 Prometheus (PROMETHEUS_URL)".into()),
                Some(url) => {
                    let prom = app_core::usage::Prometheus::new(url);
                    match prom.resource_peaks(chrono::Utc::now()).await {
                        Ok(peaks) => echart::Usage::Measured {
                            mem: peaks.values().map(|p| p.memory).sum(),
                            cpu: peaks.values().map(|p| p.cpu).sum(),
                            gpu: peaks.values().map(|p| p.gpu).sum(),
                        },
                        Err(e) => {
                            tracing::warn!(error = %e, "total resources: Prometheus did not answer");
                            echart::Usage::Missing("Prometheus 无法访问".into())
                        }
                    }
                }
            };
            Ok(echart::option(&loads, &usage))
        })
    }

    fn action<'a>(
        &'a self,
        state: &'a Data,
        ctx: &'a Ctx,
        name: &'a str,
        ids: Vec<String>,
    ) -> BoxFuture<'a, Result<String, ApiError>> {
        Box::pin(async move {
            match name {
                "muldelete" => muldelete(state, ctx, ids).await,
                other => Err(ApiError::bad_request(format!("unknown action {other}"))),
            }
        })
    }
}

fn delete_object(cluster: &str, kind: &Kind, namespace: &str, name: &str) -> Effect {
    Effect::Cleanup(Cleanup::DeleteObject {
        cluster: cluster.into(),
        group: kind.group.into(),
        version: kind.version.into(),
        kind: kind.kind.into(),
        plural: kind.plural.into(),
        namespace: namespace.into(),
        name: name.into(),
    })
}

fn delete_pod(cluster: &str, namespace: &str, name: &str) -> Effect {
    Effect::Cleanup(Cleanup::DeletePod {
        cluster: cluster.into(),
        namespace: namespace.into(),
        name: name.into(),
    })
}

/// `<name>-external`, as the original names the external service.
fn external(name: &str) -> String {
    app_core::k8s::resource_name(&format!("{name}-external").to_lowercase(), 60)
}

/// The clean-up of one pod, by the kind of namespace it is in (`muldelete`); `None` for
/// a namespace without one.
fn cleanup_of(ns: &Namespaces, cluster: &str, p: &app_core::k8s::load::PodLoad) -> Option<Effects> {
    let (n, pod) = (p.namespace.as_str(), p.name.as_str());
    let app = p.labels.get("app").filter(|a| !a.is_empty());
    let mut out = Vec::new();
    if n == ns.notebook {
        out.push(delete_pod(cluster, n, pod));
        out.push(delete_object(cluster, &SERVICE, n, pod));
        out.push(delete_object(cluster, &SERVICE, n, &external(pod)));
        out.push(delete_object(cluster, &VIRTUAL_SERVICE, n, pod));
    } else if n == ns.service {
        if let Some(app) = app {
            out.push(delete_object(cluster, &DEPLOYMENT, n, app));
            out.push(delete_object(cluster, &SERVICE, n, app));
            out.push(delete_object(cluster, &SERVICE, n, &external(app)));
            out.push(delete_object(cluster, &VIRTUAL_SERVICE, n, app));
            out.push(delete_object(
                cluster,
                &VOLCANO_JOB,
                n,
                &format!("{app}-vc"),
            ));
            out.push(delete_pod(cluster, n, pod));
        }
    } else if n == snapshot::AIHUB_NAMESPACE {
        if let Some(app) = app {
            out.push(delete_object(cluster, &DEPLOYMENT, n, app));
            out.push(delete_object(cluster, &SERVICE, n, app));
            out.push(delete_object(cluster, &VIRTUAL_SERVICE, n, app));
        }
    } else if n == ns.pipeline {
        out.push(delete_pod(cluster, n, pod));
        if let Some(run_id) = p.labels.get("run-id").filter(|r| !r.is_empty()) {
            out.push(Effect::StopRun(StopRun {
                cluster: cluster.into(),
                namespace: n.into(),
                run_id: run_id.clone(),
                run_row: None,
                reason: "cleared on the total-resource page".into(),
            }));
        }
    } else if n == ns.automl {
        out.push(delete_pod(cluster, n, pod));
        if let Some(app) = app {
            out.push(delete_object(cluster, &VOLCANO_JOB, n, app));
            out.push(delete_object(cluster, &VIRTUAL_SERVICE, n, pod));
        }
    } else {
        return None;
    }
    Some(out)
}

/// Python's `str()` of a list of strings: `['a', 'b']`.
fn py_list(items: &[String]) -> String {
    let quoted: Vec<String> = items.iter().map(|s| format!("'{s}'")).collect();
    format!("[{}]", quoted.join(", "))
}

/// `muldelete`: each key (`cluster:namespace:org:pod`) of a pod that holds resources
/// now and that the caller may clear (admins: any; others: their own) gets its
/// namespace's clean-up, queued for the worker; the others are reported in `fail`.
async fn muldelete(state: &Data, ctx: &Ctx, keys: Vec<String>) -> Result<String, ApiError> {
    let scope = snapshot::scope(state, ctx).await?;
    let clusters = snapshot::read_clusters(state).await;
    let pods = render::visible_pods(&clusters, &scope, ctx);
    let defaults = Namespaces::from_config(&state.config);
    let (mut done, mut fail, mut effects) = (Vec::new(), Vec::new(), Vec::new());
    for key in keys {
        let cleanup = pods
            .iter()
            .find(|e| e.key() == key)
            .and_then(|e| cleanup_of(&defaults, &e.cluster.name, e.pod));
        match cleanup {
            Some(list) => {
                effects.extend(list);
                done.push(key);
            }
            None => fail.push(key),
        }
    }
    state.queue.push(effects).await?;
    let mut message = json!({"message": format!("delete: {}", py_list(&done))});
    if !fail.is_empty() {
        message["fail"] = json!(fail);
    }
    Ok(app_core::json_text::pretty4(&message))
}

async fn node_traffic(state: Data, ctx: Ctx, host: String) -> Result<Value, ApiError> {
    let scope = snapshot::scope(&state, &ctx).await?;
    let clusters = snapshot::read_clusters(&state).await;
    Ok(json!({
        "content": render::node_table(&clusters, &scope, ctx.is_admin, &host),
        "delay": 300000,
        "hit": true,
        "target": PAGE,
        "title": "机器负载",
        "style": {"height": "600px"},
        "type": "html",
    }))
}

/// The page's pop-up: the node table.
pub fn alert() -> (&'static str, Alert) {
    (
        PAGE,
        Arc::new(|state, ctx, host| Box::pin(node_traffic(state, ctx, host))),
    )
}

async fn data(state: Data, ctx: Ctx) -> Result<actix_web::HttpResponse, ApiError> {
    let scope = snapshot::scope(&state, &ctx).await?;
    let clusters = snapshot::read_clusters(&state).await;
    let tz = state.config.schedule.time_zone;
    // the original's order (a dict returned by the view: `jsonify`, no charset)
    Ok(crate::reply::bare_json(&json!({
        "status": 0,
        "message": "success",
        "result": render::data(&clusters, &scope, &ctx, tz),
    })))
}

/// The routes besides the form view's (before it: its scope answers the rest).
pub fn configure(r: &mut Routes<'_>) {
    r.tag(ids::TOTAL_RESOURCE.0);
    r.add(
        "GET",
        "/total_resource/api/data",
        "Pods, nodes and per-cluster totals the caller sees",
        Answer::Envelope(json!({"type": "object", "properties": {
            "pods": {"type": "object"}, "nodes": {"type": "object"}, "cluster": {"type": "object"}}})),
        |s: Data, c: Ctx, _: HttpRequest| data(s, c),
    );
}
