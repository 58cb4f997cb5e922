//! `dashboard init`: the seed data, idempotent (a second run changes no row).
//!
//! Roles, the admin user, the `public` org project, the job-template groups, a default
//! repository, a starter set of images and job templates written for this project, and
//! one demo pipeline of three tasks. Every step finds by its natural key before inserting.

use std::collections::BTreeSet;

use app_core::Config;
use app_core::password::hash_password_with;
use app_models::forms::*;
use app_models::queries::{id_sequence_tables, last_insert_id, next_sequence_id};
use app_models::schema::*;
use diesel::mysql::MysqlConnection;
use diesel::prelude::*;
use serde_json::json;

use crate::views::API_VIEW_NAMES;

/// The 22 job-template groups of the original, in display order.
pub const TEMPLATE_GROUPS: &[(&str, &str)] = &[
    (
        "基础命令",
        "python/bash等直接在服务器命令行中执行命令的模板",
    ),
    ("数据导入导出", "集群与用户机器或其他集群之间的数据迁移"),
    ("数据处理工具", "数据的单机或分布式处理任务"),
    ("特征处理", "特征处理相关功能"),
    ("图像处理", "图像处理相关功能"),
    ("视频处理", "视频处理相关功能"),
    ("音频处理", "音频处理相关功能"),
    ("文本处理", "文本处理相关功能"),
    ("机器学习框架", "传统机器学习框架"),
    ("机器学习算法", "传统机器学习算法"),
    ("深度学习", "深度框架训练"),
    ("分布式加速", "分布式训练加速框架"),
    ("模型处理", "模型评估、转换、压缩"),
    ("模型服务化", "模型服务化部署相关的组件模板"),
    ("推荐类模板", "推荐领域常用的任务模板"),
    ("搜索类模板", "搜索领域常用的任务模板"),
    ("广告类模板", "广告领域常用的任务模板"),
    ("多媒体类模板", "音视频图片文本常用的任务模板"),
    ("机器视觉", "视觉类相关模板"),
    ("听觉", "听觉类相关模板"),
    ("自然语言", "自然语言类相关模板"),
    ("大模型", "大模型相关模板"),
];

/// Roles FAB and cube-studio know.
pub const ROLES: &[&str] = &["Admin", "Gamma", "Public"];
/// Permissions of every model-view API.
pub const PERMISSIONS: &[&str] = &["can_add", "can_edit", "can_delete", "can_list", "can_show"];
/// Views only admins may use (the original's `ADMIN_ONLY_VIEW_MENUS`).
pub const ADMIN_ONLY_VIEWS: &[&str] = &[
    "User_ModelView_Api",
    "Role_ModelView_Api",
    "LOG_ModelView_Api",
];

/// What `init` did, for the log.
#[derive(Debug, Default)]
pub struct SeedReport {
    pub inserted: usize,
    /// The admin's password when `init` created the admin without `ADMIN_PASSWORD`:
    /// generated, shown once, never stored in clear.
    pub generated_admin_password: Option<String>,
}

/// A random password of 20 letters and digits (about 119 bits).
fn generate_password() -> String {
    use rand::Rng;
    use rand::distr::Alphanumeric;
    rand::rng()
        .sample_iter(&Alphanumeric)
        .take(20)
        .map(char::from)
        .collect()
}

fn arg(kind: &str, label: &str, default: serde_json::Value, describe: &str) -> serde_json::Value {
    json!({"type": kind, "item_type": "str", "label": label, "require": 1, "choice": [], "range": "",
           "default": default, "placeholder": "", "describe": describe, "editable": 1})
}

/// One job template of the starter set.
struct TemplateSeed {
    group: &'static str,
    image: String,
    image_describe: &'static str,
    name: String,
    describe: &'static str,
    entrypoint: &'static str,
    workdir: &'static str,
    accounts: &'static str,
    env: &'static str,
    args: serde_json::Value,
    index: i32,
}

fn starter_templates(config: &Config, customize_job: &str) -> Vec<TemplateSeed> {
    let org = &config.repository_org;
    let distributed = |workers_label: &str, extra: Option<(&str, serde_json::Value)>| {
        let mut group = serde_json::Map::new();
        group.insert(
            "--image".into(),
            arg(
                "str",
                "worker镜像",
                json!(format!("{org}pytorch:2.1-cuda12.1")),
                "每个worker运行的镜像",
            ),
        );
        group.insert(
            "--working_dir".into(),
            arg(
                "str",
                "工作目录",
                json!("/mnt/{{creator}}/"),
                "命令运行的目录",
            ),
        );
        group.insert(
            "--command".into(),
            arg(
                "str",
                "启动命令",
                json!("python train.py"),
                "每个worker执行的命令",
            ),
        );
        let mut workers = arg("str", workers_label, json!("3"), "分布式worker的数目");
        workers["regex"] = json!("^[0-9]*$");
        group.insert("--num_worker".into(), workers);
        if let Some((k, v)) = extra {
            group.insert(k.into(), v);
        }
        json!({"分布式训练": group})
    };
    let mut ps = arg("str", "ps数目", json!("1"), "参数服务器的数目");
    ps["regex"] = json!("^[0-9]*$");
    vec![
        TemplateSeed {
            group: "基础命令",
            image: "ubuntu:22.04".into(),
            image_describe: "ubuntu 22.04 基础镜像",
            name: customize_job.to_string(),
            describe: "使用用户自定义镜像作为运行镜像",
            entrypoint: "",
            workdir: "",
            accounts: "",
            env: "",
            args: json!({"参数": {
                "images": arg("str", "镜像", json!("ubuntu:22.04"), "运行任务的镜像"),
                "workdir": arg("str", "工作目录", json!("/mnt/{{creator}}/"), "命令运行的目录"),
                "command": arg("text", "启动命令", json!("echo hello"), "bash -c 执行的命令")
            }}),
            index: 1,
        },
        TemplateSeed {
            group: "基础命令",
            image: "python:3.9".into(),
            image_describe: "python 3.9",
            name: "python".into(),
            describe: "运行一段python代码",
            entrypoint: "python3 -c",
            workdir: "/mnt/{{creator}}/",
            accounts: "",
            env: "PYTHONUNBUFFERED=1",
            args: json!({"参数": {"code": arg("text", "代码", json!("print('hello cube-studio')"), "python -c 执行的代码")}}),
            index: 2,
        },
        TemplateSeed {
            group: "深度学习",
            image: format!("{org}pytorch-launcher:2024.11"),
            image_describe: "pytorch分布式训练发起器",
            name: "pytorchjob".into(),
            describe: "pytorch 分布式训练",
            entrypoint: "python launcher.py",
            workdir: "/app",
            accounts: "kubeflow-pipeline",
            env: "NO_RESOURCE_CHECK=true",
            args: distributed("worker数目", None),
            index: 1,
        },
        TemplateSeed {
            group: "深度学习",
            image: format!("{org}tf-launcher:2024.11"),
            image_describe: "tensorflow分布式训练发起器",
            name: "tfjob".into(),
            describe: "tensorflow 分布式训练",
            entrypoint: "python launcher.py",
            workdir: "/app",
            accounts: "kubeflow-pipeline",
            env: "NO_RESOURCE_CHECK=true",
            args: distributed("worker数目", Some(("--num_ps", ps))),
            index: 2,
        },
    ]
}

/// The id `find` selects; when there is none, runs `insert` (counted in the report) and
/// returns the new row's id. The building block of an idempotent seed.
fn find_or_insert(
    conn: &mut MysqlConnection,
    report: &mut SeedReport,
    find: impl FnOnce(&mut MysqlConnection) -> QueryResult<i32>,
    insert: impl FnOnce(&mut MysqlConnection) -> QueryResult<()>,
) -> QueryResult<i32> {
    find_or_insert_numbered(conn, report, &BTreeSet::new(), "", find, |conn, _| {
        insert(conn)
    })
}

/// [`find_or_insert`] for a table an adopted original database may number with a
/// sequence (the `ab_*` tables, when `table` is in `numbered`): `insert` gets the id to
/// write, or `None` to let AUTO_INCREMENT choose.
fn find_or_insert_numbered(
    conn: &mut MysqlConnection,
    report: &mut SeedReport,
    numbered: &BTreeSet<String>,
    table: &str,
    find: impl FnOnce(&mut MysqlConnection) -> QueryResult<i32>,
    insert: impl FnOnce(&mut MysqlConnection, Option<i32>) -> QueryResult<()>,
) -> QueryResult<i32> {
    if let Some(id) = find(conn).optional()? {
        return Ok(id);
    }
    let id = if numbered.contains(table) {
        Some(next_sequence_id(conn, table)?)
    } else {
        None
    };
    insert(conn, id)?;
    report.inserted += 1;
    match id {
        Some(id) => Ok(id),
        None => last_insert_id(conn),
    }
}

/// Seeds the database; safe to run any number of times.
pub fn run_seed(
    conn: &mut MysqlConnection,
    config: &Config,
    customize_job: &str,
) -> QueryResult<SeedReport> {
    conn.transaction(|conn| seed_in_tx(conn, config, customize_job))
}

fn seed_in_tx(
    conn: &mut MysqlConnection,
    config: &Config,
    customize_job: &str,
) -> QueryResult<SeedReport> {
    let mut report = SeedReport::default();
    let numbered = id_sequence_tables(conn)?;

    // 1. roles, permissions, view menus
    let mut role_ids = std::collections::HashMap::new();
    for name in ROLES {
        let id = find_or_insert_numbered(
            conn,
            &mut report,
            &numbered,
            "ab_role",
            |conn| {
                ab_role::table
                    .filter(ab_role::name.eq(name))
                    .select(ab_role::id)
                    .first::<i32>(conn)
            },
            |conn, id| {
                diesel::insert_into(ab_role::table)
                    .values((
                        id.map(|i| ab_role::id.eq(i)),
                        NewRole {
                            name: name.to_string(),
                        },
                    ))
                    .execute(conn)?;
                Ok(())
            },
        )?;
        role_ids.insert(*name, id);
    }
    let mut perm_ids = Vec::new();
    for p in PERMISSIONS {
        let id = find_or_insert_numbered(
            conn,
            &mut report,
            &numbered,
            "ab_permission",
            |conn| {
                ab_permission::table
                    .filter(ab_permission::name.eq(p))
                    .select(ab_permission::id)
                    .first::<i32>(conn)
            },
            |conn, id| {
                diesel::insert_into(ab_permission::table)
                    .values((
                        id.map(|i| ab_permission::id.eq(i)),
                        ab_permission::name.eq(p),
                    ))
                    .execute(conn)?;
                Ok(())
            },
        )?;
        perm_ids.push((*p, id));
    }
    for view in API_VIEW_NAMES {
        let view_id = find_or_insert_numbered(
            conn,
            &mut report,
            &numbered,
            "ab_view_menu",
            |conn| {
                ab_view_menu::table
                    .filter(ab_view_menu::name.eq(view))
                    .select(ab_view_menu::id)
                    .first::<i32>(conn)
            },
            |conn, id| {
                diesel::insert_into(ab_view_menu::table)
                    .values((
                        id.map(|i| ab_view_menu::id.eq(i)),
                        ab_view_menu::name.eq(view),
                    ))
                    .execute(conn)?;
                Ok(())
            },
        )?;
        for (perm, perm_id) in &perm_ids {
            let pv = find_or_insert_numbered(
                conn,
                &mut report,
                &numbered,
                "ab_permission_view",
                |conn| {
                    ab_permission_view::table
                        .filter(ab_permission_view::permission_id.eq(perm_id))
                        .filter(ab_permission_view::view_menu_id.eq(view_id))
                        .select(ab_permission_view::id)
                        .first::<i32>(conn)
                },
                |conn, id| {
                    diesel::insert_into(ab_permission_view::table)
                        .values((
                            id.map(|i| ab_permission_view::id.eq(i)),
                            ab_permission_view::permission_id.eq(perm_id),
                            ab_permission_view::view_menu_id.eq(view_id),
                        ))
                        .execute(conn)?;
                    Ok(())
                },
            )?;
            let admin_only = ADMIN_ONLY_VIEWS.contains(view);
            let mut grant = vec!["Admin"];
            if !admin_only {
                grant.push("Gamma");
                if *perm == "can_list" || *perm == "can_show" {
                    grant.push("Public");
                }
            }
            for role in grant {
                let role_id = role_ids[role];
                find_or_insert_numbered(
                    conn,
                    &mut report,
                    &numbered,
                    "ab_permission_view_role",
                    |conn| {
                        ab_permission_view_role::table
                            .filter(ab_permission_view_role::permission_view_id.eq(pv))
                            .filter(ab_permission_view_role::role_id.eq(role_id))
                            .select(ab_permission_view_role::id)
                            .first::<i32>(conn)
                    },
                    |conn, id| {
                        diesel::insert_into(ab_permission_view_role::table)
                            .values((
                                id.map(|i| ab_permission_view_role::id.eq(i)),
                                ab_permission_view_role::permission_view_id.eq(pv),
                                ab_permission_view_role::role_id.eq(role_id),
                            ))
                            .execute(conn)?;
                        Ok(())
                    },
                )?;
            }
        }
    }

    // 2. admin user
    let mut generated_password = None;
    let admin_id = find_or_insert_numbered(
        conn,
        &mut report,
        &numbered,
        "ab_user",
        |conn| {
            ab_user::table
                .filter(ab_user::username.eq(&config.admin_username))
                .select(ab_user::id)
                .first::<i32>(conn)
        },
        |conn, id| {
            let password = match &config.admin_password {
                Some(p) => p.clone(),
                None => generated_password.insert(generate_password()).clone(),
            };
            let audit = Audit::new(None);
            diesel::insert_into(ab_user::table)
                .values((
                    id.map(|i| ab_user::id.eq(i)),
                    NewUser::new(
                        &config.admin_username,
                        &config.admin_email,
                        hash_password_with(&password, config.password_hash_iterations),
                        audit,
                    ),
                ))
                .execute(conn)?;
            Ok(())
        },
    )?;
    report.generated_admin_password = generated_password;
    let admin_role = role_ids["Admin"];
    find_or_insert_numbered(
        conn,
        &mut report,
        &numbered,
        "ab_user_role",
        |conn| {
            ab_user_role::table
                .filter(ab_user_role::user_id.eq(admin_id))
                .filter(ab_user_role::role_id.eq(admin_role))
                .select(ab_user_role::id)
                .first::<i32>(conn)
        },
        |conn, id| {
            diesel::insert_into(ab_user_role::table)
                .values((
                    id.map(|i| ab_user_role::id.eq(i)),
                    NewUserRole {
                        user_id: Some(admin_id),
                        role_id: Some(admin_role),
                    },
                ))
                .execute(conn)?;
            Ok(())
        },
    )?;
    let audit = Audit::new(Some(admin_id));

    // 3. projects: the public org and the template groups, admin as creator of each
    let ensure_project = |conn: &mut MysqlConnection,
                          name: &str,
                          describe: &str,
                          type_: &str,
                          expand: String,
                          report: &mut SeedReport|
     -> QueryResult<i32> {
        let id = find_or_insert(
            conn,
            report,
            |conn| {
                project::table
                    .filter(project::name.eq(name))
                    .filter(project::type_.eq(type_))
                    .select(project::id)
                    .first::<i32>(conn)
            },
            |conn| {
                diesel::insert_into(project::table)
                    .values(NewProject::new(name, describe, type_, &expand, audit))
                    .execute(conn)?;
                Ok(())
            },
        )?;
        find_or_insert(
            conn,
            report,
            |conn| {
                project_user::table
                    .filter(project_user::project_id.eq(id))
                    .filter(project_user::user_id.eq(admin_id))
                    .select(project_user::id)
                    .first::<i32>(conn)
            },
            |conn| {
                diesel::insert_into(project_user::table)
                    .values(NewProjectUser::new(id, admin_id, "creator", audit))
                    .execute(conn)?;
                Ok(())
            },
        )?;
        Ok(id)
    };
    let public_expand =
        app_core::json_text::pretty4(&json!({"cluster": config.environment, "org": "public"}));
    let public_id = ensure_project(
        conn,
        "public",
        "公共项目组",
        "org",
        public_expand,
        &mut report,
    )?;
    let mut group_ids = std::collections::HashMap::new();
    for (i, (name, describe)) in TEMPLATE_GROUPS.iter().enumerate() {
        let expand = app_core::json_text::pretty4(&json!({"index": i + 1}));
        let id = ensure_project(conn, name, describe, "job-template", expand, &mut report)?;
        group_ids.insert(*name, id);
    }

    // 4. default repository
    let repo_id = find_or_insert(
        conn,
        &mut report,
        |conn| {
            repository::table
                .filter(repository::name.eq("hubsecret"))
                .select(repository::id)
                .first::<i32>(conn)
        },
        |conn| {
            diesel::insert_into(repository::table)
                .values(NewRepository {
                    name: "hubsecret".into(),
                    server: config.repository_org.clone(),
                    user: "yourname".into(),
                    password: "yourpassword".into(),
                    hubsecret: Some("hubsecret".into()),
                    created_on: Some(audit.now),
                    changed_on: Some(audit.now),
                    created_by_fk: audit.user_id,
                    changed_by_fk: audit.user_id,
                })
                .execute(conn)?;
            Ok(())
        },
    )?;

    // 5. images and job templates
    let mut template_ids = std::collections::HashMap::new();
    for t in starter_templates(config, customize_job) {
        let group_id = group_ids.get(t.group).copied();
        let image_id = find_or_insert(
            conn,
            &mut report,
            |conn| {
                images::table
                    .filter(images::name.eq(&t.image))
                    .select(images::id)
                    .first::<i32>(conn)
            },
            |conn| {
                diesel::insert_into(images::table)
                    .values(NewImage {
                        project_id: group_id,
                        name: t.image.clone(),
                        describe: t.image_describe.into(),
                        repository_id: Some(repo_id),
                        entrypoint: None,
                        dockerfile: None,
                        gitpath: Some(String::new()),
                        created_on: Some(audit.now),
                        changed_on: Some(audit.now),
                        created_by_fk: audit.user_id,
                        changed_by_fk: audit.user_id,
                    })
                    .execute(conn)?;
                Ok(())
            },
        )?;
        let id = find_or_insert(
            conn,
            &mut report,
            |conn| {
                job_template::table
                    .filter(job_template::name.eq(&t.name))
                    .select(job_template::id)
                    .first::<i32>(conn)
            },
            |conn| {
                let expand = json!({"index": t.index, "rec_job_template": customize_job, "source": "cube-studio-rs"});
                diesel::insert_into(job_template::table)
                    .values(NewJobTemplate {
                        project_id: group_id,
                        name: t.name.clone(),
                        version: "Release".into(),
                        images_id: Some(image_id),
                        host_aliases: Some(String::new()),
                        describe: t.describe.into(),
                        workdir: Some(t.workdir.into()),
                        entrypoint: Some(t.entrypoint.into()),
                        args: Some(app_core::json_text::pretty4(&t.args)),
                        env: Some(t.env.into()),
                        volume_mount: Some(String::new()),
                        privileged: Some(false),
                        accounts: Some(t.accounts.into()),
                        demo: Some("{}".into()),
                        expand: Some(app_core::json_text::pretty4(&expand)),
                        created_on: Some(audit.now),
                        changed_on: Some(audit.now),
                        created_by_fk: audit.user_id,
                        changed_by_fk: audit.user_id,
                    })
                    .execute(conn)?;
                Ok(())
            },
        )?;
        template_ids.insert(t.name.clone(), id);
    }

    // 6. the demo pipeline: prepare → train, prepare → report
    let demo_name = "demo-pipeline";
    if pipeline::table
        .filter(pipeline::name.eq(demo_name))
        .select(pipeline::id)
        .first::<i32>(conn)
        .optional()?
        .is_none()
    {
        let mut p = NewPipeline::new(
            demo_name,
            "演示任务流：准备数据后训练并生成报告",
            public_id,
            audit,
        );
        p.namespace = Some(config.pipeline_namespace.clone());
        // the home page shows `img` on the demo's card (an image the original ships under /static/)
        p.parameter = Some(app_core::json_text::pretty4(
            &json!({"demo": "true", "img": "/static/assets/images/pipeline/tree.jpg"}),
        ));
        p.dag_json = json!({"prepare": {"upstream": []}, "train": {"upstream": ["prepare"]}, "report": {"upstream": ["prepare"]}}).to_string();
        p.global_env = Some("DATA_DIR=/mnt/{{creator}}/demo".into());
        diesel::insert_into(pipeline::table)
            .values(p)
            .execute(conn)?;
        report.inserted += 1;
        let pipeline_id = last_insert_id(conn)?;
        let custom = template_ids[customize_job];
        let python = template_ids["python"];
        let tasks = [
            (
                "prepare",
                "准备数据",
                custom,
                json!({"images": "ubuntu:22.04", "workdir": "/mnt/{{creator}}/", "command": "echo preparing data into $DATA_DIR && sleep 2"}),
            ),
            (
                "train",
                "训练模型",
                python,
                json!({"code": "import time; print('training'); time.sleep(2); print('done')"}),
            ),
            (
                "report",
                "生成报告",
                custom,
                json!({"images": "ubuntu:22.04", "workdir": "/mnt/{{creator}}/", "command": "echo report for {{pipeline_name}} run at {{execution_date}}"}),
            ),
        ];
        let mut nodes = Vec::new();
        let mut ids = std::collections::HashMap::new();
        for (i, (name, label, template, args)) in tasks.iter().enumerate() {
            let mut t = NewTask::new(name, label, pipeline_id, *template, audit);
            t.namespace = Some(config.pipeline_namespace.clone());
            t.args = Some(app_core::json_text::pretty4(args));
            t.resource_cpu = Some("1".into());
            t.resource_memory = Some("1G".into());
            diesel::insert_into(task::table).values(t).execute(conn)?;
            report.inserted += 1;
            let id = last_insert_id(conn)?;
            ids.insert(*name, id);
            let (x, y) = match i {
                0 => (400, 150),
                1 => (250, 350),
                _ => (550, 350),
            };
            nodes.push(
                json!({"id": id.to_string(), "type": "dataSet", "position": {"x": x, "y": y},
                "data": {"info": {"describe": label}, "name": name, "label": label}}),
            );
        }
        for target in ["train", "report"] {
            let (s, t) = (ids["prepare"], ids[target]);
            nodes.push(
                json!({"source": s.to_string(), "arrowHeadType": "arrow", "target": t.to_string(),
                "id": format!("{demo_name}__edge-{s}null-{t}null")}),
            );
        }
        diesel::update(pipeline::table.filter(pipeline::id.eq(pipeline_id)))
            .set(pipeline::expand.eq(app_core::json_text::pretty4(&nodes)))
            .execute(conn)?;
    }
    Ok(report)
}
