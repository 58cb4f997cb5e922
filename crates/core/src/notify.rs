//! Notifications (the original's site-specific `push_message` hook): pluggable senders
//! — a webhook (JSON POST with reqwest) or the log — and once-only delivery through
//! Redis keys with a TTL, shared by every replica and surviving restarts.

use std::sync::Arc;

use redis::aio::ConnectionManager;
use serde::{Deserialize, Serialize};

/// One message to some users.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Notification {
    pub receivers: Vec<String>,
    pub message: String,
    /// Link title → URL.
    #[serde(default)]
    pub links: Vec<(String, String)>,
    /// Where it comes from (`workflow`, `schedule`, ...).
    pub source: String,
}

/// Why a notification was not delivered.
#[derive(Debug, thiserror::Error)]
pub enum NotifyError {
    #[error("webhook unreachable: {0}")]
    Request(#[from] reqwest::Error),
    #[error("webhook answered {0}")]
    Status(u16),
}

/// Sends notifications somewhere.
pub trait Sender: Send + Sync {
    fn send<'a>(
        &'a self,
        n: &'a Notification,
    ) -> futures::future::BoxFuture<'a, Result<(), NotifyError>>;
}

/// Writes notifications to the log (the default).
pub struct LogSender;

impl Sender for LogSender {
    fn send<'a>(
        &'a self,
        n: &'a Notification,
    ) -> futures::future::BoxFuture<'a, Result<(), NotifyError>> {
        Box::pin(async move {
            tracing::info!(receivers = ?n.receivers, source = %n.source, message = %n.message, "notification");
            Ok(())
        })
    }
}

/// POSTs each notification as JSON to a URL.
pub struct WebhookSender {
    pub url: String,
    client: reqwest::Client,
}

impl WebhookSender {
    pub fn new(url: &str) -> WebhookSender {
        let client = reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(10))
            .build()
            .unwrap_or_default();
        WebhookSender {
            url: url.to_string(),
            client,
        }
    }
}

impl Sender for WebhookSender {
    fn send<'a>(
        &'a self,
        n: &'a Notification,
    ) -> futures::future::BoxFuture<'a, Result<(), NotifyError>> {
        Box::pin(async move {
            let resp = self.client.post(&self.url).json(n).send().await?;
            if resp.status().is_success() {
                Ok(())
            } else {
                Err(NotifyError::Status(resp.status().as_u16()))
            }
        })
    }
}

/// The configured sender: the webhook when `NOTIFY_WEBHOOK_URL` is set, else the log.
pub fn sender_from_config(config: &crate::Config) -> Arc<dyn Sender> {
    match &config.notify_webhook {
        Some(url) => Arc::new(WebhookSender::new(url)),
        None => Arc::new(LogSender),
    }
}

/// True the first time `key` is claimed within `ttl_secs` (across processes).
pub async fn first_time(
    conn: &mut ConnectionManager,
    key: &str,
    ttl_secs: u64,
) -> Result<bool, redis::RedisError> {
    let set: Option<String> = redis::cmd("SET")
        .arg(key)
        .arg("1")
        .arg("NX")
        .arg("EX")
        .arg(ttl_secs.max(1))
        .query_async(conn)
        .await?;
    Ok(set.is_some())
}

/// Forgets a claim (after a failed send, so a later attempt may try again).
pub async fn forget(conn: &mut ConnectionManager, key: &str) -> Result<(), redis::RedisError> {
    let _: i64 = redis::cmd("DEL").arg(key).query_async(conn).await?;
    Ok(())
}

/// Why [`send_once`] did not send.
#[derive(Debug, thiserror::Error)]
pub enum SendOnceError {
    /// The claim could not be taken (Redis): nothing was claimed or sent.
    #[error("redis: {0}")]
    Claim(#[source] redis::RedisError),
    /// The sender failed; the claim was released, so a later attempt may send.
    #[error("{0}")]
    Send(#[source] NotifyError),
}

/// Sends `n` unless `dedup_key` was already used within `ttl_secs`; returns whether it
/// was sent. A failed send releases the claim (a later attempt may send); the error
/// says which step failed.
pub async fn send_once(
    conn: &mut ConnectionManager,
    sender: &dyn Sender,
    dedup_key: &str,
    ttl_secs: u64,
    n: &Notification,
) -> Result<bool, SendOnceError> {
    if !first_time(conn, dedup_key, ttl_secs)
        .await
        .map_err(SendOnceError::Claim)?
    {
        return Ok(false);
    }
    if let Err(e) = sender.send(n).await {
        if let Err(f) = forget(conn, dedup_key).await {
            tracing::warn!(key = dedup_key, error = %f, "cannot release the notification claim");
        }
        return Err(SendOnceError::Send(e));
    }
    Ok(true)
}
