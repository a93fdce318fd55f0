//! Arbitrary bytes through the ollama stream decoder (see `switchboard_fuzz::ollama_stream`).

#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| switchboard_fuzz::ollama_stream(data));
