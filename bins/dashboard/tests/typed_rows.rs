//! The list path's two shortcuts give what the long way gives:
//! - rows decoded from the server's typed columns equal the rows MariaDB's own
//!   `JSON_OBJECT` printed (how the engine read rows before), for every table;
//! - a page written with its shared related rows equals the same page with those rows
//!   copied into each row, for every view.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::TestApp;
use dashboard::auth::context::Ctx;
use dashboard::engine::dump::PageRows;
use dashboard::engine::meta::SqlKind;
use dashboard::engine::plan::ListPlan;
use dashboard::engine::resolve::Resolved;
use dashboard::engine::sql::{q, select_rows};
use diesel::RunQueryDsl;
use serde_json::{Map, Value, json};

/// A table's rows as `JSON_OBJECT` prints them, booleans fixed: the engine's former reader.
fn rows_as_mariadb_json(
    conn: &mut diesel::MysqlConnection,
    table: &dashboard::engine::meta::TableMeta,
) -> Vec<Map<String, Value>> {
    #[derive(diesel::QueryableByName)]
    struct J {
        #[diesel(sql_type = diesel::sql_types::Text)]
        j: String,
    }
    let parts: Vec<String> = table
        .columns
        .iter()
        .map(|c| {
            let col = format!("t.{}", q(&c.name));
            let expr = match c.kind {
                SqlKind::DateTime => format!("DATE_FORMAT({col}, '%Y-%m-%dT%H:%i:%s')"),
                SqlKind::Date => format!("DATE_FORMAT({col}, '%Y-%m-%d')"),
                _ => col,
            };
            format!("'{}', {expr}", c.name)
        })
        .collect();
    let sql = format!(
        "SELECT JSON_OBJECT({}) AS j FROM {} t ORDER BY t.`id`",
        parts.join(", "),
        q(&table.name)
    );
    let found: Vec<J> = diesel::sql_query(sql).load(conn).unwrap();
    found
        .into_iter()
        .map(|r| {
            let Value::Object(mut m) = serde_json::from_str(&r.j).unwrap() else {
                panic!("not an object")
            };
            for c in &table.columns {
                if c.kind == SqlKind::Bool
                    && let Some(v) = m.get_mut(&c.name)
                    && let Some(i) = v.as_i64()
                {
                    *v = Value::Bool(i != 0);
                }
            }
            m
        })
        .collect()
}

#[test]
fn typed_rows_equal_what_mariadb_json_printed_for_every_table() {
    let app = TestApp::new();
    // values at the edges of each kind: NULLs, booleans, a zero date-time, quotes,
    // newlines, non-ASCII and a big integer
    app.exec(
        "INSERT INTO project (name, `describe`, type, expand, created_on, changed_on, created_by_fk, changed_by_fk) \
         VALUES ('edge', 'a \"quoted\" \\\\ line\\n二行', 'org', '{}', '2026-01-02 03:04:05', '1999-12-31 23:59:59', NULL, NULL)",
    );
    app.exec(
        "UPDATE ab_user SET active = 0, last_login = NULL, login_count = 2147483647 WHERE id = 1",
    );
    let mut conn = app.state.pool.get().unwrap();
    let mut tables = 0;
    let mut rows = 0;
    for table in app.state.schema.tables.values() {
        if table.column("id").is_none() {
            continue;
        }
        let expected = rows_as_mariadb_json(&mut conn, table);
        let got = select_rows(&mut conn, table, &[], "ORDER BY t.`id`", &[]).unwrap();
        assert_eq!(got.len(), expected.len(), "{}", table.name);
        for (g, e) in got.iter().zip(&expected) {
            assert_eq!(g, e, "table {}", table.name);
            // the same keys in the same (DDL) order
            assert!(g.keys().eq(e.keys()), "key order of {}", table.name);
        }
        tables += 1;
        rows += got.len();
    }
    assert!(tables > 20 && rows > 100, "{tables} tables, {rows} rows");
}

#[test]
fn a_page_with_shared_related_rows_equals_the_page_with_copies_for_every_view() {
    let app = TestApp::new();
    let bob = app.add_user("bob");
    // rows made by two users, so that pages mix related rows and lack some
    app.exec(&format!(
        "UPDATE project SET created_by_fk = {bob} WHERE id % 2 = 0"
    ));
    app.exec("UPDATE project SET changed_by_fk = NULL WHERE id % 3 = 0");
    // projects with no member and with two
    app.exec(
        "INSERT INTO project (name, `describe`, type, expand, created_on, changed_on) VALUES ('lonely', 'no members', 'org', '{}', NOW(), NOW())",
    );
    app.exec(&format!(
        "INSERT INTO project_user (project_id, user_id, role, created_on, changed_on) VALUES (1, {bob}, 'dev', NOW(), NOW())"
    ));
    let mut conn = app.state.pool.get().unwrap();
    let ctx = Ctx::load(&mut conn, "admin").unwrap().unwrap();
    let mut args = Map::new();
    args.insert("page_size".into(), json!(100));
    let mut shared_keys = 0;
    for view in &app.state.views {
        let rv = Resolved::new(view, &app.state.schema, &app.state.models).unwrap();
        let plan = ListPlan::new(&rv, &ctx, &args).unwrap();
        let page = plan.run_page(&mut conn, &rv, &ctx).unwrap();
        let written = serde_json::to_value(PageRows {
            rows: &page.rows,
            shared: &page.shared,
        })
        .unwrap();
        let (copies, total) = plan.run(&mut conn, &rv, &ctx).unwrap();
        assert_eq!(total, page.total, "{}", view.api_name);
        let copies = Value::Array(copies.into_iter().map(Value::Object).collect());
        assert_eq!(written, copies, "view {}", view.api_name);
        // and in the same key order
        assert_eq!(
            serde_json::to_string(&written).unwrap(),
            serde_json::to_string(&copies).unwrap(),
            "key order of {}",
            view.api_name
        );
        if !page.rows.is_empty() {
            shared_keys += page.shared.keys().count();
        }
        if view.api_name == "Project_ModelView_Api" {
            // the users, shared, and each project's members (one-to-many), written
            // straight from the database
            let keys: Vec<&str> = page.shared.keys().collect();
            assert_eq!(keys, ["created_by", "changed_by", "user"]);
            let members: Vec<usize> = copies
                .as_array()
                .unwrap()
                .iter()
                .map(|r| r["user"].as_array().unwrap().len())
                .collect();
            assert!(members.iter().any(|n| *n > 0), "{members:?}");
            assert!(members.contains(&0) && members.contains(&2), "{members:?}");
            // a nested user's keys in DDL order, as the original writes them, without
            // foreign keys and the password hash
            let user = copies[0]["created_by"].as_object().unwrap();
            let ddl: Vec<&str> = app
                .state
                .schema
                .table("ab_user")
                .unwrap()
                .columns
                .iter()
                .map(|c| c.name.as_str())
                .filter(|c| !["password", "created_by_fk", "changed_by_fk"].contains(c))
                .collect();
            assert_eq!(user.keys().map(String::as_str).collect::<Vec<_>>(), ddl);
        }
    }
    assert!(shared_keys >= 5, "only {shared_keys} shared keys");
}
