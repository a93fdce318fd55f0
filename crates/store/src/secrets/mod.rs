//! Secrets at rest: AES-256-GCM sealing of upstream credentials, HMAC-SHA-256 hashing of
//! gateway API keys, and [`Secret`], a wrapper that never prints what it holds.
//!
//! A [`SecretBox`] holds two independent keys:
//!
//! - the **encryption key** seals credentials (a random 96-bit nonce per value; the
//!   credential's id is authenticated as associated data, so a ciphertext copied onto
//!   another row does not decrypt). It can be rotated: [`crate::Store::rotate_secret_key`]
//!   re-encrypts every credential in one transaction.
//! - the **hash key** turns API key plaintexts into lookup hashes. It is kept separate and
//!   stable on purpose: changing it would invalidate every key ever issued, so rotating the
//!   encryption key leaves it alone. The subkey actually used is
//!   `HMAC-SHA-256(hash secret, "switchboard api key hash")`.
//!
//! Where the two come from (environment or `{data_dir}/secret.key`) is [`key_file`]'s job.

mod key_file;

use std::fmt;

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Key, Nonce};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
use hmac::{Hmac, Mac};
use rand::Rng as _;
use rand::RngCore as _;
use rand::distr::Alphanumeric;
use serde::{Deserialize, Serialize, Serializer};
use sha2::Sha256;
use zeroize::{Zeroize, Zeroizing};

pub use key_file::{KeyOrigin, KeySources, rotate_key_file};

use crate::error::{Result, StoreError};
use crate::keys::KeyHash;

/// What [`Secret`]'s `Debug`, `Display` and `Serialize` print.
pub const REDACTED: &str = "*****";

/// Gateway keys start with this; the visible prefix is this plus four characters.
pub const API_KEY_PREFIX: &str = "sk-sb-";
const API_KEY_RANDOM_CHARS: usize = 40; // 40 × log2(62) ≈ 238 bits
const VISIBLE_PREFIX_LEN: usize = API_KEY_PREFIX.len() + 4;
const HASH_SUBKEY_LABEL: &[u8] = b"switchboard api key hash";
const CREDENTIAL_AAD: &[u8] = b"switchboard credential ";

/// A value that must not leak: `Debug`, `Display` and `Serialize` print `*****`, and the
/// memory is zeroed on drop. Read it with [`Secret::expose`].
#[derive(Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(transparent)]
pub struct Secret<T: Zeroize>(T);

impl<T: Zeroize> Secret<T> {
    pub fn new(value: T) -> Self {
        Self(value)
    }

    /// The secret itself; keep the borrow short and never log it.
    pub fn expose(&self) -> &T {
        &self.0
    }
}

impl<T: Zeroize> From<T> for Secret<T> {
    fn from(value: T) -> Self {
        Self(value)
    }
}

impl<T: Zeroize> Drop for Secret<T> {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

impl<T: Zeroize> fmt::Debug for Secret<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(REDACTED)
    }
}

impl<T: Zeroize> fmt::Display for Secret<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(REDACTED)
    }
}

impl<T: Zeroize> Serialize for Secret<T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> std::result::Result<S::Ok, S::Error> {
        serializer.serialize_str(REDACTED)
    }
}

/// 32 bytes of key material, zeroed on drop, never printed.
#[derive(Clone)]
pub struct SecretKey(Zeroizing<[u8; 32]>);

impl SecretKey {
    /// A fresh random key from the thread-local CSPRNG (seeded from the OS).
    pub fn generate() -> Self {
        let mut bytes = Zeroizing::new([0u8; 32]);
        rand::rng().fill_bytes(bytes.as_mut());
        Self(bytes)
    }

    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(Zeroizing::new(bytes))
    }

    /// Parses 32 bytes written as 64 hex digits or as base64 (standard or URL-safe, padded
    /// or not). Surrounding whitespace is ignored.
    pub fn parse(text: &str) -> Result<Self> {
        let text = text.trim();
        let bytes = if text.len() == 64 && text.bytes().all(|b| b.is_ascii_hexdigit()) {
            decode_hex(text)
        } else {
            [STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD]
                .iter()
                .find_map(|engine| engine.decode(text).ok())
                .map(Zeroizing::new)
        };
        let bytes =
            bytes.ok_or_else(|| StoreError::SecretKey("not valid hex or base64".to_owned()))?;
        let key: [u8; 32] = bytes
            .as_slice()
            .try_into()
            .map_err(|_| StoreError::SecretKey(format!("{} bytes, expected 32", bytes.len())))?;
        Ok(Self::from_bytes(key))
    }

    /// The key as standard base64, for writing to a key file or showing once to an operator.
    pub fn to_base64(&self) -> Secret<String> {
        Secret::new(STANDARD.encode(self.0.as_ref()))
    }

    fn bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

impl fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(REDACTED)
    }
}

fn decode_hex(text: &str) -> Option<Zeroizing<Vec<u8>>> {
    let digits = text.as_bytes();
    let mut out = Zeroizing::new(Vec::with_capacity(digits.len() / 2));
    for pair in digits.chunks(2) {
        let hi = char::from(pair[0]).to_digit(16)?;
        let lo = char::from(*pair.get(1)?).to_digit(16)?;
        out.push(u8::try_from(hi * 16 + lo).ok()?);
    }
    Some(out)
}

/// A freshly generated gateway key: show `plaintext` once, store `prefix` and `hash`.
#[derive(Debug)]
pub struct GeneratedKey {
    pub plaintext: Secret<String>,
    pub prefix: String,
    pub hash: KeyHash,
}

/// The sealed form of a value: what goes into the database.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Sealed {
    pub nonce: [u8; 12],
    /// Ciphertext followed by the 16-byte GCM tag.
    pub ciphertext: Vec<u8>,
}

/// Encrypts credentials and hashes API keys. See the module docs for the two keys.
#[derive(Clone)]
pub struct SecretBox {
    cipher: Aes256Gcm,
    hash_mac: Hmac<Sha256>,
}

impl fmt::Debug for SecretBox {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretBox(*****)")
    }
}

impl SecretBox {
    /// Builds a box from an encryption key and the secret the API key hash key derives from.
    pub fn new(encryption_key: &SecretKey, hash_secret: &SecretKey) -> Result<Self> {
        let mut derive = <Hmac<Sha256> as KeyInit>::new_from_slice(hash_secret.bytes())
            .map_err(|e| StoreError::SecretKey(e.to_string()))?;
        derive.update(HASH_SUBKEY_LABEL);
        let subkey: Zeroizing<[u8; 32]> = Zeroizing::new(derive.finalize().into_bytes().into());
        let hash_mac = <Hmac<Sha256> as KeyInit>::new_from_slice(subkey.as_ref())
            .map_err(|e| StoreError::SecretKey(e.to_string()))?;
        Ok(Self {
            cipher: Self::cipher(encryption_key),
            hash_mac,
        })
    }

    /// The same hash key with another encryption key: the "new" side of a rotation.
    pub fn with_encryption_key(&self, encryption_key: &SecretKey) -> Self {
        Self {
            cipher: Self::cipher(encryption_key),
            hash_mac: self.hash_mac.clone(),
        }
    }

    fn cipher(key: &SecretKey) -> Aes256Gcm {
        Aes256Gcm::new(&Key::<Aes256Gcm>::from(*key.bytes()))
    }

    /// The keyed hash of an API key's plaintext, for storage and lookup.
    pub fn key_hash(&self, plaintext: &str) -> KeyHash {
        let mut mac = self.hash_mac.clone();
        mac.update(plaintext.as_bytes());
        mac.finalize().into_bytes().into()
    }

    /// A new random gateway key (`sk-sb-` + 40 alphanumerics) with its prefix and hash.
    pub fn generate_api_key(&self) -> GeneratedKey {
        let mut plaintext = String::with_capacity(API_KEY_PREFIX.len() + API_KEY_RANDOM_CHARS);
        plaintext.push_str(API_KEY_PREFIX);
        plaintext.extend(
            rand::rng()
                .sample_iter(Alphanumeric)
                .take(API_KEY_RANDOM_CHARS)
                .map(char::from),
        );
        let prefix = plaintext.chars().take(VISIBLE_PREFIX_LEN).collect();
        let hash = self.key_hash(&plaintext);
        GeneratedKey {
            plaintext: Secret::new(plaintext),
            prefix,
            hash,
        }
    }

    /// Seals `plaintext` with a fresh random nonce, authenticating `aad` alongside.
    pub fn seal(&self, plaintext: &[u8], aad: &[u8]) -> Result<Sealed> {
        let mut nonce = [0u8; 12];
        rand::rng().fill_bytes(&mut nonce);
        let ciphertext = self
            .cipher
            .encrypt(
                &Nonce::from(nonce),
                Payload {
                    msg: plaintext,
                    aad,
                },
            )
            .map_err(|_| StoreError::SecretKey("encryption failed".to_owned()))?;
        Ok(Sealed { nonce, ciphertext })
    }

    /// Opens a sealed value; `None` if the key is wrong or anything was tampered with.
    pub fn open(&self, sealed: &Sealed, aad: &[u8]) -> Option<Zeroizing<Vec<u8>>> {
        self.cipher
            .decrypt(
                &Nonce::from(sealed.nonce),
                Payload {
                    msg: &sealed.ciphertext,
                    aad,
                },
            )
            .ok()
            .map(Zeroizing::new)
    }

    pub(crate) fn seal_credential(
        &self,
        id: uuid::Uuid,
        secret: &Secret<String>,
    ) -> Result<Sealed> {
        self.seal(secret.expose().as_bytes(), &credential_aad(id))
    }

    pub(crate) fn open_credential(
        &self,
        id: uuid::Uuid,
        sealed: &Sealed,
    ) -> Result<Secret<String>> {
        let mut bytes = self
            .open(sealed, &credential_aad(id))
            .ok_or(StoreError::Decrypt(id))?;
        let text = String::from_utf8(std::mem::take(&mut *bytes)).map_err(|e| {
            let mut raw = e.into_bytes();
            raw.zeroize();
            StoreError::corrupt("credential", "not UTF-8")
        })?;
        Ok(Secret::new(text))
    }
}

fn credential_aad(id: uuid::Uuid) -> Vec<u8> {
    let mut aad = CREDENTIAL_AAD.to_vec();
    aad.extend_from_slice(id.as_bytes());
    aad
}

#[cfg(test)]
#[expect(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]
mod tests {
    use super::*;

    fn boxed() -> SecretBox {
        SecretBox::new(&SecretKey::generate(), &SecretKey::generate()).unwrap()
    }

    #[test]
    fn secrets_never_print() {
        let s = Secret::new("hunter2".to_owned());
        assert_eq!(format!("{s:?} {s}"), "***** *****");
        assert_eq!(serde_json::to_string(&s).unwrap(), "\"*****\"");
        assert_eq!(format!("{:?}", SecretKey::generate()), "*****");
        assert!(!format!("{:?}", boxed()).contains('['));
    }

    #[test]
    fn keys_parse_from_hex_and_base64() {
        let key = SecretKey::generate();
        let hex: String = key.bytes().iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(SecretKey::parse(&hex).unwrap().bytes(), key.bytes());
        let b64 = key.to_base64();
        assert_eq!(SecretKey::parse(b64.expose()).unwrap().bytes(), key.bytes());
        let unpadded = b64
            .expose()
            .trim_end_matches('=')
            .replace('+', "-")
            .replace('/', "_");
        assert_eq!(SecretKey::parse(&unpadded).unwrap().bytes(), key.bytes());
        assert!(SecretKey::parse("c2hvcnQ=").is_err());
        assert!(SecretKey::parse("not a key!").is_err());
    }

    #[test]
    fn seal_round_trips_and_binds_aad() {
        let b = boxed();
        let sealed = b.seal(b"sk-upstream", b"row 1").unwrap();
        assert_eq!(
            b.open(&sealed, b"row 1").unwrap().as_slice(),
            b"sk-upstream"
        );
        assert!(b.open(&sealed, b"row 2").is_none());
        assert!(boxed().open(&sealed, b"row 1").is_none());
        assert_ne!(
            b.seal(b"sk-upstream", b"row 1").unwrap().nonce,
            sealed.nonce
        );
    }

    #[test]
    fn generated_keys_hash_stably_across_encryption_rotation() {
        let b = boxed();
        let key = b.generate_api_key();
        assert!(key.plaintext.expose().starts_with("sk-sb-"));
        assert_eq!(key.plaintext.expose().len(), 46);
        assert_eq!(key.prefix, key.plaintext.expose()[..10]);
        assert_eq!(b.key_hash(key.plaintext.expose()), key.hash);
        let rotated = b.with_encryption_key(&SecretKey::generate());
        assert_eq!(rotated.key_hash(key.plaintext.expose()), key.hash);
        assert_ne!(boxed().key_hash(key.plaintext.expose()), key.hash);
    }
}
