//! The model views served by the dashboard.

/// FAB view-menu names of the APIs we serve (seeded into `ab_view_menu`).
pub const API_VIEW_NAMES: &[&str] = &[
    "Project_ModelView_Api",
    "Project_ModelView_org_Api",
    "Project_ModelView_job_template_Api",
    "Project_User_ModelView_Api",
    "Repository_ModelView_Api",
    "Images_ModelView_Api",
    "Job_Template_ModelView_Api",
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

/// Name of the custom-image job template (the original's `CUSTOMIZE_JOB`, zh locale).
pub fn customize_job() -> &'static str {
    "自定义镜像"
}
