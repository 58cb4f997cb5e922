//! The texts and receivers of the notifications the worker and the watcher send
//! (orchestration.md §3.2 `deliver_message`, §5.1, §5.2), and the Redis keys that make
//! each of them go out once.

use crate::workflow_status::TaskTime;

/// Users to notify: the comma lists given, trimmed, empty items and repeats dropped, in
/// order.
pub fn receivers(lists: &[&str]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for item in lists.iter().flat_map(|l| l.split(',')) {
        let item = item.trim();
        if !item.is_empty() && !out.iter().any(|o| o == item) {
            out.push(item.to_string());
        }
    }
    out
}

/// True when `status` is one of the comma-separated `alert_status` items. (The original
/// tested a substring, so `''` and `Run` matched `Running`; this compares whole items.)
pub fn is_alerted(alert_status: &str, status: &str) -> bool {
    !status.is_empty() && alert_status.split(',').any(|s| s.trim() == status)
}

/// What a workflow notification says.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct WorkflowMessage<'a> {
    /// The workflow name.
    pub workflow: &'a str,
    /// `pipeline.name`.
    pub pipeline_name: &'a str,
    /// `pipeline.describe`.
    pub describe: &'a str,
    /// The workflow's namespace.
    pub namespace: &'a str,
    /// The status reached.
    pub status: &'a str,
    /// Local times, `''` when unknown.
    pub start_time: &'a str,
    /// See `start_time`.
    pub finish_time: &'a str,
}

impl WorkflowMessage<'_> {
    /// The original's text (`watch_workflow.deliver_message`).
    pub fn text(&self) -> String {
        format!(
            "workflow: {} \npipeline: {}({}) \nnamespace: {}\nstatus: {} \nstart_time: {}\nfinish_time: {}\n\n",
            self.workflow,
            self.pipeline_name,
            self.describe,
            self.namespace,
            self.status,
            self.start_time,
            self.finish_time
        )
    }
}

/// The `pod详情` link of a pipeline's workflow notifications.
pub fn pipeline_pod_link(host_url: &str, pipeline_id: i32) -> (String, String) {
    (
        "pod详情".to_string(),
        format!(
            "{}/pipeline_modelview/api/web/pod/{pipeline_id}",
            host_url.trim_end_matches('/')
        ),
    )
}

/// The `点击查看资源的使用` link of the task-time notification.
pub fn pipeline_monitoring_link(host_url: &str, pipeline_id: i32) -> (String, String) {
    (
        "点击查看资源的使用".to_string(),
        format!(
            "{}/pipeline_modelview/api/web/monitoring/{pipeline_id}",
            host_url.trim_end_matches('/')
        ),
    )
}

/// The "start run" message of a cron run (`schedules.deliver_message`); with an error it
/// is the "fail start run" variant.
pub fn run_start_message(
    pipeline_name: &str,
    describe: &str,
    namespace: &str,
    crontab: &str,
    now: &str,
    error: Option<&str>,
) -> String {
    let tail = match error {
        None => "start run".to_string(),
        Some(e) => format!("fail start run:\n{e}"),
    };
    format!(
        "pipeline: {pipeline_name}({describe}) \nnamespace: {namespace}\ncrontab: {crontab}\ntime: {now}\n{tail}"
    )
}

/// Hours, floored, as the original's `push_task_time` shows them.
pub fn whole_hours(seconds: i64) -> i64 {
    seconds.max(0) / 3600
}

/// The per-task duration message sent once when a workflow succeeds, and whether any
/// task took longer than `alert_hours` (then admins get it too).
pub fn task_time_message(
    workflow: &str,
    pipeline_name: &str,
    describe: &str,
    tasks: &[TaskTime],
    alert_hours: i64,
) -> (String, bool) {
    let mut text = format!("workflow: {workflow} \npipeline: {pipeline_name}({describe})\n");
    let mut long = false;
    for t in tasks {
        let secs = t.seconds().unwrap_or(0);
        long |= secs > alert_hours * 3600;
        text.push_str(&format!("{}: {}h ({}s)\n", t.task, whole_hours(secs), secs));
    }
    (text, long)
}

/// The crash message of an inference pod (`watch_service.py`).
pub fn pod_crash_message(cluster: &str, pod: &str, user: &str, reason: &str) -> String {
    format!("cluster: {cluster}, pod: {pod}, user: {user}, status: {reason}")
}

/// A training job's status-change message.
pub fn training_job_message(
    cluster: &str,
    kind: &str,
    namespace: &str,
    name: &str,
    status: &str,
) -> String {
    format!("cluster: {cluster}\n{kind}: {namespace}/{name}\nstatus: {status}")
}

/// Redis keys of once-only notifications; `prefix` isolates tests ("" in production).
pub mod keys {
    /// A workflow reached `status`.
    pub fn workflow_status(
        prefix: &str,
        cluster: &str,
        ns: &str,
        name: &str,
        status: &str,
    ) -> String {
        format!("{prefix}cube:notify:workflow:{cluster}:{ns}:{name}:{status}")
    }
    /// A workflow's usage samples were recorded.
    pub fn workflow_usage(prefix: &str, cluster: &str, ns: &str, name: &str) -> String {
        format!("{prefix}cube:usage:workflow:{cluster}:{ns}:{name}")
    }
    /// A workflow's task durations were sent.
    pub fn workflow_task_time(prefix: &str, cluster: &str, ns: &str, name: &str) -> String {
        format!("{prefix}cube:notify:task-time:{cluster}:{ns}:{name}")
    }
    /// A run was started (or failed to start).
    pub fn run_start(prefix: &str, run: i32, failed: bool) -> String {
        let what = if failed { "fail" } else { "start" };
        format!("{prefix}cube:notify:run-{what}:{run}")
    }
    /// An inference pod crashed (TTL one hour: at most one message an hour).
    pub fn pod_crash(prefix: &str, cluster: &str, ns: &str, pod: &str) -> String {
        format!("{prefix}cube:notify:pod-crash:{cluster}:{ns}:{pod}")
    }
    /// A training job reached `status`.
    pub fn training_status(
        prefix: &str,
        cluster: &str,
        plural: &str,
        ns: &str,
        name: &str,
        status: &str,
    ) -> String {
        format!("{prefix}cube:notify:training:{cluster}:{plural}:{ns}:{name}:{status}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn receivers_are_deduplicated() {
        assert_eq!(
            receivers(&["alice,bob", " bob , carol,,", ""]),
            vec!["alice", "bob", "carol"]
        );
        assert!(receivers(&[]).is_empty());
    }

    #[test]
    fn alert_items_are_whole_words() {
        let a = "Pending,Running,Succeeded,Failed,Terminated";
        assert!(is_alerted(a, "Running"));
        assert!(is_alerted("Failed, Succeeded", "Succeeded"));
        assert!(!is_alerted(a, ""));
        assert!(!is_alerted(a, "Run"));
        assert!(!is_alerted(a, "Error"));
    }

    #[test]
    fn texts_match_the_original() {
        let m = WorkflowMessage {
            workflow: "p-ab12",
            pipeline_name: "p",
            describe: "demo",
            namespace: "pipeline",
            status: "Succeeded",
            start_time: "2026-11-30 11:00:00",
            finish_time: "2026-11-30 11:10:00",
        };
        assert_eq!(
            m.text(),
            "workflow: p-ab12 \npipeline: p(demo) \nnamespace: pipeline\nstatus: Succeeded \nstart_time: 2026-11-30 11:00:00\nfinish_time: 2026-11-30 11:10:00\n\n"
        );
        assert_eq!(
            run_start_message("p", "d", "pipeline", "*/5 * * * *", "t", None),
            "pipeline: p(d) \nnamespace: pipeline\ncrontab: */5 * * * *\ntime: t\nstart run"
        );
        assert!(
            run_start_message("p", "d", "ns", "c", "t", Some("boom"))
                .ends_with("fail start run:\nboom")
        );
        assert_eq!(
            pipeline_pod_link("http://h/", 3).1,
            "http://h/pipeline_modelview/api/web/pod/3"
        );
    }

    #[test]
    fn task_times_flag_long_tasks() {
        let t = |secs: i64| TaskTime {
            task: "train".into(),
            node_id: "n".into(),
            template: "train".into(),
            phase: "Succeeded".into(),
            started: crate::workflow_status::parse_time("2026-11-30T00:00:00Z"),
            finished: crate::workflow_status::parse_time("2026-11-30T00:00:00Z")
                .map(|s| s + chrono::Duration::seconds(secs)),
        };
        let (text, long) = task_time_message("w", "p", "d", &[t(7300)], 4);
        assert!(text.contains("train: 2h (7300s)"));
        assert!(!long);
        assert!(task_time_message("w", "p", "d", &[t(5 * 3600)], 4).1);
        assert_eq!(whole_hours(-5), 0);
    }
}
