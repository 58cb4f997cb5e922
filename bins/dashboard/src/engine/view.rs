//! A model view is a declaration; the engine derives every generic route from it.

use std::collections::BTreeMap;
use std::sync::Arc;

use diesel::mysql::MysqlConnection;
use serde_json::{Map, Value};

use super::resolve::Resolved;
use super::sql::{Bind, SqlFrag};
use crate::auth::Ctx;
use crate::error::ApiError;
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
    /// Rewrites the rows of a `GET /` page before they are sent (the original's
    /// `pre_list_res`); the other list-shaped endpoints do not call it. Nested
    /// many-to-one objects are not in these rows (they are written from
    /// [`super::dump::Shared`]): a hook that replaced one would be ignored.
    fn post_list(&self, rows: &mut [Row]) {}
    /// Rewrites the row of a `GET /<id>` before it is sent (the original's `pre_show_res`).
    fn post_show(&self, row: &mut Row) {}
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
    /// Changes `_info` for the caller (per-user defaults, permissions...).
    fn add_more_info(&self, ctx: &Ctx, info: &mut Map<String, Value>) {}
}

/// A verb whose access is declared (FAB's `can_<verb>`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verb {
    List,
    Show,
    Add,
    Edit,
    Delete,
}

/// A rule of the original, checked against a loaded row (the workflow view's "the user
/// who ran it or a creator of its pipeline's project").
pub type RowRule = fn(&mut MysqlConnection, &Ctx, &Row) -> Result<bool, ApiError>;

/// Who may use a verb of a view. Admins pass every rule. `Admin` is decided before any
/// lookup (403); the others are checked on the row the verb touches, after it was
/// found through the view's visibility filter (422 "no permission", as the original).
#[derive(Clone, Copy, Debug)]
pub enum Access {
    /// Every logged-in user.
    Anyone,
    /// Admins only, decided before any lookup: others get 403 (FAB's permission).
    Admin,
    /// Admins only, decided on the row as the original's `check_*_permission` does:
    /// a missing row is 404 first, then others get 422.
    AdminRow,
    /// The user who created the row (`created_by_fk`).
    Owner,
    /// The user who created the parent row that column `fk` points at in `table`
    /// (a task belongs to whoever owns its pipeline).
    ParentOwner {
        fk: &'static str,
        table: &'static str,
    },
    /// A member with role `creator` of the project whose id is in column `project`.
    ProjectCreator { project: &'static str },
    /// Any member of the project whose id is in column `project`.
    ProjectMember { project: &'static str },
    /// The user the row is (`ab_user`).
    SelfUser,
    /// A rule of its own, named for `_info`-less checks and the start-up validation.
    Rule(&'static str, RowRule),
}

impl PartialEq for Access {
    fn eq(&self, other: &Access) -> bool {
        use Access::*;
        match (self, other) {
            (Anyone, Anyone)
            | (Admin, Admin)
            | (AdminRow, AdminRow)
            | (Owner, Owner)
            | (SelfUser, SelfUser) => true,
            (ParentOwner { fk: a, table: t }, ParentOwner { fk: b, table: u }) => a == b && t == u,
            (ProjectCreator { project: a }, ProjectCreator { project: b })
            | (ProjectMember { project: a }, ProjectMember { project: b }) => a == b,
            (Rule(a, _), Rule(b, _)) => a == b,
            _ => false,
        }
    }
}

impl Access {
    /// The columns of the view's table the rule reads (checked at start).
    pub fn columns(&self) -> Vec<&'static str> {
        match self {
            Access::Owner => vec!["created_by_fk"],
            Access::ParentOwner { fk, .. } => vec![fk],
            Access::ProjectCreator { project } | Access::ProjectMember { project } => {
                vec![project]
            }
            Access::SelfUser => vec!["id"],
            _ => vec![],
        }
    }

    /// Whether the caller may use the verb on `row`.
    pub fn allows(
        &self,
        conn: &mut MysqlConnection,
        ctx: &Ctx,
        row: &Row,
    ) -> Result<bool, ApiError> {
        if ctx.is_admin {
            return Ok(true);
        }
        let uid = ctx.user_id as i64;
        Ok(match self {
            Access::Anyone => true,
            Access::Admin | Access::AdminRow => false,
            Access::Owner => owns(ctx, row),
            Access::SelfUser => id_of(row.get("id")) == Some(uid),
            Access::ParentOwner { fk, table } => match id_of(row.get(*fk)) {
                Some(parent) => {
                    super::sql::count(
                        conn,
                        &format!(
                            "SELECT COUNT(*) AS n FROM {} WHERE id = ? AND created_by_fk = ?",
                            super::sql::q(table)
                        ),
                        &[Bind::Int(parent), Bind::Int(uid)],
                    )? > 0
                }
                None => false,
            },
            Access::ProjectCreator { project } | Access::ProjectMember { project } => {
                match id_of(row.get(*project)) {
                    Some(p) => {
                        let creator = matches!(self, Access::ProjectCreator { .. });
                        super::sql::count(
                            conn,
                            if creator {
                                "SELECT COUNT(*) AS n FROM project_user WHERE project_id = ? AND user_id = ? AND role = 'creator'"
                            } else {
                                "SELECT COUNT(*) AS n FROM project_user WHERE project_id = ? AND user_id = ?"
                            },
                            &[Bind::Int(p), Bind::Int(uid)],
                        )? > 0
                    }
                    None => false,
                }
            }
            Access::Rule(_, rule) => rule(conn, ctx, row)?,
        })
    }
}

/// Access per verb of a view. List and show rows are scoped by the view's visibility
/// filter ([`ViewHooks::base_filter`]); their rules can only be `Anyone` or `Admin`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct AccessRules {
    pub list: Access,
    pub show: Access,
    pub add: Access,
    pub edit: Access,
    pub delete: Access,
}

impl Default for AccessRules {
    fn default() -> Self {
        AccessRules {
            list: Access::Anyone,
            show: Access::Anyone,
            add: Access::Anyone,
            edit: Access::Anyone,
            delete: Access::Anyone,
        }
    }
}

impl AccessRules {
    /// Editing and deleting a row follow `rule`; everything else is open.
    pub fn rows(rule: Access) -> AccessRules {
        AccessRules {
            edit: rule,
            delete: rule,
            ..AccessRules::default()
        }
    }

    /// The verb of a FAB permission name.
    pub fn verb(perm: &str) -> Option<Verb> {
        Some(match perm {
            "can_list" => Verb::List,
            "can_show" => Verb::Show,
            "can_add" => Verb::Add,
            "can_edit" => Verb::Edit,
            "can_delete" => Verb::Delete,
            _ => return None,
        })
    }

    pub fn get(&self, verb: Verb) -> Access {
        match verb {
            Verb::List => self.list,
            Verb::Show => self.show,
            Verb::Add => self.add,
            Verb::Edit => self.edit,
            Verb::Delete => self.delete,
        }
    }

    /// Refuses (403) a caller who may not add rows (an add touches no existing row, so
    /// only `Anyone`, `Admin` and `AdminRow` apply; checked at start).
    pub fn check_add(&self, ctx: &Ctx) -> Result<(), ApiError> {
        match self.add {
            Access::Admin | Access::AdminRow if !ctx.is_admin => {
                Err(ApiError::forbidden("only admins can add these"))
            }
            _ => Ok(()),
        }
    }

    /// Refuses (422, as the original) a caller the verb's rule does not admit for `row`.
    pub fn check(
        &self,
        conn: &mut MysqlConnection,
        ctx: &Ctx,
        verb: Verb,
        row: &Row,
    ) -> Result<(), ApiError> {
        if self.get(verb).allows(conn, ctx, row)? {
            Ok(())
        } else {
            Err(ApiError::no_permission(match verb {
                Verb::List => "list",
                Verb::Show => "show",
                Verb::Add => "add",
                Verb::Edit => "edit",
                Verb::Delete => "delete",
            }))
        }
    }
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

impl ExpandSpec {
    /// Adds every sub-field to a shown row, read from the column's JSON (`null` when
    /// absent or when the column is not a JSON object), as the original's `show_expand`.
    pub fn show_into(&self, row: &mut Row) {
        let parsed =
            app_core::json_text::object_or_empty(row.get(self.column).and_then(Value::as_str));
        for f in &self.fields {
            if let Some(name) = f.get("name").and_then(Value::as_str) {
                let v = parsed.get(name).cloned().unwrap_or(Value::Null);
                row.insert(name.to_string(), v);
            }
        }
    }
}

/// The identity of a view: its route base (`/pipeline_modelview/api`). Views name each
/// other through constants of this type (`views::ids`), checked at start.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ViewId(pub &'static str);

/// The declaration of one model view.
#[derive(Clone)]
pub struct ModelView {
    /// Its identity and route base.
    pub id: ViewId,
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
    /// Who may use each verb ([`Access`]); every verb is open to any user by default.
    pub access: AccessRules,
    pub page_size: i64,
    pub cols_width: Value,
    pub actions: Vec<ActionDef>,
    /// Child views (`related_views`).
    pub related_views: Vec<ViewId>,
    pub rel_choices: BTreeMap<&'static str, RelChoiceFilter>,
    pub properties: Vec<Property>,
    pub hooks: Arc<dyn ViewHooks>,
    pub enable_favorite: bool,
    pub import_data: bool,
    pub download_data: bool,
    pub help_url: &'static str,
    /// Set when the list / show / titles use FAB's empty titles (a view with no label).
    pub plain_titles: bool,
    /// List columns the table keeps in view while scrolling (`_info.fixed_columns`).
    pub fixed_columns: Vec<&'static str>,
    /// Groups of the show page: (title, columns) (`_info.show_fieldsets`).
    pub show_fieldsets: Vec<(&'static str, Vec<&'static str>)>,
    /// Form columns only admins get: left out of other users' add and edit forms and
    /// of the values taken from their bodies (the original's `pre_add_web`).
    pub admin_form_columns: Vec<&'static str>,
    /// Search-bar filters preset for the caller (`_info.filters.<column>.default`).
    pub filter_defaults: Vec<(&'static str, FilterDefault)>,
}

/// The preset value of a search-bar filter.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FilterDefault {
    /// The caller's user id (`created_by`: "mine").
    CurrentUser,
}

/// The original's default `base_permissions`, in its order (`_info.permissions`).
pub const ALL_PERMISSIONS: [&str; 5] =
    ["can_add", "can_show", "can_edit", "can_list", "can_delete"];

/// The order FAB views that declare all five permissions use
/// (`['can_add', 'can_edit', 'can_delete', 'can_list', 'can_show']`).
pub const DECLARED_PERMISSIONS: [&str; 5] =
    ["can_add", "can_edit", "can_delete", "can_list", "can_show"];

impl ModelView {
    /// A view of `table` at `route_base` with FAB's defaults.
    pub fn new(
        id: ViewId,
        api_name: &'static str,
        table: &'static str,
        label_title: &'static str,
    ) -> Self {
        ModelView {
            id,
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
            access: AccessRules::default(),
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
            fixed_columns: vec![],
            show_fieldsets: vec![],
            admin_form_columns: vec![],
            filter_defaults: vec![],
        }
    }

    /// The path the view's routes hang under.
    pub fn route_base(&self) -> &'static str {
        self.id.0
    }

    pub fn can(&self, perm: &str) -> bool {
        self.base_permissions.contains(&perm)
    }

    /// Whether the caller holds verb `perm` on this view at all (before any row is
    /// looked at): admin-only verbs are refused to others with 403.
    pub fn permits(&self, ctx: &Ctx, perm: &str) -> bool {
        self.can(perm)
            && (ctx.is_admin
                || AccessRules::verb(perm)
                    .is_none_or(|verb| self.access.get(verb) != Access::Admin))
    }

    /// The verbs the caller holds, in the declared order (`_info.permissions`).
    pub fn permissions_of(&self, ctx: &Ctx) -> Vec<&'static str> {
        self.base_permissions
            .iter()
            .copied()
            .filter(|p| self.permits(ctx, p))
            .collect()
    }

    /// Whether the caller's add and edit forms hold `column` ([`ModelView::admin_form_columns`]).
    pub fn form_has(&self, ctx: &Ctx, column: &str) -> bool {
        ctx.is_admin || !self.admin_form_columns.contains(&column)
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
