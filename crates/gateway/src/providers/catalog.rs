//! The built-in provider catalog: `catalog/providers.toml`, compiled into the binary as data.

use serde::Deserialize;

use super::{ModelInfo, Prices};

const CATALOG_TOML: &str = include_str!("../../catalog/providers.toml");

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CatalogFile {
    provider: Vec<CatalogProvider>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CatalogProvider {
    pub id: String,
    pub name: String,
    pub base_url: String,
    pub wire_format: String,
    pub auth: String,
    #[serde(default)]
    pub key_env: Vec<String>,
    #[serde(default)]
    pub aliases: Vec<String>,
    #[serde(default)]
    pub local: bool,
    #[serde(default)]
    pub docs: Option<String>,
    /// Azure OpenAI: the `api-version` of deployment URLs.
    #[serde(default)]
    pub api_version: Option<String>,
    #[serde(default)]
    pub models: Vec<CatalogModel>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CatalogModel {
    pub id: String,
    pub context_window: Option<u64>,
    pub max_output_tokens: Option<u64>,
    pub input_price: Option<f64>,
    pub output_price: Option<f64>,
    pub cache_read_price: Option<f64>,
    pub cache_write_price: Option<f64>,
    #[serde(default)]
    pub capabilities: Vec<String>,
    /// The model writes its reasoning inline as `<think>…</think>`.
    #[serde(default)]
    pub think_tags: bool,
}

/// The parsed catalog.
#[derive(Debug, Clone)]
pub struct Catalog {
    pub providers: Vec<CatalogProvider>,
}

impl Catalog {
    /// Parses the embedded catalog. It is checked by a unit test, so failure here means the
    /// binary was built from a broken data file.
    pub fn builtin() -> Result<Self, String> {
        let file: CatalogFile =
            toml::from_str(CATALOG_TOML).map_err(|e| format!("built-in catalog: {e}"))?;
        Ok(Self {
            providers: file.provider,
        })
    }

    pub fn get(&self, id: &str) -> Option<&CatalogProvider> {
        self.providers.iter().find(|p| p.id == id)
    }
}

/// Converts a price in dollars per million tokens to integer micro-dollars per million tokens.
/// Exact for prices with up to six decimals; more precision is an error, not a rounding.
pub fn price_micros(usd_per_million: f64) -> Result<u64, String> {
    if !usd_per_million.is_finite() || usd_per_million < 0.0 {
        return Err(format!(
            "price {usd_per_million} must be a non-negative number"
        ));
    }
    let micros = (usd_per_million * 1_000_000.0).round();
    if (usd_per_million * 1_000_000.0 - micros).abs() > 1e-3 || micros > 1e15 {
        return Err(format!(
            "price {usd_per_million} has more than six decimals or is too large"
        ));
    }
    // In range and integral: checked just above.
    Ok(micros as u64)
}

impl CatalogModel {
    pub fn info(&self) -> Result<ModelInfo, String> {
        let conv = |p: Option<f64>| p.map(price_micros).transpose();
        Ok(ModelInfo {
            context_window: self.context_window,
            max_output_tokens: self.max_output_tokens,
            prices: Prices {
                input: conv(self.input_price)?,
                output: conv(self.output_price)?,
                cache_read: conv(self.cache_read_price)?,
                cache_write: conv(self.cache_write_price)?,
            },
            capabilities: self.capabilities.clone(),
            think_tags: self.think_tags,
        })
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;
    use crate::providers::AuthStyle;

    #[test]
    fn builtin_catalog_is_valid() -> Result<(), String> {
        let cat = Catalog::builtin()?;
        assert!(
            cat.providers.len() >= 20,
            "catalog has {} providers",
            cat.providers.len()
        );
        let mut ids = HashSet::new();
        let mut prefixes = HashSet::new();
        for p in &cat.providers {
            assert!(ids.insert(p.id.clone()), "duplicate provider id {}", p.id);
            for a in p.aliases.iter().chain(std::iter::once(&p.id)) {
                assert!(prefixes.insert(a.clone()), "prefix {a} used twice");
            }
            p.auth.parse::<AuthStyle>()?;
            assert!(
                ["openai", "anthropic", "gemini", "ollama"].contains(&p.wire_format.as_str()),
                "{}: wire format {}",
                p.id,
                p.wire_format
            );
            assert!(p.base_url.starts_with("http"), "{}", p.id);
            if !p.local {
                assert!(!p.key_env.is_empty(), "{} has no key variable", p.id);
            }
            let mut models = HashSet::new();
            for m in &p.models {
                assert!(models.insert(&m.id), "{}: duplicate model {}", p.id, m.id);
                m.info().map_err(|e| format!("{}/{}: {e}", p.id, m.id))?;
            }
        }
        let openai = cat.get("openai").ok_or("no openai entry")?;
        assert!(openai.key_env.iter().any(|k| k == "OPENAI_API_KEY"));
        let anthropic = cat.get("anthropic").ok_or("no anthropic entry")?;
        assert_eq!(anthropic.wire_format, "anthropic");
        assert_eq!(anthropic.auth, "header:x-api-key");
        Ok(())
    }

    #[test]
    fn prices_are_exact_integers() {
        assert_eq!(price_micros(0.59), Ok(590_000));
        assert_eq!(price_micros(2.5), Ok(2_500_000));
        assert_eq!(price_micros(0.000_001), Ok(1));
        assert!(price_micros(0.000_000_1).is_err());
        assert!(price_micros(-1.0).is_err());
        assert!(price_micros(f64::NAN).is_err());
    }
}
