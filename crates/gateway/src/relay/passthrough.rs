//! The same-dialect fast path: the client's body is forwarded with only `model` (and, for a
//! stream, `stream_options.include_usage`) changed, and the answer relayed as it arrives.
//! The same loop carries the translation path ([`Mode::Translate`], see `translate`): the
//! body is decoded to the canonical model once and encoded per target, and the answer is
//! translated back into the client's dialect.
//!
//! Stages, in order: read body → authenticate → parse the top level (or decode, when
//! translating) → plan the route → for each target of the plan: rewrite (or encode) the body
//! → send → peek the first piece → relay (or translate).
//! Fallback is this one loop: a failure before the first byte reached the client moves on to
//! the next target when the plan's `retry_on` covers its class.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::rejection::BytesRejection;
use axum::response::Response;
use bytes::Bytes;
use futures_util::{Stream, StreamExt};
use http::{HeaderMap, HeaderValue, StatusCode, header};
use tokio::time::Instant;
use wire::WireFormat;
use wire::json::RawObject;

use super::idempotency::{Claim, Idempotency, fingerprint};
use super::translate::{self, Translated};
use super::{RelayCtx, RelayError, account, json_body, sse_events, upstream};
use crate::auth;
use crate::error::{Attempt, FailureClass, GatewayError};
use crate::limits::RateHeaders;
use crate::providers::anthropic;
use crate::providers::credentials::{CredentialOutcome, Lease, PoolError};
use crate::providers::openai::{self, Endpoint};
use crate::routing::RetryOn;
use crate::routing::health::{Admission, BreakerState, retry_after};
use crate::routing::plan::{Estimate, Plan, PlanTarget, plan};
use crate::state::AppState;
use crate::telemetry::{Exchange, Outcome};

/// How the client's dialect renders errors.
pub struct ErrorRendering {
    pub response: fn(&GatewayError) -> Response,
    pub event: fn(&GatewayError) -> Bytes,
}

/// How a client's request reaches the upstreams.
#[derive(Clone, Copy)]
pub enum Mode {
    /// Same dialect as the upstream: the fast path to this endpoint.
    Same(Endpoint),
    /// Another dialect: decoded to the canonical model and translated for each target.
    Translate {
        client: wire::Dialect,
        /// The endpoint's name in logs and metrics, e.g. `messages`.
        label: &'static str,
        decode: translate::Decode,
    },
}

impl Mode {
    fn label(self) -> &'static str {
        match self {
            Self::Same(endpoint) => endpoint.label(),
            Self::Translate { label, .. } => label,
        }
    }

    /// The upstream endpoint: translated requests become chat completions.
    fn endpoint(self) -> Endpoint {
        match self {
            Self::Same(endpoint) => endpoint,
            Self::Translate { .. } => Endpoint::ChatCompletions,
        }
    }
}

/// The client's request, parsed once and reused for every attempt.
pub(super) struct Parsed<'b> {
    pub(super) principal: auth::Principal,
    pub(super) body: Source<'b>,
    pub(super) client_model: String,
    pub(super) stream: bool,
    /// The gateway adds `include_usage`; the extra chunk is dropped again on the way back.
    pub(super) strip_usage_chunk: bool,
    pub(super) estimate: Estimate,
    /// The client's `anthropic-beta` flags, for Anthropic upstreams.
    pub(super) anthropic_beta: Option<HeaderValue>,
}

/// What each attempt's upstream body is made from.
pub(super) enum Source<'b> {
    /// The fast path: the client's top-level object, rewritten per target.
    Raw(RawObject<'b>),
    /// The translation path: the canonical request, encoded per target.
    Translated(Box<Translated>),
}

/// The request id set by the request-id layer (or sent by the client).
pub fn request_id(headers: &HeaderMap) -> Arc<str> {
    headers
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("-")
        .into()
}

pub async fn forward(
    state: &AppState,
    endpoint: Endpoint,
    peer: std::net::IpAddr,
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
    render: &ErrorRendering,
) -> Response {
    forward_as(state, Mode::Same(endpoint), peer, headers, body, render).await
}

/// [`forward`] for any [`Mode`]: the fast path or the translation path.
pub async fn forward_as(
    state: &AppState,
    mode: Mode,
    peer: std::net::IpAddr,
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
    render: &ErrorRendering,
) -> Response {
    let endpoint = mode.endpoint();
    let mut exchange = Exchange::new(request_id(headers), mode.label());
    if let Mode::Translate { client, .. } = mode {
        exchange.dialect = client;
    }
    exchange.observe(state.telemetry());
    if state.services().usage.is_some() {
        exchange.meter = Some(account::meter(state));
    }
    let config = state.config();
    let body = match body {
        Ok(b) => b,
        Err(r) => {
            return reject(
                exchange,
                &body_error(&r, config.server.max_body_bytes),
                render,
            );
        }
    };
    exchange.capture_request(&body);
    let mut parsed = match state
        .authenticate_from(&config, peer, headers)
        .and_then(|principal| {
            account::identify(&principal, &mut exchange);
            match mode {
                Mode::Same(endpoint) => parse(principal, endpoint, &body, &mut exchange),
                Mode::Translate { client, decode, .. } => {
                    translate::parse(principal, client, decode, &body, &mut exchange)
                }
            }
        }) {
        Ok(p) => p,
        Err(e) => return reject(exchange, &e, render),
    };
    parsed.anthropic_beta = headers.get("anthropic-beta").cloned();
    let plan = match plan(
        &config,
        state.health(),
        &parsed.client_model,
        parsed.estimate,
    ) {
        Ok(p) => p,
        Err(e) => return reject(exchange, &e, render),
    };
    exchange.route = Some(plan.label.clone());
    let rate_headers = match account::admit(
        state,
        &parsed.principal,
        &parsed.client_model,
        &plan,
        parsed.estimate,
        &mut exchange,
    )
    .await
    {
        Ok(h) => h,
        Err(e) => return reject(exchange, &e, render),
    };
    let mut response = run(
        state, endpoint, headers, &body, &parsed, &plan, exchange, render,
    )
    .await;
    for (name, value) in rate_headers.iter().flat_map(RateHeaders::to_pairs) {
        if let Ok(v) = HeaderValue::from_str(&value) {
            response.headers_mut().insert(name, v);
        }
    }
    response
}

/// Runs the plan — once per `Idempotency-Key` (per caller): repeats share the first answer.
#[expect(
    clippy::too_many_arguments,
    reason = "one call site; the request's pieces"
)]
async fn run(
    state: &AppState,
    endpoint: Endpoint,
    headers: &HeaderMap,
    body: &Bytes,
    parsed: &Parsed<'_>,
    plan: &Plan<'_>,
    mut exchange: Exchange,
    render: &ErrorRendering,
) -> Response {
    let Some(key) = Idempotency::key_from_headers(headers) else {
        return attempt_all(state, endpoint, parsed, plan, exchange, render).await;
    };
    let scoped = format!("{}:{key}", parsed.principal.scope());
    let print = fingerprint(&http::Method::POST, endpoint.path(), body);
    match state.idempotency().claim(&scoped, print).await {
        Claim::Leader(leader) => {
            leader.record(attempt_all(state, endpoint, parsed, plan, exchange, render).await)
        }
        Claim::Follower(response) => {
            exchange.replayed = true;
            exchange.status = response.status().as_u16();
            exchange.route = Some(format!("{}; idempotent replay", plan.label));
            exchange.finish(Outcome::Completed);
            response
        }
        Claim::Conflict(c) => reject(exchange, &GatewayError::Idempotency(c), render),
    }
}

/// Tries the plan's targets in order until one answers.
async fn attempt_all(
    state: &AppState,
    endpoint: Endpoint,
    parsed: &Parsed<'_>,
    plan: &Plan<'_>,
    mut exchange: Exchange,
    render: &ErrorRendering,
) -> Response {
    let plan_deadline = plan.deadline.map(|d| Instant::now() + d);
    let mut attempts: Vec<Attempt> = Vec::new();
    let mut last_error: Option<GatewayError> = None;
    // After a context-length failure only targets with a larger known window are worth trying.
    let mut needs_context_above: Option<u64> = None;
    // The soonest a cooling-down credential becomes usable, when that is why targets were skipped.
    let mut cooling: Option<std::time::Duration> = None;

    'targets: for target in &plan.targets {
        let skip = |why: &str| Attempt {
            provider: target.provider.id.clone(),
            model: target.model.to_owned(),
            outcome: "skipped",
            status: None,
            error: why.to_owned(),
        };
        if let (Some(min), Some(window)) = (needs_context_above, target.context_window)
            && window <= min
        {
            attempts.push(skip(
                "its context window is not larger than the one that overflowed",
            ));
            continue;
        }
        let pool = &target.provider.credentials;
        // Credentials already tried on this target in this request.
        let mut exclude: Vec<usize> = Vec::new();
        let mut oauth_refreshed = false;
        let mut retries = 0u32;
        loop {
            if exchange.attempts >= plan.max_attempts {
                break 'targets;
            }
            let deadline = {
                let own = Instant::now() + target.provider.timeouts.total;
                plan_deadline.map_or(own, |d| d.min(own))
            };
            let Some(admission) = target.health.breaker.try_acquire() else {
                attempts.push(skip("circuit breaker open"));
                continue 'targets;
            };
            let lease = match pool.acquire(state.http(), &exclude).await {
                Ok(lease) => Some(lease),
                Err(PoolError::Empty) => None,
                Err(e) => {
                    target.health.breaker.release(admission);
                    if let PoolError::Exhausted {
                        next_available_in: Some(wait),
                        ..
                    } = &e
                    {
                        cooling =
                            Some(cooling.map_or(*wait, |c: std::time::Duration| c.min(*wait)));
                    }
                    attempts.push(skip(&format!("no usable credential: {e}")));
                    continue 'targets;
                }
            };
            exchange.note_attempt(&target.provider.id, target.model);
            exchange.attempts += 1;
            exchange.provider = Some(target.provider.id.clone());
            exchange.upstream_model = Some(target.model.to_owned());
            exchange.wire = target.provider.wire_format;
            if let Some(meter) = exchange.meter.as_mut() {
                meter.prices = target.provider.models.get(target.model).map(|m| m.prices);
            }
            let was_closed = target.health.breaker.state() == BreakerState::Closed;
            let result = attempt(
                state,
                endpoint,
                parsed,
                target,
                admission,
                lease.as_ref(),
                deadline,
                exchange,
                render,
            )
            .await;
            let Failed {
                err,
                exchange: returned,
                wait: wait_asked,
            } = match result {
                Ok(mut response) => {
                    let h = response.headers_mut();
                    h.insert(
                        "x-switchboard-attempts",
                        HeaderValue::from(attempts.len() + 1),
                    );
                    h.insert("x-switchboard-route", header_value(&plan.label));
                    return response;
                }
                Err(failed) => *failed,
            };
            exchange = returned;
            let class = err.failure_class();
            tracing::debug!(
                provider = %target.provider.id,
                model = target.model,
                credential = lease.as_ref().and_then(|l| pool.label(l.index)),
                error = %err,
                class = ?class,
                "attempt failed"
            );
            if was_closed && target.health.breaker.state() == BreakerState::Open {
                tracing::warn!(provider = %target.provider.id, model = target.model, "circuit breaker opened");
            }
            attempts.push(Attempt {
                provider: target.provider.id.clone(),
                model: target.model.to_owned(),
                outcome: "failed",
                status: Some(err.status().as_u16()),
                error: err.to_string(),
            });
            let status = err.status().as_u16();
            let moves_on = moves_on(plan.retry_on, class);
            if class == FailureClass::ContextLength {
                needs_context_above = Some(
                    target
                        .context_window
                        .unwrap_or(0)
                        .max(needs_context_above.unwrap_or(0)),
                );
            }
            last_error = Some(err);
            // A rate limit or a rejected credential: another credential of the same provider
            // may do better, at once. An OAuth2 token gets one refresh first.
            if let Some(lease) = &lease
                && matches!(status, 401 | 403 | 429)
            {
                if status == 401 && pool.is_oauth2(lease.index) && !oauth_refreshed {
                    oauth_refreshed = true;
                    continue;
                }
                if exclude.len() + 1 < pool.len() {
                    exclude.push(lease.index);
                    continue;
                }
            }
            if !moves_on {
                break 'targets;
            }
            if class == FailureClass::ContextLength || retries + 1 >= plan.retry.per_target {
                continue 'targets;
            }
            // Wait before trying the same target again, unless the wait would pass the deadline.
            let wait = plan
                .retry
                .backoff(retries)
                .max(wait_asked.unwrap_or_default());
            retries += 1;
            if Instant::now() + wait >= plan_deadline.unwrap_or(deadline) {
                continue 'targets;
            }
            tokio::time::sleep(wait).await;
        }
    }

    let err = match (last_error, cooling) {
        (None, Some(retry_after)) => GatewayError::CoolingDown {
            retry_after,
            detail: attempts
                .iter()
                .map(|a| a.error.as_str())
                .collect::<Vec<_>>()
                .join("; "),
        },
        (last_error, _) => match last_error {
            // One attempt, nothing skipped, or a failure that must not be retried: the error as is.
            Some(e)
                if attempts.len() == 1
                    || !e.is_retryable()
                    || !moves_on(plan.retry_on, e.failure_class()) =>
            {
                e
            }
            last => GatewayError::AllAttemptsFailed {
                attempts,
                last: Box::new(
                    last.unwrap_or(GatewayError::Internal("no target was tried".into())),
                ),
            },
        },
    };
    let mut response = reject(exchange, &err, render);
    response
        .headers_mut()
        .insert("x-switchboard-route", header_value(&plan.label));
    response
}

/// What an attempt's failure says about the credential it used.
fn credential_outcome(
    err: &GatewayError,
    retry_after: Option<std::time::Duration>,
) -> CredentialOutcome {
    match (err, err.failure_class()) {
        (
            GatewayError::Upstream {
                status, message, ..
            },
            _,
        ) if matches!(status.as_u16(), 401 | 403) => CredentialOutcome::Unauthorized {
            status: status.as_u16(),
            message: message.clone(),
        },
        (_, FailureClass::RateLimit) => CredentialOutcome::RateLimited { retry_after },
        (_, FailureClass::Connect | FailureClass::Timeout | FailureClass::ServerError) => {
            CredentialOutcome::Failure
        }
        _ => CredentialOutcome::Neutral,
    }
}

fn moves_on(retry_on: RetryOn, class: FailureClass) -> bool {
    match class {
        FailureClass::Connect => retry_on.connect,
        FailureClass::Timeout => retry_on.timeout,
        FailureClass::RateLimit => retry_on.rate_limit,
        FailureClass::ServerError => retry_on.server_error,
        FailureClass::ContextLength => retry_on.context_length,
        FailureClass::Final => false,
    }
}

/// A failed attempt: the error, the request record handed back, and how long the upstream
/// asked us to wait (its `Retry-After`), if it did.
struct Failed {
    err: GatewayError,
    exchange: Exchange,
    wait: Option<std::time::Duration>,
}

type AttemptError = Box<Failed>;

/// One attempt on one target: send, and peek until the first piece is ready. On failure the
/// request record comes back for the next attempt.
#[expect(
    clippy::too_many_arguments,
    reason = "one call site; the pieces of one attempt"
)]
async fn attempt(
    state: &AppState,
    endpoint: Endpoint,
    parsed: &Parsed<'_>,
    target: &PlanTarget<'_>,
    admission: Admission,
    lease: Option<&Lease>,
    deadline: Instant,
    exchange: Exchange,
    render: &ErrorRendering,
) -> Result<Response, AttemptError> {
    let health = &target.health;
    let pool = &target.provider.credentials;
    let fail = |err: GatewayError, exchange: Exchange, retry_after: Option<std::time::Duration>| {
        if let Some(lease) = lease {
            pool.report(lease, credential_outcome(&err, retry_after));
        }
        match err.failure_class() {
            FailureClass::Connect | FailureClass::Timeout | FailureClass::ServerError => {
                health.record_failure(admission, err.to_string());
            }
            // The upstream answered properly: it is healthy; the request or quota is the problem.
            FailureClass::RateLimit | FailureClass::ContextLength | FailureClass::Final => {
                health.breaker.record_success(admission);
                health.record_error(err.to_string());
            }
        }
        Err(Box::new(Failed {
            err,
            exchange,
            wait: retry_after,
        }))
    };
    // The fast path when the target speaks the client's dialect; else a translation.
    let images = state.config().translation.images.clone();
    let decoded;
    let (body, translation) = match (&parsed.body, target.provider.wire_format) {
        // A model that writes `<think>` inline, or a provider that needs image bytes, needs
        // its chat requests and answers translated.
        (Source::Raw(obj), WireFormat::OpenAi)
            if endpoint != Endpoint::ChatCompletions
                || !(translate::think_tags(target) || translate::fetches_images(target)) =>
        {
            (upstream_body(obj, target), None)
        }
        (
            Source::Raw(obj),
            WireFormat::OpenAi | WireFormat::Anthropic | WireFormat::Gemini | WireFormat::Ollama,
        ) => match translate::from_openai(obj, endpoint, !parsed.strip_usage_chunk) {
            Ok(t) => {
                decoded = t;
                let body = translate::upstream_body_fetching(&decoded, target, &images).await;
                (body, Some(&decoded))
            }
            Err(e) => return fail(e, exchange, None),
        },
        (Source::Translated(t), _) => (
            translate::upstream_body_fetching(t, target, &images).await,
            Some(&**t),
        ),
    };
    let body = match body {
        Ok(b) => b,
        Err(e) => return fail(e, exchange, None),
    };
    let in_flight = health.enter();
    let sent_at = Instant::now();
    let credential = lease.map(|l| &l.token);
    let request = match target.provider.wire_format {
        WireFormat::OpenAi => openai::request(
            state.http(),
            target.provider,
            endpoint,
            target.model,
            parsed.stream,
            credential,
        ),
        WireFormat::Anthropic => anthropic::request(
            state.http(),
            target.provider,
            parsed.stream,
            credential,
            parsed.anthropic_beta.as_ref(),
        ),
        WireFormat::Gemini => crate::providers::gemini::request(
            state.http(),
            target.provider,
            target.model,
            parsed.stream,
            credential,
        ),
        WireFormat::Ollama => crate::providers::ollama::request(
            state.http(),
            target.provider,
            parsed.stream,
            credential,
        ),
    }
    .header("x-request-id", exchange.request_id.as_ref())
    .body(body);
    let response = match upstream::send(target.provider, request, deadline).await {
        Ok(r) => r,
        Err(e) => return fail(e, exchange, None),
    };
    health.quota.observe(response.headers());
    if !response.status().is_success() {
        let wait = retry_after(response.headers());
        let mut err = upstream::into_error(target.provider, response, deadline).await;
        if translation.is_some() {
            err = translate::upstream_error(err, target.provider.wire_format);
        }
        if err.failure_class() == FailureClass::RateLimit {
            // Without a Retry-After, a short pause keeps the quota strategy off it briefly.
            let until = Instant::now() + wait.unwrap_or(std::time::Duration::from_secs(1));
            health.quota.mark_exhausted(until);
        }
        return fail(err, exchange, wait);
    }

    let mut exchange = exchange;
    exchange.status = 200;
    let capture = exchange.response_capture();
    let ctx = RelayCtx {
        provider: target.provider.id.clone(),
        client_model: parsed.client_model.clone(),
        strip_usage_chunk: parsed.strip_usage_chunk,
        idle: target.provider.timeouts.idle,
        keep_alive: state.config().translation.keep_alive,
        deadline,
        exchange,
        error_event: render.event,
        in_flight: Some(in_flight),
    };
    let (content_type, mut stream): (_, std::pin::Pin<Box<dyn Stream<Item = _> + Send>>) =
        match translation {
            Some(t) => translate::relay(response, ctx, t, target, parsed.stream),
            None if parsed.stream => ("text/event-stream", Box::pin(sse_events(response, ctx))),
            None => ("application/json", Box::pin(json_body(response, ctx))),
        };
    // Peek: until the first piece is ready, a failure can still go to the next target.
    let first = match stream.next().await {
        Some(Err(RelayError::BeforeStart(e, exchange))) => return fail(e, *exchange, None),
        first => first,
    };
    health.record_success(admission, Some(sent_at.elapsed()));
    if let Some(lease) = lease {
        pool.report(lease, CredentialOutcome::Success);
    }
    let body = futures_util::stream::iter(first).chain(stream);
    let body = crate::usage::request_log::tap(body, capture);
    let mut response = Response::new(Body::from_stream(body));
    let h = response.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    if parsed.stream {
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
        h.insert("x-accel-buffering", HeaderValue::from_static("no"));
    }
    h.insert("x-switchboard-provider", header_value(&target.provider.id));
    h.insert("x-switchboard-model", header_value(target.model));
    Ok(response)
}

/// The client's body for one target: its model name and parameters.
fn upstream_body(obj: &RawObject<'_>, target: &PlanTarget<'_>) -> Result<Vec<u8>, GatewayError> {
    let internal = |e: wire::json::JsonError| GatewayError::Internal(e.to_string());
    let mut obj = obj.clone();
    let settable = |key: &str| key != "model" && key != "stream";
    for (key, value) in target.params.into_iter().flatten() {
        if !obj.contains(key) && settable(key) {
            obj.set(key, value).map_err(internal)?;
        }
    }
    for (key, value) in target.overrides.into_iter().flatten() {
        if settable(key) {
            obj.set(key, value).map_err(internal)?;
        }
    }
    obj.set("model", target.model).map_err(internal)?;
    Ok(obj.to_vec())
}

fn header_value(s: &str) -> HeaderValue {
    HeaderValue::from_str(s).unwrap_or_else(|_| HeaderValue::from_static("-"))
}

fn reject(mut exchange: Exchange, err: &GatewayError, render: &ErrorRendering) -> Response {
    exchange.status = err.status().as_u16();
    exchange.error = Some(err.to_string());
    exchange.finish(Outcome::Rejected);
    (render.response)(err)
}

/// Turns a body-read failure into the error the client should see.
pub fn body_error(rejection: &BytesRejection, limit: usize) -> GatewayError {
    if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
        GatewayError::BodyTooLarge { limit }
    } else {
        GatewayError::BadJson {
            line: 0,
            column: 0,
            message: format!("could not read the request body: {}", rejection.body_text()),
        }
    }
}

fn parse<'b>(
    principal: auth::Principal,
    endpoint: Endpoint,
    body: &'b Bytes,
    exchange: &mut Exchange,
) -> Result<Parsed<'b>, GatewayError> {
    let mut obj = RawObject::parse(body).map_err(|e| GatewayError::BadJson {
        line: e.line,
        column: e.column,
        message: e.message,
    })?;

    let client_model = match obj.get("model") {
        None => return Err(GatewayError::MissingField { field: "model" }),
        Some(raw) => serde_json::from_str::<String>(raw.get())
            .ok()
            .filter(|m| !m.is_empty())
            .ok_or(GatewayError::InvalidField {
                field: "model",
                expected: "a non-empty string",
            })?,
    };
    exchange.model = Some(client_model.clone());

    let (field, expected) = endpoint.required_field();
    let value = obj
        .get(field)
        .ok_or(GatewayError::MissingField { field })?
        .get()
        .trim();
    let shape_ok = match endpoint {
        Endpoint::ChatCompletions => value.starts_with('[') && value[1..].trim_start() != "]",
        Endpoint::Completions | Endpoint::Embeddings => {
            value.starts_with('[') || value.starts_with('"')
        }
    };
    if !shape_ok {
        return Err(GatewayError::InvalidField { field, expected });
    }

    let stream = match obj.get("stream").map(|v| v.get().trim()) {
        None | Some("false" | "null") => false,
        Some("true") if endpoint.streams() => true,
        Some("true") => {
            return Err(GatewayError::InvalidField {
                field: "stream",
                expected: "false (this endpoint does not stream)",
            });
        }
        Some(_) => {
            return Err(GatewayError::InvalidField {
                field: "stream",
                expected: "a boolean",
            });
        }
    };
    exchange.stream = stream;

    let mut strip_usage_chunk = false;
    if stream {
        let mut options = match obj.get("stream_options") {
            None => serde_json::Map::new(),
            Some(raw) if raw.get().trim() == "null" => serde_json::Map::new(),
            Some(raw) => {
                serde_json::from_str(raw.get()).map_err(|_| GatewayError::InvalidField {
                    field: "stream_options",
                    expected: "an object",
                })?
            }
        };
        if options.get("include_usage") != Some(&serde_json::Value::Bool(true)) {
            options.insert("include_usage".into(), serde_json::Value::Bool(true));
            obj.set("stream_options", &options)
                .map_err(|e| GatewayError::Internal(e.to_string()))?;
            strip_usage_chunk = true;
        }
    }

    // A rough size for the `cost` strategy: ~4 bytes a token in, the requested maximum out.
    let max_out = ["max_completion_tokens", "max_tokens"]
        .iter()
        .find_map(|k| obj.get_u64(k))
        .unwrap_or(1024);
    let estimate = Estimate {
        input_tokens: (body.len() / 4) as u64,
        output_tokens: max_out,
    };

    Ok(Parsed {
        principal,
        body: Source::Raw(obj),
        anthropic_beta: None,
        client_model,
        stream,
        strip_usage_chunk,
        estimate,
    })
}
