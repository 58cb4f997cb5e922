//! Generic object storage: every group/resource in one map keyed by
//! `(group, plural)` → `(namespace, name)` (namespace `""` for cluster-scoped resources),
//! one global resourceVersion counter, and the retained event log that watches replay.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::Arc;

use serde_json::{Map, Value, json};
use tokio::sync::watch;

mod logs;
mod write;

pub use logs::{LogCursor, LogOptions, PodLog, pick_container, truncate_bytes};

use super::resources::{Gvr, ResKey};
use super::selectors::Selectors;
use super::status::ApiError;

/// The type of a watch event.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EventType {
    Added,
    Modified,
    Deleted,
}

impl EventType {
    pub fn as_str(self) -> &'static str {
        match self {
            EventType::Added => "ADDED",
            EventType::Modified => "MODIFIED",
            EventType::Deleted => "DELETED",
        }
    }
}

/// One change, as retained for watches.
#[derive(Clone, Debug)]
pub struct LogEntry {
    pub rv: u64,
    pub key: ResKey,
    pub namespace: String,
    pub event: EventType,
    pub object: Arc<Value>,
    /// The object before a MODIFIED change (to turn label changes into ADDED/DELETED).
    pub previous: Option<Arc<Value>>,
}

/// Which part of an object a write targets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Sub {
    /// The object: its stored `status` is kept.
    Main,
    /// The `/status` subresource: only `status` is taken.
    Status,
}

pub struct Store {
    objects: HashMap<ResKey, BTreeMap<(String, String), Value>>,
    kinds: HashMap<ResKey, String>,
    rv: u64,
    log: VecDeque<LogEntry>,
    /// A watch from a resourceVersion below this one gets 410 Gone ...
    floor: u64,
    /// ... and so does one below the newest event of its resource dropped from the log
    /// (each resource has its own window, as in the API server's watch cache).
    floors: HashMap<ResKey, u64>,
    history_limit: usize,
    pod_logs: HashMap<(String, String), PodLog>,
    notify: watch::Sender<u64>,
    /// Ticks after every pod log change (wakes log followers).
    log_notify: watch::Sender<u64>,
    pub(crate) next_ip: u32,
}

pub fn now_rfc3339() -> String {
    chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

fn str_at<'a>(v: &'a Value, ptr: &str) -> Option<&'a str> {
    v.pointer(ptr)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
}

fn meta_mut(obj: &mut Value) -> Result<&mut Map<String, Value>, ApiError> {
    let map = obj
        .as_object_mut()
        .ok_or_else(|| ApiError::bad_request("the body must be a JSON object"))?;
    let meta = map.entry("metadata").or_insert_with(|| json!({}));
    if meta.is_null() {
        *meta = json!({});
    }
    meta.as_object_mut()
        .ok_or_else(|| ApiError::bad_request("metadata must be an object"))
}

impl Store {
    pub fn new(history_limit: usize) -> Self {
        let (notify, _) = watch::channel(1);
        let (log_notify, _) = watch::channel(0);
        Store {
            objects: HashMap::new(),
            kinds: HashMap::new(),
            rv: 1,
            log: VecDeque::new(),
            floor: 0,
            floors: HashMap::new(),
            history_limit: history_limit.max(1),
            pod_logs: HashMap::new(),
            notify,
            log_notify,
            next_ip: 10,
        }
    }

    /// Ticks with the current resourceVersion after every change.
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.notify.subscribe()
    }

    pub fn resource_version(&self) -> u64 {
        self.rv
    }

    pub fn kind_of(&self, gvr: &Gvr) -> String {
        self.kinds
            .get(&gvr.key())
            .cloned()
            .unwrap_or_else(|| gvr.default_kind())
    }

    /// `(group, version, plural, kind)` of every resource that holds objects (the
    /// version of one of its objects).
    pub fn stored_resources(&self) -> Vec<(String, String, String, String)> {
        let mut out: Vec<_> = self
            .objects
            .iter()
            .filter_map(|(k, m)| {
                let obj = m.values().next()?;
                let av = obj
                    .get("apiVersion")
                    .and_then(Value::as_str)
                    .unwrap_or("v1");
                let version = av.rsplit('/').next().unwrap_or(av).to_string();
                let kind = self.kinds.get(k).cloned().unwrap_or_default();
                Some((k.group.clone(), version, k.plural.clone(), kind))
            })
            .collect();
        out.sort();
        out
    }

    /// The object as answered for `gvr`: `apiVersion` of the request and `kind` first.
    pub fn present(&self, gvr: &Gvr, obj: &Value) -> Value {
        let Some(map) = obj.as_object() else {
            return obj.clone();
        };
        let kind = match map.get("kind") {
            Some(Value::String(k)) => k.clone(),
            _ => self.kind_of(gvr),
        };
        let mut out = Map::with_capacity(map.len() + 2);
        out.insert("apiVersion".into(), Value::String(gvr.api_version()));
        out.insert("kind".into(), Value::String(kind));
        for (k, v) in map {
            if k != "apiVersion" && k != "kind" {
                out.insert(k.clone(), v.clone());
            }
        }
        Value::Object(out)
    }

    fn ns_key(gvr: &Gvr, ns: Option<&str>) -> String {
        if gvr.cluster_scoped() {
            String::new()
        } else {
            ns.unwrap_or("").to_string()
        }
    }

    fn lookup(&self, gvr: &Gvr, ns: &str, name: &str) -> Option<&Value> {
        self.objects
            .get(&gvr.key())
            .and_then(|m| m.get(&(ns.to_string(), name.to_string())))
    }

    /// Sets a metadata field of a stored object as it is, without a new resourceVersion
    /// (test seeding of timestamps the API server would otherwise own).
    pub(crate) fn set_meta_raw(
        &mut self,
        gvr: &Gvr,
        ns: &str,
        name: &str,
        field: &str,
        value: Value,
    ) {
        if let Some(obj) = self
            .objects
            .get_mut(&gvr.key())
            .and_then(|m| m.get_mut(&(ns.to_string(), name.to_string())))
        {
            obj["metadata"][field] = value;
        }
    }

    fn not_found(gvr: &Gvr, name: &str) -> ApiError {
        ApiError::not_found(&gvr.plural, &gvr.group, name)
    }

    pub fn get(&self, gvr: &Gvr, ns: Option<&str>, name: &str) -> Result<Value, ApiError> {
        self.lookup(gvr, &Self::ns_key(gvr, ns), name)
            .map(|o| self.present(gvr, o))
            .ok_or_else(|| Self::not_found(gvr, name))
    }

    /// Matching objects ordered by namespace then name; `ns: None` lists across namespaces.
    pub fn list(&self, gvr: &Gvr, ns: Option<&str>, sel: &Selectors) -> Vec<Value> {
        let Some(map) = self.objects.get(&gvr.key()) else {
            return Vec::new();
        };
        let ns = if gvr.cluster_scoped() { None } else { ns };
        map.iter()
            .filter(|((ons, _), _)| ns.is_none_or(|n| n == ons))
            .filter(|(_, o)| sel.matches(o))
            .map(|(_, o)| self.present(gvr, o))
            .collect()
    }

    fn record(
        &mut self,
        key: ResKey,
        ns: String,
        event: EventType,
        object: Value,
        previous: Option<Value>,
    ) {
        self.log.push_back(LogEntry {
            rv: self.rv,
            key,
            namespace: ns,
            event,
            object: Arc::new(object),
            previous: previous.map(Arc::new),
        });
        while self.log.len() > self.history_limit {
            if let Some(old) = self.log.pop_front() {
                self.floors.insert(old.key, old.rv);
            }
        }
        self.notify.send_replace(self.rv);
    }

    /// Retained events after `after` for one resource (optionally one namespace), and
    /// the resourceVersion they bring a watcher to; 410 Gone if `after` is too old.
    pub fn events_after(
        &self,
        after: u64,
        key: &ResKey,
        ns: Option<&str>,
    ) -> Result<(Vec<LogEntry>, u64), ApiError> {
        let floor = self.floor.max(self.floors.get(key).copied().unwrap_or(0));
        if after < floor {
            return Err(ApiError::gone(after, floor));
        }
        let start = self.log.partition_point(|e| e.rv <= after);
        let events = self
            .log
            .range(start..)
            .filter(|e| e.key == *key && ns.is_none_or(|n| e.namespace == n))
            .cloned()
            .collect();
        Ok((events, self.rv.max(after)))
    }

    /// Forgets the event log: a watch resumed from any resourceVersion issued so far gets
    /// 410 Gone (a fresh list answers a newer one that can be watched from).
    pub fn compact(&mut self) {
        self.rv += 1;
        self.floor = self.rv;
        self.log.clear();
        self.notify.send_replace(self.rv);
    }
}
