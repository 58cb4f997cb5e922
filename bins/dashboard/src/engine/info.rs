//! `GET <route_base>/_info`: everything the React front end needs to draw a page
//! (api.md §2), derived from the declaration and the schema; the field objects and
//! filters come from [`super::fields`].

use diesel::mysql::MysqlConnection;
use serde_json::{Map, Value, json};

use super::fields::{ChoicesCache, declared_len, filter_info, form_fields};
use super::meta::SqlKind;
use super::resolve::{ColumnRef, Resolved, prettify};
use super::view::ModelView;
use crate::auth::Ctx;
use crate::error::ApiError;

/// The original's `_init_cols_width` for a list column without a declared width: numbers,
/// dates and enums 100; strings their length between 100 and 500 (exactly 500 is 100,
/// longer 500); everything else 100 (the original tests the class name `Datetime`, which
/// `DateTime` is not, so date-times are 100 too).
fn auto_width(rv: &Resolved<'_>, col: &str) -> i64 {
    match rv.resolve(col) {
        ColumnRef::Column(c) if matches!(c.kind, SqlKind::String | SqlKind::Text) => {
            match declared_len(rv, c) {
                Some(n) if n > 100 && n < 500 => n,
                Some(n) if n > 500 => 500,
                _ => 100,
            }
        }
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
    let mut add_columns = rv.add_columns();
    let mut edit_columns = rv.edit_columns();
    add_columns.retain(|c| view.form_has(ctx, c));
    edit_columns.retain(|c| view.form_has(ctx, c));
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
            let mut fields = form_fields(conn, &mut cache, &crv, ctx, &cols)?;
            // the original builds a related view's form before that view's labels are
            // set up, so its fields carry FAB's prettified column names
            for f in &mut fields {
                if let Some(name) = f.get("name").and_then(Value::as_str).map(prettify) {
                    f["label"] = json!(name);
                }
            }
            rel.insert(child.table.to_string(), Value::Array(fields));
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

    // types only: a secret column is named, never its value
    let mut columns_info = std::collections::BTreeMap::new();
    for c in &rv.table.columns {
        columns_info.insert(c.name.clone(), json!({"type": rv.model.sqla_type(c)}));
    }
    let relationships = rv.model.relations.iter().map(|r| r.name);
    for name in relationships.chain(rv.model.info.relationships.iter().copied()) {
        let mut ci = json!({"type": "Relationship"});
        if let Some((_, class)) = rv
            .model
            .info
            .relationship_classes
            .iter()
            .find(|(n, _)| *n == name)
        {
            ci["relationship"] = json!(class);
        }
        columns_info.insert(name.to_string(), ci);
    }
    info.insert("columns_info".into(), json!(columns_info));
    info.insert("fixed_columns".into(), json!(view.fixed_columns));
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
    let fieldsets: Vec<Value> = view
        .show_fieldsets
        .iter()
        .map(|(group, fields)| json!({"group": group, "expanded": true, "fields": fields}))
        .collect();
    info.insert("show_fieldsets".into(), Value::Array(fieldsets));
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
