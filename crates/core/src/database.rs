//! Reaching MySQL from any binary: wait with backoff, then hand out a pool.

use app_models::db::{DbError, DbPool, build_pool, ensure_database};
use diesel::Connection;
use diesel::mysql::MysqlConnection;

use crate::retry::{Backoff, retry_forever};
use crate::shutdown::Shutdown;

/// An error type blocking database work can end in: every `From<DbError>` type, plus
/// what a blocking task that panicked (or was cancelled) becomes.
pub trait DbTaskError: From<DbError> + Send + 'static {
    /// The error of a database task that did not finish: by default
    /// `DbError::TaskFailed`, which is not transient.
    fn task_failed(e: tokio::task::JoinError) -> Self {
        DbError::TaskFailed(e.to_string()).into()
    }
}

impl DbTaskError for DbError {}

/// Runs blocking diesel work on the blocking pool with a pooled connection; the work's
/// error type is the caller's (a pool failure arrives as `DbError::Pool` converted).
pub async fn with_conn_as<T, E, F>(pool: &DbPool, f: F) -> Result<T, E>
where
    T: Send + 'static,
    E: DbTaskError,
    F: FnOnce(&mut MysqlConnection) -> Result<T, E> + Send + 'static,
{
    let pool = pool.clone();
    match tokio::task::spawn_blocking(move || {
        let mut conn = pool.get().map_err(DbError::from)?;
        f(&mut conn)
    })
    .await
    {
        Ok(r) => r,
        Err(e) => Err(E::task_failed(e)),
    }
}

/// [`with_conn_as`] with [`DbError`] (fixed here so closures need no type annotation).
pub async fn with_conn<T, F>(pool: &DbPool, f: F) -> Result<T, DbError>
where
    T: Send + 'static,
    F: FnOnce(&mut MysqlConnection) -> Result<T, DbError> + Send + 'static,
{
    with_conn_as(pool, f).await
}

/// Waits until MySQL answers (logging each failure, backing off), optionally creating
/// the database, then returns a pool. Returns `None` if `shutdown` fires first.
pub async fn wait_for_database(
    url: &str,
    pool_size: u32,
    create: bool,
    shutdown: Option<Shutdown>,
) -> Option<DbPool> {
    let u = url.to_string();
    retry_forever("mysql", Backoff::default(), shutdown, move || {
        let u = u.clone();
        async move {
            tokio::task::spawn_blocking(move || -> Result<(), DbError> {
                if create {
                    ensure_database(&u)?;
                }
                MysqlConnection::establish(&u)?;
                Ok(())
            })
            .await
            .map_err(|e| DbError::TaskFailed(e.to_string()))?
        }
    })
    .await?;
    Some(build_pool(url, pool_size))
}
