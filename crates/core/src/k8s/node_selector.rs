//! Node selector strings `k=v;k=v` (orchestration.md §1.7, kubernetes.md §2).
//!
//! Unlike upstream, items keep their first-seen order (upstream deduplicated with
//! `set()`), and a multi-value item such as `org=a,b` becomes a required nodeAffinity
//! `org In [a, b]` that the callers emit (upstream computed it and dropped it).

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{
    NodeAffinity, NodeSelector, NodeSelectorRequirement, NodeSelectorTerm,
};

use super::resources::{GpuClass, GpuRequest};

/// The items of a selector string split on `;`, newline or tab, trimmed, empty ones
/// dropped, duplicates removed keeping the first.
pub fn selector_items(s: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for item in s.split([';', '\n', '\t', '\r']).map(str::trim) {
        if !item.is_empty() && !out.iter().any(|o| o == item) {
            out.push(item.to_string());
        }
    }
    out
}

/// `project.node_selector`: `expand.node_selector` + `;org=<org>`, deduplicated.
pub fn project_node_selector(expand_node_selector: &str, org: &str) -> String {
    let org = org.trim();
    let org = if org.is_empty() { "public" } else { org };
    selector_items(&format!("{expand_node_selector};org={org}")).join(";")
}

/// `get_default_node_selector(node_selector, resource_gpu, model_type)`: swaps
/// `cpu=true`/`gpu=true`/`vgpu=true` for the GPU class, adds `<class>=true` and
/// `<model_type>=true`, and `org=public` when no `org` is present.
pub fn default_node_selector(project_selector: &str, gpu: &GpuRequest, model_type: &str) -> String {
    let (from, to) = match gpu.class() {
        GpuClass::Virtual | GpuClass::Fraction => ("cpu=true", "vgpu=true"),
        GpuClass::Whole | GpuClass::Shared => ("cpu=true", "gpu=true"),
        GpuClass::None => ("gpu=true", "cpu=true"),
    };
    let mut items: Vec<String> = selector_items(project_selector)
        .into_iter()
        .map(|i| if i == from { to.to_string() } else { i })
        .collect();
    items.push(to.to_string());
    if !model_type.is_empty() {
        items.push(format!("{model_type}=true"));
    }
    if !items
        .iter()
        .any(|i| i.split('=').next().map(str::trim) == Some("org"))
    {
        items.push("org=public".to_string());
    }
    selector_items(&items.join(";")).join(";")
}

/// `Task.get_node_selector()`: the default selector of model type `train` plus
/// `gpu-type=<TYPE>` when the GPU string names a card model.
pub fn task_node_selector(project_selector: &str, gpu: &GpuRequest) -> String {
    let mut s = default_node_selector(project_selector, gpu, "train");
    if let Some(t) = &gpu.gpu_type {
        s.push_str(";gpu-type=");
        s.push_str(t);
    }
    selector_items(&s).join(";")
}

/// A selector string turned into Kubernetes placement.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct NodePlacement {
    /// Single-value items in first-seen order (a later item overrides the value of an
    /// earlier one with the same key, keeping the earlier position).
    pub node_selector: Vec<(String, String)>,
    /// Multi-value items (`org=a,b`) → key `In` values.
    pub required: Vec<(String, Vec<String>)>,
}

impl NodePlacement {
    /// The nodeSelector as a map.
    pub fn node_selector_map(&self) -> BTreeMap<String, String> {
        self.node_selector.iter().cloned().collect()
    }

    /// Sets (or replaces) a single-value item.
    pub fn set(&mut self, key: &str, value: &str) {
        self.required.retain(|(k, _)| k != key);
        match self.node_selector.iter_mut().find(|(k, _)| k == key) {
            Some(item) => item.1 = value.to_string(),
            None => self
                .node_selector
                .push((key.to_string(), value.to_string())),
        }
    }

    /// Removes a key.
    pub fn remove(&mut self, key: &str) {
        self.node_selector.retain(|(k, _)| k != key);
        self.required.retain(|(k, _)| k != key);
    }

    /// The required nodeAffinity for the multi-value items, if any.
    pub fn node_affinity(&self) -> Option<NodeAffinity> {
        if self.required.is_empty() {
            return None;
        }
        let match_expressions = self
            .required
            .iter()
            .map(|(key, values)| NodeSelectorRequirement {
                key: key.clone(),
                operator: "In".to_string(),
                values: Some(values.clone()),
            })
            .collect();
        Some(NodeAffinity {
            required_during_scheduling_ignored_during_execution: Some(NodeSelector {
                node_selector_terms: vec![NodeSelectorTerm {
                    match_expressions: Some(match_expressions),
                    match_fields: None,
                }],
            }),
            preferred_during_scheduling_ignored_during_execution: None,
        })
    }
}

/// Parses a selector string. Items without `=` or with an empty key are ignored; a
/// value with commas becomes a required `In` expression instead of a nodeSelector.
pub fn parse_node_selector(s: &str) -> NodePlacement {
    let mut placement = NodePlacement::default();
    for item in selector_items(s) {
        let Some((key, value)) = item.split_once('=') else {
            continue;
        };
        let (key, value) = (key.trim(), value.trim());
        if key.is_empty() {
            continue;
        }
        if value.contains(',') {
            let values: Vec<String> = value
                .split(',')
                .map(str::trim)
                .filter(|v| !v.is_empty())
                .map(String::from)
                .collect();
            placement.remove(key);
            placement.required.push((key.to_string(), values));
        } else {
            placement.set(key, value);
        }
    }
    placement
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::k8s::resources::{GpuConfig, parse_gpu};

    fn gpu(s: &str) -> GpuRequest {
        parse_gpu(s, &GpuConfig::default()).unwrap()
    }

    #[test]
    fn project_selector_appends_org() {
        assert_eq!(project_node_selector("", "public"), "org=public");
        assert_eq!(
            project_node_selector("cpu=true;x=1", ""),
            "cpu=true;x=1;org=public"
        );
        assert_eq!(project_node_selector("org=a;org=a", "a"), "org=a");
        assert_eq!(project_node_selector("k=v\nk=v", "a,b"), "k=v;org=a,b");
    }

    #[test]
    fn default_selector_per_gpu_class() {
        assert_eq!(
            default_node_selector("org=public", &gpu("0"), "train"),
            "org=public;cpu=true;train=true"
        );
        assert_eq!(
            default_node_selector("cpu=true;org=public", &gpu("1"), "train"),
            "gpu=true;org=public;train=true"
        );
        assert_eq!(
            default_node_selector("org=x", &gpu("-1"), "notebook"),
            "org=x;gpu=true;notebook=true"
        );
        assert_eq!(
            default_node_selector("cpu=true", &gpu("0.5"), "service"),
            "vgpu=true;service=true;org=public"
        );
        assert_eq!(
            default_node_selector("cpu=true;org=a", &gpu("8G,0.5"), "train"),
            "vgpu=true;org=a;train=true"
        );
        assert_eq!(
            default_node_selector("gpu=true;vgpu=true;org=a", &gpu("0"), "train"),
            "cpu=true;vgpu=true;org=a;train=true"
        );
        // deterministic: the same input gives the same string every time
        let a = default_node_selector("b=1;a=2;org=z", &gpu("2"), "train");
        for _ in 0..10 {
            assert_eq!(
                default_node_selector("b=1;a=2;org=z", &gpu("2"), "train"),
                a
            );
        }
    }

    #[test]
    fn task_selector_adds_gpu_type() {
        assert_eq!(
            task_node_selector("org=public", &gpu("1(V100)")),
            "org=public;gpu=true;train=true;gpu-type=V100"
        );
        assert_eq!(
            task_node_selector("org=public", &gpu("1")),
            "org=public;gpu=true;train=true"
        );
    }

    #[test]
    fn parses_into_selector_and_affinity() {
        let p = parse_node_selector("org=a, b;cpu=true;bogus;=x;train=true;cpu=false");
        assert_eq!(
            p.node_selector,
            vec![
                ("cpu".to_string(), "false".to_string()),
                ("train".to_string(), "true".to_string())
            ]
        );
        assert_eq!(
            p.required,
            vec![("org".to_string(), vec!["a".to_string(), "b".to_string()])]
        );
        insta::assert_yaml_snapshot!(p.node_affinity());
        assert_eq!(parse_node_selector("org=public").node_affinity(), None);
    }

    #[test]
    fn set_and_remove() {
        let mut p = parse_node_selector("org=a,b;cpu=true");
        p.remove("cpu");
        p.set("gpu", "true");
        p.set("org", "c");
        assert_eq!(
            p.node_selector,
            vec![
                ("gpu".to_string(), "true".to_string()),
                ("org".to_string(), "c".to_string())
            ]
        );
        assert!(p.required.is_empty());
    }
}
