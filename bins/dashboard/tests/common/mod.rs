//! In-process test app: a private database, migrated and seeded, and the real app factory.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;

use actix_web::body::MessageBody;
use actix_web::dev::{Service, ServiceResponse};
use actix_web::test;
use actix_web::web;
use app_core::Config;
use dashboard::state::AppState;
use serde_json::Value;
use testkit::TestDb;

/// A migrated, seeded database and the state of an app on it.
pub struct TestApp {
    pub db: TestDb,
    pub state: web::Data<AppState>,
}

pub fn test_config(db_url: &str, extra: &[(&str, &str)]) -> Config {
    let vars = test_vars(db_url, extra);
    Config::from_lookup(&move |k| vars.get(k).cloned()).expect("config")
}

/// The variables of a test app: the test defaults, then `extra`.
pub fn test_vars(db_url: &str, extra: &[(&str, &str)]) -> HashMap<String, String> {
    let mut vars: HashMap<String, String> = HashMap::new();
    vars.insert("DATABASE_URL".into(), db_url.into());
    vars.insert("SECRET_KEY".into(), "test-secret".into());
    vars.insert("PASSWORD_HASH_ITERATIONS".into(), "1000".into());
    vars.insert("ADMIN_PASSWORD".into(), "admin".into());
    for (k, v) in extra {
        vars.insert(k.to_string(), v.to_string());
    }
    vars
}

impl TestApp {
    pub fn new() -> TestApp {
        Self::with_config(&[])
    }

    pub fn with_config(extra: &[(&str, &str)]) -> TestApp {
        let db = TestDb::new();
        let config = test_config(&db.url, extra);
        {
            let mut conn = db.conn();
            dashboard::seed::run_seed(&mut conn, &config, dashboard::views::customize_job())
                .expect("seed");
        }
        let vars = test_vars(&db.url, extra);
        let frontend = dashboard::settings::Settings::from_lookup(&|k| vars.get(k).cloned())
            .expect("front-end settings");
        // every app queues under its own prefix: nothing reaches a real worker
        let prefix = vars
            .get("QUEUE_PREFIX")
            .cloned()
            .unwrap_or_else(testkit::fixtures::prefix);
        let state = web::Data::new(
            dashboard::app::build_state(db.pool(), config)
                .expect("state")
                .with_frontend(frontend)
                .with_queue_prefix(&prefix),
        );
        TestApp { db, state }
    }

    /// An app whose home cluster is `kube` (the dashboard's own identity, for
    /// `testkit::rbac::assert_allowed`), or without it a cluster nothing answers for
    /// (every read fails); the kubeconfig is written in `dir`.
    pub fn with_cluster(
        dir: &tempfile::TempDir,
        kube: Option<&testkit::fake_kube::FakeKube>,
        extra: &[(&str, &str)],
    ) -> TestApp {
        let path = dir.path().join("kubeconfig");
        match kube {
            Some(k) => k.write_kubeconfig_for(&path, "dashboard").unwrap(),
            None => {
                let port = testkit::process::free_port();
                std::fs::write(
                    &path,
                    format!(
                        "apiVersion: v1\nkind: Config\nclusters:\n- name: gone\n  cluster:\n    server: http://127.0.0.1:{port}\n\
                         contexts:\n- name: gone\n  context:\n    cluster: gone\n    user: gone\ncurrent-context: gone\n\
                         users:\n- name: gone\n  user:\n    token: x\n"
                    ),
                )
                .unwrap();
            }
        }
        let mut vars = vec![("KUBECONFIG", path.to_str().unwrap())];
        vars.extend_from_slice(extra);
        Self::with_config(&vars)
    }

    /// `Authorization` value of a user (of a user that does not exist: a validly signed
    /// token naming it).
    pub fn auth(&self, user: &str) -> String {
        let mut conn = self.db.conn();
        let token = match dashboard::auth::Ctx::load(&mut conn, user).unwrap() {
            Some(ctx) => self.state.user_token(&mut conn, &ctx).unwrap(),
            None => self.sign(&app_core::token::UserClaims {
                iss: app_core::token::ISSUER.into(),
                sub: user.into(),
                uid: None,
                ver: None,
                iat: None,
                exp: None,
            }),
        };
        format!("{user}|{token}")
    }

    /// The current token of a user, as the user centre shows it.
    pub fn token(&self, user: &str) -> String {
        let mut conn = self.db.conn();
        let ctx = dashboard::auth::Ctx::load(&mut conn, user)
            .unwrap()
            .unwrap_or_else(|| panic!("no active user {user}"));
        self.state.user_token(&mut conn, &ctx).unwrap()
    }

    /// A token for any claims, signed with this app's token key.
    pub fn sign(&self, claims: &app_core::token::UserClaims) -> String {
        app_core::token::issue_user_token(claims, &self.state.keys.token).unwrap()
    }

    /// Runs SQL on the test database.
    pub fn exec(&self, sql: &str) {
        use diesel::RunQueryDsl;
        let mut c = self.db.conn();
        diesel::sql_query(sql)
            .execute(&mut c)
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
    }

    pub fn scalar(&self, sql: &str) -> i64 {
        #[derive(diesel::QueryableByName)]
        struct N {
            #[diesel(sql_type = diesel::sql_types::BigInt)]
            n: i64,
        }
        use diesel::RunQueryDsl;
        let mut c = self.db.conn();
        let r: Vec<N> = diesel::sql_query(sql)
            .load(&mut c)
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
        r[0].n
    }

    /// Creates a Gamma user (member of `public` as dev) and returns its id.
    pub fn add_user(&self, name: &str) -> i64 {
        let hash = app_core::password::hash_password_with("secret", 1000);
        self.exec(&format!(
            "INSERT INTO ab_user (first_name,last_name,username,password,active,email,created_on,changed_on) VALUES ('{name}','','{name}','{hash}',1,'{name}@x.org',NOW(),NOW())"
        ));
        let id = self.scalar(&format!(
            "SELECT CAST(id AS SIGNED) AS n FROM ab_user WHERE username='{name}'"
        ));
        self.exec(&format!("INSERT INTO ab_user_role (user_id, role_id) SELECT {id}, id FROM ab_role WHERE name='Gamma'"));
        self.state.ctx_cache.clear();
        id
    }
}

/// A response: status, headers, body as JSON (or a string for non-JSON bodies).
pub struct Resp {
    pub status: u16,
    pub headers: actix_web::http::header::HeaderMap,
    pub body: Value,
}

impl Resp {
    pub fn header(&self, name: &str) -> Option<String> {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(String::from)
    }
    pub fn cookies(&self) -> Vec<String> {
        self.headers
            .get_all("set-cookie")
            .filter_map(|v| v.to_str().ok())
            .map(String::from)
            .collect()
    }
}

/// Sends a request to the in-process app.
pub async fn send<S, B>(app: &S, req: test::TestRequest) -> Resp
where
    S: Service<actix_http::Request, Response = ServiceResponse<B>, Error = actix_web::Error>,
    B: MessageBody,
{
    let resp = test::call_service(app, req.to_request()).await;
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let bytes = test::read_body(resp).await;
    let body = serde_json::from_slice(&bytes)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()));
    Resp {
        status,
        headers,
        body,
    }
}

/// `?form_data=<json>` for a list URL.
pub fn form_data(v: &Value) -> String {
    format!("form_data={}", urlencoding::encode(&v.to_string()))
}

/// Creates in `conn`'s (empty) database the schema the original's own migrations create
/// on MariaDB: its recorded DDL (`tests/reference/original/original-db-ddl.sql`), with the
/// SEQUENCE objects the `ab_*` tables take their ids from.
pub fn load_original_ddl(conn: &mut diesel::MysqlConnection) {
    use diesel::RunQueryDsl;
    let ddl = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/reference/original/original-db-ddl.sql"
    ))
    .unwrap();
    let ddl: String = ddl
        .lines()
        .filter(|l| !l.trim_start().starts_with("--"))
        .collect::<Vec<_>>()
        .join("\n");
    for stmt in ddl.split(";\n").map(str::trim).filter(|s| !s.is_empty()) {
        diesel::sql_query(stmt)
            .execute(conn)
            .unwrap_or_else(|e| panic!("{stmt}: {e}"));
    }
}
