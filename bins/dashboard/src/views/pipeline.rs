//! Pipelines (`/pipeline_modelview/api`, and the home page's `/pipeline_modelview/home/api`):
//! the declaration, the editor's save rules, and run / dry-run / copy / lists.

use std::sync::Arc;

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use app_core::argo::{CompileConfig, parse_dag};
use app_core::json_text::pretty4;
use app_core::k8s::ops;
use diesel::mysql::MysqlConnection;
use serde_json::{Map, Value, json};

use super::ids;
use super::properties::{CREATOR, MODIFIED};
use crate::api::blocking;
use crate::auth::Ctx;
use crate::cluster::Kube;
use crate::engine::plan::select_visible;
use crate::engine::resolve::Resolved;
use crate::engine::sql::{Bind, SqlFrag};
use crate::engine::view::{
    Access, AccessRules, ActionDef, FilterDefault, ModelView, Property, Row, ViewHooks, cols,
    id_of, in_ids, owns,
};
use crate::error::ApiError;
use crate::queue::{Effect, Effects};
use crate::reply::ok;
use crate::routing::{Answer, Routes};
use crate::state::AppState;
use app_core::jobs::Cleanup;

/// `(type IS NULL OR type IN ('', 'pipeline'))`: the original only showed NULL/'' and so
/// hid every pipeline a migration had given the server default `pipeline`.
const PIPELINE_TYPE: &str = "(t.`type` IS NULL OR t.`type` IN ('', 'pipeline'))";

/// Lower-case, `_`→`-`, at most 54 characters, a DNS label (the original's rule).
pub fn normalise_name(raw: &str) -> Result<String, ApiError> {
    let n: String = raw
        .trim()
        .to_lowercase()
        .replace('_', "-")
        .chars()
        .take(54)
        .collect();
    let n = n.trim_matches('-').to_string();
    let ok = !n.is_empty()
        && n.starts_with(|c: char| c.is_ascii_lowercase())
        && n.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    if ok {
        Ok(n)
    } else {
        Err(ApiError::unprocessable(format!(
            "name {raw:?} must match ^[a-z][a-z0-9\\-]*[a-z0-9]$"
        )))
    }
}

/// A demo pipeline: its `parameter` is a JSON object whose `demo` is `"true"`.
/// (The task view asks the same question of a task's pipeline.)
pub fn is_demo(row: &Row) -> bool {
    row.get("parameter")
        .and_then(Value::as_str)
        .and_then(|p| serde_json::from_str::<Value>(p).ok())
        .map(|p| p.get("demo").and_then(Value::as_str) == Some("true"))
        .unwrap_or(false)
}

/// Task names of a pipeline.
pub fn task_names(conn: &mut MysqlConnection, pipeline_id: i64) -> Result<Vec<String>, ApiError> {
    Ok(app_models::dashboard::task_names(conn, pipeline_id)?)
}

/// Loads a pipeline the caller may see.
pub fn visible_pipeline(
    st: &AppState,
    conn: &mut MysqlConnection,
    ctx: &Ctx,
    id: i64,
) -> Result<Row, ApiError> {
    let rv = st.resolved(ids::PIPELINE)?;
    crate::engine::plan::load_visible(conn, &rv, ctx, id)?.ok_or_else(ApiError::not_found)
}

fn check_cron(values: &Row) -> Result<(), ApiError> {
    if values.get("schedule_type").and_then(Value::as_str) == Some("crontab")
        || values
            .get("cron_time")
            .and_then(Value::as_str)
            .map(|c| !c.trim().is_empty())
            .unwrap_or(false)
    {
        let cron = values
            .get("cron_time")
            .and_then(Value::as_str)
            .unwrap_or("")
            .trim()
            .replace("  ", " ");
        if cron.is_empty() && values.get("schedule_type").and_then(Value::as_str) == Some("crontab")
        {
            return Err(ApiError::unprocessable(
                "a crontab pipeline needs cron_time, e.g. 0 * * * *",
            ));
        }
        if !cron.is_empty() {
            app_core::cron::parse_crontab(&cron)
                .map_err(|e| ApiError::unprocessable(e.to_string()))?;
        }
    }
    Ok(())
}

fn normalise_global_env(values: &mut Row) {
    if let Some(Value::String(env)) = values.get("global_env") {
        let lines: Vec<String> = env
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(|l| match l.split_once('=') {
                Some((k, v)) => format!("{}={}", k.trim(), v.trim()),
                None => l.to_string(),
            })
            .collect();
        values.insert("global_env".into(), json!(lines.join("\n")));
    }
}

/// Pipelines: members of the project see them; creators and admins change them.
pub struct PipelineHooks {
    pub kube: Arc<Kube>,
    pub time_zone: chrono_tz::Tz,
    pub namespaces: app_core::k8s::project::Namespaces,
}

impl PipelineHooks {
    fn now(&self) -> String {
        app_core::time_string_now(self.time_zone)
    }
}

fn check_member(ctx: &Ctx, project_id: Option<i64>) -> Result<(), ApiError> {
    match project_id {
        Some(p) if ctx.is_admin || ctx.org_projects.contains(&(p as i32)) => Ok(()),
        Some(_) => Err(ApiError::unprocessable(
            "you are not a member of that project",
        )),
        None => Ok(()),
    }
}

impl ViewHooks for PipelineHooks {
    fn base_filter(&self, ctx: &Ctx) -> Option<SqlFrag> {
        let t = SqlFrag::new(PIPELINE_TYPE, vec![]);
        if ctx.is_admin {
            Some(t)
        } else {
            Some(SqlFrag::and(vec![
                t,
                in_ids("t.`project_id`", &ctx.org_projects),
            ]))
        }
    }

    fn pre_add_req(
        &self,
        conn: &mut MysqlConnection,
        ctx: &Ctx,
        req: &mut Row,
    ) -> Result<(), ApiError> {
        if id_of(req.get("project")).is_none() {
            let public = app_models::dashboard::public_org_projects(conn)?;
            req.insert(
                "project".into(),
                json!(public.first().copied().unwrap_or(0)),
            );
        }
        check_member(ctx, id_of(req.get("project")))
    }

    fn pre_add(
        &self,
        conn: &mut MysqlConnection,
        _: &Ctx,
        values: &mut Row,
    ) -> Result<(), ApiError> {
        let name = normalise_name(values.get("name").and_then(Value::as_str).unwrap_or(""))?;
        values.insert("name".into(), json!(name));
        let project_id = id_of(values.get("project_id")).unwrap_or(0);
        let expand = select_rows_expand(conn, project_id)?;
        let ns = app_core::k8s::project::ProjectSettings::parse(expand.as_deref())
            .namespaces(&self.namespaces);
        values.insert("namespace".into(), json!(ns.pipeline));
        values.insert("cronjob_start_time".into(), json!(self.now()));
        values.insert("parameter".into(), json!("{}"));
        values.insert("type".into(), json!(""));
        normalise_global_env(values);
        check_cron(values)
    }

    fn pre_update_req(
        &self,
        _: &mut MysqlConnection,
        ctx: &Ctx,
        req: &mut Row,
        item: &Row,
    ) -> Result<(), ApiError> {
        if is_demo(item) {
            return Err(ApiError::unprocessable(
                "this is a demo pipeline: copy it to change it",
            ));
        }
        if let Some(e) = req.get("expand") {
            let parsed = match e {
                Value::String(s) if s.trim().is_empty() => json!([]),
                Value::String(s) => serde_json::from_str::<Value>(s).map_err(|e| {
                    ApiError::unprocessable(format!("expand is not valid JSON: {e}"))
                })?,
                other => other.clone(),
            };
            req.insert("expand".into(), json!(pretty4(&strip_node_args(parsed))));
        }
        if let Some(d) = req.get("dag_json")
            && !d.is_string()
        {
            req.insert("dag_json".into(), json!(d.to_string()));
        }
        check_member(ctx, id_of(req.get("project")))
    }

    fn pre_update(
        &self,
        conn: &mut MysqlConnection,
        _: &Ctx,
        values: &mut Row,
        old: &Row,
    ) -> Result<(), ApiError> {
        if let Some(Value::String(n)) = values.get("name") {
            let n = normalise_name(n)?;
            values.insert("name".into(), json!(n));
        }
        if let Some(Value::String(dag)) = values.get("dag_json").cloned() {
            let id = id_of(old.get("id")).unwrap_or(0);
            let names = task_names(conn, id)?;
            let refs: Vec<&str> = names.iter().map(String::as_str).collect();
            let parsed =
                parse_dag(&dag, &refs).map_err(|e| ApiError::bad_request(e.to_string()))?;
            let mut out = Map::new();
            for node in parsed.nodes {
                if dag.contains(&format!("\"{}\"", node.name)) {
                    out.insert(node.name, json!({"upstream": node.upstream}));
                }
            }
            values.insert("dag_json".into(), json!(pretty4(&Value::Object(out))));
        }
        normalise_global_env(values);
        let mut merged = old.clone();
        for (k, v) in values.iter() {
            merged.insert(k.clone(), v.clone());
        }
        check_cron(&merged)?;
        // a new schedule restarts the backfill window (unless the caller moved it)
        let switched = old.get("schedule_type").and_then(Value::as_str) != Some("crontab")
            && merged.get("schedule_type").and_then(Value::as_str) == Some("crontab");
        let cron_changed =
            values.contains_key("cron_time") && values.get("cron_time") != old.get("cron_time");
        let start_given = values.get("cronjob_start_time").is_some()
            && values.get("cronjob_start_time") != old.get("cronjob_start_time");
        if (switched || cron_changed) && !start_given {
            values.insert("cronjob_start_time".into(), json!(self.now()));
        }
        if let Some(Value::String(s)) = values.get("cronjob_start_time")
            && !s.trim().is_empty()
            && app_models::time::parse_time(s).is_none()
        {
            return Err(ApiError::unprocessable(
                "cronjob_start_time must look like 2026-11-30 12:00:00",
            ));
        }
        Ok(())
    }

    fn has_delete_effects(&self) -> bool {
        true
    }

    fn delete_effects(
        &self,
        conn: &mut MysqlConnection,
        _: &Ctx,
        item: &Row,
    ) -> Result<Effects, ApiError> {
        Ok(vec![pipeline_runs_effect(conn, item)?])
    }

    fn pre_delete(&self, conn: &mut MysqlConnection, _: &Ctx, item: &Row) -> Result<(), ApiError> {
        if let Some(id) = id_of(item.get("id")).and_then(|i| i32::try_from(i).ok()) {
            app_models::dashboard::delete_pipeline_children(conn, id)?;
        }
        Ok(())
    }
}

/// The worker's job that stops every run of a pipeline being deleted, on its project's
/// cluster (the worker resolves an unknown or empty cluster name to the home cluster).
fn pipeline_runs_effect(conn: &mut MysqlConnection, item: &Row) -> Result<Effect, ApiError> {
    let expand = select_rows_expand(conn, id_of(item.get("project_id")).unwrap_or(0))?;
    let settings = app_core::k8s::project::ProjectSettings::parse(expand.as_deref());
    Ok(Effect::Cleanup(Cleanup::PipelineRuns {
        cluster: settings.cluster.unwrap_or_default(),
        namespace: item
            .get("namespace")
            .and_then(Value::as_str)
            .filter(|n| !n.is_empty())
            .unwrap_or("pipeline")
            .to_string(),
        pipeline_id: id_of(item.get("id")).unwrap_or(0),
    }))
}

fn select_rows_expand(
    conn: &mut MysqlConnection,
    project_id: i64,
) -> Result<Option<String>, ApiError> {
    Ok(app_models::dashboard::project_expand(conn, project_id)?)
}

/// The editor sends each node's template args in `data.info.args`; they do not belong in `expand`.
fn strip_node_args(mut v: Value) -> Value {
    if let Value::Array(items) = &mut v {
        for item in items.iter_mut() {
            if let Some(info) = item
                .get_mut("data")
                .and_then(|d| d.get_mut("info"))
                .and_then(Value::as_object_mut)
            {
                info.remove("args");
            }
        }
    }
    v
}

fn pipeline_url(_: &mut MysqlConnection, _: &Ctx, rows: &mut [Row]) -> Result<(), ApiError> {
    for r in rows.iter_mut() {
        let id = r.get("id").cloned().unwrap_or(Value::Null);
        let d = r
            .get("describe")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        r.insert(
            "pipeline_url".into(),
            json!(format!(
                "<a target=_blank href=\"/pipeline_modelview/api/web/{id}\">{d}</a>"
            )),
        );
    }
    Ok(())
}

/// Copies a pipeline with its tasks (schedule reset to `once`, `-<4hex>` name suffix).
pub fn copy_pipeline(conn: &mut MysqlConnection, ctx: &Ctx, id: i64) -> Result<i64, ApiError> {
    let id = i32::try_from(id).map_err(|_| ApiError::not_found())?;
    let suffix = &uuid::Uuid::new_v4().simple().to_string()[..4];
    let (new_id, tasks) = app_models::dashboard::copy_pipeline(conn, id, suffix, ctx.user_id)?;
    let mut expand = app_models::dashboard::pipeline_expand(conn, new_id)?;
    for (old, new) in tasks {
        // remap the editor's node and edge ids
        expand = expand
            .replace(&format!("\"{old}\""), &format!("\"{new}\""))
            .replace(&format!("-{old}null"), &format!("-{new}null"));
    }
    app_models::dashboard::set_pipeline_layout(conn, new_id, &expand, None)?;
    Ok(i64::from(new_id))
}

fn copy_action(
    conn: &mut MysqlConnection,
    ctx: &Ctx,
    _: &Resolved<'_>,
    rows: &[Row],
) -> Result<String, ApiError> {
    for r in rows {
        copy_pipeline(conn, ctx, id_of(r.get("id")).unwrap_or(0))?;
    }
    Ok("success".into())
}

/// The pipeline views.
pub fn views(config: &app_core::Config, kube: &Arc<Kube>) -> Vec<ModelView> {
    let hooks = Arc::new(PipelineHooks {
        kube: kube.clone(),
        time_zone: config.schedule.time_zone,
        namespaces: app_core::k8s::project::Namespaces::from_config(config),
    });
    let mut v = ModelView::new(
        ids::PIPELINE,
        "Pipeline_ModelView_Api",
        "pipeline",
        "任务流",
    );
    v.base_permissions = vec!["can_show", "can_edit", "can_list", "can_delete", "can_add"];
    v.base_order = Some(("changed_on", "desc"));
    v.order_columns = cols(&["id"]);
    v.list_columns = cols(&["id", "project", "pipeline_url", "creator", "modified"]);
    v.show_columns = cols(&[
        "project",
        "name",
        "describe",
        "schedule_type",
        "cron_time",
        "depends_on_past",
        "max_active_runs",
        "expired_limit",
        "parallelism",
        "global_env",
        "dag_json",
        "pipeline_file",
        "pipeline_argo_id",
        "run_id",
        "created_by",
        "changed_by",
        "created_on",
        "changed_on",
        "expand",
        "parameter",
        "alert_status",
        "alert_user",
        "cronjob_start_time",
    ]);
    v.add_columns = cols(&["project", "name", "describe"]);
    v.edit_columns = cols(&[
        "project",
        "name",
        "describe",
        "schedule_type",
        "cron_time",
        "depends_on_past",
        "max_active_runs",
        "expired_limit",
        "parallelism",
        "dag_json",
        "global_env",
        "alert_status",
        "alert_user",
        "expand",
        "parameter",
        "cronjob_start_time",
    ]);
    v.search_columns = cols(&[
        "id",
        "created_by",
        "name",
        "describe",
        "schedule_type",
        "project",
    ]);
    v.labels = vec![
        ("pipeline_url", "任务流"),
        ("expand", "前端扩展"),
        ("parameter", "后端扩展"),
        ("id", "id"),
    ];
    v.descriptions = vec![
        ("name", "英文名(小写字母、数字、- 组成)，最长50个字符"),
        ("dag_json", "任务的上下游关系，目前不需要手动修改"),
        ("namespace", "部署task所在的命名空间(目前无需填写)"),
        ("node_selector", "部署task所在的机器(目前无需填写)"),
        (
            "image_pull_policy",
            "镜像拉取策略(always为总是拉取远程镜像，IfNotPresent为若本地存在则使用本地镜像)",
        ),
        ("depends_on_past", "任务运行是否依赖上一次的示例状态"),
        ("max_active_runs", "当前pipeline可同时运行的任务流实例数目"),
        ("expired_limit", "定时调度最新实例限制数目，0表示不限制"),
        ("parallelism", "一个任务流实例中可同时运行的task数目"),
        (
            "global_env",
            "公共环境变量会以环境变量的形式传递给每个task，可以配置多个公共环境变量，每行一个，支持datetime/creator/runner/uuid/pipeline_id等变量 例如：USERNAME={{creator}}",
        ),
        (
            "schedule_type",
            "调度类型，once仅运行一次，crontab周期运行，crontab配置保存一个小时候后才生效",
        ),
        (
            "cron_time",
            "周期任务的时间设定 * * * * * 表示为 minute hour day month week",
        ),
        ("alert_status", "选择通知状态"),
        ("alert_user", "选择通知用户，每个用户使用逗号分隔"),
        ("parameter", "后端扩展参数，用于配置是否为demo或固化任务流"),
        (
            "expand",
            "前端扩展参数，前端用于记录任务流节点位置和连线关系",
        ),
    ];
    v.cols_width = json!({
        "id": {"type": "ellip2", "width": 100}, "project": {"type": "ellip2", "width": 200}, "pipeline_url": {"type": "ellip2", "width": 400},
        "modified": {"type": "ellip2", "width": 150}, "creator": {"type": "ellip2", "width": 100}, "describe": {"type": "ellip2", "width": 200},
        "changed_on": {"type": "ellip2", "width": 100},
    });
    let text = |extra: Value| {
        let mut f = json!({"type": "String", "widget": "BS3Text"});
        if let (Value::Object(f), Value::Object(e)) = (&mut f, extra) {
            f.extend(e);
        }
        f
    };
    let json_area = || {
        json!({"type": "String", "default": "{}", "widget": "BS3TextArea", "ui-type": "json", "style": {"rows": 10},
        "validators": [{"type": "Length", "min": null, "max": 65536}]})
    };
    v.fields.insert(
        "project",
        json!({"type": "QuerySelect", "widget": "Select2"}),
    );
    v.fields.insert("name", text(json!({"validators": [{"type": "Regexp", "regex": "^[a-z][a-z0-9\\-]*[a-z0-9]$"}, {"type": "DataRequired"}, {"type": "Length", "min": 1, "max": 54}]})));
    v.fields.insert(
        "describe",
        text(json!({"validators": [{"type": "DataRequired"}]})),
    );
    v.fields.insert("schedule_type", json!({"type": "Select", "default": "once", "choices": [["once", "once"], ["crontab", "crontab"]], "widget": "Select2",
        "validators": [{"type": "Length", "min": null, "max": 7}, {"type": "DataRequired"}, {"type": "OneOf"}]}));
    v.fields.insert(
        "cron_time",
        text(json!({"validators": [{"type": "Length", "min": null, "max": 100}]})),
    );
    v.fields.insert(
        "depends_on_past",
        json!({"type": "Boolean", "default": true, "validators": []}),
    );
    for (name, default) in [
        ("max_active_runs", 1),
        ("expired_limit", 1),
        ("parallelism", 3),
    ] {
        v.fields.insert(name, json!({"type": "Integer", "default": default, "widget": "BS3Text", "validators": [{"type": "DataRequired"}]}));
    }
    let mut dag = json_area();
    dag["validators"] = json!([{"type": "DataRequired"}]);
    v.fields.insert("dag_json", dag);
    v.fields.insert("global_env", json!({"type": "String", "widget": "BS3TextArea", "validators": [{"type": "Length", "min": null, "max": 500}]}));
    v.fields.insert("alert_status", json!({"type": "MySelectMultiple", "widget": "Select2Many",
        "choices": [["Created","Created"],["Pending","Pending"],["Running","Running"],["Succeeded","Succeeded"],["Failed","Failed"],["Unknown","Unknown"],["Waiting","Waiting"],["Terminated","Terminated"]],
        "validators": [{"type": "Length", "min": 0, "max": 400}]}));
    v.fields.insert(
        "alert_user",
        text(json!({"validators": [{"type": "Length", "min": null, "max": 300}]})),
    );
    v.fields.insert("expand", json_area());
    v.fields.insert("parameter", json_area());
    v.rel_choices.insert("project", |ctx| {
        let t = SqlFrag::new("t.`type` = 'org'", vec![]);
        if ctx.is_admin {
            t
        } else {
            SqlFrag::and(vec![t, in_ids("t.`id`", &ctx.org_projects)])
        }
    });
    v.properties = vec![
        Property {
            name: "pipeline_url",
            compute: pipeline_url,
        },
        CREATOR,
        MODIFIED,
    ];
    v.actions = vec![
        ActionDef {
            name: "copy",
            text: "复制",
            confirmation: "复制所选记录?",
            icon: "fa-copy",
            multiple: true,
            single: false,
            run: copy_action,
            effects: None,
        },
        crate::api::muldelete(),
    ];
    v.related_views = vec![ids::TASK];
    v.filter_defaults = vec![("created_by", FilterDefault::CurrentUser)];
    v.hooks = hooks.clone();
    v.access = AccessRules::rows(Access::Owner);

    let mut home = v.clone();
    home.id = ids::PIPELINE_HOME;
    home.api_name = "Pipeline_ModelView_Home_Api";
    // the original's home view is the same view with two more list columns
    home.list_columns = cols(&[
        "id",
        "project",
        "pipeline_url",
        "creator",
        "modified",
        "changed_on",
        "describe",
    ]);
    vec![v, home]
}

/// `GET /pipeline_modelview/api/demo/list/` and `/my/list/`: whole rows, as the home page wants.
pub async fn home_list(
    state: web::Data<AppState>,
    ctx: Ctx,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let mine = req.path().contains("/my/");
    let rows = blocking(&state, move |st, conn| {
        // through the pipeline view: its visibility (type, project membership) applies
        let rv = st.resolved(ids::PIPELINE)?;
        let extra = if mine {
            SqlFrag::new("t.`created_by_fk` = ?", vec![Bind::Int(ctx.user_id as i64)])
        } else {
            SqlFrag::new("t.`parameter` LIKE '%\"demo\"%\"true\"%'", vec![])
        };
        let mut rows = select_visible(conn, &rv, &ctx, extra, "t.`id` DESC", 1000)?;
        if !mine {
            // the text match above only narrows: a demo is what pipeline::is_demo says
            rows.retain(is_demo);
        }
        Ok(rows)
    })
    .await?;
    Ok(ok(json!(rows)))
}

/// The compiled workflow of a pipeline, for a run or a dry run.
async fn compile_for(
    state: &web::Data<AppState>,
    ctx: &Ctx,
    id: i64,
    for_run: bool,
) -> Result<(app_core::pipeline::Compiled, Row), ApiError> {
    let c = ctx.clone();
    blocking(state, move |st, conn| {
        let p = visible_pipeline(st, conn, &c, id)?;
        if for_run && !owns(&c, &p) && !is_demo(&p) {
            return Err(ApiError::forbidden(
                "only the creator of the pipeline or an admin can run it",
            ));
        }
        if app_models::dashboard::task_count(conn, id)? == 0 {
            return Err(ApiError::bad_request(
                "the pipeline has no tasks: add tasks in the editor first",
            ));
        }
        let cfg = CompileConfig::from_config(&st.config);
        let input = app_core::pipeline::load_input(
            conn,
            id as i32,
            Some(&c.username),
            cfg,
            app_models::forms::now(),
        )
        .map_err(pipeline_error)?;
        let registry = st.kube.registry.clone();
        let compiled = app_core::pipeline::compile(&input, |k| registry.cluster_for(k))
            .map_err(pipeline_error)?;
        Ok((compiled, p))
    })
    .await
}

/// A pipeline problem as the user sees it: compile errors are 400 naming the problem.
pub fn pipeline_error(e: app_core::pipeline::PipelineError) -> ApiError {
    match e {
        app_core::pipeline::PipelineError::NotFound(_) => ApiError::not_found(),
        app_core::pipeline::PipelineError::Compile(c) => ApiError::bad_request(c.to_string()),
        app_core::pipeline::PipelineError::Db(d) => d.into(),
    }
}

/// `GET /pipeline_modelview/api/dry_run/<id>`: the workflow as YAML, not submitted.
pub async fn dry_run(
    state: web::Data<AppState>,
    ctx: Ctx,
    path: web::Path<i64>,
) -> Result<HttpResponse, ApiError> {
    let (compiled, _) = compile_for(&state, &ctx, path.into_inner(), false).await?;
    Ok(HttpResponse::Ok()
        .content_type("application/yaml; charset=utf-8")
        .body(app_core::argo::workflow_to_yaml(&compiled.workflow)))
}

/// `GET|POST /pipeline_modelview/api/run_pipeline/<id>`: replaces the previous manual run
/// with a new one on the cluster, as the original does.
pub async fn run_pipeline(
    state: web::Data<AppState>,
    ctx: Ctx,
    req: HttpRequest,
    path: web::Path<i64>,
) -> Result<HttpResponse, ApiError> {
    let id = path.into_inner();
    let started = std::time::Instant::now();
    let result = run_pipeline_inner(&state, &ctx, id).await;
    let status = match &result {
        Ok(_) => 200,
        Err(e) => e.http.as_u16(),
    };
    crate::api::log_event(
        &state,
        &ctx,
        &req,
        "Pipeline_ModelView_Api.run_pipeline",
        &[],
        status,
        started,
    )
    .await;
    let body = result?;
    let wants_page = req
        .headers()
        .get(header::ACCEPT)
        .and_then(|a| a.to_str().ok())
        .map(|a| a.contains("text/html"))
        .unwrap_or(false);
    if wants_page {
        let link = body["link"].as_str().unwrap_or("/frontend/").to_string();
        return Ok(HttpResponse::Found()
            .insert_header((header::LOCATION, link))
            .finish());
    }
    Ok(ok(body))
}

async fn run_pipeline_inner(
    state: &web::Data<AppState>,
    ctx: &Ctx,
    id: i64,
) -> Result<Value, ApiError> {
    let (compiled, _) = compile_for(state, ctx, id, true).await?;
    let client = state.kube.client(&compiled.cluster).await?;
    let ns = compiled.namespace.clone();
    let manifest = compiled.workflow.clone();
    let new_run = compiled.run_id.clone();
    // stop the previous manual runs (cron runs have their own lifecycle)
    let stopped: Vec<String> = state
        .kube
        .run(async move {
            let mut stopped = Vec::new();
            for wf in ops::list_objects(
                &client,
                &ops::WORKFLOW,
                Some(&ns),
                &format!("pipeline-id={id}"),
            )
            .await?
            {
                let labels = wf.metadata.labels.clone().unwrap_or_default();
                let manual = !matches!(
                    labels.get("schedule_type").map(String::as_str),
                    Some("crontab") | Some("contab")
                );
                if let Some(run) = labels.get("run-id").filter(|r| manual && **r != new_run) {
                    ops::delete_run(&client, &ns, run).await?;
                    stopped.push(run.clone());
                }
            }
            ops::submit_workflow(&client, &manifest).await?;
            Ok::<_, ops::OpsError>(stopped)
        })
        .await?
        .map_err(|e| ApiError::unavailable(format!("cluster {}: {e}", compiled.cluster)))?;
    let c2 = compiled.clone();
    let tz = state.config.schedule.time_zone;
    let runner = ctx.username.clone();
    blocking(state, move |_, conn| {
        app_core::pipeline::record_manual_run(conn, id as i32, &c2)?;
        let now = app_core::time_string_now(tz);
        app_core::pipeline::record_submitted_workflow(conn, &c2, &runner, &now)?;
        for run in &stopped {
            app_core::pipeline::mark_run_deleted(conn, run, &now)?;
        }
        Ok(())
    })
    .await?;
    let link = format!(
        "/frontend/commonRelation?backurl=/workflow_modelview/api/web/dag/{}/{}/{}",
        compiled.cluster, compiled.namespace, compiled.name
    );
    Ok(
        json!({"workflow": compiled.name, "namespace": compiled.namespace, "cluster": compiled.cluster, "run_id": compiled.run_id, "link": link}),
    )
}

/// `GET|POST /pipeline_modelview/api/copy_pipeline/<id>`.
pub async fn copy_route(
    state: web::Data<AppState>,
    ctx: Ctx,
    path: web::Path<i64>,
) -> Result<HttpResponse, ApiError> {
    let id = path.into_inner();
    let new_id = blocking(&state, move |st, conn| {
        visible_pipeline(st, conn, &ctx, id)?;
        diesel::Connection::transaction(conn, |conn| copy_pipeline(conn, &ctx, id))
    })
    .await?;
    Ok(ok(
        json!({"id": new_id, "link": format!("/pipeline_modelview/api/web/{new_id}")}),
    ))
}

/// `GET /pipeline_modelview/api/web/<id>`: the visual editor.
pub async fn editor(path: web::Path<i64>) -> HttpResponse {
    let id = path.into_inner();
    HttpResponse::Found()
        .insert_header((
            header::LOCATION,
            format!(
                "/frontend/showOutLink?url=/static/appbuilder/vison/index.html?pipeline_id={id}"
            ),
        ))
        .finish()
}

/// `GET /pipeline_modelview/api/web/{log,monitoring,pod,runhistory,workflow}/<id>`: the
/// pipeline's links to its last run's page, its Grafana board, its pods, its run history
/// and its workflows, redirecting where the original redirects. A pipeline the caller cannot see
/// is 404; `log` without a run yet is 404 with the original's message.
pub async fn pipeline_link(
    state: web::Data<AppState>,
    ctx: Ctx,
    req: HttpRequest,
    path: web::Path<(String, i64)>,
) -> Result<HttpResponse, ApiError> {
    let (kind, id) = path.into_inner();
    let row = blocking(&state, move |st, conn| {
        let row = visible_pipeline(st, conn, &ctx, id)?;
        let expand = select_rows_expand(conn, id_of(row.get("project_id")).unwrap_or(0))?;
        Ok((row, expand))
    })
    .await;
    let (row, expand) = row?;
    let text = |k: &str| {
        row.get(k)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string()
    };
    let settings = app_core::k8s::project::ProjectSettings::parse(expand.as_deref());
    let cluster = state.kube.registry.cluster_for(settings.cluster.as_deref());
    let filter =
        |v: Value| urlencoding::encode(&app_core::json_text::python_dumps(&v)).into_owned();
    let to = match kind.as_str() {
        "log" => {
            let workflow = text("pipeline_argo_id");
            if workflow.is_empty() {
                return Err(ApiError::new(
                    actix_web::http::StatusCode::NOT_FOUND,
                    "未发现之前启动的任务流实例，请先运行该实例 / the pipeline has not been run yet",
                ));
            }
            let ns = Some(text("namespace"))
                .filter(|n| !n.is_empty())
                .unwrap_or_else(|| "pipeline".into());
            format!(
                "/frontend/commonRelation?backurl=/workflow_modelview/api/web/dag/{cluster}/{ns}/{workflow}"
            )
        }
        "monitoring" => {
            let host = state
                .config
                .clusters
                .get(&cluster)
                .map(|c| c.host.clone())
                .filter(|h| !h.is_empty())
                .unwrap_or_else(|| req.connection_info().host().to_string());
            let host = host.rsplit('|').next().unwrap_or_default().to_string();
            format!(
                "//{host}/grafana/d/pod-info/pod-info?var-pod={}",
                text("name")
            )
        }
        "runhistory" => format!(
            "/frontend/train/train_task/runhistory?filter={}",
            filter(json!([{"key": "pipeline", "value": id}]))
        ),
        // the pods of its runs: the search page of its namespace, by pipeline name
        "pod" => {
            let ns = Some(text("namespace"))
                .filter(|n| !n.is_empty())
                .unwrap_or_else(|| "pipeline".into());
            format!(
                "/k8s/web/search/{cluster}/{ns}/{}",
                urlencoding::encode(&text("name").replace('_', "-").to_lowercase())
            )
        }
        "workflow" => format!(
            "/frontend/train/train_task/workflow?filter={}",
            filter(json!([{"key": "labels", "value": format!("\"pipeline-id\": \"{id}\"")}]))
        ),
        _ => return Err(ApiError::not_found()),
    };
    Ok(HttpResponse::Found()
        .insert_header((header::LOCATION, to))
        .finish())
}

/// Registers the routes that are not generic.
pub fn configure(r: &mut Routes<'_>) {
    r.tag(ids::PIPELINE.0);
    r.add(
        "GET",
        "/pipeline_modelview/api/web/{kind}/{id}",
        "The pipeline's links (kind: log = its last run's page, monitoring = its Grafana board, pod = its pods' search page, runhistory, workflow = its lists)",
        Answer::Other("302 redirect"),
        pipeline_link,
    );
    for method in ["GET", "POST"] {
        r.add(method, "/pipeline_modelview/api/run_pipeline/{id}", "Compile and submit the pipeline as an Argo Workflow (replaces its previous manual run)", Answer::Envelope(json!({"type": "object"})), run_pipeline);
    }
    r.add(
        "GET",
        "/pipeline_modelview/api/dry_run/{id}",
        "The Workflow the pipeline compiles to, as YAML (nothing submitted)",
        Answer::Other("text/yaml"),
        dry_run,
    );
    for method in ["GET", "POST"] {
        r.add(
            method,
            "/pipeline_modelview/api/copy_pipeline/{id}",
            "Copy a pipeline with its tasks",
            Answer::Envelope(json!({"type": "object"})),
            copy_route,
        );
    }
    r.add(
        "GET",
        "/pipeline_modelview/api/demo/list/",
        "Demo pipelines (home page cards)",
        Answer::Envelope(json!({"type": "array"})),
        home_list,
    );
    r.add(
        "GET",
        "/pipeline_modelview/api/my/list/",
        "The caller's pipelines (home page cards)",
        Answer::Envelope(json!({"type": "array"})),
        home_list,
    );
    r.add(
        "GET",
        "/pipeline_modelview/api/web/{id}",
        "Opens the pipeline editor",
        Answer::Other("302 redirect"),
        editor,
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_parameter(p: &str) -> Row {
        let mut r = Row::new();
        r.insert("parameter".into(), json!(p));
        r
    }

    #[test]
    fn demo_pipelines_are_told_by_their_parameter() {
        // as the seed stores it, and compact
        assert!(is_demo(&with_parameter(&pretty4(&json!({"demo": "true"})))));
        assert!(is_demo(&with_parameter(r#"{"demo":"true","x":1}"#)));
        // what new pipelines get, and other values
        assert!(!is_demo(&with_parameter("{}")));
        assert!(!is_demo(&with_parameter(r#"{"demo": "false"}"#)));
        assert!(!is_demo(&with_parameter(r#"{"demo": true}"#)));
        assert!(!is_demo(&with_parameter(r#"{"x": {"demo": "true"}}"#)));
        assert!(!is_demo(&with_parameter("not json \"demo\":\"true\"")));
        assert!(!is_demo(&Row::new()));
    }
}
