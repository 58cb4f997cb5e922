//! A model view is a declaration; the engine derives every generic route from it.

use std::collections::BTreeMap;
use std::sync::Arc;

use diesel::mysql::MysqlConnection;
use serde_json::{Map, Value};

use super::resolve::Resolved;
use super::response::ApiError;
use super::sql::{Bind, SqlFrag};
use crate::auth::Ctx;
use crate::queue::Effects;

/// A row as the engine carries it: column (or computed key) → JSON value.
pub type Row = Map<String, Value>;

/// A computed column (`creator`, `modified`, `project_user`...), filled for many rows at once.
#[derive(Clone)]
pub struct Property {
    pub name: &'static str,
    pub compute: fn(&mut MysqlConnection, &Ctx, &mut [Row]) -> Result<(), ApiError>,
}

/// A row action (`_info.action`, `GET action/<name>/<id>`, `POST multi_action/<name>`).
#[derive(Clone)]
pub struct ActionDef {
    pub name: &'static str,
    pub text: &'static str,
    pub confirmation: &'static str,
    pub icon: &'static str,
    pub multiple: bool,
    pub single: bool,
    /// Runs in the request's transaction on the visible rows of the ids; returns the
    /// message. Custom work calls the engine's operations (`routes::delete_visible`…).
    pub run: fn(&mut MysqlConnection, &Ctx, &Resolved<'_>, &[Row]) -> Result<String, ApiError>,
    /// Cluster work the action leaves for the worker, computed (read-only) and queued
    /// before `run`'s transaction: a queue that cannot be reached refuses the action with
    /// nothing written.
    pub effects: Option<ActionEffects>,
}

/// The future of [`ViewHooks::cluster_check`].
pub type ClusterCheck<'a> =
    std::pin::Pin<Box<dyn std::future::Future<Output = Result<(), ApiError>> + Send + 'a>>;

/// See [`ActionDef::effects`].
pub type ActionEffects =
    fn(&mut MysqlConnection, &Ctx, &ModelView, &[Row]) -> Result<Effects, ApiError>;

/// Filters choices of a related field in forms and the search bar
/// (the original's `add_form_query_rel_fields`): SQL on the target table, alias `t`.
pub type RelChoiceFilter = fn(&Ctx) -> SqlFrag;

/// Behaviour a view adds to the generic engine. Every method has a no-op default.
/// Hooks run on a blocking thread with a connection inside the write transaction.
#[allow(unused_variables)]
pub trait ViewHooks: Send + Sync {
    /// Row-level visibility (membership scoping), SQL on alias `t`.
    fn base_filter(&self, ctx: &Ctx) -> Option<SqlFrag> {
        None
    }
    /// Adjusts the JSON body of a POST before it is filtered to `add_columns`.
    fn pre_add_req(
        &self,
        conn: &mut MysqlConnection,
        ctx: &Ctx,
        req: &mut Row,
    ) -> Result<(), ApiError> {
        Ok(())
    }
    /// Adjusts the JSON body of a PUT (the current row is given).
    fn pre_update_req(
        &self,
        conn: &mut MysqlConnection,
        ctx: &Ctx,
        req: &mut Row,
        item: &Row,
    ) -> Result<(), ApiError> {
        Ok(())
    }
    /// Adjusts the column values about to be inserted.
    fn pre_add(
        &self,
        conn: &mut MysqlConnection,
        ctx: &Ctx,
        values: &mut Row,
    ) -> Result<(), ApiError> {
        Ok(())
    }
    /// Adjusts the column values about to be written over `old`.
    fn pre_update(
        &self,
        conn: &mut MysqlConnection,
        ctx: &Ctx,
        values: &mut Row,
        old: &Row,
    ) -> Result<(), ApiError> {
        Ok(())
    }
    fn post_add(&self, conn: &mut MysqlConnection, ctx: &Ctx, item: &Row) -> Result<(), ApiError> {
        Ok(())
    }
    fn pre_delete(
        &self,
        conn: &mut MysqlConnection,
        ctx: &Ctx,
        item: &Row,
    ) -> Result<(), ApiError> {
        Ok(())
    }
    /// Whether POST/PUT bodies need [`ViewHooks::cluster_check`].
    fn has_cluster_check(&self) -> bool {
        false
    }
    /// Checks a POST body (`current` is `None`) or a PUT body against the cluster before
    /// any transaction: no connection or lock is held while the cluster answers.
    fn cluster_check<'a>(
        &'a self,
        ctx: &'a Ctx,
        req: &'a Row,
        current: Option<&'a Row>,
    ) -> ClusterCheck<'a> {
        Box::pin(std::future::ready(Ok(())))
    }
    /// Whether deleting a row may leave cluster work ([`ViewHooks::delete_effects`]).
    fn has_delete_effects(&self) -> bool {
        false
    }
    /// Cluster work deleting `item` leaves for the worker. Read-only: it runs before the
    /// delete's transaction, and the engine queues what it returns before writing, so a
    /// queue that cannot be reached refuses the delete with nothing written.
    fn delete_effects(
        &self,
        conn: &mut MysqlConnection,
        ctx: &Ctx,
        item: &Row,
    ) -> Result<Effects, ApiError> {
        Ok(Effects::new())
    }
    fn check_edit_permission(
        &self,
        conn: &mut MysqlConnection,
        ctx: &Ctx,
        item: &Row,
    ) -> Result<bool, ApiError> {
        Ok(true)
    }
    fn check_delete_permission(
        &self,
        conn: &mut MysqlConnection,
        ctx: &Ctx,
        item: &Row,
    ) -> Result<bool, ApiError> {
        Ok(true)
    }
    /// Changes `_info` for the caller (per-user defaults, permissions...).
    fn add_more_info(&self, ctx: &Ctx, info: &mut Map<String, Value>) {}
}

/// A view with no hooks.
pub struct NoHooks;
impl ViewHooks for NoHooks {}

/// Columns whose JSON sub-keys appear as separate form fields (`expand_columns`).
#[derive(Clone)]
pub struct ExpandSpec {
    pub column: &'static str,
    /// Complete field-info objects of the sub-fields (each with its `name`).
    pub fields: Vec<Value>,
}

/// The declaration of one model view.
#[derive(Clone)]
pub struct ModelView {
    pub route_base: &'static str,
    /// FAB view-menu name, e.g. `Project_ModelView_org_Api`.
    pub api_name: &'static str,
    pub table: &'static str,
    pub label_title: &'static str,
    pub list_columns: Option<Vec<&'static str>>,
    pub show_columns: Option<Vec<&'static str>>,
    pub show_exclude_columns: Vec<&'static str>,
    pub add_columns: Option<Vec<&'static str>>,
    pub edit_columns: Option<Vec<&'static str>>,
    pub search_columns: Option<Vec<&'static str>>,
    pub order_columns: Option<Vec<&'static str>>,
    pub base_order: Option<(&'static str, &'static str)>,
    pub labels: Vec<(&'static str, &'static str)>,
    pub descriptions: Vec<(&'static str, &'static str)>,
    /// Extra form-field keys merged into the generated field-info (`edit_form_extra_fields`).
    pub fields: BTreeMap<&'static str, Value>,
    /// Fields whose values the search bar offers from a fixed list.
    pub expand: Option<ExpandSpec>,
    pub base_permissions: Vec<&'static str>,
    /// Verbs of `base_permissions` only admins hold (others get 403 before any lookup).
    pub admin_only: Vec<&'static str>,
    pub page_size: i64,
    pub cols_width: Value,
    pub actions: Vec<ActionDef>,
    /// Route bases of child views (`related_views`).
    pub related_views: Vec<&'static str>,
    pub rel_choices: BTreeMap<&'static str, RelChoiceFilter>,
    pub properties: Vec<Property>,
    pub hooks: Arc<dyn ViewHooks>,
    pub enable_favorite: bool,
    pub import_data: bool,
    pub download_data: bool,
    pub help_url: &'static str,
    /// Set when the list / show / titles use FAB's empty titles (a view with no label).
    pub plain_titles: bool,
}

pub const ALL_PERMISSIONS: [&str; 5] =
    ["can_add", "can_edit", "can_delete", "can_list", "can_show"];

impl ModelView {
    /// A view of `table` at `route_base` with FAB's defaults.
    pub fn new(
        route_base: &'static str,
        api_name: &'static str,
        table: &'static str,
        label_title: &'static str,
    ) -> Self {
        ModelView {
            route_base,
            api_name,
            table,
            label_title,
            list_columns: None,
            show_columns: None,
            show_exclude_columns: vec![],
            add_columns: None,
            edit_columns: None,
            search_columns: None,
            order_columns: None,
            base_order: None,
            labels: vec![],
            descriptions: vec![],
            fields: BTreeMap::new(),
            expand: None,
            base_permissions: ALL_PERMISSIONS.to_vec(),
            admin_only: vec![],
            page_size: 100,
            cols_width: Value::Object(Map::new()),
            actions: vec![],
            related_views: vec![],
            rel_choices: BTreeMap::new(),
            properties: vec![],
            hooks: Arc::new(NoHooks),
            enable_favorite: false,
            import_data: false,
            download_data: false,
            help_url: "",
            plain_titles: false,
        }
    }

    pub fn can(&self, perm: &str) -> bool {
        self.base_permissions.contains(&perm)
    }

    /// Whether the caller holds verb `perm` on this view.
    pub fn permits(&self, ctx: &Ctx, perm: &str) -> bool {
        self.can(perm) && (ctx.is_admin || !self.admin_only.contains(&perm))
    }

    /// The verbs the caller holds, in the declared order (`_info.permissions`).
    pub fn permissions_of(&self, ctx: &Ctx) -> Vec<&'static str> {
        self.base_permissions
            .iter()
            .copied()
            .filter(|p| self.permits(ctx, p))
            .collect()
    }

    pub fn property(&self, name: &str) -> Option<&Property> {
        self.properties.iter().find(|p| p.name == name)
    }

    pub fn action(&self, name: &str) -> Option<&ActionDef> {
        self.actions.iter().find(|a| a.name == name)
    }
}

/// Shorthand for a list of column names.
pub fn cols(names: &[&'static str]) -> Option<Vec<&'static str>> {
    Some(names.to_vec())
}

/// `t.created_by_fk = <user>` unless admin.
pub fn creator_only(ctx: &Ctx) -> Option<SqlFrag> {
    if ctx.is_admin {
        None
    } else {
        Some(SqlFrag::new(
            "t.`created_by_fk` = ?",
            vec![Bind::Int(ctx.user_id as i64)],
        ))
    }
}

/// Whether the caller may change a row: admins, and the user who created it.
pub fn owns(ctx: &Ctx, row: &Row) -> bool {
    ctx.is_admin || row.get("created_by_fk").and_then(Value::as_i64) == Some(ctx.user_id as i64)
}

/// An id from a JSON value: a number, or a string holding one (surrounding spaces allowed).
pub fn id_of(v: Option<&Value>) -> Option<i64> {
    v.and_then(|v| {
        v.as_i64()
            .or_else(|| v.as_str().and_then(|s| s.trim().parse().ok()))
    })
}

/// `IN (...)` over ids, safe for an empty list.
pub fn in_ids(column_sql: &str, ids: &[i32]) -> SqlFrag {
    if ids.is_empty() {
        return SqlFrag::new("1=0", vec![]);
    }
    let marks = vec!["?"; ids.len()].join(",");
    SqlFrag::new(
        format!("{column_sql} IN ({marks})"),
        ids.iter().map(|i| Bind::Int(*i as i64)).collect(),
    )
}
