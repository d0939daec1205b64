//! Hostile input over HTTP, WebSocket upgrades and logins: each attack of issue 16 that
//! these parts of the server answer, as a test that failed before its fix, each followed
//! by a check that a normal client on another connection (and another address) is
//! still served. The decoder's work bounds are in `protocol/tests/stomp_codec.rs`.

mod common;

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use chatkitty_protocol::{Command, Frame};
use common::http::{multipart, request, request_on, Response};
use common::*;
use futures_util::SinkExt;
use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use sha2::Sha256;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::MaybeTlsStream;

/// Another loopback address: a client that is not the attacker.
const ELSEWHERE: IpAddr = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2));

async fn tcp_from(src: IpAddr, host: &str) -> TcpStream {
    let addr: SocketAddr = host.parse().unwrap();
    let socket = TcpSocket::new_v4().unwrap();
    socket.bind(SocketAddr::new(src, 0)).unwrap();
    socket.connect(addr).await.expect("connect")
}

fn connect_frame(username: &str, extra: &[(&str, &str)]) -> Frame {
    let mut f = Frame::new(Command::Connect)
        .with_header("StompX-User", username)
        .with_header("StompX-User-Agent", "ChatKitty-JS/1.58.2")
        .with_header("accept-version", "1.2")
        .with_header("heart-beat", "60000,10000");
    for (k, v) in extra {
        f.push_header(*k, *v);
    }
    f
}

/// A WebSocket from `src`, then CONNECT; the first answer.
async fn connect_from(
    src: IpAddr,
    host: &str,
    username: &str,
    extra: &[(&str, &str)],
) -> (Client, Frame) {
    let stream = tcp_from(src, host).await;
    let mut req = format!("ws://{host}/rtm/websocket?api-key={KEY}")
        .into_client_request()
        .unwrap();
    req.headers_mut()
        .insert("Sec-WebSocket-Protocol", "v12.stomp".parse().unwrap());
    let (ws, _) = tokio::time::timeout(
        WAIT,
        tokio_tungstenite::client_async(req, MaybeTlsStream::Plain(stream)),
    )
    .await
    .expect("upgrade in time")
    .expect("upgrade");
    let mut c = Client::from_ws(ws, username);
    c.send(&connect_frame(username, extra)).await;
    let first = c.next_frame(WAIT).await.expect("answer to CONNECT");
    (c, first)
}

async fn http_from(src: IpAddr, host: &str, method: &str, path: &str) -> Response {
    let stream = tcp_from(src, host).await;
    tokio::time::timeout(WAIT, request_on(stream, host, method, path, &[], b""))
        .await
        .unwrap_or_else(|_| panic!("{method} {path} answers in time"))
}

/// After an attack: `/health` answers and a guest session starts, from another address.
async fn still_served(host: &str) {
    still_served_as(host, &unique("bystander"), &[]).await;
}

/// [`still_served`] for a server without guests: `username` signs in with `extra`.
async fn still_served_as(host: &str, username: &str, extra: &[(&str, &str)]) {
    let r = http_from(ELSEWHERE, host, "GET", "/health").await;
    assert_eq!((r.status, r.body.as_slice()), (200, &b"ok\n"[..]));
    let (_, f) = connect_from(ELSEWHERE, host, username, extra).await;
    assert_eq!(f.command, Command::Connected, "{f:?}");
}

fn error_of(f: &Frame) -> (String, String) {
    assert_eq!(f.command, Command::Error, "{f:?}");
    let b = body_json(f);
    (
        b["error"].as_str().unwrap().to_owned(),
        b["message"].as_str().unwrap().to_owned(),
    )
}

fn now_secs() -> i64 {
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

fn auth_params(v: &Value) -> String {
    STANDARD.encode(v.to_string())
}

async fn grant(c: &mut Client, which: &str) -> String {
    let dest = format!("/application/v1/user.{which}_file_access_grant.relay");
    c.relay(&dest, &[]).await.unwrap()["grant"]
        .as_str()
        .unwrap()
        .to_owned()
}

fn path_of(url: &str) -> String {
    let rest = url.split_once("://").unwrap().1;
    format!("/{}", rest.split_once('/').unwrap().1)
}

async fn platform_token(host: &str, secret: &str) -> Response {
    platform_token_from(IpAddr::V4(Ipv4Addr::LOCALHOST), host, secret).await
}

async fn platform_token_from(src: IpAddr, host: &str, secret: &str) -> Response {
    let basic = STANDARD.encode(format!("{KEY}:{secret}"));
    request_on(
        tcp_from(src, host).await,
        host,
        "POST",
        "/oauth/token",
        &[
            ("Authorization", &format!("Basic {basic}")),
            ("Content-Type", "application/x-www-form-urlencoded"),
        ],
        b"grant_type=client_credentials",
    )
    .await
}

/// Reads until the server closes the connection (`true`) or `WAIT` passes (`false`).
async fn closed_by_server(s: &mut TcpStream) -> bool {
    let mut buf = [0u8; 4096];
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        match tokio::time::timeout_at(deadline, s.read(&mut buf)).await {
            Err(_) => return false,
            Ok(Ok(0)) | Ok(Err(_)) => return true,
            Ok(Ok(_)) => {}
        }
    }
}

// --- Items 2 and 3: the STOMP decoder under a flood -----------------------------------

// Two worker threads, as on a small server: a stalled decoder holds one of them while
// the clock keeps running for the other.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mebibyte_of_heartbeats_before_connect_is_decoded_at_once() {
    let server = TestServer::start().await;
    let host = server.host();
    let (ws, _) = open_ws(&host, "no-such-key").await;
    let mut attacker = Client::from_ws(ws, "x");
    // The largest WebSocket message the server takes, all heart-beats, then CONNECT.
    attacker
        .ws
        .send(Message::Text("\n".repeat(1 << 20).into()))
        .await
        .unwrap();
    attacker.send(&connect_frame("x", &[])).await;
    // The answer comes once the megabyte is decoded: at once, not after minutes.
    let f = attacker.next_frame(WAIT).await.expect("ERROR in time");
    assert_eq!(error_of(&f).0, "AccessDeniedError");
    still_served(&host).await;
}

// Two worker threads, as on a small server: a stalled decoder holds one of them while
// the clock keeps running for the other.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_frame_head_arriving_in_256_byte_pieces_is_not_parsed_again_each_time() {
    let server = TestServer::start().await;
    let host = server.host();
    let (ws, _) = open_ws(&host, "no-such-key").await;
    let mut attacker = Client::from_ws(ws, "x");
    let mut frame = b"CONNECT\naccept-version:1.2\nx-pad:".to_vec();
    frame.extend(std::iter::repeat_n(b'a', 940_000));
    frame.extend_from_slice(b"\nStompX-User:x\n\n\0");
    for piece in frame.chunks(256) {
        attacker
            .ws
            .feed(Message::Binary(piece.to_vec().into()))
            .await
            .unwrap();
    }
    attacker.ws.flush().await.unwrap();
    let f = attacker.next_frame(WAIT).await.expect("ERROR in time");
    assert_eq!(error_of(&f).0, "AccessDeniedError");
    still_served(&host).await;
}

// --- Item 7: HTTP connections that never finish, and many of them ---------------------

#[tokio::test]
async fn a_request_whose_headers_never_end_is_closed_after_the_header_timeout() {
    let server = TestServer::start_with(|c| c.http_header_timeout_ms = 300).await;
    let host = server.host();
    let mut half_open = TcpStream::connect(&host).await.unwrap();
    half_open
        .write_all(b"GET /health HTTP/1.1\r\nHost: x\r\nX-Slow: ")
        .await
        .unwrap();
    assert!(
        closed_by_server(&mut half_open).await,
        "a half-open request is closed"
    );
    // A kept-alive connection waiting idle for its next request is closed too.
    let mut idle = TcpStream::connect(&host).await.unwrap();
    idle.write_all(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    assert!(
        closed_by_server(&mut idle).await,
        "an idle connection is closed"
    );
    still_served(&host).await;
}

#[tokio::test]
async fn one_address_holds_a_bounded_number_of_connections_and_others_are_still_served() {
    let server = TestServer::start_with(|c| c.max_connections_per_address = 8).await;
    let host = server.host();
    let mut held = Vec::new();
    for _ in 0..8 {
        let mut s = TcpStream::connect(&host).await.unwrap();
        s.write_all(b"GET /health HTTP/1.1\r\nHost: x\r\n")
            .await
            .unwrap();
        held.push(s);
    }
    // Let the server accept them all before the ninth.
    let r = http_from(ELSEWHERE, &host, "GET", "/health").await;
    assert_eq!(r.status, 200);
    let mut ninth = TcpStream::connect(&host).await.unwrap();
    let mut raw = Vec::new();
    tokio::time::timeout(WAIT, ninth.read_to_end(&mut raw))
        .await
        .expect("the ninth connection is answered at once")
        .unwrap();
    let text = String::from_utf8_lossy(&raw);
    assert!(text.starts_with("HTTP/1.1 503"), "{text}");
    let body: Value = serde_json::from_str(text.split_once("\r\n\r\n").unwrap().1).unwrap();
    assert_eq!(body["error"], "RateLimitExceededError", "{body}");
    still_served(&host).await;
    // A connection closed gives its place back.
    drop(held.pop());
    let mut again = None;
    for _ in 0..50 {
        let r = tokio::time::timeout(WAIT, request(&host, "GET", "/health", &[], b""))
            .await
            .unwrap();
        if r.status == 200 {
            again = Some(r);
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(again.is_some(), "the place is given back");
}

#[tokio::test]
async fn a_websocket_keeps_its_place_in_its_address_count_until_it_closes() {
    let server = TestServer::start_with(|c| c.max_connections_per_address = 2).await;
    let host = server.host();
    let mut a = Client::start(&host, "jane").await;
    let _b = Client::start(&host, "john").await;
    let mut third = TcpStream::connect(&host).await.unwrap();
    let mut raw = Vec::new();
    tokio::time::timeout(WAIT, third.read_to_end(&mut raw))
        .await
        .expect("answered at once")
        .unwrap();
    assert!(
        raw.starts_with(b"HTTP/1.1 503"),
        "{}",
        String::from_utf8_lossy(&raw)
    );
    // Both sessions still work; once one ends, its place is free.
    assert!(a.relay("/application/v1/user.relay", &[]).await.is_ok());
    assert!(a.disconnect().await);
    assert!(a.wait_closed().await);
    let mut freed = false;
    for _ in 0..50 {
        if request(&host, "GET", "/health", &[], b"").await.status == 200 {
            freed = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(freed, "the closed WebSocket gave its place back");
    still_served(&host).await;
}

// --- Item 11: no URL from a request header is stored or shared ------------------------

#[tokio::test]
async fn a_public_url_that_is_not_http_is_refused_at_startup() {
    for url in [
        "javascript:alert(1)",
        "//evil.example",
        "https://chat.example/?x=1",
    ] {
        let dir = tempfile::tempdir().unwrap();
        let db = test_database(&dir).await;
        let mut c = chatkitty_server::Config::for_tests(&*db, KEY);
        c.public_url = Some(url.into());
        assert!(
            matches!(
                chatkitty_server::spawn(c).await,
                Err(chatkitty_server::StartError::Config(_))
            ),
            "{url}"
        );
    }
}

#[tokio::test]
async fn a_forged_host_header_changes_no_link_that_is_stored_or_sent_to_others() {
    let server = TestServer::start().await;
    let host = server.host();
    let base = format!("http://{host}");
    // An upgrade with a forged Host and X-Forwarded-Proto, and a wrong API key.
    let mut s = TcpStream::connect(&host).await.unwrap();
    s.write_all(
        b"GET /rtm/websocket?api-key=wrong HTTP/1.1\r\nHost: evil.example\r\n\
          X-Forwarded-Proto: javascript:alert(1)//\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
          Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
    )
    .await
    .unwrap();
    let mut head = [0u8; 12];
    s.read_exact(&mut head).await.unwrap();
    assert_eq!(&head, b"HTTP/1.1 101");

    let mut jane = Client::start(&host, "jane").await;
    let mut john = Client::start(&host, "john").await;
    for u in [&jane.user, &john.user] {
        let avatar = u["displayPictureUrl"].as_str().unwrap();
        assert!(avatar.starts_with(&format!("{base}/avatars/")), "{avatar}");
    }
    let ch = jane.direct_with("john").await;
    john.start_chat(&ch).await;
    let write = grant(&mut jane, "write").await;
    let (ctype, body) = multipart(&[("file", Some(("cat.png", "image/png")), b"\x89PNG....")]);
    let r = request(
        &host,
        "POST",
        ch["_streams"]["messages"].as_str().unwrap(),
        &[("Grant", &write), ("Content-Type", &ctype)],
        &body,
    )
    .await;
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    let sent = r.json();
    let got = john
        .expect_event(
            ch["_topics"]["messages"].as_str().unwrap(),
            "channel.message.created",
        )
        .await;
    for m in [&sent, &got] {
        let url = m["file"]["url"].as_str().unwrap();
        assert!(
            url.starts_with(&format!("{base}/files/v1/hosted/")),
            "{url}"
        );
    }
    // What is stored is a path, rendered with the base URL when read.
    let id = sent["id"].as_i64().unwrap();
    let row = server.state().store.message(id).await.unwrap().unwrap();
    let stored: Value = serde_json::from_str(row.file.as_deref().unwrap()).unwrap();
    assert!(
        stored["url"]
            .as_str()
            .unwrap()
            .starts_with("/files/v1/hosted/"),
        "{stored}"
    );

    // A row stored by an earlier version while poisoned renders with the base URL.
    let poisoned = json!({"type": "HOSTED", "url": "javascript:alert(1)//://evil.example/files/v1/hosted/tok/x.png",
        "name": "x.png", "contentType": "image/png", "size": 1})
    .to_string();
    let (old, _) = server
        .state()
        .store
        .insert_message(&chatkitty_server::store::NewMessage {
            channel_id: ch["id"].as_i64().unwrap(),
            user_id: Some(jane.id()),
            kind: chatkitty_protocol::resource::MessageType::File,
            body: None,
            file: Some(&poisoned),
            properties: "{}",
            group_tag: None,
            parent_id: None,
            thread_id: None,
            mentions: None,
            links: None,
            created_ms: chatkitty_server::store::now_ms(),
            idempotency_key: None,
        })
        .await
        .unwrap();
    let page = john
        .relay(ch["_relays"]["messages"].as_str().unwrap(), &[])
        .await
        .unwrap();
    let shown = page["_embedded"]["messages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["id"] == old.id)
        .unwrap()
        .clone();
    assert_eq!(
        shown["file"]["url"],
        format!("{base}/files/v1/hosted/tok/x.png")
    );

    // Display pictures: stored as a path too.
    let (ctype, body) = multipart(&[("file", Some(("me.png", "image/png")), b"\x89PNG....")]);
    let r = request(
        &host,
        "POST",
        "/files/v1/user/display_picture",
        &[("Grant", &write), ("Content-Type", &ctype)],
        &body,
    )
    .await;
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    let pic = r.json()["displayPictureUrl"].as_str().unwrap().to_owned();
    assert!(
        pic.starts_with(&format!("{base}/files/v1/hosted/")),
        "{pic}"
    );
    let me = server
        .state()
        .store
        .user_by_id(jane.id())
        .await
        .unwrap()
        .unwrap();
    assert!(
        me.display_picture_url
            .unwrap()
            .starts_with("/files/v1/hosted/"),
        "stored as a path"
    );
    still_served(&host).await;
}

// --- Item 12: a verifier turns guest sessions off --------------------------------------

#[tokio::test]
async fn configuring_a_verifier_turns_guest_sessions_off_unless_asked_for() {
    let server = TestServer::start_with(|c| c.jwt_hs256_secret = Some("backend".into())).await;
    let host = server.host();
    let token = hs256(&json!({"sub": "jane", "exp": now_secs() + 300}), "backend");
    let (_, f) = Client::connect_raw(
        &host,
        KEY,
        "jane",
        &[(
            "StompX-Auth-Params",
            &auth_params(&json!({ "token": token })),
        )],
    )
    .await;
    assert_eq!(f.command, Command::Connected, "{f:?}");
    // With only a username, nobody gets in, least of all as jane.
    let (_, f) = Client::connect_raw(&host, KEY, "jane", &[]).await;
    let (name, message) = error_of(&f);
    assert_eq!(name, "AccessDeniedError");
    assert!(message.contains("Guest sessions are disabled"), "{message}");

    // Both on, explicitly: guests, but a guest cannot become an authenticated user.
    let both = TestServer::start_with(|c| {
        c.jwt_hs256_secret = Some("backend".into());
        c.guest_sessions = Some(true);
    })
    .await;
    let host = both.host();
    let (_, f) = Client::connect_raw(
        &host,
        KEY,
        "jane",
        &[(
            "StompX-Auth-Params",
            &auth_params(&json!({ "token": token })),
        )],
    )
    .await;
    assert_eq!(f.command, Command::Connected, "{f:?}");
    let (_, f) = Client::connect_raw(&host, KEY, "jane", &[]).await;
    assert_eq!(error_of(&f).0, "AccessDeniedError", "no takeover of jane");
    let (_, f) = Client::connect_raw(&host, KEY, "a-guest", &[]).await;
    assert_eq!(f.command, Command::Connected, "guests still welcome");
    still_served(&host).await;
}

// --- Item 15: session ids end with their credential, and can be revoked ----------------

#[tokio::test]
async fn a_session_id_stops_resuming_once_its_jwt_has_expired() {
    let server = TestServer::start_with(|c| c.jwt_hs256_secret = Some("backend".into())).await;
    let host = server.host();
    // Expired five seconds ago: still inside the clock-skew leeway, so it is accepted,
    // but the session id it yields is already past the token's expiry.
    let token = hs256(&json!({"sub": "jane", "exp": now_secs() - 5}), "backend");
    let (_, f) = Client::connect_raw(
        &host,
        KEY,
        "jane",
        &[(
            "StompX-Auth-Params",
            &auth_params(&json!({ "token": token })),
        )],
    )
    .await;
    assert_eq!(f.command, Command::Connected, "{f:?}");
    let session = f.header("session").unwrap().to_owned();
    let (_, f) = Client::connect_raw(
        &host,
        KEY,
        "jane",
        &[
            ("StompX-Auth-Session-ID", &session),
            (
                "StompX-Auth-Params",
                &auth_params(&json!({"token": "garbage"})),
            ),
        ],
    )
    .await;
    assert_eq!(error_of(&f).0, "AccessDeniedError", "not resumed");

    // A guest's session id resumes as before (on a server with guests).
    let guests = TestServer::start().await;
    let (_, f) = Client::connect_raw(&guests.host(), KEY, "gus", &[]).await;
    let session = f.header("session").unwrap().to_owned();
    let (mut c, f) = Client::connect_raw(
        &guests.host(),
        KEY,
        "gus",
        &[("StompX-Auth-Session-ID", &session)],
    )
    .await;
    assert_eq!(f.command, Command::Connected);
    let me = c.relay("/application/v1/user.relay", &[]).await.unwrap();
    assert_eq!(me["name"], "gus");
    still_served(&guests.host()).await;
}

#[tokio::test]
async fn a_session_id_from_the_auth_callback_resumes_only_as_long_as_the_callback_said() {
    let calls = Arc::new(AtomicUsize::new(0));
    let counted = calls.clone();
    let app = axum::Router::new().route(
        "/verify",
        axum::routing::post(move |axum::Json(body): axum::Json<Value>| {
            let counted = counted.clone();
            async move {
                counted.fetch_add(1, Ordering::SeqCst);
                // jane's credential is good for an hour, joe's has just run out.
                let expires = if body["username"] == "jane" { 3600 } else { 0 };
                axum::Json(json!({"allow": true, "expiresIn": expires}))
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let backend = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let server = TestServer::start_with(|c| {
        c.auth_callback_url = Some(format!("http://{backend}/verify"));
    })
    .await;
    let host = server.host();
    let params = auth_params(&json!({"password": "x"}));
    for (user, resumes) in [("jane", true), ("joe", false)] {
        let (_, f) =
            Client::connect_raw(&host, KEY, user, &[("StompX-Auth-Params", &params)]).await;
        let session = f.header("session").unwrap().to_owned();
        let before = calls.load(Ordering::SeqCst);
        let (_, f) = Client::connect_raw(
            &host,
            KEY,
            user,
            &[
                ("StompX-Auth-Session-ID", &session),
                ("StompX-Auth-Params", &params),
            ],
        )
        .await;
        assert_eq!(f.command, Command::Connected);
        let asked = calls.load(Ordering::SeqCst) - before;
        assert_eq!(
            asked == 0,
            resumes,
            "{user}: resumed without asking the backend"
        );
    }
    still_served_as(&host, "carol", &[("StompX-Auth-Params", &params)]).await;
}

#[tokio::test]
async fn revoking_a_users_sessions_ends_their_connections_and_session_ids() {
    let server = TestServer::start_with(|c| {
        c.jwt_hs256_secret = Some("backend".into());
        c.platform_secrets = vec![format!("{KEY}=s3cret")];
    })
    .await;
    let host = server.host();
    let token = hs256(&json!({"sub": "jane", "exp": now_secs() + 300}), "backend");
    let jwt = auth_params(&json!({ "token": token }));
    let (mut live, f) =
        Client::connect_raw(&host, KEY, "jane", &[("StompX-Auth-Params", &jwt)]).await;
    assert_eq!(f.command, Command::Connected, "{f:?}");
    let session = f.header("session").unwrap().to_owned();
    let me = live.relay("/application/v1/user.relay", &[]).await.unwrap();
    let john = hs256(&json!({"sub": "john", "exp": now_secs() + 300}), "backend");
    let john = auth_params(&json!({ "token": john }));
    let (mut bystander, f) =
        Client::connect_raw(&host, KEY, "john", &[("StompX-Auth-Params", &john)]).await;
    assert_eq!(f.command, Command::Connected, "{f:?}");

    let t = platform_token(&host, "s3cret").await.json();
    let app = t["application_id"].as_i64().unwrap();
    let auth = format!("Bearer {}", t["access_token"].as_str().unwrap());
    let path = format!("/v1/applications/{app}/users/{}/revoke-sessions", me["id"]);
    assert_eq!(
        request(&host, "POST", &path, &[], b"").await.status,
        401,
        "the Platform API's token is required"
    );
    let r = request(&host, "POST", &path, &[("Authorization", &auth)], b"").await;
    assert_eq!(r.status, 204, "{}", String::from_utf8_lossy(&r.body));

    // The live connection is told and closed.
    let f = live
        .wait_for(WAIT, |f| f.command == Command::Error)
        .await
        .expect("an ERROR frame");
    assert_eq!(error_of(&f).0, "AccessDeniedError");
    assert!(live.wait_closed().await);
    // Its session id no longer resumes; the credential itself still works.
    let (_, f) = Client::connect_raw(
        &host,
        KEY,
        "jane",
        &[
            ("StompX-Auth-Session-ID", &session),
            (
                "StompX-Auth-Params",
                &auth_params(&json!({"token": "garbage"})),
            ),
        ],
    )
    .await;
    assert_eq!(error_of(&f).0, "AccessDeniedError", "not resumed");
    let (_, f) = Client::connect_raw(&host, KEY, "jane", &[("StompX-Auth-Params", &jwt)]).await;
    assert_eq!(f.command, Command::Connected);
    // Nobody else was touched.
    assert!(bystander
        .relay("/application/v1/user.relay", &[])
        .await
        .is_ok());
    still_served_as(&host, "john", &[("StompX-Auth-Params", &john)]).await;
}

#[tokio::test]
async fn a_connection_ends_when_the_credential_it_signed_in_with_expires() {
    let server = TestServer::start_with(|c| c.jwt_hs256_secret = Some("backend".into())).await;
    let host = server.host();
    let token = hs256(&json!({"sub": "jane", "exp": now_secs() + 2}), "backend");
    let (mut c, f) = Client::connect_raw(
        &host,
        KEY,
        "jane",
        &[(
            "StompX-Auth-Params",
            &auth_params(&json!({ "token": token })),
        )],
    )
    .await;
    assert_eq!(f.command, Command::Connected, "{f:?}");
    c.relay("/application/v1/user.relay", &[]).await.unwrap();
    let f = c
        .wait_for(Duration::from_secs(15), |f| f.command == Command::Error)
        .await
        .expect("an ERROR once the token has expired");
    let (name, message) = error_of(&f);
    assert_eq!(name, "AccessDeniedError");
    assert!(message.contains("expired"), "{message}");
    assert!(c.wait_closed().await);
    let john = hs256(&json!({"sub": "john", "exp": now_secs() + 300}), "backend");
    still_served_as(
        &host,
        "john",
        &[(
            "StompX-Auth-Params",
            &auth_params(&json!({ "token": john })),
        )],
    )
    .await;
}

#[tokio::test]
async fn revoking_a_users_sessions_ends_their_file_grants_too() {
    let server =
        TestServer::start_with(|c| c.platform_secrets = vec![format!("{KEY}=s3cret")]).await;
    let host = server.host();
    let mut jane = Client::start(&host, "jane").await;
    let ch = jane.direct_with("john").await;
    let write = grant(&mut jane, "write").await;
    let read = grant(&mut jane, "read").await;
    let r = upload(
        &host,
        &mut jane,
        &ch,
        &[("file", Some(("a.png", "image/png")), b"\x89PNG")],
    )
    .await;
    assert_eq!(r.status, 200);
    let url = format!(
        "{}?grant={read}",
        path_of(r.json()["file"]["url"].as_str().unwrap())
    );
    assert_eq!(request(&host, "GET", &url, &[], b"").await.status, 200);

    let t = platform_token(&host, "s3cret").await.json();
    let app = t["application_id"].as_i64().unwrap();
    let auth = format!("Bearer {}", t["access_token"].as_str().unwrap());
    let path = format!("/v1/applications/{app}/users/{}/revoke-sessions", jane.id());
    let r = request(&host, "POST", &path, &[("Authorization", &auth)], b"").await;
    assert_eq!(r.status, 204);

    assert_eq!(
        request(&host, "GET", &url, &[], b"").await.status,
        401,
        "read grant"
    );
    let (ctype, body) = multipart(&[("file", Some(("b.png", "image/png")), b"\x89PNG")]);
    let r = request(
        &host,
        "POST",
        ch["_streams"]["messages"].as_str().unwrap(),
        &[("Grant", &write), ("Content-Type", &ctype)],
        &body,
    )
    .await;
    assert_eq!(r.status, 401, "write grant");
    still_served(&host).await;
}

// --- Item 16: failed logins are throttled --------------------------------------------

#[tokio::test]
async fn failed_logins_are_throttled_per_user_and_per_address_and_nobody_else_is_slowed() {
    let calls = Arc::new(AtomicUsize::new(0));
    let counted = calls.clone();
    let app = axum::Router::new().route(
        "/verify",
        axum::routing::post(move |axum::Json(body): axum::Json<Value>| {
            let counted = counted.clone();
            async move {
                counted.fetch_add(1, Ordering::SeqCst);
                axum::Json(json!({"allow": body["authParams"]["password"] == "right"}))
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let backend = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let server = TestServer::start_with(|c| {
        c.auth_callback_url = Some(format!("http://{backend}/verify"));
        c.login_failures_per_user = 3;
        c.login_failures_per_address = 5;
        c.platform_secrets = vec![format!("{KEY}=s3cret")];
    })
    .await;
    let host = server.host();
    let wrong = auth_params(&json!({"password": "guess"}));
    let right = auth_params(&json!({"password": "right"}));
    for _ in 0..3 {
        let (_, f) =
            Client::connect_raw(&host, KEY, "jane", &[("StompX-Auth-Params", &wrong)]).await;
        assert_eq!(error_of(&f).0, "AccessDeniedError");
    }
    let (_, f) = Client::connect_raw(&host, KEY, "jane", &[("StompX-Auth-Params", &wrong)]).await;
    let (name, message) = error_of(&f);
    assert_eq!(name, "RateLimitExceededError", "{message}");
    assert_eq!(
        calls.load(Ordering::SeqCst),
        3,
        "the backend is not asked again"
    );
    // The address: two more failures for someone else, then it is refused too.
    for _ in 0..2 {
        let (_, f) =
            Client::connect_raw(&host, KEY, "john", &[("StompX-Auth-Params", &wrong)]).await;
        assert_eq!(error_of(&f).0, "AccessDeniedError");
    }
    let (_, f) = Client::connect_raw(&host, KEY, "john", &[("StompX-Auth-Params", &right)]).await;
    assert_eq!(error_of(&f).0, "RateLimitExceededError");
    assert_eq!(calls.load(Ordering::SeqCst), 5);
    // Another user at another address signs in as usual, and guests are untouched.
    let (_, f) = connect_from(ELSEWHERE, &host, "bob", &[("StompX-Auth-Params", &right)]).await;
    assert_eq!(f.command, Command::Connected, "{f:?}");

    // Platform API secrets, per address (a third one: failures are counted per address
    // for chat logins and the Platform API together).
    let guesser = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 3));
    for _ in 0..5 {
        assert_eq!(
            platform_token_from(guesser, &host, "guess").await.status,
            401
        );
    }
    let r = platform_token_from(guesser, &host, "s3cret").await;
    assert_eq!(r.status, 429);
    assert_eq!(r.json()["error"], "RateLimitExceededError");
    assert!(r.header("retry-after").is_some());
    let r = platform_token_from(ELSEWHERE, &host, "s3cret").await;
    assert_eq!(
        r.status, 200,
        "the app's backend elsewhere is not locked out"
    );
    still_served_as(&host, "carol", &[("StompX-Auth-Params", &right)]).await;
}

// --- Item 17: avatars per application, /metrics protected ----------------------------

#[tokio::test]
async fn avatars_cannot_be_enumerated_across_applications() {
    let server =
        TestServer::start_with(|c| c.api_keys = vec![KEY.into(), "other-app".into()]).await;
    let host = server.host();
    let jane = Client::start(&host, "jane").await;
    let mallory = Client::start_with_key(&host, "other-app", "mallory").await;
    let url = jane.user["displayPictureUrl"].as_str().unwrap();
    let ok = request(&host, "GET", &path_of(url), &[], b"").await;
    assert_eq!(ok.status, 200);
    assert!(String::from_utf8_lossy(&ok.body).contains("<svg"));
    // The bare id (the old form), and another application's user under this URL's key.
    let bare = request(
        &host,
        "GET",
        &format!("/avatars/{}.svg", jane.id()),
        &[],
        b"",
    )
    .await;
    assert_eq!(bare.status, 404);
    let other = path_of(url).replace(
        &format!("/{}.svg", jane.id()),
        &format!("/{}.svg", mallory.id()),
    );
    assert_eq!(request(&host, "GET", &other, &[], b"").await.status, 404);
    still_served(&host).await;
}

#[tokio::test]
async fn metrics_need_the_token_or_a_loopback_client() {
    let server = TestServer::start_with(|c| c.metrics_token = Some("m-secret".into())).await;
    let host = server.host();
    assert_eq!(
        request(&host, "GET", "/metrics", &[], b"").await.status,
        401
    );
    let wrong = request(
        &host,
        "GET",
        "/metrics",
        &[("Authorization", "Bearer nope")],
        b"",
    )
    .await;
    assert_eq!(wrong.status, 401);
    let ok = request(
        &host,
        "GET",
        "/metrics",
        &[("Authorization", "Bearer m-secret")],
        b"",
    )
    .await;
    assert_eq!(ok.status, 200);
    assert!(String::from_utf8_lossy(&ok.body).contains("chatkitty_connections"));

    // No token: loopback clients only. Behind a trusted proxy, the forwarded client.
    let proxied = TestServer::start_with(|c| c.trusted_proxies = vec!["127.0.0.1".into()]).await;
    let host = proxied.host();
    assert_eq!(
        request(&host, "GET", "/metrics", &[], b"").await.status,
        200
    );
    let remote = request(
        &host,
        "GET",
        "/metrics",
        &[("X-Forwarded-For", "198.51.100.7")],
        b"",
    )
    .await;
    assert_eq!(remote.status, 403);
    still_served(&host).await;
}

#[tokio::test]
async fn metrics_can_be_moved_to_their_own_address() {
    let server = TestServer::start_with(|c| {
        c.metrics_bind = Some("127.0.0.1:0".parse().unwrap());
    })
    .await;
    let host = server.host();
    assert_eq!(
        request(&host, "GET", "/metrics", &[], b"").await.status,
        404
    );
    let metrics = server
        .running
        .as_ref()
        .unwrap()
        .metrics_addr
        .unwrap()
        .to_string();
    let r = request(&metrics, "GET", "/metrics", &[], b"").await;
    assert_eq!(r.status, 200);
    assert!(String::from_utf8_lossy(&r.body).contains("chatkitty_connections"));
    assert_eq!(
        request(&metrics, "GET", "/health", &[], b"").await.status,
        404
    );
    still_served(&host).await;
}

// --- Item 18: files ---------------------------------------------------------------------

/// A multipart part: name, file name and content type (for files), content.
type Part<'a> = (&'a str, Option<(&'a str, &'a str)>, &'a [u8]);

async fn upload(host: &str, c: &mut Client, ch: &Value, parts: &[Part<'_>]) -> Response {
    let write = grant(c, "write").await;
    let (ctype, body) = multipart(parts);
    request(
        host,
        "POST",
        ch["_streams"]["messages"].as_str().unwrap(),
        &[("Grant", &write), ("Content-Type", &ctype)],
        &body,
    )
    .await
}

fn files_on_disk(server: &TestServer) -> usize {
    std::fs::read_dir(server.dir.path().join("files")).map_or(0, |d| d.count())
}

#[tokio::test]
async fn a_deleted_file_message_is_no_longer_downloadable() {
    let server = TestServer::start().await;
    let host = server.host();
    let mut jane = Client::start(&host, "jane").await;
    let ch = jane.direct_with("john").await;
    let r = upload(
        &host,
        &mut jane,
        &ch,
        &[("file", Some(("a.png", "image/png")), b"\x89PNG")],
    )
    .await;
    assert_eq!(r.status, 200);
    let m = r.json();
    let read = grant(&mut jane, "read").await;
    let url = format!(
        "{}?grant={read}",
        path_of(m["file"]["url"].as_str().unwrap())
    );
    assert_eq!(request(&host, "GET", &url, &[], b"").await.status, 200);
    jane.action(m["_actions"]["delete"].as_str().unwrap(), json!({}))
        .await
        .unwrap();
    // Its bytes go with the message, whether or not anyone asks for it again.
    assert_eq!(
        files_on_disk(&server),
        0,
        "its bytes are gone with the message"
    );
    let gone = request(&host, "GET", &url, &[], b"").await;
    assert_eq!(gone.status, 410, "{}", String::from_utf8_lossy(&gone.body));
    assert_eq!(gone.json()["error"], "NotFoundError");
    still_served(&host).await;
}

#[tokio::test]
async fn files_sent_before_the_upgrade_go_with_their_messages_and_keep_working_links() {
    let dir = tempfile::tempdir().unwrap();
    let db = test_database(&dir).await;
    let files = dir.path().join("files");
    let start = |db: &str| {
        let mut c = chatkitty_server::Config::for_tests(db, KEY);
        c.files_dir = files.clone();
        chatkitty_server::spawn(c)
    };
    let server = start(&db).await.unwrap();
    let mut jane = Client::start(&server.host(), "jane").await;
    let ch = jane.direct_with("john").await;
    let r = upload(
        &server.host(),
        &mut jane,
        &ch,
        &[("file", Some(("a.png", "image/png")), b"\x89PNG")],
    )
    .await;
    let m = r.json();
    drop(jane);
    server.stop().await;

    // The database as the previous version left it: no message_id, links stored whole
    // (here, poisoned).
    use sqlx::Connection;
    sqlx::any::install_default_drivers();
    let url = if db.contains("://") {
        db.to_string()
    } else {
        format!("sqlite://{}", &*db)
    };
    let mut conn = sqlx::AnyConnection::connect(&url).await.unwrap();
    for q in [
        // (A later migration indexes the column.)
        "DROP INDEX IF EXISTS files_message",
        "ALTER TABLE files DROP COLUMN message_id",
        "ALTER TABLE users DROP COLUMN session_generation",
        "DELETE FROM schema_migrations WHERE version = 5",
        "UPDATE messages SET file = replace(file, '\"/files/', '\"http://evil.example/files/')",
    ] {
        sqlx::query(q).execute(&mut conn).await.unwrap();
    }
    conn.close().await.unwrap();

    let server = start(&db).await.unwrap();
    let host = server.host();
    let mut jane = Client::start(&host, "jane").await;
    let page = jane
        .relay(ch["_relays"]["messages"].as_str().unwrap(), &[])
        .await
        .unwrap();
    let shown = &page["_embedded"]["messages"][0];
    assert_eq!(shown["id"], m["id"]);
    let link = shown["file"]["url"].as_str().unwrap();
    assert!(
        link.starts_with(&format!("http://{host}/files/v1/hosted/")),
        "{link}"
    );
    let read = grant(&mut jane, "read").await;
    let url = format!("{}?grant={read}", path_of(link));
    assert_eq!(request(&host, "GET", &url, &[], b"").await.status, 200);
    jane.action(m["_actions"]["delete"].as_str().unwrap(), json!({}))
        .await
        .unwrap();
    assert_eq!(request(&host, "GET", &url, &[], b"").await.status, 410);
    still_served(&host).await;
}

#[tokio::test]
async fn failed_or_extra_multipart_parts_leave_no_file_on_disk() {
    let server = TestServer::start().await;
    let host = server.host();
    let mut jane = Client::start(&host, "jane").await;
    let ch = jane.direct_with("john").await;
    let bad_properties = upload(
        &host,
        &mut jane,
        &ch,
        &[
            ("file", Some(("a.png", "image/png")), b"\x89PNG"),
            ("properties", None, b"[not an object]"),
        ],
    )
    .await;
    assert_eq!(bad_properties.status, 400);
    let two_files = upload(
        &host,
        &mut jane,
        &ch,
        &[
            ("file", Some(("a.png", "image/png")), b"\x89PNG"),
            ("file", Some(("b.png", "image/png")), b"\x89PNG"),
        ],
    )
    .await;
    assert_eq!(two_files.status, 400);
    assert_eq!(two_files.json()["error"], "ValidationError");
    let huge = format!("{{\"x\":\"{}\"}}", "p".repeat(100 * 1024));
    let huge_properties = upload(
        &host,
        &mut jane,
        &ch,
        &[
            ("file", Some(("a.png", "image/png")), b"\x89PNG"),
            ("properties", None, huge.as_bytes()),
        ],
    )
    .await;
    assert_eq!(huge_properties.status, 413);
    assert_eq!(huge_properties.json()["error"], "PayloadTooLargeError");
    // Under the 64 KiB part cap, but over what any message's properties may be.
    let big = format!("{{\"x\":\"{}\"}}", "p".repeat(20 * 1024));
    let long_tag = format!("\"{}\"", "t".repeat(300));
    for part in [
        ("properties", big.as_bytes()),
        ("groupTag", long_tag.as_bytes()),
    ] {
        let r = upload(
            &host,
            &mut jane,
            &ch,
            &[
                ("file", Some(("a.png", "image/png")), b"\x89PNG"),
                (part.0, None, part.1),
            ],
        )
        .await;
        assert_eq!(r.status, 413, "{}", part.0);
        assert_eq!(r.json()["error"], "PayloadTooLargeError");
    }
    assert_eq!(files_on_disk(&server), 0, "nothing left behind");
    still_served(&host).await;
}

#[tokio::test]
async fn only_plain_images_audio_and_video_are_served_inline() {
    let server = TestServer::start().await;
    let host = server.host();
    let mut jane = Client::start(&host, "jane").await;
    let ch = jane.direct_with("john").await;
    let read = grant(&mut jane, "read").await;
    for (ctype, inline) in [
        ("image/png", true),
        ("IMAGE/JPEG", true),
        ("video/mp4", true),
        ("image/svg+xml", false),
        ("image/svg+xml;a=b", false),
        ("Image/SVG+XML ; charset=utf-8", false),
        ("image/xhtml+xml", false),
        ("text/html", false),
        ("application/xhtml+xml", false),
        ("image/png, text/html", false),
    ] {
        let r = upload(
            &host,
            &mut jane,
            &ch,
            &[("file", Some(("f", ctype)), b"<svg onload=alert(1)>")],
        )
        .await;
        assert_eq!(r.status, 200, "{ctype}");
        let url = format!(
            "{}?grant={read}",
            path_of(r.json()["file"]["url"].as_str().unwrap())
        );
        let dl = request(&host, "GET", &url, &[], b"").await;
        assert_eq!(dl.status, 200);
        let disposition = dl.header("content-disposition").unwrap();
        assert_eq!(
            disposition.starts_with("inline"),
            inline,
            "{ctype}: {disposition}"
        );
        assert_eq!(dl.header("x-content-type-options"), Some("nosniff"));
        if !inline {
            assert_eq!(
                dl.header("content-type"),
                Some("application/octet-stream"),
                "{ctype}"
            );
        }
    }
    still_served(&host).await;
}

// --- Item 19: static pages' headers, allowed origins -----------------------------------

#[tokio::test]
async fn static_pages_carry_security_headers() {
    let site = tempfile::tempdir().unwrap();
    std::fs::write(
        site.path().join("index.html"),
        "<!doctype html><title>x</title>",
    )
    .unwrap();
    std::fs::write(site.path().join("app.js"), "console.log(1)").unwrap();
    let dir = site.path().to_owned();
    let server = TestServer::start_with(move |c| c.static_dir = Some(dir)).await;
    let host = server.host();
    for path in ["/", "/app.js", "/some/route"] {
        let r = request(&host, "GET", path, &[], b"").await;
        assert_eq!(r.status, 200, "{path}");
        assert_eq!(
            r.header("x-content-type-options"),
            Some("nosniff"),
            "{path}"
        );
        assert_eq!(r.header("x-frame-options"), Some("DENY"), "{path}");
        assert!(r.header("referrer-policy").is_some(), "{path}");
        let csp = r.header("content-security-policy").unwrap_or_default();
        for part in [
            "default-src 'self'",
            "frame-ancestors 'none'",
            "object-src 'none'",
            "'wasm-unsafe-eval'",
            "blob:",
        ] {
            assert!(csp.contains(part), "{path}: {csp}");
        }
    }
    still_served(&host).await;
}

/// The operator states the pages' policy with `--page-csp` (an app calling other
/// origins, nodes each with a public URL of their own), or sends none with `off`.
#[tokio::test]
async fn the_operator_replaces_or_turns_off_the_page_policy() {
    let site = tempfile::tempdir().unwrap();
    std::fs::write(site.path().join("index.html"), "<!doctype html>").unwrap();
    let own = "default-src 'self'; connect-src 'self' https://api.example";
    for (setting, expected) in [(own, Some(own)), ("off", None)] {
        let dir = site.path().to_owned();
        let server = TestServer::start_with(move |c| {
            c.static_dir = Some(dir);
            c.page_csp = Some(setting.into());
        })
        .await;
        let r = request(&server.host(), "GET", "/", &[], b"").await;
        assert_eq!(r.status, 200);
        assert_eq!(r.header("content-security-policy"), expected, "{setting}");
        assert_eq!(r.header("x-frame-options"), Some("DENY"));
    }
    let dir = tempfile::tempdir().unwrap();
    let db = common::test_database(&dir).await;
    let mut config = chatkitty_server::Config::for_tests(&*db, KEY);
    config.page_csp = Some("a\nb".into());
    let refused = chatkitty_server::spawn(config)
        .await
        .err()
        .map(|e| e.to_string());
    assert!(refused.is_some_and(|e| e.contains("--page-csp")));
}

#[tokio::test]
async fn only_allowed_origins_may_open_websockets_or_make_cors_requests() {
    let server =
        TestServer::start_with(|c| c.allowed_origins = vec!["https://chat.example".into()]).await;
    let host = server.host();
    let upgrade = |origin: Option<&'static str>| {
        let host = host.clone();
        async move {
            let mut req = format!("ws://{host}/rtm/websocket?api-key={KEY}")
                .into_client_request()
                .unwrap();
            req.headers_mut()
                .insert("Sec-WebSocket-Protocol", "v12.stomp".parse().unwrap());
            if let Some(o) = origin {
                req.headers_mut().insert("Origin", o.parse().unwrap());
            }
            match tokio_tungstenite::connect_async(req).await {
                Ok(_) => 101,
                Err(tokio_tungstenite::tungstenite::Error::Http(r)) => r.status().as_u16(),
                Err(e) => panic!("{e}"),
            }
        }
    };
    assert_eq!(upgrade(Some("https://evil.example")).await, 403);
    assert_eq!(upgrade(Some("https://chat.example")).await, 101);
    assert_eq!(
        upgrade(None).await,
        101,
        "non-browser clients send no Origin"
    );
    let preflight = |origin: &'static str| {
        let host = host.clone();
        async move {
            request(
                &host,
                "OPTIONS",
                "/files/v1/user/display_picture",
                &[
                    ("Origin", origin),
                    ("Access-Control-Request-Method", "POST"),
                    ("Access-Control-Request-Headers", "grant,content-type"),
                ],
                b"",
            )
            .await
        }
    };
    let evil = preflight("https://evil.example").await;
    assert!(evil.header("access-control-allow-origin").is_none());
    let good = preflight("https://chat.example").await;
    assert_eq!(
        good.header("access-control-allow-origin"),
        Some("https://chat.example")
    );
    still_served(&host).await;
}

// --- Item 20: the auth callback over a kept-alive connection ---------------------------

/// An app backend that answers every request with `answer` (raw HTTP) and keeps the
/// connection open, as keep-alive servers do.
async fn raw_backend(answer: Vec<u8>) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((mut s, _)) = listener.accept().await else {
                return;
            };
            let answer = answer.clone();
            tokio::spawn(async move {
                let mut buf = vec![0u8; 64 * 1024];
                let _ = s.read(&mut buf).await;
                let _ = s.write_all(&answer).await;
                // Never closes on its own.
                tokio::time::sleep(Duration::from_secs(60)).await;
            });
        }
    });
    addr
}

#[tokio::test]
async fn the_auth_callback_reads_content_length_bytes_from_a_kept_alive_backend() {
    let body = br#"{"allow":true,"displayName":"Kept Alive"}"#;
    let mut answer = format!(
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: keep-alive\r\n\r\n",
        body.len()
    )
    .into_bytes();
    answer.extend_from_slice(body);
    let backend = raw_backend(answer).await;
    let server = TestServer::start_with(|c| {
        c.auth_callback_url = Some(format!("http://{backend}/verify"));
        c.auth_callback_timeout_ms = 2000;
    })
    .await;
    let host = server.host();
    let params = auth_params(&json!({"password": "x"}));
    let (mut c, f) =
        Client::connect_raw(&host, KEY, "jane", &[("StompX-Auth-Params", &params)]).await;
    assert_eq!(f.command, Command::Connected, "{f:?}");
    let me = c.relay("/application/v1/user.relay", &[]).await.unwrap();
    assert_eq!(me["displayName"], "Kept Alive");
    still_served_as(&host, "john", &[("StompX-Auth-Params", &params)]).await;
}

#[tokio::test]
async fn an_oversized_auth_callback_answer_is_refused_without_reading_it_all() {
    let mut answer =
        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 10000000\r\n\r\n{\"allow\":true,\"x\":\""
            .to_vec();
    answer.extend(std::iter::repeat_n(b'a', 200_000));
    let backend = raw_backend(answer).await;
    let server = TestServer::start_with(|c| {
        c.auth_callback_url = Some(format!("http://{backend}/verify"));
        c.auth_callback_max_bytes = 1024;
        // Guests too, so the bystander below can sign in.
        c.guest_sessions = Some(true);
    })
    .await;
    let host = server.host();
    let params = auth_params(&json!({"password": "x"}));
    let (_, f) = Client::connect_raw(&host, KEY, "jane", &[("StompX-Auth-Params", &params)]).await;
    let (name, message) = error_of(&f);
    assert_eq!(name, "AccessDeniedError");
    assert!(!message.contains("in time"), "refused at once: {message}");
    still_served(&host).await;
}
