//! Where the two secret keys come from: the environment, or `{data_dir}/secret.key`,
//! generated on first start with mode 0600.
//!
//! - Encryption key: `SWITCHBOARD_SECRET_KEY` (32 bytes as base64 or hex), else the key
//!   file's `encryption_key`, else — neither exists — a new key file is generated holding a
//!   random `encryption_key` and a random `hash_key`.
//! - Hash secret (for API key hashes): `SWITCHBOARD_HASH_KEY`, else the key file's
//!   `hash_key`, else `SWITCHBOARD_SECRET_KEY` itself. The last case is the environment-only
//!   deployment (several instances, no shared disk): every instance derives the same hash
//!   key from the shared secret, and no file is written.
//!
//! Rotating the encryption key never touches the hash secret, so issued API keys stay
//! valid. With a key file, [`rotate_key_file`] does the whole job. With
//! `SWITCHBOARD_SECRET_KEY`, set `SWITCHBOARD_HASH_KEY` to the *old* secret (if it was not
//! set already, API key hashes were derived from it), call
//! [`crate::Store::rotate_secret_key`] with the old and new boxes, then deploy the new
//! `SWITCHBOARD_SECRET_KEY`.
//!
//! These functions do blocking file I/O: call them at start-up or from an admin command,
//! never on the request path.

use std::fs;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use super::{Secret, SecretBox, SecretKey};
use crate::Store;
use crate::error::{Result, StoreError};

/// Environment variable holding the encryption key.
pub const SECRET_KEY_ENV: &str = "SWITCHBOARD_SECRET_KEY";
/// Environment variable holding the secret API key hashes derive from.
pub const HASH_KEY_ENV: &str = "SWITCHBOARD_HASH_KEY";
/// The key file's name inside the data directory.
pub const KEY_FILE_NAME: &str = "secret.key";

/// The inputs to [`SecretBox::load`]: explicit, so tests need not touch the environment.
#[derive(Clone, Debug)]
pub struct KeySources {
    pub secret_key: Option<Secret<String>>,
    pub hash_key: Option<Secret<String>>,
    pub key_file: PathBuf,
}

impl KeySources {
    /// `SWITCHBOARD_SECRET_KEY`, `SWITCHBOARD_HASH_KEY` (empty counts as unset) and
    /// `{data_dir}/secret.key`.
    pub fn from_env(data_dir: &Path) -> Self {
        let var = |name| {
            std::env::var(name)
                .ok()
                .filter(|v| !v.trim().is_empty())
                .map(Secret::new)
        };
        Self {
            secret_key: var(SECRET_KEY_ENV),
            hash_key: var(HASH_KEY_ENV),
            key_file: data_dir.join(KEY_FILE_NAME),
        }
    }

    /// Only the key file in `data_dir`.
    pub fn key_file(data_dir: &Path) -> Self {
        Self {
            secret_key: None,
            hash_key: None,
            key_file: data_dir.join(KEY_FILE_NAME),
        }
    }
}

/// Where the encryption key was found, for the start-up log line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KeyOrigin {
    Environment,
    KeyFile(PathBuf),
    Generated(PathBuf),
}

#[derive(Default)]
struct KeyFile {
    encryption_key: Option<SecretKey>,
    hash_key: Option<SecretKey>,
}

impl SecretBox {
    /// Resolves both keys as described in the module docs, generating the key file on
    /// first start.
    pub fn load(sources: &KeySources) -> Result<(Self, KeyOrigin)> {
        let env_key = sources
            .secret_key
            .as_ref()
            .map(|s| SecretKey::parse(s.expose()))
            .transpose()
            .map_err(|e| StoreError::SecretKey(format!("{SECRET_KEY_ENV}: {e}")))?;
        let env_hash = sources
            .hash_key
            .as_ref()
            .map(|s| SecretKey::parse(s.expose()))
            .transpose()
            .map_err(|e| StoreError::SecretKey(format!("{HASH_KEY_ENV}: {e}")))?;
        let path = &sources.key_file;
        warn_interrupted_rotation(path);
        let file = read_key_file(path)?;

        let (encryption_key, file_hash, origin) = match (env_key, file) {
            (Some(key), file) => (key, file.and_then(|f| f.hash_key), KeyOrigin::Environment),
            (
                None,
                Some(KeyFile {
                    encryption_key: Some(key),
                    hash_key,
                }),
            ) => (key, hash_key, KeyOrigin::KeyFile(path.clone())),
            (None, Some(_)) => {
                return Err(StoreError::SecretKey(format!(
                    "{} has no encryption_key and {SECRET_KEY_ENV} is not set",
                    path.display()
                )));
            }
            (None, None) => {
                let generated = KeyFile {
                    encryption_key: Some(SecretKey::generate()),
                    hash_key: Some(SecretKey::generate()),
                };
                write_key_file(path, &generated)?;
                tracing::info!(path = %path.display(), "generated a new secret key file; back it up");
                let KeyFile {
                    encryption_key: Some(key),
                    hash_key,
                } = generated
                else {
                    return Err(StoreError::SecretKey("key generation failed".to_owned()));
                };
                (key, hash_key, KeyOrigin::Generated(path.clone()))
            }
        };
        let hash_secret = env_hash
            .or(file_hash)
            .unwrap_or_else(|| encryption_key.clone());
        Ok((Self::new(&encryption_key, &hash_secret)?, origin))
    }
}

/// Rotates the encryption key kept in the key file: generates a new key, re-encrypts every
/// credential in one transaction, then replaces the file. Returns the new box and how many
/// credentials were re-encrypted.
///
/// The order never loses the key that decrypts the database: the new key is first written
/// to `secret.key.next`; only after the database commit is it renamed over `secret.key`.
/// If the process dies between the two, [`SecretBox::load`] warns and the operator moves
/// `secret.key.next` into place. Other running instances keep the old key in memory:
/// restart them afterwards (and do not add credentials during the rotation).
pub async fn rotate_key_file(store: &Store, sources: &KeySources) -> Result<(SecretBox, u64)> {
    if sources.secret_key.is_some() {
        return Err(StoreError::SecretKey(format!(
            "the encryption key comes from {SECRET_KEY_ENV}: rotate with Store::rotate_secret_key and change the environment"
        )));
    }
    let path = &sources.key_file;
    let Some(KeyFile {
        encryption_key: Some(old_key),
        hash_key: Some(hash_key),
    }) = read_key_file(path)?
    else {
        return Err(StoreError::SecretKey(format!(
            "{} lacks encryption_key or hash_key",
            path.display()
        )));
    };
    let old = SecretBox::new(&old_key, &hash_key)?;
    let new_key = SecretKey::generate();
    let new = old.with_encryption_key(&new_key);
    let next = next_path(path);
    let _ = fs::remove_file(&next); // a leftover from an earlier failed attempt
    let next_file = KeyFile {
        encryption_key: Some(new_key),
        hash_key: Some(hash_key),
    };
    write_key_file(&next, &next_file)?;
    match store.rotate_secret_key(&old, &new).await {
        Ok(count) => {
            fs::rename(&next, path).map_err(|source| io_error(path, source))?;
            Ok((new, count))
        }
        Err(err) => {
            let _ = fs::remove_file(&next);
            Err(err)
        }
    }
}

fn next_path(path: &Path) -> PathBuf {
    let mut name = path
        .file_name()
        .map(|n| n.to_os_string())
        .unwrap_or_default();
    name.push(".next");
    path.with_file_name(name)
}

fn warn_interrupted_rotation(path: &Path) {
    let next = next_path(path);
    if next.exists() {
        tracing::warn!(
            next = %next.display(),
            "an interrupted key rotation left a new key file; if credentials fail to decrypt, move it over {}",
            path.display()
        );
    }
}

fn io_error(path: &Path, source: std::io::Error) -> StoreError {
    StoreError::Io {
        path: path.to_owned(),
        source,
    }
}

fn read_key_file(path: &Path) -> Result<Option<KeyFile>> {
    let text = match fs::read_to_string(path) {
        Ok(text) => Secret::new(text),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io_error(path, e)),
    };
    warn_if_readable_by_others(path);
    let mut file = KeyFile::default();
    for (number, line) in text.expose().lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let bad = |what: String| {
            StoreError::SecretKey(format!("{} line {}: {what}", path.display(), number + 1))
        };
        let (name, value) = line
            .split_once('=')
            .ok_or_else(|| bad("expected name = value".to_owned()))?;
        let key = SecretKey::parse(value).map_err(|e| bad(e.to_string()))?;
        match name.trim() {
            "encryption_key" => file.encryption_key = Some(key),
            "hash_key" => file.hash_key = Some(key),
            other => return Err(bad(format!("unknown name {other:?}"))),
        }
    }
    Ok(Some(file))
}

/// Writes a new key file (never overwrites one: `create_new` also settles a race between
/// two processes starting at once) with mode 0600 on unix.
fn write_key_file(path: &Path, file: &KeyFile) -> Result<()> {
    if let Some(dir) = path.parent() {
        fs::create_dir_all(dir).map_err(|e| io_error(dir, e))?;
    }
    let mut text = String::from(
        "# Switchboard secret keys. Keep this file private and backed up: without\n\
         # encryption_key stored provider credentials cannot be decrypted; without\n\
         # hash_key no issued API key validates.\n",
    );
    for (name, key) in [
        ("encryption_key", &file.encryption_key),
        ("hash_key", &file.hash_key),
    ] {
        if let Some(key) = key {
            text.push_str(&format!("{name} = {}\n", key.to_base64().expose()));
        }
    }
    let text = Secret::new(text);
    let mut options = fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut out = options.open(path).map_err(|e| io_error(path, e))?;
    out.write_all(text.expose().as_bytes())
        .map_err(|e| io_error(path, e))?;
    out.sync_all().map_err(|e| io_error(path, e))
}

fn warn_if_readable_by_others(path: &Path) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        if let Ok(meta) = fs::metadata(path)
            && meta.permissions().mode() & 0o077 != 0
        {
            tracing::warn!(path = %path.display(), "secret key file is readable by other users; chmod 600 it");
        }
    }
    #[cfg(not(unix))]
    let _ = path;
}

#[cfg(test)]
#[expect(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]
mod tests {
    use super::*;

    #[test]
    fn first_start_generates_a_private_file_then_reuses_it() {
        let dir = tempfile::tempdir().unwrap();
        let sources = KeySources::key_file(dir.path());
        let (first, origin) = SecretBox::load(&sources).unwrap();
        assert_eq!(origin, KeyOrigin::Generated(sources.key_file.clone()));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = fs::metadata(&sources.key_file)
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let (second, origin) = SecretBox::load(&sources).unwrap();
        assert_eq!(origin, KeyOrigin::KeyFile(sources.key_file.clone()));
        assert_eq!(first.key_hash("sk-sb-x"), second.key_hash("sk-sb-x"));
        let sealed = first.seal(b"v", b"").unwrap();
        assert_eq!(second.open(&sealed, b"").unwrap().as_slice(), b"v");
    }

    #[test]
    fn environment_key_wins_and_hash_key_can_be_pinned() {
        let dir = tempfile::tempdir().unwrap();
        let old = SecretKey::generate();
        let mut sources = KeySources::key_file(dir.path());
        sources.secret_key = Some(old.to_base64());
        let (env_only, origin) = SecretBox::load(&sources).unwrap();
        assert_eq!(origin, KeyOrigin::Environment);
        assert!(
            !sources.key_file.exists(),
            "env-only deployments write no file"
        );

        // Rotating: new SWITCHBOARD_SECRET_KEY, SWITCHBOARD_HASH_KEY = the old secret.
        sources.secret_key = Some(SecretKey::generate().to_base64());
        sources.hash_key = Some(old.to_base64());
        let (rotated, _) = SecretBox::load(&sources).unwrap();
        assert_eq!(rotated.key_hash("sk-sb-x"), env_only.key_hash("sk-sb-x"));
        let sealed = env_only.seal(b"v", b"").unwrap();
        assert!(rotated.open(&sealed, b"").is_none());
    }

    #[test]
    fn malformed_files_are_rejected_with_the_line() {
        let dir = tempfile::tempdir().unwrap();
        let sources = KeySources::key_file(dir.path());
        fs::write(&sources.key_file, "encryption_key = nope\n").unwrap();
        let err = SecretBox::load(&sources).unwrap_err().to_string();
        assert!(err.contains("line 1"), "{err}");
    }
}
