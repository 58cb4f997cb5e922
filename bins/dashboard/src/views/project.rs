//! Projects: org groups (`/project_modelview/org/api`), job-template groups
//! (`/project_modelview/job_template/api`), the generic view, and members.

use std::sync::Arc;

use diesel::mysql::MysqlConnection;
use serde_json::{Map, Value, json};

use app_core::k8s::project::{Namespaces, ProjectSettings};
use app_core::k8s::volumes::VolumeKind;

use super::ids;
use super::properties::members_of;
use crate::auth::Ctx;
use crate::cluster::Kube;
use crate::engine::sql::{Bind, SqlFrag};
use crate::engine::view::{
    Access, AccessRules, ClusterCheck, ExpandSpec, ModelView, Property, Row, ViewHooks, ViewId,
    cols, id_of, in_ids,
};
use crate::error::ApiError;

fn expand_of(row: &Row) -> Map<String, Value> {
    row.get("expand")
        .and_then(Value::as_str)
        .and_then(|s| serde_json::from_str::<Value>(s).ok())
        .and_then(|v| {
            if let Value::Object(m) = v {
                Some(m)
            } else {
                None
            }
        })
        .unwrap_or_default()
}

fn project_user_prop(
    conn: &mut MysqlConnection,
    _: &Ctx,
    rows: &mut [Row],
) -> Result<(), ApiError> {
    let ids: Vec<i64> = rows
        .iter()
        .filter_map(|r| r.get("id").and_then(Value::as_i64))
        .collect();
    let members = members_of(conn, &ids)?;
    for r in rows.iter_mut() {
        let id = r.get("id").and_then(Value::as_i64).unwrap_or(-1);
        r.insert(
            "project_user".into(),
            json!(members.get(&id).map(|m| m.join(",")).unwrap_or_default()),
        );
    }
    Ok(())
}

fn job_template_prop(
    conn: &mut MysqlConnection,
    _: &Ctx,
    rows: &mut [Row],
) -> Result<(), ApiError> {
    let ids: Vec<i64> = rows
        .iter()
        .filter_map(|r| r.get("id").and_then(Value::as_i64))
        .collect();
    let names = app_models::dashboard::template_names_by_project(conn, &ids)?;
    for r in rows.iter_mut() {
        let id = r.get("id").and_then(Value::as_i64).unwrap_or(-1);
        r.insert(
            "job_template".into(),
            json!(names.get(&id).map(|n| n.join(",")).unwrap_or_default()),
        );
    }
    Ok(())
}

fn cluster_name_prop(_: &mut MysqlConnection, _: &Ctx, rows: &mut [Row]) -> Result<(), ApiError> {
    for r in rows.iter_mut() {
        let c = expand_of(r)
            .get("cluster")
            .and_then(Value::as_str)
            .unwrap_or("dev")
            .to_string();
        r.insert("cluster_name".into(), json!(c));
    }
    Ok(())
}

fn org_prop(_: &mut MysqlConnection, _: &Ctx, rows: &mut [Row]) -> Result<(), ApiError> {
    for r in rows.iter_mut() {
        let o = expand_of(r)
            .get("org")
            .and_then(Value::as_str)
            .unwrap_or("public")
            .to_string();
        r.insert("org".into(), json!(o));
    }
    Ok(())
}

/// Is `user_id` a `creator` member of project `project_id`?
pub fn is_project_creator(
    conn: &mut MysqlConnection,
    project_id: i64,
    user_id: i32,
) -> Result<bool, ApiError> {
    Ok(app_models::dashboard::is_project_creator(
        conn, project_id, user_id,
    )?)
}

/// Checks and normalises the `expand` JSON of a project.
fn normalise_expand(values: &mut Row) -> Result<(), ApiError> {
    if let Some(Value::String(s)) = values.get("expand") {
        let parsed: Value = if s.trim().is_empty() {
            json!({})
        } else {
            serde_json::from_str(s)
                .map_err(|e| ApiError::unprocessable(format!("expand is not valid JSON: {e}")))?
        };
        if !parsed.is_object() {
            return Err(ApiError::unprocessable("expand must be a JSON object"));
        }
        if let Some(vm) = parsed.get("volume_mount").and_then(Value::as_str) {
            app_core::k8s::volumes::parse_volume_mounts(vm)
                .map_err(|e| ApiError::unprocessable(format!("expand.volume_mount: {e}")))?;
        }
        values.insert(
            "expand".into(),
            json!(app_core::json_text::pretty4(&parsed)),
        );
    }
    Ok(())
}

/// Behaviour of the project views; `kind` is `org`, `job-template` or empty (generic).
pub struct ProjectHooks {
    pub kind: &'static str,
    /// Clusters, to check the PVCs an org project mounts.
    pub kube: Option<Arc<Kube>>,
    pub namespaces: Namespaces,
}

impl ProjectHooks {
    /// Every `(pvc)` / `(pvc-share)` volume must exist in each namespace of the project,
    /// on the project's cluster (the original's check; it saves users from pods stuck
    /// on a missing claim). Runs before the write's transaction, on the cluster runtime.
    async fn check_pvcs(&self, req: &Row, current: Option<&Row>) -> Result<(), ApiError> {
        let Some(kube) = &self.kube else {
            return Ok(());
        };
        let expand = current
            .map(|c| ProjectSettings::parse(c.get("expand").and_then(Value::as_str)))
            .unwrap_or_default();
        let volume_mount = match req.get("volume_mount").and_then(Value::as_str) {
            Some(v) => v.to_string(),
            None if current.is_some() => expand.volume_mount_raw.clone(),
            None => "kubeflow-user-workspace(pvc):/mnt/".to_string(),
        };
        let entries = app_core::k8s::volumes::parse_volume_mounts(&volume_mount)
            .map_err(|e| ApiError::unprocessable(format!("volume_mount: {e}")))?;
        let claims: Vec<String> = entries
            .iter()
            .filter(|e| matches!(e.kind, VolumeKind::Pvc | VolumeKind::PvcShare))
            .map(|e| e.source.clone())
            .collect();
        if claims.is_empty() {
            return Ok(());
        }
        let requested = req
            .get("cluster")
            .and_then(Value::as_str)
            .map(String::from)
            .or(expand.cluster.clone());
        let cluster = kube.registry.cluster_for(requested.as_deref());
        let client = kube.client(&cluster).await?;
        let ns = expand.namespaces(&self.namespaces);
        let mut namespaces = vec![ns.notebook, ns.pipeline, ns.service, ns.automl];
        namespaces.dedup();
        let missing = kube
            .run(async move {
                for ns in &namespaces {
                    for claim in &claims {
                        match app_core::k8s::ops::pvc_exists(&client, ns, claim).await {
                            Ok(true) => {}
                            Ok(false) => {
                                return Some(format!("pvc {claim} not exist in {ns} namespace"));
                            }
                            Err(e) => {
                                return Some(format!("cannot check pvc {claim} in {ns}: {e}"));
                            }
                        }
                    }
                }
                None
            })
            .await?;
        match missing {
            Some(m) => Err(ApiError::unprocessable(m)),
            None => Ok(()),
        }
    }
}

impl ViewHooks for ProjectHooks {
    fn base_filter(&self, ctx: &Ctx) -> Option<SqlFrag> {
        let type_filter = (!self.kind.is_empty())
            .then(|| SqlFrag::new("t.`type` = ?", vec![Bind::Text(self.kind.into())]));
        let membership = if ctx.is_admin {
            None
        } else {
            // members see their org projects; template groups are a shared catalogue
            let mine = in_ids("t.`id`", &ctx.org_projects);
            Some(SqlFrag::new(
                format!("(t.`type` <> 'org' OR t.`type` IS NULL OR {})", mine.sql),
                mine.binds,
            ))
        };
        Some(SqlFrag::and(
            type_filter.into_iter().chain(membership).collect(),
        ))
    }

    fn pre_add_req(
        &self,
        _: &mut MysqlConnection,
        ctx: &Ctx,
        req: &mut Row,
    ) -> Result<(), ApiError> {
        if !ctx.is_admin {
            return Err(ApiError::forbidden("only admins can add projects"));
        }
        if let Some(Value::String(vm)) = req.get("volume_mount") {
            app_core::k8s::volumes::parse_volume_mounts(vm)
                .map_err(|e| ApiError::unprocessable(format!("volume_mount: {e}")))?;
        }
        Ok(())
    }

    fn has_cluster_check(&self) -> bool {
        self.kind == "org" && self.kube.is_some()
    }

    fn cluster_check<'a>(
        &'a self,
        ctx: &'a Ctx,
        req: &'a Row,
        current: Option<&'a Row>,
    ) -> ClusterCheck<'a> {
        Box::pin(async move {
            match current {
                // only admins add projects: the transaction refuses the others (403)
                None if !ctx.is_admin => Ok(()),
                None => self.check_pvcs(req, None).await,
                Some(item) if req.contains_key("volume_mount") || req.contains_key("cluster") => {
                    self.check_pvcs(req, Some(item)).await
                }
                Some(_) => Ok(()),
            }
        })
    }

    fn pre_update_req(
        &self,
        _: &mut MysqlConnection,
        _: &Ctx,
        req: &mut Row,
        _: &Row,
    ) -> Result<(), ApiError> {
        if let Some(Value::String(vm)) = req.get("volume_mount") {
            app_core::k8s::volumes::parse_volume_mounts(vm)
                .map_err(|e| ApiError::unprocessable(format!("volume_mount: {e}")))?;
        }
        Ok(())
    }

    fn pre_add(&self, _: &mut MysqlConnection, _: &Ctx, values: &mut Row) -> Result<(), ApiError> {
        if !self.kind.is_empty() {
            values.insert("type".into(), json!(self.kind));
        }
        normalise_expand(values)
    }

    fn pre_update(
        &self,
        _: &mut MysqlConnection,
        _: &Ctx,
        values: &mut Row,
        old: &Row,
    ) -> Result<(), ApiError> {
        if !self.kind.is_empty()
            && old
                .get("type")
                .and_then(Value::as_str)
                .unwrap_or("")
                .is_empty()
        {
            values.insert("type".into(), json!(self.kind));
        }
        normalise_expand(values)
    }

    fn post_add(&self, conn: &mut MysqlConnection, ctx: &Ctx, item: &Row) -> Result<(), ApiError> {
        let id = id_of(item.get("id"))
            .and_then(|i| i32::try_from(i).ok())
            .ok_or_else(ApiError::not_found)?;
        // the creator of a project administers it
        app_models::dashboard::add_member(conn, id, ctx.user_id, "creator", ctx.user_id)?;
        Ok(())
    }

    fn pre_delete(&self, conn: &mut MysqlConnection, _: &Ctx, item: &Row) -> Result<(), ApiError> {
        let id = id_of(item.get("id"))
            .and_then(|i| i32::try_from(i).ok())
            .ok_or_else(ApiError::not_found)?;
        for (what, n) in app_models::dashboard::project_contents(conn, id)? {
            if n > 0 {
                return Err(ApiError::unprocessable(format!(
                    "the project still has {n} {what}; delete or move them first"
                )));
            }
        }
        app_models::dashboard::remove_members(conn, id)?;
        Ok(())
    }

    fn add_more_info(&self, ctx: &Ctx, info: &mut Map<String, Value>) {
        if !self.kind.is_empty() {
            let perms: Vec<&str> = if ctx.is_admin {
                vec!["can_add", "can_edit", "can_delete", "can_list", "can_show"]
            } else {
                vec!["can_list", "can_show"]
            };
            info.insert("permissions".into(), json!(perms));
        }
    }
}

fn expand_field(kind: &str) -> Value {
    let description = if kind == "org" {
        "扩展参数。示例参数：<br>\"cluster\": \"dev\"<br>\"org\": \"public\"<br>\"volume_mount\": \"kubeflow-user-workspace(pvc):/mnt/;/data/k8s/../group1(hostpath):/group1\"<br>\"SERVICE_EXTERNAL_IP\":\"xx.内网.xx.xx|xx.公网.xx.xx\""
    } else {
        "扩展参数。示例参数：<br>\"index\": 0   表示在pipeline编排中的模板列表的排序位置"
    };
    json!({"type": "String", "default": "{}", "description": description, "validators": [{"type": "Length", "min": null, "max": 65536}],
           "choices": [], "widget": "BS3TextArea", "ui-type": "json", "style": {"rows": 3}})
}

fn project_base(
    id: ViewId,
    api_name: &'static str,
    kind: &'static str,
    label: &'static str,
    hooks: ProjectHooks,
) -> ModelView {
    let mut v = ModelView::new(id, api_name, "project", label);
    v.base_order = Some(("id", "desc"));
    v.order_columns = cols(&["id"]);
    v.add_columns = cols(&["name", "describe", "expand"]);
    v.edit_columns = v.add_columns.clone();
    v.search_columns = cols(&["name"]);
    v.show_columns = cols(&[
        "created_by",
        "changed_by",
        "created_on",
        "changed_on",
        "name",
        "describe",
        "type",
        "expand",
        "user",
    ]);
    v.cols_width = json!({
        "name": {"type": "ellip1", "width": 100},
        "describe": {"type": "ellip1", "width": 150},
        "user": {"type": "ellip2", "width": 700},
        "type": {"type": "ellip1", "width": 100},
    });
    v.fields.insert("expand", expand_field(kind));
    v.hooks = Arc::new(hooks);
    // a project's creators edit it; only admins delete projects
    v.access = AccessRules {
        edit: Access::ProjectCreator { project: "id" },
        delete: Access::AdminRow,
        ..AccessRules::default()
    };
    v
}

/// The three project views and the member view.
pub fn views(config: &app_core::Config, kube: &Arc<Kube>) -> Vec<ModelView> {
    let namespaces = Namespaces::from_config(config);
    let hooks = |kind: &'static str| ProjectHooks {
        kind,
        kube: (kind == "org").then(|| kube.clone()),
        namespaces: namespaces.clone(),
    };
    let mut tpl = project_base(
        ids::PROJECT_JOB_TEMPLATE,
        "Project_ModelView_job_template_Api",
        "job-template",
        "模板分组",
        hooks("job-template"),
    );
    tpl.list_columns = cols(&["name", "job_template", "type"]);
    tpl.cols_width["job_template"] = json!({"type": "ellip2", "width": 700});
    tpl.properties = vec![Property {
        name: "job_template",
        compute: job_template_prop,
    }];

    let mut org = project_base(
        ids::PROJECT_ORG,
        "Project_ModelView_org_Api",
        "org",
        "项目分组",
        hooks("org"),
    );
    org.list_columns = cols(&["name", "project_user", "cluster_name", "org"]);
    org.cols_width["project_user"] = json!({"type": "ellip2", "width": 700});
    org.labels = vec![("cluster_name", "集群"), ("org", "资源组")];
    org.properties = vec![
        Property {
            name: "project_user",
            compute: project_user_prop,
        },
        Property {
            name: "cluster_name",
            compute: cluster_name_prop,
        },
        Property {
            name: "org",
            compute: org_prop,
        },
    ];
    org.related_views = vec![ids::PROJECT_USER];
    if let Some(f) = org.fields.get_mut("expand") {
        f["ui-type"] = json!("textArea");
    }
    let clusters: Vec<Value> = config.clusters.keys().map(|k| json!([k, k])).collect();
    let cluster_values: Vec<Value> = config
        .clusters
        .keys()
        .map(|k| json!({"id": k, "value": k}))
        .collect();
    org.expand = Some(ExpandSpec {
        column: "expand",
        fields: vec![
            json!({"type": "Select", "description": "使用该项目组的所有任务部署到的目的集群", "label": "集群", "default": config.environment,
                   "validators": [{"type": "DataRequired"}], "choices": clusters, "widget": "Select2", "values": cluster_values, "ui-type": "select", "name": "cluster"}),
            json!({"type": "String", "description": "<span style=\"word-break: break-all;\">使用该项目组新增的所有pod会自动添加该挂载，格式:<br>$pvc_name1(pvc):/$container_path1,$hostpath1(hostpath):/$container_path2,$storage_name(storage):/$container_path3 <br>注意pvc会自动挂载对应目录下的个人username子目录。示例：<br>kubeflow-user-workspace(pvc):/mnt/,/data/k8s/kubeflow/group1(hostpath):/group1,nfs-test(storage):/nfs</span>",
                   "label": "挂载", "default": "kubeflow-user-workspace(pvc):/mnt/", "validators": [{"type": "Regexp", "regex": "^[\u{0}-\u{7f}]*$"}],
                   "choices": [], "widget": "BS3Text", "ui-type": "input", "name": "volume_mount"}),
            json!({"type": "String", "description": "服务的代理ip，xx.内网.xx.xx|xx.公网.xx.xx", "label": "服务代理ip", "default": "", "validators": [],
                   "choices": [], "widget": "BS3Text", "ui-type": "input", "name": "SERVICE_EXTERNAL_IP"}),
            json!({"type": "Select", "description": "使用该项目组的所有任务部署到的目的资源组，通过机器label org=xx决定", "label": "资源组", "default": "public",
                   "validators": [{"type": "DataRequired"}], "choices": [["public", "public"]], "widget": "Select2", "ui-type": "input-select",
                   "values": [{"id": "public", "value": "public"}], "name": "org"}),
        ],
    });
    // the form fields replace expand's keys; labels for them
    org.labels.extend([
        ("cluster", "集群"),
        ("volume_mount", "挂载"),
        ("SERVICE_EXTERNAL_IP", "服务代理ip"),
    ]);

    let mut generic = ModelView::new(ids::PROJECT, "Project_ModelView_Api", "project", "");
    generic.plain_titles = true;
    generic.cols_width = super::shared_cols_width();
    generic.related_views = vec![ids::PROJECT_USER];
    generic.hooks = Arc::new(hooks(""));
    generic.access = tpl.access;

    vec![tpl, org, generic, members_view()]
}

/// Hooks of the member view: only admins and project creators manage members.
pub struct ProjectUserHooks;

fn require_creator(
    conn: &mut MysqlConnection,
    ctx: &Ctx,
    project_id: Option<i64>,
) -> Result<(), ApiError> {
    if ctx.is_admin {
        return Ok(());
    }
    match project_id {
        Some(p) if is_project_creator(conn, p, ctx.user_id)? => Ok(()),
        _ => Err(ApiError::unprocessable("just creator can add/edit user")),
    }
}

impl ViewHooks for ProjectUserHooks {
    fn base_filter(&self, ctx: &Ctx) -> Option<SqlFrag> {
        if ctx.is_admin {
            return None;
        }
        let mut ids = ctx.org_projects.clone();
        ids.extend(&ctx.creator_projects);
        Some(in_ids("t.`project_id`", &ids))
    }
    fn pre_add_req(
        &self,
        conn: &mut MysqlConnection,
        ctx: &Ctx,
        req: &mut Row,
    ) -> Result<(), ApiError> {
        require_creator(conn, ctx, id_of(req.get("project")))
    }
    fn pre_update_req(
        &self,
        conn: &mut MysqlConnection,
        ctx: &Ctx,
        req: &mut Row,
        item: &Row,
    ) -> Result<(), ApiError> {
        require_creator(conn, ctx, id_of(item.get("project_id")))?;
        if let Some(p) = id_of(req.get("project"))
            && Some(p) != id_of(item.get("project_id"))
        {
            require_creator(conn, ctx, Some(p))?;
        }
        Ok(())
    }
}

fn org_choice(ctx: &Ctx) -> SqlFrag {
    let t = SqlFrag::new("t.`type` = 'org'", vec![]);
    if ctx.is_admin {
        t
    } else {
        SqlFrag::and(vec![t, in_ids("t.`id`", &ctx.creator_projects)])
    }
}

fn members_view() -> ModelView {
    let mut v = ModelView::new(
        ids::PROJECT_USER,
        "Project_User_ModelView_Api",
        "project_user",
        "组成员",
    );
    v.add_columns = cols(&["project", "user", "role"]);
    v.edit_columns = cols(&["project", "user", "role"]);
    v.list_columns = cols(&["user", "role", "org"]);
    v.labels = vec![("org", "资源组")];
    v.show_columns = cols(&[
        "project",
        "user",
        "created_by",
        "changed_by",
        "created_on",
        "changed_on",
        "role",
        "quota",
        "org",
        "expand",
    ]);
    v.cols_width = super::shared_cols_width();
    // the original's filters (its search columns) are its show columns
    v.search_columns = v.show_columns.clone();
    v.order_columns = cols(&["role", "org"]);
    let desc = "只有creator可以添加修改组成员，可以添加多个creator";
    v.descriptions = vec![("project", desc), ("role", desc)];
    v.fields.insert(
        "project",
        json!({"type": "QuerySelect", "widget": "Select2", "required": true}),
    );
    v.fields.insert(
        "role",
        json!({"type": "Select", "default": "dev", "choices": [["dev", "dev"], ["ops", "ops"], ["creator", "creator"]],
               "widget": "Select2", "validators": [{"type": "DataRequired"}], "required": false}),
    );
    v.rel_choices.insert("project", org_choice);
    v.hooks = Arc::new(ProjectUserHooks);
    v.access = AccessRules::rows(Access::ProjectCreator {
        project: "project_id",
    });
    v
}
