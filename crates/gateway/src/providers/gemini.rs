//! The Gemini wire format: `POST {base_url}/models/{model}:generateContent`, or
//! `:streamGenerateContent?alt=sse` for a stream, with the credential where the provider's
//! auth style says. The model goes in the path, not the body.
//!
//! Two forms share it: Google AI Studio (`https://generativelanguage.googleapis.com/v1beta`,
//! key in `x-goog-api-key`) and Vertex AI
//! (`https://{location}-aiplatform.googleapis.com/v1/projects/{project}/locations/{location}/publishers/google`,
//! an access token as `Authorization: Bearer`).

use http::HeaderValue;

use super::Provider;
use crate::secret::Secret;

/// The path below the base URL for `model`, streamed (as SSE) or not.
pub fn path(model: &str, stream: bool) -> String {
    if stream {
        format!("/models/{model}:streamGenerateContent?alt=sse")
    } else {
        format!("/models/{model}:generateContent")
    }
}

/// Starts a generateContent request for `model`.
pub fn request(
    http: &reqwest::Client,
    provider: &Provider,
    model: &str,
    stream: bool,
    credential: Option<&Secret>,
) -> reqwest::RequestBuilder {
    let req = http
        .post(format!("{}{}", provider.base_url, path(model, stream)))
        .header(
            http::header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )
        .header(
            http::header::ACCEPT,
            HeaderValue::from_static(if stream {
                "text/event-stream"
            } else {
                "application/json"
            }),
        );
    super::openai::authorize(req, provider, credential)
}

#[cfg(test)]
mod tests {
    #[test]
    fn streams_ask_for_sse() {
        assert_eq!(
            super::path("gemini-2.5-flash", false),
            "/models/gemini-2.5-flash:generateContent"
        );
        assert_eq!(
            super::path("gemini-2.5-flash", true),
            "/models/gemini-2.5-flash:streamGenerateContent?alt=sse"
        );
    }
}
