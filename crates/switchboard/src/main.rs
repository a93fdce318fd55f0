//! The `switchboard` binary: `serve` (the default), `config check`, `migrate` and `admin`.

mod admin;
mod housekeeping;
mod persist;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};
use gateway::{AppState, Config};
use tracing_subscriber::EnvFilter;

#[derive(Parser)]
#[command(
    name = "switchboard",
    version,
    about = "An LLM gateway: one endpoint, every dialect, any provider."
)]
struct Cli {
    /// Configuration file (default: ./switchboard.toml when present; none is needed).
    #[arg(long, short, global = true, env = "SWITCHBOARD_CONFIG")]
    config: Option<PathBuf>,
    /// Where the database and the secret key file live (default ~/.switchboard).
    #[arg(long, global = true, env = "SWITCHBOARD_DATA_DIR")]
    data_dir: Option<PathBuf>,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Start the gateway.
    Serve {
        /// Address to listen on (default 127.0.0.1:8790, or server.listen from the config).
        #[arg(long, env = "SWITCHBOARD_LISTEN")]
        listen: Option<SocketAddr>,
    },
    /// Work with the configuration.
    Config {
        #[command(subcommand)]
        command: ConfigCommand,
    },
    /// Apply the database migrations (serve also does this at start).
    Migrate,
    /// Users, keys and secrets, straight in the database.
    Admin {
        #[command(subcommand)]
        command: admin::AdminCommand,
    },
}

#[derive(Subcommand)]
enum ConfigCommand {
    /// Validate the configuration (file + environment) and say what it configures.
    Check,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging();
    let data_dir = persist::data_dir(cli.data_dir);
    let result = match cli.command.unwrap_or(Command::Serve { listen: None }) {
        Command::Serve { listen } => serve(cli.config, listen, &data_dir),
        Command::Config {
            command: ConfigCommand::Check,
        } => check(cli.config),
        Command::Migrate => block_on(async {
            persist::open_store(&data_dir).await?;
            println!("database migrated");
            Ok(())
        }),
        Command::Admin { command } => {
            block_on(admin::run(command, &data_dir, cli.config.as_deref()))
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// Logs go to stderr: `SWITCHBOARD_LOG` filters (default `info`), `SWITCHBOARD_LOG_FORMAT=json`
/// switches to one JSON object per line.
fn init_logging() {
    let filter =
        EnvFilter::try_from_env("SWITCHBOARD_LOG").unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if std::env::var("SWITCHBOARD_LOG_FORMAT").is_ok_and(|f| f == "json") {
        builder.json().flatten_event(true).init();
    } else {
        builder.init();
    }
}

fn load(path: Option<PathBuf>) -> anyhow::Result<Config> {
    Config::load(path.as_deref()).context("invalid configuration")
}

fn check(path: Option<PathBuf>) -> anyhow::Result<()> {
    let config = load(path)?;
    let source = config.source.as_ref().map_or_else(
        || "no file (defaults and environment)".to_owned(),
        |p| p.display().to_string(),
    );
    println!("configuration OK: {source}");
    describe(&config);
    Ok(())
}

/// Says which providers and models the configuration enables.
fn describe(config: &Config) {
    if config.providers.is_empty() {
        println!(
            "no providers: set a provider key such as OPENAI_API_KEY or GROQ_API_KEY, or declare [providers.NAME] in switchboard.toml"
        );
    }
    for p in &config.providers {
        let origin = match &p.origin {
            gateway::providers::Origin::DetectedFromEnv(var) => format!("from {var}"),
            gateway::providers::Origin::Config => "from config".to_owned(),
            gateway::providers::Origin::Store => "stored".to_owned(),
        };
        println!(
            "provider {:<14} {} ({origin}, {} key(s), {} known models)",
            p.id,
            p.base_url,
            p.credentials.len(),
            p.models.len()
        );
    }
    for m in config.models.values() {
        println!("model    {:<14} -> {}/{}", m.name, m.provider, m.model);
    }
}

fn block_on(work: impl std::future::Future<Output = anyhow::Result<()>>) -> anyhow::Result<()> {
    tokio::runtime::Runtime::new()
        .context("starting the async runtime")?
        .block_on(work)
}

fn serve(
    path: Option<PathBuf>,
    listen: Option<SocketAddr>,
    data_dir: &std::path::Path,
) -> anyhow::Result<()> {
    let mut config = load(path)?;
    if let Some(addr) = listen {
        config.server.listen = addr;
    }
    block_on(async move {
        let running = persist::start(data_dir).await?;
        let mut services = running.services.clone();
        let housekeeping = housekeeping::start(&config, &mut services);
        if let Some(store) = &services.store
            && let Some(password) = gateway::admin::ensure_admin_password(store)
                .await
                .context("setting up the admin password")?
        {
            println!(
                "admin password (shown once; set SWITCHBOARD_ADMIN_PASSWORD to choose your own): {}",
                password.expose()
            );
        }
        let keys = services.keys.clone();
        config
            .check_exposure(keys.as_ref().is_some_and(|k| !k.none_created()))
            .context("refusing to start")?;
        let listener = tokio::net::TcpListener::bind(config.server.listen)
            .await
            .with_context(|| format!("cannot listen on {}", config.server.listen))?;
        let addr = listener.local_addr()?;
        let state = AppState::with_services(config, services.clone())
            .context("building the HTTP client")?;
        state
            .reload_routing()
            .await
            .context("applying the stored providers, models and prices")?;
        describe(&state.config());
        // Keys, providers, models and prices changed elsewhere (the CLI, another instance)
        // show up within seconds.
        let refresher = {
            let state = state.clone();
            tokio::spawn(async move {
                loop {
                    tokio::time::sleep(std::time::Duration::from_secs(5)).await;
                    if let Some(keys) = &keys
                        && let Err(e) = keys.refresh().await
                    {
                        tracing::warn!(error = %e, "refreshing gateway keys failed");
                    }
                    if let Err(e) = state.reload_routing().await {
                        tracing::warn!(error = %e, "refreshing stored routing entries failed");
                    }
                }
            })
        };
        println!("switchboard listening on http://{addr}");
        tracing::info!(%addr, data_dir = %data_dir.display(), "listening");
        gateway::serve(listener, state, shutdown_signal()).await?;
        refresher.abort();
        // Requests are done: write the usage they left, then settle what is still open.
        let stats = running.writer.shutdown().await;
        housekeeping.shutdown().await;
        services.tasks.close();
        let _ =
            tokio::time::timeout(std::time::Duration::from_secs(5), services.tasks.wait()).await;
        services.limiter.shutdown().await;
        tracing::info!(
            written = stats.written,
            dropped = stats.dropped,
            failed = stats.failed,
            "usage records flushed; stopped"
        );
        Ok(())
    })
}

/// Resolves on SIGINT or SIGTERM.
async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
}
