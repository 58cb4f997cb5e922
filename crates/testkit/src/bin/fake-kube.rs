//! `fake-kube`: a SIMULATED Kubernetes API server for local runs and end-to-end tests.
//!
//! ```text
//! fake-kube [--listen ADDR] [--kubeconfig PATH] [--step-ms N] [--pod-run-ms N]
//!           [--bookmark-ms N] [--server-url URL] [--no-argo] [--no-kubelet] [--no-argo-pods] [--no-seed]
//!           [--load FILE]...
//! ```
//!
//! `--load FILE` inserts objects at start, before any request: FILE is JSON, a list of
//! `{"group", "version", "plural", "object"}` or an object with such a list under
//! `objects` (other keys are ignored). It is the way to seed what the API does not
//! take, `metrics.k8s.io` usage (`FakeKube::insert` for a separate process).
//!
//! Environment (flags win): `FAKE_KUBE_LISTEN` (default `127.0.0.1:6443`, plain HTTP),
//! `FAKE_KUBE_KUBECONFIG` (default `./.stack/kubeconfig`), `FAKE_KUBE_STEP_MS` (500),
//! `FAKE_KUBE_POD_RUN_MS` (3000), `FAKE_KUBE_BOOKMARK_MS` (30000), and `FAKE_KUBE_ARGO`,
//! `FAKE_KUBE_KUBELET`, `FAKE_KUBE_ARGO_PODS`, `FAKE_KUBE_SEED` (`0`/`false`/`off` to
//! disable; all on by default). A workflow task fails when the workflow carries the
//! annotation `fake-kube.cube-studio.io/fail-task: <task>[,<task>...]`; a pod ends with
//! the exit code of its annotation `fake-kube.cube-studio.io/exit-code`. Stops on
//! SIGINT/SIGTERM.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use testkit::fake_kube::{FakeKube, FakeKubeOptions};

const USAGE: &str = "usage: fake-kube [--listen ADDR] [--kubeconfig PATH] [--step-ms N] [--pod-run-ms N] \
[--bookmark-ms N] [--server-url URL] [--no-argo] [--no-kubelet] [--no-argo-pods] [--no-seed] [--load FILE]...";

struct Args {
    opts: FakeKubeOptions,
    kubeconfig: PathBuf,
    /// Server address written into the kubeconfig when clients reach us by another
    /// name (a container network); defaults to the listen address.
    server_url: Option<String>,
    /// Files of objects to insert at start (`--load`).
    load: Vec<PathBuf>,
}

fn env_flag(name: &str) -> bool {
    match std::env::var(name) {
        Ok(v) => !matches!(
            v.trim().to_ascii_lowercase().as_str(),
            "0" | "false" | "off" | "no"
        ),
        Err(_) => true,
    }
}

fn millis(v: &str, what: &str) -> Result<Duration, String> {
    v.trim()
        .parse::<u64>()
        .map(Duration::from_millis)
        .map_err(|_| format!("{what}: not a number of milliseconds: {v:?}"))
}

fn parse_args() -> Result<Args, String> {
    let env = |k: &str| std::env::var(k).ok();
    let mut listen = env("FAKE_KUBE_LISTEN").unwrap_or_else(|| "127.0.0.1:6443".into());
    let mut kubeconfig =
        env("FAKE_KUBE_KUBECONFIG").unwrap_or_else(|| "./.stack/kubeconfig".into());
    let mut step = env("FAKE_KUBE_STEP_MS").unwrap_or_else(|| "500".into());
    let mut pod_run = env("FAKE_KUBE_POD_RUN_MS").unwrap_or_else(|| "3000".into());
    let mut bookmark = env("FAKE_KUBE_BOOKMARK_MS").unwrap_or_else(|| "30000".into());
    let mut server_url = env("FAKE_KUBE_SERVER_URL");
    let mut load = Vec::new();
    let mut opts = FakeKubeOptions::default()
        .argo(env_flag("FAKE_KUBE_ARGO"))
        .kubelet(env_flag("FAKE_KUBE_KUBELET"))
        .argo_pods(env_flag("FAKE_KUBE_ARGO_PODS"))
        .seed(env_flag("FAKE_KUBE_SEED"));
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let (flag, inline) = match arg.split_once('=') {
            Some((f, v)) if f.starts_with("--") => (f.to_string(), Some(v.to_string())),
            _ => (arg.clone(), None),
        };
        let mut value = || {
            inline
                .clone()
                .or_else(|| it.next())
                .ok_or(format!("{flag} needs a value"))
        };
        match flag.as_str() {
            "--listen" => listen = value()?,
            "--kubeconfig" => kubeconfig = value()?,
            "--server-url" => server_url = Some(value()?),
            "--load" => load.push(PathBuf::from(value()?)),
            "--step-ms" => step = value()?,
            "--pod-run-ms" => pod_run = value()?,
            "--bookmark-ms" => bookmark = value()?,
            "--no-argo" => opts.argo = false,
            "--no-kubelet" => opts.kubelet = false,
            "--no-argo-pods" => opts.argo_pods = false,
            "--no-seed" => opts.seed = false,
            "-h" | "--help" => {
                println!("{USAGE}");
                std::process::exit(0);
            }
            other => return Err(format!("unknown argument {other:?}\n{USAGE}")),
        }
    }
    let listen: SocketAddr = listen
        .parse()
        .map_err(|_| format!("--listen: not an address (ip:port): {listen:?}"))?;
    opts = opts
        .listen(listen)
        .step_interval(millis(&step, "--step-ms")?)
        .pod_run_duration(millis(&pod_run, "--pod-run-ms")?)
        .bookmark_interval(millis(&bookmark, "--bookmark-ms")?);
    Ok(Args {
        opts,
        kubeconfig: PathBuf::from(kubeconfig),
        server_url,
        load,
    })
}

/// Inserts the objects of one `--load` file; answers how many.
fn load_objects(kube: &FakeKube, path: &std::path::Path) -> Result<usize, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let doc: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
    let list = doc.get("objects").unwrap_or(&doc);
    let items = list
        .as_array()
        .ok_or(format!("{}: not a list of objects", path.display()))?;
    for (i, item) in items.iter().enumerate() {
        let field = |k: &str| {
            item.get(k)
                .and_then(serde_json::Value::as_str)
                .ok_or(format!("{}: object {i}: no {k:?}", path.display()))
        };
        let object = item
            .get("object")
            .filter(|o| o.is_object())
            .ok_or(format!("{}: object {i}: no \"object\"", path.display()))?;
        kube.insert(
            field("group")?,
            field("version")?,
            field("plural")?,
            object.clone(),
        );
    }
    Ok(items.len())
}

async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("fake-kube: {e}");
            std::process::exit(2);
        }
    };
    let opts = args.opts.clone();
    let kube = match FakeKube::try_start(args.opts).await {
        Ok(k) => k,
        Err(e) => {
            eprintln!("fake-kube: cannot listen on {}: {e}", opts.listen);
            std::process::exit(1);
        }
    };
    for path in &args.load {
        match load_objects(&kube, path) {
            Ok(n) => tracing::info!("fake-kube: {n} objects loaded from {}", path.display()),
            Err(e) => {
                eprintln!("fake-kube: --load {e}");
                kube.stop();
                std::process::exit(2);
            }
        }
    }
    let written = match &args.server_url {
        Some(url) => kube.write_kubeconfig(&args.kubeconfig).and_then(|_| {
            std::fs::write(
                &args.kubeconfig,
                kube.kubeconfig_yaml().replace(&kube.url(), url),
            )
        }),
        None => kube.write_kubeconfig(&args.kubeconfig),
    };
    if let Err(e) = written {
        eprintln!(
            "fake-kube: cannot write the kubeconfig {}: {e}",
            args.kubeconfig.display()
        );
        kube.stop();
        std::process::exit(1);
    }
    tracing::info!(
        "SIMULATED Kubernetes cluster (fake-kube) listening on {} -- this is NOT a real cluster; \
         kubeconfig written to {}; argo={} argo_pods={} kubelet={} seed={} step={:?} pod_run={:?}",
        kube.url(),
        args.kubeconfig.display(),
        opts.argo,
        opts.argo_pods,
        opts.kubelet,
        opts.seed,
        opts.step_interval,
        opts.pod_run_duration,
    );
    shutdown_signal().await;
    tracing::info!("fake-kube: stopping (signal received)");
    kube.stop();
}
