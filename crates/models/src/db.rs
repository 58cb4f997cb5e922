//! Connection pool, database creation and the embedded migrations.

use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use diesel::mysql::MysqlConnection;
use diesel::prelude::*;
use diesel::r2d2::{ConnectionManager, ManageConnection, Pool, PooledConnection};
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};

/// The migrations under `migrations/` at the workspace root, compiled in.
pub const MIGRATIONS: EmbeddedMigrations = embed_migrations!("../../migrations");

/// A pool of MySQL connections.
pub type DbPool = Pool<Manager>;
/// One connection taken from the pool.
pub type DbConn = PooledConnection<Manager>;

/// Until when (Unix seconds) every checkout pings its connection: set by a connection-level
/// error anywhere in the process (see [`note_error`]).
static SUSPECT_UNTIL: AtomicI64 = AtomicI64::new(0);

/// How long checkouts keep pinging after a connection-level error.
const SUSPECT_SECS: i64 = 30;

fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// Is `e` a sign that pooled connections may be dead (server restarted, network cut)?
pub fn is_connection_error(e: &diesel::result::Error) -> bool {
    use diesel::result::{DatabaseErrorKind, Error};
    match e {
        Error::BrokenTransactionManager => true,
        Error::DatabaseError(kind, info) => {
            matches!(
                kind,
                DatabaseErrorKind::ClosedConnection | DatabaseErrorKind::UnableToSendCommand
            ) || ["server has gone away", "Lost connection", "Can't connect"]
                .iter()
                .any(|m| info.message().contains(m))
        }
        _ => false,
    }
}

/// Records a query error: after a connection-level one, checkouts ping their connection
/// for a while, so the dead ones are dropped instead of failing request after request.
pub fn note_error(e: &diesel::result::Error) {
    if is_connection_error(e) {
        SUSPECT_UNTIL.store(unix_now() + SUSPECT_SECS, Ordering::Relaxed);
    }
}

/// diesel's connection manager, except that a checkout pings its connection (one round
/// trip, a quarter of a short request's) only while connection errors are recent
/// ([`note_error`]) rather than every time. Connections also retire after
/// `idle_timeout`/`max_lifetime`, well inside MySQL's `wait_timeout`.
#[derive(Debug)]
pub struct Manager(ConnectionManager<MysqlConnection>);

impl ManageConnection for Manager {
    type Connection = MysqlConnection;
    type Error = diesel::r2d2::Error;

    fn connect(&self) -> Result<MysqlConnection, Self::Error> {
        self.0.connect().inspect_err(|_| {
            SUSPECT_UNTIL.store(unix_now() + SUSPECT_SECS, Ordering::Relaxed);
        })
    }

    fn is_valid(&self, conn: &mut MysqlConnection) -> Result<(), Self::Error> {
        if SUSPECT_UNTIL.load(Ordering::Relaxed) >= unix_now() {
            self.0.is_valid(conn)
        } else {
            Ok(())
        }
    }

    fn has_broken(&self, conn: &mut MysqlConnection) -> bool {
        self.0.has_broken(conn)
    }
}

/// Everything that can go wrong talking to the database.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("database unavailable: {0}")]
    Pool(#[from] diesel::r2d2::PoolError),
    #[error("cannot connect to the database: {0}")]
    Connection(#[from] diesel::ConnectionError),
    #[error(transparent)]
    Query(diesel::result::Error),
    #[error("migration failed: {0}")]
    Migration(String),
    /// Blocking database work that did not finish (it panicked or was cancelled).
    #[error("database task did not finish: {0}")]
    TaskFailed(String),
    #[error("bad database url: {0}")]
    Url(String),
}

impl From<diesel::result::Error> for DbError {
    fn from(e: diesel::result::Error) -> Self {
        note_error(&e);
        DbError::Query(e)
    }
}

impl DbError {
    /// True for errors that go away when the database comes back (worth a retry).
    pub fn is_transient(&self) -> bool {
        match self {
            DbError::Pool(_) | DbError::Connection(_) => true,
            DbError::Query(diesel::result::Error::DatabaseError(kind, info)) => {
                matches!(
                    kind,
                    diesel::result::DatabaseErrorKind::ClosedConnection
                        | diesel::result::DatabaseErrorKind::SerializationFailure
                ) || info.message().contains("server has gone away")
                    || info.message().contains("Lost connection")
                    || info.message().contains("Can't connect")
                    || info.message().contains("Deadlock")
            }
            _ => false,
        }
    }
}

/// Splits `mysql://user:pw@host:port/db?x=y` into the server URL (no database) and the database name.
pub fn split_database_url(url: &str) -> Result<(String, String), DbError> {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    let rest = base
        .strip_prefix("mysql://")
        .ok_or_else(|| DbError::Url(format!("{url}: expected mysql://")))?;
    let (server, db) = match rest.rsplit_once('/') {
        Some((s, d)) if !d.is_empty() => (s, d),
        _ => return Err(DbError::Url(format!("{url}: no database name"))),
    };
    if !db
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    {
        return Err(DbError::Url(format!(
            "{db}: database names may hold letters, digits, _ and -"
        )));
    }
    let mut server_url = format!("mysql://{server}/");
    if let Some(q) = query {
        server_url = format!("{server_url}?{q}");
    }
    Ok((server_url, db.to_string()))
}

/// Creates the database named in `url` (utf8mb4) when it does not exist yet.
pub fn ensure_database(url: &str) -> Result<(), DbError> {
    let (server, db) = split_database_url(url)?;
    let mut conn = MysqlConnection::establish(&server)?;
    diesel::sql_query(format!(
        "CREATE DATABASE IF NOT EXISTS `{db}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"
    ))
    .execute(&mut conn)?;
    Ok(())
}

/// Drops the database named in `url` if it exists.
pub fn drop_database(url: &str) -> Result<(), DbError> {
    let (server, db) = split_database_url(url)?;
    let mut conn = MysqlConnection::establish(&server)?;
    diesel::sql_query(format!("DROP DATABASE IF EXISTS `{db}`")).execute(&mut conn)?;
    Ok(())
}

/// Builds a pool without connecting; connections are made on first use, so a
/// database that is down at start-up or later only fails the operations that need it.
pub fn build_pool(url: &str, max_size: u32) -> DbPool {
    Pool::builder()
        .max_size(max_size.max(1))
        .min_idle(Some(0))
        .connection_timeout(Duration::from_secs(5))
        .test_on_check_out(true)
        .idle_timeout(Some(Duration::from_secs(600)))
        .max_lifetime(Some(Duration::from_secs(1800)))
        // callers log unavailability with context; r2d2's own error log would repeat it
        .error_handler(Box::new(diesel::r2d2::NopErrorHandler))
        .build_unchecked(Manager(ConnectionManager::new(url)))
}

/// Applies every pending migration; returns the versions applied.
pub fn run_migrations(conn: &mut MysqlConnection) -> Result<Vec<String>, DbError> {
    let applied = conn
        .run_pending_migrations(MIGRATIONS)
        .map_err(|e| DbError::Migration(e.to_string()))?;
    Ok(applied.iter().map(|v| v.to_string()).collect())
}

/// Reverts every applied migration (used by tests and `dashboard migrate --revert-all`).
pub fn revert_all_migrations(conn: &mut MysqlConnection) -> Result<Vec<String>, DbError> {
    let reverted = conn
        .revert_all_migrations(MIGRATIONS)
        .map_err(|e| DbError::Migration(e.to_string()))?;
    Ok(reverted.iter().map(|v| v.to_string()).collect())
}

/// Names of the tables in the current database.
pub fn table_names(conn: &mut MysqlConnection) -> Result<Vec<String>, DbError> {
    #[derive(QueryableByName)]
    struct Name {
        #[diesel(sql_type = diesel::sql_types::Text)]
        name: String,
    }
    let rows: Vec<Name> = diesel::sql_query(
        "SELECT table_name AS name FROM information_schema.tables WHERE table_schema = DATABASE() ORDER BY table_name",
    )
    .load(conn)?;
    Ok(rows.into_iter().map(|r| r.name).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_urls() {
        let (s, d) = split_database_url("mysql://root:pw@h:3306/kubeflow").unwrap();
        assert_eq!(s, "mysql://root:pw@h:3306/");
        assert_eq!(d, "kubeflow");
        assert!(split_database_url("mysql://root@h:3306/").is_err());
        assert!(split_database_url("postgres://x/y").is_err());
        assert!(split_database_url("mysql://h/bad`name").is_err());
    }
}
