//! The core driven by a scripted fake server and a fake clock.

use super::*;
use chatkitty_protocol::destination as dest;
use chatkitty_protocol::Decoder;
use serde_json::{json, Value};

const USER_TOPICS: [&str; 10] = [
    "/topic/v1/users/42",
    "/topic/v1/users/42/channels",
    "/topic/v1/users/42/messages",
    "/topic/v1/users/42/notifications",
    "/topic/v1/users/42/contacts",
    "/topic/v1/users/42/participants",
    "/topic/v1/users/42/users",
    "/topic/v1/users/42/reactions",
    "/topic/v1/users/42/threads",
    "/topic/v1/users/42/calls",
];

fn user() -> Value {
    let topics: serde_json::Map<String, Value> = UserTopic::ALL
        .iter()
        .zip(USER_TOPICS)
        .map(|(t, d)| (t.link_name().to_owned(), json!(d)))
        .collect();
    json!({
        "id": 42, "name": "jane", "displayName": "Jane",
        "_relays": {
            "self": "/application/v1/user.relay",
            "channels": "/u/channels.relay", "joinableChannels": "/u/joinable.relay",
            "unreadChannels": "/u/unread_channels.relay", "channelsCount": "/u/channels.count.relay",
            "unreadMessagesCount": "/u/unread_messages.count.relay",
            "contacts": "/u/contacts.relay", "contactsCount": "/u/contacts.count.relay",
            "userBlockListItems": "/u/block_list_items.relay"
        },
        "_topics": topics,
        "_actions": {
            "createChannel": "/application/v1/user.create_channel",
            "update": "/application/v1/user.update",
            "updateDisplayPicture": "/application/v1/user.update_display_picture"
        },
        "_streams": {"displayPicture": "/files/v1/user/display_picture"}
    })
}

fn channel(id: u64) -> Value {
    let c = format!("/topic/v1/channels/{id}");
    json!({
        "id": id, "type": "DIRECT", "name": format!("c{id}"),
        "_relays": {"messages": format!("/application/v1/channels/{id}/messages.relay")},
        "_topics": {
            "self": c, "messages": format!("{c}/messages"), "keystrokes": format!("{c}/keystrokes"),
            "typing": format!("{c}/typing"), "participants": format!("{c}/participants"),
            "readReceipts": format!("{c}/read_receipts"), "reactions": format!("{c}/reactions"),
            "events": format!("{c}/events")
        },
        "_actions": {
            "message": format!("/application/v1/channels/{id}.message"),
            "keystrokes": format!("/application/v1/channels/{id}.keystrokes")
        }
    })
}

mod ops;
mod reliability;
mod surface;

const CHANNEL_TOPIC_SEGMENTS: [&str; 8] = [
    "",
    "/messages",
    "/keystrokes",
    "/typing",
    "/participants",
    "/read_receipts",
    "/reactions",
    "/events",
];

/// The calls the older tests were written against, through the op table.
impl Client<Value> {
    fn get_current_user(&mut self, now: u64) -> Result<Id, Misuse> {
        self.call(Call::GetCurrentUser.op(), &Value::Null, now)
    }
    fn create_channel(&mut self, request: &Value, now: u64) -> Result<Id, Misuse> {
        self.call(Call::CreateChannel.op(), request, now)
    }
    fn get_channel(&mut self, id: u64, now: u64) -> Id {
        self.call(Call::GetChannel.op(), &json!(id), now).unwrap()
    }
    fn send_message(&mut self, request: &Value, now: u64) -> Result<Id, Misuse> {
        self.call(Call::SendMessage.op(), request, now)
    }
    fn get_messages(&mut self, request: &Value, now: u64) -> Result<Id, Misuse> {
        self.call(Call::GetMessages.op(), request, now)
    }
}

/// The client plus everything it produced, with a fake clock.
struct Harness {
    c: Client<Value>,
    now: u64,
    sent: Vec<Frame>,
    heartbeats_sent: usize,
    opened: Vec<String>,
    closes: usize,
    done: Vec<Completion<Value>>,
    events: Vec<Event<Value>>,
    next_message_id: u32,
}

impl Harness {
    fn new() -> Harness {
        let config = Config::new("test key".into(), "localhost:8080".into(), false);
        Harness {
            c: Client::new(config, 1),
            now: 1_000,
            sent: Vec::new(),
            heartbeats_sent: 0,
            opened: Vec::new(),
            closes: 0,
            done: Vec::new(),
            events: Vec::new(),
            next_message_id: 0,
        }
    }

    /// A harness whose client has `seed` and the settings `f` makes.
    fn with(seed: u64, f: impl FnOnce(&mut Config)) -> Harness {
        let mut h = Harness::new();
        let mut config = Config::new("test key".into(), "localhost:8080".into(), false);
        f(&mut config);
        h.c = Client::new(config, seed);
        h
    }

    /// Drains every output queue.
    fn pump(&mut self) {
        while let Some(io) = self.c.poll_io() {
            match io {
                Io::Open(url) => self.opened.push(url),
                Io::Close => self.closes += 1,
                Io::Send(text) => {
                    let mut d = Decoder::default();
                    d.push(text.as_bytes());
                    for item in d.decode_all().expect("the client sends valid STOMP") {
                        match item {
                            Item::Frame(f) => self.sent.push(f),
                            Item::Heartbeat => self.heartbeats_sent += 1,
                        }
                    }
                }
            }
        }
        while let Some(c) = self.c.poll_completion() {
            self.done.push(c);
        }
        while let Some(e) = self.c.poll_event() {
            self.events.push(e);
        }
    }

    fn take_sent(&mut self) -> Vec<Frame> {
        self.pump();
        std::mem::take(&mut self.sent)
    }

    fn take_done(&mut self) -> Vec<Completion<Value>> {
        self.pump();
        std::mem::take(&mut self.done)
    }

    fn take_events(&mut self) -> Vec<Event<Value>> {
        self.pump();
        std::mem::take(&mut self.events)
    }

    /// Moves the clock, firing every timer that falls due on the way.
    fn advance(&mut self, ms: u64) {
        let end = self.now + ms;
        while let Some(t) = self.c.poll_timeout().filter(|&t| t <= end) {
            self.now = t.max(self.now);
            self.c.handle_timeout(self.now);
            self.pump();
        }
        self.now = end;
    }

    fn server(&mut self, frame: Frame) {
        self.c.handle_data(&frame.encode(), self.now);
        self.pump();
    }

    fn connected(&mut self, session: &str) {
        self.server(
            Frame::new(Command::Connected)
                .with_header("version", "1.2")
                .with_header("heart-beat", "10000,60000")
                .with_header("session", session),
        );
    }

    fn message(&mut self, sub: &str, dest: &str, body: Value, receipt_id: Option<&str>) {
        self.next_message_id += 1;
        let mut f = Frame::new(Command::Message)
            .with_header("destination", dest)
            .with_header("subscription", sub)
            .with_header("message-id", format!("m-{}", self.next_message_id))
            .with_header("ack", format!("a-{}", self.next_message_id));
        if let Some(r) = receipt_id {
            f.push_header("receipt-id", r);
        }
        self.server(f.with_body(body.to_string()));
    }

    fn answer_relay(&mut self, f: &Frame, resource: Value) {
        let (sub, dest) = (id_of(f), dest_of(f));
        self.message(&sub, &dest, json!({ "resource": resource }), None);
    }

    fn event(&mut self, topic_sub: &Frame, ty: &str, resource: Value, receipt_id: Option<&str>) {
        let (sub, dest) = (id_of(topic_sub), dest_of(topic_sub));
        self.message(
            &sub,
            &dest,
            json!({"type": ty, "version": "v1", "resource": resource}),
            receipt_id,
        );
    }

    fn receipt(&mut self, receipt: &str) {
        self.server(Frame::new(Command::Receipt).with_header("receipt-id", receipt));
    }

    fn queue_error(&mut self, errors_sub: &Frame, correlation: Option<(&str, &str)>, name: &str) {
        self.next_message_id += 1;
        let mut f = Frame::new(Command::Message)
            .with_header("destination", dest::ERRORS_QUEUE)
            .with_header("subscription", id_of(errors_sub))
            .with_header("message-id", format!("e-{}", self.next_message_id));
        if let Some((h, v)) = correlation {
            f.push_header(h, v);
        }
        let body = json!({"error": name, "message": "no", "timestamp": "2024-05-01T12:00:00.000Z"});
        self.server(f.with_body(body.to_string()));
    }

    fn start(&mut self, request: Value) -> Id {
        let id = self
            .c
            .start_session(&request, self.now)
            .expect("startSession accepted");
        self.pump();
        id
    }

    /// A full start: open, CONNECTED, start-up relays answered, topics confirmed.
    /// Returns the errors-queue SUBSCRIBE and the ten user topic SUBSCRIBEs.
    fn session(&mut self) -> Session {
        let id = self.start(json!({"username": "jane"}));
        self.c.handle_open(self.now);
        // CONNECT, then the start-up frames pipelined behind it.
        let startup = self.take_sent();
        assert_eq!(startup[0].command, Command::Connect);
        self.connected("s-1");
        assert!(self.take_sent().is_empty(), "nothing waits for CONNECTED");
        let errors = find(&startup, dest::ERRORS_QUEUE).clone();
        self.answer_relay(find(&startup, dest::CURRENT_USER_RELAY), user());
        self.answer_relay(
            find(&startup, dest::WRITE_GRANT_RELAY),
            json!({"grant": "w1"}),
        );
        self.answer_relay(
            find(&startup, dest::READ_GRANT_RELAY),
            json!({"grant": "r1"}),
        );
        let topics = self.take_sent();
        assert_eq!(topics.len(), 10);
        for t in &topics {
            self.receipt(t.header("receipt").unwrap());
        }
        let done = self.take_done();
        assert!(done
            .iter()
            .any(|c| c.id == id && matches!(c.result, Ok(Done::Session(_)))));
        self.take_events();
        Session { errors, topics }
    }
}

struct Session {
    errors: Frame,
    topics: Vec<Frame>,
}

impl Session {
    fn topic(&self, dest: &str) -> &Frame {
        find(&self.topics, dest)
    }
}

fn id_of(f: &Frame) -> String {
    f.header("id").expect("SUBSCRIBE has an id").to_owned()
}

fn dest_of(f: &Frame) -> String {
    f.header("destination")
        .expect("has a destination")
        .to_owned()
}

fn find<'a>(frames: &'a [Frame], dest: &str) -> &'a Frame {
    frames
        .iter()
        .find(|f| f.header("destination") == Some(dest))
        .unwrap_or_else(|| panic!("no frame to {dest} in {frames:#?}"))
}

fn dests(frames: &[Frame]) -> Vec<String> {
    frames.iter().map(dest_of).collect()
}

fn resource_of(c: &Completion<Value>) -> Value {
    match &c.result {
        Ok(Done::Resource(Some(r))) => r.clone(),
        other => panic!("expected a resource, got {other:?}"),
    }
}

fn completion(done: &[Completion<Value>], id: Id) -> &Completion<Value> {
    done.iter()
        .find(|c| c.id == id)
        .unwrap_or_else(|| panic!("{id} did not complete: {done:#?}"))
}

fn chat_events(events: &[Event<Value>]) -> Vec<(Id, ChatEvent, Value, Option<Value>)> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::Chat {
                session,
                kind,
                first,
                second,
            } => Some((*session, *kind, first.clone(), second.clone())),
            _ => None,
        })
        .collect()
}

/// Starts a chat session on channel 7 and confirms all its subscriptions (and answers
/// the recovery seed of a session with `onReceivedMessage`: no message yet).
fn confirmed_chat(h: &mut Harness, request: Value) -> (Id, Vec<Frame>) {
    let id = h.c.start_chat_session(&request, h.now).unwrap();
    let first = h.take_sent();
    h.receipt(first[0].header("receipt").unwrap());
    let rest = h.take_sent();
    for f in &rest {
        h.receipt(f.header("receipt").unwrap());
    }
    answer_seeds(h, &[]);
    let mut all = first;
    all.extend(rest);
    (id, all)
}

/// A page of messages as `channel._relays.messages` answers (newest first).
fn page_of(ids: &[u64], prev: Option<&str>) -> Value {
    let items: Vec<Value> = ids
        .iter()
        .rev()
        .map(|i| json!({"id": i, "body": format!("m{i}")}))
        .collect();
    let mut relays = json!({});
    if let Some(p) = prev {
        relays["prev"] = json!(p);
    }
    json!({"_embedded": {"messages": items}, "_relays": relays})
}

/// Answers every pending recovery seed (`size:1`) with a page holding `newest`.
fn answer_seeds(h: &mut Harness, newest: &[u64]) -> usize {
    let sent = h.take_sent();
    let mut n = 0;
    for f in &sent {
        assert!(
            dest_of(f).ends_with("/messages.relay?size=1"),
            "only recovery seeds: {f:?}"
        );
        h.answer_relay(f, page_of(newest, None));
        n += 1;
    }
    n
}

fn all_handlers(c: Value) -> Value {
    let mut req = json!({ "channel": c });
    for kind in ChatEvent::ALL {
        req[kind.handler()] = json!(true);
    }
    req
}

// ----- connecting and starting a session --------------------------------------------

#[test]
fn start_session_opens_the_websocket_url_with_the_encoded_api_key() {
    let mut h = Harness::new();
    h.start(json!({"username": "jane"}));
    assert_eq!(
        h.opened,
        ["ws://localhost:8080/rtm/websocket?api-key=test%20key"]
    );
}

#[test]
fn connect_carries_user_agent_auth_params_and_heart_beat_but_no_session_id_at_first() {
    let mut h = Harness::new();
    h.start(json!({"username": "jane", "authParams": {"token": "abc"}}));
    h.c.handle_open(h.now);
    let sent = h.take_sent();
    let connect = &sent[0];
    assert_eq!(connect.command, Command::Connect);
    assert_eq!(connect.header("StompX-User"), Some("jane"));
    assert_eq!(connect.header("StompX-User-Agent"), Some(USER_AGENT));
    assert!(USER_AGENT.starts_with("chatkitty-wasm/"));
    assert_eq!(
        connect.header("StompX-Auth-Params"),
        Some("eyJ0b2tlbiI6ImFiYyJ9")
    );
    assert_eq!(connect.header("StompX-Auth-Session-ID"), None);
    assert_eq!(connect.header("accept-version"), Some("1.2"));
    assert_eq!(connect.header("heart-beat"), Some("60000,10000"));
}

#[test]
fn guest_sessions_send_no_auth_params() {
    let mut h = Harness::new();
    h.start(json!({"username": "jane", "authParams": null}));
    h.c.handle_open(h.now);
    assert_eq!(h.take_sent()[0].header("StompX-Auth-Params"), None);
}

#[test]
fn auth_params_outside_latin1_are_refused_before_connecting() {
    let mut h = Harness::new();
    let r =
        h.c.start_session(&json!({"username": "j", "authParams": {"t": "€"}}), 0);
    assert_eq!(r, Err(Misuse::AuthParamsNotLatin1));
    h.pump();
    assert!(h.opened.is_empty());
}

#[test]
fn start_up_is_pipelined_so_the_session_starts_one_round_trip_after_the_socket_opens() {
    let mut h = Harness::new();
    let id = h.start(json!({"username": "jane"}));
    h.c.handle_open(h.now);
    let mut startup = h.take_sent();
    // CONNECT, and behind it everything that does not depend on the user, at once.
    assert_eq!(startup.remove(0).command, Command::Connect);
    assert_eq!(
        dests(&startup),
        [
            dest::ERRORS_QUEUE,
            dest::CURRENT_USER_RELAY,
            dest::WRITE_GRANT_RELAY,
            dest::READ_GRANT_RELAY
        ]
    );
    assert!(startup.iter().all(|f| f.command == Command::Subscribe));
    assert!(startup
        .iter()
        .all(|f| f.header("id").unwrap().starts_with("subscription-id-")));
    assert!(startup.iter().all(|f| f.header("receipt").is_none()));
    h.connected("s-1");
    assert!(h.take_sent().is_empty(), "nothing waits for CONNECTED");
    // The same round trip: the three answers arrive right behind CONNECTED.
    h.answer_relay(&startup[2], json!({"grant": "w1"}));
    h.answer_relay(&startup[3], json!({"grant": "r1"}));
    assert!(
        h.take_done().is_empty(),
        "no session before the user arrives"
    );
    h.answer_relay(&startup[1], user());
    let topics = h.take_sent();
    assert_eq!(dests(&topics), USER_TOPICS);
    for t in &topics {
        assert_eq!(t.header("ack"), Some("client-individual"));
        assert!(t.header("receipt").unwrap().starts_with("receipt-"));
    }
    // Resolved without waiting for the ten receipts.
    let done = h.take_done();
    match &completion(&done, id).result {
        Ok(Done::Session(u)) => assert_eq!(u["name"], "jane"),
        other => panic!("{other:?}"),
    }
    assert_eq!(h.c.current_user().unwrap()["id"], 42);
}

#[test]
fn online_and_offline_and_current_user_observers_follow_the_session() {
    let mut h = Harness::new();
    h.start(json!({"username": "jane"}));
    assert!(matches!(h.take_events()[..], [Event::Offline]));
    h.c.handle_open(h.now);
    h.connected("s-1");
    let startup = h.take_sent();
    assert!(matches!(h.take_events()[..], [Event::Online]));
    h.answer_relay(
        find(&startup, dest::WRITE_GRANT_RELAY),
        json!({"grant": "w"}),
    );
    h.answer_relay(
        find(&startup, dest::READ_GRANT_RELAY),
        json!({"grant": "r"}),
    );
    h.answer_relay(find(&startup, dest::CURRENT_USER_RELAY), user());
    assert!(matches!(&h.take_events()[..], [Event::CurrentUser(Some(u))] if u["id"] == 42));
}

#[test]
fn start_session_twice_is_a_session_active_error() {
    let mut h = Harness::new();
    h.session();
    assert_eq!(
        h.c.start_session(&json!({"username": "x"}), h.now),
        Err(Misuse::SessionActive)
    );
}

#[test]
fn an_error_frame_fails_start_session_with_the_server_error_and_stops() {
    let mut h = Harness::new();
    let id = h.start(json!({"username": "jane"}));
    h.c.handle_open(h.now);
    h.take_sent();
    let body = json!({"error": "AccessDeniedError", "message": "no", "timestamp": "t"});
    h.server(Frame::new(Command::Error).with_body(body.to_string()));
    let done = h.take_done();
    match &completion(&done, id).result {
        Err(Failure::Server(e)) => assert_eq!(e["error"], "AccessDeniedError"),
        other => panic!("{other:?}"),
    }
    assert_eq!(h.closes, 1);
    h.advance(120_000);
    assert_eq!(h.opened.len(), 1, "no reconnect after a failed start");
    // A new start is allowed.
    assert!(h
        .c
        .start_session(&json!({"username": "jane"}), h.now)
        .is_ok());
}

#[test]
fn an_error_frame_without_json_fails_start_session_as_unknown() {
    let mut h = Harness::new();
    let id = h.start(json!({"username": "jane"}));
    h.c.handle_open(h.now);
    h.server(Frame::new(Command::Error).with_body("boom"));
    assert!(matches!(
        completion(&h.take_done(), id).result,
        Err(Failure::Unknown)
    ));
}

#[test]
fn a_socket_that_never_opens_fails_start_session_with_a_connection_error() {
    let mut h = Harness::new();
    let id = h.start(json!({"username": "jane"}));
    h.c.handle_closed(h.now);
    assert!(matches!(
        completion(&h.take_done(), id).result,
        Err(Failure::Connection)
    ));
}

#[test]
fn connected_must_arrive_within_the_connection_timeout() {
    let mut h = Harness::new();
    let id = h.start(json!({"username": "jane"}));
    h.c.handle_open(h.now);
    h.advance(59_000);
    assert!(h.take_done().is_empty());
    h.advance(2_000);
    assert!(matches!(
        completion(&h.take_done(), id).result,
        Err(Failure::Connection)
    ));
    assert_eq!(h.closes, 1);
}

// ----- relays and actions -----------------------------------------------------------

#[test]
fn calls_without_a_session_are_no_active_session_errors() {
    let mut h = Harness::new();
    let c = channel(7);
    assert_eq!(h.c.get_current_user(0), Err(Misuse::NoActiveSession));
    assert_eq!(
        h.c.create_channel(&json!({"type": "DIRECT"}), 0),
        Err(Misuse::NoActiveSession)
    );
    let msg = json!({"channel": c, "body": "hi"});
    assert_eq!(h.c.send_message(&msg, 0), Err(Misuse::NoActiveSession));
    let keys = json!({"channel": c, "keys": "h"});
    assert_eq!(h.c.send_keystrokes(&keys, 0), Err(Misuse::NoActiveSession));
    assert_eq!(
        h.c.get_messages(&json!({"channel": c}), 0),
        Err(Misuse::NoActiveSession)
    );
}

#[test]
fn get_channel_before_a_session_waits_for_the_connection() {
    let mut h = Harness::new();
    let id = h.c.get_channel(7, h.now);
    assert!(h.take_sent().is_empty());
    h.start(json!({"username": "jane"}));
    h.c.handle_open(h.now);
    h.take_sent();
    h.connected("s-1");
    let sent = h.take_sent();
    let relay = find(&sent, "/application/v1/channels/7.relay").clone();
    h.answer_relay(&relay, channel(7));
    assert_eq!(resource_of(completion(&h.take_done(), id))["id"], 7);
}

#[test]
fn a_relay_completes_only_on_the_message_of_its_own_subscription() {
    let mut h = Harness::new();
    h.session();
    let a = h.c.get_channel(7, h.now);
    let b = h.c.get_channel(7, h.now);
    let sent = h.take_sent();
    assert_eq!(sent.len(), 2);
    assert_ne!(id_of(&sent[0]), id_of(&sent[1]));
    h.answer_relay(&sent[1], json!({"id": 7, "which": "b"}));
    let done = h.take_done();
    assert_eq!(done.len(), 1);
    assert_eq!(resource_of(completion(&done, b))["which"], "b");
    h.answer_relay(&sent[0], json!({"id": 7, "which": "a"}));
    assert_eq!(resource_of(completion(&h.take_done(), a))["which"], "a");
}

#[test]
fn a_relay_fails_on_an_errors_queue_message_naming_its_subscription() {
    let mut h = Harness::new();
    let s = h.session();
    let id = h.c.get_channel(99, h.now);
    let relay = h.take_sent().remove(0);
    h.queue_error(
        &s.errors,
        Some(("subscription-id", &id_of(&relay))),
        "NotFoundError",
    );
    match &completion(&h.take_done(), id).result {
        Err(Failure::Server(e)) => assert_eq!(e["error"], "NotFoundError"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn get_current_user_relays_the_users_self_link() {
    let mut h = Harness::new();
    h.session();
    let id = h.c.get_current_user(h.now).unwrap();
    let relay = h.take_sent().remove(0);
    assert_eq!(dest_of(&relay), "/application/v1/user.relay");
    h.answer_relay(&relay, user());
    assert_eq!(resource_of(completion(&h.take_done(), id))["name"], "jane");
}

#[test]
fn create_channel_sends_the_request_as_given_and_completes_on_its_correlated_event() {
    let mut h = Harness::new();
    let s = h.session();
    let req = json!({"type": "DIRECT", "members": [{"username": "john"}], "extra": 1});
    let id = h.c.create_channel(&req, h.now).unwrap();
    let send = h.take_sent().remove(0);
    assert_eq!(send.command, Command::Send);
    assert_eq!(dest_of(&send), "/application/v1/user.create_channel");
    assert_eq!(
        send.header("content-type"),
        Some("application/json;charset=UTF-8")
    );
    assert_eq!(serde_json::from_slice::<Value>(&send.body).unwrap(), req);
    let receipt = send.header("receipt").unwrap().to_owned();
    let topic = s.topic(USER_TOPICS[1]).clone();
    // A correlated event of another type does not complete createChannel (3.3).
    h.event(&topic, "user.channel.joined", channel(7), Some(&receipt));
    assert!(h.take_done().is_empty());
    h.event(&topic, "user.channel.upserted", channel(7), Some(&receipt));
    assert_eq!(resource_of(completion(&h.take_done(), id))["id"], 7);
    // The RECEIPT afterwards changes nothing.
    h.receipt(&receipt);
    assert!(h.take_done().is_empty());
}

#[test]
fn other_actions_complete_on_the_first_correlated_event_whatever_its_type() {
    let mut h = Harness::new();
    let s = h.session();
    let id =
        h.c.send_message(&json!({"channel": channel(7), "body": "hi"}), h.now)
            .unwrap();
    let send = h.take_sent().remove(0);
    assert_eq!(dest_of(&send), "/application/v1/channels/7.message");
    assert_eq!(
        serde_json::from_slice::<Value>(&send.body).unwrap(),
        json!({"type": "TEXT", "body": "hi"})
    );
    let receipt = send.header("receipt").unwrap().to_owned();
    let topic = s.topic(USER_TOPICS[2]).clone();
    h.event(
        &topic,
        "anything",
        json!({"id": 1, "body": "hi"}),
        Some(&receipt),
    );
    assert_eq!(resource_of(completion(&h.take_done(), id))["body"], "hi");
}

#[test]
fn an_action_fails_on_an_errors_queue_message_naming_its_receipt() {
    let mut h = Harness::new();
    let s = h.session();
    let a =
        h.c.send_message(&json!({"channel": channel(7), "body": "a"}), h.now)
            .unwrap();
    let b =
        h.c.send_message(&json!({"channel": channel(7), "body": "b"}), h.now)
            .unwrap();
    let sent = h.take_sent();
    h.queue_error(
        &s.errors,
        Some(("receipt-id", sent[1].header("receipt").unwrap())),
        "NotAChannelMemberError",
    );
    let done = h.take_done();
    assert_eq!(done.len(), 1);
    assert!(
        matches!(&completion(&done, b).result, Err(Failure::Server(e)) if e["error"] == "NotAChannelMemberError")
    );
    let _ = a;
}

#[test]
fn an_uncorrelated_error_fails_every_pending_action() {
    let mut h = Harness::new();
    let s = h.session();
    let a =
        h.c.send_message(&json!({"channel": channel(7), "body": "a"}), h.now)
            .unwrap();
    let b =
        h.c.create_channel(&json!({"type": "PUBLIC", "name": "x"}), h.now)
            .unwrap();
    h.take_sent();
    h.queue_error(&s.errors, None, "InternalError");
    let done = h.take_done();
    assert!(matches!(
        completion(&done, a).result,
        Err(Failure::Server(_))
    ));
    assert!(matches!(
        completion(&done, b).result,
        Err(Failure::Server(_))
    ));
}

#[test]
fn send_message_carries_group_tag_and_properties_and_rejects_neither_or_both_contents() {
    let mut h = Harness::new();
    h.session();
    let req = json!({"channel": channel(7), "body": "x", "groupTag": "g", "properties": {"a": 1}});
    h.c.send_message(&req, h.now).unwrap();
    let send = h.take_sent().remove(0);
    assert_eq!(
        serde_json::from_slice::<Value>(&send.body).unwrap(),
        json!({"type": "TEXT", "body": "x", "groupTag": "g", "properties": {"a": 1}})
    );
    let neither =
        h.c.send_message(&json!({"channel": channel(7)}), h.now)
            .unwrap();
    let both = h
        .c
        .send_message(&json!({"channel": channel(7), "body": "x", "file": {"url": "u", "name": "n", "size": 1}}), h.now)
        .unwrap();
    let done = h.take_done();
    assert!(matches!(
        completion(&done, neither).result,
        Err(Failure::Validation(_))
    ));
    assert!(matches!(
        completion(&done, both).result,
        Err(Failure::Validation(_))
    ));
    assert!(h.take_sent().is_empty());
}

#[test]
fn replies_and_thread_messages_use_their_own_action_links() {
    let mut h = Harness::new();
    h.session();
    let message = json!({"id": 5, "_actions": {"reply": "/application/v1/messages/5.reply"}});
    let thread = json!({"id": "t1", "_actions": {"message": "/application/v1/threads/t1.message"}});
    h.c.send_message(
        &json!({"channel": channel(7), "message": message, "body": "r"}),
        h.now,
    )
    .unwrap();
    h.c.send_message(
        &json!({"channel": channel(7), "message": message, "thread": thread, "body": "t"}),
        h.now,
    )
    .unwrap();
    let sent = h.take_sent();
    assert_eq!(
        dests(&sent),
        [
            "/application/v1/messages/5.reply",
            "/application/v1/threads/t1.message"
        ]
    );
}

// ----- file URLs ----------------------------------------------------------------------

#[test]
fn the_read_grant_is_appended_with_question_mark_or_ampersand_once() {
    assert_eq!(
        with_grant("https://h/f.png", "g1"),
        "https://h/f.png?grant=g1"
    );
    assert_eq!(
        with_grant("https://h/f.png?v=2", "g1"),
        "https://h/f.png?v=2&grant=g1"
    );
    assert_eq!(
        with_grant("https://h/f.png#x", "g1"),
        "https://h/f.png?grant=g1#x"
    );
    assert_eq!(
        with_grant("https://h/f.png?grant=g1", "g1"),
        "https://h/f.png?grant=g1"
    );
}

#[test]
fn sent_file_messages_come_back_with_the_read_grant_in_their_url() {
    let mut h = Harness::new();
    let s = h.session();
    let file = json!({"type": "EXTERNAL", "url": "https://cdn/x.png?s=1", "name": "x.png", "contentType": "image/png", "size": 3});
    let id =
        h.c.send_message(&json!({"channel": channel(7), "file": file}), h.now)
            .unwrap();
    let send = h.take_sent().remove(0);
    let body: Value = serde_json::from_slice(&send.body).unwrap();
    assert_eq!(body, json!({"type": "FILE", "file": file}));
    let receipt = send.header("receipt").unwrap().to_owned();
    let topic = s.topic(USER_TOPICS[2]).clone();
    h.event(
        &topic,
        "user.message.created",
        json!({"id": 1, "type": "FILE", "file": file}),
        Some(&receipt),
    );
    let m = resource_of(completion(&h.take_done(), id));
    assert_eq!(m["file"]["url"], "https://cdn/x.png?s=1&grant=r1");
}

// ----- pages --------------------------------------------------------------------------

#[test]
fn get_messages_sends_filter_headers_and_pages_reuse_them_with_the_page_links() {
    let mut h = Harness::new();
    h.session();
    let req = json!({"channel": channel(7), "filter": {"mainThread": true}});
    let id = h.c.get_messages(&req, h.now).unwrap();
    let relay = h.take_sent().remove(0);
    assert_eq!(dest_of(&relay), "/application/v1/channels/7/messages.relay");
    assert_eq!(relay.header("mainThread"), Some("true"));
    let file_msg = json!({"id": 2, "file": {"url": "https://h/f"}});
    let page = json!({
        "_embedded": {"messages": [{"id": 3, "body": "c"}, file_msg]},
        "_relays": {"next": "/application/v1/channels/7/messages.relay?before=2", "prev": null}
    });
    h.answer_relay(&relay, page);
    let done = h.take_done();
    let Ok(Done::Page(p)) = &completion(&done, id).result else {
        panic!("{done:?}")
    };
    assert_eq!(p.items.array_len(), 2);
    assert_eq!(p.items[1]["file"]["url"], "https://h/f?grant=r1");
    assert_eq!(p.prev, None);
    let next = p.next.clone();
    assert_eq!(
        next.as_deref(),
        Some("/application/v1/channels/7/messages.relay?before=2")
    );
    let id2 = h.c.page(next.as_deref(), p.params.clone(), p.kind, h.now);
    let relay2 = h.take_sent().remove(0);
    assert_eq!(
        dest_of(&relay2),
        "/application/v1/channels/7/messages.relay?before=2"
    );
    assert_eq!(relay2.header("mainThread"), Some("true"));
    h.answer_relay(&relay2, json!({"_relays": {}}));
    let done = h.take_done();
    let Ok(Done::Page(p2)) = &completion(&done, id2).result else {
        panic!()
    };
    assert_eq!(p2.items.array_len(), 0, "a page without _embedded is empty");
    assert_eq!((p2.next.clone(), p2.prev.clone()), (None, None));
}

#[test]
fn a_page_without_a_link_is_out_of_bounds() {
    let mut h = Harness::new();
    let id = h.c.page(None, Rc::from([]), PageKind::MESSAGES, 0);
    assert!(matches!(
        completion(&h.take_done(), id).result,
        Err(Failure::PageOutOfBounds)
    ));
}

// ----- chat sessions ------------------------------------------------------------------

#[test]
fn a_chat_session_subscribes_self_first_and_the_seven_others_on_its_receipt() {
    let mut h = Harness::new();
    h.session();
    let id =
        h.c.start_chat_session(&json!({"channel": channel(7)}), h.now)
            .unwrap();
    let first = h.take_sent();
    assert_eq!(dests(&first), ["/topic/v1/channels/7"]);
    assert_eq!(first[0].header("ack"), Some("client-individual"));
    h.pump();
    assert!(h.take_done().is_empty());
    h.receipt(first[0].header("receipt").unwrap());
    let rest = h.take_sent();
    let expected: Vec<String> = CHANNEL_TOPIC_SEGMENTS[1..]
        .iter()
        .map(|s| format!("/topic/v1/channels/7{s}"))
        .collect();
    assert_eq!(dests(&rest), expected);
    for (i, f) in rest.iter().enumerate() {
        assert!(h.take_done().is_empty(), "confirmed before receipt {i}");
        h.receipt(f.header("receipt").unwrap());
    }
    assert!(matches!(
        completion(&h.take_done(), id).result,
        Ok(Done::ChatReady)
    ));
}

#[test]
fn a_chat_session_started_before_the_connection_subscribes_once_connected() {
    let mut h = Harness::new();
    h.c.start_chat_session(&json!({"channel": channel(7)}), h.now)
        .unwrap();
    assert!(h.take_sent().is_empty());
    h.start(json!({"username": "jane"}));
    h.c.handle_open(h.now);
    h.take_sent();
    h.connected("s");
    assert!(dests(&h.take_sent()).contains(&"/topic/v1/channels/7".to_owned()));
}

#[test]
fn ending_a_chat_session_before_confirmation_cancels_its_pending_subscriptions() {
    let mut h = Harness::new();
    h.session();
    let id =
        h.c.start_chat_session(&json!({"channel": channel(7)}), h.now)
            .unwrap();
    let first = h.take_sent();
    h.c.end_chat_session(id, h.now);
    let sent = h.take_sent();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].command, Command::Unsubscribe);
    assert_eq!(sent[0].header("id"), first[0].header("id"));
    // Its awaitable settles, and the late RECEIPT subscribes nothing more.
    assert!(matches!(
        completion(&h.take_done(), id).result,
        Ok(Done::ChatReady)
    ));
    h.receipt(first[0].header("receipt").unwrap());
    assert!(h.take_sent().is_empty());
}

#[test]
fn ending_a_confirmed_chat_session_unsubscribes_everything_in_reverse_order() {
    let mut h = Harness::new();
    h.session();
    let (id, subs) = confirmed_chat(&mut h, json!({"channel": channel(7)}));
    h.take_done();
    h.c.end_chat_session(id, h.now);
    let sent = h.take_sent();
    assert!(sent.iter().all(|f| f.command == Command::Unsubscribe));
    let ids: Vec<String> = sent.iter().map(id_of).collect();
    let expected: Vec<String> = subs.iter().rev().map(id_of).collect();
    assert_eq!(ids, expected);
    // Ending twice is harmless.
    h.c.end_chat_session(id, h.now);
    assert!(h.take_sent().is_empty());
}

#[test]
fn chat_events_reach_the_handler_the_topic_and_type_select_and_only_when_registered() {
    let mut h = Harness::new();
    h.session();
    let req = json!({"channel": channel(7), "onReceivedMessage": true, "onTypingStarted": true});
    let (id, subs) = confirmed_chat(&mut h, req);
    let typing = find(&subs, "/topic/v1/channels/7/typing").clone();
    let messages = find(&subs, "/topic/v1/channels/7/messages").clone();
    let participants = find(&subs, "/topic/v1/channels/7/participants").clone();
    h.event(
        &typing,
        "thread.typing.started",
        json!({"name": "john"}),
        None,
    );
    h.event(
        &typing,
        "thread.typing.stopped",
        json!({"name": "john"}),
        None,
    );
    h.event(
        &participants,
        "channel.participant.active",
        json!({"name": "john"}),
        None,
    );
    h.event(
        &messages,
        "channel.message.created",
        json!({"id": 1, "body": "hi"}),
        None,
    );
    h.event(&messages, "channel.message.updated", json!({"id": 1}), None);
    let got = chat_events(&h.take_events());
    let kinds: Vec<ChatEvent> = got.iter().map(|e| e.1).collect();
    assert_eq!(
        kinds,
        [ChatEvent::TypingStarted, ChatEvent::ReceivedMessage]
    );
    assert!(got.iter().all(|e| e.0 == id));
    assert_eq!(got[1].2["body"], "hi");
}

#[test]
fn every_seed_handler_is_routed_from_its_topic() {
    let mut h = Harness::new();
    h.session();
    let (_, subs) = confirmed_chat(&mut h, all_handlers(channel(7)));
    let t = |seg: &str| find(&subs, &format!("/topic/v1/channels/7{seg}")).clone();
    let cases = [
        (
            "/messages",
            "channel.message.created",
            ChatEvent::ReceivedMessage,
        ),
        (
            "/keystrokes",
            "thread.keystrokes.created",
            ChatEvent::ReceivedKeystrokes,
        ),
        ("/typing", "thread.typing.started", ChatEvent::TypingStarted),
        ("/typing", "thread.typing.stopped", ChatEvent::TypingStopped),
        (
            "/participants",
            "channel.participant.active",
            ChatEvent::ParticipantEnteredChat,
        ),
        (
            "/participants",
            "channel.participant.inactive",
            ChatEvent::ParticipantLeftChat,
        ),
        (
            "/participants",
            "participant.presence.changed",
            ChatEvent::ParticipantPresenceChanged,
        ),
        (
            "/events",
            "channel.event.triggered",
            ChatEvent::EventTriggered,
        ),
        ("", "channel.self.updated", ChatEvent::ChannelUpdated),
    ];
    for (seg, ty, kind) in cases {
        h.event(&t(seg), ty, json!({"ty": ty}), None);
        let got = chat_events(&h.take_events());
        assert_eq!(got.len(), 1, "{ty}");
        assert_eq!(got[0].1, kind, "{ty}");
    }
    // A type on the wrong topic runs nothing.
    h.event(&t("/typing"), "channel.message.created", json!({}), None);
    assert!(chat_events(&h.take_events()).is_empty());
}

#[test]
fn two_chat_sessions_on_one_channel_share_subscriptions_and_each_gets_every_event_once() {
    let mut h = Harness::new();
    h.session();
    let req = json!({"channel": channel(7), "onReceivedMessage": true});
    let (a, subs) = confirmed_chat(&mut h, req.clone());
    h.take_done();
    let b = h.c.start_chat_session(&req, h.now).unwrap();
    assert_eq!(
        answer_seeds(&mut h, &[]),
        1,
        "no second SUBSCRIBE to the same destinations, only b's recovery seed"
    );
    assert!(matches!(
        completion(&h.take_done(), b).result,
        Ok(Done::ChatReady)
    ));
    let messages = find(&subs, "/topic/v1/channels/7/messages").clone();
    h.event(&messages, "channel.message.created", json!({"id": 1}), None);
    let got = chat_events(&h.take_events());
    let sessions: Vec<Id> = got.iter().map(|e| e.0).collect();
    assert_eq!(sessions, [a, b]);
    // Ending one keeps the subscriptions of the other.
    h.c.end_chat_session(a, h.now);
    assert!(h.take_sent().is_empty());
    h.event(&messages, "channel.message.created", json!({"id": 2}), None);
    let got = chat_events(&h.take_events());
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].0, b);
    h.c.end_chat_session(b, h.now);
    assert_eq!(h.take_sent().len(), 8);
    h.event(&messages, "channel.message.created", json!({"id": 3}), None);
    assert!(
        chat_events(&h.take_events()).is_empty(),
        "no events after end()"
    );
}

#[test]
fn a_reply_waits_for_its_parent_and_later_events_keep_their_order() {
    let mut h = Harness::new();
    h.session();
    let req = json!({"channel": channel(7), "onReceivedMessage": true});
    let (_, subs) = confirmed_chat(&mut h, req);
    let messages = find(&subs, "/topic/v1/channels/7/messages").clone();
    let reply =
        json!({"id": 2, "body": "re", "_relays": {"parent": "/application/v1/messages/1.relay"}});
    h.event(&messages, "channel.message.created", reply, None);
    h.event(
        &messages,
        "channel.message.created",
        json!({"id": 3, "body": "later"}),
        None,
    );
    assert!(chat_events(&h.take_events()).is_empty());
    let lookup = h.take_sent().remove(0);
    assert_eq!(dest_of(&lookup), "/application/v1/messages/1.relay");
    h.answer_relay(
        &lookup,
        json!({"id": 1, "body": "parent", "file": {"url": "https://f"}}),
    );
    let got = chat_events(&h.take_events());
    assert_eq!(got.len(), 2);
    assert_eq!(got[0].2["id"], 2);
    assert_eq!(got[0].3.as_ref().unwrap()["body"], "parent");
    assert_eq!(
        got[0].3.as_ref().unwrap()["file"]["url"],
        "https://f?grant=r1"
    );
    assert_eq!(got[1].2["id"], 3);
}

#[test]
fn received_file_messages_get_the_read_grant() {
    let mut h = Harness::new();
    h.session();
    let (_, subs) = confirmed_chat(
        &mut h,
        json!({"channel": channel(7), "onReceivedMessage": true}),
    );
    let messages = find(&subs, "/topic/v1/channels/7/messages").clone();
    h.event(
        &messages,
        "channel.message.created",
        json!({"id": 1, "file": {"url": "https://f/a"}}),
        None,
    );
    let got = chat_events(&h.take_events());
    assert_eq!(got[0].2["file"]["url"], "https://f/a?grant=r1");
}

#[test]
fn read_receipts_are_delivered_with_the_message_fetched_first() {
    let mut h = Harness::new();
    h.session();
    let (_, subs) = confirmed_chat(
        &mut h,
        json!({"channel": channel(7), "onMessageRead": true}),
    );
    let receipts = find(&subs, "/topic/v1/channels/7/read_receipts").clone();
    let receipt = json!({"user": {"name": "john"}, "_relays": {"message": "/application/v1/messages/1.relay"}});
    h.event(&receipts, "message.read_receipt.created", receipt, None);
    let lookup = h.take_sent().remove(0);
    h.answer_relay(&lookup, json!({"id": 1}));
    let got = chat_events(&h.take_events());
    assert_eq!(got[0].1, ChatEvent::MessageRead);
    assert_eq!(got[0].2["id"], 1);
    assert_eq!(got[0].3.as_ref().unwrap()["user"]["name"], "john");
}

#[test]
fn user_topic_events_feed_instance_observers() {
    let mut h = Harness::new();
    let s = h.session();
    h.event(
        s.topic(USER_TOPICS[1]),
        "user.channel.joined",
        channel(7),
        None,
    );
    let events = h.take_events();
    assert!(
        matches!(&events[..], [Event::User { kind: UserEvent::ChannelJoined, value }] if value["id"] == 7)
    );
}

// ----- keystrokes ---------------------------------------------------------------------

#[test]
fn keystrokes_are_debounced_per_destination_and_the_last_value_wins() {
    let mut h = Harness::new();
    h.session();
    let (c7, c8) = (channel(7), channel(8));
    h.c.send_keystrokes(&json!({"channel": c7, "keys": "h"}), h.now)
        .unwrap();
    h.advance(100);
    h.c.send_keystrokes(&json!({"channel": c7, "keys": "he"}), h.now)
        .unwrap();
    h.c.send_keystrokes(&json!({"channel": c8, "keys": "x"}), h.now)
        .unwrap();
    h.advance(100);
    h.c.send_keystrokes(&json!({"channel": c7, "keys": "hel"}), h.now)
        .unwrap();
    assert!(h.take_sent().is_empty(), "nothing while typing continues");
    h.advance(60);
    let sent = h.take_sent();
    assert_eq!(dests(&sent), ["/application/v1/channels/8.keystrokes"]);
    h.advance(100);
    let sent = h.take_sent();
    assert_eq!(dests(&sent), ["/application/v1/channels/7.keystrokes"]);
    assert_eq!(
        serde_json::from_slice::<Value>(&sent[0].body).unwrap(),
        json!({"keys": "hel"})
    );
    assert!(sent[0].header("receipt").is_some());
}

// ----- heart-beats, reconnects, ending ------------------------------------------------

#[test]
fn heart_beats_are_sent_when_idle_and_a_silent_server_is_dropped() {
    let mut h = Harness::new();
    h.session();
    // CONNECTED said 10000,60000: we send every 60 s and expect data every 10 s.
    h.advance(15_000);
    h.server(Frame::new(Command::Receipt).with_header("receipt-id", "x")); // traffic
    h.advance(15_000);
    h.c.handle_data(b"\n", h.now); // a server heart-beat
    h.advance(15_000);
    h.c.handle_data(b"\n", h.now);
    h.advance(16_000);
    h.pump();
    assert!(h.heartbeats_sent >= 1, "an EOL after 60 s without sending");
    assert_eq!(h.closes, 0);
    h.advance(20_001);
    assert_eq!(h.closes, 1, "closed after 2 x 10 s of silence");
}

#[test]
fn a_dropped_connection_reconnects_with_backoff_and_the_previous_session_id() {
    let mut h = Harness::new();
    let s = h.session();
    let (_, chat_subs) = confirmed_chat(&mut h, json!({"channel": channel(7)}));
    let pending = h.c.get_channel(9, h.now);
    h.take_sent();
    h.c.handle_closed(h.now);
    assert!(matches!(h.take_events().last(), Some(Event::Offline)));
    let delay = h.c.poll_timeout().unwrap() - h.now;
    assert!((500..=1_000).contains(&delay), "{delay}");
    h.advance(delay - 1);
    assert_eq!(h.opened.len(), 1, "not before the backoff");
    h.advance(1);
    assert_eq!(h.opened.len(), 2, "first retry within a second");
    h.c.handle_open(h.now);
    let mut sent = h.take_sent();
    let connect = sent.remove(0);
    assert_eq!(connect.header("StompX-Auth-Session-ID"), Some("s-1"));
    assert_eq!(connect.header("StompX-User"), Some("jane"));
    // Behind CONNECT: the errors queue (same id) and the user relay again, no grants.
    assert_eq!(dests(&sent), [dest::ERRORS_QUEUE, dest::CURRENT_USER_RELAY]);
    h.connected("s-2");
    // On CONNECTED: every topic with the same ids, and the relay that was in flight.
    sent.extend(h.take_sent());
    let d = dests(&sent);
    assert_eq!(id_of(&sent[0]), id_of(&s.errors));
    assert!(d.contains(&dest::CURRENT_USER_RELAY.to_owned()));
    assert!(!d.iter().any(|x| x.contains("grant")));
    for t in s.topics.iter().chain(&chat_subs) {
        let again = find(&sent, &dest_of(t));
        assert_eq!(id_of(again), id_of(t));
    }
    let relay = find(&sent, "/application/v1/channels/9.relay").clone();
    h.answer_relay(&relay, channel(9));
    assert!(h.take_done().iter().any(|c| c.id == pending));
    // The user answer replaces the current user and notifies observers.
    h.answer_relay(find(&sent, dest::CURRENT_USER_RELAY), user());
    assert!(h
        .take_events()
        .iter()
        .any(|e| matches!(e, Event::CurrentUser(Some(_)))));
}

#[test]
fn backoff_grows_while_attempts_fail_and_resets_after_a_connection() {
    let mut h = Harness::new();
    h.session();
    h.c.handle_closed(h.now);
    let mut gaps = Vec::new();
    let mut last = h.now;
    for _ in 0..4 {
        let before = h.opened.len();
        while h.opened.len() == before {
            h.advance(100);
        }
        gaps.push(h.now - last);
        h.c.handle_closed(h.now);
        last = h.now;
    }
    assert!(gaps.windows(2).all(|w| w[1] > w[0]), "{gaps:?}");
    assert!(gaps[3] <= 12_000, "{gaps:?}");
}

#[test]
fn actions_in_flight_at_a_drop_fail_instead_of_being_repeated_unless_idempotent() {
    let mut h = Harness::new();
    h.session();
    let id =
        h.c.create_channel(&json!({"type": "PUBLIC", "name": "x"}), h.now)
            .unwrap();
    let send =
        h.c.send_message(&json!({"channel": channel(7), "body": "x"}), h.now)
            .unwrap();
    h.take_sent();
    h.c.handle_closed(h.now);
    let done = h.take_done();
    assert!(matches!(
        completion(&done, id).result,
        Err(Failure::Connection)
    ));
    assert!(
        done.iter().all(|c| c.id != send),
        "a message send waits to be sent again"
    );
}

#[test]
fn a_server_going_down_with_an_error_frame_is_offline_then_reconnects() {
    let mut h = Harness::new();
    h.session();
    h.take_events();
    let body = json!({"error": "UnsupportedOperationError", "message": "The server is shutting down; reconnect shortly.", "timestamp": "t"});
    h.server(Frame::new(Command::Error).with_body(body.to_string()));
    assert!(matches!(h.take_events()[..], [Event::Offline]));
    assert_eq!(h.closes, 1);
    h.advance(120_000);
    assert!(h.opened.len() >= 2, "reconnecting");
}

#[test]
fn access_denied_on_a_live_session_stops_reconnecting_and_ends_the_session() {
    let mut h = Harness::new();
    h.session();
    let body = json!({"error": "AccessDeniedError", "message": "banned", "timestamp": "t"});
    h.server(Frame::new(Command::Error).with_body(body.to_string()));
    assert!(h
        .take_events()
        .iter()
        .any(|e| matches!(e, Event::CurrentUser(None))));
    h.advance(120_000);
    assert_eq!(h.opened.len(), 1);
    assert!(h.c.current_user().is_none());
}

#[test]
fn end_session_waits_for_the_disconnect_receipt_then_closes() {
    let mut h = Harness::new();
    h.session();
    let id = h.c.end_session(h.now);
    let sent = h.take_sent();
    assert_eq!(sent[0].command, Command::Disconnect);
    let receipt = sent[0].header("receipt").unwrap().to_owned();
    assert!(receipt.starts_with("close-"));
    assert!(h.take_done().is_empty());
    assert_eq!(h.closes, 0);
    h.receipt(&receipt);
    assert_eq!(h.closes, 1);
    assert!(matches!(
        completion(&h.take_done(), id).result,
        Ok(Done::Closed)
    ));
    assert!(h.c.current_user().is_none());
    h.advance(120_000);
    assert_eq!(h.opened.len(), 1, "no reconnect after endSession");
}

#[test]
fn end_session_closes_anyway_when_the_receipt_never_comes() {
    let mut h = Harness::new();
    h.session();
    let id = h.c.end_session(h.now);
    h.advance(5_001);
    assert_eq!(h.closes, 1);
    assert!(matches!(
        completion(&h.take_done(), id).result,
        Ok(Done::Closed)
    ));
}

#[test]
fn end_session_without_a_connection_completes_at_once() {
    let mut h = Harness::new();
    let id = h.c.end_session(h.now);
    assert!(matches!(
        completion(&h.take_done(), id).result,
        Ok(Done::Closed)
    ));
}

#[test]
fn a_new_session_after_end_session_starts_cleanly() {
    let mut h = Harness::new();
    h.session();
    let id = h.c.end_session(h.now);
    let receipt = h.take_sent()[0].header("receipt").unwrap().to_owned();
    h.receipt(&receipt);
    h.take_done();
    h.session();
    assert!(h.c.current_user().is_some());
    let _ = id;
}

#[test]
fn the_fixed_destinations_match_the_protocol_crates_builders() {
    for id in [0, 7, 1_234_567_890_123] {
        assert_eq!(
            crate::core::ops::by_id("channels", id, ".relay"),
            dest::channel_relay(id)
        );
        assert_eq!(
            crate::core::ops::by_id("users", id, ".relay"),
            dest::user_relay(id)
        );
        assert_eq!(
            crate::core::ops::by_id("users", id, ".block"),
            dest::user_block_action(id)
        );
    }
}
