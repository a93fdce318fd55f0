//! What each fuzz target does with its bytes: parse them as a dialect's request, response or
//! stream, decode into the canonical model, and encode the result again — for every dialect
//! where the gateway would. A panic anywhere is a finding; so is a broken invariant:
//!
//! - a request the decoder accepted re-encodes (in its own dialect) to JSON that parses back
//!   into the wire type and decodes again;
//! - a response re-encodes to JSON that parses back into the wire type;
//! - stream events the decoder produced pass through every dialect's stream encoder, and what
//!   comes out serializes.
//!
//! Each target in `fuzz_targets/` is one call into this file, so the targets stay one line
//! each and the work can be read in one place.

use serde::Serialize;
use serde::de::DeserializeOwned;
use wire::canonical::{self, StreamEvent};
use wire::sse::SseDecoder;
use wire::{anthropic, gemini, ollama, openai, responses};

/// Events larger than this are dropped by the SSE decoder (as the gateway bounds them).
const MAX_EVENT_BYTES: usize = 64 * 1024;

fn parse<T: DeserializeOwned>(data: &[u8]) -> Option<T> {
    serde_json::from_slice(data).ok()
}

/// Serializes `value` and parses it back as `T`: what an encoder writes must be readable by
/// the same wire type.
fn reparse<S: Serialize, T: DeserializeOwned>(what: &str, value: &S) -> T {
    let bytes = serde_json::to_vec(value).unwrap_or_else(|e| panic!("{what}: serialize: {e}"));
    serde_json::from_slice(&bytes).unwrap_or_else(|e| {
        panic!(
            "{what}: encoded JSON does not parse back: {e}\n{}",
            String::from_utf8_lossy(&bytes)
        )
    })
}

fn serializes<S: Serialize>(what: &str, value: &S) {
    if let Err(e) = serde_json::to_vec(value) {
        panic!("{what}: serialize: {e}");
    }
}

/// The `data` of each SSE event in `data` (invalid events and comments skipped).
fn sse_data(data: &[u8]) -> Vec<String> {
    let mut dec = SseDecoder::with_max_event_bytes(MAX_EVENT_BYTES);
    dec.push(data);
    let mut out = Vec::new();
    while let Ok(Some(ev)) = dec.next_event() {
        if !ev.is_comment() {
            out.push(ev.data);
        }
    }
    if let Ok(Some(ev)) = dec.finish() {
        out.push(ev.data);
    }
    out
}

/// A canonical request in every dialect's request shape (what the gateway sends upstream).
fn encode_request_everywhere(req: &canonical::Request) {
    serializes("openai request", &openai::codec::encode_request(req));
    serializes(
        "anthropic request",
        &anthropic::codec::encode_request(req, 4096),
    );
    serializes("responses request", &responses::codec::encode_request(req));
    serializes("gemini request", &gemini::codec::encode_request(req));
    serializes("ollama request", &ollama::codec::encode_chat(req));
}

/// A canonical answer in every dialect's response shape (what the gateway sends the client).
fn encode_response_everywhere(resp: &canonical::Response) {
    let _: openai::ChatCompletionResponse =
        reparse("openai response", &openai::codec::encode_response(resp, 0));
    let _: anthropic::MessagesResponse = reparse(
        "anthropic response",
        &anthropic::codec::encode_response(resp),
    );
    let base = responses::codec::base_response(&canonical::Request::default(), "resp_1", 0);
    let _: responses::ResponseObject = reparse(
        "responses response",
        &responses::codec::encode_response(resp, base),
    );
    let _: gemini::GenerateContentResponse =
        reparse("gemini response", &gemini::codec::encode_response(resp));
    let _: ollama::ChatResponse = reparse(
        "ollama response",
        &ollama::codec::encode_response(resp, "t"),
    );
}

/// Canonical stream events through every dialect's stream encoder.
fn encode_stream_everywhere(events: &[StreamEvent]) {
    let mut oa = openai::codec::ChunkEncoder::new("m", 0, true);
    let mut an = anthropic::codec::EventEncoder::new("m");
    let base = responses::codec::base_response(&canonical::Request::default(), "resp_1", 0);
    let mut rs = responses::codec::EventEncoder::new(base);
    let mut ge = gemini::codec::ChunkEncoder::new("m");
    let mut ol = ollama::codec::ChunkEncoder::new("m", "t");
    for event in events {
        let mut out = Vec::new();
        oa.push(event, &mut out);
        for chunk in &out {
            if let openai::codec::ChunkOut::Chunk(chunk) = chunk {
                serializes("openai chunk", chunk);
            }
        }
        let mut out = Vec::new();
        an.push(event, &mut out);
        serializes("anthropic events", &out);
        let mut out = Vec::new();
        rs.push(event, &mut out);
        serializes("responses events", &out);
        let mut out = Vec::new();
        ge.push(event, &mut out);
        serializes("gemini chunks", &out);
        let mut out = Vec::new();
        ol.push(event, &mut out);
        serializes("ollama lines", &out);
    }
}

// --- OpenAI chat ------------------------------------------------------------------------------

pub fn openai_request(data: &[u8]) {
    let Some(req) = parse::<openai::ChatCompletionRequest>(data) else {
        return;
    };
    let Ok(canon) = openai::codec::decode_request(&req) else {
        return;
    };
    let again: openai::ChatCompletionRequest =
        reparse("openai request", &openai::codec::encode_request(&canon));
    if let Err(e) = openai::codec::decode_request(&again) {
        panic!("a decoded request re-encodes to one that does not decode: {e}");
    }
    encode_request_everywhere(&canon);
}

pub fn openai_response(data: &[u8]) {
    if let Some(resp) = parse::<openai::ChatCompletionResponse>(data) {
        encode_response_everywhere(&openai::codec::decode_response(&resp));
    }
}

pub fn openai_stream(data: &[u8]) {
    let mut dec = openai::codec::ChunkDecoder::new();
    let mut events = Vec::new();
    for d in sse_data(data) {
        if d == "[DONE]" {
            break;
        }
        if let Ok(chunk) = serde_json::from_str::<openai::ChatCompletionChunk>(&d) {
            dec.push(&chunk, &mut events);
        }
    }
    dec.finish(&mut events);
    encode_stream_everywhere(&events);
}

// --- Anthropic Messages -----------------------------------------------------------------------

pub fn anthropic_request(data: &[u8]) {
    let Some(req) = parse::<anthropic::MessagesRequest>(data) else {
        return;
    };
    let Ok(canon) = anthropic::codec::decode_request(&req) else {
        return;
    };
    let again: anthropic::MessagesRequest = reparse(
        "anthropic request",
        &anthropic::codec::encode_request(&canon, 4096),
    );
    if let Err(e) = anthropic::codec::decode_request(&again) {
        panic!("a decoded request re-encodes to one that does not decode: {e}");
    }
    encode_request_everywhere(&canon);
}

pub fn anthropic_response(data: &[u8]) {
    if let Some(resp) = parse::<anthropic::MessagesResponse>(data) {
        encode_response_everywhere(&anthropic::codec::decode_response(&resp));
    }
}

pub fn anthropic_stream(data: &[u8]) {
    let mut dec = anthropic::codec::EventDecoder::new();
    let mut events = Vec::new();
    for d in sse_data(data) {
        if let Ok(event) = serde_json::from_str::<anthropic::StreamEvent>(&d)
            && dec.push(&event, &mut events).is_err()
        {
            break;
        }
    }
    encode_stream_everywhere(&events);
}

// --- OpenAI Responses -------------------------------------------------------------------------

pub fn responses_request(data: &[u8]) {
    let Some(req) = parse::<responses::ResponsesRequest>(data) else {
        return;
    };
    let Ok(canon) = responses::codec::decode_request(&req) else {
        return;
    };
    let again: responses::ResponsesRequest = reparse(
        "responses request",
        &responses::codec::encode_request(&canon),
    );
    if let Err(e) = responses::codec::decode_request(&again) {
        panic!("a decoded request re-encodes to one that does not decode: {e}");
    }
    encode_request_everywhere(&canon);
}

pub fn responses_response(data: &[u8]) {
    if let Some(resp) = parse::<responses::ResponseObject>(data) {
        encode_response_everywhere(&responses::codec::decode_response(&resp));
    }
}

/// There is no Responses stream decoder (no Responses upstream yet): each event must parse
/// back after re-serializing, and the response a lifecycle event carries decodes and
/// re-encodes like a whole response.
pub fn responses_stream(data: &[u8]) {
    for d in sse_data(data) {
        let Ok(event) = serde_json::from_str::<responses::Event>(&d) else {
            continue;
        };
        let _: responses::Event = reparse("responses event", &event);
        if let responses::EventKind::Completed { response }
        | responses::EventKind::Incomplete { response }
        | responses::EventKind::Failed { response } = &event.kind
        {
            encode_response_everywhere(&responses::codec::decode_response(response));
        }
    }
}

// --- Gemini -----------------------------------------------------------------------------------

pub fn gemini_request(data: &[u8]) {
    let Some(req) = parse::<gemini::GenerateContentRequest>(data) else {
        return;
    };
    let Ok(canon) = gemini::codec::decode_request(&req) else {
        return;
    };
    let again: gemini::GenerateContentRequest =
        reparse("gemini request", &gemini::codec::encode_request(&canon));
    if let Err(e) = gemini::codec::decode_request(&again) {
        panic!("a decoded request re-encodes to one that does not decode: {e}");
    }
    encode_request_everywhere(&canon);
}

pub fn gemini_response(data: &[u8]) {
    if let Some(resp) = parse::<gemini::GenerateContentResponse>(data) {
        encode_response_everywhere(&gemini::codec::decode_response(&resp));
    }
}

/// A Gemini stream is SSE (`alt=sse`) or one JSON array of chunks; each chunk has the shape
/// of a whole response and decodes like one.
pub fn gemini_stream(data: &[u8]) {
    let chunks: Vec<gemini::GenerateContentResponse> = match parse(data) {
        Some(array) => array,
        None => sse_data(data)
            .iter()
            .filter_map(|d| serde_json::from_str(d).ok())
            .collect(),
    };
    for chunk in &chunks {
        encode_response_everywhere(&gemini::codec::decode_response(chunk));
    }
}

// --- Ollama -----------------------------------------------------------------------------------

/// `/api/chat` and `/api/generate` bodies both decode to a canonical request.
pub fn ollama_request(data: &[u8]) {
    if let Some(req) = parse::<ollama::ChatRequest>(data)
        && let Ok(canon) = ollama::codec::decode_chat(&req)
    {
        let again: ollama::ChatRequest =
            reparse("ollama request", &ollama::codec::encode_chat(&canon));
        if let Err(e) = ollama::codec::decode_chat(&again) {
            panic!("a decoded request re-encodes to one that does not decode: {e}");
        }
        encode_request_everywhere(&canon);
    }
    if let Some(req) = parse::<ollama::GenerateRequest>(data)
        && let Ok(canon) = ollama::codec::decode_generate(&req)
    {
        encode_request_everywhere(&canon);
    }
}

pub fn ollama_response(data: &[u8]) {
    if let Some(resp) = parse::<ollama::ChatResponse>(data) {
        encode_response_everywhere(&ollama::codec::decode_response(&resp));
    }
}

/// An Ollama stream is NDJSON: one chat response per line.
pub fn ollama_stream(data: &[u8]) {
    for line in data.split(|&b| b == b'\n') {
        if let Some(chunk) = parse::<ollama::ChatResponse>(line) {
            encode_response_everywhere(&ollama::codec::decode_response(&chunk));
        }
    }
}
