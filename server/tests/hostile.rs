//! Hostile input (SECURITY.md): each attack a guest could make on the messaging side
//! of the server, as a test that failed before its fix, and after it a check that the
//! attacker got a clear error (or was paced, or cut off) while others are still served.
//!
//! The process-level checks (memory coming back, a probe answered during an attack)
//! are in `hostile_process.rs`; the HTTP and authentication side in `hostile_http.rs`.

mod common;

use std::time::{Duration, Instant};

use chatkitty_protocol::{Command, Frame};
use common::*;
use serde_json::{json, Value};

fn action<'a>(channel: &'a Value, name: &str) -> &'a str {
    channel["_actions"][name]
        .as_str()
        .unwrap_or_else(|| panic!("action {name} in {channel}"))
}

fn relay<'a>(resource: &'a Value, name: &str) -> &'a str {
    resource["_relays"][name]
        .as_str()
        .unwrap_or_else(|| panic!("relay {name} in {resource}"))
}

/// Joins a public channel as `c` (the join action is in the channel as they see it).
async fn join(c: &mut Client, channel: &Value) {
    let theirs = c.relay(relay(channel, "self"), &[]).await.expect("channel");
    c.action(action(&theirs, "join"), json!({}))
        .await
        .expect("joined");
}

/// Follows a page's `next` links; every page's items under `content`.
async fn all_pages(c: &mut Client, first: &str, content: &str) -> (Vec<Value>, usize) {
    let mut items = Vec::new();
    let mut dest = first.to_owned();
    let mut pages = 0;
    loop {
        let page = c.relay(&dest, &[]).await.expect("page");
        pages += 1;
        items.extend(
            page["_embedded"][content]
                .as_array()
                .cloned()
                .unwrap_or_default(),
        );
        match page["_relays"]["next"].as_str() {
            Some(next) if pages < 100 => dest = next.to_owned(),
            _ => return (items, pages),
        }
    }
}

/// Someone else, on another connection, is served: a session starts and reads.
async fn others_are_served(host: &str) {
    let mut probe = Client::start(host, &unique("probe")).await;
    probe
        .relay(chatkitty_protocol::destination::CURRENT_USER_RELAY, &[])
        .await
        .expect("a bystander is answered");
}

// 1. A `<#channel>` mention stored a copy of the channel with its last message, which
// held that message's own copies: five generations of `<#g><#g><#g><#g>` grew the
// stored mentions from 13 KB to 4.5 MB.
#[tokio::test]
async fn channel_mentions_are_references_and_do_not_nest() {
    let server = TestServer::start().await;
    let host = server.host();
    let mut eve = Client::start(&host, "eve").await;
    let name = unique("g");
    let (_, channel) = eve
        .create_channel(json!({"type": "PUBLIC", "name": name}))
        .await
        .unwrap();
    let body = format!("<#{name}>").repeat(4);
    for _ in 0..6 {
        eve.send_text(&channel, &body).await.unwrap();
    }
    let page = eve.relay(relay(&channel, "messages"), &[]).await.unwrap();
    let text = page.to_string();
    assert!(
        text.len() < 64 * 1024,
        "six messages with four mentions each render in {} bytes",
        text.len()
    );
    let first = &page["_embedded"]["messages"][0];
    let mentions = first["mentions"].as_array().expect("mentions");
    assert_eq!(mentions.len(), 4);
    for m in mentions {
        assert_eq!(m["type"], "CHANNEL");
        assert_eq!(m["channel"]["name"], name.as_str());
        assert!(
            m["channel"].get("lastReceivedMessage").is_none(),
            "a mentioned channel is shown one level deep: {m}"
        );
    }
    // The channel's own last message carries no mentions either.
    let listed = eve.relay(relay(&channel, "self"), &[]).await.unwrap();
    assert!(listed["lastReceivedMessage"].get("mentions").is_none());
    others_are_served(&host).await;
}

// 14. A mention of a PRIVATE channel in a public one showed its last message to
// non-members, and text deleted later survived in the mention's copy.
#[tokio::test]
async fn a_private_channel_mentioned_in_public_shows_nothing_to_non_members() {
    let server = TestServer::start().await;
    let host = server.host();
    let mut jane = Client::start(&host, "jane").await;
    let mut eve = Client::start(&host, "eve").await;
    let vault = unique("vault");
    let (_, private) = jane
        .create_channel(json!({"type": "PRIVATE", "name": vault}))
        .await
        .unwrap();
    let secret = jane
        .send_text(&private, "the launch code is 0000")
        .await
        .unwrap();
    let lobby_name = unique("lobby");
    let (_, lobby) = jane
        .create_channel(json!({"type": "PUBLIC", "name": lobby_name}))
        .await
        .unwrap();
    join(&mut eve, &lobby).await;
    let eve_chat = eve.start_chat(&lobby).await;
    jane.send_text(&lobby, &format!("see <#{vault}> and <@eve>"))
        .await
        .unwrap();
    // Live, to everyone in the public channel: the user mention, not the private one.
    let live = eve
        .expect_event(
            lobby["_topics"]["messages"].as_str().unwrap(),
            "channel.message.created",
        )
        .await;
    assert!(!live.to_string().contains("launch code"), "{live}");
    let kinds: Vec<&str> = live["mentions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["type"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["USER"]);
    // Read back by a non-member: the same.
    let page = eve.relay(relay(&lobby, "messages"), &[]).await.unwrap();
    assert!(!page.to_string().contains("launch code"));
    assert!(!page.to_string().contains(&format!("\"name\":\"{vault}\"")));
    // Read back by a member of the private channel: the mention, one level deep.
    let page = jane.relay(relay(&lobby, "messages"), &[]).await.unwrap();
    let m = &page["_embedded"]["messages"][0]["mentions"];
    assert_eq!(m[0]["type"], "CHANNEL");
    assert_eq!(m[0]["channel"]["name"], vault.as_str());
    assert!(!page.to_string().contains("launch code"));
    // After a delete, the text is nowhere.
    jane.action(action(&secret, "delete"), json!({}))
        .await
        .unwrap();
    let page = jane.relay(relay(&lobby, "messages"), &[]).await.unwrap();
    assert!(!page.to_string().contains("launch code"));
    eve.end_chat(&eve_chat).await;
}

// 4. `page: 9223372036854775807` overflowed `page * size`: in debug builds the
// connection task panicked and leaked its connection count, subscriptions and
// presence; after 20 the user was locked out.
#[tokio::test]
async fn huge_page_numbers_are_refused_and_never_leak_a_connection() {
    let server = TestServer::start().await;
    let host = server.host();
    let subs_before = server.state().hub.subscription_count();
    for _ in 0..25 {
        let mut eve = Client::start(&host, "eve").await;
        for relay in [
            "/application/v1/user/contacts.relay",
            "/application/v1/user/channels.relay",
        ] {
            let e = eve
                .relay(relay, &[("page", "9223372036854775807"), ("size", "100")])
                .await
                .expect_err("refused");
            assert_eq!(e["error"], "ValidationError", "{e}");
        }
        let e = eve
            .relay(
                "/application/v1/user/channels.relay",
                &[("offset", "9223372036854775807")],
            )
            .await
            .expect_err("refused");
        assert_eq!(e["error"], "ValidationError", "{e}");
        // The connection is still good after the refusal.
        eve.relay("/application/v1/user/channels.relay", &[("page", "3")])
            .await
            .unwrap();
        assert!(eve.disconnect().await);
    }
    // The 26th connection of eve is not refused for too many connections.
    let mut eve = Client::start(&host, "eve").await;
    eve.relay("/application/v1/user/contacts.relay", &[])
        .await
        .unwrap();
    drop(eve);
    let deadline = Instant::now() + WAIT;
    while server.state().hub.subscription_count() != subs_before && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(server.state().hub.subscription_count(), subs_before);
}

// A heart-beat of u64::MAX milliseconds overflowed the writer's timer deadline and
// killed the connection's writer: nothing more reached the client.
#[tokio::test]
async fn an_enormous_heart_beat_request_is_clamped() {
    let server = TestServer::start().await;
    let (mut c, first) = Client::connect_raw(
        &server.host(),
        KEY,
        "eve",
        &[("heart-beat", "18446744073709551615,18446744073709551615")],
    )
    .await;
    assert_eq!(first.command, Command::Connected, "{first:?}");
    c.relay(chatkitty_protocol::destination::CURRENT_USER_RELAY, &[])
        .await
        .expect("answered after CONNECTED");
}

// 5. Slow-consumer protection counted frames, not bytes: two stalled subscribers and
// large custom events took the server from 13 MB to 1.8 GB.
#[tokio::test]
async fn a_stalled_subscriber_is_cut_off_by_bytes_not_frames() {
    let server = TestServer::start_with(|c| {
        c.send_rate = 10_000;
        c.send_burst = 10_000;
        c.outbound_queue_bytes = 256 * 1024;
    })
    .await;
    let host = server.host();
    let mut jane = Client::start(&host, "jane").await;
    let name = unique("big");
    let (_, channel) = jane
        .create_channel(json!({"type": "PUBLIC", "name": name}))
        .await
        .unwrap();
    let mut eve = Client::start(&host, "eve").await;
    join(&mut eve, &channel).await;
    eve.start_chat(&channel).await;
    // Eve stops reading. Jane sends 400 events of 15 KB (6 MB; 400 frames, far
    // under the 1,024-frame queue).
    let props = json!({"blob": "x".repeat(15 * 1024)});
    let trigger = action(&channel, "triggerEvent").to_owned();
    for i in 0..400 {
        jane.send(
            &Frame::new(Command::Send)
                .with_header("destination", trigger.clone())
                .with_header("receipt", format!("t-{i}"))
                .with_header("content-type", "application/json")
                .with_body(json!({"type": "blob", "properties": props}).to_string()),
        )
        .await;
    }
    jane.wait_for(Duration::from_secs(30), |f| {
        f.command == Command::Receipt && f.header("receipt-id") == Some("t-399")
    })
    .await
    .expect("jane's events all handled");
    let stats = &server.state().hub.stats;
    let deadline = Instant::now() + WAIT;
    while stats
        .slow_consumers
        .load(std::sync::atomic::Ordering::Relaxed)
        == 0
        && Instant::now() < deadline
    {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(
        stats
            .slow_consumers
            .load(std::sync::atomic::Ordering::Relaxed)
            >= 1,
        "eve is cut off"
    );
    // What was queued for eve is released once her connection is gone.
    let deadline = Instant::now() + Duration::from_secs(10);
    while server.state().total_queued.bytes() > 0 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(server.state().total_queued.bytes(), 0);
    assert!(eve.wait_closed().await, "eve's socket is closed");
    others_are_served(&host).await;
    drop(jane);
}

// 15. A client that writes and never reads was paced, not cut off: once half its
// queue's budget held answers, each further request waited 10 s for room and was then
// queued anyway, the budget never quite full — tens of thousands of pipelined requests
// held the connection (and the requests and answers buffered for it) for hours.
#[tokio::test]
async fn a_client_that_writes_and_never_reads_is_cut_off() {
    let server = TestServer::start_with(|c| {
        c.relay_rate = 1_000_000;
        c.relay_burst = 1_000_000;
        c.outbound_queue_bytes = 64 * 1024;
    })
    .await;
    let host = server.host();
    let mut eve = Client::start(&host, "eve").await;
    // Eve asks for herself 30,000 times, 100 requests per WebSocket message, and reads
    // none of the answers (about 1 KB each: far more than the sockets buffer).
    let writer = tokio::spawn(async move {
        let dest = chatkitty_protocol::destination::CURRENT_USER_RELAY;
        for batch in 0..300 {
            let mut text = String::new();
            for i in 0..100 {
                let f = Frame::new(Command::Subscribe)
                    .with_header("id", format!("me-{batch}-{i}"))
                    .with_header("destination", dest);
                text.push_str(&f.encode_to_string());
            }
            // Her writes block too once the server stops reading; the cut-off ends them.
            if !eve.try_send_raw(&text).await {
                break;
            }
        }
        eve
    });
    let stats = &server.state().hub.stats;
    let deadline = Instant::now() + Duration::from_secs(60);
    while stats
        .slow_consumers
        .load(std::sync::atomic::Ordering::Relaxed)
        == 0
        && Instant::now() < deadline
    {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(
        stats
            .slow_consumers
            .load(std::sync::atomic::Ordering::Relaxed),
        1,
        "eve is cut off"
    );
    let mut eve = tokio::time::timeout(WAIT, writer)
        .await
        .expect("eve's writes end once she is cut off")
        .unwrap();
    assert!(eve.wait_closed().await, "eve's socket is closed");
    let deadline = Instant::now() + Duration::from_secs(10);
    while server.state().total_queued.bytes() > 0 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(server.state().total_queued.bytes(), 0);
    others_are_served(&host).await;
}

// 6. The pre-CONNECT timer restarted on every byte: sockets trickling a partial frame
// were kept forever.
#[tokio::test]
async fn a_connection_must_complete_connect_by_a_deadline_however_it_trickles() {
    let server = TestServer::start_with(|c| c.connect_timeout_ms = 700).await;
    let (ws, _) = open_ws(&server.host(), KEY).await;
    let mut c = Client::from_ws(ws, "slow");
    let started = Instant::now();
    c.send_raw("CONNECT\naccept-version:1.2\n").await;
    let closed = loop {
        // A byte every 100 ms: never 700 ms of silence. The deadline may close the
        // socket between a read and this write: a write refused counts as closed.
        if !c.try_send_raw("x").await {
            break true;
        }
        if let Some(f) = c.next_frame(Duration::from_millis(100)).await {
            assert_eq!(f.command, Command::Error, "{f:?}");
        }
        if c.closed {
            break true;
        }
        if started.elapsed() > Duration::from_secs(8) {
            break false;
        }
    };
    assert!(closed, "closed by the CONNECT deadline");
    assert_eq!(server.state().open_connections(), 0);
}

// 8. Six users with ~900 KB of properties made every page over them exceed the
// connection's write buffer: everyone asking was disconnected (the official client
// retried forever). Properties are bounded now, and a page is cut to the byte budget,
// continuing from its `next` link.
#[tokio::test]
async fn large_properties_are_refused_and_pages_fit_their_byte_budget() {
    let server = TestServer::start_with(|c| {
        // Rows stored before the limit existed: allow them here to fill the pages.
        c.max_properties_bytes = 1 << 20;
    })
    .await;
    let host = server.host();
    let mut jane = Client::start(&host, "jane").await;
    let name = unique("heavy");
    let (_, channel) = jane
        .create_channel(json!({"type": "PUBLIC", "name": name}))
        .await
        .unwrap();
    // Jane leaves before the heavy users arrive: a client that does not read the
    // events about them (900 KB each) would be cut off as a slow consumer.
    assert!(jane.disconnect().await);
    for i in 0..6 {
        let mut u = Client::start(&host, &format!("heavy-{i}")).await;
        // Events about these users carry up to two copies of 900 KB (a
        // notification's message and channel): more than this test client's default.
        u.accept_frames_up_to(8 << 20);
        join(&mut u, &channel).await;
        let update = u.user["_actions"]["update"].as_str().unwrap().to_owned();
        let mut me = u.user.clone();
        me["properties"] = json!({"blob": "y".repeat(900 * 1024)});
        u.action(&update, me).await.unwrap();
        u.send_text(&channel, &format!("hello from {i}"))
            .await
            .unwrap();
        assert!(u.disconnect().await);
    }
    let mut jane = Client::start(&host, "jane").await;
    jane.accept_frames_up_to(8 << 20);
    // Every member is reachable, page by page, and the connection stays up.
    let (members, pages) = all_pages(&mut jane, relay(&channel, "members"), "users").await;
    assert_eq!(members.len(), 7, "jane and the six");
    assert!(
        pages >= 6,
        "six 900 KB users need a 512 KB page each, got {pages}"
    );
    let (messages, pages) = all_pages(&mut jane, relay(&channel, "messages"), "messages").await;
    assert_eq!(messages.len(), 6);
    assert!(pages >= 6, "{pages}");
    let bodies: Vec<&str> = messages
        .iter()
        .map(|m| m["body"].as_str().unwrap())
        .collect();
    assert_eq!(bodies.first(), Some(&"hello from 5"));
    assert_eq!(bodies.last(), Some(&"hello from 0"));
    others_are_served(&host).await;
}

#[tokio::test]
async fn properties_over_the_limit_are_refused_and_not_stored() {
    let server = TestServer::start().await;
    let mut eve = Client::start(&server.host(), "eve").await;
    let update = eve.user["_actions"]["update"].as_str().unwrap().to_owned();
    let mut me = eve.user.clone();
    me["properties"] = json!({"blob": "z".repeat(900 * 1024)});
    let e = eve.action(&update, me).await.unwrap_err();
    assert_eq!(e["error"], "PayloadTooLargeError", "{e}");
    let stored = eve
        .relay(chatkitty_protocol::destination::CURRENT_USER_RELAY, &[])
        .await
        .unwrap();
    assert_eq!(stored["properties"], json!({}));
    let name = unique("props");
    let e = eve
        .create_channel(json!({"type": "PUBLIC", "name": name,
            "properties": {"blob": "z".repeat(17 * 1024)}}))
        .await
        .unwrap_err();
    assert_eq!(e["error"], "PayloadTooLargeError", "{e}");
}

// 9. One createChannel with 20,000 unknown usernames created 20,000 users; a body of
// `<@user>` mentions was stored at 38 times its size.
#[tokio::test]
async fn one_request_names_a_bounded_number_of_users_and_mentions() {
    let server = TestServer::start().await;
    let mut eve = Client::start(&server.host(), "eve").await;
    let members: Vec<Value> = (0..2_000)
        .map(|i| json!({"username": format!("ghost-{i}")}))
        .collect();
    let e = eve
        .create_channel(json!({"type": "PRIVATE", "name": unique("crowd"), "members": members}))
        .await
        .unwrap_err();
    assert_eq!(e["error"], "PayloadTooLargeError", "{e}");
    let store = &server.state().store;
    let app = *server.state().apps.get(KEY).unwrap();
    assert!(store.user_by_name(app, "ghost-0").await.unwrap().is_none());
    assert!(store
        .user_by_name(app, "ghost-1999")
        .await
        .unwrap()
        .is_none());
    let (_, channel) = eve
        .create_channel(json!({"type": "PUBLIC", "name": unique("m")}))
        .await
        .unwrap();
    let body = "<@eve>".repeat(1_500);
    let sent = eve.send_text(&channel, &body).await.unwrap();
    assert_eq!(sent["mentions"].as_array().unwrap().len(), 20);
    let page = eve.relay(relay(&channel, "messages"), &[]).await.unwrap();
    let m = &page["_embedded"]["messages"][0];
    assert_eq!(m["mentions"].as_array().unwrap().len(), 20);
    // A mentioned user is shown without their properties.
    assert_eq!(m["mentions"][0]["user"]["properties"], json!({}));
}

// 10. SUBSCRIBE/UNSUBSCRIBE was not limited: toggling a channel's topic sent ~1,900
// participant events a second to every participant.
#[tokio::test]
async fn toggling_subscriptions_is_paced() {
    let server = TestServer::start_with(|c| {
        c.subscribe_rate = 200;
        c.subscribe_burst = 50;
    })
    .await;
    let host = server.host();
    let mut jane = Client::start(&host, "jane").await;
    let (_, channel) = jane
        .create_channel(json!({"type": "PUBLIC", "name": unique("toggle")}))
        .await
        .unwrap();
    let mut eve = Client::start(&host, "eve").await;
    let topic = channel["_topics"]["self"].as_str().unwrap().to_owned();
    let started = Instant::now();
    for i in 0..200 {
        eve.send(
            &Frame::new(Command::Subscribe)
                .with_header("id", format!("t-{i}"))
                .with_header("destination", topic.clone()),
        )
        .await;
        eve.send(&Frame::new(Command::Unsubscribe).with_header("id", format!("t-{i}")))
            .await;
    }
    eve.send(
        &Frame::new(Command::Unsubscribe)
            .with_header("id", "last")
            .with_header("receipt", "done"),
    )
    .await;
    eve.wait_for(Duration::from_secs(30), |f| {
        f.command == Command::Receipt && f.header("receipt-id") == Some("done")
    })
    .await
    .expect("handled");
    // 401 changes at 200/s after a burst of 50: at least 1.75 s, however fast the
    // machine (a lower bound, so a busy machine cannot make it fail).
    let took = started.elapsed();
    assert!(took >= Duration::from_millis(1_700), "{took:?}");
    others_are_served(&host).await;
}

// 13. Leaving a PRIVATE channel did not end existing subscriptions: the member who
// left kept receiving its messages, edits, typing, reactions and custom events.
#[tokio::test]
async fn leaving_a_private_channel_ends_its_subscriptions_at_once() {
    let server = TestServer::start().await;
    let host = server.host();
    let mut jane = Client::start(&host, "jane").await;
    let mut john = Client::start(&host, "john").await;
    let (_, channel) = jane
        .create_channel(json!({"type": "PRIVATE", "name": unique("club"),
            "members": [{"username": "john"}]}))
        .await
        .unwrap();
    let chat = john.start_chat(&channel).await;
    let topics: Vec<String> = ["messages", "keystrokes", "typing", "events", "reactions"]
        .iter()
        .map(|t| channel["_topics"][t].as_str().unwrap().to_owned())
        .collect();
    let jane_chat = jane.start_chat(&channel).await;
    john.action(action(&channel, "leave"), json!({}))
        .await
        .unwrap();
    // John's chat session ended with the membership: jane sees him leave the chat.
    jane.expect_event(
        channel["_topics"]["participants"].as_str().unwrap(),
        "channel.participant.inactive",
    )
    .await;
    let msg = jane.send_text(&channel, "after john left").await.unwrap();
    jane.action(action(&channel, "keystrokes"), json!({"keys": "typing…"}))
        .await
        .unwrap();
    jane.action(action(&channel, "triggerEvent"), json!({"type": "ping"}))
        .await
        .unwrap();
    jane.action(action(&msg, "react"), json!({"emoji": "+1"}))
        .await
        .unwrap();
    for (topic, kind) in [
        (&topics[0], "channel.message.created"),
        (&topics[1], "thread.keystrokes.created"),
        (&topics[2], "thread.typing.started"),
        (&topics[3], "channel.event.triggered"),
        (&topics[4], "message.reaction.created"),
    ] {
        john.expect_no_event(topic, kind, Duration::from_millis(300))
            .await;
    }
    // Unsubscribing what was already ended is harmless; subscribing again is refused.
    john.end_chat(&chat).await;
    let e = john.subscribe(&topics[0]).await.unwrap_err();
    assert_eq!(e["error"], "NotAChannelMemberError", "{e}");
    assert_eq!(
        server.state().hub.subscription_count(),
        // jane: 10 user topics + 8 chat topics + errors queue is not a hub topic;
        // john: 10 user topics.
        10 + 8 + 10
    );
    jane.end_chat(&jane_chat).await;
}

// A chat session's SUBSCRIBEs to one channel share one membership check; it must not
// outlive the membership: leaving between two of them refuses the second (the reused
// check is compared with the hub's revocation counter; a ban: moderation.rs).
#[tokio::test]
async fn a_membership_check_shared_by_subscriptions_ends_with_the_membership() {
    let server = TestServer::start().await;
    let host = server.host();
    let mut jane = Client::start(&host, "jane").await;
    let mut john = Client::start(&host, "john").await;
    let (_, channel) = jane
        .create_channel(json!({"type": "PRIVATE", "name": unique("club"),
            "members": [{"username": "john"}]}))
        .await
        .unwrap();
    let topic = |t: &str| channel["_topics"][t].as_str().unwrap().to_owned();
    john.subscribe(&topic("messages")).await.unwrap();
    john.action(action(&channel, "leave"), json!({}))
        .await
        .unwrap();
    let e = john.subscribe(&topic("typing")).await.unwrap_err();
    assert_eq!(e["error"], "NotAChannelMemberError", "{e}");
}

// A deleted channel's subscriptions end too (they were granted by its membership).
#[tokio::test]
async fn deleting_a_private_channel_ends_its_members_subscriptions() {
    let server = TestServer::start().await;
    let host = server.host();
    let mut jane = Client::start(&host, "jane").await;
    let mut john = Client::start(&host, "john").await;
    let (_, channel) = jane
        .create_channel(json!({"type": "PRIVATE", "name": unique("gone"),
            "members": [{"username": "john"}]}))
        .await
        .unwrap();
    john.start_chat(&channel).await;
    let before = server.state().hub.subscription_count();
    jane.action(action(&channel, "delete"), json!({}))
        .await
        .unwrap();
    john.expect_event(
        channel["_topics"]["self"].as_str().unwrap(),
        "channel.self.deleted",
    )
    .await;
    assert_eq!(server.state().hub.subscription_count(), before - 8);
}
