//! HTTP surfaces: file uploads and downloads (docs/protocol.md §10), the Platform API (15).

mod common;

use common::http::{multipart, request};
use common::*;
use serde_json::{json, Value};

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

#[tokio::test]
async fn an_uploaded_file_becomes_a_message_members_can_download_with_the_read_grant() {
    let server = TestServer::start().await;
    let host = server.host();
    let mut jane = Client::start(&host, "jane").await;
    let mut john = Client::start(&host, "john").await;
    let ch = jane.direct_with("john").await;
    john.start_chat(&ch).await;
    let write = grant(&mut jane, "write").await;
    let bytes: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
    let (ctype, body) = multipart(&[
        ("file", Some(("photo.png", "image/png")), &bytes),
        ("groupTag", None, b"\"album-1\""),
        ("properties", None, br#"{"caption":"sunset"}"#),
    ]);
    let stream = ch["_streams"]["messages"].as_str().unwrap();
    let r = request(
        &host,
        "POST",
        stream,
        &[("Grant", &write), ("Content-Type", &ctype)],
        &body,
    )
    .await;
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    let m = r.json();
    assert_eq!(m["type"], "FILE");
    assert!(m.get("body").is_none(), "file messages omit body");
    assert_eq!(m["file"]["type"], "HOSTED");
    assert_eq!(m["file"]["size"], 200_000);
    assert_eq!(m["file"]["contentType"], "image/png");
    assert_eq!(m["groupTag"], "album-1");
    assert_eq!(m["properties"]["caption"], "sunset");
    let url = m["file"]["url"].as_str().unwrap();
    assert!(!url.contains('?'), "file URLs carry no query string");
    let got = john
        .expect_event(
            ch["_topics"]["messages"].as_str().unwrap(),
            "channel.message.created",
        )
        .await;
    assert_eq!(got["id"], m["id"]);

    let read = grant(&mut john, "read").await;
    let dl = request(
        &host,
        "GET",
        &format!("{}?grant={read}", path_of(url)),
        &[],
        b"",
    )
    .await;
    assert_eq!(dl.status, 200);
    assert_eq!(dl.body, bytes, "the same bytes come back");
    assert_eq!(dl.header("x-content-type-options"), Some("nosniff"));
    let none = request(&host, "GET", &path_of(url), &[], b"").await;
    assert_eq!(none.status, 401, "no grant, no file");
    let mut eve = Client::start(&host, "eve").await;
    let eve_grant = grant(&mut eve, "read").await;
    let other = request(
        &host,
        "GET",
        &format!("{}?grant={eve_grant}", path_of(url)),
        &[],
        b"",
    )
    .await;
    assert_eq!(other.status, 403, "a non-member's grant is refused");
}

#[tokio::test]
async fn uploads_need_a_write_grant_membership_and_stay_under_the_size_limit() {
    let server = TestServer::start_with(|c| c.max_upload_bytes = 50_000).await;
    let host = server.host();
    let mut jane = Client::start(&host, "jane").await;
    let ch = jane.direct_with("john").await;
    let stream = ch["_streams"]["messages"].as_str().unwrap().to_owned();
    let (ctype, small) = multipart(&[("file", Some(("a.txt", "text/plain")), b"hello")]);
    let r = request(&host, "POST", &stream, &[("Content-Type", &ctype)], &small).await;
    assert_eq!(r.status, 401);
    assert_eq!(r.json()["error"], "AccessDeniedError");
    let read = grant(&mut jane, "read").await;
    let r = request(
        &host,
        "POST",
        &stream,
        &[("Grant", &read), ("Content-Type", &ctype)],
        &small,
    )
    .await;
    assert_eq!(r.status, 401, "a read grant does not allow uploads");
    let write = grant(&mut jane, "write").await;
    let (ctype_big, big) = multipart(&[(
        "file",
        Some(("big.bin", "application/octet-stream")),
        &vec![7u8; 60_000],
    )]);
    let r = request(
        &host,
        "POST",
        &stream,
        &[("Grant", &write), ("Content-Type", &ctype_big)],
        &big,
    )
    .await;
    assert_eq!(r.status, 413);
    assert_eq!(r.json()["error"], "PayloadTooLargeError");
    let mut eve = Client::start(&host, "eve").await;
    let eve_write = grant(&mut eve, "write").await;
    let r = request(
        &host,
        "POST",
        &stream,
        &[("Grant", &eve_write), ("Content-Type", &ctype)],
        &small,
    )
    .await;
    assert_eq!(r.status, 403, "non-members cannot post files");
    let (ctype_none, nofile) = multipart(&[("properties", None, b"{}")]);
    let r = request(
        &host,
        "POST",
        &stream,
        &[("Grant", &write), ("Content-Type", &ctype_none)],
        &nofile,
    )
    .await;
    assert_eq!(r.status, 400);
    // Text files are served as attachments, never inline.
    let r = request(
        &host,
        "POST",
        &stream,
        &[("Grant", &write), ("Content-Type", &ctype)],
        &small,
    )
    .await;
    let url = r.json()["file"]["url"].as_str().unwrap().to_owned();
    let dl = request(
        &host,
        "GET",
        &format!("{}?grant={read}", path_of(&url)),
        &[],
        b"",
    )
    .await;
    assert!(dl
        .header("content-disposition")
        .unwrap()
        .starts_with("attachment"));
}

#[tokio::test]
async fn a_display_picture_upload_updates_the_user_and_is_public() {
    let server = TestServer::start().await;
    let host = server.host();
    let mut jane = Client::start(&host, "jane").await;
    let write = grant(&mut jane, "write").await;
    let (ctype, body) = multipart(&[("file", Some(("me.png", "image/png")), b"\x89PNG fake")]);
    let stream = jane.user["_streams"]["displayPicture"]
        .as_str()
        .unwrap()
        .to_owned();
    let r = request(
        &host,
        "POST",
        &stream,
        &[("Grant", &write), ("Content-Type", &ctype)],
        &body,
    )
    .await;
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    let me = r.json();
    let url = me["displayPictureUrl"].as_str().unwrap();
    assert!(url.contains("/files/v1/hosted/"));
    let dl = request(&host, "GET", &path_of(url), &[], b"").await;
    assert_eq!(dl.status, 200, "display pictures need no grant");
    let (ctype, body) = multipart(&[("file", Some(("x.html", "text/html")), b"<script>")]);
    let r = request(
        &host,
        "POST",
        &stream,
        &[("Grant", &write), ("Content-Type", &ctype)],
        &body,
    )
    .await;
    assert_eq!(r.status, 400, "only images");
}

async fn platform_token(host: &str, id: &str, secret: &str) -> common::http::Response {
    common::http::token_request(host, id, secret).await
}

#[tokio::test]
async fn the_platform_api_manages_users_channels_and_system_messages() {
    let server =
        TestServer::start_with(|c| c.platform_secrets = vec![format!("{KEY}=s3cret")]).await;
    let host = server.host();
    assert_eq!(platform_token(&host, KEY, "wrong").await.status, 401);
    let t = platform_token(&host, KEY, "s3cret").await;
    assert_eq!(t.status, 200);
    let t = t.json();
    assert_eq!(t["token_type"], "bearer");
    let app = t["application_id"].as_i64().unwrap();
    let auth = format!("Bearer {}", t["access_token"].as_str().unwrap());
    let h = [
        ("Authorization", auth.as_str()),
        ("Content-Type", "application/json"),
        ("Accept", "application/hal+json"),
    ];
    let base = format!("/v1/applications/{app}");

    assert_eq!(
        request(&host, "GET", &format!("{base}/users"), &[], b"")
            .await
            .status,
        401,
        "no token"
    );
    let u = request(
        &host,
        "POST",
        &format!("{base}/users"),
        &h,
        json!({"name": "jane", "displayName": "Jane D"})
            .to_string()
            .as_bytes(),
    )
    .await;
    assert_eq!(u.status, 201, "{}", String::from_utf8_lossy(&u.body));
    let u = u.json();
    assert_eq!(u["displayName"], "Jane D");
    assert!(u["_links"]["self"]["href"]
        .as_str()
        .unwrap()
        .ends_with(&format!("/users/{}", u["id"])));
    assert!(u.get("_relays").is_none(), "HAL, not STOMP hypermedia");

    // Jane signs in (the user the backend made) and is added to a channel.
    let mut jane = Client::start(&host, "jane").await;
    assert_eq!(jane.id(), u["id"].as_i64().unwrap());
    assert_eq!(jane.user["isGuest"], false);
    let c = request(
        &host,
        "POST",
        &format!("{base}/channels"),
        &h,
        json!({"type": "PUBLIC", "name": "announcements"})
            .to_string()
            .as_bytes(),
    )
    .await;
    assert_eq!(c.status, 201, "{}", String::from_utf8_lossy(&c.body));
    let cid = c.json()["id"].as_i64().unwrap();
    assert!(
        c.json().get("creator").is_none(),
        "no creator for backend-made channels"
    );
    let dup = request(
        &host,
        "POST",
        &format!("{base}/channels"),
        &h,
        json!({"type": "PUBLIC", "name": "announcements"})
            .to_string()
            .as_bytes(),
    )
    .await;
    assert_eq!(dup.status, 409);
    let add = request(
        &host,
        "POST",
        &format!("{base}/channels/{cid}/members"),
        &h,
        json!({"username": "jane"}).to_string().as_bytes(),
    )
    .await;
    assert_eq!(add.status, 200);
    let joined = jane
        .expect_event(&jane.topic("channels"), "user.channel.joined")
        .await;
    assert_eq!(joined["id"], cid);

    // A system message reaches the SDK client as SYSTEM_TEXT, and notifies.
    let msg = request(
        &host,
        "POST",
        &format!("{base}/channels/{cid}/messages"),
        &h,
        json!({"type": "TEXT", "body": "Maintenance at noon"})
            .to_string()
            .as_bytes(),
    )
    .await;
    assert_eq!(msg.status, 201, "{}", String::from_utf8_lossy(&msg.body));
    assert_eq!(msg.json()["type"], "SYSTEM_TEXT");
    let n = jane
        .expect_event(&jane.topic("notifications"), "user.notification.created")
        .await;
    assert_eq!(n["data"]["type"], "SYSTEM:SENT:MESSAGE");
    assert_eq!(
        n["channel"]["lastReceivedMessage"]["id"],
        msg.json()["id"],
        "the notification's channel has the new message as its last"
    );
    assert!(
        n["data"]["message"].get("user").is_none(),
        "system messages have no user"
    );
    jane.start_chat(&joined).await;
    let msg2 = request(
        &host,
        "POST",
        &format!("{base}/channels/{cid}/messages"),
        &h,
        json!({"body": "Done"}).to_string().as_bytes(),
    )
    .await;
    assert_eq!(msg2.status, 201);
    let live = jane
        .expect_event(
            joined["_topics"]["messages"].as_str().unwrap(),
            "channel.message.created",
        )
        .await;
    assert_eq!(live["type"], "SYSTEM_TEXT");

    // HAL pages.
    let page = request(
        &host,
        "GET",
        &format!("{base}/channels/{cid}/messages?size=1"),
        &h,
        b"",
    )
    .await
    .json();
    assert_eq!(page["_embedded"]["messages"].as_array().unwrap().len(), 1);
    assert_eq!(page["page"]["totalElements"], 2);
    assert!(page["_links"]["next"]["href"].is_string());
    assert!(page["_links"].get("prev").is_none());
    let users = request(&host, "GET", &format!("{base}/users"), &h, b"")
        .await
        .json();
    assert_eq!(users["_embedded"]["users"][0]["name"], "jane");
    let other_app = request(
        &host,
        "GET",
        &format!("/v1/applications/{}/users", app + 1),
        &h,
        b"",
    )
    .await;
    assert_eq!(
        other_app.status, 403,
        "a token works for its own application only"
    );
    let _: Value = users;
}
