//! `GET <route_base>/_info`: everything the React front end needs to draw a page
//! (api.md §2), derived from the declaration and the schema.

use diesel::mysql::MysqlConnection;
use serde_json::{Map, Value, json};

use super::meta::SqlKind;
use super::models::RelationKind;
use super::resolve::{ColumnRef, Resolved, prettify};
use super::sql::{Bind, SqlFrag, select_rows};
use super::view::ModelView;
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

fn merge_override(base: &mut Map<String, Value>, over: &Value) {
    if let Value::Object(o) = over {
        for (k, v) in o {
            if v.is_null() && k != "default" {
                base.remove(k);
            } else {
                base.insert(k.clone(), v.clone());
            }
        }
        if o.get("choices")
            .and_then(Value::as_array)
            .map(|c| !c.is_empty())
            .unwrap_or(false)
            && !o.contains_key("values")
        {
            let values = choices_to_values(&base["choices"]);
            base.insert("values".into(), values);
        }
    }
}

/// The field-info object of one add/edit column (api.md §2.1).
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
            f.insert("name".into(), json!(name));
            f.insert("remember".into(), json!(false));
            f.insert("label".into(), json!(label));
            f.insert("description".into(), json!(description));
            f.insert("validators".into(), json!([{"type": "DataRequired"}]));
            f.insert("count".into(), json!(count));
            f.insert("values".into(), Value::Array(values));
            f.insert(
                "type".into(),
                json!(if r.is_many() {
                    "RelatedList"
                } else {
                    "Related"
                }),
            );
            f.insert("required".into(), json!(required));
            f.insert("unique".into(), json!(false));
            f.insert(
                "ui-type".into(),
                json!(if r.is_many() { "select2" } else { "select" }),
            );
        }
        ColumnRef::Column(c) => {
            f.insert("name".into(), json!(name));
            f.insert("type".into(), json!(sqla_class(c.kind)));
            let default = rv.model.default_of(name);
            if let Some(d) = default {
                f.insert("default".into(), d.info_value());
            }
            f.insert("remember".into(), json!(false));
            f.insert("label".into(), json!(label));
            f.insert("description".into(), json!(description));
            let mut validators = Vec::new();
            if !c.nullable && c.kind != SqlKind::Bool {
                validators.push(json!({"type": "DataRequired"}));
            }
            match c.kind {
                SqlKind::String => {
                    validators.push(json!({"type": "Length", "min": null, "max": c.max_len}))
                }
                SqlKind::Text if c.sqla_type == "TEXT(65536)" => {
                    validators.push(json!({"type": "Length", "min": null, "max": 65536}))
                }
                _ => {}
            }
            f.insert("validators".into(), Value::Array(validators));
            f.insert("required".into(), json!(!c.nullable && default.is_none()));
            f.insert("unique".into(), json!(c.is_unique));
            match c.kind {
                SqlKind::String | SqlKind::Int | SqlKind::BigInt | SqlKind::Float => {
                    f.insert("ui-type".into(), json!("input"));
                }
                SqlKind::Text => {
                    f.insert("ui-type".into(), json!("textArea"));
                }
                SqlKind::Bool => {
                    f.insert("ui-type".into(), json!("radio"));
                    f.insert(
                        "values".into(),
                        json!([{"id": true, "value": "yes"}, {"id": false, "value": "no"}]),
                    );
                }
                SqlKind::Enum => {
                    let choices: Vec<Value> = c.enum_values.iter().map(|v| json!([v, v])).collect();
                    f.insert("choices".into(), Value::Array(choices.clone()));
                    f.insert("values".into(), choices_to_values(&Value::Array(choices)));
                    f.insert("ui-type".into(), json!("select"));
                }
                SqlKind::DateTime | SqlKind::Date => {}
            }
        }
        ColumnRef::Property | ColumnRef::Unknown => {
            f.insert("name".into(), json!(name));
            f.insert("type".into(), json!("String"));
            f.insert("default".into(), json!(""));
            f.insert("remember".into(), json!(false));
            f.insert("label".into(), json!(label));
            f.insert("description".into(), json!(description));
            f.insert("validators".into(), json!([]));
            f.insert("required".into(), json!(false));
            f.insert("unique".into(), json!(false));
            f.insert("ui-type".into(), json!("input"));
        }
    }
    if let Some(over) = rv.view.fields.get(name) {
        merge_override(&mut f, over);
    }
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

fn filter_info(
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
    let over = rv.view.fields.get(name);
    match rv.resolve(name) {
        ColumnRef::Relation(r) => {
            let (values, count) =
                related_values(conn, cache, rv, ctx, name, r.target(), FILTER_CHOICES_LIMIT)?;
            f.insert("count".into(), json!(count));
            f.insert("values".into(), Value::Array(values));
            f.insert(
                "type".into(),
                json!(if r.is_many() {
                    "RelatedList"
                } else {
                    "Related"
                }),
            );
            f.insert("validators".into(), json!([]));
            f.insert("ui-type".into(), json!("select"));
        }
        ColumnRef::Column(c) => {
            let type_name = over
                .and_then(|o| o.get("type"))
                .and_then(Value::as_str)
                .unwrap_or(match c.kind {
                    SqlKind::String | SqlKind::Text => "String",
                    k => sqla_class(k),
                });
            f.insert("type".into(), json!(type_name));
            let choices = over.and_then(|o| o.get("choices")).cloned().or_else(|| {
                (c.kind == SqlKind::Enum)
                    .then(|| Value::Array(c.enum_values.iter().map(|v| json!([v, v])).collect()))
            });
            if let Some(ch) = choices {
                f.insert("choices".into(), ch);
            } else if over.is_some() {
                f.insert("choices".into(), json!([]));
            }
            f.insert("validators".into(), json!([]));
            let has_choices = f
                .get("choices")
                .and_then(Value::as_array)
                .map(|a| !a.is_empty())
                .unwrap_or(false);
            if has_choices {
                let values = choices_to_values(&f["choices"]);
                f.insert("values".into(), values);
            }
            if c.kind == SqlKind::Bool {
                f.insert(
                    "values".into(),
                    json!([{"id": true, "value": "yes"}, {"id": false, "value": "no"}]),
                );
            }
            match c.kind {
                SqlKind::DateTime | SqlKind::Date => {}
                SqlKind::Bool => {
                    f.insert("ui-type".into(), json!("radio"));
                }
                _ if has_choices => {
                    f.insert("ui-type".into(), json!("select"));
                }
                _ => {
                    f.insert("ui-type".into(), json!("input"));
                }
            }
        }
        _ => {
            f.insert("type".into(), json!("String"));
            f.insert("validators".into(), json!([]));
            f.insert("ui-type".into(), json!("input"));
        }
    }
    f.insert("default".into(), json!(""));
    Ok(Value::Object(f))
}

fn auto_width(rv: &Resolved<'_>, col: &str) -> i64 {
    match rv.resolve(col) {
        ColumnRef::Column(c) => match c.kind {
            SqlKind::Int | SqlKind::BigInt | SqlKind::Float | SqlKind::Date | SqlKind::Bool => 100,
            SqlKind::DateTime => 300,
            SqlKind::String => (c.max_len.unwrap_or(100) as i64).clamp(100, 500),
            _ => 100,
        },
        _ => 100,
    }
}

/// Builds the whole `_info` payload for `ctx`.
pub fn build_info(
    conn: &mut MysqlConnection,
    rv: &Resolved<'_>,
    ctx: &Ctx,
    related: &[&ModelView],
    data: Option<Value>,
) -> Result<Map<String, Value>, ApiError> {
    let view = rv.view;
    let list_columns = rv.list_columns();
    let show_columns = rv.show_columns();
    let add_columns = rv.add_columns();
    let edit_columns = rv.edit_columns();
    let search_columns = rv.search_columns();
    // each related table is read once for the whole payload: the search bar's choices
    // (the largest limit) first, so the forms take theirs from the same rows
    let mut cache = ChoicesCache::default();
    let mut filters = Map::new();
    for c in &search_columns {
        filters.insert(c.clone(), filter_info(conn, &mut cache, rv, ctx, c)?);
    }

    let mut info = Map::new();
    if let Some(d) = data {
        info.insert("data".into(), d);
    }
    info.insert("model_name".into(), json!(view.table));
    let mut rel = Map::new();
    for child in related {
        if let Ok(crv) = Resolved::new(child, rv.schema, rv.models) {
            let cols = crv.add_columns();
            rel.insert(
                child.table.to_string(),
                Value::Array(form_fields(conn, &mut cache, &crv, ctx, &cols)?),
            );
        }
    }
    info.insert("related".into(), Value::Object(rel));
    info.insert(
        "route_base".into(),
        json!(format!("/{}/", view.route_base().trim_matches('/'))),
    );
    info.insert("primary_key".into(), json!(rv.pk()));
    let label_title = if view.label_title.is_empty() {
        prettify(view.table)
    } else {
        view.label_title.to_string()
    };
    info.insert("label_title".into(), json!(label_title));
    let mut actions = Map::new();
    for a in &view.actions {
        actions.insert(
            a.name.into(),
            json!({"name": a.name, "text": a.text, "confirmation": a.confirmation, "icon": a.icon, "multiple": a.multiple, "single": a.single}),
        );
    }
    info.insert("action".into(), Value::Object(actions));
    info.insert("help_url".into(), json!(view.help_url));

    let mut columns_info = std::collections::BTreeMap::new();
    for c in &rv.table.columns {
        if rv.model.secret_columns.contains(&c.name.as_str())
            && view.show_exclude_columns.contains(&c.name.as_str())
        {
            continue;
        }
        columns_info.insert(c.name.clone(), json!({"type": c.sqla_type}));
    }
    for r in &rv.model.relations {
        let mut ci = json!({"type": "Relationship"});
        if r.name == "images" {
            // the original's job_template.images relation names its class (a SQLAlchemy quirk the front end ignores)
            ci["relationship"] = json!(prettify(r.target()));
        }
        columns_info.insert(r.name.to_string(), ci);
    }
    info.insert("columns_info".into(), json!(columns_info));
    info.insert("fixed_columns".into(), json!([]));
    info.insert("order_columns".into(), json!(rv.order_columns()));

    let mut descriptions = Map::new();
    for (c, d) in &view.descriptions {
        descriptions.insert(c.to_string(), json!(d));
    }
    for (c, f) in &view.fields {
        if let Some(d) = f
            .get("description")
            .and_then(Value::as_str)
            .filter(|d| !d.is_empty())
        {
            descriptions.insert(c.to_string(), json!(d));
        }
    }
    info.insert("description_columns".into(), Value::Object(descriptions));
    let (lt, et, at, st) = if view.plain_titles {
        (String::new(), String::new(), String::new(), String::new())
    } else {
        (
            format!("{label_title} 列表"),
            format!("编辑 {label_title}"),
            format!("添加 {label_title}"),
            format!("查看 {label_title}"),
        )
    };
    info.insert("list_title".into(), json!(lt));
    info.insert("edit_title".into(), json!(et));
    info.insert("add_title".into(), json!(at));
    info.insert("show_title".into(), json!(st));
    info.insert("list_columns".into(), json!(list_columns));

    let mut labels = Map::new();
    for c in list_columns
        .iter()
        .chain(&show_columns)
        .chain(&edit_columns)
        .chain(&add_columns)
        .chain(&search_columns)
    {
        if !labels.contains_key(c) {
            labels.insert(c.clone(), json!(rv.label(c)));
        }
    }
    if let Some(e) = &view.expand {
        for f in &e.fields {
            if let (Some(n), Some(l)) = (f.get("name").and_then(Value::as_str), f.get("label")) {
                labels.insert(n.to_string(), l.clone());
            }
        }
    }
    info.insert("label_columns".into(), Value::Object(labels));
    info.insert("show_columns".into(), json!(show_columns));

    info.insert("filters".into(), Value::Object(filters));
    info.insert("show_fieldsets".into(), json!([]));
    info.insert("edit_fieldsets".into(), json!([]));
    info.insert("add_fieldsets".into(), json!([]));
    info.insert(
        "edit_columns".into(),
        Value::Array(form_fields(conn, &mut cache, rv, ctx, &edit_columns)?),
    );
    info.insert(
        "add_columns".into(),
        Value::Array(form_fields(conn, &mut cache, rv, ctx, &add_columns)?),
    );
    info.insert(
        "user_permissions".into(),
        json!({"add": true, "edit": true, "delete": true, "show": true}),
    );
    info.insert("permissions".into(), json!(view.permissions_of(ctx)));

    let mut widths = match &view.cols_width {
        Value::Object(m) => m.clone(),
        _ => Map::new(),
    };
    for c in &list_columns {
        if !widths.contains_key(c) {
            widths.insert(
                c.clone(),
                json!({"type": "ellip2", "width": auto_width(rv, c)}),
            );
        }
    }
    info.insert("cols_width".into(), Value::Object(widths));
    info.insert("import_data".into(), json!(view.import_data));
    info.insert("download_data".into(), json!(view.download_data));
    info.insert("ops_link".into(), json!([]));
    info.insert("enable_favorite".into(), json!(view.enable_favorite));
    info.insert("echart".into(), json!(false));
    info.insert("page_size".into(), json!(view.page_size));
    view.hooks.add_more_info(ctx, &mut info);
    Ok(info)
}

/// Applies `exist_add_args` (current form values) as field defaults.
pub fn apply_exist_add_args(info: &mut Map<String, Value>, args: &Map<String, Value>) {
    if let Some(Value::Array(fields)) = info.get_mut("add_columns") {
        for f in fields.iter_mut() {
            let Some(name) = f.get("name").and_then(Value::as_str).map(String::from) else {
                continue;
            };
            if let Some(v) = args.get(&name) {
                let truthy = !matches!(v, Value::Null | Value::Bool(false))
                    && v.as_str() != Some("")
                    && v.as_i64() != Some(0);
                if truthy && let Value::Object(o) = f {
                    o.insert("default".into(), v.clone());
                }
            }
        }
    }
}
