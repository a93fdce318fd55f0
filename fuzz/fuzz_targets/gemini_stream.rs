//! Arbitrary bytes through the gemini stream decoder (see `switchboard_fuzz::gemini_stream`).

#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| switchboard_fuzz::gemini_stream(data));
