//! Every route of the dashboard is registered through [`Routes`], which records it as it
//! registers it: `/openapi.json` is generated from that record, so the document lists
//! exactly what is served and cannot drift from it.

use std::sync::Arc;

use actix_web::http::Method;
use actix_web::{FromRequest, Handler, Responder, web};

/// What a route answers, for the document.
#[derive(Debug, Clone, PartialEq)]
pub enum Answer {
    /// The JSON envelope `{"status", "message", "result"}`; `result` per the schema.
    Envelope(serde_json::Value),
    /// Bare JSON of this schema.
    Json(serde_json::Value),
    /// A page, a file, a redirect or text.
    Other(&'static str),
}

/// One served route as the document shows it.
#[derive(Debug, Clone)]
pub struct RouteDoc {
    /// `GET`, `POST`…; `*` for any method.
    pub method: &'static str,
    /// The actix path pattern (`/users/api/{pk:\d+}`).
    pub path: String,
    pub summary: String,
    /// Groups routes in the document (a view's route base, `auth`, `front end`…).
    pub tag: String,
    /// Reachable without a login.
    pub public: bool,
    /// Query parameters besides the path's: `(name, description)`.
    pub query: Vec<(&'static str, &'static str)>,
    /// Schema of a JSON body, when it takes one.
    pub body: Option<serde_json::Value>,
    pub answer: Answer,
}

/// A registration held back until its group is registered.
type Deferred = Box<dyn FnOnce(&mut web::ServiceConfig)>;

/// Registers routes and records them.
///
/// At the top, routes and scopes are grouped by their first path segment and each group
/// is registered as one actix scope (when the `Routes` is finished or dropped), in the
/// order the segments first appeared: a request is matched against the routes of its own
/// segment only. Without this, a request for a view registered late was tested against
/// every earlier route pattern (dozens of regular expressions: 5 % of a list request).
pub struct Routes<'a> {
    cfg: &'a mut web::ServiceConfig,
    docs: Vec<RouteDoc>,
    tag: String,
    public: bool,
    /// The path of the enclosing [`Routes::scope`] ("" at the top).
    prefix: String,
    /// At the top: registrations by first path segment, in order.
    groups: Vec<(String, Vec<Deferred>)>,
}

/// `/seg/rest…` → (`/seg`, `/rest…`) when the first segment is a literal (`/seg` alone →
/// (`/seg`, ``)); `None` for `/` and patterns.
fn first_segment(path: &str) -> Option<(&str, &str)> {
    let body = path.strip_prefix('/')?;
    let end = body.find('/').map_or(path.len(), |i| i + 1);
    let (seg, rest) = path.split_at(end);
    (seg.len() > 1 && !seg.contains(['{', '}', '*', ':'])).then_some((seg, rest))
}

impl<'a> Routes<'a> {
    pub fn new(cfg: &'a mut web::ServiceConfig) -> Routes<'a> {
        Routes {
            cfg,
            docs: Vec::new(),
            tag: String::new(),
            public: false,
            prefix: String::new(),
            groups: Vec::new(),
        }
    }

    /// At the top, holds `register` back for the group of `path`'s first segment;
    /// elsewhere (or for a path without a literal first segment) runs it now.
    fn register(&mut self, path: &str, register: Deferred) {
        match first_segment(path) {
            Some((seg, _)) if self.prefix.is_empty() => {
                match self.groups.iter_mut().find(|(s, _)| s == seg) {
                    Some((_, items)) => items.push(register),
                    None => self.groups.push((seg.to_string(), vec![register])),
                }
            }
            _ => register(self.cfg),
        }
    }

    /// Registers the groups held back (see [`Routes`]).
    fn flush(&mut self) {
        for (seg, items) in std::mem::take(&mut self.groups) {
            self.cfg.service(web::scope(&seg).configure(move |cfg| {
                for register in items {
                    register(cfg);
                }
            }));
        }
    }

    /// The path of `path` inside its group's scope, at the top (see [`Routes::register`]).
    fn in_group<'p>(&self, path: &'p str) -> &'p str {
        match first_segment(path) {
            Some((_, rest)) if self.prefix.is_empty() => rest,
            _ => path,
        }
    }

    /// Registers routes under `base` as one actix scope (the router then matches the
    /// prefix once instead of every route of it); inside, paths are relative to `base`
    /// (`""` is `base` itself) and are recorded whole.
    pub fn scope(&mut self, base: &str, f: impl FnOnce(&mut Routes<'_>)) {
        let (tag, public) = (self.tag.clone(), self.public);
        let prefix = format!("{}{base}", self.prefix);
        let mut inner_docs = Vec::new();
        let scope = web::scope(self.in_group(base)).configure(|cfg| {
            let mut inner = Routes {
                cfg,
                docs: Vec::new(),
                tag,
                public,
                prefix,
                groups: Vec::new(),
            };
            f(&mut inner);
            inner_docs = std::mem::take(&mut inner.docs);
        });
        self.register(
            base,
            Box::new(move |cfg| {
                cfg.service(scope);
            }),
        );
        self.docs.extend(inner_docs);
    }

    /// The tag of the routes registered next.
    pub fn tag(&mut self, tag: &str) -> &mut Self {
        self.tag = tag.to_string();
        self.public = false;
        self
    }

    /// The routes registered next need no login (until the next [`Routes::tag`]).
    pub fn public(&mut self) -> &mut Self {
        self.public = true;
        self
    }

    /// Registers `handler` for `method` (`*`: any method) on `path`, answering `answer`.
    pub fn add<F, Args>(
        &mut self,
        method: &'static str,
        path: &str,
        summary: &str,
        answer: Answer,
        handler: F,
    ) -> &mut RouteDoc
    where
        F: Handler<Args>,
        Args: FromRequest + 'static,
        F::Output: Responder + 'static,
    {
        let route = match method {
            "*" => web::route(),
            m => web::method(Method::from_bytes(m.as_bytes()).unwrap_or(Method::GET)),
        };
        let route = route.to(handler);
        let at = self.in_group(path).to_string();
        self.register(
            path,
            Box::new(move |cfg| {
                cfg.route(&at, route);
            }),
        );
        self.docs.push(RouteDoc {
            method,
            path: format!("{}{path}", self.prefix),
            summary: summary.to_string(),
            tag: self.tag.clone(),
            public: self.public,
            query: Vec::new(),
            body: None,
            answer,
        });
        let last = self.docs.len() - 1;
        &mut self.docs[last]
    }

    /// Flask's strict slashes: `path` answers 308 to `path/` (query kept).
    pub fn redirect_to_slash(&mut self, path: &str) -> &mut RouteDoc {
        self.add(
            "GET",
            path,
            "Redirects to the same path with a final slash",
            Answer::Other("308 redirect"),
            |req: actix_web::HttpRequest| async move { redirect_slash(&req) },
        )
    }

    /// What was registered so far.
    pub fn docs(&self) -> &[RouteDoc] {
        &self.docs
    }

    /// Ends the registration: adds `/openapi.json` and `/docs`, built from the record.
    pub fn finish(
        mut self,
        document: impl FnOnce(&[RouteDoc]) -> serde_json::Value,
        docs_page: &'static str,
    ) {
        self.flush();
        self.tag("documentation").public();
        let mut docs = self.docs.clone();
        for (path, summary) in [
            ("/openapi.json", "This document (OpenAPI 3.1)"),
            (
                "/docs",
                "A browsable page of this document (no external network)",
            ),
        ] {
            docs.push(RouteDoc {
                method: "GET",
                path: path.into(),
                summary: summary.into(),
                tag: "documentation".into(),
                public: true,
                query: Vec::new(),
                body: None,
                answer: Answer::Other(if path == "/docs" {
                    "text/html"
                } else {
                    "application/json"
                }),
            });
        }
        let doc = Arc::new(document(&docs).to_string());
        let json = doc.clone();
        self.cfg.route(
            "/openapi.json",
            web::get().to(move || {
                let body = json.clone();
                async move {
                    actix_web::HttpResponse::Ok()
                        .content_type("application/json; charset=utf-8")
                        .body(body.as_str().to_owned())
                }
            }),
        );
        self.cfg.route(
            "/docs",
            web::get().to(move || async move {
                actix_web::HttpResponse::Ok()
                    .content_type("text/html; charset=utf-8")
                    .body(docs_page)
            }),
        );
    }
}

impl Drop for Routes<'_> {
    fn drop(&mut self) {
        self.flush();
    }
}

/// Flask's strict slashes: `…/api` → 308 `…/api/`.
pub fn redirect_slash(req: &actix_web::HttpRequest) -> actix_web::HttpResponse {
    let mut to = format!("{}/", req.path());
    if !req.query_string().is_empty() {
        to.push('?');
        to.push_str(req.query_string());
    }
    actix_web::HttpResponse::PermanentRedirect()
        .insert_header((actix_web::http::header::LOCATION, to))
        .finish()
}

#[cfg(test)]
mod tests {
    use super::first_segment;

    #[test]
    fn groups_by_a_literal_first_segment() {
        assert_eq!(
            first_segment("/k8s/read/log/{ns}"),
            Some(("/k8s", "/read/log/{ns}"))
        );
        assert_eq!(first_segment("/login/"), Some(("/login", "/")));
        assert_eq!(first_segment("/login"), Some(("/login", "")));
        assert_eq!(first_segment("/"), None);
        assert_eq!(first_segment(""), None);
        assert_eq!(first_segment("/{path}"), None);
        assert_eq!(first_segment("/{tail:.*}/x"), None);
    }
}
