//! Typed queries behind the dashboard's views: everything a view does besides the generic
//! list / show / add / edit / delete, which the dashboard's model-view engine builds from
//! the schema. One style of data access per job: the engine for generic CRUD, these for
//! the rest.

use std::collections::BTreeMap;

use diesel::mysql::MysqlConnection;
use diesel::prelude::*;

use crate::forms::{Audit, NewJobTemplate, NewPipeline, NewProjectUser, NewTask, now};
use crate::rows::{JobTemplate, Pipeline, Task, User};
use crate::schema::*;

fn ids32(ids: &[i64]) -> Vec<i32> {
    ids.iter().filter_map(|i| i32::try_from(*i).ok()).collect()
}

// ----- users and roles -----

/// `id → username` of the given user ids.
pub fn usernames(conn: &mut MysqlConnection, ids: &[i64]) -> QueryResult<BTreeMap<i64, String>> {
    if ids.is_empty() {
        return Ok(BTreeMap::new());
    }
    let rows: Vec<(i32, String)> = ab_user::table
        .filter(ab_user::id.eq_any(ids32(ids)))
        .select((ab_user::id, ab_user::username))
        .load(conn)?;
    Ok(rows.into_iter().map(|(i, n)| (i64::from(i), n)).collect())
}

/// A user row.
pub fn user(conn: &mut MysqlConnection, id: i32) -> QueryResult<Option<User>> {
    ab_user::table
        .find(id)
        .select(User::as_select())
        .first(conn)
        .optional()
}

/// The role names of each user, in role-id order.
pub fn roles_by_user(
    conn: &mut MysqlConnection,
    user_ids: &[i64],
) -> QueryResult<BTreeMap<i64, Vec<String>>> {
    let mut out: BTreeMap<i64, Vec<String>> = BTreeMap::new();
    if user_ids.is_empty() {
        return Ok(out);
    }
    let rows: Vec<(Option<i32>, String)> = ab_user_role::table
        .inner_join(ab_role::table.on(ab_role::id.nullable().eq(ab_user_role::role_id)))
        .filter(ab_user_role::user_id.eq_any(ids32(user_ids)))
        .order((ab_user_role::user_id, ab_role::id))
        .select((ab_user_role::user_id, ab_role::name))
        .load(conn)?;
    for (user, role) in rows {
        if let Some(u) = user {
            out.entry(i64::from(u)).or_default().push(role);
        }
    }
    Ok(out)
}

/// The permissions of each role as FAB prints them: `[can_list on Pipeline_ModelView_Api]`,
/// ordered by permission name, then view.
pub fn permissions_by_role(
    conn: &mut MysqlConnection,
    role_ids: &[i64],
) -> QueryResult<BTreeMap<i64, Vec<String>>> {
    let mut out: BTreeMap<i64, Vec<String>> = BTreeMap::new();
    if role_ids.is_empty() {
        return Ok(out);
    }
    let rows: Vec<(Option<i32>, String, String)> = ab_permission_view_role::table
        .inner_join(
            ab_permission_view::table.on(ab_permission_view::id
                .nullable()
                .eq(ab_permission_view_role::permission_view_id)),
        )
        .inner_join(
            ab_permission::table.on(ab_permission::id
                .nullable()
                .eq(ab_permission_view::permission_id)),
        )
        .inner_join(
            ab_view_menu::table.on(ab_view_menu::id
                .nullable()
                .eq(ab_permission_view::view_menu_id)),
        )
        .filter(ab_permission_view_role::role_id.eq_any(ids32(role_ids)))
        .order((
            ab_permission_view_role::role_id,
            ab_permission::name,
            ab_view_menu::id,
        ))
        .select((
            ab_permission_view_role::role_id,
            ab_permission::name,
            ab_view_menu::name,
        ))
        .load(conn)?;
    for (role, perm, view) in rows {
        if let Some(r) = role {
            out.entry(i64::from(r))
                .or_default()
                .push(format!("[{perm} on {view}]"));
        }
    }
    Ok(out)
}

/// How many roles a user holds.
pub fn role_count(conn: &mut MysqlConnection, user_id: i32) -> QueryResult<i64> {
    ab_user_role::table
        .filter(ab_user_role::user_id.eq(user_id))
        .count()
        .get_result(conn)
}

/// The id of the role called `name` (the lowest, should there be several).
pub fn role_id(conn: &mut MysqlConnection, name: &str) -> QueryResult<Option<i32>> {
    ab_role::table
        .filter(ab_role::name.eq(name))
        .order(ab_role::id)
        .select(ab_role::id)
        .first(conn)
        .optional()
}

/// Whether another user has this e-mail address.
pub fn email_taken(conn: &mut MysqlConnection, email: &str, except: i32) -> QueryResult<bool> {
    diesel::select(diesel::dsl::exists(
        ab_user::table
            .filter(ab_user::email.eq(email))
            .filter(ab_user::id.ne(except)),
    ))
    .get_result(conn)
}

/// What a user changes in the user centre (`None` leaves a column as it is).
#[derive(Debug, Default, Clone, AsChangeset)]
#[diesel(table_name = ab_user)]
pub struct UserCentreChanges {
    pub nickname: Option<String>,
    pub email: Option<String>,
    pub org: Option<String>,
    pub wechat: Option<String>,
    pub password: Option<String>,
    pub changed_on: Option<chrono::NaiveDateTime>,
}

impl UserCentreChanges {
    pub fn is_empty(&self) -> bool {
        self.nickname.is_none()
            && self.email.is_none()
            && self.org.is_none()
            && self.wechat.is_none()
            && self.password.is_none()
    }
}

/// Writes the user-centre changes of user `id` (and `changed_on`).
pub fn update_user_centre(
    conn: &mut MysqlConnection,
    id: i32,
    mut changes: UserCentreChanges,
) -> QueryResult<usize> {
    changes.changed_on = Some(now());
    diesel::update(ab_user::table.find(id))
        .set(changes)
        .execute(conn)
}

/// Removes what refers to a user about to be deleted: memberships and favourites.
pub fn forget_user(conn: &mut MysqlConnection, user_id: i32) -> QueryResult<()> {
    diesel::delete(project_user::table.filter(project_user::user_id.eq(user_id))).execute(conn)?;
    diesel::delete(favorite::table.filter(favorite::user_id.eq(user_id))).execute(conn)?;
    Ok(())
}

// ----- projects -----

/// The ids of the `public` org project(s) (one in practice).
pub fn public_org_projects(conn: &mut MysqlConnection) -> QueryResult<Vec<i32>> {
    project::table
        .filter(project::name.eq("public"))
        .filter(project::type_.eq("org"))
        .order(project::id)
        .select(project::id)
        .load(conn)
}

/// Makes `user_id` a member of `project_id` with `role`, unless they already are.
pub fn add_member(
    conn: &mut MysqlConnection,
    project_id: i32,
    user_id: i32,
    role: &str,
    by: i32,
) -> QueryResult<()> {
    diesel::insert_or_ignore_into(project_user::table)
        .values(NewProjectUser::new(
            project_id,
            user_id,
            role,
            Audit::new(Some(by)),
        ))
        .execute(conn)?;
    Ok(())
}

/// Whether `user_id` is a member with role `creator` of `project_id`.
pub fn is_project_creator(
    conn: &mut MysqlConnection,
    project_id: i64,
    user_id: i32,
) -> QueryResult<bool> {
    let Ok(project_id) = i32::try_from(project_id) else {
        return Ok(false);
    };
    diesel::select(diesel::dsl::exists(
        project_user::table
            .filter(project_user::project_id.eq(project_id))
            .filter(project_user::user_id.eq(user_id))
            .filter(project_user::role.eq("creator")),
    ))
    .get_result(conn)
}

/// Whether `user_id` is a creator of the project of pipeline `pipeline_id`.
pub fn is_pipeline_project_creator(
    conn: &mut MysqlConnection,
    pipeline_id: i64,
    user_id: i32,
) -> QueryResult<bool> {
    let Ok(pipeline_id) = i32::try_from(pipeline_id) else {
        return Ok(false);
    };
    diesel::select(diesel::dsl::exists(
        pipeline::table
            .inner_join(project_user::table.on(project_user::project_id.eq(pipeline::project_id)))
            .filter(pipeline::id.eq(pipeline_id))
            .filter(project_user::user_id.eq(user_id))
            .filter(project_user::role.eq("creator")),
    ))
    .get_result(conn)
}

/// What still belongs to a project: `(what, how many)` for pipelines, job templates,
/// images and notebooks.
pub fn project_contents(
    conn: &mut MysqlConnection,
    project_id: i32,
) -> QueryResult<Vec<(&'static str, i64)>> {
    Ok(vec![
        (
            "pipelines",
            pipeline::table
                .filter(pipeline::project_id.eq(project_id))
                .count()
                .get_result(conn)?,
        ),
        (
            "job templates",
            job_template::table
                .filter(job_template::project_id.eq(project_id))
                .count()
                .get_result(conn)?,
        ),
        (
            "images",
            images::table
                .filter(images::project_id.eq(project_id))
                .count()
                .get_result(conn)?,
        ),
        (
            "notebooks",
            notebook::table
                .filter(notebook::project_id.eq(project_id))
                .count()
                .get_result(conn)?,
        ),
    ])
}

/// Removes the members of a project about to be deleted.
pub fn remove_members(conn: &mut MysqlConnection, project_id: i32) -> QueryResult<usize> {
    diesel::delete(project_user::table.filter(project_user::project_id.eq(project_id)))
        .execute(conn)
}

/// The job-template names of each project, in id order.
pub fn template_names_by_project(
    conn: &mut MysqlConnection,
    project_ids: &[i64],
) -> QueryResult<BTreeMap<i64, Vec<String>>> {
    let mut out: BTreeMap<i64, Vec<String>> = BTreeMap::new();
    if project_ids.is_empty() {
        return Ok(out);
    }
    let rows: Vec<(Option<i32>, String)> = job_template::table
        .filter(job_template::project_id.eq_any(ids32(project_ids)))
        .order(job_template::id)
        .select((job_template::project_id, job_template::name))
        .load(conn)?;
    for (p, name) in rows {
        if let Some(p) = p {
            out.entry(i64::from(p)).or_default().push(name);
        }
    }
    Ok(out)
}

/// The members of each project as `user(role)`, in membership order.
pub fn members_by_project(
    conn: &mut MysqlConnection,
    project_ids: &[i64],
) -> QueryResult<BTreeMap<i64, Vec<String>>> {
    let mut out: BTreeMap<i64, Vec<String>> = BTreeMap::new();
    if project_ids.is_empty() {
        return Ok(out);
    }
    let rows: Vec<(i32, String, String)> = project_user::table
        .inner_join(ab_user::table.on(ab_user::id.eq(project_user::user_id)))
        .filter(project_user::project_id.eq_any(ids32(project_ids)))
        .order(project_user::id)
        .select((
            project_user::project_id,
            ab_user::username,
            project_user::role,
        ))
        .load(conn)?;
    for (p, user, role) in rows {
        out.entry(i64::from(p))
            .or_default()
            .push(format!("{user}({role})"));
    }
    Ok(out)
}

/// The `expand` JSON of a project.
pub fn project_expand(conn: &mut MysqlConnection, id: i64) -> QueryResult<Option<String>> {
    let Ok(id) = i32::try_from(id) else {
        return Ok(None);
    };
    Ok(project::table
        .find(id)
        .select(project::expand)
        .first::<Option<String>>(conn)
        .optional()?
        .flatten())
}

/// `(id, type, expand)` of a project.
pub type ProjectKindExpand = (i32, Option<String>, Option<String>);

/// `(id, type, expand)` of every project, in id order.
pub fn project_expands(conn: &mut MysqlConnection) -> QueryResult<Vec<ProjectKindExpand>> {
    project::table
        .order(project::id)
        .select((project::id, project::type_, project::expand))
        .load(conn)
}

// ----- pipelines, tasks, templates, workflows -----

/// The task names of a pipeline, in id order.
pub fn task_names(conn: &mut MysqlConnection, pipeline_id: i64) -> QueryResult<Vec<String>> {
    let Ok(pipeline_id) = i32::try_from(pipeline_id) else {
        return Ok(vec![]);
    };
    task::table
        .filter(task::pipeline_id.eq(pipeline_id))
        .order(task::id)
        .select(task::name)
        .load(conn)
}

/// How many tasks a pipeline has.
pub fn task_count(conn: &mut MysqlConnection, pipeline_id: i64) -> QueryResult<i64> {
    let Ok(pipeline_id) = i32::try_from(pipeline_id) else {
        return Ok(0);
    };
    task::table
        .filter(task::pipeline_id.eq(pipeline_id))
        .count()
        .get_result(conn)
}

/// How many tasks use a job template.
pub fn tasks_using_template(conn: &mut MysqlConnection, template_id: i64) -> QueryResult<i64> {
    let Ok(template_id) = i32::try_from(template_id) else {
        return Ok(0);
    };
    task::table
        .filter(task::job_template_id.eq(template_id))
        .count()
        .get_result(conn)
}

/// `id → created_by_fk` of the given pipelines.
pub fn pipeline_creators(
    conn: &mut MysqlConnection,
    ids: &[i64],
) -> QueryResult<BTreeMap<i64, Option<i32>>> {
    if ids.is_empty() {
        return Ok(BTreeMap::new());
    }
    let rows: Vec<(i32, Option<i32>)> = pipeline::table
        .filter(pipeline::id.eq_any(ids32(ids)))
        .select((pipeline::id, pipeline::created_by_fk))
        .load(conn)?;
    Ok(rows.into_iter().map(|(i, c)| (i64::from(i), c)).collect())
}

/// A pipeline's `(id, name, describe, creator's username)`.
pub type PipelineSummaryRow = (i32, String, String, Option<String>);

/// A pipeline as a workflow's run page names it; `None` when it does not exist.
pub fn pipeline_summary(
    conn: &mut MysqlConnection,
    id: i64,
) -> QueryResult<Option<PipelineSummaryRow>> {
    let Ok(id) = i32::try_from(id) else {
        return Ok(None);
    };
    pipeline::table
        .left_join(ab_user::table.on(ab_user::id.nullable().eq(pipeline::created_by_fk)))
        .filter(pipeline::id.eq(id))
        .select((
            pipeline::id,
            pipeline::name,
            pipeline::describe,
            ab_user::username.nullable(),
        ))
        .first(conn)
        .optional()
}

/// `pipeline id → name of its project` of the given pipelines (a workflow's `project`).
pub fn pipeline_project_names(
    conn: &mut MysqlConnection,
    ids: &[i64],
) -> QueryResult<BTreeMap<i64, String>> {
    if ids.is_empty() {
        return Ok(BTreeMap::new());
    }
    let rows: Vec<(i32, String)> = pipeline::table
        .inner_join(project::table.on(project::id.eq(pipeline::project_id)))
        .filter(pipeline::id.eq_any(ids32(ids)))
        .select((pipeline::id, project::name))
        .load(conn)?;
    Ok(rows.into_iter().map(|(i, n)| (i64::from(i), n)).collect())
}

/// `pipeline id → [(task name, task label)]` of the given pipelines (a workflow's
/// `task_status` names its steps by their labels).
pub fn pipeline_task_labels(
    conn: &mut MysqlConnection,
    ids: &[i64],
) -> QueryResult<BTreeMap<i64, Vec<(String, String)>>> {
    let mut out: BTreeMap<i64, Vec<(String, String)>> = BTreeMap::new();
    if ids.is_empty() {
        return Ok(out);
    }
    let rows: Vec<(Option<i32>, String, String)> = task::table
        .filter(task::pipeline_id.eq_any(ids32(ids)))
        .order(task::id.asc())
        .select((task::pipeline_id, task::name, task::label))
        .load(conn)?;
    for (p, name, label) in rows {
        if let Some(p) = p {
            out.entry(i64::from(p)).or_default().push((name, label));
        }
    }
    Ok(out)
}

/// Deletes what belongs to a pipeline about to be deleted: its tasks, its cron runs and
/// the rows of its workflows (their cluster objects go through the worker).
pub fn delete_pipeline_children(conn: &mut MysqlConnection, pipeline_id: i32) -> QueryResult<()> {
    diesel::delete(task::table.filter(task::pipeline_id.eq(pipeline_id))).execute(conn)?;
    diesel::delete(run::table.filter(run::pipeline_id.eq(pipeline_id))).execute(conn)?;
    diesel::delete(
        workflow::table.filter(
            workflow::foreign_key
                .eq(pipeline_id.to_string())
                .or(workflow::labels.like(format!("%\"pipeline-id\": \"{pipeline_id}\"%"))),
        ),
    )
    .execute(conn)?;
    Ok(())
}

/// Writes a pipeline's editor layout (`expand`) and, when given, its `dag_json`.
pub fn set_pipeline_layout(
    conn: &mut MysqlConnection,
    id: i32,
    expand: &str,
    dag_json: Option<&str>,
) -> QueryResult<usize> {
    match dag_json {
        Some(dag) => diesel::update(pipeline::table.find(id))
            .set((pipeline::expand.eq(expand), pipeline::dag_json.eq(dag)))
            .execute(conn),
        None => diesel::update(pipeline::table.find(id))
            .set(pipeline::expand.eq(expand))
            .execute(conn),
    }
}

/// Copies pipeline `id` and its tasks for `user`: the copy is named `<name, 49 chars>-<suffix>`,
/// described `<describe>(copy)`, runs `once`, and has an empty `pipeline_file` and
/// `parameter`; each task keeps its settings with empty `monitoring`. Returns the new
/// pipeline's id and `(old task id, new task id)` pairs, in task-id order.
pub fn copy_pipeline(
    conn: &mut MysqlConnection,
    id: i32,
    suffix: &str,
    user: i32,
) -> QueryResult<(i32, Vec<(i32, i32)>)> {
    let p: Pipeline = pipeline::table
        .find(id)
        .select(Pipeline::as_select())
        .first(conn)?;
    let audit = Audit::new(Some(user));
    let name: String = p.name.chars().take(49).collect();
    let copy = NewPipeline {
        name: format!("{name}-{suffix}").chars().take(54).collect(),
        describe: format!("{}(copy)", p.describe),
        project_id: p.project_id,
        dag_json: p.dag_json,
        namespace: p.namespace,
        global_env: p.global_env,
        schedule_type: "once".into(),
        cron_time: p.cron_time,
        cronjob_start_time: p.cronjob_start_time,
        pipeline_file: Some(String::new()),
        node_selector: p.node_selector,
        image_pull_policy: p.image_pull_policy,
        parallelism: p.parallelism,
        alert_status: p.alert_status,
        alert_user: p.alert_user,
        expand: p.expand,
        depends_on_past: p.depends_on_past,
        max_active_runs: p.max_active_runs,
        expired_limit: p.expired_limit,
        parameter: Some("{}".into()),
        priority: p.priority,
        type_: Some(String::new()),
        created_on: Some(audit.now),
        changed_on: Some(audit.now),
        created_by_fk: Some(user),
        changed_by_fk: Some(user),
    };
    diesel::insert_into(pipeline::table)
        .values(copy)
        .execute(conn)?;
    let new_id = crate::queries::last_insert_id(conn)?;
    let tasks: Vec<Task> = task::table
        .filter(task::pipeline_id.eq(id))
        .order(task::id)
        .select(Task::as_select())
        .load(conn)?;
    let mut ids = Vec::with_capacity(tasks.len());
    for t in tasks {
        let old = t.id;
        diesel::insert_into(task::table)
            .values(NewTask {
                name: t.name,
                label: t.label,
                job_template_id: t.job_template_id,
                pipeline_id: Some(new_id),
                namespace: t.namespace,
                working_dir: t.working_dir,
                command: t.command,
                overwrite_entrypoint: t.overwrite_entrypoint,
                args: t.args,
                volume_mount: t.volume_mount,
                node_selector: t.node_selector,
                resource_memory: t.resource_memory,
                resource_cpu: t.resource_cpu,
                resource_gpu: t.resource_gpu,
                resource_rdma: t.resource_rdma,
                timeout: t.timeout,
                retry: t.retry,
                outputs: t.outputs,
                monitoring: Some("{}".into()),
                expand: t.expand,
                skip: t.skip,
                created_on: Some(audit.now),
                changed_on: Some(audit.now),
                created_by_fk: Some(user),
                changed_by_fk: Some(user),
            })
            .execute(conn)?;
        ids.push((old, crate::queries::last_insert_id(conn)?));
    }
    Ok((new_id, ids))
}

/// Copies job template `id` for `user`, named `<name>-copy-<suffix>`.
pub fn copy_job_template(
    conn: &mut MysqlConnection,
    id: i32,
    suffix: &str,
    user: i32,
) -> QueryResult<()> {
    let Some(t) = job_template::table
        .find(id)
        .select(JobTemplate::as_select())
        .first(conn)
        .optional()?
    else {
        return Ok(());
    };
    let audit = Audit::new(Some(user));
    diesel::insert_into(job_template::table)
        .values(NewJobTemplate {
            project_id: t.project_id,
            name: format!("{}-copy-{suffix}", t.name),
            version: t.version,
            images_id: t.images_id,
            host_aliases: t.host_aliases,
            describe: t.describe,
            workdir: t.workdir,
            entrypoint: t.entrypoint,
            args: t.args,
            env: t.env,
            volume_mount: t.volume_mount,
            privileged: t.privileged,
            accounts: t.accounts,
            demo: t.demo,
            expand: t.expand,
            created_on: Some(audit.now),
            changed_on: Some(audit.now),
            created_by_fk: Some(user),
            changed_by_fk: Some(user),
        })
        .execute(conn)?;
    Ok(())
}

/// Marks a workflow row `Deleted` at `time` (the workflow's own time format).
pub fn mark_workflow_deleted(
    conn: &mut MysqlConnection,
    id: i32,
    time: &str,
) -> QueryResult<usize> {
    diesel::update(workflow::table.find(id))
        .set((
            workflow::status.eq("Deleted"),
            workflow::change_time.eq(time),
        ))
        .execute(conn)
}

/// The editor layout (`expand`) of a pipeline; `[]` when it has none.
pub fn pipeline_expand(conn: &mut MysqlConnection, id: i32) -> QueryResult<String> {
    Ok(pipeline::table
        .find(id)
        .select(pipeline::expand)
        .first::<Option<String>>(conn)
        .optional()?
        .flatten()
        .unwrap_or_else(|| "[]".into()))
}
