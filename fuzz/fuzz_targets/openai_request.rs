//! Arbitrary bytes through the openai request decoder (see `switchboard_fuzz::openai_request`).

#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| switchboard_fuzz::openai_request(data));
