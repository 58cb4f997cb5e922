//! `GET /workflow_modelview/api/web/dag/<cluster>/<ns>/<name>` and `…/web/layout/…`:
//! the run page of a workflow (orchestration.md §2.4, api.md E15).
//!
//! The workflow is read from the cluster first; when it is there its `workflow` row is
//! brought up to date by the watcher's own upsert (`app_core::workflow_store`), as the
//! original's `get_dag` does. When the cluster cannot be read or no longer has it, the
//! row is shown. Who sees it: admins every workflow, others those whose labels name them
//! (or whose row names them as its user), as the workflow list; anyone else gets the
//! answer of a workflow that does not exist (the original shows any workflow to anyone).

use actix_web::{HttpRequest, HttpResponse, web};
use app_core::k8s::ops;
use app_core::k8s::resources::GpuConfig;
use app_core::workflow_status::WorkflowSnapshot;
use serde_json::{Map, Value, json};

use super::ids;
use super::node_detail::{Place, PodShown, find_node, node_detail, trim_pod};
use super::run_dag::{PipelineSummary, RunRecord, dag, layout};
use crate::api::blocking;
use crate::auth::Ctx;
use crate::engine::sql::{Bind, SqlFrag};
use crate::error::ApiError;
use crate::reply;
use crate::state::AppState;

type RunPath = web::Path<(String, String, String)>;

/// The workflow object in the cluster, `None` when it is not there or the cluster cannot
/// be read (then the row is what the page shows).
async fn from_cluster(state: &AppState, cluster: &str, ns: &str, name: &str) -> Option<Value> {
    let client = match state.kube.client(cluster).await {
        Ok(c) => c,
        Err(e) => {
            tracing::warn!(%cluster, error = %e.message, "run page: no cluster client, showing the row");
            return None;
        }
    };
    let (ns, name) = (ns.to_string(), name.to_string());
    let got = state
        .kube
        .run(async move { ops::get_object(&client, &ops::WORKFLOW, &ns, &name).await })
        .await;
    match got {
        Ok(Ok(obj)) => obj.and_then(|o| serde_json::to_value(o).ok()),
        Ok(Err(e)) => {
            tracing::warn!(%cluster, error = %e, "run page: cannot read the workflow, showing the row");
            None
        }
        Err(e) => {
            tracing::warn!(%cluster, error = %e.message, "run page: cluster task failed, showing the row");
            None
        }
    }
}

fn parse_object(text: Option<&Value>) -> Value {
    Value::Object(app_core::json_text::object_or_empty(
        text.and_then(Value::as_str),
    ))
}

fn row_text(row: &Map<String, Value>, key: &str) -> String {
    row.get(key)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string()
}

/// The run as the page draws it, with its pipeline; `None` when the caller may not see
/// it or it is neither in the cluster nor in the database.
async fn load_run(
    state: &web::Data<AppState>,
    ctx: Ctx,
    cluster: String,
    ns: String,
    name: String,
) -> Result<Option<(RunRecord, Option<PipelineSummary>)>, ApiError> {
    let tz = state.config.schedule.time_zone;
    let cluster_key = state.kube.registry.cluster_for(Some(&cluster));
    let obj = from_cluster(state, &cluster_key, &ns, &name).await;
    blocking(state, move |st, conn| {
        let snap = obj
            .as_ref()
            .and_then(|o| WorkflowSnapshot::from_object(o, tz));
        if let Some(s) = &snap {
            let named = s.username == ctx.username || s.labels.values().any(|v| v == &ctx.username);
            if !ctx.is_admin && !named {
                return Ok(None);
            }
            let now = app_core::time_string_now(tz);
            app_core::workflow_store::apply_workflow(conn, &cluster_key, s, tz, &now)?;
        }
        let rv = st.resolved(ids::WORKFLOW)?;
        let w = SqlFrag::and(vec![
            crate::engine::plan::visibility(&rv, &ctx),
            SqlFrag::new(
                "t.`name` = ? AND t.`namespace` = ?",
                vec![Bind::Text(name.clone()), Bind::Text(ns.clone())],
            ),
        ]);
        let row = crate::engine::sql::select_rows(
            conn,
            rv.table,
            &[],
            &format!("WHERE {} ORDER BY t.`id` DESC LIMIT 1", w.sql),
            &w.binds,
        )?
        .into_iter()
        .next();
        let row_id = row
            .as_ref()
            .and_then(|r| crate::engine::view::id_of(r.get("id")));
        let run = match (obj, snap, row) {
            (Some(o), Some(s), _) => RunRecord {
                name: s.name,
                namespace: s.namespace,
                cluster: cluster.clone(),
                create_time: s.create_time,
                status: s.status,
                labels: o
                    .pointer("/metadata/labels")
                    .and_then(Value::as_object)
                    .cloned()
                    .unwrap_or_default(),
                annotations: o
                    .pointer("/metadata/annotations")
                    .cloned()
                    .unwrap_or_else(|| json!({})),
                spec: o.get("spec").cloned().unwrap_or_else(|| json!({})),
                status_more: o.get("status").cloned().unwrap_or_else(|| json!({})),
                row_id,
            },
            (_, _, Some(r)) => RunRecord {
                name: row_text(&r, "name"),
                namespace: row_text(&r, "namespace"),
                cluster: cluster.clone(),
                create_time: row_text(&r, "create_time"),
                status: row_text(&r, "status"),
                labels: app_core::json_text::object_or_empty(
                    r.get("labels").and_then(Value::as_str),
                ),
                annotations: parse_object(r.get("annotations")),
                spec: parse_object(r.get("spec")),
                status_more: parse_object(r.get("status_more")),
                row_id,
            },
            _ => return Ok(None),
        };
        let pipeline = match run.pipeline_id() {
            Some(id) => app_models::dashboard::pipeline_summary(conn, id)?.map(
                |(id, name, describe, creator)| PipelineSummary {
                    id: i64::from(id),
                    name,
                    describe,
                    creator: creator.unwrap_or_default(),
                },
            ),
            None => None,
        };
        Ok(Some((run, pipeline)))
    })
    .await
}

fn gpu_resources() -> Vec<String> {
    GpuConfig::default().resources.into_values().collect()
}

/// `web/dag`: `{control, dag, layout}`; a workflow not found (or not the caller's) is
/// `dag: {}` and `layout: {}`, as the original answers a missing one.
pub async fn web_dag(
    state: web::Data<AppState>,
    ctx: Ctx,
    path: RunPath,
) -> Result<HttpResponse, ApiError> {
    let (cluster, ns, name) = path.into_inner();
    let tz = state.config.schedule.time_zone;
    let found = load_run(&state, ctx, cluster, ns, name).await?;
    let (dag, layout) = match &found {
        Some((run, pipeline)) => (
            Value::Array(dag(run, &gpu_resources(), tz)),
            Value::Object(layout(run, pipeline.as_ref(), tz)),
        ),
        None => (json!({}), json!({})),
    };
    let result = json!({
        "control": {"node_ops": ["detail", "explore"], "direction": "vertical"},
        "dag": dag,
        "layout": layout,
    });
    Ok(reply::bare_json(&reply::body(result, 0, "success")))
}

/// `web/layout`: the header alone, titled `<cluster> <ns> <name> <start> <finish>`; 404
/// when not found (the original fails with a 500 page).
pub async fn web_layout(
    state: web::Data<AppState>,
    ctx: Ctx,
    path: RunPath,
) -> Result<HttpResponse, ApiError> {
    let (cluster, ns, name) = path.into_inner();
    let tz = state.config.schedule.time_zone;
    let found = load_run(&state, ctx, cluster.clone(), ns.clone(), name.clone()).await?;
    let Some((run, pipeline)) = found else {
        return Err(ApiError::not_found());
    };
    let mut out = layout(&run, pipeline.as_ref(), tz);
    let shown = |k: &str| {
        out.get(k)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string()
    };
    let title = format!(
        "{cluster} {ns} {name} {} {}",
        shown("start_time"),
        shown("finish_time")
    );
    out.insert("title".into(), json!(title));
    Ok(reply::bare_json(&reply::body(
        Value::Object(out),
        0,
        "success",
    )))
}

/// The pod of a node as the dialog shows it; `None` when the cluster does not have it or
/// cannot be read.
async fn node_pod(state: &AppState, cluster: &str, ns: &str, pod: &str) -> Option<PodShown> {
    let client = state.kube.client(cluster).await.ok()?;
    let (ns, pod) = (ns.to_string(), pod.to_string());
    let got = state
        .kube
        .run(async move { ops::get_pod(&client, &ns, &pod).await })
        .await;
    match got {
        Ok(Ok(found)) => found
            .and_then(|p| serde_json::to_value(p).ok())
            .map(trim_pod),
        Ok(Err(e)) => {
            tracing::warn!(%cluster, error = %e, "node detail: cannot read the pod");
            None
        }
        Err(e) => {
            tracing::warn!(%cluster, error = %e.message, "node detail: cluster task failed");
            None
        }
    }
}

/// `web/node_detail`: the dialog of one node of the run page (its task, pod, workflow
/// object, buttons); `{}` (not an envelope) when the workflow is not found, not the
/// caller's, or has no such node, as the original answers.
pub async fn web_node_detail(
    state: web::Data<AppState>,
    ctx: Ctx,
    req: HttpRequest,
    path: web::Path<(String, String, String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (cluster, ns, name, node_id) = path.into_inner();
    let tz = state.config.schedule.time_zone;
    let found = load_run(&state, ctx, cluster.clone(), ns.clone(), name.clone()).await?;
    let Some((run, pipeline)) = found else {
        return Ok(reply::bare_json(&json!({})));
    };
    let tree = dag(&run, &gpu_resources(), tz);
    let Some(node) = find_node(&tree, &node_id) else {
        return Ok(reply::bare_json(&json!({})));
    };
    let pod_name = node.get("pod").and_then(Value::as_str).unwrap_or_default();
    let cluster_key = state.kube.registry.cluster_for(Some(&cluster));
    let pod = node_pod(&state, &cluster_key, &ns, pod_name).await;
    let crd_json = layout(&run, pipeline.as_ref(), tz)
        .remove("crd_json")
        .unwrap_or_else(|| json!({}));
    // the original names the pipeline by the workflow's own label
    let pipeline_name = run
        .labels
        .get("pipeline-name")
        .and_then(Value::as_str)
        .unwrap_or(&run.name)
        .to_string();
    let configured = state
        .config
        .clusters
        .get(&cluster)
        .map(|c| c.host.clone())
        .filter(|h| !h.is_empty());
    let host = configured.unwrap_or_else(|| req.connection_info().host().to_string());
    let host_url = format!("http://{}", host.rsplit('|').next().unwrap_or_default());
    let at = Place {
        cluster: &cluster,
        namespace: &ns,
        workflow: &name,
        pipeline_name: &pipeline_name,
        host_url: &host_url,
        archive: state.archive.is_some(),
    };
    let result = node_detail(node, pod.as_ref(), &crd_json, &at);
    Ok(reply::bare_json(&reply::body(result, 0, "success")))
}

/// `GET /workflow_modelview/api/web/log/<cluster>/<ns>/<workflow>/<pod>[/<file>]` (a
/// page) and `…/web/log_node/…` (the original's JSON `{type: html, value}`): a step's
/// log as Argo archived it (`<workflow>/<pod>/<file>`, default `main.log`), read from the
/// configured S3 store. Who may read it: whoever may see the run page. Unlike the
/// original the log is escaped (it is text, not HTML), and without a store the answer is
/// a 503 saying so.
pub async fn offline_log(
    state: web::Data<AppState>,
    ctx: Ctx,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let seg = |k: &str| req.match_info().get(k).unwrap_or_default().to_string();
    let (cluster, ns, workflow, pod) = (seg("cluster"), seg("ns"), seg("name"), seg("pod"));
    let file = req
        .match_info()
        .get("file")
        .unwrap_or("main.log")
        .to_string();
    let key = app_core::archive::log_key(&workflow, &pod, &file)
        .ok_or_else(|| ApiError::bad_request("workflow, pod and file must be plain names"))?;
    if load_run(&state, ctx, cluster, ns, workflow)
        .await?
        .is_none()
    {
        return Err(ApiError::not_found());
    }
    let Some(archive) = state.archive.clone() else {
        return Err(ApiError::unavailable(
            "offline logs are not configured: set S3_ENDPOINT (and S3_BUCKET, S3_ACCESS_KEY, \
             S3_SECRET_KEY) to the store where Argo archives step logs",
        ));
    };
    let k = key.clone();
    let bytes = state
        .kube
        .run(async move { archive.get(&k).await })
        .await?
        .map_err(|e| match e {
            app_core::archive::ArchiveError::NotFound(_) => ApiError::new(
                actix_web::http::StatusCode::NOT_FOUND,
                format!("no archived log {key}: the step may not have finished, or logs are not archived"),
            ),
            e => ApiError::unavailable(e.to_string()),
        })?;
    let text = app_core::k8s::pod_summary::strip_ansi(&String::from_utf8_lossy(&bytes));
    let escaped = reply::html_escape(&text);
    if req.path().contains("/web/log_node/") {
        return Ok(reply::bare_json(&json!({
            "status": 0, "message": "", "result": {"type": "html", "value": format!("<pre>{escaped}</pre>")}})));
    }
    Ok(HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .body(format!("<pre><code>{escaped}</code></pre>")))
}
