//! Cluster access from the dashboard: the registry of clusters and a small runtime of
//! its own that drives every Kubernetes call, from async handlers only: nothing reaches
//! the cluster from the blocking threads where database work and view hooks run.

use std::future::Future;
use std::sync::Arc;

use app_core::Config;
use app_core::k8s::cluster::{ClusterError, ClusterRegistry};

use crate::error::ApiError;

/// The registry and the runtime its clients live on.
pub struct Kube {
    pub registry: Arc<ClusterRegistry>,
    rt: Option<tokio::runtime::Runtime>,
}

impl Drop for Kube {
    fn drop(&mut self) {
        if let Some(rt) = self.rt.take() {
            rt.shutdown_background();
        }
    }
}

impl Kube {
    pub fn new(config: &Config) -> std::io::Result<Arc<Kube>> {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("kube")
            .enable_all()
            .build()?;
        Ok(Arc::new(Kube {
            registry: Arc::new(ClusterRegistry::from_config(config)),
            rt: Some(rt),
        }))
    }

    fn handle(&self) -> Result<&tokio::runtime::Runtime, ApiError> {
        self.rt
            .as_ref()
            .ok_or_else(|| ApiError::unavailable("cluster runtime stopped"))
    }

    /// Runs cluster work from async code.
    pub async fn run<F, T>(&self, fut: F) -> Result<T, ApiError>
    where
        F: Future<Output = T> + Send + 'static,
        T: Send + 'static,
    {
        self.handle()?
            .spawn(fut)
            .await
            .map_err(|e| ApiError::internal(format!("cluster task failed: {e}")))
    }

    /// Starts long-lived cluster work (a followed log, a shell) without waiting for it;
    /// it talks to its handler through channels.
    pub fn spawn<F>(&self, fut: F) -> Result<(), ApiError>
    where
        F: Future<Output = ()> + Send + 'static,
    {
        self.handle()?.spawn(fut);
        Ok(())
    }

    /// The client of a cluster (made on the cluster runtime), or a 422 naming the problem.
    pub async fn client(&self, cluster: &str) -> Result<kube::Client, ApiError> {
        let registry = self.registry.clone();
        let name = cluster.to_string();
        self.run(async move { registry.client(&name).await })
            .await?
            .map_err(cluster_error)
    }
}

/// A cluster problem as the user sees it.
pub fn cluster_error(e: ClusterError) -> ApiError {
    ApiError::unprocessable(e.to_string())
}
