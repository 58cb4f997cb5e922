//! The identity of every view: its route base. Views and custom routes name each other
//! only through these constants; `ALL` is checked against the declared views at start.

use crate::engine::view::ViewId;

pub const PROJECT: ViewId = ViewId("/project_modelview/api");
pub const PROJECT_ORG: ViewId = ViewId("/project_modelview/org/api");
pub const PROJECT_JOB_TEMPLATE: ViewId = ViewId("/project_modelview/job_template/api");
pub const PROJECT_USER: ViewId = ViewId("/project_user_modelview/api");
pub const REPOSITORY: ViewId = ViewId("/repository_modelview/api");
pub const IMAGES: ViewId = ViewId("/images_modelview/api");
pub const JOB_TEMPLATE: ViewId = ViewId("/job_template_modelview/api");
pub const JOB_TEMPLATE_FAB: ViewId = ViewId("/job_template_fab_modelview/api");
pub const USERS: ViewId = ViewId("/users/api");
pub const ROLES: ViewId = ViewId("/roles/api");
pub const USERINFO: ViewId = ViewId("/userinfo/api");
pub const LOG: ViewId = ViewId("/log_modelview/api");
pub const PIPELINE: ViewId = ViewId("/pipeline_modelview/api");
pub const PIPELINE_HOME: ViewId = ViewId("/pipeline_modelview/home/api");
pub const TASK: ViewId = ViewId("/task_modelview/api");
pub const WORKFLOW: ViewId = ViewId("/workflow_modelview/api");
pub const RUNHISTORY: ViewId = ViewId("/runhistory_modelview/api");
/// A form view (`engine::form`): not a model view, so not in `ALL`.
pub const TOTAL_RESOURCE: ViewId = ViewId("/total_resource/api");

/// Every identity above: each must be declared exactly once (checked at start).
pub const ALL: &[ViewId] = &[
    PROJECT,
    PROJECT_ORG,
    PROJECT_JOB_TEMPLATE,
    PROJECT_USER,
    REPOSITORY,
    IMAGES,
    JOB_TEMPLATE,
    JOB_TEMPLATE_FAB,
    USERS,
    ROLES,
    USERINFO,
    LOG,
    PIPELINE,
    PIPELINE_HOME,
    TASK,
    WORKFLOW,
    RUNHISTORY,
];
