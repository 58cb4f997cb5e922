//! The model views served by the dashboard: one declaration per view, plus the few
//! routes that are not generic.

use serde_json::json;

use crate::api::configure_view;
use crate::engine::view::ModelView;
use crate::routing::{Answer, Routes};
use crate::state::AppState;

pub mod ids;
pub mod images;
pub mod job_template;
pub mod k8s;
mod k8s_pages;
pub mod node_detail;
pub mod pipeline;
pub mod project;
pub mod properties;
pub mod run_dag;
pub mod task;
pub mod total_resource;
pub mod users;
pub mod workflow;
mod workflow_columns;
pub mod workflow_run;

/// FAB view-menu names of the APIs we serve (seeded into `ab_view_menu`).
pub const API_VIEW_NAMES: &[&str] = &[
    "Project_ModelView_Api",
    "Project_ModelView_org_Api",
    "Project_ModelView_job_template_Api",
    "Project_User_ModelView_Api",
    "Repository_ModelView_Api",
    "Images_ModelView_Api",
    "Job_Template_ModelView_Api",
    "Job_Template_fab_ModelView_Api",
    "Pipeline_ModelView_Api",
    "Pipeline_ModelView_Home_Api",
    "Task_ModelView_Api",
    "Workflow_ModelView_Api",
    "RunHistory_ModelView_Api",
    "User_ModelView_Api",
    "Role_ModelView_Api",
    "UserInfo_ModelView_Api",
    "LOG_ModelView_Api",
];

/// The widths the original answers for every view without its own `cols_width`: they
/// all share one class-level dict that start-up fills with the list columns of each
/// such view (also views we do not serve), so `project`, `project_user` and `log`
/// answer the same keys.
pub fn shared_cols_width() -> serde_json::Value {
    let mut m = serde_json::Map::new();
    for (name, width) in [
        ("role", 100),
        ("org", 200),
        ("user", 100),
        ("name", 100),
        ("describe", 100),
        ("type", 100),
        ("expand", 500),
        ("created_by", 100),
        ("changed_by", 100),
        ("created_on", 100),
        ("changed_on", 100),
        ("sqllchemy_uri", 255),
        ("table_name", 255),
        ("label", 255),
        ("app", 255),
        ("owner", 500),
        ("columns", 100),
        ("status", 100),
        ("project", 100),
        ("describe_url", 100),
        ("run", 100),
        ("creator", 100),
        ("modified", 100),
        ("method", 100),
        ("path", 200),
        ("duration_ms", 100),
        ("dttm", 100),
        ("card", 100),
    ] {
        m.insert(name.into(), json!({"type": "ellip2", "width": width}));
    }
    serde_json::Value::Object(m)
}

/// Name of the custom-image job template (the original's `CUSTOMIZE_JOB`, zh locale).
pub fn customize_job() -> &'static str {
    "自定义镜像"
}

/// Every view, in route-registration order.
pub fn all_views(
    config: &app_core::Config,
    kube: &std::sync::Arc<crate::cluster::Kube>,
    schema: std::sync::Arc<crate::engine::meta::SchemaMeta>,
) -> Vec<ModelView> {
    let mut v = Vec::new();
    v.extend(project::views(config, kube));
    v.extend(images::views(config));
    v.extend(job_template::views(config));
    v.extend(users::views());
    v.extend(pipeline::views(config, kube));
    v.extend(task::views(config, schema));
    v.extend(workflow::views(config, kube));
    v
}

/// Registers the special routes first, then every view's generic routes.
pub fn configure(r: &mut Routes<'_>, state: &AppState) {
    r.tag(ids::USERINFO.0);
    for path in [
        "/userinfo/api/current/userinfo",
        "/userinfo/api/current/userinfo/",
    ] {
        r.add(
            "GET",
            path,
            "The caller (the user centre), with the user's token in `secret`",
            Answer::Json(json!({"type": "object"})),
            users::current_userinfo,
        );
        r.add(
            "POST",
            path,
            "The caller changes nickname, e-mail, org or password",
            Answer::Envelope(json!({})),
            users::update_userinfo,
        )
        .body = Some(
            json!({"type": "object", "properties": {"nickname": {"type": "string"}, "email": {"type": "string"}, "org": {"type": "string"}, "password": {"type": "string"}}}),
        );
    }
    r.add(
        "POST",
        "/userinfo/api/current/token",
        "Rotate the caller's token: the old one stops working at once",
        Answer::Envelope(json!({"type": "object", "properties": {"secret": {"type": "string"}}})),
        users::rotate_own_token,
    );
    pipeline::configure(r);
    task::configure(r);
    workflow::configure(r);
    k8s::configure(r);
    total_resource::configure(r);
    for (idx, view) in state.views.iter().enumerate() {
        configure_view(r, idx, view);
    }
    crate::api::form::configure_form_view(
        r,
        std::sync::Arc::new(total_resource::view()),
        std::sync::Arc::new(total_resource::TotalResource),
    );
}

/// The pop-ups of pages (`/myapp/feature/check`).
pub fn alerts() -> Vec<(&'static str, crate::state::Alert)> {
    vec![total_resource::alert()]
}
