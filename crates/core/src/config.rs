//! One typed `Config`, read once from environment variables, with defaults that work
//! on a developer machine (MariaDB root without password and Redis on 127.0.0.1).
//!
//! Variable names follow the original where it had one (`MYSQL_SERVICE`, `REDIS_HOST`,
//! `ENVIRONMENT`, `PIPELINE_NAMESPACE`...). Every variable is documented in the README.

use std::collections::BTreeMap;
use std::env;
use std::path::PathBuf;

use serde::Deserialize;

/// Why the configuration cannot be used.
#[derive(Debug, thiserror::Error)]
#[error("configuration error in {var}: {message}")]
pub struct ConfigError {
    pub var: String,
    pub message: String,
}

fn bad(var: &str, message: impl Into<String>) -> ConfigError {
    ConfigError {
        var: var.to_string(),
        message: message.into(),
    }
}

/// The S3-compatible store where Argo archives step logs (the original's MinIO).
#[derive(Debug, Clone, PartialEq)]
pub struct ArchiveConfig {
    /// `S3_ENDPOINT`, e.g. `http://minio.kubeflow:9000`.
    pub endpoint: String,
    /// `S3_BUCKET` (default `mlpipeline`, Argo's artifact bucket in cube-studio).
    pub bucket: String,
    /// `S3_REGION` (default `us-east-1`, what MinIO accepts).
    pub region: String,
    /// `S3_ACCESS_KEY` / `S3_SECRET_KEY`; requests are unsigned without them.
    pub access_key: Option<String>,
    pub secret_key: Option<String>,
}

/// One Kubernetes cluster, as in the original's `CLUSTERS` dict.
#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct ClusterConfig {
    /// The cluster name (`project.expand.cluster` selects it).
    #[serde(rename = "NAME", default)]
    pub name: String,
    /// Path of a kubeconfig file; empty means the in-cluster service account.
    #[serde(rename = "KUBECONFIG", default)]
    pub kubeconfig: String,
    /// Domain of generated service hosts.
    #[serde(rename = "SERVICE_DOMAIN", default)]
    pub service_domain: String,
    /// `inner_ip|public_host:port`, used for browser links.
    #[serde(rename = "HOST", default)]
    pub host: String,
}

/// Cron expressions of the scheduler's periodic tasks (checked with
/// [`crate::cron::parse_crontab`]: 5-field crontabs or 6/7 fields with seconds).
#[derive(Debug, Clone, PartialEq)]
pub struct ScheduleConfig {
    pub time_zone: chrono_tz::Tz,
    /// task name → cron expression
    pub tasks: BTreeMap<String, String>,
    /// Minimum distance in seconds between two fire times of one cron pipeline.
    pub cron_resolution_secs: i64,
    /// How far past now fire times are planned, in seconds.
    pub look_ahead_secs: i64,
    /// How often the scheduler wakes up to check which periodic tasks are due, in ms.
    pub tick_ms: u64,
    /// Finished workflows and training jobs older than this are deleted (hours).
    pub finished_ttl_hours: i64,
    /// Running workflows older than this raise an alert (hours).
    pub running_alert_hours: i64,
    /// Notebooks untouched for this long are stopped (days; 0 = never).
    pub notebook_expiry_days: i64,
    /// A launch claimed this long ago whose submission never reached the cluster is
    /// pushed again (a scheduler killed between claim and push), in seconds.
    pub reclaim_secs: i64,
    /// Test only: pause between claiming launches and pushing them, in ms.
    pub test_pause_after_claim_ms: u64,
}

/// Keys that must never sign anything: the original's public default `JWT_PASSWORD` and
/// the development keys earlier versions of this project shipped.
pub const PUBLIC_KEYS: &[&str] = &[
    "cube-studio",
    "local-stack-secret",
    "cube-studio-dev-secret-key-change-me",
    "change-me",
];

/// When the session cookie is marked `Secure` (`SESSION_COOKIE_SECURE`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CookieSecure {
    /// When the request came over HTTPS (directly or as `X-Forwarded-Proto`/`Forwarded` says).
    Auto,
    Always,
    Never,
}

/// Login throttling (`LOGIN_*`): failures allowed per user name and per client address
/// within a window; past them, logins answer 429 until the window ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LoginThrottle {
    pub max_failures_per_user: i32,
    pub max_failures_per_addr: i32,
    pub window_secs: i64,
    /// Take the client address from `X-Forwarded-For`/`Forwarded` (behind a trusted proxy).
    pub trust_forwarded: bool,
}

/// The whole configuration of every binary.
#[derive(Debug, Clone)]
pub struct Config {
    pub database_url: String,
    pub db_pool_size: u32,
    pub redis_url: String,
    pub dashboard_addr: String,
    pub schedule_addr: String,
    pub worker_addr: String,
    pub watch_addr: String,
    pub log_json: bool,
    /// Key that signs session cookies (`SECRET_KEY`); unset: the key `dashboard init`
    /// generated and stored in the database.
    pub secret_key: Option<String>,
    /// Key of the HS256 user tokens (the original's `JWT_PASSWORD`); unset: the generated
    /// key stored in the database.
    pub jwt_password: Option<String>,
    /// Lifetime of user tokens in days, counted from the last rotation (unset: no expiry).
    pub token_ttl_days: Option<i64>,
    /// Origins allowed to call the API from a browser (`CORS_ORIGINS`; none by default).
    pub cors_origins: Vec<String>,
    /// When the session cookie is marked `Secure`.
    pub session_cookie_secure: CookieSecure,
    /// Login throttling.
    pub login_throttle: LoginThrottle,
    pub admin_username: String,
    pub admin_password: Option<String>,
    pub admin_email: String,
    /// Users that receive admin notifications (`ADMIN_USER`, comma separated).
    pub admin_users: Vec<String>,
    pub frontend_dir: Option<PathBuf>,
    /// Public base URL used in links of notifications.
    pub host_url: String,
    /// Base of the job templates' relative `help_url`s (the original's `GIT_URL`).
    pub git_url: String,
    /// The home cluster (`ENVIRONMENT`).
    pub environment: String,
    pub clusters: BTreeMap<String, ClusterConfig>,
    pub pipeline_namespace: String,
    pub notebook_namespace: String,
    pub service_namespace: String,
    pub automl_namespace: String,
    pub repository_org: String,
    pub hubsecret: Vec<String>,
    pub image_pull_policy: String,
    pub max_task_cpu: f64,
    pub max_task_mem_gb: f64,
    pub max_task_gpu: f64,
    pub schedule: ScheduleConfig,
    pub worker_concurrency: usize,
    pub notify_webhook: Option<String>,
    /// Prometheus base URL (`PROMETHEUS_URL`, else `http://` + the original's
    /// `PROMETHEUS` host:port): task usage samples, the total-resource gauges.
    pub prometheus_url: Option<String>,
    /// Where archived step logs are read (`S3_ENDPOINT` …; none: offline logs say so).
    pub archive: Option<ArchiveConfig>,
    /// Max body size accepted by the dashboard, in bytes.
    pub max_body_bytes: usize,
    /// PBKDF2 iterations of new password hashes (werkzeug 2.3 uses 600000).
    pub password_hash_iterations: u32,
}

/// Where variables come from: the process environment, or a map in tests. Each binary's
/// own settings (worker, watch) read their variables through it too.
pub struct Vars<'a>(pub &'a dyn Fn(&str) -> Option<String>);

impl Vars<'_> {
    /// The trimmed value; unset and empty are both `None`.
    pub fn var(&self, name: &str) -> Option<String> {
        (self.0)(name)
            .map(|v| v.trim().to_string())
            .filter(|v| !v.is_empty())
    }

    pub fn var_or(&self, name: &str, default: &str) -> String {
        self.var(name).unwrap_or_else(|| default.to_string())
    }

    /// The parsed value, `default` when unset or empty, an error naming the variable
    /// when it does not parse.
    pub fn parse<T: std::str::FromStr>(&self, name: &str, default: T) -> Result<T, ConfigError> {
        match self.var(name) {
            None => Ok(default),
            Some(v) => v
                .parse()
                .map_err(|_| bad(name, format!("cannot parse {v:?}"))),
        }
    }

    /// A switch: `1/true/on/yes` or `0/false/off/no` (any case), else `default`.
    pub fn flag(&self, name: &str, default: bool) -> bool {
        match self.var(name).map(|v| v.to_ascii_lowercase()) {
            Some(v) if matches!(v.as_str(), "0" | "false" | "off" | "no") => false,
            Some(v) if matches!(v.as_str(), "1" | "true" | "on" | "yes") => true,
            _ => default,
        }
    }
}

fn csv(v: &str) -> Vec<String> {
    v.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(String::from)
        .collect()
}

/// Turns the original's SQLAlchemy URL (`mysql+pymysql://u:p@h:3306/db?charset=utf8mb4`)
/// into a `mysql://` URL. diesel always talks utf8mb4, so `charset` is dropped.
pub fn sqlalchemy_to_mysql_url(url: &str) -> Result<String, ConfigError> {
    let (scheme, rest) = url
        .split_once("://")
        .ok_or_else(|| bad("MYSQL_SERVICE", "expected scheme://..."))?;
    if !(scheme == "mysql" || scheme.starts_with("mysql+")) {
        return Err(bad("MYSQL_SERVICE", format!("unsupported scheme {scheme}")));
    }
    let (base, query) = match rest.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (rest, None),
    };
    let kept: Vec<&str> = query
        .map(|q| {
            q.split('&')
                .filter(|kv| !kv.starts_with("charset=") && !kv.is_empty())
                .collect()
        })
        .unwrap_or_default();
    let mut out = format!("mysql://{base}");
    if !kept.is_empty() {
        out.push('?');
        out.push_str(&kept.join("&"));
    }
    Ok(out)
}

/// Builds a Redis URL from `REDIS_HOST`, `REDIS_PORT`, `REDIS_PASSWORD`, `REDIS_DB`.
pub fn redis_url_from_parts(host: &str, port: &str, password: Option<&str>, db: &str) -> String {
    match password {
        Some(p) => format!("redis://:{}@{host}:{port}/{db}", urlencoding_minimal(p)),
        None => format!("redis://{host}:{port}/{db}"),
    }
}

fn urlencoding_minimal(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The original's beat schedule (orchestration.md §3.1), 5-field crontabs.
pub const DEFAULT_SCHEDULES: &[(&str, &str)] = &[
    ("make_timerun_config", "*/5 * * * *"),
    ("delete_workflow", "1 * * * *"),
    ("delete_debug_docker", "30 23 * * *"),
    ("delete_notebook", "1 4 * * *"),
    ("check_pod_terminating", "*/10 * * * *"),
    ("watch_gpu", "10 8-23/2 * * *"),
    ("watch_pod_utilization", "10 11 * * *"),
    ("check_pipeline_run", "10 11 * * *"),
    ("adjust_task_resources", "20 * * * *"),
];

impl Config {
    /// Reads the configuration from the process environment.
    pub fn from_env() -> Result<Config, ConfigError> {
        Self::from_lookup(&|name| env::var(name).ok())
    }

    /// Reads the configuration from any variable source (tests pass a map).
    pub fn from_lookup(lookup: &dyn Fn(&str) -> Option<String>) -> Result<Config, ConfigError> {
        let v = Vars(lookup);
        let database_url = match (v.var("DATABASE_URL"), v.var("MYSQL_SERVICE")) {
            (Some(u), _) => u,
            (None, Some(s)) => sqlalchemy_to_mysql_url(&s)?,
            (None, None) => "mysql://root@127.0.0.1:3306/kubeflow".to_string(),
        };
        if !database_url.starts_with("mysql://") {
            return Err(bad("DATABASE_URL", "must start with mysql://"));
        }
        let redis_url = match v.var("REDIS_URL") {
            Some(u) => u,
            None => redis_url_from_parts(
                &v.var_or("REDIS_HOST", "127.0.0.1"),
                &v.var_or("REDIS_PORT", "6379"),
                v.var("REDIS_PASSWORD").as_deref(),
                &v.var_or("REDIS_DB", "0"),
            ),
        };
        let environment = v.var_or("ENVIRONMENT", "dev").to_lowercase();
        let mut clusters: BTreeMap<String, ClusterConfig> = match v.var("CLUSTERS") {
            Some(json) => serde_json::from_str(&json).map_err(|e| {
                bad(
                    "CLUSTERS",
                    format!("expected a JSON object of clusters: {e}"),
                )
            })?,
            None => BTreeMap::new(),
        };
        if !clusters.contains_key(&environment) {
            clusters.insert(
                environment.clone(),
                ClusterConfig {
                    name: environment.clone(),
                    kubeconfig: v.var_or("KUBECONFIG", ""),
                    service_domain: String::new(),
                    host: v.var_or("CLUSTER_HOST", ""),
                },
            );
        }
        let service_domain = v.var_or("SERVICE_DOMAIN", "service.svc.cluster.local");
        for (key, c) in clusters.iter_mut() {
            if c.name.is_empty() {
                c.name = key.clone();
            }
            if c.service_domain.is_empty() {
                c.service_domain = service_domain.clone();
            }
        }
        let time_zone: chrono_tz::Tz = v
            .var_or("TIMEZONE", "Asia/Shanghai")
            .parse()
            .map_err(|_| bad("TIMEZONE", "unknown time zone"))?;
        let mut tasks = BTreeMap::new();
        for (name, default) in DEFAULT_SCHEDULES {
            let env_name = format!("SCHEDULE_{}", name.to_uppercase());
            let expr = v.var_or(&env_name, default);
            if expr == "off" {
                continue;
            }
            // the scheduler's own parser: crontab weekday numbers, seconds prepended
            crate::cron::parse_crontab(&expr).map_err(|e| bad(&env_name, e.to_string()))?;
            tasks.insert(name.to_string(), expr);
        }
        let schedule = ScheduleConfig {
            time_zone,
            tasks,
            cron_resolution_secs: v.parse::<i64>("PIPELINE_TASK_CRON_RESOLUTION", 10)? * 60,
            look_ahead_secs: v.parse("CRON_LOOK_AHEAD_SECS", 300)?,
            tick_ms: v.parse("SCHEDULE_TICK_MS", 1000)?,
            finished_ttl_hours: v.parse("WORKFLOW_TTL_HOURS", 3)?,
            running_alert_hours: v.parse("WORKFLOW_RUNNING_ALERT_HOURS", 48)?,
            notebook_expiry_days: v.parse("NOTEBOOK_EXPIRY_DAYS", 3)?,
            reclaim_secs: v.parse("SCHEDULE_RECLAIM_SECS", 60)?,
            test_pause_after_claim_ms: v.parse("SCHEDULE_TEST_PAUSE_AFTER_CLAIM_MS", 0)?,
        };
        let secret_key = v.var("SECRET_KEY");
        let jwt_password = v.var("JWT_PASSWORD");
        for (name, key) in [("SECRET_KEY", &secret_key), ("JWT_PASSWORD", &jwt_password)] {
            if key.as_deref().is_some_and(|k| PUBLIC_KEYS.contains(&k)) {
                return Err(bad(
                    name,
                    "is a publicly known value; unset it to use the generated key, or set a secret one",
                ));
            }
        }
        let token_ttl_days = match v.parse::<i64>("TOKEN_TTL_DAYS", 0)? {
            d if d > 0 => Some(d),
            _ => None,
        };
        let session_cookie_secure = match v.var_or("SESSION_COOKIE_SECURE", "auto").as_str() {
            "auto" => CookieSecure::Auto,
            "true" | "1" | "yes" => CookieSecure::Always,
            "false" | "0" | "no" => CookieSecure::Never,
            _ => return Err(bad("SESSION_COOKIE_SECURE", "must be auto, true or false")),
        };
        let login_throttle = LoginThrottle {
            max_failures_per_user: v.parse("LOGIN_MAX_FAILURES_PER_USER", 5)?,
            max_failures_per_addr: v.parse("LOGIN_MAX_FAILURES_PER_ADDR", 20)?,
            window_secs: v.parse::<i64>("LOGIN_WINDOW_SECS", 300)?.max(1),
            trust_forwarded: matches!(
                v.var_or("LOGIN_TRUST_FORWARDED", "false").as_str(),
                "true" | "1" | "yes"
            ),
        };
        Ok(Config {
            database_url,
            db_pool_size: v.parse("DB_POOL_SIZE", 10)?,
            redis_url,
            dashboard_addr: v.var_or("DASHBOARD_ADDR", "0.0.0.0:8080"),
            schedule_addr: v.var_or("SCHEDULE_ADDR", "0.0.0.0:8081"),
            worker_addr: v.var_or("WORKER_ADDR", "0.0.0.0:8082"),
            watch_addr: v.var_or("WATCH_ADDR", "0.0.0.0:8083"),
            log_json: matches!(v.var_or("LOG_FORMAT", "text").as_str(), "json" | "JSON"),
            secret_key,
            jwt_password,
            token_ttl_days,
            cors_origins: csv(&v.var_or("CORS_ORIGINS", "")),
            session_cookie_secure,
            login_throttle,
            admin_username: v.var_or("ADMIN_USERNAME", "admin"),
            admin_password: v.var("ADMIN_PASSWORD"),
            admin_email: v.var_or("ADMIN_EMAIL", "admin@example.com"),
            admin_users: csv(&v.var_or("ADMIN_USER", "admin")),
            frontend_dir: v.var("FRONTEND_DIR").map(PathBuf::from),
            host_url: v
                .var_or("HOST_URL", "http://127.0.0.1:8080")
                .trim_end_matches('/')
                .to_string(),
            git_url: v.var_or(
                "GIT_URL",
                "https://github.com/tencentmusic/cube-studio/tree/master",
            ),
            environment,
            clusters,
            pipeline_namespace: v.var_or("PIPELINE_NAMESPACE", "pipeline"),
            notebook_namespace: v.var_or("NOTEBOOK_NAMESPACE", "jupyter"),
            service_namespace: v.var_or("SERVICE_NAMESPACE", "service"),
            automl_namespace: v.var_or("AUTOML_NAMESPACE", "automl"),
            repository_org: v.var_or("REPOSITORY_ORG", "ccr.ccs.tencentyun.com/cube-studio/"),
            hubsecret: csv(&v.var_or("HUBSECRET", "hubsecret")),
            image_pull_policy: v.var_or("IMAGE_PULL_POLICY", "Always"),
            max_task_cpu: v.parse("MAX_TASK_CPU", 50.0)?,
            max_task_mem_gb: v.parse("MAX_TASK_MEM", 100.0)?,
            max_task_gpu: v.parse("MAX_TASK_GPU", 8.0)?,
            schedule,
            worker_concurrency: v.parse("WORKER_CONCURRENCY", 8)?,
            notify_webhook: v.var("NOTIFY_WEBHOOK_URL"),
            prometheus_url: v.var("PROMETHEUS_URL").or_else(|| {
                // the original's `PROMETHEUS`: host:port without a scheme
                v.var("PROMETHEUS").map(|hp| {
                    if hp.contains("://") {
                        hp
                    } else {
                        format!("http://{hp}")
                    }
                })
            }),
            archive: v.var("S3_ENDPOINT").map(|endpoint| ArchiveConfig {
                endpoint,
                bucket: v.var_or("S3_BUCKET", "mlpipeline"),
                region: v.var_or("S3_REGION", "us-east-1"),
                access_key: v.var("S3_ACCESS_KEY"),
                secret_key: v.var("S3_SECRET_KEY"),
            }),
            max_body_bytes: v.parse("MAX_BODY_BYTES", 4 * 1024 * 1024)?,
            password_hash_iterations: v
                .parse(
                    "PASSWORD_HASH_ITERATIONS",
                    crate::password::DEFAULT_ITERATIONS,
                )?
                .clamp(1000, 10_000_000),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn converts_sqlalchemy_urls() {
        assert_eq!(
            sqlalchemy_to_mysql_url(
                "mysql+pymysql://root:admin@mysql:3306/kubeflow?charset=utf8mb4"
            )
            .unwrap(),
            "mysql://root:admin@mysql:3306/kubeflow"
        );
        assert_eq!(
            sqlalchemy_to_mysql_url("mysql://u@h/db?charset=utf8&ssl_mode=required").unwrap(),
            "mysql://u@h/db?ssl_mode=required"
        );
        assert!(sqlalchemy_to_mysql_url("postgresql://x/y").is_err());
    }

    #[test]
    fn builds_redis_urls() {
        assert_eq!(
            redis_url_from_parts("r", "6379", None, "0"),
            "redis://r:6379/0"
        );
        assert_eq!(
            redis_url_from_parts("r", "1", Some("a b@"), "2"),
            "redis://:a%20b%40@r:1/2"
        );
    }

    #[test]
    fn periodic_crontabs_use_crontab_weekdays() {
        let vars: std::collections::HashMap<&str, &str> = [
            ("SCHEDULE_WATCH_GPU", "0 9 * * 1"),
            ("SCHEDULE_DELETE_NOTEBOOK", "off"),
        ]
        .into_iter()
        .collect();
        let c = Config::from_lookup(&|k| vars.get(k).map(|v| v.to_string())).unwrap();
        assert!(!c.schedule.tasks.contains_key("delete_notebook"));
        let tab = crate::cron::parse_crontab(&c.schedule.tasks["watch_gpu"]).unwrap();
        let monday = chrono::NaiveDate::from_ymd_opt(2026, 11, 30)
            .unwrap()
            .and_hms_opt(9, 0, 0)
            .unwrap();
        let next = tab
            .after(monday - chrono::Duration::days(1), c.schedule.time_zone)
            .next()
            .unwrap();
        // 1 is Monday in crontab (Quartz would read it as Sunday)
        assert_eq!(next, monday);
        let bad = Config::from_lookup(&|k| (k == "SCHEDULE_WATCH_GPU").then(|| "0 9 * *".into()));
        assert!(bad.is_err());
    }
}
