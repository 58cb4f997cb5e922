//! Watches: newline-delimited JSON events `{"type": ..., "object": ...}` streamed from a
//! resourceVersion (replaying the retained log), with selectors, bookmarks, timeouts and
//! `410 Gone` as an `ERROR` event when the resourceVersion is older than the log.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use actix_web::HttpResponse;
use actix_web::web::Bytes;
use serde_json::{Value, json};
use tokio::sync::mpsc;
use tokio::time::Instant;

use super::Shared;
use super::resources::Gvr;
use super::selectors::Selectors;
use super::storage::{EventType, LogEntry, Store};

/// Where a watch starts.
#[derive(Debug, Clone, Copy)]
pub enum Start {
    /// No resourceVersion (or `0`): synthetic `ADDED` for every current object first.
    Now,
    /// Events after this resourceVersion.
    From(u64),
}

/// A watch request, parsed.
pub struct WatchSetup {
    pub gvr: Gvr,
    pub kind: String,
    pub ns: Option<String>,
    pub selectors: Selectors,
    pub start: Start,
    pub bookmarks: bool,
    /// `sendInitialEvents=true`: end the initial events with a bookmark annotated
    /// `k8s.io/initial-events-end`.
    pub initial_end_bookmark: bool,
    pub timeout: Option<Duration>,
    pub bookmark_interval: Duration,
}

/// A streaming 200 answer; a task on the worker's runtime feeds it.
pub fn respond(shared: Arc<Shared>, setup: WatchSetup) -> HttpResponse {
    streamed("application/json", |tx| run(shared, setup, tx))
}

/// A chunked 200 answer of `content_type` whose body is what `feed` sends; `feed` runs
/// as a task on the worker's runtime and sees the client leave as a closed channel.
pub fn streamed<F>(content_type: &str, feed: impl FnOnce(mpsc::Sender<Bytes>) -> F) -> HttpResponse
where
    F: Future<Output = ()> + 'static,
{
    let (tx, rx) = mpsc::channel::<Bytes>(256);
    actix_web::rt::spawn(feed(tx));
    let stream = futures::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|b| (Ok::<Bytes, Infallible>(b), rx))
    });
    HttpResponse::Ok()
        .content_type(content_type.to_string())
        .insert_header(("Cache-Control", "no-cache, private"))
        .streaming(stream)
}

fn line(v: &Value) -> Bytes {
    let mut b = serde_json::to_vec(v).unwrap_or_default();
    b.push(b'\n');
    Bytes::from(b)
}

fn bookmark(setup: &WatchSetup, rv: u64, initial_end: bool) -> Bytes {
    let mut meta = json!({"resourceVersion": rv.to_string()});
    if initial_end {
        meta["annotations"] = json!({"k8s.io/initial-events-end": "true"});
    }
    line(&json!({
        "type": "BOOKMARK",
        "object": {"kind": setup.kind, "apiVersion": setup.gvr.api_version(), "metadata": meta},
    }))
}

/// The event as this watcher sees it: with a label/field selector, a change that makes an
/// object match is `ADDED` and one that makes it stop matching is `DELETED`.
fn render(store: &Store, setup: &WatchSetup, e: &LogEntry) -> Option<Bytes> {
    let now = setup.selectors.matches(&e.object);
    let kind = match e.event {
        EventType::Modified => {
            let before = e
                .previous
                .as_ref()
                .is_some_and(|p| setup.selectors.matches(p));
            match (before, now) {
                (true, true) => "MODIFIED",
                (false, true) => "ADDED",
                (true, false) => "DELETED",
                (false, false) => return None,
            }
        }
        other if now => other.as_str(),
        _ => return None,
    };
    Some(line(
        &json!({"type": kind, "object": store.present(&setup.gvr, &e.object)}),
    ))
}

async fn run(shared: Arc<Shared>, setup: WatchSetup, tx: mpsc::Sender<Bytes>) {
    let key = setup.gvr.key();
    let ns = setup.ns.as_deref();
    let (mut notify, mut last, initial) = {
        let store = shared.lock();
        let notify = store.subscribe();
        match setup.start {
            Start::Now => {
                let items = store.list(&setup.gvr, ns, &setup.selectors);
                (notify, store.resource_version(), Some(items))
            }
            Start::From(rv) => (notify, rv, None),
        }
    };
    if let Some(items) = initial {
        for obj in items {
            if tx
                .send(line(&json!({"type": "ADDED", "object": obj})))
                .await
                .is_err()
            {
                return;
            }
        }
        if setup.initial_end_bookmark && tx.send(bookmark(&setup, last, true)).await.is_err() {
            return;
        }
    }
    let deadline = setup.timeout.map(|t| Instant::now() + t);
    let period = setup.bookmark_interval.max(Duration::from_millis(10));
    let mut ticker = tokio::time::interval_at(Instant::now() + period, period);
    loop {
        let batch = {
            let store = shared.lock();
            store.events_after(last, &key, ns).map(|(events, rv)| {
                let lines: Vec<Bytes> = events
                    .iter()
                    .filter_map(|e| render(&store, &setup, e))
                    .collect();
                (lines, rv)
            })
        };
        match batch {
            Ok((lines, rv)) => {
                for l in lines {
                    if tx.send(l).await.is_err() {
                        return;
                    }
                }
                last = rv;
            }
            Err(gone) => {
                let _ = tx
                    .send(line(&json!({"type": "ERROR", "object": gone.to_status()})))
                    .await;
                return;
            }
        }
        let until_deadline = async {
            match deadline {
                Some(d) => tokio::time::sleep_until(d).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            changed = notify.changed() => {
                if changed.is_err() {
                    return;
                }
            }
            _ = ticker.tick(), if setup.bookmarks => {
                if tx.send(bookmark(&setup, last, false)).await.is_err() {
                    return;
                }
            }
            _ = until_deadline => return,
            _ = tx.closed() => return,
        }
    }
}
