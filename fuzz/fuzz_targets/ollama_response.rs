//! Arbitrary bytes through the ollama response decoder (see `switchboard_fuzz::ollama_response`).

#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| switchboard_fuzz::ollama_response(data));
