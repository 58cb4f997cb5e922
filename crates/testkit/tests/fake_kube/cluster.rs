//! What the "total resources" and pod pages read: nodes, pods holding resources,
//! metrics-server metrics and events, seeded with `testkit::fixtures::cluster`.

use k8s_openapi::api::core::v1::{Event as CoreEvent, Node, Pod};
use kube::api::{Api, ApiResource, DynamicObject, GroupVersionKind, ListParams, PostParams};
use serde_json::{Value, json};
use testkit::fake_kube::{FakeKube, FakeKubeOptions};
use testkit::fixtures::cluster::{node, node_metrics, pod as pod_on, pod_event, pod_metrics};

use super::{WAIT, api_error, obj, pod};

fn names<T: kube::Resource>(items: &[T]) -> Vec<String> {
    items.iter().filter_map(|o| o.meta().name.clone()).collect()
}

fn metrics(kind: &str, plural: &str) -> ApiResource {
    ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk("metrics.k8s.io", "v1beta1", kind),
        plural,
    )
}

#[tokio::test]
async fn nodes_and_the_pods_that_hold_their_resources() {
    let kube = FakeKube::start(FakeKubeOptions::default()).await;
    kube.insert(
        "",
        "v1",
        "nodes",
        node("gpu-1")
            .ip("192.168.1.5")
            .label("train", "true")
            .label("gpu-type", "A100")
            .capacity("cpu", "64")
            .capacity("memory", "256Gi")
            .capacity("nvidia.com/gpu", "8")
            .allocatable("cpu", "62")
            .build(),
    );
    kube.insert(
        "",
        "v1",
        "nodes",
        node("cpu-1").label("cpu", "true").ready(false).build(),
    );
    let client = kube.client().await;
    let nodes: Api<Node> = Api::all(client.clone());
    let all = nodes.list(&ListParams::default()).await.unwrap().items;
    assert_eq!(names(&all), ["cpu-1", "gpu-1"]);
    let train = nodes
        .list(&ListParams::default().labels("train=true,gpu-type in (A100,V100)"))
        .await
        .unwrap()
        .items;
    assert_eq!(names(&train), ["gpu-1"]);
    let gpu = nodes.get("gpu-1").await.unwrap();
    let status = gpu.status.unwrap();
    let (capacity, allocatable) = (status.capacity.unwrap(), status.allocatable.unwrap());
    assert_eq!(capacity["nvidia.com/gpu"].0, "8");
    assert_eq!(capacity["cpu"].0, "64");
    assert_eq!(allocatable["cpu"].0, "62");
    let address = &status.addresses.unwrap()[0];
    assert_eq!(
        (address.type_.as_str(), address.address.as_str()),
        ("InternalIP", "192.168.1.5")
    );
    assert_eq!(status.conditions.unwrap()[0].status, "True");
    assert_eq!(api_error(nodes.get("nope").await).0, 404);

    for (ns, name, user) in [("pipeline", "train-1", "alice"), ("jupyter", "nb-1", "bob")] {
        kube.insert(
            "",
            "v1",
            "pods",
            pod_on(ns, name)
                .on_node("gpu-1", "192.168.1.5")
                .label("run-rtx", user)
                .annotation("project", "demo")
                .request("cpu", "4")
                .request("memory", "8Gi")
                .limit("nvidia.com/gpu", "1")
                .build(),
        );
    }
    kube.insert(
        "",
        "v1",
        "pods",
        pod_on("pipeline", "waiting").phase("Pending").build(),
    );
    let pods: Api<Pod> = Api::all(client);
    let on_gpu = pods
        .list(&ListParams::default().fields("spec.nodeName=gpu-1,status.phase=Running"))
        .await
        .unwrap()
        .items;
    assert_eq!(names(&on_gpu), ["nb-1", "train-1"]);
    let p = &on_gpu[1];
    assert_eq!(
        p.status.as_ref().unwrap().host_ip.as_deref(),
        Some("192.168.1.5")
    );
    let resources = p.spec.as_ref().unwrap().containers[0]
        .resources
        .clone()
        .unwrap();
    assert_eq!(resources.requests.unwrap()["cpu"].0, "4");
    assert_eq!(resources.limits.unwrap()["nvidia.com/gpu"].0, "1");
    let alice = pods
        .list(&ListParams::default().labels("run-rtx=alice"))
        .await
        .unwrap()
        .items;
    assert_eq!(names(&alice), ["train-1"]);
}

#[tokio::test]
async fn metrics_are_listed_and_refuse_writes() {
    let kube = FakeKube::start(FakeKubeOptions::default()).await;
    kube.insert(
        "metrics.k8s.io",
        "v1beta1",
        "pods",
        pod_metrics("pipeline", "train-1")
            .label("run-rtx", "alice")
            .container("main", "250m", "512Mi")
            .container("sidecar", "1234567n", "123456Ki")
            .build(),
    );
    kube.insert(
        "metrics.k8s.io",
        "v1beta1",
        "pods",
        pod_metrics("jupyter", "nb-1")
            .container("main", "1", "1Gi")
            .build(),
    );
    kube.insert(
        "metrics.k8s.io",
        "v1beta1",
        "nodes",
        node_metrics("gpu-1", "3500m", "12Gi"),
    );
    let client = kube.client().await;
    let pm = metrics("PodMetrics", "pods");
    let all: Api<DynamicObject> = Api::all_with(client.clone(), &pm);
    let items = all.list(&ListParams::default()).await.unwrap().items;
    assert_eq!(names(&items), ["nb-1", "train-1"]);
    let one: Api<DynamicObject> = Api::namespaced_with(client.clone(), "pipeline", &pm);
    let items = one.list(&ListParams::default()).await.unwrap().items;
    assert_eq!(items.len(), 1);
    assert_eq!(items[0].types.as_ref().unwrap().kind, "PodMetrics");
    assert_eq!(items[0].data["containers"][1]["usage"]["cpu"], "1234567n");
    assert_eq!(items[0].data["containers"][0]["usage"]["memory"], "512Mi");
    let by_label = all
        .list(&ListParams::default().labels("run-rtx=alice"))
        .await
        .unwrap()
        .items;
    assert_eq!(names(&by_label), ["train-1"]);

    let nm = metrics("NodeMetrics", "nodes");
    let nodes: Api<DynamicObject> = Api::all_with(client.clone(), &nm);
    let n = nodes.get("gpu-1").await.unwrap();
    assert_eq!(n.data["usage"], json!({"cpu": "3500m", "memory": "12Gi"}));

    let write: DynamicObject = obj(pod_metrics("pipeline", "x").build());
    assert_eq!(
        api_error(one.create(&PostParams::default(), &write).await).0,
        405
    );
}

#[tokio::test]
async fn events_by_field_selectors() {
    let kube = FakeKube::start(FakeKubeOptions::default()).await;
    for e in [
        pod_event("pipeline", "train-1", "Scheduled", "assigned").component("default-scheduler"),
        pod_event("pipeline", "train-1", "BackOff", "Back-off pulling image")
            .warning()
            .count(3),
        pod_event("pipeline", "train-2", "FailedMount", "no volume").warning(),
        pod_event("jupyter", "train-1", "Started", "Started container main"),
    ] {
        kube.insert("", "v1", "events", e.build());
    }
    let client = kube.client().await;
    let all: Api<CoreEvent> = Api::all(client.clone());
    let ns: Api<CoreEvent> = Api::namespaced(client, "pipeline");
    let reasons = |items: Vec<CoreEvent>| -> Vec<String> {
        let mut r: Vec<String> = items.into_iter().filter_map(|e| e.reason).collect();
        r.sort();
        r
    };
    let fields = |f: &str| ListParams::default().fields(f);
    let of_pod = ns
        .list(&fields("involvedObject.name=train-1"))
        .await
        .unwrap();
    assert_eq!(reasons(of_pod.items), ["BackOff", "Scheduled"]);
    let warnings = all
        .list(&fields("type=Warning,involvedObject.namespace=pipeline"))
        .await
        .unwrap();
    assert_eq!(reasons(warnings.items), ["BackOff", "FailedMount"]);
    let not_warning = all
        .list(&fields("involvedObject.name=train-1,type!=Warning"))
        .await
        .unwrap();
    assert_eq!(reasons(not_warning.items), ["Scheduled", "Started"]);
    let by_reason = all
        .list(&fields("reason=BackOff,involvedObject.kind=Pod"))
        .await
        .unwrap();
    let backoff = &by_reason.items[0];
    assert_eq!(backoff.count, Some(3));
    assert_eq!(
        backoff.source.as_ref().unwrap().component.as_deref(),
        Some("kubelet")
    );
    let by_source = all.list(&fields("source=default-scheduler")).await.unwrap();
    assert_eq!(reasons(by_source.items), ["Scheduled"]);
}

#[tokio::test]
async fn the_kubelet_records_events_for_pods_it_starts() {
    let kube = FakeKube::start(FakeKubeOptions::default().kubelet(true)).await;
    let client = kube.client().await;
    let pods: Api<Pod> = Api::namespaced(client.clone(), "ev");
    pods.create(&PostParams::default(), &pod("web", json!({}), "Always"))
        .await
        .unwrap();
    let events: Api<CoreEvent> = Api::namespaced(client, "ev");
    let fields = ListParams::default().fields("involvedObject.name=web");
    let mut reasons = Vec::new();
    let deadline = tokio::time::Instant::now() + WAIT;
    while reasons.len() < 4 && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        reasons = events
            .list(&fields)
            .await
            .unwrap()
            .items
            .into_iter()
            .filter_map(|e| e.reason)
            .collect();
    }
    reasons.sort();
    assert_eq!(reasons, ["Created", "Pulled", "Scheduled", "Started"]);
    let pod_uid = pods.get("web").await.unwrap().metadata.uid;
    let started = kube
        .objects("", "v1", "events", Some("ev"))
        .into_iter()
        .find(|e| e["reason"] == "Started")
        .unwrap();
    assert_eq!(started["involvedObject"]["uid"], Value::from(pod_uid));
    assert_eq!(
        started["involvedObject"]["fieldPath"],
        "spec.containers{main}"
    );
}
