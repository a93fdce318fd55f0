//! Builds and runs the HTTP server.
//!
//! Layers, outermost first — each applies to every route and needs no parsed body:
//! 1. `SetSensitiveRequestHeaders` — `authorization`, `x-api-key`, `x-goog-api-key` are
//!    marked sensitive so no layer or log prints them.
//! 2. `SetRequestId` — keeps the client's `x-request-id` or makes a UUIDv7; `PropagateRequestId`
//!    returns it on the response.
//! 3. `Trace` — one span per request carrying the request id, so every log line inside it
//!    names the request.
//! 4. `CatchPanic` — a panic in a handler becomes a 500 OpenAI error, not a dropped connection.
//! 5. `DefaultBodyLimit` — bodies over `server.max_body_size` are refused (413, in the
//!    client's dialect, by the handler that reads the body).
//!
//! Then the stages of a proxied request, as plain functions in one visible sequence
//! (`relay::passthrough::forward`): authenticate → parse → resolve model → rewrite body →
//! send upstream → peek first piece → relay (usage read on the side) → one log line.

use std::future::Future;
use std::net::SocketAddr;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::get;
use axum::serve::ListenerExt;
use http::{HeaderName, Request, header};
use tokio::net::TcpListener;
use tower::ServiceBuilder;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::request_id::{
    MakeRequestId, PropagateRequestIdLayer, RequestId, SetRequestIdLayer,
};
use tower_http::sensitive_headers::SetSensitiveRequestHeadersLayer;
use tower_http::trace::TraceLayer;

use crate::error::GatewayError;
use crate::ingress;
use crate::state::AppState;

const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

#[derive(Clone, Copy)]
struct UuidV7;

impl MakeRequestId for UuidV7 {
    fn make_request_id<B>(&mut self, _: &Request<B>) -> Option<RequestId> {
        uuid::Uuid::now_v7()
            .to_string()
            .parse()
            .ok()
            .map(RequestId::new)
    }
}

/// The whole application: used by `serve` and by in-process tests.
pub fn app(state: AppState) -> Router {
    let max_body = state.config().server.max_body_bytes;
    let layers = ServiceBuilder::new()
        .layer(SetSensitiveRequestHeadersLayer::new([
            header::AUTHORIZATION,
            HeaderName::from_static("x-api-key"),
            HeaderName::from_static("x-goog-api-key"),
        ]))
        .layer(SetRequestIdLayer::new(REQUEST_ID, UuidV7))
        .layer(PropagateRequestIdLayer::new(REQUEST_ID))
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(|req: &Request<_>| {
                    let id = req
                        .headers()
                        .get(REQUEST_ID)
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or("-");
                    tracing::info_span!("http", request_id = %id, method = %req.method(), path = %req.uri().path())
                })
                .on_request(())
                .on_response(())
                .on_body_chunk(())
                .on_eos(())
                .on_failure(()),
        )
        .layer(CatchPanicLayer::custom(|_: Box<dyn std::any::Any + Send>| {
            tracing::error!("a request handler panicked");
            axum::response::IntoResponse::into_response(GatewayError::Internal(
                "the gateway failed while handling this request".into(),
            ))
        }));

    Router::new()
        .merge(ingress::openai::routes())
        .merge(ingress::anthropic::routes())
        .merge(ingress::ollama::routes())
        .merge(ingress::gemini::routes())
        .merge(ingress::responses::routes())
        .merge(crate::admin::routes(state.clone()))
        .route("/health", get(ingress::health::live))
        .route("/health/ready", get(ingress::health::ready))
        .route("/health/detailed", get(ingress::health::detailed))
        .route("/metrics", get(ingress::metrics::scrape))
        .fallback(|req: Request<axum::body::Body>| async move {
            GatewayError::NoRoute {
                method: req.method().to_string(),
                path: req.uri().path().to_owned(),
            }
        })
        .layer(DefaultBodyLimit::max(max_body))
        .layer(layers)
        .with_state(state)
}

/// Serves until `shutdown` resolves, then stops accepting, lets in-flight requests finish
/// for at most `server.shutdown_grace`, and returns. With `[metrics] listen` set, `/metrics`
/// is also served alone on that address, until the same moment.
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let grace = state.config().server.shutdown_grace;
    let metrics_stop = tokio_util::sync::CancellationToken::new();
    let metrics_server = metrics_listener(&state, &metrics_stop).await?;
    let (stopped_tx, stopped_rx) = tokio::sync::oneshot::channel::<()>();
    let draining = state.clone();
    let stop_metrics = metrics_stop.clone();
    let signal = async move {
        shutdown.await;
        stop_metrics.cancel();
        draining.set_draining();
        tracing::info!("shutdown requested: no new connections; finishing requests in flight");
        let _ = stopped_tx.send(());
    };
    // Small SSE writes must leave at once: without TCP_NODELAY, Nagle's algorithm holds each
    // one until the client's (delayed) ACK of the previous one — ~40 ms per event.
    let listener = listener.tap_io(|tcp| {
        if let Err(e) = tcp.set_nodelay(true) {
            tracing::debug!(error = %e, "could not set TCP_NODELAY");
        }
    });
    let server = axum::serve(
        listener,
        app(state).into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(signal);
    let result = tokio::select! {
        result = server => result,
        () = async {
            let _ = stopped_rx.await;
            tokio::time::sleep(grace).await;
        } => {
            tracing::warn!(grace = ?grace, "shutdown grace elapsed: closing the requests still in flight");
            Ok(())
        }
    };
    metrics_stop.cancel();
    if let Some(task) = metrics_server {
        let _ = task.await;
    }
    result
}

/// Serves `/metrics` alone on `[metrics] listen`, when set, until `stop`.
async fn metrics_listener(
    state: &AppState,
    stop: &tokio_util::sync::CancellationToken,
) -> std::io::Result<Option<tokio::task::JoinHandle<std::io::Result<()>>>> {
    let config = state.config();
    let Some(addr) = config.metrics.listen.filter(|_| config.metrics.enabled) else {
        return Ok(None);
    };
    let listener = TcpListener::bind(addr).await?;
    tracing::info!(addr = %listener.local_addr()?, "serving /metrics");
    let app = ingress::metrics::routes(state.clone());
    let stop = stop.clone();
    // Awaited by `serve` after the main server stops.
    Ok(Some(tokio::spawn(async move {
        axum::serve(listener, app)
            .with_graceful_shutdown(stop.cancelled_owned())
            .await
    })))
}
