//! Arbitrary bytes through the responses stream decoder (see `switchboard_fuzz::responses_stream`).

#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| switchboard_fuzz::responses_stream(data));
