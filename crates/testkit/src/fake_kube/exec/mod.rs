//! `pods/<name>/exec` over a websocket, as the API server proxies it to the kubelet: the
//! upgrade picks `v5.channel.k8s.io` or `v4.channel.k8s.io` (the best the client offers;
//! no SPDY, no base64 protocols), then binary frames whose first byte is the channel —
//! 0 stdin, 1 stdout, 2 stderr, 3 the final `Status` (JSON), 4 terminal resize
//! (`{"Width":..,"Height":..}`), and on v5 `255` + channel to close a stream (the client
//! closing stdin). The command runs in the simulated [`shell`]. Each session is recorded
//! ([`ExecSession`]) so tests can check what a terminal sent.

pub mod shell;

use std::sync::Arc;

use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpRequest, HttpResponse, web};
use actix_ws::{CloseCode, Message};
use serde_json::{Value, json};

use super::Shared;
use super::resources::Gvr;
use super::status::ApiError;
use super::storage::pick_container;
use shell::{Output, Shell};

const STDIN: u8 = 0;
const STDOUT: u8 = 1;
const STDERR: u8 = 2;
const STATUS: u8 = 3;
const RESIZE: u8 = 4;
const CLOSE: u8 = 255;

/// The subprotocols served, best first.
const PROTOCOLS: &[&str] = &["v5.channel.k8s.io", "v4.channel.k8s.io"];

/// One exec request that was upgraded, as the fake saw it (see
/// [`super::FakeKube::exec_sessions`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExecSession {
    pub namespace: String,
    pub pod: String,
    /// The container it ran in (the first one when the request named none).
    pub container: String,
    pub command: Vec<String>,
    pub stdin: bool,
    pub tty: bool,
    /// The subprotocol chosen (`v5.channel.k8s.io` or `v4.channel.k8s.io`).
    pub protocol: String,
    /// Everything received on stdin.
    pub input: String,
    /// Every terminal size received on the resize channel, `(width, height)`, oldest first.
    pub resizes: Vec<(u16, u16)>,
    /// The exit code once the command has ended.
    pub exit_code: Option<i32>,
}

/// An exec request that passed the checks.
pub struct ExecRequest {
    session: ExecSession,
    stdout: bool,
    stderr: bool,
    pod: shell::Pod,
}

/// `/api/v1/namespaces/<ns>/pods/<pod>/exec` → `(ns, pod)`.
pub fn target(path: &str) -> Option<(String, String)> {
    let segs: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    match segs.as_slice() {
        ["api", "v1", "namespaces", ns, "pods", pod, "exec"] => {
            Some((ns.to_string(), pod.to_string()))
        }
        _ => None,
    }
}

/// Checks the request as the API server does before it upgrades: the pod exists (404),
/// has not finished and has the container (400), a command and a stream are asked for.
pub fn check(shared: &Shared, ns: &str, pod: &str, query: &str) -> Result<ExecRequest, ApiError> {
    let mut command = Vec::new();
    let mut container = None;
    let (mut stdin, mut stdout, mut stderr, mut tty) = (false, false, false, false);
    for (k, v) in url::form_urlencoded::parse(query.as_bytes()) {
        let on = v == "true" || v == "1";
        match k.as_ref() {
            "command" => command.push(v.into_owned()),
            "container" => container = Some(v.into_owned()),
            "stdin" => stdin = on,
            "stdout" => stdout = on,
            "stderr" => stderr = on,
            "tty" => tty = on,
            _ => {}
        }
    }
    let obj = shared
        .lock()
        .get(&Gvr::new("", "v1", "pods"), Some(ns), pod)?;
    if let Some(phase @ ("Succeeded" | "Failed")) =
        obj.pointer("/status/phase").and_then(Value::as_str)
    {
        return Err(ApiError::bad_request(format!(
            "cannot exec into a container in a completed pod; current phase is {phase}"
        )));
    }
    let chosen = pick_container(&obj, pod, container.as_deref())?;
    if command.is_empty() {
        return Err(ApiError::bad_request("you must specify at least 1 command"));
    }
    if !(stdin || stdout || stderr) {
        return Err(ApiError::bad_request(
            "you must specify at least one of stdin, stdout, stderr",
        ));
    }
    let field = |f: &str| {
        chosen
            .and_then(|c| c.get(f))
            .and_then(Value::as_str)
            .map(str::to_string)
    };
    Ok(ExecRequest {
        session: ExecSession {
            namespace: ns.to_string(),
            pod: pod.to_string(),
            container: field("name").or(container).unwrap_or_default(),
            command,
            stdin,
            tty,
            protocol: String::new(),
            input: String::new(),
            resizes: Vec::new(),
            exit_code: None,
        },
        stdout,
        stderr: stderr && !tty,
        pod: shell::Pod {
            hostname: pod.to_string(),
            workdir: field("workingDir").unwrap_or_else(|| "/".into()),
        },
    })
}

/// The best subprotocol the client offers (`Sec-WebSocket-Protocol`, comma-separated,
/// possibly in several headers).
fn choose_protocol(req: &HttpRequest) -> Option<&'static str> {
    let offered: Vec<String> = req
        .headers()
        .get_all(header::SEC_WEBSOCKET_PROTOCOL)
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|p| p.trim().to_string())
        .collect();
    PROTOCOLS
        .iter()
        .copied()
        .find(|p| offered.iter().any(|o| o == p))
}

/// Upgrades to a websocket and runs the command on the worker's runtime; an error
/// `Status` when the request is not a websocket upgrade with a served subprotocol.
pub fn respond(
    req: &HttpRequest,
    payload: web::Payload,
    shared: Arc<Shared>,
    mut exec: ExecRequest,
) -> Result<HttpResponse, ApiError> {
    let upgrade = req
        .headers()
        .get(header::UPGRADE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("websocket"));
    if !upgrade {
        return Err(ApiError::bad_request(
            "Upgrade request required (fake-kube serves exec over websockets only)",
        ));
    }
    let protocol = choose_protocol(req).ok_or_else(|| {
        ApiError::bad_request(format!(
            "fake-kube serves exec with the subprotocols {PROTOCOLS:?} only"
        ))
    })?;
    let (mut response, session, messages) = actix_ws::handle(req, payload)
        .map_err(|e| ApiError::bad_request(format!("websocket handshake: {e}")))?;
    response.headers_mut().insert(
        header::SEC_WEBSOCKET_PROTOCOL,
        HeaderValue::from_static(protocol),
    );
    exec.session.protocol = protocol.to_string();
    let index = shared.add_exec_session(exec.session.clone());
    actix_web::rt::spawn(run(shared, index, exec, session, messages));
    Ok(response)
}

/// The `Status` of the error channel for an exit code.
fn exit_status(command: &[String], code: i32) -> Value {
    if code == 0 {
        return json!({"metadata": {}, "status": "Success"});
    }
    json!({
        "metadata": {},
        "status": "Failure",
        "message": format!(
            "command terminated with non-zero exit code: command '{}' exited with {code}",
            command.join(" ")
        ),
        "reason": "NonZeroExitCode",
        "details": {"causes": [{"reason": "ExitCode", "message": code.to_string()}]},
    })
}

fn frame(channel: u8, data: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len() + 1);
    out.push(channel);
    out.extend_from_slice(data);
    out
}

async fn run(
    shared: Arc<Shared>,
    index: usize,
    exec: ExecRequest,
    mut session: actix_ws::Session,
    mut messages: actix_ws::MessageStream,
) {
    let e = &exec.session;
    let mut shell = Shell::start(&e.command, exec.pod.clone(), e.tty, e.stdin);
    let mut client_gone = false;
    loop {
        for out in shell.take_output() {
            let (channel, text, wanted) = match out {
                Output::Stdout(t) => (STDOUT, t, exec.stdout),
                Output::Stderr(t) => (STDERR, t, exec.stderr),
            };
            if wanted {
                // a client that went away no longer reads: the shell still runs to its end
                let _ = session.binary(frame(channel, text.as_bytes())).await;
            }
        }
        if let Some(code) = shell.exit_code() {
            shared.update_exec_session(index, |s| s.exit_code = Some(code));
            let status = exit_status(&e.command, code).to_string();
            let _ = session.binary(frame(STATUS, status.as_bytes())).await;
            let _ = session.close(Some(CloseCode::Normal.into())).await;
            return;
        }
        if client_gone {
            // unreachable: a shell whose stdin is closed always ends
            return;
        }
        match messages.recv().await {
            Some(Ok(Message::Binary(b))) => match (b.first(), &b[1.min(b.len())..]) {
                (Some(&STDIN), data) => {
                    let text = String::from_utf8_lossy(data);
                    shared.update_exec_session(index, |s| s.input.push_str(&text));
                    shell.input(data);
                }
                (Some(&RESIZE), data) => {
                    if let Ok(size) = serde_json::from_slice::<Value>(data) {
                        let dim = |k: &str| size.get(k).and_then(Value::as_u64).unwrap_or(0);
                        let (w, h) = (dim("Width") as u16, dim("Height") as u16);
                        shared.update_exec_session(index, |s| s.resizes.push((w, h)));
                    }
                }
                (Some(&CLOSE), [STDIN, ..]) => shell.close_stdin(),
                _ => {}
            },
            Some(Ok(Message::Ping(p))) => {
                let _ = session.pong(&p).await;
            }
            Some(Ok(Message::Text(_) | Message::Pong(_) | Message::Continuation(_)))
            | Some(Ok(Message::Nop)) => {}
            // the client closed (v4 closes the connection when its stdin ends) or is gone
            Some(Ok(Message::Close(_))) | Some(Err(_)) | None => {
                client_gone = true;
                shell.close_stdin();
            }
        }
    }
}
