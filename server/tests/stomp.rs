//! The server over a real WebSocket: connect sequence, channels, messages, typing,
//! participants, presence, authorization, malformed input.

mod common;

use std::time::Duration;

use chatkitty_protocol::destination::ERRORS_QUEUE;
use chatkitty_protocol::{Command, Frame};
use common::*;
use serde_json::{json, Value};

const QUIET: Duration = Duration::from_millis(400);

#[tokio::test]
async fn the_websocket_echoes_the_v12_stomp_subprotocol() {
    let server = TestServer::start().await;
    let (_ws, proto) = open_ws(&server.host(), KEY).await;
    assert_eq!(proto.as_deref(), Some("v12.stomp"));
}

/// The next WebSocket message of `ws` that `pick` takes, skipping the others.
async fn next_ws<T>(
    ws: &mut Ws,
    pick: impl Fn(tokio_tungstenite::tungstenite::Message) -> Option<T>,
) -> T {
    use futures_util::StreamExt;
    tokio::time::timeout(WAIT, async {
        loop {
            match ws.next().await {
                Some(Ok(m)) => {
                    if let Some(t) = pick(m) {
                        return t;
                    }
                }
                other => panic!("the connection ended first: {other:?}"),
            }
        }
    })
    .await
    .expect("in time")
}

#[tokio::test]
async fn pings_are_answered_and_a_closing_client_is_answered_with_a_close() {
    use futures_util::SinkExt;
    use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
    use tokio_tungstenite::tungstenite::protocol::CloseFrame;
    use tokio_tungstenite::tungstenite::Message;

    let server = TestServer::start().await;
    let mut jane = Client::start(&server.host(), "jane").await;
    jane.ws
        .send(Message::Ping(b"are you there".to_vec().into()))
        .await
        .unwrap();
    let pong = next_ws(&mut jane.ws, |m| match m {
        Message::Pong(p) => Some(p),
        _ => None,
    })
    .await;
    assert_eq!(&pong[..], b"are you there");
    // The session goes on after the ping.
    let ch = jane.direct_with("john").await;
    jane.send_text(&ch, "still here").await.unwrap();

    jane.ws
        .send(Message::Close(Some(CloseFrame {
            code: CloseCode::Normal,
            reason: "bye".into(),
        })))
        .await
        .unwrap();
    let answer = next_ws(&mut jane.ws, |m| match m {
        Message::Close(c) => Some(c.map(|c| c.code)),
        _ => None,
    })
    .await;
    assert_eq!(answer, Some(CloseCode::Normal));
}

#[tokio::test]
async fn requests_that_are_not_websocket_upgrades_are_refused() {
    use common::http::request;

    let server = TestServer::start().await;
    let host = server.host();
    let path = format!("/rtm/websocket?api-key={KEY}");
    let key = ("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ==");
    let upgrade = [("Upgrade", "websocket"), ("Connection", "Upgrade")];
    let refused: [(&str, &[(&str, &str)]); 3] = [
        ("no upgrade headers", &[]),
        (
            "version 8",
            &[upgrade[0], upgrade[1], key, ("Sec-WebSocket-Version", "8")],
        ),
        (
            "no key",
            &[upgrade[0], upgrade[1], ("Sec-WebSocket-Version", "13")],
        ),
    ];
    for (case, headers) in refused {
        let r = request(&host, "GET", &path, headers, b"").await;
        assert_eq!(r.status, 400, "{case}");
    }
    // The accept key is the one RFC 6455 §1.3 derives from its sample key.
    let mut s = tokio::net::TcpStream::connect(&host).await.unwrap();
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    s.write_all(
        format!(
            "GET {path} HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\nConnection: keep-alive, Upgrade\r\n\
             Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\
             Sec-WebSocket-Protocol: v10.stomp, v12.stomp\r\n\r\n"
        )
        .as_bytes(),
    )
    .await
    .unwrap();
    let mut head = Vec::new();
    while !head.ends_with(b"\r\n\r\n") {
        let mut b = [0u8; 1];
        s.read_exact(&mut b).await.unwrap();
        head.push(b[0]);
    }
    let head = String::from_utf8(head).unwrap().to_ascii_lowercase();
    assert!(head.starts_with("http/1.1 101"), "{head}");
    assert!(
        head.contains("sec-websocket-accept: s3pplmbitxaq9kygzzhzrbk+xoo="),
        "{head}"
    );
    assert!(head.contains("sec-websocket-protocol: v12.stomp"), "{head}");
}

#[tokio::test]
async fn connect_answers_connected_with_version_heartbeat_and_session() {
    let server = TestServer::start().await;
    let (_c, f) = Client::connect_raw(&server.host(), KEY, "jane", &[]).await;
    assert_eq!(f.command, Command::Connected);
    assert_eq!(f.header("version"), Some("1.2"));
    assert_eq!(f.header("heart-beat"), Some("10000,60000"));
    assert!(f.header("session").is_some_and(|s| s.len() > 10));
}

#[tokio::test]
async fn frames_pipelined_behind_connect_in_one_websocket_message_are_answered_after_connected() {
    let server = TestServer::start().await;
    let (ws, _) = open_ws(&server.host(), KEY).await;
    let mut c = Client::from_ws(ws, "jane");
    let mut batch = Frame::new(Command::Connect)
        .with_header("StompX-User", "jane")
        .with_header("accept-version", "1.2")
        .with_header("heart-beat", "0,0")
        .encode_to_string();
    batch.push_str(
        &Frame::new(Command::Subscribe)
            .with_header("id", "user-relay")
            .with_header("destination", "/application/v1/user.relay")
            .encode_to_string(),
    );
    c.send_raw(&batch).await;
    let first = c.next_frame(WAIT).await.expect("CONNECTED");
    assert_eq!(first.command, Command::Connected);
    let answer = c.next_frame(WAIT).await.expect("the relay's answer");
    assert_eq!(answer.header("subscription"), Some("user-relay"));
    assert_eq!(body_json(&answer)["resource"]["name"], "jane");
}

/// Our SDK pipelines the errors queue, then the current-user relay behind CONNECT
/// (docs/protocol.md §4.1): that relay is answered from CONNECT's read of the user; a
/// later one reads the user again, with what another session changed meanwhile.
#[tokio::test]
async fn the_current_user_relay_behind_the_errors_queue_is_the_user_and_later_the_changed_user() {
    let server = TestServer::start().await;
    let (ws, _) = open_ws(&server.host(), KEY).await;
    let mut c = Client::from_ws(ws, "jane");
    let subscribe = |id: &str, dest: &str| {
        Frame::new(Command::Subscribe)
            .with_header("id", id)
            .with_header("destination", dest)
            .encode_to_string()
    };
    let mut batch = Frame::new(Command::Connect)
        .with_header("StompX-User", "jane")
        .with_header("accept-version", "1.2")
        .with_header("heart-beat", "0,0")
        .encode_to_string();
    batch.push_str(&subscribe("errors", ERRORS_QUEUE));
    batch.push_str(&subscribe("me-1", "/application/v1/user.relay"));
    c.send_raw(&batch).await;
    let first = c.next_frame(WAIT).await.expect("CONNECTED");
    assert_eq!(first.command, Command::Connected);
    let me = c
        .wait_for(WAIT, |f| f.header("subscription") == Some("me-1"))
        .await
        .expect("the relay's answer");
    assert_eq!(body_json(&me)["resource"]["name"], "jane");
    assert_eq!(body_json(&me)["resource"]["displayName"], "jane");
    // Another tab renames jane.
    let mut other = Client::start(&server.host(), "jane").await;
    let update = other.user["_actions"]["update"]
        .as_str()
        .unwrap()
        .to_owned();
    other
        .action(&update, json!({"displayName": "Jane D."}))
        .await
        .unwrap();
    let again = c.relay("/application/v1/user.relay", &[]).await.unwrap();
    assert_eq!(again["displayName"], "Jane D.", "{again}");
}

#[tokio::test]
async fn the_start_up_sequence_yields_a_guest_current_user_with_all_links() {
    let server = TestServer::start().await;
    let c = Client::start(&server.host(), "jane").await;
    let u = &c.user;
    assert_eq!(u["name"], "jane");
    assert_eq!(u["displayName"], "jane");
    assert_eq!(u["isGuest"], true);
    assert_eq!(u["presence"]["online"], true);
    assert!(u["displayPictureUrl"]
        .as_str()
        .unwrap()
        .starts_with("http://"));
    for t in [
        "self",
        "channels",
        "messages",
        "notifications",
        "contacts",
        "participants",
        "users",
        "reactions",
        "threads",
        "calls",
    ] {
        assert!(u["_topics"][t].is_string(), "topic {t}");
    }
    for r in [
        "self",
        "channels",
        "joinableChannels",
        "unreadChannels",
        "channelsCount",
        "unreadMessagesCount",
        "contacts",
        "contactsCount",
        "userBlockListItems",
    ] {
        assert!(u["_relays"][r].is_string(), "relay {r}");
    }
    assert!(u["_actions"]["createChannel"].is_string());
    // A second session for the same username is the same user.
    let again = Client::start(&server.host(), "jane").await;
    assert_eq!(again.id(), c.id());
}

#[tokio::test]
async fn an_unknown_api_key_is_refused_with_access_denied() {
    let server = TestServer::start().await;
    let (mut c, f) = Client::connect_raw(&server.host(), "wrong-key", "jane", &[]).await;
    assert_eq!(f.command, Command::Error);
    assert_eq!(body_json(&f)["error"], "AccessDeniedError");
    assert!(c.wait_closed().await);
}

#[tokio::test]
async fn a_missing_username_or_disabled_guests_are_refused() {
    let server = TestServer::start().await;
    let (_, f) = Client::connect_raw(&server.host(), KEY, "", &[]).await;
    assert_eq!(body_json(&f)["error"], "AccessDeniedError");
    let server = TestServer::start_with(|c| c.guest_sessions = Some(false)).await;
    let (_, f) = Client::connect_raw(&server.host(), KEY, "jane", &[]).await;
    let body = body_json(&f);
    assert_eq!(body["error"], "AccessDeniedError");
    assert!(body["message"]
        .as_str()
        .unwrap()
        .contains("Guest sessions are disabled"));
}

#[tokio::test]
async fn a_frame_before_connect_is_an_error() {
    let server = TestServer::start().await;
    let (ws, _) = open_ws(&server.host(), KEY).await;
    let mut c = Client::from_ws(ws, "nobody");
    c.send(
        &Frame::new(Command::Subscribe)
            .with_header("id", "1")
            .with_header("destination", "/x"),
    )
    .await;
    let f = c.next_frame(WAIT).await.unwrap();
    assert_eq!(f.command, Command::Error);
    assert!(c.wait_closed().await);
}

#[tokio::test]
async fn a_direct_channel_is_one_per_member_set_and_recreating_returns_it() {
    let server = TestServer::start().await;
    let mut jane = Client::start(&server.host(), "jane").await;
    let mut john = Client::start(&server.host(), "john").await;
    let (kind, ch) = jane
        .create_channel(json!({"type": "DIRECT", "members": [{"username": "john"}]}))
        .await
        .unwrap();
    assert_eq!(kind, "user.channel.created");
    assert_eq!(ch["type"], "DIRECT");
    assert_eq!(ch["members"].as_array().unwrap().len(), 2);
    assert_eq!(
        ch["displayName"], "john",
        "titled after the other member for jane"
    );
    assert!(ch["_actions"].get("join").is_none() && ch["_actions"].get("leave").is_none());
    let joined = john
        .expect_event(&john.topic("channels"), "user.channel.joined")
        .await;
    assert_eq!(joined["id"], ch["id"]);
    assert_eq!(joined["displayName"], "jane");
    let (kind, again) = jane
        .create_channel(json!({"type": "DIRECT", "members": [{"username": "john"}]}))
        .await
        .unwrap();
    assert_eq!(kind, "user.channel.upserted");
    assert_eq!(again["id"], ch["id"]);
    // From john's side, by id, it is the same channel.
    let (kind, from_john) = john
        .create_channel(json!({"type": "DIRECT", "members": [{"id": jane.id()}]}))
        .await
        .unwrap();
    assert_eq!(kind, "user.channel.upserted");
    assert_eq!(from_john["id"], ch["id"]);
    john.expect_no_event(&john.topic("channels"), "user.channel.joined", QUIET)
        .await;
}

#[tokio::test]
async fn direct_channels_validate_their_members() {
    let server = TestServer::start().await;
    let mut jane = Client::start(&server.host(), "jane").await;
    let e = jane
        .create_channel(json!({"type": "DIRECT", "members": []}))
        .await
        .unwrap_err();
    assert_eq!(e["error"], "ValidationError");
    let e = jane
        .create_channel(json!({"type": "DIRECT", "members": [{"id": 999999}]}))
        .await
        .unwrap_err();
    assert_eq!(e["error"], "NotFoundError");
    let many: Vec<Value> = (0..10)
        .map(|i| json!({"username": format!("m{i}")}))
        .collect();
    let e = jane
        .create_channel(json!({"type": "DIRECT", "members": many}))
        .await
        .unwrap_err();
    assert_eq!(e["error"], "ValidationError");
    let nine: Vec<Value> = (0..9)
        .map(|i| json!({"username": format!("m{i}")}))
        .collect();
    let (_, ch) = jane
        .create_channel(json!({"type": "DIRECT", "members": nine}))
        .await
        .unwrap();
    assert_eq!(ch["members"].as_array().unwrap().len(), 10);
}

#[tokio::test]
async fn group_channels_need_unique_names() {
    let server = TestServer::start().await;
    let mut jane = Client::start(&server.host(), "jane").await;
    let mut john = Client::start(&server.host(), "john").await;
    let name = unique("general");
    let (kind, ch) = jane
        .create_channel(json!({"type": "PUBLIC", "name": name, "properties": {"topic": "x"}}))
        .await
        .unwrap();
    assert_eq!(kind, "user.channel.created");
    assert_eq!(ch["name"], name);
    assert_eq!(ch["properties"]["topic"], "x");
    assert!(ch["_actions"]["leave"].is_string() && ch["_actions"]["addModerator"].is_string());
    assert!(ch["_actions"].get("join").is_none());
    let dup = jane
        .create_channel(json!({"type": "PRIVATE", "name": name}))
        .await
        .unwrap_err();
    assert_eq!(dup["error"], "DuplicateChannelError");
    assert!(dup["message"].as_str().unwrap().contains(&name));
    assert!(dup["timestamp"].as_str().unwrap().ends_with('Z'));
    let e = jane
        .create_channel(json!({"type": "PUBLIC"}))
        .await
        .unwrap_err();
    assert_eq!(e["error"], "ValidationError");
    let e = jane
        .create_channel(json!({"type": "SECRET", "name": "x"}))
        .await
        .unwrap_err();
    assert_eq!(e["error"], "ValidationError");
    // John sees the public channel with a join action; a private one is hidden from him.
    let seen = john
        .relay(&format!("/application/v1/channels/{}.relay", ch["id"]), &[])
        .await
        .unwrap();
    assert!(seen["_actions"]["join"].is_string());
    let (_, private) = jane
        .create_channel(json!({"type": "PRIVATE", "name": unique("secret")}))
        .await
        .unwrap();
    assert!(private["_actions"]["invite"].is_string());
    let e = john
        .relay(
            &format!("/application/v1/channels/{}.relay", private["id"]),
            &[],
        )
        .await
        .unwrap_err();
    assert_eq!(e["error"], "NotAChannelMemberError");
}

#[tokio::test]
async fn a_message_reaches_both_chat_sessions_and_completes_the_send_before_its_receipt() {
    let server = TestServer::start().await;
    let mut jane = Client::start(&server.host(), "jane").await;
    let mut john = Client::start(&server.host(), "john").await;
    let ch = jane.direct_with("john").await;
    jane.start_chat(&ch).await;
    john.start_chat(&ch).await;
    let messages = ch["_topics"]["messages"].as_str().unwrap().to_owned();
    let sent = jane
        .send_text(&ch, "hi john, see https://example.com")
        .await
        .unwrap();
    assert_eq!(sent["type"], "TEXT");
    assert_eq!(sent["body"], "hi john, see https://example.com");
    assert_eq!(sent["user"]["name"], "jane");
    assert!(sent.get("file").is_none(), "text messages omit file");
    assert_eq!(sent["links"][0]["source"], "https://example.com");
    assert_eq!(sent["links"][0]["startPosition"], 13);
    let got = john
        .expect_event(&messages, "channel.message.created")
        .await;
    assert_eq!(got["id"], sent["id"]);
    let own = jane
        .expect_event(&messages, "channel.message.created")
        .await;
    assert_eq!(
        own["id"], sent["id"],
        "the sender's chat session gets its own message"
    );
    jane.expect_no_event(&messages, "channel.message.created", QUIET)
        .await;
}

#[tokio::test]
async fn the_result_event_goes_only_to_the_originating_connection() {
    let server = TestServer::start().await;
    let mut jane = Client::start(&server.host(), "jane").await;
    let mut jane2 = Client::start(&server.host(), "jane").await;
    let ch = jane.direct_with("john").await;
    jane.send_text(&ch, "one").await.unwrap();
    let other = jane2
        .wait_for(QUIET, |f| f.header("receipt-id").is_some())
        .await;
    assert!(
        other.is_none(),
        "receipt-id leaked to another connection: {other:?}"
    );
}

/// A page's `totalElements` stops counting at `MAX_PAGE_TOTAL` (README, "Limits"):
/// counting a whole long history on every page was unbounded work. The page itself,
/// its links and the count a client asks for are unchanged.
#[tokio::test]
async fn a_page_counts_a_long_history_only_up_to_the_limit() {
    use chatkitty_server::store::{NewMessage, MAX_PAGE_TOTAL};
    let server = TestServer::start().await;
    let mut jane = Client::start(&server.host(), "jane").await;
    let ch = jane.direct_with("john").await;
    let cid = ch["id"].as_i64().unwrap();
    let n = MAX_PAGE_TOTAL as usize + 5;
    let bodies: Vec<String> = (0..n).map(|i| format!("m{i}")).collect();
    let rows: Vec<NewMessage> = bodies
        .iter()
        .map(|b| NewMessage::text(cid, Some(jane.id()), b))
        .collect();
    for chunk in rows.chunks(500) {
        server.state().store.insert_messages(chunk).await.unwrap();
    }
    let relay = ch["_relays"]["messages"].as_str().unwrap().to_owned();
    let page = jane.relay(&relay, &[("size", "3")]).await.unwrap();
    assert_eq!(
        page_bodies(&page),
        bodies[n - 3..].iter().rev().cloned().collect::<Vec<_>>()
    );
    assert_eq!(page["page"]["totalElements"], MAX_PAGE_TOTAL);
    assert_eq!(page["page"]["totalPages"], (MAX_PAGE_TOTAL + 2) / 3);
    let next = page["_relays"]["next"].as_str().unwrap().to_owned();
    let older = jane.relay(&next, &[("size", "3")]).await.unwrap();
    assert_eq!(
        page_bodies(&older),
        bodies[n - 6..n - 3]
            .iter()
            .rev()
            .cloned()
            .collect::<Vec<_>>()
    );
    // The count a client asks for still counts every message.
    let count =
        chatkitty_protocol::destination::Relay::ChannelMessagesCount(cid as u64).to_destination();
    let asked = jane.relay(&count, &[]).await.unwrap();
    assert_eq!(asked["count"], n, "the count a client asks for is exact");
}

/// A member who cleared a channel's history reads what came after only, in pages and
/// counts; a reader who is not a member of a PUBLIC channel reads all of it (the
/// channel, its membership and where its history starts are read together).
#[tokio::test]
async fn cleared_history_is_hidden_from_the_member_who_cleared_it_only() {
    let server = TestServer::start().await;
    let mut jane = Client::start(&server.host(), "jane").await;
    let mut john = Client::start(&server.host(), "john").await;
    let mut eve = Client::start(&server.host(), "eve").await;
    let (_, ch) = jane
        .create_channel(json!({"type": "PUBLIC", "name": "lobby",
            "members": [{"username": "john"}]}))
        .await
        .unwrap();
    for body in ["one", "two"] {
        jane.send_text(&ch, body).await.unwrap();
    }
    let clear = ch["_actions"]["clearHistory"].as_str().unwrap().to_owned();
    john.action(&clear, json!({})).await.unwrap();
    jane.send_text(&ch, "three").await.unwrap();
    let relay = ch["_relays"]["messages"].as_str().unwrap().to_owned();
    let count =
        chatkitty_protocol::destination::Relay::ChannelMessagesCount(ch["id"].as_u64().unwrap())
            .to_destination();
    for (who, want) in [
        (&mut john, vec!["three"]),
        (&mut jane, vec!["three", "two", "one"]),
        (&mut eve, vec!["three", "two", "one"]),
    ] {
        let page = who.relay(&relay, &[]).await.unwrap();
        assert_eq!(page_bodies(&page), want);
        assert_eq!(page["page"]["totalElements"], want.len());
        let asked = who.relay(&count, &[]).await.unwrap();
        assert_eq!(asked["count"], want.len());
    }
    // A page after a cursor older than the cleared history starts after the history,
    // and nothing older lies behind it (no `next`); for another member a cursor leaves
    // the older messages behind (the page's lower bound is the greater of the two).
    let all = jane.relay(&relay, &[]).await.unwrap();
    let one = all["_embedded"]["messages"][2]["id"].as_i64().unwrap();
    let from_start = (one - 1).to_string();
    let page = john.relay(&relay, &[("after", &from_start)]).await.unwrap();
    assert_eq!(page_bodies(&page), ["three"]);
    assert!(page["_relays"].get("next").is_none(), "{page}");
    let page = jane
        .relay(&relay, &[("after", &one.to_string())])
        .await
        .unwrap();
    assert_eq!(page_bodies(&page), ["three", "two"]);
    assert!(page["_relays"]["next"].is_string(), "{page}");
}

#[tokio::test]
async fn messages_page_newest_first_and_walk_back_and_forth() {
    let server = TestServer::start().await;
    let mut jane = Client::start(&server.host(), "jane").await;
    let ch = jane.direct_with("john").await;
    for i in 0..7 {
        jane.send_text(&ch, &format!("m{i}")).await.unwrap();
    }
    let relay = ch["_relays"]["messages"].as_str().unwrap().to_owned();
    let p1 = jane.relay(&relay, &[("size", "3")]).await.unwrap();
    assert_eq!(page_bodies(&p1), ["m6", "m5", "m4"]);
    assert!(p1["_relays"].get("prev").is_none());
    assert_eq!(p1["page"]["totalElements"], 7);
    let next = p1["_relays"]["next"].as_str().unwrap().to_owned();
    // The official client re-sends only the original parameter headers.
    let p2 = jane.relay(&next, &[("size", "3")]).await.unwrap();
    assert_eq!(page_bodies(&p2), ["m3", "m2", "m1"]);
    let p3 = jane
        .relay(p2["_relays"]["next"].as_str().unwrap(), &[])
        .await
        .unwrap();
    assert_eq!(page_bodies(&p3), ["m0"]);
    assert!(p3["_relays"].get("next").is_none());
    let back = jane
        .relay(p3["_relays"]["prev"].as_str().unwrap(), &[])
        .await
        .unwrap();
    assert_eq!(page_bodies(&back), ["m3", "m2", "m1"]);
    // Each page links both ways while messages lie that way, whichever way it was
    // reached (the way back is read with the page's total).
    assert!(p2["_relays"]["prev"].is_string(), "{p2}");
    let older = back["_relays"]["next"].as_str().expect("back to m0");
    assert_eq!(page_bodies(&jane.relay(older, &[]).await.unwrap()), ["m0"]);
    assert_eq!(back["page"]["totalElements"], 7);
    let first = jane
        .relay(back["_relays"]["prev"].as_str().unwrap(), &[])
        .await
        .unwrap();
    assert_eq!(page_bodies(&first), ["m6", "m5", "m4"]);
    assert!(first["_relays"].get("prev").is_none());
    assert!(first["_relays"]["next"].is_string(), "{first}");
    // A page after the oldest message's predecessor has nothing older.
    let m0 = p3["_embedded"]["messages"][0]["id"].as_i64().unwrap();
    let all = jane
        .relay(&relay, &[("after", &(m0 - 1).to_string()), ("size", "25")])
        .await
        .unwrap();
    assert_eq!(page_bodies(&all).len(), 7);
    assert!(all["_relays"].get("next").is_none(), "{all}");
    assert!(all["_relays"].get("prev").is_none(), "{all}");
    assert_eq!(all["page"]["totalElements"], 7);
    // Caught up: a page after the newest message, or before the oldest, is empty and
    // links nowhere.
    let m6 = p1["_embedded"]["messages"][0]["id"].as_i64().unwrap();
    for (key, id) in [("after", m6), ("before", m0)] {
        let none = jane.relay(&relay, &[(key, &id.to_string())]).await.unwrap();
        assert!(page_bodies(&none).is_empty(), "{none}");
        assert!(none["_relays"].get("next").is_none(), "{none}");
        assert!(none["_relays"].get("prev").is_none(), "{none}");
        assert_eq!(none["page"]["totalElements"], 7);
    }
    // A message hidden from the reader is not one to go back to: after m0, once jane
    // deleted it for herself, nothing is older.
    let hide = p3["_embedded"]["messages"][0]["_actions"]["deleteForMe"]
        .as_str()
        .unwrap()
        .to_owned();
    jane.action(&hide, json!({})).await.unwrap();
    let rest = jane
        .relay(&relay, &[("after", &m0.to_string()), ("size", "25")])
        .await
        .unwrap();
    assert_eq!(page_bodies(&rest).len(), 6);
    assert!(rest["_relays"].get("next").is_none(), "{rest}");
    assert_eq!(rest["page"]["totalElements"], 6);
    let rest = jane
        .relay(&relay, &[("after", &(m0 + 1).to_string()), ("size", "25")])
        .await
        .unwrap();
    assert_eq!(page_bodies(&rest).len(), 5);
    assert!(rest["_relays"]["next"].is_string(), "m1 is older: {rest}");
    // Bad parameters are a validation error, not a crash.
    let e = jane.relay(&relay, &[("size", "-5")]).await.unwrap_err();
    assert_eq!(e["error"], "ValidationError");
    // "undefined" parameters (docs/protocol.md §16.14) are ignored.
    let p = jane
        .relay(
            &relay,
            &[("mainThread", "undefined"), ("size", "undefined")],
        )
        .await
        .unwrap();
    assert_eq!(page_bodies(&p).len(), 6, "all but the hidden m0");
}

/// A page shows each message's reactions (emoji in the order first used, each with
/// its users) and reply count, read for the whole page together; a deleted reply is not
/// counted.
#[tokio::test]
async fn a_page_shows_each_messages_reactions_and_reply_count() {
    let server = TestServer::start().await;
    let mut jane = Client::start(&server.host(), "jane").await;
    let mut john = Client::start(&server.host(), "john").await;
    let ch = jane.direct_with("john").await;
    let first = jane.send_text(&ch, "first").await.unwrap();
    let second = john.send_text(&ch, "second").await.unwrap();
    jane.send_text(&ch, "third").await.unwrap();
    let act = |m: &Value, name: &str| m["_actions"][name].as_str().unwrap().to_owned();
    john.action(&act(&first, "react"), json!({"emoji": ":heart:"}))
        .await
        .unwrap();
    jane.action(&act(&first, "react"), json!({"emoji": ":+1:"}))
        .await
        .unwrap();
    jane.action(&act(&first, "react"), json!({"emoji": ":heart:"}))
        .await
        .unwrap();
    jane.action(&act(&second, "react"), json!({"emoji": ":+1:"}))
        .await
        .unwrap();
    for body in ["r1", "r2"] {
        john.action(
            &act(&second, "reply"),
            json!({"type": "TEXT", "body": body}),
        )
        .await
        .unwrap();
    }
    let (_, gone) = john
        .action(
            &act(&second, "reply"),
            json!({"type": "TEXT", "body": "r3"}),
        )
        .await
        .unwrap();
    john.action(&act(&gone, "delete"), json!({})).await.unwrap();
    jane.action(&act(&first, "reply"), json!({"type": "TEXT", "body": "r"}))
        .await
        .unwrap();
    let relay = ch["_relays"]["messages"].as_str().unwrap().to_owned();
    let page = john.relay(&relay, &[("mainThread", "true")]).await.unwrap();
    assert_eq!(page_bodies(&page), ["third", "second", "first"]);
    let m = &page["_embedded"]["messages"];
    let summary = |i: usize| -> Vec<(String, Vec<String>, u64)> {
        m[i]["reactions"]
            .as_array()
            .map(|list| {
                list.iter()
                    .map(|r| {
                        let users = r["users"].as_array().unwrap();
                        (
                            r["emoji"]["aliases"][0].as_str().unwrap_or("").to_owned(),
                            users
                                .iter()
                                .map(|u| u["name"].as_str().unwrap().to_owned())
                                .collect(),
                            r["count"].as_u64().unwrap(),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default()
    };
    assert!(summary(0).is_empty(), "{}", m[0]);
    assert_eq!(
        summary(1),
        [("+1".to_owned(), vec!["jane".to_owned()], 1)],
        "{}",
        m[1]
    );
    assert_eq!(
        summary(2),
        [
            (
                "heart".to_owned(),
                vec!["john".to_owned(), "jane".to_owned()],
                2
            ),
            ("+1".to_owned(), vec!["jane".to_owned()], 1)
        ],
        "{}",
        m[2]
    );
    assert_eq!(m[0]["repliesCount"], 0);
    assert_eq!(m[1]["repliesCount"], 2);
    assert_eq!(m[2]["repliesCount"], 1);
}

#[tokio::test]
async fn keystrokes_drive_typing_started_and_stopped_for_the_others_only() {
    let server = TestServer::start().await;
    let mut jane = Client::start(&server.host(), "jane").await;
    let mut john = Client::start(&server.host(), "john").await;
    let ch = jane.direct_with("john").await;
    jane.start_chat(&ch).await;
    john.start_chat(&ch).await;
    let t = |k: &str| ch["_topics"][k].as_str().unwrap().to_owned();
    let keystrokes = ch["_actions"]["keystrokes"].as_str().unwrap().to_owned();
    jane.action(&keystrokes, json!({"keys": "hel"}))
        .await
        .unwrap();
    let k = john
        .expect_event(&t("keystrokes"), "thread.keystrokes.created")
        .await;
    assert_eq!(k["username"], "jane");
    assert_eq!(k["keys"], "hel");
    let started = john
        .expect_event(&t("typing"), "thread.typing.started")
        .await;
    assert_eq!(started["name"], "jane");
    let pstarted = john
        .expect_event(&john.topic("participants"), "participant.typing.started")
        .await;
    assert_eq!(pstarted["name"], "jane");
    jane.expect_no_event(&t("typing"), "thread.typing.started", QUIET)
        .await;
    jane.expect_no_event(
        &t("keystrokes"),
        "thread.keystrokes.created",
        Duration::ZERO,
    )
    .await;
    // More keystrokes while typing: no second "started".
    jane.action(&keystrokes, json!({"keys": "hello"}))
        .await
        .unwrap();
    john.expect_event(&t("keystrokes"), "thread.keystrokes.created")
        .await;
    john.expect_no_event(
        &t("typing"),
        "thread.typing.started",
        Duration::from_millis(200),
    )
    .await;
    // An empty draft stops typing.
    jane.action(&keystrokes, json!({"keys": ""})).await.unwrap();
    john.expect_event(&t("typing"), "thread.typing.stopped")
        .await;
    john.expect_event(&john.topic("participants"), "participant.typing.stopped")
        .await;
    // Sending a message stops typing.
    jane.action(&keystrokes, json!({"keys": "x"}))
        .await
        .unwrap();
    john.expect_event(&t("typing"), "thread.typing.started")
        .await;
    jane.send_text(&ch, "x").await.unwrap();
    john.expect_event(&t("typing"), "thread.typing.stopped")
        .await;
    // Silence stops typing (typing timeout is 600 ms in tests).
    jane.action(&keystrokes, json!({"keys": "y"}))
        .await
        .unwrap();
    john.expect_event(&t("typing"), "thread.typing.started")
        .await;
    let stopped = john
        .try_event(
            &t("typing"),
            "thread.typing.stopped",
            Duration::from_secs(3),
        )
        .await;
    assert!(stopped.is_some(), "typing lapses after the timeout");
}

#[tokio::test]
async fn participants_enter_and_leave_including_when_the_connection_drops() {
    let server = TestServer::start().await;
    let mut jane = Client::start(&server.host(), "jane").await;
    let mut john = Client::start(&server.host(), "john").await;
    let ch = jane.direct_with("john").await;
    jane.start_chat(&ch).await;
    let participants = ch["_topics"]["participants"].as_str().unwrap().to_owned();
    let ids = john.start_chat(&ch).await;
    let entered = jane
        .expect_event(&participants, "channel.participant.active")
        .await;
    assert_eq!(entered["name"], "john");
    john.expect_no_event(&participants, "channel.participant.active", QUIET)
        .await;
    john.end_chat(&ids).await;
    let left = jane
        .expect_event(&participants, "channel.participant.inactive")
        .await;
    assert_eq!(left["name"], "john");
    // A second tab of john: one "entered" for the first, none for the second.
    let mut john2 = Client::start(&server.host(), "john").await;
    john.start_chat(&ch).await;
    jane.expect_event(&participants, "channel.participant.active")
        .await;
    john2.start_chat(&ch).await;
    jane.expect_no_event(&participants, "channel.participant.active", QUIET)
        .await;
    drop(john2);
    jane.expect_no_event(&participants, "channel.participant.inactive", QUIET)
        .await;
    drop(john);
    let left = jane
        .expect_event(&participants, "channel.participant.inactive")
        .await;
    assert_eq!(left["name"], "john");
}

#[tokio::test]
async fn presence_changes_when_the_last_connection_opens_and_closes() {
    let server = TestServer::start().await;
    let mut jane = Client::start(&server.host(), "jane").await;
    let mut john = Client::start(&server.host(), "john").await;
    let ch = jane.direct_with("john").await;
    jane.start_chat(&ch).await;
    let participants = ch["_topics"]["participants"].as_str().unwrap().to_owned();
    john.disconnect().await;
    drop(john);
    let offline = jane
        .expect_event(&jane.topic("contacts"), "contact.presence.changed")
        .await;
    assert_eq!(offline["name"], "john");
    assert_eq!(offline["presence"]["online"], false);
    let p = jane
        .expect_event(&participants, "participant.presence.changed")
        .await;
    assert_eq!(p["presence"]["online"], false);
    let _john = Client::start(&server.host(), "john").await;
    let online = jane
        .expect_event(&jane.topic("contacts"), "contact.presence.changed")
        .await;
    assert_eq!(online["presence"]["online"], true);
    assert_eq!(online["presence"]["status"], "AVAILABLE");
    let mut john_tab2 = Client::start(&server.host(), "john").await;
    jane.expect_no_event(&jane.topic("contacts"), "contact.presence.changed", QUIET)
        .await;
    john_tab2.disconnect().await;
    jane.expect_no_event(&jane.topic("contacts"), "contact.presence.changed", QUIET)
        .await;
}

/// A database kept across a server's restarts, each run of the server restoring
/// presence and chats within 2 s of its start (docs/protocol.md §13.4, "Restarts").
struct Restarts {
    dir: tempfile::TempDir,
    db: common::TestDb,
}

impl Restarts {
    async fn new() -> Restarts {
        let dir = tempfile::tempdir().unwrap();
        let db = test_database(&dir).await;
        Restarts { dir, db }
    }

    /// A run of the server on the database.
    async fn spawn(&self) -> chatkitty_server::Running {
        let mut c = chatkitty_server::config::Config::for_tests(&*self.db, KEY);
        c.files_dir = self.dir.path().join("files");
        c.presence_restore_ms = 2000;
        chatkitty_server::spawn(c).await.unwrap()
    }

    /// Stops `server` once what its clients' presence and chats left behind is
    /// recorded (the records are written in the background).
    async fn stop(server: chatkitty_server::Running) {
        tokio::time::sleep(Duration::from_millis(300)).await;
        server.stop().await;
    }
}

/// Whether the other member of `dm` reads as online to `me`.
async fn other_online(me: &mut Client, dm: &Value) -> bool {
    let members = dm["_relays"]["members"].as_str().unwrap();
    let page = me.relay(members, &[]).await.unwrap();
    let users = page["_embedded"]["users"].as_array().unwrap();
    let other = users.iter().find(|u| u["name"] != me.username).unwrap();
    other["presence"]["online"].as_bool().unwrap()
}

#[tokio::test]
async fn after_a_restart_only_real_presence_changes_are_announced() {
    // docs/protocol.md §13.4, "Restarts": john was online at the stop and comes back
    // (nobody is told), ann was offline and comes (announced), bob never does
    // (announced offline when the window ends).
    let restarts = Restarts::new().await;
    let first = restarts.spawn().await;
    let host = first.host();
    let mut jane = Client::start(&host, "jane").await;
    let john = Client::start(&host, "john").await;
    let bob = Client::start(&host, "bob").await;
    let mut ann = Client::start(&host, "ann").await;
    let mut dms = Vec::new();
    for other in ["john", "bob", "ann"] {
        dms.push(jane.direct_with(other).await);
    }
    ann.disconnect().await;
    drop(ann);
    assert_eq!(jane.expect_contact_presence().await, ("ann".into(), false));
    Restarts::stop(first).await;
    drop((jane, john, bob));

    let second = restarts.spawn().await;
    let host = second.host();
    let mut jane = Client::start(&host, "jane").await;
    let contacts = jane.topic("contacts");
    // Read before they are back: john and bob as they were at the stop (online: john's
    // return will not be announced), ann offline.
    assert!(other_online(&mut jane, &dms[0]).await, "john");
    assert!(other_online(&mut jane, &dms[1]).await, "bob");
    assert!(!other_online(&mut jane, &dms[2]).await, "ann");
    let _john = Client::start(&host, "john").await;
    jane.expect_no_event(&contacts, "contact.presence.changed", QUIET)
        .await;
    let _ann = Client::start(&host, "ann").await;
    assert_eq!(jane.expect_contact_presence().await, ("ann".into(), true));
    assert_eq!(jane.expect_contact_presence().await, ("bob".into(), false));
    jane.expect_no_event(&contacts, "contact.presence.changed", QUIET)
        .await;
    // Announced offline, read offline.
    assert!(
        !other_online(&mut jane, &dms[1]).await,
        "bob after the window"
    );
    assert!(other_online(&mut jane, &dms[0]).await, "john, back");
    second.stop().await;
}

#[tokio::test]
async fn after_a_restart_only_real_chat_changes_are_announced() {
    // docs/protocol.md §13.4, "Restarts", for chat sessions: john was in the chat at
    // the stop and comes back to it (nobody is told), ann was not and comes (announced),
    // bob never does (announced gone when the window ends).
    let restarts = Restarts::new().await;
    let first = restarts.spawn().await;
    let host = first.host();
    let mut jane = Client::start(&host, "jane").await;
    let mut john = Client::start(&host, "john").await;
    let mut bob = Client::start(&host, "bob").await;
    let _ann = Client::start(&host, "ann").await;
    let (_, channel) = jane
        .create_channel(json!({"type": "PRIVATE", "name": unique("room"),
            "members": [{"username": "john"}, {"username": "bob"}, {"username": "ann"}]}))
        .await
        .unwrap();
    for c in [&mut jane, &mut john, &mut bob] {
        c.start_chat(&channel).await;
    }
    Restarts::stop(first).await;
    drop((jane, john, bob));

    let second = restarts.spawn().await;
    let host = second.host();
    let participants = channel["_topics"]["participants"].as_str().unwrap();
    let mut jane = Client::start(&host, "jane").await;
    jane.start_chat(&channel).await;
    let mut john = Client::start(&host, "john").await;
    john.start_chat(&channel).await;
    jane.expect_no_event(participants, "channel.participant.active", QUIET)
        .await;
    let mut ann = Client::start(&host, "ann").await;
    ann.start_chat(&channel).await;
    let who = jane
        .expect_event(participants, "channel.participant.active")
        .await;
    assert_eq!(who["name"], "ann");
    let who = jane
        .expect_event(participants, "channel.participant.inactive")
        .await;
    assert_eq!(who["name"], "bob");
    jane.expect_no_event(participants, "channel.participant.inactive", QUIET)
        .await;
    // Once back, john's chat is an ordinary one: leaving it is announced.
    john.disconnect().await;
    let who = jane
        .expect_event(participants, "channel.participant.inactive")
        .await;
    assert_eq!(who["name"], "john");
    second.stop().await;
}

#[tokio::test]
async fn after_a_restart_a_member_back_is_not_notified_of_the_chat_they_were_in() {
    // docs/protocol.md §13.6 with §13.4, "Restarts": john was in the chat at the stop
    // and is connected again, his chat not back yet — the message he recovers there is
    // not also a notification; ann, connected and not in the chat at the stop, is
    // notified. Once john's chat ended after his return, he is notified again.
    let restarts = Restarts::new().await;
    let first = restarts.spawn().await;
    let host = first.host();
    let mut jane = Client::start(&host, "jane").await;
    let mut john = Client::start(&host, "john").await;
    let _ann = Client::start(&host, "ann").await;
    let (_, channel) = jane
        .create_channel(json!({"type": "PRIVATE", "name": unique("room"),
            "members": [{"username": "john"}, {"username": "ann"}]}))
        .await
        .unwrap();
    john.start_chat(&channel).await;
    Restarts::stop(first).await;
    drop((jane, john));

    let second = restarts.spawn().await;
    let host = second.host();
    let mut jane = Client::start(&host, "jane").await;
    let mut john = Client::start(&host, "john").await;
    let mut ann = Client::start(&host, "ann").await;
    jane.send_text(&channel, "while you were away")
        .await
        .unwrap();
    let n = ann
        .expect_event(&ann.topic("notifications"), "user.notification.created")
        .await;
    assert_eq!(n["data"]["message"]["body"], "while you were away");
    john.expect_no_event(
        &john.topic("notifications"),
        "user.notification.created",
        QUIET,
    )
    .await;
    // Back in the chat and out of it again: an ordinary member without a chat session.
    let ids = john.start_chat(&channel).await;
    john.end_chat(&ids).await;
    // Handled in order: once this is answered, the chat session has ended.
    let me = channel["_relays"]["self"].as_str().unwrap();
    john.relay(me, &[]).await.unwrap();
    jane.send_text(&channel, "and now").await.unwrap();
    let n = john
        .expect_event(&john.topic("notifications"), "user.notification.created")
        .await;
    assert_eq!(n["data"]["message"]["body"], "and now");
    second.stop().await;
}

#[tokio::test]
async fn non_members_cannot_read_subscribe_or_write_direct_and_private_channels() {
    let server = TestServer::start().await;
    let mut jane = Client::start(&server.host(), "jane").await;
    let mut eve = Client::start(&server.host(), "eve").await;
    let dm = jane.direct_with("john").await;
    let (_, private) = jane
        .create_channel(json!({"type": "PRIVATE", "name": unique("p")}))
        .await
        .unwrap();
    for ch in [&dm, &private] {
        let e = eve
            .relay(&format!("/application/v1/channels/{}.relay", ch["id"]), &[])
            .await
            .unwrap_err();
        assert_eq!(e["error"], "NotAChannelMemberError");
        let e = eve
            .relay(ch["_relays"]["messages"].as_str().unwrap(), &[])
            .await
            .unwrap_err();
        assert_eq!(e["error"], "NotAChannelMemberError");
        for t in ["self", "messages", "typing", "participants"] {
            let e = eve
                .subscribe(ch["_topics"][t].as_str().unwrap())
                .await
                .unwrap_err();
            assert_eq!(e["error"], "NotAChannelMemberError", "topic {t}");
        }
        let e = eve.send_text(ch, "let me in").await.unwrap_err();
        assert_eq!(e["error"], "NotAChannelMemberError");
        let e = eve
            .action(
                ch["_actions"]["keystrokes"].as_str().unwrap(),
                json!({"keys": "x"}),
            )
            .await
            .unwrap_err();
        assert_eq!(e["error"], "NotAChannelMemberError");
    }
    // Nor another user's topics.
    let e = eve.subscribe(&jane.topic("messages")).await.unwrap_err();
    assert_eq!(e["error"], "ForbiddenError");
    // A public channel is readable but not writable without joining.
    let (_, public) = jane
        .create_channel(json!({"type": "PUBLIC", "name": unique("pub")}))
        .await
        .unwrap();
    eve.subscribe(public["_topics"]["messages"].as_str().unwrap())
        .await
        .unwrap();
    let e = eve.send_text(&public, "hi").await.unwrap_err();
    assert_eq!(e["error"], "NotAChannelMemberError");
    // Eve's messages never reached jane's channels.
    assert!(jane
        .inbox
        .iter()
        .all(|f| !String::from_utf8_lossy(&f.body).contains("let me in")));
}

#[tokio::test]
async fn another_applications_key_cannot_reach_this_applications_channels() {
    let server =
        TestServer::start_with(|c| c.api_keys = vec![KEY.into(), "other-app".into()]).await;
    let mut jane = Client::start(&server.host(), "jane").await;
    let ch = jane.direct_with("john").await;
    let mut mallory = Client::start_with_key(&server.host(), "other-app", "john").await;
    let john_here = ch["members"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["name"] == "john")
        .unwrap();
    assert_ne!(
        mallory.user["id"], john_here["id"],
        "same name, different application, different user"
    );
    let e = mallory
        .subscribe(ch["_topics"]["messages"].as_str().unwrap())
        .await
        .unwrap_err();
    assert_eq!(e["error"], "NotFoundError");
    let e = mallory
        .send_text(&ch, "hello from elsewhere")
        .await
        .unwrap_err();
    assert_eq!(e["error"], "NotFoundError");
    let e = mallory
        .relay(&format!("/application/v1/users/{}.relay", jane.id()), &[])
        .await
        .unwrap_err();
    assert_eq!(e["error"], "NotFoundError");
    let e = mallory
        .relay(&format!("/application/v1/channels/{}.relay", ch["id"]), &[])
        .await
        .unwrap_err();
    assert_eq!(e["error"], "NotFoundError");
}

#[tokio::test]
async fn malformed_json_and_unknown_destinations_are_errors_and_the_session_goes_on() {
    let server = TestServer::start().await;
    let mut jane = Client::start(&server.host(), "jane").await;
    let ch = jane.direct_with("john").await;
    let dest = ch["_actions"]["message"].as_str().unwrap().to_owned();
    let receipt = "r-bad";
    jane.send(
        &Frame::new(Command::Send)
            .with_header("destination", dest.as_str())
            .with_header("receipt", receipt)
            .with_body(b"{not json".to_vec()),
    )
    .await;
    let err = jane
        .wait_for(WAIT, |f| {
            f.header("receipt-id") == Some(receipt) && f.command == Command::Message
        })
        .await
        .unwrap();
    assert_eq!(body_json(&err)["error"], "ValidationError");
    assert_eq!(err.header("destination"), Some("/user/queue/v1/errors"));
    for body in [
        json!({"type": "TEXT", "body": 42}),
        json!({"type": "TEXT"}),
        json!({"type": "VIDEO"}),
        json!([1, 2]),
    ] {
        let e = jane.action(&dest, body.clone()).await.unwrap_err();
        assert_eq!(e["error"], "ValidationError", "{body}");
    }
    let e = jane
        .action("/application/v1/channels/1.explode", json!({}))
        .await
        .unwrap_err();
    assert_eq!(e["error"], "NotFoundError");
    let e = jane
        .relay("/application/v1/nowhere.relay", &[])
        .await
        .unwrap_err();
    assert_eq!(e["error"], "NotFoundError");
    let e = jane
        .relay("/application/v1/channels/987654.relay", &[])
        .await
        .unwrap_err();
    assert_eq!(e["error"], "NotFoundError");
    // Unknown topics (e.g. "undefined") are acknowledged as no-ops.
    jane.subscribe("undefined").await.unwrap();
    // Too long a message is refused with a clear error.
    let long = "x".repeat(10_001);
    let e = jane.send_text(&ch, &long).await.unwrap_err();
    assert_eq!(e["error"], "PayloadTooLargeError");
    // And the session still works.
    jane.send_text(&ch, "still here").await.unwrap();
}

#[tokio::test]
async fn a_malformed_frame_closes_only_that_connection() {
    let server = TestServer::start().await;
    let mut jane = Client::start(&server.host(), "jane").await;
    let mut john = Client::start(&server.host(), "john").await;
    let ch = john.direct_with("jane").await;
    jane.send_raw("SEND\ndestination:/a\\tb\n\n\0").await;
    let f = jane
        .wait_for(WAIT, |f| f.command == Command::Error)
        .await
        .unwrap();
    assert_eq!(body_json(&f)["error"], "MalformedFrameError");
    assert!(jane.wait_closed().await);
    john.send_text(&ch, "unaffected").await.unwrap();
}

#[tokio::test]
async fn an_oversized_frame_is_refused_with_payload_too_large() {
    let server = TestServer::start_with(|c| c.max_frame_bytes = 4096).await;
    let mut jane = Client::start(&server.host(), "jane").await;
    let big = format!(
        "SEND\ndestination:/application/v1/channels/1.message\ncontent-length:100000\n\n{}\0",
        "x".repeat(100_000)
    );
    jane.send_raw(&big).await;
    let f = jane.wait_for(WAIT, |f| f.command == Command::Error).await;
    if let Some(f) = f {
        assert_eq!(body_json(&f)["error"], "PayloadTooLargeError");
    }
    assert!(
        jane.wait_closed().await,
        "the connection is closed either way"
    );
}

#[tokio::test]
async fn frames_split_across_and_packed_into_websocket_messages_are_decoded() {
    let server = TestServer::start().await;
    let mut jane = Client::start(&server.host(), "jane").await;
    let f1 = Frame::new(Command::Subscribe)
        .with_header("id", "a")
        .with_header("destination", "/application/v1/user.relay");
    let f2 = Frame::new(Command::Subscribe)
        .with_header("id", "b")
        .with_header("destination", "/application/v1/user.relay");
    let mut bytes = f1.encode();
    bytes.extend(f2.encode());
    let (head, tail) = bytes.split_at(10);
    jane.send_binary(head.to_vec()).await;
    jane.send_binary(tail.to_vec()).await;
    for id in ["a", "b"] {
        let f = jane
            .wait_for(WAIT, |f| f.header("subscription") == Some(id))
            .await;
        assert!(f.is_some(), "answer to {id}");
    }
}

#[tokio::test]
async fn relays_leave_no_subscription_behind() {
    let server = TestServer::start().await;
    let mut jane = Client::start(&server.host(), "jane").await;
    let before = server.state().hub.subscription_count();
    for _ in 0..1000 {
        jane.send(
            &Frame::new(Command::Subscribe)
                .with_header("id", unique("sub"))
                .with_header("destination", "/application/v1/user.relay"),
        )
        .await;
    }
    for _ in 0..1000 {
        jane.wait_for(WAIT, |f| {
            f.header("destination") == Some("/application/v1/user.relay")
        })
        .await
        .unwrap();
    }
    assert_eq!(server.state().hub.subscription_count(), before);
}

#[tokio::test]
async fn disconnect_is_answered_with_a_receipt_and_cleans_up_subscriptions() {
    let server = TestServer::start().await;
    let mut jane = Client::start(&server.host(), "jane").await;
    let ch = jane.direct_with("john").await;
    jane.start_chat(&ch).await;
    assert!(server.state().hub.subscription_count() >= 18);
    assert!(jane.disconnect().await);
    assert!(jane.wait_closed().await);
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(server.state().hub.subscription_count(), 0);
}

#[tokio::test]
async fn the_session_id_resumes_the_same_user_on_reconnect() {
    let server = TestServer::start().await;
    let jane = Client::start(&server.host(), "jane").await;
    let session = jane
        .connected
        .as_ref()
        .unwrap()
        .header("session")
        .unwrap()
        .to_owned();
    let (mut again, f) = Client::connect_raw(
        &server.host(),
        KEY,
        "jane",
        &[("StompX-Auth-Session-ID", &session)],
    )
    .await;
    assert_eq!(f.command, Command::Connected);
    let me = again
        .relay("/application/v1/user.relay", &[])
        .await
        .unwrap();
    assert_eq!(me["id"].as_i64(), Some(jane.id()));
    // "undefined" (docs/protocol.md §16.12) falls back to a fresh guest authentication.
    let (_, f) = Client::connect_raw(
        &server.host(),
        KEY,
        "jane",
        &[("StompX-Auth-Session-ID", "undefined")],
    )
    .await;
    assert_eq!(f.command, Command::Connected);
}

#[tokio::test]
async fn shutdown_tells_clients_with_an_error_frame_and_closes() {
    let mut server = TestServer::start().await;
    let mut jane = Client::start(&server.host(), "jane").await;
    server.stop().await;
    let f = jane
        .wait_for(WAIT, |f| f.command == Command::Error)
        .await
        .expect("ERROR before close");
    assert_ne!(
        body_json(&f)["error"],
        "AccessDeniedError",
        "clients must reconnect, not give up"
    );
    assert!(jane.wait_closed().await);
}

#[tokio::test]
async fn errors_before_the_errors_queue_is_subscribed_are_delivered_once_it_is() {
    let server = TestServer::start().await;
    let (mut c, f) = Client::connect_raw(&server.host(), KEY, "jane", &[]).await;
    assert_eq!(f.command, Command::Connected);
    c.send(
        &Frame::new(Command::Subscribe)
            .with_header("id", "early")
            .with_header("destination", "/application/v1/channels/424242.relay"),
    )
    .await;
    assert!(
        c.next_frame(QUIET).await.is_none(),
        "held back until the queue exists"
    );
    c.send(
        &Frame::new(Command::Subscribe)
            .with_header("id", "errs")
            .with_header("destination", "/user/queue/v1/errors"),
    )
    .await;
    let e = c.next_frame(WAIT).await.unwrap();
    assert_eq!(e.header("subscription-id"), Some("early"));
    assert_eq!(e.header("subscription"), Some("errs"));
}

#[tokio::test]
async fn the_tests_run_against_the_store_they_were_asked_for() {
    use chatkitty_server::store::Backend;
    let server = TestServer::start().await;
    let postgres = std::env::var("CHATKITTY_TEST_POSTGRES").is_ok_and(|v| !v.is_empty());
    let want = if postgres {
        Backend::Postgres
    } else {
        Backend::Sqlite
    };
    assert_eq!(server.state().store.backend(), want);
}

/// Each test's PostgreSQL database is dropped once the test lets it go: kept, the 160
/// of a run filled the disk of a small machine (tests/common/mod.rs, `TestDb`).
#[tokio::test]
async fn a_test_database_on_postgres_is_dropped_when_the_test_lets_it_go() {
    use sqlx::Connection;
    let Some(admin) = std::env::var("CHATKITTY_TEST_POSTGRES")
        .ok()
        .filter(|v| !v.is_empty())
    else {
        return; // SQLite: the file goes with the test's directory.
    };
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start().await;
    let db = common::test_database(&dir).await;
    let name = db.rsplit('/').next().unwrap().to_owned();
    let server_db = server.db.rsplit('/').next().unwrap().to_owned();
    let mut conn = sqlx::PgConnection::connect(&admin).await.unwrap();
    let count = |names: Vec<String>| {
        sqlx::query_scalar::<_, i64>("SELECT count(*) FROM pg_database WHERE datname = ANY($1)")
            .bind(names)
    };
    let both = vec![name, server_db];
    assert_eq!(count(both.clone()).fetch_one(&mut conn).await.unwrap(), 2);
    // The server's database, with a client and the server's pool still connected to
    // it, as most tests leave theirs; and a database no one uses.
    let _jane = Client::start(&server.host(), "jane").await;
    drop(server);
    drop(db);
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let left = count(both.clone()).fetch_one(&mut conn).await.unwrap();
        if left == 0 {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{left} of {both:?} still there"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn the_sockjs_info_and_websocket_transport_carry_the_same_stomp_session() {
    use futures_util::{SinkExt, StreamExt};
    use tokio_tungstenite::tungstenite::Message;
    let server = TestServer::start().await;
    let info = common::http::request(
        &server.host(),
        "GET",
        "/rtm/info?api-key=test-key&t=1",
        &[],
        b"",
    )
    .await;
    assert_eq!(info.status, 200);
    assert_eq!(info.json()["websocket"], true);
    let url = format!(
        "ws://{}/rtm/123/abcdefgh/websocket?api-key={KEY}",
        server.host()
    );
    let (mut ws, _) = tokio_tungstenite::connect_async(url).await.unwrap();
    let next = |m: Option<Result<Message, _>>| m.unwrap().unwrap().into_text().unwrap().to_string();
    assert_eq!(next(ws.next().await), "o");
    let connect = Frame::new(Command::Connect)
        .with_header("StompX-User", "jane")
        .with_header("accept-version", "1.2");
    let payload = serde_json::to_string(&[connect.encode_to_string()]).unwrap();
    ws.send(Message::Text(payload.into())).await.unwrap();
    let msg = next(ws.next().await);
    assert!(msg.starts_with("a[\"CONNECTED\\n"), "{msg}");
    let inner: Vec<String> = serde_json::from_str(&msg[1..]).unwrap();
    assert!(inner[0].contains("version:1.2"));
}

/// Frames of jane's until the RECEIPT of `last`, each as (receipt-id, what): "event"
/// (a result event), "error" (on the errors queue) or "RECEIPT".
async fn answers_until(c: &mut Client, last: &str) -> Vec<(String, String, Value)> {
    let mut out = Vec::new();
    loop {
        let f = c.next_frame(WAIT).await.expect("an answer");
        let Some(r) = f.header("receipt-id").map(str::to_owned) else {
            continue;
        };
        let what = if f.command == Command::Receipt {
            "RECEIPT"
        } else if f.header("destination") == Some(ERRORS_QUEUE) {
            "error"
        } else {
            "event"
        };
        let body = if f.body.is_empty() {
            Value::Null
        } else {
            body_json(&f)
        };
        let done = what == "RECEIPT" && r == last;
        out.push((r, what.to_owned(), body));
        if done {
            return out;
        }
    }
}

fn send_frame(dest: &str, receipt: &str, key: Option<&str>, body: &str) -> String {
    let mut f = Frame::new(Command::Send)
        .with_header("destination", dest)
        .with_header("content-type", "application/json;charset=UTF-8")
        .with_header("receipt", receipt)
        .with_body(body.as_bytes().to_vec());
    if let Some(k) = key {
        f.push_header("idempotency-key", k);
    }
    f.encode_to_string()
}

#[tokio::test]
async fn sends_arriving_together_are_answered_in_order_and_each_stored_once() {
    let server = TestServer::start().await;
    let mut jane = Client::start(&server.host(), "jane").await;
    let mut john = Client::start(&server.host(), "john").await;
    let ch = jane.direct_with("john").await;
    john.start_chat(&ch).await;
    let dest = ch["_actions"]["message"].as_str().unwrap().to_owned();
    // Six SENDs and an UNSUBSCRIBE in one WebSocket message: handled together, they
    // must be answered as if one after the other.
    let mut batch = String::new();
    for (receipt, key, body) in [
        ("r0", Some("k0"), r#"{"type":"TEXT","body":"b0"}"#),
        ("r1", None, r#"{"type":"TEXT","body":"b1"}"#),
        ("r2", None, r#"{"type":"TEXT","body":"   "}"#),
        ("r3", None, r#"{"type":"TEXT","#),
        ("r4", Some("k0"), r#"{"type":"TEXT","body":"b0 again"}"#),
        ("r5", Some("k5"), r#"{"type":"TEXT","body":"b5"}"#),
        ("r6", Some("k5"), r#"{"type":"TEXT","body":"b5 again"}"#),
    ] {
        batch.push_str(&send_frame(&dest, receipt, key, body));
    }
    batch.push_str(
        &Frame::new(Command::Unsubscribe)
            .with_header("id", "no-such-subscription")
            .with_header("receipt", "r7")
            .encode_to_string(),
    );
    jane.send_raw(&batch).await;
    let got = answers_until(&mut jane, "r7").await;
    let shape: Vec<(&str, &str)> = got
        .iter()
        .map(|(r, w, _)| (r.as_str(), w.as_str()))
        .collect();
    assert_eq!(
        shape,
        [
            ("r0", "event"),
            ("r0", "RECEIPT"),
            ("r1", "event"),
            ("r1", "RECEIPT"),
            ("r2", "error"),
            ("r2", "RECEIPT"),
            ("r3", "error"),
            ("r3", "RECEIPT"),
            ("r4", "event"),
            ("r4", "RECEIPT"),
            ("r5", "event"),
            ("r5", "RECEIPT"),
            ("r6", "event"),
            ("r6", "RECEIPT"),
            ("r7", "RECEIPT"),
        ]
    );
    let message = |r: &str| {
        got.iter()
            .find(|(x, w, _)| x == r && w == "event")
            .map(|(_, _, b)| b["resource"].clone())
            .unwrap()
    };
    // A repeated idempotency key answers with the message stored the first time,
    // whether it was stored before this batch or earlier in it.
    assert_eq!(message("r4")["id"], message("r0")["id"]);
    assert_eq!(message("r4")["body"], "b0");
    assert_eq!(message("r6")["id"], message("r5")["id"]);
    assert_eq!(message("r6")["body"], "b5");
    assert!(message("r0")["id"].as_i64() < message("r1")["id"].as_i64());
    assert!(message("r1")["id"].as_i64() < message("r5")["id"].as_i64());
    assert_eq!(got[4].2["error"], "ValidationError");
    assert!(got[6].2["message"]
        .as_str()
        .unwrap()
        .contains("not valid JSON"));
    // Stored once each, in order; delivered once each, in order.
    let relay = ch["_relays"]["messages"].as_str().unwrap().to_owned();
    let page = jane.relay(&relay, &[]).await.unwrap();
    assert_eq!(page_bodies(&page), ["b5", "b1", "b0"]);
    let messages = ch["_topics"]["messages"].as_str().unwrap().to_owned();
    for want in ["b0", "b1", "b5"] {
        let m = john
            .expect_event(&messages, "channel.message.created")
            .await;
        assert_eq!(m["body"], want);
    }
    john.expect_no_event(&messages, "channel.message.created", QUIET)
        .await;
    // A retry of a stored message, sent later on its own, is not stored again.
    let again = jane
        .action_with(
            &dest,
            json!({"type": "TEXT", "body": "b5 once more"}),
            &[("idempotency-key", "k5")],
        )
        .await
        .unwrap();
    assert_eq!(again.1["id"], message("r5")["id"]);
}

/// The messages of a batch share one read of the members to notify and one rendering
/// of the channel (not observable here; bench/README.md counts the statements): what
/// is checked is that sharing them changes nothing a member sees — a mention in the
/// middle of the batch notifies its member for that message only, and each
/// notification shows its own message.
#[tokio::test]
async fn each_send_of_a_batch_notifies_its_own_members() {
    let server = TestServer::start().await;
    let mut jane = Client::start(&server.host(), "jane").await;
    let mut john = Client::start(&server.host(), "john").await;
    let mut mary = Client::start(&server.host(), "mary").await;
    let (_, ch) = jane
        .create_channel(json!({"type": "PRIVATE", "name": "trio",
            "members": [{"username": "john"}, {"username": "mary"}]}))
        .await
        .unwrap();
    // John follows the channel in a chat session: notified only when mentioned.
    john.start_chat(&ch).await;
    let dest = ch["_actions"]["message"].as_str().unwrap().to_owned();
    let mut batch = String::new();
    for (receipt, body) in [("r0", "one"), ("r1", "two <@john>"), ("r2", "three")] {
        let body = json!({"type": "TEXT", "body": body}).to_string();
        batch.push_str(&send_frame(&dest, receipt, None, &body));
    }
    jane.send_raw(&batch).await;
    let got = answers_until(&mut jane, "r2").await;
    assert_eq!(got.iter().filter(|(_, w, _)| w == "event").count(), 3);
    let notifications = |c: &Client| c.topic("notifications");
    for want in ["one", "two <@john>", "three"] {
        let n = mary
            .expect_event(&notifications(&mary), "user.notification.created")
            .await;
        assert_eq!(n["data"]["message"]["body"], want);
        assert_eq!(n["data"]["type"], "USER:SENT:MESSAGE");
        // The channel as shown is rendered once per batch, each with its own message.
        assert_eq!(n["channel"]["lastReceivedMessage"]["body"], want);
        assert_eq!(n["channel"]["name"], "trio");
    }
    let n = john
        .expect_event(&notifications(&john), "user.notification.created")
        .await;
    assert_eq!(n["data"]["message"]["body"], "two <@john>");
    assert_eq!(n["data"]["type"], "USER:MENTIONED:USER");
    john.expect_no_event(&notifications(&john), "user.notification.created", QUIET)
        .await;
}

#[tokio::test]
async fn sends_to_different_channels_arriving_together_each_get_their_own_answer() {
    let server = TestServer::start().await;
    let mut jane = Client::start(&server.host(), "jane").await;
    let mut john = Client::start(&server.host(), "john").await;
    let ours = jane.direct_with("john").await;
    let (_, theirs) = john
        .create_channel(json!({"type": "PUBLIC", "name": unique("johns")}))
        .await
        .unwrap();
    let to_ours = ours["_actions"]["message"].as_str().unwrap();
    let to_theirs = theirs["_actions"]["message"].as_str().unwrap();
    let text = r#"{"type":"TEXT","body":"hello"}"#;
    let mut batch = String::new();
    batch.push_str(&send_frame(to_ours, "a0", None, text));
    batch.push_str(&send_frame(to_theirs, "b0", None, text));
    batch.push_str(&send_frame(to_theirs, "b1", None, text));
    batch.push_str(&send_frame(to_ours, "a1", None, text));
    jane.send_raw(&batch).await;
    let got = answers_until(&mut jane, "a1").await;
    let shape: Vec<(&str, &str)> = got
        .iter()
        .map(|(r, w, _)| (r.as_str(), w.as_str()))
        .collect();
    assert_eq!(
        shape,
        [
            ("a0", "event"),
            ("a0", "RECEIPT"),
            ("b0", "error"),
            ("b0", "RECEIPT"),
            ("b1", "error"),
            ("b1", "RECEIPT"),
            ("a1", "event"),
            ("a1", "RECEIPT"),
        ]
    );
    // jane is not a member of john's channel; her own sends around them are stored.
    assert_eq!(got[2].2["error"], "NotAChannelMemberError");
    assert_eq!(got[4].2["error"], "NotAChannelMemberError");
    assert_eq!(got[0].2["resource"]["body"], "hello");
    let id = |i: usize| {
        got[i].2["resource"]["id"]
            .as_i64()
            .expect("a stored message's id")
    };
    assert!(id(6) > id(0));
}

/// Outside URLs are the app's: an external file message and a display picture set by
/// URL are sent as given (only this server's uploads get links from its base URL).
#[tokio::test]
async fn external_files_and_pictures_keep_their_urls() {
    let server = TestServer::start().await;
    let mut jane = Client::start(&server.host(), "jane").await;
    let ch = jane.direct_with("john").await;
    let (_, sent) = jane
        .action(
            ch["_actions"]["message"].as_str().unwrap(),
            json!({"type": "FILE", "file": {"url": "https://cdn.example.com/files/v1/hosted/a/b.png",
                "name": "b.png", "contentType": "image/png", "size": 3}}),
        )
        .await
        .unwrap();
    assert_eq!(
        sent["file"]["url"],
        "https://cdn.example.com/files/v1/hosted/a/b.png"
    );
    assert_eq!(sent["file"]["type"], "EXTERNAL");
    let page = jane
        .relay(ch["_relays"]["messages"].as_str().unwrap(), &[])
        .await
        .unwrap();
    assert_eq!(
        page["_embedded"]["messages"][0]["file"]["url"],
        "https://cdn.example.com/files/v1/hosted/a/b.png"
    );
    let mut me = jane.user.clone();
    me["displayPictureUrl"] = json!("https://pics.example.com/jane.png");
    let update = jane.user["_actions"]["update"].as_str().unwrap().to_owned();
    let (_, updated) = jane.action(&update, me).await.unwrap();
    assert_eq!(
        updated["displayPictureUrl"],
        "https://pics.example.com/jane.png"
    );
}

/// A user's contacts are paged in display-name order, counted, and filtered by
/// presence (`online`), each page read in SQL rather than every user of the
/// application loaded per request.
#[tokio::test]
async fn contacts_are_paged_counted_and_filtered_by_presence() {
    let server = TestServer::start_with(|c| c.presence_grace_ms = 0).await;
    let host = server.host();
    let mut jane = Client::start(&host, "jane").await;
    let _alice = Client::start(&host, "alice").await;
    let _bob = Client::start(&host, "bob").await;
    let mut carol = Client::start(&host, "carol").await;
    let dave = Client::start(&host, "dave").await;
    let contacts = jane.user["_relays"]["contacts"]
        .as_str()
        .unwrap()
        .to_owned();
    let count = jane.user["_relays"]["contactsCount"]
        .as_str()
        .unwrap()
        .to_owned();
    let names = |page: &Value| -> Vec<String> {
        page["_embedded"]["users"]
            .as_array()
            .unwrap_or(&Vec::new())
            .iter()
            .map(|u| u["name"].as_str().unwrap().to_owned())
            .collect()
    };
    let first = jane.relay(&contacts, &[("size", "2")]).await.unwrap();
    assert_eq!(names(&first), ["alice", "bob"], "{first}");
    assert_eq!(first["page"]["totalElements"], 4, "{first}");
    let second = jane
        .relay(&contacts, &[("size", "2"), ("page", "1")])
        .await
        .unwrap();
    assert_eq!(names(&second), ["carol", "dave"], "{second}");
    let n = jane.relay(&count, &[]).await.unwrap();
    assert_eq!(n["count"], 4, "{n}");

    drop(dave);
    // dave goes offline once his connection's end is noticed (no grace period).
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let offline = jane.relay(&contacts, &[("online", "false")]).await.unwrap();
        if names(&offline) == ["dave"] {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "dave never listed offline: {offline}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let online = jane.relay(&contacts, &[("online", "true")]).await.unwrap();
    assert_eq!(names(&online), ["alice", "bob", "carol"], "{online}");
    assert_eq!(online["page"]["totalElements"], 3, "{online}");
    let n = jane.relay(&count, &[("online", "false")]).await.unwrap();
    assert_eq!(n["count"], 1, "{n}");

    // An invisible user is shown offline, and the filter does not give them away.
    let update = carol.user["_actions"]["update"]
        .as_str()
        .unwrap()
        .to_owned();
    carol
        .action(&update, json!({"presence": {"status": "INVISIBLE"}}))
        .await
        .unwrap();
    let online = jane.relay(&contacts, &[("online", "true")]).await.unwrap();
    assert_eq!(names(&online), ["alice", "bob"], "{online}");
    let offline = jane.relay(&contacts, &[("online", "false")]).await.unwrap();
    assert_eq!(names(&offline), ["carol", "dave"], "{offline}");
}

/// A message's reactions relay lists each reaction, oldest first, with its user; its
/// read receipts relay lists the members who read it (not its sender), each with their
/// user.
#[tokio::test]
async fn a_messages_reactions_and_read_receipts_name_their_users() {
    let server = TestServer::start().await;
    let mut jane = Client::start(&server.host(), "jane").await;
    let mut john = Client::start(&server.host(), "john").await;
    let ch = jane.direct_with("john").await;
    let m = jane.send_text(&ch, "hello").await.unwrap();
    let act = |v: &Value, name: &str| v["_actions"][name].as_str().unwrap().to_owned();
    john.action(&act(&m, "react"), json!({"emoji": ":heart:"}))
        .await
        .unwrap();
    jane.action(&act(&m, "react"), json!({"emoji": ":+1:"}))
        .await
        .unwrap();
    john.action(&act(&ch, "read"), json!({})).await.unwrap();
    let reactions = m["_relays"]["reactions"].as_str().unwrap().to_owned();
    let page = jane.relay(&reactions, &[]).await.unwrap();
    let list = page["_embedded"]["reactions"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let who: Vec<(String, String)> = list
        .iter()
        .map(|r| {
            (
                r["emoji"]["aliases"][0].as_str().unwrap_or("").to_owned(),
                r["user"]["name"].as_str().unwrap_or("").to_owned(),
            )
        })
        .collect();
    assert_eq!(
        who,
        [
            ("heart".to_owned(), "john".to_owned()),
            ("+1".into(), "jane".into())
        ],
        "{page}"
    );
    let receipts = m["_relays"]["readReceipts"].as_str().unwrap().to_owned();
    let page = jane.relay(&receipts, &[]).await.unwrap();
    let readers: Vec<&str> = page["_embedded"]["receipts"]
        .as_array()
        .map(|l| {
            l.iter()
                .filter_map(|r| r["user"]["name"].as_str())
                .collect()
        })
        .unwrap_or_default();
    assert_eq!(readers, ["john"], "{page}");
}

/// Sign-ins of new names at the same moment are created together
/// (server/src/store/sign_ups.rs): each name is one user, whichever of its sign-ins
/// came first, and every sign-in sees it. On SQLite, and on PostgreSQL under
/// `scripts/with-postgres.sh`.
#[tokio::test]
async fn new_names_signing_in_at_once_each_become_one_user() {
    let server = TestServer::start().await;
    let host = server.host();
    let clients = futures_util::future::join_all((0..40).map(|i| {
        let host = host.clone();
        async move { Client::start(&host, &format!("together-{}", i % 20)).await }
    }))
    .await;
    let mut ids = std::collections::HashMap::new();
    for c in &clients {
        assert_eq!(c.user["name"], c.username.as_str());
        assert_eq!(c.user["displayName"], c.username.as_str());
        let id = c.user["id"].as_i64().expect("a user id");
        assert_eq!(
            *ids.entry(c.username.clone()).or_insert(id),
            id,
            "{}",
            c.username
        );
    }
    let distinct: std::collections::HashSet<i64> = ids.values().copied().collect();
    assert_eq!(distinct.len(), 20, "one user per name");
}
