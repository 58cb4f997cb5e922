//! `_info` payloads pinned by snapshots (admin and a plain user), so any change to
//! what the front end receives is a reviewed change; and compared with the original
//! back end's recorded `_info` answers (`tests/reference/original/10_*_info_*.json`), so
//! the parity with its wire format cannot regress.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use actix_web::test;
use common::{TestApp, send};
use serde_json::Value;

#[actix_web::test]
async fn info_payloads() {
    let app = TestApp::new();
    app.add_user("plain");
    let svc = test::init_service(dashboard::dashboard_app!(app.state.clone())).await;
    // every recorded view but the fab template API, the same declaration as job_template
    for (name, uri) in RECORDED.iter().filter(|(v, _)| *v != "job_template_fab") {
        for user in ["admin", "plain"] {
            let r = send(
                &svc,
                test::TestRequest::get()
                    .uri(uri)
                    .insert_header(("Authorization", app.auth(user))),
            )
            .await;
            assert_eq!(r.status, 200, "{uri} as {user}: {}", r.body);
            insta::assert_json_snapshot!(format!("{name}__{user}"), r.body);
        }
    }
}

/// Views of the original's recordings: fixture name → our route (their `_info`).
const RECORDED: &[(&str, &str)] = &[
    ("project_org", "/project_modelview/org/api/_info"),
    (
        "project_job_template",
        "/project_modelview/job_template/api/_info",
    ),
    ("project", "/project_modelview/api/_info"),
    ("project_user", "/project_user_modelview/api/_info"),
    ("repository", "/repository_modelview/api/_info"),
    ("images", "/images_modelview/api/_info"),
    ("job_template", "/job_template_modelview/api/_info"),
    ("job_template_fab", "/job_template_fab_modelview/api/_info"),
    ("users", "/users/api/_info"),
    ("roles", "/roles/api/_info"),
    ("userinfo", "/userinfo/api/_info"),
    ("log", "/log_modelview/api/_info"),
    ("pipeline", "/pipeline_modelview/api/_info"),
    ("pipeline_home", "/pipeline_modelview/home/api/_info"),
    ("task", "/task_modelview/api/_info"),
    ("workflow", "/workflow_modelview/api/_info"),
    ("runhistory", "/runhistory_modelview/api/_info"),
];

/// Differences from the original's `_info` that are intended or not built yet: (view or
/// `*`, difference as printed by [`diff`], with `*` matching any run of characters,
/// reason). Every entry must still match something, so a fixed difference leaves the list.
const ALLOWED: &[(&str, &str, &str)] = &[
    (
        "*",
        "EXTRA $.action.rotate_token",
        "intended: a user rotates their own API token (README, tokens)",
    ),
    (
        "*",
        "MISSING $.label_columns.secret",
        "intended: no view shows a user's token (the original's users show leaks it)",
    ),
    (
        "*",
        "MISSING $.show_columns[]: \"secret\"",
        "intended: no view shows a user's token",
    ),
    (
        "users",
        "MISSING $.show_columns[]: \"password\"",
        "intended: password hashes are never shown",
    ),
    (
        "users",
        "EXTRA $.label_columns.quota",
        "ours: admins set a user's resource quota in the user form",
    ),
    (
        "users",
        "EXTRA $.*_columns[name=quota]",
        "ours: admins set a user's resource quota in the user form",
    ),
    (
        "users",
        "VALUE $.edit_columns[name=active].default: original false / ours true",
        "ours: a user is created active (the model's default), the original's form offers false",
    ),
    (
        "users",
        "EXTRA $.permissions[]: \"can_delete\"",
        "ours: admins may delete users (the original cannot); others get the original's 403",
    ),
];

/// One difference: kind and path (`$.a.b`, `[name=x]` for a field object, `[type=x]` for
/// a validator).
fn diff(o: &Value, u: &Value, path: &str, out: &mut Vec<String>) {
    let kind = |v: &Value| match v {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "list",
        Value::Object(_) => "object",
    };
    if kind(o) != kind(u) {
        out.push(format!("TYPE {path}: original {o} / ours {u}"));
        return;
    }
    match (o, u) {
        (Value::Object(a), Value::Object(b)) => {
            for (k, v) in a {
                match b.get(k) {
                    None => out.push(format!("MISSING {path}.{k}")),
                    // related rows and their number are data of each database; their
                    // JSON type is the contract
                    Some(w) if k == "values" || k == "count" => {
                        if kind(v) != kind(w) {
                            out.push(format!("TYPE {path}.{k}"));
                        }
                    }
                    Some(w) => diff(v, w, &format!("{path}.{k}"), out),
                }
            }
            for k in b.keys().filter(|k| !a.contains_key(*k)) {
                out.push(format!("EXTRA {path}.{k}"));
            }
        }
        (Value::Array(a), Value::Array(b)) => {
            let key = |items: &[Value], k: &str| -> Option<Vec<String>> {
                items
                    .iter()
                    .map(|x| x.get(k).and_then(Value::as_str).map(String::from))
                    .collect()
            };
            if let (Some(an), Some(bn)) = (key(a, "name"), key(b, "name"))
                && !(a.is_empty() && b.is_empty())
            {
                named(a, b, &an, &bn, "name", path, true, out);
            } else if let (Some(at), Some(bt)) = (key(a, "type"), key(b, "type"))
                && !(a.is_empty() && b.is_empty())
            {
                // validators: the original de-duplicates them through a Python set, so
                // their order depends on the interpreter's hash seed
                named(a, b, &at, &bt, "type", path, false, out);
            } else if a.iter().chain(b).all(|x| !x.is_object()) {
                for x in a.iter().filter(|x| !b.contains(x)) {
                    out.push(format!("MISSING {path}[]: {x}"));
                }
                for x in b.iter().filter(|x| !a.contains(x)) {
                    out.push(format!("EXTRA {path}[]: {x}"));
                }
                let ca: Vec<&Value> = a.iter().filter(|x| b.contains(x)).collect();
                let cb: Vec<&Value> = b.iter().filter(|x| a.contains(x)).collect();
                if ca != cb {
                    out.push(format!("ORDER {path}"));
                }
            } else if a.len() != b.len() {
                out.push(format!("VALUE {path}: original {o} / ours {u}"));
            } else {
                for (i, (x, y)) in a.iter().zip(b).enumerate() {
                    diff(x, y, &format!("{path}[{i}]"), out);
                }
            }
        }
        _ if o != u => out.push(format!("VALUE {path}: original {o} / ours {u}")),
        _ => {}
    }
}

/// Lists of objects matched by their `key` member.
#[allow(clippy::too_many_arguments)]
fn named(
    a: &[Value],
    b: &[Value],
    an: &[String],
    bn: &[String],
    key: &str,
    path: &str,
    ordered: bool,
    out: &mut Vec<String>,
) {
    for n in an.iter().filter(|n| !bn.contains(n)) {
        out.push(format!("MISSING {path}[{key}={n}]"));
    }
    for n in bn.iter().filter(|n| !an.contains(n)) {
        out.push(format!("EXTRA {path}[{key}={n}]"));
    }
    let ca: Vec<&String> = an.iter().filter(|n| bn.contains(n)).collect();
    let cb: Vec<&String> = bn.iter().filter(|n| an.contains(n)).collect();
    if ordered && ca != cb {
        out.push(format!("ORDER {path}"));
    }
    for n in ca {
        let x = &a[an.iter().position(|m| m == n).unwrap()];
        let y = &b[bn.iter().position(|m| m == n).unwrap()];
        diff(x, y, &format!("{path}[{key}={n}]"), out);
    }
}

/// `*` in `pattern` matches any run of characters.
fn glob(pattern: &str, text: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    let mut rest = text;
    for (i, part) in parts.iter().enumerate() {
        if i == 0 {
            match rest.strip_prefix(part) {
                Some(r) => rest = r,
                None => return false,
            }
        } else if i == parts.len() - 1 {
            return rest.ends_with(part);
        } else {
            match rest.find(part) {
                Some(at) => rest = &rest[at + part.len()..],
                None => return false,
            }
        }
    }
    rest.is_empty()
}

#[actix_web::test]
async fn info_matches_the_original() {
    let app = TestApp::new();
    // the recorded plain user's name: per-user defaults name it
    app.add_user("plainuser");
    let svc = test::init_service(dashboard::dashboard_app!(app.state.clone())).await;
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/reference/original");
    let mut unexpected = Vec::new();
    let mut used = vec![false; ALLOWED.len()];
    for (view, uri) in RECORDED {
        for (user, file_user) in [("admin", "admin"), ("plainuser", "plain")] {
            let path = format!("{dir}/10_{view}_info_{file_user}.json");
            let recorded: Value =
                serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
            let r = send(
                &svc,
                test::TestRequest::get()
                    .uri(uri)
                    .insert_header(("Authorization", app.auth(user))),
            )
            .await;
            let status = recorded["response"]["status"].as_u64().unwrap();
            if u64::from(r.status) != status {
                unexpected.push(format!(
                    "{view} {user}: STATUS {status} / ours {}",
                    r.status
                ));
                continue;
            }
            let mut found = Vec::new();
            diff(&recorded["response"]["body"], &r.body, "$", &mut found);
            for d in found {
                match ALLOWED
                    .iter()
                    .position(|(v, p, _)| (*v == "*" || v == view) && glob(p, &d))
                {
                    Some(i) => used[i] = true,
                    None => unexpected.push(format!("{view} {user}: {d}")),
                }
            }
        }
    }
    let stale: Vec<&str> = ALLOWED
        .iter()
        .zip(&used)
        .filter(|(_, u)| !**u)
        .map(|((v, p, _), _)| if *v == "*" { *p } else { *v })
        .collect();
    assert!(
        unexpected.is_empty() && stale.is_empty(),
        "{} differences from the original's _info not in ALLOWED:\n{}\nALLOWED entries matching nothing: {stale:?}",
        unexpected.len(),
        unexpected.join("\n")
    );
}

/// Top-level keys of rows that differ from the original's on purpose: (view or `*`,
/// `MISSING key` / `EXTRA key`, reason).
const ROW_KEYS_ALLOWED: &[(&str, &str, &str)] = &[
    (
        "users",
        "MISSING password",
        "intended: password hashes are never shown",
    ),
    (
        "users",
        "MISSING secret",
        "intended: no view shows a user's token",
    ),
];

/// The keys of a JSON object, in order.
fn keys(v: &Value) -> Vec<String> {
    v.as_object()
        .map(|m| m.keys().cloned().collect())
        .unwrap_or_default()
}

/// The rows of a list page and the row of a show carry the original's keys, in its order
/// (`tests/reference/original/11_*_list_*` and `12_*_show_first_*`). Values are data of
/// each database and are compared by `install/compare/run-compare.sh`, not here.
#[actix_web::test]
async fn rows_have_the_original_keys() {
    let app = TestApp::new();
    app.add_user("plainuser");
    let svc = test::init_service(dashboard::dashboard_app!(app.state.clone())).await;
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/reference/original");
    let mut unexpected = Vec::new();
    let mut compared = 0;
    for (view, info_uri) in RECORDED {
        let base = info_uri.trim_end_matches("_info");
        for (user, file_user) in [("admin", "admin"), ("plainuser", "plain")] {
            let read = |name: String| -> Option<Value> {
                let text = std::fs::read_to_string(format!("{dir}/{name}.json")).ok()?;
                serde_json::from_str(&text).ok()
            };
            let get = |uri: String| {
                test::TestRequest::get()
                    .uri(&uri)
                    .insert_header(("Authorization", app.auth(user)))
            };
            let mut check = |what: &str, original: &Value, ours: &Value| {
                let (o, u) = (keys(original), keys(ours));
                let mut found: Vec<String> = o
                    .iter()
                    .filter(|k| !u.contains(k))
                    .map(|k| format!("MISSING {k}"))
                    .collect();
                found.extend(
                    u.iter()
                        .filter(|k| !o.contains(k))
                        .map(|k| format!("EXTRA {k}")),
                );
                found.retain(|d| {
                    !ROW_KEYS_ALLOWED
                        .iter()
                        .any(|(v, p, _)| (*v == "*" || v == view) && p == d)
                });
                let common_o: Vec<&String> = o.iter().filter(|k| u.contains(k)).collect();
                let common_u: Vec<&String> = u.iter().filter(|k| o.contains(k)).collect();
                if common_o != common_u {
                    found.push(format!("ORDER original {o:?} / ours {u:?}"));
                }
                for d in found {
                    unexpected.push(format!("{view} {what} {user}: {d}"));
                }
            };
            let Some(list) = read(format!("11_{view}_list_{file_user}")) else {
                continue;
            };
            let form = urlencoding::encode(r#"{"page":0,"page_size":20}"#);
            let r = send(&svc, get(format!("{base}?form_data={form}"))).await;
            let status = list["response"]["status"].as_u64().unwrap();
            assert_eq!(
                u64::from(r.status),
                status,
                "{view} list as {user}: {}",
                r.body
            );
            let original_rows = &list["response"]["body"]["result"]["data"];
            let ours_rows = &r.body["result"]["data"];
            let (Some(o), Some(u)) = (original_rows.get(0), ours_rows.get(0)) else {
                continue;
            };
            check("list", o, u);
            compared += 1;
            let Some(show) = read(format!("12_{view}_show_first_{file_user}")) else {
                continue;
            };
            let Some(id) = u.get("id").and_then(Value::as_i64) else {
                continue;
            };
            let r = send(&svc, get(format!("{base}{id}"))).await;
            let status = show["response"]["status"].as_u64().unwrap();
            assert_eq!(
                u64::from(r.status),
                status,
                "{view} show {id} as {user}: {}",
                r.body
            );
            check(
                "show",
                &show["response"]["body"]["result"],
                &r.body["result"],
            );
            compared += 1;
        }
    }
    assert!(compared >= 40, "only {compared} rows compared");
    assert!(
        unexpected.is_empty(),
        "{} differences from the original's row keys:\n{}",
        unexpected.len(),
        unexpected.join("\n")
    );
}

/// The scheduler stores frozen workflows compact; the run view shows them indented, as
/// the original stores and shows them.
#[actix_web::test]
async fn a_compact_frozen_workflow_is_shown_indented() {
    let app = TestApp::new();
    app.exec(
        "INSERT INTO run (pipeline_id, pipeline_file, pipeline_argo_id, version_id, experiment_id, run_id, message, created_on, execution_date, status) \
         SELECT MIN(id), '{\"kind\":\"Workflow\",\"metadata\":{\"name\":\"w\"}}', '', '', '', 'run-1', '', NOW(), '2026-12-07 10:00:00', 'comed' FROM pipeline",
    );
    let id = app.scalar("SELECT MAX(id) AS n FROM run");
    let svc = test::init_service(dashboard::dashboard_app!(app.state.clone())).await;
    let r = send(
        &svc,
        test::TestRequest::get()
            .uri(&format!("/runhistory_modelview/api/{id}"))
            .insert_header(("Authorization", app.auth("admin"))),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        r.body["result"]["pipeline_file"],
        "{\n    \"kind\": \"Workflow\",\n    \"metadata\": {\n        \"name\": \"w\"\n    }\n}"
    );
}
