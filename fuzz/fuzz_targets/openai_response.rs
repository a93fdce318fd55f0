//! Arbitrary bytes through the openai response decoder (see `switchboard_fuzz::openai_response`).

#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| switchboard_fuzz::openai_response(data));
