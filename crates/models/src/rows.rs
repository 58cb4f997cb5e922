//! Row structs: one per table the binaries read with typed queries.
//! (The dashboard's generic model-view engine reads any table dynamically.)

use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde::Serialize;

use crate::schema::*;

/// A row of `ab_user`.
#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Identifiable, Serialize)]
#[diesel(table_name = ab_user, check_for_backend(diesel::mysql::Mysql))]
pub struct User {
    pub id: i32,
    pub first_name: String,
    pub last_name: String,
    pub username: String,
    #[serde(skip)]
    pub password: Option<String>,
    pub active: Option<bool>,
    pub email: String,
    pub last_login: Option<NaiveDateTime>,
    pub login_count: Option<i32>,
    pub fail_login_count: Option<i32>,
    pub created_on: Option<NaiveDateTime>,
    pub changed_on: Option<NaiveDateTime>,
    pub created_by_fk: Option<i32>,
    pub changed_by_fk: Option<i32>,
    pub nickname: Option<String>,
    pub org: Option<String>,
    pub quota: Option<String>,
    pub balance: Option<String>,
    pub wechat: Option<String>,
    pub phone: Option<String>,
    pub coupon: Option<String>,
    pub voucher: Option<String>,
    pub bill: Option<String>,
    pub real_name_authentication: Option<String>,
    pub subaccount: Option<String>,
}

/// A row of `ab_role`.
#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Identifiable, Serialize)]
#[diesel(table_name = ab_role, check_for_backend(diesel::mysql::Mysql))]
pub struct Role {
    pub id: i32,
    pub name: String,
}

/// A row of `ab_user_role`.
#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Identifiable, Serialize)]
#[diesel(table_name = ab_user_role, check_for_backend(diesel::mysql::Mysql))]
pub struct UserRole {
    pub id: i32,
    pub user_id: Option<i32>,
    pub role_id: Option<i32>,
}

/// A row of `project`.
#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Identifiable, Serialize)]
#[diesel(table_name = project, check_for_backend(diesel::mysql::Mysql))]
pub struct Project {
    pub created_on: Option<NaiveDateTime>,
    pub changed_on: Option<NaiveDateTime>,
    pub id: i32,
    pub name: String,
    pub describe: String,
    pub type_: Option<String>,
    pub expand: Option<String>,
    pub created_by_fk: Option<i32>,
    pub changed_by_fk: Option<i32>,
}

/// A row of `project_user`.
#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Identifiable, Serialize)]
#[diesel(table_name = project_user, check_for_backend(diesel::mysql::Mysql))]
pub struct ProjectUser {
    pub created_on: Option<NaiveDateTime>,
    pub changed_on: Option<NaiveDateTime>,
    pub id: i32,
    pub project_id: i32,
    pub user_id: i32,
    pub role: String,
    pub quota: Option<String>,
    pub org: Option<String>,
    pub expand: Option<String>,
    pub created_by_fk: Option<i32>,
    pub changed_by_fk: Option<i32>,
}

/// A row of `repository`.
#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Identifiable, Serialize)]
#[diesel(table_name = repository, check_for_backend(diesel::mysql::Mysql))]
pub struct Repository {
    pub created_on: Option<NaiveDateTime>,
    pub changed_on: Option<NaiveDateTime>,
    pub id: i32,
    pub name: String,
    pub server: String,
    pub user: String,
    pub password: String,
    pub hubsecret: Option<String>,
    pub created_by_fk: Option<i32>,
    pub changed_by_fk: Option<i32>,
}

/// A row of `images`.
#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Identifiable, Serialize)]
#[diesel(table_name = images, check_for_backend(diesel::mysql::Mysql))]
pub struct Image {
    pub created_on: Option<NaiveDateTime>,
    pub changed_on: Option<NaiveDateTime>,
    pub id: i32,
    pub project_id: Option<i32>,
    pub name: String,
    pub describe: String,
    pub repository_id: Option<i32>,
    pub entrypoint: Option<String>,
    pub dockerfile: Option<String>,
    pub gitpath: Option<String>,
    pub created_by_fk: Option<i32>,
    pub changed_by_fk: Option<i32>,
}

/// A row of `job_template`.
#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Identifiable, Serialize)]
#[diesel(table_name = job_template, check_for_backend(diesel::mysql::Mysql))]
pub struct JobTemplate {
    pub created_on: Option<NaiveDateTime>,
    pub changed_on: Option<NaiveDateTime>,
    pub id: i32,
    pub project_id: Option<i32>,
    pub name: String,
    pub version: String,
    pub images_id: Option<i32>,
    pub host_aliases: Option<String>,
    pub describe: String,
    pub workdir: Option<String>,
    pub entrypoint: Option<String>,
    pub args: Option<String>,
    pub env: Option<String>,
    pub volume_mount: Option<String>,
    pub privileged: Option<bool>,
    pub accounts: Option<String>,
    pub demo: Option<String>,
    pub expand: Option<String>,
    pub created_by_fk: Option<i32>,
    pub changed_by_fk: Option<i32>,
}

/// A row of `pipeline`.
#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Identifiable, Serialize)]
#[diesel(table_name = pipeline, check_for_backend(diesel::mysql::Mysql))]
pub struct Pipeline {
    pub created_on: Option<NaiveDateTime>,
    pub changed_on: Option<NaiveDateTime>,
    pub id: i32,
    pub name: String,
    pub describe: String,
    pub project_id: i32,
    pub dag_json: String,
    pub namespace: Option<String>,
    pub global_env: Option<String>,
    pub schedule_type: String,
    pub cron_time: Option<String>,
    pub cronjob_start_time: Option<String>,
    pub pipeline_file: Option<String>,
    pub pipeline_argo_id: Option<String>,
    pub version_id: Option<String>,
    pub run_id: Option<String>,
    pub node_selector: Option<String>,
    pub image_pull_policy: String,
    pub parallelism: i32,
    pub alert_status: Option<String>,
    pub alert_user: Option<String>,
    pub expand: Option<String>,
    pub depends_on_past: Option<bool>,
    pub max_active_runs: i32,
    pub expired_limit: i32,
    pub parameter: Option<String>,
    pub priority: Option<String>,
    pub type_: Option<String>,
    pub created_by_fk: Option<i32>,
    pub changed_by_fk: Option<i32>,
}

/// A row of `task`.
#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Identifiable, Serialize)]
#[diesel(table_name = task, check_for_backend(diesel::mysql::Mysql))]
pub struct Task {
    pub created_on: Option<NaiveDateTime>,
    pub changed_on: Option<NaiveDateTime>,
    pub id: i32,
    pub name: String,
    pub label: String,
    pub job_template_id: Option<i32>,
    pub pipeline_id: Option<i32>,
    pub namespace: Option<String>,
    pub working_dir: Option<String>,
    pub command: Option<String>,
    pub overwrite_entrypoint: Option<bool>,
    pub args: Option<String>,
    pub volume_mount: Option<String>,
    pub node_selector: Option<String>,
    pub resource_memory: Option<String>,
    pub resource_cpu: Option<String>,
    pub resource_gpu: Option<String>,
    pub resource_rdma: Option<String>,
    pub timeout: i32,
    pub retry: i32,
    pub outputs: Option<String>,
    pub monitoring: Option<String>,
    pub expand: Option<String>,
    pub skip: Option<bool>,
    pub created_by_fk: Option<i32>,
    pub changed_by_fk: Option<i32>,
}

/// A row of `run`.
#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Identifiable, Serialize)]
#[diesel(table_name = run, check_for_backend(diesel::mysql::Mysql))]
pub struct Run {
    pub id: i32,
    pub pipeline_id: Option<i32>,
    pub pipeline_file: Option<String>,
    pub pipeline_argo_id: Option<String>,
    pub version_id: Option<String>,
    pub experiment_id: Option<String>,
    pub run_id: Option<String>,
    pub message: Option<String>,
    pub created_on: NaiveDateTime,
    pub execution_date: String,
    pub status: Option<String>,
}

/// A row of `workflow`.
#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Identifiable, Serialize)]
#[diesel(table_name = workflow, check_for_backend(diesel::mysql::Mysql))]
pub struct Workflow {
    pub id: i32,
    pub name: Option<String>,
    pub cluster: Option<String>,
    pub namespace: Option<String>,
    pub create_time: Option<String>,
    pub change_time: Option<String>,
    pub status: Option<String>,
    pub annotations: Option<String>,
    pub labels: Option<String>,
    pub spec: Option<String>,
    pub status_more: Option<String>,
    pub username: Option<String>,
    pub info_json: Option<String>,
    pub add_row_time: Option<NaiveDateTime>,
    pub foreign_key: Option<String>,
}

/// A row of `logs`.
#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Identifiable, Serialize)]
#[diesel(table_name = logs, check_for_backend(diesel::mysql::Mysql))]
pub struct Log {
    pub id: i32,
    pub user_id: Option<i32>,
    pub action: Option<String>,
    pub method: Option<String>,
    pub path: Option<String>,
    pub status: Option<i32>,
    pub json: Option<String>,
    pub dttm: Option<NaiveDateTime>,
    pub duration_ms: Option<i32>,
    pub referrer: Option<String>,
}

/// A row of `favorite`.
#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Identifiable, Serialize)]
#[diesel(table_name = favorite, check_for_backend(diesel::mysql::Mysql))]
pub struct Favorite {
    pub id: i32,
    pub model_name: String,
    pub row_id: String,
    pub user_id: Option<i32>,
}

/// A row of `notebook`.
#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Identifiable, Serialize)]
#[diesel(table_name = notebook, check_for_backend(diesel::mysql::Mysql))]
pub struct Notebook {
    pub created_on: Option<NaiveDateTime>,
    pub changed_on: Option<NaiveDateTime>,
    pub id: i32,
    pub project_id: i32,
    pub name: Option<String>,
    pub describe: Option<String>,
    pub namespace: Option<String>,
    pub images: Option<String>,
    pub ide_type: Option<String>,
    pub working_dir: Option<String>,
    pub env: Option<String>,
    pub volume_mount: Option<String>,
    pub node_selector: Option<String>,
    pub image_pull_policy: Option<String>,
    pub resource_memory: Option<String>,
    pub resource_cpu: Option<String>,
    pub resource_gpu: Option<String>,
    pub expand: Option<String>,
    pub created_by_fk: Option<i32>,
    pub changed_by_fk: Option<i32>,
}
