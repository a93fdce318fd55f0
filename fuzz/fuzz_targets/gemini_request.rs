//! Arbitrary bytes through the gemini request decoder (see `switchboard_fuzz::gemini_request`).

#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| switchboard_fuzz::gemini_request(data));
