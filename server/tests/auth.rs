//! Authenticated sessions: JWTs (HS256, RS256) and the HTTP callback; guests off.

mod common;

use std::time::Duration;

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use chatkitty_protocol::Command;
use common::*;
use hmac::{Hmac, Mac};
use rsa::pkcs1v15::SigningKey;
use rsa::pkcs8::DecodePrivateKey;
use rsa::signature::{SignatureEncoding, Signer};
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

fn rs256(claims: &Value) -> String {
    let key =
        rsa::RsaPrivateKey::from_pkcs8_pem(include_str!("fixtures/rs256-private.pem")).unwrap();
    let h = URL_SAFE_NO_PAD.encode(br#"{"alg":"RS256","typ":"JWT"}"#);
    let p = URL_SAFE_NO_PAD.encode(claims.to_string());
    let sig = SigningKey::<Sha256>::new(key).sign(format!("{h}.{p}").as_bytes());
    format!("{h}.{p}.{}", URL_SAFE_NO_PAD.encode(sig.to_bytes()))
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
