//! The conformance matrix: every case × client dialect × provider wire format × (JSON,
//! stream), generated, over real sockets.
//!
//! Three tables make the matrix, and each axis grows by one entry:
//!
//! - `cases` — what a cell asks ([`Ask`]), what the mock upstream answers ([`Script`]) and
//!   what the client must see and the upstream must have received;
//! - `dialects` — one client adapter per dialect: build the request for an [`Ask`], read the
//!   JSON answer, the stream or the error into one dialect-neutral [`Observed`];
//! - `wires` — one entry per wire format: the provider's configuration against the mock, a
//!   renderer of a [`Script`] in that format (a raw JSON body or event stream), and a reader
//!   of the request the mock received into a neutral [`Received`].
//!
//! `matrix!` below makes one test per (case, dialect); each runs its cells over every wire
//! format, streamed and not, and reports every failing cell by name. A cell the gateway does
//! not support yet is listed in [`KNOWN_GAPS`], and the test checks that it still fails, so
//! fixing it forces removing the entry.

#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "conformance/cases.rs"]
mod cases;
mod common;
#[path = "conformance/dialects.rs"]
mod dialects;
#[path = "conformance/wires.rs"]
mod wires;

use common::TestGateway;
use serde_json::Value;
use testkit::MockProvider;
use wire::Dialect;

pub use cases::Case;

/// How generation stopped, as every dialect can say it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stop {
    Stop,
    Length,
    ToolCalls,
}

/// Token counts: `prompt` includes `cached`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Tokens {
    pub prompt: u64,
    pub cached: u64,
    pub output: u64,
}

/// A tool call, in the upstream's answer or as the client saw it.
#[derive(Clone, Debug, PartialEq)]
pub struct Call {
    pub id: String,
    pub name: String,
    pub arguments: Value,
}

/// What the mock upstream answers, in no particular wire format.
#[derive(Clone, Debug)]
pub enum Script {
    Answer {
        /// Thinking text and its signature.
        reasoning: Option<(String, String)>,
        text: String,
        calls: Vec<Call>,
        stop: Stop,
        usage: Tokens,
    },
    /// An error status with this message, in the wire format's error shape.
    Error { status: u16, message: String },
}

/// What a cell's client asks, in no particular dialect.
#[derive(Clone, Debug, Default)]
pub struct Ask {
    pub system: Option<String>,
    pub user: String,
    /// Media type and base64 data of an image sent with the user's text.
    pub image: Option<(String, String)>,
    /// Offer the two tools of [`cases::tools`].
    pub tools: bool,
    /// The history holds a call to `get_weather` (id `call_w1`) and its result.
    pub tool_result: bool,
    /// Ask for JSON matching this schema.
    pub schema: Option<Value>,
    /// Ask for reasoning (thinking).
    pub reasoning: bool,
    pub max_tokens: Option<u64>,
}

/// What the client saw, in no particular dialect.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Observed {
    pub status: u16,
    pub text: String,
    pub reasoning: String,
    /// Name and parsed arguments of each tool call, in order.
    pub calls: Vec<(String, Value)>,
    pub stop: Option<Stop>,
    /// Prompt tokens (cache reads included), cache reads where the dialect reports them,
    /// output tokens.
    pub usage: Option<(u64, Option<u64>, u64)>,
    pub error: Option<ErrorSeen>,
}

/// An error answer: its message and the dialect's kind of error (type or status name).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ErrorSeen {
    pub message: String,
    pub kind: String,
}

/// What the upstream received, in no particular wire format.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Received {
    pub system: String,
    /// The text of the user's messages.
    pub user_text: String,
    /// Base64 data of the images sent.
    pub images: Vec<String>,
    /// Names of the tools offered.
    pub tools: Vec<String>,
    /// Ids of the tool calls in the history's assistant turns.
    pub call_ids: Vec<String>,
    /// Tool results: the call id each answers and its text.
    pub results: Vec<(String, String)>,
    /// The JSON schema asked for, however the format says it.
    pub schema: Option<Value>,
    pub reasoning: bool,
    pub max_tokens: Option<u64>,
    pub stream: bool,
}

/// One cell of the matrix.
#[derive(Clone, Copy, Debug)]
pub struct Cell {
    pub case: Case,
    pub dialect: Dialect,
    pub wire: &'static str,
    pub stream: bool,
}

impl std::fmt::Display for Cell {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mode = if self.stream { "stream" } else { "json" };
        write!(
            f,
            "{:?} / {} client / {} upstream / {mode}",
            self.case, self.dialect, self.wire
        )
    }
}

/// Cells that do not pass yet: (case, client dialects, wire format, why). Each listed cell
/// is checked to still fail, streamed and not; remove the entry when it passes.
pub const KNOWN_GAPS: &[(Case, &[Dialect], &str, &str)] = &[];

fn known_gap(cell: &Cell) -> Option<&'static str> {
    KNOWN_GAPS
        .iter()
        .find(|(case, dialects, wire, _)| {
            *case == cell.case && dialects.contains(&cell.dialect) && *wire == cell.wire
        })
        .map(|(.., why)| *why)
}

/// The gateway in front of one mock that every wire format's provider points at.
async fn gateway() -> TestGateway {
    let mock = MockProvider::start().await;
    let toml: String = wires::WIRES
        .iter()
        .map(|w| (w.provider)(w.name, &mock.url()))
        .collect();
    TestGateway::from_toml(mock, &toml).await
}

/// Runs one cell: scripts the mock, sends the request, reads both ends, checks them.
async fn run_cell(gw: &TestGateway, cell: Cell) -> Result<(), String> {
    let wire = wires::wire(cell.wire);
    let dialect = dialects::dialect(cell.dialect);
    gw.mock.reset();
    gw.mock
        .push((wire.render)(&cell.case.script(), cell.stream));
    let model = format!("via-{}", wire.name);
    let (path, body) = (dialect.request)(&cell.case.ask(), &model, cell.stream);
    let resp = gw.post(&path, &body).await;
    let status = resp.status().as_u16();
    let content_type = resp
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let text = resp.text().await.map_err(|e| e.to_string())?;
    let observed = if status != 200 {
        let value: Value = serde_json::from_str(&text)
            .map_err(|e| format!("error body is not JSON ({e}): {text}"))?;
        let error = (dialect.error)(&value, status)
            .map_err(|e| format!("error not in the dialect's shape: {e}: {text}"))?;
        Observed {
            status,
            error: Some(error),
            ..Observed::default()
        }
    } else if cell.stream {
        let mut o =
            (dialect.stream)(&text, &content_type).map_err(|e| format!("stream: {e}\n{text}"))?;
        o.status = status;
        o
    } else {
        let value: Value =
            serde_json::from_str(&text).map_err(|e| format!("body is not JSON ({e}): {text}"))?;
        let mut o = (dialect.json)(&value).map_err(|e| format!("answer: {e}\n{text}"))?;
        o.status = status;
        o
    };
    let recorded = gw
        .mock
        .last_request()
        .ok_or("the upstream received no request")?;
    let sent: Value = recorded.json().ok_or("the upstream request is not JSON")?;
    let received = (wire.received)(&sent);
    if received.stream != cell.stream {
        return Err(format!(
            "upstream stream flag {} for a {} client request",
            received.stream, cell.stream
        ));
    }
    cell.case
        .check(cell.dialect, &observed, &received)
        .map_err(|e| format!("{e}\n  observed: {observed:?}\n  received: {received:?}"))
}

/// Every cell of one (case, dialect): each wire format, JSON then stream.
async fn run(case: Case, dialect: Dialect) {
    let gw = gateway().await;
    let mut failures = Vec::new();
    for wire in wires::WIRES {
        for stream in [false, true] {
            let cell = Cell {
                case,
                dialect,
                wire: wire.name,
                stream,
            };
            let result = run_cell(&gw, cell).await;
            match (known_gap(&cell), result) {
                (None, Ok(())) | (Some(_), Err(_)) => {}
                (None, Err(e)) => failures.push(format!("{cell}: {e}")),
                (Some(why), Ok(())) => failures.push(format!(
                    "{cell} passes now: remove it from KNOWN_GAPS ({why})"
                )),
            }
        }
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n\n"));
}

/// One test per (case, dialect), named `case::dialect`.
macro_rules! matrix {
    ($($module:ident => $case:ident),* $(,)?) => {$(
        mod $module {
            use super::{Case, run};
            use wire::Dialect;

            #[tokio::test]
            async fn openai() {
                run(Case::$case, Dialect::OpenAi).await;
            }
            #[tokio::test]
            async fn anthropic() {
                run(Case::$case, Dialect::Anthropic).await;
            }
            #[tokio::test]
            async fn responses() {
                run(Case::$case, Dialect::Responses).await;
            }
            #[tokio::test]
            async fn gemini() {
                run(Case::$case, Dialect::Gemini).await;
            }
            #[tokio::test]
            async fn ollama() {
                run(Case::$case, Dialect::Ollama).await;
            }
        }
    )*};
}

matrix! {
    text => Text,
    system_prompt => SystemPrompt,
    image => Image,
    parallel_tool_calls => ParallelToolCalls,
    tool_results => ToolResults,
    structured_output => StructuredOutput,
    reasoning => Reasoning,
    stop_length => StopLength,
    usage_cached => UsageCached,
    upstream_error => UpstreamError,
    upstream_overloaded => UpstreamOverloaded,
}

/// The matrix covers every case and every dialect: a case added to `Case::ALL` without a
/// line in `matrix!` (or the reverse) fails here.
#[test]
fn every_case_has_its_tests() {
    let listed = [
        "Text",
        "SystemPrompt",
        "Image",
        "ParallelToolCalls",
        "ToolResults",
        "StructuredOutput",
        "Reasoning",
        "StopLength",
        "UsageCached",
        "UpstreamError",
        "UpstreamOverloaded",
    ];
    let all: Vec<String> = Case::ALL.iter().map(|c| format!("{c:?}")).collect();
    assert_eq!(all, listed);
    for (case, _, wire, _) in KNOWN_GAPS {
        assert!(Case::ALL.contains(case));
        assert!(wires::WIRES.iter().any(|w| w.name == *wire), "{wire}");
    }
}
