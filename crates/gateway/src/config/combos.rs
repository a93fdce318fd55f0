//! Validation of combos and wildcard routes: every target resolved to provider + model,
//! nested combos flattened, cycles rejected with the path that loops.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::AtomicUsize;
use std::time::Duration;

use super::raw::{RawCombo, RawComboTarget, RawWildcard};
use super::{ConfigError, VirtualModel};
use crate::routing::{Combo, ComboTarget, RetryOn, Strategy, Wildcard, WildcardTarget};

const DEFAULT_DEADLINE: Duration = Duration::from_secs(300);
/// Targets tried at most by default (each `routing.retry.per_target` times).
const MAX_DEFAULT_ATTEMPTS: u32 = 10;

pub(super) struct Names<'a> {
    pub prefixes: &'a BTreeMap<String, String>,
    pub models: &'a BTreeMap<String, VirtualModel>,
    pub combos: &'a BTreeMap<String, RawCombo>,
    /// Attempts per target, which scales the default `max_attempts`.
    pub retry_per_target: u32,
}

pub(super) fn validate_combos(
    names: &Names<'_>,
) -> Result<BTreeMap<String, Arc<Combo>>, ConfigError> {
    let mut out = BTreeMap::new();
    for (name, raw) in names.combos {
        let field = format!("combos.{name}");
        if names.models.contains_key(name) {
            return Err(ConfigError::invalid(
                &field,
                "a virtual model has the same name",
            ));
        }
        if names
            .prefixes
            .contains_key(name.split('/').next().unwrap_or_default())
            && name.contains('/')
        {
            return Err(ConfigError::invalid(
                &field,
                "a combo name may not start with a provider prefix",
            ));
        }
        let strategy: Strategy = raw
            .strategy
            .as_deref()
            .unwrap_or("fallback")
            .parse()
            .map_err(|m: String| ConfigError::invalid(format!("{field}.strategy"), m))?;
        let mut targets = Vec::new();
        flatten(names, name, &mut vec![name.clone()], &mut targets)?;
        if targets.is_empty() {
            return Err(ConfigError::invalid(
                format!("{field}.targets"),
                "a combo needs at least one target",
            ));
        }
        let max_attempts = match raw.max_attempts {
            Some(0) => {
                return Err(ConfigError::invalid(
                    format!("{field}.max_attempts"),
                    "must be at least 1",
                ));
            }
            Some(n) => n,
            None => u32::try_from(targets.len())
                .unwrap_or(u32::MAX)
                .min(MAX_DEFAULT_ATTEMPTS)
                .saturating_mul(names.retry_per_target),
        };
        let retry_on = match &raw.retry_on {
            Some(items) => RetryOn::parse(items)
                .map_err(|m| ConfigError::invalid(format!("{field}.retry_on"), m))?,
            None => RetryOn::ALL,
        };
        let deadline = raw.deadline.unwrap_or(DEFAULT_DEADLINE);
        if deadline.is_zero() {
            return Err(ConfigError::invalid(
                format!("{field}.deadline"),
                "must be greater than zero",
            ));
        }
        out.insert(
            name.clone(),
            Arc::new(Combo {
                name: name.clone(),
                strategy,
                targets,
                max_attempts,
                deadline,
                retry_on,
                description: raw.description.clone(),
                cursor: AtomicUsize::new(0),
            }),
        );
    }
    Ok(out)
}

/// Appends the targets of combo `name`, expanding virtual models and nested combos.
fn flatten(
    names: &Names<'_>,
    name: &str,
    path: &mut Vec<String>,
    out: &mut Vec<ComboTarget>,
) -> Result<(), ConfigError> {
    let Some(raw) = names.combos.get(name) else {
        return Ok(());
    };
    for (i, t) in raw.targets.iter().enumerate() {
        let field = format!("combos.{name}.targets[{i}]");
        let (target, weight, overrides) = match t {
            RawComboTarget::Name(n) => (n.as_str(), None, None),
            RawComboTarget::Detailed(d) => (d.target.as_str(), d.weight, Some(&d.params)),
        };
        let weight = match weight {
            Some(0) => {
                return Err(ConfigError::invalid(
                    format!("{field}.weight"),
                    "must be at least 1",
                ));
            }
            Some(w) => w,
            None => 1,
        };
        let mut resolved = if names.combos.contains_key(target) {
            if let Some(pos) = path.iter().position(|p| p == target) {
                let mut cycle = path[pos..].to_vec();
                cycle.push(target.to_owned());
                return Err(ConfigError::invalid(
                    field,
                    format!("combos form a cycle: {}", cycle.join(" → ")),
                ));
            }
            path.push(target.to_owned());
            let mut nested = Vec::new();
            flatten(names, target, path, &mut nested)?;
            path.pop();
            nested
        } else if let Some(vm) = names.models.get(target) {
            vec![ComboTarget {
                provider: vm.provider.clone(),
                model: vm.model.clone(),
                params: vm.params.clone(),
                overrides: serde_json::Map::new(),
                weight,
            }]
        } else if let Some((prefix, model)) = target.split_once('/')
            && let Some(provider) = names.prefixes.get(prefix)
            && !model.is_empty()
        {
            vec![ComboTarget {
                provider: provider.clone(),
                model: model.to_owned(),
                params: serde_json::Map::new(),
                overrides: serde_json::Map::new(),
                weight,
            }]
        } else {
            return Err(ConfigError::invalid(
                field,
                format!(
                    "'{target}' is neither provider/model with a configured provider, nor a virtual model, nor a combo"
                ),
            ));
        };
        for r in &mut resolved {
            for (k, v) in overrides.into_iter().flatten() {
                r.overrides.insert(k.clone(), v.clone());
            }
        }
        out.extend(resolved);
    }
    Ok(())
}

pub(super) fn validate_wildcards(
    raw: &[RawWildcard],
    names: &Names<'_>,
) -> Result<Vec<Wildcard>, ConfigError> {
    raw.iter()
        .enumerate()
        .map(|(i, w)| {
            let field = format!("routing.wildcards[{i}]");
            if w.pattern.is_empty() {
                return Err(ConfigError::invalid(
                    format!("{field}.match"),
                    "empty pattern",
                ));
            }
            let target = if let Some(id) = names.prefixes.get(&w.target) {
                WildcardTarget::Provider(id.clone())
            } else if names.models.contains_key(&w.target) || names.combos.contains_key(&w.target) {
                WildcardTarget::Name(w.target.clone())
            } else {
                return Err(ConfigError::invalid(
                    format!("{field}.target"),
                    format!(
                        "'{}' is not a configured provider, virtual model or combo",
                        w.target
                    ),
                ));
            };
            Ok(Wildcard {
                pattern: w.pattern.clone(),
                target,
            })
        })
        .collect()
}
