//! Workflow instances (`/workflow_modelview/api`), cron run history
//! (`/runhistory_modelview/api`) and stop.

use std::sync::Arc;

use actix_web::{HttpResponse, web};
use diesel::mysql::MysqlConnection;
use serde_json::{Value, json};

use super::ids;
use super::properties::usernames;
use super::workflow_columns::{
    annotations_html, elapsed_time, info_json_html, labels_html, log_link, project_name, spec_html,
    status_more_html, task_status,
};
use crate::api::blocking;
use crate::auth::Ctx;
use crate::cluster::Kube;
use crate::engine::resolve::Resolved;
use crate::engine::sql::{Bind, SqlFrag, like_escape};
use crate::engine::view::{Access, ActionDef, ModelView, Property, Row, ViewHooks, cols, id_of};
use crate::error::ApiError;
use crate::queue::{Effect, Effects};
use crate::routing::{Answer, Routes};
use crate::state::AppState;
use app_core::jobs::StopRun;

pub(super) fn labels_of(row: &Row) -> serde_json::Map<String, Value> {
    app_core::json_text::object_or_empty(row.get("labels").and_then(Value::as_str))
}

/// Workflows: admins see all; others those whose labels name them.
pub struct WorkflowHooks {
    pub kube: Arc<Kube>,
    pub time_zone: chrono_tz::Tz,
}

impl WorkflowHooks {
    /// What stopping a workflow takes: its run stopped by the worker (the one
    /// implementation of "stop a run": it marks the rows `Deleted` and deletes everything
    /// labelled with the run id), or — for a workflow without a run id — nothing.
    pub fn stop_effect(&self, row: &Row) -> Option<Effect> {
        let run_id = labels_of(row)
            .get("run-id")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        if run_id.is_empty() {
            return None;
        }
        Some(Effect::StopRun(StopRun {
            cluster: self
                .kube
                .registry
                .cluster_for(row.get("cluster").and_then(Value::as_str)),
            namespace: row
                .get("namespace")
                .and_then(Value::as_str)
                .filter(|n| !n.is_empty())
                .unwrap_or("pipeline")
                .to_string(),
            run_id,
            run_row: None,
            reason: "stopped from the dashboard".into(),
        }))
    }

    /// Marks a workflow row without a run id `Deleted` (nothing on the cluster names it).
    fn mark_deleted(&self, conn: &mut MysqlConnection, row: &Row) -> Result<(), ApiError> {
        if let Some(id) = id_of(row.get("id")).and_then(|i| i32::try_from(i).ok()) {
            app_models::dashboard::mark_workflow_deleted(
                conn,
                id,
                &app_core::time_string_now(self.time_zone),
            )?;
        }
        Ok(())
    }
}

/// Who may stop or delete a run: the user who ran it, or a creator of the project of
/// its pipeline (admins pass every rule).
fn may_stop(conn: &mut MysqlConnection, ctx: &Ctx, row: &Row) -> Result<bool, ApiError> {
    if ctx.is_admin || row.get("username").and_then(Value::as_str) == Some(ctx.username.as_str()) {
        return Ok(true);
    }
    let pipeline = labels_of(row)
        .get("pipeline-id")
        .and_then(|v| v.as_str().and_then(|s| s.parse::<i64>().ok()));
    match pipeline {
        Some(p) => Ok(app_models::dashboard::is_pipeline_project_creator(
            conn,
            p,
            ctx.user_id,
        )?),
        None => Ok(false),
    }
}

impl ViewHooks for WorkflowHooks {
    fn base_filter(&self, ctx: &Ctx) -> Option<SqlFrag> {
        (!ctx.is_admin).then(|| {
            SqlFrag::new(
                "(t.`username` = ? OR t.`labels` LIKE ?)",
                vec![
                    Bind::Text(ctx.username.clone()),
                    Bind::Text(format!("%\"{}\"%", like_escape(&ctx.username))),
                ],
            )
        })
    }
    fn has_delete_effects(&self) -> bool {
        true
    }
    /// Deleting a workflow that may still run stops its run (through the worker).
    fn delete_effects(
        &self,
        _: &mut MysqlConnection,
        _: &Ctx,
        item: &Row,
    ) -> Result<Effects, ApiError> {
        let finished = matches!(
            item.get("status").and_then(Value::as_str),
            Some("Deleted" | "Succeeded" | "Failed" | "Error")
        );
        Ok(if finished {
            Vec::new()
        } else {
            self.stop_effect(item).into_iter().collect()
        })
    }
}

fn pipeline_url(conn: &mut MysqlConnection, _: &Ctx, rows: &mut [Row]) -> Result<(), ApiError> {
    let _ = conn;
    for r in rows.iter_mut() {
        let labels = labels_of(r);
        let pid = labels
            .get("pipeline-id")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        let name = labels
            .get("pipeline-name")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        r.insert(
            "pipeline_url".into(),
            json!(format!(
                "<a target=_blank href=\"/pipeline_modelview/api/web/{pid}\">{name}</a>"
            )),
        );
    }
    Ok(())
}

fn final_status(_: &mut MysqlConnection, _: &Ctx, rows: &mut [Row]) -> Result<(), ApiError> {
    for r in rows.iter_mut() {
        let phase =
            app_core::json_text::object_or_empty(r.get("status_more").and_then(Value::as_str))
                .get("phase")
                .cloned()
                .unwrap_or(json!(""));
        r.insert("final_status".into(), phase);
    }
    Ok(())
}

/// `stop_all`'s cluster work: the stop of each selected run the caller may stop and
/// that may still run (what deleting it would stop), queued before [`stop_all`] answers.
fn stop_all_effects(
    conn: &mut MysqlConnection,
    ctx: &Ctx,
    view: &ModelView,
    rows: &[Row],
) -> Result<Effects, ApiError> {
    let mut out = Vec::new();
    for r in rows {
        if may_stop(conn, ctx, r)? {
            out.extend(view.hooks.delete_effects(conn, ctx, r)?);
        }
    }
    Ok(out)
}

/// `stop_all`: reports which selected runs were stopped (their stops were queued by
/// [`stop_all_effects`]) and which the caller may not stop.
fn stop_all(
    conn: &mut MysqlConnection,
    ctx: &Ctx,
    _: &Resolved<'_>,
    rows: &[Row],
) -> Result<String, ApiError> {
    let mut ok = Vec::new();
    let mut fail = Vec::new();
    for r in rows {
        let id = json!(id_of(r.get("id")).unwrap_or(0));
        if may_stop(conn, ctx, r)? {
            ok.push(id);
        } else {
            fail.push(id);
        }
    }
    Ok(json!({"success": ok, "fail": fail}).to_string())
}

/// The original's `stop`: a link for whoever may stop the run, the bare word for others.
fn stop_link(conn: &mut MysqlConnection, ctx: &Ctx, rows: &mut [Row]) -> Result<(), ApiError> {
    for r in rows.iter_mut() {
        let id = r.get("id").cloned().unwrap_or(Value::Null);
        let html = if may_stop(conn, ctx, r)? {
            format!("<a href=\"/workflow_modelview/api/stop/{id}\">停止</a>")
        } else {
            "停止".to_string()
        };
        r.insert("stop".into(), json!(html));
    }
    Ok(())
}

/// The workflow and run-history views.
pub fn views(config: &app_core::Config, kube: &Arc<Kube>) -> Vec<ModelView> {
    let hooks = Arc::new(WorkflowHooks {
        kube: kube.clone(),
        time_zone: config.schedule.time_zone,
    });
    let mut wf = ModelView::new(
        ids::WORKFLOW,
        "Workflow_ModelView_Api",
        "workflow",
        "运行实例",
    );
    wf.base_permissions = vec!["can_show", "can_list", "can_delete"];
    wf.base_order = Some(("id", "desc"));
    wf.order_columns = cols(&["id"]);
    wf.list_columns = cols(&[
        "project",
        "pipeline_url",
        "cluster",
        "create_time",
        "change_time",
        "elapsed_time",
        "final_status",
        "status",
        "username",
        "log",
        "stop",
    ]);
    wf.show_columns = cols(&[
        "name",
        "namespace",
        "create_time",
        "status",
        "task_status",
        "annotations_html",
        "labels_html",
        "spec_html",
        "status_more_html",
        "info_json_html",
    ]);
    wf.search_columns = cols(&[
        "status",
        "labels",
        "name",
        "cluster",
        "annotations",
        "spec",
        "status_more",
        "username",
        "create_time",
    ]);
    wf.labels = vec![
        ("stop", "停止"),
        ("pipeline_url", "任务流"),
        ("task_status", "任务状态"),
        ("annotations_html", "注释"),
        ("labels_html", "标签"),
        ("spec_html", "属性"),
        ("status_more_html", "状态详情"),
        ("info_json_html", "通知"),
        ("project", "项目组"),
        ("log", "日志"),
        ("final_status", "删除前状态"),
        ("foreign_key", "foreign_key"),
        ("elapsed_time", "耗时"),
    ];
    wf.cols_width = json!({"project": {"type": "ellip2", "width": 120}, "pipeline_url": {"type": "ellip2", "width": 300},
        "cluster": {"type": "ellip2", "width": 50}, "create_time": {"type": "ellip2", "width": 200},
        "change_time": {"type": "ellip2", "width": 200}, "final_status": {"type": "ellip1", "width": 120},
        "status": {"type": "ellip1", "width": 100}, "elapsed_time": {"type": "ellip1", "width": 70},
        "log": {"type": "ellip1", "width": 70}, "stop": {"type": "ellip1", "width": 70}});
    wf.actions = vec![
        ActionDef {
            name: "stop_all",
            text: "停止",
            confirmation: "停止所有选中的workflow?",
            icon: "fa-trash",
            multiple: true,
            single: false,
            run: stop_all,
            effects: Some(stop_all_effects),
        },
        crate::api::muldelete(),
    ];
    wf.fixed_columns = vec!["log", "stop"];
    wf.properties = vec![
        Property {
            name: "pipeline_url",
            compute: pipeline_url,
        },
        Property {
            name: "final_status",
            compute: final_status,
        },
        Property {
            name: "stop",
            compute: stop_link,
        },
        Property {
            name: "project",
            compute: project_name,
        },
        Property {
            name: "elapsed_time",
            compute: elapsed_time,
        },
        Property {
            name: "task_status",
            compute: task_status,
        },
        Property {
            name: "log",
            compute: log_link,
        },
        Property {
            name: "annotations_html",
            compute: annotations_html,
        },
        Property {
            name: "labels_html",
            compute: labels_html,
        },
        Property {
            name: "spec_html",
            compute: spec_html,
        },
        Property {
            name: "status_more_html",
            compute: status_more_html,
        },
        Property {
            name: "info_json_html",
            compute: info_json_html,
        },
    ];
    wf.hooks = hooks.clone();
    wf.access.delete = Access::Rule("the user who ran it or a creator of its project", may_stop);

    let mut runs = ModelView::new(
        ids::RUNHISTORY,
        "RunHistory_ModelView_Api",
        "run",
        "定时调度历史",
    );
    runs.base_permissions = vec!["can_show", "can_list", "can_delete"];
    runs.base_order = Some(("id", "desc"));
    runs.order_columns = cols(&["id"]);
    runs.list_columns = cols(&["pipeline_url", "creator", "execution_date", "status_url"]);
    runs.show_columns = cols(&[
        "pipeline",
        "pipeline_file",
        "pipeline_argo_id",
        "version_id",
        "experiment_id",
        "run_id",
        "message",
        "created_on",
        "execution_date",
        "status",
    ]);
    runs.edit_columns = cols(&["status"]);
    runs.labels = vec![("message", "message"), ("status_url", "状态")];
    runs.descriptions = vec![("status", "状态comed为已识别未提交，created为已提交")];
    runs.cols_width = json!({"pipeline_url": {"type": "ellip2", "width": 300}, "create_time": {"type": "ellip2", "width": 250}});
    runs.fields.insert(
        "status",
        json!({"type": "Select", "widget": "Select2", "choices": [["comed", "comed"], ["created", "created"]],
               "validators": [{"type": "Length", "min": null, "max": 100}]}),
    );
    runs.actions = vec![crate::api::muldelete()];
    // the original's filters (its search columns)
    runs.search_columns = cols(&[
        "pipeline",
        "pipeline_file",
        "pipeline_argo_id",
        "version_id",
        "experiment_id",
        "run_id",
        "message",
        "created_on",
        "execution_date",
        "status",
    ]);
    runs.properties = vec![
        Property {
            name: "pipeline_url",
            compute: run_pipeline_url,
        },
        Property {
            name: "creator",
            compute: run_creator,
        },
        Property {
            name: "status_url",
            compute: run_status_url,
        },
    ];
    runs.hooks = Arc::new(RunHooks);
    vec![wf, runs]
}

fn run_pipeline_url(conn: &mut MysqlConnection, _: &Ctx, rows: &mut [Row]) -> Result<(), ApiError> {
    let _ = conn;
    for r in rows.iter_mut() {
        let pid = r.get("pipeline_id").cloned().unwrap_or(Value::Null);
        r.insert(
            "pipeline_url".into(),
            json!(format!(
                "<a target=_blank href=\"/pipeline_modelview/api/web/{pid}\">{pid}</a>"
            )),
        );
    }
    Ok(())
}

/// A run's status as the original's `status_url`: `comed` (not submitted yet) as is,
/// else a link to the workflow page filtered on the run's label.
fn run_status_url(_: &mut MysqlConnection, _: &Ctx, rows: &mut [Row]) -> Result<(), ApiError> {
    for r in rows.iter_mut() {
        let status = r
            .get("status")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        let html = if status == "comed" {
            status
        } else {
            let run_id = r.get("run_id").and_then(Value::as_str).unwrap_or("");
            // Python's json.dumps spacing, then urllib's quote
            let filter = format!("[{{\"key\": \"labels\", \"value\": {}}}]", json!(run_id));
            let query = urlencoding::encode(&filter).replace("%2F", "/");
            format!(
                "<a target=_blank href=\"/frontend/train/train_task/workflow?filter={query}\">{status}</a>"
            )
        };
        r.insert("status_url".into(), json!(html));
    }
    Ok(())
}

fn run_creator(conn: &mut MysqlConnection, _: &Ctx, rows: &mut [Row]) -> Result<(), ApiError> {
    let ids: Vec<i64> = rows
        .iter()
        .filter_map(|r| r.get("pipeline_id").and_then(Value::as_i64))
        .collect();
    let creators = app_models::dashboard::pipeline_creators(conn, &ids)?;
    let users: Vec<i64> = creators.values().flatten().map(|u| i64::from(*u)).collect();
    let names = usernames(conn, &users)?;
    let by_pipeline: std::collections::BTreeMap<i64, String> = creators
        .into_iter()
        .map(|(p, u)| {
            (
                p,
                u.and_then(|u| names.get(&i64::from(u)).cloned())
                    .unwrap_or_default(),
            )
        })
        .collect();
    for r in rows.iter_mut() {
        let n = r
            .get("pipeline_id")
            .and_then(Value::as_i64)
            .and_then(|p| by_pipeline.get(&p).cloned())
            .unwrap_or_default();
        r.insert("creator".into(), json!(n));
    }
    Ok(())
}

/// Run history: admins see all; others the runs of their pipelines.
pub struct RunHooks;

impl ViewHooks for RunHooks {
    fn base_filter(&self, ctx: &Ctx) -> Option<SqlFrag> {
        (!ctx.is_admin).then(|| {
            SqlFrag::new(
                "t.`pipeline_id` IN (SELECT p.`id` FROM `pipeline` p WHERE p.`created_by_fk` = ?)",
                vec![Bind::Int(ctx.user_id as i64)],
            )
        })
    }
    /// The scheduler stores frozen workflows as compact JSON (less than half the bytes
    /// of the original's `indent=4`); the show page shows them indented as the original.
    fn post_show(&self, row: &mut Row) {
        if let Some(Value::String(text)) = row.get_mut("pipeline_file")
            && !text.contains('\n')
            && let Ok(v) = serde_json::from_str::<Value>(text)
            && v.is_object()
        {
            *text = app_core::json_text::pretty4(&v);
        }
    }
}

/// `GET /workflow_modelview/api/stop/<id>`: the worker stops the workflow and everything
/// of its run; the answer comes once that is queued (watch and the worker then mark the
/// rows). 503 with nothing changed when the queue cannot be reached.
pub async fn stop_workflow(
    state: web::Data<AppState>,
    ctx: Ctx,
    path: web::Path<i64>,
) -> Result<HttpResponse, ApiError> {
    let id = path.into_inner();
    let effect = blocking(&state, move |st, conn| {
        let rv = st.resolved(ids::WORKFLOW)?;
        let row = crate::engine::plan::load_visible(conn, &rv, &ctx, id)?
            .ok_or_else(ApiError::not_found)?;
        let hooks = WorkflowHooks {
            kube: st.kube.clone(),
            time_zone: st.config.schedule.time_zone,
        };
        if !ctx.is_admin && !may_stop(conn, &ctx, &row)? {
            return Err(ApiError::no_permission("stop"));
        }
        match hooks.stop_effect(&row) {
            Some(effect) => Ok(Some(effect)),
            None => hooks.mark_deleted(conn, &row).map(|()| None),
        }
    })
    .await?;
    state.queue.push(effect.into_iter().collect()).await?;
    Ok(crate::reply::ok(json!({})))
}

/// Registers the routes that are not generic.
pub fn configure(r: &mut Routes<'_>) {
    r.tag(ids::WORKFLOW.0);
    r.add(
        "GET",
        "/workflow_modelview/api/stop/{id}",
        "Stop the workflow's run (queued for the worker; 503 when the queue cannot be reached)",
        Answer::Envelope(json!({})),
        stop_workflow,
    );
    r.add(
        "GET",
        "/workflow_modelview/api/web/dag/{cluster}/{ns}/{name}",
        "The run page: the node tree and header of a workflow (cluster first, else its row; \
         dag and layout {} when not found)",
        Answer::Envelope(json!({"type": "object", "properties": {
            "control": {"type": "object"}, "dag": {"type": ["array", "object"]}, "layout": {"type": "object"}}})),
        super::workflow_run::web_dag,
    );
    r.add(
        "GET",
        "/workflow_modelview/api/web/layout/{cluster}/{ns}/{name}",
        "The header of a workflow's run page (404 when not found)",
        Answer::Envelope(json!({"type": "object"})),
        super::workflow_run::web_layout,
    );
    r.add(
        "GET",
        "/workflow_modelview/api/web/node_detail/{cluster}/{ns}/{name}/{node}",
        "The dialog of one node of the run page: its task, pod (trimmed JSON), workflow object \
         and buttons ({} when the workflow or the node is not found)",
        Answer::Envelope(json!({"type": "object", "properties": {
            "detail": {"type": "array"}, "control": {"type": "object"}}})),
        super::workflow_run::web_node_detail,
    );
    for p in [
        "/workflow_modelview/api/web/log/{cluster}/{ns}/{name}/{pod}",
        "/workflow_modelview/api/web/log/{cluster}/{ns}/{name}/{pod}/{file}",
        "/workflow_modelview/api/web/log_node/{cluster}/{ns}/{name}/{pod}",
    ] {
        r.add(
            "GET",
            p,
            "A step's log as Argo archived it in the S3 store (503 when no store is configured)",
            Answer::Other("text/html or application/json"),
            super::workflow_run::offline_log,
        );
    }
}
