//! Turns a requested model name into a [`Resolved`] target: a virtual model or combo by exact
//! name → `prefix/model` → the first matching wildcard → a bare name the catalog knows for an
//! enabled provider → an error naming the closest names.

use std::sync::Arc;

use super::{Combo, WildcardTarget, glob_match};
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
    /// Matched a `routing.wildcards` pattern.
    Wildcard,
    /// A bare model name known to one of the enabled providers.
    Bare,
}

impl RouteKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Virtual => "virtual",
            Self::Prefixed => "direct",
            Self::Wildcard => "wildcard",
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

/// What a requested name stands for.
#[derive(Debug, Clone)]
pub enum Resolved<'a> {
    /// One provider model.
    Route(Route<'a>),
    /// A combo: several targets under a strategy.
    Combo(&'a Arc<Combo>),
}

pub fn resolve<'a>(config: &'a Config, requested: &'a str) -> Result<Resolved<'a>, GatewayError> {
    if let Some(combo) = config.combos.get(requested) {
        return Ok(Resolved::Combo(combo));
    }
    if let Some(route) = exact_or_prefixed(config, requested) {
        return Ok(Resolved::Route(route));
    }
    if let Some(w) = config
        .wildcards
        .iter()
        .find(|w| glob_match(&w.pattern, requested))
    {
        match &w.target {
            WildcardTarget::Provider(id) => {
                if let Some(provider) = config.provider(id) {
                    return Ok(Resolved::Route(Route {
                        provider,
                        upstream_model: requested,
                        params: None,
                        kind: RouteKind::Wildcard,
                    }));
                }
            }
            WildcardTarget::Name(name) => {
                if let Some(combo) = config.combos.get(name) {
                    return Ok(Resolved::Combo(combo));
                }
                if let Some(route) = exact_or_prefixed(config, name) {
                    return Ok(Resolved::Route(Route {
                        kind: RouteKind::Wildcard,
                        ..route
                    }));
                }
            }
        }
    }
    if let Some(provider) = config
        .providers
        .iter()
        .find(|p| p.models.contains_key(requested))
    {
        return Ok(Resolved::Route(Route {
            provider,
            upstream_model: requested,
            params: None,
            kind: RouteKind::Bare,
        }));
    }
    Err(GatewayError::UnknownModel {
        model: requested.to_owned(),
        suggestions: closest_names(config, requested),
    })
}

fn exact_or_prefixed<'a>(config: &'a Config, requested: &'a str) -> Option<Route<'a>> {
    if let Some(vm) = config.models.get(requested)
        && let Some(provider) = config.provider(&vm.provider)
    {
        return Some(Route {
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
        return Some(Route {
            provider,
            upstream_model: model,
            params: None,
            kind: RouteKind::Prefixed,
        });
    }
    None
}

/// Up to three known names that look like `requested`, best first.
fn closest_names(config: &Config, requested: &str) -> Vec<String> {
    let wanted = requested.to_ascii_lowercase();
    let mut scored: Vec<(f64, String)> = config
        .models
        .keys()
        .chain(config.combos.keys())
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
            [combos.smart]
            targets = ["fast", "mock/other"]
            [[routing.wildcards]]
            match = "claude-*"
            target = "mk"
            [[routing.wildcards]]
            match = "llama-*"
            target = "fast"
            [[routing.wildcards]]
            match = "group-*"
            target = "smart"
            "#,
            &|_| None,
        )
    }

    #[test]
    fn resolves_in_order() -> Result<(), Box<dyn std::error::Error>> {
        let cfg = config()?;
        let route = |name| match resolve(&cfg, name) {
            Ok(Resolved::Route(r)) => Ok(r),
            other => Err(format!("{name}: {other:?}")),
        };
        let r = route("fast")?;
        assert_eq!(
            (r.provider.id.as_str(), r.upstream_model, r.kind),
            ("mock", "gpt-4o-mini", RouteKind::Virtual)
        );
        assert!(r.params.is_some_and(|p| p.contains_key("temperature")));
        let r = route("mk/some-new-model")?;
        assert_eq!(
            (r.provider.id.as_str(), r.upstream_model, r.kind),
            ("mock", "some-new-model", RouteKind::Prefixed)
        );
        let r = route("gpt-4o-mini")?;
        assert_eq!((r.provider.id.as_str(), r.kind), ("mock", RouteKind::Bare));
        let r = route("claude-anything")?;
        assert_eq!(
            (r.provider.id.as_str(), r.upstream_model, r.kind),
            ("mock", "claude-anything", RouteKind::Wildcard)
        );
        let r = route("llama-fast")?;
        assert_eq!(
            (r.upstream_model, r.kind),
            ("gpt-4o-mini", RouteKind::Wildcard)
        );
        assert!(matches!(resolve(&cfg, "smart"), Ok(Resolved::Combo(c)) if c.targets.len() == 2));
        assert!(matches!(resolve(&cfg, "group-x"), Ok(Resolved::Combo(c)) if c.name == "smart"));
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
