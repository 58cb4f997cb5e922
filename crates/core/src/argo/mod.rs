//! Pipeline → Argo `Workflow` compilation (orchestration.md §1), as a pure function
//! over rows the caller loaded, snapshot-tested.
//!
//! Entry points: [`compile_workflow`] and [`workflow_to_yaml`]; the single-task pods
//! of §2.2 are built by [`crate::k8s::pods::build_task_pod`] from the same input.

mod container_template;
mod dag;
mod error;
mod input;
mod manifest;
pub(crate) mod render;
pub mod sample;
pub(crate) mod task;
mod workflow;

#[cfg(test)]
mod golden;
#[cfg(test)]
mod tests;

pub use dag::{Dag, DagNode, parse_dag};
pub use error::CompileError;
pub use input::{
    CompileConfig, CompileInput, ScheduleType, TaskInput, default_global_env, fresh_debug_run_id,
    fresh_name_suffix, fresh_run_id, name_suffix_of, run_pod_run_id,
};
pub use manifest::{StringMap, Workflow, WorkflowAnnotations, WorkflowMetadata, WorkflowSpec};
pub use render::{RenderError, Renderer, python_unicode_escape};
pub use workflow::{compile_workflow, workflow_to_yaml};
