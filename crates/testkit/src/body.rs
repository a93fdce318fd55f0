//! Response bodies that take time or fail on purpose, shared by every wire format:
//! paced event streams (tracked by a [`StreamGuard`]), bodies cut off mid-way, and hangs.

use std::io;
use std::time::Duration;

use axum::body::Body;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;

use crate::record::StreamGuard;

/// How a paced stream ends after its last event.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum End {
    /// The body ends normally.
    Complete,
    /// The body fails, which makes the server abort the connection.
    Abort,
}

/// A 200 response streaming `events` with `delay` between consecutive events.
/// `guard` stays inside the body: the stream counts as open until the body is dropped,
/// and as cancelled if it is dropped before the last event was handed over.
pub(crate) fn paced(
    content_type: &'static str,
    events: Vec<Bytes>,
    delay: Duration,
    end: End,
    mut guard: StreamGuard,
) -> Response {
    let stream = async_stream::stream! {
        for (i, event) in events.into_iter().enumerate() {
            if i > 0 && !delay.is_zero() {
                tokio::time::sleep(delay).await;
            }
            yield Ok::<Bytes, io::Error>(event);
        }
        guard.finish();
        if end == End::Abort {
            flush_point().await;
            yield Err(aborted());
        }
    };
    let mut response = Body::from_stream(stream).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    response
}

/// A 200 response that announces `full.len()` bytes, sends the first half, then aborts.
pub(crate) fn truncated(content_type: &'static str, full: Bytes) -> Response {
    let len = full.len();
    let half = full.slice(..len / 2);
    let stream = async_stream::stream! {
        yield Ok::<Bytes, io::Error>(half);
        flush_point().await;
        yield Err(aborted());
    };
    let mut response = Body::from_stream(stream).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(header::CONTENT_LENGTH, HeaderValue::from(len));
    response
}

/// Never answers; the server drops this future when the client goes away.
pub(crate) async fn hang() -> Response {
    std::future::pending::<Response>().await
}

/// A complete response with this status, content type and body.
pub(crate) fn full(
    status: StatusCode,
    content_type: &'static str,
    body: impl Into<Body>,
) -> Response {
    let mut response = (status, body.into()).into_response();
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    response
}

/// Exactly the scripted status, headers and body. An invalid status becomes 500 and
/// invalid headers are skipped, each with a warning.
pub(crate) fn raw(status: u16, headers: &[(String, String)], body: &str) -> Response {
    let mut response = (status_code(status), body.to_owned()).into_response();
    response.headers_mut().remove(header::CONTENT_TYPE);
    for (name, value) in headers {
        match (
            header::HeaderName::try_from(name.as_str()),
            HeaderValue::try_from(value.as_str()),
        ) {
            (Ok(name), Ok(value)) => {
                response.headers_mut().append(name, value);
            }
            _ => tracing::warn!(%name, "testkit: skipping an invalid scripted header"),
        }
    }
    response
}

/// `status` as a status code; 500 (with a warning) when it is not a valid one.
pub(crate) fn status_code(status: u16) -> StatusCode {
    StatusCode::from_u16(status).unwrap_or_else(|_| {
        tracing::warn!(status, "testkit: invalid scripted status, sending 500");
        StatusCode::INTERNAL_SERVER_ERROR
    })
}

/// Lets the server flush what it has buffered (the response head included) before the
/// body fails: hyper writes out buffered data when the body is pending, but drops it when
/// the body fails straight away.
async fn flush_point() {
    tokio::task::yield_now().await;
}

fn aborted() -> io::Error {
    io::Error::new(
        io::ErrorKind::ConnectionAborted,
        "testkit: scripted drop mid-stream",
    )
}
