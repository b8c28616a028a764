//! Signing keys: generated with a CSPRNG on first start, kept in `data_dir/keys/` (mode 0600),
//! named by their RFC 7638 thumbprint. A file that cannot be read or parsed stops the start:
//! replacing it silently would log everyone out or, worse, hide tampering.

use crate::files::{create_private_dir, make_private, write_private_file};
use std::collections::HashMap;
use std::fmt;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rsa::KeySize;
use aws_lc_rs::signature::{
    EcdsaKeyPair, Ed25519KeyPair, KeyPair, RsaKeyPair, ECDSA_P256_SHA256_FIXED_SIGNING,
};
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use jsonwebtoken::{DecodingKey, EncodingKey};
use serde_json::{json, Value};

// Re-exported so `auth::keys::Alg` keeps working for callers outside `src/` until they move
// to `config::Alg`.
pub use crate::config::Alg;

/// How key files are named: `<alg>-<created>.<ext>`.
impl Alg {
    fn file_prefix(self) -> &'static str {
        match self {
            Alg::EdDSA => "eddsa",
            Alg::ES256 => "es256",
            Alg::RS256 => "rs256",
            Alg::HS256 => "hs256",
        }
    }

    fn file_ext(self) -> &'static str {
        if self.is_symmetric() {
            "key"
        } else {
            "pem"
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("cannot read signing key {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("signing key {path} is malformed ({why}); restore it from a backup or move it away deliberately")]
    Malformed { path: PathBuf, why: String },
    #[error("cannot write signing key into {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("key generation failed")]
    Generate,
}

/// One key: what signs (if we hold the private part) and what verifies.
pub struct SigningKey {
    pub kid: String,
    pub alg: Alg,
    /// Unix time the key was made: the newest key of the configured algorithm signs.
    pub created: i64,
    pub path: PathBuf,
    encoding: EncodingKey,
    decoding: DecodingKey,
    /// The public JWK (RFC 7517) without `kid`/`alg`/`use`; `None` for HMAC secrets.
    public_jwk: Option<Value>,
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never print key material, even in debug output.
        f.debug_struct("SigningKey")
            .field("kid", &self.kid)
            .field("alg", &self.alg)
            .field("created", &self.created)
            .finish_non_exhaustive()
    }
}

impl SigningKey {
    pub fn encoding(&self) -> &EncodingKey {
        &self.encoding
    }

    pub fn decoding(&self) -> &DecodingKey {
        &self.decoding
    }

    /// The JWK a client needs to verify our tokens, or `None` for a shared secret.
    pub fn public_jwk(&self) -> Option<Value> {
        let mut jwk = self.public_jwk.clone()?;
        let obj = jwk.as_object_mut()?;
        obj.insert("kid".into(), Value::String(self.kid.clone()));
        obj.insert("alg".into(), Value::String(self.alg.to_string()));
        obj.insert("use".into(), Value::String("sig".into()));
        Some(jwk)
    }
}

/// The keys we hold for the configured algorithm, newest (the signing one) first.
/// Active = the newest file; verify-only = the older ones. Nothing else records which key
/// signs, so every instance sharing `data_dir` derives the same answer from the same files.
#[derive(Debug, Clone)]
pub struct KeyRing {
    alg: Alg,
    keys: Vec<Arc<SigningKey>>,
    by_kid: HashMap<String, Arc<SigningKey>>,
}

impl KeyRing {
    pub fn alg(&self) -> Alg {
        self.alg
    }

    /// The key new tokens are signed with.
    pub fn active(&self) -> &Arc<SigningKey> {
        &self.keys[0]
    }

    /// Only keys we hold: a `kid` never names a path or a URL (JW-3).
    pub fn get(&self, kid: &str) -> Option<&Arc<SigningKey>> {
        self.by_kid.get(kid)
    }

    pub fn keys(&self) -> &[Arc<SigningKey>] {
        &self.keys
    }

    /// Reads every key of `alg` in `data_dir/keys`, making the first one if there is none.
    pub fn load_or_create(data_dir: &Path, alg: Alg, now: i64) -> Result<KeyRing, KeyError> {
        let dir = data_dir.join("keys");
        let mut ring = Self::load(&dir, alg)?;
        if ring.is_none() {
            generate(&dir, alg, now)?;
            ring = Self::load(&dir, alg)?;
        }
        ring.ok_or(KeyError::Generate)
    }

    /// `None` when no key of `alg` exists yet.
    pub fn load(dir: &Path, alg: Alg) -> Result<Option<KeyRing>, KeyError> {
        let entries = match fs::read_dir(dir) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(source) => {
                return Err(KeyError::Read {
                    path: dir.to_path_buf(),
                    source,
                })
            }
        };
        let mut keys = Vec::new();
        for entry in entries {
            let entry = entry.map_err(|source| KeyError::Read {
                path: dir.to_path_buf(),
                source,
            })?;
            let path = entry.path();
            let Some(created) = key_file_created(&path, alg) else {
                continue;
            };
            keys.push(Arc::new(read_key(&path, alg, created)?));
        }
        if keys.is_empty() {
            return Ok(None);
        }
        // Newest first; the path breaks ties so every instance picks the same active key.
        keys.sort_by(|a, b| b.created.cmp(&a.created).then(b.path.cmp(&a.path)));
        let by_kid = keys.iter().map(|k| (k.kid.clone(), k.clone())).collect();
        Ok(Some(KeyRing { alg, keys, by_kid }))
    }
}

/// Where a key is in its life: signing, or kept to verify tokens it signed until they expire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyStatus {
    Active,
    /// Verify-only; retired automatically (or by hand) after `retire_after`.
    VerifyOnly {
        retire_after: i64,
    },
}

impl KeyRing {
    /// Each key with its status. A key is superseded when a newer one exists; the tokens it
    /// signed are all past `acceptance` (the longest a token stays acceptable after it is
    /// issued, clock leeway included) after that newer key's creation, plus the time
    /// instances take to notice it (`pickup`).
    pub fn statuses(&self, acceptance: i64, pickup: i64) -> Vec<(Arc<SigningKey>, KeyStatus)> {
        self.keys
            .iter()
            .enumerate()
            .map(|(i, k)| {
                let status = if i == 0 {
                    KeyStatus::Active
                } else {
                    let successor = &self.keys[i - 1];
                    KeyStatus::VerifyOnly {
                        retire_after: successor.created + pickup + acceptance,
                    }
                };
                (k.clone(), status)
            })
            .collect()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum RetireError {
    #[error("no key {0:?} of the configured algorithm")]
    Unknown(String),
    #[error("{0:?} is the active signing key; run `gatehouse keys rotate` first")]
    Active(String),
    #[error(transparent)]
    Key(#[from] KeyError),
}

/// Makes a new active key; the previous ones stay to verify what they signed.
pub fn rotate(data_dir: &Path, alg: Alg, now: i64) -> Result<KeyRing, KeyError> {
    let dir = data_dir.join("keys");
    generate(&dir, alg, now)?;
    KeyRing::load(&dir, alg)?.ok_or(KeyError::Generate)
}

/// Moves a verify-only key to `keys/retired/`: tokens it signed stop verifying.
pub fn retire(data_dir: &Path, alg: Alg, kid: &str) -> Result<PathBuf, RetireError> {
    let dir = data_dir.join("keys");
    let ring = KeyRing::load(&dir, alg)?.ok_or_else(|| RetireError::Unknown(kid.to_string()))?;
    let key = ring
        .get(kid)
        .ok_or_else(|| RetireError::Unknown(kid.to_string()))?;
    if ring.active().kid == kid {
        return Err(RetireError::Active(kid.to_string()));
    }
    retire_file(&key.path).map_err(RetireError::Key)
}

fn retire_file(path: &Path) -> Result<PathBuf, KeyError> {
    let dir = path.parent().unwrap_or(Path::new(".")).join("retired");
    let write_err = |source| KeyError::Write {
        path: dir.clone(),
        source,
    };
    create_private_dir(&dir).map_err(write_err)?;
    let target = dir.join(path.file_name().unwrap_or_default());
    fs::rename(path, &target).map_err(|source| KeyError::Write {
        path: path.to_path_buf(),
        source,
    })?;
    Ok(target)
}

/// Retires verify-only keys whose tokens have all expired. Several instances may race to do
/// it; a key already moved by another is simply gone.
pub fn retire_expired(ring: &KeyRing, now: i64, acceptance: i64, pickup: i64) -> Vec<String> {
    let mut retired = Vec::new();
    for (key, status) in ring.statuses(acceptance, pickup) {
        if let KeyStatus::VerifyOnly { retire_after } = status {
            if now > retire_after && key.path.exists() {
                match retire_file(&key.path) {
                    Ok(_) => retired.push(key.kid.clone()),
                    // Another instance (or the CLI) moved it between our check and rename.
                    Err(_) if !key.path.exists() => retired.push(key.kid.clone()),
                    Err(e) => log::warn!("cannot retire key {}: {e}", key.kid),
                }
            }
        }
    }
    retired
}

/// `eddsa-1700000000.pem` -> 1700000000, for files of this algorithm only.
fn key_file_created(path: &Path, alg: Alg) -> Option<i64> {
    let name = path.file_name()?.to_str()?;
    let stem = name.strip_suffix(&format!(".{}", alg.file_ext()))?;
    let created = stem.strip_prefix(&format!("{}-", alg.file_prefix()))?;
    created.parse().ok()
}

fn read_key(path: &Path, alg: Alg, created: i64) -> Result<SigningKey, KeyError> {
    if let Err(e) = make_private(path) {
        log::warn!("cannot check the mode of {}: {e}", path.display());
    }
    let bytes = fs::read(path).map_err(|source| KeyError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    let malformed = |why: &str| KeyError::Malformed {
        path: path.to_path_buf(),
        why: why.to_string(),
    };
    if alg.is_symmetric() {
        let text = std::str::from_utf8(&bytes).map_err(|_| malformed("not text"))?;
        let secret = STANDARD
            .decode(text.trim())
            .map_err(|_| malformed("not base64"))?;
        if secret.len() < 32 {
            return Err(malformed("an HS256 secret needs at least 32 bytes"));
        }
        return Ok(from_secret(path, created, &secret));
    }
    let block = pem::parse(&bytes).map_err(|_| malformed("not PEM"))?;
    if block.tag() != "PRIVATE KEY" {
        return Err(malformed("expected a PKCS#8 PRIVATE KEY block"));
    }
    let der = block.contents();
    let (encoding, decoding, jwk) = match alg {
        Alg::EdDSA => {
            let pair =
                Ed25519KeyPair::from_pkcs8(der).map_err(|_| malformed("not an Ed25519 key"))?;
            let x = b64(pair.public_key().as_ref());
            (
                EncodingKey::from_ed_der(der),
                DecodingKey::from_ed_components(&x).map_err(|_| malformed("bad public key"))?,
                json!({"crv": "Ed25519", "kty": "OKP", "x": x}),
            )
        }
        Alg::ES256 => {
            let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, der)
                .map_err(|_| malformed("not a P-256 key"))?;
            let point = pair.public_key().as_ref();
            if point.len() != 65 || point[0] != 4 {
                return Err(malformed("unexpected public point encoding"));
            }
            let (x, y) = (b64(&point[1..33]), b64(&point[33..]));
            (
                EncodingKey::from_ec_der(der),
                DecodingKey::from_ec_components(&x, &y).map_err(|_| malformed("bad public key"))?,
                json!({"crv": "P-256", "kty": "EC", "x": x, "y": y}),
            )
        }
        Alg::RS256 => {
            let pair = RsaKeyPair::from_pkcs8(der).map_err(|_| malformed("not an RSA key"))?;
            if pair.public_modulus_len() < 256 {
                return Err(malformed("RSA keys must have at least 2048 bits"));
            }
            let public = pair.public_key();
            let n = b64(public.modulus().big_endian_without_leading_zero());
            let e = b64(public.exponent().big_endian_without_leading_zero());
            let encoding = EncodingKey::from_rsa_pem(pem::encode(&block).as_bytes())
                .map_err(|_| malformed("not an RSA key"))?;
            (
                encoding,
                DecodingKey::from_rsa_components(&n, &e)
                    .map_err(|_| malformed("bad public key"))?,
                json!({"e": e, "kty": "RSA", "n": n}),
            )
        }
        Alg::HS256 => unreachable!("symmetric keys are handled above"),
    };
    Ok(SigningKey {
        kid: thumbprint(&jwk),
        alg,
        created,
        path: path.to_path_buf(),
        encoding,
        decoding,
        public_jwk: Some(jwk),
    })
}

fn from_secret(path: &Path, created: i64, secret: &[u8]) -> SigningKey {
    // RFC 7638 for an `oct` key hashes the secret; the hash reveals nothing about 256 random bits.
    let kid = thumbprint(&json!({"k": b64(secret), "kty": "oct"}));
    SigningKey {
        kid,
        alg: Alg::HS256,
        created,
        path: path.to_path_buf(),
        encoding: EncodingKey::from_secret(secret),
        decoding: DecodingKey::from_secret(secret),
        public_jwk: None,
    }
}

/// RFC 7638: SHA-256 over the required members, sorted, without whitespace.
/// `serde_json` keeps object keys sorted, and the members above are exactly the required ones.
fn thumbprint(jwk: &Value) -> String {
    let canonical = serde_json::to_string(jwk).expect("a JSON value serialises");
    b64(aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, canonical.as_bytes()).as_ref())
}

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Makes a new key of `alg` in `dir` and returns its path. The file appears atomically
/// (written aside, then renamed) with mode 0600, so no reader ever sees half a key.
pub fn generate(dir: &Path, alg: Alg, now: i64) -> Result<PathBuf, KeyError> {
    let write_err = |source| KeyError::Write {
        path: dir.to_path_buf(),
        source,
    };
    create_private_dir(dir).map_err(write_err)?;
    let contents = match alg {
        Alg::HS256 => {
            let mut secret = [0u8; 64];
            aws_lc_rs::rand::fill(&mut secret).map_err(|_| KeyError::Generate)?;
            format!("{}\n", STANDARD.encode(secret))
        }
        Alg::EdDSA => pkcs8_pem(
            Ed25519KeyPair::generate()
                .and_then(|k| k.to_pkcs8v1())
                .map_err(|_| KeyError::Generate)?
                .as_ref(),
        ),
        Alg::ES256 => pkcs8_pem(
            EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING)
                .and_then(|k| k.to_pkcs8v1())
                .map_err(|_| KeyError::Generate)?
                .as_ref(),
        ),
        Alg::RS256 => {
            let pair = RsaKeyPair::generate(KeySize::Rsa2048).map_err(|_| KeyError::Generate)?;
            let der: aws_lc_rs::encoding::Pkcs8V1Der =
                pair.as_der().map_err(|_| KeyError::Generate)?;
            pkcs8_pem(der.as_ref())
        }
    };
    // A second key made in the same second (a fast `rotate`) gets the next free name.
    let mut created = now;
    loop {
        let path = dir.join(format!(
            "{}-{created}.{}",
            alg.file_prefix(),
            alg.file_ext()
        ));
        if path.exists() {
            created += 1;
            continue;
        }
        match write_private_file(&path, contents.as_bytes()) {
            Ok(()) => return Ok(path),
            // Another instance sharing data_dir made a key in the same second.
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => created += 1,
            Err(source) => {
                return Err(KeyError::Write {
                    path: path.clone(),
                    source,
                })
            }
        }
    }
}

fn pkcs8_pem(der: &[u8]) -> String {
    pem::encode(&pem::Pem::new("PRIVATE KEY", der.to_vec()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc7638_example_thumbprint() {
        // The worked example of RFC 7638 section 3.1.
        let jwk = json!({
            "e": "AQAB",
            "kty": "RSA",
            "n": "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw"
        });
        assert_eq!(
            thumbprint(&jwk),
            "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"
        );
    }

    #[test]
    fn keys_are_made_once_private_and_reused() {
        let dir = tempfile::tempdir().unwrap();
        for alg in [Alg::EdDSA, Alg::ES256, Alg::RS256, Alg::HS256] {
            let first = KeyRing::load_or_create(dir.path(), alg, 1_700_000_000).unwrap();
            let again = KeyRing::load_or_create(dir.path(), alg, 1_700_000_500).unwrap();
            assert_eq!(
                first.active().kid,
                again.active().kid,
                "{alg} key regenerated"
            );
            assert_eq!(again.keys().len(), 1);
            #[cfg(unix)]
            {
                use std::os::unix::fs::PermissionsExt;
                let mode = fs::metadata(&first.active().path)
                    .unwrap()
                    .permissions()
                    .mode();
                assert_eq!(mode & 0o777, 0o600, "{alg} key mode");
            }
            let jwk = first.active().public_jwk();
            assert_eq!(jwk.is_none(), alg == Alg::HS256);
            if let Some(jwk) = jwk {
                let text = jwk.to_string();
                assert!(!text.contains("\"d\""), "private part in {text}");
                assert_eq!(jwk["kid"], first.active().kid);
            }
        }
    }

    #[test]
    fn malformed_key_stops_the_start_and_is_kept() {
        let dir = tempfile::tempdir().unwrap();
        let keys = dir.path().join("keys");
        create_private_dir(&keys).unwrap();
        let path = keys.join("eddsa-1700000000.pem");
        fs::write(
            &path,
            "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
        )
        .unwrap();
        let err = KeyRing::load_or_create(dir.path(), Alg::EdDSA, 1_700_000_100).unwrap_err();
        assert!(matches!(err, KeyError::Malformed { .. }), "{err}");
        assert!(err.to_string().contains("eddsa-1700000000.pem"));
        // Nothing was generated beside it.
        assert_eq!(fs::read_dir(&keys).unwrap().count(), 1);
    }

    #[test]
    fn short_hmac_secret_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let keys = dir.path().join("keys");
        create_private_dir(&keys).unwrap();
        fs::write(keys.join("hs256-1.key"), STANDARD.encode([7u8; 16])).unwrap();
        assert!(KeyRing::load_or_create(dir.path(), Alg::HS256, 2).is_err());
    }
}
