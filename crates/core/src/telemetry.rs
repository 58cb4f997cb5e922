//! Logging with tracing-subscriber: `RUST_LOG` filters, `LOG_FORMAT=json` for JSON lines.

use tracing_subscriber::EnvFilter;

/// Installs the global subscriber once; later calls are ignored (tests call it many times).
pub fn init_tracing(json: bool) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| {
        EnvFilter::new("info,actix_server=warn,kube_client=warn,tower=warn,hyper=warn")
    });
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(true);
    let _ = if json {
        builder.json().try_init()
    } else {
        builder.try_init()
    };
}
