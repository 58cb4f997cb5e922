//! The write verbs of the store: create, replace, patch, delete.

use serde_json::{Value, json};

use super::super::defaults;
use super::super::patch::{self, PatchKind};
use super::super::resources::{Gvr, ResKey};
use super::super::selectors::Selectors;
use super::super::status::ApiError;
use super::{EventType, Store, Sub, meta_mut, now_rfc3339, str_at};

impl Store {
    /// Creates an object (POST). The namespace comes from the URL, else the body, else
    /// `default`; `metadata.generateName` is honoured.
    pub fn create(
        &mut self,
        gvr: &Gvr,
        ns: Option<&str>,
        mut obj: Value,
        dry_run: bool,
    ) -> Result<Value, ApiError> {
        let cluster = gvr.cluster_scoped();
        let meta = meta_mut(&mut obj)?;
        let ns_key = if cluster {
            meta.remove("namespace");
            String::new()
        } else {
            let body_ns = meta
                .get("namespace")
                .and_then(Value::as_str)
                .filter(|s| !s.is_empty());
            let n = match (ns, body_ns) {
                (Some(u), Some(b)) if u != b => {
                    return Err(ApiError::bad_request(
                        "the namespace of the provided object does not match the namespace sent on the request",
                    ));
                }
                (Some(u), _) => u.to_string(),
                (None, Some(b)) => b.to_string(),
                (None, None) => "default".to_string(),
            };
            meta.insert("namespace".into(), Value::String(n.clone()));
            n
        };
        let given = meta
            .get("name")
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty());
        let name = match (given, meta.get("generateName").and_then(Value::as_str)) {
            (Some(n), _) => n.to_string(),
            (None, Some(prefix)) if !prefix.is_empty() => {
                let prefix = prefix.to_string();
                let mut n = format!("{prefix}{}", random_suffix());
                while self.lookup(gvr, &ns_key, &n).is_some() {
                    n = format!("{prefix}{}", random_suffix());
                }
                n
            }
            _ => {
                return Err(ApiError::invalid(format!(
                    "{} is invalid: metadata.name: Required value: name or generateName is required",
                    gvr.default_kind()
                )));
            }
        };
        if name.contains('/') || name.contains('%') {
            return Err(ApiError::invalid(format!(
                "metadata.name: Invalid value: {name:?}"
            )));
        }
        if self.lookup(gvr, &ns_key, &name).is_some() {
            return Err(ApiError::already_exists(&gvr.plural, &gvr.group, &name));
        }
        meta.insert("name".into(), Value::String(name.clone()));
        meta.insert(
            "uid".into(),
            Value::String(uuid::Uuid::new_v4().to_string()),
        );
        meta.insert("creationTimestamp".into(), Value::String(now_rfc3339()));
        meta.insert("generation".into(), json!(1));
        meta.remove("deletionTimestamp");
        meta.remove("resourceVersion");
        if let Some(map) = obj.as_object_mut() {
            if !map.get("apiVersion").is_some_and(Value::is_string) {
                map.insert("apiVersion".into(), Value::String(gvr.api_version()));
            }
            match map.get("kind").and_then(Value::as_str) {
                Some(k) if !k.is_empty() => {
                    self.kinds.insert(gvr.key(), k.to_string());
                }
                _ => {
                    map.insert("kind".into(), Value::String(self.kind_of(gvr)));
                }
            }
        }
        defaults::on_create(self, gvr, &mut obj);
        if dry_run {
            return Ok(self.present(gvr, &obj));
        }
        self.rv += 1;
        obj["metadata"]["resourceVersion"] = Value::String(self.rv.to_string());
        self.objects
            .entry(gvr.key())
            .or_default()
            .insert((ns_key.clone(), name), obj.clone());
        let out = self.present(gvr, &obj);
        self.record(gvr.key(), ns_key, EventType::Added, obj, None);
        Ok(out)
    }

    /// Replaces an object (PUT). A non-empty `metadata.resourceVersion` in the body must
    /// match the stored one (else 409 Conflict); without one the update is unconditional.
    pub fn update(
        &mut self,
        gvr: &Gvr,
        ns: Option<&str>,
        name: &str,
        mut body: Value,
        sub: Sub,
        dry_run: bool,
    ) -> Result<Value, ApiError> {
        let nk = Self::ns_key(gvr, ns);
        let existing = self
            .lookup(gvr, &nk, name)
            .cloned()
            .ok_or_else(|| Self::not_found(gvr, name))?;
        let meta = meta_mut(&mut body)?;
        if let Some(n) = meta
            .get("name")
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            && n != name
        {
            return Err(ApiError::bad_request(format!(
                "the name of the object ({n}) does not match the name on the URL ({name})"
            )));
        }
        if !gvr.cluster_scoped()
            && let Some(n) = meta
                .get("namespace")
                .and_then(Value::as_str)
                .filter(|s| !s.is_empty())
            && n != nk
        {
            return Err(ApiError::bad_request(
                "the namespace of the provided object does not match the namespace sent on the request",
            ));
        }
        if let Some(rv) = meta
            .get("resourceVersion")
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            && Some(rv) != str_at(&existing, "/metadata/resourceVersion")
        {
            return Err(ApiError::conflict(
                &gvr.plural,
                &gvr.group,
                name,
                "the object has been modified; please apply your changes to the latest version and try again",
            ));
        }
        let new = match sub {
            Sub::Main => with_status_of(body, &existing),
            Sub::Status => with_status_of(existing.clone(), &body),
        };
        self.commit(gvr, &nk, name, existing, new, dry_run)
    }

    /// Patches an object; `Apply` creates it when absent (then `.1` is true).
    #[allow(clippy::too_many_arguments)]
    pub fn patch(
        &mut self,
        gvr: &Gvr,
        ns: Option<&str>,
        name: &str,
        kind: PatchKind,
        body: &Value,
        sub: Sub,
        dry_run: bool,
    ) -> Result<(Value, bool), ApiError> {
        let nk = Self::ns_key(gvr, ns);
        let Some(existing) = self.lookup(gvr, &nk, name).cloned() else {
            if kind == PatchKind::Apply && sub == Sub::Main {
                let mut obj = json!({});
                patch::apply(kind, &mut obj, body)?;
                let meta = meta_mut(&mut obj)?;
                meta.insert("name".into(), Value::String(name.to_string()));
                return self.create(gvr, ns, obj, dry_run).map(|o| (o, true));
            }
            return Err(Self::not_found(gvr, name));
        };
        let mut doc = existing.clone();
        patch::apply(kind, &mut doc, body)?;
        if !doc.is_object() {
            return Err(ApiError::invalid("the patched object is not a JSON object"));
        }
        if let Some(rv) = str_at(&doc, "/metadata/resourceVersion")
            && Some(rv) != str_at(&existing, "/metadata/resourceVersion")
        {
            return Err(ApiError::conflict(
                &gvr.plural,
                &gvr.group,
                name,
                "the object has been modified; please apply your changes to the latest version and try again",
            ));
        }
        let new = match sub {
            Sub::Main => with_status_of(doc, &existing),
            Sub::Status => with_status_of(existing.clone(), &doc),
        };
        self.commit(gvr, &nk, name, existing, new, dry_run)
            .map(|o| (o, false))
    }

    /// Stores `new` in place of `existing`, keeping identity fields, bumping
    /// `generation` on spec changes; a no-op write changes nothing (no event).
    fn commit(
        &mut self,
        gvr: &Gvr,
        nk: &str,
        name: &str,
        existing: Value,
        mut new: Value,
        dry_run: bool,
    ) -> Result<Value, ApiError> {
        let meta = meta_mut(&mut new)?;
        for field in [
            "name",
            "namespace",
            "uid",
            "creationTimestamp",
            "resourceVersion",
            "generation",
        ] {
            match existing.pointer(&format!("/metadata/{field}")) {
                Some(v) => {
                    meta.insert(field.into(), v.clone());
                }
                None => {
                    meta.remove(field);
                }
            }
        }
        if let (Some(map), Some(old)) = (new.as_object_mut(), existing.as_object()) {
            for field in ["apiVersion", "kind"] {
                if !map.get(field).is_some_and(Value::is_string)
                    && let Some(v) = old.get(field)
                {
                    map.insert(field.into(), v.clone());
                }
            }
        }
        if new == existing {
            return Ok(self.present(gvr, &existing));
        }
        if spec_part(&new) != spec_part(&existing) {
            let g = existing
                .pointer("/metadata/generation")
                .and_then(Value::as_i64)
                .unwrap_or(0);
            new["metadata"]["generation"] = json!(g + 1);
        }
        if dry_run {
            return Ok(self.present(gvr, &new));
        }
        self.rv += 1;
        new["metadata"]["resourceVersion"] = Value::String(self.rv.to_string());
        self.objects
            .entry(gvr.key())
            .or_default()
            .insert((nk.to_string(), name.to_string()), new.clone());
        let out = self.present(gvr, &new);
        self.record(
            gvr.key(),
            nk.to_string(),
            EventType::Modified,
            new,
            Some(existing),
        );
        Ok(out)
    }

    /// Changes a stored object with `f` (for controllers and the test handle): everything
    /// `f` writes is kept, status included. `None` if the object does not exist.
    pub fn modify(
        &mut self,
        gvr: &Gvr,
        ns: Option<&str>,
        name: &str,
        f: impl FnOnce(&mut Value),
    ) -> Option<Value> {
        let nk = Self::ns_key(gvr, ns);
        let existing = self.lookup(gvr, &nk, name)?.clone();
        let mut new = existing.clone();
        f(&mut new);
        self.commit(gvr, &nk, name, existing, new, false).ok()
    }

    /// Creates or wholly replaces an object (status included); the namespace comes
    /// from the object (`default` when missing).
    /// Given `creationTimestamp` and `deletionTimestamp` are kept, so tests can seed old
    /// or terminating objects.
    pub fn upsert(&mut self, gvr: &Gvr, obj: Value) -> Result<Value, ApiError> {
        let seeded: Vec<(&str, Value)> = ["creationTimestamp", "deletionTimestamp"]
            .into_iter()
            .filter_map(|f| {
                obj.pointer(&format!("/metadata/{f}"))
                    .cloned()
                    .map(|v| (f, v))
            })
            .collect();
        let stored = self.upsert_inner(gvr, obj)?;
        if seeded.is_empty() {
            return Ok(stored);
        }
        let ns = str_at(&stored, "/metadata/namespace")
            .unwrap_or("")
            .to_string();
        let name = str_at(&stored, "/metadata/name").unwrap_or("").to_string();
        let nk = Self::ns_key(gvr, Some(&ns));
        for (field, value) in seeded {
            self.set_meta_raw(gvr, &nk, &name, field, value);
        }
        self.get(gvr, Some(&ns), &name)
    }

    fn upsert_inner(&mut self, gvr: &Gvr, mut obj: Value) -> Result<Value, ApiError> {
        let ns = if gvr.cluster_scoped() {
            String::new()
        } else {
            str_at(&obj, "/metadata/namespace")
                .unwrap_or("default")
                .to_string()
        };
        let Some(name) = str_at(&obj, "/metadata/name").map(str::to_string) else {
            return self.create(gvr, Some(&ns), obj, false);
        };
        match self.lookup(gvr, &ns, &name).cloned() {
            Some(existing) => {
                if !gvr.cluster_scoped() {
                    obj["metadata"]["namespace"] = Value::String(ns.clone());
                }
                self.commit(gvr, &ns, &name, existing, obj, false)
            }
            None => self.create(gvr, Some(&ns), obj, false),
        }
    }

    /// Deletes an object at once (no finalizers, no grace period) and answers it.
    /// `DeleteOptions.preconditions` (uid, resourceVersion) are checked.
    pub fn delete(
        &mut self,
        gvr: &Gvr,
        ns: Option<&str>,
        name: &str,
        options: Option<&Value>,
        dry_run: bool,
    ) -> Result<Value, ApiError> {
        let nk = Self::ns_key(gvr, ns);
        let existing = self
            .lookup(gvr, &nk, name)
            .cloned()
            .ok_or_else(|| Self::not_found(gvr, name))?;
        if let Some(pre) = options.and_then(|o| o.get("preconditions")) {
            for field in ["uid", "resourceVersion"] {
                if let Some(want) = pre.get(field).and_then(Value::as_str)
                    && Some(want) != str_at(&existing, &format!("/metadata/{field}"))
                {
                    return Err(ApiError::conflict(
                        &gvr.plural,
                        &gvr.group,
                        name,
                        &format!("Precondition failed: {field} in precondition: {want}"),
                    ));
                }
            }
        }
        if dry_run {
            return Ok(self.present(gvr, &existing));
        }
        let out = self.remove(&gvr.key(), &nk, name).unwrap_or(existing);
        if gvr.group.is_empty() && gvr.plural == "namespaces" {
            let keys: Vec<ResKey> = self.objects.keys().cloned().collect();
            for key in keys {
                let names: Vec<String> = self.objects[&key]
                    .keys()
                    .filter(|(n, _)| n == name)
                    .map(|(_, o)| o.clone())
                    .collect();
                for obj_name in names {
                    self.remove(&key, name, &obj_name);
                }
            }
        }
        Ok(self.present(gvr, &out))
    }

    fn remove(&mut self, key: &ResKey, ns: &str, name: &str) -> Option<Value> {
        let mut obj = self
            .objects
            .get_mut(key)?
            .remove(&(ns.to_string(), name.to_string()))?;
        self.rv += 1;
        obj["metadata"]["resourceVersion"] = Value::String(self.rv.to_string());
        self.record(
            key.clone(),
            ns.to_string(),
            EventType::Deleted,
            obj.clone(),
            None,
        );
        Some(obj)
    }

    /// Deletes every matching object (DELETE on a collection) and answers them.
    pub fn delete_collection(
        &mut self,
        gvr: &Gvr,
        ns: Option<&str>,
        sel: &Selectors,
        dry_run: bool,
    ) -> Vec<Value> {
        let victims = self.list(gvr, ns, sel);
        if dry_run {
            return victims;
        }
        let mut out = Vec::new();
        for v in victims {
            let vns = str_at(&v, "/metadata/namespace").unwrap_or("").to_string();
            let vname = str_at(&v, "/metadata/name").unwrap_or("").to_string();
            if let Some(o) = self.remove(&gvr.key(), &Self::ns_key(gvr, Some(&vns)), &vname) {
                out.push(self.present(gvr, &o));
            }
        }
        out
    }
}

/// `target` with the status of `source` (or none when `source` has none). A write to
/// the object keeps the stored status; a write to `/status` takes only the new status.
fn with_status_of(mut target: Value, source: &Value) -> Value {
    if let Some(map) = target.as_object_mut() {
        match source.get("status") {
            Some(s) => {
                map.insert("status".into(), s.clone());
            }
            None => {
                map.remove("status");
            }
        }
    }
    target
}

/// The object without metadata and status, to tell spec changes.
fn spec_part(obj: &Value) -> Value {
    let mut o = obj.clone();
    if let Some(m) = o.as_object_mut() {
        m.remove("metadata");
        m.remove("status");
    }
    o
}

/// Five characters as Kubernetes uses for `generateName`.
fn random_suffix() -> String {
    const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    uuid::Uuid::new_v4()
        .as_bytes()
        .iter()
        .take(5)
        .map(|b| ALPHABET[*b as usize % ALPHABET.len()] as char)
        .collect()
}
