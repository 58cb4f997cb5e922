//! Why a pipeline cannot be compiled. Every message is fit to show to the user as a
//! 400 response.

use crate::k8s::host_aliases::HostAliasError;
use crate::k8s::resources::ResourceError;
use crate::k8s::volumes::VolumeError;

/// A pipeline (or single task) that cannot be turned into manifests.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum CompileError {
    /// Neither the dag nor the task list has a task.
    #[error("the pipeline has no tasks")]
    EmptyPipeline,
    /// `dag_json` is not an object of `{name: {upstream: [...]}}`.
    #[error("invalid dag_json: {0}")]
    BadDag(String),
    /// Two tasks of the pipeline have the same name.
    #[error("two tasks are named {0}")]
    DuplicateTask(String),
    /// A dag key (or a requested task) names no task of the pipeline.
    #[error("the dag names task {task}, which does not exist in the pipeline")]
    UnknownTask { task: String },
    /// An upstream entry names no task of the pipeline.
    #[error("task {task} depends on missing task {dependency}")]
    MissingDependency { task: String, dependency: String },
    /// The dag has a cycle; the tasks are listed in run order.
    #[error("cycle between tasks {}", .0.join(", "))]
    Cycle(Vec<String>),
    /// The task's job template was deleted (or never set).
    #[error("task {task} has no job template")]
    MissingTemplate { task: String },
    /// Neither the template nor the task args give an image.
    #[error("task {task}: job template {template} has no image and the task sets none")]
    MissingImage { task: String, template: String },
    /// `task.args` is not a JSON object.
    #[error("task {task}: args must be a JSON object: {message}")]
    BadArgs { task: String, message: String },
    /// `task.volume_mount` does not parse.
    #[error("task {task}: {source}")]
    BadVolumeMount {
        task: String,
        #[source]
        source: VolumeError,
    },
    /// A memory, cpu or GPU string does not parse.
    #[error("task {task}: {source}")]
    BadResource {
        task: String,
        #[source]
        source: ResourceError,
    },
    /// A host alias line of the template (or config) does not parse.
    #[error("{owner}: {source}")]
    BadHostAlias {
        owner: String,
        #[source]
        source: HostAliasError,
    },
    /// A Jinja template in a field does not render.
    #[error("cannot render {field}: {message}")]
    Template { field: String, message: String },
}
