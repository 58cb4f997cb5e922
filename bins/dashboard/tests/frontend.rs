//! What the front end needs besides the model views: the menu (the original's tree, every
//! page of it served), the navbar, `/static/`, the seeded demo's card image.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use actix_web::test;
use common::{TestApp, send};
use serde_json::{Value, json};

/// `(group/subgroup/name, url)` of every page of a menu, and every icon it carries.
fn pages(menu: &Value) -> (Vec<(String, String)>, Vec<String>) {
    fn walk(
        items: &Value,
        chain: &[&str],
        out: &mut Vec<(String, String)>,
        icons: &mut Vec<String>,
    ) {
        for item in items.as_array().unwrap() {
            let name = item["name"].as_str().unwrap();
            let mut here = chain.to_vec();
            here.push(name);
            if let Some(icon) = item["icon"].as_str() {
                icons.push(icon.to_string());
            }
            for related in item["related"].as_array().into_iter().flatten() {
                icons.push(related["icon"].as_str().unwrap().to_string());
            }
            if item["children"].is_array() {
                walk(&item["children"], &here, out, icons);
            } else {
                out.push((here.join("/"), item["url"].as_str().unwrap().to_string()));
            }
        }
    }
    let (mut out, mut icons) = (vec![], vec![]);
    walk(menu, &[], &mut out, &mut icons);
    (out, icons)
}

#[actix_web::test]
async fn the_menu_is_the_originals_tree_of_served_pages() {
    let app = TestApp::new();
    app.add_user("gamma1");
    let svc = test::init_service(dashboard::dashboard_app!(app.state.clone())).await;
    let get = |uri: &str, user: &str| {
        test::TestRequest::get()
            .uri(uri)
            .insert_header(("Authorization", app.auth(user)))
    };

    let menu = send(&svc, get("/myapp/menu", "admin")).await.body;
    let (admin_pages, icons) = pages(&menu);
    let expected = [
        (
            "group/project_group/org_group",
            "/project_modelview/org/api/",
        ),
        (
            "group/project_group/job_template_group",
            "/project_modelview/job_template/api/",
        ),
        ("group/security/security-user", "/users/api/"),
        ("group/security/security-logs", "/log_modelview/api/"),
        ("dev/images/docker_repository", "/repository_modelview/api/"),
        ("dev/images/template_images", "/images_modelview/api/"),
        (
            "train/train_template/job_template",
            "/job_template_fab_modelview/api/",
        ),
        ("train/train_task/pipeline", "/pipeline_modelview/api/"),
        ("train/train_task/runhistory", "/runhistory_modelview/api/"),
        ("train/train_task/workflow", "/workflow_modelview/api/"),
        ("service/total_resource", "/total_resource/api/"),
    ];
    let expected: Vec<(String, String)> = expected
        .iter()
        .map(|(p, u)| (p.to_string(), u.to_string()))
        .collect();
    assert_eq!(admin_pages, expected);
    assert_eq!(
        menu[0]["children"][0]["children"][0]["related"][0]["url"],
        "/project_user_modelview/api/"
    );
    assert_eq!(
        menu[2]["children"][1]["children"][0]["related"][0]["url"],
        "/task_modelview/api/"
    );

    // every page and related page is served: its _info and its list answer
    for (route, url) in expected
        .iter()
        .map(|(r, u)| (r.as_str(), u.as_str()))
        .chain([
            ("org/project_user", "/project_user_modelview/api/"),
            ("pipeline/task", "/task_modelview/api/"),
        ])
    {
        let info = send(&svc, get(&format!("{url}_info"), "admin")).await;
        assert_eq!(info.status, 200, "{route}: {url}_info {}", info.body);
        let list = send(&svc, get(url, "admin")).await;
        assert_eq!(
            (list.status, &list.body["status"]),
            (200, &json!(0)),
            "{route}: {url} {}",
            list.body
        );
    }

    // distinct real icons: every top-level group and every page has one
    assert_eq!(icons.len(), 4 + expected.len() + 2);
    for (i, icon) in icons.iter().enumerate() {
        assert!(
            icon.starts_with("<svg ") && icon.ends_with("</svg>"),
            "{icon}"
        );
        assert!(!icons[..i].contains(icon), "icon repeated: {icon}");
    }

    // the security group is for admins only, as in the original
    let menu = send(&svc, get("/myapp/menu", "gamma1")).await.body;
    let (gamma_pages, _) = pages(&menu);
    assert_eq!(gamma_pages.len(), expected.len() - 2);
    assert!(
        gamma_pages
            .iter()
            .all(|(p, _)| !p.starts_with("group/security"))
    );
}

#[actix_web::test]
async fn the_job_template_menu_page_is_the_originals_fab_api() {
    let app = TestApp::new();
    let svc = test::init_service(dashboard::dashboard_app!(app.state.clone())).await;
    let get = |uri: &str| {
        test::TestRequest::get()
            .uri(uri)
            .insert_header(("Authorization", app.auth("admin")))
    };
    let info = send(&svc, get("/job_template_fab_modelview/api/_info"))
        .await
        .body;
    assert_eq!(info["route_base"], "/job_template_fab_modelview/api/");
    let list_columns: Vec<&str> = info["list_columns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap())
        .collect();
    assert_eq!(
        list_columns,
        ["project", "name", "version", "creator", "modified"]
    );
    let list = send(&svc, get("/job_template_fab_modelview/api/"))
        .await
        .body;
    let first = &list["result"]["data"][0];
    assert!(
        first["creator"].is_string() && first["modified"].is_string(),
        "{list}"
    );
    let id = first["id"].as_i64().unwrap();
    let show = send(&svc, get(&format!("/job_template_fab_modelview/api/{id}")))
        .await
        .body;
    assert!(
        show["result"]["volume_mount"].is_string() || show["result"]["volume_mount"].is_null(),
        "{show}"
    );
    assert!(show["result"].get("accounts").is_some(), "{show}");
}

#[actix_web::test]
async fn navbar_right_has_configurable_links() {
    let app = TestApp::new();
    let svc = test::init_service(dashboard::dashboard_app!(app.state.clone())).await;
    // each app has its own keys: ask with that app's token
    let req = |app: &TestApp| {
        test::TestRequest::get()
            .uri("/myapp/navbar_right")
            .insert_header(("Authorization", app.auth("admin")))
    };
    let body = send(&svc, req(&app)).await.body;
    assert_eq!(body[0]["text"], "文档");
    assert_eq!(body[0]["link"], dashboard::settings::DOCUMENTATION_URL);
    assert_eq!(body[1]["link"], dashboard::settings::BUG_REPORT_URL);
    assert!(body[0]["icon"].as_str().unwrap().starts_with("<svg "));
    assert_ne!(body[0]["icon"], body[1]["icon"]);

    let app = TestApp::with_config(&[
        ("DOCUMENTATION_URL", "https://docs.example.org/"),
        ("BUG_REPORT_URL", ""),
    ]);
    let svc = test::init_service(dashboard::dashboard_app!(app.state.clone())).await;
    let body = send(&svc, req(&app)).await.body;
    assert_eq!(body.as_array().unwrap().len(), 1);
    assert_eq!(body[0]["link"], "https://docs.example.org/");

    let own = json!([{"text": "help", "pic_url": "/static/help.png", "link": "https://help.example.org"}]);
    let app = TestApp::with_config(&[("NAVBAR_RIGHT", &own.to_string())]);
    let svc = test::init_service(dashboard::dashboard_app!(app.state.clone())).await;
    assert_eq!(send(&svc, req(&app)).await.body, own);

    let bad = dashboard::settings::Settings::from_lookup(&|k| {
        (k == "NAVBAR_RIGHT").then(|| "{".to_string())
    });
    assert_eq!(bad.unwrap_err().var, "NAVBAR_RIGHT");
}

#[actix_web::test]
async fn static_files_are_public_and_the_fallback_logo_exists() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("assets/images/pipeline")).unwrap();
    std::fs::write(
        dir.path().join("assets/images/pipeline/tree.jpg"),
        b"\xff\xd8jpeg",
    )
    .unwrap();
    let app = TestApp::with_config(&[("STATIC_DIR", dir.path().to_str().unwrap())]);
    let svc = test::init_service(dashboard::dashboard_app!(app.state.clone())).await;
    let get = |uri: &str| test::TestRequest::get().uri(uri);

    // no login needed, the file as it is
    let r = send(&svc, get("/static/assets/images/pipeline/tree.jpg")).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type").unwrap(), "image/jpeg");
    // the image-error fallback of the home page is always there
    let r = send(&svc, get("/static/appbuilder/vison/logo.png")).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type").unwrap(), "image/svg+xml");
    // anything else is a 404, and nothing outside the directory is reachable
    assert_eq!(send(&svc, get("/static/nope.js")).await.status, 404);
    // without the pipeline editor, its page says how to get it
    let r = send(
        &svc,
        get("/static/appbuilder/vison/index.html?pipeline_id=1"),
    )
    .await;
    assert_eq!(r.status, 404);
    assert!(r.header("content-type").unwrap().starts_with("text/html"));
    let page = r.body.as_str().unwrap();
    assert!(
        page.contains("install/local/frontend.sh") && page.contains("/docs"),
        "{page}"
    );
    let r = send(&svc, get("/static/../../../../etc/passwd")).await;
    assert_ne!(r.status, 200);
    assert!(!r.body.to_string().contains("root:"));

    // the seeded demo's card shows an image the original ships under /static/
    let demo = send(
        &svc,
        get("/pipeline_modelview/api/demo/list/")
            .insert_header(("Authorization", app.auth("admin"))),
    )
    .await
    .body;
    let parameter: Value =
        serde_json::from_str(demo["result"][0]["parameter"].as_str().unwrap()).unwrap();
    let img = parameter["img"].as_str().unwrap();
    assert_eq!(img, "/static/assets/images/pipeline/tree.jpg");
    let shared =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/frontend/static");
    if shared.is_dir() {
        assert!(
            shared.join(img.trim_start_matches("/static/")).is_file(),
            "{img} is not in {}",
            shared.display()
        );
    }
}

/// `install/local/frontend.sh` with a local copy standing in for the download (laid out
/// as the original's repository, index.html naming a missing main script as published),
/// then the dashboard serving what it fetched; and, without network, the script's failure
/// and the page `/frontend/` shows instead.
#[actix_web::test]
async fn the_front_end_is_fetched_or_explained() {
    let repo = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let shared = repo.join("../shared/frontend");
    if !shared.join("bundle/index.html").is_file() {
        assert!(
            std::env::var("CI").is_err(),
            "{} is missing",
            shared.display()
        );
        eprintln!("skipped: no {}", shared.display());
        return;
    }
    let work = tempfile::tempdir().unwrap();
    // the "download": myapp/static/appbuilder/frontend and myapp/static/… of the commit
    let src = work.path().join("src");
    let front = src.join("myapp/static/appbuilder/frontend");
    copy_dir(&shared.join("bundle"), &front);
    copy_dir(&shared.join("static"), &src.join("myapp/static"));
    let index = std::fs::read_to_string(front.join("index.html")).unwrap();
    let published = regex_replace_main(&index, "/frontend/static/js/main.0badc0de.js");
    std::fs::write(front.join("index.html"), &published).unwrap();
    let cache = work.path().join("cache");
    let run = |source: String| {
        std::process::Command::new("bash")
            .arg(repo.join("install/local/frontend.sh"))
            .env("FRONTEND_SOURCE", source)
            .env("FRONTEND_CACHE", &cache)
            .output()
            .unwrap()
    };
    // no network: a clear failure, nothing cached
    let out = run("http://127.0.0.1:9".into());
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot fetch"));
    assert!(!cache.exists());
    let app = TestApp::new();
    let svc = test::init_service(dashboard::dashboard_app!(app.state.clone())).await;
    let r = send(&svc, test::TestRequest::get().uri("/frontend/")).await;
    assert_eq!(r.status, 200);
    assert!(r.header("content-type").unwrap().starts_with("text/html"));
    let page = r.body.as_str().unwrap();
    assert!(page.contains("install/local/frontend.sh") && page.contains("FRONTEND_DIR"));
    assert!(page.contains("href=\"/docs\""));

    // with the "network": fetched, repaired, printed, served
    let out = run(format!("file://{}", src.display()));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let vars: std::collections::HashMap<String, String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    // the "download" has no myapp/vision: the editor is not built, which is said, and
    // the rest is served
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(said.contains("the pipeline editor is not built"), "{said}");
    let bundle = std::path::PathBuf::from(&vars["FRONTEND_DIR"]);
    let index = std::fs::read_to_string(bundle.join("index.html")).unwrap();
    assert!(
        index.contains("/frontend/static/js/main.c3ea2287.js"),
        "index.html not repaired: {index}"
    );
    let app = TestApp::with_config(&[
        ("FRONTEND_DIR", vars["FRONTEND_DIR"].as_str()),
        ("STATIC_DIR", vars["STATIC_DIR"].as_str()),
    ]);
    let svc = test::init_service(dashboard::dashboard_app!(app.state.clone())).await;
    let r = send(
        &svc,
        test::TestRequest::get().uri("/frontend/train/train_task/pipeline"),
    )
    .await;
    assert_eq!(r.status, 200);
    assert!(r.body.as_str().unwrap().contains("main.c3ea2287.js"));
    let r = send(
        &svc,
        test::TestRequest::get().uri("/frontend/static/js/main.c3ea2287.js"),
    )
    .await;
    assert_eq!(r.status, 200);
    let r = send(
        &svc,
        test::TestRequest::get().uri("/static/assets/images/pipeline/tree.jpg"),
    )
    .await;
    assert_eq!(r.status, 200);
    // a second run uses the cache (and does not retry the editor's failed build unasked)
    let out = run("http://127.0.0.1:9".into());
    assert!(out.status.success());
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(said.contains("the pipeline editor is not built"), "{said}");
}

fn copy_dir(from: &std::path::Path, to: &std::path::Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

/// `index.html` with its main script renamed (as the upstream build publishes it).
fn regex_replace_main(index: &str, to: &str) -> String {
    let start = index.find("/frontend/static/js/main.").unwrap();
    let end = start + index[start..].find(".js").unwrap() + 3;
    format!("{}{to}{}", &index[..start], &index[end..])
}
