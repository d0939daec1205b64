//! Moderation (docs/protocol.md §22): channel bans and mutes by moderators, slow mode,
//! flags and their review queue, bans from the whole application, the blocklist. Each
//! refusal reaches the client as an error in the protocol's shape; each ban or mute is
//! enforced at once.

mod common;

use std::time::Duration;

use chatkitty_protocol::{Command, Frame};
use common::http::{request, Response};
use common::*;
use serde_json::{json, Value};

const SECRET: &str = "s3cret";

async fn moderated_server() -> TestServer {
    TestServer::start_with(|c| c.platform_secrets = vec![format!("{KEY}={SECRET}")]).await
}

/// A Platform API bearer token and the application id.
async fn platform(host: &str) -> (String, i64) {
    let (app, auth) = common::http::platform_auth(host, SECRET).await;
    (auth, app)
}

async fn api(host: &str, auth: &str, method: &str, path: &str, body: Value) -> Response {
    let body = body.to_string();
    request(
        host,
        method,
        path,
        &[
            ("Authorization", auth),
            ("Content-Type", "application/json"),
        ],
        body.as_bytes(),
    )
    .await
}

fn action(channel: &Value, verb: &str) -> String {
    format!("/application/v1/channels/{}.{verb}", channel["id"])
}

async fn join(c: &mut Client, channel: &Value) {
    let theirs = c
        .relay(channel["_relays"]["self"].as_str().unwrap(), &[])
        .await
        .unwrap();
    c.action(theirs["_actions"]["join"].as_str().unwrap(), json!({}))
        .await
        .unwrap();
}

/// jane moderates a public channel john has joined.
async fn arena(host: &str) -> (Client, Client, Value) {
    let mut jane = Client::start(host, "jane").await;
    let mut john = Client::start(host, "john").await;
    let (_, channel) = jane
        .create_channel(json!({"type": "PUBLIC", "name": unique("arena")}))
        .await
        .unwrap();
    join(&mut john, &channel).await;
    (jane, john, channel)
}

#[tokio::test]
async fn a_banned_member_is_removed_cut_off_at_once_and_kept_out_until_unbanned() {
    let server = moderated_server().await;
    let host = server.host();
    let (mut jane, mut john, channel) = arena(&host).await;
    let messages = channel["_topics"]["messages"].as_str().unwrap().to_owned();
    john.start_chat(&channel).await;
    // Only moderators ban.
    let e = john
        .action(
            &action(&channel, "ban"),
            json!({"user": {"username": "jane"}}),
        )
        .await
        .unwrap_err();
    assert_eq!(e["error"], "ForbiddenError", "{e}");

    let subs = server.state().hub.subscription_count();
    jane.action(
        &action(&channel, "ban"),
        json!({"user": {"username": "john"}, "reason": "spam"}),
    )
    .await
    .unwrap();
    john.expect_event(&john.topic("channels"), "user.channel.left")
        .await;
    assert_eq!(
        server.state().hub.subscription_count(),
        subs - 8,
        "his chat session ended"
    );
    jane.send_text(&channel, "after the ban").await.unwrap();
    john.expect_no_event(
        &messages,
        "channel.message.created",
        Duration::from_millis(300),
    )
    .await;
    // Out: no sending, reading, joining or subscribing, even in a public channel.
    let e = john.send_text(&channel, "still here?").await.unwrap_err();
    assert_eq!(e["error"], "BannedError", "{e}");
    let e = john
        .relay(channel["_relays"]["messages"].as_str().unwrap(), &[])
        .await
        .unwrap_err();
    assert_eq!(e["error"], "BannedError", "{e}");
    let e = john
        .action(&action(&channel, "join"), json!({}))
        .await
        .unwrap_err();
    assert_eq!(e["error"], "BannedError", "{e}");
    let e = john.subscribe(&messages).await.unwrap_err();
    assert_eq!(e["error"], "BannedError", "{e}");

    jane.action(
        &action(&channel, "unban"),
        json!({"user": {"username": "john"}}),
    )
    .await
    .unwrap();
    john.action(&action(&channel, "join"), json!({}))
        .await
        .unwrap();
}

// The membership check a chat session's SUBSCRIBEs to one channel share ends with a
// ban between two of them: the second is refused.
#[tokio::test]
async fn a_ban_between_two_subscriptions_refuses_the_second() {
    let server = moderated_server().await;
    let host = server.host();
    let (mut jane, mut john, channel) = arena(&host).await;
    let topic = |t: &str| channel["_topics"][t].as_str().unwrap().to_owned();
    john.subscribe(&topic("messages")).await.unwrap();
    jane.action(
        &action(&channel, "ban"),
        json!({"user": {"username": "john"}}),
    )
    .await
    .unwrap();
    let e = john.subscribe(&topic("typing")).await.unwrap_err();
    assert_eq!(e["error"], "BannedError", "{e}");
}

#[tokio::test]
async fn a_banned_user_cannot_be_invited_back_into_a_private_channel() {
    let server = moderated_server().await;
    let host = server.host();
    let mut jane = Client::start(&host, "jane").await;
    let _john = Client::start(&host, "john").await;
    let (_, channel) = jane
        .create_channel(
            json!({"type": "PRIVATE", "name": unique("club"), "members": [{"username": "john"}]}),
        )
        .await
        .unwrap();
    jane.action(
        &action(&channel, "ban"),
        json!({"user": {"username": "john"}, "durationSeconds": 3600}),
    )
    .await
    .unwrap();
    let e = jane
        .action(
            &action(&channel, "invite"),
            json!({"user": {"username": "john"}}),
        )
        .await
        .unwrap_err();
    assert_eq!(e["error"], "BannedError", "{e}");
}

#[tokio::test]
async fn a_muted_member_reads_but_cannot_post_until_unmuted() {
    let server = moderated_server().await;
    let host = server.host();
    let (mut jane, mut john, channel) = arena(&host).await;
    jane.action(
        &action(&channel, "mute_member"),
        json!({"user": {"username": "john"}}),
    )
    .await
    .unwrap();
    let e = john.send_text(&channel, "can I talk?").await.unwrap_err();
    assert_eq!(e["error"], "MutedError", "{e}");
    // Sends pipelined together (handled as one batch) are refused one by one.
    let dest = channel["_actions"]["message"].as_str().unwrap().to_owned();
    for i in 0..3 {
        john.send(
            &Frame::new(Command::Send)
                .with_header("destination", dest.clone())
                .with_header("receipt", format!("m-{i}"))
                .with_body(json!({"type": "TEXT", "body": format!("try {i}")}).to_string()),
        )
        .await;
    }
    for i in 0..3 {
        let f = john
            .wait_for(WAIT, |f| {
                f.header("receipt-id") == Some(&format!("m-{i}"))
                    && f.header("destination") == Some("/user/queue/v1/errors")
            })
            .await
            .expect("an error for each");
        assert_eq!(body_json(&f)["error"], "MutedError");
    }
    let page = john
        .relay(channel["_relays"]["messages"].as_str().unwrap(), &[])
        .await
        .unwrap();
    assert_eq!(
        page_bodies(&page).len(),
        0,
        "nothing stored, and he can still read"
    );
    jane.action(
        &action(&channel, "unmute_member"),
        json!({"user": {"username": "john"}}),
    )
    .await
    .unwrap();
    john.send_text(&channel, "thanks").await.unwrap();
}

#[tokio::test]
async fn slow_mode_spaces_a_members_messages_but_not_a_moderators() {
    let server = moderated_server().await;
    let host = server.host();
    let (mut jane, mut john, channel) = arena(&host).await;
    jane.action(&action(&channel, "slow_mode"), json!({"seconds": 60}))
        .await
        .unwrap();
    john.send_text(&channel, "one").await.unwrap();
    let e = john.send_text(&channel, "two").await.unwrap_err();
    assert_eq!(e["error"], "SlowModeError", "{e}");
    assert!(e["message"].as_str().unwrap().contains(" s."), "{e}");
    jane.send_text(&channel, "moderators").await.unwrap();
    jane.send_text(&channel, "are exempt").await.unwrap();
    let e = jane
        .action(&action(&channel, "slow_mode"), json!({"seconds": 100000}))
        .await
        .unwrap_err();
    assert_eq!(e["error"], "ValidationError");
    jane.action(&action(&channel, "slow_mode"), json!({"seconds": 0}))
        .await
        .unwrap();
    john.send_text(&channel, "two, now").await.unwrap();
}

/// A flagged message does not keep its channel (or its author's data) from being
/// deleted: its flags go with it.
#[tokio::test]
async fn a_channel_with_flagged_messages_can_be_deleted() {
    let server = moderated_server().await;
    let host = server.host();
    let (mut jane, mut john, channel) = arena(&host).await;
    let bad = john.send_text(&channel, "flag me").await.unwrap();
    jane.action(
        &format!("/application/v1/messages/{}.flag", bad["id"]),
        json!({"reason": "abusive"}),
    )
    .await
    .unwrap();
    jane.action(channel["_actions"]["delete"].as_str().unwrap(), json!({}))
        .await
        .unwrap();
    let (auth, app) = platform(&host).await;
    let queue = api(
        &host,
        &auth,
        "GET",
        &format!("/v1/applications/{app}/flags"),
        Value::Null,
    )
    .await;
    assert_eq!(queue.status, 200);
    let flags = queue.json()["_embedded"]["flags"]
        .as_array()
        .map_or(0, Vec::len);
    assert_eq!(flags, 0, "{:?}", queue.json());
}

#[tokio::test]
async fn flags_reach_the_review_queue_and_a_removal_deletes_the_message() {
    let server = moderated_server().await;
    let host = server.host();
    let (mut jane, mut john, channel) = arena(&host).await;
    let bad = john.send_text(&channel, "something awful").await.unwrap();
    let flag = format!("/application/v1/messages/{}.flag", bad["id"]);
    jane.action(&flag, json!({"reason": "abusive"}))
        .await
        .unwrap();
    jane.action(&flag, json!({"reason": "again"}))
        .await
        .unwrap();
    let (auth, app) = platform(&host).await;
    let queue = api(
        &host,
        &auth,
        "GET",
        &format!("/v1/applications/{app}/flags"),
        Value::Null,
    )
    .await;
    assert_eq!(
        queue.status,
        200,
        "{}",
        String::from_utf8_lossy(&queue.body)
    );
    let flags = queue.json()["_embedded"]["flags"]
        .as_array()
        .unwrap()
        .clone();
    assert_eq!(flags.len(), 1, "one report per reporter");
    assert_eq!(flags[0]["reason"], "abusive");
    assert_eq!(flags[0]["message"]["body"], "something awful");
    let id = flags[0]["id"].as_i64().unwrap();
    let r = api(
        &host,
        &auth,
        "POST",
        &format!("/v1/applications/{app}/flags/{id}/resolve"),
        json!({"action": "REMOVE_MESSAGE"}),
    )
    .await;
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(r.json()["status"], "REMOVED");
    let queue = api(
        &host,
        &auth,
        "GET",
        &format!("/v1/applications/{app}/flags"),
        Value::Null,
    )
    .await;
    assert_eq!(queue.json()["page"]["totalElements"], 0);
    let page = jane
        .relay(channel["_relays"]["messages"].as_str().unwrap(), &[])
        .await
        .unwrap();
    assert_eq!(
        page["_embedded"]["messages"][0]["body"], "",
        "deleted for everyone"
    );
}

#[tokio::test]
async fn an_application_ban_ends_live_sessions_and_keeps_the_user_out_until_lifted() {
    let server = moderated_server().await;
    let host = server.host();
    let mut john = Client::start(&host, "john").await;
    let (auth, app) = platform(&host).await;
    let path = format!("/v1/applications/{app}/users/{}/ban", john.id());
    let r = api(&host, &auth, "POST", &path, json!({"reason": "spam"})).await;
    assert_eq!(r.status, 204, "{}", String::from_utf8_lossy(&r.body));
    let f = john
        .wait_for(WAIT, |f| f.command == Command::Error)
        .await
        .expect("an ERROR");
    assert_eq!(body_json(&f)["error"], "AccessDeniedError");
    assert!(john.wait_closed().await);
    let (_, f) = Client::connect_raw(&host, KEY, "john", &[]).await;
    assert_eq!(f.command, Command::Error);
    let body = body_json(&f);
    assert_eq!(body["error"], "AccessDeniedError");
    assert!(body["message"].as_str().unwrap().contains("spam"), "{body}");
    let r = api(&host, &auth, "DELETE", &path, Value::Null).await;
    assert_eq!(r.status, 204);
    let (_, f) = Client::connect_raw(&host, KEY, "john", &[]).await;
    assert_eq!(f.command, Command::Connected);
    // Another user was never touched.
    Client::start(&host, "jane").await;
}

/// A returning session reads its user and its ban together (one query). A ban through
/// the API also revokes the user's sessions; this one is stored alone, as between those
/// two writes, so the session id still resumes but for the ban: the ban must refuse it,
/// and stop refusing once it is over.
#[tokio::test]
async fn an_application_ban_refuses_a_resumed_session_until_it_is_over() {
    let server = moderated_server().await;
    let host = server.host();
    let session_of = |c: &Client| {
        c.connected
            .as_ref()
            .and_then(|f| f.header("session"))
            .expect("a session id")
            .to_owned()
    };
    let john = Client::start(&host, "john").await;
    let jane = Client::start(&host, "jane").await;
    let (john_session, jane_session) = (session_of(&john), session_of(&jane));
    let (_, app) = platform(&host).await;
    let store = &server.state().store;
    let until = chatkitty_server::clock::now_ms() + 1_000;
    store
        .ban_from_app(app, john.id(), "flood", Some(until))
        .await
        .unwrap();
    let (_, f) = Client::connect_raw(
        &host,
        KEY,
        "john",
        &[("StompX-Auth-Session-ID", &john_session)],
    )
    .await;
    assert_eq!(f.command, Command::Error, "{f:?}");
    let body = body_json(&f);
    assert_eq!(body["error"], "AccessDeniedError");
    assert!(
        body["message"].as_str().unwrap().contains("flood"),
        "{body}"
    );
    // Someone else's resumed session is not refused by john's ban.
    let (_, f) = Client::connect_raw(
        &host,
        KEY,
        "jane",
        &[("StompX-Auth-Session-ID", &jane_session)],
    )
    .await;
    assert_eq!(f.command, Command::Connected, "{f:?}");
    // Over when it expires: the same session id resumes again, as the same user.
    tokio::time::sleep(Duration::from_millis(1_100)).await;
    let (mut again, f) = Client::connect_raw(
        &host,
        KEY,
        "john",
        &[("StompX-Auth-Session-ID", &john_session)],
    )
    .await;
    assert_eq!(f.command, Command::Connected, "{f:?}");
    let me = again
        .relay("/application/v1/user.relay", &[])
        .await
        .expect("the current user");
    assert_eq!(me["id"], john.id());
}

#[tokio::test]
async fn the_blocklist_refuses_or_masks_words_in_new_and_edited_messages() {
    let server = moderated_server().await;
    let host = server.host();
    let (auth, app) = platform(&host).await;
    let list = format!("/v1/applications/{app}/blocklist");
    for (pattern, regex, act) in [
        ("spam", false, "BLOCK"),
        ("darn", false, "MASK"),
        (r"\d{3}-\d{4}", true, "MASK"),
    ] {
        let r = api(
            &host,
            &auth,
            "POST",
            &list,
            json!({"pattern": pattern, "regex": regex, "action": act}),
        )
        .await;
        assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
    }
    let bad = api(
        &host,
        &auth,
        "POST",
        &list,
        json!({"pattern": "(", "regex": true}),
    )
    .await;
    assert_eq!(bad.status, 400);
    let (mut jane, _, channel) = arena(&host).await;
    let e = jane
        .send_text(&channel, "buy SPAM today")
        .await
        .unwrap_err();
    assert_eq!(e["error"], "MessageBlockedError", "{e}");
    let m = jane
        .send_text(&channel, "darn, call 555-1234")
        .await
        .unwrap();
    assert_eq!(m["body"], "****, call ********");
    let e = jane
        .action(
            &format!("/application/v1/messages/{}.edit", m["id"]),
            json!({"body": "spam"}),
        )
        .await
        .unwrap_err();
    assert_eq!(e["error"], "MessageBlockedError", "{e}");
    // Removing an entry applies at once on this node.
    let entries = api(&host, &auth, "GET", &list, Value::Null).await.json();
    let spam = entries["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["pattern"] == "spam")
        .unwrap()["id"]
        .clone();
    let r = api(
        &host,
        &auth,
        "DELETE",
        &format!("{list}/{spam}"),
        Value::Null,
    )
    .await;
    assert_eq!(r.status, 204);
    jane.send_text(&channel, "spam is fine now").await.unwrap();
}
