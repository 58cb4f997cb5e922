//! Reaching Redis: wait with backoff, then a reconnecting connection manager.

use redis::aio::ConnectionManager;

use crate::retry::{Backoff, retry_forever};

/// Connects to Redis, retrying with backoff until it answers or `give_up` says stop.
pub async fn wait_for_redis(url: &str, give_up: impl FnMut() -> bool) -> Option<ConnectionManager> {
    let url = url.to_string();
    retry_forever("redis", Backoff::default(), give_up, move || {
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
