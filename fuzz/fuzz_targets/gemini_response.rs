//! Arbitrary bytes through the gemini response decoder (see `switchboard_fuzz::gemini_response`).

#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| switchboard_fuzz::gemini_response(data));
