//! The authenticated user of a request, with what authorization needs.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use app_models::schema::*;
use diesel::mysql::MysqlConnection;
use diesel::prelude::*;

/// The caller.
#[derive(Debug, Clone)]
pub struct Ctx {
    pub user_id: i32,
    pub username: String,
    pub is_admin: bool,
    pub roles: Vec<String>,
    /// Ids of `org` projects the user belongs to (the original's `get_join_projects_id`).
    pub org_projects: Vec<i32>,
    /// Ids of projects where the user is a `creator`.
    pub creator_projects: Vec<i32>,
    /// The user's token version and last rotation: tokens must carry this version.
    pub token: app_models::security::TokenVersion,
}

impl Ctx {
    /// Loads an active user by name; `None` when unknown or inactive.
    pub fn load(conn: &mut MysqlConnection, username: &str) -> QueryResult<Option<Ctx>> {
        let user: Option<(i32, String, Option<bool>)> = ab_user::table
            .filter(ab_user::username.eq(username))
            .select((ab_user::id, ab_user::username, ab_user::active))
            .first(conn)
            .optional()?;
        let Some((user_id, username, active)) = user else {
            return Ok(None);
        };
        if active == Some(false) {
            return Ok(None);
        }
        let roles = app_models::queries::user_roles(conn, user_id)?;
        let token = app_models::security::token_version(conn, user_id)?;
        let memberships: Vec<(i32, String, Option<String>)> = project_user::table
            .inner_join(project::table.on(project::id.eq(project_user::project_id)))
            .filter(project_user::user_id.eq(user_id))
            .select((project::id, project_user::role, project::type_))
            .load(conn)?;
        let org_projects = memberships
            .iter()
            .filter(|(_, _, t)| t.as_deref() == Some("org"))
            .map(|(id, _, _)| *id)
            .collect();
        let creator_projects = memberships
            .iter()
            .filter(|(_, r, _)| r == "creator")
            .map(|(id, _, _)| *id)
            .collect();
        Ok(Some(Ctx {
            is_admin: roles.iter().any(|r| r.eq_ignore_ascii_case("admin")),
            user_id,
            username,
            roles,
            org_projects,
            creator_projects,
            token,
        }))
    }
}

/// A few seconds of memory of loaded users, so each request does not reload them.
#[derive(Default)]
pub struct CtxCache {
    entries: Mutex<HashMap<String, (Instant, Ctx)>>,
}

const TTL: Duration = Duration::from_secs(3);

impl CtxCache {
    pub fn get(&self, username: &str) -> Option<Ctx> {
        let map = self.entries.lock().ok()?;
        map.get(username)
            .filter(|(t, _)| t.elapsed() < TTL)
            .map(|(_, c)| c.clone())
    }
    pub fn put(&self, ctx: &Ctx) {
        if let Ok(mut map) = self.entries.lock() {
            if map.len() > 10_000 {
                map.clear();
            }
            map.insert(ctx.username.clone(), (Instant::now(), ctx.clone()));
        }
    }
    /// Forgets everything (after membership or role changes).
    pub fn clear(&self) {
        if let Ok(mut map) = self.entries.lock() {
            map.clear();
        }
    }
}
