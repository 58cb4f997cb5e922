//! Job-template argument definitions and task argument values (data-model.md §2):
//! the definition `{group: {"--name": {type, label, default, choice, ...}}}` and the
//! task's flat `{"--name": value}` checked against it.

use serde_json::{Map, Value, json};

/// Argument types a template may declare.
pub const ARG_TYPES: &[&str] = &[
    "int", "bool", "str", "text", "enum", "float", "multiple", "dict", "list", "file", "json",
];

/// Why a definition or a value is not acceptable.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{0}")]
pub struct ArgsError(pub String);

fn err(s: impl Into<String>) -> ArgsError {
    ArgsError(s.into())
}

/// Parses JSON text, treating empty text as `{}`.
pub fn parse_json_object(text: &str, what: &str) -> Result<Map<String, Value>, ArgsError> {
    if text.trim().is_empty() {
        return Ok(Map::new());
    }
    match serde_json::from_str::<Value>(text) {
        Ok(Value::Object(m)) => Ok(m),
        Ok(_) => Err(err(format!("{what} must be a JSON object"))),
        Err(e) => Err(err(format!("{what} is not valid JSON: {e}"))),
    }
}

/// Validates a template's argument definition and fills the defaults of every attribute.
pub fn validate_job_args(text: &str) -> Result<Value, ArgsError> {
    let groups = parse_json_object(text, "args")?;
    let mut out = Map::new();
    for (group, args) in groups {
        let Value::Object(args) = args else {
            return Err(err(format!(
                "args group {group:?} must be an object of arguments"
            )));
        };
        let mut g = Map::new();
        for (name, def) in args {
            let Value::Object(mut def) = def else {
                return Err(err(format!(
                    "argument {name:?} must be an object with a type"
                )));
            };
            let kind = def
                .get("type")
                .and_then(Value::as_str)
                .unwrap_or("str")
                .to_string();
            if !ARG_TYPES.contains(&kind.as_str()) {
                return Err(err(format!(
                    "argument {name:?} has unknown type {kind:?} (one of {})",
                    ARG_TYPES.join(", ")
                )));
            }
            if (kind == "enum" || kind == "multiple")
                && def
                    .get("choice")
                    .and_then(Value::as_array)
                    .map(|c| c.is_empty())
                    .unwrap_or(true)
            {
                return Err(err(format!(
                    "argument {name:?} of type {kind} needs a non-empty choice list"
                )));
            }
            for (k, d) in [
                ("type", json!(kind)),
                ("item_type", json!("str")),
                ("label", json!(name)),
                ("require", json!(1)),
                ("choice", json!([])),
                ("range", json!("")),
                ("default", json!("")),
                ("placeholder", json!("")),
                ("describe", json!(name)),
                ("editable", json!(1)),
            ] {
                def.entry(k).or_insert(d);
            }
            g.insert(name, Value::Object(def));
        }
        out.insert(group, Value::Object(g));
    }
    Ok(Value::Object(out))
}

/// Flattens the definitions of every group: `name → definition`.
pub fn flatten_definitions(definition: &Value) -> Map<String, Value> {
    let mut out = Map::new();
    if let Value::Object(groups) = definition {
        for g in groups.values() {
            if let Value::Object(args) = g {
                for (k, v) in args {
                    out.insert(k.clone(), v.clone());
                }
            }
        }
    }
    out
}

fn is_empty(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::String(s) => s.trim().is_empty(),
        Value::Array(a) => a.is_empty(),
        Value::Object(o) => o.is_empty(),
        _ => false,
    }
}

/// Checks a task's argument values against the template definition: coerces
/// `int`/`float`/`str`/`text`, checks `enum`/`multiple` choices, normalises lists, fills
/// defaults and rejects missing required arguments. Unknown keys are kept.
pub fn validate_task_args(
    definition: &Value,
    values: &Map<String, Value>,
) -> Result<Map<String, Value>, ArgsError> {
    let defs = flatten_definitions(definition);
    let mut out = Map::new();
    for (name, def) in &defs {
        let kind = def.get("type").and_then(Value::as_str).unwrap_or("str");
        let required = match def.get("require") {
            Some(Value::Bool(b)) => *b,
            Some(Value::Number(n)) => n.as_i64().unwrap_or(0) != 0,
            Some(Value::String(s)) => s == "1" || s == "true",
            _ => false,
        };
        let given = values.get(name).filter(|v| !is_empty(v)).cloned();
        let value = match given {
            Some(v) => v,
            None => match def.get("default").filter(|d| !is_empty(d)) {
                Some(d) => d.clone(),
                None if required && kind != "bool" => {
                    return Err(err(format!("argument {name} is required")));
                }
                None => values
                    .get(name)
                    .cloned()
                    .unwrap_or(Value::String(String::new())),
            },
        };
        let label = def.get("label").and_then(Value::as_str).unwrap_or(name);
        let value = match kind {
            "int" => match &value {
                Value::Number(n) if n.is_i64() => value.clone(),
                Value::String(s) if s.trim().is_empty() => value.clone(),
                Value::String(s) => json!(s.trim().parse::<i64>().map_err(|_| err(format!(
                    "argument {name} ({label}) must be an integer, got {s:?}"
                )))?),
                _ => return Err(err(format!("argument {name} ({label}) must be an integer"))),
            },
            "float" => match &value {
                Value::Number(_) => value.clone(),
                Value::String(s) if s.trim().is_empty() => value.clone(),
                Value::String(s) => json!(s.trim().parse::<f64>().map_err(|_| err(format!(
                    "argument {name} ({label}) must be a number, got {s:?}"
                )))?),
                _ => return Err(err(format!("argument {name} ({label}) must be a number"))),
            },
            "str" | "text" | "file" => match &value {
                Value::String(_) => value.clone(),
                Value::Number(n) => json!(n.to_string()),
                Value::Bool(b) => json!(b.to_string()),
                other => json!(other.to_string()),
            },
            "enum" => {
                let s = match &value {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                };
                let choices = def
                    .get("choice")
                    .and_then(Value::as_array)
                    .cloned()
                    .unwrap_or_default();
                if !s.is_empty()
                    && !choices.iter().any(|c| {
                        c.as_str() == Some(s.as_str())
                            || c.as_i64().map(|i| i.to_string()) == Some(s.clone())
                    })
                {
                    return Err(err(format!(
                        "argument {name} ({label}) must be one of {}",
                        Value::Array(choices)
                    )));
                }
                json!(s)
            }
            "multiple" | "list" => {
                let items: Vec<String> = match &value {
                    Value::Array(a) => a
                        .iter()
                        .map(|v| {
                            v.as_str()
                                .map(String::from)
                                .unwrap_or_else(|| v.to_string())
                        })
                        .collect(),
                    Value::String(s) => s
                        .replace('，', ",")
                        .split(',')
                        .map(|p| p.trim().to_string())
                        .filter(|p| !p.is_empty())
                        .collect(),
                    other => vec![other.to_string()],
                };
                if kind == "multiple" {
                    let choices = def
                        .get("choice")
                        .and_then(Value::as_array)
                        .cloned()
                        .unwrap_or_default();
                    if let Some(bad) = items
                        .iter()
                        .find(|i| !choices.iter().any(|c| c.as_str() == Some(i.as_str())))
                    {
                        return Err(err(format!(
                            "argument {name} ({label}): {bad:?} is not one of {}",
                            Value::Array(choices)
                        )));
                    }
                }
                json!(items.join(","))
            }
            "json" | "dict" => match &value {
                Value::String(s) if !s.trim().is_empty() => {
                    serde_json::from_str::<Value>(s).map_err(|e| {
                        err(format!("argument {name} ({label}) is not valid JSON: {e}"))
                    })?;
                    value.clone()
                }
                _ => value.clone(),
            },
            _ => value.clone(),
        };
        out.insert(name.clone(), value);
    }
    for (k, v) in values {
        if !out.contains_key(k) {
            out.insert(k.clone(), v.clone());
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fills_definition_defaults() {
        let v = validate_job_args(r#"{"g":{"--n":{"type":"int"}}}"#).unwrap();
        assert_eq!(v["g"]["--n"]["require"], json!(1));
        assert_eq!(v["g"]["--n"]["label"], json!("--n"));
        assert!(validate_job_args(r#"{"g":{"--n":{"type":"weird"}}}"#).is_err());
        assert!(validate_job_args(r#"{"g":{"--e":{"type":"enum"}}}"#).is_err());
        assert!(validate_job_args("[1]").is_err());
        assert!(validate_job_args("{bad").is_err());
        assert_eq!(validate_job_args("").unwrap(), json!({}));
    }

    #[test]
    fn checks_task_values() {
        let def = validate_job_args(
            r#"{"g":{"--n":{"type":"int","default":"3"},"--m":{"type":"enum","choice":["a","b"],"default":"a"},"--x":{"type":"str","require":1},"--l":{"type":"list","require":0}}}"#,
        )
        .unwrap();
        let mut vals = Map::new();
        vals.insert("--x".into(), json!("hello"));
        vals.insert("--n".into(), json!("7"));
        vals.insert("--l".into(), json!(["a", "b"]));
        let out = validate_task_args(&def, &vals).unwrap();
        assert_eq!(out["--n"], json!(7));
        assert_eq!(out["--m"], json!("a"));
        assert_eq!(out["--l"], json!("a,b"));
        let mut bad = vals.clone();
        bad.insert("--n".into(), json!("x"));
        assert!(validate_task_args(&def, &bad).is_err());
        let mut missing = vals.clone();
        missing.remove("--x");
        assert_eq!(
            validate_task_args(&def, &missing).unwrap_err().0,
            "argument --x is required"
        );
        let mut wrong = vals;
        wrong.insert("--m".into(), json!("z"));
        assert!(validate_task_args(&def, &wrong).is_err());
    }
}
