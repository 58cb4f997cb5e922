//! The fake API server, always through a real `kube::Client` built from its kubeconfig.
//! No timed assertions: every wait polls with a generous timeout.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers may panic

use std::collections::BTreeSet;
use std::time::Duration;

use futures::{Stream, StreamExt};
use k8s_openapi::api::core::v1::{
    ConfigMap, Event as CoreEvent, Namespace, PersistentVolumeClaim, Pod,
};
use kube::api::{
    Api, ApiResource, DeleteParams, DynamicObject, GroupVersionKind, ListParams, LogParams, Patch,
    PatchParams, PostParams, WatchEvent, WatchParams,
};
use kube::runtime::watcher::{self, Event};
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use testkit::fake_kube::{FakeKube, FakeKubeOptions, node_id};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

mod cluster;
mod streams;

const WAIT: Duration = Duration::from_secs(10);

fn obj<T: DeserializeOwned>(v: Value) -> T {
    serde_json::from_value(v).expect("test object")
}

fn api_error<T: std::fmt::Debug>(r: Result<T, kube::Error>) -> (u16, String) {
    match r {
        Err(kube::Error::Api(s)) => (s.code, s.reason.clone()),
        other => panic!("expected an API error, got {other:?}"),
    }
}

fn configmap(name: &str, labels: Value) -> ConfigMap {
    obj(json!({"metadata": {"name": name, "labels": labels}, "data": {"k": "v"}}))
}

fn pod(name: &str, labels: Value, restart: &str) -> Pod {
    obj(json!({
        "metadata": {"name": name, "labels": labels},
        "spec": {"restartPolicy": restart,
            "containers": [{"name": "main", "image": "busybox", "command": ["sh", "-c"], "args": ["echo hi"]}]},
    }))
}

fn workflows() -> ApiResource {
    ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk("argoproj.io", "v1alpha1", "Workflow"),
        "workflows",
    )
}

fn workflow(name: &str, ns: &str) -> Value {
    json!({"apiVersion": "argoproj.io/v1alpha1", "kind": "Workflow",
        "metadata": {"name": name, "namespace": ns}, "spec": {"entrypoint": "main", "templates": []}})
}

/// A workflow whose entrypoint DAG has `tasks` = `(name, dependencies, when)`.
fn dag_workflow(
    name: &str,
    tasks: &[(&str, &[&str], Option<&str>)],
    parallelism: Option<u64>,
) -> DynamicObject {
    let mut templates = vec![
        json!({"name": "dag", "dag": {"tasks": tasks.iter().map(|(t, deps, when)| {
        let mut task = json!({"name": t, "template": format!("tpl-{t}"), "dependencies": deps});
        if let Some(w) = when { task["when"] = json!(w); }
        task
    }).collect::<Vec<_>>()}}),
    ];
    for (t, ..) in tasks {
        templates.push(json!({"name": format!("tpl-{t}"),
            "container": {"image": "busybox", "command": ["echo"], "args": [t]}}));
    }
    let mut spec = json!({"entrypoint": "dag", "templates": templates, "serviceAccountName": "pipeline-runner"});
    if let Some(p) = parallelism {
        spec["parallelism"] = json!(p);
    }
    obj(
        json!({"apiVersion": "argoproj.io/v1alpha1", "kind": "Workflow",
        "metadata": {"name": name, "namespace": "pipeline", "labels": {"pipeline-id": "7"}}, "spec": spec}),
    )
}

async fn next<S, T>(stream: &mut S) -> T
where
    S: Stream<Item = T> + Unpin,
{
    match tokio::time::timeout(WAIT, stream.next()).await {
        Ok(Some(v)) => v,
        Ok(None) => panic!("stream ended"),
        Err(_) => panic!("no event within {WAIT:?}"),
    }
}

/// Raw HTTP/1.1 on the server (for bodies `kube::Client` cannot send).
async fn raw_http(
    kube: &FakeKube,
    method: &str,
    path: &str,
    content_type: &str,
    body: &str,
) -> (u16, Value) {
    let mut s = tokio::net::TcpStream::connect(kube.addr()).await.unwrap();
    let req = format!(
        "{method} {path} HTTP/1.1\r\nHost: localhost\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    s.write_all(req.as_bytes()).await.unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).await.unwrap();
    let code = out
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let json_start = out.find("\r\n\r\n").map(|i| i + 4).unwrap_or(0);
    (
        code,
        serde_json::from_str(&out[json_start..]).unwrap_or(Value::Null),
    )
}

#[tokio::test]
async fn crud_with_conflicts_and_not_found() {
    let kube = FakeKube::start(FakeKubeOptions::default()).await;
    assert!(kube.kubeconfig_yaml().contains(&kube.url()));
    let client = kube.client().await;
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), "pipeline");
    let pp = PostParams::default();

    let created = cms
        .create(&pp, &configmap("a", json!({"app": "x"})))
        .await
        .unwrap();
    let meta = &created.metadata;
    assert_eq!(meta.namespace.as_deref(), Some("pipeline"));
    assert!(
        meta.uid.is_some() && meta.creation_timestamp.is_some() && meta.resource_version.is_some()
    );
    assert_eq!(
        api_error(cms.create(&pp, &configmap("a", json!({}))).await),
        (409, "AlreadyExists".into())
    );
    assert_eq!(
        api_error(cms.get("missing").await),
        (404, "NotFound".into())
    );

    // replace with the current resourceVersion, then with the now stale one
    let mut stale = cms.get("a").await.unwrap();
    stale.data = Some([("k".to_string(), "v1".to_string())].into());
    let updated = cms.replace("a", &pp, &stale).await.unwrap();
    assert_ne!(
        updated.metadata.resource_version,
        stale.metadata.resource_version
    );
    stale.data = Some([("k".to_string(), "v2".to_string())].into());
    assert_eq!(
        api_error(cms.replace("a", &pp, &stale).await),
        (409, "Conflict".into())
    );
    // without a resourceVersion the replace is unconditional
    let mut blind = configmap("a", json!({"app": "y"}));
    blind.data = Some([("k".to_string(), "v3".to_string())].into());
    let replaced = cms.replace("a", &pp, &blind).await.unwrap();
    assert_eq!(replaced.data.unwrap()["k"], "v3");
    assert_eq!(replaced.metadata.uid, created.metadata.uid);
    assert_eq!(
        api_error(
            cms.replace("nope", &pp, &configmap("nope", json!({})))
                .await
        )
        .0,
        404
    );

    // generateName, and a missing name
    let generated = cms
        .create(&pp, &obj(json!({"metadata": {"generateName": "gen-"}})))
        .await
        .unwrap();
    let gen_name = generated.metadata.name.unwrap();
    assert!(
        gen_name.starts_with("gen-") && gen_name.len() == 9,
        "{gen_name}"
    );
    assert_eq!(
        api_error(cms.create(&pp, &obj(json!({"metadata": {}}))).await).0,
        422
    );

    // cluster-wide list, cluster-scoped resources
    let other: Api<ConfigMap> = Api::namespaced(client.clone(), "jupyter");
    other.create(&pp, &configmap("b", json!({}))).await.unwrap();
    let all: Api<ConfigMap> = Api::all(client.clone());
    let names: BTreeSet<String> = all
        .list(&ListParams::default())
        .await
        .unwrap()
        .items
        .into_iter()
        .filter_map(|c| c.metadata.name)
        .collect();
    assert_eq!(
        names,
        BTreeSet::from(["a".to_string(), "b".to_string(), gen_name.clone()])
    );
    let nss: Api<Namespace> = Api::all(client.clone());
    nss.create(&pp, &obj(json!({"metadata": {"name": "team-x"}})))
        .await
        .unwrap();
    let ns = nss.get("team-x").await.unwrap();
    assert_eq!(ns.status.unwrap().phase.as_deref(), Some("Active"));
    assert!(ns.metadata.namespace.is_none());

    // delete answers the object; a second delete is 404
    let deleted = cms.delete("a", &DeleteParams::default()).await.unwrap();
    assert_eq!(
        deleted.left().and_then(|c| c.metadata.name).as_deref(),
        Some("a")
    );
    assert_eq!(
        api_error(cms.delete("a", &DeleteParams::default()).await).0,
        404
    );
    assert!(
        kube.get("", "v1", "configmaps", Some("pipeline"), "a")
            .is_none()
    );
    assert_eq!(kube.objects("", "v1", "configmaps", None).len(), 2);

    // error bodies are Status JSON
    let (code, status) = raw_http(
        &kube,
        "POST",
        "/api/v1/namespaces/x/configmaps",
        "application/json",
        "{bad",
    )
    .await;
    assert_eq!(
        (code, status["kind"].as_str(), status["reason"].as_str()),
        (400, Some("Status"), Some("BadRequest"))
    );
    let version = client.apiserver_version().await.unwrap();
    assert_eq!(version.major, "1");
}

#[tokio::test]
async fn label_and_field_selectors_and_paging() {
    let kube = FakeKube::start(FakeKubeOptions::default()).await;
    let client = kube.client().await;
    let pods: Api<Pod> = Api::namespaced(client.clone(), "sel");
    let pp = PostParams::default();
    for (name, labels) in [
        ("web-1", json!({"app": "web", "tier": "front"})),
        ("web-2", json!({"app": "web", "tier": "back"})),
        ("db-1", json!({"app": "db"})),
        ("plain", json!({})),
    ] {
        pods.create(&pp, &pod(name, labels, "Always"))
            .await
            .unwrap();
    }
    kube.insert(
        "",
        "v1",
        "pods",
        json!({"metadata": {"name": "done", "namespace": "sel"}, "status": {"phase": "Succeeded"}}),
    );
    let names = |sel: &'static str, fields: &'static str| {
        let pods = pods.clone();
        async move {
            let lp = ListParams::default().labels(sel).fields(fields);
            pods.list(&lp)
                .await
                .unwrap()
                .items
                .into_iter()
                .filter_map(|p| p.metadata.name)
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(names("app=web", "").await, ["web-1", "web-2"]);
    assert_eq!(names("app!=web", "").await, ["db-1", "done", "plain"]);
    assert_eq!(names("tier", "").await, ["web-1", "web-2"]);
    assert_eq!(names("!app", "").await, ["done", "plain"]);
    assert_eq!(
        names("app in (db, web),tier notin (back)", "").await,
        ["db-1", "web-1"]
    );
    assert_eq!(names("", "metadata.name=db-1").await, ["db-1"]);
    assert_eq!(names("", "status.phase=Succeeded").await, ["done"]);
    assert_eq!(
        names("app=web", "metadata.namespace=sel,metadata.name!=web-1").await,
        ["web-2"]
    );
    assert_eq!(
        api_error(pods.list(&ListParams::default().labels("app in (x")).await).0,
        400
    );

    let events: Api<CoreEvent> = Api::namespaced(client.clone(), "sel");
    for (name, involved, kind) in [
        ("e1", "web-1", "Warning"),
        ("e2", "web-1", "Normal"),
        ("e3", "db-1", "Warning"),
    ] {
        events
            .create(
                &pp,
                &obj(
                    json!({"metadata": {"name": name}, "type": kind, "reason": "Test",
                "involvedObject": {"kind": "Pod", "name": involved, "namespace": "sel"}}),
                ),
            )
            .await
            .unwrap();
    }
    let ev = |fields: &'static str| {
        let events = events.clone();
        async move {
            events
                .list(&ListParams::default().fields(fields))
                .await
                .unwrap()
                .items
                .into_iter()
                .filter_map(|e| e.metadata.name)
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(ev("involvedObject.name=web-1").await, ["e1", "e2"]);
    assert_eq!(ev("type=Warning").await, ["e1", "e3"]);

    // pages of 2, then the rest
    let first = pods.list(&ListParams::default().limit(2)).await.unwrap();
    assert_eq!(first.items.len(), 2);
    let token = first.metadata.continue_.clone().expect("continue token");
    let rest = pods
        .list(&ListParams::default().limit(10).continue_token(&token))
        .await
        .unwrap();
    assert_eq!(rest.items.len(), 3);
    assert!(rest.metadata.continue_.is_none());
    assert!(first.metadata.resource_version.is_some());
}

#[tokio::test]
async fn patches_and_status_subresource() {
    let kube = FakeKube::start(FakeKubeOptions::default()).await;
    let client = kube.client().await;
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), "p");
    let pp = PostParams::default();
    cms.create(&pp, &configmap("c", json!({"a": "1", "b": "2"})))
        .await
        .unwrap();

    let merged = cms
        .patch(
            "c",
            &PatchParams::default(),
            &Patch::Merge(json!({"metadata": {"labels": {"a": null, "c": "3"}}})),
        )
        .await
        .unwrap();
    assert_eq!(
        merged.metadata.labels.unwrap(),
        [
            ("b".to_string(), "2".to_string()),
            ("c".to_string(), "3".to_string())
        ]
        .into()
    );
    let strategic = cms
        .patch(
            "c",
            &PatchParams::default(),
            &Patch::Strategic(json!({"data": {"k2": "v2"}})),
        )
        .await
        .unwrap();
    assert_eq!(strategic.data.unwrap().len(), 2);
    let ops: json_patch::Patch = serde_json::from_value(json!([
        {"op": "test", "path": "/data/k", "value": "v"},
        {"op": "replace", "path": "/data/k", "value": "patched"},
        {"op": "add", "path": "/metadata/annotations", "value": {"x": "y"}},
        {"op": "remove", "path": "/data/k2"},
    ]))
    .unwrap();
    let jp = cms
        .patch("c", &PatchParams::default(), &Patch::Json::<()>(ops))
        .await
        .unwrap();
    assert_eq!(
        jp.data.unwrap(),
        [("k".to_string(), "patched".to_string())].into()
    );
    assert_eq!(jp.metadata.annotations.unwrap()["x"], "y");
    let failing: json_patch::Patch =
        serde_json::from_value(json!([{"op": "test", "path": "/data/k", "value": "nope"}]))
            .unwrap();
    assert_eq!(
        api_error(
            cms.patch("c", &PatchParams::default(), &Patch::Json::<()>(failing))
                .await
        )
        .0,
        422
    );
    // a merge patch carrying a stale resourceVersion conflicts
    let stale = json!({"metadata": {"resourceVersion": "1"}, "data": {"z": "z"}});
    assert_eq!(
        api_error(
            cms.patch("c", &PatchParams::default(), &Patch::Merge(stale))
                .await
        )
        .0,
        409
    );
    assert_eq!(
        api_error(
            cms.patch("none", &PatchParams::default(), &Patch::Merge(json!({})))
                .await
        )
        .0,
        404
    );
    let (code, _) = raw_http(
        &kube,
        "PATCH",
        "/api/v1/namespaces/p/configmaps/c",
        "application/merge-patch+json",
        "{oops",
    )
    .await;
    assert_eq!(code, 400);

    // server-side apply creates, then merges
    let apply = PatchParams::apply("fake-kube-test");
    let applied = cms
        .patch(
            "applied",
            &apply,
            &Patch::Apply(json!({"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "applied"}, "data": {"one": "1"}})),
        )
        .await
        .unwrap();
    assert_eq!(applied.metadata.namespace.as_deref(), Some("p"));
    let reapplied = cms
        .patch(
            "applied",
            &apply,
            &Patch::Apply(json!({"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "applied"}, "data": {"two": "2"}})),
        )
        .await
        .unwrap();
    assert_eq!(reapplied.data.unwrap().len(), 2);

    // the status subresource of a custom resource
    let wfs: Api<DynamicObject> = Api::namespaced_with(client.clone(), "p", &workflows());
    wfs.create(&pp, &obj(workflow("wf", "p"))).await.unwrap();
    let st = wfs
        .patch_status(
            "wf",
            &PatchParams::default(),
            &Patch::Merge(
                json!({"status": {"phase": "Running"}, "spec": {"entrypoint": "ignored"}}),
            ),
        )
        .await
        .unwrap();
    assert_eq!(st.data["status"]["phase"], "Running");
    assert_eq!(st.data["spec"]["entrypoint"], "main");
    // a write to the object keeps the status; one to /status changes only the status
    let mut whole = wfs.get("wf").await.unwrap();
    whole.data["status"] = json!({"phase": "Hacked"});
    whole.data["spec"]["entrypoint"] = json!("other");
    let replaced = wfs.replace("wf", &pp, &whole).await.unwrap();
    assert_eq!(
        (
            replaced.data["status"]["phase"].as_str(),
            replaced.data["spec"]["entrypoint"].as_str()
        ),
        (Some("Running"), Some("other"))
    );
    let mut with_status = replaced.clone();
    with_status.data["status"] = json!({"phase": "Succeeded"});
    let replaced_status = wfs.replace_status("wf", &pp, &with_status).await.unwrap();
    assert_eq!(replaced_status.data["status"]["phase"], "Succeeded");
    assert_eq!(
        wfs.get_status("wf").await.unwrap().data["status"]["phase"],
        "Succeeded"
    );
}

#[tokio::test]
async fn deletecollection_and_pod_logs() {
    let kube = FakeKube::start(FakeKubeOptions::default()).await;
    let client = kube.client().await;
    let pods: Api<Pod> = Api::namespaced(client.clone(), "logs");
    let pp = PostParams::default();
    for (name, app) in [
        ("j1", "job"),
        ("j2", "job"),
        ("j3", "job"),
        ("keep", "keep"),
    ] {
        pods.create(&pp, &pod(name, json!({"app": app}), "Never"))
            .await
            .unwrap();
    }
    let deleted = pods
        .delete_collection(
            &DeleteParams::default(),
            &ListParams::default().labels("app=job"),
        )
        .await
        .unwrap()
        .left()
        .expect("a list of the deleted pods");
    assert_eq!(deleted.items.len(), 3);
    let left: Vec<String> = pods
        .list(&ListParams::default())
        .await
        .unwrap()
        .items
        .into_iter()
        .filter_map(|p| p.metadata.name)
        .collect();
    assert_eq!(left, ["keep"]);

    assert_eq!(
        pods.logs("keep", &LogParams::default()).await.unwrap(),
        "fake kubelet: keep ran busybox: sh -c echo hi\n"
    );
    kube.set_pod_log("logs", "keep", "one\ntwo\nthree\n");
    let tail = LogParams {
        tail_lines: Some(2),
        container: Some("main".into()),
        ..LogParams::default()
    };
    assert_eq!(pods.logs("keep", &tail).await.unwrap(), "two\nthree\n");
    let wrong = LogParams {
        container: Some("nope".into()),
        ..LogParams::default()
    };
    assert_eq!(api_error(pods.logs("keep", &wrong).await).0, 400);
    assert_eq!(
        api_error(pods.logs("gone", &LogParams::default()).await).0,
        404
    );
}

#[tokio::test]
async fn watch_stream_events_selectors_bookmarks_and_gone() {
    let kube =
        FakeKube::start(FakeKubeOptions::default().bookmark_interval(Duration::from_millis(100)))
            .await;
    let client = kube.client().await;
    let pods: Api<Pod> = Api::namespaced(client.clone(), "w");
    let rv0 = pods
        .list(&ListParams::default())
        .await
        .unwrap()
        .metadata
        .resource_version
        .unwrap();
    let mut stream = pods
        .watch(&WatchParams::default(), &rv0)
        .await
        .unwrap()
        .boxed();
    let pp = PostParams::default();
    pods.create(&pp, &pod("p1", json!({}), "Always"))
        .await
        .unwrap();
    pods.patch(
        "p1",
        &PatchParams::default(),
        &Patch::Merge(json!({"metadata": {"labels": {"app": "web"}}})),
    )
    .await
    .unwrap();
    let deleted = pods
        .delete("p1", &DeleteParams::default())
        .await
        .unwrap()
        .left()
        .unwrap();
    let deleted_rv: u64 = deleted.metadata.resource_version.unwrap().parse().unwrap();
    let mut seen = Vec::new();
    let bookmark_rv = loop {
        match next(&mut stream).await.unwrap() {
            WatchEvent::Added(p) => seen.push(("ADDED", p.metadata.name.unwrap())),
            WatchEvent::Modified(p) => seen.push(("MODIFIED", p.metadata.name.unwrap())),
            WatchEvent::Deleted(p) => seen.push(("DELETED", p.metadata.name.unwrap())),
            WatchEvent::Bookmark(b) if seen.len() == 3 => {
                break b.metadata.resource_version.parse::<u64>().unwrap();
            }
            WatchEvent::Bookmark(_) => {}
            WatchEvent::Error(e) => panic!("watch error {e:?}"),
        }
    };
    assert_eq!(
        seen,
        [
            ("ADDED", "p1".into()),
            ("MODIFIED", "p1".into()),
            ("DELETED", "p1".into())
        ]
    );
    assert!(bookmark_rv >= deleted_rv);

    // a selector watch from "now" first lists matches; label changes become ADDED/DELETED
    pods.create(&pp, &pod("match", json!({"app": "web"}), "Always"))
        .await
        .unwrap();
    let mut sel = pods
        .watch(
            &WatchParams::default().labels("app=web").disable_bookmarks(),
            "0",
        )
        .await
        .unwrap()
        .boxed();
    match next(&mut sel).await.unwrap() {
        WatchEvent::Added(p) => assert_eq!(p.metadata.name.as_deref(), Some("match")),
        other => panic!("{other:?}"),
    }
    pods.create(&pp, &pod("p2", json!({"app": "db"}), "Always"))
        .await
        .unwrap();
    pods.patch(
        "p2",
        &PatchParams::default(),
        &Patch::Merge(json!({"metadata": {"labels": {"app": "web"}}})),
    )
    .await
    .unwrap();
    match next(&mut sel).await.unwrap() {
        WatchEvent::Added(p) => assert_eq!(p.metadata.labels.unwrap()["app"], "web"),
        other => panic!("{other:?}"),
    }
    pods.patch(
        "p2",
        &PatchParams::default(),
        &Patch::Merge(json!({"metadata": {"labels": {"app": "db"}}})),
    )
    .await
    .unwrap();
    match next(&mut sel).await.unwrap() {
        WatchEvent::Deleted(p) => assert_eq!(p.metadata.name.as_deref(), Some("p2")),
        other => panic!("{other:?}"),
    }

    // resuming from a compacted resourceVersion: an ERROR event with 410 Gone
    kube.compact_history();
    let mut old = pods
        .watch(&WatchParams::default(), &rv0)
        .await
        .unwrap()
        .boxed();
    match next(&mut old).await.unwrap() {
        WatchEvent::Error(e) => assert_eq!((e.code, e.reason.as_str()), (410, "Expired")),
        other => panic!("{other:?}"),
    }
    // the open watch (which saw the later pod events) is told too
    loop {
        if let WatchEvent::Error(e) = next(&mut stream).await.unwrap() {
            break assert_eq!(e.code, 410);
        }
    }
    // and a fresh list can be watched from
    let rv1 = pods
        .list(&ListParams::default())
        .await
        .unwrap()
        .metadata
        .resource_version
        .unwrap();
    let mut fresh = pods
        .watch(&WatchParams::default().disable_bookmarks(), &rv1)
        .await
        .unwrap()
        .boxed();
    pods.create(&pp, &pod("p3", json!({}), "Always"))
        .await
        .unwrap();
    assert!(matches!(
        next(&mut fresh).await.unwrap(),
        WatchEvent::Added(_)
    ));
}

/// `kube::runtime::watcher` on a dynamic resource: initial list, events, resume from a
/// bookmark after the server ends the watch, relist after 410.
#[tokio::test]
async fn watcher_on_workflows_resumes_with_bookmarks_and_relists_after_gone() {
    let kube =
        FakeKube::start(FakeKubeOptions::default().bookmark_interval(Duration::from_millis(100)))
            .await;
    let client = kube.client().await;
    for (name, ns) in [
        ("wf-1", "pipeline"),
        ("wf-2", "pipeline"),
        ("wf-3", "other"),
    ] {
        kube.insert("argoproj.io", "v1alpha1", "workflows", workflow(name, ns));
    }
    let all: Api<DynamicObject> = Api::all_with(client.clone(), &workflows());
    let mut events = watcher::watcher(all, watcher::Config::default().timeout(1)).boxed();

    let mut initial = BTreeSet::new();
    assert!(matches!(next(&mut events).await.unwrap(), Event::Init));
    loop {
        match next(&mut events).await.unwrap() {
            Event::InitApply(o) => initial.insert(o.metadata.name.unwrap()),
            Event::InitDone => break,
            other => panic!("{other:?}"),
        };
    }
    assert_eq!(
        initial,
        BTreeSet::from(["wf-1".into(), "wf-2".into(), "wf-3".into()])
    );

    let pipeline: Api<DynamicObject> =
        Api::namespaced_with(client.clone(), "pipeline", &workflows());
    pipeline
        .create(&PostParams::default(), &obj(workflow("wf-4", "pipeline")))
        .await
        .unwrap();
    match next(&mut events).await.unwrap() {
        Event::Apply(o) => assert_eq!(o.metadata.name.as_deref(), Some("wf-4")),
        other => panic!("{other:?}"),
    }

    // Other resources move the resourceVersion; only bookmarks tell the watcher about it,
    // so a watch resumed from that version proves the watcher used a bookmark.
    for i in 0..3 {
        kube.insert(
            "",
            "v1",
            "configmaps",
            json!({"metadata": {"name": format!("cm-{i}"), "namespace": "pipeline"}}),
        );
    }
    let moved = kube.resource_version();
    let resumed_from_bookmark = |k: &FakeKube| {
        k.requests()
            .iter()
            .any(|r| {
                r.is_watch()
                    && r.path.ends_with("/workflows")
                    && r.param("resourceVersion")
                        .and_then(|v| v.parse::<u64>().ok())
                        .is_some_and(|v| v >= moved)
            })
            .then_some(())
    };
    let deadline = tokio::time::Instant::now() + WAIT;
    while resumed_from_bookmark(&kube).is_none() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the watcher never resumed from a bookmark"
        );
        if let Ok(Some(ev)) = tokio::time::timeout(Duration::from_millis(100), events.next()).await
        {
            panic!("unexpected watcher event while idle: {ev:?}");
        }
    }

    // Compaction: the watch gets 410 and the watcher relists everything.
    kube.compact_history();
    match next(&mut events).await {
        Err(watcher::Error::WatchError(s)) => assert_eq!(s.code, 410),
        other => panic!("expected a 410 watch error, got {other:?}"),
    }
    assert!(matches!(next(&mut events).await.unwrap(), Event::Init));
    let mut relisted = BTreeSet::new();
    loop {
        match next(&mut events).await.unwrap() {
            Event::InitApply(o) => relisted.insert(o.metadata.name.unwrap()),
            Event::InitDone => break,
            other => panic!("{other:?}"),
        };
    }
    assert_eq!(relisted.len(), 4);
    pipeline
        .create(&PostParams::default(), &obj(workflow("wf-5", "pipeline")))
        .await
        .unwrap();
    match next(&mut events).await.unwrap() {
        Event::Apply(o) => assert_eq!(o.metadata.name.as_deref(), Some("wf-5")),
        other => panic!("{other:?}"),
    }
}

/// `kube::runtime::watcher` on typed pods, with a label selector and with streaming lists.
#[tokio::test]
async fn watcher_on_typed_pods() {
    let kube = FakeKube::start(FakeKubeOptions::default()).await;
    let client = kube.client().await;
    let pods: Api<Pod> = Api::namespaced(client.clone(), "tw");
    let pp = PostParams::default();
    pods.create(&pp, &pod("p1", json!({"app": "web"}), "Always"))
        .await
        .unwrap();
    pods.create(&pp, &pod("p0", json!({"app": "db"}), "Always"))
        .await
        .unwrap();

    let mut events =
        watcher::watcher(pods.clone(), watcher::Config::default().labels("app=web")).boxed();
    assert!(matches!(next(&mut events).await.unwrap(), Event::Init));
    match next(&mut events).await.unwrap() {
        Event::InitApply(p) => assert_eq!(p.metadata.name.as_deref(), Some("p1")),
        other => panic!("{other:?}"),
    }
    assert!(matches!(next(&mut events).await.unwrap(), Event::InitDone));
    pods.create(&pp, &pod("p2", json!({"app": "web"}), "Always"))
        .await
        .unwrap();
    pods.create(&pp, &pod("p3", json!({"app": "db"}), "Always"))
        .await
        .unwrap();
    pods.delete("p1", &DeleteParams::default()).await.unwrap();
    match next(&mut events).await.unwrap() {
        Event::Apply(p) => assert_eq!(p.metadata.name.as_deref(), Some("p2")),
        other => panic!("{other:?}"),
    }
    match next(&mut events).await.unwrap() {
        Event::Delete(p) => assert_eq!(p.metadata.name.as_deref(), Some("p1")),
        other => panic!("{other:?}"),
    }

    let mut streaming =
        watcher::watcher(pods, watcher::Config::default().streaming_lists()).boxed();
    assert!(matches!(next(&mut streaming).await.unwrap(), Event::Init));
    let mut names = BTreeSet::new();
    loop {
        match next(&mut streaming).await.unwrap() {
            Event::InitApply(p) => names.insert(p.metadata.name.unwrap()),
            Event::InitDone => break,
            other => panic!("{other:?}"),
        };
    }
    assert_eq!(
        names,
        BTreeSet::from(["p0".into(), "p2".into(), "p3".into()])
    );
}

fn node<'a>(wf: &'a Value, id: &str) -> &'a Value {
    &wf["status"]["nodes"][id]
}

fn is_rfc3339_z(v: &Value) -> bool {
    v.as_str()
        .is_some_and(|s| chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%SZ").is_ok())
}

#[tokio::test]
async fn argo_runs_a_dag_in_dependency_order() {
    let kube = FakeKube::start(
        FakeKubeOptions::default()
            .argo(true)
            .step_interval(Duration::from_millis(50)),
    )
    .await;
    let client = kube.client().await;
    let wfs: Api<DynamicObject> = Api::namespaced_with(client.clone(), "pipeline", &workflows());
    let rv = wfs
        .list(&ListParams::default())
        .await
        .unwrap()
        .metadata
        .resource_version
        .unwrap();
    let mut stream = wfs
        .watch(&WatchParams::default().disable_bookmarks(), &rv)
        .await
        .unwrap()
        .boxed();
    let wf_name = "demo-ab12";
    wfs.create(
        &PostParams::default(),
        &dag_workflow(
            wf_name,
            &[("a", &[], None), ("b", &["a"], None), ("c", &["a"], None)],
            None,
        ),
    )
    .await
    .unwrap();

    // every phase change is a MODIFIED event with a newer resourceVersion
    let mut phases: Vec<String> = Vec::new();
    let mut last_rv = 0u64;
    let finished = loop {
        let (kind, o) = match next(&mut stream).await.unwrap() {
            WatchEvent::Added(o) => ("ADDED", o),
            WatchEvent::Modified(o) => ("MODIFIED", o),
            other => panic!("{other:?}"),
        };
        let rv: u64 = o
            .metadata
            .resource_version
            .clone()
            .unwrap()
            .parse()
            .unwrap();
        assert!(rv > last_rv);
        last_rv = rv;
        let phase = o.data["status"]["phase"].as_str().unwrap_or("").to_string();
        if !phase.is_empty() {
            assert_eq!(kind, "MODIFIED");
        }
        if !phase.is_empty() && phases.last() != Some(&phase) {
            phases.push(phase.clone());
        }
        if phase == "Succeeded" {
            break serde_json::to_value(&o).unwrap();
        }
    };
    assert_eq!(phases, ["Pending", "Running", "Succeeded"]);

    let (a, b, c) = (
        node_id(wf_name, "a"),
        node_id(wf_name, "b"),
        node_id(wf_name, "c"),
    );
    for id in [&a, &b, &c] {
        let digits = id.strip_prefix("demo-ab12-").unwrap();
        assert!(
            digits.len() == 10 && digits.chars().all(|ch| ch.is_ascii_digit()),
            "{id}"
        );
    }
    let keys: Vec<&String> = finished["status"]["nodes"]
        .as_object()
        .unwrap()
        .keys()
        .collect();
    assert_eq!(keys[..2], [wf_name, a.as_str()]);
    assert_eq!(
        keys[2..]
            .iter()
            .map(|k| k.as_str())
            .collect::<BTreeSet<_>>(),
        BTreeSet::from([b.as_str(), c.as_str()])
    );
    let root = node(&finished, wf_name);
    assert_eq!(
        (
            root["type"].as_str(),
            root["displayName"].as_str(),
            root["phase"].as_str()
        ),
        (Some("DAG"), Some(wf_name), Some("Succeeded"))
    );
    assert_eq!(root["children"], json!([a]));
    let na = node(&finished, &a);
    assert_eq!(na["name"], "demo-ab12.a");
    assert_eq!(
        (
            na["displayName"].as_str(),
            na["type"].as_str(),
            na["templateName"].as_str()
        ),
        (Some("a"), Some("Pod"), Some("tpl-a"))
    );
    assert_eq!(na["children"], json!([b, c]));
    for id in [&a, &b, &c] {
        let n = node(&finished, id);
        assert_eq!(n["phase"], "Succeeded");
        assert!(
            is_rfc3339_z(&n["startedAt"]) && is_rfc3339_z(&n["finishedAt"]),
            "{n}"
        );
    }
    for id in [&b, &c] {
        assert!(node(&finished, id)["startedAt"].as_str() >= na["finishedAt"].as_str());
    }
    assert!(
        is_rfc3339_z(&finished["status"]["startedAt"])
            && is_rfc3339_z(&finished["status"]["finishedAt"])
    );
    assert_eq!(finished["status"]["progress"], "3/3");

    // each Pod node got a pod (Argo v2 naming) that ran the template's container
    let pod_name = format!("{wf_name}-tpl-a-{}", a.strip_prefix("demo-ab12-").unwrap());
    let pods: Api<Pod> = Api::namespaced(client.clone(), "pipeline");
    let p = pods.get(&pod_name).await.unwrap();
    assert_eq!(p.status.unwrap().phase.as_deref(), Some("Succeeded"));
    let log = pods
        .logs(
            &pod_name,
            &LogParams {
                container: Some("main".into()),
                ..LogParams::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(
        log,
        format!("fake kubelet: {pod_name} ran busybox: echo a\n")
    );
    // deleting the workflow deletes its pods
    wfs.delete(wf_name, &DeleteParams::default()).await.unwrap();
    let gone = kube
        .wait_for(WAIT, |k| {
            k.objects("", "v1", "pods", Some("pipeline"))
                .is_empty()
                .then_some(())
        })
        .await;
    assert!(gone.is_some(), "workflow pods were not collected");
}

async fn wait_finished(kube: &FakeKube, name: &str) -> Value {
    kube.wait_for(WAIT, |k| {
        k.get(
            "argoproj.io",
            "v1alpha1",
            "workflows",
            Some("pipeline"),
            name,
        )
        .filter(|w| matches!(w["status"]["phase"].as_str(), Some("Succeeded" | "Failed")))
    })
    .await
    .unwrap_or_else(|| panic!("workflow {name} did not finish"))
}

#[tokio::test]
async fn argo_fails_a_chosen_task() {
    let kube = FakeKube::start(
        FakeKubeOptions::default()
            .argo(true)
            .argo_pods(false)
            .step_interval(Duration::from_millis(50)),
    )
    .await;
    let client = kube.client().await;
    let wfs: Api<DynamicObject> = Api::namespaced_with(client, "pipeline", &workflows());
    kube.fail_task("fail-", "b");
    let tasks: &[(&str, &[&str], Option<&str>)] = &[
        ("a", &[], None),
        ("b", &["a"], None),
        ("c", &["b"], None),
        ("d", &["a"], None),
    ];
    wfs.create(
        &PostParams::default(),
        &dag_workflow("fail-x1", tasks, None),
    )
    .await
    .unwrap();
    let mut annotated = dag_workflow("anno-1", tasks, None);
    annotated.metadata.annotations = Some(
        [(
            testkit::fake_kube::FAIL_TASK_ANNOTATION.to_string(),
            "a".to_string(),
        )]
        .into(),
    );
    wfs.create(&PostParams::default(), &annotated)
        .await
        .unwrap();
    // same tasks, no failure asked for this name
    wfs.create(&PostParams::default(), &dag_workflow("ok-1", tasks, None))
        .await
        .unwrap();

    let wf = wait_finished(&kube, "fail-x1").await;
    let id = |t: &str| node_id("fail-x1", t);
    assert_eq!(wf["status"]["phase"], "Failed");
    assert_eq!(
        wf["status"]["message"],
        format!("child '{}' failed", id("b"))
    );
    assert_eq!(node(&wf, &id("a"))["phase"], "Succeeded");
    assert_eq!(node(&wf, &id("b"))["phase"], "Failed");
    assert_eq!(node(&wf, &id("d"))["phase"], "Succeeded");
    assert!(
        node(&wf, &id("c")).is_null(),
        "a dependent of a failed task must not start"
    );
    assert_eq!(node(&wf, "fail-x1")["phase"], "Failed");

    let wf = wait_finished(&kube, "anno-1").await;
    assert_eq!(wf["status"]["phase"], "Failed");
    assert_eq!(wf["status"]["nodes"].as_object().unwrap().len(), 2);
    assert_eq!(
        wait_finished(&kube, "ok-1").await["status"]["phase"],
        "Succeeded"
    );
}

#[tokio::test]
async fn argo_skips_when_false_and_honours_parallelism() {
    let kube = FakeKube::start(
        FakeKubeOptions::default()
            .argo(true)
            .step_interval(Duration::from_millis(50)),
    )
    .await;
    let client = kube.client().await;
    let wfs: Api<DynamicObject> = Api::namespaced_with(client, "pipeline", &workflows());
    let rv = wfs
        .list(&ListParams::default())
        .await
        .unwrap()
        .metadata
        .resource_version
        .unwrap();
    let mut stream = wfs
        .watch(&WatchParams::default().disable_bookmarks(), &rv)
        .await
        .unwrap()
        .boxed();
    let tasks: &[(&str, &[&str], Option<&str>)] = &[
        ("x", &[], Some("false")),
        ("y", &["x"], None),
        ("p", &[], None),
        ("q", &[], None),
    ];
    wfs.create(
        &PostParams::default(),
        &dag_workflow("par-1", tasks, Some(1)),
    )
    .await
    .unwrap();
    let mut max_active = 0;
    let finished = loop {
        let o = match next(&mut stream).await.unwrap() {
            WatchEvent::Added(o) | WatchEvent::Modified(o) => serde_json::to_value(o).unwrap(),
            other => panic!("{other:?}"),
        };
        if let Some(nodes) = o["status"]["nodes"].as_object() {
            let active = nodes
                .values()
                .filter(|n| {
                    n["type"] == "Pod" && matches!(n["phase"].as_str(), Some("Pending" | "Running"))
                })
                .count();
            max_active = max_active.max(active);
        }
        if o["status"]["phase"] == "Succeeded" {
            break o;
        }
    };
    assert_eq!(max_active, 1);
    let x = node(&finished, &node_id("par-1", "x"));
    assert_eq!(
        (x["type"].as_str(), x["phase"].as_str()),
        (Some("Skipped"), Some("Skipped"))
    );
    assert_eq!(
        node(&finished, &node_id("par-1", "y"))["phase"],
        "Succeeded"
    );
    assert_eq!(finished["status"]["progress"], "3/3");
}

#[tokio::test]
async fn kubelet_runs_pods_to_completion() {
    let kube = FakeKube::start(
        FakeKubeOptions::default()
            .kubelet(true)
            .step_interval(Duration::from_millis(50))
            .pod_run_duration(Duration::from_millis(200)),
    )
    .await;
    let client = kube.client().await;
    let pods: Api<Pod> = Api::namespaced(client.clone(), "k");
    let pp = PostParams::default();
    pods.create(&pp, &pod("debug-1", json!({}), "Never"))
        .await
        .unwrap();
    pods.create(&pp, &pod("server", json!({}), "Always"))
        .await
        .unwrap();
    pods.create(&pp, &pod("job-1", json!({}), "Never"))
        .await
        .unwrap();
    let mut failing = pod("job-2", json!({}), "OnFailure");
    failing.metadata.annotations = Some(
        [(
            testkit::fake_kube::EXIT_CODE_ANNOTATION.to_string(),
            "3".to_string(),
        )]
        .into(),
    );
    pods.create(&pp, &failing).await.unwrap();

    let phase = |k: &FakeKube, name: &str| {
        k.get("", "v1", "pods", Some("k"), name)
            .and_then(|p| p["status"]["phase"].as_str().map(str::to_string))
            .unwrap_or_default()
    };
    let done = kube
        .wait_for(WAIT, |k| {
            (phase(k, "job-1") == "Succeeded" && phase(k, "job-2") == "Failed").then_some(())
        })
        .await;
    assert!(done.is_some(), "pods did not complete");
    let job = pods.get("job-1").await.unwrap();
    let status = job.status.unwrap();
    assert!(status.pod_ip.is_some() && status.host_ip.is_some() && status.start_time.is_some());
    let terminated = status.container_statuses.unwrap()[0]
        .state
        .clone()
        .unwrap()
        .terminated
        .unwrap();
    assert_eq!(terminated.exit_code, 0);
    assert_eq!(
        job.spec.unwrap().node_name.as_deref(),
        Some(testkit::fake_kube::NODE_NAME)
    );
    let failed = pods.get("job-2").await.unwrap().status.unwrap();
    assert_eq!(
        failed.container_statuses.unwrap()[0]
            .state
            .clone()
            .unwrap()
            .terminated
            .unwrap()
            .exit_code,
        3
    );
    // debug-* pods and restartPolicy Always pods keep running
    assert_eq!(phase(&kube, "debug-1"), "Running");
    assert_eq!(phase(&kube, "server"), "Running");
    let running = pods.get("server").await.unwrap().status.unwrap();
    assert!(
        running.container_statuses.unwrap()[0]
            .state
            .clone()
            .unwrap()
            .running
            .is_some()
    );

    // deleting a pod removes it at once
    pods.delete("server", &DeleteParams::default())
        .await
        .unwrap();
    assert_eq!(api_error(pods.get("server").await).0, 404);
    // with the kubelet off, pods stay Pending
    kube.set_kubelet(false);
    pods.create(&pp, &pod("idle", json!({}), "Never"))
        .await
        .unwrap();
    assert_eq!(
        pods.get("idle")
            .await
            .unwrap()
            .status
            .unwrap()
            .phase
            .as_deref(),
        Some("Pending")
    );
}

#[tokio::test]
async fn seeded_namespaces_and_pvcs() {
    let kube = FakeKube::start(FakeKubeOptions::simulated()).await;
    let client = kube.client().await;
    let nss: Api<Namespace> = Api::all(client.clone());
    let names: BTreeSet<String> = nss
        .list(&ListParams::default())
        .await
        .unwrap()
        .items
        .into_iter()
        .filter_map(|n| n.metadata.name)
        .collect();
    for ns in testkit::fake_kube::SEED_NAMESPACES {
        assert!(names.contains(*ns), "{ns} missing from {names:?}");
        let pvcs: Api<PersistentVolumeClaim> = Api::namespaced(client.clone(), ns);
        for pvc in testkit::fake_kube::SEED_PVCS {
            let got = pvcs.get(pvc).await.unwrap();
            assert_eq!(got.status.unwrap().phase.as_deref(), Some("Bound"));
        }
    }
    let nodes: Api<k8s_openapi::api::core::v1::Node> = Api::all(client.clone());
    let listed = nodes.list(&ListParams::default()).await.unwrap();
    assert_eq!(listed.items.len(), 1);

    // discovery works well enough for kube's Discovery
    let discovery = kube::discovery::Discovery::new(client).run().await.unwrap();
    let argo = discovery
        .get("argoproj.io")
        .expect("argoproj.io discovered");
    let (workflows, caps) = argo
        .recommended_resources()
        .into_iter()
        .find(|(r, _)| r.plural == "workflows")
        .expect("workflows discovered");
    assert_eq!(workflows.kind, "Workflow");
    assert_eq!(caps.scope, kube::discovery::Scope::Namespaced);
}

#[tokio::test]
async fn the_binary_serves_and_stops_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = dir.path().join("nested").join("kubeconfig");
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_fake-kube"))
        .args(["--listen", "127.0.0.1:0", "--kubeconfig"])
        .arg(&kubeconfig)
        .args(["--step-ms", "50"])
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let deadline = tokio::time::Instant::now() + WAIT;
    let yaml = loop {
        if let Ok(y) = std::fs::read_to_string(&kubeconfig)
            && y.contains("current-context")
        {
            break y;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no kubeconfig written"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let config = kube::Config::from_custom_kubeconfig(
        kube::config::Kubeconfig::from_yaml(&yaml).unwrap(),
        &kube::config::KubeConfigOptions::default(),
    )
    .await
    .unwrap();
    let client = kube::Client::try_from(config).unwrap();
    let pvcs: Api<PersistentVolumeClaim> = Api::namespaced(client, "pipeline");
    assert!(pvcs.get("kubeflow-user-workspace").await.is_ok());

    let pid = child.id().unwrap().to_string();
    let killed = std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap();
    assert!(killed.success());
    let status = tokio::time::timeout(WAIT, child.wait())
        .await
        .expect("fake-kube did not stop")
        .unwrap();
    assert!(status.success(), "{status:?}");
}

/// One server shared by tests: started without async, inside a test runtime, and used
/// from a runtime other than the one that started it.
#[tokio::test]
async fn a_shared_server_outlives_the_runtime_that_started_it() {
    static SHARED: std::sync::OnceLock<FakeKube> = std::sync::OnceLock::new();
    let kube = SHARED.get_or_init(|| FakeKube::start_blocking(FakeKubeOptions::default()).unwrap());
    let url = kube.url();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            let kube = SHARED.get().unwrap();
            assert_eq!(kube.url(), url);
            let cms: Api<ConfigMap> = Api::namespaced(kube.client().await, "shared");
            cms.create(
                &PostParams::default(),
                &configmap("from-other-runtime", json!({})),
            )
            .await
            .unwrap();
        });
    })
    .join()
    .unwrap();
    let cms: Api<ConfigMap> = Api::namespaced(kube.client().await, "shared");
    assert!(cms.get("from-other-runtime").await.is_ok());
}
