//! A private database per test: created utf8mb4, migrated, dropped on drop, so tests
//! that write run in parallel without seeing each other.

use app_models::db::{DbPool, build_pool, drop_database, ensure_database, run_migrations};
use diesel::Connection;
use diesel::mysql::MysqlConnection;

/// Server URL without a database; `TEST_MYSQL_URL` overrides it.
pub fn server_url() -> String {
    std::env::var("TEST_MYSQL_URL").unwrap_or_else(|_| "mysql://root@127.0.0.1:3306".to_string())
}

/// A database that lives as long as this value.
pub struct TestDb {
    pub name: String,
    pub url: String,
    pool: DbPool,
    keep: bool,
}

impl TestDb {
    /// A new migrated database.
    pub fn new() -> Self {
        let db = Self::empty();
        let mut conn = db.conn();
        if let Err(e) = run_migrations(&mut conn) {
            panic!("migrations failed on {}: {e}", db.name);
        }
        db
    }

    /// A new database with no tables.
    pub fn empty() -> Self {
        let name = format!("t_{}", uuid::Uuid::new_v4().simple());
        let url = format!("{}/{}", server_url().trim_end_matches('/'), name);
        if let Err(e) = ensure_database(&url) {
            panic!(
                "cannot create test database {name} (is MariaDB running on 127.0.0.1:3306?): {e}"
            );
        }
        let pool = build_pool(&url, 8);
        TestDb {
            name,
            url,
            pool,
            keep: std::env::var("KEEP_TEST_DB").is_ok(),
        }
    }

    /// The pool of this database.
    pub fn pool(&self) -> DbPool {
        self.pool.clone()
    }

    /// A fresh connection (not pooled).
    pub fn conn(&self) -> MysqlConnection {
        match MysqlConnection::establish(&self.url) {
            Ok(c) => c,
            Err(e) => panic!("cannot connect to {}: {e}", self.url),
        }
    }
}

impl Default for TestDb {
    fn default() -> Self {
        Self::new()
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if self.keep {
            eprintln!("keeping test database {}", self.name);
            return;
        }
        let _ = drop_database(&self.url);
    }
}
