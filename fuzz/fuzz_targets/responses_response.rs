//! Arbitrary bytes through the responses response decoder (see `switchboard_fuzz::responses_response`).

#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| switchboard_fuzz::responses_response(data));
