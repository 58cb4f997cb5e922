//! How a job fails: permanently (no retry; the run is marked `Failed`) or transiently
//! (retried with backoff: the cluster, MySQL or Redis is unreachable, a 5xx...).

use app_core::database::DbTaskError;
use app_core::k8s::cluster::ClusterError;
use app_core::k8s::ops::OpsError;
use app_core::pipeline::PipelineError;
use app_models::db::DbError;

/// A job's failure, classified.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JobError {
    /// Retrying cannot help (bad manifest, compile error, missing rows).
    #[error("{0}")]
    Permanent(String),
    /// Retrying later may help (a dependency is unreachable or overloaded).
    #[error("{0}")]
    Transient(String),
}

impl JobError {
    /// True for [`JobError::Transient`].
    pub fn is_transient(&self) -> bool {
        matches!(self, JobError::Transient(_))
    }

    /// The same error with `context: ` in front of its message.
    pub fn context(self, context: &str) -> JobError {
        match self {
            JobError::Permanent(m) => JobError::Permanent(format!("{context}: {m}")),
            JobError::Transient(m) => JobError::Transient(format!("{context}: {m}")),
        }
    }
}

impl From<DbError> for JobError {
    fn from(e: DbError) -> Self {
        if e.is_transient() {
            JobError::Transient(format!("mysql: {e}"))
        } else {
            JobError::Permanent(format!("mysql: {e}"))
        }
    }
}

/// A blocking database task that panicked (or was cancelled) is retried, like an
/// unreachable database: the job itself is not known to be wrong.
impl DbTaskError for JobError {
    fn task_failed(e: tokio::task::JoinError) -> Self {
        JobError::Transient(format!("database task failed: {e}"))
    }
}

impl From<diesel::result::Error> for JobError {
    fn from(e: diesel::result::Error) -> Self {
        DbError::from(e).into()
    }
}

impl From<OpsError> for JobError {
    fn from(e: OpsError) -> Self {
        if e.is_transient() {
            JobError::Transient(e.to_string())
        } else {
            JobError::Permanent(e.to_string())
        }
    }
}

impl From<ClusterError> for JobError {
    fn from(e: ClusterError) -> Self {
        match e {
            // nothing to wait for: the configuration names no such cluster
            ClusterError::Unknown(_) | ClusterError::NoConfig(_) => {
                JobError::Permanent(e.to_string())
            }
            // a kubeconfig that is being mounted, a client that cannot be built yet
            ClusterError::Kubeconfig { .. } | ClusterError::Client { .. } => {
                JobError::Transient(e.to_string())
            }
        }
    }
}

impl From<PipelineError> for JobError {
    fn from(e: PipelineError) -> Self {
        match e {
            PipelineError::Db(d) => JobError::from(d),
            other => JobError::Permanent(other.to_string()),
        }
    }
}

impl From<redis::RedisError> for JobError {
    fn from(e: redis::RedisError) -> Self {
        JobError::Transient(format!("redis: {e}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies() {
        let e: JobError = OpsError::Manifest("no name".into()).into();
        assert!(!e.is_transient());
        let e: JobError = ClusterError::Unknown("x".into()).into();
        assert!(!e.is_transient());
        let e: JobError = DbError::Query(diesel::result::Error::NotFound).into();
        assert!(!e.is_transient());
        let e: JobError = PipelineError::NotFound(3).into();
        assert_eq!(e, JobError::Permanent("pipeline 3 does not exist".into()));
        assert_eq!(
            JobError::Transient("down".into()).context("submit"),
            JobError::Transient("submit: down".into())
        );
    }
}
