//! Exponential backoff for dependencies that come and go (MySQL, Redis, clusters).

use std::future::Future;
use std::time::Duration;

use crate::shutdown::Shutdown;

/// Backoff policy: starts at `initial`, doubles up to `max`.
#[derive(Debug, Clone, Copy)]
pub struct Backoff {
    pub initial: Duration,
    pub max: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff {
            initial: Duration::from_millis(500),
            max: Duration::from_secs(30),
        }
    }
}

impl Backoff {
    /// The delay before attempt `n` (0-based).
    pub fn delay(&self, attempt: u32) -> Duration {
        let factor = 2u32.saturating_pow(attempt.min(16));
        self.initial.saturating_mul(factor).min(self.max)
    }
}

/// Calls `op` until it succeeds, logging each failure with `what` and waiting with backoff.
/// Gives up (`None`) only when `shutdown` fires, which also cuts a wait short.
pub async fn retry_forever<T, E, F, Fut>(
    what: &str,
    backoff: Backoff,
    mut shutdown: Option<Shutdown>,
    mut op: F,
) -> Option<T>
where
    E: std::fmt::Display,
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, E>>,
{
    let mut attempt = 0;
    loop {
        match op().await {
            Ok(v) => {
                if attempt > 0 {
                    tracing::info!(what, attempts = attempt + 1, "connected");
                }
                return Some(v);
            }
            Err(e) => {
                let delay = backoff.delay(attempt);
                tracing::warn!(what, error = %e, retry_in_ms = delay.as_millis() as u64, "unreachable, retrying");
                match shutdown.as_mut() {
                    Some(s) => {
                        if s.sleep(delay).await {
                            return None;
                        }
                    }
                    None => tokio::time::sleep(delay).await,
                }
                attempt += 1;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_up_to_max() {
        let b = Backoff {
            initial: Duration::from_millis(100),
            max: Duration::from_secs(1),
        };
        assert_eq!(b.delay(0), Duration::from_millis(100));
        assert_eq!(b.delay(3), Duration::from_millis(800));
        assert_eq!(b.delay(10), Duration::from_secs(1));
    }

    #[tokio::test]
    async fn retries_until_ok() {
        let mut n = 0;
        let b = Backoff {
            initial: Duration::from_millis(1),
            max: Duration::from_millis(2),
        };
        let v = retry_forever("x", b, None, || {
            n += 1;
            let ok = n >= 3;
            async move {
                if ok {
                    Ok::<_, String>(7)
                } else {
                    Err("down".to_string())
                }
            }
        })
        .await;
        assert_eq!(v, Some(7));
    }

    #[tokio::test]
    async fn a_shutdown_ends_the_wait() {
        let (trigger, shutdown) = crate::shutdown::shutdown_channel();
        let b = Backoff {
            initial: Duration::from_secs(3600),
            max: Duration::from_secs(3600),
        };
        let waiting = tokio::spawn(retry_forever("x", b, Some(shutdown), || async {
            Err::<(), _>("down".to_string())
        }));
        tokio::time::sleep(Duration::from_millis(50)).await;
        trigger.trigger();
        // an hour-long backoff, yet it returns as soon as the shutdown fires
        let v = tokio::time::timeout(Duration::from_secs(60), waiting)
            .await
            .expect("retry_forever kept waiting after the shutdown")
            .unwrap();
        assert_eq!(v, None);
    }
}
