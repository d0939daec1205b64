//! The op table (src/core/ops.rs): each call's frame, NAS, thrown errors, result
//! shaping, uploads, and the thread a chat session follows.

use super::*;
use crate::core::ops::spec;

/// docs/api.md §2.3: the calls that throw `NoActiveSessionError` without a session,
/// then our extensions that do (§8, §16).
const NAS: [&str; 34] = [
    "getCurrentUser",
    "updateCurrentUser",
    "updateCurrentUserDisplayPicture",
    "createChannel",
    "getChannels",
    "joinChannel",
    "leaveChannel",
    "getUnreadChannelsCount",
    "getChannelUnread",
    "readChannel",
    "muteChannel",
    "unmuteChannel",
    "clearChannelHistory",
    "sendMessage",
    "getMessages",
    "getUnreadMessagesCount",
    "triggerEvent",
    "readThread",
    "getChannelMembers",
    "getReadReceipts",
    "getUsers",
    "getUsersCount",
    "getUserIsChannelMember",
    "getUserBlockList",
    "sendKeystrokes",
    "onNotificationReceived",
    "onUserPresenceChanged",
    "searchMessages",
    "flagMessage",
    "banChannelMember",
    "unbanChannelMember",
    "muteChannelMember",
    "unmuteChannelMember",
    "setChannelSlowMode",
];

/// The JavaScript names of the calls, in `Op` order.
fn names() -> Vec<&'static str> {
    JS.iter().map(|js| js.name()).collect()
}

fn op_of(name: &str) -> Op {
    names().iter().position(|n| *n == name).unwrap() as Op
}

/// The string constant `name` of pkg-template/surface.js, split on spaces (read when
/// the test runs, so it sees what the surface check just wrote).
fn surface_list(name: &str) -> Vec<String> {
    let js = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/pkg-template/surface.js"
    ))
    .unwrap();
    let start = js.find(&format!("const {name} = '")).unwrap() + name.len() + 10;
    let end = start + js[start..].find('\'').unwrap();
    js[start..end].split(' ').map(str::to_owned).collect()
}

fn chan(id: u64) -> Value {
    let mut c = channel(id);
    let r = |s: &str| json!(format!("/application/v1/channels/{id}/{s}.relay"));
    let a = |s: &str| json!(format!("/application/v1/channels/{id}.{s}"));
    for (k, v) in [
        ("messagesCount", "messages.count"),
        ("lastReadMessage", "last_read_message"),
        ("unread", "unread"),
        ("members", "members"),
        ("threads", "threads"),
    ] {
        c["_relays"][k] = r(v);
    }
    for (k, v) in [
        ("join", "join"),
        ("leave", "leave"),
        ("addModerator", "add_moderator"),
        ("invite", "invite"),
        ("read", "read"),
        ("mute", "mute"),
        ("triggerEvent", "trigger_event"),
        ("update", "update"),
        ("delete", "delete"),
        ("clearHistory", "clear_history"),
        ("hide", "hide"),
        ("createThread", "create_thread"),
    ] {
        c["_actions"][k] = a(v);
    }
    c["_streams"] = json!({"messages": format!("/files/v1/channels/{id}/messages")});
    c
}

fn msg(id: u64) -> Value {
    let r = |s: &str| json!(format!("/application/v1/messages/{id}/{s}.relay"));
    json!({
        "id": id, "type": "TEXT", "body": "b",
        "_relays": {
            "channel": r("channel"), "readReceipts": r("read_receipts"),
            "repliesCount": r("replies.count"), "replies": r("replies"), "reactions": r("reactions")
        },
        "_actions": {
            "read": format!("/application/v1/messages/{id}.read"),
            "reply": format!("/application/v1/messages/{id}.reply"),
            "deleteForMe": format!("/application/v1/messages/{id}.delete_for_me"),
            "delete": format!("/application/v1/messages/{id}.delete"),
            "react": format!("/application/v1/messages/{id}.react"),
            "edit": format!("/application/v1/messages/{id}.edit"),
            "removeReaction": format!("/application/v1/messages/{id}.remove_reaction")
        },
        "_streams": {"replies": format!("/files/v1/messages/{id}/replies")}
    })
}

fn thread() -> Value {
    let t = "/topic/v1/threads/t1";
    json!({
        "id": "t1", "type": "STANDALONE",
        "_relays": {"channel": "/application/v1/threads/t1/channel.relay",
                    "message": "/application/v1/threads/t1/message.relay"},
        "_topics": {"self": t, "messages": format!("{t}/messages"),
                    "keystrokes": format!("{t}/keystrokes"), "typing": format!("{t}/typing")},
        "_actions": {"message": "/application/v1/threads/t1.message",
                     "keystrokes": "/application/v1/threads/t1.keystrokes",
                     "read": "/application/v1/threads/t1.read"},
        "_streams": {"messages": "/files/v1/threads/t1/messages"}
    })
}

fn other_user() -> Value {
    json!({"id": 9, "name": "john",
           "_relays": {"self": "/application/v1/users/9.relay",
                       "channelMember": "/application/v1/users/9/channel_member.relay"}})
}

/// Runs `name(request)` on a started session and returns its only frame.
fn sent_by(h: &mut Harness, name: &str, request: Value) -> (Id, Frame) {
    let id = h.c.call(op_of(name), &request, h.now).unwrap();
    let mut sent = h.take_sent();
    assert_eq!(sent.len(), 1, "{name} sends one frame: {sent:#?}");
    (id, sent.remove(0))
}

/// One row: call, request, command, destination, parameter headers, action body.
type Case = (
    &'static str,
    Value,
    Command,
    &'static str,
    Vec<(&'static str, &'static str)>,
    Option<Value>,
);

fn headers(f: &Frame) -> Vec<(String, String)> {
    f.headers
        .iter()
        .filter(|(k, _)| {
            !matches!(
                k.as_str(),
                "id" | "destination" | "receipt" | "content-type" | "content-length"
            )
        })
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

/// client.js throws `NoActiveSessionError` itself for these before the WebAssembly
/// module has loaded (no session can be active then), so its marks must be the core's.
#[test]
fn surface_js_marks_exactly_the_calls_that_need_a_session() {
    let marked: Vec<String> = surface_list("OPS")
        .iter()
        .filter_map(|w| w.strip_prefix('*'))
        .map(|w| w.trim_end_matches("()").to_owned())
        .collect();
    let nas: Vec<&str> = names().into_iter().filter(|n| NAS.contains(n)).collect();
    assert_eq!(marked, nas);
}

#[test]
fn every_call_sends_the_frame_protocol_section_7_names() {
    use Command::{Send, Subscribe};
    let c = chan(7);
    let m = msg(5);
    let t = thread();
    #[rustfmt::skip]
    let cases: Vec<Case> = vec![
        ("updateChannel", json!({"channel": c}), Send, "/application/v1/channels/7.update", vec![], Some(c.clone())),
        ("deleteChannel", json!({"channel": c}), Send, "/application/v1/channels/7.delete", vec![], Some(json!({}))),
        ("createChannel", json!({"type": "PUBLIC", "name": "x", "displayName": "X"}), Send, "/application/v1/user.create_channel", vec![], Some(json!({"type": "PUBLIC", "name": "x", "displayName": "X"}))),
        ("getChannel", json!(7), Subscribe, "/application/v1/channels/7.relay", vec![], None),
        ("joinChannel", json!({"channel": c}), Send, "/application/v1/channels/7.join", vec![], Some(json!({"channel": c}))),
        ("leaveChannel", json!({"channel": c}), Send, "/application/v1/channels/7.leave", vec![], Some(json!({}))),
        ("addChannelModerator", json!({"channel": c, "user": {"username": "john"}}), Send, "/application/v1/channels/7.add_moderator", vec![], Some(json!({"username": "john"}))),
        ("getUnreadChannelsCount", json!({"filter": {"type": "DIRECT"}}), Subscribe, "/u/channels.count.relay", vec![("unread", "true"), ("type", "DIRECT")], None),
        ("getUnreadChannelsCount", Value::Null, Subscribe, "/u/channels.count.relay", vec![("unread", "true")], None),
        ("getChannelUnread", json!({"channel": c}), Subscribe, "/application/v1/channels/7/unread.relay", vec![], None),
        ("readChannel", json!({"channel": c}), Send, "/application/v1/channels/7.read", vec![], Some(json!({}))),
        ("muteChannel", json!({"channel": c}), Send, "/application/v1/channels/7.mute", vec![], Some(json!({"state": "ON"}))),
        ("unmuteChannel", json!({"channel": c}), Send, "/application/v1/channels/7.mute", vec![], Some(json!({"state": "OFF"}))),
        ("clearChannelHistory", json!({"channel": c}), Send, "/application/v1/channels/7.clear_history", vec![], Some(json!({}))),
        ("hideChannel", json!({"channel": c}), Send, "/application/v1/channels/7.hide", vec![], Some(json!({}))),
        ("getMessages", json!({"message": m}), Subscribe, "/application/v1/messages/5/replies.relay", vec![], None),
        ("getUnreadMessagesCount", Value::Null, Subscribe, "/u/unread_messages.count.relay", vec![("unread", "true")], None),
        ("getUnreadMessagesCount", json!({"channel": c}), Subscribe, "/application/v1/channels/7/messages.count.relay", vec![("unread", "true")], None),
        ("triggerEvent", json!({"channel": c, "type": "poke", "properties": {"a": 1}}), Send, "/application/v1/channels/7.trigger_event", vec![], Some(json!({"type": "poke", "properties": {"a": 1}}))),
        ("readMessage", json!({"message": m}), Send, "/application/v1/messages/5.read", vec![], Some(json!({}))),
        ("getLastReadMessage", json!({"channel": c, "username": "john"}), Subscribe, "/application/v1/channels/7/last_read_message.relay", vec![("username", "john")], None),
        ("editMessage", json!({"message": m, "body": "new"}), Send, "/application/v1/messages/5.edit", vec![], Some(json!({"body": "new"}))),
        ("getMessageRepliesCount", json!({"message": m}), Subscribe, "/application/v1/messages/5/replies.count.relay", vec![], None),
        ("getMessageChannel", json!({"message": m}), Subscribe, "/application/v1/messages/5/channel.relay", vec![], None),
        ("createThread", json!({"channel": c, "name": "t"}), Send, "/application/v1/channels/7.create_thread", vec![], Some(json!({"name": "t"}))),
        ("getThreads", json!({"channel": c, "filter": {"includeMainThread": false, "standalone": true}}), Subscribe, "/application/v1/channels/7/threads.relay", vec![("includeMainThread", "false"), ("standalone", "true")], None),
        ("getThreads", json!({"channel": c, "filter": {"includeMainThread": true, "standalone": false}}), Subscribe, "/application/v1/channels/7/threads.relay", vec![], None),
        ("getThreadChannel", json!({"thread": t}), Subscribe, "/application/v1/threads/t1/channel.relay", vec![], None),
        ("getThreadMessage", json!({"thread": t}), Subscribe, "/application/v1/threads/t1/message.relay", vec![], None),
        ("readThread", json!({"thread": t}), Send, "/application/v1/threads/t1.read", vec![], Some(json!({}))),
        ("reactToMessage", json!({"message": m, "emoji": "+1"}), Send, "/application/v1/messages/5.react", vec![], Some(json!({"emoji": "+1"}))),
        ("getReactions", json!({"message": m}), Subscribe, "/application/v1/messages/5/reactions.relay", vec![], None),
        ("removeReaction", json!({"message": m, "emoji": "+1"}), Send, "/application/v1/messages/5.remove_reaction", vec![], Some(json!({"emoji": "+1"}))),
        ("deleteMessageForMe", json!({"message": m}), Send, "/application/v1/messages/5.delete_for_me", vec![], Some(json!({}))),
        ("deleteMessage", json!({"message": m}), Send, "/application/v1/messages/5.delete", vec![], Some(json!({}))),
        ("getChannelMembers", json!({"channel": c, "filter": {"displayName": "Jo"}}), Subscribe, "/application/v1/channels/7/members.relay", vec![("displayName", "Jo")], None),
        ("getReadReceipts", json!({"message": m}), Subscribe, "/application/v1/messages/5/read_receipts.relay", vec![], None),
        ("getUsers", json!({"filter": {"online": true, "name": "jo"}}), Subscribe, "/u/contacts.relay", vec![("name", "jo"), ("online", "true")], None),
        ("getUsersCount", json!({"filter": {"online": false}}), Subscribe, "/u/contacts.count.relay", vec![("online", "false")], None),
        ("inviteUser", json!({"channel": c, "user": {"username": "john"}}), Send, "/application/v1/channels/7.invite", vec![], Some(json!({"user": {"username": "john"}}))),
        ("getUser", json!(9), Subscribe, "/application/v1/users/9.relay", vec![], None),
        ("getUserIsChannelMember", json!({"user": other_user(), "channel": c}), Subscribe, "/application/v1/users/9/channel_member.relay", vec![("channelId", "7")], None),
        ("blockUser", json!({"user": other_user()}), Send, "/application/v1/users/9.block", vec![], Some(json!({}))),
        ("getUserBlockList", Value::Null, Subscribe, "/u/block_list_items.relay", vec![], None),
        ("deleteUserBlockListItem", json!({"item": {"_actions": {"delete": "/application/v1/user/block_list_items/9.delete"}}}), Send, "/application/v1/user/block_list_items/9.delete", vec![], Some(json!({}))),
        ("getCurrentUser", Value::Null, Subscribe, "/application/v1/user.relay", vec![], None),
        ("searchMessages", json!({"query": "café au lait", "channel": c}), Subscribe, "/application/v1/user/messages.search.relay", vec![("query", "café au lait"), ("channelId", "7")], None),
        ("searchMessages", json!({"query": "lunch"}), Subscribe, "/application/v1/user/messages.search.relay", vec![("query", "lunch")], None),
        ("updateCurrentUser", json!({"id": 42, "displayName": "J"}), Send, "/application/v1/user.update", vec![], Some(json!({"id": 42, "displayName": "J"}))),
        ("updateCurrentUserDisplayPicture", json!({"file": {"url": "https://x/a.png", "name": "a.png", "contentType": "image/png", "size": 3}}), Send, "/application/v1/user.update_display_picture", vec![], Some(json!({"url": "https://x/a.png", "name": "a.png", "contentType": "image/png", "size": 3}))),
    ];
    let mut h = Harness::new();
    h.session();
    for (name, request, command, destination, hdrs, body) in cases {
        let (_, f) = sent_by(&mut h, name, request);
        assert_eq!(f.command, command, "{name}");
        assert_eq!(dest_of(&f), destination, "{name}");
        let want: Vec<(String, String)> = hdrs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        assert_eq!(headers(&f), want, "{name} parameter headers");
        match (command, body) {
            (Send, Some(b)) => {
                assert!(
                    f.header("receipt").is_some(),
                    "{name}: actions carry a receipt"
                );
                let got: Value = serde_json::from_str(f.body_str().unwrap()).unwrap();
                assert_eq!(got, b, "{name} body");
            }
            (Subscribe, None) => assert!(
                f.header("receipt").is_none(),
                "{name}: relays have no receipt"
            ),
            _ => unreachable!(),
        }
    }
}

#[test]
fn nas_calls_throw_without_a_session_and_the_others_wait_for_a_connection() {
    let c = chan(7);
    let request = json!({"channel": c, "message": msg(5), "thread": thread(),
                         "user": other_user(), "item": {"_actions": {"delete": "/d"}},
                         "body": "x", "emoji": "+1", "name": "n", "username": "u"});
    for (op, name) in names().iter().enumerate() {
        let mut h = Harness::new();
        let req = if matches!(*name, "getChannel" | "getUser") {
            json!(7)
        } else {
            request.clone()
        };
        let r = h.c.call(op as Op, &req, h.now);
        if NAS.contains(name) {
            assert_eq!(r, Err(Misuse::NoActiveSession), "{name} is NAS");
        } else {
            assert!(r.is_ok(), "{name} needs no session: {r:?}");
            assert!(h.take_sent().is_empty(), "{name} waits for a connection");
        }
    }
}

#[test]
fn channel_calls_without_their_action_throw_the_channel_error() {
    let mut h = Harness::new();
    h.session();
    let bare = channel(7); // message and keystrokes actions only
    for (name, thrown) in [
        ("joinChannel", Thrown::NotPubliclyJoinable),
        ("leaveChannel", Thrown::NotAChannelMember),
        ("addChannelModerator", Thrown::CannotAddModerator),
        ("inviteUser", Thrown::NotInvitable),
    ] {
        let r = h.c.call(
            op_of(name),
            &json!({"channel": bare, "user": {"id": 9}}),
            h.now,
        );
        assert_eq!(r, Err(Misuse::Thrown(thrown)), "{name}");
    }
    assert!(h.take_sent().is_empty());
    assert_eq!(
        Thrown::CannotAddModerator.text().0,
        "CannotAddModeratorToChannel"
    );
    let (name, before, after) = Thrown::NotPubliclyJoinable.text();
    assert_eq!(name, "ChannelNotPubliclyJoinableError");
    assert_eq!(
        format!("{before}general{after}"),
        "The channel general can't be joined without an invite."
    );
    // Other missing links are argument errors, not channel errors.
    let r =
        h.c.call(op_of("hideChannel"), &json!({"channel": bare}), h.now);
    assert_eq!(r, Err(Misuse::InvalidArgument("hide")));
}

#[test]
fn the_parent_of_a_message_that_is_no_reply_is_a_not_a_reply_failure() {
    let mut h = Harness::new();
    h.session();
    let m = msg(5);
    let id =
        h.c.call(op_of("getMessageParent"), &json!({"message": m}), h.now)
            .unwrap();
    assert!(h.take_sent().is_empty());
    let done = h.take_done();
    assert!(matches!(&completion(&done, id).result, Err(Failure::NotAReply(v)) if v["id"] == 5));
    let mut reply = msg(6);
    reply["_relays"]["parent"] = json!("/application/v1/messages/5.relay");
    let (_, f) = sent_by(&mut h, "getMessageParent", json!({"message": reply}));
    assert_eq!(dest_of(&f), "/application/v1/messages/5.relay");
}

#[test]
fn receipt_actions_resolve_on_the_receipt_with_the_requests_resource() {
    let mut h = Harness::new();
    h.session();
    for (name, field, request) in [
        ("readChannel", "channel", json!({"channel": chan(7)})),
        (
            "triggerEvent",
            "channel",
            json!({"channel": chan(7), "type": "t"}),
        ),
        ("readMessage", "message", json!({"message": msg(5)})),
        ("readThread", "thread", json!({"thread": thread()})),
    ] {
        let (id, f) = sent_by(&mut h, name, request.clone());
        assert!(h.take_done().is_empty());
        h.receipt(f.header("receipt").unwrap());
        let done = h.take_done();
        assert_eq!(resource_of(completion(&done, id)), request[field], "{name}");
        assert_eq!(spec(op_of(name)).unwrap().key, Some(field));
    }
}

#[test]
fn counts_and_exists_come_from_the_relay_answer_under_the_official_keys() {
    let mut h = Harness::new();
    h.session();
    for (name, request, answer, key, value) in [
        (
            "getUnreadChannelsCount",
            Value::Null,
            json!({"count": 3}),
            "count",
            json!(3),
        ),
        (
            "getUsersCount",
            Value::Null,
            json!({"count": 2}),
            "count",
            json!(2),
        ),
        (
            "getMessageRepliesCount",
            json!({"message": msg(5)}),
            json!({"count": 0}),
            "count",
            json!(0),
        ),
        (
            "getChannelUnread",
            json!({"channel": chan(7)}),
            json!({"exists": true}),
            "unread",
            json!(true),
        ),
        (
            "getUserIsChannelMember",
            json!({"user": other_user(), "channel": chan(7)}),
            json!({"exists": false}),
            "isMember",
            json!(false),
        ),
    ] {
        let (id, f) = sent_by(&mut h, name, request);
        h.answer_relay(&f, answer);
        let done = h.take_done();
        assert_eq!(resource_of(completion(&done, id)), value, "{name}");
        assert_eq!(spec(op_of(name)).unwrap().key, Some(key), "{name}");
    }
    assert_eq!(spec(op_of("deleteChannel")).unwrap().key, None);
}

#[test]
fn get_channels_picks_its_relay_and_headers_from_the_filter() {
    let mut h = Harness::new();
    h.session();
    for (filter, destination, hdrs) in [
        (Value::Null, "/u/channels.relay", vec![]),
        (
            json!({"joined": true}),
            "/u/channels.relay",
            vec![("subscribable", "true")],
        ),
        (
            json!({"joined": false, "name": "gen"}),
            "/u/joinable.relay",
            vec![("name", "gen")],
        ),
        (json!({"unread": true}), "/u/unread_channels.relay", vec![]),
        (
            json!({"unread": true, "joined": true}),
            "/u/unread_channels.relay",
            vec![("subscribable", "true")],
        ),
        (json!({"name": ""}), "/u/channels.relay", vec![]),
    ] {
        let (id, f) = sent_by(&mut h, "getChannels", json!({ "filter": filter }));
        assert_eq!(dest_of(&f), destination, "{filter}");
        let want: Vec<(String, String)> = hdrs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        assert_eq!(headers(&f), want, "{filter}");
        h.answer_relay(
            &f,
            json!({"_embedded": {"channels": [chan(7)]}, "_relays": {}}),
        );
        let done = h.take_done();
        assert!(
            matches!(&completion(&done, id).result, Ok(Done::Page(p)) if p.items.array_len() == 1 && p.kind.content == "channels")
        );
    }
}

#[test]
fn update_current_user_replaces_the_current_user_and_tells_its_observers() {
    let mut h = Harness::new();
    let s = h.session();
    let mut updated = user();
    updated["displayName"] = json!("Janet");
    let (id, f) = sent_by(&mut h, "updateCurrentUser", updated.clone());
    h.event(
        s.topic(USER_TOPICS[0]),
        "user.self.updated",
        updated.clone(),
        f.header("receipt"),
    );
    let done = h.take_done();
    assert_eq!(resource_of(completion(&done, id))["displayName"], "Janet");
    assert_eq!(h.c.current_user().unwrap()["displayName"], "Janet");
    let events = h.take_events();
    assert!(matches!(&events[..], [Event::CurrentUser(Some(u))] if u["displayName"] == "Janet"));
}

#[test]
fn file_messages_are_uploaded_to_their_targets_stream_with_the_write_grant() {
    let mut h = Harness::new();
    h.session();
    let file = json!({"name": "a.bin", "size": 3}); // a File: no url
    for (target, stream) in [
        (
            json!({"channel": chan(7)}),
            "http://localhost:8080/files/v1/channels/7/messages",
        ),
        (
            json!({"channel": chan(7), "message": msg(5)}),
            "http://localhost:8080/files/v1/messages/5/replies",
        ),
        (
            json!({"channel": chan(7), "thread": thread()}),
            "http://localhost:8080/files/v1/threads/t1/messages",
        ),
    ] {
        let mut request = target;
        request["file"] = file.clone();
        request["groupTag"] = json!("g");
        request["properties"] = json!({"k": 1});
        request["progressListener"] = json!({"onStarted": true});
        let id = h.c.call(Call::SendMessage.op(), &request, h.now).unwrap();
        assert!(h.take_sent().is_empty(), "uploads go over HTTP, not STOMP");
        let u = h.c.poll_upload().expect("an upload");
        assert_eq!((u.id, u.url.as_str(), u.grant.as_str()), (id, stream, "w1"));
        assert_eq!(u.file, file);
        // Text parts are JSON-encoded (docs/protocol.md §10.2).
        assert_eq!(
            u.fields,
            [
                ("groupTag", "\"g\"".to_owned()),
                ("properties", "{\"k\":1}".to_owned())
            ]
        );
        assert_eq!(u.listener, Some(json!({"onStarted": true})));
    }
}

#[test]
fn an_upload_answer_is_the_resource_itself_and_failures_carry_the_status() {
    let mut h = Harness::new();
    h.session();
    let request = json!({"channel": chan(7), "file": {"uri": "data:text/plain;base64,aGk=", "name": "hi.txt"}});
    let id = h.c.call(Call::SendMessage.op(), &request, h.now).unwrap();
    let u = h.c.poll_upload().unwrap();
    let answer = json!({"id": 1, "type": "FILE", "file": {"url": "http://h/f/1"}});
    assert!(h.c.handle_upload(u.id, 201, &answer.to_string()));
    let done = h.take_done();
    assert_eq!(
        resource_of(completion(&done, id))["file"]["url"],
        "http://h/f/1?grant=r1"
    );
    assert!(!h.c.handle_upload(u.id, 201, "{}"), "answered once");

    h.c.call(Call::SendMessage.op(), &request, h.now).unwrap();
    let u = h.c.poll_upload().unwrap();
    assert!(!h.c.handle_upload(
        u.id,
        413,
        r#"{"error":"PayloadTooLargeError","message":"big"}"#
    ));
    let done = h.take_done();
    assert!(matches!(&completion(&done, u.id).result,
        Err(Failure::Http { status: 413, body: Some(b) }) if b["error"] == "PayloadTooLargeError"));

    h.c.call(Call::SendMessage.op(), &request, h.now).unwrap();
    let u = h.c.poll_upload().unwrap();
    assert!(!h.c.handle_upload(u.id, 0, ""), "network error");
    let done = h.take_done();
    assert!(matches!(
        &completion(&done, u.id).result,
        Err(Failure::Http {
            status: 0,
            body: None
        })
    ));
}

#[test]
fn files_that_are_neither_uploadable_nor_external_fail_validation() {
    let mut h = Harness::new();
    h.session();
    let id =
        h.c.call(
            Call::SendMessage.op(),
            &json!({"channel": chan(7), "file": {"uri": "file:///a", "name": "a"}}),
            h.now,
        )
        .unwrap();
    assert!(h.c.poll_upload().is_none());
    let done = h.take_done();
    assert!(matches!(
        &completion(&done, id).result,
        Err(Failure::Validation(_))
    ));
}

#[test]
fn a_display_picture_file_is_uploaded_and_replaces_the_current_user() {
    let mut h = Harness::new();
    h.session();
    let id =
        h.c.call(
            op_of("updateCurrentUserDisplayPicture"),
            &json!({"file": {"name": "me.png"}}),
            h.now,
        )
        .unwrap();
    assert!(h.take_sent().is_empty());
    let u = h.c.poll_upload().unwrap();
    assert_eq!(u.url, "http://localhost:8080/files/v1/user/display_picture");
    assert!(u.fields.is_empty());
    let mut me = user();
    me["displayPictureUrl"] = json!("http://h/p.png");
    assert!(h.c.handle_upload(id, 200, &me.to_string()));
    assert_eq!(
        h.c.current_user().unwrap()["displayPictureUrl"],
        "http://h/p.png"
    );
    let done = h.take_done();
    assert_eq!(
        resource_of(completion(&done, id))["displayPictureUrl"],
        "http://h/p.png"
    );
}

#[test]
fn set_thread_follows_one_thread_at_a_time_until_the_session_ends() {
    let mut h = Harness::new();
    h.session();
    let mut req = all_handlers(chan(7));
    req["onThreadMessageReceived"] = json!(true); // the 2.x spelling alone still counts
    let (chat, _) = confirmed_chat(&mut h, req);
    h.c.set_thread(chat, &thread(), h.now).unwrap();
    let sent = h.take_sent();
    assert_eq!(
        dests(&sent),
        [
            "/topic/v1/threads/t1/messages",
            "/topic/v1/threads/t1/keystrokes",
            "/topic/v1/threads/t1/typing"
        ]
    );
    assert!(sent.iter().all(|f| f.header("receipt").is_some()));
    let messages_sub = sent[0].clone();
    h.event(
        &messages_sub,
        "thread.message.created",
        json!({"id": 1, "file": {"url": "http://f/1"}}),
        None,
    );
    h.event(
        &sent[2],
        "thread.typing.started",
        json!({"name": "john"}),
        None,
    );
    let events = chat_events(&h.take_events());
    assert_eq!(events.len(), 2);
    assert_eq!(events[0].1, ChatEvent::ThreadReceivedMessage);
    assert_eq!(events[0].2["id"], "t1", "the thread comes first");
    assert_eq!(
        events[0].3.as_ref().unwrap()["file"]["url"],
        "http://f/1?grant=r1"
    );
    assert_eq!(events[1].1, ChatEvent::ThreadTypingStarted);

    // Another thread: the new topics, then the old ones left.
    let mut other = thread();
    for k in ["messages", "keystrokes", "typing"] {
        other["_topics"][k] = json!(format!("/topic/v1/threads/t2/{k}"));
    }
    h.c.set_thread(chat, &other, h.now).unwrap();
    let sent = h.take_sent();
    let subs: Vec<&Frame> = sent
        .iter()
        .filter(|f| f.command == Command::Subscribe)
        .collect();
    let unsubs: Vec<&Frame> = sent
        .iter()
        .filter(|f| f.command == Command::Unsubscribe)
        .collect();
    assert_eq!(subs.len(), 3);
    assert_eq!(unsubs.len(), 3);
    assert_eq!(unsubs[2].header("id"), messages_sub.header("id"));
    // Events of the old thread no longer reach the session.
    h.event(
        &messages_sub,
        "thread.message.created",
        json!({"id": 2}),
        None,
    );
    assert!(chat_events(&h.take_events()).is_empty());

    // end() leaves the thread's topics with the channel's.
    h.c.end_chat_session(chat, h.now);
    let sent = h.take_sent();
    assert_eq!(
        sent.iter()
            .filter(|f| f.command == Command::Unsubscribe)
            .count(),
        3 + 8
    );
    assert_eq!(h.c.set_thread(chat, &thread(), h.now), Ok(()));
    assert!(h.take_sent().is_empty(), "an ended session follows nothing");
    assert_eq!(
        h.c.set_thread(chat, &json!({}), h.now),
        Err(Misuse::Expected("thread must be a thread the server sent"))
    );
}

#[test]
fn reactions_and_read_receipts_reach_their_handlers_after_the_message_relay() {
    let mut h = Harness::new();
    h.session();
    let (chat, subs) = confirmed_chat(&mut h, all_handlers(chan(7)));
    let reactions = find(&subs, "/topic/v1/channels/7/reactions").clone();
    let reaction = json!({"emoji": {"character": "👍"}, "_relays": {"message": "/application/v1/messages/5.relay"}});
    h.event(
        &reactions,
        "message.reaction.created",
        reaction.clone(),
        None,
    );
    h.event(
        &reactions,
        "message.reaction.removed",
        reaction.clone(),
        None,
    );
    let lookups = h.take_sent();
    assert_eq!(dests(&lookups), ["/application/v1/messages/5.relay"; 2]);
    assert!(
        chat_events(&h.take_events()).is_empty(),
        "waits for the message"
    );
    h.answer_relay(&lookups[0], msg(5));
    h.answer_relay(&lookups[1], msg(5));
    let events = chat_events(&h.take_events());
    let kinds: Vec<ChatEvent> = events.iter().map(|e| e.1).collect();
    assert_eq!(
        kinds,
        [
            ChatEvent::MessageReactionAdded,
            ChatEvent::MessageReactionRemoved
        ]
    );
    assert!(events
        .iter()
        .all(|e| e.0 == chat && e.2["id"] == 5 && e.3 == Some(reaction.clone())));
}

// ----- moderation (docs/api.md §16.1, docs/protocol.md §22) ---------------------------

#[test]
fn moderation_calls_send_their_verb_to_the_id_of_the_channel_or_message() {
    let c = chan(7);
    let m = msg(5);
    let john = json!({"username": "john"});
    let whole = other_user();
    #[rustfmt::skip]
    let cases = [
        ("flagMessage", json!({"message": m, "reason": "spam"}), "/application/v1/messages/5.flag", json!({"reason": "spam"})),
        ("flagMessage", json!({"message": m}), "/application/v1/messages/5.flag", json!({})),
        ("banChannelMember", json!({"channel": c, "user": john, "reason": "abuse", "durationSeconds": 3600}), "/application/v1/channels/7.ban", json!({"user": john, "reason": "abuse", "durationSeconds": 3600})),
        ("banChannelMember", json!({"channel": c, "user": whole}), "/application/v1/channels/7.ban", json!({"user": whole})),
        ("unbanChannelMember", json!({"channel": c, "user": john}), "/application/v1/channels/7.unban", json!({"user": john})),
        ("muteChannelMember", json!({"channel": c, "user": john, "durationSeconds": 600}), "/application/v1/channels/7.mute_member", json!({"user": john, "durationSeconds": 600})),
        ("unmuteChannelMember", json!({"channel": c, "user": john}), "/application/v1/channels/7.unmute_member", json!({"user": john})),
        ("setChannelSlowMode", json!({"channel": c, "seconds": 30}), "/application/v1/channels/7.slow_mode", json!({"seconds": 30})),
        ("setChannelSlowMode", json!({"channel": c, "seconds": 0}), "/application/v1/channels/7.slow_mode", json!({"seconds": 0})),
    ];
    let mut h = Harness::new();
    h.session();
    for (name, request, destination, body) in cases {
        let (_, f) = sent_by(&mut h, name, request);
        assert_eq!(f.command, Command::Send, "{name}");
        assert_eq!(dest_of(&f), destination, "{name}");
        assert_eq!(
            f.header("content-type"),
            Some("application/json;charset=UTF-8")
        );
        assert!(
            f.header("receipt").is_some(),
            "{name}: a receipt to resolve on"
        );
        assert_eq!(
            f.header("idempotency-key"),
            None,
            "{name}: not a message send"
        );
        let got: Value = serde_json::from_slice(&f.body).unwrap();
        assert_eq!(got, body, "{name} body");
    }
}

#[test]
fn a_moderation_call_resolves_on_its_receipt_or_fails_with_the_servers_error() {
    let mut h = Harness::new();
    let s = h.session();
    let c = chan(7);
    let john = json!({"username": "john"});
    let (ok, f) = sent_by(
        &mut h,
        "muteChannelMember",
        json!({"channel": c, "user": john}),
    );
    assert!(
        h.take_done().is_empty(),
        "nothing before the server answers"
    );
    h.receipt(f.header("receipt").unwrap());
    assert_eq!(resource_of(completion(&h.take_done(), ok)), c);

    let (refused, f) = sent_by(
        &mut h,
        "banChannelMember",
        json!({"channel": c, "user": john}),
    );
    let receipt = f.header("receipt").unwrap().to_owned();
    h.queue_error(&s.errors, Some(("receipt-id", &receipt)), "ForbiddenError");
    match &completion(&h.take_done(), refused).result {
        Err(Failure::Server(e)) => assert_eq!(e["error"], "ForbiddenError"),
        other => panic!("expected the server's error, got {other:?}"),
    }
    // The RECEIPT that follows the error (docs/protocol.md §3.3) changes nothing.
    h.receipt(&receipt);
    assert!(h.take_done().is_empty());
    assert_eq!(h.c.table_sizes()[2], 0, "no action left waiting");

    let (flagged, f) = sent_by(&mut h, "flagMessage", json!({"message": msg(5)}));
    h.receipt(f.header("receipt").unwrap());
    assert_eq!(resource_of(completion(&h.take_done(), flagged))["id"], 5);
}

#[test]
fn moderation_calls_throw_without_a_channel_or_message_id() {
    let mut h = Harness::new();
    h.session();
    let user = json!({"username": "john"});
    for (name, request, thrown) in [
        (
            "banChannelMember",
            json!({"user": user}),
            Misuse::InvalidArgument("channel"),
        ),
        (
            "muteChannelMember",
            json!({"channel": {"name": "c"}, "user": user}),
            Misuse::InvalidArgument("channel"),
        ),
        (
            "setChannelSlowMode",
            json!({"channel": {"id": "7"}, "seconds": 5}),
            Misuse::InvalidArgument("id"),
        ),
        (
            "flagMessage",
            json!({"message": {"id": -1}}),
            Misuse::InvalidArgument("id"),
        ),
        ("flagMessage", json!({}), Misuse::InvalidArgument("message")),
    ] {
        assert_eq!(
            h.c.call(op_of(name), &request, h.now),
            Err(thrown),
            "{name}"
        );
    }
    assert!(h.take_sent().is_empty());
}

/// The moderation destinations are built without the protocol crate's `format!`-based
/// builder; they must be what it builds.
#[test]
fn moderation_destinations_are_the_protocol_crates() {
    use chatkitty_protocol::destination::{Action, ChannelVerb, MessageVerb};
    let mut h = Harness::new();
    h.session();
    for id in [0, 7, 1_234_567_890_123] {
        let c = json!({"id": id});
        let user = json!({"id": 9});
        for (name, verb) in [
            ("banChannelMember", ChannelVerb::Ban),
            ("unbanChannelMember", ChannelVerb::Unban),
            ("muteChannelMember", ChannelVerb::MuteMember),
            ("unmuteChannelMember", ChannelVerb::UnmuteMember),
            ("setChannelSlowMode", ChannelVerb::SlowMode),
        ] {
            let (_, f) = sent_by(
                &mut h,
                name,
                json!({"channel": c, "user": user, "seconds": 1}),
            );
            assert_eq!(dest_of(&f), Action::Channel(id, verb).to_destination());
        }
        let (_, f) = sent_by(&mut h, "flagMessage", json!({"message": {"id": id}}));
        assert_eq!(
            dest_of(&f),
            Action::Message(id, MessageVerb::Flag).to_destination()
        );
    }
}
