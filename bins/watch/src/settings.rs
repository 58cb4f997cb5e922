//! The watcher's own knobs (environment variables next to `app_core::Config`).

use std::time::Duration;

use app_core::Config;
use app_core::config::{ConfigError, Vars};

/// Watch settings; see the README for each variable.
#[derive(Debug, Clone, PartialEq)]
pub struct WatchSettings {
    /// `WATCH_KEY_PREFIX` (else `QUEUE_PREFIX`, else ""): in front of every Redis key.
    pub key_prefix: String,
    /// `WATCH_SHARDS`: workflow events are applied by this many tasks in parallel (events
    /// of one workflow always go to the same one, in order).
    pub shards: usize,
    /// `WATCH_BATCH`: events a shard applies in one transaction at most (default 64: on a
    /// quiet machine 1,518 events/s with 1, 2,347 with 64, lag alike).
    pub batch: usize,
    /// `WATCH_NOTIFY_TTL_SECS`: how long "already sent" keys of workflow and training-job
    /// notifications live (pod crash keys always live one hour).
    pub notify_ttl_secs: u64,
    /// `WATCH_TRAINING`: watch the training-job custom resources.
    pub training: bool,
    /// `WATCH_PODS`: watch inference pods for crashes.
    pub pods: bool,
    /// `WATCH_CRD_RECHECK_SECS`: how often a training kind whose CRD is absent is looked
    /// for again.
    pub crd_recheck: Duration,
    /// Tasks longer than this many hours make the task-time message go to admins too.
    pub task_alert_hours: i64,
}

impl WatchSettings {
    /// Reads the process environment.
    pub fn from_env(config: &Config) -> Result<WatchSettings, ConfigError> {
        Self::from_lookup(config, &|k| std::env::var(k).ok())
    }

    /// Reads any variable source.
    pub fn from_lookup(
        _config: &Config,
        lookup: &dyn Fn(&str) -> Option<String>,
    ) -> Result<WatchSettings, ConfigError> {
        let vars = Vars(lookup);
        let key_prefix = lookup("WATCH_KEY_PREFIX")
            .or_else(|| lookup("QUEUE_PREFIX"))
            .unwrap_or_default()
            .trim()
            .to_string();
        Ok(WatchSettings {
            key_prefix,
            shards: usize::try_from(vars.parse::<u64>("WATCH_SHARDS", 8)?.clamp(1, 256))
                .unwrap_or(8),
            batch: usize::try_from(vars.parse::<u64>("WATCH_BATCH", 64)?.clamp(1, 1024))
                .unwrap_or(64),
            notify_ttl_secs: vars
                .parse::<u64>("WATCH_NOTIFY_TTL_SECS", 7 * 24 * 3600)?
                .max(60),
            training: vars.flag("WATCH_TRAINING", true),
            pods: vars.flag("WATCH_PODS", true),
            crd_recheck: Duration::from_secs(
                vars.parse::<u64>("WATCH_CRD_RECHECK_SECS", 600)?.max(1),
            ),
            task_alert_hours: 4,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    #[test]
    fn reads_variables() {
        let config = Config::from_lookup(&|_| None).unwrap();
        let vars: HashMap<&str, &str> = [("QUEUE_PREFIX", "q:"), ("WATCH_PODS", "off")]
            .into_iter()
            .collect();
        let s =
            WatchSettings::from_lookup(&config, &|k| vars.get(k).map(|v| v.to_string())).unwrap();
        assert_eq!(s.key_prefix, "q:");
        assert!(!s.pods);
        assert!(s.training);
        assert_eq!(s.shards, 8);
        assert_eq!(s.batch, 64);
        assert!(WatchSettings::from_lookup(&config, &|_| Some("x".into())).is_err());
    }
}
