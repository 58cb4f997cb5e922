//! Users (`/users/api`), roles (`/roles/api`), the user centre (`/userinfo/api`) and
//! the audit log (`/log_modelview/api`).

use std::collections::BTreeMap;
use std::sync::Arc;

use actix_web::{HttpResponse, web};
use diesel::mysql::MysqlConnection;
use serde_json::{Value, json};

use super::ids;
use crate::api::blocking;
use crate::auth::Ctx;
use crate::engine::resolve::Resolved;
use crate::engine::sql::{Bind, SqlFrag};
use crate::engine::view::{
    Access, AccessRules, ActionDef, ModelView, Property, Row, ViewHooks, cols, id_of,
};
use crate::error::ApiError;
use crate::state::AppState;

/// The texts of row `r` in a map by row id.
fn texts_of<'a>(by_owner: &'a BTreeMap<i64, Vec<String>>, r: &Row) -> &'a [String] {
    r.get("id")
        .and_then(Value::as_i64)
        .and_then(|id| by_owner.get(&id))
        .map(Vec::as_slice)
        .unwrap_or(&[])
}

fn ids_of(rows: &[Row]) -> Vec<i64> {
    rows.iter()
        .filter_map(|r| r.get("id").and_then(Value::as_i64))
        .collect()
}

fn roles_html(conn: &mut MysqlConnection, _: &Ctx, rows: &mut [Row]) -> Result<(), ApiError> {
    // the role names of each user in role-id order (as `app_models::queries::user_roles`)
    let roles = app_models::dashboard::roles_by_user(conn, &ids_of(rows))?;
    for r in rows.iter_mut() {
        let html = format!("[{}]", texts_of(&roles, r).join(", "));
        r.insert("roles_html".into(), json!(html));
    }
    Ok(())
}

fn permissions_html(conn: &mut MysqlConnection, _: &Ctx, rows: &mut [Row]) -> Result<(), ApiError> {
    let perms = app_models::dashboard::permissions_by_role(conn, &ids_of(rows))?;
    for r in rows.iter_mut() {
        let html = texts_of(&perms, r).join(",\n");
        r.insert("permissions_html".into(), json!(html));
    }
    Ok(())
}

/// What to store for a submitted password: nothing when it is empty (the current one
/// stays), a werkzeug hash as it is, otherwise the hash of a password of at least 4
/// characters. Shared by the user views and the user centre.
fn stored_password(p: &str) -> Result<Option<String>, ApiError> {
    if p.is_empty() {
        return Ok(None);
    }
    if app_core::password::is_hash(p) {
        return Ok(Some(p.to_string()));
    }
    if p.chars().count() < 4 {
        return Err(ApiError::unprocessable(
            "password must have at least 4 characters",
        ));
    }
    Ok(Some(app_core::password::hash_password(p)))
}

/// Hashes a password field unless it already is a werkzeug hash.
fn hash_field(values: &mut Row) -> Result<(), ApiError> {
    if let Some(Value::String(p)) = values.get("password") {
        match stored_password(p)? {
            None => {
                values.remove("password");
            }
            Some(stored) => {
                values.insert("password".into(), json!(stored));
            }
        }
    }
    Ok(())
}

fn check_username(values: &Row) -> Result<(), ApiError> {
    if let Some(u) = values.get("username").and_then(Value::as_str) {
        let ok = u.len() >= 2
            && u.len() <= 64
            && u.starts_with(|c: char| c.is_ascii_lowercase())
            && u.ends_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
            && u.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
        if !ok {
            return Err(ApiError::unprocessable(
                "username must match ^[a-z][a-z0-9\\-]*[a-z0-9]$",
            ));
        }
    }
    Ok(())
}

/// Gives a new user the Gamma role (if none) and membership of the `public` org.
pub fn onboard_user(conn: &mut MysqlConnection, user_id: i64, by: i64) -> Result<(), ApiError> {
    let uid = i32::try_from(user_id).map_err(|_| ApiError::not_found())?;
    let by = i32::try_from(by).map_err(|_| ApiError::not_found())?;
    if app_models::dashboard::role_count(conn, uid)? == 0
        && let Some(gamma) = app_models::dashboard::role_id(conn, "Gamma")?
    {
        // a user is created rarely: the schema is asked here rather than kept
        let numbered = app_models::queries::id_sequence_tables(conn)?.contains("ab_user_role");
        crate::engine::write::link_row(
            conn,
            "ab_user_role",
            numbered,
            ("user_id", user_id),
            ("role_id", i64::from(gamma)),
        )?;
    }
    for public in app_models::dashboard::public_org_projects(conn)? {
        app_models::dashboard::add_member(conn, public, uid, "dev", by)?;
    }
    Ok(())
}

/// Users: admins manage everyone; others see themselves only.
pub struct UserHooks;

impl ViewHooks for UserHooks {
    fn base_filter(&self, ctx: &Ctx) -> Option<SqlFrag> {
        (!ctx.is_admin).then(|| SqlFrag::new("t.`id` = ?", vec![Bind::Int(ctx.user_id as i64)]))
    }
    fn pre_add_req(
        &self,
        _: &mut MysqlConnection,
        ctx: &Ctx,
        req: &mut Row,
    ) -> Result<(), ApiError> {
        if !ctx.is_admin {
            return Err(ApiError::forbidden("only admins can add users"));
        }
        if req
            .get("password")
            .and_then(Value::as_str)
            .unwrap_or("")
            .is_empty()
        {
            return Err(ApiError::unprocessable(
                "{'password': ['Missing data for required field.']}",
            ));
        }
        Ok(())
    }
    fn pre_add(&self, _: &mut MysqlConnection, _: &Ctx, values: &mut Row) -> Result<(), ApiError> {
        check_username(values)?;
        hash_field(values)?;
        let name = values.get("username").cloned().unwrap_or(json!(""));
        values.entry("first_name").or_insert(name);
        values.entry("last_name").or_insert(json!(""));
        values.insert(
            "active".into(),
            values
                .get("active")
                .cloned()
                .filter(|v| !v.is_null())
                .unwrap_or(json!(true)),
        );
        Ok(())
    }
    fn pre_update(
        &self,
        _: &mut MysqlConnection,
        ctx: &Ctx,
        values: &mut Row,
        old: &Row,
    ) -> Result<(), ApiError> {
        check_username(values)?;
        hash_field(values)?;
        if !ctx.is_admin {
            values.remove("active");
        }
        if old.get("id").and_then(Value::as_i64) == Some(ctx.user_id as i64)
            && values.get("active") == Some(&json!(false))
        {
            return Err(ApiError::unprocessable("you cannot deactivate yourself"));
        }
        Ok(())
    }
    fn post_add(&self, conn: &mut MysqlConnection, ctx: &Ctx, item: &Row) -> Result<(), ApiError> {
        onboard_user(
            conn,
            item.get("id").and_then(Value::as_i64).unwrap_or(0),
            ctx.user_id as i64,
        )
    }
    fn pre_delete(
        &self,
        conn: &mut MysqlConnection,
        ctx: &Ctx,
        item: &Row,
    ) -> Result<(), ApiError> {
        let id = item.get("id").and_then(Value::as_i64).unwrap_or(0);
        if id == ctx.user_id as i64 {
            // nobody deletes their own account, admins included (the original's rule)
            return Err(ApiError::no_permission("delete"));
        }
        app_models::dashboard::forget_user(
            conn,
            i32::try_from(id).map_err(|_| ApiError::not_found())?,
        )?;
        Ok(())
    }
}

/// Logs: admins see all; others their own.
pub struct LogHooks;

impl ViewHooks for LogHooks {
    fn base_filter(&self, ctx: &Ctx) -> Option<SqlFrag> {
        (!ctx.is_admin)
            .then(|| SqlFrag::new("t.`user_id` = ?", vec![Bind::Int(ctx.user_id as i64)]))
    }
}

/// `rotate_token`: gives each selected user a new token; the old one stops working at
/// once. Admins rotate anyone's; other users only their own.
fn rotate_token_action(
    conn: &mut MysqlConnection,
    ctx: &Ctx,
    _: &Resolved<'_>,
    rows: &[Row],
) -> Result<String, ApiError> {
    let mut names = Vec::new();
    for r in rows {
        let id = id_of(r.get("id")).ok_or_else(ApiError::not_found)? as i32;
        if !ctx.is_admin && id != ctx.user_id {
            return Err(ApiError::forbidden(
                "only admins can rotate the token of another user",
            ));
        }
        app_models::security::rotate_token(conn, id)?;
        names.push(
            r.get("username")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string(),
        );
    }
    Ok(format!(
        "new token issued for {}; the old one no longer works",
        names.join(", ")
    ))
}

fn rotate_token_def() -> ActionDef {
    ActionDef {
        name: "rotate_token",
        text: "重置令牌 / rotate token",
        confirmation: "重置令牌后旧令牌立即失效，确定? / The old token stops working at once. Rotate?",
        icon: "fa-key",
        multiple: true,
        single: true,
        run: rotate_token_action,
        effects: None,
    }
}

/// The original's form of a user (users and user centre): labels, descriptions, widths
/// and the declared text fields.
fn user_form(v: &mut ModelView) {
    v.labels = vec![("secret", "秘钥"), ("org", "组织架构")];
    v.descriptions = vec![
        ("username", "用户名只能由小写字母、数字、-组成"),
        ("nickname", "中文名"),
        ("org", "组织架构，自行填写"),
    ];
    v.cols_width = json!({"username": {"type": "ellip1", "width": 150}, "nickname": {"type": "ellip1", "width": 100},
        "active": {"type": "ellip1", "width": 100}, "roles_html": {"type": "ellip1", "width": 200}, "org": {"type": "ellip2", "width": 400}});
    let text = |validators: Value| json!({"type": "String", "widget": "BS3Text", "validators": validators});
    v.fields.insert(
        "username",
        text(json!([{"type": "Regexp", "regex": "^[a-z][a-z0-9\\-]*[a-z0-9]$"}, {"type": "DataRequired"}])),
    );
    v.fields
        .insert("nickname", text(json!([{"type": "DataRequired"}])));
    // required in the form of the original; an empty password leaves it unchanged here
    v.fields
        .insert("password", text(json!([{"type": "DataRequired"}])));
    v.fields.insert(
        "email",
        text(json!([{"type": "Regexp", "regex": ".*@.*\\..*"}, {"type": "DataRequired"}])),
    );
    v.fields.insert(
        "org",
        text(json!([{"type": "Length", "min": null, "max": 200}])),
    );
}

/// The user, role, user-centre and log views.
pub fn views() -> Vec<ModelView> {
    let mut users = ModelView::new(ids::USERS, "User_ModelView_Api", "ab_user", "用户");
    users.base_permissions = vec!["can_list", "can_edit", "can_add", "can_show", "can_delete"];
    // the original has no delete at all; here admins may, others get its 403
    users.list_columns = cols(&["username", "nickname", "active", "roles_html", "org"]);
    // the original also shows `secret` and `password`: never here
    users.show_columns = cols(&["username", "nickname", "active", "email", "org", "roles"]);
    users.show_fieldsets = vec![(
        "用户信息",
        vec![
            "username", "nickname", "active", "roles", "email", "secret", "org",
        ],
    )];
    users.add_columns = cols(&[
        "username", "nickname", "password", "email", "roles", "org", "quota",
    ]);
    users.edit_columns = cols(&[
        "username", "nickname", "password", "active", "email", "roles", "org", "quota",
    ]);
    users.search_columns = cols(&["username", "nickname", "org"]);
    users.order_columns = cols(&["id"]);
    users.base_order = Some(("id", "desc"));
    users.show_exclude_columns = vec!["password"];
    users.properties = vec![Property {
        name: "roles_html",
        compute: roles_html,
    }];
    user_form(&mut users);
    users.hooks = Arc::new(UserHooks);
    // users edit themselves; deleting is for admins (403 before lookup, as the original)
    users.access = AccessRules {
        delete: Access::Admin,
        ..AccessRules::rows(Access::SelfUser)
    };
    users.actions = vec![rotate_token_def()];

    let mut roles = ModelView::new(ids::ROLES, "Role_ModelView_Api", "ab_role", "角色");
    roles.base_permissions = vec!["can_list", "can_show", "can_add", "can_edit"];
    roles.labels = vec![("permissions", "权限")];
    roles.cols_width = json!({"permissions_html": {"type": "ellip2", "width": 700}});
    roles.list_columns = cols(&["name", "permissions_html"]);
    roles.show_columns = cols(&["name", "permissions"]);
    roles.add_columns = cols(&["name", "permissions"]);
    roles.edit_columns = cols(&["name", "permissions"]);
    roles.search_columns = cols(&["name"]);
    roles.order_columns = cols(&["id"]);
    roles.properties = vec![Property {
        name: "permissions_html",
        compute: permissions_html,
    }];
    // roles: readable by all, written by admins
    roles.access = AccessRules {
        add: Access::AdminRow,
        ..AccessRules::rows(Access::AdminRow)
    };

    let mut info = ModelView::new(
        ids::USERINFO,
        "UserInfo_ModelView_Api",
        "ab_user",
        "用户信息",
    );
    info.base_permissions = vec![];
    // no verb is open on this view (`base_permissions = []`): its columns are what the
    // original's `_info` names
    info.show_columns = cols(&["username", "nickname", "email", "org", "quota", "roles"]);
    info.list_columns = cols(&["username", "nickname", "active", "roles_html", "org"]);
    info.add_columns = cols(&["username", "nickname", "password", "email", "roles", "org"]);
    info.edit_columns = cols(&["nickname", "password", "email", "org"]);
    info.search_columns = cols(&["username", "nickname", "org"]);
    info.order_columns = cols(&["id"]);
    info.properties = vec![Property {
        name: "roles_html",
        compute: roles_html,
    }];
    info.show_exclude_columns = vec!["password"];
    user_form(&mut info);
    info.labels.extend([
        ("quota", "额度"),
        ("active", "激活"),
        ("roles_html", "角色"),
    ]);
    info.show_fieldsets = users.show_fieldsets.clone();
    info.hooks = Arc::new(UserHooks);
    info.access = AccessRules {
        delete: Access::AdminRow,
        ..AccessRules::rows(Access::SelfUser)
    };
    info.actions = vec![rotate_token_def()];

    let mut log = ModelView::new(ids::LOG, "LOG_ModelView_Api", "logs", "日志");
    // the original shows log details to nobody (403)
    log.base_permissions = vec!["can_list"];
    log.list_columns = cols(&["user", "method", "path", "duration_ms", "dttm"]);
    log.show_columns = cols(&[
        "user",
        "action",
        "method",
        "path",
        "status",
        "json",
        "dttm",
        "duration_ms",
        "referrer",
    ]);
    log.search_columns = cols(&["user", "method", "path"]);
    log.order_columns = cols(&["id"]);
    log.labels = vec![
        ("action", "函数"),
        ("method", "方式"),
        ("path", "网址"),
        ("json", "json"),
        ("duration_ms", "响应延迟"),
        ("referrer", "相关人"),
    ];
    log.cols_width = super::shared_cols_width();
    log.actions = vec![crate::api::muldelete()];
    log.base_order = Some(("id", "desc"));
    log.hooks = Arc::new(LogHooks);
    vec![users, roles, info, log]
}

/// `GET /userinfo/api/current/userinfo`: the caller, bare JSON (RFC-1123 dates, as the original).
pub async fn current_userinfo(
    state: web::Data<AppState>,
    ctx: Ctx,
) -> Result<HttpResponse, ApiError> {
    let body = blocking(&state, move |st, conn| {
        let secret = st.user_token(conn, &ctx)?;
        let u = app_models::dashboard::user(conn, ctx.user_id)?.ok_or_else(ApiError::not_found)?;
        let rfc = |t: Option<chrono::NaiveDateTime>| -> Value {
            t.map(|t| json!(t.and_utc().format("%a, %d %b %Y %H:%M:%S GMT").to_string()))
                .unwrap_or(Value::Null)
        };
        Ok(json!({
            "username": u.username, "email": u.email, "nickname": u.nickname,
            "roles": ctx.roles.join(","), "active": u.active, "org": u.org, "quota": u.quota,
            "secret": secret, "balance": u.balance,
            "created_on": rfc(u.created_on), "changed_on": rfc(u.changed_on), "wechat": u.wechat,
        }))
    })
    .await?;
    Ok(crate::reply::bare_json(&body))
}

/// `POST /userinfo/api/current/token`: rotates the caller's token and returns the new
/// one (`result.secret`); the old one stops working at once.
pub async fn rotate_own_token(
    state: web::Data<AppState>,
    ctx: Ctx,
) -> Result<HttpResponse, ApiError> {
    let secret = blocking(&state, move |st, conn| {
        let tv = app_models::security::rotate_token(conn, ctx.user_id)?;
        let rotated = Ctx { token: tv, ..ctx };
        st.user_token(conn, &rotated)
    })
    .await?;
    state.ctx_cache.clear();
    Ok(crate::reply::ok(json!({"secret": secret})))
}

/// `POST /userinfo/api/current/userinfo`: the caller edits nickname, email, org, password.
pub async fn update_userinfo(
    state: web::Data<AppState>,
    ctx: Ctx,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let Ok(Value::Object(req)) = serde_json::from_slice::<Value>(&body) else {
        return Err(ApiError::bad_request("Request is not JSON"));
    };
    let msg = blocking(&state, move |_, conn| {
        let mut changes = app_models::dashboard::UserCentreChanges::default();
        for key in ["nickname", "email", "org", "wechat"] {
            if let Some(v) = req.get(key) {
                let s = v.as_str().map(str::trim).unwrap_or("").to_string();
                if key == "email" && (s.is_empty() || !s.contains('@') || s.len() > 320) {
                    return Err(ApiError::bad_request("email is not valid"));
                }
                if s.chars().count() > 200 {
                    return Err(ApiError::bad_request(format!("{key} is too long")));
                }
                let slot = match key {
                    "nickname" => &mut changes.nickname,
                    "email" => &mut changes.email,
                    "org" => &mut changes.org,
                    _ => &mut changes.wechat,
                };
                *slot = Some(s);
            }
        }
        if let Some(Value::String(p)) = req.get("password") {
            changes.password = stored_password(p)?;
        }
        if let Some(email) = &changes.email
            && app_models::dashboard::email_taken(conn, email, ctx.user_id)?
        {
            return Ok(Err("用户名或邮箱已存在"));
        }
        if changes.is_empty() {
            return Ok(Ok(()));
        }
        app_models::dashboard::update_user_centre(conn, ctx.user_id, changes)?;
        Ok(Ok(()))
    })
    .await?;
    state.ctx_cache.clear();
    match msg {
        Ok(()) => Ok(crate::reply::ok_with("修正完成", json!({}))),
        Err(m) => Err(ApiError::bad_request(m)),
    }
}
