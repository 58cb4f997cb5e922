//! `Ctx::notify_once` against Redis and a webhook: a failed send does not keep the
//! once-only claim.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::Arc;

use app_core::notify::WebhookSender;
use schedule::context::Ctx;
use testkit::webhook::Webhook;

/// A URL nothing listens on (connections are refused).
fn refused_url() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    format!("http://{addr}/hook")
}

async fn send(ctx: &Ctx) {
    ctx.notify_once(
        "failed-send",
        3600,
        vec!["alice".into()],
        "hello".into(),
        "schedule",
    )
    .await;
}

#[tokio::test]
async fn a_failed_send_releases_the_claim_so_the_next_attempt_sends() {
    let url = "mysql://root@127.0.0.1:3306/unused_by_this_test";
    let cfg = common::config(url, &[]);
    let redis = app_core::redis_conn::wait_for_redis("redis://127.0.0.1:6379/0", None)
        .await
        .unwrap();
    let prefix = testkit::fixtures::prefix();
    let mut ctx = Ctx::new(
        Arc::new(cfg),
        app_models::db::build_pool(url, 1),
        redis,
        &prefix,
        app_core::metrics::Metrics::new(),
    );
    // the webhook refuses the connection: nothing is sent
    ctx.sender = Arc::new(WebhookSender::new(&refused_url()));
    send(&ctx).await;

    // a working webhook: the second attempt sends, because the claim was released
    let hook = Webhook::start().await;
    ctx.sender = Arc::new(WebhookSender::new(&hook.url));
    send(&ctx).await;
    let got = hook.messages();
    assert_eq!(got.len(), 1, "the second attempt sends: {got:?}");
    assert_eq!(got[0]["receivers"], serde_json::json!(["alice"]));
    assert_eq!(got[0]["message"], "hello");

    // sent once: now the claim holds
    send(&ctx).await;
    assert_eq!(hook.messages().len(), 1, "sent once only");
    common::cleanup(&prefix).await;
}
