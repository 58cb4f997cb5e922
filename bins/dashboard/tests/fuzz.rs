//! Generated bad input: thousands of `form_data` payloads and JSON bodies against every
//! view; the dashboard must answer each with JSON and never with a 5xx or a panic.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use actix_web::test;
use common::{TestApp, send};
use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::{Config, TestRunner};
use serde_json::{Map, Value, json};

fn scalar() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|i| json!(i)),
        (-1e20f64..1e20).prop_map(|f| json!(f)),
        "[a-z_]{0,12}".prop_map(Value::String),
        prop_oneof![
            Just("' OR 1=1 --"),
            Just("\"; DROP TABLE project; --"),
            Just("%_\\"),
            Just("中文😀"),
            Just("\u{0}"),
            Just("1e309"),
            Just("-1"),
            Just("2026-11-30 12:00:00"),
            Just("9223372036854775808"),
        ]
        .prop_map(|s| Value::String(s.to_string())),
    ]
}

fn value() -> impl Strategy<Value = Value> {
    scalar().prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map("[a-z_]{1,8}", inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

const COLUMNS: &[&str] = &[
    "id",
    "name",
    "describe",
    "type",
    "project",
    "user",
    "created_on",
    "nosuch",
    "expand",
    "version",
    "privileged",
    "roles",
    "a`b",
    "name; --",
];
const OPS: &[&str] = &[
    "sw", "nsw", "ew", "new", "ct", "nct", "eq", "neq", "gt", "lt", "rel_o_m", "nrel_o_m",
    "rel_m_m", "eqf", "inf", "bogus",
];

fn filter() -> impl Strategy<Value = Value> {
    (
        prop::sample::select(COLUMNS),
        prop::sample::select(OPS),
        value(),
        any::<u8>(),
    )
        .prop_map(|(c, o, v, drop)| {
            let mut m = Map::new();
            if drop % 7 != 0 {
                m.insert("col".into(), json!(c));
            }
            if drop % 11 != 0 {
                m.insert("opr".into(), json!(o));
            }
            if drop % 13 != 0 {
                m.insert("value".into(), v);
            }
            Value::Object(m)
        })
}

fn form_data() -> impl Strategy<Value = String> {
    (
        prop::collection::vec(filter(), 0..4),
        value(),
        value(),
        prop::option::of(prop::sample::select(COLUMNS)),
        value(),
        value(),
        any::<u8>(),
    )
        .prop_map(|(filters, page, page_size, order, str_related, columns, mode)| match mode % 10 {
            0 => "{not json".to_string(),
            1 => "[1,2,3]".to_string(),
            2 => format!("{{\"filters\": {}}}", json!(page)),
            _ => json!({"filters": filters, "page": page, "page_size": page_size, "order_column": order, "order_direction": "asc",
                        "str_related": str_related, "columns": columns, "only_favorite": mode % 2 == 0})
            .to_string(),
        })
}

const VIEWS: &[&str] = &[
    "/project_modelview/org/api/",
    "/project_modelview/job_template/api/",
    "/project_modelview/api/",
    "/project_user_modelview/api/",
    "/repository_modelview/api/",
    "/images_modelview/api/",
    "/job_template_modelview/api/",
    "/users/api/",
    "/roles/api/",
    "/log_modelview/api/",
    "/pipeline_modelview/api/",
    "/task_modelview/api/",
    "/workflow_modelview/api/",
    "/runhistory_modelview/api/",
];

#[actix_web::test]
async fn bad_input_never_gives_5xx() {
    let app = TestApp::new();
    app.add_user("fuzzer");
    let svc = test::init_service(dashboard::dashboard_app!(app.state.clone())).await;
    let mut runner = TestRunner::new(Config {
        cases: 1,
        ..Config::default()
    });
    let cases = std::env::var("FUZZ_CASES")
        .ok()
        .and_then(|c| c.parse().ok())
        .unwrap_or(3000usize);
    let fd = form_data();
    let bodies = value();
    let mut checked = 0;
    for i in 0..cases {
        let view = VIEWS[i % VIEWS.len()];
        let user = if i % 3 == 0 { "fuzzer" } else { "admin" };
        let auth = app.auth(user);
        let req = match i % 5 {
            0 | 1 => {
                let f = fd.new_tree(&mut runner).unwrap().current();
                test::TestRequest::get()
                    .uri(&format!("{view}?form_data={}", urlencoding::encode(&f)))
            }
            2 => {
                let b = bodies.new_tree(&mut runner).unwrap().current();
                test::TestRequest::post()
                    .uri(view)
                    .insert_header(("Content-Type", "application/json"))
                    .set_payload(b.to_string())
            }
            3 => {
                let b = bodies.new_tree(&mut runner).unwrap().current();
                let id = [1, 2, 0, 999_999, -1][i % 5];
                test::TestRequest::put()
                    .uri(&format!("{view}{id}"))
                    .insert_header(("Content-Type", "application/json"))
                    .set_payload(b.to_string())
            }
            _ => {
                let f = fd.new_tree(&mut runner).unwrap().current();
                let path = [
                    "_info?id=1",
                    "_info?exist_add_args=%7B",
                    "download/",
                    "1?form_data=%7B%22str_related%22%3A1%7D",
                    "action/copy/1",
                    "nosuch",
                    "99999999999999999999",
                ][i % 7];
                test::TestRequest::get().uri(
                    &format!("{view}{path}&form_data={}", urlencoding::encode(&f)).replacen(
                        '&',
                        "?",
                        if path.contains('?') { 0 } else { 1 },
                    ),
                )
            }
        };
        let r = send(&svc, req.insert_header(("Authorization", auth))).await;
        assert!(
            r.status < 500,
            "case {i} on {view}: {} {}",
            r.status,
            r.body
        );
        checked += 1;
    }
    assert_eq!(checked, cases);
    // nothing was dropped or corrupted by the SQL meta-characters
    assert!(app.scalar("SELECT COUNT(*) AS n FROM project") >= 23);
}

mod merge {
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]
        /// The query-string merge never panics, whatever the query string.
        #[test]
        fn merge_args_never_panics(q in ".{0,200}", body in prop::collection::vec(any::<u8>(), 0..64)) {
            let _ = dashboard::engine::query::merge_args(&q, &body);
        }
    }
}
