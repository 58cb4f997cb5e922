//! What the React front end needs besides the model views: the menu, the navbar,
//! feature dialogs, `/health`, and (with `FRONTEND_DIR`) the built SPA itself.

use std::path::{Path, PathBuf};

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::{Value, json};

use crate::auth::Ctx;
use crate::icons::lucide;
use crate::routing::{Answer, Routes};
use crate::state::AppState;

/// A page of the menu (`menu_type: api`): the front end routes it to
/// `/frontend/<group>/<subgroup>/<name>` and reads `<url>_info` and `<url>`.
fn page(name: &str, title: &str, icon: &str, url: &str) -> Value {
    json!({"name": name, "title": title, "icon": lucide(icon), "menu_type": "api", "url": url})
}

/// A subgroup of a top-level entry (no icon, as in the original).
fn subgroup(name: &str, title: &str, children: Vec<Value>) -> Value {
    json!({"name": name, "title": title, "isMenu": true, "isExpand": true, "children": children})
}

/// The original's menu (`myapp/views/home.py`, `Myapp.menu`) restricted to the pages this
/// back end serves: the same names, titles, order and urls, entries of views not built
/// here left out (no dead links). Admins also get the security group, as there.
pub fn menu(ctx: &Ctx) -> Value {
    let mut org = page(
        "org_group",
        "项目分组",
        "users",
        "/project_modelview/org/api/",
    );
    org["model_name"] = json!("project");
    let mut member = page(
        "project_user",
        "组成员",
        "user-plus",
        "/project_user_modelview/api/",
    );
    member["hidden"] = json!(1);
    org["related"] = json!([member]);
    let mut template_group = page(
        "job_template_group",
        "模板分类",
        "folder-tree",
        "/project_modelview/job_template/api/",
    );
    template_group["model_name"] = json!("project");
    let mut project_children = vec![subgroup(
        "project_group",
        "项目组",
        vec![org, template_group],
    )];
    if ctx.is_admin {
        let mut users = page("security-user", "用户列表", "user-cog", "/users/api/");
        users["disable"] = json!(false);
        let mut logs = page(
            "security-logs",
            "日志列表",
            "scroll-text",
            "/log_modelview/api/",
        );
        logs["disable"] = json!(false);
        project_children.push(subgroup("security", "安全设置(管理员)", vec![users, logs]));
    }

    let mut pipeline = page("pipeline", "任务流", "workflow", "/pipeline_modelview/api/");
    pipeline["model_name"] = json!("pipeline");
    let mut task = page("task", "任务", "list-checks", "/task_modelview/api/");
    task["hidden"] = json!(1);
    pipeline["related"] = json!([task]);

    json!([
        {"name": "group", "title": "项目空间", "icon": lucide("layout-grid"), "isExpand": false, "isMenu": true,
         "children": project_children},
        {"name": "dev", "title": "在线开发", "icon": lucide("code-xml"), "hidden": 0, "isExpand": true, "children": [
            subgroup("images", "镜像管理", vec![
                page("docker_repository", "镜像仓库", "warehouse", "/repository_modelview/api/"),
                page("template_images", "镜像管理", "container", "/images_modelview/api/"),
            ]),
        ]},
        {"name": "train", "title": "模型训练", "icon": lucide("brain-circuit"), "hidden": 0, "isExpand": true, "children": [
            subgroup("train_template", "模板开发", vec![
                page("job_template", "任务模板", "file-code", "/job_template_fab_modelview/api/"),
            ]),
            subgroup("train_task", "任务流", vec![
                pipeline,
                page("runhistory", "定时调度", "calendar-clock", "/runhistory_modelview/api/"),
                page("workflow", "运行实例", "activity", "/workflow_modelview/api/"),
            ]),
        ]},
        {"name": "service", "title": "服务化", "icon": lucide("server"), "isMenu": true, "children": [
            page("total_resource", "整体资源", "gauge", "/total_resource/api/"),
        ]},
    ])
}

async fn menu_route(ctx: Ctx) -> HttpResponse {
    crate::reply::bare_json(&menu(&ctx))
}

async fn navbar_right(_: Ctx, state: web::Data<AppState>) -> HttpResponse {
    crate::reply::bare_json(&state.frontend.navbar_right)
}

/// The pop-up of the page `url` (`/frontend/<path>` or `/<path>`), `{}` for a page
/// without one; a pop-up that fails is the original's "弹窗失败" dialog.
async fn feature_check(ctx: Ctx, state: web::Data<AppState>, req: HttpRequest) -> HttpResponse {
    let url =
        web::Query::<std::collections::HashMap<String, String>>::from_query(req.query_string())
            .ok()
            .and_then(|q| q.get("url").cloned())
            .unwrap_or_default();
    let page = |u: &str| u.replacen("/frontend", "", 1);
    let Some((_, alert)) = state.alerts.iter().find(|(p, _)| page(p) == page(&url)) else {
        return crate::reply::bare_json(&json!({}));
    };
    let host = req.connection_info().host().to_string();
    match alert(state.clone(), ctx, host).await {
        Ok(dialog) => crate::reply::bare_json(&dialog),
        Err(e) => {
            tracing::warn!(page = %url, error = %e, "a page's pop-up failed");
            crate::reply::bare_json(&json!({
                "content": "未能正常获取弹窗信息", "delay": 30000, "hit": false,
                "target": url, "title": "弹窗失败", "type": "html"
            }))
        }
    }
}

async fn health(state: web::Data<AppState>) -> HttpResponse {
    let pool = state.pool.clone();
    let ok = web::block(move || pool.get().is_ok())
        .await
        .unwrap_or(false);
    if ok {
        HttpResponse::Ok()
            .content_type("text/html; charset=utf-8")
            .body("OK")
    } else {
        HttpResponse::ServiceUnavailable().body("database unavailable")
    }
}

async fn root() -> HttpResponse {
    HttpResponse::Found()
        .insert_header((header::LOCATION, "/frontend/"))
        .finish()
}

/// `rel` under `dir`, with empty, `.` and `..` segments dropped (never outside `dir`).
fn under(dir: &Path, rel: &str) -> PathBuf {
    let clean: PathBuf = rel
        .split('/')
        .filter(|p| !p.is_empty() && *p != "." && *p != "..")
        .collect();
    dir.join(clean)
}

/// What `/frontend/` shows when no front end is configured: how to get one.
const NO_FRONTEND_PAGE: &str = r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>cube-studio: no web front end here</title>
<style>body{font-family:sans-serif;max-width:760px;margin:60px auto;line-height:1.5;color:#222}
code,pre{background:#f3f4f6;padding:2px 4px;border-radius:4px}pre{padding:10px;overflow:auto}</style></head>
<body><h1>The web front end is not installed here</h1>
<p>This server is the cube-studio back end; its REST API works: see <a href="/docs">/docs</a>
(<a href="/openapi.json">/openapi.json</a>). The web pages are cube-studio's own React front end, which this
server serves at <code>/frontend/</code> once it has a copy:</p>
<ul>
<li><b>With network access</b>: <code>bash install/local/frontend.sh</code> fetches the
original's published build (tencentmusic/cube-studio, commit b7ed2f08) into a cache folder and
prints the two variables to set; <code>bash install/local/stack.sh</code> does this by itself.</li>
<li><b>Or</b> point the dashboard at a build you have:
<pre>FRONTEND_DIR=&lt;cube-studio&gt;/myapp/static/appbuilder/frontend
STATIC_DIR=&lt;cube-studio&gt;/myapp/static</pre>
(a build whose <code>index.html</code> names the main script listed in its
<code>asset-manifest.json</code>), then restart the dashboard.</li>
</ul>
<p>API clients authenticate with <code>Authorization: &lt;username&gt;|&lt;token&gt;</code>;
browsers log in at <a href="/login/">/login/</a>.</p></body></html>"#;

/// Serves the built SPA: files as they are, anything else the SPA's index.html.
async fn spa(req: HttpRequest, state: web::Data<AppState>) -> actix_web::Result<HttpResponse> {
    let Some(dir) = state.config.frontend_dir.clone() else {
        return Ok(HttpResponse::Ok()
            .content_type("text/html; charset=utf-8")
            .body(NO_FRONTEND_PAGE));
    };
    let candidate = under(&dir, req.match_info().query("path"));
    let file = if candidate.is_file() {
        candidate
    } else {
        dir.join("index.html")
    };
    Ok(actix_files::NamedFile::open_async(file)
        .await?
        .into_response(&req))
}

/// The image the front end falls back to when a pipeline card's image fails
/// (`/static/appbuilder/vison/logo.png`). The original ships one; without it the home
/// page's `onError` handler sets the same missing URL again, forever. Drawn here: a cube.
const FALLBACK_LOGO: &str = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"128\" height=\"128\" viewBox=\"0 0 64 64\">\
<path d=\"M32 6 56 19v26L32 58 8 45V19z\" fill=\"#1672fa\"/>\
<path d=\"M32 6 56 19 32 32 8 19z\" fill=\"#6ea6ff\"/>\
<path d=\"M32 32v26L8 45V19z\" fill=\"#0d4fb8\"/></svg>";
const FALLBACK_LOGO_PATH: &str = "appbuilder/vison/logo.png";

/// The pipeline DAG editor's page, when `STATIC_DIR` has no editor: a page that says how
/// to get it instead of a bare 404 inside the pipeline list's new tab.
const EDITOR_PAGE: &str = "appbuilder/vison/index.html";
const EDITOR_MISSING: &str = "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
<title>Pipeline editor not installed</title></head><body style=\"font-family:sans-serif;max-width:44em;margin:3em auto\">\
<h1>The pipeline editor is not installed</h1>\
<p>The DAG editor of cube-studio is built from the original's <code>myapp/vision</code> source \
with npm. <code>bash install/local/frontend.sh</code> builds it when Node.js and npm are \
installed (<code>FRONTEND_EDITOR=1</code> retries a failed build); or put a build under \
<code>STATIC_DIR</code> as <code>appbuilder/vison/</code>.</p>\
<p>Pipelines can still be edited through the API: <a href=\"/docs\">/docs</a>; \
back to <a href=\"/frontend/train/train_task/pipeline\">the pipelines</a>.</p></body></html>";

/// `/static/<path>`: the files of `STATIC_DIR`, as the original serves `myapp/static`
/// (public, no login), plus the fallback logo when the directory has none.
async fn static_file(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> actix_web::Result<HttpResponse> {
    let rel = req.match_info().query("path");
    serve_static(&req, &state, rel).await
}

/// `/favicon.ico`, which browsers ask for on pages that name none (the login form): the
/// original's (`appbuilder/assets/favicon.ico` of `STATIC_DIR`), else the built-in logo.
async fn favicon(req: HttpRequest, state: web::Data<AppState>) -> actix_web::Result<HttpResponse> {
    let own = "appbuilder/assets/favicon.ico";
    let has_own = state
        .frontend
        .static_dir
        .as_ref()
        .is_some_and(|d| d.join(own).is_file());
    serve_static(&req, &state, if has_own { own } else { FALLBACK_LOGO_PATH }).await
}

async fn serve_static(
    req: &HttpRequest,
    state: &AppState,
    rel: &str,
) -> actix_web::Result<HttpResponse> {
    if let Some(dir) = &state.frontend.static_dir {
        let file = under(dir, rel);
        if file.is_file() {
            return Ok(actix_files::NamedFile::open_async(file)
                .await?
                .into_response(req));
        }
    }
    let rel = rel.trim_start_matches('/');
    if rel == EDITOR_PAGE {
        return Ok(HttpResponse::NotFound()
            .content_type("text/html; charset=utf-8")
            .body(EDITOR_MISSING));
    }
    if rel == FALLBACK_LOGO_PATH {
        return Ok(HttpResponse::Ok()
            .content_type("image/svg+xml")
            .insert_header((header::CACHE_CONTROL, "public, max-age=3600"))
            .body(FALLBACK_LOGO));
    }
    Ok(HttpResponse::NotFound()
        .content_type("text/plain; charset=utf-8")
        .body("not found"))
}

/// Registers the routes above.
pub fn configure(r: &mut Routes<'_>) {
    r.tag("front end").public();
    r.add(
        "GET",
        "/health",
        "200 while the database answers",
        Answer::Other("text/plain"),
        health,
    );
    r.add(
        "GET",
        "/",
        "Redirects to the front end",
        Answer::Other("302 redirect"),
        root,
    );
    r.redirect_to_slash("/frontend");
    r.add(
        "GET",
        "/frontend/{path:.*}",
        "The React front end (FRONTEND_DIR), or how to get it",
        Answer::Other("text/html"),
        spa,
    );
    r.add(
        "GET",
        "/static/{path:.*}",
        "Files of STATIC_DIR (images, the pipeline editor)",
        Answer::Other("file"),
        static_file,
    );
    r.add(
        "GET",
        "/favicon.ico",
        "The icon",
        Answer::Other("image"),
        favicon,
    );
    r.tag("front end");
    r.add(
        "GET",
        "/myapp/menu",
        "The menu tree the front end builds its pages from",
        Answer::Json(json!({"type": "array"})),
        menu_route,
    );
    r.add(
        "GET",
        "/myapp/navbar_right",
        "Links of the navigation bar",
        Answer::Json(json!({"type": "array"})),
        navbar_right,
    );
    r.add(
        "GET",
        "/myapp/feature/check",
        "Feature notices of a page",
        Answer::Envelope(json!({})),
        feature_check,
    )
    .query = vec![("url", "the page")];
}
