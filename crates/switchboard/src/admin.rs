//! `switchboard admin …`: users, keys, providers and the secret key, working on the
//! database directly (no running gateway needed; a running one picks changes up within
//! seconds).

use std::path::Path;
use std::time::Duration;

use anyhow::{Context, anyhow, bail};
use clap::{Args, Subcommand};
use gateway::providers::discovery;
use serde_json::json;
use store::{
    BudgetPeriod, KeyFilter, KeySources, Limits, NewApiKey, NewUser, Page, Role, UserFilter,
    now_millis,
};
use uuid::Uuid;

use crate::persist;

#[derive(Subcommand)]
pub enum AdminCommand {
    /// Users.
    User {
        #[command(subcommand)]
        command: UserCommand,
    },
    /// Gateway API keys.
    Key {
        #[command(subcommand)]
        command: KeyCommand,
    },
    /// Upstream providers kept in the database (beside the config file's).
    Provider {
        #[command(subcommand)]
        command: ProviderCommand,
    },
    /// Re-encrypt every stored credential under a new key in the key file.
    RotateSecret,
    /// Admin API tokens.
    Token {
        #[command(subcommand)]
        command: TokenCommand,
    },
}

#[derive(Subcommand)]
pub enum ProviderCommand {
    /// Store an OpenAI-compatible provider (or replace its config; a key is added): the
    /// gateway routes `ID/model` to it within seconds.
    Add {
        /// The provider id: what clients write before the slash (`ID/model`).
        id: String,
        /// Its OpenAI-compatible API, e.g. https://llm.example.com/v1.
        #[arg(long)]
        base_url: String,
        /// Its API key: literal, or env:NAME (read now). Stored encrypted. Without a key
        /// the provider is called without one (auth none).
        #[arg(long)]
        key: Option<String>,
        /// How the key is sent: bearer (the default), api-key, header:NAME or none.
        #[arg(long)]
        auth: Option<String>,
        /// Ask the upstream for its models (GET BASE_URL/models, with the key) and record
        /// them, with their context windows where the listing gives them. If the probe
        /// fails, nothing is saved.
        #[arg(long)]
        detect: bool,
    },
    /// List the stored providers (the config file's are in `config check`).
    List,
}

#[derive(Subcommand)]
pub enum TokenCommand {
    /// Print a token for the admin API (`Authorization: Bearer TOKEN`).
    Create {
        /// How long it is valid, e.g. 30d.
        #[arg(long, default_value = "30d")]
        ttl: humantime::Duration,
    },
}

#[derive(Subcommand)]
pub enum UserCommand {
    /// Create a user and print its id.
    Create {
        #[arg(long)]
        name: String,
        #[arg(long)]
        email: Option<String>,
        /// `member` or `admin`.
        #[arg(long, default_value = "member")]
        role: String,
        #[command(flatten)]
        limits: LimitArgs,
    },
    /// List users.
    List,
}

#[derive(Subcommand)]
pub enum KeyCommand {
    /// Create a key for a user and print it — the only time it is shown.
    Create {
        /// The user's id, email or name.
        #[arg(long)]
        user: String,
        #[arg(long, default_value = "default")]
        name: String,
        /// Models the key may use (names or wildcards, comma-separated); default: any.
        #[arg(long, value_delimiter = ',')]
        models: Vec<String>,
        /// Expiry, e.g. 30d or 12h.
        #[arg(long)]
        expires_in: Option<humantime::Duration>,
        #[command(flatten)]
        limits: LimitArgs,
    },
    /// List keys (prefixes only; keys are never shown again).
    List {
        #[arg(long)]
        user: Option<String>,
        #[arg(long)]
        all: bool,
    },
    /// Revoke a key by its id.
    Revoke { id: Uuid },
}

#[derive(Args)]
pub struct LimitArgs {
    /// Requests per minute.
    #[arg(long)]
    rpm: Option<u32>,
    /// Tokens per minute.
    #[arg(long)]
    tpm: Option<u64>,
    /// Requests in flight at once.
    #[arg(long)]
    concurrency: Option<u32>,
    /// Spending cap in US dollars per --period (e.g. 25.50).
    #[arg(long)]
    budget: Option<String>,
    /// day, week, month or total.
    #[arg(long, default_value = "month")]
    period: String,
}

impl LimitArgs {
    fn limits(&self) -> anyhow::Result<Limits> {
        let budget_micros = self.budget.as_deref().map(dollars_to_micros).transpose()?;
        let period = match self.period.as_str() {
            "day" => BudgetPeriod::Day,
            "week" => BudgetPeriod::Week,
            "month" => BudgetPeriod::Month,
            "total" => BudgetPeriod::Total,
            other => bail!("--period must be day, week, month or total, not '{other}'"),
        };
        Ok(Limits {
            rpm: self.rpm,
            tpm: self.tpm,
            max_concurrent: self.concurrency,
            budget_micros,
            budget_period: budget_micros.map(|_| period),
        })
    }
}

/// "25.50" → 25_500_000 micro-dollars, exactly (no floats).
fn dollars_to_micros(text: &str) -> anyhow::Result<i64> {
    let (whole, frac) = text.trim().split_once('.').unwrap_or((text.trim(), ""));
    if frac.len() > 6
        || !whole
            .chars()
            .chain(frac.chars())
            .all(|c| c.is_ascii_digit())
        || whole.is_empty()
    {
        bail!("--budget must be dollars with at most six decimals, e.g. 25.50 (got '{text}')");
    }
    let whole: i64 = whole.parse().context("--budget")?;
    let frac: i64 = format!("{frac:0<6}").parse().context("--budget")?;
    whole
        .checked_mul(1_000_000)
        .and_then(|w| w.checked_add(frac))
        .context("--budget is too large")
}

pub async fn run(
    command: AdminCommand,
    data_dir: &Path,
    config_path: Option<&Path>,
) -> anyhow::Result<()> {
    let store = persist::open_store(data_dir).await?;
    match command {
        AdminCommand::Provider {
            command:
                ProviderCommand::Add {
                    id,
                    base_url,
                    key,
                    auth,
                    detect,
                },
        } => {
            let add = AddProvider {
                id,
                base_url,
                key,
                auth,
                detect,
            };
            add_provider(&store, data_dir, config_path, add).await?;
        }
        AdminCommand::Provider {
            command: ProviderCommand::List,
        } => {
            for p in store.list_providers().await? {
                let keys = store.list_credentials(Some(&p.id)).await?.len();
                let models = p.config["models"].as_object().map_or(0, |m| m.len());
                println!(
                    "{:<16} {}  {keys} key(s), {models} model(s)",
                    p.id,
                    p.config["base_url"].as_str().unwrap_or("(catalog)")
                );
            }
        }
        AdminCommand::User {
            command:
                UserCommand::Create {
                    name,
                    email,
                    role,
                    limits,
                },
        } => {
            let role = match role.as_str() {
                "member" => Role::Member,
                "admin" => Role::Admin,
                other => bail!("--role must be member or admin, not '{other}'"),
            };
            let user = store
                .create_user(&NewUser {
                    name,
                    email,
                    role,
                    limits: limits.limits()?,
                })
                .await
                .context("creating the user")?;
            println!("{}", user.id);
        }
        AdminCommand::User {
            command: UserCommand::List,
        } => {
            for u in store
                .list_users(&UserFilter::default(), Page::new(1000, 0))
                .await?
            {
                println!(
                    "{}  {:<20} {:<28} {:?}",
                    u.id,
                    u.name,
                    u.email.as_deref().unwrap_or("-"),
                    u.role
                );
            }
        }
        AdminCommand::Key {
            command:
                KeyCommand::Create {
                    user,
                    name,
                    models,
                    expires_in,
                    limits,
                },
        } => {
            let secrets = persist::secrets(data_dir)?;
            let user_id = find_user(&store, &user).await?;
            let generated = secrets.generate_api_key();
            let expires_at = expires_in
                .map(|d| i64::try_from(d.as_millis()).map(|ms| now_millis().saturating_add(ms)))
                .transpose()
                .context("--expires-in is too large")?;
            let key = store
                .create_key(&NewApiKey {
                    user_id,
                    name,
                    prefix: generated.prefix.clone(),
                    hash: generated.hash,
                    expires_at,
                    allowed_models: models,
                    limits: limits.limits()?,
                })
                .await
                .context("creating the key")?;
            eprintln!(
                "key {} created for user {user_id}; it is shown only now:",
                key.id
            );
            println!("{}", generated.plaintext.expose());
        }
        AdminCommand::Key {
            command: KeyCommand::List { user, all },
        } => {
            let user_id = match user {
                Some(u) => Some(find_user(&store, &u).await?),
                None => None,
            };
            let filter = KeyFilter {
                user_id,
                include_revoked: all,
            };
            for k in store.list_keys(&filter, Page::new(1000, 0)).await? {
                let state = if k.revoked_at.is_some() {
                    "revoked"
                } else {
                    "active"
                };
                println!(
                    "{}  {}…  {:<16} user {}  {state}",
                    k.id, k.prefix, k.name, k.user_id
                );
            }
        }
        AdminCommand::Key {
            command: KeyCommand::Revoke { id },
        } => {
            if !store.revoke_key(id, now_millis()).await? {
                bail!("no key {id}");
            }
            println!("key {id} revoked");
        }
        AdminCommand::Token {
            command: TokenCommand::Create { ttl },
        } => {
            let secrets = persist::secrets(data_dir)?;
            let token = gateway::admin::mint_admin_token(&secrets, ttl.into())
                .context("minting the token")?;
            println!("{token}");
        }
        AdminCommand::RotateSecret => {
            let (_, rotated) = store::rotate_key_file(&store, &KeySources::from_env(data_dir))
                .await
                .context("rotating the secret key")?;
            println!("secret key rotated; {rotated} credentials re-encrypted");
        }
    }
    Ok(())
}

struct AddProvider {
    id: String,
    base_url: String,
    key: Option<String>,
    auth: Option<String>,
    detect: bool,
}

/// How long `--detect` waits for the upstream's model list.
const DETECT_TIMEOUT: Duration = Duration::from_secs(15);

/// Checks the provider as the gateway will build it, probes it with `--detect`, and only
/// then saves it (and its key, sealed).
async fn add_provider(
    store: &store::Store,
    data_dir: &Path,
    config_path: Option<&Path>,
    add: AddProvider,
) -> anyhow::Result<()> {
    let id = add.id;
    if let Ok(config) = gateway::Config::load(config_path)
        && config.provider(&id).is_some()
    {
        bail!(
            "provider {id} is declared in the configuration file (or enabled by the environment) and is read-only here"
        );
    }
    let key = add
        .key
        .map(|k| match k.strip_prefix("env:") {
            Some(var) => std::env::var(var)
                .ok()
                .filter(|v| !v.trim().is_empty())
                .ok_or_else(|| anyhow!("--key: environment variable {var} is not set")),
            None if k.trim().is_empty() => bail!("--key is empty"),
            None => Ok(k),
        })
        .transpose()?;
    let mut config = json!({ "base_url": add.base_url.trim_end_matches('/') });
    if let Some(auth) = add
        .auth
        .or_else(|| key.is_none().then(|| "none".to_owned()))
    {
        config["auth"] = json!(auth);
    }
    let keys: Vec<gateway::secret::Secret> = key.iter().map(gateway::secret::Secret::new).collect();
    let provider = gateway::config::overlay::stored_provider(&id, &config, &keys)
        .context("invalid provider")?;
    // Fail before anything is written when the secret key cannot be loaded.
    let secrets = key
        .as_ref()
        .map(|_| persist::secrets(data_dir))
        .transpose()?;
    if add.detect {
        let models = discovery::detect(&provider, DETECT_TIMEOUT)
            .await
            .map_err(|e| {
                anyhow!(
                    "probing {}/models failed: {e} (nothing was saved)",
                    provider.base_url
                )
            })?;
        discovery::merge_into_config(&mut config, &models);
        println!("found {} model(s):", models.len());
        for m in &models {
            match m.context_window {
                Some(n) => println!("  {:<40} context {n}", m.id),
                None => println!("  {}", m.id),
            }
        }
    }
    store
        .put_provider(&id, &config)
        .await
        .context("saving the provider")?;
    if let (Some(key), Some(secrets)) = (key, secrets) {
        store
            .add_credential(&secrets, &id, "cli", &store::Secret::new(key))
            .await
            .context("saving the key")?;
    }
    println!(
        "provider {id} saved ({}); requests for {id}/MODEL are routed to it",
        provider.base_url
    );
    Ok(())
}

/// A user by id, email or exact name.
async fn find_user(store: &store::Store, which: &str) -> anyhow::Result<Uuid> {
    if let Ok(id) = Uuid::parse_str(which) {
        return Ok(id);
    }
    if let Some(u) = store.find_user_by_email(which).await? {
        return Ok(u.id);
    }
    let filter = UserFilter {
        name_contains: Some(which.to_owned()),
        ..UserFilter::default()
    };
    let matches: Vec<_> = store
        .list_users(&filter, Page::new(10, 0))
        .await?
        .into_iter()
        .filter(|u| u.name == which)
        .collect();
    match matches.as_slice() {
        [one] => Ok(one.id),
        [] => bail!("no user '{which}' (give an id, an email or an exact name)"),
        _ => bail!("several users are named '{which}': give the id or the email"),
    }
}

#[cfg(test)]
mod tests {
    use super::dollars_to_micros;

    #[test]
    fn dollars_are_exact() {
        assert_eq!(dollars_to_micros("25.50").ok(), Some(25_500_000));
        assert_eq!(dollars_to_micros("0.000001").ok(), Some(1));
        assert_eq!(dollars_to_micros("3").ok(), Some(3_000_000));
        assert!(dollars_to_micros("1.0000001").is_err());
        assert!(dollars_to_micros("-1").is_err());
        assert!(dollars_to_micros("abc").is_err());
    }
}
