//! A small RBAC evaluator over the install manifests (`install/kubernetes/*.yaml`): does a
//! ServiceAccount's bindings allow an [`Access`]? It follows the API server's RBAC
//! authorizer: a ClusterRoleBinding grants its ClusterRole's rules everywhere; a
//! RoleBinding grants its Role's (or ClusterRole's) rules in the binding's namespace
//! only; `*` and `*/<subresource>` match as there; `resourceNames` restrict to those
//! names; `nonResourceURLs` count only through ClusterRoleBindings. The discovery paths
//! every authenticated client may read (`system:discovery`, `system:public-info-viewer`)
//! are allowed without a rule. Aggregated ClusterRoles are not expanded.
//!
//! With [`FakeKube::kubeconfig_yaml_for`] giving each binary its own identity in a test,
//! [`assert_allowed`] checks everything a binary did against its ServiceAccount, and
//! [`enforce`] makes the fake API server refuse (403) what the manifests do not allow.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::Deserialize;
use serde_norway::Value;

use crate::fake_kube::{Access, FakeKube, ResourceAccess};

/// The repository's Kubernetes manifests.
pub fn install_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../install/kubernetes")
}

/// One rule of a Role or ClusterRole.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Rule {
    #[serde(default)]
    pub api_groups: Vec<String>,
    #[serde(default)]
    pub resources: Vec<String>,
    #[serde(default)]
    pub verbs: Vec<String>,
    #[serde(default)]
    pub resource_names: Vec<String>,
    #[serde(default, rename = "nonResourceURLs")]
    pub non_resource_urls: Vec<String>,
}

fn has(list: &[String], wanted: &str) -> bool {
    list.iter().any(|x| x == "*" || x == wanted)
}

impl Rule {
    /// Whether this rule allows a resource request.
    fn allows_resource(&self, a: &ResourceAccess) -> bool {
        let combined = if a.subresource.is_empty() {
            a.resource.clone()
        } else {
            format!("{}/{}", a.resource, a.subresource)
        };
        let resource_ok = self.resources.iter().any(|r| {
            r == "*"
                || *r == combined
                || (!a.subresource.is_empty() && *r == format!("*/{}", a.subresource))
        });
        let name_ok = self.resource_names.is_empty()
            || a.name
                .as_ref()
                .is_some_and(|n| self.resource_names.contains(n));
        has(&self.verbs, &a.verb) && has(&self.api_groups, &a.group) && resource_ok && name_ok
    }

    /// Whether this rule allows a non-resource request.
    fn allows_url(&self, verb: &str, path: &str) -> bool {
        has(&self.verbs, verb)
            && self
                .non_resource_urls
                .iter()
                .any(|u| match u.strip_suffix('*') {
                    Some(prefix) => path.starts_with(prefix),
                    None => u == path,
                })
    }

    /// `*` in verbs, resources or apiGroups, if any.
    pub fn wildcards(&self) -> Vec<&'static str> {
        let star = |l: &[String]| l.iter().any(|x| x.contains('*'));
        let mut out = Vec::new();
        if star(&self.verbs) {
            out.push("verbs");
        }
        if star(&self.resources) {
            out.push("resources");
        }
        if star(&self.api_groups) {
            out.push("apiGroups");
        }
        out
    }
}

/// Paths every authenticated client may `get` (the default discovery roles).
const DISCOVERY_URLS: &[&str] = &[
    "/api",
    "/api/*",
    "/apis",
    "/apis/*",
    "/version",
    "/version/",
    "/healthz",
    "/livez",
    "/readyz",
    "/openapi",
    "/openapi/*",
];

/// A ServiceAccount (the subject a binary runs as).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct ServiceAccount {
    pub namespace: String,
    pub name: String,
}

impl fmt::Display for ServiceAccount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.namespace, self.name)
    }
}

#[derive(Debug, Clone, Deserialize)]
struct Subject {
    kind: String,
    name: String,
    #[serde(default)]
    namespace: Option<String>,
}

impl Subject {
    fn is(&self, sa: &ServiceAccount) -> bool {
        match self.kind.as_str() {
            "ServiceAccount" => {
                self.name == sa.name && self.namespace.as_deref() == Some(sa.namespace.as_str())
            }
            "User" => self.name == format!("system:serviceaccount:{}:{}", sa.namespace, sa.name),
            "Group" => {
                self.name == "system:authenticated"
                    || self.name == "system:serviceaccounts"
                    || self.name == format!("system:serviceaccounts:{}", sa.namespace)
            }
            _ => false,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
struct RoleRef {
    kind: String,
    name: String,
}

/// A RoleBinding (`namespace` set) or ClusterRoleBinding.
#[derive(Debug, Clone)]
struct Binding {
    name: String,
    namespace: Option<String>,
    role_ref: RoleRef,
    subjects: Vec<Subject>,
}

/// The RBAC objects and workloads of a set of manifests.
#[derive(Debug, Default)]
pub struct Policy {
    /// (namespace, name) → rules
    roles: BTreeMap<(String, String), Vec<Rule>>,
    cluster_roles: BTreeMap<String, Vec<Rule>>,
    bindings: Vec<Binding>,
    /// container name → the ServiceAccounts of the pod templates running it
    containers: BTreeMap<String, BTreeSet<ServiceAccount>>,
}

fn text<'a>(v: &'a Value, path: &[&str]) -> Option<&'a str> {
    let mut cur = v;
    for p in path {
        cur = cur.get(*p)?;
    }
    cur.as_str()
}

fn parse<T: serde::de::DeserializeOwned>(v: Option<&Value>, what: &str) -> Result<T, String> {
    serde_norway::from_value(v.cloned().unwrap_or(Value::Null)).map_err(|e| format!("{what}: {e}"))
}

impl Policy {
    /// The policy of a multi-document YAML text.
    pub fn parse(yaml: &str) -> Result<Policy, String> {
        let mut p = Policy::default();
        p.add(yaml)?;
        Ok(p)
    }

    /// The policy of every `*.yaml` / `*.yml` file of a directory.
    pub fn load_dir(dir: &Path) -> Result<Policy, String> {
        let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
            .map_err(|e| format!("{}: {e}", dir.display()))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "yaml" || x == "yml"))
            .collect();
        files.sort();
        let mut p = Policy::default();
        for f in files {
            let text = std::fs::read_to_string(&f).map_err(|e| format!("{}: {e}", f.display()))?;
            p.add(&text).map_err(|e| format!("{}: {e}", f.display()))?;
        }
        Ok(p)
    }

    /// The policy of the repository's `install/kubernetes` (panics when unreadable).
    pub fn install() -> Policy {
        match Policy::load_dir(&install_dir()) {
            Ok(p) => p,
            Err(e) => panic!("cannot read the install manifests: {e}"),
        }
    }

    fn add(&mut self, yaml: &str) -> Result<(), String> {
        for doc in serde_norway::Deserializer::from_str(yaml) {
            let v = Value::deserialize(doc).map_err(|e| e.to_string())?;
            if v.is_null() {
                continue;
            }
            self.add_object(&v)?;
        }
        Ok(())
    }

    fn add_object(&mut self, v: &Value) -> Result<(), String> {
        let kind = text(v, &["kind"]).unwrap_or("");
        let name = text(v, &["metadata", "name"]).unwrap_or("").to_string();
        let namespace = text(v, &["metadata", "namespace"])
            .unwrap_or("default")
            .to_string();
        let what = format!("{kind} {name}");
        match kind {
            "Role" => {
                let rules = parse(v.get("rules"), &what)?;
                self.roles.insert((namespace, name), rules);
            }
            "ClusterRole" => {
                let rules = parse(v.get("rules"), &what)?;
                self.cluster_roles.insert(name, rules);
            }
            "RoleBinding" | "ClusterRoleBinding" => {
                let subjects: Option<Vec<Subject>> = parse(v.get("subjects"), &what)?;
                self.bindings.push(Binding {
                    name,
                    namespace: (kind == "RoleBinding").then_some(namespace),
                    role_ref: parse(v.get("roleRef"), &what)?,
                    subjects: subjects.unwrap_or_default(),
                });
            }
            _ => {
                let spec = match kind {
                    "Pod" => v.get("spec"),
                    "CronJob" => v
                        .get("spec")
                        .and_then(|s| s.get("jobTemplate"))
                        .and_then(|s| s.get("spec"))
                        .and_then(|s| s.get("template"))
                        .and_then(|s| s.get("spec")),
                    _ => v
                        .get("spec")
                        .and_then(|s| s.get("template"))
                        .and_then(|s| s.get("spec")),
                };
                if let Some(spec) = spec.filter(|s| s.get("containers").is_some()) {
                    let sa = ServiceAccount {
                        namespace: namespace.clone(),
                        name: text(spec, &["serviceAccountName"])
                            .unwrap_or("default")
                            .to_string(),
                    };
                    for list in ["containers", "initContainers"] {
                        for c in spec
                            .get(list)
                            .and_then(Value::as_sequence)
                            .into_iter()
                            .flatten()
                        {
                            if let Some(n) = text(c, &["name"]) {
                                self.containers
                                    .entry(n.to_string())
                                    .or_default()
                                    .insert(sa.clone());
                            }
                        }
                    }
                }
            }
        }
        Ok(())
    }

    /// The ServiceAccount of the pods whose container `container` runs (panics unless
    /// exactly one).
    pub fn service_account_of(&self, container: &str) -> ServiceAccount {
        let sas = self.containers.get(container).cloned().unwrap_or_default();
        match sas.into_iter().collect::<Vec<_>>().as_slice() {
            [one] => one.clone(),
            none_or_many => panic!(
                "container {container:?} runs as {none_or_many:?} in the manifests: expected one ServiceAccount"
            ),
        }
    }

    /// The rules granted to `sa` for `namespace` (`None`: only those granted everywhere).
    fn rules_for<'a>(
        &'a self,
        sa: &'a ServiceAccount,
        namespace: Option<&'a str>,
    ) -> impl Iterator<Item = &'a Rule> + 'a {
        self.bindings
            .iter()
            .filter(move |b| b.subjects.iter().any(|s| s.is(sa)))
            .filter(move |b| b.namespace.is_none() || b.namespace.as_deref() == namespace)
            .flat_map(move |b| {
                let rules = match (b.role_ref.kind.as_str(), &b.namespace) {
                    ("ClusterRole", _) => self.cluster_roles.get(&b.role_ref.name),
                    ("Role", Some(ns)) => self.roles.get(&(ns.clone(), b.role_ref.name.clone())),
                    _ => None,
                };
                rules.into_iter().flatten()
            })
    }

    /// Whether `sa` may do `access`.
    pub fn allows(&self, sa: &ServiceAccount, access: &Access) -> bool {
        match access {
            Access::Resource(a) => self
                .rules_for(sa, a.namespace.as_deref())
                .any(|r| r.allows_resource(a)),
            Access::NonResource { verb, path } => {
                let discovery = Rule {
                    verbs: vec!["get".into()],
                    non_resource_urls: DISCOVERY_URLS.iter().map(|u| u.to_string()).collect(),
                    ..Rule::default()
                };
                discovery.allows_url(verb, path)
                    || self
                        .bindings
                        .iter()
                        .filter(|b| b.namespace.is_none() && b.subjects.iter().any(|s| s.is(sa)))
                        .filter_map(|b| self.cluster_roles.get(&b.role_ref.name))
                        .flatten()
                        .any(|r| r.allows_url(verb, path))
            }
        }
    }

    /// Every Role and ClusterRole rule with `*` in its verbs, resources or apiGroups, as
    /// `"<kind> <namespace/name> rule <i>: <fields>"`.
    pub fn wildcard_rules(&self) -> Vec<String> {
        let mut out = Vec::new();
        let mut check = |what: String, rules: &[Rule]| {
            for (i, r) in rules.iter().enumerate() {
                let w = r.wildcards();
                if !w.is_empty() {
                    out.push(format!("{what} rule {i}: * in {}", w.join(", ")));
                }
            }
        };
        for ((ns, name), rules) in &self.roles {
            check(format!("Role {ns}/{name}"), rules);
        }
        for (name, rules) in &self.cluster_roles {
            check(format!("ClusterRole {name}"), rules);
        }
        out
    }

    /// Names of the bindings that bind a role that does not exist.
    pub fn dangling_bindings(&self) -> Vec<String> {
        self.bindings
            .iter()
            .filter(|b| match (b.role_ref.kind.as_str(), &b.namespace) {
                ("ClusterRole", _) => !self.cluster_roles.contains_key(&b.role_ref.name),
                ("Role", Some(ns)) => !self
                    .roles
                    .contains_key(&(ns.clone(), b.role_ref.name.clone())),
                _ => true,
            })
            .map(|b| match &b.namespace {
                Some(ns) => format!("RoleBinding {ns}/{}", b.name),
                None => format!("ClusterRoleBinding {}", b.name),
            })
            .collect()
    }
}

/// Checks everything `binary` did on `kube` (the requests made with the identity
/// `binary`, see [`FakeKube::kubeconfig_yaml_for`]) against the ServiceAccount the
/// install manifests run its container (named `binary`) as; panics naming the binary and
/// each access no rule grants. Returns how many distinct accesses were checked.
pub fn assert_allowed(kube: &FakeKube, binary: &str) -> usize {
    let policy = Policy::install();
    let sa = policy.service_account_of(binary);
    let accesses = kube.accesses_by(binary);
    let denied: BTreeSet<String> = accesses
        .iter()
        .filter(|a| !policy.allows(&sa, a))
        .map(|a| a.without_name().to_string())
        .collect();
    assert!(
        denied.is_empty(),
        "`{binary}` (ServiceAccount {sa}) did what install/kubernetes does not allow it; \
         add a rule to its Role in that namespace (or, for a cluster-wide read, to its \
         ClusterRole), with the reason in the manifest's table:\n  {}",
        denied.into_iter().collect::<Vec<_>>().join("\n  ")
    );
    accesses.len()
}

/// Makes `kube` answer `403 Forbidden` to what the install manifests do not allow:
/// requests made with the identity of a container the manifests run (`dashboard`,
/// `schedule`, `worker`, `watch`) are checked against its ServiceAccount; requests of
/// any other identity (the test's own clients) are allowed.
pub fn enforce(kube: &FakeKube) {
    let policy = Policy::install();
    let accounts: BTreeMap<String, ServiceAccount> = policy
        .containers
        .iter()
        .filter_map(|(c, sas)| match sas.iter().collect::<Vec<_>>().as_slice() {
            [one] => Some((c.clone(), (*one).clone())),
            _ => None,
        })
        .collect();
    kube.set_authorizer(Some(Arc::new(move |identity: &str, access: &Access| {
        accounts
            .get(identity)
            .is_none_or(|sa| policy.allows(sa, access))
    })));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn access(verb: &str, group: &str, resource: &str, sub: &str, ns: Option<&str>) -> Access {
        Access::Resource(ResourceAccess {
            verb: verb.into(),
            group: group.into(),
            resource: resource.into(),
            subresource: sub.into(),
            namespace: ns.map(String::from),
            name: Some("x".into()),
        })
    }

    #[test]
    fn install_manifests_grant_no_wildcards_and_hold_no_secrets() {
        let policy = Policy::install();
        assert_eq!(policy.wildcard_rules(), Vec::<String>::new());
        assert_eq!(policy.dangling_bindings(), Vec::<String>::new());
        // one ServiceAccount per binary, none shared
        let sas: BTreeSet<ServiceAccount> = ["dashboard", "schedule", "worker", "watch"]
            .iter()
            .map(|b| policy.service_account_of(b))
            .collect();
        assert_eq!(sas.len(), 4, "{sas:?}");
        assert_eq!(
            policy.service_account_of("migrate"),
            policy.service_account_of("dashboard")
        );
        // credentials come from a Secret the operator creates: none is shipped
        for f in std::fs::read_dir(install_dir()).unwrap() {
            let path = f.unwrap().path();
            if path.extension().is_none_or(|x| x != "yaml" && x != "yml") {
                continue;
            }
            let text = std::fs::read_to_string(&path).unwrap();
            for doc in serde_norway::Deserializer::from_str(&text) {
                let v = Value::deserialize(doc).unwrap();
                assert_ne!(
                    text_of(&v, "kind"),
                    Some("Secret"),
                    "{} ships a Secret",
                    path.display()
                );
            }
        }
    }

    fn text_of<'a>(v: &'a Value, key: &str) -> Option<&'a str> {
        v.get(key).and_then(Value::as_str)
    }

    #[test]
    fn the_evaluator_refuses_what_is_not_granted() {
        let policy = Policy::install();
        let watch = policy.service_account_of("watch");
        let dashboard = policy.service_account_of("dashboard");
        let schedule = policy.service_account_of("schedule");
        let worker = policy.service_account_of("worker");
        let stranger = ServiceAccount {
            namespace: "infra".into(),
            name: "default".into(),
        };
        let wf = |verb, ns| access(verb, "argoproj.io", "workflows", "", ns);
        let pods = |verb, sub, ns| access(verb, "", "pods", sub, ns);
        let (yes, no) = (true, false);
        let cases = [
            // granted
            (&watch, wf("watch", None), yes),
            (&watch, wf("list", Some("pipeline")), yes),
            (&dashboard, wf("create", Some("pipeline")), yes),
            (&dashboard, pods("get", "log", Some("jupyter")), yes),
            (&schedule, pods("list", "", None), yes),
            (&worker, pods("delete", "", Some("jupyter")), yes),
            // refused: writes of a reader, writes outside the work namespaces, other
            // verbs, subresources, groups and resources, an unbound ServiceAccount
            (&watch, wf("delete", Some("pipeline")), no),
            (&watch, wf("get", Some("pipeline")), no),
            (&dashboard, wf("create", Some("default")), no),
            (&dashboard, wf("list", None), no),
            (&dashboard, wf("update", Some("pipeline")), no),
            (&dashboard, pods("create", "exec", Some("pipeline")), yes),
            (&dashboard, pods("create", "attach", Some("pipeline")), no),
            (&dashboard, pods("create", "exec", Some("kube-system")), no),
            (&schedule, pods("delete", "", Some("kube-system")), no),
            (&schedule, pods("watch", "", None), no),
            (
                &worker,
                access("get", "", "secrets", "", Some("pipeline")),
                no,
            ),
            (
                &worker,
                access("delete", "apps", "deployments", "", Some("service")),
                yes,
            ),
            (
                &worker,
                access("delete", "apps", "deployments", "", Some("kube-system")),
                no,
            ),
            (
                &worker,
                access("delete", "extensions", "deployments", "", Some("pipeline")),
                no,
            ),
            (&stranger, wf("list", Some("pipeline")), no),
        ];
        for (sa, a, allowed) in cases {
            assert_eq!(policy.allows(sa, &a), allowed, "{sa}: {a}");
        }
    }

    const SAMPLE: &str = r#"
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: scaler}
rules:
  - {apiGroups: [apps], resources: ["*/scale"], verbs: [update]}
  - {apiGroups: [""], resources: [configmaps], resourceNames: [settings], verbs: [get]}
  - {nonResourceURLs: ["/metrics", "/logs/*"], verbs: [get]}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: scaler, namespace: a}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: scaler}
subjects: [{kind: ServiceAccount, name: bot, namespace: infra}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: missing, namespace: a}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: nothing}
subjects: [{kind: ServiceAccount, name: bot, namespace: infra}]
"#;

    #[test]
    fn cluster_roles_through_role_bindings_subresources_names_and_urls() {
        let policy = Policy::parse(SAMPLE).unwrap();
        let bot = ServiceAccount {
            namespace: "infra".into(),
            name: "bot".into(),
        };
        let scale = |ns| access("update", "apps", "deployments", "scale", ns);
        assert!(policy.allows(&bot, &scale(Some("a"))));
        // a RoleBinding grants in its namespace only
        assert!(!policy.allows(&bot, &scale(Some("b"))));
        assert!(!policy.allows(&bot, &scale(None)));
        assert!(!policy.allows(
            &bot,
            &access("update", "apps", "deployments", "", Some("a"))
        ));
        let cm = |name: Option<&str>| {
            Access::Resource(ResourceAccess {
                verb: "get".into(),
                resource: "configmaps".into(),
                namespace: Some("a".into()),
                name: name.map(String::from),
                ..ResourceAccess::default()
            })
        };
        assert!(policy.allows(&bot, &cm(Some("settings"))));
        assert!(!policy.allows(&bot, &cm(Some("other"))));
        assert!(!policy.allows(&bot, &cm(None)));
        // non-resource URLs only through ClusterRoleBindings; discovery always
        let url = |path: &str| Access::NonResource {
            verb: "get".into(),
            path: path.into(),
        };
        assert!(!policy.allows(&bot, &url("/metrics")));
        assert!(policy.allows(&bot, &url("/version")));
        assert!(policy.allows(&bot, &url("/apis/apps/v1")));
        assert_eq!(
            policy.dangling_bindings(),
            vec!["RoleBinding a/missing".to_string()]
        );
        assert_eq!(
            policy.wildcard_rules(),
            vec!["ClusterRole scaler rule 0: * in resources".to_string()]
        );
    }
}
