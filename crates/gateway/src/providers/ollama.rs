//! The Ollama wire format: `POST {base_url}/api/chat` (the base URL is the server's root,
//! e.g. `http://127.0.0.1:11434`), answering with NDJSON lines when streaming and one object
//! with `"stream": false`. A local server takes no credential; Ollama's cloud API takes a
//! bearer key.

use http::HeaderValue;

use super::Provider;
use crate::secret::Secret;

/// Starts a chat request.
pub fn request(
    http: &reqwest::Client,
    provider: &Provider,
    stream: bool,
    credential: Option<&Secret>,
) -> reqwest::RequestBuilder {
    let req = http
        .post(format!("{}/api/chat", provider.base_url))
        .header(
            http::header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )
        .header(
            http::header::ACCEPT,
            HeaderValue::from_static(if stream {
                "application/x-ndjson"
            } else {
                "application/json"
            }),
        );
    super::openai::authorize(req, provider, credential)
}
