//! The cluster registry: one `kube::Client` per configured cluster, built lazily from a
//! kubeconfig file (or the in-cluster service account), chosen per project from
//! `project.expand.cluster` as the original does.

use std::collections::BTreeMap;
use std::path::Path;

use kube::config::{KubeConfigOptions, Kubeconfig};
use tokio::sync::OnceCell;

use crate::config::{ClusterConfig, Config};

/// Why a cluster cannot be reached.
#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    #[error("cluster {0:?} is not configured (CLUSTERS / KUBECONFIG)")]
    Unknown(String),
    #[error("cluster {name:?}: cannot read kubeconfig {path}: {message}")]
    Kubeconfig {
        name: String,
        path: String,
        message: String,
    },
    #[error("cluster {0:?} has no kubeconfig and this process does not run inside a cluster")]
    NoConfig(String),
    #[error("cluster {name:?}: {message}")]
    Client { name: String, message: String },
}

/// One configured cluster and its client (made on first use).
pub struct ClusterHandle {
    pub config: ClusterConfig,
    client: OnceCell<kube::Client>,
}

/// Every configured cluster.
pub struct ClusterRegistry {
    clusters: BTreeMap<String, ClusterHandle>,
    home: String,
}

impl ClusterRegistry {
    /// Registers the clusters of the configuration; nothing is contacted yet.
    pub fn from_config(config: &Config) -> Self {
        let clusters = config
            .clusters
            .iter()
            .map(|(k, c)| {
                (
                    k.clone(),
                    ClusterHandle {
                        config: c.clone(),
                        client: OnceCell::new(),
                    },
                )
            })
            .collect();
        ClusterRegistry {
            clusters,
            home: config.environment.clone(),
        }
    }

    /// Cluster names.
    pub fn names(&self) -> Vec<String> {
        self.clusters.keys().cloned().collect()
    }

    /// The name of the cluster a project deploys to: `expand.cluster` if configured, else home.
    pub fn cluster_for(&self, requested: Option<&str>) -> String {
        match requested {
            Some(n) if self.clusters.contains_key(n) => n.to_string(),
            _ => self.home.clone(),
        }
    }

    /// The client of a cluster, built on first use.
    pub async fn client(&self, name: &str) -> Result<kube::Client, ClusterError> {
        let handle = self
            .clusters
            .get(name)
            .ok_or_else(|| ClusterError::Unknown(name.to_string()))?;
        handle
            .client
            .get_or_try_init(|| build_client(name, &handle.config))
            .await
            .cloned()
    }
}

/// Builds a client from a cluster's kubeconfig (or in-cluster configuration).
pub async fn build_client(name: &str, c: &ClusterConfig) -> Result<kube::Client, ClusterError> {
    let path = c.kubeconfig.trim();
    let config = if path.is_empty()
        || Path::new(path)
            .metadata()
            .map(|m| m.len() == 0)
            .unwrap_or(false)
    {
        if std::env::var("KUBERNETES_SERVICE_HOST").is_err() {
            return Err(ClusterError::NoConfig(name.to_string()));
        }
        kube::Config::incluster().map_err(|e| ClusterError::Client {
            name: name.into(),
            message: e.to_string(),
        })?
    } else {
        let kc = Kubeconfig::read_from(path).map_err(|e| ClusterError::Kubeconfig {
            name: name.into(),
            path: path.into(),
            message: e.to_string(),
        })?;
        kube::Config::from_custom_kubeconfig(kc, &KubeConfigOptions::default())
            .await
            .map_err(|e| ClusterError::Kubeconfig {
                name: name.into(),
                path: path.into(),
                message: e.to_string(),
            })?
    };
    kube::Client::try_from(config).map_err(|e| ClusterError::Client {
        name: name.into(),
        message: e.to_string(),
    })
}
