//! The streaming protocols: `pods/exec` over a websocket (`Api::exec`) and followed pod
//! logs (`Api::log_stream`).

use futures::{AsyncBufReadExt, SinkExt};
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, AttachParams, LogParams, Patch, PatchParams, PostParams, TerminalSize};
use serde_json::json;
use testkit::fake_kube::{EXEC_PROMPT, FakeKube, FakeKubeOptions};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};

use super::{WAIT, api_error, pod};

/// Reads until the text read so far contains `needle`; answers all of it.
async fn read_until(r: &mut (impl AsyncRead + Unpin), needle: &str) -> String {
    let mut text = String::new();
    let mut buf = [0u8; 1024];
    while !text.contains(needle) {
        let n = tokio::time::timeout(WAIT, r.read(&mut buf))
            .await
            .unwrap_or_else(|_| panic!("no {needle:?} within {WAIT:?}; read {text:?}"))
            .unwrap();
        assert!(n > 0, "stream ended before {needle:?}; read {text:?}");
        text.push_str(&String::from_utf8_lossy(&buf[..n]));
    }
    text
}

async fn read_all(r: &mut (impl AsyncRead + Unpin)) -> String {
    let mut text = String::new();
    tokio::time::timeout(WAIT, r.read_to_string(&mut text))
        .await
        .expect("the stream ends")
        .unwrap();
    text
}

async fn pods_in(kube: &FakeKube, ns: &str) -> Api<Pod> {
    let pods: Api<Pod> = Api::namespaced(kube.client().await, ns);
    pods.create(&PostParams::default(), &pod("nb", json!({}), "Always"))
        .await
        .unwrap();
    pods
}

#[tokio::test]
async fn exec_runs_a_command_and_answers_its_exit_status() {
    let kube = FakeKube::start(FakeKubeOptions::default()).await;
    let pods = pods_in(&kube, "exec").await;

    let mut p = pods
        .exec("nb", vec!["echo", "hello"], &AttachParams::default())
        .await
        .unwrap();
    let (mut out, status) = (p.stdout().unwrap(), p.take_status().unwrap());
    assert_eq!(read_all(&mut out).await, "hello\n");
    let status = status.await.expect("a status");
    assert_eq!(status.status.as_deref(), Some("Success"));
    p.join().await.unwrap();

    let mut p = pods
        .exec(
            "nb",
            vec!["sh", "-c", "hostname; nope; exit 3"],
            &AttachParams::default().container("main"),
        )
        .await
        .unwrap();
    let (mut out, mut err) = (p.stdout().unwrap(), p.stderr().unwrap());
    let status = p.take_status().unwrap();
    let (out, err) = tokio::join!(read_all(&mut out), read_all(&mut err));
    assert_eq!(
        (out.as_str(), err.as_str()),
        ("nb\n", "sh: nope: not found\n")
    );
    let status = status.await.expect("a status");
    assert_eq!(status.status.as_deref(), Some("Failure"));
    assert_eq!(status.reason.as_deref(), Some("NonZeroExitCode"));
    let cause = &status.details.unwrap().causes.unwrap()[0];
    assert_eq!(
        (cause.reason.as_deref(), cause.message.as_deref()),
        (Some("ExitCode"), Some("3"))
    );

    let sessions = kube.exec_sessions();
    assert_eq!(sessions.len(), 2);
    assert_eq!(sessions[0].protocol, "v5.channel.k8s.io");
    assert_eq!(sessions[1].command, ["sh", "-c", "hostname; nope; exit 3"]);
    assert_eq!(sessions[1].exit_code, Some(3));
    let exec = kube
        .requests()
        .into_iter()
        .filter(|r| r.path.ends_with("/pods/nb/exec"))
        .count();
    assert_eq!(exec, 2, "exec requests are recorded");

    let missing = pods
        .exec("gone", vec!["true"], &AttachParams::default())
        .await;
    assert_eq!(api_error(missing.map(|_| ())).0, 404);
    let wrong = AttachParams::default().container("nope");
    let wrong = pods.exec("nb", vec!["true"], &wrong).await;
    assert_eq!(api_error(wrong.map(|_| ())).0, 400);
}

#[tokio::test]
async fn an_interactive_terminal_echoes_runs_lines_and_records_resizes() {
    let kube = FakeKube::start(FakeKubeOptions::default()).await;
    let pods = pods_in(&kube, "term").await;
    // the command of cube-studio's web terminal
    let mut p = pods
        .exec(
            "nb",
            vec!["sh", "-c", "clear; (bash || sh)"],
            &AttachParams::interactive_tty(),
        )
        .await
        .unwrap();
    let (mut stdin, mut out) = (p.stdin().unwrap(), p.stdout().unwrap());
    let mut resize = p.terminal_size().unwrap();
    let status = p.take_status().unwrap();

    read_until(&mut out, EXEC_PROMPT).await;
    resize
        .send(TerminalSize {
            width: 120,
            height: 40,
        })
        .await
        .unwrap();
    stdin.write_all(b"echo hello\n").await.unwrap();
    let screen = read_until(&mut out, "hello\r\n# ").await;
    assert_eq!(screen, "echo hello\r\nhello\r\n# ");
    stdin.write_all(b"exit\n").await.unwrap();
    assert_eq!(read_all(&mut out).await, "exit\r\n");
    let status = status.await.expect("a status");
    assert_eq!(status.status.as_deref(), Some("Success"));

    let resized = kube.wait_for(WAIT, |k| k.last_resize("term", "nb")).await;
    assert_eq!(resized, Some((120, 40)));
    let session = &kube.exec_sessions()[0];
    assert!(session.tty && session.stdin);
    assert_eq!(session.input, "echo hello\nexit\n");
}

#[tokio::test]
async fn closing_stdin_ends_an_interactive_shell() {
    let kube = FakeKube::start(FakeKubeOptions::default()).await;
    let pods = pods_in(&kube, "stdin").await;
    let mut p = pods
        .exec("nb", vec!["bash"], &AttachParams::default().stdin(true))
        .await
        .unwrap();
    let (mut stdin, mut out) = (p.stdin().unwrap(), p.stdout().unwrap());
    let mut err = p.stderr().unwrap();
    let status = p.take_status().unwrap();
    stdin
        .write_all(b"pwd\ncat /etc/hostname\nls\n")
        .await
        .unwrap();
    stdin.shutdown().await.unwrap(); // v5: the close-stdin frame
    let (out, err) = tokio::join!(read_all(&mut out), read_all(&mut err));
    assert_eq!(out, "/\nnb\n");
    assert_eq!(err, "sh: ls: not found\n");
    let status = status.await.expect("a status");
    assert_eq!(status.reason.as_deref(), Some("NonZeroExitCode"));
    assert_eq!(kube.exec_sessions()[0].exit_code, Some(127));
}

#[tokio::test]
async fn followed_logs_stream_appended_lines_until_the_pod_finishes() {
    let kube = FakeKube::start(FakeKubeOptions::default()).await;
    let pods = pods_in(&kube, "follow").await;
    kube.set_pod_log("follow", "nb", "one\ntwo\n");
    let follow = LogParams {
        follow: true,
        tail_lines: Some(1),
        ..LogParams::default()
    };
    let mut lines = pods.log_stream("nb", &follow).await.unwrap().lines();
    let mut next = async || {
        tokio::time::timeout(WAIT, futures::StreamExt::next(&mut lines))
            .await
            .expect("a line or the end")
            .map(|l| l.unwrap())
    };
    assert_eq!(next().await.as_deref(), Some("two"));
    kube.append_pod_log("follow", "nb", "three\nfo");
    assert_eq!(next().await.as_deref(), Some("three"));
    kube.append_pod_log("follow", "nb", "ur\n");
    assert_eq!(next().await.as_deref(), Some("four"));
    kube.append_pod_log("follow", "nb", "last\n");
    pods.patch_status(
        "nb",
        &PatchParams::default(),
        &Patch::Merge(json!({"status": {"phase": "Succeeded"}})),
    )
    .await
    .unwrap();
    assert_eq!(next().await.as_deref(), Some("last"));
    assert_eq!(next().await, None, "the stream ends with the pod");

    // appended text shows in plain reads too
    assert_eq!(
        pods.logs("nb", &LogParams::default()).await.unwrap(),
        "one\ntwo\nthree\nfour\nlast\n"
    );
}

#[tokio::test]
async fn followed_logs_end_when_the_pod_is_deleted_and_plain_reads_filter() {
    let kube = FakeKube::start(FakeKubeOptions::default()).await;
    let pods = pods_in(&kube, "logs2").await;
    kube.append_pod_log("logs2", "nb", "a\n");
    let follow = LogParams {
        follow: true,
        timestamps: true,
        ..LogParams::default()
    };
    let mut lines = pods.log_stream("nb", &follow).await.unwrap().lines();
    let first = tokio::time::timeout(WAIT, futures::StreamExt::next(&mut lines))
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    let (time, text) = first.split_once(' ').unwrap();
    assert_eq!(text, "a");
    assert!(chrono::DateTime::parse_from_rfc3339(time).is_ok(), "{time}");
    pods.delete("nb", &Default::default()).await.unwrap();
    let end = tokio::time::timeout(WAIT, futures::StreamExt::next(&mut lines))
        .await
        .unwrap();
    assert!(end.is_none(), "the stream ends with the pod");

    let pods = pods_in(&kube, "logs3").await;
    kube.set_pod_log("logs3", "nb", "old\n");
    let recent = LogParams {
        since_seconds: Some(3600),
        limit_bytes: Some(2),
        ..LogParams::default()
    };
    assert_eq!(pods.logs("nb", &recent).await.unwrap(), "ol");
    let since = LogParams {
        since_time: Some(
            k8s_openapi::jiff::Timestamp::from_second(chrono::Utc::now().timestamp() + 5).unwrap(),
        ),
        ..LogParams::default()
    };
    kube.append_pod_log("logs3", "nb", "new\n");
    assert_eq!(pods.logs("nb", &since).await.unwrap(), "");
}
