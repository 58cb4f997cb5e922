//! A typed view over `project.expand` (data-model.md §2, kubernetes.md §2): cluster,
//! resource group (`org`), node selector, volume mounts, namespace overrides and
//! external IPs. Bad JSON, or a value of the wrong type, falls back to the defaults.

use serde_json::Value;

use super::node_selector::project_node_selector;
use super::volumes::merge_volume_mounts;
use crate::Config;

/// The workspace mount every project gets when nothing mounts `/mnt`.
pub const DEFAULT_WORKSPACE_MOUNT: &str = "kubeflow-user-workspace(pvc):/mnt";

/// The per-kind namespaces (`NOTEBOOK_NAMESPACE`, `PIPELINE_NAMESPACE`,
/// `SERVICE_NAMESPACE`, `AUTOML_NAMESPACE`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Namespaces {
    pub notebook: String,
    pub pipeline: String,
    pub service: String,
    pub automl: String,
}

impl Default for Namespaces {
    fn default() -> Self {
        Namespaces {
            notebook: "jupyter".into(),
            pipeline: "pipeline".into(),
            service: "service".into(),
            automl: "automl".into(),
        }
    }
}

impl Namespaces {
    /// The configured defaults.
    pub fn from_config(config: &Config) -> Namespaces {
        Namespaces {
            notebook: config.notebook_namespace.clone(),
            pipeline: config.pipeline_namespace.clone(),
            service: config.service_namespace.clone(),
            automl: config.automl_namespace.clone(),
        }
    }
}

/// The settings a project's `expand` JSON carries.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ProjectSettings {
    /// Key of `CLUSTERS`; `None` means the home cluster.
    pub cluster: Option<String>,
    /// Resource group, default `public`; may be `a,b`.
    pub org: String,
    /// `expand.node_selector` as written (without the org item).
    pub node_selector_raw: String,
    /// `expand.volume_mount` as written.
    pub volume_mount_raw: String,
    /// `NAME:namespace` pairs of `expand.namespace`, in order.
    pub namespace_overrides: Vec<(String, String)>,
    /// `expand.SERVICE_EXTERNAL_IP` entries (`inner|public`).
    pub service_external_ip: Vec<String>,
    /// `expand.TKE_EXISTED_LBID`.
    pub tke_existed_lbid: Option<String>,
}

fn text(v: Option<&Value>) -> Option<String> {
    match v? {
        Value::String(s) => Some(s.trim().to_string()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
    .filter(|s| !s.is_empty())
}

impl ProjectSettings {
    /// Reads `project.expand`; anything unreadable gives the defaults.
    pub fn parse(expand: Option<&str>) -> ProjectSettings {
        let json: Value = expand
            .and_then(|e| serde_json::from_str(e).ok())
            .unwrap_or(Value::Null);
        let get = |k: &str| json.get(k);
        let namespace_overrides = text(get("namespace"))
            .map(|s| {
                s.split([',', ';', '\n'])
                    .filter_map(|kv| {
                        let (k, v) = kv.split_once(':')?;
                        let (k, v) = (k.trim(), v.trim());
                        (!k.is_empty() && !v.is_empty()).then(|| (k.to_uppercase(), v.to_string()))
                    })
                    .collect()
            })
            .unwrap_or_default();
        let service_external_ip = match get("SERVICE_EXTERNAL_IP") {
            Some(Value::Array(items)) => items.iter().filter_map(|i| text(Some(i))).collect(),
            other => text(other)
                .map(|s| {
                    s.split(',')
                        .map(str::trim)
                        .filter(|s| !s.is_empty())
                        .map(String::from)
                        .collect()
                })
                .unwrap_or_default(),
        };
        ProjectSettings {
            cluster: text(get("cluster")),
            org: text(get("org")).unwrap_or_else(|| "public".to_string()),
            node_selector_raw: text(get("node_selector")).unwrap_or_default(),
            volume_mount_raw: text(get("volume_mount")).unwrap_or_default(),
            namespace_overrides,
            service_external_ip,
            tke_existed_lbid: text(get("TKE_EXISTED_LBID")),
        }
    }

    /// Reads the `expand` of a project row.
    pub fn from_project(project: &app_models::rows::Project) -> ProjectSettings {
        ProjectSettings::parse(project.expand.as_deref())
    }

    /// `project.node_selector`: `expand.node_selector;org=<org>`, deduplicated.
    pub fn node_selector(&self) -> String {
        project_node_selector(&self.node_selector_raw, &self.org)
    }

    /// `project.volume_mount`: `expand.volume_mount` plus the workspace PVC at `/mnt`
    /// when nothing mounts `/mnt` (the merge keeps the first entry of each mount path).
    pub fn volume_mount(&self) -> String {
        merge_volume_mounts(&self.volume_mount_raw, DEFAULT_WORKSPACE_MOUNT)
    }

    /// The namespaces after the `expand.namespace` overrides.
    pub fn namespaces(&self, defaults: &Namespaces) -> Namespaces {
        let mut ns = defaults.clone();
        for (k, v) in &self.namespace_overrides {
            match k.as_str() {
                "NOTEBOOK_NAMESPACE" => ns.notebook = v.clone(),
                "PIPELINE_NAMESPACE" => ns.pipeline = v.clone(),
                "SERVICE_NAMESPACE" => ns.service = v.clone(),
                "AUTOML_NAMESPACE" => ns.automl = v.clone(),
                _ => {}
            }
        }
        ns
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_on_bad_or_missing_json() {
        for expand in [None, Some(""), Some("not json"), Some("[1,2]"), Some("{}")] {
            let s = ProjectSettings::parse(expand);
            assert_eq!(s.org, "public");
            assert_eq!(s.node_selector(), "org=public");
            assert_eq!(s.volume_mount(), DEFAULT_WORKSPACE_MOUNT);
            assert_eq!(s.namespaces(&Namespaces::default()), Namespaces::default());
            assert_eq!(s.cluster, None);
        }
        let s = ProjectSettings::parse(Some(r#"{"org": 5, "cluster": ["x"]}"#));
        assert_eq!(s.org, "5");
        assert_eq!(s.cluster, None);
    }

    #[test]
    fn reads_every_key() {
        let s = ProjectSettings::parse(Some(
            r#"{"cluster":"gpu1","org":"a,b","node_selector":"cpu=true;disk=ssd",
                "volume_mount":"data(pvc-share):/data,ws(pvc):/mnt/",
                "namespace":"NOTEBOOK_NAMESPACE:nb, PIPELINE_NAMESPACE:pl,bogus",
                "SERVICE_EXTERNAL_IP":["1.2.3.4|a.example"],"TKE_EXISTED_LBID":"lb-1"}"#,
        ));
        assert_eq!(s.cluster.as_deref(), Some("gpu1"));
        assert_eq!(s.node_selector(), "cpu=true;disk=ssd;org=a,b");
        assert_eq!(s.volume_mount(), "data(pvc-share):/data,ws(pvc):/mnt/");
        let ns = s.namespaces(&Namespaces::default());
        assert_eq!((ns.notebook.as_str(), ns.pipeline.as_str()), ("nb", "pl"));
        assert_eq!(
            (ns.service.as_str(), ns.automl.as_str()),
            ("service", "automl")
        );
        assert_eq!(s.service_external_ip, ["1.2.3.4|a.example"]);
        assert_eq!(s.tke_existed_lbid.as_deref(), Some("lb-1"));
        let s = ProjectSettings::parse(Some(r#"{"SERVICE_EXTERNAL_IP":"1.1.1.1, 2.2.2.2"}"#));
        assert_eq!(s.service_external_ip, ["1.1.1.1", "2.2.2.2"]);
    }

    #[test]
    fn appends_workspace_when_mnt_is_free() {
        let s = ProjectSettings::parse(Some(r#"{"volume_mount":"arch(pvc):/archives"}"#));
        assert_eq!(
            s.volume_mount(),
            "arch(pvc):/archives,kubeflow-user-workspace(pvc):/mnt"
        );
    }
}
