//! HTTP: path parsing (`/api/v1/...`, `/apis/<group>/<version>/...`, namespaced or not,
//! subresources) and the verbs. Every answer is JSON (a `Status` on errors) except pod
//! logs (text, streamed when followed: `log_follow.rs`), watches (newline-delimited
//! JSON, see `watch.rs`) and `pods/exec` (a websocket, see `exec/`).

use std::collections::HashMap;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::Duration;

use actix_web::http::{Method, StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::{Value, json};

use super::exec;
use super::log_follow::{self, FollowSetup};
use super::patch::{self, PatchKind};
use super::resources::{self, Gvr};
use super::selectors::Selectors;
use super::status::ApiError;
use super::storage::{LogOptions, Sub};
use super::watch::{self, Start, WatchSetup};
use super::{RecordedRequest, Shared};

/// What a request is answered with.
pub enum Reply {
    Json(u16, Value),
    Text(String),
    Watch(WatchSetup),
    FollowLog(FollowSetup),
}

fn ok(v: Value) -> Result<Reply, ApiError> {
    Ok(Reply::Json(200, v))
}

/// Largest request body read.
const BODY_LIMIT: usize = 64 << 20;

fn status_response(e: &ApiError) -> HttpResponse {
    HttpResponse::build(StatusCode::from_u16(e.code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR))
        .content_type("application/json")
        .body(e.to_status().to_string())
}

/// The single actix handler (registered as the default service).
pub async fn handle(
    req: HttpRequest,
    payload: web::Payload,
    shared: web::Data<Shared>,
) -> HttpResponse {
    let shared: Arc<Shared> = shared.into_inner();
    let query: HashMap<String, String> = url::form_urlencoded::parse(req.query_string().as_bytes())
        .into_owned()
        .collect();
    let content_type = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    tracing::debug!(method = %req.method(), uri = %req.uri(), "fake-kube request");
    let identity = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or("")
        .to_string();
    let allowed = shared.record_request(RecordedRequest {
        identity: identity.clone(),
        method: req.method().to_string(),
        path: req.path().to_string(),
        query: query.clone(),
    });
    if !allowed {
        let e = ApiError::new(
            403,
            "Forbidden",
            format!(
                "{identity:?} cannot {} {}: refused by the fake API server's authorizer",
                req.method(),
                req.path()
            ),
        );
        return status_response(&e);
    }
    let latency = shared.latency_ms.load(std::sync::atomic::Ordering::Relaxed);
    if latency > 0 && query.get("watch").map(String::as_str) != Some("true") {
        tokio::time::sleep(std::time::Duration::from_millis(latency)).await;
    }
    if let Some((ns, pod)) = exec::target(req.path()) {
        let answer = exec::check(&shared, &ns, &pod, req.query_string())
            .and_then(|e| exec::respond(&req, payload, shared, e));
        return answer.unwrap_or_else(|e| status_response(&e));
    }
    let body = match payload.to_bytes_limited(BODY_LIMIT).await {
        Ok(Ok(b)) => b,
        Ok(Err(e)) => {
            return status_response(&ApiError::bad_request(format!(
                "cannot read the request body: {e}"
            )));
        }
        Err(_) => {
            return status_response(&ApiError::new(
                413,
                "RequestEntityTooLarge",
                format!("the request body is larger than {BODY_LIMIT} bytes"),
            ));
        }
    };
    let outcome = std::panic::catch_unwind(AssertUnwindSafe(|| {
        dispatch(
            &shared,
            req.method(),
            req.path(),
            &query,
            &content_type,
            &body,
        )
    }));
    let reply = match outcome {
        Ok(Ok(r)) => r,
        Ok(Err(e)) => Reply::Json(e.code, e.to_status()),
        Err(_) => {
            let e = ApiError::internal("fake-kube: the request handler panicked");
            Reply::Json(e.code, e.to_status())
        }
    };
    match reply {
        Reply::Json(code, v) => {
            tracing::debug!(code, "fake-kube answer");
            HttpResponse::build(
                StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            )
            .content_type("application/json")
            .body(v.to_string())
        }
        Reply::Text(t) => HttpResponse::Ok().content_type("text/plain").body(t),
        Reply::Watch(setup) => watch::respond(shared, setup),
        Reply::FollowLog(setup) => log_follow::respond(shared, setup),
    }
}

fn dispatch(
    shared: &Shared,
    method: &Method,
    path: &str,
    q: &HashMap<String, String>,
    content_type: &str,
    body: &[u8],
) -> Result<Reply, ApiError> {
    let segs: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    match segs.as_slice() {
        ["version"] => ok(resources::version_doc()),
        ["healthz" | "readyz" | "livez"] => Ok(Reply::Text("ok".into())),
        ["api"] => ok(resources::core_versions(&shared.server_addr)),
        ["apis"] => {
            let stored: Vec<(String, String)> = shared
                .lock()
                .stored_resources()
                .into_iter()
                .map(|(g, v, ..)| (g, v))
                .collect();
            ok(resources::group_list(&stored))
        }
        ["api", version, rest @ ..] => resource_request(
            shared,
            method,
            path,
            "",
            version,
            rest,
            q,
            content_type,
            body,
        ),
        ["apis", group, version, rest @ ..] => resource_request(
            shared,
            method,
            path,
            group,
            version,
            rest,
            q,
            content_type,
            body,
        ),
        _ => Err(ApiError::not_found_path(path)),
    }
}

/// A parsed resource path.
struct Target<'a> {
    gvr: Gvr,
    ns: Option<&'a str>,
    name: Option<&'a str>,
    sub: Option<&'a str>,
}

fn parse_target<'a>(
    path: &str,
    group: &str,
    version: &str,
    rest: &[&'a str],
) -> Result<Target<'a>, ApiError> {
    let namespaced_path = rest.len() >= 3
        && rest[0] == "namespaces"
        && !(rest.len() == 3 && matches!(rest[2], "status" | "finalize"));
    let (ns, rest) = if namespaced_path {
        (Some(rest[1]), &rest[2..])
    } else {
        (None, rest)
    };
    if rest.is_empty() || rest.len() > 3 {
        return Err(ApiError::not_found_path(path));
    }
    let gvr = Gvr::new(group, version, rest[0]);
    if gvr.cluster_scoped() && ns.is_some() {
        return Err(ApiError::not_found_path(path));
    }
    Ok(Target {
        gvr,
        ns,
        name: rest.get(1).copied(),
        sub: rest.get(2).copied(),
    })
}

#[allow(clippy::too_many_arguments)]
fn resource_request(
    shared: &Shared,
    method: &Method,
    path: &str,
    group: &str,
    version: &str,
    rest: &[&str],
    q: &HashMap<String, String>,
    content_type: &str,
    body: &[u8],
) -> Result<Reply, ApiError> {
    if rest.is_empty() {
        let stored: Vec<(String, String)> = shared
            .lock()
            .stored_resources()
            .into_iter()
            .filter(|(g, v, ..)| g == group && v == version)
            .map(|(_, _, p, k)| (p, k))
            .collect();
        return ok(resources::resource_list(group, version, &stored));
    }
    let (watch_path, rest) = match rest.split_first() {
        Some((&"watch", tail)) => (true, tail),
        _ => (false, rest),
    };
    let t = parse_target(path, group, version, rest)?;
    if t.gvr.group == "metrics.k8s.io" && method != Method::GET {
        // metrics-server serves get and list only; tests seed metrics with
        // `FakeKube::insert`
        return Err(ApiError::method_not_allowed(
            "the server does not allow this method on the requested resource",
        ));
    }
    let dry_run = q.get("dryRun").is_some_and(|v| v == "All");
    let gvr = &t.gvr;
    match (method.as_str(), t.name, t.sub) {
        ("GET", None, _) => {
            let sel = selectors(q)?;
            let watching = watch_path || q.get("watch").is_some_and(|w| w == "true" || w == "1");
            if watching {
                return watch_setup(shared, t.gvr.clone(), t.ns, sel, q).map(Reply::Watch);
            }
            list(shared, gvr, t.ns, &sel, q)
        }
        ("GET", Some(name), None | Some("status")) => ok(shared.lock().get(gvr, t.ns, name)?),
        ("GET", Some(name), Some("log")) if gvr.group.is_empty() && gvr.plural == "pods" => {
            let opts = LogOptions::from_query(q)?;
            let ns = t.ns.unwrap_or("default");
            let (first, cursor) = shared.lock().pod_log_start(ns, name, &opts)?;
            if !opts.follow {
                return Ok(Reply::Text(first));
            }
            Ok(Reply::FollowLog(FollowSetup {
                ns: ns.to_string(),
                pod: name.to_string(),
                opts,
                first,
                cursor,
            }))
        }
        ("GET", Some(name), Some("scale")) => ok(scale_of(&shared.lock().get(gvr, t.ns, name)?)),
        ("POST", None, _) => {
            let obj = parse_json(body)?;
            Ok(Reply::Json(
                201,
                shared.lock().create(gvr, t.ns, obj, dry_run)?,
            ))
        }
        ("PUT", Some(name), sub @ (None | Some("status"))) => {
            let obj = parse_json(body)?;
            let sub = if sub.is_some() {
                Sub::Status
            } else {
                Sub::Main
            };
            ok(shared.lock().update(gvr, t.ns, name, obj, sub, dry_run)?)
        }
        ("PATCH", Some(name), sub @ (None | Some("status"))) => {
            let kind = patch_kind(content_type)?;
            let p = patch::parse_body(kind, body)?;
            let sub = if sub.is_some() {
                Sub::Status
            } else {
                Sub::Main
            };
            let (obj, created) = shared
                .lock()
                .patch(gvr, t.ns, name, kind, &p, sub, dry_run)?;
            Ok(Reply::Json(if created { 201 } else { 200 }, obj))
        }
        ("PUT" | "PATCH", Some(name), Some("scale")) => {
            let mut store = shared.lock();
            let mut scale = scale_of(&store.get(gvr, t.ns, name)?);
            if method == Method::PUT {
                scale = parse_json(body)?;
            } else {
                let kind = patch_kind(content_type)?;
                patch::apply(kind, &mut scale, &patch::parse_body(kind, body)?)?;
            }
            let replicas = scale
                .pointer("/spec/replicas")
                .and_then(Value::as_i64)
                .ok_or_else(|| ApiError::invalid("spec.replicas: Required value"))?;
            let obj = store
                .modify(gvr, t.ns, name, |o| o["spec"]["replicas"] = json!(replicas))
                .ok_or_else(|| ApiError::not_found(&gvr.plural, &gvr.group, name))?;
            ok(scale_of(&obj))
        }
        ("DELETE", Some(name), None) => {
            let opts = if body.iter().all(u8::is_ascii_whitespace) {
                None
            } else {
                Some(parse_json(body)?)
            };
            ok(shared
                .lock()
                .delete(gvr, t.ns, name, opts.as_ref(), dry_run)?)
        }
        ("DELETE", None, _) => {
            let sel = selectors(q)?;
            let mut store = shared.lock();
            let items = store.delete_collection(gvr, t.ns, &sel, dry_run);
            ok(list_doc(
                gvr,
                &store.kind_of(gvr),
                store.resource_version(),
                items,
                None,
            ))
        }
        (_, Some(_), Some(sub)) if ["attach", "portforward", "proxy"].contains(&sub) => {
            Err(ApiError::bad_request(format!(
                "fake-kube does not support {sub} (a simulated cluster has no containers)"
            )))
        }
        (m, _, Some(_)) if ["GET", "PUT", "PATCH", "DELETE", "POST"].contains(&m) => {
            Err(ApiError::not_found_path(path))
        }
        (m, ..) => Err(ApiError::method_not_allowed(format!(
            "method {m} is not allowed on {path}"
        ))),
    }
}

fn parse_json(body: &[u8]) -> Result<Value, ApiError> {
    serde_json::from_slice(body)
        .map_err(|e| ApiError::bad_request(format!("cannot parse the request body: {e}")))
}

fn patch_kind(content_type: &str) -> Result<PatchKind, ApiError> {
    PatchKind::from_content_type(content_type).ok_or_else(|| {
        ApiError::new(
            415,
            "UnsupportedMediaType",
            format!("the body of the request was in an unknown format ({content_type:?})"),
        )
    })
}

fn selectors(q: &HashMap<String, String>) -> Result<Selectors, ApiError> {
    Selectors::parse(
        q.get("labelSelector").map(String::as_str),
        q.get("fieldSelector").map(String::as_str),
    )
    .map_err(ApiError::bad_request)
}

fn list_doc(
    gvr: &Gvr,
    kind: &str,
    rv: u64,
    items: Vec<Value>,
    cont: Option<(String, usize)>,
) -> Value {
    let mut meta = json!({"resourceVersion": rv.to_string()});
    if let Some((token, remaining)) = cont {
        meta["continue"] = json!(token);
        meta["remainingItemCount"] = json!(remaining);
    }
    json!({"kind": format!("{kind}List"), "apiVersion": gvr.api_version(), "metadata": meta, "items": items})
}

/// A list; `limit` and `continue` page through objects ordered by namespace/name (the
/// continue token is `<namespace>/<name>` of the last object answered).
fn list(
    shared: &Shared,
    gvr: &Gvr,
    ns: Option<&str>,
    sel: &Selectors,
    q: &HashMap<String, String>,
) -> Result<Reply, ApiError> {
    let store = shared.lock();
    let mut items = store.list(gvr, ns, sel);
    let key_of = |o: &Value| {
        format!(
            "{}/{}",
            o.pointer("/metadata/namespace")
                .and_then(Value::as_str)
                .unwrap_or(""),
            o.pointer("/metadata/name")
                .and_then(Value::as_str)
                .unwrap_or("")
        )
    };
    if let Some(token) = q.get("continue").filter(|t| !t.is_empty()) {
        items.retain(|o| key_of(o).as_str() > token.as_str());
    }
    let limit = q
        .get("limit")
        .and_then(|l| l.parse::<usize>().ok())
        .filter(|l| *l > 0);
    let mut cont = None;
    if let Some(limit) = limit
        && items.len() > limit
    {
        let remaining = items.len() - limit;
        items.truncate(limit);
        cont = items.last().map(|o| (key_of(o), remaining));
    }
    ok(list_doc(
        gvr,
        &store.kind_of(gvr),
        store.resource_version(),
        items,
        cont,
    ))
}

fn watch_setup(
    shared: &Shared,
    gvr: Gvr,
    ns: Option<&str>,
    sel: Selectors,
    q: &HashMap<String, String>,
) -> Result<WatchSetup, ApiError> {
    let flag = |k: &str| q.get(k).is_some_and(|v| v == "true" || v == "1");
    let send_initial = flag("sendInitialEvents");
    let start = match q.get("resourceVersion").map(String::as_str) {
        _ if send_initial => Start::Now,
        None | Some("") | Some("0") => Start::Now,
        Some(rv) => Start::From(rv.parse::<u64>().map_err(|_| {
            ApiError::bad_request(format!("resourceVersion: Invalid value: {rv:?}"))
        })?),
    };
    let timeout = match q.get("timeoutSeconds") {
        Some(t) => Some(Duration::from_secs(t.parse::<u64>().map_err(|_| {
            ApiError::bad_request(format!("timeoutSeconds: invalid value {t:?}"))
        })?)),
        None => None,
    };
    let kind = shared.lock().kind_of(&gvr);
    Ok(WatchSetup {
        gvr,
        kind,
        ns: ns.map(str::to_string),
        selectors: sel,
        start,
        bookmarks: flag("allowWatchBookmarks"),
        initial_end_bookmark: send_initial,
        timeout,
        bookmark_interval: shared.bookmark_interval,
    })
}

/// The `autoscaling/v1` Scale of a workload.
fn scale_of(obj: &Value) -> Value {
    let m = &obj["metadata"];
    let selector = obj
        .pointer("/spec/selector/matchLabels")
        .and_then(Value::as_object)
        .map(|l| {
            l.iter()
                .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or("")))
                .collect::<Vec<_>>()
                .join(",")
        })
        .unwrap_or_default();
    json!({
        "kind": "Scale",
        "apiVersion": "autoscaling/v1",
        "metadata": {
            "name": m["name"], "namespace": m["namespace"], "uid": m["uid"],
            "resourceVersion": m["resourceVersion"], "creationTimestamp": m["creationTimestamp"],
        },
        "spec": {"replicas": obj.pointer("/spec/replicas").cloned().unwrap_or(json!(0))},
        "status": {
            "replicas": obj.pointer("/status/replicas").cloned().unwrap_or(json!(0)),
            "selector": selector,
        },
    })
}
