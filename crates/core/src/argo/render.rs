//! Jinja rendering of task fields with `minijinja`, mirroring the upstream template
//! variables: `creator`, `runner`, `pipeline_id`, `pipeline_name`, `cluster_name`,
//! `execution_date`, `run_id`, the global env keys, plus Python-like `datetime` and
//! `uuid` objects so that `{{ datetime.datetime.now().strftime('%Y%m%d') }}` and
//! `{{ uuid.uuid4().hex }}` work. Unknown variables render as an empty string.
//!
//! Everything is deterministic: `now()` is the caller's clock and `uuid4()` derives
//! fresh ids from the run id and a counter.

use std::collections::BTreeMap;
use std::fmt::{self, Write as _};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};

use chrono::NaiveDateTime;
use minijinja::value::{Object, Value, from_args};
use minijinja::{AutoEscape, Environment, Error, ErrorKind, State, UndefinedBehavior};
use sha2::{Digest, Sha256};

/// A template that failed to render.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct RenderError {
    pub message: String,
}

/// Renders strings with one fixed context.
pub struct Renderer {
    /// Holds every source rendered so far, parsed once: the tasks of a pipeline
    /// repeat the same few templates.
    env: Mutex<Environment<'static>>,
    context: BTreeMap<String, Value>,
    /// `context` as one value, built at the first render after a change.
    context_value: OnceLock<Value>,
    now: NaiveDateTime,
    uuids: Arc<UuidModule>,
}

impl fmt::Debug for Renderer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Renderer")
            .field("context", &self.context.keys().collect::<Vec<_>>())
            .finish()
    }
}

/// Whether the text may contain Jinja syntax at all.
fn has_syntax(s: &str) -> bool {
    s.contains("{{") || s.contains("{%") || s.contains("{#")
}

impl Renderer {
    /// A renderer with the `datetime` and `uuid` objects; `uuid_seed` makes the
    /// generated uuids deterministic (use the run id).
    pub fn new(now: NaiveDateTime, uuid_seed: &str) -> Renderer {
        let mut env = Environment::new();
        env.set_undefined_behavior(UndefinedBehavior::Chainable);
        env.set_keep_trailing_newline(true);
        // templates are named after their source; no name may turn on escaping
        env.set_auto_escape_callback(|_| AutoEscape::None);
        let uuids = Arc::new(UuidModule {
            seed: uuid_seed.to_string(),
            counter: AtomicU64::new(0),
        });
        let mut r = Renderer {
            env: Mutex::new(env),
            context: BTreeMap::new(),
            context_value: OnceLock::new(),
            now,
            uuids,
        };
        r.reset_objects();
        r
    }

    fn reset_objects(&mut self) {
        self.context_value = OnceLock::new();
        self.context.insert(
            "datetime".into(),
            Value::from_object(DatetimeModule { now: self.now }),
        );
        self.context
            .insert("uuid".into(), Value::from_dyn_object(self.uuids.clone()));
    }

    /// Sets a string variable (replacing an existing one).
    pub fn set(&mut self, key: &str, value: impl Into<String>) {
        self.context
            .insert(key.to_string(), Value::from(value.into()));
        self.context_value = OnceLock::new();
        if key == "datetime" || key == "uuid" {
            self.reset_objects();
        }
    }

    /// Sets a variable unless one of that name exists.
    pub fn set_default(&mut self, key: &str, value: impl Into<String>) {
        if !self.context.contains_key(key) {
            self.set(key, value);
        }
    }

    /// Renders one string; text without `{{`, `{%` or `{#` is returned as it is.
    pub fn render(&self, source: &str) -> Result<String, RenderError> {
        if !has_syntax(source) {
            return Ok(source.to_string());
        }
        let context = self.context_value.get_or_init(|| {
            Value::from_iter(self.context.iter().map(|(k, v)| (k.as_str(), v.clone())))
        });
        let mut env = self.env.lock().unwrap_or_else(PoisonError::into_inner);
        if env.get_template(source).is_err() {
            env.add_template_owned(source.to_string(), source.to_string())
                .map_err(|e| RenderError {
                    message: describe_error(&e),
                })?;
        }
        env.get_template(source)
            .and_then(|t| t.render(context))
            .map_err(|e| RenderError {
                message: describe_error(&e),
            })
    }

    /// [`Renderer::render_json`] in place: only strings with template syntax are
    /// replaced, in the same order (keys before their values), so `uuid4()` draws
    /// the same ids.
    pub fn render_json_in_place(&self, value: &mut serde_json::Value) -> Result<(), RenderError> {
        use serde_json::Value as J;
        match value {
            J::String(s) if has_syntax(s) => *s = self.render(s)?,
            J::Array(items) => {
                for item in items {
                    self.render_json_in_place(item)?;
                }
            }
            J::Object(map) if map.keys().any(|k| has_syntax(k)) => {
                let mut out = serde_json::Map::with_capacity(map.len());
                for (k, mut v) in std::mem::take(map) {
                    let k = self.render(&k)?;
                    self.render_json_in_place(&mut v)?;
                    out.insert(k, v);
                }
                *map = out;
            }
            J::Object(map) => {
                for v in map.values_mut() {
                    self.render_json_in_place(v)?;
                }
            }
            _ => {}
        }
        Ok(())
    }

    /// Renders every string inside a JSON value (object keys included).
    pub fn render_json(&self, value: &serde_json::Value) -> Result<serde_json::Value, RenderError> {
        use serde_json::Value as J;
        Ok(match value {
            J::String(s) => J::String(self.render(s)?),
            J::Array(items) => J::Array(
                items
                    .iter()
                    .map(|i| self.render_json(i))
                    .collect::<Result<_, _>>()?,
            ),
            J::Object(map) => {
                let mut out = serde_json::Map::new();
                for (k, v) in map {
                    out.insert(self.render(k)?, self.render_json(v)?);
                }
                J::Object(out)
            }
            other => other.clone(),
        })
    }
}

fn describe_error(e: &Error) -> String {
    let mut msg = e.kind().to_string();
    if let Some(detail) = e.detail() {
        let _ = write!(msg, ": {detail}");
    }
    if let Some(line) = e.line() {
        let _ = write!(msg, " (line {line})");
    }
    msg
}

/// Python's `%f` is microseconds; chrono's is nanoseconds.
fn python_format(fmt: &str) -> String {
    fmt.replace("%f", "%6f")
}

fn format_with<F>(fmt: &str, apply: F) -> Result<Value, Error>
where
    F: FnOnce(&str, &mut String) -> fmt::Result,
{
    let mut out = String::new();
    apply(&python_format(fmt), &mut out).map_err(|_| {
        Error::new(
            ErrorKind::InvalidOperation,
            format!("invalid strftime format {fmt:?}"),
        )
    })?;
    Ok(Value::from(out))
}

/// The `datetime` module: `datetime.datetime.now()`, `datetime.datetime.today()`
/// and `datetime.date.today()`.
#[derive(Debug)]
struct DatetimeModule {
    now: NaiveDateTime,
}

impl Object for DatetimeModule {
    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        let date_only = match key.as_str()? {
            "datetime" => false,
            "date" => true,
            _ => return None,
        };
        Some(Value::from_object(Moment {
            at: self.now,
            date_only,
        }))
    }
}

/// A `datetime.datetime` or `datetime.date`: as a class it answers `now()` /
/// `today()`; as an instance it has `strftime`, `isoformat`, `date()` and the fields.
#[derive(Debug)]
struct Moment {
    at: NaiveDateTime,
    date_only: bool,
}

impl Moment {
    fn with(&self, date_only: bool) -> Value {
        Value::from_object(Moment {
            at: self.at,
            date_only,
        })
    }

    fn iso_format(&self) -> &'static str {
        if self.date_only {
            "%Y-%m-%d"
        } else {
            "%Y-%m-%dT%H:%M:%S"
        }
    }
}

impl Object for Moment {
    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        use chrono::{Datelike, Timelike};
        let at = &self.at;
        let time = |v: u32| (!self.date_only).then_some(v);
        let v = match key.as_str()? {
            "year" => return Some(Value::from(at.year())),
            "month" => Some(at.month()),
            "day" => Some(at.day()),
            "hour" => time(at.hour()),
            "minute" => time(at.minute()),
            "second" => time(at.second()),
            _ => None,
        };
        v.map(Value::from)
    }

    fn call_method(
        self: &Arc<Self>,
        _state: &State<'_, '_>,
        method: &str,
        args: &[Value],
    ) -> Result<Value, Error> {
        match method {
            "now" if !self.date_only => {
                let () = from_args(args)?;
                Ok(self.with(false))
            }
            "today" => {
                let () = from_args(args)?;
                Ok(self.with(self.date_only))
            }
            "date" => {
                let () = from_args(args)?;
                Ok(self.with(true))
            }
            "strftime" => {
                let (fmt,): (&str,) = from_args(args)?;
                format_with(fmt, |f, out| write!(out, "{}", self.at.format(f)))
            }
            "isoformat" => {
                let () = from_args(args)?;
                Ok(Value::from(self.at.format(self.iso_format()).to_string()))
            }
            _ => Err(Error::from(ErrorKind::UnknownMethod)),
        }
    }

    fn render(self: &Arc<Self>, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use chrono::Timelike;
        // Python's str(): microseconds only when there are some
        let fmt = if self.date_only {
            "%Y-%m-%d"
        } else if self.at.nanosecond() >= 1000 {
            "%Y-%m-%d %H:%M:%S%.6f"
        } else {
            "%Y-%m-%d %H:%M:%S"
        };
        write!(f, "{}", self.at.format(fmt))
    }
}

/// The `uuid` module: `uuid4()` gives a fresh id per call, derived from the seed.
#[derive(Debug)]
struct UuidModule {
    seed: String,
    counter: AtomicU64,
}

impl Object for UuidModule {
    fn call_method(
        self: &Arc<Self>,
        _state: &State<'_, '_>,
        method: &str,
        args: &[Value],
    ) -> Result<Value, Error> {
        match method {
            "uuid4" => {
                let () = from_args(args)?;
                let n = self.counter.fetch_add(1, Ordering::Relaxed);
                Ok(Value::from_object(UuidValue(derived_uuid(&self.seed, n))))
            }
            _ => Err(Error::from(ErrorKind::UnknownMethod)),
        }
    }
}

/// A v4-shaped uuid from `sha256(seed:n)`.
pub(crate) fn derived_uuid(seed: &str, n: u64) -> uuid::Uuid {
    let digest = Sha256::digest(format!("{seed}:{n}").as_bytes());
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    uuid::Builder::from_random_bytes(bytes).into_uuid()
}

/// A `uuid.UUID` instance: `.hex`, and `str()` gives the hyphenated form.
#[derive(Debug)]
struct UuidValue(uuid::Uuid);

impl Object for UuidValue {
    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        match key.as_str()? {
            "hex" => Some(Value::from(self.0.simple().to_string())),
            _ => None,
        }
    }

    fn render(self: &Arc<Self>, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0.hyphenated())
    }
}

/// Python `s.encode('unicode_escape').decode()`: non-ASCII as `\uXXXX`/`\xNN`,
/// backslash and control characters escaped.
pub fn python_unicode_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        let code = c as u32;
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            ' '..='~' => out.push(c),
            _ if code < 0x100 => {
                let _ = write!(out, "\\x{code:02x}");
            }
            _ if code < 0x10000 => {
                let _ = write!(out, "\\u{code:04x}");
            }
            _ => {
                let _ = write!(out, "\\U{code:08x}");
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn renderer() -> Renderer {
        let now = chrono::NaiveDate::from_ymd_opt(2026, 11, 30)
            .unwrap()
            .and_hms_micro_opt(3, 38, 11, 123456)
            .unwrap();
        let mut r = Renderer::new(now, "seed");
        r.set("creator", "alice");
        r
    }

    #[test]
    fn renders_python_like_objects() {
        let r = renderer();
        assert_eq!(
            r.render("{{ datetime.datetime.now().strftime('%Y%m%d') }}")
                .unwrap(),
            "20261130"
        );
        assert_eq!(
            r.render("{{datetime.datetime.now().strftime('%Y-%m-%d %H:%M:%S.%f')}}")
                .unwrap(),
            "2026-11-30 03:38:11.123456"
        );
        assert_eq!(
            r.render("{{ datetime.date.today() }}").unwrap(),
            "2026-11-30"
        );
        assert_eq!(
            r.render("{{ datetime.datetime.now().year }}").unwrap(),
            "2026"
        );
        assert_eq!(r.render("/mnt/{{creator}}/x").unwrap(), "/mnt/alice/x");
        let a = r.render("{{ uuid.uuid4().hex }}").unwrap();
        let b = r.render("{{ uuid.uuid4().hex }}").unwrap();
        assert_eq!(a.len(), 32);
        assert_ne!(a, b, "a fresh uuid per occurrence");
        assert_eq!(
            renderer().render("{{ uuid.uuid4().hex }}").unwrap(),
            a,
            "deterministic"
        );
    }

    #[test]
    fn unknown_variables_are_empty() {
        let r = renderer();
        assert_eq!(r.render("a{{ nope }}b{{ nope.deeper }}c").unwrap(), "abc");
        assert_eq!(r.render("no template").unwrap(), "no template");
        assert_eq!(r.render("keep\n").unwrap(), "keep\n");
    }

    #[test]
    fn errors_are_typed() {
        let r = renderer();
        assert!(r.render("{{ unclosed").is_err());
        assert!(r.render("{% if %}").is_err());
        let err = r
            .render("{{ datetime.datetime.now().strftime('%Q') }}")
            .unwrap_err();
        assert!(err.message.contains("strftime"), "{}", err.message);
    }

    #[test]
    fn python_compatible_text() {
        let v: serde_json::Value =
            serde_json::from_str(r#"{"a": 1, "b": [1, "x\"y", {"c": null}], "d": "中"}"#).unwrap();
        assert_eq!(
            crate::json_text::python_dumps_utf8(&v),
            r#"{"a": 1, "b": [1, "x\"y", {"c": null}], "d": "中"}"#
        );
        assert_eq!(
            python_unicode_escape("Demo 任务流\n\\é"),
            "Demo \\u4efb\\u52a1\\u6d41\\n\\\\\\xe9"
        );
    }
}
