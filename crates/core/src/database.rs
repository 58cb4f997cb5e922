//! Reaching MySQL from any binary: wait with backoff, then hand out a pool.

use app_models::db::{DbError, DbPool, build_pool, ensure_database};
use diesel::Connection;
use diesel::mysql::MysqlConnection;

use crate::retry::{Backoff, retry_forever};

/// Runs blocking diesel work on the blocking pool with a pooled connection.
pub async fn with_conn<T, F>(pool: &DbPool, f: F) -> Result<T, DbError>
where
    T: Send + 'static,
    F: FnOnce(&mut MysqlConnection) -> Result<T, DbError> + Send + 'static,
{
    let pool = pool.clone();
    match tokio::task::spawn_blocking(move || {
        let mut conn = pool.get()?;
        f(&mut conn)
    })
    .await
    {
        Ok(r) => r,
        Err(e) => Err(DbError::Migration(format!("database task panicked: {e}"))),
    }
}

/// Waits until MySQL answers (logging each failure, backing off), optionally creating
/// the database, then returns a pool. Returns `None` if `give_up` says so first.
pub async fn wait_for_database(
    url: &str,
    pool_size: u32,
    create: bool,
    give_up: impl FnMut() -> bool,
) -> Option<DbPool> {
    let u = url.to_string();
    retry_forever("mysql", Backoff::default(), give_up, move || {
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
            .map_err(|e| DbError::Migration(e.to_string()))?
        }
    })
    .await?;
    Some(build_pool(url, pool_size))
}
