//! The `switchboard` binary: `serve` (the default) and `config check`.

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
}

#[derive(Subcommand)]
enum ConfigCommand {
    /// Validate the configuration (file + environment) and say what it configures.
    Check,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging();
    let result = match cli.command.unwrap_or(Command::Serve { listen: None }) {
        Command::Serve { listen } => serve(cli.config, listen),
        Command::Config {
            command: ConfigCommand::Check,
        } => check(cli.config),
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

fn serve(path: Option<PathBuf>, listen: Option<SocketAddr>) -> anyhow::Result<()> {
    let mut config = load(path)?;
    if let Some(addr) = listen {
        config.server.listen = addr;
    }
    config.check_exposure().context("refusing to start")?;
    let runtime = tokio::runtime::Runtime::new().context("starting the async runtime")?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(config.server.listen)
            .await
            .with_context(|| format!("cannot listen on {}", config.server.listen))?;
        let addr = listener.local_addr()?;
        describe(&config);
        let state = AppState::new(config).context("building the HTTP client")?;
        println!("switchboard listening on http://{addr}");
        tracing::info!(%addr, "listening");
        gateway::serve(listener, state, shutdown_signal()).await?;
        tracing::info!("stopped");
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
