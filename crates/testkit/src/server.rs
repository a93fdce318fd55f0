//! The mock server: [`MockProvider`], its options, shared state and accept loop.
//!
//! Routes, in the order a request meets them:
//! 1. body limit (64 MiB, far above anything a test sends);
//! 2. wire-format routes (`openai::routes`: `/v1/...`; `anthropic::routes`: `/v1/messages`),
//!    which record the call, take the next scripted reply and render it in that format;
//!    — behind the bearer check of `oauth` when one is required;
//! 3. the OAuth2 token endpoint (`oauth::routes`: `/oauth/token`), not counted as a call;
//! 4. control routes (`/__mock/...`), which script the mock and are not counted;
//! 5. a 404 fallback, not counted.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::middleware;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto::Builder;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::task::{JoinHandle, JoinSet};

use crate::oauth::{OAuth, RequiredBearer};
use crate::record::{Recorded, Recorder};
use crate::script::{Reply, Script};
use crate::{anthropic, control, gemini, oauth, ollama, openai};

/// Largest request body the mock reads.
pub(crate) const BODY_LIMIT: usize = 64 * 1024 * 1024;

/// How the mock behaves when not scripted otherwise. `Default` gives the documented
/// defaults.
#[derive(Clone, Debug, Default)]
pub struct MockOptions {
    /// Appended to the requested model name in responses; `None` means `"-0001"`.
    pub model_suffix: Option<String>,
    /// Stream generated text in this many equal pieces instead of word by word.
    pub stream_chunks: Option<usize>,
    /// Pause between stream events of generated replies.
    pub chunk_delay: Duration,
    /// Echo replies are exactly this many words ("lorem ...") — for benchmarks.
    pub reply_words: Option<usize>,
    /// Always send float embeddings, ignoring `encoding_format` (like some providers).
    pub embeddings_always_float: bool,
    /// Count calls but keep no request records.
    pub quiet: bool,
}

impl MockOptions {
    pub(crate) fn model_suffix(&self) -> &str {
        self.model_suffix.as_deref().unwrap_or("-0001")
    }
}

/// State every route handler shares.
pub(crate) struct Shared {
    pub opts: MockOptions,
    pub script: Script,
    pub recorder: Arc<Recorder>,
    pub oauth: OAuth,
    seq: AtomicU64,
}

/// Identity of one generated response.
pub(crate) struct Meta {
    /// Sequence number, unique per response of this mock (starts at 1).
    pub seq: u64,
    /// The requested model plus the configured suffix.
    pub model: String,
    /// Unix seconds.
    pub created: u64,
}

impl Shared {
    pub(crate) fn meta(&self, requested_model: &str) -> Meta {
        let suffix = self.opts.model_suffix();
        let mut model = String::with_capacity(requested_model.len() + suffix.len());
        model.push_str(requested_model);
        model.push_str(suffix);
        Meta {
            seq: self.seq.fetch_add(1, Ordering::Relaxed) + 1,
            model,
            created: unix_now(),
        }
    }
}

pub(crate) fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// A running mock provider. Dropping it shuts the server down, closing every
/// connection (including hanging and streaming ones).
pub struct MockProvider {
    shared: Arc<Shared>,
    addr: SocketAddr,
    server: JoinHandle<()>,
}

impl MockProvider {
    /// Starts a mock with default options on `127.0.0.1` and a free port.
    ///
    /// # Panics
    /// If no local port can be bound — a broken test environment.
    pub async fn start() -> MockProvider {
        let addr = SocketAddr::from(([127, 0, 0, 1], 0));
        match MockProvider::start_on(addr, MockOptions::default()).await {
            Ok(mock) => mock,
            Err(e) => panic!("testkit: cannot bind {addr}: {e}"),
        }
    }

    /// Starts a mock on `addr` (port 0 picks a free port).
    pub async fn start_on(addr: SocketAddr, opts: MockOptions) -> std::io::Result<MockProvider> {
        let listener = TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared {
            recorder: Arc::new(Recorder::new(opts.quiet)),
            opts,
            script: Script::new(),
            oauth: OAuth::new(),
            seq: AtomicU64::new(0),
        });
        let app = router(Arc::clone(&shared));
        let server = tokio::spawn(serve(listener, app));
        Ok(MockProvider {
            shared,
            addr,
            server,
        })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:PORT`
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The OpenAI base URL: [`MockProvider::url`] + `/v1`.
    pub fn openai_base(&self) -> String {
        format!("http://{}/v1", self.addr)
    }

    /// The base URL of the mock's Gemini API (Google AI Studio form): `{url}/v1beta`.
    pub fn gemini_base(&self) -> String {
        format!("{}/v1beta", self.url())
    }

    /// The base URL of the mock's Gemini API in the Vertex AI form, for `project` in
    /// `location`.
    pub fn vertex_base(&self, project: &str, location: &str) -> String {
        format!(
            "{}/v1/projects/{project}/locations/{location}/publishers/google",
            self.url()
        )
    }

    /// Queues `reply` for the next request to a scripted route.
    pub fn push(&self, reply: Reply) {
        self.shared.script.push(reply);
    }

    /// The reply used when the queue is empty (initially [`Reply::Echo`]).
    pub fn set_default(&self, reply: Reply) {
        self.shared.script.set_default(reply);
    }

    /// Requests received on API routes (control routes are not counted).
    pub fn calls(&self) -> usize {
        self.shared.recorder.calls()
    }

    /// Every recorded API request, oldest first (empty in quiet mode).
    pub fn requests(&self) -> Vec<Recorded> {
        self.shared.recorder.requests()
    }

    pub fn last_request(&self) -> Option<Recorded> {
        self.shared.recorder.last_request()
    }

    /// Response bodies currently being streamed.
    pub fn open_streams(&self) -> usize {
        self.shared.recorder.open_streams()
    }

    /// Streamed bodies dropped (by a client going away) before they finished.
    pub fn cancelled_streams(&self) -> usize {
        self.shared.recorder.cancelled_streams()
    }

    /// Waits until at least `n` calls were received; `false` on timeout.
    pub async fn wait_for_calls(&self, n: usize, timeout: Duration) -> bool {
        self.shared.recorder.wait_for_calls(n, timeout).await
    }

    /// Polls `condition` every few milliseconds until it holds; `false` on timeout.
    /// Useful for stream counters, which move when the server notices a disconnect.
    pub async fn wait_until(
        &self,
        timeout: Duration,
        condition: impl Fn(&MockProvider) -> bool,
    ) -> bool {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            if condition(self) {
                return true;
            }
            if tokio::time::Instant::now() >= deadline {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    /// Configures the OAuth2 token endpoint (`POST /oauth/token`): issued tokens expire in
    /// `expires_in_s` seconds (default 3600), and with `rotate_refresh_token` each grant
    /// also issues a new refresh token, the only one accepted from then on.
    pub fn set_oauth(&self, expires_in_s: u64, rotate_refresh_token: bool) {
        self.shared
            .oauth
            .configure(expires_in_s, rotate_refresh_token);
    }

    /// Requests received by the token endpoint, whatever their outcome.
    pub fn oauth_refreshes(&self) -> usize {
        self.shared.oauth.requests()
    }

    /// The refresh token the token endpoint accepts now (`refresh-0` until one rotates).
    pub fn oauth_refresh_token(&self) -> String {
        self.shared.oauth.refresh_token()
    }

    /// The access token issued last (`tok-N`), if any.
    pub fn oauth_access_token(&self) -> Option<String> {
        self.shared.oauth.current_token()
    }

    /// The form fields of the last token request.
    pub fn last_oauth_form(&self) -> Option<BTreeMap<String, String>> {
        self.shared.oauth.last_form()
    }

    /// Makes every API route answer 401 unless the request carries this bearer token
    /// (`None`, the default, accepts anything). Rejected requests count as calls.
    pub fn require_bearer(&self, required: Option<RequiredBearer>) {
        self.shared.oauth.require(required);
    }

    /// Clears the reply queue, the records and the counters, restores the default reply
    /// to [`Reply::Echo`] and the token endpoint and bearer check to their defaults.
    /// `open_streams` keeps counting bodies still in flight.
    pub fn reset(&self) {
        reset(&self.shared);
    }
}

impl Drop for MockProvider {
    fn drop(&mut self) {
        // Dropping the accept loop drops its JoinSet, which aborts every connection.
        self.server.abort();
    }
}

impl std::fmt::Debug for MockProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MockProvider")
            .field("addr", &self.addr)
            .field("calls", &self.calls())
            .finish_non_exhaustive()
    }
}

pub(crate) fn reset(shared: &Shared) {
    shared.script.reset();
    shared.recorder.reset();
    shared.oauth.reset();
}

fn router(shared: Arc<Shared>) -> Router {
    let bearer = middleware::from_fn_with_state(Arc::clone(&shared), oauth::check_bearer);
    openai::routes()
        .merge(anthropic::routes())
        .merge(gemini::routes())
        .merge(ollama::routes())
        .route_layer(bearer)
        .merge(oauth::routes())
        .merge(control::routes())
        .fallback(openai::not_found)
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .with_state(shared)
}

/// Accepts connections until aborted. Connection tasks live in a `JoinSet` owned by this
/// future, so aborting it closes them all.
async fn serve(listener: TcpListener, app: Router) {
    let builder = Builder::new(TokioExecutor::new());
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((tcp, _)) => {
                    // Streaming tests and benchmarks want each event on the wire at once.
                    let _ = tcp.set_nodelay(true);
                    let service = TowerToHyperService::new(app.clone());
                    let builder = builder.clone();
                    connections.spawn(async move {
                        if let Err(e) = builder
                            .serve_connection_with_upgrades(TokioIo::new(tcp), service)
                            .await
                        {
                            tracing::trace!(error = %e, "testkit: connection ended with an error");
                        }
                    });
                }
                Err(e) => {
                    // Typically out of file descriptors under load: back off briefly.
                    tracing::warn!(error = %e, "testkit: accept failed");
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
            },
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
}
