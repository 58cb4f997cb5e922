//! Exponential backoff for dependencies that come and go (MySQL, Redis, clusters).

use std::future::Future;
use std::time::Duration;

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
/// Gives up only when `give_up` returns true (e.g. on shutdown).
pub async fn retry_forever<T, E, F, Fut>(
    what: &str,
    backoff: Backoff,
    mut give_up: impl FnMut() -> bool,
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
                if give_up() {
                    return None;
                }
                tokio::time::sleep(delay).await;
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
        let v = retry_forever(
            "x",
            b,
            || false,
            || {
                n += 1;
                let ok = n >= 3;
                async move {
                    if ok {
                        Ok::<_, String>(7)
                    } else {
                        Err("down".to_string())
                    }
                }
            },
        )
        .await;
        assert_eq!(v, Some(7));
    }
}
