//! The worker's own knobs (environment variables next to `app_core::Config`).

use std::time::Duration;

use app_core::Config;
use app_core::config::{ConfigError, Vars};
use app_core::retry::Backoff;

/// Worker settings; see the README for each variable.
#[derive(Debug, Clone)]
pub struct WorkerSettings {
    /// `QUEUE_PREFIX`: put in front of every queue name and Redis key ("" in production;
    /// tests isolate themselves with it).
    pub queue_prefix: String,
    /// `WORKER_CONCURRENCY` (from `Config`): jobs run at once per queue.
    pub concurrency: usize,
    /// `WORKER_POLL_MS`: how often an idle worker looks for new jobs.
    pub poll_interval: Duration,
    /// `WORKER_RETRY_INITIAL_MS` / `WORKER_RETRY_MAX_MS`: backoff between in-process
    /// attempts of a transient failure (doubling, capped).
    pub retry: Backoff,
    /// `WORKER_RETRY_ATTEMPTS`: in-process attempts before the job goes back to the queue.
    pub retry_attempts: u32,
    /// `WORKER_SHUTDOWN_GRACE_SECS`: how long SIGTERM waits for jobs in flight.
    pub shutdown_grace: Duration,
    /// `WORKER_TEST_DELAY_MS` (tests only): a pause between creating a workflow and
    /// recording it, so a test can kill the worker in the middle of a job.
    pub test_delay: Duration,
    /// How long once-only notification keys live (seconds).
    pub notify_ttl_secs: u64,
}

impl WorkerSettings {
    /// Reads the process environment.
    pub fn from_env(config: &Config) -> Result<WorkerSettings, ConfigError> {
        Self::from_lookup(config, &|k| std::env::var(k).ok())
    }

    /// Reads any variable source.
    pub fn from_lookup(
        config: &Config,
        lookup: &dyn Fn(&str) -> Option<String>,
    ) -> Result<WorkerSettings, ConfigError> {
        let vars = Vars(lookup);
        Ok(WorkerSettings {
            queue_prefix: lookup("QUEUE_PREFIX")
                .unwrap_or_default()
                .trim()
                .to_string(),
            concurrency: config.worker_concurrency.max(1),
            poll_interval: Duration::from_millis(vars.parse::<u64>("WORKER_POLL_MS", 500)?.max(10)),
            retry: Backoff {
                initial: Duration::from_millis(
                    vars.parse::<u64>("WORKER_RETRY_INITIAL_MS", 1000)?.max(1),
                ),
                max: Duration::from_millis(
                    vars.parse::<u64>("WORKER_RETRY_MAX_MS", 60_000)?.max(1),
                ),
            },
            retry_attempts: u32::try_from(vars.parse::<u64>("WORKER_RETRY_ATTEMPTS", 8)?.max(1))
                .unwrap_or(u32::MAX),
            shutdown_grace: Duration::from_secs(
                vars.parse::<u64>("WORKER_SHUTDOWN_GRACE_SECS", 30)?,
            ),
            test_delay: Duration::from_millis(vars.parse::<u64>("WORKER_TEST_DELAY_MS", 0)?),
            notify_ttl_secs: 7 * 24 * 3600,
        })
    }

    /// The full name of a queue (prefix + one of `app_core::jobs::*_QUEUE`).
    pub fn queue(&self, name: &str) -> String {
        format!("{}{name}", self.queue_prefix)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    #[test]
    fn reads_variables() {
        let config = Config::from_lookup(&|_| None).unwrap();
        let vars: HashMap<&str, &str> = [
            ("QUEUE_PREFIX", "t1:"),
            ("WORKER_RETRY_INITIAL_MS", "5"),
            ("WORKER_TEST_DELAY_MS", "2000"),
        ]
        .into_iter()
        .collect();
        let s =
            WorkerSettings::from_lookup(&config, &|k| vars.get(k).map(|v| v.to_string())).unwrap();
        assert_eq!(s.queue("q"), "t1:q");
        assert_eq!(s.retry.initial, Duration::from_millis(5));
        assert_eq!(s.test_delay, Duration::from_secs(2));
        assert_eq!(s.concurrency, 8);
        assert!(WorkerSettings::from_lookup(&config, &|_| Some("x".into())).is_err());
    }
}
