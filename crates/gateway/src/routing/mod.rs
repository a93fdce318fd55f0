//! Model resolution: what a requested model name stands for, and the model listing.

mod listing;
mod resolve;

pub use listing::{ListedModel, list_models};
pub use resolve::{Route, RouteKind, resolve};
