//! The node dialog of the run page (`GET /workflow_modelview/api/web/node_detail/…`,
//! orchestration.md §2.4): four tabs (the task's inputs and outputs with its buttons, its
//! pod, result charts, the workflow object), as pure functions of the node as the run
//! page draws it ([`super::run_dag::dag`]) and of its pod.
//!
//! Kept from the original: the tabs, groups and keys, the pod shown as indented JSON
//! without what only Kubernetes needs (managed fields, owner references, status, the
//! init and sidecar containers, Argo's variables and volumes), the buttons and their
//! URLs, marked `(no)` when they cannot work. Changed: buttons whose targets this back
//! end does not serve (online debug, related pods, offline log) are always marked `(no)`;
//! the result tab has its tip but not the original's fifteen demo charts.

use serde_json::{Map, Value, json};

/// Grafana's per-pod dashboard, below the cluster's host (the original's default
/// `GRAFANA_TASK_PATH`).
pub const GRAFANA_TASK_PATH: &str = "/grafana/d/pod-info/pod-info?var-pod=";

/// A node's pod as the dialog shows it.
#[derive(Debug, Clone)]
pub struct PodShown {
    /// `status.phase` (`Unknown` when it has none).
    pub phase: String,
    /// The pod as indented JSON, trimmed as [`trim_pod`] trims it.
    pub text: String,
}

/// Where the buttons point.
#[derive(Debug, Clone)]
pub struct Place<'a> {
    /// The cluster named in the URL.
    pub cluster: &'a str,
    /// The workflow's namespace.
    pub namespace: &'a str,
    /// The workflow's name.
    pub workflow: &'a str,
    /// Label `pipeline-name` of the workflow, else its name.
    pub pipeline_name: &'a str,
    /// `http://<host>` of the cluster's Grafana.
    pub host_url: &'a str,
    /// True when archived logs can be read (`S3_ENDPOINT`).
    pub archive: bool,
}

fn contains(v: &Value, needle: &str) -> bool {
    v.to_string().contains(needle)
}

/// A pod as the dialog shows it: without managed fields, owner references, the network
/// plugin's and kubectl's annotations, its creation time, version and uid, its init
/// containers, scheduling defaults and status, the volumes of the API token and of the
/// artifact store's credentials, and its containers other than Argo's `main` (the one run
/// through `emissary`), whose `ARGO_*` variables are dropped.
pub fn trim_pod(mut pod: Value) -> PodShown {
    let phase = pod
        .pointer("/status/phase")
        .and_then(Value::as_str)
        .unwrap_or("Unknown")
        .to_string();
    if let Some(meta) = pod.get_mut("metadata").and_then(Value::as_object_mut) {
        for k in [
            "managedFields",
            "ownerReferences",
            "creationTimestamp",
            "resourceVersion",
            "uid",
        ] {
            meta.remove(k);
        }
        if let Some(ann) = meta.get_mut("annotations").and_then(Value::as_object_mut) {
            ann.retain(|k, _| !k.contains("cni") && !k.contains("kubectl"));
        }
    }
    if let Some(spec) = pod.get_mut("spec").and_then(Value::as_object_mut) {
        for k in [
            "initContainers",
            "enableServiceLinks",
            "dnsPolicy",
            "tolerations",
            "terminationGracePeriodSeconds",
        ] {
            spec.remove(k);
        }
        let volumes: Vec<Value> = spec
            .get("volumes")
            .and_then(Value::as_array)
            .map(|vs| {
                vs.iter()
                    .filter(|v| !contains(v, "my-minio-cred") && !contains(v, "kube-api-access"))
                    .cloned()
                    .collect()
            })
            .unwrap_or_default();
        spec.insert("volumes".into(), Value::Array(volumes));
        let containers: Vec<Value> = spec
            .get("containers")
            .and_then(Value::as_array)
            .map(|cs| {
                cs.iter()
                    .filter(|c| {
                        c.get("command")
                            .is_some_and(|cmd| contains(cmd, "emissary"))
                    })
                    .map(|c| {
                        let mut c = c.clone();
                        if let Some(m) = c.as_object_mut() {
                            let env: Vec<Value> = m
                                .get("env")
                                .and_then(Value::as_array)
                                .map(|e| {
                                    e.iter()
                                        .filter(|x| !contains(x, "ARGO_"))
                                        .cloned()
                                        .collect()
                                })
                                .unwrap_or_default();
                            m.insert("env".into(), Value::Array(env));
                        }
                        c
                    })
                    .collect()
            })
            .unwrap_or_default();
        spec.insert("containers".into(), Value::Array(containers));
    }
    if let Some(m) = pod.as_object_mut() {
        m.remove("status");
    }
    PodShown {
        phase,
        text: pretty(&pod),
    }
}

/// JSON indented by four spaces, non-ASCII as it is.
pub fn pretty(v: &Value) -> String {
    let mut out = Vec::new();
    let fmt = serde_json::ser::PrettyFormatter::with_indent(b"    ");
    let mut ser = serde_json::Serializer::with_formatter(&mut out, fmt);
    if serde::Serialize::serialize(v, &mut ser).is_err() {
        return String::new();
    }
    String::from_utf8(out).unwrap_or_default()
}

fn text<'a>(v: &'a Value, key: &str) -> &'a str {
    v.get(key).and_then(Value::as_str).unwrap_or("")
}

/// The first node with id `id` in a run page's tree, walked as it is drawn (a node before
/// its children).
pub fn find_node<'a>(tree: &'a [Value], id: &str) -> Option<&'a Value> {
    tree.iter().find_map(|n| {
        if text(n, "nid") == id {
            Some(n)
        } else {
            find_node(
                n.get("children")
                    .and_then(Value::as_array)
                    .map_or(&[], Vec::as_slice),
                id,
            )
        }
    })
}

/// What each volume of the task is: its claim (`(pvc)`), host path (`(hostpath)`) or
/// `emptyDir` medium.
fn volume_sources(volumes: &Value) -> Map<String, Value> {
    let mut out = Map::new();
    for v in volumes.as_array().map_or(&[][..], Vec::as_slice) {
        let name = text(v, "name").to_string();
        let claim = v
            .pointer("/persistentVolumeClaim/claimName")
            .and_then(Value::as_str);
        if let Some(c) = claim.filter(|c| !c.is_empty()) {
            out.insert(name.clone(), json!(format!("{c}(pvc)")));
        }
        let path = v.pointer("/hostPath/path").and_then(Value::as_str);
        if let Some(p) = path.filter(|p| !p.is_empty()) {
            out.insert(name.clone(), json!(format!("{p}(hostpath)")));
        }
        let medium = v.pointer("/emptyDir/medium").and_then(Value::as_str);
        if let Some(m) = medium.filter(|m| !m.is_empty()) {
            out.insert(name, json!(m));
        }
    }
    out
}

fn group(name: &str, content: Value) -> Value {
    json!({"groupName": name, "groupContent": content})
}

fn button(label: &str, works: bool, url: String) -> Value {
    let text = if works {
        label.to_string()
    } else {
        format!("{label}(no)")
    };
    json!({"text": text, "url": url})
}

/// The dialog of `node` (a node of [`super::run_dag::dag`]): `{detail: [tabs], control}`.
/// `pod` is its pod when the cluster has it; `crd_json` is the run page's workflow object.
pub fn node_detail(
    node: &Value,
    pod: Option<&PodShown>,
    crd_json: &Value,
    at: &Place<'_>,
) -> Value {
    let pod_name = text(node, "pod");
    let node_type = text(node, "node_type");
    let message = text(node, "message");
    let sources = volume_sources(node.get("volumes").unwrap_or(&Value::Null));
    let mut mounts = Map::new();
    mounts.insert("容器路径".into(), json!("主机路径"));
    for m in node
        .get("volumeMounts")
        .and_then(Value::as_array)
        .map_or(&[][..], Vec::as_slice)
    {
        let source = sources
            .get(text(m, "name"))
            .cloned()
            .unwrap_or_else(|| json!(""));
        mounts.insert(text(m, "mountPath").to_string(), source);
    }
    let field = |k: &str| node.get(k).cloned().unwrap_or_else(|| json!(""));
    let task = json!({
        "task id": field("task_id"),
        "task name": field("task_name"),
        "task label": field("task_label"),
        "task start": field("start_time"),
        "task finish": field("finish_time"),
        "pod name": field("pod"),
        "log path": field("s3_key"),
        "metric path": field("metric_key"),
        "retry": field("retry"),
        "node selector": field("node_selector"),
        "resource cpu": field("resource_cpu"),
        "resource memory": field("resource_memory"),
        "resource gpu": field("resource_gpu"),
    });
    let (c, ns, wf) = (at.cluster, at.namespace, at.workflow);
    let buttons = if node_type == "Pod" {
        json!([
            button("在线日志", pod.is_some(), format!("/k8s/web/log/{c}/{ns}/{pod_name}/main")),
            button("在线调试", pod.is_some(), format!("/k8s/web/debug/{c}/{ns}/{pod_name}/main")),
            button("相关容器", true, format!("/k8s/web/search/{c}/{ns}/{}", at.pipeline_name)),
            {"text": "资源使用", "url": format!("{}{GRAFANA_TASK_PATH}{pod_name}", at.host_url)},
            // marked "(no)" when no S3 store is configured
            button(
                "离线日志",
                at.archive,
                format!("/workflow_modelview/api/web/log/{c}/{ns}/{wf}/{pod_name}/main.log")
            ),
        ])
    } else {
        json!([])
    };
    let io = json!({
        "tabName": "输入输出",
        "content": [
            group("消息", json!({
                "label": "消息",
                "value": if message.is_empty() { "运行正常" } else { message },
                "type": "html",
            })),
            group("任务详情", json!({"label": "任务详情", "value": task, "type": "map"})),
            group("挂载详情", json!({"label": "挂载详情", "value": mounts, "type": "map"})),
        ],
        "bottomButton": buttons,
    });
    let pod_tab = json!({
        "tabName": "pod信息",
        "content": [group("pod信息", json!({
            "value": pod.map_or("pod未发现", |p| p.text.as_str()),
            "type": "text",
        }))],
        "bottomButton": [],
    });
    let charts = json!({
        "tabName": "结果可视化",
        "content": [group("", json!({
            "value": "提示：支持任务结果、模型指标、数据集可视化预览",
            "type": "html",
        }))],
        "bottomButton": [],
    });
    let workflow = json!({
        "tabName": "workflow信息",
        "content": [group("json信息", json!({"value": pretty(crd_json), "type": "text"}))],
        "bottomButton": [],
    });
    json!({
        "detail": [io, pod_tab, charts, workflow],
        "control": {"width": "700px"},
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pod_keeps_the_main_container_without_argos_variables() {
        let pod = json!({
            "metadata": {"name": "p", "uid": "u", "managedFields": [{}], "ownerReferences": [{}],
                         "annotations": {"cni.projectcalico.org/podIP": "", "task": "t"}},
            "spec": {"initContainers": [{}], "dnsPolicy": "ClusterFirst",
                     "volumes": [{"name": "kube-api-access-1"}, {"name": "data"}],
                     "containers": [
                        {"name": "wait", "command": ["argoexec", "wait"]},
                        {"name": "main", "command": ["/var/run/argo/argoexec", "emissary", "--", "sh"],
                         "env": [{"name": "ARGO_NODE_ID", "value": "x"}, {"name": "A", "value": "1"}]}]},
            "status": {"phase": "Running"}
        });
        let shown = trim_pod(pod);
        assert_eq!(shown.phase, "Running");
        let v: Value = serde_json::from_str(&shown.text).unwrap_or_default();
        assert_eq!(
            v,
            json!({
                "metadata": {"name": "p", "annotations": {"task": "t"}},
                "spec": {"volumes": [{"name": "data"}],
                         "containers": [{"name": "main",
                            "command": ["/var/run/argo/argoexec", "emissary", "--", "sh"],
                            "env": [{"name": "A", "value": "1"}]}]}
            })
        );
        assert!(shown.text.contains("\n    \"metadata\": {"));
        assert_eq!(
            trim_pod(json!({"metadata": {}, "spec": {}})).phase,
            "Unknown"
        );
    }

    #[test]
    fn mounts_name_their_sources_and_buttons_say_what_works() {
        let node = json!({
            "node_type": "Pod", "pod": "wf-t-1", "message": "",
            "volumeMounts": [{"mountPath": "/a", "name": "ws"}, {"mountPath": "/b", "name": "tz"},
                             {"mountPath": "/c", "name": "shm"}, {"mountPath": "/d", "name": "none"}],
            "volumes": [{"name": "ws", "persistentVolumeClaim": {"claimName": "ws"}},
                        {"name": "tz", "hostPath": {"path": "/etc/tz"}},
                        {"name": "shm", "emptyDir": {"medium": "Memory"}}],
        });
        let at = Place {
            cluster: "dev",
            namespace: "pipeline",
            workflow: "wf",
            pipeline_name: "p",
            host_url: "http://h",
            archive: false,
        };
        let d = node_detail(&node, None, &json!({}), &at);
        let io = &d["detail"][0];
        assert_eq!(io["content"][0]["groupContent"]["value"], json!("运行正常"));
        assert_eq!(
            io["content"][2]["groupContent"]["value"],
            json!({"容器路径": "主机路径", "/a": "ws(pvc)", "/b": "/etc/tz(hostpath)", "/c": "Memory", "/d": ""})
        );
        let texts: Vec<&str> = io["bottomButton"]
            .as_array()
            .map(|b| b.iter().filter_map(|x| x["text"].as_str()).collect())
            .unwrap_or_default();
        assert_eq!(
            texts,
            [
                "在线日志(no)",
                "在线调试(no)",
                "相关容器",
                "资源使用",
                "离线日志(no)"
            ]
        );
        assert_eq!(
            io["bottomButton"][3]["url"],
            json!("http://h/grafana/d/pod-info/pod-info?var-pod=wf-t-1")
        );
        assert_eq!(
            d["detail"][1]["content"][0]["groupContent"]["value"],
            json!("pod未发现")
        );
        let mut dag_node = node.clone();
        dag_node["node_type"] = json!("DAG");
        assert_eq!(
            node_detail(&dag_node, None, &json!({}), &at)["detail"][0]["bottomButton"],
            json!([])
        );
        // with an archive store, the offline log works
        let with_store = node_detail(
            &node,
            None,
            &json!({}),
            &Place {
                archive: true,
                ..at
            },
        );
        assert_eq!(
            with_store["detail"][0]["bottomButton"][4]["text"],
            json!("离线日志")
        );
    }

    #[test]
    fn nodes_are_found_before_their_children() {
        let tree = vec![
            json!({"nid": "a", "x": 1, "children": [{"nid": "b", "children": [{"nid": "c", "x": 2}]}]}),
            json!({"nid": "c", "x": 3, "children": []}),
        ];
        assert_eq!(
            find_node(&tree, "c").map(|n| n["x"].clone()),
            Some(json!(2))
        );
        assert!(find_node(&tree, "d").is_none());
    }
}
