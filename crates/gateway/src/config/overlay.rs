//! The routing configuration the gateway serves: the configuration file's (with the
//! providers detected from the environment) plus what was stored at run time — providers
//! and their credentials, virtual models, combos and price overrides — merged by the same
//! validation the file gets.
//!
//! - The file's entries are read-only and win a name clash: a stored provider, model or
//!   combo whose name the file or the environment already uses is skipped.
//! - Stored credentials join the pool of the provider they name, stored or declared.
//! - A price override replaces the prices of one provider model (and lists the model if the
//!   provider did not know it). A cache price of 0 means "none": cache tokens are then
//!   priced at the input price, as for a catalog model without cache prices.
//! - An invalid stored entry never takes the gateway down. Validation names the field at
//!   fault; the stored entry it belongs to is skipped (see [`Skipped`]) and the rest is
//!   validated again, so an entry that depended on it (a virtual model on a skipped
//!   provider) is skipped in turn.
//! - A provider whose inputs did not change keeps its runtime state (credential cooldowns,
//!   disabled keys, OAuth2 tokens): [`merge_stored`] reuses the previous snapshot's one.
//!
//! Rebuilding never reads the file again: [`FileLayer`] keeps the file's raw tables and the
//! environment variables its validation read.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;

use serde::Serialize;
use store::{Credential, ModelPrice, StoredProvider, VirtualKind, VirtualModel};

use super::raw::{RawCombo, RawConfig, RawProvider, RawVirtualModel};
use super::validate::{Extras, validate_with};
use super::{Config, ConfigError};
use crate::providers::{Prices, Provider};
use crate::secret::Secret;

/// What the file's part of a configuration was validated from.
#[derive(Default)]
pub struct FileLayer {
    pub(super) raw: RawConfig,
    /// Every environment variable validation read, and its value then.
    pub(super) env: BTreeMap<String, Option<Secret>>,
    /// Variables not read then are looked up in the process environment (else unset).
    pub(super) process_env: bool,
    pub(super) source: Option<PathBuf>,
}

impl fmt::Debug for FileLayer {
    /// The raw tables may hold literal keys: only the source is shown.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FileLayer")
            .field("source", &self.source)
            .finish_non_exhaustive()
    }
}

impl FileLayer {
    fn env(&self, name: &str) -> Option<String> {
        match self.env.get(name) {
            Some(value) => value.as_ref().map(|s| s.expose().to_owned()),
            None if self.process_env => std::env::var(name).ok(),
            None => None,
        }
    }
}

/// The routing entries kept in the database, credentials decrypted.
#[derive(Default)]
pub struct StoredRouting {
    pub providers: Vec<StoredProvider>,
    pub credentials: Vec<(Credential, Secret)>,
    pub models: Vec<VirtualModel>,
    pub prices: Vec<ModelPrice>,
}

impl StoredRouting {
    /// Reads every routing entry from the store, decrypting the credentials.
    pub async fn load(
        store: &store::Store,
        secrets: &store::SecretBox,
    ) -> Result<Self, store::StoreError> {
        let (providers, credentials, models, prices) = tokio::try_join!(
            store.list_providers(),
            store.load_credentials(secrets, None),
            store.list_virtual_models(None),
            store.list_prices(),
        )?;
        Ok(Self {
            providers,
            credentials: credentials
                .into_iter()
                .map(|(c, s)| (c, Secret::new(s.expose().clone())))
                .collect(),
            models,
            prices,
        })
    }

    /// Everything that decides the merged configuration, secrets left out (credentials
    /// count by id: a secret never changes under the same id).
    pub fn fingerprint(&self) -> String {
        let credentials: Vec<_> = self
            .credentials
            .iter()
            .map(|(c, _)| (&c.id, &c.provider_id, &c.label))
            .collect();
        let models: Vec<_> = self
            .models
            .iter()
            .map(|m| (&m.name, m.kind, m.definition.to_string()))
            .collect();
        let providers: Vec<_> = self
            .providers
            .iter()
            .map(|p| (&p.id, p.config.to_string()))
            .collect();
        let prices: Vec<_> = self
            .prices
            .iter()
            .map(|p| {
                (
                    &p.provider,
                    &p.model,
                    p.input_per_mtok,
                    p.output_per_mtok,
                    p.cache_read_per_mtok,
                    p.cache_write_per_mtok,
                )
            })
            .collect();
        format!("{providers:?}|{credentials:?}|{models:?}|{prices:?}")
    }
}

/// A stored entry left out of routing, and why.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Skipped {
    /// `provider`, `model`, `combo`, `credential` or `price`.
    pub kind: &'static str,
    /// The provider id, model or combo name, credential label or `provider/model`.
    pub name: String,
    pub reason: String,
}

/// The merged configuration and what was left out of it.
#[derive(Debug)]
pub struct Merged {
    pub config: Config,
    pub skipped: Vec<Skipped>,
}

/// The stored entry a validation error belongs to.
enum Culprit {
    Provider(String),
    Model(String),
}

/// Merges `stored` into `base` (a configuration validated from the file alone). Providers
/// unchanged since `previous` are taken from it, state included.
pub fn merge_stored(
    base: &Config,
    stored: &StoredRouting,
    previous: Option<&Config>,
) -> Result<Merged, ConfigError> {
    let layer = &base.layer;
    let mut raw = layer.raw.clone();
    let mut skipped = Vec::new();
    let mut skip = |kind: &'static str, name: &str, reason: String| {
        tracing::warn!(kind, name, %reason, "stored routing entry skipped");
        skipped.push(Skipped {
            kind,
            name: name.to_owned(),
            reason,
        });
    };

    let mut stored_providers = BTreeSet::new();
    for p in &stored.providers {
        if base.provider(&p.id).is_some() || raw.providers.contains_key(&p.id) {
            skip(
                "provider",
                &p.id,
                "the configuration file or the environment declares this id".into(),
            );
            continue;
        }
        match serde_json::from_value::<RawProvider>(p.config.clone()) {
            Ok(rp) => {
                raw.providers.insert(p.id.clone(), rp);
                stored_providers.insert(p.id.clone());
            }
            Err(e) => skip("provider", &p.id, format!("config: {e}")),
        }
    }

    let mut stored_models = BTreeSet::new();
    for m in &stored.models {
        let kind = match m.kind {
            VirtualKind::Model => "model",
            VirtualKind::Combo => "combo",
        };
        if base.models.contains_key(&m.name) || base.combos.contains_key(&m.name) {
            skip(
                kind,
                &m.name,
                "the configuration file declares this name".into(),
            );
            continue;
        }
        let parsed = match m.kind {
            VirtualKind::Model => serde_json::from_value::<RawVirtualModel>(m.definition.clone())
                .map(|vm| {
                    raw.models.insert(m.name.clone(), vm);
                }),
            VirtualKind::Combo => {
                serde_json::from_value::<RawCombo>(m.definition.clone()).map(|c| {
                    raw.combos.insert(m.name.clone(), c);
                })
            }
        };
        match parsed {
            Ok(()) => {
                stored_models.insert(m.name.clone());
            }
            Err(e) => skip(kind, &m.name, format!("definition: {e}")),
        }
    }

    let mut extras = Extras {
        stored: stored_providers.clone(),
        ..Extras::default()
    };
    for (c, secret) in &stored.credentials {
        if raw.providers.contains_key(&c.provider_id) || base.provider(&c.provider_id).is_some() {
            extras
                .credentials
                .entry(c.provider_id.clone())
                .or_default()
                .push((c.label.clone(), secret.clone()));
        } else {
            skip(
                "credential",
                &c.label,
                format!("provider {} is not configured", c.provider_id),
            );
        }
    }
    for p in &stored.prices {
        match prices_of(p) {
            Ok(prices) => {
                extras
                    .prices
                    .entry(p.provider.clone())
                    .or_default()
                    .insert(p.model.clone(), prices);
            }
            Err(reason) => skip("price", &format!("{}/{}", p.provider, p.model), reason),
        }
    }

    let env = |name: &str| layer.env(name);
    let mut config = loop {
        match validate_with(raw.clone(), &env, layer.source.clone(), &extras) {
            Ok(config) => break config,
            Err(err) => {
                let field = match &err {
                    ConfigError::Invalid { field, .. } => field.as_str(),
                    _ => "",
                };
                match culprit(field, &stored_providers, &stored_models) {
                    Some(Culprit::Provider(id)) => {
                        skip("provider", &id, err.to_string());
                        raw.providers.remove(&id);
                        stored_providers.remove(&id);
                        extras.stored.remove(&id);
                        extras.credentials.remove(&id);
                    }
                    Some(Culprit::Model(name)) => {
                        let kind = if raw.combos.remove(&name).is_some() {
                            "combo"
                        } else {
                            "model"
                        };
                        raw.models.remove(&name);
                        stored_models.remove(&name);
                        skip(kind, &name, err.to_string());
                    }
                    None if stored_providers.is_empty() && stored_models.is_empty() => {
                        // The file's part alone: it validated before, so this is not ours.
                        return Err(err);
                    }
                    None => {
                        tracing::error!(error = %err, "stored routing entries could not be merged; serving without them");
                        for id in std::mem::take(&mut stored_providers) {
                            raw.providers.remove(&id);
                            extras.credentials.remove(&id);
                            skip("provider", &id, err.to_string());
                        }
                        for name in std::mem::take(&mut stored_models) {
                            raw.models.remove(&name);
                            raw.combos.remove(&name);
                            skip("model", &name, err.to_string());
                        }
                        extras.stored.clear();
                    }
                }
            }
        }
    };
    // Only routing comes from the store: the rest stays as given (`--listen` included).
    config.server = base.server.clone();
    config.http = base.http.clone();
    config.auth = base.auth.clone();
    config.source.clone_from(&base.source);
    config.layer = Arc::clone(layer);
    config.provider_inputs = provider_inputs(stored, &stored_providers, &extras);
    if let Some(previous) = previous.filter(|p| Arc::ptr_eq(&p.layer, layer)) {
        for provider in &mut config.providers {
            let unchanged = previous.provider_inputs.get(&provider.id)
                == config.provider_inputs.get(&provider.id);
            if let Some(old) = previous.provider(&provider.id)
                && unchanged
            {
                *provider = Arc::clone(old);
            }
        }
    }
    Ok(Merged { config, skipped })
}

/// Builds one provider from a stored config and its keys, validated as the gateway would
/// (catalog defaults for a catalog id): for checking a provider before it is saved.
pub fn stored_provider(
    id: &str,
    config: &serde_json::Value,
    keys: &[Secret],
) -> Result<Arc<Provider>, ConfigError> {
    let rp = serde_json::from_value::<RawProvider>(config.clone()).map_err(|e| {
        ConfigError::Invalid {
            field: format!("providers.{id}"),
            message: e.to_string(),
        }
    })?;
    let mut raw = RawConfig::default();
    raw.providers.insert(id.to_owned(), rp);
    let extras = Extras {
        stored: BTreeSet::from([id.to_owned()]),
        credentials: BTreeMap::from([(
            id.to_owned(),
            keys.iter()
                .enumerate()
                .map(|(i, k)| (format!("key{i}"), k.clone()))
                .collect(),
        )]),
        ..Extras::default()
    };
    let config = validate_with(raw, &|_| None, None, &extras)?;
    config
        .provider(id)
        .cloned()
        .ok_or_else(|| ConfigError::Invalid {
            field: format!("providers.{id}.enabled"),
            message: "the provider is disabled".into(),
        })
}

/// Which stored entry the field of a validation error belongs to: the longest stored name
/// that the field's path starts with (names may contain dots).
fn culprit(
    field: &str,
    providers: &BTreeSet<String>,
    models: &BTreeSet<String>,
) -> Option<Culprit> {
    let owner = |rest: &str, names: &BTreeSet<String>| {
        names
            .iter()
            .filter(|n| {
                rest.strip_prefix(n.as_str())
                    .is_some_and(|after| after.is_empty() || after.starts_with('.'))
            })
            .max_by_key(|n| n.len())
            .cloned()
    };
    if let Some(rest) = field.strip_prefix("providers.") {
        return owner(rest, providers).map(Culprit::Provider);
    }
    let rest = field
        .strip_prefix("models.")
        .or_else(|| field.strip_prefix("combos."))?;
    owner(rest, models).map(Culprit::Model)
}

/// A stored price in the runtime's form: non-negative integers, cache prices optional.
fn prices_of(p: &ModelPrice) -> Result<Prices, String> {
    let amount =
        |name: &str, v: i64| u64::try_from(v).map_err(|_| format!("{name} is negative ({v})"));
    let optional = |name: &str, v: i64| amount(name, v).map(|v| (v > 0).then_some(v));
    Ok(Prices {
        input: Some(amount("input price", p.input_per_mtok)?),
        output: Some(amount("output price", p.output_per_mtok)?),
        cache_read: optional("cache read price", p.cache_read_per_mtok)?,
        cache_write: optional("cache write price", p.cache_write_per_mtok)?,
    })
}

/// What each provider was built from beyond the file: its stored config, its stored
/// credentials (by id) and its price overrides. Equal inputs → the same provider.
fn provider_inputs(
    stored: &StoredRouting,
    stored_providers: &BTreeSet<String>,
    extras: &Extras,
) -> BTreeMap<String, String> {
    let mut out: BTreeMap<String, String> = BTreeMap::new();
    for p in &stored.providers {
        if stored_providers.contains(&p.id) {
            out.entry(p.id.clone())
                .or_default()
                .push_str(&p.config.to_string());
        }
    }
    for (c, _) in &stored.credentials {
        if extras.credentials.contains_key(&c.provider_id) {
            out.entry(c.provider_id.clone())
                .or_default()
                .push_str(&format!("|{}", c.id));
        }
    }
    for (provider, prices) in &extras.prices {
        out.entry(provider.clone())
            .or_default()
            .push_str(&format!("|{prices:?}"));
    }
    out
}

#[cfg(test)]
#[expect(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]
mod tests {
    use serde_json::json;
    use uuid::Uuid;

    use super::*;
    use crate::providers::Origin;

    const FILE: &str = r#"
[providers.file]
base_url = "http://127.0.0.1:9/v1"
keys = ["sk-file"]
[providers.file.models."m1"]
input_price = 1.0
output_price = 2.0

[models.fast]
target = "file/m1"
"#;

    fn base() -> Config {
        Config::from_toml(FILE, &|_| None).unwrap()
    }

    fn provider(id: &str, config: serde_json::Value) -> StoredProvider {
        StoredProvider {
            id: id.into(),
            config,
            created_at: 0,
            updated_at: 0,
        }
    }

    fn model(name: &str, kind: VirtualKind, definition: serde_json::Value) -> VirtualModel {
        VirtualModel {
            name: name.into(),
            kind,
            definition,
            created_at: 0,
            updated_at: 0,
        }
    }

    fn credential(provider: &str, secret: &str) -> (Credential, Secret) {
        (
            Credential {
                id: Uuid::now_v7(),
                provider_id: provider.into(),
                label: "main".into(),
                created_at: 0,
            },
            Secret::new(secret),
        )
    }

    fn names(skipped: &[Skipped]) -> Vec<(&str, &str)> {
        skipped.iter().map(|s| (s.kind, s.name.as_str())).collect()
    }

    #[test]
    fn stored_entries_join_the_file_ones() {
        let base = base();
        let stored = StoredRouting {
            providers: vec![provider("up", json!({"base_url": "http://127.0.0.1:9/v1"}))],
            credentials: vec![credential("up", "sk-up"), credential("file", "sk-more")],
            models: vec![
                model("smart", VirtualKind::Model, json!({"target": "up/big"})),
                model(
                    "both",
                    VirtualKind::Combo,
                    json!({"targets": ["smart", "fast", "file/m1"]}),
                ),
            ],
            prices: vec![ModelPrice {
                provider: "file".into(),
                model: "m1".into(),
                input_per_mtok: 5,
                output_per_mtok: 7,
                cache_read_per_mtok: 0,
                cache_write_per_mtok: 3,
                updated_at: 0,
            }],
        };
        let merged = merge_stored(&base, &stored, None).unwrap();
        assert_eq!(merged.skipped, []);
        let c = &merged.config;
        let ids: Vec<_> = c.providers.iter().map(|p| p.id.as_str()).collect();
        assert_eq!(ids, ["file", "up"], "the file's providers first");
        assert_eq!(c.provider("up").unwrap().origin, Origin::Store);
        assert_eq!(c.provider("up").unwrap().credentials.len(), 1);
        assert_eq!(c.provider("file").unwrap().credentials.len(), 2);
        assert_eq!(
            c.provider("file").unwrap().models["m1"].prices,
            Prices {
                input: Some(5),
                output: Some(7),
                cache_read: None,
                cache_write: Some(3)
            }
        );
        assert_eq!(c.models["smart"].provider, "up");
        let targets: Vec<_> = c.combos["both"]
            .targets
            .iter()
            .map(|t| format!("{}/{}", t.provider, t.model))
            .collect();
        assert_eq!(targets, ["up/big", "file/m1", "file/m1"]);
        assert_eq!(c.prefixes["up"], "up");
    }

    #[test]
    fn invalid_and_clashing_entries_are_skipped_with_what_depends_on_them() {
        let base = base();
        let stored = StoredRouting {
            providers: vec![
                provider("file", json!({"base_url": "http://elsewhere/v1"})),
                provider("nokey", json!({"base_url": "http://127.0.0.1:9/v1"})),
                provider("typo", json!({"base_url": "http://x/v1", "bogus": 1})),
                provider(
                    "ok",
                    json!({"base_url": "http://127.0.0.1:9/v1", "auth": "none"}),
                ),
            ],
            credentials: vec![credential("gone", "sk")],
            models: vec![
                model("fast", VirtualKind::Model, json!({"target": "ok/a"})),
                model("on-nokey", VirtualKind::Model, json!({"target": "nokey/a"})),
                model("loop-a", VirtualKind::Combo, json!({"targets": ["loop-b"]})),
                model("loop-b", VirtualKind::Combo, json!({"targets": ["loop-a"]})),
                model(
                    "good",
                    VirtualKind::Combo,
                    json!({"targets": ["ok/a", "fast"]}),
                ),
            ],
            prices: vec![],
        };
        let merged = merge_stored(&base, &stored, None).unwrap();
        let mut skipped = names(&merged.skipped);
        skipped.sort_unstable();
        assert_eq!(
            skipped,
            [
                ("combo", "loop-a"),
                ("combo", "loop-b"),
                ("credential", "main"),
                ("model", "fast"),
                ("model", "on-nokey"),
                ("provider", "file"),
                ("provider", "nokey"),
                ("provider", "typo"),
            ]
        );
        let c = &merged.config;
        assert_eq!(
            c.provider("file").unwrap().base_url,
            "http://127.0.0.1:9/v1",
            "the file wins"
        );
        assert!(c.provider("ok").is_some());
        assert!(c.combos.contains_key("good"));
        assert_eq!(c.models["fast"].provider, "file");
        assert!(
            merged
                .skipped
                .iter()
                .any(|s| s.reason.contains("combos form a cycle")),
            "{:?}",
            merged.skipped
        );
    }

    #[test]
    fn unchanged_providers_keep_their_state_and_changed_ones_are_rebuilt() {
        let base = base();
        let mut stored = StoredRouting {
            providers: vec![provider("up", json!({"base_url": "http://127.0.0.1:9/v1"}))],
            credentials: vec![credential("up", "sk-up")],
            ..StoredRouting::default()
        };
        let first = merge_stored(&base, &stored, None).unwrap().config;
        let second = merge_stored(&base, &stored, Some(&first)).unwrap().config;
        assert!(Arc::ptr_eq(
            first.provider("up").unwrap(),
            second.provider("up").unwrap()
        ));
        assert!(Arc::ptr_eq(
            first.provider("file").unwrap(),
            second.provider("file").unwrap()
        ));
        stored.credentials.push(credential("up", "sk-two"));
        let third = merge_stored(&base, &stored, Some(&second)).unwrap().config;
        assert!(!Arc::ptr_eq(
            second.provider("up").unwrap(),
            third.provider("up").unwrap()
        ));
        assert_eq!(third.provider("up").unwrap().credentials.len(), 2);
        assert!(Arc::ptr_eq(
            second.provider("file").unwrap(),
            third.provider("file").unwrap()
        ));
    }

    #[test]
    fn the_file_layer_never_prints_literal_keys() {
        let text = format!("{:?}", base());
        assert!(!text.contains("sk-file"), "{text}");
    }
}
