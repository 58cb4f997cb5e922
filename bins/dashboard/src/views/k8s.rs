//! The `/k8s` routes of a pod (kubernetes.md §8.2): read and download its log, follow
//! it live, open a shell in one of its containers, show it with its events, search pods
//! and services by name, delete it.
//!
//! The original embeds kubernetes-dashboard for the live log, the shell and the pod page
//! (its own socket handlers are commented out). Here the dashboard serves them itself,
//! each with a small page of its own (`k8s_pages`): the live log is a server-sent event
//! stream of the container's followed log; the shell is a websocket bridged to
//! `pods/exec` (tty, with resize). No kubernetes-dashboard is needed.
//!
//! Who may: as the original, the user a pod's labels name (`pod_summary::OWNER_LABELS`)
//! or an admin. Unlike the original, a pod that does not exist is a 404, and a pod of
//! another user is a 403 for every route (the original answers 200 with a message).
//!
//! Cluster streams run on the cluster runtime and reach the HTTP side through channels;
//! they stop when the client goes away.

use std::time::Duration;

use actix_web::http::StatusCode;
use actix_web::http::header::{self, ContentEncoding};
use actix_web::web::Bytes;
use actix_web::{HttpRequest, HttpResponse, web};
use app_core::k8s::pod_summary::{self, PodSummary};
use chrono::Utc;
use futures::{AsyncBufReadExt, SinkExt, StreamExt};
use k8s_openapi::api::core::v1::{Event, Pod, Service};
use kube::api::{Api, AttachParams, DeleteParams, ListParams, LogParams, TerminalSize};
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::mpsc;

use super::k8s_pages;
use crate::auth::Ctx;
use crate::error::ApiError;
use crate::routing::{Answer, Routes};
use crate::state::AppState;

/// Lines of the log a live view starts with.
const LIVE_TAIL: i64 = 1000;

/// The command a shell runs: bash where the image has it (through `script` for a proper
/// tty when present), else sh, with a terminal type set (the original's `terminal_start`).
pub const SHELL: [&str; 3] = [
    "/bin/sh",
    "-c",
    "TERM=xterm-256color; export TERM; [ -x /bin/bash ] && ([ -x /usr/bin/script ] && /usr/bin/script -q -c \"/bin/bash\" /dev/null || exec /bin/bash) || exec /bin/sh",
];

/// A pod the caller may see, with the client of its cluster.
pub struct PodAt {
    pub cluster: String,
    pub namespace: String,
    pub name: String,
    pub client: kube::Client,
    pub pod: Pod,
    pub summary: PodSummary,
}

impl PodAt {
    fn api(&self) -> Api<Pod> {
        Api::namespaced(self.client.clone(), &self.namespace)
    }

    /// The container asked for, or the pod's default one; a 400 naming the pod's
    /// containers when it has no such container.
    fn container(&self, asked: Option<&str>) -> Result<String, ApiError> {
        match asked.filter(|c| !c.is_empty()) {
            Some(c) if self.summary.containers.iter().any(|x| x == c) => Ok(c.to_string()),
            Some(c) => Err(ApiError::bad_request(format!(
                "pod {} has no container {c:?} (containers: {})",
                self.name,
                self.summary.containers.join(", ")
            ))),
            None => self
                .summary
                .default_container()
                .map(str::to_string)
                .ok_or_else(|| {
                    ApiError::bad_request(format!("pod {} has no container", self.name))
                }),
        }
    }
}

fn cluster_failed(cluster: &str, e: impl std::fmt::Display) -> ApiError {
    ApiError::unavailable(format!("cluster {cluster}: {e}"))
}

/// The client of a cluster named in a path (an unknown name is the home cluster, as the
/// original's default kubeconfig).
async fn client_of(state: &AppState, cluster: &str) -> Result<(String, kube::Client), ApiError> {
    let name = state.kube.registry.cluster_for(Some(cluster));
    let client = state.kube.client(&name).await?;
    Ok((name, client))
}

/// Reads a pod and checks that the caller may use it: 404 when it does not exist, 403
/// when it belongs to another user and the caller is not an admin.
pub async fn pod_at(
    state: &AppState,
    ctx: &Ctx,
    cluster: &str,
    namespace: &str,
    name: &str,
) -> Result<PodAt, ApiError> {
    let (cluster, client) = client_of(state, cluster).await?;
    let api: Api<Pod> = Api::namespaced(client.clone(), namespace);
    let n = name.to_string();
    let pod = state
        .kube
        .run(async move { api.get_opt(&n).await })
        .await?
        .map_err(|e| cluster_failed(&cluster, e))?
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::NOT_FOUND,
                format!("pod {namespace}/{name} does not exist in cluster {cluster}"),
            )
        })?;
    let summary = pod_summary::summarize(&pod);
    if !ctx.is_admin && summary.username != ctx.username {
        return Err(ApiError::forbidden(
            "only admins and the pod's user may open this pod",
        ));
    }
    Ok(PodAt {
        cluster,
        namespace: namespace.to_string(),
        name: name.to_string(),
        client,
        pod,
        summary,
    })
}

fn segment<'a>(req: &'a HttpRequest, name: &str) -> Option<&'a str> {
    req.match_info().get(name)
}

fn required<'a>(req: &'a HttpRequest, name: &str) -> Result<&'a str, ApiError> {
    segment(req, name).ok_or_else(|| ApiError::bad_request(format!("missing {name}")))
}

/// The pod named by the path segments `cluster`, `ns`, `pod`.
async fn pod_of_path(state: &AppState, ctx: &Ctx, req: &HttpRequest) -> Result<PodAt, ApiError> {
    pod_at(
        state,
        ctx,
        required(req, "cluster")?,
        required(req, "ns")?,
        required(req, "pod")?,
    )
    .await
}

/// The original's `tail` segment of `read/log`: `"<n>s"` → the last n seconds, a number
/// above 10⁸ → an epoch time to start from, any other number → the last lines.
pub fn log_window(tail: Option<&str>, now: i64) -> Result<(Option<i64>, Option<i64>), ApiError> {
    let Some(t) = tail.map(str::trim).filter(|t| !t.is_empty()) else {
        return Ok((None, None));
    };
    let bad = || {
        ApiError::bad_request(format!(
            "tail {t:?}: expected a number of lines, <seconds>s or an epoch time"
        ))
    };
    if let Some(secs) = t.strip_suffix('s') {
        let s: i64 = secs.parse().map_err(|_| bad())?;
        if s <= 0 {
            return Err(bad());
        }
        return Ok((None, Some(s)));
    }
    let n: i64 = t.parse().map_err(|_| bad())?;
    if n > 100_000_000 {
        return Ok((None, Some((now - n).max(1))));
    }
    if n < 0 {
        return Err(bad());
    }
    Ok((Some(n), None))
}

/// The log of the container the path names (else the pod's default one) in a window
/// ([`log_window`]), ANSI sequences removed, with the pod it was read from.
async fn path_log(
    state: &AppState,
    ctx: &Ctx,
    req: &HttpRequest,
    tail: Option<&str>,
) -> Result<(PodAt, String), ApiError> {
    let at = pod_of_path(state, ctx, req).await?;
    let (tail_lines, since_seconds) = log_window(tail, Utc::now().timestamp())?;
    let params = LogParams {
        container: Some(at.container(segment(req, "container"))?),
        tail_lines,
        since_seconds,
        ..LogParams::default()
    };
    let (api, name) = (at.api(), at.name.clone());
    let text = state
        .kube
        .run(async move { api.logs(&name, &params).await })
        .await?
        .map_err(|e| match e {
            kube::Error::Api(s) if s.code == 400 => ApiError::bad_request(s.message),
            e => cluster_failed(&at.cluster, e),
        })?;
    Ok((at, pod_summary::strip_ansi(&text)))
}

/// `GET /k8s/read/log/<cluster>/<ns>/<pod>[/<container>[/<tail>]]`: the log as text,
/// ANSI sequences removed.
pub async fn read_log(
    state: web::Data<AppState>,
    ctx: Ctx,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let (_, text) = path_log(&state, &ctx, &req, segment(&req, "tail")).await?;
    Ok(HttpResponse::Ok()
        .content_type("text/plain; charset=utf-8")
        .body(text))
}

/// `GET /k8s/download/log/<cluster>/<ns>/<pod>`: the whole log of the pod's default
/// container as an attachment named after the pod.
pub async fn download_log(
    state: web::Data<AppState>,
    ctx: Ctx,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let (at, text) = path_log(&state, &ctx, &req, None).await?;
    Ok(HttpResponse::Ok()
        .content_type("application/octet-stream")
        .insert_header((
            header::CONTENT_DISPOSITION,
            format!("attachment; filename=\"{}.log\"", at.name),
        ))
        .body(text))
}

/// The events of a pod, oldest first, each with the original's `time` in the
/// configured time zone.
async fn pod_events(state: &AppState, at: &PodAt) -> Result<Vec<Value>, ApiError> {
    let api: Api<Event> = Api::namespaced(at.client.clone(), &at.namespace);
    let params = ListParams::default().fields(&format!("involvedObject.name={}", at.name));
    let list = state
        .kube
        .run(async move { api.list(&params).await })
        .await?
        .map_err(|e| cluster_failed(&at.cluster, e))?;
    let tz = state.config.schedule.time_zone;
    let mut events: Vec<Value> = list
        .items
        .into_iter()
        .map(|e| {
            let when = e
                .first_timestamp
                .as_ref()
                .and_then(pod_summary::k8s_time)
                .or_else(|| e.event_time.as_ref().and_then(pod_summary::k8s_micro_time))
                .or_else(|| e.last_timestamp.as_ref().and_then(pod_summary::k8s_time));
            let mut v = serde_json::to_value(&e).unwrap_or(Value::Null);
            if let Some(o) = v.as_object_mut() {
                o.insert(
                    "time".into(),
                    when.map(|w| {
                        json!(w.with_timezone(&tz).format("%Y-%m-%d %H:%M:%S").to_string())
                    })
                    .unwrap_or(Value::Null),
                );
            }
            v
        })
        .collect();
    events.sort_by(|a, b| {
        let t = |v: &Value| {
            v.get("time")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string()
        };
        t(a).cmp(&t(b))
    });
    Ok(events)
}

/// The original's pod dict: the summary with times in the configured zone, requests,
/// and the pod's status object.
fn pod_dict(state: &AppState, at: &PodAt) -> Value {
    let tz = state.config.schedule.time_zone;
    let local = |t: Option<chrono::DateTime<Utc>>| {
        t.map(|t| json!(t.with_timezone(&tz).format("%Y-%m-%d %H:%M:%S").to_string()))
            .unwrap_or(Value::Null)
    };
    let mut v = serde_json::to_value(&at.summary).unwrap_or_else(|_| json!({}));
    if let Some(o) = v.as_object_mut() {
        o.insert("start_time".into(), local(at.summary.start_time));
        o.insert(
            "container_start_time".into(),
            local(at.summary.container_start_time),
        );
        o.insert(
            "status_more".into(),
            serde_json::to_value(&at.pod.status).unwrap_or(Value::Null),
        );
    }
    v
}

/// `GET /k8s/read/pod/<cluster>/<ns>/<pod>`: the pod and its events in the original's
/// envelope (`status` 1 and "pod不存在" when it does not exist, as the original).
pub async fn read_pod(
    state: web::Data<AppState>,
    ctx: Ctx,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let at = match pod_of_path(&state, &ctx, &req).await {
        Ok(at) => at,
        Err(e) if e.http == StatusCode::NOT_FOUND => {
            return Ok(HttpResponse::Ok().json(json!({
                "status": 1, "message": "pod不存在", "result": {}})));
        }
        Err(e) => return Err(e),
    };
    let events = pod_events(&state, &at).await?;
    let mut pod = pod_dict(&state, &at);
    if let Some(o) = pod.as_object_mut() {
        o.insert("events".into(), Value::Array(events));
    }
    Ok(HttpResponse::Ok().json(json!({"status": 0, "message": "", "result": pod})))
}

/// `GET /k8s/delete/pod/<cluster>/<ns>/<pod>` (JSON) and `/k8s/web/delete/pod/...`
/// (back to the page the user came from): deletes the pod at once (grace period 0). A pod
/// that is already gone counts as deleted.
pub async fn delete_pod(
    state: web::Data<AppState>,
    ctx: Ctx,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let (cluster, ns, name) = (
        required(&req, "cluster")?,
        required(&req, "ns")?,
        required(&req, "pod")?,
    );
    let web_page = req.path().starts_with("/k8s/web/");
    match pod_at(&state, &ctx, cluster, ns, name).await {
        Ok(at) => {
            let api = at.api();
            let n = at.name.clone();
            state
                .kube
                .run(async move {
                    match api
                        .delete(&n, &DeleteParams::default().grace_period(0))
                        .await
                    {
                        Ok(_) => Ok(()),
                        Err(kube::Error::Api(s)) if s.code == 404 => Ok(()),
                        Err(e) => Err(e),
                    }
                })
                .await?
                .map_err(|e| cluster_failed(&at.cluster, e))?;
            tracing::info!(user = %ctx.username, cluster = %at.cluster, namespace = %ns, pod = %name, "pod deleted");
        }
        Err(e) if e.http == StatusCode::NOT_FOUND => {}
        Err(e) => return Err(e),
    }
    let search = format!("/k8s/web/search/{cluster}/{ns}/{name}");
    if web_page {
        let back = req
            .headers()
            .get(header::REFERER)
            .and_then(|v| v.to_str().ok())
            .filter(|r| !r.contains("/k8s/web/delete/"))
            .map(str::to_string)
            .unwrap_or(search);
        return Ok(HttpResponse::Found()
            .insert_header((header::LOCATION, back))
            .finish());
    }
    Ok(HttpResponse::Ok().json(json!({
        "status": 0,
        "message": format!("删除完成。查看被删除pod是否完成。{search}"),
        "result": {}
    })))
}

/// One server-sent event.
fn sse(event: Option<&str>, data: &str) -> Bytes {
    let mut out = String::with_capacity(data.len() + 16);
    if let Some(e) = event {
        out.push_str("event: ");
        out.push_str(e);
        out.push('\n');
    }
    for line in data.split('\n') {
        out.push_str("data: ");
        out.push_str(line.trim_end_matches('\r'));
        out.push('\n');
    }
    out.push('\n');
    Bytes::from(out)
}

/// Follows a container's log into `tx` until the container stops or the receiver goes.
async fn follow_log(api: Api<Pod>, name: String, params: LogParams, tx: mpsc::Sender<Bytes>) {
    let stream = match api.log_stream(&name, &params).await {
        Ok(s) => s,
        Err(e) => {
            let _ = tx.send(sse(Some("failure"), &e.to_string())).await;
            return;
        }
    };
    let mut lines = stream.lines();
    loop {
        tokio::select! {
            line = lines.next() => match line {
                Some(Ok(l)) => {
                    if tx.send(sse(None, &pod_summary::strip_ansi(&l))).await.is_err() {
                        return;
                    }
                }
                Some(Err(e)) => {
                    let _ = tx.send(sse(Some("failure"), &e.to_string())).await;
                    return;
                }
                None => break,
            },
            () = tx.closed() => return,
        }
    }
    let _ = tx.send(sse(Some("end"), "the container stopped")).await;
}

#[derive(Deserialize)]
pub struct StreamQuery {
    tail: Option<i64>,
}

/// `GET /k8s/stream/log/<cluster>/<ns>/<pod>/<container>?tail=<lines>`: the container's
/// log as server-sent events: one `data` event per line as the container writes it, then
/// `end` when it stops (`failure` with the reason when the cluster refuses).
pub async fn stream_log(
    state: web::Data<AppState>,
    ctx: Ctx,
    req: HttpRequest,
    q: web::Query<StreamQuery>,
) -> Result<HttpResponse, ApiError> {
    let at = pod_of_path(&state, &ctx, &req).await?;
    let container = at.container(segment(&req, "container"))?;
    let tail = q.tail.unwrap_or(LIVE_TAIL).clamp(0, 100_000);
    let params = LogParams {
        container: Some(container),
        follow: true,
        tail_lines: Some(tail),
        ..LogParams::default()
    };
    let (tx, rx) = mpsc::channel::<Bytes>(256);
    state
        .kube
        .spawn(follow_log(at.api(), at.name.clone(), params, tx))?;
    let body = futures::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|b| (Ok::<_, actix_web::Error>(b), rx))
    });
    Ok(HttpResponse::Ok()
        .content_type("text/event-stream")
        .insert_header((header::CACHE_CONTROL, "no-cache"))
        .insert_header(("X-Accel-Buffering", "no"))
        // never compressed: a compressor would hold the lines back
        .insert_header(ContentEncoding::Identity)
        .streaming(body))
}

/// What the browser sends a shell: keystrokes, or the terminal's new size.
#[derive(Debug, Deserialize)]
#[serde(tag = "op", rename_all = "lowercase")]
pub enum ShellInput {
    Stdin { data: String },
    Resize { cols: u16, rows: u16 },
}

/// What a shell sends back.
enum ShellOutput {
    Data(Bytes),
    /// The shell ended (exit status or why it could not start).
    Exit(String),
}

/// Runs a shell in a container: stdin and resizes from `input`, output to `output`;
/// aborted when the browser goes away.
async fn run_shell(
    api: Api<Pod>,
    name: String,
    container: String,
    mut input: mpsc::Receiver<ShellInput>,
    output: mpsc::Sender<ShellOutput>,
) {
    let params = AttachParams::interactive_tty().container(container);
    let mut process = match api.exec(&name, SHELL, &params).await {
        Ok(p) => p,
        Err(e) => {
            let _ = output
                .send(ShellOutput::Exit(format!("cannot open a shell: {e}")))
                .await;
            return;
        }
    };
    let (Some(mut stdin), Some(mut stdout), Some(status)) =
        (process.stdin(), process.stdout(), process.take_status())
    else {
        let _ = output
            .send(ShellOutput::Exit("the shell has no terminal".into()))
            .await;
        return;
    };
    let mut resize = process.terminal_size();
    let out = output.clone();
    let mut pump = tokio::spawn(async move {
        let mut buf = vec![0u8; 8192];
        loop {
            match stdout.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => {
                    if out
                        .send(ShellOutput::Data(Bytes::copy_from_slice(&buf[..n])))
                        .await
                        .is_err()
                    {
                        return;
                    }
                }
            }
        }
    });
    tokio::pin!(status);
    let exit = loop {
        tokio::select! {
            msg = input.recv() => match msg {
                Some(ShellInput::Stdin { data }) => {
                    if stdin.write_all(data.as_bytes()).await.is_err() {
                        break None;
                    }
                }
                Some(ShellInput::Resize { cols, rows }) => {
                    if let Some(r) = resize.as_mut() {
                        let _ = r.send(TerminalSize { width: cols.max(1), height: rows.max(1) }).await;
                    }
                }
                None => {
                    // the browser went away
                    process.abort();
                    pump.abort();
                    return;
                }
            },
            st = &mut status => break st,
        }
    };
    // the rest of the output before the exit
    let _ = tokio::time::timeout(Duration::from_secs(2), &mut pump).await;
    let reason = match exit {
        Some(s) if s.status.as_deref() == Some("Success") => "exit 0".to_string(),
        Some(s) => format!(
            "exit: {}",
            s.message.unwrap_or_else(|| s.reason.unwrap_or_default())
        ),
        None => "the shell closed".to_string(),
    };
    let _ = output.send(ShellOutput::Exit(reason)).await;
}

/// `GET /k8s/stream/exec/<cluster>/<ns>/<pod>/<container>` (websocket): a shell in the
/// container. The browser sends JSON text frames `{"op":"stdin","data":"…"}` and
/// `{"op":"resize","cols":…,"rows":…}`; the terminal's output comes back as binary
/// frames; the end of the shell closes the socket with its exit status as the reason.
pub async fn stream_exec(
    state: web::Data<AppState>,
    ctx: Ctx,
    req: HttpRequest,
    body: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let at = pod_of_path(&state, &ctx, &req).await?;
    let container = at.container(segment(&req, "container"))?;
    if at.summary.finished() || at.summary.status != "Running" {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            format!(
                "pod {} is {}: a shell needs a running container",
                at.name, at.summary.pod_substatus
            ),
        ));
    }
    let (response, mut session, mut messages) = actix_ws::handle(&req, body)
        .map_err(|e| ApiError::bad_request(format!("websocket: {e}")))?;
    let (in_tx, in_rx) = mpsc::channel::<ShellInput>(64);
    let (out_tx, mut out_rx) = mpsc::channel::<ShellOutput>(64);
    tracing::info!(user = %ctx.username, cluster = %at.cluster, namespace = %at.namespace, pod = %at.name, %container, "shell opened");
    state.kube.spawn(run_shell(
        at.api(),
        at.name.clone(),
        container,
        in_rx,
        out_tx,
    ))?;
    actix_web::rt::spawn(async move {
        let reason = loop {
            tokio::select! {
                msg = messages.next() => match msg {
                    Some(Ok(actix_ws::Message::Text(t))) => {
                        match serde_json::from_str::<ShellInput>(&t) {
                            Ok(i) => {
                                if in_tx.send(i).await.is_err() {
                                    break None;
                                }
                            }
                            Err(e) => {
                                let _ = session.text(json!({"error": format!("bad message: {e}")}).to_string()).await;
                            }
                        }
                    }
                    Some(Ok(actix_ws::Message::Binary(b))) => {
                        let data = String::from_utf8_lossy(&b).into_owned();
                        if in_tx.send(ShellInput::Stdin { data }).await.is_err() {
                            break None;
                        }
                    }
                    Some(Ok(actix_ws::Message::Ping(p))) => {
                        let _ = session.pong(&p).await;
                    }
                    Some(Ok(actix_ws::Message::Close(_))) | Some(Err(_)) | None => break None,
                    Some(Ok(_)) => {}
                },
                out = out_rx.recv() => match out {
                    Some(ShellOutput::Data(b)) => {
                        if session.binary(b).await.is_err() {
                            break None;
                        }
                    }
                    Some(ShellOutput::Exit(r)) => break Some(r),
                    None => break Some("the shell closed".to_string()),
                },
            }
        };
        drop(in_tx);
        let close = reason.map(|r| actix_ws::CloseReason {
            code: actix_ws::CloseCode::Normal,
            description: Some(close_reason(&r)),
        });
        let _ = session.close(close).await;
    });
    Ok(response)
}

/// A close frame's reason: at most 123 bytes (the rest of a control frame's 125), cut
/// on a character boundary.
fn close_reason(reason: &str) -> String {
    let mut end = reason.len().min(123);
    while !reason.is_char_boundary(end) {
        end -= 1;
    }
    reason[..end].to_string()
}

/// The pod's status line of the log and shell pages: its state and, when it does not
/// run, the last event's message (the original's flash).
async fn status_line(state: &AppState, at: &PodAt) -> String {
    let s = &at.summary;
    let mut line = format!("当前pod状态：{}", s.pod_substatus);
    if !matches!(s.status.as_str(), "Running" | "Succeeded") {
        let last = pod_events(state, at)
            .await
            .ok()
            .and_then(|e| e.last().cloned())
            .and_then(|e| e.get("message").and_then(Value::as_str).map(str::to_string));
        if let Some(m) = last.filter(|m| !m.is_empty()) {
            line.push('，');
            line.push_str(&m);
        }
    }
    line
}

fn html(page: String) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .body(page)
}

/// `GET /k8s/web/log/<cluster>/<ns>/<pod>[/<container>]`: the live log page.
pub async fn web_log(
    state: web::Data<AppState>,
    ctx: Ctx,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let at = pod_of_path(&state, &ctx, &req).await?;
    let container = at.container(segment(&req, "container"))?;
    let status = status_line(&state, &at).await;
    Ok(html(k8s_pages::log_page(&at, &container, &status)))
}

/// `GET|POST /k8s/web/debug/<cluster>/<ns>/<pod>[/<container>]`: the shell page.
pub async fn web_debug(
    state: web::Data<AppState>,
    ctx: Ctx,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let at = pod_of_path(&state, &ctx, &req).await?;
    let container = at.container(segment(&req, "container"))?;
    let warning = if at.summary.finished() {
        Some("pod已结束，不可进入")
    } else if at.summary.status != "Running" {
        Some("pod 尚未启动完成或已结束，刷新当前页面重新进入")
    } else {
        None
    };
    Ok(html(k8s_pages::shell_page(&at, &container, warning)))
}

/// `GET /k8s/web/pod/<cluster>/<ns>/<pod>`: the pod, its events and its object.
pub async fn web_pod(
    state: web::Data<AppState>,
    ctx: Ctx,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let at = pod_of_path(&state, &ctx, &req).await?;
    let events = pod_events(&state, &at).await?;
    Ok(html(k8s_pages::pod_page(&at, &events, &ctx)))
}

/// `GET /k8s/web/search/<cluster>/<ns>/<search>`: the pods and services of a namespace
/// whose names contain `search` (non-admins: only their own), newest pods first.
pub async fn web_search(
    state: web::Data<AppState>,
    ctx: Ctx,
    path: web::Path<(String, String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (cluster, ns, search) = path.into_inner();
    let (cluster, client) = client_of(&state, &cluster).await?;
    let pods_api: Api<Pod> = Api::namespaced(client.clone(), &ns);
    let svc_api: Api<Service> = Api::namespaced(client, &ns);
    let (pods, services) = state
        .kube
        .run(async move {
            let pods = pods_api.list(&ListParams::default()).await?;
            let services = svc_api.list(&ListParams::default()).await?;
            Ok::<_, kube::Error>((pods.items, services.items))
        })
        .await?
        .map_err(|e| cluster_failed(&cluster, e))?;
    let mut pods: Vec<PodSummary> = pods
        .iter()
        .filter(|p| {
            p.metadata
                .name
                .as_deref()
                .is_some_and(|n| n.contains(&search))
        })
        .map(pod_summary::summarize)
        .filter(|p| ctx.is_admin || p.username == ctx.username)
        .collect();
    pods.sort_by_key(|p| std::cmp::Reverse(p.start_time));
    let services: Vec<Service> = services
        .into_iter()
        .filter(|s| {
            s.metadata
                .name
                .as_deref()
                .is_some_and(|n| n.contains(&search))
        })
        .filter(|s| ctx.is_admin || pod_summary::owner(s.metadata.labels.as_ref()) == ctx.username)
        .collect();
    Ok(html(k8s_pages::search_page(
        &k8s_pages::SearchPlace {
            cluster: &cluster,
            namespace: &ns,
            search: &search,
            grafana_task_path: super::node_detail::GRAFANA_TASK_PATH,
        },
        &pods,
        &services,
        ctx.is_admin,
    )))
}

/// `GET /k8s/watch/log/...`, `/k8s/watch/exec/...` and `/k8s/web1/search/...`: the
/// original's socket pages and its kubernetes-dashboard search, sent to the live log, the
/// shell and the search page.
pub async fn watch_redirect(req: HttpRequest) -> HttpResponse {
    let to = req
        .path()
        .replacen("/k8s/watch/log/", "/k8s/web/log/", 1)
        .replacen("/k8s/watch/exec/", "/k8s/web/debug/", 1)
        .replacen("/k8s/web1/search/", "/k8s/web/search/", 1);
    HttpResponse::Found()
        .insert_header((header::LOCATION, to))
        .finish()
}

/// `GET /k8s/read/pod/terminating[/<ns>]`: per cluster, the pods of a namespace
/// (default `service`) whose kill has been failing for more than five minutes.
pub async fn read_terminating(
    state: web::Data<AppState>,
    _ctx: Ctx,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let ns = segment(&req, "ns").unwrap_or("service").to_string();
    let tz = state.config.schedule.time_zone;
    let mut out = serde_json::Map::new();
    for cluster in state.kube.registry.names() {
        let mut stuck = serde_json::Map::new();
        let client = match state.kube.client(&cluster).await {
            Ok(c) => c,
            Err(e) => {
                tracing::warn!(%cluster, error = %e.message, "terminating pods: cluster skipped");
                out.insert(cluster, Value::Object(stuck));
                continue;
            }
        };
        let events_api: Api<Event> = Api::namespaced(client.clone(), &ns);
        let pods_api: Api<Pod> = Api::namespaced(client, &ns);
        let got = state
            .kube
            .run(async move {
                let events = events_api
                    .list(&ListParams::default().fields("type=Warning"))
                    .await?;
                let pods = pods_api.list(&ListParams::default()).await?;
                Ok::<_, kube::Error>((events.items, pods.items))
            })
            .await?;
        let (events, pods) = match got {
            Ok(x) => x,
            Err(e) => {
                tracing::warn!(%cluster, error = %e, "terminating pods: cluster skipped");
                out.insert(cluster, Value::Object(stuck));
                continue;
            }
        };
        let pods: Vec<PodSummary> = pods.iter().map(pod_summary::summarize).collect();
        let five_minutes_ago = Utc::now() - chrono::Duration::minutes(5);
        for e in events {
            let when = e
                .first_timestamp
                .as_ref()
                .and_then(pod_summary::k8s_time)
                .or_else(|| e.event_time.as_ref().and_then(pod_summary::k8s_micro_time));
            let Some(when) = when else { continue };
            if e.reason.as_deref() != Some("FailedKillPod") || when >= five_minutes_ago {
                continue;
            }
            let name = e.involved_object.name.clone().unwrap_or_default();
            if let Some(p) = pods.iter().find(|p| p.name == name) {
                stuck.insert(
                    name,
                    json!({
                        "namespace": ns,
                        "host": e.source.as_ref().and_then(|s| s.host.clone()).unwrap_or_default(),
                        "begin": when.with_timezone(&tz).format("%Y-%m-%d %H:%M:%S").to_string(),
                        "username": p.username,
                        "label": p.labels,
                    }),
                );
            }
        }
        out.insert(cluster, Value::Object(stuck));
    }
    Ok(HttpResponse::Ok().json(Value::Object(out)))
}

/// Registers the `/k8s` routes.
pub fn configure(r: &mut Routes<'_>) {
    r.tag("k8s");
    for p in [
        "/k8s/read/log/{cluster}/{ns}/{pod}",
        "/k8s/read/log/{cluster}/{ns}/{pod}/{container}",
        "/k8s/read/log/{cluster}/{ns}/{pod}/{container}/{tail}",
    ] {
        r.add(
            "GET",
            p,
            "A container's log as text, ANSI removed; tail: lines, <n>s or an epoch time",
            Answer::Other("text/plain"),
            read_log,
        );
    }
    r.add(
        "GET",
        "/k8s/download/log/{cluster}/{ns}/{pod}",
        "The whole log of the pod's main container, as an attachment",
        Answer::Other("application/octet-stream"),
        download_log,
    );
    r.add(
        "GET",
        "/k8s/read/pod/{cluster}/{ns}/{pod}",
        "A pod and its events (status 1 when it does not exist)",
        Answer::Json(json!({"type": "object"})),
        read_pod,
    );
    r.add(
        "GET",
        "/k8s/read/pod/terminating",
        "Per cluster, the pods of namespace service whose kill keeps failing",
        Answer::Json(json!({"type": "object"})),
        read_terminating,
    );
    r.add(
        "GET",
        "/k8s/read/pod/terminating/{ns}",
        "Per cluster, the pods of a namespace whose kill keeps failing",
        Answer::Json(json!({"type": "object"})),
        read_terminating,
    );
    for p in [
        "/k8s/delete/pod/{cluster}/{ns}/{pod}",
        "/k8s/web/delete/pod/{cluster}/{ns}/{pod}",
    ] {
        r.add(
            "GET",
            p,
            "Delete a pod at once (the web variant goes back to the page it came from)",
            Answer::Other("application/json or a redirect"),
            delete_pod,
        );
    }
    for p in [
        "/k8s/web/log/{cluster}/{ns}/{pod}",
        "/k8s/web/log/{cluster}/{ns}/{pod}/{container}",
    ] {
        r.add(
            "GET",
            p,
            "The live log page of a container",
            Answer::Other("text/html"),
            web_log,
        );
    }
    r.add(
        "GET",
        "/k8s/stream/log/{cluster}/{ns}/{pod}/{container}",
        "A container's log followed as server-sent events (data per line, then end)",
        Answer::Other("text/event-stream"),
        stream_log,
    );
    for method in ["GET", "POST"] {
        for p in [
            "/k8s/web/debug/{cluster}/{ns}/{pod}",
            "/k8s/web/debug/{cluster}/{ns}/{pod}/{container}",
        ] {
            r.add(
                method,
                p,
                "The shell page of a container",
                Answer::Other("text/html"),
                web_debug,
            );
        }
        r.add(
            method,
            "/k8s/web/pod/{cluster}/{ns}/{pod}",
            "A pod's page: state, events and object",
            Answer::Other("text/html"),
            web_pod,
        );
    }
    r.add(
        "GET",
        "/k8s/stream/exec/{cluster}/{ns}/{pod}/{container}",
        "A shell in a container over a websocket (pods/exec with a tty)",
        Answer::Other("websocket"),
        stream_exec,
    );
    r.add(
        "GET",
        "/k8s/web/search/{cluster}/{ns}/{search}",
        "Pods and services of a namespace whose names contain a word",
        Answer::Other("text/html"),
        web_search,
    );
    for p in [
        "/k8s/watch/log/{cluster}/{ns}/{pod}/{container}",
        "/k8s/watch/exec/{cluster}/{ns}/{pod}/{container}",
        "/k8s/web1/search/{cluster}/{ns}/{search}",
    ] {
        r.add(
            "GET",
            p,
            "The original's socket and kubernetes-dashboard pages: sent to web/log, web/debug, web/search",
            Answer::Other("redirect"),
            watch_redirect,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_tail_segment_reads_as_the_original() {
        let now = 1_800_000_000;
        assert_eq!(log_window(None, now).unwrap(), (None, None));
        assert_eq!(log_window(Some("200"), now).unwrap(), (Some(200), None));
        assert_eq!(log_window(Some("30s"), now).unwrap(), (None, Some(30)));
        assert_eq!(
            log_window(Some("1799999000"), now).unwrap(),
            (None, Some(1000))
        );
        assert!(log_window(Some("abc"), now).is_err());
        assert!(log_window(Some("-5"), now).is_err());
        assert!(log_window(Some("0s"), now).is_err());
    }

    #[test]
    fn events_are_server_sent_lines() {
        assert_eq!(&sse(None, "hello\r")[..], b"data: hello\n\n");
        assert_eq!(
            &sse(Some("end"), "a\nb")[..],
            b"event: end\ndata: a\ndata: b\n\n"
        );
    }

    #[test]
    fn close_reasons_fit_a_control_frame() {
        assert_eq!(close_reason("exit 0"), "exit 0");
        let long = "é".repeat(100);
        let cut = close_reason(&long);
        assert!(cut.len() <= 123 && long.starts_with(&cut));
    }

    #[test]
    fn shell_messages_parse() {
        let i: ShellInput =
            serde_json::from_str(r#"{"op":"resize","cols":120,"rows":40}"#).unwrap();
        assert!(matches!(
            i,
            ShellInput::Resize {
                cols: 120,
                rows: 40
            }
        ));
        let i: ShellInput = serde_json::from_str(r#"{"op":"stdin","data":"ls\r"}"#).unwrap();
        assert!(matches!(i, ShellInput::Stdin { data } if data == "ls\r"));
    }
}
