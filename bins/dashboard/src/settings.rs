//! Settings of the web front end read next to `app_core::Config`: where `/static/` is
//! served from and the `navbar_right` entries.

use std::path::PathBuf;

use app_core::config::{ConfigError, Vars};
use serde_json::{Value, json};

use crate::icons::lucide;

/// The front end's own knobs (environment variables next to `app_core::Config`).
#[derive(Debug, Clone, Default)]
pub struct Settings {
    /// `STATIC_DIR`: served at `/static/` (the original's `myapp/static`: the pipeline
    /// editor `appbuilder/vison/`, the home page's `assets/images/`).
    pub static_dir: Option<PathBuf>,
    /// `/myapp/navbar_right`: `NAVBAR_RIGHT` (a JSON list, the original's config key of
    /// that name) or the documentation and bug-report links.
    pub navbar_right: Value,
}

/// The original's defaults of `DOCUMENTATION_URL` and `BUG_REPORT_URL`.
pub const DOCUMENTATION_URL: &str = "https://github.com/tencentmusic/cube-studio/wiki";
pub const BUG_REPORT_URL: &str = "https://github.com/tencentmusic/cube-studio/issues/new";

impl Settings {
    /// Reads the process environment.
    pub fn from_env() -> Result<Settings, ConfigError> {
        Self::from_lookup(&|k| std::env::var(k).ok())
    }

    /// Reads any variable source (tests pass a map).
    pub fn from_lookup(lookup: &dyn Fn(&str) -> Option<String>) -> Result<Settings, ConfigError> {
        let vars = Vars(lookup);
        let navbar_right = match vars.var("NAVBAR_RIGHT") {
            Some(text) => match serde_json::from_str::<Value>(&text) {
                Ok(v @ Value::Array(_)) => v,
                Ok(_) => return Err(navbar_error("must be a JSON list")),
                Err(e) => return Err(navbar_error(&e.to_string())),
            },
            None => {
                // set but empty removes an entry; unset is the original's link
                let url = |name: &str, default: &str| match lookup(name) {
                    Some(v) => Some(v.trim().to_string()).filter(|v| !v.is_empty()),
                    None => Some(default.to_string()),
                };
                let mut entries = vec![];
                if let Some(link) = url("DOCUMENTATION_URL", DOCUMENTATION_URL) {
                    entries
                        .push(json!({"text": "文档", "icon": lucide("book-open"), "link": link}));
                }
                if let Some(link) = url("BUG_REPORT_URL", BUG_REPORT_URL) {
                    entries.push(json!({"icon": lucide("bug"), "link": link}));
                }
                Value::Array(entries)
            }
        };
        Ok(Settings {
            static_dir: vars.var("STATIC_DIR").map(PathBuf::from),
            navbar_right,
        })
    }
}

fn navbar_error(message: &str) -> ConfigError {
    ConfigError {
        var: "NAVBAR_RIGHT".into(),
        message: message.into(),
    }
}
