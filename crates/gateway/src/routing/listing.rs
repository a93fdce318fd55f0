//! The model listing served by `GET /v1/models`: virtual models first, then every enabled
//! provider's known models as `provider/model`, with context window and prices.

use serde::Serialize;

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use crate::config::Config;
use crate::providers::discovery::{DiscoveredModel, merge_context_window};
use crate::providers::{ModelInfo, Prices};

/// One entry of the listing, in OpenAI's model-object shape plus what coding agents use.
#[derive(Debug, Clone, Serialize)]
pub struct ListedModel {
    pub id: String,
    pub object: &'static str,
    pub created: u64,
    pub owned_by: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub context_window: Option<u64>,
    /// The same number under the name OpenRouter-style clients read.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub context_length: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_output_tokens: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pricing: Option<Pricing>,
    /// For a virtual model: the `provider/model` it stands for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

/// Prices in US dollars per million tokens, for display (kept as integers internally).
#[derive(Debug, Clone, Serialize)]
pub struct Pricing {
    pub currency: &'static str,
    pub unit: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub input: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub output: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cache_read: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cache_write: Option<f64>,
}

impl Pricing {
    fn from_prices(p: &Prices) -> Option<Self> {
        #[expect(
            clippy::cast_precision_loss,
            reason = "display only; exact values stay integers"
        )]
        let usd = |m: Option<u64>| m.map(|v| v as f64 / 1_000_000.0);
        (!p.is_empty()).then(|| Self {
            currency: "USD",
            unit: "1M tokens",
            input: usd(p.input),
            output: usd(p.output),
            cache_read: usd(p.cache_read),
            cache_write: usd(p.cache_write),
        })
    }
}

/// Upstream model lists by provider id, from discovery.
pub type Discovered = HashMap<String, Arc<Vec<DiscoveredModel>>>;

fn entry(id: String, owned_by: &str, info: Option<&ModelInfo>, context: u64) -> ListedModel {
    ListedModel {
        id,
        object: "model",
        created: 0,
        owned_by: owned_by.to_owned(),
        context_window: Some(context),
        context_length: Some(context),
        max_output_tokens: info.and_then(|i| i.max_output_tokens),
        pricing: info.and_then(|i| Pricing::from_prices(&i.prices)),
        target: None,
        description: None,
    }
}

/// What the upstream said about one of its models, if it was discovered.
fn upstream<'d>(
    discovered: &'d Discovered,
    provider: &str,
    model: &str,
) -> Option<&'d DiscoveredModel> {
    discovered.get(provider)?.iter().find(|m| m.id == model)
}

/// A model's context window: upstream metadata → provider config (merged over the catalog at
/// load) → route/model config → the global default.
fn context_of(
    config: &Config,
    discovered: &Discovered,
    provider: &str,
    model: &str,
    route: Option<u64>,
) -> u64 {
    let info = config.provider(provider).and_then(|p| p.models.get(model));
    merge_context_window(
        upstream(discovered, provider, model).and_then(|m| m.context_window),
        info.and_then(|i| i.context_window),
        None,
        route,
        config.default_context_window,
    )
}

/// Virtual models, combos, then every enabled provider's known and discovered models.
pub fn list_models(config: &Config, discovered: &Discovered) -> Vec<ListedModel> {
    let mut out = Vec::new();
    for vm in config.models.values() {
        let info = config
            .provider(&vm.provider)
            .and_then(|p| p.models.get(&vm.model));
        let context = context_of(
            config,
            discovered,
            &vm.provider,
            &vm.model,
            vm.context_window,
        );
        let mut m = entry(vm.name.clone(), &vm.provider, info, context);
        m.target = Some(format!("{}/{}", vm.provider, vm.model));
        m.description.clone_from(&vm.description);
        out.push(m);
    }
    for combo in config.combos.values() {
        // A request can land on any target: the combo takes what its smallest one can.
        let context = combo
            .targets
            .iter()
            .map(|t| context_of(config, discovered, &t.provider, &t.model, None))
            .min()
            .unwrap_or(config.default_context_window);
        let mut m = entry(combo.name.clone(), "switchboard", None, context);
        m.target = Some(format!("combo ({})", combo.strategy.as_str()));
        m.description.clone_from(&combo.description);
        out.push(m);
    }
    for p in &config.providers {
        let found = discovered.get(&p.id);
        let ids: BTreeSet<&str> = p
            .models
            .keys()
            .map(String::as_str)
            .chain(
                found
                    .into_iter()
                    .flat_map(|l| l.iter().map(|m| m.id.as_str())),
            )
            .collect();
        for model in ids {
            let info = p.models.get(model);
            let up = upstream(discovered, &p.id, model);
            let context = context_of(config, discovered, &p.id, model, None);
            let mut m = entry(format!("{}/{model}", p.id), &p.id, info, context);
            m.max_output_tokens = up.and_then(|u| u.max_output_tokens).or(m.max_output_tokens);
            m.created = up.and_then(|u| u.created).unwrap_or(0);
            out.push(m);
        }
    }
    out
}
