//! Authenticated sessions (docs/protocol.md §2.4): `authParams` are verified by the
//! operator's choice of
//!
//! - a **JWT**, checked by the `jsonwebtoken` library: signed by the app's backend
//!   (HS256 with a shared secret, RS256 with its public key) or by an identity
//!   provider whose keys are published at a JWKS URL ([`super::jwks`]: RS256, PS256,
//!   ES256, EdDSA…, the key chosen by `kid`); `exp` is required, `nbf` honoured, `aud`
//!   and `iss` required and checked when configured, and the username claim
//!   (`--jwt-username-claim`, else `username` or `sub`) must be the username the client
//!   connects as;
//! - an **HTTP callback** to the app's backend: `POST <url>` with JSON
//!   `{username, authParams, applicationId}`; a 2xx answer `{"allow": true}` (optionally
//!   `displayName`, and `expiresIn`: seconds the session may be resumed without asking
//!   again) lets the user in, anything else (or no answer within the timeout, or an
//!   answer over `--auth-callback-max-bytes`) keeps them out. Plain `http://` only: run
//!   the verifier beside the server.
//!
//! The session id a verified login gets expires with the credential: a JWT's `exp`, the
//! callback's `expiresIn`, and at most `--auth-session-max-secs` (see `keys`).
//!
//! `authParams` is either the token itself (a string) or an object carrying it as
//! `token`, `jwt`, `accessToken` or `idToken`.

use std::sync::Arc;
use std::time::Duration;

use axum::http::Method;
use base64::Engine;
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use rsa::pkcs8::DecodePublicKey;
use rsa::traits::PublicKeyParts;
use serde_json::{Map, Value};

use super::client::{self, Target};
use super::jwks::{Jwks, Missing};
use crate::config::Config;

/// Clock skew tolerated on `exp` and `nbf`.
pub const LEEWAY_SECS: u64 = 30;

/// How `authParams` are checked.
#[derive(Clone)]
pub enum Verifier {
    /// No verifier: authenticated sessions are refused.
    None,
    /// JSON Web Tokens.
    Jwt(JwtVerifier),
    /// An HTTP callback.
    Callback(Callback),
}

/// Where and how the auth callback is asked.
#[derive(Clone, Debug)]
pub struct Callback {
    target: Target,
    /// How long to wait for the answer.
    timeout: Duration,
    /// Largest answer read.
    max_bytes: usize,
}

/// JWT keys and expected claims.
#[derive(Clone)]
pub struct JwtVerifier {
    hs256: Option<DecodingKey>,
    rs256: Option<DecodingKey>,
    jwks: Option<Arc<Jwks>>,
    audience: Option<String>,
    issuer: Option<String>,
    username_claim: Option<String>,
}

/// A successful verification.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Verified {
    /// A display name the backend chose, if any.
    pub display_name: Option<String>,
    /// When the credential expires (ms since the epoch): a JWT's `exp`, or now plus the
    /// callback's `expiresIn`; `None` if it did not say.
    pub expires_ms: Option<i64>,
}

/// Why a login was not let in. Both are `AccessDeniedError`s to the client; only a
/// refusal counts as a failed login (see `logins`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refused {
    /// The credential was checked and is wrong: the message to send.
    Denied(String),
    /// It could not be checked (the callback did not answer properly, the identity
    /// provider's keys could not be fetched).
    Unavailable(String),
}

impl Refused {
    /// The message for the client.
    pub fn message(&self) -> &str {
        match self {
            Refused::Denied(m) | Refused::Unavailable(m) => m,
        }
    }
}

fn denied(m: &str) -> Refused {
    Refused::Denied(m.to_owned())
}

impl Verifier {
    /// The verifier the configuration asks for.
    pub fn from_config(c: &Config) -> Result<Verifier, String> {
        if let Some(url) = &c.auth_callback_url {
            return Ok(Verifier::Callback(Callback {
                target: Target::parse(url, None, "--auth-callback-url")?,
                timeout: Duration::from_millis(c.auth_callback_timeout_ms),
                max_bytes: c.auth_callback_max_bytes,
            }));
        }
        let rs256 = match &c.jwt_rs256_public_key {
            Some(path) => {
                let pem = std::fs::read_to_string(path)
                    .map_err(|e| format!("reading {}: {e}", path.display()))?;
                Some(rsa_public_key(&pem).map_err(|e| format!("the RS256 public key: {e}"))?)
            }
            None => None,
        };
        let hs256 = c
            .jwt_hs256_secret
            .as_ref()
            .map(|s| DecodingKey::from_secret(s.as_bytes()))
            .transpose()
            .map_err(|e| format!("the HS256 secret: {e}"))?;
        let jwks = match &c.jwt_jwks_url {
            Some(url) => {
                let tls = client::tls_connector(c.jwt_jwks_ca_file.as_deref())?;
                Some(Arc::new(Jwks::new(
                    Target::parse(url, Some(&tls), "--jwt-jwks-url")?,
                    Duration::from_secs(c.jwt_jwks_refresh_secs.max(1)),
                    Duration::from_secs(c.jwt_jwks_min_refresh_secs),
                )))
            }
            None => None,
        };
        if hs256.is_none() && rs256.is_none() && jwks.is_none() {
            return Ok(Verifier::None);
        }
        Ok(Verifier::Jwt(JwtVerifier {
            hs256,
            rs256,
            jwks,
            audience: c.jwt_audience.clone(),
            issuer: c.jwt_issuer.clone(),
            username_claim: c.jwt_username_claim.clone(),
        }))
    }

    /// The JWKS to keep fresh in the background, if one is configured.
    pub fn jwks(&self) -> Option<Arc<Jwks>> {
        match self {
            Verifier::Jwt(j) => j.jwks.clone(),
            _ => None,
        }
    }

    /// Checks `auth_params` for `username`.
    pub async fn verify(
        &self,
        username: &str,
        auth_params: &Value,
        app_id: i64,
        now_secs: i64,
    ) -> Result<Verified, Refused> {
        match self {
            Verifier::None => Err(denied("Authenticated sessions are not enabled on this server; start a guest session (without authParams).")),
            Verifier::Jwt(j) => {
                let token = token_of(auth_params).ok_or_else(|| denied("authParams must carry a JWT (as token, jwt, accessToken or idToken)."))?;
                j.verify(token, username).await
            }
            Verifier::Callback(cb) => {
                let body = serde_json::json!({ "username": username, "authParams": auth_params, "applicationId": app_id });
                let asked = client::request(&cb.target, Method::POST, Some(body.to_string()), cb.max_bytes);
                match tokio::time::timeout(cb.timeout, asked).await {
                    Err(_) => Err(Refused::Unavailable("The authentication service did not answer in time.".into())),
                    Ok(Err(e)) => {
                        tracing::warn!(error = %e, "auth callback failed");
                        Err(Refused::Unavailable("The authentication service could not be reached.".into()))
                    }
                    Ok(Ok((status, bytes))) => {
                        let answer: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
                        let allow = (200..300).contains(&status) && answer.get("allow").and_then(Value::as_bool) == Some(true);
                        if allow {
                            let display_name = answer.get("displayName").and_then(Value::as_str).map(str::to_owned);
                            let expires_ms = answer
                                .get("expiresIn")
                                .and_then(Value::as_i64)
                                .map(|s| now_secs.saturating_add(s.max(0)).saturating_mul(1000));
                            Ok(Verified { display_name, expires_ms })
                        } else {
                            Err(Refused::Denied(answer
                                .get("message")
                                .and_then(Value::as_str)
                                .unwrap_or("The authentication service refused the session.")
                                .to_owned()))
                        }
                    }
                }
            }
        }
    }
}

fn token_of(p: &Value) -> Option<&str> {
    match p {
        Value::String(s) => Some(s),
        Value::Object(o) => ["token", "jwt", "accessToken", "idToken"]
            .iter()
            .find_map(|k| o.get(*k).and_then(Value::as_str)),
        _ => None,
    }
}

/// An RSA public key in PEM: SubjectPublicKeyInfo (`BEGIN PUBLIC KEY`) or PKCS#1
/// (`BEGIN RSA PUBLIC KEY`).
fn rsa_public_key(pem: &str) -> Result<DecodingKey, String> {
    let label = |l: &str| pem.contains(&format!("-----BEGIN {l}-----"));
    let body: String = pem
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with("-----"))
        .collect();
    let der = base64::engine::general_purpose::STANDARD
        .decode(body)
        .map_err(|_| "not PEM".to_owned())?;
    if label("RSA PUBLIC KEY") {
        return Ok(DecodingKey::from_rsa_der(&der));
    }
    if !label("PUBLIC KEY") {
        return Err("expected a PEM public key (BEGIN PUBLIC KEY)".into());
    }
    let key = rsa::PublicKey::from_public_key_der(&der).map_err(|e| e.to_string())?;
    Ok(DecodingKey::from_rsa_raw_components(
        &key.n_bytes(),
        &key.e_bytes(),
    ))
}

impl JwtVerifier {
    /// Verifies a compact JWS with the `jsonwebtoken` library: the key for its `alg`
    /// (and `kid`), the signature, `exp`, `nbf`, `aud`, `iss`; then the subject.
    pub async fn verify(&self, token: &str, username: &str) -> Result<Verified, Refused> {
        let token = token.trim();
        let header =
            jsonwebtoken::decode_header(token).map_err(|_| denied("The JWT is malformed."))?;
        let alg = header.alg;
        let key = self.key_for(alg, header.kid.as_deref()).await?;
        let mut v = Validation::new(alg);
        v.leeway = LEEWAY_SECS;
        v.validate_nbf = true;
        let mut required = vec!["exp"];
        match &self.audience {
            Some(aud) => {
                v.set_audience(&[aud]);
                required.push("aud");
            }
            // Without a configured audience any `aud` is accepted, as before.
            None => v.validate_aud = false,
        }
        if let Some(iss) = &self.issuer {
            v.set_issuer(&[iss]);
            required.push("iss");
        }
        v.set_required_spec_claims(&required);
        let claims = jsonwebtoken::decode::<Map<String, Value>>(token, &key, &v)
            .map_err(|e| Refused::Denied(refusal(e.kind(), alg)))?
            .claims;
        let subject = match &self.username_claim {
            Some(claim) => claims.get(claim),
            None => claims.get("username").or_else(|| claims.get("sub")),
        }
        .and_then(Value::as_str);
        if subject != Some(username) {
            return Err(denied("The JWT is for another user."));
        }
        let display_name = claims
            .get("name")
            .or_else(|| claims.get("displayName"))
            .and_then(Value::as_str)
            .map(str::to_owned);
        let exp = claims.get("exp").and_then(Value::as_f64).unwrap_or(0.0);
        Ok(Verified {
            display_name,
            expires_ms: Some((exp as i64).saturating_mul(1000)),
        })
    }

    /// The key a token with `alg` (and `kid`) is checked with: the HS256 secret, the
    /// RS256 key (for a token without `kid`, or when no JWKS is configured), else the
    /// JWKS key.
    async fn key_for(&self, alg: Algorithm, kid: Option<&str>) -> Result<DecodingKey, Refused> {
        match (alg, &self.hs256, &self.rs256, &self.jwks) {
            (Algorithm::HS256, Some(k), _, _) => return Ok(k.clone()),
            (Algorithm::RS256, _, Some(k), None) => return Ok(k.clone()),
            (Algorithm::RS256, _, Some(k), Some(_)) if kid.is_none() => return Ok(k.clone()),
            (Algorithm::HS256, None, _, _) => {
                return Err(denied("HS256 tokens are not accepted by this server."))
            }
            _ => {}
        }
        let Some(jwks) = &self.jwks else {
            return Err(Refused::Denied(format!(
                "JWT algorithm {alg:?} is not accepted by this server (it accepts {}).",
                self.accepted()
            )));
        };
        match jwks.key_for(kid, alg).await {
            Ok(k) => Ok(k.key),
            Err(Missing::Unknown) => Err(denied(
                "The JWT is signed with a key the identity provider does not publish (unknown kid or algorithm).",
            )),
            Err(Missing::Unavailable) => Err(Refused::Unavailable(
                "The identity provider's keys could not be fetched.".into(),
            )),
        }
    }

    fn accepted(&self) -> &'static str {
        match (self.hs256.is_some(), self.rs256.is_some()) {
            (true, true) => "HS256 and RS256",
            (true, false) => "HS256",
            (false, true) => "RS256",
            (false, false) => "no algorithm",
        }
    }
}

/// The client's message for a token the library refused.
fn refusal(kind: &ErrorKind, alg: Algorithm) -> String {
    match kind {
        ErrorKind::InvalidSignature => "The JWT signature is invalid.".into(),
        ErrorKind::ExpiredSignature => "The JWT has expired.".into(),
        ErrorKind::ImmatureSignature => "The JWT is not valid yet.".into(),
        ErrorKind::InvalidAudience => "The JWT is for another audience.".into(),
        ErrorKind::InvalidIssuer => "The JWT is from another issuer.".into(),
        ErrorKind::MissingRequiredClaim(c) | ErrorKind::InvalidClaimFormat(c) => match c.as_str() {
            "exp" => "The JWT must have an expiry (exp).".into(),
            "aud" => "The JWT is for another audience.".into(),
            "iss" => "The JWT is from another issuer.".into(),
            other => format!("The JWT's {other} claim is malformed."),
        },
        ErrorKind::InvalidAlgorithm | ErrorKind::InvalidKeyFormat => {
            format!("The JWT's algorithm {alg:?} does not fit its key.")
        }
        _ => "The JWT is malformed.".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use hmac::{Hmac, Mac};
    use sha2::Sha256;

    fn now() -> i64 {
        crate::clock::now_ms() / 1000
    }

    fn hs(claims: Value, secret: &str) -> String {
        let h = URL_SAFE_NO_PAD.encode(br#"{"alg":"HS256","typ":"JWT"}"#);
        let p = URL_SAFE_NO_PAD.encode(claims.to_string());
        let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
        mac.update(format!("{h}.{p}").as_bytes());
        format!(
            "{h}.{p}.{}",
            URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
        )
    }

    fn verifier(aud: Option<&str>, iss: Option<&str>) -> JwtVerifier {
        JwtVerifier {
            hs256: Some(DecodingKey::from_secret(b"shh").unwrap()),
            rs256: None,
            jwks: None,
            audience: aud.map(Into::into),
            issuer: iss.map(Into::into),
            username_claim: None,
        }
    }

    fn refused(r: Result<Verified, Refused>) -> String {
        match r {
            Err(Refused::Denied(m)) => m,
            other => panic!("{other:?}"),
        }
    }

    #[tokio::test]
    async fn hs256_tokens_are_checked_for_signature_expiry_audience_issuer_and_subject() {
        let v = verifier(Some("chat"), Some("https://id.example/"));
        let now = now();
        let good = serde_json::json!({"sub": "jane", "exp": now + 60, "aud": "chat",
            "iss": "https://id.example/", "name": "Jane D"});
        let ok = v.verify(&hs(good.clone(), "shh"), "jane").await.unwrap();
        assert_eq!(ok.display_name.as_deref(), Some("Jane D"));
        assert_eq!(ok.expires_ms, Some((now + 60) * 1000));
        let with = |k: &str, val: Value| {
            let mut c = good.clone();
            c[k] = val;
            hs(c, "shh")
        };
        let without = |k: &str| {
            let mut c = good.clone();
            c.as_object_mut().unwrap().remove(k);
            hs(c, "shh")
        };
        for (token, user, want) in [
            (hs(good.clone(), "wrong"), "jane", "signature"),
            (hs(good.clone(), "shh"), "john", "another user"),
            (
                with("exp", (now - LEEWAY_SECS as i64 - 5).into()),
                "jane",
                "expired",
            ),
            (
                with("nbf", (now + LEEWAY_SECS as i64 + 60).into()),
                "jane",
                "not valid yet",
            ),
            (
                with("aud", serde_json::json!(["other"])),
                "jane",
                "audience",
            ),
            (without("aud"), "jane", "audience"),
            (
                with("iss", "https://evil.example/".into()),
                "jane",
                "issuer",
            ),
            (without("iss"), "jane", "issuer"),
            (without("exp"), "jane", "expiry"),
        ] {
            let message = refused(v.verify(&token, user).await);
            assert!(message.contains(want), "{want}: {message}");
        }
        // Within the leeway an expired token still passes (clock skew).
        let skewed = with("exp", (now - 5).into());
        assert!(v.verify(&skewed, "jane").await.is_ok());
    }

    #[tokio::test]
    async fn the_username_claim_can_be_chosen() {
        let mut v = verifier(None, None);
        v.username_claim = Some("preferred_username".into());
        let t = hs(
            serde_json::json!({"sub": "f81d4fae", "preferred_username": "jane", "exp": now() + 60}),
            "shh",
        );
        assert!(v.verify(&t, "jane").await.is_ok());
        assert!(refused(v.verify(&t, "f81d4fae").await).contains("another user"));
    }

    #[tokio::test]
    async fn unsigned_and_unknown_algorithm_tokens_are_refused() {
        let v = verifier(None, None);
        let claims = URL_SAFE_NO_PAD.encode(br#"{"sub":"jane","exp":9999999999}"#);
        let none = format!("{}.{claims}.", URL_SAFE_NO_PAD.encode(br#"{"alg":"none"}"#));
        assert!(v.verify(&none, "jane").await.is_err());
        let rs = format!(
            "{}.{claims}.AAAA",
            URL_SAFE_NO_PAD.encode(br#"{"alg":"RS256"}"#)
        );
        assert!(
            refused(v.verify(&rs, "jane").await).contains("not accepted"),
            "no RS256 key configured"
        );
        assert!(v.verify("not-a-jwt", "jane").await.is_err());
    }
}
