//! Unit tests of the Argo controller's step function.

use serde_json::{Value, json};

use super::argo::{node_id, step};

/// Steps `wf` until it finishes (at most 50 steps), answering every phase seen.
fn run(mut wf: Value, fail: &dyn Fn(&str) -> bool) -> (Value, Vec<String>) {
    let mut phases = Vec::new();
    for _ in 0..50 {
        match step(&wf, fail) {
            Some(status) => {
                let p = status["phase"].as_str().unwrap().to_string();
                if phases.last() != Some(&p) {
                    phases.push(p);
                }
                wf["status"] = status;
            }
            None => return (wf, phases),
        }
    }
    panic!("workflow did not finish: {wf}");
}

#[test]
fn node_ids_are_stable_ten_digit_numbers() {
    let id = node_id("wf-1", "task");
    assert_eq!(id, node_id("wf-1", "task"));
    assert_ne!(id, node_id("wf-1", "other"));
    let digits = id.strip_prefix("wf-1-").unwrap();
    assert!(digits.len() == 10 && digits.bytes().all(|b| b.is_ascii_digit()));
}

#[test]
fn a_single_container_workflow_is_one_pod_node() {
    let wf = json!({"metadata": {"name": "one"}, "spec": {"entrypoint": "main",
        "templates": [{"name": "main", "container": {"image": "busybox"}}]}});
    let (done, phases) = run(wf.clone(), &|_| false);
    assert_eq!(phases, ["Pending", "Running", "Succeeded"]);
    let root = &done["status"]["nodes"]["one"];
    assert_eq!(
        (root["type"].as_str(), root["phase"].as_str()),
        (Some("Pod"), Some("Succeeded"))
    );
    let (failed, _) = run(wf, &|t| t == "main");
    assert_eq!(failed["status"]["phase"], "Failed");
}

#[test]
fn depends_expressions_and_shutdown() {
    let wf = json!({"metadata": {"name": "d"}, "spec": {"entrypoint": "dag", "templates": [{"name": "dag",
        "dag": {"tasks": [{"name": "a", "template": "t"}, {"name": "b", "template": "t"},
            {"name": "c", "template": "t", "depends": "a.Succeeded && (b || a)"}]}}]}});
    let (done, _) = run(wf.clone(), &|_| false);
    let nodes = done["status"]["nodes"].as_object().unwrap();
    let pos = |t: &str| nodes.keys().position(|k| *k == node_id("d", t)).unwrap();
    assert!(pos("c") > pos("a") && pos("c") > pos("b"));
    assert_eq!(
        nodes[&node_id("d", "a")]["children"],
        json!([node_id("d", "c")])
    );
    assert_eq!(
        nodes[&node_id("d", "b")]["children"],
        json!([node_id("d", "c")])
    );

    // stopping a running workflow fails what is active
    let mut running = wf;
    for _ in 0..3 {
        running["status"] = step(&running, &|_| false).unwrap();
    }
    assert_eq!(running["status"]["phase"], "Running");
    running["spec"]["shutdown"] = json!("Terminate");
    let stopped = step(&running, &|_| false).unwrap();
    assert_eq!(stopped["phase"], "Failed");
    assert_eq!(stopped["message"], "Stopped with strategy 'Terminate'");
    assert!(
        step(
            &json!({"metadata": {"name": "d"}, "status": stopped}),
            &|_| false
        )
        .is_none()
    );
}
