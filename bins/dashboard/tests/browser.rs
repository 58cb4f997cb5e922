//! The original React front end against the real dashboard, in headless Chromium.
//!
//! Starts `dashboard` (migrated and seeded by `dashboard init`, on its own database, a
//! simulated cluster, a free port) serving the built front end (`FRONTEND_DIR`) and the
//! original's static files (`STATIC_DIR`), then runs `tests/browser/run.mjs` (Node +
//! `playwright-core` driving Debian's `chromium`): log in through the form, open the home
//! page and every page of `/myapp/menu`, one create → edit → delete cycle through the form
//! dialogs, and the pipeline editor. Screenshots of failures: `target/browser-failures/`.
//!
//! The same run on a database created by the original's own migrations (its recorded DDL,
//! `ab_*` ids from SEQUENCE objects), adopted by `dashboard init`.
//!
//! Needs: `chromium` (or `CHROMIUM`), `node`, `npm ci` in `tests/browser/`, and the front
//! end in `<repo>/../shared/frontend/{bundle,static}` (or `FRONTEND_BUNDLE` /
//! `FRONTEND_STATIC`). Without them the test is skipped with the reason printed, unless `CI`
//! is set: then it fails. `.ci/run` installs all of it.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

mod common;

use testkit::TestDb;
use testkit::fake_kube::{FakeKube, FakeKubeOptions};
use testkit::process::{Process, binary, free_port, profile_dir};

fn manifest_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// `<repo>/../shared/frontend/<what>`, or the directory the variable names.
fn shared_frontend(var: &str, what: &str) -> PathBuf {
    std::env::var(var)
        .map(PathBuf::from)
        .unwrap_or_else(|_| manifest_dir().join("../../../shared/frontend").join(what))
}

fn which(program: &str) -> Option<PathBuf> {
    if program.contains('/') {
        return Path::new(program).is_file().then(|| PathBuf::from(program));
    }
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|p| p.join(program))
            .find(|p| p.is_file())
    })
}

/// What the test needs, or why it cannot run.
struct Needs {
    node: PathBuf,
    chromium: PathBuf,
    script_dir: PathBuf,
    bundle: PathBuf,
    statics: PathBuf,
}

fn needs() -> Result<Needs, String> {
    let node = which("node").ok_or("node is not installed (apt-get install nodejs npm)")?;
    let chromium = match std::env::var("CHROMIUM") {
        Ok(c) => which(&c).ok_or(format!("CHROMIUM={c} is not a program"))?,
        Err(_) => {
            which("chromium").ok_or("chromium is not installed (apt-get install chromium)")?
        }
    };
    let script_dir = manifest_dir().join("tests/browser");
    if !script_dir.join("node_modules/playwright-core").is_dir() {
        return Err(format!(
            "playwright-core is not installed: run `PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci` in {}",
            script_dir.display()
        ));
    }
    let bundle = shared_frontend("FRONTEND_BUNDLE", "bundle");
    if !bundle.join("index.html").is_file() {
        return Err(format!(
            "the built front end is missing: {} (set FRONTEND_BUNDLE)",
            bundle.display()
        ));
    }
    let statics = shared_frontend("FRONTEND_STATIC", "static");
    if !statics.join("appbuilder/vison/index.html").is_file() {
        return Err(format!(
            "the original's static files are missing: {} (set FRONTEND_STATIC)",
            statics.display()
        ));
    }
    Ok(Needs {
        node,
        chromium,
        script_dir,
        bundle,
        statics,
    })
}

fn needs_or_skip() -> Option<Needs> {
    match needs() {
        Ok(n) => Some(n),
        Err(why) if std::env::var_os("CI").is_some() => panic!("browser test cannot run: {why}"),
        Err(why) => {
            eprintln!("skipped: {why}");
            None
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_original_front_end_works_in_chromium() {
    let Some(needs) = needs_or_skip() else { return };
    run_in_chromium(needs, TestDb::empty(), "fresh").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_original_front_end_works_on_an_adopted_database_of_the_original() {
    let Some(needs) = needs_or_skip() else { return };
    let db = TestDb::empty();
    common::load_original_ddl(&mut db.conn());
    run_in_chromium(needs, db, "adopted").await;
}

/// `dashboard init` (migrations and seed) on `db`, `dashboard serve`, and `run.mjs`
/// against it; screenshots of failures in `target/browser-failures/<label>`.
async fn run_in_chromium(needs: Needs, db: TestDb, label: &str) {
    // one browser at a time: two would race for the two cores and their timeouts
    static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
    let _turn = ONE_AT_A_TIME.lock().await;
    let kube = FakeKube::start(FakeKubeOptions::simulated()).await;
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = dir.path().join("kubeconfig");
    kube.write_kubeconfig(&kubeconfig).unwrap();
    let port = free_port();
    let bundle = needs.bundle.canonicalize().unwrap();
    let statics = needs.statics.canonicalize().unwrap();
    let env: Vec<(&str, String)> = vec![
        ("DATABASE_URL", db.url.clone()),
        ("REDIS_URL", "redis://127.0.0.1:6379/0".into()),
        ("SECRET_KEY", "browser-test".into()),
        ("KUBECONFIG", kubeconfig.to_string_lossy().into()),
        ("QUEUE_PREFIX", testkit::fixtures::prefix()),
        ("PASSWORD_HASH_ITERATIONS", "1000".into()),
        ("ADMIN_PASSWORD", "admin".into()),
        ("DASHBOARD_ADDR", format!("127.0.0.1:{port}")),
        ("FRONTEND_DIR", bundle.to_string_lossy().into()),
        ("STATIC_DIR", statics.to_string_lossy().into()),
        ("RUST_LOG", "info".into()),
    ];
    let vars: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let mut init = Process::spawn_path(&binary("dashboard"), &["init"], &vars);
    assert!(
        init.wait_timeout(Duration::from_secs(120))
            .map(|s| s.success())
            .unwrap_or(false),
        "dashboard init failed:\n{}",
        init.logs()
    );
    let mut dashboard = Process::spawn("dashboard", &vars);
    let addr = format!("127.0.0.1:{port}");
    let deadline = Instant::now() + Duration::from_secs(60);
    while !matches!(testkit::fixtures::http_get(&addr, "/health"), Ok((200, _))) {
        assert!(
            dashboard.is_running() && Instant::now() < deadline,
            "the dashboard did not come up:\n{}",
            dashboard.logs()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    let shots = profile_dir()
        .parent()
        .map(|target| target.join("browser-failures"))
        .unwrap_or_else(|| PathBuf::from("browser-failures"))
        .join(label);
    let _ = std::fs::remove_dir_all(&shots);
    let script_dir = needs.script_dir.clone();
    let node = needs.node.clone();
    let chromium = needs.chromium.clone();
    let shots_arg = shots.clone();
    let base = format!("http://{addr}");
    let out = tokio::task::spawn_blocking(move || {
        Command::new(node)
            .arg("run.mjs")
            .current_dir(script_dir)
            .env("BASE_URL", base)
            .env("LOGIN_USER", "admin")
            .env("LOGIN_PASSWORD", "admin")
            .env("CHROMIUM", chromium)
            .env("SCREENSHOT_DIR", shots_arg)
            .output()
    })
    .await
    .unwrap()
    .expect("cannot run node");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    println!("{stdout}");
    assert!(
        out.status.success(),
        "the browser run failed (screenshots in {}):\n{stdout}\n{stderr}\n--- dashboard log (tail) ---\n{}",
        shots.display(),
        tail(&dashboard.logs(), 60)
    );
    drop(dashboard);
}

fn tail(text: &str, lines: usize) -> String {
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}
