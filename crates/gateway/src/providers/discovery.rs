//! Model discovery: each provider's own model list, fetched on demand and cached per
//! provider, with the context window and output limit read wherever the provider puts them.
//!
//! A call to [`Discovery::models`] goes:
//! 1. a fresh cached list (younger than the TTL) is returned as is;
//! 2. a failure younger than [`NEGATIVE_TTL`] is not retried: the stale list if there is one,
//!    else the failure's reason;
//! 3. otherwise one caller per provider fetches (the others wait for it and read its result);
//!    a failed fetch serves the stale list if there is one.
//!
//! Every call returns within the fetch timeout, waiting included, so a dead provider costs a
//! listing at most one timeout per [`NEGATIVE_TTL`]. Fetching is one `match` arm per wire
//! format ([`fetch`]); only the OpenAI format (`GET {base_url}/models`) exists today.

use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use http::HeaderValue;
use parking_lot::Mutex;
use serde_json::Value;
use tokio::time::{Instant, timeout};
use wire::WireFormat;

use super::Provider;
use super::credentials::{CredentialOutcome, PoolError};
use crate::secret::Secret;

/// How long a fetched list is served without asking again.
pub const DEFAULT_TTL: Duration = Duration::from_secs(10 * 60);
/// How long one fetch (connect, headers and body) may take.
pub const DEFAULT_FETCH_TIMEOUT: Duration = Duration::from_secs(5);
/// How long a failed fetch is remembered before the provider is asked again.
pub const NEGATIVE_TTL: Duration = Duration::from_secs(30);

/// Largest model-list body read (OpenRouter's, the largest known, is a few MiB).
const MAX_LIST_BODY: usize = 32 << 20;
/// How much of an error body is read to say what went wrong.
const MAX_ERROR_BODY: usize = 4 << 10;

/// One model as the provider lists it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DiscoveredModel {
    /// The provider's own name for it (what goes after `provider/`).
    pub id: String,
    pub owned_by: Option<String>,
    pub context_window: Option<u64>,
    pub max_output_tokens: Option<u64>,
    /// Unix seconds.
    pub created: Option<u64>,
}

/// The context window shown for a model: the first source that knows it, in the order the
/// listing trusts them — the upstream's own metadata, the provider's configuration, the
/// built-in catalog, the route or virtual-model configuration, then the global default.
/// Zero counts as unknown.
pub fn merge_context_window(
    upstream: Option<u64>,
    provider_cfg: Option<u64>,
    catalog: Option<u64>,
    route_cfg: Option<u64>,
    default: u64,
) -> u64 {
    [upstream, provider_cfg, catalog, route_cfg]
        .into_iter()
        .flatten()
        .find(|&n| n > 0)
        .unwrap_or(default)
}

/// Parses an OpenAI-style model list: `{"data": [...]}`, or a bare array (Together).
///
/// Entries without an `id`, and Groq's `"active": false` ones, are skipped; a repeated id
/// keeps its first entry. Limits are read from whichever field the provider uses:
/// - context window: `context_window` (Groq), `context_length` (OpenRouter, Together),
///   `max_model_len` (vLLM), `max_context_length` (Mistral, LM Studio),
///   `top_provider.context_length` (OpenRouter), `max_input_tokens`;
/// - output: `max_output_tokens`, `max_completion_tokens` (Groq),
///   `top_provider.max_completion_tokens` (OpenRouter).
///
/// Counts may be integers, integral floats or numeric strings; zero and null mean unknown.
pub fn parse_openai_models(body: &[u8]) -> Result<Vec<DiscoveredModel>, String> {
    let value: Value =
        serde_json::from_slice(body).map_err(|e| format!("model list is not JSON: {e}"))?;
    let entries = match &value {
        Value::Array(entries) => entries,
        Value::Object(object) => match object.get("data") {
            Some(Value::Array(entries)) => entries,
            _ => return Err("model list has no `data` array".into()),
        },
        _ => return Err("model list is neither an object nor an array".into()),
    };
    let mut seen = HashSet::with_capacity(entries.len());
    Ok(entries
        .iter()
        .filter_map(parse_openai_entry)
        .filter(|m| seen.insert(m.id.clone()))
        .collect())
}

fn parse_openai_entry(entry: &Value) -> Option<DiscoveredModel> {
    let id = entry.get("id")?.as_str()?.trim();
    if id.is_empty() || entry.get("active").and_then(Value::as_bool) == Some(false) {
        return None;
    }
    let top = entry.get("top_provider");
    let context_window = first_count(
        entry,
        &[
            "context_window",
            "context_length",
            "max_model_len",
            "max_context_length",
        ],
    )
    .or_else(|| top.and_then(|t| count(t.get("context_length"))))
    .or_else(|| count(entry.get("max_input_tokens")));
    let max_output_tokens = first_count(entry, &["max_output_tokens", "max_completion_tokens"])
        .or_else(|| top.and_then(|t| count(t.get("max_completion_tokens"))));
    let owned_by = ["owned_by", "organization"]
        .iter()
        .filter_map(|k| entry.get(*k).and_then(Value::as_str))
        .map(str::trim)
        .find(|s| !s.is_empty())
        .map(str::to_owned);
    Some(DiscoveredModel {
        id: id.to_owned(),
        owned_by,
        context_window,
        max_output_tokens,
        created: count(entry.get("created")),
    })
}

fn first_count(entry: &Value, keys: &[&str]) -> Option<u64> {
    keys.iter().find_map(|k| count(entry.get(*k)))
}

/// A positive token count or timestamp, however the provider spelled it.
fn count(value: Option<&Value>) -> Option<u64> {
    /// 2^53: above this a float no longer holds every integer exactly.
    const MAX_EXACT: f64 = 9_007_199_254_740_992.0;
    let n = match value? {
        Value::Number(n) => match n.as_u64() {
            Some(n) => n,
            None => {
                let f = n.as_f64()?;
                if !((1.0..MAX_EXACT).contains(&f) && f.fract() == 0.0) {
                    return None;
                }
                #[expect(
                    clippy::cast_possible_truncation,
                    clippy::cast_sign_loss,
                    reason = "checked above: a positive integral value below 2^53"
                )]
                let n = f as u64;
                n
            }
        },
        Value::String(s) => s.trim().parse().ok()?,
        _ => return None,
    };
    (n > 0).then_some(n)
}

/// Starts `GET {base_url}{path}` with the credential and the provider's headers, authenticated
/// as [`super::openai::request`] authenticates its calls.
pub fn get_request(
    http: &reqwest::Client,
    provider: &Provider,
    path: &str,
    credential: Option<&Secret>,
) -> reqwest::RequestBuilder {
    let req = http.get(format!("{}{path}", provider.base_url)).header(
        http::header::ACCEPT,
        HeaderValue::from_static("application/json"),
    );
    super::openai::authorize(req, provider, credential)
}

/// Fetches the provider's model list in its wire format (no caching, no timeout).
async fn fetch(
    http: &reqwest::Client,
    provider: &Provider,
) -> Result<Vec<DiscoveredModel>, String> {
    list(http, provider).await.1
}

/// One `GET /models` (in the provider's wire format) with a credential from its pool; the
/// HTTP status when an answer came back.
async fn list(
    http: &reqwest::Client,
    provider: &Provider,
) -> (Option<u16>, Result<Vec<DiscoveredModel>, String>) {
    type Parse = fn(&[u8]) -> Result<Vec<DiscoveredModel>, String>;
    let (path, parse): (&str, Parse) = match provider.wire_format {
        // Anthropic's `GET /v1/models` lists `{"data": [{"id", ...}]}` too.
        WireFormat::OpenAi | WireFormat::Anthropic => ("/models", parse_openai_models),
        WireFormat::Gemini => ("/models", parse_gemini_models),
        WireFormat::Ollama => ("/api/tags", parse_ollama_models),
    };
    let lease = match provider.credentials.acquire(http, &[]).await {
        Ok(lease) => Some(lease),
        Err(PoolError::Empty) => None,
        Err(e) => return (None, Err(e.to_string())),
    };
    let request = get_request(http, provider, path, lease.as_ref().map(|l| &l.token));
    let (status, body) = read_body(request).await;
    if let Some(lease) = &lease {
        // A model list says little about a credential's health either way.
        provider
            .credentials
            .report(lease, CredentialOutcome::Neutral);
    }
    (status, body.and_then(|b| parse(&b)))
}

/// Ollama's `GET /api/tags`: `{"models": [{"name": "llama3.2:latest", ...}]}`.
pub fn parse_ollama_models(body: &[u8]) -> Result<Vec<DiscoveredModel>, String> {
    let value: Value =
        serde_json::from_slice(body).map_err(|e| format!("model list is not JSON: {e}"))?;
    let Some(Value::Array(entries)) = value.get("models") else {
        return Err("model list has no `models` array".into());
    };
    let mut seen = HashSet::with_capacity(entries.len());
    Ok(entries
        .iter()
        .filter_map(|entry| {
            let id = entry
                .get("name")
                .or_else(|| entry.get("model"))?
                .as_str()?
                .trim();
            (!id.is_empty()).then(|| DiscoveredModel {
                id: id.to_owned(),
                owned_by: None,
                context_window: None,
                max_output_tokens: None,
                created: None,
            })
        })
        .filter(|m| seen.insert(m.id.clone()))
        .collect())
}

/// Gemini's `{"models": [{"name": "models/ID", "inputTokenLimit", "outputTokenLimit",
/// "supportedGenerationMethods"}]}`: the models that generate content, without the
/// `models/` prefix.
pub fn parse_gemini_models(body: &[u8]) -> Result<Vec<DiscoveredModel>, String> {
    let value: Value =
        serde_json::from_slice(body).map_err(|e| format!("model list is not JSON: {e}"))?;
    let Some(Value::Array(entries)) = value.get("models") else {
        return Err("model list has no `models` array".into());
    };
    let generates = |entry: &Value| match entry.get("supportedGenerationMethods") {
        Some(Value::Array(methods)) => methods.iter().any(|m| m == "generateContent"),
        _ => true,
    };
    let mut seen = HashSet::with_capacity(entries.len());
    Ok(entries
        .iter()
        .filter(|e| generates(e))
        .filter_map(|entry| {
            let name = entry.get("name")?.as_str()?.trim();
            let id = name.strip_prefix("models/").unwrap_or(name);
            (!id.is_empty()).then(|| DiscoveredModel {
                id: id.to_owned(),
                owned_by: Some("google".into()),
                context_window: count(entry.get("inputTokenLimit")),
                max_output_tokens: count(entry.get("outputTokenLimit")),
                created: None,
            })
        })
        .filter(|m| seen.insert(m.id.clone()))
        .collect())
}

/// What one uncached model-list request found: for "test connection" and "discover".
#[derive(Debug)]
pub struct Probe {
    /// The upstream's HTTP status, when it answered at all.
    pub status: Option<u16>,
    /// From sending the request to the end of the body (or the failure).
    pub latency: Duration,
    /// The models listed, or a short reason (never a credential).
    pub models: Result<Vec<DiscoveredModel>, String>,
}

/// Asks the provider for its model list now, bypassing the cache: one cheap authenticated
/// request, given up after `limit`.
pub async fn probe(http: &reqwest::Client, provider: &Provider, limit: Duration) -> Probe {
    let started = Instant::now();
    let (status, models) = match timeout(limit, list(http, provider)).await {
        Ok(answer) => answer,
        Err(_) => (
            None,
            Err(format!("no answer within {}s", limit.as_secs_f32())),
        ),
    };
    Probe {
        status,
        latency: started.elapsed(),
        models,
    }
}

/// [`probe`] with a client of its own, for the CLI: the models, or why there are none
/// (the upstream's status and message).
pub async fn detect(provider: &Provider, limit: Duration) -> Result<Vec<DiscoveredModel>, String> {
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("switchboard/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| root_cause(&e))?;
    probe(&http, provider, limit).await.models
}

/// Puts each model into a stored provider config's `models` table (the shape of
/// `[providers.ID.models]`), filling in the context window and output limit the upstream
/// gave where none is set; nothing set is overwritten.
pub fn merge_into_config(config: &mut Value, models: &[DiscoveredModel]) {
    let Some(object) = config.as_object_mut() else {
        return;
    };
    let table = object
        .entry("models")
        .or_insert_with(|| Value::Object(serde_json::Map::new()));
    if !table.is_object() {
        *table = Value::Object(serde_json::Map::new());
    }
    let Some(table) = table.as_object_mut() else {
        return;
    };
    for m in models {
        let entry = table
            .entry(m.id.clone())
            .or_insert_with(|| Value::Object(serde_json::Map::new()));
        let Some(entry) = entry.as_object_mut() else {
            continue;
        };
        for (key, value) in [
            ("context_window", m.context_window),
            ("max_output_tokens", m.max_output_tokens),
        ] {
            if let Some(v) = value {
                entry.entry(key).or_insert(Value::from(v));
            }
        }
    }
}

/// Sends the request and reads a successful body; anything else becomes a short reason.
/// The status is there whenever response headers arrived.
async fn read_body(request: reqwest::RequestBuilder) -> (Option<u16>, Result<Vec<u8>, String>) {
    let response = match request.send().await {
        Ok(response) => response,
        Err(e) => return (None, Err(root_cause(&e))),
    };
    let status = response.status();
    let cap = if status.is_success() {
        MAX_LIST_BODY
    } else {
        MAX_ERROR_BODY
    };
    let mut body = Vec::new();
    let mut stream = response.bytes_stream();
    while let Some(chunk) = stream.next().await {
        let chunk = match chunk {
            Ok(chunk) => chunk,
            Err(e) => return (Some(status.as_u16()), Err(root_cause(&e))),
        };
        if body.len() + chunk.len() > cap {
            if status.is_success() {
                return (
                    Some(status.as_u16()),
                    Err(format!("model list larger than {} MiB", cap >> 20)),
                );
            }
            body.extend_from_slice(&chunk[..cap - body.len()]);
            break;
        }
        body.extend_from_slice(&chunk);
    }
    let result = if status.is_success() {
        Ok(body)
    } else {
        Err(format!(
            "HTTP {}: {}",
            status.as_u16(),
            error_message(&body)
        ))
    };
    (Some(status.as_u16()), result)
}

/// The upstream's `error.message` (or `error` string, or `message`), else the body's start.
fn error_message(body: &[u8]) -> String {
    let from_json = serde_json::from_slice::<Value>(body).ok().and_then(|v| {
        let error = v.get("error");
        error
            .and_then(|e| e.get("message"))
            .or(error)
            .or(v.get("message"))
            .and_then(Value::as_str)
            .map(str::to_owned)
    });
    let text = from_json.unwrap_or_else(|| String::from_utf8_lossy(body).trim().to_owned());
    let text: String = text.chars().take(200).collect();
    if text.is_empty() {
        "(empty body)".into()
    } else {
        text
    }
}

/// The innermost cause, which says what happened ("Connection refused").
fn root_cause(e: &(dyn std::error::Error + 'static)) -> String {
    let mut cur = e;
    while let Some(next) = cur.source() {
        cur = next;
    }
    cur.to_string()
}

/// The per-provider model-list cache. Cheap to clone (one `Arc`); hold one in the server
/// state for the life of the process — it survives configuration reloads, and a provider
/// whose base URL changed starts afresh.
#[derive(Clone)]
pub struct Discovery(Arc<Inner>);

struct Inner {
    clock: Clock,
    ttl: Duration,
    negative_ttl: Duration,
    fetch_timeout: Duration,
    slots: Mutex<HashMap<String, Arc<Slot>>>,
}

/// Where cache ages are measured from: tokio's clock, or in tests one moved by hand.
enum Clock {
    Tokio,
    #[cfg(test)]
    Manual(Mutex<Instant>),
}

impl Clock {
    fn now(&self) -> Instant {
        match self {
            Self::Tokio => Instant::now(),
            #[cfg(test)]
            Self::Manual(now) => *now.lock(),
        }
    }
}

/// One provider's cache entry.
struct Slot {
    /// What the list was fetched from: a provider reconfigured elsewhere gets a new slot.
    base_url: String,
    state: Mutex<State>,
    /// Held by the one caller fetching; the others queue on it, then read `state`.
    fetching: tokio::sync::Mutex<()>,
}

#[derive(Default)]
struct State {
    /// The last list fetched, and when.
    list: Option<(Arc<Vec<DiscoveredModel>>, Instant)>,
    /// The last failure since then, and when.
    failure: Option<(String, Instant)>,
}

impl Default for Discovery {
    fn default() -> Self {
        Self::new(DEFAULT_TTL, DEFAULT_FETCH_TIMEOUT)
    }
}

impl std::fmt::Debug for Discovery {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Discovery")
            .field("ttl", &self.0.ttl)
            .field("fetch_timeout", &self.0.fetch_timeout)
            .field("providers", &self.0.slots.lock().len())
            .finish()
    }
}

impl Discovery {
    /// Lists are served for `ttl`; a fetch, waiting included, is given up after
    /// `fetch_timeout`. Failures are remembered for [`NEGATIVE_TTL`] (or `ttl`, if shorter).
    pub fn new(ttl: Duration, fetch_timeout: Duration) -> Self {
        Self::with_clock(Clock::Tokio, ttl, fetch_timeout)
    }

    fn with_clock(clock: Clock, ttl: Duration, fetch_timeout: Duration) -> Self {
        Self(Arc::new(Inner {
            clock,
            ttl,
            negative_ttl: NEGATIVE_TTL.min(ttl),
            fetch_timeout,
            slots: Mutex::new(HashMap::new()),
        }))
    }

    /// The provider's models: cached if fresh, else fetched once for all concurrent callers.
    /// A failure serves the stale list if there is one, else `Err` with a short reason.
    pub async fn models(
        &self,
        http: &reqwest::Client,
        provider: &Provider,
    ) -> Result<Arc<Vec<DiscoveredModel>>, String> {
        self.models_with(&provider.id, &provider.base_url, || fetch(http, provider))
            .await
    }

    /// Every provider's models, fetched concurrently; returns within the fetch timeout.
    /// Providers with neither a list nor a stale one are left out (their failure is logged).
    pub async fn all(
        &self,
        http: &reqwest::Client,
        providers: &[Arc<Provider>],
    ) -> HashMap<String, Arc<Vec<DiscoveredModel>>> {
        let lookups = providers.iter().map(|p| async move {
            let models = self.models(http, p).await;
            (p.id.clone(), models)
        });
        futures_util::future::join_all(lookups)
            .await
            .into_iter()
            .filter_map(|(id, models)| Some((id, models.ok()?)))
            .collect()
    }

    /// The last list fetched for this provider, fresh or stale, without fetching.
    pub fn cached(&self, provider_id: &str) -> Option<Arc<Vec<DiscoveredModel>>> {
        let slot = self.0.slots.lock().get(provider_id).cloned()?;
        let state = slot.state.lock();
        state.list.as_ref().map(|(list, _)| Arc::clone(list))
    }

    /// [`Discovery::models`] with the fetch passed in, so the caching is tested without I/O.
    async fn models_with<F, Fut>(
        &self,
        provider_id: &str,
        base_url: &str,
        fetch: F,
    ) -> Result<Arc<Vec<DiscoveredModel>>, String>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<Vec<DiscoveredModel>, String>>,
    {
        let started = Instant::now();
        let slot = self.slot(provider_id, base_url);
        if let Some(answer) = self.lookup(&slot) {
            return answer;
        }
        let Ok(_fetching) = timeout(self.0.fetch_timeout, slot.fetching.lock()).await else {
            return stale_or(&slot, self.timeout_reason());
        };
        // Whoever held the lock may have just refreshed (or failed).
        if let Some(answer) = self.lookup(&slot) {
            return answer;
        }
        let left = self.0.fetch_timeout.saturating_sub(started.elapsed());
        let outcome = match timeout(left, fetch()).await {
            Ok(outcome) => outcome,
            Err(_) => Err(self.timeout_reason()),
        };
        let now = self.0.clock.now();
        let mut state = slot.state.lock();
        match outcome {
            Ok(list) => {
                tracing::debug!(
                    provider = provider_id,
                    models = list.len(),
                    "model list fetched"
                );
                let list = Arc::new(list);
                state.list = Some((Arc::clone(&list), now));
                state.failure = None;
                Ok(list)
            }
            Err(reason) => {
                let stale = state.list.as_ref().map(|(list, _)| Arc::clone(list));
                tracing::warn!(
                    provider = provider_id,
                    error = %reason,
                    serving_stale = stale.is_some(),
                    "model list fetch failed"
                );
                state.failure = Some((reason.clone(), now));
                stale.ok_or(reason)
            }
        }
    }

    fn timeout_reason(&self) -> String {
        format!(
            "no model list within {}s",
            self.0.fetch_timeout.as_secs_f32()
        )
    }

    /// The provider's slot, replaced if its base URL changed.
    fn slot(&self, provider_id: &str, base_url: &str) -> Arc<Slot> {
        let mut slots = self.0.slots.lock();
        if let Some(slot) = slots.get(provider_id)
            && slot.base_url == base_url
        {
            return Arc::clone(slot);
        }
        let slot = Arc::new(Slot {
            base_url: base_url.to_owned(),
            state: Mutex::new(State::default()),
            fetching: tokio::sync::Mutex::new(()),
        });
        slots.insert(provider_id.to_owned(), Arc::clone(&slot));
        slot
    }

    /// An answer that needs no fetch: a fresh list, or a recent failure (with the stale list
    /// if there is one).
    fn lookup(&self, slot: &Slot) -> Option<Result<Arc<Vec<DiscoveredModel>>, String>> {
        let now = self.0.clock.now();
        let state = slot.state.lock();
        if let Some((list, at)) = &state.list
            && now.saturating_duration_since(*at) < self.0.ttl
        {
            return Some(Ok(Arc::clone(list)));
        }
        let (reason, at) = state.failure.as_ref()?;
        if now.saturating_duration_since(*at) >= self.0.negative_ttl {
            return None;
        }
        Some(match &state.list {
            Some((list, _)) => Ok(Arc::clone(list)),
            None => Err(reason.clone()),
        })
    }
}

fn stale_or(slot: &Slot, reason: String) -> Result<Arc<Vec<DiscoveredModel>>, String> {
    let state = slot.state.lock();
    state
        .list
        .as_ref()
        .map(|(list, _)| Arc::clone(list))
        .ok_or(reason)
}

#[cfg(test)]
#[expect(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]
mod tests {
    use std::collections::BTreeMap;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use http::HeaderName;

    use super::*;
    use crate::providers::AuthStyle;
    use crate::providers::credentials::CredentialPool;
    use crate::providers::{Origin, Timeouts};
    use crate::secret::Secret;

    fn model(id: &str) -> DiscoveredModel {
        DiscoveredModel {
            id: id.into(),
            ..DiscoveredModel::default()
        }
    }

    #[test]
    fn gemini_model_lists_keep_generating_models_without_their_prefix() {
        let body = br#"{"models": [
            {"name": "models/gemini-2.5-flash", "inputTokenLimit": 1048576, "outputTokenLimit": 65536,
             "supportedGenerationMethods": ["generateContent", "countTokens"]},
            {"name": "models/text-embedding-004", "supportedGenerationMethods": ["embedContent"]}
        ]}"#;
        let models = parse_gemini_models(body).unwrap();
        assert_eq!(ids(&models), ["gemini-2.5-flash"]);
        assert_eq!(models[0].context_window, Some(1_048_576));
        assert_eq!(models[0].max_output_tokens, Some(65_536));
        assert!(parse_gemini_models(br#"{"data": []}"#).is_err());
    }

    fn ids(models: &[DiscoveredModel]) -> Vec<&str> {
        models.iter().map(|m| m.id.as_str()).collect()
    }

    #[test]
    fn parses_a_plain_openai_list() {
        let body = br#"{"object":"list","data":[
            {"id":"gpt-4o","object":"model","created":1715367049,"owned_by":"system"},
            {"id":"gpt-4o-mini","object":"model","created":1721172741,"owned_by":"system"}]}"#;
        let models = parse_openai_models(body).unwrap();
        assert_eq!(ids(&models), ["gpt-4o", "gpt-4o-mini"]);
        assert_eq!(
            models[0],
            DiscoveredModel {
                id: "gpt-4o".into(),
                owned_by: Some("system".into()),
                context_window: None,
                max_output_tokens: None,
                created: Some(1_715_367_049),
            }
        );
    }

    #[test]
    fn parses_openrouter() {
        // Top-level `context_length` wins over the top provider's; output from top_provider.
        let body = br#"{"data":[
            {"id":"anthropic/claude-sonnet-4","name":"Claude Sonnet 4","created":1747930371,
             "context_length":1000000,
             "architecture":{"input_modalities":["text","image"],"tokenizer":"Claude"},
             "pricing":{"prompt":"0.000003","completion":"0.000015"},
             "top_provider":{"context_length":200000,"max_completion_tokens":64000,"is_moderated":true},
             "per_request_limits":null,"supported_parameters":["tools"]},
            {"id":"some/model","top_provider":{"context_length":32768,"max_completion_tokens":null}}]}"#;
        let models = parse_openai_models(body).unwrap();
        assert_eq!(models[0].context_window, Some(1_000_000));
        assert_eq!(models[0].max_output_tokens, Some(64_000));
        assert_eq!(models[0].owned_by, None);
        assert_eq!(models[1].context_window, Some(32_768));
        assert_eq!(models[1].max_output_tokens, None);
    }

    #[test]
    fn parses_groq_and_skips_inactive_models() {
        let body = br#"{"object":"list","data":[
            {"id":"llama-3.3-70b-versatile","object":"model","created":1733447754,"owned_by":"Meta",
             "active":true,"context_window":131072,"public_apps":null,"max_completion_tokens":32768},
            {"id":"retired-model","object":"model","owned_by":"Meta","active":false,"context_window":8192}]}"#;
        let models = parse_openai_models(body).unwrap();
        assert_eq!(ids(&models), ["llama-3.3-70b-versatile"]);
        assert_eq!(models[0].context_window, Some(131_072));
        assert_eq!(models[0].max_output_tokens, Some(32_768));
        assert_eq!(models[0].owned_by.as_deref(), Some("Meta"));
    }

    #[test]
    fn parses_together_bare_array() {
        let body = br#"[
            {"id":"meta-llama/Llama-3.3-70B-Instruct-Turbo","object":"model","created":1733461375,
             "type":"chat","display_name":"Llama 3.3 70B","organization":"Meta",
             "context_length":131072,"pricing":{"input":0.88,"output":0.88}}]"#;
        let models = parse_openai_models(body).unwrap();
        assert_eq!(models[0].context_window, Some(131_072));
        assert_eq!(models[0].owned_by.as_deref(), Some("Meta"));
    }

    #[test]
    fn parses_vllm_mistral_and_other_fields() {
        let body = br#"{"object":"list","data":[
            {"id":"Qwen/Qwen3-8B","object":"model","created":1750000000,"owned_by":"vllm",
             "root":"Qwen/Qwen3-8B","parent":null,"max_model_len":32768,"permission":[]},
            {"id":"mistral-large-latest","owned_by":"mistralai","max_context_length":131072},
            {"id":"proxy-model","max_input_tokens":200000,"max_output_tokens":8192},
            {"id":"stringly","context_window":"65536","max_completion_tokens":4096.0,"created":1.7e9},
            {"id":"zeros","context_window":0,"context_length":null,"max_model_len":-1,"max_output_tokens":1.5}]}"#;
        let models = parse_openai_models(body).unwrap();
        let ctx: Vec<_> = models.iter().map(|m| m.context_window).collect();
        assert_eq!(
            ctx,
            [
                Some(32_768),
                Some(131_072),
                Some(200_000),
                Some(65_536),
                None
            ]
        );
        assert_eq!(models[2].max_output_tokens, Some(8192));
        assert_eq!(models[3].max_output_tokens, Some(4096));
        assert_eq!(models[3].created, Some(1_700_000_000));
        assert_eq!(models[4].max_output_tokens, None);
    }

    #[test]
    fn skips_entries_without_id_and_repeats() {
        let body = br#"{"data":[{"id":"a","context_window":1},{"object":"model"},{"id":""},
            {"id":42},"junk",{"id":"a","context_window":2},{"id":" b "}]}"#;
        let models = parse_openai_models(body).unwrap();
        assert_eq!(ids(&models), ["a", "b"]);
        assert_eq!(models[0].context_window, Some(1));
    }

    #[test]
    fn rejects_what_is_not_a_list() {
        assert!(
            parse_openai_models(b"<html>")
                .unwrap_err()
                .contains("not JSON")
        );
        assert!(parse_openai_models(br#"{"error":{"message":"no"}}"#).is_err());
        assert!(parse_openai_models(b"42").is_err());
        assert_eq!(parse_openai_models(br#"{"data":[]}"#).unwrap(), []);
    }

    #[test]
    fn error_messages_are_short_and_prefer_the_upstream_text() {
        assert_eq!(
            error_message(br#"{"error":{"message":"Invalid API key","type":"auth"}}"#),
            "Invalid API key"
        );
        assert_eq!(error_message(br#"{"error":"nope"}"#), "nope");
        assert_eq!(error_message(b"  Bad Gateway \n"), "Bad Gateway");
        assert_eq!(error_message(b""), "(empty body)");
        assert_eq!(error_message(&[b'x'; 1000]).len(), 200);
    }

    #[test]
    fn discovered_models_fill_a_config_without_overwriting_it() {
        let mut config = serde_json::json!({
            "base_url": "http://x/v1",
            "models": { "a": { "context_window": 10 } },
        });
        let found = [
            DiscoveredModel {
                id: "a".into(),
                context_window: Some(99),
                max_output_tokens: Some(5),
                ..DiscoveredModel::default()
            },
            DiscoveredModel {
                id: "b".into(),
                context_window: Some(128),
                ..DiscoveredModel::default()
            },
            model("c"),
        ];
        merge_into_config(&mut config, &found);
        assert_eq!(
            config["models"],
            serde_json::json!({
                "a": { "context_window": 10, "max_output_tokens": 5 },
                "b": { "context_window": 128 },
                "c": {},
            })
        );
    }

    #[test]
    fn context_window_takes_the_first_known_source() {
        let d = 8192;
        assert_eq!(
            merge_context_window(Some(1), Some(2), Some(3), Some(4), d),
            1
        );
        assert_eq!(merge_context_window(None, Some(2), Some(3), Some(4), d), 2);
        assert_eq!(merge_context_window(None, None, Some(3), Some(4), d), 3);
        assert_eq!(merge_context_window(None, None, None, Some(4), d), 4);
        assert_eq!(merge_context_window(None, None, None, None, d), d);
        assert_eq!(merge_context_window(Some(0), None, Some(3), None, d), 3);
    }

    fn provider(auth: AuthStyle, keys: &[&str]) -> Provider {
        Provider::new(
            "p".into(),
            "P".into(),
            WireFormat::OpenAi,
            "https://api.example.com/v1/".into(),
            auth,
            CredentialPool::from_keys(keys.iter().map(|k| Secret::new(*k)).collect()),
            vec![(
                HeaderName::from_static("x-extra"),
                HeaderValue::from_static("1"),
            )],
            Timeouts::default(),
            BTreeMap::new(),
            Origin::Config,
        )
    }

    #[test]
    fn get_request_authenticates_like_the_relay() {
        let http = reqwest::Client::new();
        let cases = [
            (AuthStyle::Bearer, "authorization", Some("Bearer sk-1")),
            (AuthStyle::ApiKeyHeader, "api-key", Some("sk-1")),
            (
                AuthStyle::Header(HeaderName::from_static("x-key")),
                "x-key",
                Some("sk-1"),
            ),
            (AuthStyle::None, "authorization", None),
        ];
        for (auth, header, expected) in cases {
            let p = provider(auth, &["sk-1"]);
            let key = Secret::new("sk-1");
            let req = get_request(&http, &p, "/models", Some(&key))
                .build()
                .unwrap();
            assert_eq!(req.method(), http::Method::GET);
            assert_eq!(req.url().as_str(), "https://api.example.com/v1/models");
            let got = req.headers().get(header).map(|v| v.to_str().unwrap());
            assert_eq!(got, expected, "{header}");
            assert_eq!(req.headers()["x-extra"], "1");
            assert_eq!(req.headers()["accept"], "application/json");
        }
    }

    /// A fake upstream: counts calls, answers each from `reply`, after `delay`.
    struct Fake {
        calls: AtomicUsize,
        delay: Duration,
        reply: Mutex<Result<Vec<DiscoveredModel>, String>>,
    }

    impl Fake {
        fn new(reply: Result<Vec<DiscoveredModel>, String>) -> Arc<Self> {
            Arc::new(Self {
                calls: AtomicUsize::new(0),
                delay: Duration::ZERO,
                reply: Mutex::new(reply),
            })
        }

        fn slow(delay: Duration) -> Arc<Self> {
            Arc::new(Self {
                calls: AtomicUsize::new(0),
                delay,
                reply: Mutex::new(Ok(vec![model("m")])),
            })
        }

        fn set(&self, reply: Result<Vec<DiscoveredModel>, String>) {
            *self.reply.lock() = reply;
        }

        fn calls(&self) -> usize {
            self.calls.load(Ordering::SeqCst)
        }

        async fn get(
            &self,
            d: &Discovery,
            base_url: &str,
        ) -> Result<Arc<Vec<DiscoveredModel>>, String> {
            d.models_with("p", base_url, || async {
                self.calls.fetch_add(1, Ordering::SeqCst);
                tokio::time::sleep(self.delay).await;
                self.reply.lock().clone()
            })
            .await
        }
    }

    const URL: &str = "http://upstream/v1";

    /// A cache whose clock only moves with [`advance`]. (Fetch timeouts still run on tokio's
    /// clock: the gateway's tests do not enable tokio's `test-util`, so time cannot be paused.)
    fn manual(ttl: Duration, fetch_timeout: Duration) -> Discovery {
        let clock = Clock::Manual(Mutex::new(Instant::now()));
        Discovery::with_clock(clock, ttl, fetch_timeout)
    }

    fn advance(d: &Discovery, by: Duration) {
        if let Clock::Manual(now) = &d.0.clock {
            let mut now = now.lock();
            *now += by;
        }
    }

    #[tokio::test]
    async fn serves_from_cache_until_the_ttl_expires() {
        let d = manual(Duration::from_secs(600), Duration::from_secs(5));
        let fake = Fake::new(Ok(vec![model("a")]));
        assert!(d.cached("p").is_none());
        let first = fake.get(&d, URL).await.unwrap();
        assert_eq!(fake.calls(), 1);

        advance(&d, Duration::from_secs(599));
        let again = fake.get(&d, URL).await.unwrap();
        assert_eq!(fake.calls(), 1, "fresh: no fetch");
        assert!(Arc::ptr_eq(&first, &again));
        assert!(Arc::ptr_eq(&first, &d.cached("p").unwrap()));

        fake.set(Ok(vec![model("b")]));
        advance(&d, Duration::from_secs(1));
        let refreshed = fake.get(&d, URL).await.unwrap();
        assert_eq!(fake.calls(), 2, "expired: fetched again");
        assert_eq!(ids(&refreshed), ["b"]);
        assert_eq!(ids(&d.cached("p").unwrap()), ["b"]);
    }

    #[tokio::test]
    async fn a_failed_refresh_serves_the_stale_list() {
        let d = manual(Duration::from_secs(600), Duration::from_secs(5));
        let fake = Fake::new(Ok(vec![model("a")]));
        fake.get(&d, URL).await.unwrap();

        fake.set(Err("HTTP 503: overloaded".into()));
        advance(&d, Duration::from_secs(601));
        assert_eq!(ids(&fake.get(&d, URL).await.unwrap()), ["a"]);
        assert_eq!(fake.calls(), 2);
        assert_eq!(ids(&d.cached("p").unwrap()), ["a"]);

        // The failure is remembered: no new fetch within the negative TTL, stale list still.
        advance(&d, NEGATIVE_TTL - Duration::from_secs(1));
        assert_eq!(ids(&fake.get(&d, URL).await.unwrap()), ["a"]);
        assert_eq!(fake.calls(), 2);

        // After it, the provider is asked again, and a success replaces the stale list.
        fake.set(Ok(vec![model("b")]));
        advance(&d, Duration::from_secs(1));
        assert_eq!(ids(&fake.get(&d, URL).await.unwrap()), ["b"]);
        assert_eq!(fake.calls(), 3);
    }

    #[tokio::test]
    async fn failures_without_a_list_are_cached_briefly() {
        let d = manual(DEFAULT_TTL, DEFAULT_FETCH_TIMEOUT);
        let fake = Fake::new(Err("Connection refused".into()));
        assert_eq!(fake.get(&d, URL).await.unwrap_err(), "Connection refused");
        advance(&d, NEGATIVE_TTL - Duration::from_millis(1));
        assert_eq!(fake.get(&d, URL).await.unwrap_err(), "Connection refused");
        assert_eq!(fake.calls(), 1, "negative cache: no second fetch");
        assert!(d.cached("p").is_none());

        advance(&d, Duration::from_millis(1));
        fake.set(Ok(vec![model("a")]));
        assert_eq!(ids(&fake.get(&d, URL).await.unwrap()), ["a"]);
        assert_eq!(fake.calls(), 2);
    }

    #[test]
    fn the_negative_ttl_never_outlives_the_ttl() {
        let d = Discovery::new(Duration::from_secs(5), DEFAULT_FETCH_TIMEOUT);
        assert_eq!(d.0.negative_ttl, Duration::from_secs(5));
        assert_eq!(Discovery::default().0.negative_ttl, NEGATIVE_TTL);
    }

    #[tokio::test]
    async fn concurrent_callers_share_one_fetch() {
        let d = Discovery::default();
        let fake = Fake::slow(Duration::from_millis(50));
        let results = futures_util::future::join_all((0..10).map(|_| fake.get(&d, URL))).await;
        assert_eq!(fake.calls(), 1);
        let first = results[0].as_ref().unwrap();
        for r in &results {
            assert!(Arc::ptr_eq(first, r.as_ref().unwrap()));
        }
    }

    #[tokio::test]
    async fn a_hanging_upstream_times_out_for_every_waiter() {
        let d = Discovery::new(DEFAULT_TTL, Duration::from_millis(100));
        let fake = Fake::slow(Duration::from_secs(3600));
        let started = Instant::now();
        let results = futures_util::future::join_all((0..3).map(|_| fake.get(&d, URL))).await;
        let waited = started.elapsed();
        assert!(waited >= Duration::from_millis(100), "{waited:?}");
        assert!(waited < Duration::from_secs(2), "{waited:?}");
        assert_eq!(fake.calls(), 1);
        for r in results {
            assert_eq!(r.unwrap_err(), "no model list within 0.1s");
        }
        // The timeout is a cached failure like any other: answered at once, no new fetch.
        let again = Instant::now();
        assert!(fake.get(&d, URL).await.is_err());
        assert!(again.elapsed() < Duration::from_millis(50));
        assert_eq!(fake.calls(), 1);
    }

    #[tokio::test]
    async fn a_new_base_url_starts_afresh() {
        let d = Discovery::default();
        let fake = Fake::new(Ok(vec![model("a")]));
        fake.get(&d, URL).await.unwrap();
        fake.get(&d, URL).await.unwrap();
        assert_eq!(fake.calls(), 1);
        fake.set(Ok(vec![model("b")]));
        assert_eq!(
            ids(&fake.get(&d, "http://elsewhere/v1").await.unwrap()),
            ["b"]
        );
        assert_eq!(fake.calls(), 2);
    }
}
