//! Unit and property tests for the SSE decoder and encoder.

use proptest::prelude::*;

use super::*;

/// Decodes `input` pushed in one piece, then drains `finish`.
fn decode_all(input: &[u8]) -> Result<Vec<SseEvent>, SseError> {
    decode_chunks(std::iter::once(input))
}

fn decode_chunks<'a>(
    chunks: impl IntoIterator<Item = &'a [u8]>,
) -> Result<Vec<SseEvent>, SseError> {
    let mut decoder = SseDecoder::new();
    let mut events = Vec::new();
    for chunk in chunks {
        decoder.push(chunk);
        while let Some(event) = decoder.next_event()? {
            events.push(event);
        }
    }
    while let Some(event) = decoder.finish()? {
        events.push(event);
    }
    Ok(events)
}

fn one(input: &str) -> SseEvent {
    let events = decode_all(input.as_bytes()).expect("decodes");
    assert_eq!(
        events.len(),
        1,
        "expected one event from {input:?}: {events:?}"
    );
    events.into_iter().next().expect("one event")
}

#[test]
fn data_only_event() {
    let event = one("data: {\"a\":1}\n\n");
    assert_eq!(event.data, "{\"a\":1}");
    assert_eq!(event.event, None);
    assert_eq!(event.id, None);
    assert_eq!(event.retry, None);
    assert_eq!(&event.raw[..], b"data: {\"a\":1}\n\n");
    assert!(!event.is_comment());
    assert!(!event.is_done());
}

#[test]
fn all_fields() {
    let event = one("event: message_start\nid: 42\nretry: 1500\ndata: hi\n\n");
    assert_eq!(event.event.as_deref(), Some("message_start"));
    assert_eq!(event.id.as_deref(), Some("42"));
    assert_eq!(event.retry, Some(1500));
    assert_eq!(event.data, "hi");
}

#[test]
fn multi_line_data_is_joined_with_newline() {
    assert_eq!(
        one("data: a\ndata: b\ndata:\ndata: c\n\n").data,
        "a\nb\n\nc"
    );
}

#[test]
fn crlf_and_cr_line_endings() {
    let crlf = one("event: x\r\ndata: a\r\ndata: b\r\n\r\n");
    assert_eq!(crlf.event.as_deref(), Some("x"));
    assert_eq!(crlf.data, "a\nb");
    assert_eq!(&crlf.raw[..], b"event: x\r\ndata: a\r\ndata: b\r\n\r\n");
    let cr = one("data: a\rdata: b\r\r");
    assert_eq!(cr.data, "a\nb");
    assert_eq!(&cr.raw[..], b"data: a\rdata: b\r\r");
}

#[test]
fn mixed_line_endings_in_one_stream() {
    let events = decode_all(b"data: 1\r\n\ndata: 2\r\rdata: 3\n\r\n").expect("decodes");
    let data: Vec<_> = events.iter().map(|e| e.data.as_str()).collect();
    assert_eq!(data, ["1", "2", "3"]);
}

#[test]
fn only_one_space_after_colon_is_stripped() {
    assert_eq!(one("data:  two\n\n").data, " two");
    assert_eq!(one("data:none\n\n").data, "none");
    assert_eq!(one("data:\tx\n\n").data, "\tx");
}

#[test]
fn field_without_colon_has_empty_value() {
    let event = one("data\ndata\n\n");
    assert_eq!(event.data, "\n");
    assert!(!event.is_comment());
}

#[test]
fn value_may_contain_colons() {
    assert_eq!(one("data: a: b:c\n\n").data, "a: b:c");
}

#[test]
fn comment_only_block_is_returned() {
    let event = one(": keep-alive\n\n");
    assert!(event.is_comment());
    assert_eq!(event.data, "");
    assert_eq!(event.event, None);
    assert_eq!(&event.raw[..], b": keep-alive\n\n");
    let bare = one(":\r\n\r\n");
    assert!(bare.is_comment());
}

#[test]
fn comments_inside_an_event_are_ignored() {
    let event = one(": hello\ndata: x\n: bye\n\n");
    assert_eq!(event.data, "x");
    assert!(!event.is_comment());
}

#[test]
fn unknown_fields_are_ignored() {
    let event = one("foo: bar\ndata: x\n\n");
    assert_eq!(event.data, "x");
    let only_unknown = one("foo: bar\n\n");
    assert_eq!(only_unknown.data, "");
    assert!(!only_unknown.is_comment());
}

#[test]
fn invalid_retry_is_ignored() {
    assert_eq!(one("retry: 12a\ndata: x\n\n").retry, None);
    assert_eq!(one("retry: -1\ndata: x\n\n").retry, None);
    assert_eq!(one("retry:\ndata: x\n\n").retry, None);
    assert_eq!(
        one("retry: 99999999999999999999999\ndata: x\n\n").retry,
        None
    );
    assert_eq!(one("retry: 10\nretry: x\ndata: x\n\n").retry, Some(10));
}

#[test]
fn id_with_nul_is_ignored_and_empty_id_resets() {
    assert_eq!(one("id: a\0b\ndata: x\n\n").id, None);
    assert_eq!(one("id\ndata: x\n\n").id.as_deref(), Some(""));
}

#[test]
fn empty_event_name_is_default_type() {
    assert_eq!(one("event: a\nevent:\ndata: x\n\n").event, None);
}

#[test]
fn leading_bom_is_stripped_once() {
    let events = decode_all(b"\xEF\xBB\xBFdata: a\n\n\xEF\xBB\xBFdata: b\n\n").expect("decodes");
    assert_eq!(events[0].data, "a");
    assert_eq!(&events[0].raw[..], b"data: a\n\n");
    // A second BOM is not stripped: the line's field name is then unknown.
    assert_eq!(events[1].data, "");
}

#[test]
fn bom_split_across_chunks() {
    let chunks: [&[u8]; 3] = [b"\xEF", b"\xBB", b"\xBFdata: a\n\n"];
    let events = decode_chunks(chunks).expect("decodes");
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].data, "a");
}

#[test]
fn stray_blank_lines_are_dropped() {
    let events = decode_all(b"\n\r\n\ndata: a\n\n\n\ndata: b\n\n").expect("decodes");
    assert_eq!(events.len(), 2);
    assert_eq!(&events[0].raw[..], b"data: a\n\n");
    assert_eq!(&events[1].raw[..], b"data: b\n\n");
}

#[test]
fn done_sentinel() {
    assert!(one("data: [DONE]\n\n").is_done());
    assert!(!one("data: [DONE] \n\n").is_done());
}

#[test]
fn invalid_utf8_is_replaced() {
    assert_eq!(one("data: a\u{FFFD}b\n\n").data, "a\u{FFFD}b");
    let events = decode_all(b"data: a\xFFb\n\n").expect("decodes");
    assert_eq!(events[0].data, "a\u{FFFD}b");
}

#[test]
fn utf8_split_across_chunks() {
    let text = "data: héllo 🌍\n\n".as_bytes();
    for cut in 0..text.len() {
        let events = decode_chunks([&text[..cut], &text[cut..]]).expect("decodes");
        assert_eq!(events[0].data, "héllo 🌍", "cut at {cut}");
    }
}

#[test]
fn events_are_returned_only_when_complete() {
    let mut decoder = SseDecoder::new();
    decoder.push(b"data: a\n");
    assert_eq!(decoder.next_event(), Ok(None));
    decoder.push(b"\ndata: b");
    assert_eq!(
        decoder.next_event().expect("ok").map(|e| e.data),
        Some("a".into())
    );
    assert_eq!(decoder.next_event(), Ok(None));
    decoder.push(b"\n\n");
    assert_eq!(
        decoder.next_event().expect("ok").map(|e| e.data),
        Some("b".into())
    );
    assert_eq!(decoder.next_event(), Ok(None));
}

#[test]
fn trailing_cr_waits_for_a_possible_lf() {
    let mut decoder = SseDecoder::new();
    decoder.push(b"data: a\r\n\r");
    assert_eq!(decoder.next_event(), Ok(None));
    decoder.push(b"\n");
    let event = decoder.next_event().expect("ok").expect("event");
    assert_eq!(&event.raw[..], b"data: a\r\n\r\n");
    // At end of stream a trailing `\r` is a line end.
    let mut decoder = SseDecoder::new();
    decoder.push(b"data: a\r\r");
    assert_eq!(decoder.next_event(), Ok(None));
    let event = decoder.finish().expect("ok").expect("event");
    assert_eq!(&event.raw[..], b"data: a\r\r");
    assert_eq!(decoder.finish(), Ok(None));
}

#[test]
fn finish_flushes_a_trailing_event_and_completes_raw() {
    let events = decode_all(b"data: a\n\ndata: b").expect("decodes");
    assert_eq!(events.len(), 2);
    assert_eq!(events[1].data, "b");
    assert_eq!(&events[1].raw[..], b"data: b\n\n");
    let events = decode_all(b"event: e\ndata: c\n").expect("decodes");
    assert_eq!(events[0].event.as_deref(), Some("e"));
    assert_eq!(&events[0].raw[..], b"event: e\ndata: c\n\n");
    assert!(decode_all(b"").expect("decodes").is_empty());
    assert!(decode_all(b"\n\n").expect("decodes").is_empty());
}

#[test]
fn finish_returns_buffered_complete_events_first() {
    let mut decoder = SseDecoder::new();
    decoder.push(b"data: 1\n\ndata: 2\n\ndata: 3");
    let mut data = Vec::new();
    while let Some(event) = decoder.finish().expect("ok") {
        data.push(event.data);
    }
    assert_eq!(data, ["1", "2", "3"]);
}

#[test]
fn raw_is_split_without_copying_the_rest() {
    let mut decoder = SseDecoder::new();
    decoder.push(b"data: 1\n\ndata: 2\n\n");
    let first = decoder.next_event().expect("ok").expect("event");
    let second = decoder.next_event().expect("ok").expect("event");
    assert_eq!(&first.raw[..], b"data: 1\n\n");
    assert_eq!(&second.raw[..], b"data: 2\n\n");
    // Both are views into the one buffer the chunk was pushed into.
    assert_eq!(
        first.raw.as_ptr() as usize + first.raw.len(),
        second.raw.as_ptr() as usize
    );
}

#[test]
fn byte_at_a_time_pushes_of_a_long_line_stay_linear() {
    // Re-scanning the pending line on every push would make this quadratic (and slow).
    let mut decoder = SseDecoder::new();
    decoder.push(b"data: ");
    for _ in 0..200_000 {
        decoder.push(b"x");
        assert_eq!(decoder.next_event(), Ok(None));
    }
    decoder.push(b"\n\n");
    let event = decoder.next_event().expect("ok").expect("event");
    assert_eq!(event.data.len(), 200_000);
}

#[test]
fn event_too_large() {
    let mut decoder = SseDecoder::with_max_event_bytes(16);
    decoder.push(b"data: 0123456789\n\n");
    assert_eq!(
        decoder.next_event(),
        Err(SseError::EventTooLarge { limit: 16 })
    );
    // The decoder stays failed.
    decoder.push(b"data: x\n\n");
    assert!(decoder.next_event().is_err());

    // An incomplete block is limited too, before its end arrives.
    let mut decoder = SseDecoder::with_max_event_bytes(16);
    decoder.push(b"data: 0123456789abcdef");
    assert!(decoder.next_event().is_err());

    // Exactly at the limit is fine.
    let mut decoder = SseDecoder::with_max_event_bytes(10);
    decoder.push(b"data: 12\n\n");
    assert!(decoder.next_event().expect("ok").is_some());
}

#[test]
fn many_small_events_in_a_big_buffer_are_each_within_the_limit() {
    let mut decoder = SseDecoder::with_max_event_bytes(16);
    decoder.push(&b"data: 1234\n\n".repeat(100));
    let mut count = 0;
    while decoder.next_event().expect("ok").is_some() {
        count += 1;
    }
    assert_eq!(count, 100);
}

#[test]
fn encode_renders_event_and_multi_line_data() {
    assert_eq!(&encode(None, "[DONE]")[..], b"data: [DONE]\n\n");
    assert_eq!(
        &encode(Some("ping"), "a\nb\r\nc\rd")[..],
        b"event: ping\ndata: a\ndata: b\ndata: c\ndata: d\n\n"
    );
    assert_eq!(&encode(None, "")[..], b"data: \n\n");
    assert_eq!(&encode(Some("a\nb"), "x")[..], b"event: ab\ndata: x\n\n");
}

/// Building blocks for syntactically varied event streams.
fn line() -> impl Strategy<Value = String> {
    prop_oneof![
        "[ -~é🌍]{0,12}".prop_map(|v| format!("data: {v}")),
        "[a-z]{0,6}".prop_map(|v| format!("data:{v}")),
        Just("data".to_owned()),
        "[a-z_]{0,8}".prop_map(|v| format!("event: {v}")),
        "[0-9a-z]{0,4}".prop_map(|v| format!("id: {v}")),
        "[0-9x]{0,4}".prop_map(|v| format!("retry: {v}")),
        "[ -~]{0,8}".prop_map(|v| format!(":{v}")),
        "[a-z]{1,5}".prop_map(|v| format!("{v}: x")),
        Just(String::new()),
    ]
}

fn stream() -> impl Strategy<Value = Vec<u8>> {
    let ending = prop_oneof![Just("\n"), Just("\r\n"), Just("\r")];
    (
        any::<bool>(),
        prop::collection::vec((line(), ending), 0..40),
        any::<bool>(),
    )
        .prop_map(|(bom, lines, trailing)| {
            let mut out = Vec::new();
            if bom {
                out.extend_from_slice(b"\xEF\xBB\xBF");
            }
            for (line, ending) in lines {
                out.extend_from_slice(line.as_bytes());
                out.extend_from_slice(ending.as_bytes());
            }
            if trailing {
                out.extend_from_slice(b"data: tail");
            }
            out
        })
}

fn split_at_points(input: &[u8], mut cuts: Vec<usize>) -> Vec<&[u8]> {
    cuts.iter_mut().for_each(|c| *c %= input.len() + 1);
    cuts.sort_unstable();
    let mut chunks = Vec::new();
    let mut start = 0;
    for cut in cuts {
        chunks.push(&input[start..cut]);
        start = cut;
    }
    chunks.push(&input[start..]);
    chunks
}

proptest! {
    #[test]
    fn chunking_does_not_change_events(
        input in stream(),
        cuts in prop::collection::vec(any::<usize>(), 0..12),
    ) {
        let whole = decode_all(&input);
        let split = decode_chunks(split_at_points(&input, cuts));
        prop_assert_eq!(whole, split);
    }

    #[test]
    fn chunking_does_not_change_events_for_arbitrary_bytes(
        input in prop::collection::vec(
            prop_oneof![Just(b'\n'), Just(b'\r'), Just(b':'), Just(b' '), any::<u8>()],
            0..200,
        ),
        cuts in prop::collection::vec(any::<usize>(), 0..12),
    ) {
        let whole = decode_all(&input);
        let split = decode_chunks(split_at_points(&input, cuts));
        prop_assert_eq!(whole, split);
    }

    #[test]
    fn well_formed_streams_are_reproduced_by_raw(input in stream()) {
        let events = decode_all(&input).expect("no limit hit");
        let raw: Vec<u8> = events.iter().flat_map(|e| e.raw.iter().copied()).collect();
        // Every non-blank line of the input (minus the BOM) appears in order in the raws.
        let strip = |bytes: &[u8]| -> Vec<u8> {
            bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes)
                .split(|&b| b == b'\n' || b == b'\r')
                .filter(|l| !l.is_empty())
                .flat_map(|l| l.iter().copied().chain([b'\n']))
                .collect()
        };
        prop_assert_eq!(strip(&input), strip(&raw));
    }

    #[test]
    fn encode_then_decode_round_trips(
        event in prop::option::of("[A-Za-z0-9_.-]{1,20}"),
        data in any::<String>(),
    ) {
        let encoded = encode(event.as_deref(), &data);
        let events = decode_all(&encoded).expect("decodes");
        prop_assert_eq!(events.len(), 1);
        let expected = data.replace("\r\n", "\n").replace('\r', "\n");
        prop_assert_eq!(&events[0].data, &expected);
        prop_assert_eq!(&events[0].event, &event);
        prop_assert_eq!(&events[0].raw, &encoded);
        prop_assert!(!events[0].is_comment());
    }
}
