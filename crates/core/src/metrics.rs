//! A tiny Prometheus text-format registry: counters and gauges with fixed label sets.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::{Arc, Mutex};

#[derive(Debug, Clone, Copy, PartialEq)]
enum Kind {
    Counter,
    Gauge,
}

#[derive(Debug, Default)]
struct Family {
    help: String,
    kind: Option<Kind>,
    values: BTreeMap<Vec<(String, String)>, f64>,
}

/// A shared registry; clone it freely.
#[derive(Debug, Clone, Default)]
pub struct Metrics {
    inner: Arc<Mutex<BTreeMap<String, Family>>>,
}

impl Metrics {
    pub fn new() -> Self {
        Self::default()
    }

    fn with<F: FnOnce(&mut Family)>(&self, name: &str, help: &str, kind: Kind, f: F) {
        let mut map = match self.inner.lock() {
            Ok(m) => m,
            Err(p) => p.into_inner(),
        };
        // the family exists after its first use: no key allocation then
        if !map.contains_key(name) {
            map.insert(name.to_string(), Family::default());
        }
        let Some(fam) = map.get_mut(name) else {
            return;
        };
        if fam.kind.is_none() {
            fam.kind = Some(kind);
            fam.help = help.to_string();
        }
        f(fam);
    }

    fn key(labels: &[(&str, &str)]) -> Vec<(String, String)> {
        labels
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    /// Adds `by` to a counter.
    pub fn inc_by(&self, name: &str, help: &str, labels: &[(&str, &str)], by: f64) {
        self.with(name, help, Kind::Counter, |f| {
            *f.values.entry(Self::key(labels)).or_insert(0.0) += by
        });
    }

    /// Adds one to a counter.
    pub fn inc(&self, name: &str, help: &str, labels: &[(&str, &str)]) {
        self.inc_by(name, help, labels, 1.0);
    }

    /// Sets a gauge.
    pub fn set(&self, name: &str, help: &str, labels: &[(&str, &str)], value: f64) {
        self.with(name, help, Kind::Gauge, |f| {
            f.values.insert(Self::key(labels), value);
        });
    }

    /// Adds `by` (may be negative) to a gauge.
    pub fn add(&self, name: &str, help: &str, labels: &[(&str, &str)], by: f64) {
        self.with(name, help, Kind::Gauge, |f| {
            *f.values.entry(Self::key(labels)).or_insert(0.0) += by
        });
    }

    /// Raises a gauge to `value` if it is higher (a running maximum).
    pub fn max(&self, name: &str, help: &str, labels: &[(&str, &str)], value: f64) {
        self.with(name, help, Kind::Gauge, |f| {
            let v = f.values.entry(Self::key(labels)).or_insert(value);
            if value > *v {
                *v = value;
            }
        });
    }

    /// Reads one value (tests and health checks).
    pub fn get(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        let map = match self.inner.lock() {
            Ok(m) => m,
            Err(p) => p.into_inner(),
        };
        map.get(name)
            .and_then(|f| f.values.get(&Self::key(labels)).copied())
            .unwrap_or(0.0)
    }

    /// Renders the Prometheus text exposition format.
    pub fn render(&self) -> String {
        let map = match self.inner.lock() {
            Ok(m) => m,
            Err(p) => p.into_inner(),
        };
        let mut out = String::new();
        for (name, fam) in map.iter() {
            let kind = match fam.kind {
                Some(Kind::Counter) => "counter",
                _ => "gauge",
            };
            let _ = writeln!(out, "# HELP {name} {}", fam.help);
            let _ = writeln!(out, "# TYPE {name} {kind}");
            for (labels, value) in &fam.values {
                if labels.is_empty() {
                    let _ = writeln!(out, "{name} {value}");
                } else {
                    let l: Vec<String> = labels
                        .iter()
                        .map(|(k, v)| {
                            format!("{k}=\"{}\"", v.replace('\\', "\\\\").replace('"', "\\\""))
                        })
                        .collect();
                    let _ = writeln!(out, "{name}{{{}}} {value}", l.join(","));
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_text_format() {
        let m = Metrics::new();
        m.inc("jobs_total", "Jobs", &[("queue", "submit")]);
        m.inc("jobs_total", "Jobs", &[("queue", "submit")]);
        m.set("up", "Up", &[], 1.0);
        let text = m.render();
        assert!(text.contains("# TYPE jobs_total counter"));
        assert!(text.contains("jobs_total{queue=\"submit\"} 2"));
        assert!(text.contains("up 1"));
        assert_eq!(m.get("jobs_total", &[("queue", "submit")]), 2.0);
    }
}
