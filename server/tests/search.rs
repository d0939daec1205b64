//! Message search (docs/protocol.md §9.6): the relay the SDK's `searchMessages` uses
//! and the Platform API endpoint, on SQLite and PostgreSQL alike: what a user may read
//! and nothing else, newest first, in pages whose work is bounded.

mod common;

use chatkitty_protocol::destination::SEARCH_MESSAGES_RELAY;
use chatkitty_server::store::NewMessage;
use common::http::request;
use common::*;
use serde_json::{json, Value};

/// The bodies of a search page (newest first) and its `next` link.
fn found(page: &Value) -> (Vec<String>, Option<String>) {
    let bodies = page["_embedded"]["messages"]
        .as_array()
        .unwrap_or_else(|| panic!("not a page: {page}"))
        .iter()
        .map(|m| m["body"].as_str().unwrap().to_owned())
        .collect();
    (bodies, page["_relays"]["next"].as_str().map(str::to_owned))
}

async fn search(c: &mut Client, params: &[(&str, &str)]) -> (Vec<String>, Option<String>) {
    let page = c
        .relay(SEARCH_MESSAGES_RELAY, params)
        .await
        .unwrap_or_else(|e| panic!("search {params:?}: {e}"));
    found(&page)
}

async fn bodies(c: &mut Client, query: &str) -> Vec<String> {
    search(c, &[("query", query)]).await.0
}

async fn group(c: &mut Client, kind: &str, name: &str, members: &[&str]) -> Value {
    let members: Vec<Value> = members.iter().map(|m| json!({ "username": m })).collect();
    c.create_channel(json!({"type": kind, "name": name, "members": members}))
        .await
        .unwrap()
        .1
}

#[tokio::test]
async fn a_user_finds_every_word_only_in_what_they_may_read_newest_first() {
    let server = TestServer::start().await;
    let host = server.host();
    let mut jane = Client::start(&host, "jane").await;
    let mut john = Client::start(&host, "john").await;
    let mut mallory = Client::start(&host, "mallory").await;
    let team = group(&mut jane, "PRIVATE", "team", &["john"]).await;
    let secret = group(&mut mallory, "PRIVATE", "secret", &[]).await;
    let lobby = group(&mut mallory, "PUBLIC", "lobby", &[]).await;

    let noon = jane.send_text(&team, "Lunch at noon?").await.unwrap();
    let sounds = john.send_text(&team, "lunch sounds good").await.unwrap();
    let dinner = jane
        .send_text(&team, "Dinner instead, lunch is dull")
        .await
        .unwrap();
    john.send_text(&team, "The LUNCH menu: café crème, thé")
        .await
        .unwrap();
    john.send_text(&team, "docs at https://example.com/docs-page?x=1")
        .await
        .unwrap();
    mallory
        .send_text(&secret, "secret lunch plan")
        .await
        .unwrap();
    mallory
        .send_text(&lobby, "lunch in the lobby")
        .await
        .unwrap();

    // Every word must occur; case folds; newest first; only the channels jane is in.
    assert_eq!(
        bodies(&mut jane, "lunch").await,
        [
            "The LUNCH menu: café crème, thé",
            "Dinner instead, lunch is dull",
            "lunch sounds good",
            "Lunch at noon?"
        ]
    );
    assert_eq!(
        bodies(&mut jane, "menu LUNCH").await,
        ["The LUNCH menu: café crème, thé"]
    );
    assert_eq!(bodies(&mut jane, "café").await.len(), 1, "accents kept");
    assert!(
        bodies(&mut jane, "cafe").await.is_empty(),
        "and significant"
    );
    assert!(
        bodies(&mut jane, "lun").await.is_empty(),
        "whole words only"
    );
    assert_eq!(
        bodies(&mut jane, "example").await.len(),
        1,
        "words in a URL"
    );
    assert_eq!(bodies(&mut jane, "docs page").await.len(), 1);
    assert!(
        bodies(&mut jane, "c1").await.is_empty(),
        "channel tokens are not words"
    );
    // Within one channel: a public channel she is not in may be searched by id.
    let lobby_id = lobby["id"].to_string();
    assert_eq!(
        search(&mut jane, &[("query", "lunch"), ("channelId", &lobby_id)])
            .await
            .0,
        ["lunch in the lobby"]
    );
    let team_id = team["id"].to_string();
    assert_eq!(
        search(&mut jane, &[("query", "lunch"), ("channelId", &team_id)])
            .await
            .0
            .len(),
        4
    );
    let refused = jane
        .relay(
            SEARCH_MESSAGES_RELAY,
            &[("query", "lunch"), ("channelId", &secret["id"].to_string())],
        )
        .await
        .unwrap_err();
    assert_eq!(refused["error"], "NotAChannelMemberError", "{refused}");

    // Edited: found by its new words only. Deleted for everyone: gone for all.
    let edit = noon["_actions"]["edit"].as_str().unwrap().to_owned();
    jane.action(&edit, json!({"body": "Brunch at noon?"}))
        .await
        .unwrap();
    let delete = dinner["_actions"]["delete"].as_str().unwrap().to_owned();
    jane.action(&delete, json!({})).await.unwrap();
    assert_eq!(bodies(&mut jane, "brunch").await, ["Brunch at noon?"]);
    assert!(bodies(&mut jane, "dinner").await.is_empty());
    assert!(bodies(&mut john, "dinner").await.is_empty());
    assert_eq!(bodies(&mut jane, "lunch").await.len(), 2);

    // Deleted for jane only: gone for her, still there for john.
    let for_me = sounds["_actions"]["deleteForMe"]
        .as_str()
        .unwrap()
        .to_owned();
    jane.action(&for_me, json!({})).await.unwrap();
    assert_eq!(bodies(&mut jane, "sounds").await.len(), 0);
    assert_eq!(bodies(&mut john, "sounds").await.len(), 1);

    // Blocked senders are left out, as in her history.
    let block = format!("/application/v1/users/{}.block", john.id());
    jane.action(&block, json!({})).await.unwrap();
    assert!(bodies(&mut jane, "menu").await.is_empty());
    assert_eq!(bodies(&mut john, "menu").await.len(), 1);

    // Cleared history: john's search starts after it.
    let clear = team["_actions"]["clearHistory"]
        .as_str()
        .unwrap()
        .to_owned();
    john.action(&clear, json!({})).await.unwrap();
    assert!(bodies(&mut john, "lunch").await.is_empty());
    john.send_text(&team, "lunch again").await.unwrap();
    assert_eq!(bodies(&mut john, "lunch").await, ["lunch again"]);
}

#[tokio::test]
async fn search_pages_follow_their_next_links_and_stop_at_the_candidate_bound() {
    let server = TestServer::start().await;
    let host = server.host();
    let mut jane = Client::start(&host, "jane").await;
    let mut mallory = Client::start(&host, "mallory").await;
    let mine = group(&mut jane, "PRIVATE", "mine", &[]).await;
    let theirs = group(&mut mallory, "PRIVATE", "theirs", &[]).await;
    for i in 0..23 {
        jane.send_text(&mine, &format!("pizza number {i}"))
            .await
            .unwrap();
    }
    let (mut all, mut next) = search(&mut jane, &[("query", "pizza"), ("size", "10")]).await;
    let mut pages = 1;
    while let Some(link) = next.take() {
        let (more, n) = follow(&mut jane, &link).await;
        all.extend(more);
        next = n;
        pages += 1;
    }
    let want: Vec<String> = (0..23).rev().map(|i| format!("pizza number {i}")).collect();
    assert_eq!((all, pages), (want, 3));

    // Far more matches in a channel jane cannot read, newer than hers: her search is
    // narrowed to her channels in the index itself, so they cost her nothing.
    let candidates = chatkitty_server::domain::search::SEARCH_CANDIDATES as usize;
    let store = &server.state().store;
    jane.send_text(&mine, "my needle").await.unwrap();
    let haystack = |cid: i64, n: usize| -> Vec<NewMessage<'static>> {
        (0..n)
            .map(|_| NewMessage::text(cid, Some(mallory.id()), "a needle in the haystack"))
            .collect()
    };
    for chunk in haystack(theirs["id"].as_i64().unwrap(), candidates + 100).chunks(500) {
        store.insert_messages(chunk).await.unwrap();
    }
    assert_eq!(
        search(&mut jane, &[("query", "needle")]).await,
        (vec!["my needle".to_owned()], None)
    );

    // Far more matches that only her own filters leave out (a blocked sender in her
    // channel), newer than hers: one page examines at most SEARCH_CANDIDATES index
    // entries, so the first page holds none of hers and says where to go on.
    let shared = group(&mut jane, "PRIVATE", "shared", &["mallory"]).await;
    jane.send_text(&shared, "our needle").await.unwrap();
    for chunk in haystack(shared["id"].as_i64().unwrap(), candidates + 100).chunks(500) {
        store.insert_messages(chunk).await.unwrap();
    }
    let block = format!("/application/v1/users/{}.block", mallory.id());
    jane.action(&block, json!({})).await.unwrap();
    let (first, next) = search(&mut jane, &[("query", "needle")]).await;
    assert!(first.is_empty(), "{first:?}");
    let next = next.expect("a page that ran out of candidates goes on");
    let (second, after) = follow(&mut jane, &next).await;
    assert_eq!(second, ["our needle", "my needle"]);
    assert_eq!(after, None);
    let (in_mine, _) = search(
        &mut jane,
        &[("query", "needle"), ("channelId", &mine["id"].to_string())],
    )
    .await;
    assert_eq!(in_mine, ["my needle"]);
}

/// The page a `next` link leads to.
async fn follow(c: &mut Client, link: &str) -> (Vec<String>, Option<String>) {
    let page = c.relay(link, &[]).await.unwrap();
    found(&page)
}

#[tokio::test]
async fn search_queries_are_bounded() {
    let server = TestServer::start().await;
    let mut jane = Client::start(&server.host(), "jane").await;
    use chatkitty_server::domain::search::{MAX_SEARCH_QUERY_CHARS, MAX_SEARCH_TERMS};
    let long = "x".repeat(MAX_SEARCH_QUERY_CHARS + 1);
    let many: Vec<String> = (0..=MAX_SEARCH_TERMS).map(|i| format!("w{i}")).collect();
    let many = many.join(" ");
    for (query, error) in [
        (long.as_str(), "PayloadTooLargeError"),
        (many.as_str(), "ValidationError"),
        ("!!! ...", "ValidationError"),
    ] {
        let e = jane
            .relay(SEARCH_MESSAGES_RELAY, &[("query", query)])
            .await
            .unwrap_err();
        assert_eq!(e["error"], error, "{query}: {e}");
    }
    let e = jane.relay(SEARCH_MESSAGES_RELAY, &[]).await.unwrap_err();
    assert_eq!(e["error"], "ValidationError");
    // At most MAX_SEARCH_PAGE_SIZE results, whatever size is asked for.
    let c = group(&mut jane, "PRIVATE", "c", &[]).await;
    let rows: Vec<NewMessage> = (0..60)
        .map(|_| NewMessage::text(c["id"].as_i64().unwrap(), Some(jane.id()), "same words"))
        .collect();
    server.state().store.insert_messages(&rows).await.unwrap();
    let (page, next) = search(&mut jane, &[("query", "words"), ("size", "1000")]).await;
    assert_eq!(
        page.len() as i64,
        chatkitty_server::domain::search::MAX_SEARCH_PAGE_SIZE
    );
    assert!(next.is_some());
}

#[tokio::test]
async fn the_platform_api_searches_as_the_operator_or_as_one_user() {
    let server =
        TestServer::start_with(|c| c.platform_secrets = vec![format!("{KEY}=s3cret")]).await;
    let host = server.host();
    let mut jane = Client::start(&host, "jane").await;
    let mut mallory = Client::start(&host, "mallory").await;
    let mine = group(&mut jane, "PRIVATE", "mine", &[]).await;
    let theirs = group(&mut mallory, "PRIVATE", "theirs", &[]).await;
    jane.send_text(&mine, "quarterly report draft")
        .await
        .unwrap();
    mallory
        .send_text(&theirs, "the report is late")
        .await
        .unwrap();
    let (auth, app) = platform_auth(&host).await;
    let h = [("Authorization", auth.as_str())];
    let get = |q: String| {
        let host = host.clone();
        async move {
            let r = request(&host, "GET", &q, &h, b"").await;
            assert_eq!(r.status, 200, "{q}: {}", String::from_utf8_lossy(&r.body));
            let page = r.json();
            let bodies: Vec<String> = page["_embedded"]["messages"]
                .as_array()
                .unwrap()
                .iter()
                .map(|m| m["body"].as_str().unwrap().to_owned())
                .collect();
            (bodies, page)
        }
    };
    let base = format!("/v1/applications/{app}/messages/search");
    let (all, page) = get(format!("{base}?query=report")).await;
    assert_eq!(all, ["the report is late", "quarterly report draft"]);
    assert!(page["_embedded"]["messages"][0]["_links"]["self"]["href"]
        .as_str()
        .unwrap()
        .contains("/messages/"));
    let (as_jane, _) = get(format!("{base}?query=report&userId={}", jane.id())).await;
    assert_eq!(as_jane, ["quarterly report draft"]);
    let (in_theirs, _) = get(format!("{base}?query=report&channelId={}", theirs["id"])).await;
    assert_eq!(in_theirs, ["the report is late"]);
    let (one, page) = get(format!("{base}?query=report&size=1")).await;
    assert_eq!(one.len(), 1);
    let next = page["_links"]["next"]["href"].as_str().unwrap();
    let path = &next[next.find("/v1/").unwrap()..];
    let (two, _) = get(path.to_owned()).await;
    assert_eq!(two, ["quarterly report draft"]);
    let r = request(&host, "GET", &format!("{base}?query=%21%21"), &h, b"").await;
    assert_eq!(r.status, 400);
}

/// A Platform API bearer token: (`Authorization` value, application id).
pub async fn platform_auth(host: &str) -> (String, i64) {
    let (app, auth) = common::http::platform_auth(host, "s3cret").await;
    (auth, app)
}
