//! Several nodes on one PostgreSQL database linked by Redis: events, presence and chat
//! participation span the nodes, and a node that dies has its users announced offline.
//! Needs both services: `scripts/with-postgres.sh scripts/with-redis.sh cargo test -p
//! chatkitty-server --test cluster -- --ignored` (the test command runs it so).

mod common;

use std::time::Duration;

use chatkitty_server::Config;
use common::*;
use serde_json::json;

fn redis_url() -> String {
    std::env::var("CHATKITTY_TEST_REDIS").expect("CHATKITTY_TEST_REDIS (scripts/with-redis.sh)")
}

async fn node(
    db: &str,
    dir: &tempfile::TempDir,
    tweak: impl FnOnce(&mut Config),
) -> chatkitty_server::Running {
    assert!(
        db.starts_with("postgres://"),
        "cluster tests need PostgreSQL (scripts/with-postgres.sh)"
    );
    let mut c = Config::for_tests(db.to_owned(), KEY);
    c.files_dir = dir.path().join("files");
    c.redis_url = Some(redis_url());
    // Tests run in parallel on one Redis: each test's nodes form their own cluster.
    c.redis_prefix = db.rsplit('/').next().unwrap_or("ck").to_owned();
    c.node_ttl_ms = 1500;
    c.typing_timeout_ms = 600;
    tweak(&mut c);
    chatkitty_server::spawn(c).await.expect("node starts")
}

/// Nodes A and B on one fresh database; jane connected to A, john to B. The first
/// part is to be kept while the nodes run: it holds their database.
async fn two_nodes() -> (
    (tempfile::TempDir, common::TestDb),
    chatkitty_server::Running,
    chatkitty_server::Running,
    Client,
    Client,
) {
    let dir = tempfile::tempdir().unwrap();
    let db = test_database(&dir).await;
    let a = node(&db, &dir, |_| {}).await;
    let b = node(&db, &dir, |_| {}).await;
    let jane = Client::start(&a.host(), "jane").await;
    let john = Client::start(&b.host(), "john").await;
    ((dir, db), a, b, jane, john)
}

#[tokio::test]
#[ignore = "needs PostgreSQL and Redis: scripts/with-postgres.sh scripts/with-redis.sh"]
async fn two_nodes_share_channels_messages_typing_participants_and_presence() {
    let (_dir, a, b, mut jane, mut john) = two_nodes().await;

    let ch = jane.direct_with("john").await;
    let joined = john
        .expect_event(&john.topic("channels"), "user.channel.joined")
        .await;
    assert_eq!(joined["id"], ch["id"], "joined event crossed nodes");
    jane.start_chat(&ch).await;
    let participants = ch["_topics"]["participants"].as_str().unwrap().to_owned();
    let ids = john.start_chat(&ch).await;
    assert_eq!(
        jane.expect_event(&participants, "channel.participant.active")
            .await["name"],
        "john"
    );

    let sent = john.send_text(&ch, "hello from node B").await.unwrap();
    let got = jane
        .expect_event(
            ch["_topics"]["messages"].as_str().unwrap(),
            "channel.message.created",
        )
        .await;
    assert_eq!(got["id"], sent["id"]);

    john.action(
        ch["_actions"]["keystrokes"].as_str().unwrap(),
        json!({"keys": "typing…"}),
    )
    .await
    .unwrap();
    assert_eq!(
        jane.expect_event(
            ch["_topics"]["typing"].as_str().unwrap(),
            "thread.typing.started"
        )
        .await["name"],
        "john"
    );
    // Typing on B, message sent through A by another tab of john: typing stops on B too.
    let mut john_on_a = Client::start(&a.host(), "john").await;
    john_on_a.send_text(&ch, "sent via node A").await.unwrap();
    jane.expect_event(
        ch["_topics"]["typing"].as_str().unwrap(),
        "thread.typing.stopped",
    )
    .await;

    // Rendered presence: jane (on A) sees john (on B) online.
    let seen = jane
        .relay(&format!("/application/v1/users/{}.relay", john.id()), &[])
        .await
        .unwrap();
    assert_eq!(seen["presence"]["online"], true);

    // John has tabs on both nodes: closing one changes nothing; closing both: offline.
    jane.expect_no_event(
        &jane.topic("contacts"),
        "contact.presence.changed",
        Duration::from_millis(300),
    )
    .await;
    drop(john_on_a);
    jane.expect_no_event(
        &jane.topic("contacts"),
        "contact.presence.changed",
        Duration::from_millis(800),
    )
    .await;
    john.end_chat(&ids).await;
    assert_eq!(
        jane.expect_event(&participants, "channel.participant.inactive")
            .await["name"],
        "john"
    );
    drop(john);
    let off = jane
        .expect_event(&jane.topic("contacts"), "contact.presence.changed")
        .await;
    assert_eq!(
        (off["name"].as_str(), off["presence"]["online"].as_bool()),
        (Some("john"), Some(false))
    );
    let seen = jane
        .relay(&format!("/application/v1/users/{}.relay", off["id"]), &[])
        .await
        .unwrap();
    assert_eq!(seen["presence"]["online"], false);
    a.stop().await;
    b.stop().await;
}

#[tokio::test]
#[ignore = "needs PostgreSQL and Redis: scripts/with-postgres.sh scripts/with-redis.sh"]
async fn a_retried_send_whose_node_died_before_publishing_reaches_the_other_nodes() {
    let (_dir, a, b, mut jane, mut john) = two_nodes().await;
    let ch = jane.direct_with("john").await;
    john.start_chat(&ch).await;
    let messages = ch["_topics"]["messages"].as_str().unwrap().to_owned();
    let action = ch["_actions"]["message"].as_str().unwrap().to_owned();

    // What a node leaves behind when it dies after its commit and before its PUBLISH:
    // the message stored under jane's idempotency key, told to nobody.
    let stored = a
        .state
        .store
        .insert_message(&chatkitty_server::store::NewMessage {
            idempotency_key: Some("key-1"),
            ..chatkitty_server::store::NewMessage::text(
                ch["id"].as_i64().unwrap(),
                Some(jane.id()),
                "committed, then the node died",
            )
        })
        .await
        .unwrap()
        .0;
    john.expect_no_event(
        &messages,
        "channel.message.created",
        Duration::from_millis(300),
    )
    .await;

    // jane's client did not get its result, so it sends again with the same key.
    let body = json!({"type": "TEXT", "body": "committed, then the node died"});
    let (_, first) = jane
        .action_with(&action, body.clone(), &[("idempotency-key", "key-1")])
        .await
        .unwrap();
    assert_eq!(first["id"], stored.id, "stored once");
    let got = john
        .expect_event(&messages, "channel.message.created")
        .await;
    assert_eq!(
        got["id"], stored.id,
        "the retry announced it on the other node"
    );

    // Once announced, a further retry only gets its result.
    let (_, again) = jane
        .action_with(&action, body, &[("idempotency-key", "key-1")])
        .await
        .unwrap();
    assert_eq!(again["id"], stored.id);
    john.expect_no_event(
        &messages,
        "channel.message.created",
        Duration::from_millis(500),
    )
    .await;
    a.stop().await;
    b.stop().await;
}

#[tokio::test]
#[ignore = "needs PostgreSQL and Redis: scripts/with-postgres.sh scripts/with-redis.sh"]
async fn users_of_a_node_killed_with_sigkill_are_announced_offline_by_the_survivors() {
    let dir = tempfile::tempdir().unwrap();
    let db = test_database(&dir).await;
    let a = node(&db, &dir, |_| {}).await;
    // Node B is a separate process, so it can die for real.
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_chatkitty-server"))
        .args([
            "--port",
            "0",
            "--database",
            &db,
            "--api-key",
            KEY,
            "--presence-grace-ms",
            "0",
            "--node-ttl-ms",
            "1500",
        ])
        .arg("--redis-url")
        .arg(redis_url())
        .arg("--redis-prefix")
        .arg(&a.state.config.redis_prefix)
        .arg("--files-dir")
        .arg(dir.path().join("files-b"))
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("node B starts");
    let mut out = tokio::io::BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    tokio::io::AsyncBufReadExt::read_line(&mut out, &mut line)
        .await
        .unwrap();
    let b_host = line.trim().rsplit("http://").next().unwrap().to_owned();

    let mut jane = Client::start(&a.host(), "jane").await;
    let mut john = Client::start(&b_host, "john").await;
    let ch = jane.direct_with("john").await;
    jane.start_chat(&ch).await;
    john.start_chat(&ch).await;
    let participants = ch["_topics"]["participants"].as_str().unwrap().to_owned();
    jane.expect_event(&participants, "channel.participant.active")
        .await;

    child.start_kill().unwrap();
    let _ = child.wait().await;
    let left = jane
        .try_event(
            &participants,
            "channel.participant.inactive",
            Duration::from_secs(10),
        )
        .await;
    assert_eq!(
        left.expect("john left the chat when his node died")["name"],
        "john"
    );
    let off = jane
        .try_event(
            &jane.topic("contacts"),
            "contact.presence.changed",
            Duration::from_secs(10),
        )
        .await;
    assert_eq!(
        off.expect("john went offline when his node died")["presence"]["online"],
        false
    );
    // He can come back on the surviving node.
    let _john = Client::start(&a.host(), "john").await;
    let on = jane
        .expect_event(&jane.topic("contacts"), "contact.presence.changed")
        .await;
    assert_eq!(on["presence"]["online"], true);
    drop(john);
    a.stop().await;
}

/// Leaving a private channel on one node ends the member's subscriptions on the other
/// too (SECURITY.md: authorization holds when an event is delivered).
#[tokio::test]
#[ignore = "needs PostgreSQL and Redis: scripts/with-postgres.sh scripts/with-redis.sh"]
async fn leaving_on_one_node_ends_subscriptions_on_every_node() {
    let (_dir, a, b, mut jane, mut john) = two_nodes().await;
    let (_, ch) = jane
        .create_channel(json!({"type": "PRIVATE", "name": unique("club"),
            "members": [{"username": "john"}]}))
        .await
        .unwrap();
    // John has a second connection, on node A, with a chat session there.
    let mut john_a = Client::start(&a.host(), "john").await;
    john_a.start_chat(&ch).await;
    john.start_chat(&ch).await;
    let messages = ch["_topics"]["messages"].as_str().unwrap().to_owned();
    jane.send_text(&ch, "before").await.unwrap();
    john_a
        .expect_event(&messages, "channel.message.created")
        .await;
    john.expect_event(&messages, "channel.message.created")
        .await;
    // He leaves from node B; node A ends his chat session's subscriptions there.
    let held = a.state.hub.subscription_count();
    john.action(ch["_actions"]["leave"].as_str().unwrap(), json!({}))
        .await
        .unwrap();
    let deadline = tokio::time::Instant::now() + WAIT;
    while a.state.hub.subscription_count() > held - 8 && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(a.state.hub.subscription_count(), held - 8);
    jane.send_text(&ch, "after").await.unwrap();
    john_a
        .expect_no_event(
            &messages,
            "channel.message.created",
            Duration::from_millis(500),
        )
        .await;
    john.expect_no_event(
        &messages,
        "channel.message.created",
        Duration::from_millis(100),
    )
    .await;
    drop((a, b));
}

#[tokio::test]
#[ignore = "needs PostgreSQL and Redis: scripts/with-postgres.sh scripts/with-redis.sh"]
async fn revoking_a_users_sessions_on_one_node_closes_their_connections_on_every_node() {
    use common::http::request;
    let dir = tempfile::tempdir().unwrap();
    let db = test_database(&dir).await;
    let secret = |c: &mut Config| c.platform_secrets = vec![format!("{KEY}=s3cret")];
    let a = node(&db, &dir, secret).await;
    let b = node(&db, &dir, secret).await;
    let mut john = Client::start(&b.host(), "john").await;
    let mut jane = Client::start(&b.host(), "jane").await;

    let (app, auth) = common::http::platform_auth(&a.host(), "s3cret").await;
    let path = format!("/v1/applications/{app}/users/{}/revoke-sessions", john.id());
    let r = request(&a.host(), "POST", &path, &[("Authorization", &auth)], b"").await;
    assert_eq!(r.status, 204);

    let f = john
        .wait_for(WAIT, |f| f.command == chatkitty_protocol::Command::Error)
        .await
        .expect("john, on node B, is told");
    assert_eq!(body_json(&f)["error"], "AccessDeniedError");
    assert!(john.wait_closed().await);
    assert!(
        jane.relay("/application/v1/user.relay", &[]).await.is_ok(),
        "others on node B go on"
    );
    a.stop().await;
    b.stop().await;
}

#[tokio::test]
#[ignore = "needs PostgreSQL and Redis: scripts/with-postgres.sh scripts/with-redis.sh"]
async fn each_webhook_event_is_delivered_by_one_node() {
    use common::receiver::{Mode, Receiver};
    use std::collections::HashMap;

    let rx = Receiver::start(Mode::Ok).await;
    let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    let dir = tempfile::tempdir().unwrap();
    let db = test_database(&dir).await;
    let hooks = |c: &mut Config| {
        c.webhook_url = Some(rx.url());
        c.webhook_secret = Some(secret.into());
        c.webhook_events = vec!["message.created".into()];
        c.webhook_allow_private = true;
        c.webhook_poll_ms = 50;
    };
    let a = node(&db, &dir, hooks).await;
    let b = node(&db, &dir, hooks).await;
    let mut jane = Client::start(&a.host(), "jane").await;
    let mut john = Client::start(&b.host(), "john").await;
    let ch = jane.direct_with("john").await;
    const EACH: usize = 40;
    for i in 0..EACH {
        jane.send_text(&ch, &format!("a{i}")).await.unwrap();
        john.send_text(&ch, &format!("b{i}")).await.unwrap();
    }
    // Until nothing is waiting any more (every event delivered and recorded).
    let app = a.state.apps[KEY];
    let endpoint = a.state.store.endpoints(app).await.unwrap()[0].id;
    for _ in 0..400 {
        let c = a.state.store.outbox_counts(endpoint).await.unwrap();
        if c.pending == 0 && c.delivered as usize >= 2 * EACH {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let got = rx.received();
    let mut per_id: HashMap<&str, usize> = HashMap::new();
    for r in &got {
        assert!(r.signed_with(secret));
        *per_id.entry(r.id.as_str()).or_default() += 1;
    }
    let twice: Vec<_> = per_id.iter().filter(|(_, n)| **n > 1).collect();
    assert!(twice.is_empty(), "delivered more than once: {twice:?}");
    assert_eq!(per_id.len(), 2 * EACH, "every event delivered");
    let delivered = |r: &chatkitty_server::Running| {
        r.state
            .webhooks
            .metrics
            .attempts
            .with_label_values(&["delivered"])
            .get()
    };
    let (by_a, by_b) = (delivered(&a), delivered(&b));
    println!("delivered by node A: {by_a}, by node B: {by_b}");
    assert_eq!(by_a + by_b, 2 * EACH as u64);
}

#[tokio::test]
#[ignore = "needs PostgreSQL and Redis: scripts/with-postgres.sh scripts/with-redis.sh"]
async fn bans_and_mutes_made_on_one_node_hold_on_every_node() {
    use common::http::request;
    let dir = tempfile::tempdir().unwrap();
    let db = test_database(&dir).await;
    let secret = |c: &mut Config| c.platform_secrets = vec![format!("{KEY}=s3cret")];
    let a = node(&db, &dir, secret).await;
    let b = node(&db, &dir, secret).await;
    // jane moderates a public channel from node A; john is in it on node B.
    let mut jane = Client::start(&a.host(), "jane").await;
    let mut john = Client::start(&b.host(), "john").await;
    let (_, ch) = jane
        .create_channel(json!({"type": "PUBLIC", "name": unique("arena")}))
        .await
        .unwrap();
    let verb = |v: &str| format!("/application/v1/channels/{}.{v}", ch["id"]);
    john.action(&verb("join"), json!({})).await.unwrap();
    john.start_chat(&ch).await;
    let messages = ch["_topics"]["messages"].as_str().unwrap().to_owned();

    // A mute on node A refuses john's sends on node B.
    jane.action(&verb("mute_member"), json!({"user": {"username": "john"}}))
        .await
        .unwrap();
    let e = john.send_text(&ch, "still here").await.unwrap_err();
    assert_eq!(e["error"], "MutedError", "{e}");
    jane.action(
        &verb("unmute_member"),
        json!({"user": {"username": "john"}}),
    )
    .await
    .unwrap();
    john.send_text(&ch, "back").await.unwrap();
    john.expect_event(&messages, "channel.message.created")
        .await;

    // A ban on node A ends john's subscriptions on node B at once.
    jane.action(&verb("ban"), json!({"user": {"username": "john"}}))
        .await
        .unwrap();
    john.expect_event(&john.topic("channels"), "user.channel.left")
        .await;
    jane.send_text(&ch, "after the ban").await.unwrap();
    john.expect_no_event(
        &messages,
        "channel.message.created",
        Duration::from_millis(500),
    )
    .await;
    let e = john.action(&verb("join"), json!({})).await.unwrap_err();
    assert_eq!(e["error"], "BannedError", "{e}");

    // An application ban through node A's Platform API ends his session on node B.
    let (app, auth) = common::http::platform_auth(&a.host(), "s3cret").await;
    let path = format!("/v1/applications/{app}/users/{}/ban", john.id());
    let body = json!({"reason": "spam"}).to_string();
    let r = request(
        &a.host(),
        "POST",
        &path,
        &[
            ("Authorization", &auth),
            ("Content-Type", "application/json"),
        ],
        body.as_bytes(),
    )
    .await;
    assert_eq!(r.status, 204);
    let f = john
        .wait_for(WAIT, |f| f.command == chatkitty_protocol::Command::Error)
        .await
        .expect("john, on node B, is told");
    assert_eq!(body_json(&f)["error"], "AccessDeniedError");
    assert!(john.wait_closed().await);
    let (_, f) = Client::connect_raw(&b.host(), KEY, "john", &[]).await;
    assert_eq!(
        f.command,
        chatkitty_protocol::Command::Error,
        "kept out on B"
    );
    a.stop().await;
    b.stop().await;
}
