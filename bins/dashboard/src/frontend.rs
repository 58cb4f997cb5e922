//! What the React front end needs besides the model views: the menu, the navbar,
//! feature dialogs, `/health`, and (with `FRONTEND_DIR`) the built SPA itself.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::{Value, json};

use crate::app::AppState;
use crate::auth::Ctx;

const ICON: &str = "<svg viewBox=\"0 0 1024 1024\" xmlns=\"http://www.w3.org/2000/svg\" width=\"128\" height=\"128\"><path d=\"M160 160h704v704H160z\" fill=\"none\" stroke=\"#666\" stroke-width=\"64\"/></svg>";

fn leaf(name: &str, title: &str, url: &str, model_name: &str) -> Value {
    json!({"name": name, "title": title, "icon": ICON, "menu_type": "api", "url": url, "model_name": model_name, "isMenu": true})
}

fn group(name: &str, title: &str, children: Vec<Value>) -> Value {
    json!({"name": name, "title": title, "isMenu": true, "isExpand": true, "children": children})
}

/// The menu tree of the pages this back end serves.
pub fn menu(ctx: &Ctx) -> Value {
    let mut org = leaf(
        "org_group",
        "项目分组",
        "/project_modelview/org/api/",
        "project",
    );
    org["related"] = json!([{"hidden": 1, "name": "project_user", "title": "组成员", "icon": ICON, "menu_type": "api", "url": "/project_user_modelview/api/"}]);
    let mut project_children = vec![group(
        "project_group",
        "项目组",
        vec![
            org,
            leaf(
                "job_template_group",
                "模板分类",
                "/project_modelview/job_template/api/",
                "project",
            ),
        ],
    )];
    if ctx.is_admin {
        project_children.push(group(
            "security",
            "安全",
            vec![
                leaf("user", "用户", "/users/api/", "ab_user"),
                leaf("role", "角色", "/roles/api/", "ab_role"),
                leaf("log", "日志", "/log_modelview/api/", "logs"),
            ],
        ));
    }
    let mut pipeline = leaf("pipeline", "任务流", "/pipeline_modelview/api/", "pipeline");
    pipeline["related"] = json!([{"hidden": 1, "name": "task", "title": "任务", "icon": ICON, "menu_type": "api", "url": "/task_modelview/api/", "model_name": "task"}]);
    json!([
        {"name": "group", "title": "项目空间", "isExpand": false, "isMenu": true, "hidden": 0, "icon": ICON, "children": project_children},
        {"name": "dev", "title": "在线开发", "isExpand": false, "isMenu": true, "hidden": 0, "icon": ICON, "children": [
            group("images", "镜像管理", vec![
                leaf("repository", "仓库", "/repository_modelview/api/", "repository"),
                leaf("images", "镜像", "/images_modelview/api/", "images"),
            ]),
        ]},
        {"name": "train", "title": "模型训练", "isExpand": false, "isMenu": true, "hidden": 0, "icon": ICON, "children": [
            group("train_group", "训练", vec![
                leaf("job_template", "任务模板", "/job_template_modelview/api/", "job_template"),
                pipeline,
                leaf("runhistory", "定时调度记录", "/runhistory_modelview/api/", "run"),
                leaf("workflow", "运行实例", "/workflow_modelview/api/", "workflow"),
            ]),
        ]},
    ])
}

async fn menu_route(ctx: Ctx) -> HttpResponse {
    HttpResponse::Ok().json(menu(&ctx))
}

async fn navbar_right(_: Ctx) -> HttpResponse {
    HttpResponse::Ok().json(json!([]))
}

async fn feature_check(_: Ctx) -> HttpResponse {
    HttpResponse::Ok().json(json!({}))
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

/// Serves the built SPA: files as they are, anything else the SPA's index.html.
async fn spa(req: HttpRequest, state: web::Data<AppState>) -> actix_web::Result<HttpResponse> {
    let Some(dir) = state.config.frontend_dir.clone() else {
        return Ok(HttpResponse::NotFound().content_type("text/plain").body(
            "front end not configured: set FRONTEND_DIR to the built cube-studio front end",
        ));
    };
    let rel = req.match_info().query("path").to_string();
    let clean: std::path::PathBuf = rel
        .split('/')
        .filter(|p| !p.is_empty() && *p != "." && *p != "..")
        .collect();
    let candidate = dir.join(&clean);
    let file = if candidate.is_file() {
        candidate
    } else {
        dir.join("index.html")
    };
    Ok(actix_files::NamedFile::open_async(file)
        .await?
        .into_response(&req))
}

/// Registers the routes above.
pub fn configure(cfg: &mut web::ServiceConfig, state: &AppState) {
    cfg.route("/health", web::get().to(health))
        .route("/", web::get().to(root))
        .route("/myapp/menu", web::get().to(menu_route))
        .route("/myapp/navbar_right", web::get().to(navbar_right))
        .route("/myapp/feature/check", web::get().to(feature_check))
        .route(
            "/frontend",
            web::get()
                .to(|req: HttpRequest| async move { crate::engine::routes::redirect_slash(&req) }),
        )
        .route("/frontend/{path:.*}", web::get().to(spa));
    if let Some(dir) = &state.config.frontend_dir {
        // the built SPA references /static/appbuilder/... for its bundled assets
        let stat = dir.join("static");
        if stat.is_dir() {
            cfg.service(actix_files::Files::new(
                "/static/appbuilder/frontend/static",
                stat.clone(),
            ));
            cfg.service(actix_files::Files::new("/static", stat));
        }
    }
}
