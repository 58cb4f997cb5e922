//! Status of the other objects the watcher follows (kubernetes.md §7 `get_crd_status`,
//! orchestration.md §5.2): training-job custom resources and inference pods.

use k8s_openapi::api::core::v1::PodStatus;
use serde_json::Value;

/// The status of a training job: Volcano jobs (`batch.volcano.sh`) use
/// `status.state.phase`; the others `status.phase`, else the type of the last
/// `status.conditions` entry; `''` when none is set.
pub fn training_status(group: &str, obj: &Value) -> String {
    let text = |p: &str| obj.pointer(p).and_then(Value::as_str).map(str::to_string);
    if group == "batch.volcano.sh" {
        return text("/status/state/phase").unwrap_or_default();
    }
    text("/status/phase")
        .filter(|s| !s.is_empty())
        .or_else(|| {
            obj.pointer("/status/conditions")
                .and_then(Value::as_array)
                .and_then(|c| c.last())
                .and_then(|c| c.get("type"))
                .and_then(Value::as_str)
                .map(str::to_string)
        })
        .unwrap_or_default()
}

/// True for the statuses a training job ends in (kubeflow `Succeeded`/`Failed`, Volcano
/// `Completed`/`Aborted`/`Failed`/`Terminated`, Spark `COMPLETED`/`FAILED`).
pub fn is_training_final(status: &str) -> bool {
    matches!(
        status.to_ascii_lowercase().as_str(),
        "succeeded" | "failed" | "completed" | "aborted" | "terminated" | "error"
    )
}

/// Why a serving pod counts as crashed, if it does, from its `.status`: a container in
/// `CrashLoopBackOff`, or terminated while the pod itself is still meant to run (phase
/// `Pending`/`Running`; finished pods of jobs are not crashes).
pub fn pod_crash(status: &PodStatus) -> Option<String> {
    let phase = status.phase.as_deref().unwrap_or("");
    if !matches!(phase, "Pending" | "Running" | "") {
        return None;
    }
    for cs in status.container_statuses.as_ref()? {
        let Some(state) = cs.state.as_ref() else {
            continue;
        };
        if state.waiting.as_ref().and_then(|w| w.reason.as_deref()) == Some("CrashLoopBackOff") {
            return Some("CrashLoopBackOff".into());
        }
        if let Some(t) = state.terminated.as_ref() {
            let reason = t.reason.as_deref().unwrap_or("terminated");
            let code = t.exit_code;
            return Some(format!("terminated ({reason}, exit code {code})"));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn training_statuses() {
        let vc = json!({"status": {"state": {"phase": "Completed"}}});
        assert_eq!(training_status("batch.volcano.sh", &vc), "Completed");
        let tf = json!({"status": {"conditions": [{"type": "Created"}, {"type": "Running"}]}});
        assert_eq!(training_status("kubeflow.org", &tf), "Running");
        let p = json!({"status": {"phase": "Failed", "conditions": [{"type": "Running"}]}});
        assert_eq!(training_status("kubeflow.org", &p), "Failed");
        assert_eq!(training_status("kubeflow.org", &json!({})), "");
        assert!(is_training_final("Completed"));
        assert!(is_training_final("FAILED"));
        assert!(!is_training_final("Running"));
    }

    /// `pod_crash` of the `.status` of a pod given as JSON.
    fn crash(pod: Value) -> Option<String> {
        let status: PodStatus = serde_json::from_value(pod["status"].clone()).unwrap();
        pod_crash(&status)
    }

    #[test]
    fn crashes() {
        let running = json!({"status": {"phase": "Running", "containerStatuses": [
            {"state": {"running": {}}}]}});
        assert_eq!(crash(running), None);
        let loop_ = json!({"status": {"phase": "Running", "containerStatuses": [
            {"state": {"waiting": {"reason": "CrashLoopBackOff"}}}]}});
        assert_eq!(crash(loop_).as_deref(), Some("CrashLoopBackOff"));
        let term = json!({"status": {"phase": "Running", "containerStatuses": [
            {"state": {"terminated": {"reason": "Error", "exitCode": 137}}}]}});
        assert_eq!(
            crash(term).as_deref(),
            Some("terminated (Error, exit code 137)")
        );
        let done = json!({"status": {"phase": "Succeeded", "containerStatuses": [
            {"state": {"terminated": {"reason": "Completed", "exitCode": 0}}}]}});
        assert_eq!(crash(done), None);
        assert_eq!(crash(json!({"status": {"phase": "Pending"}})), None);
    }
}
