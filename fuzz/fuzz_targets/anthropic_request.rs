//! Arbitrary bytes through the anthropic request decoder (see `switchboard_fuzz::anthropic_request`).

#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| switchboard_fuzz::anthropic_request(data));
