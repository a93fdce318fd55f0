//! The model listing served by `GET /v1/models`: virtual models first, then every enabled
//! provider's known models as `provider/model`, with context window and prices.

use serde::Serialize;

use crate::config::Config;
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

fn entry(
    id: String,
    owned_by: &str,
    info: Option<&ModelInfo>,
    context: Option<u64>,
) -> ListedModel {
    let context = context.or(info.and_then(|i| i.context_window));
    ListedModel {
        id,
        object: "model",
        created: 0,
        owned_by: owned_by.to_owned(),
        context_window: context,
        context_length: context,
        max_output_tokens: info.and_then(|i| i.max_output_tokens),
        pricing: info.and_then(|i| Pricing::from_prices(&i.prices)),
        target: None,
        description: None,
    }
}

pub fn list_models(config: &Config) -> Vec<ListedModel> {
    let mut out = Vec::new();
    for vm in config.models.values() {
        let info = config
            .provider(&vm.provider)
            .and_then(|p| p.models.get(&vm.model));
        let mut m = entry(vm.name.clone(), &vm.provider, info, vm.context_window);
        m.target = Some(format!("{}/{}", vm.provider, vm.model));
        m.description.clone_from(&vm.description);
        out.push(m);
    }
    for combo in config.combos.values() {
        // A combo can take what its smallest target can.
        let window = combo
            .targets
            .iter()
            .map(|t| {
                config
                    .provider(&t.provider)
                    .and_then(|p| p.models.get(&t.model))
                    .and_then(|i| i.context_window)
            })
            .collect::<Option<Vec<u64>>>()
            .and_then(|w| w.into_iter().min());
        let mut m = entry(combo.name.clone(), "switchboard", None, window);
        m.target = Some(format!("combo ({})", combo.strategy.as_str()));
        m.description.clone_from(&combo.description);
        out.push(m);
    }
    for p in &config.providers {
        for (model, info) in &p.models {
            out.push(entry(format!("{}/{model}", p.id), &p.id, Some(info), None));
        }
    }
    out
}
