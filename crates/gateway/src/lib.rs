//! The Switchboard server: one HTTP front door that speaks the client's dialect, resolves the
//! requested model to a provider, and relays the call in that provider's wire format.
//!
//! The folders follow the request path; `server` lists the layers and stages in order.

pub mod admin;
pub mod auth;
pub mod config;
pub mod error;
pub mod ingress;
pub mod limits;
pub mod providers;
pub mod relay;
pub mod routing;
pub mod secret;
pub mod server;
pub mod state;
pub mod telemetry;
pub mod usage;

pub use config::{Config, ConfigError};
pub use error::GatewayError;
pub use server::{app, serve};
pub use state::AppState;
