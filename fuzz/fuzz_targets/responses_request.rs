//! Arbitrary bytes through the responses request decoder (see `switchboard_fuzz::responses_request`).

#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| switchboard_fuzz::responses_request(data));
