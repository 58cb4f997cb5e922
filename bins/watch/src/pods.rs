//! The pod watcher of one cluster (the original's `watch_service.py`): an inference pod
//! that crashes (a container terminated while the pod should run, or in
//! `CrashLoopBackOff`) is reported to its service's creator, at most once an hour per
//! pod (a Redis key with a 3600 s TTL). Inference pods are those labelled
//! `pod-type=inference` or whose `app` label names an `inferenceservice` row; without a
//! row the admins (`ADMIN_USER`) are told.

use std::sync::Arc;

use app_core::notify::Notification;
use app_core::notify_text::{keys, pod_crash_message};
use app_core::resource_status::pod_crash;
use futures::StreamExt;
use k8s_openapi::api::core::v1::Pod;
use kube::api::Api;
use kube::runtime::WatchStreamExt;
use kube::runtime::watcher::{self, Event};

use crate::{WatchState, restarted};

/// Crash messages of one pod are at most this far apart.
const CRASH_TTL_SECS: u64 = 3600;

/// Watches every pod of a cluster until shutdown.
pub async fn watch(state: Arc<WatchState>, cluster: String, client: kube::Client) {
    let api: Api<Pod> = Api::all(client);
    let stream = watcher::watcher(api, watcher::Config::default()).default_backoff();
    let mut stream = std::pin::pin!(stream);
    let mut shutdown = state.shutdown.clone();
    let mut lists = 0u64;
    loop {
        let event = tokio::select! {
            _ = shutdown.wait() => return,
            e = stream.next() => e,
        };
        match event {
            None => return,
            Some(Ok(Event::Init)) => {
                lists += 1;
                if lists > 1 {
                    restarted(&state, &cluster, "pods", "relist");
                }
            }
            Some(Ok(Event::InitApply(pod) | Event::Apply(pod))) => {
                on_pod(&state, &cluster, &pod).await
            }
            Some(Ok(Event::Delete(_) | Event::InitDone)) => {}
            Some(Err(e)) => {
                restarted(&state, &cluster, "pods", "error");
                tracing::warn!(%cluster, error = %e, "pod watch failed; it resumes");
            }
        }
    }
}

async fn on_pod(state: &WatchState, cluster: &str, pod: &Pod) {
    let Some(reason) = pod.status.as_ref().and_then(pod_crash) else {
        return;
    };
    let labels = pod.metadata.labels.clone().unwrap_or_default();
    let inference = labels.get("pod-type").map(String::as_str) == Some("inference");
    let app = labels.get("app").cloned().unwrap_or_default();
    let owner = if app.is_empty() {
        None
    } else {
        let app2 = app.clone();
        match app_core::database::with_conn(&state.pool, move |c| {
            crate::store::inference_service_owner(c, &app2).map_err(Into::into)
        })
        .await
        {
            Ok(o) => o,
            Err(e) => {
                tracing::warn!(%cluster, %app, error = %e, "cannot look up the inference service");
                None
            }
        }
    };
    let receivers: Vec<String> = match &owner {
        Some((_, user)) if !user.is_empty() => vec![user.clone()],
        Some(_) => state.config.admin_users.clone(),
        None if inference => state.config.admin_users.clone(),
        None => return,
    };
    let name = pod.metadata.name.clone().unwrap_or_default();
    let ns = pod.metadata.namespace.clone().unwrap_or_default();
    let user = owner.map(|o| o.1).unwrap_or_default();
    let n = Notification {
        receivers,
        message: pod_crash_message(cluster, &name, &user, &reason),
        links: Vec::new(),
        source: "inference-pod".into(),
    };
    let key = keys::pod_crash(&state.settings.key_prefix, cluster, &ns, &name);
    match crate::notify_once(state, &key, CRASH_TTL_SECS, &n).await {
        Ok(true) => {
            tracing::info!(%cluster, pod = %name, %reason, "inference pod crash reported");
        }
        Ok(false) => {}
        Err(e) => {
            tracing::warn!(%cluster, pod = %name, error = %e, "cannot send a crash notification")
        }
    }
}
