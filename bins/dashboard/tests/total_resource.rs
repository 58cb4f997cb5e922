//! The total-resource page (`/total_resource/api`) against a fake cluster of 3 nodes
//! (two orgs, a GPU node, one node not Ready) with pods of two users in two projects'
//! namespaces and their `metrics.k8s.io` usage, and a fake Prometheus: what an admin
//! and plain users see (values as the original computes them), the node pop-up, the
//! gauges, `/data`, and `muldelete` queued for the real worker, which deletes.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use actix_web::test;
use common::{TestApp, send};
use serde_json::{Value, json};
use testkit::fake_kube::{FakeKube, FakeKubeOptions};
use testkit::process::{Process, free_port};
use testkit::prometheus::FakePrometheus;

fn node(name: &str, ip: &str, labels: Value, alloc: Value, ready: bool) -> Value {
    json!({"apiVersion": "v1", "kind": "Node",
        "metadata": {"name": name, "labels": labels, "creationTimestamp": "2024-01-01T00:00:00Z"},
        "status": {"allocatable": alloc,
            "conditions": [{"type": "Ready", "status": if ready {"True"} else {"Unknown"}}],
            "addresses": [{"type": "InternalIP", "address": ip}],
            "nodeInfo": {"kubeletVersion": "v1.33.0"}}})
}

#[allow(clippy::too_many_arguments)]
fn pod(
    ns: &str,
    name: &str,
    labels: Value,
    node: &str,
    ip: &str,
    requests: Value,
    phase: &str,
    extra_spec: Value,
) -> Value {
    let mut spec = json!({"nodeName": node, "containers": [{"name": "main", "image": "x",
        "resources": {"requests": requests}}]});
    for (k, v) in extra_spec.as_object().unwrap() {
        spec[k] = v.clone();
    }
    json!({"apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "namespace": ns, "labels": labels,
            "annotations": {"project": "public"}, "creationTimestamp": "2024-01-01T00:00:00Z"},
        "spec": spec,
        "status": {"phase": phase, "hostIP": ip, "podIP": "172.16.0.9",
            "conditions": [{"type": "PodScheduled", "status": "True"}]}})
}

fn usage(ns: &str, name: &str, cpu: &str, mem: &str) -> Value {
    json!({"apiVersion": "metrics.k8s.io/v1beta1", "kind": "PodMetrics",
        "metadata": {"name": name, "namespace": ns}, "timestamp": "2024-01-01T00:00:00Z", "window": "30s",
        "containers": [{"name": "main", "usage": {"cpu": cpu, "memory": mem}}]})
}

fn seed_cluster(kube: &FakeKube) {
    let ins = |g: &str, v: &str, p: &str, o: Value| kube.insert(g, v, p, o);
    ins(
        "",
        "v1",
        "nodes",
        node(
            "node-a",
            "10.0.0.1",
            json!({"org": "public", "cpu": "true"}),
            json!({"cpu": "8", "memory": "32Gi"}),
            true,
        ),
    );
    ins(
        "",
        "v1",
        "nodes",
        node(
            "node-b",
            "10.0.0.2",
            json!({"org": "public", "gpu": "true", "gpu-type": "T4"}),
            json!({"cpu": "16", "memory": "64Gi", "nvidia.com/gpu": "4"}),
            true,
        ),
    );
    ins(
        "",
        "v1",
        "nodes",
        node(
            "node-c",
            "10.0.0.3",
            json!({"org": "train", "cpu": "true", "share": "false"}),
            json!({"cpu": "4000m", "memory": "16Gi"}),
            false,
        ),
    );
    // alice's run pod (pipeline namespace), with a run-id
    ins(
        "",
        "v1",
        "pods",
        pod(
            "pipeline",
            "run-a",
            json!({"run-rtx": "alice", "run-id": "r1"}),
            "node-a",
            "10.0.0.1",
            json!({"cpu": "2", "memory": "4Gi"}),
            "Running",
            json!({"nodeSelector": {"org": "public"}}),
        ),
    );
    // alice's finished pod: holds nothing
    ins(
        "",
        "v1",
        "pods",
        pod(
            "pipeline",
            "done-a",
            json!({"run-rtx": "alice"}),
            "node-a",
            "10.0.0.1",
            json!({"cpu": "8"}),
            "Succeeded",
            json!({}),
        ),
    );
    // bob's notebook with a GPU
    ins(
        "",
        "v1",
        "pods",
        pod(
            "jupyter",
            "nb-bob",
            json!({"user": "bob"}),
            "node-b",
            "10.0.0.2",
            json!({"cpu": "4", "memory": "8Gi", "nvidia.com/gpu": "1"}),
            "Running",
            json!({"nodeSelector": {"org": "public"}}),
        ),
    );
    // a service pod without a user label (filed under admin), scheduled, org by affinity
    ins(
        "",
        "v1",
        "pods",
        pod(
            "service",
            "svc-x-1",
            json!({"app": "svc-x"}),
            "node-b",
            "10.0.0.2",
            json!({"cpu": "1"}),
            "Pending",
            json!({"affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution":
            {"nodeSelectorTerms": [{"matchExpressions": [{"key": "org", "operator": "In", "values": ["public"]}]}]}}}}),
        ),
    );
    // a system pod: not listed, but its requests count on its node
    ins(
        "",
        "v1",
        "pods",
        pod(
            "kube-system",
            "coredns",
            json!({}),
            "node-c",
            "10.0.0.3",
            json!({"cpu": "500m", "memory": "1Gi"}),
            "Running",
            json!({}),
        ),
    );
    ins(
        "metrics.k8s.io",
        "v1beta1",
        "pods",
        usage("pipeline", "run-a", "1500m", "2Gi"),
    );
    ins(
        "metrics.k8s.io",
        "v1beta1",
        "pods",
        usage("jupyter", "nb-bob", "250000000n", "1536Mi"),
    );
    // objects muldelete clears
    ins(
        "",
        "v1",
        "services",
        json!({"apiVersion": "v1", "kind": "Service",
        "metadata": {"name": "nb-bob", "namespace": "jupyter"}, "spec": {}}),
    );
    ins(
        "argoproj.io",
        "v1alpha1",
        "workflows",
        json!({"apiVersion": "argoproj.io/v1alpha1", "kind": "Workflow",
        "metadata": {"name": "wf-r1", "namespace": "pipeline", "labels": {"run-id": "r1"}}, "spec": {}}),
    );
}

fn seed_prometheus(prom: &FakePrometheus) {
    prom.seed(
        "container_memory_working_set_bytes",
        json!([
        {"metric": {"pod": "run-a"}, "values": [[1, "1073741824"], [2, "2147483648"]]}]),
    );
    prom.seed(
        "container_cpu_usage_seconds_total",
        json!([
        {"metric": {"pod": "run-a"}, "values": [[1, "0.5"], [2, "1.5"]]}]),
    );
    prom.seed(
        "DCGM_FI_DEV_GPU_UTIL",
        json!([
        {"metric": {"pod": "nb-bob"}, "values": [[1, "50"]]}]),
    );
}

#[allow(clippy::too_many_arguments)]
fn row(
    cluster: &str,
    ns: &str,
    pod: &str,
    user: &str,
    ip: &str,
    cpu: &str,
    mem: &str,
    gpu: &str,
    labels: Value,
) -> Value {
    json!({
        "cluster": cluster, "project": "public", "resource_group": "public",
        "namespace": format!("<a target=\"blank\" href=\"/k8s/web/search/{cluster}/{ns}/{pod}\">{ns}</a>"),
        "pod": format!("<a target=\"blank\" href=\"//localhost:8080/grafana/d/pod-info/pod-info?var-pod={pod}\">{pod}</a>"),
        "pod_info": format!("{cluster}:{ns}:public:{pod}"),
        "label": labels,
        "username": user,
        "node": format!("<a target=\"blank\" href=\"//localhost:8080/grafana/d/node/node?var-node={ip}\">{ip}</a>"),
        "cpu": cpu, "memory": mem, "gpu": gpu,
        "start_time": "2024-01-01 08:00:00",
    })
}

#[actix_web::test]
async fn admins_and_users_see_what_the_original_shows_them() {
    let kube = FakeKube::start(FakeKubeOptions::default()).await;
    seed_cluster(&kube);
    let prom = FakePrometheus::start().await;
    seed_prometheus(&prom);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("kubeconfig");
    kube.write_kubeconfig_for(&path, "dashboard").unwrap();
    let worker_kubeconfig = dir.path().join("worker-kubeconfig");
    kube.write_kubeconfig_for(&worker_kubeconfig, "worker")
        .unwrap();
    let prefix = testkit::fixtures::prefix();
    let app = TestApp::with_config(&[
        ("KUBECONFIG", path.to_str().unwrap()),
        ("QUEUE_PREFIX", &prefix),
        ("PROMETHEUS_URL", &prom.url),
    ]);
    let alice = app.add_user("alice");
    let bob = app.add_user("bob");
    // alice: member of the public org; bob: of an org project `train`
    app.exec("INSERT INTO project (name, `describe`, type, expand, created_on, changed_on) VALUES ('train', 'train', 'org', '{\"org\": \"train\"}', NOW(), NOW())");
    app.exec(&format!(
        "DELETE FROM project_user WHERE user_id IN ({alice}, {bob})"
    ));
    app.exec(&format!("INSERT INTO project_user (project_id, user_id, role, created_on, changed_on) SELECT id, {alice}, 'dev', NOW(), NOW() FROM project WHERE name='public'"));
    app.exec(&format!("INSERT INTO project_user (project_id, user_id, role, created_on, changed_on) SELECT id, {bob}, 'dev', NOW(), NOW() FROM project WHERE name='train'"));
    app.state.ctx_cache.clear();
    let svc = test::init_service(dashboard::dashboard_app!(app.state.clone())).await;
    let get = |uri: &str, user: &str| {
        test::TestRequest::get()
            .uri(uri)
            .insert_header(("Authorization", app.auth(user)))
            .insert_header(("Host", "localhost:8080"))
    };

    // _info: the original's fixed dict
    let info = send(&svc, get("/total_resource/api/_info", "alice")).await;
    assert_eq!(info.status, 200);
    let keys: Vec<&str> = info
        .body
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        keys,
        [
            "cols_width",
            "label_columns",
            "list_columns",
            "label_title",
            "list_title",
            "ops_link",
            "permissions",
            "route_base",
            "order_columns",
            "filters",
            "page_size",
            "echart",
            "action",
            "add_columns",
            "add_fieldsets",
            "add_title",
            "columns_info",
            "description_columns",
            "edit_columns",
            "fixed_columns",
            "edit_fieldsets",
            "edit_title",
            "related",
            "show_columns",
            "show_fieldsets",
            "show_title",
            "download_data",
            "import_data",
            "enable_favorite",
            "primary_key",
            "help_url"
        ]
    );
    assert_eq!(info.body["primary_key"], "pod_info");
    assert_eq!(info.body["route_base"], "/total_resource/api/");
    assert_eq!(info.body["permissions"], json!(["can_list"]));
    assert_eq!(info.body["action"]["muldelete"]["single"], json!(false));

    // the admin sees every pod holding resources in the project namespaces
    let nb = row(
        "dev",
        "jupyter",
        "nb-bob",
        "bob",
        "10.0.0.2",
        "1/4",
        "2/8",
        "1.0",
        json!({"user": "bob"}),
    );
    let run = row(
        "dev",
        "pipeline",
        "run-a",
        "alice",
        "10.0.0.1",
        "2/2",
        "2/4",
        "0.0",
        json!({"run-id": "r1", "run-rtx": "alice"}),
    );
    let svc_x = row(
        "dev",
        "service",
        "svc-x-1",
        "admin",
        "10.0.0.2",
        "0/1",
        "0/0",
        "0.0",
        json!({"app": "svc-x"}),
    );
    let r = send(&svc, get("/total_resource/api/", "admin")).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["status"], 0);
    assert_eq!(r.body["result"]["count"], 3);
    assert_eq!(r.body["result"]["data"], json!([nb, run, svc_x]));
    // plain users: their own pods only
    let r = send(&svc, get("/total_resource/api/", "alice")).await;
    assert_eq!(r.body["result"]["data"], json!([run]));
    let r = send(&svc, get("/total_resource/api/", "bob")).await;
    assert_eq!(r.body["result"]["data"], json!([nb]));
    // ordering by the cpu ratio, paging, bad input
    let fd = |v: Value| format!("/total_resource/api/?{}", common::form_data(&v));
    let r = send(
        &svc,
        get(
            &fd(json!({"order_column": "cpu", "order_direction": "desc"})),
            "admin",
        ),
    )
    .await;
    let names: Vec<&str> = r.body["result"]["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["pod_info"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "dev:pipeline:public:run-a",
            "dev:jupyter:public:nb-bob",
            "dev:service:public:svc-x-1"
        ]
    );
    let r = send(&svc, get(&fd(json!({"page": 1, "page_size": 2})), "admin")).await;
    assert_eq!(
        (
            r.body["result"]["count"].clone(),
            r.body["result"]["data"].clone()
        ),
        (json!(3), json!([svc_x]))
    );
    let r = send(&svc, get(&fd(json!({"order_column": "password"})), "admin")).await;
    assert_eq!(r.status, 400, "{}", r.body);

    // the node pop-up: the admin sees every node, bob only the train org
    let popup = |user: &str| {
        send(
            &svc,
            get(
                "/myapp/feature/check?url=%2Ffrontend%2Fservice%2Ftotal_resource",
                user,
            ),
        )
    };
    let admin_popup = popup("admin").await.body;
    assert_eq!(admin_popup["title"], "机器负载");
    assert_eq!(admin_popup["target"], "/frontend/service/total_resource");
    let html = admin_popup["content"].as_str().unwrap();
    let td = |s: &str| format!("<td style=\"border: 1px solid black;padding: 10px\">{s}</th>");
    assert!(html.contains(&format!("<tr bgcolor=\"#FFFFFF\">{} {} {} {} {} {} {}<tr>",
        td("dev"), td("public"),
        td("<a target=\"_blank\" href=\"//localhost:8080/k8s/dashboard/cluster/#/node/node-b?namespace=default\">10.0.0.2</a>"),
        td("<a target=\"blank\" href=\"//localhost:8080/grafana/d/all-node/all-node?var-org=\">gpu/T4</a>"),
        td("cpu:5/16"), td("mem:8/64"), td("gpu:1.0/4"))), "{html}");
    assert!(html.contains(&format!("<tr bgcolor=\"#F0F0F0\">{} {} {}", td("dev"), td("train"),
        td("<a target=\"_blank\" href=\"//localhost:8080/k8s/dashboard/cluster/#/node/node-c?namespace=default\"><del>10.0.0.3</del></a>"))), "{html}");
    assert!(html.contains(&td("cpu:0/4")) && html.contains(&td("mem:1/16")));
    assert!(html.contains(&td("cpu:2/8")));
    let bob_html = popup("bob").await.body["content"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(bob_html.contains(&td("<del>10.0.0.3</del>")), "{bob_html}");
    assert!(!bob_html.contains("10.0.0.1") && !bob_html.contains("10.0.0.2"));
    let alice_html = popup("alice").await.body["content"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(alice_html.contains(&td("10.0.0.1")) && !alice_html.contains("10.0.0.3"));
    assert_eq!(popup("alice").await.body["hit"], true);
    assert_eq!(
        send(
            &svc,
            get("/myapp/feature/check?url=%2Ffrontend%2F", "admin")
        )
        .await
        .body,
        json!({})
    );

    // the gauges: totals, requested and used (Prometheus) shares
    let r = send(&svc, get("/total_resource/api/echart", "admin")).await;
    assert_eq!(r.body["status"], 0);
    let option: Value = serde_json::from_str(r.body["result"].as_str().unwrap()).unwrap();
    let values: Vec<i64> = option["series"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["data"][0]["value"].as_i64().unwrap())
        .collect();
    assert_eq!(values, [112, 28, 4, 12, 25, 25, 2, 5, 12]);
    let ranges: Vec<_> = prom
        .queries()
        .iter()
        .filter(|q| q.path == "/api/v1/query_range")
        .map(|q| q.param("step").unwrap().to_string())
        .collect();
    assert_eq!(ranges, ["1m", "1m", "1m"]);

    // /data: the admin's whole picture; bob's own pod and org
    let r = send(&svc, get("/total_resource/api/data", "admin")).await;
    let d = &r.body["result"];
    assert_eq!(
        d["cluster"]["dev"],
        json!({"cpu_req": 7, "cpu_all": 28, "mem_req": 13, "mem_all": 112, "gpu_req": 1.0, "gpu_all": 4})
    );
    assert_eq!(d["nodes"]["dev"]["10.0.0.2"]["used_gpu"], json!(1.0));
    assert_eq!(
        d["pods"]["dev"]["pipeline"]["public"]["run-a"]["used_cpu"],
        json!(1.5)
    );
    let r = send(&svc, get("/total_resource/api/data", "bob")).await;
    let d = &r.body["result"];
    assert_eq!(
        d["nodes"]["dev"]
            .as_object()
            .unwrap()
            .keys()
            .collect::<Vec<_>>(),
        ["10.0.0.3"]
    );
    assert_eq!(
        d["pods"]["dev"]
            .as_object()
            .unwrap()
            .keys()
            .collect::<Vec<_>>(),
        ["jupyter"]
    );

    // muldelete: alice clears her pod, not bob's; the admin clears bob's notebook
    let worker_addr = format!("127.0.0.1:{}", free_port());
    let mut worker = Process::spawn(
        "worker",
        &[
            ("DATABASE_URL", app.db.url.as_str()),
            ("REDIS_URL", "redis://127.0.0.1:6379/0"),
            ("KUBECONFIG", worker_kubeconfig.to_str().unwrap()),
            ("QUEUE_PREFIX", &prefix),
            ("WORKER_POLL_MS", "100"),
            ("WORKER_ADDR", &worker_addr),
            ("RUST_LOG", "info"),
        ],
    );
    let post = |user: &str, ids: Value| {
        test::TestRequest::post()
            .uri("/total_resource/api/multi_action/muldelete")
            .insert_header(("Authorization", app.auth(user)))
            .set_json(json!({"ids": ids}))
    };
    let r = send(
        &svc,
        post(
            "alice",
            json!([
                "dev:pipeline:public:run-a",
                "dev:jupyter:public:nb-bob",
                "no-colons"
            ]),
        ),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["status"], 0);
    assert_eq!(
        r.body["message"],
        "{\n    \"message\": \"delete: ['dev:pipeline:public:run-a']\",\n    \"fail\": [\n        \"dev:jupyter:public:nb-bob\",\n        \"no-colons\"\n    ]\n}"
    );
    let r = send(&svc, post("admin", json!(["dev:jupyter:public:nb-bob"]))).await;
    assert_eq!(
        r.body["message"],
        "{\n    \"message\": \"delete: ['dev:jupyter:public:nb-bob']\"\n}"
    );
    let gone = |ns: &str, plural: &str, group: &str, version: &str, name: &str| {
        kube.get(group, version, plural, Some(ns), name).is_none()
    };
    let done = testkit::fixtures::wait_for(Duration::from_secs(60), || {
        (gone("pipeline", "pods", "", "v1", "run-a")
            && gone("pipeline", "workflows", "argoproj.io", "v1alpha1", "wf-r1")
            && gone("jupyter", "pods", "", "v1", "nb-bob")
            && gone("jupyter", "services", "", "v1", "nb-bob"))
        .then_some(())
    })
    .await;
    assert!(
        done.is_some(),
        "the worker did not clear the pods; its log:\n{}",
        worker.logs()
    );
    assert!(!gone("service", "pods", "", "v1", "svc-x-1"));
    // bad bodies are 400
    let r = send(
        &svc,
        test::TestRequest::post()
            .uri("/total_resource/api/multi_action/muldelete")
            .insert_header(("Authorization", app.auth("admin")))
            .set_json(json!({"ids": "x"})),
    )
    .await;
    assert_eq!(r.status, 400);
    let r = send(
        &svc,
        post("admin", json!([])).uri("/total_resource/api/multi_action/nothing"),
    )
    .await;
    assert_eq!(r.status, 400);
    assert!(testkit::rbac::assert_allowed(&kube, "dashboard") > 0);
    assert!(testkit::rbac::assert_allowed(&kube, "worker") > 0);
    worker.terminate(Duration::from_secs(10));
    testkit::fixtures::cleanup_redis_prefix(&prefix).await;
}

#[actix_web::test]
async fn without_prometheus_the_gauges_say_so() {
    let kube = FakeKube::start(FakeKubeOptions::default()).await;
    seed_cluster(&kube);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("kubeconfig");
    kube.write_kubeconfig_for(&path, "dashboard").unwrap();
    let app = TestApp::with_config(&[("KUBECONFIG", path.to_str().unwrap())]);
    let svc = test::init_service(dashboard::dashboard_app!(app.state.clone())).await;
    let r = send(
        &svc,
        test::TestRequest::get()
            .uri("/total_resource/api/echart")
            .insert_header(("Authorization", app.auth("admin"))),
    )
    .await;
    let option: Value = serde_json::from_str(r.body["result"].as_str().unwrap()).unwrap();
    assert_eq!(option["series"].as_array().unwrap().len(), 6);
    assert_eq!(
        option["title"][2]["subtext"],
        "资源利用率: 未配置 Prometheus (PROMETHEUS_URL)"
    );
}
