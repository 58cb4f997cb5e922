//! Tasks of a pipeline (`/task_modelview/api`): arguments checked against the job
//! template, resources checked and capped, mounts merged, the editor's layout kept in
//! step; single-task run / debug pods, their clean-up and logs.

use std::sync::Arc;

use actix_web::{HttpResponse, web};
use app_core::argo::CompileConfig;
use app_core::json_text::pretty4;
use app_core::k8s::pods::{TaskPodKind, build_task_pod};
use app_core::k8s::resources::{
    GpuConfig, ResourceCaps, check_resource_caps, parse_cpu, parse_gpu, parse_memory,
};
use app_core::k8s::{ops, project::ProjectSettings};
use diesel::mysql::MysqlConnection;
use serde_json::{Value, json};

use super::ids;
use super::pipeline::{is_demo, normalise_name, pipeline_error};
use crate::api::blocking;
use crate::auth::Ctx;
use crate::engine::sql::{Bind, SqlFrag, select_rows};
use crate::engine::view::{
    Access, AccessRules, ModelView, Row, ViewHooks, cols, id_of, in_ids, owns,
};
use crate::error::ApiError;
use crate::routing::{Answer, Routes};
use crate::state::AppState;

fn row_of(
    conn: &mut MysqlConnection,
    st_table: &crate::engine::meta::TableMeta,
    id: i64,
) -> Result<Option<Row>, ApiError> {
    Ok(
        select_rows(conn, st_table, &[], "WHERE t.`id` = ?", &[Bind::Int(id)])?
            .into_iter()
            .next(),
    )
}

/// Tasks: rules of orchestration.md §2.2.
pub struct TaskHooks {
    pub schema: Arc<crate::engine::meta::SchemaMeta>,
    pub caps: ResourceCaps,
    pub gpu: GpuConfig,
}

impl TaskHooks {
    fn table(&self, name: &str) -> Result<&crate::engine::meta::TableMeta, ApiError> {
        self.schema
            .table(name)
            .ok_or_else(|| ApiError::unavailable(format!("table {name} missing")))
    }

    fn pipeline(&self, conn: &mut MysqlConnection, id: Option<i64>) -> Result<Row, ApiError> {
        let id = id.ok_or_else(|| {
            ApiError::unprocessable("{'pipeline': ['Missing data for required field.']}")
        })?;
        row_of(conn, self.table("pipeline")?, id)?.ok_or_else(|| {
            ApiError::unprocessable("{'pipeline': ['Related Object doesn't exist in DB']}")
        })
    }

    fn editable_pipeline(
        &self,
        conn: &mut MysqlConnection,
        ctx: &Ctx,
        id: Option<i64>,
    ) -> Result<Row, ApiError> {
        let p = self.pipeline(conn, id)?;
        if is_demo(&p) {
            return Err(ApiError::unprocessable(
                "this is a demo pipeline: copy it to change its tasks",
            ));
        }
        if !owns(ctx, &p) {
            return Err(ApiError::unprocessable(
                "only the creator of the pipeline or an admin can change its tasks",
            ));
        }
        Ok(p)
    }

    /// Validates and normalises resources, args and mounts of the values to write.
    fn normalise(
        &self,
        conn: &mut MysqlConnection,
        ctx: &Ctx,
        values: &mut Row,
        old: Option<&Row>,
        pipeline: &Row,
    ) -> Result<(), ApiError> {
        if let Some(Value::String(n)) = values.get("name") {
            let n = normalise_name(n)?;
            values.insert("name".into(), json!(n));
        }
        let get = |k: &str| -> String {
            values
                .get(k)
                .or_else(|| old.and_then(|o| o.get(k)))
                .and_then(Value::as_str)
                .unwrap_or("")
                .trim()
                .to_string()
        };
        let mut memory = get("resource_memory");
        if !memory.is_empty() && memory.chars().all(|c| c.is_ascii_digit() || c == '.') {
            memory.push('G');
        }
        let cpu = if get("resource_cpu").is_empty() {
            "2".to_string()
        } else {
            get("resource_cpu")
        };
        let gpu_text = if get("resource_gpu").is_empty() {
            "0".to_string()
        } else {
            get("resource_gpu").to_uppercase()
        };
        let memory = if memory.is_empty() {
            "2G".to_string()
        } else {
            memory
        };
        parse_memory(&memory).map_err(|e| ApiError::unprocessable(e.to_string()))?;
        parse_cpu(&cpu).map_err(|e| ApiError::unprocessable(e.to_string()))?;
        let gpu =
            parse_gpu(&gpu_text, &self.gpu).map_err(|e| ApiError::unprocessable(e.to_string()))?;
        if !ctx.is_admin {
            let prev_gpu = old
                .and_then(|o| o.get("resource_gpu"))
                .and_then(Value::as_str)
                .and_then(|g| parse_gpu(g, &self.gpu).ok());
            let previous = match (old, &prev_gpu) {
                (Some(o), Some(g)) => Some((
                    o.get("resource_memory")
                        .and_then(Value::as_str)
                        .unwrap_or(""),
                    o.get("resource_cpu").and_then(Value::as_str).unwrap_or(""),
                    g,
                )),
                _ => None,
            };
            check_resource_caps(&memory, &cpu, &gpu, previous, &self.caps)
                .map_err(|e| ApiError::unprocessable(e.to_string()))?;
        }
        values.insert("resource_memory".into(), json!(memory));
        values.insert("resource_cpu".into(), json!(cpu));
        values.insert("resource_gpu".into(), json!(gpu_text));

        // the job template: its arg definitions and mandatory mounts
        let template_id = id_of(values.get("job_template_id"))
            .or_else(|| old.and_then(|o| id_of(o.get("job_template_id"))));
        let template = match template_id {
            Some(t) => row_of(conn, self.table("job_template")?, t)?,
            None => None,
        };
        if let Some(Value::String(args)) = values
            .get("args")
            .cloned()
            .or_else(|| old.is_none().then(|| json!("{}")))
        {
            let given = app_core::template_args::parse_json_object(&args, "args")
                .map_err(|e| ApiError::unprocessable(e.to_string()))?;
            let definition = template
                .as_ref()
                .and_then(|t| t.get("args").and_then(Value::as_str))
                .map(|a| app_core::template_args::validate_job_args(a).unwrap_or(json!({})))
                .unwrap_or(json!({}));
            let checked = app_core::template_args::validate_task_args(&definition, &given)
                .map_err(|e| ApiError::unprocessable(e.to_string()))?;
            values.insert("args".into(), json!(pretty4(&Value::Object(checked))));
        }
        if old.is_none() || values.contains_key("volume_mount") {
            let project_expand = row_of(
                conn,
                self.table("project")?,
                id_of(pipeline.get("project_id")).unwrap_or(0),
            )?
            .and_then(|p| p.get("expand").and_then(Value::as_str).map(String::from));
            let project_mounts = ProjectSettings::parse(project_expand.as_deref()).volume_mount();
            let given = values
                .get("volume_mount")
                .and_then(Value::as_str)
                .map(str::trim)
                .filter(|v| !v.is_empty())
                .map(String::from);
            let base = given.unwrap_or(project_mounts);
            let template_mounts = template
                .as_ref()
                .and_then(|t| t.get("volume_mount").and_then(Value::as_str))
                .unwrap_or("")
                .to_string();
            let merged = app_core::k8s::volumes::merge_volume_mounts(&base, &template_mounts);
            app_core::k8s::volumes::parse_volume_mounts(&merged)
                .map_err(|e| ApiError::unprocessable(format!("volume_mount: {e}")))?;
            values.insert("volume_mount".into(), json!(merged));
        }
        Ok(())
    }
}

fn add_to_layout(
    conn: &mut MysqlConnection,
    pipeline: &Row,
    task: &Row,
    describe: &str,
) -> Result<(), ApiError> {
    let pid = id_of(pipeline.get("id")).unwrap_or(0);
    let mut expand: Vec<Value> = pipeline
        .get("expand")
        .and_then(Value::as_str)
        .and_then(|e| serde_json::from_str(e).ok())
        .unwrap_or_default();
    let nodes = expand
        .iter()
        .filter(|n| n.get("position").is_some())
        .count() as i64;
    expand.push(json!({"id": task.get("id").map(|i| i.to_string()).unwrap_or_default(), "type": "dataSet",
        "position": {"x": 400, "y": 100 + 100 * nodes},
        "data": {"info": {"describe": describe}, "name": task.get("name"), "label": task.get("label")}}));
    let mut dag: serde_json::Map<String, Value> = pipeline
        .get("dag_json")
        .and_then(Value::as_str)
        .and_then(|d| serde_json::from_str(d).ok())
        .unwrap_or_default();
    if let Some(name) = task.get("name").and_then(Value::as_str) {
        dag.entry(name.to_string())
            .or_insert(json!({"upstream": []}));
    }
    app_models::dashboard::set_pipeline_layout(
        conn,
        i32::try_from(pid).map_err(|_| ApiError::not_found())?,
        &pretty4(&expand),
        Some(&pretty4(&Value::Object(dag))),
    )?;
    Ok(())
}

/// Renames or removes a task in its pipeline's `dag_json` and `expand`.
fn update_layout(
    conn: &mut MysqlConnection,
    pipeline: &Row,
    old_name: &str,
    new_name: Option<&str>,
    task_id: i64,
) -> Result<(), ApiError> {
    let pid = id_of(pipeline.get("id")).unwrap_or(0);
    let mut expand: Vec<Value> = pipeline
        .get("expand")
        .and_then(Value::as_str)
        .and_then(|e| serde_json::from_str(e).ok())
        .unwrap_or_default();
    let id = task_id.to_string();
    let dag_text = pipeline
        .get("dag_json")
        .and_then(Value::as_str)
        .unwrap_or("{}")
        .to_string();
    let dag = match new_name {
        Some(n) => dag_text.replace(&format!("\"{old_name}\""), &format!("\"{n}\"")),
        None => {
            expand.retain(|e| {
                e.get("id").and_then(Value::as_str) != Some(&id)
                    && e.get("source").and_then(Value::as_str) != Some(&id)
                    && e.get("target").and_then(Value::as_str) != Some(&id)
            });
            let names = super::pipeline::task_names(conn, pid)?;
            let keep: Vec<&str> = names
                .iter()
                .map(String::as_str)
                .filter(|n| *n != old_name)
                .collect();
            app_core::pipeline::prune_dag_json(&dag_text, &keep)
        }
    };
    if let Some(n) = new_name {
        for e in expand.iter_mut() {
            if e.get("id").and_then(Value::as_str) == Some(&id)
                && let Some(data) = e.get_mut("data").and_then(Value::as_object_mut)
            {
                data.insert("name".into(), json!(n));
            }
        }
    }
    app_models::dashboard::set_pipeline_layout(
        conn,
        i32::try_from(pid).map_err(|_| ApiError::not_found())?,
        &pretty4(&expand),
        Some(&dag),
    )?;
    Ok(())
}

impl ViewHooks for TaskHooks {
    fn base_filter(&self, ctx: &Ctx) -> Option<SqlFrag> {
        if ctx.is_admin {
            return None;
        }
        let p = in_ids("p.`project_id`", &ctx.org_projects);
        Some(SqlFrag::new(
            format!(
                "t.`pipeline_id` IN (SELECT p.`id` FROM `pipeline` p WHERE {})",
                p.sql
            ),
            p.binds,
        ))
    }
    fn pre_add_req(
        &self,
        conn: &mut MysqlConnection,
        ctx: &Ctx,
        req: &mut Row,
    ) -> Result<(), ApiError> {
        self.editable_pipeline(conn, ctx, id_of(req.get("pipeline")))?;
        if let Some(name) = req.get("name").and_then(Value::as_str).map(String::from)
            && req
                .get("label")
                .and_then(Value::as_str)
                .map(str::is_empty)
                .unwrap_or(true)
        {
            req.insert("label".into(), json!(name));
        }
        Ok(())
    }
    fn pre_add(
        &self,
        conn: &mut MysqlConnection,
        ctx: &Ctx,
        values: &mut Row,
    ) -> Result<(), ApiError> {
        let p = self.pipeline(conn, id_of(values.get("pipeline_id")))?;
        values.insert(
            "namespace".into(),
            p.get("namespace").cloned().unwrap_or(json!("pipeline")),
        );
        self.normalise(conn, ctx, values, None, &p)
    }
    fn post_add(&self, conn: &mut MysqlConnection, _: &Ctx, item: &Row) -> Result<(), ApiError> {
        let p = self.pipeline(conn, id_of(item.get("pipeline_id")))?;
        let describe = match id_of(item.get("job_template_id")) {
            Some(t) => row_of(conn, self.table("job_template")?, t)?
                .and_then(|t| t.get("describe").and_then(Value::as_str).map(String::from))
                .unwrap_or_default(),
            None => String::new(),
        };
        add_to_layout(conn, &p, item, &describe)
    }
    fn pre_update_req(
        &self,
        conn: &mut MysqlConnection,
        ctx: &Ctx,
        _: &mut Row,
        item: &Row,
    ) -> Result<(), ApiError> {
        self.editable_pipeline(conn, ctx, id_of(item.get("pipeline_id")))
            .map(|_| ())
    }
    fn pre_update(
        &self,
        conn: &mut MysqlConnection,
        ctx: &Ctx,
        values: &mut Row,
        old: &Row,
    ) -> Result<(), ApiError> {
        let p = self.pipeline(conn, id_of(old.get("pipeline_id")))?;
        self.normalise(conn, ctx, values, Some(old), &p)?;
        let old_name = old.get("name").and_then(Value::as_str).unwrap_or("");
        if let Some(new_name) = values.get("name").and_then(Value::as_str)
            && new_name != old_name
        {
            update_layout(
                conn,
                &p,
                old_name,
                Some(new_name),
                id_of(old.get("id")).unwrap_or(0),
            )?;
        }
        Ok(())
    }
    fn pre_delete(
        &self,
        conn: &mut MysqlConnection,
        ctx: &Ctx,
        item: &Row,
    ) -> Result<(), ApiError> {
        let p = self.editable_pipeline(conn, ctx, id_of(item.get("pipeline_id")))?;
        update_layout(
            conn,
            &p,
            item.get("name").and_then(Value::as_str).unwrap_or(""),
            None,
            id_of(item.get("id")).unwrap_or(0),
        )
    }
}

/// The original's task form: labels, descriptions, widths and declared fields.
fn task_form(v: &mut ModelView) {
    v.labels = vec![("overwrite_entrypoint", "覆盖原始启动命令")];
    v.descriptions = vec![
        ("name", "英文名(小写字母、数字、- 组成)，最长50个字符"),
        ("label", "中文名"),
        (
            "volume_mount",
            "外部挂载，格式:<br>$pvc_name1(pvc):/$container_path1,$hostpath1(hostpath):/$container_path2<br>注意pvc会自动挂载对应目录下的个人username子目录",
        ),
        (
            "working_dir",
            "工作目录，容器启动的初始所在目录，不填默认使用Dockerfile内定义的工作目录",
        ),
        ("command", "启动命令"),
        (
            "overwrite_entrypoint",
            "启动命令是否覆盖Dockerfile中ENTRYPOINT，不覆盖则叠加。",
        ),
        ("node_selector", "运行当前task所在的机器"),
        (
            "resource_memory",
            "内存的资源使用配置，示例1G，10G， 最大100G，如需更多联系管理员",
        ),
        (
            "resource_cpu",
            "cpu的资源使用配置(单位核)，示例 0.4，10，最大50核，如需更多联系管理员",
        ),
        ("timeout", "task运行时长限制，为0表示不限制(单位s)"),
        ("retry", "task重试次数"),
        ("outputs", "task输出文件，支持容器目录文件和minio存储路径"),
        (
            "resource_gpu",
            "gpu的资源使用配置(单位卡)，示例:1，2，训练任务每个容器独占整卡。申请具体的卡型号，可以类似 1(V100)",
        ),
        (
            "resource_rdma",
            "RDMA的资源使用配置，示例 0，1，10，填写方式咨询管理员",
        ),
    ];
    v.cols_width = json!({"name": {"type": "ellip2", "width": 250}, "label": {"type": "ellip2", "width": 200},
        "pipeline": {"type": "ellip2", "width": 200}, "job_template": {"type": "ellip2", "width": 200},
        "volume_mount": {"type": "ellip2", "width": 600}, "command": {"type": "ellip2", "width": 200},
        "args": {"type": "ellip2", "width": 400}, "created_on": {"type": "ellip2", "width": 300},
        "changed_on": {"type": "ellip2", "width": 300}, "monitoring": {"type": "ellip2", "width": 300},
        "node_selector": {"type": "ellip2", "width": 200}, "expand": {"type": "ellip2", "width": 300}});
    let text = |default: Value, validators: Value| json!({"type": "String", "widget": "BS3Text", "default": default, "validators": validators});
    let length = |max: i64| json!([{"type": "Length", "min": null, "max": max}]);
    v.fields.insert(
        "name",
        text(json!(""), json!([{"type": "Regexp", "regex": "^[a-z][a-z0-9\\-]*[a-z0-9]$"}, {"type": "DataRequired"}, {"type": "Length", "min": 1, "max": 54}])),
    );
    v.fields
        .insert("label", text(json!(""), json!([{"type": "DataRequired"}])));
    for rel in ["job_template", "pipeline"] {
        v.fields
            .insert(rel, json!({"type": "QuerySelect", "widget": "Select2"}));
    }
    v.fields
        .insert("working_dir", text(json!(""), length(1000)));
    v.fields.insert("command", text(json!(""), length(1000)));
    v.fields.insert(
        "args",
        json!({"type": "String", "widget": "BS3TextArea", "validators": [], "style": {"rows": 10}, "ui-type": "json"}),
    );
    v.fields.insert(
        "volume_mount",
        text(
            json!("kubeflow-user-workspace(pvc):/mnt"),
            json!([{"type": "Regexp", "regex": "^[\u{0}-\u{7f}]*$"}]),
        ),
    );
    v.fields.insert(
        "node_selector",
        text(json!("cpu=true;train=true"), json!([])),
    );
    v.fields.insert(
        "resource_memory",
        text(
            json!("2G"),
            json!([{"type": "DataRequired"}, {"type": "Regexp", "regex": "^[0-9]*G$"}]),
        ),
    );
    v.fields.insert(
        "resource_cpu",
        text(
            json!("2"),
            json!([{"type": "Regexp", "regex": "^[0-9]*$"}, {"type": "DataRequired"}]),
        ),
    );
    v.fields.insert(
        "resource_gpu",
        text(json!("0"), json!([{"type": "Regexp", "regex": "^[\\-\\.0-9,a-zA-Z\\(\\)]*$"}, {"type": "DataRequired"}])),
    );
    v.fields
        .insert("resource_rdma", text(json!("0"), length(100)));
    for name in ["timeout", "retry"] {
        v.fields.insert(
            name,
            json!({"type": "Integer", "widget": "BS3Text", "default": 0, "validators": [{"type": "DataRequired"}]}),
        );
    }
}

/// The task view.
pub fn views(
    config: &app_core::Config,
    schema: Arc<crate::engine::meta::SchemaMeta>,
) -> Vec<ModelView> {
    let mut v = ModelView::new(ids::TASK, "Task_ModelView_Api", "task", "任务");
    v.order_columns = cols(&["id"]);
    v.base_order = Some(("id", "asc"));
    v.search_columns = cols(&["pipeline", "name", "label"]);
    v.list_columns = cols(&[
        "name",
        "label",
        "pipeline",
        "job_template",
        "volume_mount",
        "node_selector",
        "command",
        "overwrite_entrypoint",
        "working_dir",
        "args",
        "resource_memory",
        "resource_cpu",
        "resource_gpu",
        "resource_rdma",
        "timeout",
        "retry",
        "created_by",
        "changed_by",
        "created_on",
        "changed_on",
        "monitoring",
        "expand",
    ]);
    v.add_columns = cols(&[
        "name",
        "label",
        "job_template",
        "pipeline",
        "working_dir",
        "command",
        "args",
        "volume_mount",
        "node_selector",
        "resource_memory",
        "resource_cpu",
        "resource_gpu",
        "resource_rdma",
        "timeout",
        "retry",
        "skip",
        "expand",
    ]);
    v.edit_columns = cols(&[
        "name",
        "label",
        "working_dir",
        "command",
        "args",
        "volume_mount",
        "node_selector",
        "resource_memory",
        "resource_cpu",
        "resource_gpu",
        "resource_rdma",
        "timeout",
        "retry",
        "skip",
        "expand",
    ]);
    task_form(&mut v);
    // the original offers extra mounts to admins only
    v.admin_form_columns = vec!["volume_mount"];
    v.show_columns = cols(&[
        "name",
        "label",
        "pipeline",
        "job_template",
        "volume_mount",
        "node_selector",
        "command",
        "overwrite_entrypoint",
        "working_dir",
        "args",
        "resource_memory",
        "resource_cpu",
        "resource_gpu",
        "resource_rdma",
        "timeout",
        "retry",
        "skip",
        "created_by",
        "changed_by",
        "created_on",
        "changed_on",
        "monitoring",
        "expand",
    ]);
    v.rel_choices.insert("job_template", |ctx| {
        if ctx.is_admin {
            SqlFrag::new("1=1", vec![])
        } else {
            SqlFrag::new("t.`version` = 'Release'", vec![])
        }
    });
    v.rel_choices.insert("pipeline", |ctx| {
        if ctx.is_admin {
            SqlFrag::new("1=1", vec![])
        } else {
            in_ids("t.`project_id`", &ctx.org_projects)
        }
    });
    // a task is changed by whoever owns its pipeline
    v.access = AccessRules::rows(Access::ParentOwner {
        fk: "pipeline_id",
        table: "pipeline",
    });
    v.hooks = Arc::new(TaskHooks {
        schema,
        caps: ResourceCaps::from_config(config),
        gpu: GpuConfig::default(),
    });
    vec![v]
}

/// What a single-task action needs: the pod and where it goes.
struct PodPlan {
    pod: k8s_openapi::api::core::v1::Pod,
    cluster: String,
    namespace: String,
    name: String,
    pipeline_id: i64,
}

async fn plan_pod(
    state: &web::Data<AppState>,
    ctx: &Ctx,
    task_id: i64,
    kind: TaskPodKind,
) -> Result<PodPlan, ApiError> {
    let c = ctx.clone();
    blocking(state, move |st, conn| {
        let rv = st.resolved(ids::TASK)?;
        let task = crate::engine::plan::load_visible(conn, &rv, &c, task_id)?
            .ok_or_else(ApiError::not_found)?;
        let pipeline_id = id_of(task.get("pipeline_id")).unwrap_or(0);
        let pipeline = super::pipeline::visible_pipeline(st, conn, &c, pipeline_id)?;
        if !owns(&c, &pipeline) {
            return Err(ApiError::forbidden(
                "only the creator of the pipeline or an admin can run its tasks",
            ));
        }
        let cfg = CompileConfig::from_config(&st.config);
        let mut input = app_core::pipeline::load_input(
            conn,
            pipeline_id as i32,
            Some(&c.username),
            cfg,
            app_models::forms::now(),
        )
        .map_err(pipeline_error)?;
        if kind == TaskPodKind::Run {
            input = input.with_run_id(&app_core::argo::run_pod_run_id(
                pipeline_id as i32,
                task_id as i32,
            ));
        } else {
            input = input.with_run_id(&app_core::argo::fresh_debug_run_id());
        }
        let name = task
            .get("name")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        let pod = build_task_pod(&input, &name, kind)
            .map_err(|e| ApiError::bad_request(e.to_string()))?;
        let settings = ProjectSettings::from_project(&input.project);
        let cluster = st.kube.registry.cluster_for(settings.cluster.as_deref());
        let namespace = pod
            .metadata
            .namespace
            .clone()
            .unwrap_or_else(|| "pipeline".into());
        let pod_name = pod.metadata.name.clone().unwrap_or_default();
        Ok(PodPlan {
            pod,
            cluster,
            namespace,
            name: pod_name,
            pipeline_id,
        })
    })
    .await
}

/// A redirect, as the original answers its task buttons (they open in a new tab).
fn redirect(to: String) -> HttpResponse {
    HttpResponse::Found()
        .insert_header((actix_web::http::header::LOCATION, to))
        .finish()
}

async fn start_pod(
    state: web::Data<AppState>,
    ctx: Ctx,
    id: i64,
    kind: TaskPodKind,
) -> Result<HttpResponse, ApiError> {
    let plan = plan_pod(&state, &ctx, id, kind).await?;
    let client = state.kube.client(&plan.cluster).await?;
    let pod = plan.pod.clone();
    let run_id = pod
        .metadata
        .labels
        .as_ref()
        .and_then(|l| l.get("run-id"))
        .cloned()
        .unwrap_or_default();
    let ns = plan.namespace.clone();
    state
        .kube
        .run(async move {
            if kind == TaskPodKind::Run {
                // a new run replaces the previous one and what it started
                ops::delete_run(&client, &ns, &run_id).await?;
            }
            ops::replace_pod(&client, &pod).await
        })
        .await?
        .map_err(|e| ApiError::unavailable(format!("cluster {}: {e}", plan.cluster)))?;
    let (c, ns, name) = (&plan.cluster, &plan.namespace, &plan.name);
    Ok(redirect(if kind == TaskPodKind::Run {
        format!("/k8s/web/log/{c}/{ns}/{name}")
    } else {
        // the debug pod's one container is named after the pod
        format!("/k8s/web/debug/{c}/{ns}/{name}/{name}")
    }))
}

/// `GET|POST /task_modelview/api/run/<id>`: the task alone in a `run-…` pod; then its
/// live log page.
pub async fn run_task(
    state: web::Data<AppState>,
    ctx: Ctx,
    path: web::Path<i64>,
) -> Result<HttpResponse, ApiError> {
    start_pod(state, ctx, path.into_inner(), TaskPodKind::Run).await
}

/// `GET|POST /task_modelview/api/debug/<id>`: a sleeping `debug-…` pod to work in; then
/// its shell page.
pub async fn debug_task(
    state: web::Data<AppState>,
    ctx: Ctx,
    path: web::Path<i64>,
) -> Result<HttpResponse, ApiError> {
    start_pod(state, ctx, path.into_inner(), TaskPodKind::Debug).await
}

/// `GET|POST /task_modelview/api/clear/<id>`: deletes the task's run and debug pods and
/// what they started; then back to the pipeline's editor, as the original.
pub async fn clear_task(
    state: web::Data<AppState>,
    ctx: Ctx,
    path: web::Path<i64>,
) -> Result<HttpResponse, ApiError> {
    let id = path.into_inner();
    let plan = plan_pod(&state, &ctx, id, TaskPodKind::Run).await?;
    let client = state.kube.client(&plan.cluster).await?;
    let (ns, run_name) = (plan.namespace.clone(), plan.name.clone());
    let debug_name = run_name.replacen("run-", "debug-", 1);
    let run_id = plan
        .pod
        .metadata
        .labels
        .as_ref()
        .and_then(|l| l.get("run-id"))
        .cloned()
        .unwrap_or_default();
    state
        .kube
        .run(async move {
            ops::delete_run(&client, &ns, &run_id).await?;
            ops::delete_pod(&client, &ns, &run_name).await?;
            ops::delete_pod(&client, &ns, &debug_name).await
        })
        .await?
        .map_err(|e| ApiError::unavailable(format!("cluster {}: {e}", plan.cluster)))?;
    Ok(redirect(format!(
        "/pipeline_modelview/api/web/{}",
        plan.pipeline_id
    )))
}

/// `GET|POST /task_modelview/api/log/<id>`: the live log page of the task's `run-…`
/// pod; back to the pipeline's editor when the task has no such pod (as the original).
pub async fn task_log(
    state: web::Data<AppState>,
    ctx: Ctx,
    path: web::Path<i64>,
) -> Result<HttpResponse, ApiError> {
    let plan = plan_pod(&state, &ctx, path.into_inner(), TaskPodKind::Run).await?;
    let client = state.kube.client(&plan.cluster).await?;
    let (ns, name) = (plan.namespace.clone(), plan.name.clone());
    let found = state
        .kube
        .run(async move { ops::get_pod(&client, &ns, &name).await })
        .await?
        .map_err(|e| ApiError::unavailable(format!("cluster {}: {e}", plan.cluster)))?;
    Ok(match found {
        Some(_) => redirect(format!(
            "/k8s/web/log/{}/{}/{}",
            plan.cluster, plan.namespace, plan.name
        )),
        None => {
            let mut r = redirect(format!("/pipeline_modelview/api/web/{}", plan.pipeline_id));
            if let Ok(v) = actix_web::http::header::HeaderValue::from_str(
                &crate::reply::flashes_header(&[("success", "未检测到当前task正在运行的容器")]),
            ) {
                r.headers_mut().insert(
                    actix_web::http::header::HeaderName::from_static("api_flashes"),
                    v,
                );
            }
            r
        }
    })
}

/// Registers the task routes that are not generic.
pub fn configure(r: &mut Routes<'_>) {
    r.tag(ids::TASK.0);
    for method in ["GET", "POST"] {
        r.add(
            method,
            "/task_modelview/api/run/{id}",
            "Run one task alone in a pod, then its live log page",
            Answer::Other("redirect"),
            run_task,
        );
        r.add(
            method,
            "/task_modelview/api/debug/{id}",
            "Start a debug pod of one task, then its shell page",
            Answer::Other("redirect"),
            debug_task,
        );
        r.add(
            method,
            "/task_modelview/api/clear/{id}",
            "Delete the task's run and debug pods, then the pipeline's editor",
            Answer::Other("redirect"),
            clear_task,
        );
        r.add(
            method,
            "/task_modelview/api/log/{id}",
            "The live log page of the task's run pod (the pipeline's editor when none)",
            Answer::Other("redirect"),
            task_log,
        );
    }
}
