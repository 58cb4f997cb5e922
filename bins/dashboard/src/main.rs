//! `dashboard`: the REST API of cube-studio for its React front end.
//!
//! `dashboard migrate` applies pending migrations; `dashboard init` seeds; `dashboard`
//! (no argument) migrates and serves HTTP on `DASHBOARD_ADDR`.

use std::process::ExitCode;

use app_core::Config;
use app_core::database::{wait_for_database, with_conn};
use app_core::telemetry::init_tracing;

use dashboard::{seed, server, views};

/// mimalloc: the list path allocates many small JSON values per request, and glibc's
/// malloc spent about a third of the CPU on them (see README, benchmarks). Built without
/// transparent huge pages (`no_thp`): with them the resident set grew by half.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

const USAGE: &str =
    "usage: dashboard [migrate [--revert-all] | init | serve | keys rotate <session|token>]";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let config = match Config::from_env() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    init_tracing(config.log_json);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async move {
        match args.first().map(String::as_str) {
            Some("migrate") => {
                migrate(
                    &config,
                    args.get(1).map(String::as_str) == Some("--revert-all"),
                )
                .await
            }
            Some("init") => init(&config).await,
            Some("keys") => keys(&config, &args[1..]).await,
            None | Some("serve") => server::serve(config).await,
            Some("-h") | Some("--help") | Some("help") => {
                println!("{USAGE}");
                Ok(())
            }
            Some(other) => Err(anyhow::anyhow!("unknown command {other:?}; {USAGE}")),
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = %format!("{e:#}"), "dashboard failed");
            ExitCode::FAILURE
        }
    }
}

async fn migrate(config: &Config, revert_all: bool) -> anyhow::Result<()> {
    let Some(pool) = wait_for_database(&config.database_url, 1, true, None).await else {
        anyhow::bail!("database unreachable");
    };
    let done = with_conn(&pool, move |conn| {
        if revert_all {
            app_models::db::revert_all_migrations(conn)
        } else {
            app_models::db::run_migrations(conn)
        }
    })
    .await?;
    if revert_all {
        tracing::info!(reverted = ?done, "migrations reverted");
    } else if done.is_empty() {
        tracing::info!("database is up to date");
    } else {
        tracing::info!(applied = ?done, "migrations applied");
    }
    Ok(())
}

async fn init(config: &Config) -> anyhow::Result<()> {
    migrate(config, false).await?;
    let Some(pool) = wait_for_database(&config.database_url, 1, false, None).await else {
        anyhow::bail!("database unreachable");
    };
    let cfg = config.clone();
    let report = with_conn(&pool, move |conn| {
        let report = seed::run_seed(conn, &cfg, views::customize_job())?;
        dashboard::auth::keys::load_or_create(conn, &cfg)?;
        Ok(report)
    })
    .await?;
    tracing::info!(rows_inserted = report.inserted, "seed data in place");
    if let Some(password) = report.generated_admin_password {
        // on stdout, once: it is stored only as a hash
        println!(
            "generated admin password for user '{}': {password}  (shown once; set ADMIN_PASSWORD to choose it)",
            config.admin_username
        );
    }
    Ok(())
}

/// `dashboard keys rotate <session|token>`: replaces a generated key in the database.
async fn keys(config: &Config, args: &[String]) -> anyhow::Result<()> {
    use dashboard::auth::keys::{KeyKind, rotate};
    let kind = match (
        args.first().map(String::as_str),
        args.get(1).map(String::as_str),
    ) {
        (Some("rotate"), Some("session")) => KeyKind::Session,
        (Some("rotate"), Some("token")) => KeyKind::Token,
        _ => anyhow::bail!("{USAGE}"),
    };
    let configured = match kind {
        KeyKind::Session => config.secret_key.is_some(),
        KeyKind::Token => config.jwt_password.is_some(),
    };
    if configured {
        tracing::warn!(
            "this key is set in the environment, which overrides the stored one: change the environment variable instead"
        );
    }
    let Some(pool) = wait_for_database(&config.database_url, 1, false, None).await else {
        anyhow::bail!("database unreachable");
    };
    with_conn(&pool, move |conn| rotate(conn, kind).map_err(Into::into)).await?;
    println!(
        "{} key rotated: restart every dashboard replica to use it",
        kind.setting_name()
    );
    Ok(())
}
