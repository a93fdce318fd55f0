//! Arbitrary bytes through the ollama request decoder (see `switchboard_fuzz::ollama_request`).

#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| switchboard_fuzz::ollama_request(data));
