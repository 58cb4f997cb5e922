//! A fake Kubernetes API server, reached by the production `kube::Client` through a real
//! kubeconfig (plain HTTP on 127.0.0.1, a dummy token).
//!
//! * Storage is generic: any `/api/v1/...` or `/apis/<group>/<version>/...` resource,
//!   namespaced unless its plural is in a small cluster-scoped list (namespaces, nodes,
//!   persistentvolumes, clusterroles, ...). Objects are kept by `(group, plural)`, so two
//!   versions of a group share objects (answered with the requested `apiVersion`).
//! * Verbs: create (409 AlreadyExists, `generateName`), get (404), list (label and field
//!   selectors, `limit`/`continue`), replace (409 Conflict on a stale resourceVersion,
//!   unconditional without one), patch (merge, strategic = merge, JSON patch, apply =
//!   merge that creates), `/status` and `/scale` subresources, delete (immediate; answers
//!   the object), deletecollection, `pods/<name>/log` (`tailLines`, `sinceSeconds`,
//!   `sinceTime`, `timestamps`, `limitBytes`, and `follow=true` streaming what
//!   [`FakeKube::append_pod_log`] adds until the pod ends), `pods/<name>/exec` over a
//!   websocket (`v5`/`v4.channel.k8s.io`, a simulated shell, sessions recorded:
//!   [`FakeKube::exec_sessions`]), and watch (`?watch=true`: newline-delimited JSON
//!   events, selectors, `allowWatchBookmarks`, `timeoutSeconds`, `sendInitialEvents`).
//! * `metrics.k8s.io` `PodMetrics`/`NodeMetrics` are read-only over HTTP (405, as
//!   metrics-server answers writes); tests seed them with [`FakeKube::insert`]
//!   (`testkit::fixtures::cluster` builds them, and nodes, pods and events).
//! * Writes to an object keep its stored `status`; `/status` writes only change `status`.
//!   Namespaces need not exist; deleting a namespace deletes its objects.
//! * One global resourceVersion; a watch replays the retained event log from its
//!   resourceVersion, or gets an `ERROR` event with a 410 Gone `Status` when that is older
//!   than the log window of its resource ([`FakeKube::compact_history`] forgets the whole
//!   log on purpose; open watches get the 410 at once).
//! * Optional simulated controllers: Argo Workflows ([`controllers::argo`]; fail a task
//!   with [`FakeKube::fail_task`] or the workflow annotation [`FAIL_TASK_ANNOTATION`]) and
//!   a kubelet ([`controllers::kubelet`]; a pod's exit code from the annotation
//!   [`EXIT_CODE_ANNOTATION`]), stepped every [`FakeKubeOptions::step_interval`], each
//!   switchable at any time ([`FakeKube::set_argo`], [`FakeKube::set_kubelet`]).
//! * Inspection without the API: [`FakeKube::objects`], [`FakeKube::get`],
//!   [`FakeKube::insert`], [`FakeKube::remove`], [`FakeKube::requests`] (every request
//!   received), [`FakeKube::wait_for`] (poll a condition with a timeout).
//! * Who asked: each request is recorded with its bearer token as identity;
//!   [`FakeKube::kubeconfig_yaml_for`] gives a client its own, and
//!   [`FakeKube::accesses_by`] lists what one identity did in RBAC terms ([`Access`]),
//!   which `testkit::rbac` checks against the manifest's roles.
//! * The server runs on its own thread and actix runtime: it survives the
//!   `#[tokio::test]` / `#[actix_web::test]` runtime that started it, and
//!   [`FakeKube::start_blocking`] can share one through a `OnceLock`. A `kube::Client`,
//!   however, belongs to the runtime that built it: build one per test.
//!
//! ```no_run
//! # async fn demo() {
//! use testkit::fake_kube::{FakeKube, FakeKubeOptions};
//! let kube = FakeKube::start(FakeKubeOptions::default().argo(true)).await;
//! let client = kube.client().await; // built from kube.kubeconfig_yaml()
//! let wfs = kube.objects("argoproj.io", "v1alpha1", "workflows", Some("pipeline"));
//! # drop((client, wfs)); }
//! ```

mod access;
pub mod controllers;
mod defaults;
mod exec;
mod log_follow;
mod patch;
mod resources;
mod routes;
mod selectors;
mod status;
mod storage;
mod watch;

use std::collections::{BTreeSet, HashMap, VecDeque};
use std::io;
use std::net::{SocketAddr, TcpListener};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, mpsc};
use std::thread::JoinHandle;
use std::time::Duration;

use actix_web::dev::ServerHandle;
use actix_web::{App, HttpServer, web};
use serde_json::Value;

pub use access::{Access, ResourceAccess};
pub use controllers::argo::{FAIL_TASK_ANNOTATION, WORKFLOW_LABEL, node_id};
pub use controllers::kubelet::EXIT_CODE_ANNOTATION;
pub use defaults::{NODE_IP, NODE_NAME, SEED_NAMESPACES, SEED_PVCS};
pub use exec::ExecSession;
pub use exec::shell::PROMPT as EXEC_PROMPT;
pub use status::ApiError;

use resources::Gvr;
use selectors::Selectors;
use storage::Store;

/// How to start a [`FakeKube`]. `Default` is a plain API server: controllers off, nothing
/// seeded, a free port on 127.0.0.1. [`FakeKubeOptions::simulated`] switches everything on.
#[derive(Debug, Clone)]
pub struct FakeKubeOptions {
    /// Address to listen on (`127.0.0.1:0` = a free port).
    pub listen: SocketAddr,
    /// Run the simulated Argo Workflows controller.
    pub argo: bool,
    /// Let the Argo controller create a Pod per workflow Pod node (default true).
    pub argo_pods: bool,
    /// Run the simulated kubelet (pods, and ready Deployments/StatefulSets).
    pub kubelet: bool,
    /// Seed namespaces pipeline/jupyter/service/automl, their PVCs and a node.
    pub seed: bool,
    /// Time between controller steps.
    pub step_interval: Duration,
    /// How long a run-to-completion pod stays Running.
    pub pod_run_duration: Duration,
    /// Time between BOOKMARK events of watches that allow them.
    pub bookmark_interval: Duration,
    /// Number of retained watch events.
    pub history_limit: usize,
    /// actix worker threads.
    pub workers: usize,
}

impl Default for FakeKubeOptions {
    fn default() -> Self {
        FakeKubeOptions {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            argo: false,
            argo_pods: true,
            kubelet: false,
            seed: false,
            step_interval: Duration::from_millis(100),
            pod_run_duration: Duration::from_millis(300),
            bookmark_interval: Duration::from_secs(1),
            history_limit: 10_000,
            workers: 2,
        }
    }
}

impl FakeKubeOptions {
    /// Argo controller, kubelet and seed data on.
    pub fn simulated() -> Self {
        FakeKubeOptions {
            argo: true,
            kubelet: true,
            seed: true,
            ..Self::default()
        }
    }
    pub fn argo(mut self, on: bool) -> Self {
        self.argo = on;
        self
    }
    pub fn argo_pods(mut self, on: bool) -> Self {
        self.argo_pods = on;
        self
    }
    pub fn kubelet(mut self, on: bool) -> Self {
        self.kubelet = on;
        self
    }
    pub fn seed(mut self, on: bool) -> Self {
        self.seed = on;
        self
    }
    pub fn step_interval(mut self, d: Duration) -> Self {
        self.step_interval = d;
        self
    }
    pub fn pod_run_duration(mut self, d: Duration) -> Self {
        self.pod_run_duration = d;
        self
    }
    pub fn bookmark_interval(mut self, d: Duration) -> Self {
        self.bookmark_interval = d;
        self
    }
    pub fn listen(mut self, addr: SocketAddr) -> Self {
        self.listen = addr;
        self
    }
}

/// State shared by the HTTP workers, the controllers and the handle.
pub(crate) struct Shared {
    store: Mutex<Store>,
    pub(crate) argo: AtomicBool,
    pub(crate) kubelet: AtomicBool,
    pub(crate) argo_pods: bool,
    failures: Mutex<Vec<(String, String)>>,
    pub(crate) step_interval: Duration,
    pub(crate) pod_run_duration: Duration,
    pub(crate) bookmark_interval: Duration,
    pub(crate) server_addr: String,
    requests: Mutex<VecDeque<RecordedRequest>>,
    /// Every distinct (identity, access) seen, never dropped (unlike `requests`).
    accesses: Mutex<BTreeSet<(String, Access)>>,
    authorizer: Mutex<Option<Authorizer>>,
    /// Milliseconds every non-watch request waits before it is answered (a slow API
    /// server; see [`FakeKube::set_latency`]).
    pub(crate) latency_ms: std::sync::atomic::AtomicU64,
    /// Every exec session upgraded so far, oldest first.
    exec_sessions: Mutex<Vec<ExecSession>>,
}

/// Decides whether `identity` may do an [`Access`] (see [`FakeKube::set_authorizer`]).
pub type Authorizer = Arc<dyn Fn(&str, &Access) -> bool + Send + Sync>;

/// The token of [`FakeKube::kubeconfig_yaml`], so the identity of its clients' requests.
pub const DEFAULT_IDENTITY: &str = "fake-kube-token";

/// Requests kept by [`FakeKube::requests`] (the oldest are dropped past this).
const REQUEST_LOG_LIMIT: usize = 10_000;

/// A request the server received (see [`FakeKube::requests`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordedRequest {
    /// Who sent it: the bearer token of its `Authorization` header (`""` without one).
    /// [`FakeKube::kubeconfig_yaml_for`] gives each client its own.
    pub identity: String,
    pub method: String,
    pub path: String,
    /// Decoded query parameters.
    pub query: HashMap<String, String>,
}

impl RecordedRequest {
    /// A query parameter.
    pub fn param(&self, key: &str) -> Option<&str> {
        self.query.get(key).map(String::as_str)
    }

    /// Whether this is a watch (`?watch=true|1`).
    pub fn is_watch(&self) -> bool {
        matches!(self.param("watch"), Some("true" | "1"))
    }
}

impl Shared {
    /// The store (a panic while it was held does not make it unusable).
    pub(crate) fn lock(&self) -> MutexGuard<'_, Store> {
        self.store.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Records a request; `false` when the authorizer refuses it (answered 403).
    pub(crate) fn record_request(&self, req: RecordedRequest) -> bool {
        let access = req.access();
        let authorizer = self
            .authorizer
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        let allowed = authorizer.is_none_or(|a| a(&req.identity, &access));
        self.accesses
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert((req.identity.clone(), access));
        let mut log = self.requests.lock().unwrap_or_else(|e| e.into_inner());
        if log.len() >= REQUEST_LOG_LIMIT {
            log.pop_front();
        }
        log.push_back(req);
        allowed
    }

    /// Records a new exec session; answers its index for [`Shared::update_exec_session`].
    pub(crate) fn add_exec_session(&self, session: ExecSession) -> usize {
        let mut all = self.exec_sessions.lock().unwrap_or_else(|e| e.into_inner());
        all.push(session);
        all.len() - 1
    }

    pub(crate) fn update_exec_session(&self, index: usize, f: impl FnOnce(&mut ExecSession)) {
        let mut all = self.exec_sessions.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(s) = all.get_mut(index) {
            f(s);
        }
    }

    pub(crate) fn failed_tasks(&self) -> Vec<(String, String)> {
        self.failures
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }
}

/// A running fake API server (on its own thread and runtime, so it outlives the test
/// runtime that started it). Stopped by [`FakeKube::stop`] or on drop.
pub struct FakeKube {
    shared: Arc<Shared>,
    addr: SocketAddr,
    server: ServerHandle,
    thread: Mutex<Option<JoinHandle<()>>>,
}

struct Launch {
    shared: Arc<Shared>,
    addr: SocketAddr,
    thread: JoinHandle<()>,
}

type Ready = mpsc::Receiver<io::Result<ServerHandle>>;

fn launch(opts: FakeKubeOptions) -> io::Result<(Launch, Ready)> {
    let listener = TcpListener::bind(opts.listen)?;
    listener.set_nonblocking(true)?;
    let addr = listener.local_addr()?;
    let mut store = Store::new(opts.history_limit);
    if opts.seed {
        defaults::seed(&mut store);
    }
    let shared = Arc::new(Shared {
        store: Mutex::new(store),
        argo: AtomicBool::new(opts.argo),
        kubelet: AtomicBool::new(opts.kubelet),
        argo_pods: opts.argo_pods,
        failures: Mutex::new(Vec::new()),
        step_interval: opts.step_interval.max(Duration::from_millis(1)),
        pod_run_duration: opts.pod_run_duration,
        bookmark_interval: opts.bookmark_interval,
        server_addr: addr.to_string(),
        requests: Mutex::new(VecDeque::new()),
        accesses: Mutex::new(BTreeSet::new()),
        authorizer: Mutex::new(None),
        latency_ms: std::sync::atomic::AtomicU64::new(0),
        exec_sessions: Mutex::new(Vec::new()),
    });
    let (tx, ready) = mpsc::channel();
    let thread_shared = shared.clone();
    let workers = opts.workers.max(1);
    let thread = std::thread::Builder::new()
        .name(format!("fake-kube-{}", addr.port()))
        .spawn(move || {
            let system = actix_web::rt::System::new();
            system.block_on(async move {
                let data = web::Data::from(thread_shared.clone());
                let server = HttpServer::new(move || {
                    App::new()
                        .app_data(data.clone())
                        .default_service(web::to(routes::handle))
                })
                .workers(workers)
                .disable_signals()
                .shutdown_timeout(0)
                .listen(listener);
                let server = match server {
                    Ok(s) => s.run(),
                    Err(e) => {
                        let _ = tx.send(Err(e));
                        return;
                    }
                };
                actix_web::rt::spawn(controllers::run(thread_shared));
                let _ = tx.send(Ok(server.handle()));
                if let Err(e) = server.await {
                    tracing::error!("fake-kube server stopped with an error: {e}");
                }
            });
        })?;
    Ok((
        Launch {
            shared,
            addr,
            thread,
        },
        ready,
    ))
}

impl Launch {
    fn finish(self, server: ServerHandle) -> FakeKube {
        FakeKube {
            shared: self.shared,
            addr: self.addr,
            server,
            thread: Mutex::new(Some(self.thread)),
        }
    }
}

fn thread_died() -> io::Error {
    io::Error::other("the fake-kube server thread exited before listening")
}

/// How long the server thread may take to listen.
const START_TIMEOUT: Duration = Duration::from_secs(30);

impl FakeKube {
    /// Starts a server; panics if it cannot (e.g. the listen address is taken).
    pub async fn start(opts: FakeKubeOptions) -> FakeKube {
        match Self::try_start(opts).await {
            Ok(k) => k,
            Err(e) => panic!("fake-kube: cannot start: {e}"),
        }
    }

    /// As [`FakeKube::start`], answering the error.
    pub async fn try_start(opts: FakeKubeOptions) -> io::Result<FakeKube> {
        let (l, ready) = launch(opts)?;
        let deadline = std::time::Instant::now() + START_TIMEOUT;
        loop {
            match ready.try_recv() {
                Ok(handle) => return Ok(l.finish(handle?)),
                Err(mpsc::TryRecvError::Disconnected) => return Err(thread_died()),
                Err(mpsc::TryRecvError::Empty) if std::time::Instant::now() > deadline => {
                    return Err(io::Error::new(
                        io::ErrorKind::TimedOut,
                        "fake-kube did not start",
                    ));
                }
                Err(mpsc::TryRecvError::Empty) => {
                    tokio::time::sleep(Duration::from_millis(2)).await
                }
            }
        }
    }

    /// As [`FakeKube::try_start`], without async: blocks the calling thread for the few
    /// milliseconds the server takes to listen. Usable anywhere, also inside a runtime,
    /// e.g. to share one server between tests through a `std::sync::OnceLock`.
    pub fn start_blocking(opts: FakeKubeOptions) -> io::Result<FakeKube> {
        let (l, ready) = launch(opts)?;
        let handle = ready
            .recv_timeout(START_TIMEOUT)
            .map_err(|_| thread_died())??;
        Ok(l.finish(handle))
    }

    /// The address listened on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:<port>` (the loopback address when listening on all addresses).
    pub fn url(&self) -> String {
        let host = if self.addr.ip().is_unspecified() {
            "127.0.0.1".to_string()
        } else {
            self.addr.ip().to_string()
        };
        format!("http://{host}:{}", self.addr.port())
    }

    /// A kubeconfig: cluster/context/user `fake-kube`, server [`FakeKube::url`], the
    /// dummy token [`DEFAULT_IDENTITY`], no TLS, default namespace `default`.
    pub fn kubeconfig_yaml(&self) -> String {
        self.kubeconfig_yaml_for(DEFAULT_IDENTITY)
    }

    /// [`FakeKube::kubeconfig_yaml`] with `identity` as the token: the requests of a
    /// client built from it are recorded under that identity ([`FakeKube::requests_by`]),
    /// e.g. one per binary to check each against its RBAC rules (`testkit::rbac`).
    pub fn kubeconfig_yaml_for(&self, identity: &str) -> String {
        format!(
            "apiVersion: v1\nkind: Config\npreferences: {{}}\nclusters:\n- name: fake-kube\n  cluster:\n    server: {}\n\
             contexts:\n- name: fake-kube\n  context:\n    cluster: fake-kube\n    user: fake-kube\n    namespace: default\n\
             current-context: fake-kube\nusers:\n- name: fake-kube\n  user:\n    token: {identity}\n",
            self.url()
        )
    }

    /// Writes [`FakeKube::kubeconfig_yaml`] to `path`, creating its directory.
    pub fn write_kubeconfig(&self, path: impl AsRef<Path>) -> io::Result<()> {
        self.write_kubeconfig_for(path, DEFAULT_IDENTITY)
    }

    /// Writes [`FakeKube::kubeconfig_yaml_for`] `identity` to `path`, creating its directory.
    pub fn write_kubeconfig_for(&self, path: impl AsRef<Path>, identity: &str) -> io::Result<()> {
        let path = path.as_ref();
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)?;
        }
        std::fs::write(path, self.kubeconfig_yaml_for(identity))
    }

    /// A `kube::Client` built from the kubeconfig (`Config::from_custom_kubeconfig`), as
    /// production code builds one. Must be called inside the runtime that will use it.
    pub async fn try_client(&self) -> anyhow::Result<kube::Client> {
        let kubeconfig = kube::config::Kubeconfig::from_yaml(&self.kubeconfig_yaml())?;
        let config = kube::Config::from_custom_kubeconfig(
            kubeconfig,
            &kube::config::KubeConfigOptions::default(),
        )
        .await?;
        Ok(kube::Client::try_from(config)?)
    }

    /// [`FakeKube::try_client`], panicking on error.
    pub async fn client(&self) -> kube::Client {
        match self.try_client().await {
            Ok(c) => c,
            Err(e) => panic!("fake-kube: cannot build a kube::Client: {e}"),
        }
    }

    /// Objects of a resource (`group` `""` for core), all namespaces when `namespace` is
    /// `None`, ordered by namespace/name, as the API answers them.
    pub fn objects(
        &self,
        group: &str,
        version: &str,
        plural: &str,
        namespace: Option<&str>,
    ) -> Vec<Value> {
        self.shared.lock().list(
            &Gvr::new(group, version, plural),
            namespace,
            &Selectors::default(),
        )
    }

    /// One object (`namespace` `None` for cluster-scoped resources).
    pub fn get(
        &self,
        group: &str,
        version: &str,
        plural: &str,
        namespace: Option<&str>,
        name: &str,
    ) -> Option<Value> {
        self.shared
            .lock()
            .get(&Gvr::new(group, version, plural), namespace, name)
            .ok()
    }

    /// Creates or wholly replaces an object, status included (namespace from
    /// `metadata.namespace`, else `default`), emitting watch events; panics on an invalid
    /// object (no name, not an object).
    pub fn insert(&self, group: &str, version: &str, plural: &str, object: Value) -> Value {
        match self
            .shared
            .lock()
            .upsert(&Gvr::new(group, version, plural), object)
        {
            Ok(v) => v,
            Err(e) => panic!("fake-kube: cannot insert into {group}/{version}/{plural}: {e}"),
        }
    }

    /// Deletes an object; `None` if it did not exist.
    pub fn remove(
        &self,
        group: &str,
        version: &str,
        plural: &str,
        namespace: Option<&str>,
        name: &str,
    ) -> Option<Value> {
        self.shared
            .lock()
            .delete(
                &Gvr::new(group, version, plural),
                namespace,
                name,
                None,
                false,
            )
            .ok()
    }

    /// Switches the Argo Workflows controller.
    pub fn set_argo(&self, on: bool) {
        self.shared.argo.store(on, Ordering::SeqCst);
    }

    /// Switches the kubelet.
    pub fn set_kubelet(&self, on: bool) {
        self.shared.kubelet.store(on, Ordering::SeqCst);
    }

    /// Makes task `task` fail in every workflow whose name starts with
    /// `workflow_name_prefix` (now and later; `""` = every workflow).
    pub fn fail_task(&self, workflow_name_prefix: &str, task: &str) {
        self.shared
            .failures
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push((workflow_name_prefix.to_string(), task.to_string()));
    }

    /// Forgets every [`FakeKube::fail_task`].
    pub fn clear_failed_tasks(&self) {
        self.shared
            .failures
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clear();
    }

    /// The text `pods/<pod>/log` answers (whatever container is asked for); its lines
    /// count as written now (for `sinceSeconds`).
    pub fn set_pod_log(&self, namespace: &str, pod: &str, text: &str) {
        self.shared.lock().set_pod_log(namespace, pod, text);
    }

    /// Appends `text` to a pod's log, written now: non-follow reads show it, and followers
    /// (`follow=true`) receive it. A pod whose log was never set or appended to starts from
    /// an empty log (its default line is gone).
    pub fn append_pod_log(&self, namespace: &str, pod: &str, text: &str) {
        self.shared.lock().append_pod_log(namespace, pod, text);
    }

    /// Every `pods/exec` session upgraded so far, oldest first (running ones too: their
    /// `exit_code` is `None`).
    pub fn exec_sessions(&self) -> Vec<ExecSession> {
        self.shared
            .exec_sessions
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// The last terminal size `(width, height)` an exec session into the pod received.
    pub fn last_resize(&self, namespace: &str, pod: &str) -> Option<(u16, u16)> {
        self.exec_sessions()
            .iter()
            .rev()
            .filter(|s| s.namespace == namespace && s.pod == pod)
            .find_map(|s| s.resizes.last().copied())
    }

    /// Drops the watch event log: a watch resumed from any resourceVersion issued so far
    /// gets `410 Gone` and must relist.
    pub fn compact_history(&self) {
        self.shared.lock().compact();
    }

    /// Every request received so far (the last 10 000), oldest first.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.shared
            .requests
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .cloned()
            .collect()
    }

    /// The requests of one identity (see [`FakeKube::kubeconfig_yaml_for`]) among the
    /// last 10 000, oldest first.
    pub fn requests_by(&self, identity: &str) -> Vec<RecordedRequest> {
        self.shared
            .requests
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .filter(|r| r.identity == identity)
            .cloned()
            .collect()
    }

    /// Every distinct access (a request in RBAC terms) one identity made since the start,
    /// however many requests came after it, sorted.
    pub fn accesses_by(&self, identity: &str) -> Vec<Access> {
        self.shared
            .accesses
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .filter(|(who, _)| who == identity)
            .map(|(_, a)| a.clone())
            .collect()
    }

    /// Makes every request but watches wait `latency` before it is answered, from now on
    /// (zero: answer at once). Tests use it to play a slow API server.
    pub fn set_latency(&self, latency: Duration) {
        self.shared.latency_ms.store(
            latency.as_millis() as u64,
            std::sync::atomic::Ordering::Relaxed,
        );
    }

    /// From now on, answers `403 Forbidden` to every request `authorizer` refuses (as an
    /// API server's authorizer would; refused requests are still recorded). `None`
    /// allows everything again. `testkit::rbac::enforce` installs the manifests' RBAC.
    pub fn set_authorizer(&self, authorizer: Option<Authorizer>) {
        *self
            .shared
            .authorizer
            .lock()
            .unwrap_or_else(|e| e.into_inner()) = authorizer;
    }

    /// The current global resourceVersion.
    pub fn resource_version(&self) -> u64 {
        self.shared.lock().resource_version()
    }

    /// Polls `f` every 20 ms until it returns `Some` or `timeout` passes.
    pub async fn wait_for<T>(
        &self,
        timeout: Duration,
        mut f: impl FnMut(&FakeKube) -> Option<T>,
    ) -> Option<T> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            if let Some(v) = f(self) {
                return Some(v);
            }
            if tokio::time::Instant::now() >= deadline {
                return None;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Stops the server (open watches end) and waits for its thread.
    pub fn stop(&self) {
        // the stop command is sent when `stop` is called; its completion is not awaited
        std::mem::drop(self.server.stop(false));
        let thread = self.thread.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(t) = thread
            && t.thread().id() != std::thread::current().id()
        {
            let _ = t.join();
        }
    }
}

impl Drop for FakeKube {
    fn drop(&mut self) {
        self.stop();
    }
}
