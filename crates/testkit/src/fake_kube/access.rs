//! A recorded request in RBAC terms: the attributes the API server's authorizer sees
//! (verb, API group, resource, subresource, namespace, name), resolved from the method,
//! the path and the query the way `k8s.io/apiserver`'s `RequestInfoFactory` does.

use std::fmt;

use super::RecordedRequest;

/// What a request asks for, as RBAC rules are written.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Access {
    /// A request on an API resource.
    Resource(ResourceAccess),
    /// Any other path (`/version`, `/api`, `/apis`, `/healthz`, ...): `nonResourceURLs`.
    NonResource { verb: String, path: String },
}

/// The attributes of a request on an API resource.
#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ResourceAccess {
    /// `get`, `list`, `watch`, `create`, `update`, `patch`, `delete`, `deletecollection`.
    pub verb: String,
    /// `""` for the core group.
    pub group: String,
    /// The plural, e.g. `pods`.
    pub resource: String,
    /// e.g. `log`, `status`; `""` when none.
    pub subresource: String,
    /// `None` for a cluster-wide request (cluster-scoped, or all namespaces).
    pub namespace: Option<String>,
    /// The object's name, when the path names one.
    pub name: Option<String>,
}

impl Access {
    /// The same access without the object name (to list distinct accesses).
    pub fn without_name(&self) -> Access {
        match self {
            Access::Resource(r) => Access::Resource(ResourceAccess {
                name: None,
                ..r.clone()
            }),
            other => other.clone(),
        }
    }
}

impl fmt::Display for Access {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Access::Resource(r) => {
                let res = if r.subresource.is_empty() {
                    r.resource.clone()
                } else {
                    format!("{}/{}", r.resource, r.subresource)
                };
                write!(f, "{} {res} (apiGroup {:?})", r.verb, r.group)?;
                match &r.namespace {
                    Some(ns) => write!(f, " in namespace {ns}")?,
                    None => write!(f, " cluster-wide")?,
                }
                if let Some(n) = &r.name {
                    write!(f, ", name {n}")?;
                }
                Ok(())
            }
            Access::NonResource { verb, path } => write!(f, "{verb} non-resource URL {path}"),
        }
    }
}

/// `rest` of a resource path splits into (namespace, resource, name, subresource) as
/// the API server splits it: `namespaces/<ns>/<resource>...` is namespaced, except
/// `namespaces/<name>/status|finalize`, subresources of the namespace itself.
fn split_rest<'a>(
    rest: &[&'a str],
) -> (Option<&'a str>, Option<&'a str>, Option<&'a str>, &'a str) {
    let namespaced = rest.len() >= 3
        && rest[0] == "namespaces"
        && !(rest.len() == 3 && matches!(rest[2], "status" | "finalize"));
    let (ns, rest) = if namespaced {
        (Some(rest[1]), &rest[2..])
    } else {
        (None, rest)
    };
    (
        ns,
        rest.first().copied(),
        rest.get(1).copied(),
        rest.get(2).copied().unwrap_or(""),
    )
}

impl RecordedRequest {
    /// This request in RBAC terms.
    pub fn access(&self) -> Access {
        let segs: Vec<&str> = self.path.split('/').filter(|s| !s.is_empty()).collect();
        let (group, rest) = match segs.as_slice() {
            ["api", _version, rest @ ..] if !rest.is_empty() => ("", rest),
            ["apis", group, _version, rest @ ..] if !rest.is_empty() => (*group, rest),
            _ => {
                return Access::NonResource {
                    verb: self.method.to_lowercase(),
                    path: self.path.clone(),
                };
            }
        };
        let (watch_path, rest) = match rest.split_first() {
            Some((&"watch", tail)) => (true, tail),
            _ => (false, rest),
        };
        let (namespace, resource, name, subresource) = split_rest(rest);
        let verb = match (self.method.as_str(), name) {
            ("GET", _) if watch_path || self.is_watch() => "watch",
            ("GET", Some(_)) => "get",
            ("GET", None) => "list",
            ("POST", _) => "create",
            ("PUT", _) => "update",
            ("PATCH", _) => "patch",
            ("DELETE", Some(_)) => "delete",
            ("DELETE", None) => "deletecollection",
            (other, _) => return self.unknown(other),
        };
        Access::Resource(ResourceAccess {
            verb: verb.into(),
            group: group.into(),
            resource: resource.unwrap_or("").into(),
            subresource: subresource.into(),
            namespace: namespace.map(String::from),
            name: name.map(String::from),
        })
    }

    fn unknown(&self, method: &str) -> Access {
        Access::NonResource {
            verb: method.to_lowercase(),
            path: self.path.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn req(method: &str, path_query: &str) -> Access {
        let (path, query) = path_query.split_once('?').unwrap_or((path_query, ""));
        let query: HashMap<String, String> = url::form_urlencoded::parse(query.as_bytes())
            .into_owned()
            .collect();
        RecordedRequest {
            identity: String::new(),
            method: method.into(),
            path: path.into(),
            query,
        }
        .access()
    }

    fn res(verb: &str, group: &str, resource: &str, sub: &str, ns: Option<&str>) -> Access {
        Access::Resource(ResourceAccess {
            verb: verb.into(),
            group: group.into(),
            resource: resource.into(),
            subresource: sub.into(),
            namespace: ns.map(String::from),
            name: None,
        })
    }

    #[test]
    fn requests_become_rbac_attributes() {
        let cases = [
            (
                req("GET", "/api/v1/pods?watch=true&resourceVersion=1"),
                res("watch", "", "pods", "", None),
            ),
            (
                req("GET", "/api/v1/namespaces/jupyter/pods?labelSelector=a%3Db"),
                res("list", "", "pods", "", Some("jupyter")),
            ),
            (
                req(
                    "GET",
                    "/api/v1/namespaces/pipeline/pods/p1/log?tailLines=10",
                ),
                res("get", "", "pods", "log", Some("pipeline")),
            ),
            (
                req(
                    "POST",
                    "/apis/argoproj.io/v1alpha1/namespaces/pipeline/workflows",
                ),
                res("create", "argoproj.io", "workflows", "", Some("pipeline")),
            ),
            (
                req("DELETE", "/apis/apps/v1/namespaces/service/deployments/d"),
                res("delete", "apps", "deployments", "", Some("service")),
            ),
            (
                req("DELETE", "/apis/apps/v1/namespaces/service/deployments"),
                res(
                    "deletecollection",
                    "apps",
                    "deployments",
                    "",
                    Some("service"),
                ),
            ),
            (
                req("PATCH", "/api/v1/nodes/n1"),
                res("patch", "", "nodes", "", None),
            ),
            (
                req("PUT", "/api/v1/namespaces/n1/finalize"),
                res("update", "", "namespaces", "finalize", None),
            ),
            (
                req(
                    "GET",
                    "/apis/argoproj.io/v1alpha1/watch/namespaces/p/workflows",
                ),
                res("watch", "argoproj.io", "workflows", "", Some("p")),
            ),
        ];
        for (got, want) in cases {
            assert_eq!(got.without_name(), want);
        }
        assert_eq!(
            req("GET", "/version"),
            Access::NonResource {
                verb: "get".into(),
                path: "/version".into()
            }
        );
        assert_eq!(
            req("GET", "/api/v1/namespaces/pipeline/pods/p1/log").to_string(),
            "get pods/log (apiGroup \"\") in namespace pipeline, name p1"
        );
    }
}
