//! Data rights through the Platform API (docs/protocol.md §15): a user's data
//! exported, a user deleted (messages deleted or anonymised), and messages purged
//! after the application's retention period; on SQLite and PostgreSQL alike.

mod common;

use std::time::Duration;

use chatkitty_protocol::destination::SEARCH_MESSAGES_RELAY;
use chatkitty_server::store::NewMessage;
use common::http::request;
use common::*;
use serde_json::{json, Value};

/// A server with a Platform API secret, and (`Authorization` value, app id).
async fn platform(f: impl FnOnce(&mut chatkitty_server::Config)) -> (TestServer, String, i64) {
    let server = TestServer::start_with(|c| {
        c.platform_secrets = vec![format!("{KEY}=s3cret")];
        f(c);
    })
    .await;
    let (app, auth) = common::http::platform_auth(&server.host(), "s3cret").await;
    (server, auth, app)
}

async fn call(
    host: &str,
    auth: &str,
    method: &str,
    path: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let body = body.map(|b| b.to_string()).unwrap_or_default();
    let r = request(
        host,
        method,
        path,
        &[
            ("Authorization", auth),
            ("Content-Type", "application/json"),
        ],
        body.as_bytes(),
    )
    .await;
    let v = serde_json::from_slice(&r.body).unwrap_or(Value::Null);
    (r.status, v)
}

async fn group(c: &mut Client, kind: &str, name: &str, members: &[&str]) -> Value {
    let members: Vec<Value> = members.iter().map(|m| json!({ "username": m })).collect();
    c.create_channel(json!({"type": kind, "name": name, "members": members}))
        .await
        .unwrap()
        .1
}

/// An uploaded file as the upload path records it: its row and its bytes on disk.
async fn upload(
    server: &TestServer,
    app: i64,
    owner: i64,
    channel: i64,
    token: &str,
) -> std::path::PathBuf {
    let state = server.state();
    state
        .store
        .insert_file(
            app,
            owner,
            Some(channel),
            token,
            "photo.png",
            "image/png",
            3,
            false,
        )
        .await
        .unwrap();
    std::fs::create_dir_all(&state.config.files_dir).unwrap();
    let path = state.config.files_dir.join(token);
    std::fs::write(&path, b"png").unwrap();
    path
}

#[tokio::test]
async fn an_export_holds_everything_stored_about_the_user_in_one_document() {
    let (server, auth, app) = platform(|_| {}).await;
    let host = server.host();
    let mut jane = Client::start(&host, "jane").await;
    let mut john = Client::start(&host, "john").await;
    let mallory = Client::start(&host, "mallory").await;
    let team = group(&mut jane, "PRIVATE", "team", &["john"]).await;
    let from_john = john.send_text(&team, "hi jane").await.unwrap();
    jane.send_text(&team, "hello john").await.unwrap();
    let react = from_john["_actions"]["react"].as_str().unwrap().to_owned();
    jane.action(&react, json!({"emoji": ":+1:"})).await.unwrap();
    let hide = from_john["_actions"]["deleteForMe"]
        .as_str()
        .unwrap()
        .to_owned();
    jane.action(&hide, json!({})).await.unwrap();
    let block = format!("/application/v1/users/{}.block", mallory.id());
    jane.action(&block, json!({})).await.unwrap();
    upload(
        &server,
        app,
        jane.id(),
        team["id"].as_i64().unwrap(),
        "t0k3n-export",
    )
    .await;
    // More messages than one batch of the export reads.
    let batch = chatkitty_server::domain::rights::EXPORT_BATCH_ROWS as usize;
    let rows: Vec<NewMessage> = (0..batch + 7)
        .map(|_| NewMessage::text(team["id"].as_i64().unwrap(), Some(jane.id()), "bulk"))
        .collect();
    for chunk in rows.chunks(400) {
        server.state().store.insert_messages(chunk).await.unwrap();
    }

    let (status, doc) = call(
        &host,
        &auth,
        "GET",
        &format!("/v1/applications/{app}/users/{}/export", jane.id()),
        None,
    )
    .await;
    assert_eq!(status, 200, "{doc}");
    assert_eq!(doc["user"]["name"], "jane");
    assert_eq!(doc["applicationId"], app);
    let names: Vec<&str> = doc["memberships"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["channel"]["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["team"]);
    assert_eq!(doc["memberships"][0]["role"], "MODERATOR");
    let messages = doc["messages"].as_array().unwrap();
    assert_eq!(messages.len(), batch + 8);
    assert_eq!(messages[0]["body"], "hello john");
    let ids: Vec<i64> = messages.iter().map(|m| m["id"].as_i64().unwrap()).collect();
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "in order, none twice");
    assert_eq!(doc["reactions"][0]["messageId"], from_john["id"]);
    assert_eq!(doc["hiddenMessages"][0]["messageId"], from_john["id"]);
    assert_eq!(doc["blocks"][0]["username"], "mallory");
    assert_eq!(doc["files"][0]["name"], "photo.png");
    assert_eq!(doc["channelsCreated"][0]["name"], "team");
    assert!(
        !doc.to_string().contains("hi jane"),
        "john's message is his, not hers"
    );
    let (status, _) = call(
        &host,
        &auth,
        "GET",
        &format!("/v1/applications/{app}/users/999999/export"),
        None,
    )
    .await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn a_deleted_user_loses_sessions_memberships_files_and_messages() {
    let (server, auth, app) = platform(|_| {}).await;
    let host = server.host();
    let mut jane = Client::start(&host, "jane").await;
    let mut john = Client::start(&host, "john").await;
    let team = group(&mut jane, "PRIVATE", "team", &["john"]).await;
    let greeting = john.send_text(&team, "hi jane").await.unwrap();
    jane.send_text(&team, "hello from jane").await.unwrap();
    jane.send_text(&team, "second note from jane")
        .await
        .unwrap();
    let react = greeting["_actions"]["react"].as_str().unwrap().to_owned();
    jane.action(&react, json!({"emoji": ":+1:"})).await.unwrap();
    let file = upload(
        &server,
        app,
        jane.id(),
        team["id"].as_i64().unwrap(),
        "t0k3n-delete",
    )
    .await;
    let jane_id = jane.id();

    let path = format!("/v1/applications/{app}/users/{jane_id}");
    let (status, bad) = call(
        &host,
        &auth,
        "DELETE",
        &format!("{path}?messages=shred"),
        None,
    )
    .await;
    assert_eq!(
        (status, bad["error"].as_str()),
        (400, Some("ValidationError"))
    );
    let (status, done) = call(&host, &auth, "DELETE", &path, None).await;
    assert_eq!(status, 200, "{done}");
    assert_eq!(
        (
            done["messagesDeleted"].as_u64(),
            done["filesRemoved"].as_u64()
        ),
        (Some(2), Some(1))
    );
    assert!(jane.wait_closed().await, "her connection is ended");
    assert!(!file.exists(), "her upload's bytes are gone");

    // What john sees: her messages deleted, her name gone, her reaction gone.
    let history = john
        .relay(team["_relays"]["messages"].as_str().unwrap(), &[])
        .await
        .unwrap();
    let list = history["_embedded"]["messages"].as_array().unwrap();
    for m in list.iter().filter(|m| m["user"]["id"] == jane_id) {
        assert_eq!(m["body"], "", "{m}");
        assert!(m["deletedTime"].is_string());
        assert_eq!(m["user"]["displayName"], "Deleted user");
        assert_ne!(m["user"]["name"], "jane");
    }
    let mine = list.iter().find(|m| m["id"] == greeting["id"]).unwrap();
    assert!(
        mine.get("reactions").is_none() || mine["reactions"].as_array().unwrap().is_empty(),
        "{mine}"
    );
    let members = john
        .relay(team["_relays"]["members"].as_str().unwrap(), &[])
        .await
        .unwrap();
    let names: Vec<&str> = members["_embedded"]["users"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["john"]);
    let found = john
        .relay(SEARCH_MESSAGES_RELAY, &[("query", "jane")])
        .await
        .unwrap();
    let bodies: Vec<&str> = found["_embedded"]["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["body"].as_str().unwrap())
        .collect();
    assert_eq!(bodies, ["hi jane"], "her messages are out of the index");

    // Her username is free: a new jane is someone else.
    let new_jane = Client::start(&host, "jane").await;
    assert_ne!(new_jane.id(), jane_id);
    let (status, _) = call(&host, &auth, "DELETE", &path, None).await;
    assert_eq!(status, 404, "deleted once");
    let (_, users) = call(
        &host,
        &auth,
        "GET",
        &format!("/v1/applications/{app}/users"),
        None,
    )
    .await;
    assert!(!users.to_string().contains("Deleted user"), "{users}");
}

#[tokio::test]
async fn an_anonymised_user_s_messages_stay_without_their_identity() {
    let (server, auth, app) = platform(|_| {}).await;
    let host = server.host();
    let mut jane = Client::start(&host, "jane").await;
    let mut john = Client::start(&host, "john").await;
    let team = group(&mut jane, "PRIVATE", "team", &["john"]).await;
    jane.send_text(&team, "the plan is ready").await.unwrap();
    let (status, done) = call(
        &host,
        &auth,
        "DELETE",
        &format!(
            "/v1/applications/{app}/users/{}?messages=anonymize",
            jane.id()
        ),
        None,
    )
    .await;
    assert_eq!(status, 200, "{done}");
    assert_eq!(done["messagesDeleted"], 0);
    let found = john
        .relay(SEARCH_MESSAGES_RELAY, &[("query", "plan")])
        .await
        .unwrap();
    let m = &found["_embedded"]["messages"][0];
    assert_eq!(m["body"], "the plan is ready");
    assert_eq!(m["user"]["displayName"], "Deleted user");
    assert!(m["deletedTime"].is_null());
    let (_, doc) = call(
        &host,
        &auth,
        "GET",
        &format!("/v1/applications/{app}/users/{}/export", jane.id()),
        None,
    )
    .await;
    assert_eq!(doc["user"]["displayName"], "Deleted user");
    assert_eq!(doc["memberships"], json!([]));
}

/// Messages `age_days` old in `channel`, sent by `user`.
async fn old_messages(
    server: &TestServer,
    channel: i64,
    user: i64,
    n: usize,
    age_days: i64,
    body: &str,
) {
    let created = chatkitty_server::clock::now_ms() - age_days * 86_400_000;
    let rows: Vec<NewMessage> = (0..n)
        .map(|_| {
            let mut m = NewMessage::text(channel, Some(user), body);
            m.created_ms = created;
            m
        })
        .collect();
    for chunk in rows.chunks(400) {
        server.state().store.insert_messages(chunk).await.unwrap();
    }
}

#[tokio::test]
async fn messages_past_the_retention_period_are_purged_in_batches_once() {
    let (server, auth, app) = platform(|c| c.retention_days = 30).await;
    let host = server.host();
    let mut jane = Client::start(&host, "jane").await;
    let team = group(&mut jane, "PRIVATE", "team", &[]).await;
    let cid = team["id"].as_i64().unwrap();
    let batch = chatkitty_server::domain::retention::PURGE_BATCH_ROWS as usize;
    old_messages(&server, cid, jane.id(), batch + 250, 10, "ancient history").await;
    jane.send_text(&team, "fresh news").await.unwrap();
    let old_file = {
        let id = server
            .state()
            .store
            .insert_messages(&[{
                let mut m = NewMessage::text(cid, Some(jane.id()), "old photo");
                m.created_ms -= 10 * 86_400_000;
                m
            }])
            .await
            .unwrap()[0]
            .0
            .id;
        let path = upload(&server, app, jane.id(), cid, "t0k3n-old").await;
        server
            .state()
            .store
            .attach_file("t0k3n-old", id)
            .await
            .unwrap();
        path
    };
    let state = server.state();
    use chatkitty_server::domain::retention::purge_once;

    // The server keeps 30 days: nothing is old enough.
    assert_eq!(purge_once(state).await.unwrap(), 0);
    // The application keeps 7: everything older goes, once, whoever purges at once.
    let base = format!("/v1/applications/{app}/retention");
    let (status, r) = call(&host, &auth, "PUT", &base, Some(json!({"days": 7}))).await;
    assert_eq!((status, r["effectiveDays"].as_i64()), (200, Some(7)), "{r}");
    let (a, b) = tokio::join!(purge_once(state), purge_once(state));
    assert_eq!(a.unwrap() + b.unwrap(), batch as u64 + 251);
    assert!(!old_file.exists(), "an old message's upload goes with it");
    let history = jane
        .relay(team["_relays"]["messages"].as_str().unwrap(), &[])
        .await
        .unwrap();
    assert_eq!(page_bodies(&history), ["fresh news"]);
    let found = jane
        .relay(SEARCH_MESSAGES_RELAY, &[("query", "ancient")])
        .await
        .unwrap();
    assert_eq!(found["_embedded"]["messages"], json!([]));

    // 0 keeps forever, whatever the server says; null goes back to the server's.
    old_messages(&server, cid, jane.id(), 3, 400, "older still").await;
    call(&host, &auth, "PUT", &base, Some(json!({"days": 0}))).await;
    assert_eq!(purge_once(state).await.unwrap(), 0);
    let (_, r) = call(&host, &auth, "PUT", &base, Some(json!({"days": null}))).await;
    assert_eq!(
        (r["days"].clone(), r["effectiveDays"].as_i64()),
        (Value::Null, Some(30))
    );
    assert_eq!(purge_once(state).await.unwrap(), 3);
    let (status, _) = call(&host, &auth, "PUT", &base, Some(json!({"days": -1}))).await;
    assert_eq!(status, 400);
}

#[tokio::test]
async fn the_background_task_purges_without_being_asked() {
    let (server, _, _) = platform(|c| {
        c.retention_days = 1;
        c.retention_interval_secs = 1;
    })
    .await;
    let mut jane = Client::start(&server.host(), "jane").await;
    let team = group(&mut jane, "PRIVATE", "team", &[]).await;
    old_messages(
        &server,
        team["id"].as_i64().unwrap(),
        jane.id(),
        5,
        3,
        "stale",
    )
    .await;
    jane.send_text(&team, "current").await.unwrap();
    let dest = team["_relays"]["messages"].as_str().unwrap().to_owned();
    let mut bodies = Vec::new();
    for _ in 0..60 {
        bodies = page_bodies(&jane.relay(&dest, &[]).await.unwrap());
        if bodies.len() == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert_eq!(bodies, ["current"]);
}
