//! Models (`GET /v1/models`): the list and one model object.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// `{"object": "list", "data": [...]}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelList {
    /// Always `list`.
    #[serde(default = "object_list")]
    pub object: String,
    /// The models.
    pub data: Vec<Model>,
    /// Fields this type does not know, kept for the round trip.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl ModelList {
    /// A list of `models`.
    pub fn new(models: Vec<Model>) -> Self {
        Self {
            object: object_list(),
            data: models,
            extra: Map::new(),
        }
    }
}

fn object_list() -> String {
    "list".to_owned()
}

/// A model (`"object": "model"`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Model {
    /// The id to pass as `model`.
    pub id: String,
    /// Always `model`.
    #[serde(default = "object_model")]
    pub object: String,
    /// Unix time (seconds) of creation; 0 when the provider does not say.
    #[serde(default)]
    pub created: u64,
    /// The owning organization; empty when the provider does not say.
    #[serde(default)]
    pub owned_by: String,
    /// Fields this type does not know (e.g. `context_length`), kept for the round trip.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl Model {
    /// A model object.
    pub fn new(id: impl Into<String>, owned_by: impl Into<String>, created: u64) -> Self {
        Self {
            id: id.into(),
            object: object_model(),
            created,
            owned_by: owned_by.into(),
            extra: Map::new(),
        }
    }
}

fn object_model() -> String {
    "model".to_owned()
}
