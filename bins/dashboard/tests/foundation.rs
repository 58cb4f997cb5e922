//! The schema and the seed: migrations apply on an empty database and revert, the
//! tables and columns are cube-studio's, in utf8mb4, and `init` is idempotent.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::{BTreeMap, BTreeSet};

use app_models::db::{revert_all_migrations, run_migrations, table_names};
use diesel::RunQueryDsl;
use testkit::TestDb;

/// The tables the foundation issue lists.
const REQUIRED: &[&str] = &[
    "ab_user",
    "ab_role",
    "ab_user_role",
    "ab_permission",
    "ab_view_menu",
    "ab_permission_view",
    "ab_permission_view_role",
    "project",
    "project_user",
    "repository",
    "images",
    "job_template",
    "pipeline",
    "task",
    "run",
    "workflow",
    "notebook",
    "docker",
    "model",
    "service",
    "inferenceservice",
    "nni",
    "dataset",
    "logs",
    "favorite",
];

fn columns(db: &TestDb) -> BTreeMap<String, Vec<String>> {
    #[derive(diesel::QueryableByName)]
    struct C {
        #[diesel(sql_type = diesel::sql_types::Text)]
        t: String,
        #[diesel(sql_type = diesel::sql_types::Text)]
        c: String,
    }
    let mut conn = db.conn();
    let rows: Vec<C> = diesel::sql_query("SELECT table_name AS t, column_name AS c FROM information_schema.columns WHERE table_schema = DATABASE() ORDER BY table_name, ordinal_position")
        .load(&mut conn)
        .unwrap();
    let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for r in rows {
        out.entry(r.t).or_default().push(r.c);
    }
    out
}

/// Column names per table of the original's DDL.
fn reference_columns() -> BTreeMap<String, Vec<String>> {
    let sql = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/reference/cube-studio-schema.sql"
    ))
    .unwrap();
    let mut out = BTreeMap::new();
    for stmt in sql.split("CREATE TABLE ").skip(1) {
        let name = stmt.split_whitespace().next().unwrap().to_string();
        let cols: Vec<String> = stmt
            .lines()
            .skip(1)
            .map(str::trim)
            .filter(|l| {
                !l.is_empty()
                    && !l.starts_with("PRIMARY")
                    && !l.starts_with("UNIQUE")
                    && !l.starts_with("FOREIGN")
                    && !l.starts_with(')')
            })
            .map(|l| {
                l.split_whitespace()
                    .next()
                    .unwrap()
                    .trim_matches('`')
                    .to_string()
            })
            .collect();
        out.insert(name, cols);
    }
    out
}

#[test]
fn migrations_create_the_cube_studio_schema_and_revert() {
    let db = TestDb::empty();
    let mut conn = db.conn();
    let applied = run_migrations(&mut conn).unwrap();
    assert_eq!(applied.len(), 4);
    let tables: BTreeSet<String> = table_names(&mut conn).unwrap().into_iter().collect();
    for t in REQUIRED {
        assert!(tables.contains(*t), "table {t} is missing");
    }
    // same column names as the original, for every table both have
    let ours = columns(&db);
    for (table, cols) in reference_columns() {
        if table == "user_attribute" || table == "service_pipeline" {
            assert!(!ours.contains_key(&table), "dead table {table} created");
            continue;
        }
        let mine = ours
            .get(&table)
            .unwrap_or_else(|| panic!("table {table} missing"));
        assert_eq!(mine, &cols, "columns of {table}");
    }
    // utf8mb4 everywhere
    #[derive(diesel::QueryableByName)]
    struct Cs {
        #[diesel(sql_type = diesel::sql_types::Text)]
        t: String,
        #[diesel(sql_type = diesel::sql_types::Text)]
        c: String,
    }
    let charsets: Vec<Cs> = diesel::sql_query(
        "SELECT table_name AS t, table_collation AS c FROM information_schema.tables WHERE table_schema = DATABASE() AND table_name <> '__diesel_schema_migrations'",
    )
    .load(&mut conn)
    .unwrap();
    for c in &charsets {
        assert!(c.c.starts_with("utf8mb4"), "{} is {}", c.t, c.c);
    }
    #[derive(diesel::QueryableByName)]
    struct Create {
        #[diesel(sql_type = diesel::sql_types::Text, column_name = "Create Table")]
        ddl: String,
    }
    let ddl: Vec<Create> = diesel::sql_query("SHOW CREATE TABLE pipeline")
        .load(&mut conn)
        .unwrap();
    assert!(ddl[0].ddl.contains("CHARSET=utf8mb4"));
    // the protective keys
    let ddl: Vec<Create> = diesel::sql_query("SHOW CREATE TABLE run")
        .load(&mut conn)
        .unwrap();
    assert!(
        ddl[0].ddl.contains(
            "UNIQUE KEY `uq_run_pipeline_execution_date` (`pipeline_id`,`execution_date`)"
        )
    );
    // applying again is a no-op; reverting drops everything
    assert!(run_migrations(&mut conn).unwrap().is_empty());
    assert_eq!(revert_all_migrations(&mut conn).unwrap().len(), 4);
    let left: Vec<String> = table_names(&mut conn)
        .unwrap()
        .into_iter()
        .filter(|t| t != "__diesel_schema_migrations")
        .collect();
    assert!(left.is_empty(), "tables left after revert: {left:?}");
    // and they apply again after a revert
    assert_eq!(run_migrations(&mut conn).unwrap().len(), 4);
}

#[test]
fn an_existing_cube_studio_database_is_adopted() {
    // a database created by the original (its DDL), with a row in it
    let db = TestDb::empty();
    let mut conn = db.conn();
    let sql = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/reference/cube-studio-schema.sql"
    ))
    .unwrap();
    for stmt in sql.split(';').map(str::trim).filter(|s| !s.is_empty()) {
        diesel::sql_query(stmt).execute(&mut conn).unwrap();
    }
    diesel::sql_query("INSERT INTO ab_user (first_name,last_name,username,email) VALUES ('a','b','old','old@x.org')").execute(&mut conn).unwrap();
    run_migrations(&mut conn).unwrap();
    #[derive(diesel::QueryableByName)]
    struct N {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }
    let n: Vec<N> = diesel::sql_query("SELECT COUNT(*) AS n FROM ab_user WHERE username='old'")
        .load(&mut conn)
        .unwrap();
    assert_eq!(n[0].n, 1, "adoption keeps existing rows");
    let n: Vec<N> = diesel::sql_query("SELECT COUNT(*) AS n FROM information_schema.statistics WHERE table_schema=DATABASE() AND index_name='uq_run_pipeline_execution_date'")
        .load(&mut conn)
        .unwrap();
    assert!(
        n[0].n > 0,
        "the protective keys are added to adopted tables"
    );
    // our own tables sit beside the original's, which keep their columns
    let tables = table_names(&mut conn).unwrap();
    for t in ["app_setting", "user_token", "login_throttle"] {
        assert!(tables.iter().any(|x| x == t), "{t} missing");
    }
}

#[test]
fn init_generates_the_admin_password_when_none_is_set() {
    let db = TestDb::new();
    let config = common::test_config(&db.url, &[("ADMIN_PASSWORD", "")]);
    let mut conn = db.conn();
    let first =
        dashboard::seed::run_seed(&mut conn, &config, dashboard::views::customize_job()).unwrap();
    let password = first
        .generated_admin_password
        .expect("a generated password");
    assert_eq!(password.len(), 20);
    assert!(password.chars().all(|c| c.is_ascii_alphanumeric()));
    let admin = app_models::queries::user_by_name(&mut conn, "admin")
        .unwrap()
        .unwrap();
    let hash = admin.password.unwrap();
    assert!(app_core::password::verify_password(&hash, &password));
    assert!(!app_core::password::verify_password(&hash, "admin"));
    // shown once: a second init keeps it and generates nothing
    let second =
        dashboard::seed::run_seed(&mut conn, &config, dashboard::views::customize_job()).unwrap();
    assert_eq!(second.generated_admin_password, None);
}

fn counts(db: &TestDb) -> BTreeMap<String, i64> {
    #[derive(diesel::QueryableByName)]
    struct N {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }
    let mut conn = db.conn();
    let mut out = BTreeMap::new();
    for t in table_names(&mut conn).unwrap() {
        let n: Vec<N> = diesel::sql_query(format!("SELECT COUNT(*) AS n FROM `{t}`"))
            .load(&mut conn)
            .unwrap();
        out.insert(t, n[0].n);
    }
    out
}

#[test]
fn init_is_idempotent_and_writes_werkzeug_hashes() {
    let db = TestDb::new();
    let config = common::test_config(&db.url, &[]);
    let mut conn = db.conn();
    let first =
        dashboard::seed::run_seed(&mut conn, &config, dashboard::views::customize_job()).unwrap();
    assert!(first.inserted > 50);
    let after_first = counts(&db);
    let second =
        dashboard::seed::run_seed(&mut conn, &config, dashboard::views::customize_job()).unwrap();
    assert_eq!(second.inserted, 0);
    assert_eq!(
        after_first,
        counts(&db),
        "a second init changes no row count"
    );
    for (t, n) in [
        ("ab_role", 3),
        ("project", 23),
        ("job_template", 4),
        ("pipeline", 1),
        ("task", 3),
        ("repository", 1),
    ] {
        assert_eq!(after_first[t], n, "{t}");
    }
    let admin = app_models::queries::user_by_name(&mut conn, "admin")
        .unwrap()
        .unwrap();
    let hash = admin.password.unwrap();
    assert!(hash.starts_with("pbkdf2:sha256:1000$"), "{hash}");
    assert!(app_core::password::verify_password(&hash, "admin"));
    assert_eq!(
        app_models::queries::user_roles(&mut conn, admin.id).unwrap(),
        vec!["Admin".to_string()]
    );
}

/// A database created by the original's own migrations on MariaDB (its recorded DDL:
/// the `ab_*` ids come from SEQUENCE objects, the columns have no AUTO_INCREMENT):
/// migrate, init, and creating users and roles through the API all work, with ids from
/// the sequences, and no database text reaches a client.
#[actix_web::test]
async fn a_database_of_the_original_with_sequences_is_adopted() {
    use actix_web::test;
    use serde_json::json;
    let db = TestDb::empty();
    let mut conn = db.conn();
    common::load_original_ddl(&mut conn);
    #[derive(diesel::QueryableByName)]
    struct N {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }
    let scalar = |conn: &mut diesel::MysqlConnection, sql: &str| -> i64 {
        let r: Vec<N> = diesel::sql_query(sql).load(conn).unwrap();
        r[0].n
    };
    assert_eq!(
        scalar(
            &mut conn,
            "SELECT COUNT(*) AS n FROM information_schema.tables WHERE table_schema = DATABASE() AND table_type = 'SEQUENCE' AND table_name = 'ab_user_id_seq'"
        ),
        1
    );
    // as the original leaves it: an insert without an id fails
    assert!(
        diesel::sql_query("INSERT INTO ab_role (name) VALUES ('probe')")
            .execute(&mut conn)
            .is_err()
    );
    run_migrations(&mut conn).unwrap();
    let config = common::test_config(&db.url, &[]);
    let report =
        dashboard::seed::run_seed(&mut conn, &config, dashboard::views::customize_job()).unwrap();
    assert!(report.inserted > 50);
    let admin_id = scalar(
        &mut conn,
        "SELECT CAST(id AS SIGNED) AS n FROM ab_user WHERE username = 'admin'",
    );
    assert!(
        scalar(
            &mut conn,
            "SELECT CAST(NEXTVAL(ab_user_id_seq) AS SIGNED) AS n"
        ) > admin_id,
        "the admin's id came from the sequence"
    );
    // a second init finds everything
    let again =
        dashboard::seed::run_seed(&mut conn, &config, dashboard::views::customize_job()).unwrap();
    assert_eq!(again.inserted, 0);

    let state = actix_web::web::Data::new(dashboard::app::build_state(db.pool(), config).unwrap());
    let svc = test::init_service(dashboard::dashboard_app!(state.clone())).await;
    let admin_ctx = dashboard::auth::Ctx::load(&mut conn, "admin")
        .unwrap()
        .unwrap();
    let auth = format!("admin|{}", state.user_token(&mut conn, &admin_ctx).unwrap());
    let gamma = scalar(
        &mut conn,
        "SELECT CAST(id AS SIGNED) AS n FROM ab_role WHERE name = 'Gamma'",
    );
    let post = |uri: &str, body: serde_json::Value| {
        test::TestRequest::post()
            .uri(uri)
            .insert_header(("Authorization", auth.clone()))
            .insert_header(("Content-Type", "application/json"))
            .set_payload(body.to_string())
    };
    let user = json!({"username": "erin", "nickname": "Erin", "email": "erin@x.org", "password": "erin-pass", "roles": [gamma], "active": true});
    let r = common::send(&svc, post("/users/api/", user.clone())).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let erin = scalar(
        &mut conn,
        "SELECT CAST(id AS SIGNED) AS n FROM ab_user WHERE username = 'erin'",
    );
    assert!(erin > admin_id);
    assert_eq!(
        scalar(
            &mut conn,
            &format!(
                "SELECT COUNT(*) AS n FROM ab_user_role WHERE user_id = {erin} AND role_id = {gamma}"
            )
        ),
        1
    );
    // a duplicate answers in our words, not the database's
    let r = common::send(&svc, post("/users/api/", user)).await;
    assert_eq!(r.status, 422, "{}", r.body);
    let text = r.body.to_string();
    assert!(
        !text.contains("Duplicate entry") && !text.contains("ab_user"),
        "{text}"
    );
    // roles too
    let r = common::send(&svc, post("/roles/api/", json!({"name": "Reviewers"}))).await;
    assert_eq!(r.status, 200, "{}", r.body);
    // and the new user logs in
    let r = common::send(
        &svc,
        test::TestRequest::post()
            .uri("/login/")
            .peer_addr("10.0.0.1:1".parse().unwrap())
            .insert_header(("Content-Type", "application/json"))
            .set_payload(json!({"username": "erin", "password": "erin-pass"}).to_string()),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
}

/// A pooled connection is not pinged on every checkout; when the server drops it, the one
/// query that meets it fails, and the next checkouts ping and replace it.
#[test]
fn a_dead_pooled_connection_fails_once_then_is_replaced() {
    use diesel::dsl::sql;
    use diesel::sql_types::BigInt;
    let db = TestDb::empty();
    let pool = app_models::db::build_pool(&db.url, 1);
    let id_of = |c: &mut diesel::MysqlConnection| {
        diesel::select(sql::<BigInt>("CONNECTION_ID()")).get_result::<i64>(c)
    };
    let first = id_of(&mut pool.get().unwrap()).unwrap();
    assert_eq!(id_of(&mut pool.get().unwrap()).unwrap(), first, "reused");
    diesel::sql_query(format!("KILL {first}"))
        .execute(&mut db.conn())
        .unwrap();
    let failed = id_of(&mut pool.get().unwrap()).unwrap_err();
    assert!(
        app_models::db::is_connection_error(&failed),
        "a connection error: {failed}"
    );
    // what every caller does with a query error
    let _ = app_models::DbError::from(failed);
    let second = id_of(&mut pool.get().unwrap()).unwrap();
    assert_ne!(second, first, "a new connection");
    assert_eq!(id_of(&mut pool.get().unwrap()).unwrap(), second);
}
