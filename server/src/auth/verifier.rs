//! Authenticated sessions (docs/protocol.md §2.4): `authParams` are verified by the
//! operator's choice of
//!
//! - a **JWT** signed by the app's backend — HS256 with a shared secret or RS256 with
//!   the backend's public key; `exp` is required, `aud` (and `iss`) checked when
//!   configured, `sub` (or `username`) must be the username the client connects as;
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

use std::time::Duration;

use axum::http::{header, Request, Uri};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use hmac::{Hmac, Mac};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Bytes;
use hyper_util::rt::TokioIo;
use rsa::pkcs1v15::{Signature, VerifyingKey};
use rsa::pkcs8::DecodePublicKey;
use rsa::signature::Verifier as _;
use rsa::RsaPublicKey;
use serde_json::Value;
use sha2::Sha256;

use crate::config::Config;

/// Clock skew tolerated on `exp` and `nbf`.
pub const LEEWAY_SECS: i64 = 30;

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
    /// `host:port` to connect to (and the `Host` header).
    authority: String,
    /// Path and query to POST to.
    path: String,
    /// How long to wait for the answer.
    timeout: Duration,
    /// Largest answer read.
    max_bytes: usize,
}

/// JWT keys and expected claims.
#[derive(Clone)]
pub struct JwtVerifier {
    hs256: Option<Vec<u8>>,
    rs256: Option<RsaPublicKey>,
    audience: Option<String>,
    issuer: Option<String>,
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
    /// It could not be checked (the callback did not answer properly).
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

impl Verifier {
    /// The verifier the configuration asks for.
    pub fn from_config(c: &Config) -> Result<Verifier, String> {
        if let Some(url) = &c.auth_callback_url {
            let bad = || format!("--auth-callback-url {url:?} is not an http:// URL");
            let uri: Uri = url.parse().map_err(|_| bad())?;
            if uri.scheme_str() != Some("http") {
                return Err(bad());
            }
            let host = uri.host().ok_or_else(bad)?;
            let authority = format!("{host}:{}", uri.port_u16().unwrap_or(80));
            let path = uri.path_and_query().map_or("/", |p| p.as_str()).to_owned();
            return Ok(Verifier::Callback(Callback {
                authority,
                path,
                timeout: Duration::from_millis(c.auth_callback_timeout_ms),
                max_bytes: c.auth_callback_max_bytes,
            }));
        }
        let rs256 = match &c.jwt_rs256_public_key {
            Some(path) => {
                let pem = std::fs::read_to_string(path)
                    .map_err(|e| format!("reading {}: {e}", path.display()))?;
                Some(
                    RsaPublicKey::from_public_key_pem(&pem)
                        .map_err(|e| format!("parsing the RS256 public key: {e}"))?,
                )
            }
            None => None,
        };
        let hs256 = c.jwt_hs256_secret.as_ref().map(|s| s.as_bytes().to_vec());
        if hs256.is_none() && rs256.is_none() {
            return Ok(Verifier::None);
        }
        Ok(Verifier::Jwt(JwtVerifier {
            hs256,
            rs256,
            audience: c.jwt_audience.clone(),
            issuer: c.jwt_issuer.clone(),
        }))
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
            Verifier::None => Err(Refused::Denied("Authenticated sessions are not enabled on this server; start a guest session (without authParams).".into())),
            Verifier::Jwt(j) => {
                let token = token_of(auth_params).ok_or_else(|| Refused::Denied("authParams must carry a JWT (as token, jwt, accessToken or idToken).".into()))?;
                j.verify(token, username, now_secs).map_err(Refused::Denied)
            }
            Verifier::Callback(cb) => {
                let body = serde_json::json!({ "username": username, "authParams": auth_params, "applicationId": app_id });
                match tokio::time::timeout(cb.timeout, post_json(cb, &body)).await {
                    Err(_) => Err(Refused::Unavailable("The authentication service did not answer in time.".into())),
                    Ok(Err(e)) => {
                        tracing::warn!(error = %e, "auth callback failed");
                        Err(Refused::Unavailable("The authentication service could not be reached.".into()))
                    }
                    Ok(Ok((status, answer))) => {
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

impl JwtVerifier {
    /// Verifies a compact JWS: signature with the configured key for its `alg`, then
    /// `exp`, `nbf`, `aud`, `iss` and the subject.
    pub fn verify(&self, token: &str, username: &str, now: i64) -> Result<Verified, String> {
        let mut parts = token.trim().split('.');
        let (Some(h), Some(p), Some(s), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err("The JWT is malformed.".into());
        };
        let decode = |x: &str| {
            URL_SAFE_NO_PAD
                .decode(x.trim_end_matches('='))
                .map_err(|_| "The JWT is malformed.".to_owned())
        };
        let header: Value =
            serde_json::from_slice(&decode(h)?).map_err(|_| "The JWT header is not JSON.")?;
        let claims: Value =
            serde_json::from_slice(&decode(p)?).map_err(|_| "The JWT claims are not JSON.")?;
        let sig = decode(s)?;
        let signed = &token.trim()[..h.len() + 1 + p.len()];
        match header.get("alg").and_then(Value::as_str) {
            Some("HS256") => {
                let key = self
                    .hs256
                    .as_ref()
                    .ok_or("HS256 tokens are not accepted by this server.")?;
                let mut mac = Hmac::<Sha256>::new_from_slice(key).map_err(|_| "bad key")?;
                mac.update(signed.as_bytes());
                mac.verify_slice(&sig)
                    .map_err(|_| "The JWT signature is invalid.")?;
            }
            Some("RS256") => {
                let key = self
                    .rs256
                    .as_ref()
                    .ok_or("RS256 tokens are not accepted by this server.")?;
                let signature = Signature::try_from(sig.as_slice())
                    .map_err(|_| "The JWT signature is invalid.")?;
                VerifyingKey::<Sha256>::new(key.clone())
                    .verify(signed.as_bytes(), &signature)
                    .map_err(|_| "The JWT signature is invalid.")?;
            }
            Some(other) => {
                return Err(format!(
                    "JWT algorithm {other} is not accepted (use HS256 or RS256)."
                ))
            }
            None => return Err("The JWT has no algorithm.".into()),
        }
        let exp = claims
            .get("exp")
            .and_then(Value::as_i64)
            .ok_or("The JWT must have an expiry (exp).")?;
        if now > exp + LEEWAY_SECS {
            return Err("The JWT has expired.".into());
        }
        if let Some(nbf) = claims.get("nbf").and_then(Value::as_i64) {
            if now + LEEWAY_SECS < nbf {
                return Err("The JWT is not valid yet.".into());
            }
        }
        if let Some(aud) = &self.audience {
            let ok = match claims.get("aud") {
                Some(Value::String(a)) => a == aud,
                Some(Value::Array(list)) => list.iter().any(|a| a.as_str() == Some(aud)),
                _ => false,
            };
            if !ok {
                return Err("The JWT is for another audience.".into());
            }
        }
        if let Some(iss) = &self.issuer {
            if claims.get("iss").and_then(Value::as_str) != Some(iss) {
                return Err("The JWT is from another issuer.".into());
            }
        }
        let subject = claims
            .get("username")
            .or_else(|| claims.get("sub"))
            .and_then(Value::as_str);
        if subject != Some(username) {
            return Err("The JWT is for another user.".into());
        }
        let display_name = claims
            .get("name")
            .or_else(|| claims.get("displayName"))
            .and_then(Value::as_str)
            .map(str::to_owned);
        Ok(Verified {
            display_name,
            expires_ms: Some(exp.saturating_mul(1000)),
        })
    }
}

/// POSTs JSON over plain HTTP/1.1 and reads the status and JSON answer, at most
/// `max_bytes` of it.
///
/// hyper's own client connection (already built for the server side): it reads the
/// answer by its `Content-Length` or chunking, so a backend that keeps the connection
/// open answers as fast as one that closes it. Its `client` feature adds about 2 s to
/// hyper's release build and no crate; `reqwest` (or hyper-util's pooling client) would
/// add several crates for what is one request per login to one host.
async fn post_json(cb: &Callback, body: &Value) -> Result<(u16, Value), String> {
    let stream = tokio::net::TcpStream::connect(&cb.authority)
        .await
        .map_err(|e| e.to_string())?;
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| e.to_string())?;
    // The connection is driven beside the request and dropped with it.
    let driver = AbortOnDrop(tokio::spawn(async move {
        let _ = conn.await;
    }));
    let request = Request::post(cb.path.as_str())
        .header(header::HOST, cb.authority.as_str())
        .header(header::CONTENT_TYPE, "application/json")
        .header(header::ACCEPT, "application/json")
        .body(Full::new(Bytes::from(body.to_string())))
        .map_err(|e| e.to_string())?;
    let response = sender
        .send_request(request)
        .await
        .map_err(|e| e.to_string())?;
    let status = response.status().as_u16();
    let bytes = Limited::new(response.into_body(), cb.max_bytes)
        .collect()
        .await
        .map_err(|e| format!("reading the answer: {e}"))?
        .to_bytes();
    drop(driver);
    Ok((
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    ))
}

/// Aborts a task when dropped.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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

    fn verifier(aud: Option<&str>) -> JwtVerifier {
        JwtVerifier {
            hs256: Some(b"shh".to_vec()),
            rs256: None,
            audience: aud.map(Into::into),
            issuer: None,
        }
    }

    #[test]
    fn hs256_tokens_are_checked_for_signature_expiry_audience_and_subject() {
        let v = verifier(Some("chat"));
        let now = 1_000_000;
        let good =
            serde_json::json!({"sub": "jane", "exp": now + 60, "aud": "chat", "name": "Jane D"});
        assert_eq!(
            v.verify(&hs(good.clone(), "shh"), "jane", now)
                .unwrap()
                .display_name
                .as_deref(),
            Some("Jane D")
        );
        assert!(v
            .verify(&hs(good.clone(), "wrong"), "jane", now)
            .unwrap_err()
            .contains("signature"));
        assert!(v
            .verify(&hs(good.clone(), "shh"), "john", now)
            .unwrap_err()
            .contains("another user"));
        assert!(v
            .verify(&hs(good, "shh"), "jane", now + 60 + LEEWAY_SECS + 1)
            .unwrap_err()
            .contains("expired"));
        let wrong_aud = serde_json::json!({"sub": "jane", "exp": now + 60, "aud": ["other"]});
        assert!(v
            .verify(&hs(wrong_aud, "shh"), "jane", now)
            .unwrap_err()
            .contains("audience"));
        let no_exp = serde_json::json!({"sub": "jane", "aud": "chat"});
        assert!(v
            .verify(&hs(no_exp, "shh"), "jane", now)
            .unwrap_err()
            .contains("expiry"));
    }

    #[test]
    fn unsigned_and_unknown_algorithm_tokens_are_refused() {
        let v = verifier(None);
        let claims = URL_SAFE_NO_PAD.encode(br#"{"sub":"jane","exp":9999999999}"#);
        let none = format!("{}.{claims}.", URL_SAFE_NO_PAD.encode(br#"{"alg":"none"}"#));
        assert!(v.verify(&none, "jane", 0).is_err());
        let rs = format!(
            "{}.{claims}.AAAA",
            URL_SAFE_NO_PAD.encode(br#"{"alg":"RS256"}"#)
        );
        assert!(
            v.verify(&rs, "jane", 0)
                .unwrap_err()
                .contains("not accepted"),
            "no RS256 key configured"
        );
        assert!(v.verify("not-a-jwt", "jane", 0).is_err());
    }
}
