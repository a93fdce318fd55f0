//! Turns a requested model name into a [`Route`]: virtual model → `prefix/model` → a bare
//! name the catalog knows for an enabled provider → an error naming the closest names.

use std::sync::Arc;

use crate::config::Config;
use crate::error::GatewayError;
use crate::providers::Provider;

/// How a requested name was resolved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RouteKind {
    /// A virtual model declared in the configuration.
    Virtual,
    /// `provider/model` (or `alias/model`).
    Prefixed,
    /// A bare model name known to one of the enabled providers.
    Bare,
}

impl RouteKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Virtual => "virtual",
            Self::Prefixed => "direct",
            Self::Bare => "bare",
        }
    }
}

/// Where one request goes. Borrows from the configuration snapshot it was resolved against.
#[derive(Debug, Clone)]
pub struct Route<'a> {
    pub provider: &'a Arc<Provider>,
    pub upstream_model: &'a str,
    /// Default request parameters (virtual models), applied where the client set none.
    pub params: Option<&'a serde_json::Map<String, serde_json::Value>>,
    pub kind: RouteKind,
}

pub fn resolve<'a>(config: &'a Config, requested: &'a str) -> Result<Route<'a>, GatewayError> {
    if let Some(vm) = config.models.get(requested)
        && let Some(provider) = config.provider(&vm.provider)
    {
        return Ok(Route {
            provider,
            upstream_model: &vm.model,
            params: Some(&vm.params),
            kind: RouteKind::Virtual,
        });
    }
    if let Some((prefix, model)) = requested.split_once('/')
        && !model.is_empty()
        && let Some(provider) = config
            .prefixes
            .get(prefix)
            .and_then(|id| config.provider(id))
    {
        return Ok(Route {
            provider,
            upstream_model: model,
            params: None,
            kind: RouteKind::Prefixed,
        });
    }
    if let Some(provider) = config
        .providers
        .iter()
        .find(|p| p.models.contains_key(requested))
    {
        return Ok(Route {
            provider,
            upstream_model: requested,
            params: None,
            kind: RouteKind::Bare,
        });
    }
    Err(GatewayError::UnknownModel {
        model: requested.to_owned(),
        suggestions: closest_names(config, requested),
    })
}

/// Up to three known names that look like `requested`, best first.
fn closest_names(config: &Config, requested: &str) -> Vec<String> {
    let wanted = requested.to_ascii_lowercase();
    let mut scored: Vec<(f64, String)> = config
        .models
        .keys()
        .cloned()
        .chain(
            config
                .providers
                .iter()
                .flat_map(|p| p.models.keys().map(move |m| format!("{}/{m}", p.id))),
        )
        .map(|name| {
            let lower = name.to_ascii_lowercase();
            // Compare with the whole name and with its model part, so `gpt-4o-mni` finds
            // `openai/gpt-4o-mini`.
            let model_part = lower.split_once('/').map_or(lower.as_str(), |(_, m)| m);
            let wanted_part = wanted.split_once('/').map_or(wanted.as_str(), |(_, m)| m);
            let score = strsim::jaro_winkler(&wanted, &lower)
                .max(strsim::jaro_winkler(wanted_part, model_part));
            (score, name)
        })
        .filter(|(score, _)| *score >= 0.8)
        .collect();
    scored.sort_by(|a, b| b.0.total_cmp(&a.0).then_with(|| a.1.cmp(&b.1)));
    scored.dedup_by(|a, b| a.1 == b.1);
    scored.into_iter().take(3).map(|(_, n)| n).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> Result<Config, crate::config::ConfigError> {
        Config::from_toml(
            r#"
            [providers.mock]
            base_url = "http://127.0.0.1:1/v1"
            auth = "none"
            aliases = ["mk"]
            [providers.mock.models."gpt-4o-mini"]
            context_window = 128000
            [models.fast]
            target = "mk/gpt-4o-mini"
            params = { temperature = 0.1 }
            "#,
            &|_| None,
        )
    }

    #[test]
    fn resolves_in_order() -> Result<(), Box<dyn std::error::Error>> {
        let cfg = config()?;
        let r = resolve(&cfg, "fast")?;
        assert_eq!(
            (r.provider.id.as_str(), r.upstream_model, r.kind),
            ("mock", "gpt-4o-mini", RouteKind::Virtual)
        );
        assert!(r.params.is_some_and(|p| p.contains_key("temperature")));
        let r = resolve(&cfg, "mk/some-new-model")?;
        assert_eq!(
            (r.provider.id.as_str(), r.upstream_model, r.kind),
            ("mock", "some-new-model", RouteKind::Prefixed)
        );
        let r = resolve(&cfg, "gpt-4o-mini")?;
        assert_eq!((r.provider.id.as_str(), r.kind), ("mock", RouteKind::Bare));
        Ok(())
    }

    #[test]
    fn unknown_names_suggest_close_ones() -> Result<(), Box<dyn std::error::Error>> {
        let cfg = config()?;
        match resolve(&cfg, "gpt-4o-mni") {
            Err(GatewayError::UnknownModel { suggestions, .. }) => {
                assert_eq!(
                    suggestions.first().map(String::as_str),
                    Some("mock/gpt-4o-mini")
                );
            }
            other => panic!("expected UnknownModel, got {other:?}"),
        }
        match resolve(&cfg, "nothing-like-it/zzz") {
            Err(GatewayError::UnknownModel { suggestions, .. }) => assert!(suggestions.is_empty()),
            other => panic!("expected UnknownModel, got {other:?}"),
        }
        Ok(())
    }
}
