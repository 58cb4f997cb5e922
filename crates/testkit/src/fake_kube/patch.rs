//! Patch bodies: JSON merge patch (RFC 7386; strategic merge patch is treated as one),
//! JSON patch (RFC 6902) and server-side apply (a merge of the applied YAML/JSON).

use serde_json::Value;

use super::status::ApiError;

/// The patch flavours, from the request's `Content-Type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PatchKind {
    Merge,
    Strategic,
    Json,
    Apply,
}

impl PatchKind {
    pub fn from_content_type(ct: &str) -> Option<Self> {
        let ct = ct.split(';').next().unwrap_or("").trim();
        match ct {
            "application/merge-patch+json" => Some(PatchKind::Merge),
            "application/strategic-merge-patch+json" => Some(PatchKind::Strategic),
            "application/json-patch+json" => Some(PatchKind::Json),
            "application/apply-patch+yaml" | "application/apply-patch+json" => {
                Some(PatchKind::Apply)
            }
            _ => None,
        }
    }
}

/// Parses a JSON body, or for apply a YAML one too.
pub fn parse_body(kind: PatchKind, body: &[u8]) -> Result<Value, ApiError> {
    match serde_json::from_slice::<Value>(body) {
        Ok(v) => Ok(v),
        Err(e) if kind == PatchKind::Apply => {
            let text = std::str::from_utf8(body)
                .map_err(|_| ApiError::bad_request("body is not UTF-8"))?;
            serde_norway::from_str::<Value>(text).map_err(|ye| {
                ApiError::bad_request(format!("cannot parse apply body: {e}; as YAML: {ye}"))
            })
        }
        Err(e) => Err(ApiError::bad_request(format!(
            "cannot parse patch body: {e}"
        ))),
    }
}

/// Applies a parsed patch to `doc` in place.
pub fn apply(kind: PatchKind, doc: &mut Value, patch: &Value) -> Result<(), ApiError> {
    match kind {
        PatchKind::Merge | PatchKind::Strategic | PatchKind::Apply => {
            if !patch.is_object() {
                return Err(ApiError::bad_request("a merge patch must be a JSON object"));
            }
            json_patch::merge(doc, patch);
            Ok(())
        }
        PatchKind::Json => {
            let ops: json_patch::Patch = serde_json::from_value(patch.clone())
                .map_err(|e| ApiError::bad_request(format!("invalid JSON patch: {e}")))?;
            json_patch::patch(doc, &ops)
                .map_err(|e| ApiError::invalid(format!("JSON patch failed: {e}")))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn merge_and_json_patch() {
        let mut doc = json!({"a": 1, "b": {"c": 2, "d": 3}});
        apply(
            PatchKind::Merge,
            &mut doc,
            &json!({"b": {"c": null, "e": 4}}),
        )
        .unwrap();
        assert_eq!(doc, json!({"a": 1, "b": {"d": 3, "e": 4}}));
        let p = json!([{"op": "test", "path": "/a", "value": 1}, {"op": "replace", "path": "/a", "value": 5},
            {"op": "add", "path": "/f", "value": [1]}, {"op": "remove", "path": "/b"}]);
        apply(PatchKind::Json, &mut doc, &p).unwrap();
        assert_eq!(doc, json!({"a": 5, "f": [1]}));
        let bad = json!([{"op": "test", "path": "/a", "value": 1}]);
        assert_eq!(
            apply(PatchKind::Json, &mut doc, &bad).unwrap_err().code,
            422
        );
        assert_eq!(
            apply(PatchKind::Json, &mut doc, &json!({"x": 1}))
                .unwrap_err()
                .code,
            400
        );
    }

    #[test]
    fn apply_body_may_be_yaml() {
        let v = parse_body(PatchKind::Apply, b"metadata:\n  name: x\n").unwrap();
        assert_eq!(v, json!({"metadata": {"name": "x"}}));
        assert!(parse_body(PatchKind::Merge, b"metadata:\n  name: x\n").is_err());
    }
}
