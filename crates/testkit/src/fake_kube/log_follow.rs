//! `pods/<name>/log?follow=true`: a chunked text answer that sends the log there is, then
//! every line appended later ([`super::FakeKube::append_pod_log`]), and ends when the pod
//! is deleted or has finished (`Succeeded`/`Failed`, checked on every wake-up), when
//! `limitBytes` are sent, or when the client goes away.

use std::sync::Arc;

use actix_web::HttpResponse;
use actix_web::web::Bytes;
use serde_json::Value;
use tokio::sync::mpsc;

use super::Shared;
use super::resources::Gvr;
use super::storage::{LogCursor, LogOptions, Store, truncate_bytes};
use super::watch::streamed;

/// A followed log request, checked (the pod or its log exists, the container is valid).
pub struct FollowSetup {
    pub ns: String,
    pub pod: String,
    pub opts: LogOptions,
    /// The text there was when the request came (filtered by `opts`).
    pub first: String,
    /// Where the appended text starts.
    pub cursor: LogCursor,
}

/// A streaming 200 answer; a task on the worker's runtime feeds it.
pub fn respond(shared: Arc<Shared>, setup: FollowSetup) -> HttpResponse {
    streamed("text/plain", |tx| run(shared, setup, tx))
}

/// Whether the pod is gone or has run to its end.
fn finished(store: &Store, ns: &str, pod: &str) -> bool {
    match store.get(&Gvr::new("", "v1", "pods"), Some(ns), pod) {
        Ok(obj) => matches!(
            obj.pointer("/status/phase").and_then(Value::as_str),
            Some("Succeeded" | "Failed")
        ),
        Err(_) => true,
    }
}

/// Sends `text` within the byte budget; `false` when the stream must end (the client
/// went away or the budget is spent).
async fn send(tx: &mpsc::Sender<Bytes>, text: String, budget: &mut Option<usize>) -> bool {
    let text = match budget {
        Some(left) => {
            let t = truncate_bytes(text, *left);
            *left -= t.len();
            t
        }
        None => text,
    };
    if !text.is_empty() && tx.send(Bytes::from(text)).await.is_err() {
        return false;
    }
    *budget != Some(0)
}

async fn run(shared: Arc<Shared>, setup: FollowSetup, tx: mpsc::Sender<Bytes>) {
    let FollowSetup {
        ns,
        pod,
        opts,
        first,
        mut cursor,
    } = setup;
    let (mut objects, mut logs) = {
        let store = shared.lock();
        (store.subscribe(), store.subscribe_logs())
    };
    let mut budget = opts.limit_bytes;
    if !send(&tx, first, &mut budget).await {
        return;
    }
    loop {
        // read what was appended before deciding the pod has finished, so that the
        // last lines written before the pod ended are sent
        let (text, next, done) = {
            let store = shared.lock();
            let (text, next) = store.pod_log_after(&ns, &pod, cursor, &opts);
            (text, next, finished(&store, &ns, &pod))
        };
        cursor = next;
        if !send(&tx, text, &mut budget).await || done {
            return;
        }
        tokio::select! {
            changed = objects.changed() => if changed.is_err() { return },
            changed = logs.changed() => if changed.is_err() { return },
            _ = tx.closed() => return,
        }
    }
}
