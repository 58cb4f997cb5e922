//! Watchers of the training-job custom resources (`app_core::k8s::ops::TRAINING_KINDS`,
//! kubernetes.md §7): every status change is logged; a final status (`Succeeded`,
//! `Failed`, `Completed`, ...) is sent once to the job's user (labels `run-rtx` >
//! `pipeline-rtx` > `run-username` > `pipeline-username`). A kind whose CRD is not
//! installed (a 404 on list) is skipped and looked for again every
//! `WATCH_CRD_RECHECK_SECS`.

use std::collections::HashMap;
use std::sync::Arc;

use app_core::k8s::ops::Kind;
use app_core::notify::Notification;
use app_core::notify_text::{keys, receivers, training_job_message};
use app_core::resource_status::{is_training_final, training_status};
use app_core::workflow_status::username_from_labels;
use futures::StreamExt;
use kube::api::{Api, DynamicObject, ListParams};
use kube::runtime::WatchStreamExt;
use kube::runtime::watcher::{self, Event};

use crate::{WatchState, restarted};

/// Whether the kind's CRD is installed: `Ok(false)` on a 404.
async fn installed(api: &Api<DynamicObject>) -> Result<bool, kube::Error> {
    match api.list(&ListParams::default().limit(1)).await {
        Ok(_) => Ok(true),
        Err(kube::Error::Api(s)) if s.code == 404 => Ok(false),
        Err(e) => Err(e),
    }
}

/// Watches one training kind of a cluster until shutdown.
pub async fn watch(state: Arc<WatchState>, cluster: String, client: kube::Client, kind: Kind) {
    let api: Api<DynamicObject> = Api::all_with(client, &kind.resource());
    let mut shutdown = state.shutdown.clone();
    loop {
        match installed(&api).await {
            Ok(true) => break,
            Ok(false) => {
                tracing::info!(%cluster, kind = kind.plural, group = kind.group, "CRD not installed; skipped for now")
            }
            Err(e) => {
                tracing::warn!(%cluster, kind = kind.plural, error = %e, "cannot list training jobs")
            }
        }
        if shutdown.sleep(state.settings.crd_recheck).await {
            return;
        }
    }
    let stream = watcher::watcher(api, watcher::Config::default()).default_backoff();
    let mut stream = std::pin::pin!(stream);
    let mut last: HashMap<(String, String), String> = HashMap::new();
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
                    restarted(&state, &cluster, kind.plural, "relist");
                }
            }
            Some(Ok(Event::InitApply(obj) | Event::Apply(obj))) => {
                state.metrics.inc(
                    "watch_events_total",
                    "Watch events received",
                    &[
                        ("cluster", &cluster),
                        ("kind", kind.plural),
                        ("event", "apply"),
                    ],
                );
                on_object(&state, &cluster, &kind, &obj, &mut last).await;
            }
            Some(Ok(Event::Delete(obj))) => {
                last.remove(&(
                    obj.metadata.namespace.clone().unwrap_or_default(),
                    obj.metadata.name.clone().unwrap_or_default(),
                ));
            }
            Some(Ok(Event::InitDone)) => {}
            Some(Err(e)) => {
                restarted(&state, &cluster, kind.plural, "error");
                tracing::warn!(%cluster, kind = kind.plural, error = %e, "training-job watch failed; it resumes");
            }
        }
    }
}

async fn on_object(
    state: &WatchState,
    cluster: &str,
    kind: &Kind,
    obj: &DynamicObject,
    last: &mut HashMap<(String, String), String>,
) {
    // `data` is the object without its metadata: the `status` training_status reads
    let status = training_status(kind.group, &obj.data);
    let ns = obj.metadata.namespace.clone().unwrap_or_default();
    let name = obj.metadata.name.clone().unwrap_or_default();
    let key = (ns.clone(), name.clone());
    if last.get(&key) == Some(&status) {
        return;
    }
    tracing::info!(%cluster, kind = kind.kind, namespace = %ns, %name, from = last.get(&key).map(String::as_str).unwrap_or("(new)"), to = %status, "training job status");
    last.insert(key, status.clone());
    if !is_training_final(&status) {
        return;
    }
    let labels = obj.metadata.labels.clone().unwrap_or_default();
    let to = receivers(&[&username_from_labels(&labels.into_iter().collect())]);
    if to.is_empty() {
        return;
    }
    let n = Notification {
        receivers: to,
        message: training_job_message(cluster, kind.kind, &ns, &name, &status),
        links: Vec::new(),
        source: "training-job".into(),
    };
    let dedup = keys::training_status(
        &state.settings.key_prefix,
        cluster,
        kind.plural,
        &ns,
        &name,
        &status,
    );
    if let Err(e) = crate::notify_once(state, &dedup, state.settings.notify_ttl_secs, &n).await {
        tracing::warn!(%cluster, %name, error = %e, "cannot send a training-job notification")
    }
}
