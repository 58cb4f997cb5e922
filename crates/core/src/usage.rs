//! Task usage samples (orchestration.md §5.1 `save_monitoring`): what a finished pipeline
//! task used, read from Prometheus and appended to `task.monitoring.task`, which the
//! scheduler's resource correction reads.
//!
//! A sample is `{cpu, memory, pod_name, update_time}` (cores, GiB, the Argo node id,
//! local time). As the original, samples with cpu or memory ≤ 0.1 and samples older than
//! 30 days are dropped and at most the 10 newest are kept. Unlike the original, which
//! read the last 24 h, the queries cover the pod's own lifetime (start → finish) and are
//! made once per workflow, not on every event.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDateTime, Utc};
use serde_json::{Map, Value, json};

use crate::json_text::{object_or_empty, pretty4};
use crate::workflow_status::TIME_FORMAT;

/// Samples kept per task.
pub const MAX_SAMPLES: usize = 10;
/// Samples older than this many days are dropped.
pub const MAX_SAMPLE_AGE_DAYS: i64 = 30;

/// One usage sample of a task.
#[derive(Debug, Clone, PartialEq)]
pub struct UsageSample {
    /// Max CPU cores used.
    pub cpu: f64,
    /// Max memory used, GiB.
    pub memory: f64,
    /// The Argo node id of the pod.
    pub pod_name: String,
    /// Local time, `%Y-%m-%d %H:%M:%S`.
    pub update_time: String,
}

fn round2(v: f64) -> f64 {
    (v * 100.0).round() / 100.0
}

fn keep(entry: &Value, now: NaiveDateTime) -> bool {
    let num = |k: &str| entry.get(k).and_then(Value::as_f64).unwrap_or(0.0);
    let young = entry
        .get("update_time")
        .and_then(Value::as_str)
        .and_then(|t| NaiveDateTime::parse_from_str(t, TIME_FORMAT).ok())
        .is_some_and(|t| (now - t).num_days() < MAX_SAMPLE_AGE_DAYS);
    num("cpu") > 0.1 && num("memory") > 0.1 && young
}

/// The new `task.monitoring` text with `sample` appended to its `task` list (other keys,
/// e.g. `tfjob`, are kept); `now` is local time.
pub fn merge_task_sample(
    monitoring: Option<&str>,
    sample: &UsageSample,
    now: NaiveDateTime,
) -> String {
    let mut m: Map<String, Value> = object_or_empty(monitoring);
    let mut list: Vec<Value> = m
        .get("task")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    list.push(json!({
        "cpu": round2(sample.cpu),
        "memory": round2(sample.memory),
        "pod_name": sample.pod_name,
        "update_time": sample.update_time,
    }));
    list.retain(|e| keep(e, now));
    if list.len() > MAX_SAMPLES {
        list.drain(..list.len() - MAX_SAMPLES);
    }
    m.insert("task".into(), Value::Array(list));
    pretty4(&Value::Object(m))
}

fn regex_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if "\\.+*?()|[]{}^$".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// The `pod=~` regex of a task pod: the node id (Argo's v1 pod names, what the original
/// queried) or `<workflow>-<template>-<digits>` (v2 names, Argo ≥ 3.4).
pub fn pod_regex(workflow: &str, node_id: &str, template: &str) -> String {
    let v1 = format!("{}.*", regex_escape(node_id));
    match node_id.strip_prefix(&format!("{workflow}-")) {
        Some(digits) if !template.is_empty() => format!(
            "{v1}|{}.*",
            regex_escape(&format!("{workflow}-{template}-{digits}"))
        ),
        _ => v1,
    }
}

fn escape_label(s: &str) -> String {
    s.replace('\\', "\\\\").replace('"', "\\\"")
}

/// PromQL: the max CPU cores the matching pods used over the last `window_secs` before
/// the evaluation time.
pub fn cpu_query(namespace: &str, pod_regex: &str, window_secs: i64) -> String {
    format!(
        "max_over_time(sum by (pod) (rate(container_cpu_usage_seconds_total{{namespace=\"{}\",pod=~\"{}\",container!=\"POD\",container!=\"\"}}[1m]))[{}s:15s])",
        escape_label(namespace),
        escape_label(pod_regex),
        window_secs.max(60)
    )
}

/// PromQL: the max working-set memory in bytes of the matching pods over the window.
pub fn memory_query(namespace: &str, pod_regex: &str, window_secs: i64) -> String {
    format!(
        "max_over_time(sum by (pod) (container_memory_working_set_bytes{{namespace=\"{}\",pod=~\"{}\",container!=\"POD\",container!=\"\"}})[{}s:15s])",
        escape_label(namespace),
        escape_label(pod_regex),
        window_secs.max(60)
    )
}

/// The largest value of an instant-query answer (`data.result[*].value[1]`); `None`
/// without samples.
pub fn vector_max(answer: &Value) -> Option<f64> {
    answer
        .pointer("/data/result")?
        .as_array()?
        .iter()
        .filter_map(|r| r.pointer("/value/1"))
        .filter_map(sample)
        .reduce(f64::max)
}

/// PromQL of [`Prometheus::resource_peaks`], as the original's.
pub const MEMORY_PEAK_QUERY: &str =
    "sum by (pod) (container_memory_working_set_bytes{container!='POD', container!=''})";
pub const CPU_PEAK_QUERY: &str =
    "sum by (pod) (rate(container_cpu_usage_seconds_total{container!='POD'}[1m]))";
pub const GPU_PEAK_QUERY: &str = "avg by (pod) (DCGM_FI_DEV_GPU_UTIL)";

/// The peak use of one pod ([`Prometheus::resource_peaks`]).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct PodPeaks {
    /// GiB.
    pub memory: f64,
    /// Cores.
    pub cpu: f64,
    /// Utilisation of its GPUs, 0–1.
    pub gpu: f64,
}

enum PeakKind {
    Memory,
    Cpu,
    Gpu,
}

fn seconds(t: DateTime<Utc>) -> String {
    format!("{:.3}", t.timestamp_millis() as f64 / 1000.0)
}

fn sample(v: &Value) -> Option<f64> {
    match v {
        Value::String(s) => s.parse::<f64>().ok(),
        Value::Number(n) => n.as_f64(),
        _ => None,
    }
    .filter(|v| v.is_finite())
}

/// The max of each series of a range-query answer, by its `pod` label (series without
/// one or without samples are left out).
pub fn series_max(answer: &Value) -> Vec<(String, f64)> {
    answer
        .pointer("/data/result")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|r| {
            let pod = r.pointer("/metric/pod")?.as_str()?.to_string();
            let max = r
                .get("values")?
                .as_array()?
                .iter()
                .filter_map(|p| p.get(1).and_then(sample))
                .reduce(f64::max)?;
            Some((pod, max))
        })
        .collect()
}

/// A Prometheus query that gave no answer.
#[derive(Debug, thiserror::Error)]
pub enum PrometheusError {
    #[error("prometheus {url}: {source}")]
    Request {
        url: String,
        #[source]
        source: reqwest::Error,
    },
    #[error("prometheus {url}: bad answer ({status}): {source}")]
    Body {
        url: String,
        status: u16,
        #[source]
        source: reqwest::Error,
    },
    #[error("prometheus {url}: {status}: {message}")]
    Failed {
        url: String,
        status: u16,
        message: String,
    },
}

/// A Prometheus HTTP API client (`/api/v1/query`).
pub struct Prometheus {
    base: String,
    client: reqwest::Client,
}

impl Prometheus {
    /// A client of the server at `base` (e.g. `http://prometheus:9090`).
    pub fn new(base: &str) -> Prometheus {
        let client = reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(10))
            .build()
            .unwrap_or_default();
        Prometheus {
            base: base.trim_end_matches('/').to_string(),
            client,
        }
    }

    /// An instant query, evaluated at `at` (now with `None`): the answer, once the
    /// server said `success`.
    pub async fn query(
        &self,
        query: &str,
        at: Option<DateTime<Utc>>,
    ) -> Result<Value, PrometheusError> {
        let mut params = vec![("query", query.to_string())];
        if let Some(at) = at {
            params.push(("time", seconds(at)));
        }
        self.get("/api/v1/query", &params).await
    }

    /// A range query from `start` to `end` every `step` (`1m`): the answer, once the
    /// server said `success`.
    pub async fn query_range(
        &self,
        query: &str,
        start: DateTime<Utc>,
        end: DateTime<Utc>,
        step: &str,
    ) -> Result<Value, PrometheusError> {
        let params = [
            ("query", query.to_string()),
            ("start", seconds(start)),
            ("end", seconds(end)),
            ("step", step.to_string()),
        ];
        self.get("/api/v1/query_range", &params).await
    }

    async fn get(&self, path: &str, params: &[(&str, String)]) -> Result<Value, PrometheusError> {
        let url = format!("{}{path}", self.base);
        let resp = self
            .client
            .get(&url)
            .query(params)
            .send()
            .await
            .map_err(|source| PrometheusError::Request {
                url: url.clone(),
                source,
            })?;
        let status = resp.status();
        let body: Value = resp.json().await.map_err(|source| PrometheusError::Body {
            url: url.clone(),
            status: status.as_u16(),
            source,
        })?;
        if !status.is_success() || body.get("status").and_then(Value::as_str) != Some("success") {
            return Err(PrometheusError::Failed {
                url,
                status: status.as_u16(),
                message: body
                    .get("error")
                    .and_then(Value::as_str)
                    .unwrap_or("query failed")
                    .to_string(),
            });
        }
        Ok(body)
    }

    /// The peak use of every pod over the last five minutes (`get_resource_metric`,
    /// kubernetes.md §8): working-set memory (GiB), CPU cores and GPU utilisation
    /// (0–1), each the max of its samples, rounded to 2 decimals.
    pub async fn resource_peaks(
        &self,
        now: DateTime<Utc>,
    ) -> Result<BTreeMap<String, PodPeaks>, PrometheusError> {
        let start = now - chrono::Duration::seconds(300);
        let mut out: BTreeMap<String, PodPeaks> = BTreeMap::new();
        for (query, set) in [
            (MEMORY_PEAK_QUERY, PeakKind::Memory),
            (CPU_PEAK_QUERY, PeakKind::Cpu),
            (GPU_PEAK_QUERY, PeakKind::Gpu),
        ] {
            let answer = self.query_range(query, start, now, "1m").await?;
            for (pod, max) in series_max(&answer) {
                let peaks = out.entry(pod).or_default();
                match set {
                    PeakKind::Memory => peaks.memory = round2(max / 1024f64.powi(3)),
                    PeakKind::Cpu => peaks.cpu = round2(max),
                    PeakKind::Gpu => peaks.gpu = round2(max) / 100.0,
                }
            }
        }
        Ok(out)
    }

    /// An instant query evaluated at `at`; the max of its vector.
    pub async fn query_max(
        &self,
        query: &str,
        at: DateTime<Utc>,
    ) -> Result<Option<f64>, PrometheusError> {
        Ok(vector_max(&self.query(query, Some(at)).await?))
    }

    /// Max CPU cores and max memory (GiB) of the pods matching `pod_regex` in `namespace`
    /// between `start` and `end`; `None` when Prometheus has no samples.
    pub async fn pod_usage(
        &self,
        namespace: &str,
        pod_regex: &str,
        start: DateTime<Utc>,
        end: DateTime<Utc>,
    ) -> Result<Option<(f64, f64)>, PrometheusError> {
        let window = (end - start).num_seconds() + 60;
        let cpu = self
            .query_max(&cpu_query(namespace, pod_regex, window), end)
            .await?;
        let mem = self
            .query_max(&memory_query(namespace, pod_regex, window), end)
            .await?;
        Ok(match (cpu, mem) {
            (Some(c), Some(m)) => Some((c, m / 1024f64.powi(3))),
            _ => None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(s, TIME_FORMAT).unwrap()
    }

    fn sample(cpu: f64, when: &str) -> UsageSample {
        UsageSample {
            cpu,
            memory: 1.234,
            pod_name: "p-1".into(),
            update_time: when.into(),
        }
    }

    #[test]
    fn appends_and_keeps_ten() {
        let now = t("2026-11-30 12:00:00");
        let mut text = r#"{"tfjob": [1]}"#.to_string();
        for i in 0..12 {
            text = merge_task_sample(
                Some(&text),
                &sample(1.0 + i as f64, "2026-11-30 11:00:00"),
                now,
            );
        }
        let v: Value = serde_json::from_str(&text).unwrap();
        let list = v["task"].as_array().unwrap();
        assert_eq!(list.len(), 10);
        assert_eq!(list[0]["cpu"], 3.0, "the oldest two were dropped");
        assert_eq!(list[9]["memory"], 1.23);
        assert_eq!(v["tfjob"], json!([1]));
    }

    #[test]
    fn drops_old_and_tiny_samples() {
        let now = t("2026-11-30 12:00:00");
        let text = merge_task_sample(Some("garbage"), &sample(2.0, "2026-10-01 00:00:00"), now);
        let text = merge_task_sample(Some(&text), &sample(0.05, "2026-11-30 00:00:00"), now);
        let text = merge_task_sample(Some(&text), &sample(2.0, "2026-11-29 00:00:00"), now);
        let v: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v["task"].as_array().unwrap().len(), 1);
        assert_eq!(v["task"][0]["update_time"], "2026-11-29 00:00:00");
    }

    #[test]
    fn pod_regexes_cover_both_name_schemes() {
        assert_eq!(
            pod_regex("wf-ab12", "wf-ab12-123", "train"),
            "wf-ab12-123.*|wf-ab12-train-123.*"
        );
        assert_eq!(pod_regex("wf", "wf", ""), "wf.*");
        assert_eq!(pod_regex("a.b", "x.y", ""), "x\\.y.*");
        let q = cpu_query("pipeline", "wf-1.*", 10);
        assert!(q.contains("pod=~\"wf-1.*\""));
        assert!(q.contains("[60s:15s]"));
        assert!(memory_query("pipeline", "wf-1.*", 600).contains("[600s:15s]"));
    }

    #[test]
    fn reads_vector_answers() {
        let a = json!({"status": "success", "data": {"resultType": "vector", "result": [
            {"metric": {"pod": "a"}, "value": [1, "1.5"]},
            {"metric": {"pod": "b"}, "value": [1, "2.5"]},
            {"metric": {"pod": "c"}, "value": [1, "NaN"]}]}});
        assert_eq!(vector_max(&a), Some(2.5));
        assert_eq!(vector_max(&json!({"data": {"result": []}})), None);
        assert_eq!(vector_max(&json!({})), None);
    }
}
