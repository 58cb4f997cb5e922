//! The total-resource page (`/total_resource/api`) against a fake cluster of 3 nodes
//! (two orgs, a GPU node, one node not Ready) with pods of two users in two projects'
//! namespaces and their `metrics.k8s.io` usage, and a fake Prometheus
//! (`tests/reference/total-resource-cluster.json`): what an admin and plain users see,
//! compared with what the original answered them for the same cluster
//! (`tests/reference/original/45_*`, recorded by `install/compare/record-total-resource.py`;
//! each deliberate difference is applied to the original's answer, with its reason): the
//! list, `_info`, the node pop-up, the gauges, `/data`; and `muldelete` queued for the
//! real worker, which deletes.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use actix_web::test;
use common::{TestApp, send};
use serde_json::{Value, json};
use testkit::fake_kube::{FakeKube, FakeKubeOptions};
use testkit::process::{Process, free_port};
use testkit::prometheus::FakePrometheus;

/// A file under `tests/reference/`.
fn reference(file: &str) -> Value {
    let path = format!("{}/tests/reference/{file}", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap()
}

/// The original's answer body of a recorded exchange (`45_*`).
fn original(name: &str) -> Value {
    let fx = reference(&format!("original/45_{name}.json"));
    assert_eq!(fx["response"]["status"], 200, "{name}");
    assert_eq!(fx["response"]["body_type"], "json", "{name}");
    fx["response"]["body"].clone()
}

/// Equal values with keys in the same order (compared as pretty JSON text, so that a
/// failure shows the lines that differ).
#[track_caller]
fn same(ours: &Value, theirs: &Value, what: &str) {
    let text = |v: &Value| serde_json::to_string_pretty(v).unwrap();
    assert_eq!(
        text(ours),
        text(theirs),
        "{what}: ours (left) and the original's (right)"
    );
}

/// The cluster of the recording: nodes, pods, `metrics.k8s.io` usage and the
/// Prometheus series (`tests/reference/total-resource-cluster.json`, which
/// `install/compare/record-total-resource.py` gave the original).
fn cluster_file() -> Value {
    reference("total-resource-cluster.json")
}

fn seed_cluster(kube: &FakeKube) {
    for item in cluster_file()["objects"].as_array().unwrap() {
        let field = |k: &str| item[k].as_str().unwrap();
        kube.insert(
            field("group"),
            field("version"),
            field("plural"),
            item["object"].clone(),
        );
    }
    // objects muldelete clears (not part of the recording)
    kube.insert(
        "",
        "v1",
        "services",
        json!({"apiVersion": "v1", "kind": "Service",
        "metadata": {"name": "nb-bob", "namespace": "jupyter"}, "spec": {}}),
    );
    kube.insert(
        "argoproj.io",
        "v1alpha1",
        "workflows",
        json!({"apiVersion": "argoproj.io/v1alpha1", "kind": "Workflow",
        "metadata": {"name": "wf-r1", "namespace": "pipeline", "labels": {"run-id": "r1"}}, "spec": {}}),
    );
}

fn seed_prometheus(prom: &FakePrometheus) {
    for s in cluster_file()["prometheus"].as_array().unwrap() {
        prom.seed(s["needle"].as_str().unwrap(), s["series"].clone());
    }
}

/// The list rows of a recorded list answer, in the order of their keys (`pod_info`):
/// the original lists namespaces in the order of a Python `set`, which changes from one
/// process to the next; ours in cluster, namespace, resource group, pod order.
fn original_rows(name: &str) -> Vec<Value> {
    let body = original(name);
    let mut rows = body["result"]["data"].as_array().unwrap().clone();
    assert_eq!(body["result"]["count"], rows.len(), "{name}");
    rows.sort_by(|a, b| a["pod_info"].as_str().cmp(&b["pod_info"].as_str()));
    rows
}

/// Deliberate difference in the list: the CPU used is the whole cores used, rounded up.
/// The original divides by 1000 a second time; for a usage in millicores (`run-a`'s
/// `1500m`) it shows 1 (`ceil(round(1.5) / 1000)`), ours 2. (For `nb-bob`'s
/// `250000000n` the two agree: the original reads nanocores as millionths.)
fn with_cpu_used_in_cores(mut rows: Vec<Value>) -> Vec<Value> {
    for r in &mut rows {
        if r["pod_info"] == "dev:pipeline:public:run-a" {
            assert_eq!(r["cpu"], "1/2");
            r["cpu"] = json!("2/2");
        }
    }
    rows
}

/// A recorded `/data` answer with the deliberate differences applied, its namespaces in
/// name order (the original's are in the order of a Python `set`).
fn original_data(name: &str) -> Value {
    let mut body = original(name);
    sort_namespaces(&mut body);
    for (_, orgs) in body["result"]["pods"]["dev"].as_object_mut().unwrap() {
        for (_, pods) in orgs.as_object_mut().unwrap() {
            for (pod, d) in pods.as_object_mut().unwrap() {
                // the original's sum over no container with limits is the integer 0;
                // ours is always a float
                for k in ["limit_cpu", "limit_memory"] {
                    if d[k] == json!(0) {
                        d[k] = json!(0.0);
                    }
                }
                // the CPU used in cores: the original reads nanocores (`250000000n`)
                // as millionths of a core (250.0)
                if pod == "nb-bob" {
                    assert_eq!(d["used_cpu"], json!(250.0));
                    d["used_cpu"] = json!(0.25);
                }
            }
        }
    }
    body
}

/// The (namespace, resource group) of every pod of `user` in the cluster file (the
/// original's `user`/`username`/`run-rtx`/`rtx-user` label, else admin; the group from
/// the node selector, else `unknown`; these pods have no affinity).
fn owned_groups(user: &str) -> Vec<(String, String)> {
    let file = cluster_file();
    file["objects"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|o| o["plural"] == "pods" && o["group"] == "")
        .map(|o| &o["object"])
        .filter(|p| {
            let l = &p["metadata"]["labels"];
            let owner = ["user", "username", "run-rtx", "rtx-user"]
                .iter()
                .find_map(|k| l[*k].as_str())
                .unwrap_or("admin");
            owner == user
        })
        .map(|p| {
            (
                p["metadata"]["namespace"].as_str().unwrap().to_string(),
                p["spec"]["nodeSelector"]["org"]
                    .as_str()
                    .unwrap_or("unknown")
                    .to_string(),
            )
        })
        .collect()
}

fn sort_namespaces(body: &mut Value) {
    let pods = &mut body["result"]["pods"]["dev"];
    let sorted: std::collections::BTreeMap<String, Value> =
        serde_json::from_value(pods.take()).unwrap();
    *pods = json!(sorted);
}

/// A gauge: its name, its data's name, max and value.
type Gauge = (String, String, i64, i64);

/// The gauges of an `echart` answer: per series its name, its data's name, max and
/// value, and the three title subtexts. Ours is JSON; the original's a JavaScript
/// object literal (single quotes, bare keys, comments), read line by line.
fn gauges(text: &str) -> (Vec<Gauge>, Vec<String>) {
    if let Ok(v) = serde_json::from_str::<Value>(text) {
        let series = v["series"].as_array().unwrap();
        let g = series
            .iter()
            .map(|s| {
                (
                    s["name"].as_str().unwrap().to_string(),
                    s["data"][0]["name"].as_str().unwrap().to_string(),
                    s["max"].as_i64().unwrap(),
                    s["data"][0]["value"].as_i64().unwrap(),
                )
            })
            .collect();
        let titles = v["title"].as_array().unwrap();
        let t = titles
            .iter()
            .map(|t| t["subtext"].as_str().unwrap().to_string())
            .collect();
        return (g, t);
    }
    fn after<'a>(line: &'a str, key: &str) -> Option<&'a str> {
        line.strip_prefix(key).map(|r| r.trim_end_matches(','))
    }
    let quoted = |v: &str| v.trim_matches('\'').to_string();
    let (mut names, mut maxes, mut values, mut titles) = (vec![], vec![], vec![], vec![]);
    for line in text.lines().map(str::trim) {
        if let Some(v) = after(line, "name: ") {
            names.push(quoted(v));
        } else if let Some(v) = after(line, "max: ") {
            maxes.push(v.parse::<i64>().unwrap());
        } else if let Some(v) = after(line, "value: ") {
            values.push(v.parse::<i64>().unwrap());
        } else if let Some(v) = after(line, "\"subtext\": ") {
            titles.push(quoted(v));
        }
    }
    assert_eq!(names.len(), 2 * maxes.len(), "{text}");
    assert_eq!(values.len(), maxes.len(), "{text}");
    let g = (0..maxes.len())
        .map(|i| {
            (
                names[2 * i].clone(),
                names[2 * i + 1].clone(),
                maxes[i],
                values[i],
            )
        })
        .collect();
    (g, titles)
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
            .insert_header(("Host", "127.0.0.1:8090"))
    };

    // Each answer is compared with the original's for the same cluster, users and
    // projects (`tests/reference/original/45_*`, `install/compare/record-total-resource.py`;
    // requests to 127.0.0.1:8090, the links' host). Deliberate differences are patched
    // into the original's answer below, each with its reason.

    // _info: the original's fixed dict
    for user in ["admin", "alice"] {
        let info = send(&svc, get("/total_resource/api/_info", user)).await;
        assert_eq!(info.status, 200);
        same(
            &info.body,
            &original(&format!("total_resource_info_{user}")),
            "_info",
        );
    }

    // the list: the admin sees every pod holding resources in the project namespaces,
    // plain users their own pods
    for user in ["admin", "alice", "bob"] {
        let r = send(&svc, get("/total_resource/api/", user)).await;
        assert_eq!(r.status, 200, "{}", r.body);
        let theirs = original(&format!("total_resource_list_{user}"));
        let rows = with_cpu_used_in_cores(original_rows(&format!("total_resource_list_{user}")));
        let mut expected = theirs.clone();
        expected["result"]["data"] = json!(rows);
        same(&r.body, &expected, &format!("list as {user}"));
    }
    assert_eq!(original("total_resource_list_admin")["result"]["count"], 3);
    // ordered by the memory ratio: the original's order exactly
    let fd = |v: Value| format!("/total_resource/api/?{}", common::form_data(&v));
    let r = send(
        &svc,
        get(
            &fd(json!({"order_column": "memory", "order_direction": "desc"})),
            "admin",
        ),
    )
    .await;
    let mut expected = original("total_resource_list_order_memory_desc_admin");
    expected["result"]["data"] = json!(with_cpu_used_in_cores(
        expected["result"]["data"].as_array().unwrap().clone()
    ));
    same(&r.body, &expected, "list by memory, descending");
    // ordering by the cpu ratio (ours: run-a 2/2, nb-bob 1/4, svc-x-1 0/1), paging, bad input
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
    // paging: ours answers the page asked for (as every other list); the original's view
    // ignores `page` and `page_size` and answers every row (its recorded page 1 of size 2)
    let all = with_cpu_used_in_cores(original_rows("total_resource_list_admin"));
    let paged = original_rows("total_resource_list_page_admin");
    assert_eq!(paged.len(), 3);
    let r = send(&svc, get(&fd(json!({"page": 1, "page_size": 2})), "admin")).await;
    assert_eq!(
        (
            r.body["result"]["count"].clone(),
            r.body["result"]["data"].clone()
        ),
        (json!(3), json!([all[2]]))
    );
    let r = send(&svc, get(&fd(json!({"order_column": "password"})), "admin")).await;
    assert_eq!(r.status, 400, "{}", r.body);

    // the node pop-up: the admin sees every node (linked), alice the public org's, bob
    // the train org's: the original's answers exactly
    let popup = |user: &str| {
        send(
            &svc,
            get(
                "/myapp/feature/check?url=%2Ffrontend%2Fservice%2Ftotal_resource",
                user,
            ),
        )
    };
    for user in ["admin", "alice", "bob"] {
        let r = popup(user).await;
        assert_eq!(r.status, 200);
        same(
            &r.body,
            &original(&format!("feature_check_total_resource_{user}")),
            &format!("pop-up as {user}"),
        );
    }
    let r = send(
        &svc,
        get("/myapp/feature/check?url=%2Ffrontend%2F", "admin"),
    )
    .await;
    same(&r.body, &original("feature_check_other_admin"), "no pop-up");

    // the gauges: totals, requested and used (Prometheus) shares, of the nodes the
    // caller sees (the original's for each user on a cold cache; with a warm one it
    // serves whichever user's totals were cached last)
    for user in ["admin", "alice", "bob"] {
        let r = send(&svc, get("/total_resource/api/echart", user)).await;
        assert_eq!(r.body["status"], 0);
        let theirs = original(&format!("total_resource_echart_{user}"));
        assert_eq!(
            (r.body["status"].clone(), r.body["message"].clone()),
            (theirs["status"].clone(), theirs["message"].clone())
        );
        assert_eq!(
            gauges(r.body["result"].as_str().unwrap()),
            gauges(theirs["result"].as_str().unwrap()),
            "echart as {user}"
        );
    }
    let r = send(&svc, get("/total_resource/api/echart", "admin")).await;
    let values: Vec<i64> = gauges(r.body["result"].as_str().unwrap())
        .0
        .iter()
        .map(|g| g.3)
        .collect();
    assert_eq!(values, [112, 28, 4, 12, 25, 25, 2, 5, 12]);
    let ranges: Vec<_> = prom
        .queries()
        .iter()
        .filter(|q| q.path == "/api/v1/query_range")
        .map(|q| q.param("step").unwrap().to_string())
        .collect();
    assert!(ranges.iter().all(|s| s == "1m") && !ranges.is_empty());

    // /data: the admin's whole picture; bob's own pod and org
    let r = send(&svc, get("/total_resource/api/data", "admin")).await;
    let mut ours = r.body.clone();
    sort_namespaces(&mut ours);
    same(
        &ours,
        &original_data("total_resource_data_admin"),
        "/data as admin",
    );
    // plain users: their own pods (the original: everyone's), the nodes of their orgs
    // (the original: all) and the totals over those (as the original on a cold cache)
    for (user, orgs) in [("alice", ["public"]), ("bob", ["train"])] {
        let r = send(&svc, get("/total_resource/api/data", user)).await;
        let mut ours = r.body.clone();
        sort_namespaces(&mut ours);
        let mut theirs = original_data(&format!("total_resource_data_{user}"));
        let result = &mut theirs["result"];
        // (namespace, org) of the user's pods, holding resources or not
        let own = owned_groups(user);
        for (ns, by_org) in result["pods"]["dev"].as_object_mut().unwrap() {
            let by_org = by_org.as_object_mut().unwrap();
            for (_, pods) in by_org.iter_mut() {
                pods.as_object_mut()
                    .unwrap()
                    .retain(|_, p| p["username"] == user);
            }
            by_org.retain(|org, _| own.contains(&(ns.clone(), org.clone())));
        }
        result["nodes"]["dev"]
            .as_object_mut()
            .unwrap()
            .retain(|_, n| orgs.contains(&n["labels"]["org"].as_str().unwrap()));
        same(&ours, &theirs, &format!("/data as {user}"));
    }
    let r = send(&svc, get("/total_resource/api/data", "bob")).await;
    assert_eq!(
        r.body["result"]["nodes"]["dev"]
            .as_object()
            .unwrap()
            .keys()
            .collect::<Vec<_>>(),
        ["10.0.0.3"]
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
