//! The Anthropic Messages wire format: `POST {base_url}/messages` with the credential where
//! the provider's auth style says (`header:x-api-key` for Anthropic), `anthropic-version`
//! (unless the provider's headers set one) and the client's `anthropic-beta` flags.

use http::HeaderValue;

use super::Provider;
use crate::secret::Secret;

/// The API version sent when the provider's configuration sets none.
pub const VERSION: &str = "2023-06-01";

/// Starts a Messages request.
pub fn request(
    http: &reqwest::Client,
    provider: &Provider,
    stream: bool,
    credential: Option<&Secret>,
    beta: Option<&HeaderValue>,
) -> reqwest::RequestBuilder {
    let mut req = http
        .post(format!("{}/messages", provider.base_url))
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
    if let Some(beta) = beta {
        req = req.header("anthropic-beta", beta.clone());
    }
    super::openai::authorize(req, provider, credential)
}
