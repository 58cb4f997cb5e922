//! A view resolved against the schema: the effective column lists, with FAB's
//! defaults where the declaration says nothing.

use super::meta::{ColumnMeta, SchemaMeta, SqlKind, TableMeta};
use super::models::{ModelDef, Relation};
use super::view::{Access, ModelView};
use crate::error::ApiError;

/// What a name in a column list refers to.
#[derive(Debug, Clone, Copy)]
pub enum ColumnRef<'a> {
    Column(&'a ColumnMeta),
    Relation(&'a Relation),
    Property,
    Unknown,
}

/// A view, its table metadata and its model definition.
#[derive(Clone, Copy)]
pub struct Resolved<'a> {
    pub view: &'a ModelView,
    pub table: &'a TableMeta,
    pub model: &'a ModelDef,
    pub schema: &'a SchemaMeta,
    pub models: &'a [ModelDef],
}

impl<'a> Resolved<'a> {
    pub fn new(
        view: &'a ModelView,
        schema: &'a SchemaMeta,
        models: &'a [ModelDef],
    ) -> Result<Self, ApiError> {
        let table = schema.table(view.table).ok_or_else(|| {
            ApiError::unavailable(format!(
                "table {} is missing: run `dashboard migrate`",
                view.table
            ))
        })?;
        let model = models
            .iter()
            .find(|m| m.table == view.table)
            .ok_or_else(|| ApiError::internal(format!("no model definition for {}", view.table)))?;
        Ok(Resolved {
            view,
            table,
            model,
            schema,
            models,
        })
    }

    pub fn model_of(&self, table: &str) -> Option<&'a ModelDef> {
        self.models.iter().find(|m| m.table == table)
    }

    pub fn pk(&self) -> &'a str {
        self.table
            .columns
            .iter()
            .find(|c| c.is_primary)
            .map(|c| c.name.as_str())
            .unwrap_or("id")
    }

    pub fn resolve(&self, name: &str) -> ColumnRef<'a> {
        if let Some(r) = self.model.relation(name) {
            return ColumnRef::Relation(r);
        }
        if self.view.property(name).is_some() {
            return ColumnRef::Property;
        }
        match self.table.column(name) {
            Some(c) => ColumnRef::Column(c),
            None => ColumnRef::Unknown,
        }
    }

    /// FAB's default column list: audit relations, then columns in DDL order with
    /// FK columns replaced by their relation, then to-many relations.
    pub fn default_columns(&self) -> Vec<String> {
        let fks = self.model.fk_columns();
        let mut out: Vec<String> = Vec::new();
        if self.model.audit {
            out.push("created_by".into());
            out.push("changed_by".into());
        }
        for c in &self.table.columns {
            if c.is_primary || self.model.secret_columns.contains(&c.name.as_str()) {
                continue;
            }
            if fks.contains(&c.name.as_str()) {
                if let Some(r) = self.model.relations.iter().find(|r| matches!(r.kind, super::models::RelationKind::ManyToOne { fk, .. } if fk == c.name))
                    && !out.iter().any(|o| o == r.name)
                {
                    out.push(r.name.to_string());
                }
                continue;
            }
            out.push(c.name.clone());
        }
        for r in &self.model.relations {
            if r.is_many() {
                out.push(r.name.to_string());
            }
        }
        out
    }

    fn or_default(&self, cols: &Option<Vec<&'static str>>) -> Vec<String> {
        match cols {
            Some(c) => c.iter().map(|s| s.to_string()).collect(),
            None => self.default_columns(),
        }
    }

    pub fn list_columns(&self) -> Vec<String> {
        self.or_default(&self.view.list_columns)
    }

    pub fn show_columns(&self) -> Vec<String> {
        let mut v = self.or_default(&self.view.show_columns);
        v.retain(|c| !self.view.show_exclude_columns.contains(&c.as_str()));
        v
    }

    pub fn add_columns(&self) -> Vec<String> {
        self.or_default(&self.view.add_columns)
    }

    pub fn edit_columns(&self) -> Vec<String> {
        match &self.view.edit_columns {
            Some(c) => c.iter().map(|s| s.to_string()).collect(),
            None => self.add_columns(),
        }
    }

    pub fn search_columns(&self) -> Vec<String> {
        match &self.view.search_columns {
            Some(c) => c.iter().map(|s| s.to_string()).collect(),
            None => self
                .default_columns()
                .into_iter()
                .filter(|c| !matches!(self.resolve(c), ColumnRef::Property | ColumnRef::Unknown))
                .collect(),
        }
    }

    pub fn order_columns(&self) -> Vec<String> {
        match &self.view.order_columns {
            Some(c) => c.iter().map(|s| s.to_string()).collect(),
            None => self
                .list_columns()
                .into_iter()
                .filter(|c| matches!(self.resolve(c), ColumnRef::Column(_)))
                .collect(),
        }
    }

    /// The filter operators allowed on a search column, in FAB's order.
    pub fn filter_ops(&self, name: &str) -> Vec<&'static str> {
        match self.resolve(name) {
            ColumnRef::Relation(r) if r.is_many() => vec!["rel_m_m"],
            ColumnRef::Relation(_) => vec!["rel_o_m", "nrel_o_m"],
            ColumnRef::Column(c) => match c.kind {
                SqlKind::String | SqlKind::Text => {
                    vec!["sw", "ew", "ct", "eq", "nsw", "new", "nct", "neq"]
                }
                SqlKind::Int
                | SqlKind::BigInt
                | SqlKind::Float
                | SqlKind::DateTime
                | SqlKind::Date => vec!["eq", "gt", "lt", "neq"],
                SqlKind::Enum | SqlKind::Bool => vec!["eq", "neq"],
            },
            _ => vec![],
        }
    }

    /// The label of a column: the view's, the model's, or the prettified name.
    pub fn label(&self, name: &str) -> String {
        if let Some((_, l)) = self.view.labels.iter().find(|(c, _)| *c == name) {
            return l.to_string();
        }
        if let Some(l) = self
            .view
            .fields
            .get(name)
            .and_then(|f| f.get("label"))
            .and_then(|l| l.as_str())
        {
            return l.to_string();
        }
        if let Some(l) = super::models::default_label(name) {
            return l.to_string();
        }
        prettify(name)
    }
}

/// `project_user` → `Project User` (FAB's default label).
pub fn prettify(name: &str) -> String {
    name.split('_')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let mut c = p.chars();
            match c.next() {
                Some(f) => f.to_uppercase().collect::<String>() + c.as_str(),
                None => String::new(),
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// Checks every declaration against the schema once, at start: each view's table and
/// model exist, and every name in its column lists, order, expand column and related
/// choices is a column, a relation, a property or a declared extra form field. Returns
/// every problem, each naming the view and the name.
pub fn validate_views(
    views: &[ModelView],
    schema: &SchemaMeta,
    models: &[ModelDef],
) -> Result<(), Vec<String>> {
    let mut problems = Vec::new();
    for view in views {
        let rv = match Resolved::new(view, schema, models) {
            Ok(rv) => rv,
            Err(e) => {
                problems.push(format!("{}: {}", view.route_base(), e.message));
                continue;
            }
        };
        let lists: [(&str, &Option<Vec<&'static str>>); 6] = [
            ("list_columns", &view.list_columns),
            ("show_columns", &view.show_columns),
            ("add_columns", &view.add_columns),
            ("edit_columns", &view.edit_columns),
            ("search_columns", &view.search_columns),
            ("order_columns", &view.order_columns),
        ];
        let mut check = |what: &str, name: &str| {
            let known =
                !matches!(rv.resolve(name), ColumnRef::Unknown) || view.fields.contains_key(name);
            if !known {
                problems.push(format!(
                    "{}: {what} names `{name}`, which is no column, relation, property or form field of table {}",
                    view.route_base(), view.table
                ));
            }
        };
        for (what, cols) in lists {
            for name in cols.iter().flatten() {
                check(what, name);
            }
        }
        if let Some((col, _)) = view.base_order {
            check("base_order", col);
        }
        if let Some(expand) = &view.expand {
            check("expand", expand.column);
        }
        for name in view.rel_choices.keys() {
            if !matches!(rv.resolve(name), ColumnRef::Relation(_)) {
                problems.push(format!(
                    "{}: rel_choices names `{name}`, which is no relation of table {}",
                    view.route_base(),
                    view.table
                ));
            }
        }
        for (verb, access) in [
            ("list", view.access.list),
            ("show", view.access.show),
            ("add", view.access.add),
            ("edit", view.access.edit),
            ("delete", view.access.delete),
        ] {
            let row_rule = !matches!(access, Access::Anyone | Access::Admin | Access::AdminRow);
            if row_rule && matches!(verb, "list" | "show" | "add") {
                problems.push(format!(
                    "{}: access of {verb} is {access:?}, but {verb} has no single row to check it on \
                     (scope lists with base_filter)",
                    view.route_base()
                ));
            }
            for col in access.columns() {
                if schema
                    .table(view.table)
                    .and_then(|t| t.column(col))
                    .is_none()
                {
                    problems.push(format!(
                        "{}: access of {verb} reads column `{col}`, which table {} does not have",
                        view.route_base(),
                        view.table
                    ));
                }
            }
            if let Access::ParentOwner { table, .. } = access
                && schema
                    .table(table)
                    .and_then(|t| t.column("created_by_fk"))
                    .is_none()
            {
                problems.push(format!(
                    "{}: access of {verb} reads `{table}.created_by_fk`, which does not exist",
                    view.route_base()
                ));
            }
        }
        for related in &view.related_views {
            if !views.iter().any(|v| v.id == *related) {
                problems.push(format!(
                    "{}: related view {} is not declared",
                    view.route_base(),
                    related.0
                ));
            }
        }
        if views.iter().filter(|v| v.id == view.id).count() > 1 {
            problems.push(format!("{}: declared more than once", view.route_base()));
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems)
    }
}
