//! Integration tests of the mock provider over real sockets, with reqwest as the client.

#![expect(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]

mod anthropic;
mod chat;
mod control;
mod faults;
mod oauth;
mod streams;
mod support;
