//! What the SQLAlchemy models of cube-studio knew and the database does not: relations,
//! how a row prints (`__repr__`), ORM-side defaults, and column labels.

use serde_json::{Value, json};

/// A default the original kept in Python (data-model.md §0.3).
#[derive(Debug, Clone, Copy)]
pub enum OrmDefault {
    Str(&'static str),
    Int(i64),
    Bool(bool),
    Float(f64),
    /// `datetime.now` on a DATETIME column.
    Now,
    /// `str(datetime.now())` on a string column.
    NowString,
    /// `g.user.id`.
    CurrentUser,
}

impl OrmDefault {
    /// The value `_info` shows (callables show as null, like FAB).
    pub fn info_value(self) -> Value {
        match self {
            OrmDefault::Str(s) => json!(s),
            OrmDefault::Int(i) => json!(i),
            OrmDefault::Bool(b) => json!(b),
            OrmDefault::Float(f) => json!(f),
            _ => Value::Null,
        }
    }
}

/// How a relation attribute of a model reaches other rows.
#[derive(Debug, Clone, Copy)]
pub enum RelationKind {
    /// `fk` on this table → `target.id`
    ManyToOne {
        fk: &'static str,
        target: &'static str,
    },
    /// rows of `target` whose `fk` = this id
    OneToMany {
        target: &'static str,
        fk: &'static str,
    },
    /// rows of `target` linked through `through(self_fk, other_fk)`
    ManyToMany {
        through: &'static str,
        self_fk: &'static str,
        other_fk: &'static str,
        target: &'static str,
    },
}

/// A named relation attribute (`project.user`, `images.project`, `ab_user.roles`).
#[derive(Debug, Clone, Copy)]
pub struct Relation {
    pub name: &'static str,
    pub kind: RelationKind,
}

impl Relation {
    pub fn target(&self) -> &'static str {
        match self.kind {
            RelationKind::ManyToOne { target, .. } => target,
            RelationKind::OneToMany { target, .. } => target,
            RelationKind::ManyToMany { target, .. } => target,
        }
    }
    pub fn is_many(&self) -> bool {
        !matches!(self.kind, RelationKind::ManyToOne { .. })
    }
}

/// Static knowledge of one table.
#[derive(Debug, Clone)]
pub struct ModelDef {
    pub table: &'static str,
    /// SQL expression printing a row of alias `t` (the model's `__repr__`).
    pub repr_sql: &'static str,
    pub audit: bool,
    pub relations: Vec<Relation>,
    pub defaults: Vec<(&'static str, OrmDefault)>,
    /// Columns never serialised (password hashes).
    pub secret_columns: &'static [&'static str],
    /// What `_info.columns_info` adds to the relations above, as the original's model
    /// declares it: relationships only it has (back references the dashboard does not
    /// traverse), the class a relationship names (`job_template.images` → `Images`),
    /// and SQLAlchemy types the database cannot tell (a `mediumtext` is `Text(65536)`,
    /// `Text(655360)` or a bare `Text` in the model).
    pub info: ModelInfo,
}

/// See [`ModelDef::info`].
#[derive(Debug, Clone, Copy, Default)]
pub struct ModelInfo {
    pub relationships: &'static [&'static str],
    pub relationship_classes: &'static [(&'static str, &'static str)],
    pub column_types: &'static [(&'static str, &'static str)],
}

impl ModelDef {
    /// The SQLAlchemy type of a column as `_info` shows it: the model's declared type,
    /// else what the database says.
    pub fn sqla_type<'a>(&self, column: &'a super::meta::ColumnMeta) -> &'a str {
        self.info
            .column_types
            .iter()
            .find(|(c, _)| *c == column.name)
            .map(|(_, t)| *t)
            .unwrap_or(column.sqla_type.as_str())
    }
    pub fn relation(&self, name: &str) -> Option<&Relation> {
        self.relations.iter().find(|r| r.name == name)
    }
    pub fn default_of(&self, column: &str) -> Option<OrmDefault> {
        self.defaults
            .iter()
            .find(|(c, _)| *c == column)
            .map(|(_, d)| *d)
    }
    /// FK columns that belong to relations (FAB hides them from default column lists).
    pub fn fk_columns(&self) -> Vec<&'static str> {
        let mut v: Vec<&'static str> = self
            .relations
            .iter()
            .filter_map(|r| match r.kind {
                RelationKind::ManyToOne { fk, .. } => Some(fk),
                _ => None,
            })
            .collect();
        if self.audit {
            v.push("created_by_fk");
            v.push("changed_by_fk");
        }
        v
    }
}

const fn m2o(name: &'static str, fk: &'static str, target: &'static str) -> Relation {
    Relation {
        name,
        kind: RelationKind::ManyToOne { fk, target },
    }
}

const AUDIT_DEFAULTS: [(&str, OrmDefault); 4] = [
    ("created_on", OrmDefault::Now),
    ("changed_on", OrmDefault::Now),
    ("created_by_fk", OrmDefault::CurrentUser),
    ("changed_by_fk", OrmDefault::CurrentUser),
];

fn audited(
    table: &'static str,
    repr_sql: &'static str,
    mut relations: Vec<Relation>,
    defaults: &[(&'static str, OrmDefault)],
) -> ModelDef {
    relations.insert(0, m2o("created_by", "created_by_fk", "ab_user"));
    relations.insert(1, m2o("changed_by", "changed_by_fk", "ab_user"));
    let mut d: Vec<(&'static str, OrmDefault)> = AUDIT_DEFAULTS.to_vec();
    d.extend_from_slice(defaults);
    ModelDef {
        table,
        repr_sql,
        audit: true,
        relations,
        defaults: d,
        secret_columns: &[],
        info: ModelInfo::default(),
    }
}

/// Every model the dashboard serves.
pub fn all_models() -> Vec<ModelDef> {
    use OrmDefault::*;
    vec![
        ModelDef {
            table: "ab_user",
            repr_sql: "t.`username`",
            audit: false,
            relations: vec![
                Relation {
                    name: "roles",
                    kind: RelationKind::ManyToMany {
                        through: "ab_user_role",
                        self_fk: "user_id",
                        other_fk: "role_id",
                        target: "ab_role",
                    },
                },
                m2o("created_by", "created_by_fk", "ab_user"),
                m2o("changed_by", "changed_by_fk", "ab_user"),
            ],
            defaults: vec![
                ("active", Bool(true)),
                ("created_on", Now),
                ("changed_on", Now),
                ("balance", Str("{}")),
                ("coupon", Str("{}")),
                ("voucher", Str("{}")),
                ("bill", Str("{}")),
                ("real_name_authentication", Str("{}")),
                ("subaccount", Str("{}")),
            ],
            secret_columns: &["password"],
            info: ModelInfo {
                relationships: &["changed", "created", "user"],
                ..ModelInfo::default()
            },
        },
        ModelDef {
            table: "ab_role",
            repr_sql: "t.`name`",
            audit: false,
            relations: vec![Relation {
                name: "permissions",
                kind: RelationKind::ManyToMany {
                    through: "ab_permission_view_role",
                    self_fk: "role_id",
                    other_fk: "permission_view_id",
                    target: "ab_permission_view",
                },
            }],
            defaults: vec![],
            secret_columns: &[],
            info: ModelInfo {
                relationships: &["user"],
                ..ModelInfo::default()
            },
        },
        // a permission on a view, as FAB prints it (`can list on Project_ModelView_Api`)
        ModelDef {
            table: "ab_permission_view",
            repr_sql: "CONCAT(COALESCE((SELECT p.`name` FROM `ab_permission` p WHERE p.`id` = t.`permission_id`), ''), ' on ', COALESCE((SELECT v.`name` FROM `ab_view_menu` v WHERE v.`id` = t.`view_menu_id`), ''))",
            audit: false,
            relations: vec![
                m2o("permission", "permission_id", "ab_permission"),
                m2o("view_menu", "view_menu_id", "ab_view_menu"),
            ],
            defaults: vec![],
            secret_columns: &[],
            info: ModelInfo::default(),
        },
        audited(
            "project",
            "t.`name`",
            vec![Relation {
                name: "user",
                kind: RelationKind::OneToMany {
                    target: "project_user",
                    fk: "project_id",
                },
            }],
            &[("expand", Str("{}"))],
        ),
        audited(
            "project_user",
            "CONCAT(COALESCE((SELECT u.`username` FROM `ab_user` u WHERE u.`id` = t.`user_id`), ''), '(', t.`role`, ')')",
            vec![
                m2o("project", "project_id", "project"),
                m2o("user", "user_id", "ab_user"),
            ],
            &[
                ("role", Str("dev")),
                ("quota", Str("")),
                ("org", Str("")),
                ("expand", Str("{}")),
            ],
        ),
        ModelDef {
            secret_columns: &["password"],
            ..audited("repository", "t.`name`", vec![], &[])
        },
        audited(
            "images",
            "t.`name`",
            vec![
                m2o("project", "project_id", "project"),
                m2o("repository", "repository_id", "repository"),
            ],
            &[],
        ),
        ModelDef {
            info: ModelInfo {
                relationship_classes: &[("images", "Images")],
                ..ModelInfo::default()
            },
            ..audited(
                "job_template",
                "t.`name`",
                vec![
                    m2o("project", "project_id", "project"),
                    m2o("images", "images_id", "images"),
                ],
                &[
                    ("version", Str("Release")),
                    ("volume_mount", Str("")),
                    ("privileged", Bool(false)),
                    ("expand", Str("{}")),
                ],
            )
        },
        ModelDef {
            info: ModelInfo {
                column_types: &[("pipeline_file", "TEXT(655360)")],
                ..ModelInfo::default()
            },
            ..audited(
                "pipeline",
                "t.`name`",
                vec![m2o("project", "project_id", "project")],
                &[
                    ("dag_json", Str("{}")),
                    ("namespace", Str("pipeline")),
                    ("global_env", Str("")),
                    ("schedule_type", Str("once")),
                    ("cronjob_start_time", Str("")),
                    ("pipeline_file", Str("")),
                    ("node_selector", Str("cpu=true;train=true")),
                    ("image_pull_policy", Str("Always")),
                    ("parallelism", Int(1)),
                    (
                        "alert_status",
                        Str("Pending,Running,Succeeded,Failed,Terminated"),
                    ),
                    ("alert_user", Str("")),
                    ("expand", Str("[]")),
                    ("depends_on_past", Bool(false)),
                    ("max_active_runs", Int(3)),
                    ("expired_limit", Int(0)),
                    ("parameter", Str("{}")),
                    ("priority", Str("high")),
                    ("type", Str("")),
                ],
            )
        },
        audited(
            "task",
            "t.`name`",
            vec![
                m2o("pipeline", "pipeline_id", "pipeline"),
                m2o("job_template", "job_template_id", "job_template"),
            ],
            &[
                ("namespace", Str("pipeline")),
                ("working_dir", Str("")),
                ("command", Str("")),
                ("overwrite_entrypoint", Bool(false)),
                ("volume_mount", Str("kubeflow-user-workspace(pvc):/mnt")),
                ("node_selector", Str("cpu=true;train=true")),
                ("resource_memory", Str("2G")),
                ("resource_cpu", Str("2")),
                ("resource_gpu", Str("0")),
                ("resource_rdma", Str("0")),
                ("timeout", Int(0)),
                ("retry", Int(0)),
                ("outputs", Str("{}")),
                ("monitoring", Str("{}")),
                ("expand", Str("")),
                ("skip", Bool(false)),
            ],
        ),
        ModelDef {
            table: "run",
            repr_sql: "t.`execution_date`",
            audit: false,
            relations: vec![m2o("pipeline", "pipeline_id", "pipeline")],
            defaults: vec![
                ("pipeline_file", Str("")),
                ("message", Str("")),
                ("created_on", Now),
                ("status", Str("comed")),
            ],
            secret_columns: &[],
            info: ModelInfo {
                column_types: &[("pipeline_file", "TEXT(655360)")],
                ..ModelInfo::default()
            },
        },
        ModelDef {
            table: "workflow",
            repr_sql: "t.`name`",
            audit: false,
            relations: vec![],
            defaults: vec![
                ("name", Str("")),
                ("cluster", Str("")),
                ("namespace", Str("")),
                ("create_time", Str("")),
                ("change_time", Str("")),
                ("status", Str("")),
                ("annotations", Str("")),
                ("labels", Str("")),
                ("spec", Str("")),
                ("status_more", Str("")),
                ("username", Str("")),
                ("info_json", Str("{}")),
                ("add_row_time", Now),
                ("foreign_key", Str("")),
            ],
            secret_columns: &[],
            info: ModelInfo {
                column_types: &[("spec", "TEXT(655360)"), ("status_more", "TEXT")],
                ..ModelInfo::default()
            },
        },
        ModelDef {
            table: "logs",
            repr_sql: "CAST(t.`id` AS CHAR)",
            audit: false,
            relations: vec![m2o("user", "user_id", "ab_user")],
            defaults: vec![("dttm", Now)],
            secret_columns: &[],
            info: ModelInfo {
                relationship_classes: &[("user", "MyUser")],
                ..ModelInfo::default()
            },
        },
    ]
}

/// Labels of common columns (what the original shows in its zh locale).
pub fn default_label(column: &str) -> Option<&'static str> {
    Some(match column {
        "name" | "name_url" => "名称",
        "project" | "project_url" => "项目组",
        "namespace" => "命名空间",
        "describe" => "描述",
        "password" => "密码",
        "workdir" => "工作目录",
        "images" | "images_url" => "镜像",
        "repository" => "仓库",
        "args" => "启动参数",
        "demo" => "参数示例",
        "entrypoint" => "启动命令",
        "dockerfile" => "Dockerfile",
        "gitpath" => "git地址",
        "env" => "环境变量",
        "privileged" => "特权模式",
        "accounts" => "k8s账号",
        "host_aliases" => "host",
        "command" => "启动命令",
        "working_dir" => "启动目录",
        "volume_mount" => "挂载目录",
        "node_selector" => "调度机器",
        "image_pull_policy" => "镜像拉取策略",
        "resource_memory" => "内存申请",
        "resource_cpu" => "cpu申请",
        "resource_gpu" => "gpu申请",
        "resource_rdma" => "rdma申请",
        "timeout" => "超时中断",
        "retry" => "重试次数",
        "outputs" => "输出",
        "version" => "版本",
        "status" | "status_url" => "状态",
        "final_status" => "最终状态",
        "pipeline" | "pipeline_url" => "任务流",
        "pipeline_id" => "任务流id",
        "run_id" => "运行id",
        "type" => "类型",
        "user" | "project_user" => "用户",
        "role" => "角色",
        "dag_json" => "流向图",
        "username" => "用户名",
        "nickname" => "昵称",
        "schedule_type" => "调度类型",
        "cron_time" => "调度周期",
        "global_env" => "全局环境变量",
        "parallelism" => "任务并行数",
        "status_more" => "状态详情",
        "execution_date" => "执行时间",
        "expired_limit" => "有效实例数目",
        "annotations" => "注释",
        "spec" => "属性",
        "info_json" => "通知",
        "labels" => "标签",
        "label" => "标签",
        "add_row_time" => "添加时间",
        "experiment_id" => "实验id",
        "pipeline_file" => "workflow yaml",
        "pipeline_argo_id" => "任务流id",
        "version_id" => "版本id",
        "job_template" | "job_template_url" => "任务模板",
        "alert_status" => "监控状态",
        "alert_user" => "通知用户",
        "monitoring" => "监控",
        "expand" => "扩展",
        "parameter" => "扩展参数",
        "depends_on_past" => "过往依赖",
        "max_active_runs" => "最大激活运行数",
        "elapsed_time" => "耗时",
        "task_status" => "任务状态",
        "cluster" | "cluster_name" => "集群",
        "org" => "资源组",
        "active" => "激活",
        "priority" => "优先级",
        "owner" => "责任人",
        "skip" => "跳过",
        "creator" | "created_by" => "创建者",
        "changed_by" => "修改者",
        "created_on" | "create_time" => "创建时间",
        "changed_on" | "modified" => "修改时间",
        "change_time" => "更新时间",
        "cronjob_start_time" => "补录起点",
        "quota" => "资源额度",
        "user_id" => "用户id",
        "email" => "邮箱",
        "roles" | "roles_html" => "角色",
        "message" => "消息",
        "log" => "日志",
        "first_name" => "名",
        "last_name" => "姓",
        "action" => "动作",
        "method" => "方法",
        "path" => "路径",
        "json" => "参数",
        "dttm" => "时间",
        "duration_ms" => "耗时(ms)",
        "referrer" => "来源",
        "permissions" | "permissions_html" => "权限",
        "secret" => "令牌",
        "server" => "仓库",
        "hubsecret" | "hubsecret_url" => "k8s hubsecret",
        "wechat" => "微信",
        "phone" => "电话",
        _ => return None,
    })
}
