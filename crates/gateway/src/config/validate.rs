//! Raw configuration → runtime [`Config`]: merges the catalog, reads credentials, resolves
//! virtual models. Every error names the exact field.

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use http::{HeaderName, HeaderValue};
use wire::WireFormat;

use super::combos::{Names, validate_combos, validate_wildcards};
use super::overlay::FileLayer;
use super::raw::{RawConfig, RawModel, RawProvider};
use super::{
    AuthSettings, Config, ConfigError, DEFAULT_LISTEN, HttpSettings, ServerSettings, VirtualModel,
};
use crate::providers::catalog::{Catalog, CatalogProvider, price_micros};
use crate::providers::credentials::{
    CooldownConfig, CredentialKind, CredentialPool, OAuth2Config, PoolStrategy,
};
use crate::providers::{AuthStyle, ModelInfo, Origin, Prices, Provider, Timeouts};
use crate::relay::idempotency::IdempotencyConfig;
use crate::routing::RetryPolicy;
use crate::routing::health::BreakerConfig;
use crate::secret::Secret;

type EnvFn<'a> = &'a dyn Fn(&str) -> Option<String>;

const DEFAULT_MAX_BODY: usize = 32 << 20;

/// What the store adds to the file's configuration (see [`super::overlay`]).
#[derive(Default)]
pub(super) struct Extras {
    /// Ids in `raw.providers` that come from the store: built after the file's and the
    /// environment's, so a clash is blamed on them.
    pub stored: BTreeSet<String>,
    /// Stored API keys by provider id, with their labels; added to the provider's pool.
    pub credentials: BTreeMap<String, Vec<(String, Secret)>>,
    /// Price overrides by provider id, then upstream model.
    pub prices: BTreeMap<String, BTreeMap<String, Prices>>,
}

/// Validates the file's configuration alone and keeps what it was made from (the raw
/// tables and every environment variable read), so stored entries can be merged in later
/// without reading the file again. `process_env`: variables not read now are looked up in
/// the process environment then (else they count as unset).
pub(super) fn validate(
    raw: RawConfig,
    env: EnvFn<'_>,
    source: Option<PathBuf>,
    process_env: bool,
) -> Result<Config, ConfigError> {
    let seen = RefCell::new(BTreeMap::new());
    let recording = |name: &str| {
        let value = env(name);
        seen.borrow_mut()
            .insert(name.to_owned(), value.clone().map(Secret::new));
        value
    };
    let layer_raw = raw.clone();
    let mut config = validate_with(raw, &recording, source.clone(), &Extras::default())?;
    config.layer = Arc::new(FileLayer {
        raw: layer_raw,
        env: seen.into_inner(),
        process_env,
        source,
    });
    Ok(config)
}

/// Raw configuration (the file's, possibly with stored entries added) → runtime [`Config`].
/// The result's `layer` is empty: the caller sets it.
pub(super) fn validate_with(
    raw: RawConfig,
    env: EnvFn<'_>,
    source: Option<PathBuf>,
    extras: &Extras,
) -> Result<Config, ConfigError> {
    let catalog = Catalog::builtin().map_err(|e| ConfigError::invalid("catalog", e))?;

    let listen_text = raw.server.listen.as_deref().unwrap_or(DEFAULT_LISTEN);
    let listen = listen_text.parse().map_err(|_| {
        ConfigError::invalid(
            "server.listen",
            format!("'{listen_text}' is not an address such as 127.0.0.1:8790"),
        )
    })?;
    let server = ServerSettings {
        listen,
        max_body_bytes: raw.server.max_body_size.map_or(DEFAULT_MAX_BODY, |b| b.0),
        shutdown_grace: raw.server.shutdown_grace.unwrap_or(Duration::from_secs(30)),
    };
    let http = HttpSettings {
        connect_timeout: raw.http.connect_timeout.unwrap_or(Duration::from_secs(10)),
        pool_idle_timeout: raw
            .http
            .pool_idle_timeout
            .unwrap_or(Duration::from_secs(90)),
        pool_max_idle_per_host: raw.http.pool_max_idle_per_host.unwrap_or(256),
    };
    let auth = AuthSettings {
        keys: raw
            .auth
            .keys
            .iter()
            .enumerate()
            .map(|(i, k)| read_secret(k, &format!("auth.keys[{i}]"), env))
            .collect::<Result<_, _>>()?,
        allow_open: raw.auth.allow_open,
    };

    let policy = PoolPolicy {
        cooldown: raw.routing.cooldown.clone().unwrap_or_default(),
        breaker: raw.routing.breaker.clone().unwrap_or_default(),
    };
    let mut providers = Vec::new();
    let mut prefixes = BTreeMap::new();
    let declared = |stored: bool| {
        raw.providers
            .iter()
            .filter(move |(id, _)| extras.stored.contains(*id) == stored)
    };
    let add_declared = |stored: bool,
                        providers: &mut Vec<Arc<Provider>>,
                        prefixes: &mut BTreeMap<String, String>|
     -> Result<(), ConfigError> {
        for (id, rp) in declared(stored) {
            check_id(id, &format!("providers.{id}"))?;
            let entry = catalog.get(id);
            if rp.enabled == Some(false) {
                continue;
            }
            let mut provider = build_provider(id, rp, entry, env, &policy, extras)?;
            if stored {
                provider.origin = Origin::Store;
            }
            add_prefixes(
                prefixes,
                id,
                rp.aliases.as_ref().or(entry.map(|e| &e.aliases)),
                &format!("providers.{id}.aliases"),
            )?;
            providers.push(Arc::new(provider));
        }
        Ok(())
    };
    add_declared(false, &mut providers, &mut prefixes)?;
    for entry in &catalog.providers {
        // A base URL with `{placeholders}` (Vertex AI's project and region) needs the config.
        if raw.providers.contains_key(&entry.id) || entry.local || entry.base_url.contains('{') {
            continue;
        }
        let Some(var) = entry
            .key_env
            .iter()
            .find(|var| env(var).is_some_and(|v| !v.trim().is_empty()))
        else {
            continue;
        };
        let mut p = build_provider(
            &entry.id,
            &RawProvider::default(),
            Some(entry),
            env,
            &policy,
            extras,
        )?;
        p.origin = Origin::DetectedFromEnv(var.clone());
        add_prefixes(
            &mut prefixes,
            &entry.id,
            Some(&entry.aliases),
            &format!("catalog {}", entry.id),
        )?;
        providers.push(Arc::new(p));
    }
    add_declared(true, &mut providers, &mut prefixes)?;

    let mut models = BTreeMap::new();
    for (name, vm) in &raw.models {
        let field = format!("models.{name}.target");
        let (prefix, model) = vm.target.split_once('/').ok_or_else(|| {
            ConfigError::invalid(
                &field,
                format!("'{}' is not of the form provider/model", vm.target),
            )
        })?;
        let provider = prefixes.get(prefix).ok_or_else(|| {
            let known: Vec<&str> = providers.iter().map(|p| p.id.as_str()).collect();
            ConfigError::invalid(
                &field,
                format!(
                    "provider '{prefix}' is not configured (configured: {})",
                    if known.is_empty() {
                        "none".to_owned()
                    } else {
                        known.join(", ")
                    }
                ),
            )
        })?;
        if model.is_empty() {
            return Err(ConfigError::invalid(
                &field,
                "the model part after '/' is empty",
            ));
        }
        if name.contains('/') && prefixes.contains_key(name.split('/').next().unwrap_or_default()) {
            return Err(ConfigError::invalid(
                format!("models.{name}"),
                "a virtual model name may not start with a provider prefix",
            ));
        }
        models.insert(
            name.clone(),
            VirtualModel {
                name: name.clone(),
                provider: provider.clone(),
                model: model.to_owned(),
                params: vm.params.clone(),
                context_window: vm.context_window,
                description: vm.description.clone(),
            },
        );
    }

    let defaults = RetryPolicy::default();
    let retry = RetryPolicy {
        per_target: match raw.routing.retry.per_target {
            Some(0) => {
                return Err(ConfigError::invalid(
                    "routing.retry.per_target",
                    "must be at least 1",
                ));
            }
            Some(n) => n,
            None => defaults.per_target,
        },
        base: raw.routing.retry.base.unwrap_or(defaults.base),
        cap: raw.routing.retry.cap.unwrap_or(defaults.cap),
    };
    let names = Names {
        prefixes: &prefixes,
        models: &models,
        combos: &raw.combos,
        retry_per_target: retry.per_target,
    };
    let combos = validate_combos(&names)?;
    let wildcards = validate_wildcards(&raw.routing.wildcards, &names)?;

    Ok(Config {
        server,
        http,
        auth,
        providers,
        prefixes,
        models,
        combos,
        wildcards,
        breaker: raw.routing.breaker.clone().unwrap_or_default(),
        retry,
        discovery_ttl: (raw.routing.discover_models != Some(false)).then(|| {
            raw.routing
                .discovery_ttl
                .unwrap_or(crate::providers::discovery::DEFAULT_TTL)
        }),
        default_context_window: raw.routing.default_context_window.unwrap_or(32_768),
        idempotency: {
            let d = IdempotencyConfig::default();
            let i = &raw.idempotency;
            IdempotencyConfig {
                window: i.window.unwrap_or(d.window),
                max_entries: i.max_entries.unwrap_or(d.max_entries),
                max_body_bytes: i.max_body_size.map_or(d.max_body_bytes, |b| b.0),
                max_total_bytes: i.max_total_size.map_or(d.max_total_bytes, |b| b.0),
            }
        },
        metrics: metrics_settings(&raw.metrics)?,
        usage: super::UsageSettings {
            retention: retention(raw.usage.retention, DEFAULT_USAGE_RETENTION),
        },
        request_logs: super::RequestLogSettings {
            enabled: raw.request_logs.enabled.unwrap_or(false),
            max_body_bytes: raw
                .request_logs
                .max_body_size
                .map_or(crate::usage::request_log::DEFAULT_MAX_BODY, |b| b.0.max(1)),
            retention: retention(raw.request_logs.retention, DEFAULT_LOG_RETENTION),
        },
        translation: {
            let t = &raw.translation;
            let d = crate::relay::translate::images::FetchPolicy::default();
            super::TranslationSettings {
                keep_alive: Some(t.keep_alive.unwrap_or(Duration::from_secs(15)))
                    .filter(|d| !d.is_zero()),
                images: crate::relay::translate::images::FetchPolicy {
                    max_bytes: t.image_max_size.map_or(d.max_bytes, |b| b.0),
                    timeout: t.image_timeout.unwrap_or(d.timeout),
                    allow_private: t.image_allow_private.unwrap_or(d.allow_private),
                },
            }
        },
        source,
        layer: Arc::default(),
        provider_inputs: BTreeMap::new(),
    })
}

const DEFAULT_USAGE_RETENTION: Duration = Duration::from_secs(90 * 24 * 3600);
const DEFAULT_LOG_RETENTION: Duration = Duration::from_secs(14 * 24 * 3600);

/// A retention period; `0s` keeps everything.
fn retention(set: Option<Duration>, default: Duration) -> Option<Duration> {
    Some(set.unwrap_or(default)).filter(|d| !d.is_zero())
}

fn metrics_settings(raw: &super::raw::RawMetrics) -> Result<super::MetricsSettings, ConfigError> {
    let listen = match raw.listen.as_deref() {
        None => None,
        Some(text) => Some(text.parse().map_err(|_| {
            ConfigError::invalid(
                "metrics.listen",
                format!("'{text}' is not an address such as 127.0.0.1:9090"),
            )
        })?),
    };
    Ok(super::MetricsSettings {
        enabled: raw.enabled.unwrap_or(true),
        listen,
    })
}

fn check_id(id: &str, field: &str) -> Result<(), ConfigError> {
    if id.is_empty()
        || !id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        return Err(ConfigError::invalid(
            field,
            "a provider id uses only letters, digits, '-' and '_'",
        ));
    }
    Ok(())
}

fn add_prefixes(
    prefixes: &mut BTreeMap<String, String>,
    id: &str,
    aliases: Option<&Vec<String>>,
    field: &str,
) -> Result<(), ConfigError> {
    for prefix in std::iter::once(id).chain(aliases.into_iter().flatten().map(String::as_str)) {
        if let Some(other) = prefixes.insert(prefix.to_owned(), id.to_owned())
            && other != id
        {
            return Err(ConfigError::invalid(
                field,
                format!("prefix '{prefix}' is used by both '{other}' and '{id}'"),
            ));
        }
    }
    Ok(())
}

fn read_secret(value: &str, field: &str, env: EnvFn<'_>) -> Result<Secret, ConfigError> {
    match value.strip_prefix("env:") {
        Some(var) => env(var)
            .filter(|v| !v.is_empty())
            .map(Secret::new)
            .ok_or_else(|| {
                ConfigError::invalid(field, format!("environment variable {var} is not set"))
            }),
        None if value.is_empty() => Err(ConfigError::invalid(field, "empty key")),
        None => Ok(Secret::new(value)),
    }
}

/// Settings every provider's credential pool shares.
struct PoolPolicy {
    cooldown: CooldownConfig,
    breaker: BreakerConfig,
}

fn build_provider(
    id: &str,
    rp: &RawProvider,
    entry: Option<&CatalogProvider>,
    env: EnvFn<'_>,
    policy: &PoolPolicy,
    extras: &Extras,
) -> Result<Provider, ConfigError> {
    let field = |f: &str| format!("providers.{id}.{f}");

    let wire_text = rp
        .wire_format
        .as_deref()
        .or(entry.map(|e| e.wire_format.as_str()))
        .unwrap_or("openai");
    let wire_format =
        parse_wire_format(wire_text).map_err(|m| ConfigError::invalid(field("wire_format"), m))?;

    let base_url = rp
        .base_url
        .clone()
        .or_else(|| entry.map(|e| e.base_url.clone()))
        .ok_or_else(|| {
            ConfigError::invalid(
                field("base_url"),
                "required for a provider not in the catalog",
            )
        })?;
    if base_url.contains('{') {
        return Err(ConfigError::invalid(
            field("base_url"),
            format!("'{base_url}' has placeholders to fill in (e.g. {{project}} and {{location}})"),
        ));
    }
    let parsed = reqwest::Url::parse(&base_url).map_err(|e| {
        ConfigError::invalid(field("base_url"), format!("'{base_url}' is not a URL: {e}"))
    })?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(ConfigError::invalid(
            field("base_url"),
            "must be an http:// or https:// URL",
        ));
    }

    let auth: AuthStyle = rp
        .auth
        .as_deref()
        .or(entry.map(|e| e.auth.as_str()))
        .unwrap_or("bearer")
        .parse()
        .map_err(|m: String| ConfigError::invalid(field("auth"), m))?;

    let keys = match &rp.keys {
        Some(keys) => keys
            .iter()
            .enumerate()
            .map(|(i, k)| read_secret(k, &format!("{}[{i}]", field("keys")), env))
            .collect::<Result<Vec<_>, _>>()?,
        None => entry
            .into_iter()
            .flat_map(|e| e.key_env.iter())
            .find_map(|var| env(var).filter(|v| !v.trim().is_empty()))
            .map(Secret::new)
            .into_iter()
            .collect(),
    };
    let mut entries: Vec<(String, CredentialKind)> = keys
        .into_iter()
        .enumerate()
        .map(|(i, k)| (format!("keys[{i}]"), CredentialKind::ApiKey(k)))
        .collect();
    for (i, o) in rp.oauth2.iter().enumerate() {
        let f = |name: &str| format!("{}[{i}].{name}", field("oauth2"));
        reqwest::Url::parse(&o.token_url).map_err(|e| {
            ConfigError::invalid(
                f("token_url"),
                format!("'{}' is not a URL: {e}", o.token_url),
            )
        })?;
        entries.push((
            format!("oauth2[{i}]"),
            CredentialKind::OAuth2(OAuth2Config {
                token_url: o.token_url.clone(),
                client_id: o.client_id.clone(),
                client_secret: o
                    .client_secret
                    .as_deref()
                    .map(|s| read_secret(s, &f("client_secret"), env))
                    .transpose()?,
                refresh_token: read_secret(&o.refresh_token, &f("refresh_token"), env)?,
                scope: o.scope.clone(),
            }),
        ));
    }
    for (label, secret) in extras.credentials.get(id).into_iter().flatten() {
        entries.push((
            format!("stored:{label}"),
            CredentialKind::ApiKey(secret.clone()),
        ));
    }
    if auth.needs_key() && entries.is_empty() && !entry.is_some_and(|e| e.local) {
        let hint = entry
            .and_then(|e| e.key_env.first())
            .map(|v| format!("set {v} or "))
            .unwrap_or_default();
        return Err(ConfigError::invalid(
            field("keys"),
            format!(
                "no credential: {hint}list keys (literal or \"env:NAME\") or oauth2 credentials, or set auth = \"none\""
            ),
        ));
    }
    let strategy: PoolStrategy = rp
        .key_strategy
        .as_deref()
        .unwrap_or("round_robin")
        .parse()
        .map_err(|m: String| ConfigError::invalid(field("key_strategy"), m))?;
    let credentials = CredentialPool::new(
        entries,
        strategy,
        policy.cooldown.clone(),
        policy.breaker.clone(),
    );

    let headers = rp
        .headers
        .iter()
        .map(|(k, v)| {
            let f = format!("{}.{k}", field("headers"));
            let name = HeaderName::try_from(k.as_str())
                .map_err(|_| ConfigError::invalid(&f, "not a valid header name"))?;
            let value = read_secret(v, &f, env)?;
            let value = HeaderValue::try_from(value.expose())
                .map_err(|_| ConfigError::invalid(&f, "not a valid header value"))?;
            Ok((name, value))
        })
        .collect::<Result<Vec<_>, ConfigError>>()?;

    let defaults = Timeouts::default();
    let timeouts = Timeouts {
        first_byte: rp.timeouts.first_byte.unwrap_or(defaults.first_byte),
        idle: rp.timeouts.idle.unwrap_or(defaults.idle),
        total: rp.timeouts.total.unwrap_or(defaults.total),
    };
    for (name, d) in [
        ("first_byte", timeouts.first_byte),
        ("idle", timeouts.idle),
        ("total", timeouts.total),
    ] {
        if d.is_zero() {
            return Err(ConfigError::invalid(
                field(&format!("timeouts.{name}")),
                "must be greater than zero",
            ));
        }
    }

    let mut models = BTreeMap::new();
    if let Some(e) = entry {
        for m in &e.models {
            let info = m
                .info()
                .map_err(|msg| ConfigError::invalid(format!("catalog {id}/{}", m.id), msg))?;
            models.insert(m.id.clone(), info);
        }
    }
    for (mid, rm) in &rp.models {
        let base = models.remove(mid).unwrap_or_default();
        let info = merge_model(base, rm).map_err(|(f, msg)| {
            ConfigError::invalid(format!("{}.\"{mid}\".{f}", field("models")), msg)
        })?;
        models.insert(mid.clone(), info);
    }
    for (mid, prices) in extras.prices.get(id).into_iter().flatten() {
        models.entry(mid.clone()).or_default().prices = *prices;
    }

    let api_version = match rp
        .api_version
        .clone()
        .or_else(|| entry.and_then(|e| e.api_version.clone()))
    {
        Some(v) if wire_format != WireFormat::OpenAi => {
            return Err(ConfigError::invalid(
                field("api_version"),
                format!("'{v}': only the openai wire format (Azure OpenAI) takes an api_version"),
            ));
        }
        Some(v)
            if v.is_empty()
                || !v
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.') =>
        {
            return Err(ConfigError::invalid(
                field("api_version"),
                format!("'{v}' is not an API version (e.g. \"2024-10-21\")"),
            ));
        }
        other => other,
    };

    let mut provider = Provider::new(
        id.to_owned(),
        rp.name
            .clone()
            .or_else(|| entry.map(|e| e.name.clone()))
            .unwrap_or_else(|| id.to_owned()),
        wire_format,
        base_url,
        auth,
        credentials,
        headers,
        timeouts,
        models,
        Origin::Config,
    );
    provider.api_version = api_version;
    provider.inline_images = rp.inline_images.unwrap_or(false);
    Ok(provider)
}

fn parse_wire_format(text: &str) -> Result<WireFormat, String> {
    const SUPPORTED: &str = "openai, anthropic, gemini, ollama";
    match text {
        "openai" => Ok(WireFormat::OpenAi),
        "anthropic" => Ok(WireFormat::Anthropic),
        "gemini" => Ok(WireFormat::Gemini),
        "ollama" => Ok(WireFormat::Ollama),
        "openai_responses" => Err(format!(
            "wire format '{text}' is not supported yet (supported: {SUPPORTED})"
        )),
        "azure_openai" => Err(format!(
            "wire format '{text}': Azure OpenAI is wire_format = \"openai\" with an api_version"
        )),
        other => Err(format!(
            "unknown wire format '{other}' (supported: {SUPPORTED})"
        )),
    }
}

fn merge_model(base: ModelInfo, rm: &RawModel) -> Result<ModelInfo, (&'static str, String)> {
    let price = |name: &'static str,
                 v: Option<f64>,
                 old: Option<u64>|
     -> Result<Option<u64>, (&'static str, String)> {
        match v {
            Some(p) => price_micros(p).map(Some).map_err(|m| (name, m)),
            None => Ok(old),
        }
    };
    Ok(ModelInfo {
        context_window: rm.context_window.or(base.context_window),
        max_output_tokens: rm.max_output_tokens.or(base.max_output_tokens),
        prices: Prices {
            input: price("input_price", rm.input_price, base.prices.input)?,
            output: price("output_price", rm.output_price, base.prices.output)?,
            cache_read: price(
                "cache_read_price",
                rm.cache_read_price,
                base.prices.cache_read,
            )?,
            cache_write: price(
                "cache_write_price",
                rm.cache_write_price,
                base.prices.cache_write,
            )?,
        },
        capabilities: rm.capabilities.clone().unwrap_or(base.capabilities),
        think_tags: rm.think_tags.unwrap_or(base.think_tags),
    })
}
