//! Reaching Redis: wait with backoff, then a reconnecting connection manager.

use redis::aio::ConnectionManager;

use crate::retry::{Backoff, retry_forever};
use crate::shutdown::Shutdown;

/// Connects to Redis, retrying with backoff until it answers or `shutdown` fires.
pub async fn wait_for_redis(url: &str, shutdown: Option<Shutdown>) -> Option<ConnectionManager> {
    let url = url.to_string();
    retry_forever("redis", Backoff::default(), shutdown, move || {
        let url = url.clone();
        async move {
            let client = redis::Client::open(url.as_str())?;
            let mut conn = client.get_connection_manager().await?;
            let _: String = redis::cmd("PING").query_async(&mut conn).await?;
            Ok::<_, redis::RedisError>(conn)
        }
    })
    .await
}
