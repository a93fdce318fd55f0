//! `switchboard-mock`: the mock provider as a standalone server, for out-of-process tests
//! (SDK suites) and load benchmarks. Script it over HTTP with the `/__mock` routes.

use std::io::Write as _;
use std::net::SocketAddr;
use std::time::Duration;

use anyhow::Context as _;
use clap::Parser;
use testkit::{MockOptions, MockProvider};

/// A scriptable mock LLM provider (OpenAI wire format under /v1).
#[derive(Debug, Parser)]
#[command(name = "switchboard-mock", version)]
struct Args {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:9099")]
    listen: SocketAddr,
    /// Appended to the requested model name in responses (default "-0001").
    #[arg(long)]
    model_suffix: Option<String>,
    /// Stream generated text in N equal pieces instead of word by word.
    #[arg(long, value_name = "N")]
    stream_chunks: Option<usize>,
    /// Pause between stream events, in milliseconds.
    #[arg(long, value_name = "N", default_value_t = 0)]
    chunk_delay_ms: u64,
    /// Echo replies are exactly N words.
    #[arg(long, value_name = "N")]
    reply_words: Option<usize>,
    /// Send float embeddings even when base64 is asked for.
    #[arg(long)]
    embeddings_always_float: bool,
    /// Keep no request records, only count calls.
    #[arg(long)]
    quiet: bool,
    /// Tokio worker threads.
    #[arg(long, value_name = "N", default_value_t = 1)]
    workers: usize,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(args.workers.max(1))
        .enable_all()
        .build()
        .context("building the tokio runtime")?;
    runtime.block_on(run(args))
}

async fn run(args: Args) -> anyhow::Result<()> {
    let opts = MockOptions {
        model_suffix: args.model_suffix,
        stream_chunks: args.stream_chunks,
        chunk_delay: Duration::from_millis(args.chunk_delay_ms),
        reply_words: args.reply_words,
        embeddings_always_float: args.embeddings_always_float,
        quiet: args.quiet,
    };
    let mock = MockProvider::start_on(args.listen, opts)
        .await
        .with_context(|| format!("binding {}", args.listen))?;
    // Scripts wait for this exact first line.
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "listening on {}", mock.url())?;
    stdout.flush()?;
    drop(stdout);
    shutdown_signal().await;
    drop(mock);
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(e) = tokio::signal::ctrl_c().await {
            tracing::warn!(error = %e, "cannot listen for ctrl-c");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = terminate => {}
    }
}
