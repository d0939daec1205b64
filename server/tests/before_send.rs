//! The before-send hook (`--before-send-url`, docs/protocol.md §15.2) against a hook
//! server the test starts: allowing, rejecting (the sender gets `MessageRejectedError`,
//! nothing is stored), replacing, timing out (fail closed and fail open), for every
//! path a message takes: a STOMP send, each send of a batch, an upload, a Platform API
//! system message. Its latency is in `/metrics`.

mod common;

use std::sync::Arc;

use chatkitty_protocol::{Command, Frame};
use chatkitty_server::Config;
use common::http::{multipart, request};
use common::receiver::{Mode, Receiver};
use common::*;
use serde_json::{json, Value};

/// A hook that rejects bodies containing "forbidden", replaces "555-1234" by "***"
/// (and tags the properties), and allows the rest.
fn moderating_hook() -> Mode {
    Mode::Answer(Arc::new(|req: &Value| {
        let body = req["message"]["body"].as_str().unwrap_or("");
        if body.contains("forbidden") {
            json!({"action": "reject", "reason": "No forbidden words here."}).to_string()
        } else if body.contains("555-1234") {
            json!({"action": "replace", "body": body.replace("555-1234", "***"),
                "properties": {"scrubbed": true}})
            .to_string()
        } else {
            json!({"action": "allow"}).to_string()
        }
    }))
}

async fn server_with(hook: &Receiver, tweak: impl FnOnce(&mut Config)) -> TestServer {
    let url = hook.url();
    TestServer::start_with(move |c| {
        c.before_send_url = Some(url);
        c.before_send_timeout_ms = 1000;
        c.platform_secrets = vec![format!("{KEY}=s3cret")];
        tweak(c);
    })
    .await
}

/// The bodies of a channel's stored messages, oldest first.
async fn stored(client: &mut Client, ch: &Value) -> Vec<String> {
    let page = client
        .relay(ch["_relays"]["messages"].as_str().unwrap(), &[])
        .await
        .unwrap();
    let mut bodies = page_bodies(&page);
    bodies.reverse();
    bodies
}

#[tokio::test]
async fn the_hook_allows_rejects_and_replaces_stomp_sends() {
    let hook = Receiver::start(moderating_hook()).await;
    let server = server_with(&hook, |_| {}).await;
    let mut jane = Client::start(&server.host(), "jane").await;
    let ch = jane.direct_with("john").await;

    let ok = jane.send_text(&ch, "hello there").await.unwrap();
    assert_eq!(ok["body"], "hello there");
    let asked = hook.received();
    assert_eq!(asked.len(), 1);
    let req = &asked[0].body;
    assert_eq!(req["message"]["body"], "hello there");
    assert_eq!(req["message"]["type"], "TEXT");
    assert_eq!(req["sender"]["name"], "jane");
    assert_eq!(req["channel"]["id"], ch["id"]);
    assert_eq!(req["channel"]["type"], "DIRECT");

    let e = jane
        .send_text(&ch, "a forbidden word")
        .await
        .expect_err("rejected");
    assert_eq!(e["error"], "MessageRejectedError");
    assert_eq!(e["message"], "No forbidden words here.");

    let replaced = jane.send_text(&ch, "call me at 555-1234").await.unwrap();
    assert_eq!(replaced["body"], "call me at ***");
    assert_eq!(replaced["properties"]["scrubbed"], true);

    assert_eq!(
        stored(&mut jane, &ch).await,
        vec!["hello there", "call me at ***"],
        "the rejected message was not stored, the replaced one as replaced"
    );
    // A reply goes through the hook too.
    let reply = ok["_actions"]["reply"].as_str().unwrap().to_owned();
    let e = jane
        .action(&reply, json!({"type": "TEXT", "body": "forbidden reply"}))
        .await
        .expect_err("rejected reply");
    assert_eq!(e["error"], "MessageRejectedError");
}

#[tokio::test]
async fn every_send_of_a_batch_is_asked() {
    let hook = Receiver::start(moderating_hook()).await;
    let server = server_with(&hook, |_| {}).await;
    let mut jane = Client::start(&server.host(), "jane").await;
    let ch = jane.direct_with("john").await;
    let dest = ch["_actions"]["message"].as_str().unwrap().to_owned();
    // Sent back to back: the server handles the queued sends together.
    let bodies = [
        "one",
        "two forbidden",
        "three 555-1234",
        "four",
        "five forbidden",
    ];
    for (i, b) in bodies.iter().enumerate() {
        let f = Frame::new(Command::Send)
            .with_header("destination", dest.as_str())
            .with_header("content-type", "application/json;charset=UTF-8")
            .with_header("receipt", format!("batch-{i}"))
            .with_body(json!({"type": "TEXT", "body": b}).to_string().into_bytes());
        jane.send(&f).await;
    }
    let mut errors = 0;
    for i in 0..bodies.len() {
        let receipt = format!("batch-{i}");
        let got = jane
            .wait_for(WAIT, |f| f.header("receipt-id") == Some(receipt.as_str()))
            .await
            .unwrap();
        if got.command != Command::Receipt {
            let v = body_json(&got);
            if v["error"] == "MessageRejectedError" {
                errors += 1;
            }
        }
    }
    assert_eq!(errors, 2, "both forbidden sends refused");
    assert_eq!(hook.received().len(), bodies.len(), "each send asked");
    assert_eq!(
        stored(&mut jane, &ch).await,
        vec!["one", "three ***", "four"]
    );
}

#[tokio::test]
async fn uploads_and_system_messages_are_asked_too() {
    let hook = Receiver::start(Mode::Answer(Arc::new(|req: &Value| {
        let forbidden = req["message"]["body"]
            .as_str()
            .is_some_and(|b| b.contains("forbidden"))
            || req["message"]["file"]["name"] == "forbidden.txt";
        if forbidden {
            json!({"action": "reject", "reason": "Not that."}).to_string()
        } else {
            json!({"action": "allow"}).to_string()
        }
    })))
    .await;
    let server = server_with(&hook, |_| {}).await;
    let host = server.host();
    let mut jane = Client::start(&host, "jane").await;
    let (_, ch) = jane
        .create_channel(json!({"type": "PUBLIC", "name": "uploads"}))
        .await
        .unwrap();

    // An upload with the write grant, as the SDK does it.
    let grant = jane
        .relay(chatkitty_protocol::destination::WRITE_GRANT_RELAY, &[])
        .await
        .unwrap()["grant"]
        .as_str()
        .unwrap()
        .to_owned();
    let stream = ch["_streams"]["messages"].as_str().unwrap();
    let path = stream.to_owned();
    for (name, status) in [("fine.txt", 200), ("forbidden.txt", 422)] {
        let (ctype, body) = multipart(&[("file", Some((name, "text/plain")), b"hi")]);
        let r = request(
            &host,
            "POST",
            &path,
            &[("Grant", &grant), ("Content-Type", &ctype)],
            &body,
        )
        .await;
        assert_eq!(
            r.status,
            status,
            "{name}: {}",
            String::from_utf8_lossy(&r.body)
        );
        if status == 422 {
            assert_eq!(r.json()["error"], "MessageRejectedError");
        }
    }

    // A system message of the app's backend.
    let (app, auth) = common::http::platform_auth(&host, "s3cret").await;
    for (text, status) in [("maintenance", 201), ("forbidden maintenance", 422)] {
        let r = request(
            &host,
            "POST",
            &format!("/v1/applications/{app}/channels/{}/messages", ch["id"]),
            &[
                ("Authorization", &auth),
                ("Content-Type", "application/json"),
            ],
            json!({"body": text}).to_string().as_bytes(),
        )
        .await;
        assert_eq!(
            r.status,
            status,
            "{text}: {}",
            String::from_utf8_lossy(&r.body)
        );
    }
    let asked = hook.received();
    assert_eq!(asked.len(), 4);
    assert_eq!(asked[0].body["message"]["type"], "FILE");
    assert!(
        asked[2].body["sender"].is_null(),
        "a system message has no sender"
    );
    assert_eq!(asked[2].body["message"]["type"], "SYSTEM_TEXT");
    let page = jane
        .relay(ch["_relays"]["messages"].as_str().unwrap(), &[])
        .await
        .unwrap();
    let messages = page["_embedded"]["messages"].as_array().unwrap();
    assert_eq!(
        messages.len(),
        2,
        "the refused upload and message not stored"
    );
    let files = std::fs::read_dir(server.dir.path().join("files"))
        .map(|d| d.count())
        .unwrap_or(0);
    assert!(files <= 1, "the refused upload's file is not kept");
}

#[tokio::test]
async fn a_hook_that_does_not_answer_fails_closed_by_default() {
    let hook = Receiver::start(Mode::Hang).await;
    let server = server_with(&hook, |c| c.before_send_timeout_ms = 300).await;
    let mut jane = Client::start(&server.host(), "jane").await;
    let ch = jane.direct_with("john").await;
    let e = jane.send_text(&ch, "anyone?").await.expect_err("refused");
    assert_eq!(e["error"], "MessageRejectedError");
    assert!(stored(&mut jane, &ch).await.is_empty());
    // A hook answering nonsense fails the same way.
    hook.set(Mode::Answer(Arc::new(|_| "{\"allow\": true}".to_owned())));
    let e = jane.send_text(&ch, "anyone?").await.expect_err("refused");
    assert_eq!(e["error"], "MessageRejectedError");
    hook.set(Mode::Status(500));
    let e = jane.send_text(&ch, "anyone?").await.expect_err("refused");
    assert_eq!(e["error"], "MessageRejectedError");
    assert!(stored(&mut jane, &ch).await.is_empty());
}

#[tokio::test]
async fn a_hook_that_does_not_answer_lets_messages_through_when_failing_open() {
    let hook = Receiver::start(Mode::Hang).await;
    let server = server_with(&hook, |c| {
        c.before_send_timeout_ms = 300;
        c.before_send_fail_open = true;
    })
    .await;
    let mut jane = Client::start(&server.host(), "jane").await;
    let ch = jane.direct_with("john").await;
    let m = jane.send_text(&ch, "anyone?").await.unwrap();
    assert_eq!(m["body"], "anyone?");
    assert_eq!(stored(&mut jane, &ch).await, vec!["anyone?"]);
    // The hook's time and outcomes are in /metrics.
    let metrics = request(&server.host(), "GET", "/metrics", &[], b"").await;
    let text = String::from_utf8_lossy(&metrics.body).to_string();
    assert!(
        text.contains("chatkitty_before_send_seconds_count 1"),
        "{text}"
    );
    assert!(
        text.contains("chatkitty_before_send_total{outcome=\"failed_open\"} 1"),
        "{text}"
    );
}

#[tokio::test]
async fn requests_are_signed_when_a_secret_is_set_and_bad_replacements_refused() {
    let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    let hook = Receiver::start(Mode::Answer(Arc::new(|_| {
        json!({"action": "replace", "body": "x".repeat(20_000)}).to_string()
    })))
    .await;
    let server = server_with(&hook, |c| c.before_send_secret = Some(secret.into())).await;
    let mut jane = Client::start(&server.host(), "jane").await;
    let ch = jane.direct_with("john").await;
    let e = jane.send_text(&ch, "short").await.expect_err("refused");
    assert_eq!(e["error"], "MessageRejectedError");
    assert!(e["message"].as_str().unwrap().contains("replaced"), "{e}");
    assert!(stored(&mut jane, &ch).await.is_empty());
    assert!(hook.received()[0].signed_with(secret));
}
