//! Webhooks (docs/protocol.md §15.1) against a receiver the test starts, checking each
//! request's signature the Standard Webhooks way: every event type arrives; failed
//! attempts are retried on the backoff schedule; an endpoint that keeps failing is
//! disabled, and its events replayed once it is enabled; secrets rotate with both
//! signatures sent meanwhile; the server process killed between a change and its
//! delivery delivers it after a restart. On SQLite, and on PostgreSQL under
//! `scripts/with-postgres.sh`.

mod common;

use std::collections::HashSet;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command as Process, Stdio};
use std::time::Duration;

use chatkitty_server::Config;
use common::http::request;
use common::receiver::{Mode, Receiver};
use common::*;
use serde_json::{json, Value};

/// Waits for deliveries: generous, as the machine is shared.
const DELIVERY: Duration = Duration::from_secs(20);

/// A Platform API client: the application id and the bearer header.
struct Platform {
    host: String,
    app: i64,
    auth: String,
}

impl Platform {
    async fn new(host: &str) -> Platform {
        let (app, auth) = common::http::platform_auth(host, "s3cret").await;
        Platform {
            host: host.to_owned(),
            app,
            auth,
        }
    }

    async fn call(&self, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
        let body = body.map(|b| b.to_string()).unwrap_or_default();
        let r = request(
            &self.host,
            method,
            &format!("/v1/applications/{}{path}", self.app),
            &[
                ("Authorization", &self.auth),
                ("Content-Type", "application/json"),
            ],
            body.as_bytes(),
        )
        .await;
        let v = serde_json::from_slice(&r.body).unwrap_or(Value::Null);
        (r.status, v)
    }

    /// Registers an endpoint; its id and secret.
    async fn endpoint(&self, url: &str, types: Value) -> (i64, String) {
        let (status, e) = self
            .call(
                "POST",
                "/webhooks",
                Some(json!({"url": url, "eventTypes": types})),
            )
            .await;
        assert_eq!(status, 201, "{e}");
        (
            e["id"].as_i64().unwrap(),
            e["secret"].as_str().unwrap().to_owned(),
        )
    }
}

fn hooks_config(c: &mut Config) {
    c.platform_secrets = vec![format!("{KEY}=s3cret")];
    c.webhook_allow_private = true;
    c.webhook_retry_base_ms = 200;
    c.webhook_poll_ms = 100;
    c.webhook_timeout_ms = 3000;
}

#[tokio::test]
async fn every_event_type_arrives_signed_with_its_resources() {
    let rx = Receiver::start(Mode::Ok).await;
    let server = TestServer::start_with(hooks_config).await;
    let host = server.host();
    let p = Platform::new(&host).await;
    let (_, secret) = p.endpoint(&rx.url(), json!(["*"])).await;

    let mut jane = Client::start(&host, "jane").await;
    let mut john = Client::start(&host, "john").await;
    // Bob exists but is never online: he is notified offline.
    let (status, bob) = p.call("POST", "/users", Some(json!({"name": "bob"}))).await;
    assert_eq!(status, 201);
    let (_, ch) = jane
        .create_channel(json!({"type": "PUBLIC", "name": "lobby"}))
        .await
        .unwrap();
    let cid = ch["id"].as_i64().unwrap();
    john.action(&format!("/application/v1/channels/{cid}.join"), json!({}))
        .await
        .unwrap();
    let (status, _) = p
        .call(
            "POST",
            &format!("/channels/{}/members", ch["id"]),
            Some(json!({"username": "bob"})),
        )
        .await;
    assert_eq!(status, 200);
    let m = jane.send_text(&ch, "hello webhooks").await.unwrap();
    let react = m["_actions"]["react"].as_str().unwrap().to_owned();
    john.action(&react, json!({"emoji": "+1"})).await.unwrap();
    let unreact = m["_actions"]["removeReaction"].as_str().unwrap().to_owned();
    john.action(&unreact, json!({"emoji": "+1"})).await.unwrap();
    jane.action(
        m["_actions"]["edit"].as_str().unwrap(),
        json!({"body": "hello, edited"}),
    )
    .await
    .unwrap();
    jane.action(
        ch["_actions"]["update"].as_str().unwrap(),
        json!({"displayName": "The Lobby"}),
    )
    .await
    .unwrap();
    let mut me = john.user.clone();
    me["displayName"] = json!("Johnny");
    let update = john.user["_actions"]["update"].as_str().unwrap().to_owned();
    john.action(&update, me).await.unwrap();
    john.action(&format!("/application/v1/channels/{cid}.leave"), json!({}))
        .await
        .unwrap();
    // A flag, through the moderation action (its trigger queues the event).
    john.action(
        &format!("/application/v1/messages/{}.flag", m["id"]),
        json!({"reason": "spam"}),
    )
    .await
    .unwrap();
    // Payloads are rendered when first sent (something deleted by then is sent as
    // `{id}` with `"gone": true`): the deletes wait for the rest to be delivered.
    let before_deletes = ["channel.updated", "message.flagged", "member.removed"];
    rx.wait_until(DELIVERY, |g| {
        before_deletes
            .iter()
            .all(|t| g.iter().any(|r| r.kind() == *t))
    })
    .await;
    jane.action(m["_actions"]["delete"].as_str().unwrap(), json!({}))
        .await
        .unwrap();
    jane.action(ch["_actions"]["delete"].as_str().unwrap(), json!({}))
        .await
        .unwrap();

    let all: HashSet<&str> = chatkitty_server::domain::webhooks::EVENT_TYPES
        .iter()
        .copied()
        .collect();
    let got = rx
        .wait_until(DELIVERY, |g| {
            all.iter().all(|t| g.iter().any(|r| r.kind() == *t))
        })
        .await;
    let kinds: HashSet<&str> = got.iter().map(|r| r.kind()).collect();
    let missing: Vec<_> = all.difference(&kinds).collect();
    assert!(missing.is_empty(), "missing {missing:?}; got {kinds:?}");
    for r in &got {
        assert!(r.signed_with(&secret), "bad signature on {}", r.kind());
        assert!(r.id.starts_with("msg_"));
        assert!(r.body["timestamp"].is_string());
    }
    let one = |kind: &str, pred: &dyn Fn(&Value) -> bool| -> Value {
        got.iter()
            .map(|r| &r.body)
            .find(|b| b["type"] == kind && pred(&b["data"]))
            .unwrap_or_else(|| panic!("no {kind} as expected in {got:#?}"))["data"]
            .clone()
    };
    let created = one("message.created", &|d| d["message"]["id"] == m["id"]);
    assert_eq!(created["message"]["channelId"], ch["id"]);
    assert!(
        created["message"].get("_actions").is_none(),
        "no STOMP hypermedia in webhooks"
    );
    one("message.updated", &|d| d["message"]["id"] == m["id"]);
    one("message.deleted", &|d| d["message"]["id"] == m["id"]);
    let r = one("reaction.added", &|d| d["messageId"] == m["id"]);
    assert_eq!(r["user"]["name"], "john");
    one("reaction.removed", &|d| d["messageId"] == m["id"]);
    one("channel.created", &|d| d["channel"]["name"] == "lobby");
    one("channel.updated", &|d| d["channel"]["id"] == ch["id"]);
    let deleted = one("channel.deleted", &|d| d["channel"]["id"] == ch["id"]);
    assert_eq!(deleted["channel"]["displayName"], "The Lobby");
    one("member.added", &|d| {
        d["channelId"] == ch["id"] && d["user"]["name"] == "john"
    });
    one("member.removed", &|d| {
        d["channelId"] == ch["id"] && d["user"]["name"] == "john"
    });
    one("user.created", &|d| d["user"]["name"] == "bob");
    one("user.updated", &|d| d["user"]["displayName"] == "Johnny");
    one("user.presence.changed", &|d| d["user"]["name"] == "jane");
    let offline = one("notification.offline", &|d| d["user"]["id"] == bob["id"]);
    assert_eq!(
        offline["notification"]["data"]["message"]["body"],
        "hello webhooks"
    );
    let flagged = one("message.flagged", &|d| d["message"]["id"] == m["id"]);
    assert_eq!(flagged["reason"], "spam");
    assert_eq!(flagged["flaggedBy"]["name"], "john");
    // Deleting the channel took its members and messages with it: one
    // channel.deleted, no member.removed for jane or reaction events after it.
    assert!(
        !got.iter()
            .any(|r| r.kind() == "member.removed" && r.body["data"]["user"]["name"] == "jane"),
        "a channel's deletion is not a removal of each member"
    );
    // Each event once (nothing retried here).
    let ids: HashSet<&str> = got.iter().map(|r| r.id.as_str()).collect();
    assert_eq!(ids.len(), got.len(), "an event was delivered twice");
}

#[tokio::test]
async fn an_endpoint_gets_only_the_types_it_asked_for_and_errors_are_refused() {
    let rx = Receiver::start(Mode::Ok).await;
    let server = TestServer::start_with(|c| {
        hooks_config(c);
        c.webhook_max_endpoints = 2;
    })
    .await;
    let host = server.host();
    let p = Platform::new(&host).await;
    let (id, secret) = p.endpoint(&rx.url(), json!(["message.created"])).await;
    let mut jane = Client::start(&host, "jane").await;
    let ch = jane.direct_with("john").await;
    jane.send_text(&ch, "only this").await.unwrap();
    let r = rx
        .wait_for(DELIVERY, "message.created", |_| true)
        .await
        .expect("message.created");
    assert!(r.signed_with(&secret));
    assert!(
        rx.received().iter().all(|r| r.kind() == "message.created"),
        "{:?}",
        rx.received()
            .iter()
            .map(|r| r.kind().to_owned())
            .collect::<Vec<_>>()
    );
    let (status, e) = p.call("GET", &format!("/webhooks/{id}"), None).await;
    assert_eq!(status, 200);
    assert_eq!(e["eventTypes"], json!(["message.created"]));
    assert!(e.get("secret").is_none(), "the secret is not listed");
    let (_, s) = p.call("GET", &format!("/webhooks/{id}/secret"), None).await;
    assert_eq!(s["secret"], secret.as_str());

    for (body, why) in [
        (json!({"url": "ftp://example.com/"}), "not http(s)"),
        (json!({"url": "file:///etc/passwd"}), "not http(s)"),
        (
            json!({"url": rx.url(), "eventTypes": ["message.exploded"]}),
            "unknown type",
        ),
        (
            json!({"url": rx.url(), "secret": "whsec_short"}),
            "bad secret",
        ),
        (json!({"eventTypes": ["*"]}), "no url"),
    ] {
        let (status, e) = p.call("POST", "/webhooks", Some(body)).await;
        assert_eq!(status, 400, "{why}: {e}");
        assert_eq!(e["error"], "ValidationError", "{why}");
    }
    p.endpoint(&rx.url(), json!(["*"])).await;
    let (status, e) = p
        .call("POST", "/webhooks", Some(json!({"url": rx.url()})))
        .await;
    assert_eq!(status, 413, "over --webhook-max-endpoints: {e}");
    let (status, _) = p.call("DELETE", &format!("/webhooks/{id}"), None).await;
    assert_eq!(status, 204);
    let (status, _) = p.call("GET", &format!("/webhooks/{id}"), None).await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn private_addresses_are_refused_unless_the_operator_allows_them() {
    let server = TestServer::start_with(|c| {
        hooks_config(c);
        c.webhook_allow_private = false;
    })
    .await;
    let p = Platform::new(&server.host()).await;
    for url in [
        "http://127.0.0.1:9/hooks",
        "http://localhost/hooks",
        "http://10.0.0.8/",
        "http://169.254.169.254/latest/meta-data",
        "http://[::1]/",
    ] {
        let (status, e) = p.call("POST", "/webhooks", Some(json!({"url": url}))).await;
        assert_eq!(status, 400, "{url}: {e}");
    }
}

#[tokio::test]
async fn failed_attempts_are_retried_on_the_backoff_schedule() {
    // The receiver is down for the first two attempts (503), then up.
    let rx = Receiver::start(Mode::FailFirst(503, 2)).await;
    let server = TestServer::start_with(hooks_config).await;
    let host = server.host();
    let p = Platform::new(&host).await;
    let (id, secret) = p.endpoint(&rx.url(), json!(["message.created"])).await;
    let mut jane = Client::start(&host, "jane").await;
    let ch = jane.direct_with("john").await;
    jane.send_text(&ch, "eventually").await.unwrap();
    let got = rx.wait_until(DELIVERY, |g| g.len() >= 3).await;
    assert_eq!(got.len(), 3, "two failures and a success");
    assert!(got.iter().all(|r| r.id == got[0].id), "one webhook-id");
    assert!(got.iter().all(|r| r.raw == got[0].raw), "the same payload");
    assert!(got[2].signed_with(&secret));
    // Attempt n+1 is at least base·3^(n-1) after attempt n (the schedule, not a
    // measurement: the server never retries sooner).
    let base = Duration::from_millis(200);
    assert!(got[1].at - got[0].at >= base);
    assert!(got[2].at - got[1].at >= base * 3);
    // The third attempt is recorded once its answer is read.
    let mut e = Value::Null;
    for _ in 0..400 {
        e = p.call("GET", &format!("/webhooks/{id}"), None).await.1;
        if e["status"]["delivered"] == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(e["status"]["delivered"], 1, "{e}");
    let (_, a) = p
        .call("GET", &format!("/webhooks/{id}/attempts"), None)
        .await;
    let attempts = a["_embedded"]["attempts"].as_array().unwrap().clone();
    let statuses: Vec<Value> = attempts.iter().rev().map(|a| a["status"].clone()).collect();
    assert_eq!(statuses, vec![json!(503), json!(503), json!(200)], "{a}");
    assert_eq!(e["status"]["pending"], 0);
    assert_eq!(e["enabled"], true);
}

#[tokio::test]
async fn an_endpoint_failing_every_attempt_is_disabled_and_its_events_replayed() {
    let rx = Receiver::start(Mode::Status(500)).await;
    let server = TestServer::start_with(|c| {
        hooks_config(c);
        c.webhook_max_attempts = 3;
        c.webhook_retry_base_ms = 50;
    })
    .await;
    let host = server.host();
    let p = Platform::new(&host).await;
    let (id, secret) = p.endpoint(&rx.url(), json!(["message.created"])).await;
    let mut jane = Client::start(&host, "jane").await;
    let ch = jane.direct_with("john").await;
    jane.send_text(&ch, "into the void").await.unwrap();

    let mut e = Value::Null;
    for _ in 0..400 {
        e = p.call("GET", &format!("/webhooks/{id}"), None).await.1;
        if e["enabled"] == false {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(
        e["enabled"], false,
        "disabled after persistent failure: {e}"
    );
    assert!(e["disabledReason"].as_str().unwrap().contains("500"), "{e}");
    assert_eq!(e["status"]["failed"], 1);
    assert_eq!(rx.received().len(), 3, "three attempts");
    let (_, a) = p
        .call("GET", &format!("/webhooks/{id}/attempts"), None)
        .await;
    assert_eq!(a["page"]["totalElements"], 3, "{a}");
    assert!(a["_embedded"]["attempts"][0]["error"]
        .as_str()
        .unwrap()
        .contains("answered 500"));

    // While disabled, nothing is queued for it.
    jane.send_text(&ch, "while disabled").await.unwrap();
    let (_, events) = p.call("GET", &format!("/webhooks/{id}/events"), None).await;
    assert_eq!(events["page"]["totalElements"], 1, "{events}");
    let failed_id = events["_embedded"]["events"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();

    // Fixed, enabled again and replayed: the same event, same id, signed.
    rx.set(Mode::Ok);
    let (status, _) = p
        .call(
            "PATCH",
            &format!("/webhooks/{id}"),
            Some(json!({"enabled": true})),
        )
        .await;
    assert_eq!(status, 200);
    let (status, r) = p
        .call(
            "POST",
            &format!("/webhooks/{id}/replay"),
            Some(json!({"since": 0})),
        )
        .await;
    assert_eq!(status, 200, "{r}");
    assert_eq!(r["replayed"], 1);
    let got = rx.wait_until(DELIVERY, |g| g.len() >= 4).await;
    assert_eq!(got.len(), 4);
    assert_eq!(got[3].id, failed_id);
    assert_eq!(got[3].body["data"]["message"]["body"], "into the void");
    assert!(got[3].signed_with(&secret));
    for _ in 0..400 {
        e = p.call("GET", &format!("/webhooks/{id}"), None).await.1;
        if e["status"]["delivered"] == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(e["status"]["delivered"], 1, "{e}");
    assert_eq!(e["enabled"], true);
}

#[tokio::test]
async fn a_rotated_secret_signs_beside_the_old_one_until_it_expires() {
    let rx = Receiver::start(Mode::Ok).await;
    let server = TestServer::start_with(hooks_config).await;
    let host = server.host();
    let p = Platform::new(&host).await;
    let (id, old) = p.endpoint(&rx.url(), json!(["message.created"])).await;
    let (status, r) = p
        .call(
            "POST",
            &format!("/webhooks/{id}/rotate-secret"),
            Some(json!({})),
        )
        .await;
    assert_eq!(status, 200, "{r}");
    let new = r["secret"].as_str().unwrap().to_owned();
    assert_ne!(new, old);
    assert!(r["previousSecretExpiresTime"].is_string());
    let mut jane = Client::start(&host, "jane").await;
    let ch = jane.direct_with("john").await;
    jane.send_text(&ch, "during rotation").await.unwrap();
    let got = rx
        .wait_for(DELIVERY, "message.created", |_| true)
        .await
        .unwrap();
    assert_eq!(got.signature.split(' ').count(), 2, "{}", got.signature);
    assert!(got.signed_with(&new) && got.signed_with(&old));

    // Rotated again with the old secret expiring at once: one signature, the newest.
    let (_, r) = p
        .call(
            "POST",
            &format!("/webhooks/{id}/rotate-secret"),
            Some(json!({"previousExpiresInSecs": 0})),
        )
        .await;
    let newest = r["secret"].as_str().unwrap().to_owned();
    jane.send_text(&ch, "after rotation").await.unwrap();
    let got = rx
        .wait_for(DELIVERY, "message.created", |r| {
            r.body["data"]["message"]["body"] == "after rotation"
        })
        .await
        .unwrap();
    assert!(got.signed_with(&newest));
    assert!(!got.signed_with(&new) && !got.signed_with(&old));
}

#[tokio::test]
async fn a_payload_over_the_limit_is_sent_without_its_data() {
    let rx = Receiver::start(Mode::Ok).await;
    let server = TestServer::start_with(|c| {
        hooks_config(c);
        c.webhook_max_payload_bytes = 400;
    })
    .await;
    let host = server.host();
    let p = Platform::new(&host).await;
    let (_, secret) = p.endpoint(&rx.url(), json!(["message.created"])).await;
    let mut jane = Client::start(&host, "jane").await;
    let ch = jane.direct_with("john").await;
    let m = jane.send_text(&ch, &"x".repeat(2000)).await.unwrap();
    let got = rx
        .wait_for(DELIVERY, "message.created", |_| true)
        .await
        .unwrap();
    assert!(got.raw.len() <= 400, "{}", got.raw.len());
    assert_eq!(got.body["truncated"], true);
    assert_eq!(got.body["data"]["id"], m["id"]);
    assert!(got.signed_with(&secret));
}

/// The server binary, on a database that outlives it.
struct Process_ {
    child: Child,
    host: String,
}

impl Process_ {
    fn start(db: &str, files: &std::path::Path, extra: &[&str]) -> Process_ {
        let mut child = Process::new(env!("CARGO_BIN_EXE_chatkitty-server"))
            .args(["--port", "0", "--api-key", KEY, "--presence-grace-ms", "0"])
            .args(["--database", db])
            .arg("--files-dir")
            .arg(files)
            .args(extra)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("chatkitty-server starts");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let host = line
            .trim()
            .rsplit("http://")
            .next()
            .expect("listening line")
            .to_owned();
        Process_ { child, host }
    }

    fn kill(&mut self) {
        let _ = self.child.kill(); // SIGKILL: no shutdown, no flushing
        let _ = self.child.wait();
    }
}

impl Drop for Process_ {
    fn drop(&mut self) {
        self.kill();
    }
}

#[tokio::test]
async fn an_event_committed_before_the_process_is_killed_is_delivered_after_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let db = test_database(&dir).await;
    let files = dir.path().join("files");
    // A port nobody listens on yet: the receiver is down when the change is made.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    let url = format!("http://127.0.0.1:{port}/hooks");
    let flags = [
        "--webhook-url",
        url.as_str(),
        "--webhook-secret",
        secret,
        "--webhook-events",
        "message.created",
        // No --webhook-allow-private: the default endpoint is the operator's own.
        "--webhook-retry-base-ms",
        "300",
        "--webhook-poll-ms",
        "100",
    ];
    let mut server = Process_::start(&db, &files, &flags);
    let mut jane = Client::start(&server.host, "jane").await;
    let ch = jane.direct_with("john").await;
    // Acknowledged: committed, its event with it.
    let sent = jane.send_text(&ch, "survives a crash").await.unwrap();
    server.kill();

    let rx = Receiver::start_on(port, Mode::Ok).await;
    let server = Process_::start(&db, &files, &flags);
    let got = rx
        .wait_for(DELIVERY, "message.created", |r| {
            r.body["data"]["message"]["id"] == sent["id"]
        })
        .await
        .expect("the event is delivered after the restart");
    assert!(got.signed_with(secret), "valid signature");
    assert_eq!(got.body["data"]["message"]["body"], "survives a crash");
    drop(server);
}
