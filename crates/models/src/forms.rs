//! Insert forms. Every default that cube-studio kept only in Python (data-model.md §0.3)
//! is filled here, so rows we write look like rows the original writes.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::schema::*;

/// Audit columns shared by most business tables.
#[derive(Debug, Clone, Copy)]
pub struct Audit {
    pub user_id: Option<i32>,
    pub now: NaiveDateTime,
}

impl Audit {
    pub fn new(user_id: Option<i32>) -> Self {
        Audit {
            user_id,
            now: chrono::Local::now().naive_local().with_nanosecond_zero(),
        }
    }
}

trait NoNanos {
    fn with_nanosecond_zero(self) -> Self;
}
impl NoNanos for NaiveDateTime {
    fn with_nanosecond_zero(self) -> Self {
        use chrono::Timelike;
        self.with_nanosecond(0).unwrap_or(self)
    }
}

/// Now, in local naive time, to the second (what DATETIME columns hold).
pub fn now() -> NaiveDateTime {
    chrono::Local::now().naive_local().with_nanosecond_zero()
}

#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = ab_user)]
pub struct NewUser {
    pub first_name: String,
    pub last_name: String,
    pub username: String,
    pub password: Option<String>,
    pub active: Option<bool>,
    pub email: String,
    pub created_on: Option<NaiveDateTime>,
    pub changed_on: Option<NaiveDateTime>,
    pub created_by_fk: Option<i32>,
    pub changed_by_fk: Option<i32>,
    pub balance: Option<String>,
    pub coupon: Option<String>,
    pub voucher: Option<String>,
    pub bill: Option<String>,
    pub real_name_authentication: Option<String>,
    pub subaccount: Option<String>,
}

impl NewUser {
    /// A new active user; `password_hash` is already a werkzeug hash.
    pub fn new(username: &str, email: &str, password_hash: String, audit: Audit) -> Self {
        let json = Some("{}".to_string());
        NewUser {
            first_name: username.to_string(),
            last_name: String::new(),
            username: username.to_string(),
            password: Some(password_hash),
            active: Some(true),
            email: email.to_string(),
            created_on: Some(audit.now),
            changed_on: Some(audit.now),
            created_by_fk: audit.user_id,
            changed_by_fk: audit.user_id,
            balance: json.clone(),
            coupon: json.clone(),
            voucher: json.clone(),
            bill: json.clone(),
            real_name_authentication: json.clone(),
            subaccount: json,
        }
    }
}

#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = ab_role)]
pub struct NewRole {
    pub name: String,
}

#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = ab_user_role)]
pub struct NewUserRole {
    pub user_id: Option<i32>,
    pub role_id: Option<i32>,
}

#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = project)]
pub struct NewProject {
    pub name: String,
    pub describe: String,
    #[diesel(column_name = type_)]
    pub type_: Option<String>,
    pub expand: Option<String>,
    pub created_on: Option<NaiveDateTime>,
    pub changed_on: Option<NaiveDateTime>,
    pub created_by_fk: Option<i32>,
    pub changed_by_fk: Option<i32>,
}

impl NewProject {
    pub fn new(name: &str, describe: &str, type_: &str, expand: &str, audit: Audit) -> Self {
        NewProject {
            name: name.into(),
            describe: describe.into(),
            type_: Some(type_.into()),
            expand: Some(expand.into()),
            created_on: Some(audit.now),
            changed_on: Some(audit.now),
            created_by_fk: audit.user_id,
            changed_by_fk: audit.user_id,
        }
    }
}

#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = project_user)]
pub struct NewProjectUser {
    pub project_id: i32,
    pub user_id: i32,
    pub role: String,
    pub quota: Option<String>,
    pub org: Option<String>,
    pub expand: Option<String>,
    pub created_on: Option<NaiveDateTime>,
    pub changed_on: Option<NaiveDateTime>,
    pub created_by_fk: Option<i32>,
    pub changed_by_fk: Option<i32>,
}

impl NewProjectUser {
    pub fn new(project_id: i32, user_id: i32, role: &str, audit: Audit) -> Self {
        NewProjectUser {
            project_id,
            user_id,
            role: role.into(),
            quota: Some(String::new()),
            org: Some(String::new()),
            expand: Some("{}".into()),
            created_on: Some(audit.now),
            changed_on: Some(audit.now),
            created_by_fk: audit.user_id,
            changed_by_fk: audit.user_id,
        }
    }
}

#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = repository)]
pub struct NewRepository {
    pub name: String,
    pub server: String,
    pub user: String,
    pub password: String,
    pub hubsecret: Option<String>,
    pub created_on: Option<NaiveDateTime>,
    pub changed_on: Option<NaiveDateTime>,
    pub created_by_fk: Option<i32>,
    pub changed_by_fk: Option<i32>,
}

#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = images)]
pub struct NewImage {
    pub project_id: Option<i32>,
    pub name: String,
    pub describe: String,
    pub repository_id: Option<i32>,
    pub entrypoint: Option<String>,
    pub dockerfile: Option<String>,
    pub gitpath: Option<String>,
    pub created_on: Option<NaiveDateTime>,
    pub changed_on: Option<NaiveDateTime>,
    pub created_by_fk: Option<i32>,
    pub changed_by_fk: Option<i32>,
}

#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = job_template)]
pub struct NewJobTemplate {
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
    pub created_on: Option<NaiveDateTime>,
    pub changed_on: Option<NaiveDateTime>,
    pub created_by_fk: Option<i32>,
    pub changed_by_fk: Option<i32>,
}

#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = pipeline)]
pub struct NewPipeline {
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
    #[diesel(column_name = type_)]
    pub type_: Option<String>,
    pub created_on: Option<NaiveDateTime>,
    pub changed_on: Option<NaiveDateTime>,
    pub created_by_fk: Option<i32>,
    pub changed_by_fk: Option<i32>,
}

impl NewPipeline {
    /// A pipeline with every model default of data-model.md §1.5.
    pub fn new(name: &str, describe: &str, project_id: i32, audit: Audit) -> Self {
        NewPipeline {
            name: name.into(),
            describe: describe.into(),
            project_id,
            dag_json: "{}".into(),
            namespace: Some("pipeline".into()),
            global_env: Some(String::new()),
            schedule_type: "once".into(),
            cron_time: None,
            cronjob_start_time: Some(crate::time::format_time(audit.now)),
            pipeline_file: Some(String::new()),
            node_selector: Some("cpu=true;train=true".into()),
            image_pull_policy: "Always".into(),
            parallelism: 1,
            alert_status: Some("Pending,Running,Succeeded,Failed,Terminated".into()),
            alert_user: Some(String::new()),
            expand: Some("[]".into()),
            depends_on_past: Some(false),
            max_active_runs: 3,
            expired_limit: 0,
            parameter: Some("{}".into()),
            priority: Some("high".into()),
            type_: Some(String::new()),
            created_on: Some(audit.now),
            changed_on: Some(audit.now),
            created_by_fk: audit.user_id,
            changed_by_fk: audit.user_id,
        }
    }
}

#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = task)]
pub struct NewTask {
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
    pub created_on: Option<NaiveDateTime>,
    pub changed_on: Option<NaiveDateTime>,
    pub created_by_fk: Option<i32>,
    pub changed_by_fk: Option<i32>,
}

impl NewTask {
    /// A task with every model default of data-model.md §1.5.
    pub fn new(
        name: &str,
        label: &str,
        pipeline_id: i32,
        job_template_id: i32,
        audit: Audit,
    ) -> Self {
        NewTask {
            name: name.into(),
            label: label.into(),
            job_template_id: Some(job_template_id),
            pipeline_id: Some(pipeline_id),
            namespace: Some("pipeline".into()),
            working_dir: Some(String::new()),
            command: Some(String::new()),
            overwrite_entrypoint: Some(false),
            args: Some("{}".into()),
            volume_mount: Some("kubeflow-user-workspace(pvc):/mnt".into()),
            node_selector: Some("cpu=true;train=true".into()),
            resource_memory: Some("2G".into()),
            resource_cpu: Some("2".into()),
            resource_gpu: Some("0".into()),
            resource_rdma: Some("0".into()),
            timeout: 0,
            retry: 0,
            outputs: Some("{}".into()),
            monitoring: Some("{}".into()),
            expand: Some(String::new()),
            skip: Some(false),
            created_on: Some(audit.now),
            changed_on: Some(audit.now),
            created_by_fk: audit.user_id,
            changed_by_fk: audit.user_id,
        }
    }
}

#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = run)]
pub struct NewRun {
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

#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = logs)]
pub struct NewLog {
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
