//! Authenticated sessions: JWTs (HS256, RS256, and RS256/ES256/EdDSA from an identity
//! provider's JWKS, over http and https, through a key rotation) and the HTTP
//! callback; guests off.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use chatkitty_protocol::Command;
use common::*;
use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use sha2::Sha256;

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

fn hs256(claims: &Value, secret: &str) -> String {
    let h = URL_SAFE_NO_PAD.encode(br#"{"alg":"HS256","typ":"JWT"}"#);
    let p = URL_SAFE_NO_PAD.encode(claims.to_string());
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(format!("{h}.{p}").as_bytes());
    format!(
        "{h}.{p}.{}",
        URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
    )
}

/// The fixture's RSA private key.
fn rsa_key() -> rsa::PrivateKey {
    use rsa::pkcs8::DecodePrivateKey;
    let pem = include_str!("fixtures/rs256-private.pem");
    let body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    rsa::PrivateKey::from_pkcs8_der(&STANDARD.decode(body).unwrap()).unwrap()
}

/// An RS256 token signed with the fixture key, naming `kid` if given.
fn rs256_with(claims: &Value, kid: Option<&str>) -> String {
    use rsa::pkcs1::EncodeRsaPrivateKey;
    let der = rsa_key().to_pkcs1_der().unwrap();
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256);
    header.kid = kid.map(Into::into);
    let key = jsonwebtoken::EncodingKey::from_rsa_der(der.as_bytes());
    jsonwebtoken::encode(&header, claims, &key).unwrap()
}

fn rs256(claims: &Value) -> String {
    rs256_with(claims, None)
}

/// The fixture key as a JWK.
fn rsa_jwk(kid: &str) -> Value {
    use rsa::traits::PublicKeyParts;
    let public = rsa_key().to_public_key();
    json!({"kty": "RSA", "kid": kid, "use": "sig", "alg": "RS256",
           "n": URL_SAFE_NO_PAD.encode(public.n_bytes()),
           "e": URL_SAFE_NO_PAD.encode(public.e_bytes())})
}

fn random32() -> [u8; 32] {
    let mut b = [0u8; 32];
    getrandom::fill(&mut b).unwrap();
    b
}

/// `header.payload.signature` with the signature made by `sign` over the first two.
fn jws(alg: &str, kid: &str, claims: &Value, sign: impl Fn(&[u8]) -> Vec<u8>) -> String {
    let h = URL_SAFE_NO_PAD.encode(json!({"alg": alg, "typ": "JWT", "kid": kid}).to_string());
    let p = URL_SAFE_NO_PAD.encode(claims.to_string());
    let sig = sign(format!("{h}.{p}").as_bytes());
    format!("{h}.{p}.{}", URL_SAFE_NO_PAD.encode(sig))
}

/// A P-256 key made in the test, as an identity provider signs ES256 tokens.
struct EcKey(p256::ecdsa::SigningKey);

impl EcKey {
    fn new() -> EcKey {
        EcKey(p256::ecdsa::SigningKey::from_slice(&random32()).unwrap())
    }
    fn jwk(&self, kid: &str) -> Value {
        let point = self.0.verifying_key().to_sec1_point(false);
        let xy = &point.as_bytes()[1..];
        json!({"kty": "EC", "crv": "P-256", "kid": kid, "use": "sig",
               "x": URL_SAFE_NO_PAD.encode(&xy[..32]), "y": URL_SAFE_NO_PAD.encode(&xy[32..])})
    }
    fn sign(&self, claims: &Value, kid: &str) -> String {
        use p256::ecdsa::signature::Signer;
        jws("ES256", kid, claims, |m| {
            let s: p256::ecdsa::Signature = self.0.sign(m);
            s.to_bytes().to_vec()
        })
    }
}

/// An Ed25519 key made in the test (EdDSA tokens).
struct EdKey(ed25519_dalek::SigningKey);

impl EdKey {
    fn new() -> EdKey {
        EdKey(ed25519_dalek::SigningKey::from_bytes(&random32()))
    }
    fn jwk(&self, kid: &str) -> Value {
        json!({"kty": "OKP", "crv": "Ed25519", "kid": kid,
               "x": URL_SAFE_NO_PAD.encode(self.0.verifying_key().as_bytes())})
    }
    fn sign(&self, claims: &Value, kid: &str) -> String {
        use ed25519_dalek::Signer;
        jws("EdDSA", kid, claims, |m| self.0.sign(m).to_bytes().to_vec())
    }
}

/// An identity provider's JWKS endpoint, started by the test: serves the set it is
/// given (changed with `set`) and counts the fetches.
struct JwksServer {
    url: String,
    keys: Arc<Mutex<Value>>,
    hits: Arc<AtomicUsize>,
}

impl JwksServer {
    async fn start(keys: Value) -> JwksServer {
        let keys = Arc::new(Mutex::new(keys));
        let hits = Arc::new(AtomicUsize::new(0));
        let (k, h) = (keys.clone(), hits.clone());
        let app = axum::Router::new().route(
            "/.well-known/jwks.json",
            axum::routing::get(move || {
                let (k, h) = (k.clone(), h.clone());
                async move {
                    h.fetch_add(1, Ordering::SeqCst);
                    let body = k.lock().unwrap().clone();
                    axum::Json(body)
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        JwksServer {
            url: format!("http://{addr}/.well-known/jwks.json"),
            keys,
            hits,
        }
    }
    fn set(&self, keys: Value) {
        *self.keys.lock().unwrap() = keys;
    }
    fn hits(&self) -> usize {
        self.hits.load(Ordering::SeqCst)
    }
}

/// `StompX-Auth-Params` as the official client builds it: Base64 of the JSON text.
fn params(v: &Value) -> String {
    STANDARD.encode(v.to_string())
}

async fn connect_with(
    host: &str,
    user: &str,
    auth: Option<&Value>,
) -> (Client, chatkitty_protocol::Frame) {
    match auth {
        Some(a) => {
            Client::connect_raw(host, KEY, user, &[("StompX-Auth-Params", &params(a))]).await
        }
        None => Client::connect_raw(host, KEY, user, &[]).await,
    }
}

fn error_of(f: &chatkitty_protocol::Frame) -> (String, String) {
    assert_eq!(f.command, Command::Error, "{f:?}");
    let b = body_json(f);
    (
        b["error"].as_str().unwrap().to_owned(),
        b["message"].as_str().unwrap().to_owned(),
    )
}

#[tokio::test]
async fn hs256_jwts_authenticate_and_bad_ones_are_refused_with_access_denied() {
    let server = TestServer::start_with(|c| {
        c.guest_sessions = Some(false);
        c.jwt_hs256_secret = Some("backend-secret".into());
        c.jwt_audience = Some("my-chat".into());
    })
    .await;
    let host = server.host();
    let good = json!({"sub": "jane", "exp": now() + 300, "aud": "my-chat", "name": "Jane Doe"});
    let (mut c, f) = connect_with(
        &host,
        "jane",
        Some(&json!({"token": hs256(&good, "backend-secret")})),
    )
    .await;
    assert_eq!(f.command, Command::Connected);
    let me = c.relay("/application/v1/user.relay", &[]).await.unwrap();
    assert_eq!(
        (me["isGuest"].as_bool(), me["displayName"].as_str()),
        (Some(false), Some("Jane Doe"))
    );

    for (why, auth, want) in [
        (
            "no auth and guests off",
            None,
            "Guest sessions are disabled",
        ),
        (
            "wrong secret",
            Some(json!({"token": hs256(&good, "guess")})),
            "signature",
        ),
        (
            "expired",
            Some(
                json!({"jwt": hs256(&json!({"sub": "jane", "exp": now() - 3600, "aud": "my-chat"}), "backend-secret")}),
            ),
            "expired",
        ),
        (
            "wrong audience",
            Some(
                json!({"token": hs256(&json!({"sub": "jane", "exp": now() + 300, "aud": "other"}), "backend-secret")}),
            ),
            "audience",
        ),
        (
            "someone else's token",
            Some(
                json!({"token": hs256(&json!({"sub": "john", "exp": now() + 300, "aud": "my-chat"}), "backend-secret")}),
            ),
            "another user",
        ),
        ("no token", Some(json!({"password": "x"})), "JWT"),
        (
            "RS256 not configured",
            Some(json!(rs256(&good))),
            "not accepted",
        ),
    ] {
        let (_, f) = connect_with(&host, "jane", auth.as_ref()).await;
        let (name, message) = error_of(&f);
        assert_eq!(name, "AccessDeniedError", "{why}");
        assert!(message.contains(want), "{why}: {message}");
    }
}

#[tokio::test]
async fn rs256_jwts_are_checked_against_the_configured_public_key() {
    let key =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/rs256-public.pem");
    let server = TestServer::start_with(|c| c.jwt_rs256_public_key = Some(key)).await;
    let host = server.host();
    let claims = json!({"sub": "jane", "exp": now() + 300});
    let (_, f) = connect_with(&host, "jane", Some(&json!(rs256(&claims)))).await;
    assert_eq!(
        f.command,
        Command::Connected,
        "a bare token string works too"
    );
    let forged = hs256(&claims, "anything");
    let (_, f) = connect_with(&host, "jane", Some(&json!({"token": forged}))).await;
    assert_eq!(
        error_of(&f).0,
        "AccessDeniedError",
        "no algorithm confusion"
    );
    // A configured verifier turns guest sessions off unless they are asked for.
    let (_, f) = connect_with(&host, "guest", None).await;
    assert_eq!(error_of(&f).0, "AccessDeniedError");
}

#[tokio::test]
async fn the_http_callback_allows_denies_and_times_out() {
    // The app's backend: allows jane, denies mallory, is too slow for sloth.
    let app = axum::Router::new().route(
        "/verify",
        axum::routing::post(|axum::Json(body): axum::Json<Value>| async move {
            match body["username"].as_str() {
                Some("jane") if body["authParams"]["password"] == "open sesame" => {
                    axum::Json(json!({"allow": true, "displayName": "Jane (verified)"}))
                }
                Some("sloth") => {
                    tokio::time::sleep(Duration::from_secs(3)).await;
                    axum::Json(json!({"allow": true}))
                }
                _ => axum::Json(
                    json!({"allow": false, "message": "Unknown user or wrong password."}),
                ),
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let backend = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let server = TestServer::start_with(|c| {
        c.auth_callback_url = Some(format!("http://{backend}/verify"));
        c.auth_callback_timeout_ms = 500;
    })
    .await;
    let host = server.host();
    let (mut c, f) = connect_with(&host, "jane", Some(&json!({"password": "open sesame"}))).await;
    assert_eq!(f.command, Command::Connected);
    let me = c.relay("/application/v1/user.relay", &[]).await.unwrap();
    assert_eq!(me["displayName"], "Jane (verified)");
    let (_, f) = connect_with(&host, "jane", Some(&json!({"password": "nope"}))).await;
    assert_eq!(
        error_of(&f),
        (
            "AccessDeniedError".into(),
            "Unknown user or wrong password.".into()
        )
    );
    let (_, f) = connect_with(&host, "sloth", Some(&json!({"password": "x"}))).await;
    let (name, message) = error_of(&f);
    assert_eq!(name, "AccessDeniedError");
    assert!(message.contains("in time"), "{message}");
}

#[tokio::test]
async fn latin1_auth_params_are_decoded_as_iso_8859_1() {
    let server = TestServer::start_with(|c| c.jwt_hs256_secret = Some("s".into())).await;
    // "café" in Latin-1 is 63 61 66 E9; as UTF-8 it would be invalid.
    let raw = b"{\"token\":\"x\",\"note\":\"caf\xe9\"}";
    let (_, f) = Client::connect_raw(
        &server.host(),
        KEY,
        "jane",
        &[("StompX-Auth-Params", &STANDARD.encode(raw))],
    )
    .await;
    let (name, message) = error_of(&f);
    assert_eq!(name, "AccessDeniedError");
    assert!(
        message.contains("malformed"),
        "parsed as JSON, then the token was checked: {message}"
    );
}

/// Claims as an identity provider issues them (Keycloak-like: an opaque `sub`, the
/// username in `preferred_username`, several audiences).
fn provider_claims(user: &str) -> Value {
    json!({"sub": format!("id-{user}"), "preferred_username": user, "exp": now() + 300,
           "aud": ["my-chat", "account"], "iss": "https://id.example/realms/chat"})
}

fn provider_config(c: &mut chatkitty_server::Config, url: &str) {
    c.jwt_jwks_url = Some(url.to_owned());
    c.jwt_audience = Some("my-chat".into());
    c.jwt_issuer = Some("https://id.example/realms/chat".into());
    c.jwt_username_claim = Some("preferred_username".into());
    c.login_failures_per_user = 0;
    c.login_failures_per_address = 0;
}

async fn expect_in(host: &str, user: &str, token: &str, why: &str) {
    let (_, f) = connect_with(host, user, Some(&json!({ "idToken": token }))).await;
    assert_eq!(f.command, Command::Connected, "{why}: {f:?}");
}

async fn expect_refused(host: &str, user: &str, token: &str, want: &str, why: &str) {
    let (_, f) = connect_with(host, user, Some(&json!({ "accessToken": token }))).await;
    let (name, message) = error_of(&f);
    assert_eq!(name, "AccessDeniedError", "{why}");
    assert!(message.contains(want), "{why}: {message}");
}

#[tokio::test]
async fn jwks_keys_verify_rs256_es256_and_eddsa_tokens_and_a_rotation_is_followed() {
    let (ec1, ec2, ed) = (EcKey::new(), EcKey::new(), EdKey::new());
    let jwks = JwksServer::start(json!({"keys": [
        rsa_jwk("rsa-1"), ec1.jwk("ec-1"), ed.jwk("ed-1"),
        {"kty": "RSA", "kid": "enc-1", "use": "enc", "alg": "RSA-OAEP", "n": "AQAB", "e": "AQAB"},
    ]}))
    .await;
    let server = TestServer::start_with(|c| {
        provider_config(c, &jwks.url);
        // Every unknown kid may fetch again: this test follows a rotation at once.
        c.jwt_jwks_min_refresh_secs = 0;
    })
    .await;
    let host = server.host();
    let jane = provider_claims("jane");
    expect_in(&host, "jane", &rs256_with(&jane, Some("rsa-1")), "RS256").await;
    expect_in(&host, "jane", &ec1.sign(&jane, "ec-1"), "ES256").await;
    expect_in(&host, "jane", &ed.sign(&jane, "ed-1"), "EdDSA").await;

    let mut other_issuer = jane.clone();
    other_issuer["iss"] = json!("https://evil.example/");
    let mut other_audience = jane.clone();
    other_audience["aud"] = json!("someone-else");
    for (token, want, why) in [
        (ec1.sign(&other_issuer, "ec-1"), "issuer", "another issuer"),
        (
            ec1.sign(&other_audience, "ec-1"),
            "audience",
            "another audience",
        ),
        (
            ec1.sign(&jane, "ed-1"),
            "does not publish",
            "ES256 under an EdDSA key's kid",
        ),
        (
            ec2.sign(&jane, "ec-1"),
            "signature",
            "a key not published, under a published kid",
        ),
        (
            ec2.sign(&jane, "ec-2"),
            "does not publish",
            "a kid not published",
        ),
        (
            ec1.sign(&provider_claims("john"), "ec-1"),
            "another user",
            "john's token",
        ),
    ] {
        expect_refused(&host, "jane", &token, want, why).await;
    }

    // The provider rotates: ec-2 replaces every key. A token under the new kid fetches
    // the set again and gets in; the removed keys are refused from then on.
    jwks.set(json!({"keys": [ec2.jwk("ec-2")]}));
    expect_in(&host, "jane", &ec2.sign(&jane, "ec-2"), "the new key").await;
    expect_refused(
        &host,
        "jane",
        &ec1.sign(&jane, "ec-1"),
        "does not publish",
        "removed ES256 key",
    )
    .await;
    expect_refused(
        &host,
        "jane",
        &rs256_with(&jane, Some("rsa-1")),
        "does not publish",
        "removed RSA key",
    )
    .await;
}

#[tokio::test]
async fn unknown_kids_fetch_the_jwks_at_most_once_per_interval() {
    let (ec1, ec2) = (EcKey::new(), EcKey::new());
    let jwks = JwksServer::start(json!({"keys": [ec1.jwk("ec-1")]})).await;
    let server = TestServer::start_with(|c| {
        provider_config(c, &jwks.url);
        c.jwt_jwks_min_refresh_secs = 3600;
    })
    .await;
    let host = server.host();
    let jane = provider_claims("jane");
    expect_in(&host, "jane", &ec1.sign(&jane, "ec-1"), "the published key").await;
    let fetched = jwks.hits();
    assert!(fetched >= 1);
    jwks.set(json!({"keys": [ec2.jwk("ec-2")]}));
    for i in 0..5 {
        let kid = format!("made-up-{i}");
        expect_refused(
            &host,
            "jane",
            &ec2.sign(&jane, &kid),
            "does not publish",
            "made-up kid",
        )
        .await;
    }
    expect_refused(
        &host,
        "jane",
        &ec2.sign(&jane, "ec-2"),
        "does not publish",
        "not fetched yet",
    )
    .await;
    assert_eq!(jwks.hits(), fetched, "no fetch within the minimum interval");
    expect_in(
        &host,
        "jane",
        &ec1.sign(&jane, "ec-1"),
        "the held key still works",
    )
    .await;
}

#[tokio::test]
async fn an_oversized_or_unreachable_jwks_is_unavailable_not_a_failed_login() {
    let ec = EcKey::new();
    let mut padding = Vec::new();
    padding.resize(300 * 1024, json!(0));
    let jwks = JwksServer::start(json!({"keys": [ec.jwk("ec-1")], "padding": padding})).await;
    let server = TestServer::start_with(|c| {
        provider_config(c, &jwks.url);
        c.jwt_jwks_min_refresh_secs = 0;
        c.login_failures_per_user = 1;
    })
    .await;
    let host = server.host();
    let jane = provider_claims("jane");
    for _ in 0..3 {
        // Over MAX_JWKS_BYTES: not read. Not the user's fault, so never throttled.
        expect_refused(
            &host,
            "jane",
            &ec.sign(&jane, "ec-1"),
            "could not be fetched",
            "oversized",
        )
        .await;
    }
    jwks.set(json!({"keys": [ec.jwk("ec-1")]}));
    expect_in(
        &host,
        "jane",
        &ec.sign(&jane, "ec-1"),
        "once the set is fetchable",
    )
    .await;

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let closed = listener.local_addr().unwrap();
    drop(listener);
    let server =
        TestServer::start_with(|c| provider_config(c, &format!("http://{closed}/jwks"))).await;
    expect_refused(
        &server.host(),
        "jane",
        &ec.sign(&jane, "ec-1"),
        "could not be fetched",
        "unreachable",
    )
    .await;
}

/// A JWKS served over HTTPS with the fixture certificate (127.0.0.1, signed by the
/// fixture CA).
async fn https_jwks(keys: Value) -> String {
    use tokio_rustls::rustls;
    use tokio_rustls::rustls::pki_types::pem::PemObject;
    use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let certs: Vec<CertificateDer<'static>> =
        CertificateDer::pem_file_iter(dir.join("jwks-tls-cert.pem"))
            .unwrap()
            .map(Result::unwrap)
            .collect();
    let key = PrivateKeyDer::from_pem_file(dir.join("jwks-tls-key.pem")).unwrap();
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(certs, key)
    .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let body = keys.to_string();
    tokio::spawn(async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else {
                return;
            };
            let (acceptor, body) = (acceptor.clone(), body.clone());
            tokio::spawn(async move {
                let Ok(tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let service = hyper::service::service_fn(move |_req| {
                    let body = body.clone();
                    async move {
                        Ok::<_, std::convert::Infallible>(hyper::Response::new(
                            http_body_util::Full::new(hyper::body::Bytes::from(body)),
                        ))
                    }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(hyper_util::rt::TokioIo::new(tls), service)
                    .await;
            });
        }
    });
    format!("https://127.0.0.1:{}/certs", addr.port())
}

#[tokio::test]
async fn an_https_jwks_is_trusted_through_the_configured_ca_only() {
    let ec = EcKey::new();
    let url = https_jwks(json!({"keys": [ec.jwk("ec-1")]})).await;
    let jane = provider_claims("jane");
    let ca = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/jwks-ca.pem");
    let trusting = TestServer::start_with(|c| {
        provider_config(c, &url);
        c.jwt_jwks_ca_file = Some(ca);
    })
    .await;
    expect_in(
        &trusting.host(),
        "jane",
        &ec.sign(&jane, "ec-1"),
        "trusted CA",
    )
    .await;
    // With the built-in (public) roots the private CA's certificate is not trusted.
    let public_roots = TestServer::start_with(|c| provider_config(c, &url)).await;
    expect_refused(
        &public_roots.host(),
        "jane",
        &ec.sign(&jane, "ec-1"),
        "could not be fetched",
        "untrusted certificate",
    )
    .await;
}

#[tokio::test]
async fn a_bad_jwks_url_stops_the_server_at_startup() {
    let dir = tempfile::tempdir().unwrap();
    for url in ["ftp://keys.example/jwks", "not a url"] {
        let mut c =
            chatkitty_server::Config::for_tests(dir.path().join("chat.db").to_str().unwrap(), KEY);
        c.jwt_jwks_url = Some(url.into());
        let err = chatkitty_server::spawn(c).await.err().expect("refused");
        assert!(err.to_string().contains("--jwt-jwks-url"), "{err}");
    }
}
