//! Authorization on every relay, action and topic, tried as a non-member, a
//! non-moderator, a blocked user and another application; and the per-connection
//! limits.

mod common;

use std::time::Duration;

use chatkitty_protocol::{Command, Frame};
use common::*;
use serde_json::{json, Value};

/// Jane owns a PRIVATE channel with a message, a reply, a reaction and a standalone
/// thread; John is a plain member; Eve is not a member.
struct World {
    jane: Client,
    john: Client,
    eve: Client,
    channel: Value,
    message: Value,
    thread: Value,
}

async fn world(host: &str) -> World {
    let mut jane = Client::start(host, "jane").await;
    let mut john = Client::start(host, "john").await;
    let eve = Client::start(host, "eve").await;
    let (_, channel) = jane
        .create_channel(
            json!({"type": "PRIVATE", "name": unique("vault"), "members": [{"username": "john"}]}),
        )
        .await
        .unwrap();
    let message = jane.send_text(&channel, "secret").await.unwrap();
    john.action(
        message["_actions"]["reply"].as_str().unwrap(),
        json!({"type": "TEXT", "body": "ok"}),
    )
    .await
    .unwrap();
    let (_, thread) = jane
        .action(
            channel["_actions"]["createThread"].as_str().unwrap(),
            json!({"name": "plans"}),
        )
        .await
        .unwrap();
    World {
        jane,
        john,
        eve,
        channel,
        message,
        thread,
    }
}

fn all_channel_relays(c: &Value) -> Vec<String> {
    [
        "self",
        "messages",
        "messagesCount",
        "lastReceivedMessage",
        "lastReadMessage",
        "unread",
        "members",
        "threads",
    ]
    .iter()
    .map(|k| c["_relays"][k].as_str().unwrap().to_owned())
    .collect()
}

fn all_message_relays(m: &Value) -> Vec<String> {
    [
        "self",
        "channel",
        "readReceipts",
        "repliesCount",
        "replies",
        "reactions",
    ]
    .iter()
    .map(|k| m["_relays"][k].as_str().unwrap().to_owned())
    .collect()
}

fn all_thread_relays(t: &Value) -> Vec<String> {
    ["channel", "message"]
        .iter()
        .map(|k| t["_relays"][k].as_str().unwrap().to_owned())
        .collect()
}

/// Every action of the channel, message and thread, with a plausible body.
fn all_actions(c: &Value, m: &Value, t: &Value) -> Vec<(String, Value)> {
    let mut out = Vec::new();
    let body = |verb: &str| match verb {
        "message" => json!({"type": "TEXT", "body": "x"}),
        "keystrokes" => json!({"keys": "x"}),
        "mute" => json!({"state": "ON"}),
        "triggerEvent" => json!({"type": "t"}),
        "update" => json!({"properties": {"x": 1}}),
        "createThread" => json!({"name": "n"}),
        "addModerator" | "invite" => json!({"user": {"username": "eve"}}),
        _ => json!({}),
    };
    for verb in [
        "message",
        "keystrokes",
        "read",
        "mute",
        "triggerEvent",
        "update",
        "delete",
        "clearHistory",
        "hide",
        "createThread",
    ] {
        out.push((c["_actions"][verb].as_str().unwrap().to_owned(), body(verb)));
    }
    out.push((
        format!("/application/v1/channels/{}.join", c["id"]),
        json!({}),
    ));
    out.push((
        format!("/application/v1/channels/{}.leave", c["id"]),
        json!({}),
    ));
    out.push((
        format!("/application/v1/channels/{}.invite", c["id"]),
        body("invite"),
    ));
    out.push((
        format!("/application/v1/channels/{}.add_moderator", c["id"]),
        body("addModerator"),
    ));
    for (verb, b) in [
        ("read", json!({})),
        ("reply", json!({"type": "TEXT", "body": "x"})),
        ("deleteForMe", json!({})),
        ("delete", json!({})),
        ("react", json!({"emoji": "+1"})),
        ("edit", json!({"body": "x"})),
        ("removeReaction", json!({"emoji": "+1"})),
    ] {
        out.push((m["_actions"][verb].as_str().unwrap().to_owned(), b));
    }
    for verb in ["message", "keystrokes", "read"] {
        out.push((t["_actions"][verb].as_str().unwrap().to_owned(), body(verb)));
    }
    out
}

fn all_topics(c: &Value, t: &Value) -> Vec<String> {
    let mut out: Vec<String> = [
        "self",
        "messages",
        "keystrokes",
        "typing",
        "participants",
        "readReceipts",
        "reactions",
        "events",
    ]
    .iter()
    .map(|k| c["_topics"][k].as_str().unwrap().to_owned())
    .collect();
    out.extend(
        ["messages", "keystrokes", "typing"]
            .iter()
            .map(|k| t["_topics"][k].as_str().unwrap().to_owned()),
    );
    out
}

#[tokio::test]
async fn a_non_member_is_refused_every_relay_action_and_topic_of_a_private_channel() {
    let server = TestServer::start().await;
    let w = world(&server.host()).await;
    let mut eve = w.eve;
    let mut checked = 0;
    for r in all_channel_relays(&w.channel)
        .iter()
        .chain(&all_message_relays(&w.message))
        .chain(&all_thread_relays(&w.thread))
    {
        let e = eve.relay(r, &[]).await.expect_err(r);
        assert_eq!(e["error"], "NotAChannelMemberError", "relay {r}: {e}");
        checked += 1;
    }
    for (dest, body) in all_actions(&w.channel, &w.message, &w.thread) {
        let e = eve.action(&dest, body).await.expect_err(&dest);
        let ok = matches!(
            e["error"].as_str(),
            Some("NotAChannelMemberError" | "ChannelNotPubliclyJoinableError")
        );
        assert!(ok, "action {dest}: {e}");
        checked += 1;
    }
    for t in all_topics(&w.channel, &w.thread) {
        let e = eve.subscribe(&t).await.expect_err(&t);
        assert_eq!(e["error"], "NotAChannelMemberError", "topic {t}");
        checked += 1;
    }
    let e = eve
        .relay(
            &format!("/application/v1/users/{}/channel_member.relay", w.jane.id()),
            &[("channelId", &w.channel["id"].to_string())],
        )
        .await
        .unwrap_err();
    assert_eq!(e["error"], "NotAChannelMemberError");
    for t in [
        "",
        "/channels",
        "/messages",
        "/notifications",
        "/contacts",
        "/participants",
        "/users",
        "/reactions",
        "/threads",
        "/calls",
    ] {
        let e = eve
            .subscribe(&format!("/topic/v1/users/{}{t}", w.jane.id()))
            .await
            .unwrap_err();
        assert_eq!(e["error"], "ForbiddenError", "user topic {t}");
        checked += 1;
    }
    assert!(checked > 50, "the table covers {checked} destinations");
    // Nothing leaked: the channel is unchanged and still has its one message.
    let mut jane = w.jane;
    let page = jane
        .relay(w.channel["_relays"]["messages"].as_str().unwrap(), &[])
        .await
        .unwrap();
    assert_eq!(page_bodies(&page), ["ok", "secret"]);
}

#[tokio::test]
async fn a_non_moderator_cannot_administer_the_channel_or_touch_others_messages() {
    let server = TestServer::start().await;
    let w = world(&server.host()).await;
    let mut john = w.john;
    let c = &w.channel;
    for (dest, body, want) in [
        (
            c["_actions"]["update"].as_str().unwrap().to_owned(),
            json!({"properties": {"x": 1}}),
            "ForbiddenError",
        ),
        (
            c["_actions"]["delete"].as_str().unwrap().to_owned(),
            json!({}),
            "ForbiddenError",
        ),
        (
            format!("/application/v1/channels/{}.add_moderator", c["id"]),
            json!({"user": {"username": "john"}}),
            "ForbiddenError",
        ),
        (
            w.message["_actions"]["edit"].as_str().unwrap().to_owned(),
            json!({"body": "hijack"}),
            "ForbiddenError",
        ),
        (
            w.message["_actions"]["delete"].as_str().unwrap().to_owned(),
            json!({}),
            "ForbiddenError",
        ),
    ] {
        let e = john.action(&dest, body).await.expect_err(&dest);
        assert_eq!(e["error"], want, "{dest}: {e}");
    }
    // What a member may do works.
    john.send_text(c, "hello").await.unwrap();
    john.action(
        w.message["_actions"]["react"].as_str().unwrap(),
        json!({"emoji": "heart"}),
    )
    .await
    .unwrap();
}

#[tokio::test]
async fn a_blocked_user_cannot_write_to_the_blocker_in_a_direct_channel() {
    let server = TestServer::start().await;
    let mut jane = Client::start(&server.host(), "jane").await;
    let mut john = Client::start(&server.host(), "john").await;
    let dm = jane.direct_with("john").await;
    let (kind, blocked) = john
        .action(
            &format!("/application/v1/users/{}.block", jane.id()),
            json!({}),
        )
        .await
        .unwrap();
    assert_eq!(kind, "user.user.blocked");
    assert_eq!(blocked["name"], "jane");
    for ch in [&dm] {
        let e = jane.send_text(ch, "hi").await.unwrap_err();
        assert_eq!(e["error"], "UserBlockedError");
        let e = john.send_text(ch, "hi").await.unwrap_err();
        assert_eq!(e["error"], "UserBlockedError");
    }
    let e = john
        .action(
            &format!("/application/v1/users/{}.block", john.id()),
            json!({}),
        )
        .await
        .unwrap_err();
    assert_eq!(e["error"], "ValidationError", "no blocking oneself");
}

#[tokio::test]
async fn another_application_sees_none_of_this_applications_resources() {
    let server =
        TestServer::start_with(|c| c.api_keys = vec![KEY.into(), "other-app".into()]).await;
    let w = world(&server.host()).await;
    let mut mallory = Client::start_with_key(&server.host(), "other-app", "mallory").await;
    for r in all_channel_relays(&w.channel)
        .iter()
        .chain(&all_message_relays(&w.message))
        .chain(&all_thread_relays(&w.thread))
    {
        let e = mallory.relay(r, &[]).await.expect_err(r);
        assert_eq!(e["error"], "NotFoundError", "relay {r}: {e}");
    }
    for (dest, body) in all_actions(&w.channel, &w.message, &w.thread) {
        let e = mallory.action(&dest, body).await.expect_err(&dest);
        assert_eq!(e["error"], "NotFoundError", "action {dest}: {e}");
    }
    for t in all_topics(&w.channel, &w.thread) {
        let e = mallory.subscribe(&t).await.expect_err(&t);
        assert_eq!(e["error"], "NotFoundError", "topic {t}");
    }
    let e = mallory
        .relay(&format!("/application/v1/users/{}.relay", w.jane.id()), &[])
        .await
        .unwrap_err();
    assert_eq!(e["error"], "NotFoundError");
    let e = mallory
        .action(
            &format!("/application/v1/users/{}.block", w.jane.id()),
            json!({}),
        )
        .await
        .unwrap_err();
    assert_eq!(e["error"], "NotFoundError");
    let e = mallory
        .subscribe(&format!("/topic/v1/users/{}/messages", w.jane.id()))
        .await
        .unwrap_err();
    assert_eq!(e["error"], "ForbiddenError");
}

#[tokio::test]
async fn sends_over_the_rate_are_refused_then_the_abuser_is_disconnected() {
    let server = TestServer::start_with(|c| {
        c.send_rate = 1;
        c.send_burst = 5;
        c.abuse_limit = 3;
    })
    .await;
    let mut jane = Client::start(&server.host(), "jane").await;
    let ch = jane.direct_with("john").await; // one send
    let dest = ch["_actions"]["keystrokes"].as_str().unwrap().to_owned();
    for _ in 0..4 {
        jane.action(&dest, json!({"keys": "x"})).await.unwrap();
    }
    let e = jane.action(&dest, json!({"keys": "x"})).await.unwrap_err();
    assert_eq!(e["error"], "RateLimitExceededError");
    for _ in 0..3 {
        let f = Frame::new(Command::Send)
            .with_header("destination", dest.as_str())
            .with_body(b"{\"keys\":\"x\"}".to_vec());
        jane.send(&f).await;
    }
    let f = jane
        .wait_for(WAIT, |f| f.command == Command::Error)
        .await
        .expect("ERROR on abuse");
    assert_eq!(body_json(&f)["error"], "RateLimitExceededError");
    assert!(jane.wait_closed().await);
}

#[tokio::test]
async fn relays_over_the_rate_are_refused() {
    let server = TestServer::start_with(|c| {
        c.relay_rate = 1;
        c.relay_burst = 10;
    })
    .await;
    let mut jane = Client::start(&server.host(), "jane").await; // three relays
    let mut refused = 0;
    for _ in 0..10 {
        if let Err(e) = jane.relay("/application/v1/user.relay", &[]).await {
            assert_eq!(e["error"], "RateLimitExceededError");
            refused += 1;
        }
    }
    assert!(refused >= 2, "refused {refused}");
}

#[tokio::test]
async fn a_connection_holds_a_bounded_number_of_subscriptions() {
    let server = TestServer::start_with(|c| c.max_subscriptions = 12).await;
    let mut jane = Client::start(&server.host(), "jane").await; // ten user topics
    let ch = jane.direct_with("john").await;
    jane.subscribe(ch["_topics"]["self"].as_str().unwrap())
        .await
        .unwrap();
    jane.subscribe(ch["_topics"]["messages"].as_str().unwrap())
        .await
        .unwrap();
    let e = jane
        .subscribe(ch["_topics"]["typing"].as_str().unwrap())
        .await
        .unwrap_err();
    assert_eq!(e["error"], "RateLimitExceededError");
}

#[tokio::test]
async fn a_user_has_a_bounded_number_of_connections() {
    let server = TestServer::start_with(|c| c.max_connections_per_user = 2).await;
    let _a = Client::start(&server.host(), "jane").await;
    let _b = Client::start(&server.host(), "jane").await;
    let (_, f) = Client::connect_raw(&server.host(), KEY, "jane", &[]).await;
    assert_eq!(f.command, Command::Error);
    assert_eq!(
        body_json(&f)["error"],
        "RateLimitExceededError",
        "not AccessDenied: the client may retry later"
    );
    let (_, f) = Client::connect_raw(&server.host(), KEY, "john", &[]).await;
    assert_eq!(f.command, Command::Connected, "other users are unaffected");
}

#[tokio::test]
async fn a_consumer_that_stops_reading_is_disconnected_instead_of_growing_memory() {
    let server = TestServer::start_with(|c| {
        c.outbound_queue = 16;
        c.send_rate = 100_000;
        c.send_burst = 100_000;
    })
    .await;
    let mut jane = Client::start(&server.host(), "jane").await;
    let mut john = Client::start(&server.host(), "john").await;
    let ch = jane.direct_with("john").await;
    john.start_chat(&ch).await;
    // John stops reading. Jane floods the channel with large messages.
    let dest = ch["_actions"]["message"].as_str().unwrap().to_owned();
    let body = json!({"type": "TEXT", "body": "x".repeat(9_000)}).to_string();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    let stats = &server.state().hub.stats;
    while stats
        .slow_consumers
        .load(std::sync::atomic::Ordering::Relaxed)
        == 0
        && tokio::time::Instant::now() < deadline
    {
        for _ in 0..50 {
            jane.send(
                &Frame::new(Command::Send)
                    .with_header("destination", dest.as_str())
                    .with_body(body.clone().into_bytes()),
            )
            .await;
        }
        // Drain jane's own echoes so only john falls behind.
        while jane.next_frame(Duration::from_millis(5)).await.is_some() {}
    }
    assert!(
        stats
            .slow_consumers
            .load(std::sync::atomic::Ordering::Relaxed)
            >= 1,
        "john was dropped as a slow consumer"
    );
    drop(john);
}

#[tokio::test]
async fn a_client_sending_many_messages_at_once_gets_every_answer_even_with_a_small_queue() {
    // The answers to a client's own requests must not overflow its queue and get it
    // dropped as a slow consumer: the sends are handled together, their answers paced.
    let server = TestServer::start_with(|c| {
        c.outbound_queue = 16;
        c.send_rate = 100_000;
        c.send_burst = 100_000;
    })
    .await;
    let mut jane = Client::start(&server.host(), "jane").await;
    let (_, ch) = jane
        .create_channel(json!({"type": "PUBLIC", "name": unique("flood")}))
        .await
        .unwrap();
    jane.start_chat(&ch).await;
    let dest = ch["_actions"]["message"].as_str().unwrap().to_owned();
    let mut batch = String::new();
    for i in 0..60 {
        batch.push_str(
            &Frame::new(Command::Send)
                .with_header("destination", dest.as_str())
                .with_header("receipt", format!("flood-{i}"))
                .with_body(
                    json!({"type": "TEXT", "body": format!("m{i} {}", "x".repeat(9_000))})
                        .to_string()
                        .into_bytes(),
                )
                .encode_to_string(),
        );
    }
    jane.send_raw(&batch).await;
    // Not reading for a while: the 60 sends are stored together and their 180
    // answers (result event, copy on the channel topic, RECEIPT) must wait for room
    // rather than overflow the queue of 16.
    tokio::time::sleep(Duration::from_secs(1)).await;
    for i in 0..60 {
        let r = format!("flood-{i}");
        let got = jane
            .wait_for(Duration::from_secs(10), |f| {
                f.command == Command::Receipt && f.header("receipt-id") == Some(r.as_str())
            })
            .await;
        assert!(got.is_some(), "no RECEIPT for send {i}");
    }
    let stats = &server.state().hub.stats;
    assert_eq!(
        stats
            .slow_consumers
            .load(std::sync::atomic::Ordering::Relaxed),
        0
    );
}
