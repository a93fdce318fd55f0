//! A scriptable mock LLM provider for Switchboard's tests and benchmarks.
//!
//! [`MockProvider::start`] binds a local port and speaks four providers' wire formats:
//! OpenAI and Anthropic Messages (`POST /v1/messages`, see `anthropic`) under `/v1`, and
//! Gemini (`POST /v1beta/models/{model}:generateContent` / `:streamGenerateContent`, and
//! the Vertex AI form of those paths; see `gemini` and [`MockProvider::gemini_base`]). Chat
//! completions and embeddings also answer in Azure OpenAI's deployment form
//! (`/openai/deployments/{deployment}/…`), and Ollama's `POST /api/chat` (NDJSON streams;
//! see `ollama`) answers at the root. Each request to a scripted route (`/v1/chat/completions`,
//! `/v1/completions`, `/v1/embeddings`) is recorded and consumes exactly one [`Reply`]:
//! the head of the queue filled by [`MockProvider::push`], else the default
//! ([`Reply::Echo`] unless [`MockProvider::set_default`] says otherwise).
//! `GET /v1/models` is recorded and counted but never scripted.
//!
//! ```no_run
//! # async fn example() {
//! use testkit::{MockProvider, Reply};
//! let mock = MockProvider::start().await;
//! mock.push(Reply::Status { status: 429, body: None, retry_after: Some(1) });
//! // point the gateway at mock.openai_base(); the first call gets a 429, the next an echo
//! assert_eq!(mock.calls(), 0);
//! # }
//! ```
//!
//! # The echo model
//!
//! - The response `model` is the requested model plus a suffix (`-0001` by default), like
//!   a provider answering with a dated snapshot name.
//! - With tools offered (and `tool_choice` not `"none"`) to a last message from the user,
//!   the echo calls the first (or the chosen) tool with every required parameter set to a
//!   placeholder: `"x"`, `1`, `true`, `[]` or `{}` by schema type.
//! - After a `tool` message it says `tool result: {content}`; otherwise
//!   `echo: {last user text}`, or `MockOptions::reply_words` × `lorem`.
//! - Usage: prompt tokens are the words across all message text (at least 1), completion
//!   tokens the words of the reply (5 for a tool call).
//! - Streams send a role chunk, one delta per word (or `stream_chunks` even pieces), a
//!   finish chunk, a usage chunk only with `stream_options.include_usage`, then
//!   `data: [DONE]`.
//!
//! Content replies need a JSON body (else 400 with an OpenAI error); fault replies
//! (`Status`, `Raw`, `Hang`, `Malformed`, `DropMidStream`) apply whatever the body was.
//!
//! # OAuth2
//!
//! `POST /oauth/token` is a refresh-token grant endpoint (RFC 6749 §6) issuing `tok-1`,
//! `tok-2`, … for the refresh token [`MockProvider::oauth_refresh_token`] (`refresh-0`;
//! a wrong one gets 400 `invalid_grant`). [`MockProvider::set_oauth`] sets `expires_in`
//! and refresh-token rotation, [`MockProvider::oauth_refreshes`] counts token requests
//! (never part of `calls`), and [`MockProvider::require_bearer`] makes the API routes
//! answer 401 to any other bearer — [`RequiredBearer::CurrentOAuth`] accepts only the
//! token issued last, so a test can prove a client refreshes on 401.
//!
//! Layout: `script` (replies and their queue), `record` (call recording and stream
//! counters), `turn` (the format-neutral mock model), `body` (paced, truncated and hanging
//! bodies), `openai` (routes, request parsing, rendering), `oauth` (token endpoint and
//! bearer check), `control` (`/__mock` routes),
//! `server` (the provider handle and accept loop). Adding a wire format (Anthropic,
//! Gemini, Ollama) means a sibling of `openai` that parses its requests into a
//! `turn::Prompt` and renders `turn::Turn`s and faults in its own shape, plus one `merge`
//! in `server::router`.

mod anthropic;
mod body;
mod control;
mod embed;
mod gemini;
mod oauth;
mod ollama;
mod openai;
mod record;
mod script;
mod server;
mod turn;

pub use oauth::RequiredBearer;
pub use record::Recorded;
pub use script::{MockUsage, Reply};
pub use server::{MockOptions, MockProvider};
