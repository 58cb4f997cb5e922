//! The field objects of `_info`'s forms and search bar, built as Flask-AppBuilder and
//! cube-studio's `MyappModelRestApi` build them: the column's marshmallow field, the
//! view's declared form field (`edit_form_extra_fields`), `DataRequired` for `NOT NULL`
//! columns, then `make_ui_info` ([`ui_info`]).

use diesel::mysql::MysqlConnection;
use serde_json::{Map, Value, json};

use super::meta::{ColumnMeta, SqlKind};
use super::models::RelationKind;
use super::resolve::{ColumnRef, Resolved};
use super::sql::{Bind, SqlFrag, select_rows};
use super::view::FilterDefault;
use crate::auth::Ctx;
use crate::error::ApiError;

/// Related-field choices are capped like the original's forms.
const FORM_CHOICES_LIMIT: i64 = 1000;
/// And the search bar's.
const FILTER_CHOICES_LIMIT: i64 = 2000;

fn op_name(op: &str) -> &'static str {
    match op {
        "sw" => "以开始",
        "ew" => "以结束",
        "ct" => "包含",
        "eq" => "等于",
        "nsw" => "不以开始",
        "new" => "不以结束",
        "nct" => "不包含",
        "neq" => "不等于",
        "gt" => "大于",
        "lt" => "小于",
        "rel_o_m" => "关联",
        "nrel_o_m" => "不关联",
        "rel_m_m" => "多重关联",
        _ => "",
    }
}

/// The related-table choices already read during one `_info` call. The same related
/// table under the same choice filter is read once, at the largest limit asked for so
/// far; a smaller limit takes the leading rows (`ORDER BY id DESC` on the primary key
/// gives the same order at every limit).
#[derive(Default)]
pub struct ChoicesCache {
    entries: Vec<CachedChoices>,
}

struct CachedChoices {
    target: String,
    repr: String,
    filter: SqlFrag,
    /// The `LIMIT` the rows were read with.
    limit: i64,
    values: Vec<Value>,
}

impl CachedChoices {
    fn answers(&self, target: &str, repr: &str, filter: &SqlFrag) -> bool {
        self.target == target
            && self.repr == repr
            && self.filter.sql == filter.sql
            && self.filter.binds == filter.binds
    }
    /// Whether the rows read cover `limit`: read with a limit at least as large, or
    /// fewer rows came back than the limit (the whole table was read).
    fn covers(&self, limit: i64) -> bool {
        limit <= self.limit || (self.values.len() as i64) < self.limit
    }
}

/// `[{id, value}]` choices of a related table, narrowed by the view's choice filter.
pub fn related_values(
    conn: &mut MysqlConnection,
    cache: &mut ChoicesCache,
    rv: &Resolved<'_>,
    ctx: &Ctx,
    field: &str,
    target: &str,
    limit: i64,
) -> Result<(Vec<Value>, i64), ApiError> {
    let Some(meta) = rv.schema.table(target) else {
        return Ok((vec![], 0));
    };
    let repr = rv.model_of(target).map(|m| m.repr_sql).unwrap_or("t.`id`");
    let filter = rv
        .view
        .rel_choices
        .get(field)
        .map(|f| f(ctx))
        .unwrap_or_else(|| SqlFrag::new("1=1", vec![]));
    let pos = cache
        .entries
        .iter()
        .position(|e| e.answers(target, repr, &filter));
    let entry = match pos {
        Some(i) if cache.entries[i].covers(limit) => &cache.entries[i],
        _ => {
            let mut binds = filter.binds.clone();
            binds.push(Bind::Int(limit));
            let rows = select_rows(
                conn,
                meta,
                &[("__repr__", repr.to_string())],
                &format!("WHERE {} ORDER BY t.`id` DESC LIMIT ?", filter.sql),
                &binds,
            )?;
            let values: Vec<Value> = rows.iter().map(|r| json!({"id": r.get("id").cloned().unwrap_or(Value::Null), "value": r.get("__repr__").cloned().unwrap_or(Value::Null)})).collect();
            let fresh = CachedChoices {
                target: target.to_string(),
                repr: repr.to_string(),
                filter,
                limit,
                values,
            };
            match pos {
                Some(i) => {
                    cache.entries[i] = fresh;
                    &cache.entries[i]
                }
                None => {
                    cache.entries.push(fresh);
                    &cache.entries[cache.entries.len() - 1]
                }
            }
        }
    };
    let values: Vec<Value> = entry
        .values
        .iter()
        .take(usize::try_from(limit).unwrap_or(0))
        .cloned()
        .collect();
    let n = values.len() as i64;
    Ok((values, n))
}

fn sqla_class(kind: SqlKind) -> &'static str {
    match kind {
        SqlKind::Int => "Integer",
        SqlKind::BigInt => "BigInteger",
        SqlKind::Float => "Float",
        SqlKind::Bool => "Boolean",
        SqlKind::DateTime => "DateTime",
        SqlKind::Date => "Date",
        SqlKind::String => "String",
        SqlKind::Text => "Text",
        SqlKind::Enum => "Enum",
    }
}

/// The length SQLAlchemy declares for a string column: `VARCHAR(n)`, or `Text(n)` when
/// the model gives one (`TEXT(65536)`); a bare `Text` has none.
pub fn declared_len(rv: &Resolved<'_>, c: &ColumnMeta) -> Option<i64> {
    match c.kind {
        SqlKind::String => c.max_len.map(|n| n as i64),
        SqlKind::Text => rv
            .model
            .sqla_type(c)
            .strip_prefix("TEXT(")
            .and_then(|n| n.trim_end_matches(')').parse().ok()),
        _ => None,
    }
}

fn choices_to_values(choices: &Value) -> Value {
    match choices {
        Value::Array(list) => Value::Array(
            list.iter()
                .filter_map(|c| match c {
                    Value::Array(pair) if pair.len() == 2 => {
                        Some(json!({"id": pair[0], "value": pair[1]}))
                    }
                    _ => None,
                })
                .collect(),
        ),
        _ => json!([]),
    }
}

/// The keys of a declared form field (the original's `edit_form_extra_fields`) over the
/// generated ones, as FAB's `filed2ui`: the declaration's type, validators, widget and
/// style win; `choices` and `default` are always present (`[]`, `""` when not declared);
/// a `null` removes a key.
fn merge_declared(base: &mut Map<String, Value>, over: &Value) {
    base.insert("default".into(), json!(""));
    base.insert("choices".into(), json!([]));
    if let Value::Object(o) = over {
        for (k, v) in o {
            match k.as_str() {
                // the view's labels and descriptions win over the field's own
                "label" | "description" => {
                    if base.get(k).and_then(Value::as_str).unwrap_or("").is_empty() {
                        base.insert(k.clone(), v.clone());
                    }
                }
                _ if v.is_null() && k != "default" => {
                    base.remove(k);
                }
                _ => {
                    base.insert(k.clone(), v.clone());
                }
            }
        }
    }
}

/// FAB's `make_ui_info`: validators without repeats, and the front end's `ui-type` and
/// `values` from `type`, `choices` and `widget`.
pub fn ui_info(f: &mut Map<String, Value>) {
    if let Some(Value::Array(vals)) = f.get_mut("validators") {
        let mut seen = Vec::new();
        vals.retain(|v| {
            let fresh = !seen.contains(v);
            if fresh {
                seen.push(v.clone());
            }
            fresh
        });
    }
    let ty = f
        .get("type")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    const SELECTS: [&str; 7] = [
        "QuerySelect",
        "Select",
        "Related",
        "RelatedList",
        "MySelectMultiple",
        "SelectMultiple",
        "Enum",
    ];
    if SELECTS.contains(&ty.as_str()) {
        let has_choices = f
            .get("choices")
            .and_then(Value::as_array)
            .is_some_and(|c| !c.is_empty());
        if has_choices {
            let values = choices_to_values(&f["choices"]);
            f.insert("values".into(), values);
        } else if !f.contains_key("values") {
            f.insert("values".into(), json!([]));
        }
        if !f.contains_key("ui-type") {
            let multi = matches!(
                ty.as_str(),
                "MySelectMultiple" | "RelatedList" | "SelectMultiple"
            );
            f.insert(
                "ui-type".into(),
                json!(if multi { "select2" } else { "select" }),
            );
        }
    }
    let ui = f.get("ui-type").and_then(Value::as_str).unwrap_or("");
    if !matches!(ui, "list" | "datePicker" | "json") && ty == "String" {
        let text = f.get("widget").and_then(Value::as_str).unwrap_or("BS3Text") == "BS3Text";
        f.insert(
            "ui-type".into(),
            json!(if text { "input" } else { "textArea" }),
        );
    }
    let lower = ty.to_lowercase();
    if lower.contains("text") {
        f.insert("ui-type".into(), json!("textArea"));
    }
    if lower.contains("varchar") {
        f.insert("ui-type".into(), json!("input"));
    }
    if lower.contains("boolean") {
        f.insert("ui-type".into(), json!("radio"));
        f.insert(
            "values".into(),
            json!([{"id": true, "value": "yes"}, {"id": false, "value": "no"}]),
        );
        let on = f.get("default").is_some_and(truthy);
        f.insert("default".into(), json!(on));
    }
    if f.get("default").is_some_and(|d| {
        let s = match d {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        truthy(d) && s.starts_with("${") && s[2..].contains('}')
    }) {
        f.insert("ui-type".into(), json!("match-input"));
    }
}

/// The related rows a relation offers, and its marshmallow field's class.
fn related_rows(f: &mut Map<String, Value>, many: bool, values: Vec<Value>, count: i64) {
    f.insert("count".into(), json!(count));
    f.insert("values".into(), Value::Array(values));
    let class = if many { "RelatedList" } else { "Related" };
    f.insert("type".into(), json!(class));
}

/// Python's truthiness of a JSON value.
fn truthy(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64().is_some_and(|x| x != 0.0),
        Value::String(s) => !s.is_empty(),
        Value::Array(a) => !a.is_empty(),
        Value::Object(o) => !o.is_empty(),
    }
}

/// The field-info object of one add/edit column (api.md §2.1), built as FAB's
/// `_get_field_info`: from the column (or relation), then the view's declared field,
/// then `DataRequired` for a `NOT NULL` column, then [`ui_info`].
pub fn field_info(
    conn: &mut MysqlConnection,
    cache: &mut ChoicesCache,
    rv: &Resolved<'_>,
    ctx: &Ctx,
    name: &str,
) -> Result<Value, ApiError> {
    let mut f = Map::new();
    let label = rv.label(name);
    let description = rv
        .view
        .descriptions
        .iter()
        .find(|(c, _)| *c == name)
        .map(|(_, d)| d.to_string())
        .unwrap_or_default();
    f.insert("name".into(), json!(name));
    let mut not_null = false;
    match rv.resolve(name) {
        ColumnRef::Relation(r) => {
            let (values, count) =
                related_values(conn, cache, rv, ctx, name, r.target(), FORM_CHOICES_LIMIT)?;
            let required = match r.kind {
                RelationKind::ManyToOne { fk, .. } => {
                    rv.table.column(fk).map(|c| !c.nullable).unwrap_or(false)
                }
                _ => false,
            };
            f.insert("remember".into(), json!(false));
            f.insert("label".into(), json!(label));
            f.insert("description".into(), json!(description));
            f.insert("validators".into(), json!([{"type": "DataRequired"}]));
            related_rows(&mut f, r.is_many(), values, count);
            f.insert("required".into(), json!(required));
            f.insert("unique".into(), json!(false));
        }
        ColumnRef::Column(c) => {
            f.insert("type".into(), json!(sqla_class(c.kind)));
            let default = rv.model.default_of(name);
            if let Some(d) = default {
                f.insert("default".into(), d.info_value());
            }
            if c.kind == SqlKind::Enum {
                let choices: Vec<Value> = c.enum_values.iter().map(|v| json!([v, v])).collect();
                f.insert("values".into(), choices_to_values(&Value::Array(choices)));
            }
            f.insert("remember".into(), json!(false));
            f.insert("label".into(), json!(label));
            f.insert("description".into(), json!(description));
            // marshmallow-sqlalchemy's validator of a sized string column
            let validators = match c.kind {
                SqlKind::String => vec![json!({"type": "Length", "min": null, "max": c.max_len})],
                SqlKind::Text => declared_len(rv, c)
                    .map(|n| json!({"type": "Length", "min": null, "max": n}))
                    .into_iter()
                    .collect(),
                _ => vec![],
            };
            f.insert("validators".into(), Value::Array(validators));
            f.insert("required".into(), json!(!c.nullable && default.is_none()));
            f.insert("unique".into(), json!(c.is_unique));
            not_null = !c.nullable;
        }
        ColumnRef::Property | ColumnRef::Unknown => {
            f.insert("type".into(), json!("String"));
            f.insert("remember".into(), json!(false));
            f.insert("label".into(), json!(label));
            f.insert("description".into(), json!(description));
            f.insert("validators".into(), json!([]));
            f.insert("required".into(), json!(false));
            f.insert("unique".into(), json!(false));
        }
    }
    if let Some(over) = rv.view.fields.get(name) {
        merge_declared(&mut f, over);
    }
    if not_null && let Some(Value::Array(v)) = f.get_mut("validators") {
        v.push(json!({"type": "DataRequired"}));
    }
    ui_info(&mut f);
    Ok(Value::Object(f))
}

/// The add or edit form: field-infos, with expand columns replaced by their sub-fields.
pub fn form_fields(
    conn: &mut MysqlConnection,
    cache: &mut ChoicesCache,
    rv: &Resolved<'_>,
    ctx: &Ctx,
    columns: &[String],
) -> Result<Vec<Value>, ApiError> {
    let mut out = Vec::new();
    for c in columns {
        if let Some(e) = &rv.view.expand
            && e.column == c
        {
            out.extend(e.fields.iter().cloned());
            continue;
        }
        out.push(field_info(conn, cache, rv, ctx, c)?);
    }
    Ok(out)
}

/// One search-bar filter, as FAB's `merge_search_filters`: the operators, the related
/// rows or the declared field's type and choices, then [`ui_info`].
pub fn filter_info(
    conn: &mut MysqlConnection,
    cache: &mut ChoicesCache,
    rv: &Resolved<'_>,
    ctx: &Ctx,
    name: &str,
) -> Result<Value, ApiError> {
    let ops: Vec<Value> = rv
        .filter_ops(name)
        .iter()
        .map(|o| json!({"name": op_name(o), "operator": o}))
        .collect();
    let mut f = Map::new();
    f.insert("filter".into(), Value::Array(ops));
    match rv.resolve(name) {
        ColumnRef::Relation(r) => {
            let (values, count) =
                related_values(conn, cache, rv, ctx, name, r.target(), FILTER_CHOICES_LIMIT)?;
            related_rows(&mut f, r.is_many(), values, count);
        }
        ColumnRef::Column(c) => {
            // the marshmallow field's class
            let ty = match c.kind {
                SqlKind::String | SqlKind::Text => "String",
                k => sqla_class(k),
            };
            f.insert("type".into(), json!(ty));
            if c.kind == SqlKind::Enum {
                let choices: Vec<Value> = c.enum_values.iter().map(|v| json!([v, v])).collect();
                f.insert("choices".into(), Value::Array(choices));
            }
        }
        ColumnRef::Property | ColumnRef::Unknown => {
            f.insert("type".into(), json!("String"));
        }
    }
    if let Some(Value::Object(o)) = rv.view.fields.get(name) {
        if let Some(t) = o.get("type").and_then(Value::as_str) {
            f.insert("type".into(), json!(t.replace("My", "")));
        }
        f.insert(
            "choices".into(),
            o.get("choices").cloned().unwrap_or_else(|| json!([])),
        );
        // a field one may pick or type in is typed in the search bar
        if o.get("ui-type").and_then(Value::as_str) == Some("input-select") {
            f.insert("ui-type".into(), json!("input"));
        }
    }
    f.insert("validators".into(), json!([]));
    ui_info(&mut f);
    if f.get("ui-type").and_then(Value::as_str) == Some("select2") {
        f.insert("ui-type".into(), json!("select"));
    }
    let default = match rv.view.filter_defaults.iter().find(|(c, _)| *c == name) {
        Some((_, FilterDefault::CurrentUser)) => json!(ctx.user_id),
        None => json!(""),
    };
    f.insert("default".into(), default);
    Ok(Value::Object(f))
}
