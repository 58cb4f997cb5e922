//! Pod logs: lines set or appended by the test handle, each with the time it was written
//! (for `sinceSeconds`/`sinceTime` and `timestamps`), else one line naming what the pod
//! ran. The text is the same whatever container is asked for; the container is only
//! checked against the pod.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use serde_json::Value;

use super::super::resources::Gvr;
use super::super::status::ApiError;
use super::Store;

/// The stored log of one pod: lines (each ending with `\n`, except perhaps the last)
/// with the time each was written.
#[derive(Debug, Default, Clone)]
pub struct PodLog {
    lines: Vec<(DateTime<Utc>, String)>,
}

impl PodLog {
    /// Appends text: a trailing partial line is continued (keeping its time), then one
    /// line per `\n`.
    fn append(&mut self, text: &str, at: DateTime<Utc>) {
        let mut rest = text;
        if let Some((_, last)) = self.lines.last_mut()
            && !last.ends_with('\n')
        {
            let end = rest.find('\n').map_or(rest.len(), |i| i + 1);
            last.push_str(&rest[..end]);
            rest = &rest[end..];
        }
        self.lines
            .extend(rest.split_inclusive('\n').map(|l| (at, l.to_string())));
    }
}

/// Where a follower is in a pod's log: the line, and the bytes of it already sent (a
/// partial last line may grow).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct LogCursor {
    line: usize,
    byte: usize,
}

/// The query parameters of `pods/<name>/log`.
#[derive(Debug, Default, Clone)]
pub struct LogOptions {
    pub container: Option<String>,
    pub follow: bool,
    /// `tailLines`: only the last lines (of the text there at the start of a follow).
    pub tail_lines: Option<usize>,
    /// `sinceSeconds` / `sinceTime`: only lines written at or after this time.
    pub since: Option<DateTime<Utc>>,
    /// `timestamps`: each line prefixed with its RFC 3339 time (nanoseconds) and a space.
    pub timestamps: bool,
    /// `limitBytes`: at most this many bytes (a follow ends when they are sent).
    pub limit_bytes: Option<usize>,
}

impl LogOptions {
    /// Parses the query; 400 on a malformed number or time.
    pub fn from_query(q: &HashMap<String, String>) -> Result<Self, ApiError> {
        let flag = |k: &str| q.get(k).is_some_and(|v| v == "true" || v == "1");
        let number = |k: &str| -> Result<Option<i64>, ApiError> {
            q.get(k)
                .map(|n| {
                    n.parse::<i64>()
                        .map_err(|_| ApiError::bad_request(format!("{k}: invalid value {n:?}")))
                })
                .transpose()
        };
        let positive = |k: &str| -> Result<Option<usize>, ApiError> {
            match number(k)? {
                Some(n) if n < 0 => Err(ApiError::invalid(format!(
                    "{k}: Invalid value: {n}: must be greater than or equal to 0"
                ))),
                n => Ok(n.map(|n| n as usize)),
            }
        };
        let since = match (number("sinceSeconds")?, q.get("sinceTime")) {
            (Some(_), Some(_)) => {
                return Err(ApiError::invalid(
                    "sinceSeconds, sinceTime: Invalid value: at most one of sinceTime or sinceSeconds may be specified",
                ));
            }
            (Some(s), None) if s < 1 => {
                return Err(ApiError::invalid(format!(
                    "sinceSeconds: Invalid value: {s}: must be greater than 0"
                )));
            }
            (Some(s), None) => Some(Utc::now() - chrono::Duration::seconds(s)),
            (None, Some(t)) => Some(
                DateTime::parse_from_rfc3339(t)
                    .map_err(|_| ApiError::bad_request(format!("sinceTime: invalid value {t:?}")))?
                    .with_timezone(&Utc),
            ),
            (None, None) => None,
        };
        Ok(LogOptions {
            container: q.get("container").cloned(),
            follow: flag("follow"),
            tail_lines: positive("tailLines")?,
            since,
            timestamps: flag("timestamps"),
            limit_bytes: positive("limitBytes")?,
        })
    }

    /// A line as answered: with its time first when `timestamps` is on.
    fn render(&self, at: DateTime<Utc>, line: &str) -> String {
        if self.timestamps {
            format!(
                "{} {line}",
                at.to_rfc3339_opts(chrono::SecondsFormat::Nanos, true)
            )
        } else {
            line.to_string()
        }
    }
}

/// `text` cut to at most `limit` bytes, on a character boundary.
pub fn truncate_bytes(mut text: String, limit: usize) -> String {
    if text.len() > limit {
        let mut end = limit;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text.truncate(end);
    }
    text
}

impl Store {
    /// Replaces a pod's log: every line counts as written now.
    pub fn set_pod_log(&mut self, ns: &str, pod: &str, text: &str) {
        let mut log = PodLog::default();
        log.append(text, Utc::now());
        self.pod_logs.insert((ns.to_string(), pod.to_string()), log);
        self.log_notify.send_modify(|n| *n += 1);
    }

    /// Appends to a pod's log (written now) and wakes its followers. A pod whose log was
    /// never set starts from an empty log: its default line is gone.
    pub fn append_pod_log(&mut self, ns: &str, pod: &str, text: &str) {
        self.pod_logs
            .entry((ns.to_string(), pod.to_string()))
            .or_default()
            .append(text, Utc::now());
        self.log_notify.send_modify(|n| *n += 1);
    }

    /// Ticks after every change of any pod log.
    pub fn subscribe_logs(&self) -> tokio::sync::watch::Receiver<u64> {
        self.log_notify.subscribe()
    }

    /// `pods/<name>/log`: the text set by the handle, else a line naming the container's
    /// image and command, filtered by `opts`; and where a follower continues from
    /// ([`Store::pod_log_after`]). 404 if there is neither a pod nor a log, 400 if the
    /// container is not one of the pod's.
    pub fn pod_log_start(
        &self,
        ns: &str,
        pod: &str,
        opts: &LogOptions,
    ) -> Result<(String, LogCursor), ApiError> {
        let gvr = Gvr::new("", "v1", "pods");
        let obj = self.lookup(&gvr, ns, pod);
        let stored = self.pod_logs.get(&(ns.to_string(), pod.to_string()));
        let container = match obj {
            Some(obj) => pick_container(obj, pod, opts.container.as_deref())?,
            None if stored.is_none() => return Err(Self::not_found(&gvr, pod)),
            None => None,
        };
        let default;
        let lines: &[(DateTime<Utc>, String)] = match stored {
            Some(log) => &log.lines,
            None => {
                let at = obj.and_then(started_at).unwrap_or_else(Utc::now);
                default = [(at, default_log(pod, container))];
                &default
            }
        };
        let cursor = match stored.and_then(|l| l.lines.last()) {
            Some((_, last)) => LogCursor {
                line: lines.len() - 1,
                byte: last.len(),
            },
            None => LogCursor::default(),
        };
        let kept: Vec<&(DateTime<Utc>, String)> = lines
            .iter()
            .filter(|(at, _)| opts.since.is_none_or(|s| *at >= s))
            .collect();
        let skip = opts.tail_lines.map_or(0, |n| kept.len().saturating_sub(n));
        let text: String = kept[skip..]
            .iter()
            .map(|(at, l)| opts.render(*at, l))
            .collect();
        let text = match opts.limit_bytes {
            Some(n) => truncate_bytes(text, n),
            None => text,
        };
        Ok((text, cursor))
    }

    /// What was written to a pod's log after `cursor`, and the new cursor.
    pub fn pod_log_after(
        &self,
        ns: &str,
        pod: &str,
        cursor: LogCursor,
        opts: &LogOptions,
    ) -> (String, LogCursor) {
        let Some(log) = self.pod_logs.get(&(ns.to_string(), pod.to_string())) else {
            return (String::new(), cursor);
        };
        let Some((_, last)) = log.lines.last() else {
            return (String::new(), cursor);
        };
        let mut out = String::new();
        for (i, (at, line)) in log.lines.iter().enumerate().skip(cursor.line) {
            let from = if i == cursor.line { cursor.byte } else { 0 };
            match line.get(from..) {
                Some(rest) if !rest.is_empty() => {
                    // a continued partial line has its time already sent
                    if from == 0 {
                        out.push_str(&opts.render(*at, rest));
                    } else {
                        out.push_str(rest);
                    }
                }
                _ => {}
            }
        }
        let next = LogCursor {
            line: log.lines.len() - 1,
            byte: last.len(),
        };
        (out, next)
    }
}

/// The container a log or exec request is for: the named one (400 if the pod has no
/// such container), else the first.
pub fn pick_container<'a>(
    pod_obj: &'a Value,
    pod: &str,
    container: Option<&str>,
) -> Result<Option<&'a Value>, ApiError> {
    let all = pod_obj
        .pointer("/spec/containers")
        .and_then(Value::as_array)
        .map(|c| c.as_slice())
        .unwrap_or(&[]);
    match container {
        Some(c) => {
            let found = all
                .iter()
                .find(|x| x.get("name").and_then(Value::as_str) == Some(c));
            if found.is_none() && !all.is_empty() {
                return Err(ApiError::bad_request(format!(
                    "container {c} is not valid for pod {pod}"
                )));
            }
            Ok(found)
        }
        None => Ok(all.first()),
    }
}

/// When a pod started (its `status.startTime`, else its creation).
fn started_at(pod: &Value) -> Option<DateTime<Utc>> {
    ["/status/startTime", "/metadata/creationTimestamp"]
        .iter()
        .filter_map(|p| pod.pointer(p).and_then(Value::as_str))
        .find_map(|t| DateTime::parse_from_rfc3339(t).ok())
        .map(|t| t.with_timezone(&Utc))
}

fn default_log(pod: &str, container: Option<&Value>) -> String {
    let image = container
        .and_then(|c| c.get("image"))
        .and_then(Value::as_str)
        .unwrap_or("");
    let mut words: Vec<String> = Vec::new();
    for field in ["command", "args"] {
        if let Some(a) = container
            .and_then(|c| c.get(field))
            .and_then(Value::as_array)
        {
            words.extend(a.iter().map(|x| {
                x.as_str()
                    .map(str::to_string)
                    .unwrap_or_else(|| x.to_string())
            }));
        }
    }
    format!("fake kubelet: {pod} ran {image}: {}\n", words.join(" "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn appends_continue_a_partial_line() {
        let t = Utc::now();
        let mut log = PodLog::default();
        log.append("a\nb", t);
        log.append("c\nd\n", t);
        let lines: Vec<&str> = log.lines.iter().map(|(_, l)| l.as_str()).collect();
        assert_eq!(lines, ["a\n", "bc\n", "d\n"]);
    }

    #[test]
    fn truncation_keeps_characters_whole() {
        assert_eq!(truncate_bytes("héllo".into(), 2), "h");
        assert_eq!(truncate_bytes("hello".into(), 3), "hel");
    }
}
