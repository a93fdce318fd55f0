//! Arbitrary bytes through the anthropic response decoder (see `switchboard_fuzz::anthropic_response`).

#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| switchboard_fuzz::anthropic_response(data));
