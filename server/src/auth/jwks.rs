//! An identity provider's signing keys, fetched from its JWKS URL (`--jwt-jwks-url`,
//! RFC 7517) and kept by key id (`kid`).
//!
//! The set is fetched at startup and every `--jwt-jwks-refresh-secs`, so keys the
//! provider removed stop verifying; a token naming a `kid` the set does not hold (the
//! provider rotated its keys) fetches it again at once, but at most once per
//! `--jwt-jwks-min-refresh-secs` whatever the tokens say, and one fetch at a time. A
//! failed fetch keeps the keys already held. What a fetch may cost is bounded: the
//! answer ([`MAX_JWKS_BYTES`]), the keys kept ([`MAX_JWKS_KEYS`]) and the time
//! ([`FETCH_TIMEOUT`]).
//!
//! Only public signing keys are kept: RSA (RS256/384/512, PS256/384/512), EC P-256
//! (ES256) and P-384 (ES384), Ed25519 (EdDSA). A key with `"use": "enc"`, a symmetric
//! (`oct`) key, another curve or type, or a key whose `alg` is not one of these is
//! skipped. A key that names its `alg` verifies only that algorithm.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use axum::http::Method;
use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, Jwk, KeyAlgorithm, PublicKeyUse};
use jsonwebtoken::{Algorithm, DecodingKey};
use serde_json::Value;

use super::client::{self, Target};

/// Largest JWKS answer read, in bytes (a provider's set is a few KiB).
pub const MAX_JWKS_BYTES: usize = 256 * 1024;
/// Most keys kept from one JWKS (further ones are ignored).
pub const MAX_JWKS_KEYS: usize = 64;
/// How long one fetch may take, connecting and reading included.
pub const FETCH_TIMEOUT: Duration = Duration::from_secs(10);

/// One verification key and the algorithms it verifies.
#[derive(Clone)]
pub struct Key {
    /// The key.
    pub key: DecodingKey,
    /// Algorithms it may verify.
    pub algorithms: Vec<Algorithm>,
}

/// Why no key was found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Missing {
    /// The set (fetched) holds no key for the token: the token is refused.
    Unknown,
    /// The set could not be fetched and no key is held.
    Unavailable,
}

struct Held {
    keys: HashMap<String, Key>,
    /// The last successful fetch.
    fetched: Option<Instant>,
    /// The last attempt, successful or not.
    attempted: Option<Instant>,
}

/// The keys of one JWKS URL.
pub struct Jwks {
    target: Target,
    refresh: Duration,
    min_refresh: Duration,
    held: RwLock<Held>,
    /// One fetch at a time.
    fetching: tokio::sync::Mutex<()>,
}

impl Jwks {
    /// Keys to be fetched from `target`.
    pub fn new(target: Target, refresh: Duration, min_refresh: Duration) -> Jwks {
        Jwks {
            target,
            refresh,
            min_refresh,
            held: RwLock::new(Held {
                keys: HashMap::new(),
                fetched: None,
                attempted: None,
            }),
            fetching: tokio::sync::Mutex::new(()),
        }
    }

    fn lookup(&self, kid: Option<&str>, alg: Algorithm) -> Option<Key> {
        let held = self.held.read().unwrap_or_else(|e| e.into_inner());
        match kid {
            Some(kid) => held
                .keys
                .get(kid)
                .filter(|k| k.algorithms.contains(&alg))
                .cloned(),
            // No `kid`: only a set with exactly one key for the algorithm says which.
            None => {
                let mut fit = held.keys.values().filter(|k| k.algorithms.contains(&alg));
                match (fit.next(), fit.next()) {
                    (Some(k), None) => Some(k.clone()),
                    _ => None,
                }
            }
        }
    }

    /// The key for a token's `kid` and `alg`, fetching the set again when it does not
    /// hold it and the last attempt is older than the minimum refresh interval.
    pub async fn key_for(&self, kid: Option<&str>, alg: Algorithm) -> Result<Key, Missing> {
        if let Some(k) = self.lookup(kid, alg) {
            return Ok(k);
        }
        let due = |held: &Held| {
            held.attempted
                .is_none_or(|at| at.elapsed() >= self.min_refresh)
        };
        if due(&self.held.read().unwrap_or_else(|e| e.into_inner())) {
            let _one = self.fetching.lock().await;
            // Another login may have fetched while this one waited.
            let again = due(&self.held.read().unwrap_or_else(|e| e.into_inner()));
            if again {
                if let Err(e) = self.fetch().await {
                    tracing::warn!(error = %e, "fetching the JWKS failed");
                }
            }
        }
        if let Some(k) = self.lookup(kid, alg) {
            return Ok(k);
        }
        let held = self.held.read().unwrap_or_else(|e| e.into_inner());
        Err(if held.fetched.is_none() {
            Missing::Unavailable
        } else {
            Missing::Unknown
        })
    }

    /// Fetches the set and replaces the keys held; the number of keys kept.
    pub async fn fetch(&self) -> Result<usize, String> {
        let answer = tokio::time::timeout(
            FETCH_TIMEOUT,
            client::request(&self.target, Method::GET, None, MAX_JWKS_BYTES),
        )
        .await;
        let now = Instant::now();
        self.held
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .attempted = Some(now);
        let (status, body) = match answer {
            Err(_) => return Err("no answer in time".into()),
            Ok(Err(e)) => return Err(e),
            Ok(Ok(a)) => a,
        };
        if status != 200 {
            return Err(format!("HTTP status {status}"));
        }
        let keys = parse(&body)?;
        let n = keys.len();
        let mut held = self.held.write().unwrap_or_else(|e| e.into_inner());
        held.keys = keys;
        held.fetched = Some(now);
        tracing::info!(keys = n, "JWKS fetched");
        Ok(n)
    }

    /// Keeps the set fresh until `shutdown`: fetched now, then every refresh interval
    /// (after a failure, again after the minimum interval).
    pub async fn keep_fresh(self: Arc<Self>, mut shutdown: tokio::sync::watch::Receiver<bool>) {
        loop {
            let wait = {
                let _one = self.fetching.lock().await;
                match self.fetch().await {
                    Ok(_) => self.refresh,
                    Err(e) => {
                        tracing::warn!(error = %e, "fetching the JWKS failed");
                        self.min_refresh.max(Duration::from_secs(1))
                    }
                }
            };
            tokio::select! {
                _ = shutdown.wait_for(|s| *s) => return,
                _ = tokio::time::sleep(wait) => {}
            }
        }
    }
}

/// The usable keys of a JWKS document, by `kid` (a key without one is kept under
/// `""`), at most [`MAX_JWKS_KEYS`].
pub fn parse(body: &[u8]) -> Result<HashMap<String, Key>, String> {
    let doc: Value = serde_json::from_slice(body).map_err(|_| "the answer is not JSON")?;
    let list = doc
        .get("keys")
        .and_then(Value::as_array)
        .ok_or("the answer has no `keys` array")?;
    let mut out = HashMap::new();
    for raw in list {
        if out.len() == MAX_JWKS_KEYS {
            tracing::warn!(max = MAX_JWKS_KEYS, "JWKS has more keys than are kept");
            break;
        }
        let Ok(jwk) = serde_json::from_value::<Jwk>(raw.clone()) else {
            continue;
        };
        if let Some(key) = usable(&jwk) {
            out.insert(jwk.common.key_id.clone().unwrap_or_default(), key);
        }
    }
    Ok(out)
}

/// A public signing key and the algorithms it verifies, or `None`.
fn usable(jwk: &Jwk) -> Option<Key> {
    if matches!(
        jwk.common.public_key_use,
        Some(PublicKeyUse::Encryption | PublicKeyUse::Other(_))
    ) {
        return None;
    }
    use Algorithm::*;
    let family: &[Algorithm] = match &jwk.algorithm {
        AlgorithmParameters::RSA(_) => &[RS256, RS384, RS512, PS256, PS384, PS512],
        AlgorithmParameters::EllipticCurve(p) => match p.curve {
            EllipticCurve::P256 => &[ES256],
            EllipticCurve::P384 => &[ES384],
            _ => return None,
        },
        AlgorithmParameters::OctetKeyPair(p) if p.curve == EllipticCurve::Ed25519 => &[EdDSA],
        _ => return None,
    };
    let algorithms: Vec<Algorithm> = match jwk.common.key_algorithm {
        None => family.to_vec(),
        Some(named) => {
            let alg = signing_algorithm(named)?;
            if !family.contains(&alg) {
                return None;
            }
            vec![alg]
        }
    };
    let key = DecodingKey::from_jwk(jwk).ok()?;
    Some(Key { key, algorithms })
}

fn signing_algorithm(a: KeyAlgorithm) -> Option<Algorithm> {
    Some(match a {
        KeyAlgorithm::RS256 => Algorithm::RS256,
        KeyAlgorithm::RS384 => Algorithm::RS384,
        KeyAlgorithm::RS512 => Algorithm::RS512,
        KeyAlgorithm::PS256 => Algorithm::PS256,
        KeyAlgorithm::PS384 => Algorithm::PS384,
        KeyAlgorithm::PS512 => Algorithm::PS512,
        KeyAlgorithm::ES256 => Algorithm::ES256,
        KeyAlgorithm::ES384 => Algorithm::ES384,
        KeyAlgorithm::EdDSA => Algorithm::EdDSA,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ec_key(kid: &str) -> Value {
        // A valid P-256 public point (the generator).
        json!({"kty": "EC", "crv": "P-256", "kid": kid,
               "x": "axfR8uEsQkf4vOblY6RA8ncDfYEt6zOg9KE5RdiYwpY",
               "y": "T-NC4v4af5uO5-tKfA-eFivOM1drMV7Oy7ZAaDe_UfU"})
    }

    #[test]
    fn only_public_signing_keys_are_kept_and_at_most_the_limit() {
        let doc = json!({"keys": [
            ec_key("sig"),
            {"kty": "EC", "crv": "P-256", "kid": "enc", "use": "enc",
             "x": "axfR8uEsQkf4vOblY6RA8ncDfYEt6zOg9KE5RdiYwpY",
             "y": "T-NC4v4af5uO5-tKfA-eFivOM1drMV7Oy7ZAaDe_UfU"},
            {"kty": "oct", "kid": "secret", "k": "c2VjcmV0"},
            {"kty": "RSA", "kid": "oaep", "alg": "RSA-OAEP", "n": "AQAB", "e": "AQAB"},
            {"kty": "OKP", "crv": "Ed25519", "kid": "ed",
             "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"},
            {"kty": "unknown", "kid": "what"},
            "not even an object",
        ]});
        let keys = parse(doc.to_string().as_bytes()).unwrap();
        let mut kids: Vec<&str> = keys.keys().map(String::as_str).collect();
        kids.sort_unstable();
        assert_eq!(kids, ["ed", "sig"]);
        assert_eq!(keys["sig"].algorithms, [Algorithm::ES256]);
        assert_eq!(keys["ed"].algorithms, [Algorithm::EdDSA]);

        let many: Vec<Value> = (0..MAX_JWKS_KEYS + 10)
            .map(|i| ec_key(&format!("k{i}")))
            .collect();
        let keys = parse(json!({ "keys": many }).to_string().as_bytes()).unwrap();
        assert_eq!(keys.len(), MAX_JWKS_KEYS);
        assert!(parse(b"{\"no\": 1}").is_err());
        assert!(parse(b"<html>").is_err());
    }

    #[test]
    fn a_key_naming_its_algorithm_verifies_only_that_one() {
        let mut k = ec_key("a");
        k["alg"] = json!("ES256");
        let keys = parse(json!({ "keys": [k] }).to_string().as_bytes()).unwrap();
        assert_eq!(keys["a"].algorithms, [Algorithm::ES256]);
        let mut k = ec_key("b");
        k["alg"] = json!("RS256");
        let keys = parse(json!({ "keys": [k] }).to_string().as_bytes()).unwrap();
        assert!(keys.is_empty(), "an EC key claiming RS256 is not used");
    }
}
