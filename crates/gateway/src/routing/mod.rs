//! Model resolution: what a requested model name stands for, and the model listing.

mod combo;
pub mod health;
mod listing;
pub mod plan;
mod resolve;
pub mod strategy;

pub use combo::{
    Combo, ComboTarget, RetryOn, RetryPolicy, Strategy, Wildcard, WildcardTarget, glob_match,
};
pub use listing::{Discovered, ListedModel, list_models};
pub use resolve::{Resolved, Route, RouteKind, resolve};
