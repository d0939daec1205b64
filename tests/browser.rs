//! The SDK in a real browser against a live chatkitty-server, through its JavaScript
//! surface (methods looked up by their JS names): two instances, jane and john, run
//! the quick start and check which handlers fire, and when they must not.
//!
//! Run with `scripts/test-browser.sh` (starts the server and sets
//! `CHATKITTY_TEST_HOST`). Without a server only the tests that need none run.
#![cfg(target_arch = "wasm32")]

use std::cell::RefCell;
use std::rc::Rc;

use chatkitty_wasm::ChatKitty;
use js_sys::{Array, Function, Object, Promise, Reflect};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

const HOST: Option<&str> = option_env!("CHATKITTY_TEST_HOST");
const API_KEY: &str = match option_env!("CHATKITTY_TEST_API_KEY") {
    Some(k) => k,
    None => "test-key",
};

#[wasm_bindgen]
extern "C" {
    #[wasm_bindgen(js_name = setTimeout)]
    fn set_timeout(f: &Function, ms: i32);
}

// The JavaScript names of the class, as the package's client.js installs them, and
// the uploader it hands the class once the module has loaded.
#[wasm_bindgen(module = "/pkg-template/surface.js")]
extern "C" {
    fn install(class: &JsValue) -> JsValue;
    #[wasm_bindgen(thread_local_v2, js_name = upload)]
    static UPLOAD: JsValue;
}

thread_local! {
    static INSTALLED: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// `value` as a ChatKitty with the package's full JavaScript surface.
fn surfaced(value: JsValue) -> JsValue {
    if !INSTALLED.with(|i| i.replace(true)) {
        let proto = Object::get_prototype_of(&value);
        install(&Reflect::get(&proto, &"constructor".into()).unwrap());
        ChatKitty::host(UPLOAD.with(|u| u.clone().unchecked_into()));
    }
    value
}

/// A client of the default host (nothing is connected in the tests that use it).
fn instance(key: &str) -> JsValue {
    let config = obj(&[("apiKey", key.into())]);
    surfaced(JsValue::from(ChatKitty::new(config).expect("constructor")))
}

// ----- helpers ---------------------------------------------------------------------

fn obj(pairs: &[(&str, JsValue)]) -> JsValue {
    let o = Object::new();
    for (k, v) in pairs {
        Reflect::set(&o, &JsValue::from_str(k), v).unwrap();
    }
    o.into()
}

fn get(v: &JsValue, path: &str) -> JsValue {
    path.split('.').fold(v.clone(), |v, k| {
        if v.is_object() {
            Reflect::get(&v, &JsValue::from_str(k)).unwrap()
        } else {
            JsValue::UNDEFINED
        }
    })
}

fn s(v: &JsValue, path: &str) -> String {
    get(v, path).as_string().unwrap_or_default()
}

/// Calls `target[name](...args)` the way JS code would.
fn call(target: &JsValue, name: &str, args: &[JsValue]) -> Result<JsValue, JsValue> {
    let f: Function = get(target, name)
        .dyn_into()
        .unwrap_or_else(|_| panic!("{name} is not a function"));
    f.apply(target, &args.iter().collect::<Array>())
}

async fn resolved(v: JsValue) -> JsValue {
    JsFuture::from(Promise::resolve(&v))
        .await
        .expect("promise resolved")
}

async fn sleep(ms: i32) {
    let p = Promise::new(&mut |resolve, _| set_timeout(&resolve, ms));
    JsFuture::from(p).await.unwrap();
}

/// Waits up to 5 s for `cond`.
async fn eventually(what: &str, cond: impl Fn() -> bool) {
    for _ in 0..200 {
        if cond() {
            return;
        }
        sleep(25).await;
    }
    panic!("timed out waiting for: {what}");
}

fn suffix() -> String {
    let n = (js_sys::Math::random() * 1e9) as u64;
    let mut out = String::new();
    let mut n = n.max(1);
    while n > 0 {
        out.push((b'a' + (n % 26) as u8) as char);
        n /= 26;
    }
    out
}

fn client() -> JsValue {
    let host = HOST.expect("CHATKITTY_TEST_HOST");
    let config = obj(&[
        ("apiKey", API_KEY.into()),
        ("host", host.into()),
        ("isSecure", false.into()),
    ]);
    surfaced(JsValue::from(ChatKitty::new(config).expect("constructor")))
}

async fn start(kitty: &JsValue, username: &str) -> JsValue {
    let r = call(
        kitty,
        "startSession",
        &[obj(&[("username", username.into())])],
    )
    .unwrap();
    let r = resolved(r).await;
    assert_eq!(
        get(&r, "succeeded"),
        true,
        "startSession({username}) failed: {:?}",
        get(&r, "error")
    );
    r
}

/// A JS callback recording every call's arguments.
#[derive(Clone)]
struct Recorder {
    calls: Rc<RefCell<Vec<(JsValue, JsValue)>>>,
    f: JsValue,
}

impl Recorder {
    fn new() -> Recorder {
        let calls = Rc::new(RefCell::new(Vec::new()));
        let c = calls.clone();
        let f = Closure::<dyn Fn(JsValue, JsValue)>::new(move |a, b| c.borrow_mut().push((a, b)))
            .into_js_value();
        Recorder { calls, f }
    }
    fn count(&self) -> usize {
        self.calls.borrow().len()
    }
    fn names(&self, path: &str) -> Vec<String> {
        self.calls
            .borrow()
            .iter()
            .map(|(a, _)| s(a, path))
            .collect()
    }
}

const HANDLERS: [&str; 7] = [
    "onReceivedMessage",
    "onReceivedKeystrokes",
    "onTypingStarted",
    "onTypingStopped",
    "onParticipantEnteredChat",
    "onParticipantLeftChat",
    "onParticipantPresenceChanged",
];

struct Chat {
    rec: Vec<Recorder>,
    session: JsValue,
}

impl Chat {
    fn on(&self, handler: &str) -> &Recorder {
        &self.rec[HANDLERS.iter().position(|h| *h == handler).unwrap()]
    }
    fn counts(&self) -> Vec<usize> {
        self.rec.iter().map(Recorder::count).collect()
    }
}

async fn chat(kitty: &JsValue, channel: &JsValue) -> Chat {
    let rec: Vec<Recorder> = HANDLERS.iter().map(|_| Recorder::new()).collect();
    let mut pairs = vec![("channel", channel.clone())];
    for (h, r) in HANDLERS.iter().zip(&rec) {
        pairs.push((h, r.f.clone()));
    }
    let result = call(kitty, "startChatSession", &[obj(&pairs)]).unwrap();
    // Readable at once…
    assert_eq!(get(&result, "succeeded"), true);
    let session = get(&result, "session");
    assert!(get(&session, "end").is_function());
    assert_eq!(s(&session, "channel.name"), s(channel, "name"));
    // …and awaitable, settling to a value that is not itself thenable.
    let settled = resolved(result).await;
    assert_eq!(get(&settled, "succeeded"), true);
    assert!(get(&settled, "then").is_undefined());
    Chat { rec, session }
}

fn expect_error(r: Result<JsValue, JsValue>, name: &str) {
    let e = r.expect_err("the call should throw");
    assert_eq!(s(&e, "error"), name);
    assert!(!s(&e, "message").is_empty());
}

// ----- tests without a server --------------------------------------------------------

#[wasm_bindgen_test]
fn calls_without_a_session_throw_no_active_session_error() {
    let kitty = instance("k-nas");
    let channel = obj(&[("id", 1.into())]);
    let req = obj(&[
        ("channel", channel),
        ("body", "x".into()),
        ("keys", "x".into()),
    ]);
    expect_error(call(&kitty, "getCurrentUser", &[]), "NoActiveSessionError");
    expect_error(
        call(
            &kitty,
            "createChannel",
            &[obj(&[("type", "DIRECT".into())])],
        ),
        "NoActiveSessionError",
    );
    expect_error(
        call(&kitty, "sendMessage", std::slice::from_ref(&req)),
        "NoActiveSessionError",
    );
    expect_error(
        call(&kitty, "getMessages", std::slice::from_ref(&req)),
        "NoActiveSessionError",
    );
    expect_error(
        call(&kitty, "sendKeystrokes", &[req]),
        "NoActiveSessionError",
    );
    let e = call(&kitty, "getCurrentUser", &[]).unwrap_err();
    assert_eq!(s(&e, "message"), "You're not connected to ChatKitty.");
}

#[wasm_bindgen_test]
fn a_wrong_argument_throws_a_type_error_naming_the_call_and_the_argument() {
    let e = ChatKitty::new(obj(&[("apiKey", 5.into())])).err().unwrap();
    assert!(e.is_instance_of::<js_sys::TypeError>());
    assert_eq!(s(&e, "message"), "ChatKitty: apiKey must be a string");
    let kitty = instance("k-args");
    let e = call(&kitty, "startSession", &[obj(&[("username", 5.into())])]).unwrap_err();
    assert!(e.is_instance_of::<js_sys::TypeError>());
    assert_eq!(s(&e, "message"), "startSession: username must be a string");
}

#[wasm_bindgen_test]
async fn current_user_observers_fire_at_once_and_unsubscribe() {
    let kitty = instance("k-obs");
    let rec = Recorder::new();
    let unsubscribe = call(&kitty, "onCurrentUserChanged", std::slice::from_ref(&rec.f)).unwrap();
    assert_eq!(rec.count(), 1);
    assert!(rec.calls.borrow()[0].0.is_null());
    let again: Function = unsubscribe.dyn_into().unwrap();
    let noop = again.call0(&JsValue::UNDEFINED).unwrap();
    assert!(noop.is_function(), "unsubscribe()() keeps working");
}

#[wasm_bindgen_test]
async fn an_unreachable_server_fails_start_session_with_a_connection_error() {
    let config = obj(&[
        ("apiKey", "k".into()),
        ("host", "127.0.0.1:9".into()),
        ("isSecure", false.into()),
    ]);
    let kitty = surfaced(JsValue::from(ChatKitty::new(config).unwrap()));
    let offline = Recorder::new();
    call(
        &kitty,
        "onCurrentUserOffline",
        std::slice::from_ref(&offline.f),
    )
    .unwrap();
    let r = call(&kitty, "startSession", &[obj(&[("username", "x".into())])]).unwrap();
    let r = resolved(r).await;
    assert_eq!(get(&r, "failed"), true);
    assert_eq!(s(&r, "error.error"), "ChatKittyConnectionError");
    assert!(offline.count() >= 1);
}

#[wasm_bindgen_test]
async fn an_action_waiting_for_a_connection_fails_with_a_timeout_after_send_timeout() {
    let config = obj(&[
        ("apiKey", "k".into()),
        ("host", "127.0.0.1:9".into()),
        ("isSecure", false.into()),
        ("sendTimeout", 300.into()),
    ]);
    let kitty = surfaced(JsValue::from(ChatKitty::new(config).unwrap()));
    // editMessage needs no session: it waits for a connection (docs/api.md §2.3).
    let message = obj(&[(
        "_actions",
        obj(&[("edit", "/application/v1/messages/5.edit".into())]),
    )]);
    let started = js_sys::Date::now();
    let r = call(
        &kitty,
        "editMessage",
        &[obj(&[("message", message), ("body", "x".into())])],
    )
    .unwrap();
    let r = resolved(r).await;
    let waited = js_sys::Date::now() - started;
    assert_eq!(get(&r, "failed"), true);
    assert_eq!(s(&r, "error.error"), "ChatKittyTimeoutError");
    assert!(!s(&r, "error.timestamp").is_empty());
    assert!(
        (290.0..5_000.0).contains(&waited),
        "failed after {waited} ms"
    );
}

// ----- tests against the live server -------------------------------------------------

#[wasm_bindgen_test]
async fn the_quick_start_fires_each_handler_for_the_right_people_only() {
    if HOST.is_none() {
        return;
    }
    let id = suffix();
    let (jane_name, john_name) = (format!("jane-{id}"), format!("john-{id}"));
    let (jane, john) = (client(), client());
    let started = start(&jane, &jane_name).await;
    assert_eq!(s(&started, "session.user.name"), jane_name);
    assert_eq!(s(&jane, "currentUser.name"), jane_name);
    expect_error(
        call(&jane, "startSession", &[obj(&[("username", "x".into())])]),
        "SessionActiveError",
    );
    start(&john, &john_name).await;

    let members = Array::of1(&obj(&[("username", john_name.as_str().into())]));
    let req = obj(&[("type", "DIRECT".into()), ("members", members.into())]);
    let created = resolved(call(&jane, "createChannel", &[req]).unwrap()).await;
    assert_eq!(
        get(&created, "succeeded"),
        true,
        "{:?}",
        get(&created, "error")
    );
    let jane_channel = get(&created, "channel");
    let channel_id = get(&jane_channel, "id").as_f64().unwrap();
    let fetched = resolved(call(&john, "getChannel", &[channel_id.into()]).unwrap()).await;
    assert_eq!(
        get(&fetched, "succeeded"),
        true,
        "{:?}",
        get(&fetched, "error")
    );
    let john_channel = get(&fetched, "channel");

    let jane_chat = chat(&jane, &jane_channel).await;
    let john_chat = chat(&john, &john_channel).await;

    // John entering is seen by jane only.
    eventually("jane sees john enter", || {
        jane_chat.on("onParticipantEnteredChat").count() == 1
    })
    .await;
    assert_eq!(
        jane_chat.on("onParticipantEnteredChat").names("name"),
        [john_name.as_str()]
    );

    // John types: jane gets his draft and "typing started"; john gets nothing.
    let keys = obj(&[("channel", john_channel.clone()), ("keys", "hel".into())]);
    assert!(call(&john, "sendKeystrokes", &[keys])
        .unwrap()
        .is_undefined());
    eventually("jane sees john's keystrokes", || {
        jane_chat.on("onReceivedKeystrokes").count() == 1
    })
    .await;
    let ks = jane_chat.on("onReceivedKeystrokes").calls.borrow()[0]
        .0
        .clone();
    assert_eq!(s(&ks, "keys"), "hel");
    assert_eq!(s(&ks, "username"), john_name);
    eventually("jane sees john typing", || {
        jane_chat.on("onTypingStarted").count() == 1
    })
    .await;
    assert_eq!(
        jane_chat.on("onTypingStarted").names("name"),
        [john_name.as_str()]
    );

    // John sends: both see the message; his typing stops for jane.
    let msg = obj(&[("channel", john_channel.clone()), ("body", "hi".into())]);
    let sent = resolved(call(&john, "sendMessage", &[msg]).unwrap()).await;
    assert_eq!(get(&sent, "succeeded"), true, "{:?}", get(&sent, "error"));
    assert_eq!(s(&sent, "message.body"), "hi");
    eventually("both receive the message", || {
        jane_chat.on("onReceivedMessage").count() == 1
            && john_chat.on("onReceivedMessage").count() == 1
    })
    .await;
    assert_eq!(jane_chat.on("onReceivedMessage").names("body"), ["hi"]);
    assert_eq!(
        jane_chat.on("onReceivedMessage").names("user.name"),
        [john_name.as_str()]
    );
    eventually("jane sees john stop typing", || {
        jane_chat.on("onTypingStopped").count() == 1
    })
    .await;

    // John leaves the chat, then ends his session: left, then presence (offline).
    call(&john_chat.session, "end", &[]).unwrap();
    eventually("jane sees john leave", || {
        jane_chat.on("onParticipantLeftChat").count() == 1
    })
    .await;
    assert_eq!(
        jane_chat.on("onParticipantLeftChat").names("name"),
        [john_name.as_str()]
    );
    resolved(call(&john, "endSession", &[]).unwrap()).await;
    assert!(get(&john, "currentUser").is_undefined());
    eventually("jane sees john go offline", || {
        jane_chat.on("onParticipantPresenceChanged").count() >= 1
    })
    .await;
    let p = jane_chat
        .on("onParticipantPresenceChanged")
        .calls
        .borrow()
        .last()
        .unwrap()
        .0
        .clone();
    assert_eq!(s(&p, "name"), john_name);
    assert_eq!(get(&p, "presence.online"), false);

    // Nothing john's own actions should have told him, and nothing twice for jane.
    sleep(300).await;
    assert_eq!(john_chat.counts(), [1, 0, 0, 0, 0, 0, 0], "john's handlers");
    let jane_counts = jane_chat.counts();
    assert_eq!(&jane_counts[..6], [1, 1, 1, 1, 1, 1], "jane's handlers");

    // After end(), jane's chat session hears nothing more.
    call(&jane_chat.session, "end", &[]).unwrap();
    start(&john, &john_name).await;
    let msg = obj(&[("channel", john_channel.clone()), ("body", "after".into())]);
    let sent = resolved(call(&john, "sendMessage", &[msg]).unwrap()).await;
    assert_eq!(get(&sent, "succeeded"), true);
    sleep(300).await;
    assert_eq!(
        jane_chat.on("onReceivedMessage").count(),
        1,
        "no events after end()"
    );
    resolved(call(&jane, "endSession", &[]).unwrap()).await;
    resolved(call(&john, "endSession", &[]).unwrap()).await;
}

#[wasm_bindgen_test]
async fn get_messages_returns_what_was_sent_newest_first_across_pages() {
    if HOST.is_none() {
        return;
    }
    let id = suffix();
    let jane = client();
    start(&jane, &format!("pager-{id}")).await;
    let req = obj(&[
        ("type", "PUBLIC".into()),
        ("name", format!("pages-{id}").into()),
    ]);
    let created = resolved(call(&jane, "createChannel", &[req]).unwrap()).await;
    assert_eq!(
        get(&created, "succeeded"),
        true,
        "{:?}",
        get(&created, "error")
    );
    let channel = get(&created, "channel");
    const N: usize = 30;
    for i in 0..N {
        let msg = obj(&[
            ("channel", channel.clone()),
            ("body", format!("m{i}").into()),
        ]);
        let r = resolved(call(&jane, "sendMessage", &[msg]).unwrap()).await;
        assert_eq!(get(&r, "succeeded"), true);
    }
    let r = resolved(
        call(
            &jane,
            "getMessages",
            &[obj(&[("channel", channel.clone())])],
        )
        .unwrap(),
    )
    .await;
    assert_eq!(get(&r, "succeeded"), true, "{:?}", get(&r, "error"));
    let mut page = get(&r, "paginator");
    assert_eq!(get(&page, "hasPrevPage"), false);
    let first = page.clone();
    let mut bodies = Vec::new();
    let mut pages = 0;
    loop {
        pages += 1;
        let items: Array = get(&page, "items").dyn_into().unwrap();
        bodies.extend(items.iter().map(|m| s(&m, "body")));
        if get(&page, "hasNextPage") != true {
            break;
        }
        page = resolved(call(&page, "nextPage", &[]).unwrap()).await;
        assert_eq!(get(&page, "hasPrevPage"), true);
    }
    let expected: Vec<String> = (0..N).rev().map(|i| format!("m{i}")).collect();
    assert_eq!(bodies, expected);
    assert!(pages >= 2, "30 messages span pages");
    // Past the last page: PageOutOfBoundsError.
    let e = JsFuture::from(Promise::from(call(&page, "nextPage", &[]).unwrap()))
        .await
        .unwrap_err();
    assert_eq!(s(&e, "error"), "PageOutOfBoundsError");
    // Back from the second page to the first.
    let second = resolved(call(&first, "nextPage", &[]).unwrap()).await;
    let back = resolved(call(&second, "prevPage", &[]).unwrap()).await;
    let a: Array = get(&back, "items").dyn_into().unwrap();
    let b: Array = get(&first, "items").dyn_into().unwrap();
    assert_eq!(s(&a.get(0), "body"), s(&b.get(0), "body"));
    resolved(call(&jane, "endSession", &[]).unwrap()).await;
}

// ----- the rest of the API, seen by a second user -----------------------------------

async fn ok(v: Result<JsValue, JsValue>, what: &str) -> JsValue {
    let r = resolved(v.unwrap_or_else(|e| panic!("{what} threw {e:?}"))).await;
    assert_eq!(
        get(&r, "succeeded"),
        true,
        "{what} failed: {:?}",
        get(&r, "error")
    );
    r
}

/// Jane and John in a fresh public channel jane created and john joined.
async fn pair() -> (JsValue, JsValue, JsValue, JsValue, String) {
    let id = suffix();
    let (jane, john) = (client(), client());
    start(&jane, &format!("jane-{id}")).await;
    start(&john, &format!("john-{id}")).await;
    let req = obj(&[
        ("type", "PUBLIC".into()),
        ("name", format!("room-{id}").into()),
    ]);
    let created = ok(call(&jane, "createChannel", &[req]), "createChannel").await;
    let channel_id = get(&created, "channel.id");
    let fetched = ok(call(&john, "getChannel", &[channel_id]), "getChannel").await;
    let joined = ok(
        call(
            &john,
            "joinChannel",
            &[obj(&[("channel", get(&fetched, "channel"))])],
        ),
        "joinChannel",
    )
    .await;
    (
        jane,
        john,
        get(&created, "channel"),
        get(&joined, "channel"),
        id,
    )
}

/// Bodies are parsed from the slice of the WebSocket message's string the frame's body
/// occupies (src/wasm/js.rs): text of every width — 2-, 3- and 4-byte UTF-8, which are
/// one or two UTF-16 units — JSON escapes, blank lines and a NUL must come through as sent.
#[wasm_bindgen_test]
async fn message_bodies_of_every_script_arrive_as_sent() {
    if HOST.is_none() {
        return;
    }
    let (jane, john, jane_channel, john_channel, _) = pair().await;
    let jane_chat = chat(&jane, &jane_channel).await;
    let bodies = [
        "plain",
        "naïve café — “quotes” ½",
        "日本語のテキスト",
        "😀 emoji 👩‍👩‍👧 and 𝄞 outside the BMP 🇫🇷",
        "blank\n\nlines\r\nand \"escapes\" \\ \t\u{0}NUL",
        "ends with an emoji 😀",
    ];
    for body in bodies {
        let msg = obj(&[("channel", john_channel.clone()), ("body", body.into())]);
        ok(call(&john, "sendMessage", &[msg]), "sendMessage").await;
    }
    eventually("jane receives them all", || {
        jane_chat.on("onReceivedMessage").count() == bodies.len()
    })
    .await;
    assert_eq!(jane_chat.on("onReceivedMessage").names("body"), bodies);
    end(&[&jane, &john]).await;
}

#[wasm_bindgen_test]
async fn john_sees_janes_profile_update_and_jane_her_new_current_user() {
    if HOST.is_none() {
        return;
    }
    let (jane, john, _, _, id) = pair().await;
    let changed = Recorder::new();
    call(
        &jane,
        "onCurrentUserChanged",
        std::slice::from_ref(&changed.f),
    )
    .unwrap();
    let update = Closure::<dyn Fn(JsValue) -> JsValue>::new(|user: JsValue| {
        Reflect::set(&user, &"displayName".into(), &"Jane Q".into()).unwrap();
        Reflect::set(&get(&user, "properties"), &"color".into(), &"teal".into()).unwrap();
        user
    })
    .into_js_value();
    let r = ok(
        call(&jane, "updateCurrentUser", &[update]),
        "updateCurrentUser",
    )
    .await;
    assert_eq!(s(&r, "user.displayName"), "Jane Q");
    assert_eq!(
        s(&jane, "currentUser.displayName"),
        "Jane Q",
        "currentUser is replaced"
    );
    assert_eq!(changed.names("displayName").last().unwrap(), "Jane Q");
    let jane_id = get(&jane, "currentUser.id");
    let seen = ok(
        call(&john, "getUser", std::slice::from_ref(&jane_id)),
        "getUser",
    )
    .await;
    assert_eq!(s(&seen, "user.displayName"), "Jane Q");
    assert_eq!(s(&seen, "user.properties.color"), "teal");
    let alias = ok(call(&john, "retrieveUser", &[jane_id]), "retrieveUser").await;
    assert_eq!(s(&alias, "user.name"), format!("jane-{id}"));
    resolved(call(&jane, "endSession", &[]).unwrap()).await;
    resolved(call(&john, "endSession", &[]).unwrap()).await;
}

#[wasm_bindgen_test]
async fn chat_session_handlers_see_the_other_users_reactions_reads_edits_events_and_threads() {
    if HOST.is_none() {
        return;
    }
    let (jane, john, jane_channel, john_channel, _) = pair().await;
    let names = [
        "onMessageReactionAdded",
        "onMessageReactionRemoved",
        "onMessageRead",
        "onMessageUpdated",
        "onEventTriggered",
        "onThreadMessageReceived",
        "onReceivedMessage",
    ];
    let recs: Vec<Recorder> = names.iter().map(|_| Recorder::new()).collect();
    let mut pairs = vec![("channel", john_channel.clone())];
    for (n, r) in names.iter().zip(&recs) {
        pairs.push((n, r.f.clone()));
    }
    let started = call(&john, "startChatSession", &[obj(&pairs)]).unwrap();
    let session = get(&started, "session");
    resolved(started).await;
    let on = |n: &str| &recs[names.iter().position(|x| *x == n).unwrap()];

    let sent = ok(
        call(
            &john,
            "sendMessage",
            &[obj(&[
                ("channel", john_channel.clone()),
                ("body", "hello".into()),
            ])],
        ),
        "sendMessage",
    )
    .await;
    let jane_msg = {
        let page = ok(
            call(
                &jane,
                "getMessages",
                &[obj(&[("channel", jane_channel.clone())])],
            ),
            "getMessages",
        )
        .await;
        Array::from(&get(&page, "paginator.items")).get(0)
    };
    assert_eq!(s(&jane_msg, "body"), "hello");

    let react = obj(&[("message", jane_msg.clone()), ("emoji", "+1".into())]);
    let r = ok(
        call(&jane, "reactToMessage", std::slice::from_ref(&react)),
        "reactToMessage",
    )
    .await;
    assert!(!s(&r, "reaction.emoji.character").is_empty());
    eventually("john sees the reaction", || {
        on("onMessageReactionAdded").count() == 1
    })
    .await;
    let (m, reaction) = on("onMessageReactionAdded").calls.borrow()[0].clone();
    assert_eq!(s(&m, "body"), "hello", "the message comes first");
    assert_eq!(
        s(&reaction, "emoji.character"),
        s(&r, "reaction.emoji.character")
    );
    let list = ok(
        call(
            &john,
            "getReactions",
            &[obj(&[("message", get(&sent, "message"))])],
        ),
        "getReactions",
    )
    .await;
    assert_eq!(Array::from(&get(&list, "paginator.items")).length(), 1);
    ok(call(&jane, "removeReaction", &[react]), "removeReaction").await;
    eventually("john sees it removed", || {
        on("onMessageReactionRemoved").count() == 1
    })
    .await;

    let read = ok(
        call(
            &jane,
            "readMessage",
            &[obj(&[("message", jane_msg.clone())])],
        ),
        "readMessage",
    )
    .await;
    assert_eq!(s(&read, "message.body"), "hello", "the request's message");
    eventually("john sees jane read it", || {
        on("onMessageRead").count() >= 1
    })
    .await;
    let (m, receipt) = on("onMessageRead").calls.borrow()[0].clone();
    assert_eq!(s(&m, "body"), "hello");
    assert!(s(&receipt, "user.name").starts_with("jane-"));

    let ev = obj(&[
        ("channel", jane_channel.clone()),
        ("type", "poke".into()),
        ("properties", obj(&[("n", 1.into())])),
    ]);
    let t = ok(call(&jane, "triggerEvent", &[ev]), "triggerEvent").await;
    assert_eq!(get(&t, "channel.id"), get(&jane_channel, "id"));
    eventually("john gets the custom event", || {
        on("onEventTriggered").count() == 1
    })
    .await;
    assert_eq!(on("onEventTriggered").names("type"), ["poke"]);

    let edit = obj(&[
        ("message", get(&sent, "message")),
        ("body", "hello!".into()),
    ]);
    let e = ok(call(&john, "editMessage", &[edit]), "editMessage").await;
    assert_eq!(s(&e, "message.body"), "hello!");
    eventually("the edit reaches the session", || {
        on("onMessageUpdated").count() >= 1
    })
    .await;

    // Threads: jane creates one, john follows it, jane posts in it.
    let created = ok(
        call(
            &jane,
            "createThread",
            &[obj(&[
                ("channel", jane_channel.clone()),
                ("name", "side".into()),
            ])],
        ),
        "createThread",
    )
    .await;
    let thread = get(&created, "thread");
    let set_thread: Function = get(&session, "setThread").dyn_into().unwrap();
    set_thread.call1(&session, &thread).unwrap();
    assert_eq!(s(&session, "thread.name"), "side", "session.thread is set");
    sleep(200).await; // the thread topics' receipts
    ok(
        call(
            &jane,
            "sendMessage",
            &[obj(&[
                ("thread", thread.clone()),
                ("body", "in thread".into()),
            ])],
        ),
        "sendMessage to a thread",
    )
    .await;
    eventually("john's thread handler fires", || {
        on("onThreadMessageReceived").count() == 1
    })
    .await;
    let (th, m) = on("onThreadMessageReceived").calls.borrow()[0].clone();
    assert_eq!(s(&th, "name"), "side");
    assert_eq!(s(&m, "body"), "in thread");
    let threads = ok(
        call(
            &john,
            "getThreads",
            &[obj(&[("channel", john_channel.clone())])],
        ),
        "getThreads",
    )
    .await;
    assert!(Array::from(&get(&threads, "paginator.items")).length() >= 1);

    call(&session, "end", &[]).unwrap();
    resolved(call(&jane, "endSession", &[]).unwrap()).await;
    resolved(call(&john, "endSession", &[]).unwrap()).await;
}

#[wasm_bindgen_test]
async fn instance_observers_fire_for_the_other_user_and_really_unsubscribe() {
    if HOST.is_none() {
        return;
    }
    let id = suffix();
    let (jane, john) = (client(), client());
    start(&jane, &format!("jane-{id}")).await;
    start(&john, &format!("john-{id}")).await;
    let joined = Recorder::new();
    let unsubscribe = call(&john, "onChannelJoined", std::slice::from_ref(&joined.f)).unwrap();
    let observer = Recorder::new();
    call(
        &john,
        "onChannelJoined",
        &[obj(&[("onNext", observer.f.clone())])],
    )
    .unwrap();
    let members = Array::of1(&obj(&[("username", format!("john-{id}").into())]));
    let req = obj(&[
        ("type", "PRIVATE".into()),
        ("name", format!("p-{id}").into()),
        ("members", members.into()),
    ]);
    let created = ok(call(&jane, "createChannel", &[req]), "createChannel").await;
    eventually("john hears he joined", || {
        joined.count() == 1 && observer.count() == 1
    })
    .await;
    assert_eq!(joined.names("name"), [s(&created, "channel.name")]);
    // A real unsubscribe whose result is a harmless function.
    let again = Function::from(unsubscribe)
        .call0(&JsValue::UNDEFINED)
        .unwrap();
    assert!(Function::from(again).call0(&JsValue::UNDEFINED).is_ok());
    let req = obj(&[
        ("type", "PRIVATE".into()),
        ("name", format!("q-{id}").into()),
        (
            "members",
            Array::of1(&obj(&[("username", format!("john-{id}").into())])).into(),
        ),
    ]);
    ok(call(&jane, "createChannel", &[req]), "createChannel").await;
    eventually("the object observer still hears", || observer.count() == 2).await;
    assert_eq!(joined.count(), 1, "the unsubscribed function does not");

    // Channel lists, counts, members, membership.
    let mine = ok(
        call(
            &john,
            "getChannels",
            &[obj(&[("filter", obj(&[("joined", true.into())]))])],
        ),
        "getChannels",
    )
    .await;
    assert_eq!(Array::from(&get(&mine, "paginator.items")).length(), 2);
    let channel = get(&created, "channel");
    let members = ok(
        call(
            &jane,
            "getChannelMembers",
            &[obj(&[("channel", channel.clone())])],
        ),
        "getChannelMembers",
    )
    .await;
    assert_eq!(Array::from(&get(&members, "paginator.items")).length(), 2);
    // A User resource (members, contacts) carries `channelMember`; a CurrentUser does not.
    let john_user = Array::from(&get(&members, "paginator.items"))
        .iter()
        .find(|u| s(u, "name") == format!("john-{id}"))
        .unwrap();
    let member = ok(
        call(
            &jane,
            "getUserIsChannelMember",
            &[obj(&[("user", john_user), ("channel", channel)])],
        ),
        "getUserIsChannelMember",
    )
    .await;
    assert_eq!(get(&member, "isMember"), true);
    let count = ok(
        call(&john, "getUnreadChannelsCount", &[JsValue::UNDEFINED]),
        "getUnreadChannelsCount",
    )
    .await;
    assert!(get(&count, "count").as_f64().is_some());

    // NAS observers and the thrown channel errors.
    resolved(call(&john, "endSession", &[]).unwrap()).await;
    expect_error(
        call(&john, "onChannelJoined", std::slice::from_ref(&joined.f)),
        "NoActiveSessionError",
    );
    let direct = obj(&[
        ("type", "DIRECT".into()),
        (
            "members",
            Array::of1(&obj(&[("username", format!("john-{id}").into())])).into(),
        ),
    ]);
    let d = ok(
        call(&jane, "createChannel", &[direct]),
        "createChannel DIRECT",
    )
    .await;
    let e = call(
        &jane,
        "joinChannel",
        &[obj(&[("channel", get(&d, "channel"))])],
    )
    .unwrap_err();
    assert_eq!(s(&e, "error"), "ChannelNotPubliclyJoinableError");
    assert_eq!(get(&e, "channel.id"), get(&d, "channel.id"));
    let e = call(
        &jane,
        "addChannelModerator",
        &[obj(&[
            ("channel", get(&d, "channel")),
            ("user", obj(&[("id", 1.into())])),
        ])],
    )
    .unwrap_err();
    assert_eq!(s(&e, "error"), "CannotAddModeratorToChannel");
    resolved(call(&jane, "endSession", &[]).unwrap()).await;
}

#[wasm_bindgen_test]
async fn a_large_file_upload_reports_progress_and_john_downloads_the_same_bytes() {
    if HOST.is_none() {
        return;
    }
    let (jane, john, jane_channel, john_channel, _) = pair().await;
    if get(&jane_channel, "_streams.messages").is_undefined() {
        web_sys_log(
            "SKIPPED: the server's Channel has no _streams.messages (docs/protocol.md §6.3)",
        );
        return;
    }
    const N: u32 = 4 * 1024 * 1024;
    let bytes = js_sys::Uint8Array::new_with_length(N);
    for i in (0..N).step_by(4096) {
        bytes.set_index(i, (i / 4096 % 251) as u8);
    }
    let file = js_file(&bytes, "big.bin");
    let progress = Recorder::new();
    let events: Rc<RefCell<Vec<String>>> = Rc::new(RefCell::new(Vec::new()));
    let (e1, e2, e3) = (events.clone(), events.clone(), events.clone());
    let listener = obj(&[
        (
            "onStarted",
            Closure::<dyn Fn()>::new(move || e1.borrow_mut().push("started".into()))
                .into_js_value(),
        ),
        ("onProgress", {
            let p = progress.f.clone();
            Closure::<dyn Fn(JsValue)>::new(move |v: JsValue| {
                e2.borrow_mut().push("progress".into());
                Function::from(p.clone())
                    .call1(&JsValue::UNDEFINED, &v)
                    .unwrap();
            })
            .into_js_value()
        }),
        (
            "onCompleted",
            Closure::<dyn Fn(JsValue)>::new(move |r: JsValue| {
                e3.borrow_mut()
                    .push(format!("completed:{}", r.as_f64().unwrap_or(-1.0)));
            })
            .into_js_value(),
        ),
    ]);
    let sent = resolved(
        call(
            &jane,
            "sendMessage",
            &[obj(&[
                ("channel", jane_channel.clone()),
                ("file", file),
                ("groupTag", "g1".into()),
                ("progressListener", listener),
            ])],
        )
        .unwrap(),
    )
    .await;
    let ev = events.borrow().clone();
    if get(&sent, "error.status") == 404 {
        // The failure path itself is checked: FAILED reaches the listener.
        assert_eq!(ev.last().map(String::as_str), Some("completed:1"));
        web_sys_log(
            "SKIPPED: the server answers 404 to the upload stream (docs/protocol.md §10.2)",
        );
        return;
    }
    assert_eq!(get(&sent, "succeeded"), true, "{:?}", get(&sent, "error"));
    assert_eq!(ev.first().map(String::as_str), Some("started"));
    assert_eq!(ev.last().map(String::as_str), Some("completed:0"));
    assert!(
        progress.count() >= 3,
        "onProgress calls: {}",
        progress.count()
    );
    assert_eq!(s(&sent, "message.type"), "FILE");
    assert_eq!(s(&sent, "message.groupTag"), "g1");
    assert!(s(&sent, "message.file.url").contains("grant="));
    // John reads it through his own paginator (his read grant) and downloads it.
    let page = ok(
        call(&john, "getMessages", &[obj(&[("channel", john_channel)])]),
        "getMessages",
    )
    .await;
    let m = Array::from(&get(&page, "paginator.items")).get(0);
    let url = s(&m, "file.url");
    assert!(url.contains("grant="));
    let got = fetch_bytes(&url).await;
    assert_eq!(got.length(), N);
    for i in (0..N).step_by(4096) {
        assert_eq!(got.get_index(i), (i / 4096 % 251) as u8);
    }
    resolved(call(&jane, "endSession", &[]).unwrap()).await;
    resolved(call(&john, "endSession", &[]).unwrap()).await;
}

// ----- moderation: extensions beyond 1.58.2 (docs/api.md §16.1) --------------------

/// The secret of the Platform API (docs/protocol.md §15) the server was started with
/// (`--platform-secret API_KEY=SECRET`), for reading the review queue.
const PLATFORM_SECRET: Option<&str> = option_env!("CHATKITTY_TEST_PLATFORM_SECRET");

/// `kitty.name(request)`, resolved (succeeded or failed).
async fn settled(kitty: &JsValue, name: &str, request: JsValue) -> JsValue {
    resolved(call(kitty, name, &[request]).unwrap_or_else(|e| panic!("{name} threw {e:?}"))).await
}

/// `r` is a failed result whose error is the server's `name` (docs/protocol.md §3.5:
/// `{error, message, timestamp}`) with a message containing `says`.
fn failed_with(r: &JsValue, name: &str, says: &str) {
    assert_eq!(get(r, "failed"), true, "expected {name}, got {r:?}");
    assert_eq!(get(r, "succeeded"), false);
    assert_eq!(s(r, "error.error"), name, "{:?}", get(r, "error"));
    let message = s(r, "error.message");
    assert!(
        message.contains(says),
        "{name}'s message {message:?} should say {says:?}"
    );
}

async fn end(kitties: &[&JsValue]) {
    for kitty in kitties {
        resolved(call(kitty, "endSession", &[]).unwrap()).await;
    }
}

#[wasm_bindgen_test]
async fn a_member_cannot_moderate_and_is_told_so() {
    if HOST.is_none() {
        return;
    }
    // jane created the channel: she moderates it; john only joined.
    let (jane, john, _, his_channel, id) = pair().await;
    let her = || obj(&[("username", format!("jane-{id}").into())]);
    let on = |pairs: &[(&str, JsValue)]| {
        let o = obj(&[("channel", his_channel.clone())]);
        for (k, v) in pairs {
            Reflect::set(&o, &JsValue::from_str(k), v).unwrap();
        }
        o
    };
    let forbidden = "Only moderators of";
    for (name, request) in [
        ("banChannelMember", on(&[("user", her())])),
        ("unbanChannelMember", on(&[("user", her())])),
        ("muteChannelMember", on(&[("user", her())])),
        ("unmuteChannelMember", on(&[("user", her())])),
        ("setChannelSlowMode", on(&[("seconds", 30.into())])),
    ] {
        let r = settled(&john, name, request).await;
        failed_with(&r, "ForbiddenError", forbidden);
        assert!(
            s(&r, "error.message").contains(&format!("room-{id}")),
            "{name}: the message names the channel"
        );
    }
    // Nothing happened: john still posts as often as he likes.
    for text in ["one", "two"] {
        let send = on(&[("body", text.into())]);
        ok(call(&john, "sendMessage", &[send]), "sendMessage").await;
    }
    end(&[&jane, &john]).await;
}

#[wasm_bindgen_test]
async fn a_muted_member_still_reads_but_his_messages_fail_with_muted_error_until_unmuted() {
    if HOST.is_none() {
        return;
    }
    let (jane, john, channel, his_channel, id) = pair().await;
    let him = || obj(&[("username", format!("john-{id}").into())]);
    let send = |text: &str| obj(&[("channel", his_channel.clone()), ("body", text.into())]);

    let mute = obj(&[("channel", channel.clone()), ("user", him())]);
    let muted = ok(
        call(&jane, "muteChannelMember", &[mute]),
        "muteChannelMember",
    )
    .await;
    assert_eq!(
        get(&muted, "channel.id"),
        get(&channel, "id"),
        "the channel passed in"
    );
    let sent = settled(&john, "sendMessage", send("may I?")).await;
    failed_with(
        &sent,
        "MutedError",
        &format!("A moderator muted you in channel room-{id}"),
    );
    // He still reads, and what he tried to send was not stored.
    ok(
        call(
            &jane,
            "sendMessage",
            &[obj(&[
                ("channel", channel.clone()),
                ("body", "hush".into()),
            ])],
        ),
        "her message",
    )
    .await;
    let page = ok(
        call(
            &john,
            "getMessages",
            &[obj(&[("channel", his_channel.clone())])],
        ),
        "getMessages",
    )
    .await;
    let items = Array::from(&get(&page, "paginator.items"));
    assert_eq!(items.length(), 1, "only her message");
    assert_eq!(s(&items.get(0), "body"), "hush");

    let unmute = obj(&[("channel", channel.clone()), ("user", him())]);
    ok(
        call(&jane, "unmuteChannelMember", std::slice::from_ref(&unmute)),
        "unmuteChannelMember",
    )
    .await;
    ok(
        call(&john, "sendMessage", &[send("thanks")]),
        "sendMessage once unmuted",
    )
    .await;
    // Unmuting someone who is not muted is "not found".
    failed_with(
        &settled(&jane, "unmuteChannelMember", unmute).await,
        "NotFoundError",
        &format!("john-{id}"),
    );
    end(&[&jane, &john]).await;
}

#[wasm_bindgen_test]
async fn in_slow_mode_a_second_message_too_soon_fails_with_slow_mode_error() {
    if HOST.is_none() {
        return;
    }
    let (jane, john, channel, his_channel, id) = pair().await;
    let slow = |seconds: i32| obj(&[("channel", channel.clone()), ("seconds", seconds.into())]);
    let slowed = ok(
        call(&jane, "setChannelSlowMode", &[slow(60)]),
        "setChannelSlowMode",
    )
    .await;
    assert_eq!(get(&slowed, "channel.id"), get(&channel, "id"));
    let his = |text: &str| obj(&[("channel", his_channel.clone()), ("body", text.into())]);
    ok(
        call(&john, "sendMessage", &[his("one")]),
        "his first message",
    )
    .await;
    let r = settled(&john, "sendMessage", his("two")).await;
    failed_with(
        &r,
        "SlowModeError",
        &format!("you may post in channel room-{id} again in "),
    );
    let wait: u32 = s(&r, "error.message")
        .rsplit("again in ")
        .next()
        .and_then(|t| t.trim_end_matches(" s.").parse().ok())
        .expect("the wait in seconds");
    assert!((1..=60).contains(&wait), "waits {wait} s");
    // The moderator is exempt.
    let hers = |text: &str| obj(&[("channel", channel.clone()), ("body", text.into())]);
    ok(call(&jane, "sendMessage", &[hers("a")]), "her first").await;
    ok(call(&jane, "sendMessage", &[hers("b")]), "her second").await;
    // Out of range is refused.
    failed_with(
        &settled(&jane, "setChannelSlowMode", slow(21_601)).await,
        "ValidationError",
        "`seconds`",
    );

    ok(
        call(&jane, "setChannelSlowMode", &[slow(0)]),
        "slow mode off",
    )
    .await;
    ok(
        call(&john, "sendMessage", &[his("two, now")]),
        "his message with slow mode off",
    )
    .await;
    end(&[&jane, &john]).await;
}

#[wasm_bindgen_test]
async fn a_banned_member_can_neither_send_nor_read_until_unbanned_and_may_then_rejoin() {
    if HOST.is_none() {
        return;
    }
    let (jane, john, channel, his_channel, id) = pair().await;
    let him = || obj(&[("username", format!("john-{id}").into())]);
    let ban = obj(&[
        ("channel", channel.clone()),
        ("user", him()),
        ("reason", "spam".into()),
        ("durationSeconds", 3600.into()),
    ]);
    let banned = ok(call(&jane, "banChannelMember", &[ban]), "banChannelMember").await;
    assert_eq!(get(&banned, "channel.id"), get(&channel, "id"));

    let says = format!("You are banned from channel room-{id}");
    let his = obj(&[("channel", his_channel.clone()), ("body", "hello?".into())]);
    failed_with(
        &settled(&john, "sendMessage", his).await,
        "BannedError",
        &says,
    );
    let read = obj(&[("channel", his_channel.clone())]);
    failed_with(
        &settled(&john, "getMessages", read).await,
        "BannedError",
        &says,
    );
    // Nor look the channel up (to join it again).
    let id_of = get(&channel, "id");
    let lookup = resolved(call(&john, "getChannel", std::slice::from_ref(&id_of)).unwrap()).await;
    failed_with(&lookup, "BannedError", &says);

    let unban = obj(&[("channel", channel.clone()), ("user", him())]);
    ok(
        call(&jane, "unbanChannelMember", &[unban]),
        "unbanChannelMember",
    )
    .await;
    let found = ok(
        call(&john, "getChannel", &[id_of]),
        "getChannel once unbanned",
    )
    .await;
    let join = obj(&[("channel", get(&found, "channel"))]);
    ok(
        call(&john, "joinChannel", &[join]),
        "joinChannel once unbanned",
    )
    .await;
    let his = obj(&[("channel", his_channel), ("body", "back".into())]);
    ok(
        call(&john, "sendMessage", &[his]),
        "sendMessage once unbanned",
    )
    .await;
    end(&[&jane, &john]).await;
}

#[wasm_bindgen_test]
async fn a_flagged_message_reaches_the_review_queue_once() {
    if HOST.is_none() {
        return;
    }
    let secret = PLATFORM_SECRET.expect("CHATKITTY_TEST_PLATFORM_SECRET (scripts/test-browser.sh)");
    let (jane, john, channel, _, id) = pair().await;
    let hers = obj(&[("channel", channel.clone()), ("body", "read this".into())]);
    let message = get(
        &ok(call(&jane, "sendMessage", &[hers]), "sendMessage").await,
        "message",
    );
    let reason = format!("spam {id}");
    let flag = obj(&[
        ("message", message.clone()),
        ("reason", reason.clone().into()),
    ]);
    let flagged = ok(
        call(&john, "flagMessage", std::slice::from_ref(&flag)),
        "flagMessage",
    )
    .await;
    assert_eq!(
        get(&flagged, "message.id"),
        get(&message, "id"),
        "the message passed in"
    );
    ok(call(&john, "flagMessage", &[flag]), "flagMessage again").await;
    let nowhere = obj(&[("message", obj(&[("id", 999_999_999.into())]))]);
    failed_with(
        &settled(&john, "flagMessage", nowhere).await,
        "NotFoundError",
        "999999999",
    );

    // The application's backend sees one open flag for it, by john, with the reason.
    let queue = JsFuture::from(open_flags(HOST.unwrap(), API_KEY, secret))
        .await
        .expect("the review queue (Platform API)");
    let mine: Vec<JsValue> = Array::from(&queue)
        .iter()
        .filter(|f| get(f, "message.id") == get(&message, "id"))
        .collect();
    assert_eq!(
        mine.len(),
        1,
        "one flag per message and reporter: {queue:?}"
    );
    assert_eq!(s(&mine[0], "reason"), reason);
    assert_eq!(s(&mine[0], "status"), "OPEN");
    assert_eq!(s(&mine[0], "reporter.name"), format!("john-{id}"));
    assert_eq!(s(&mine[0], "message.body"), "read this");
    end(&[&jane, &john]).await;
}

#[wasm_bindgen(inline_js = "
export async function open_flags(host, key, secret) {
  const base = 'http://' + host;
  const t = await fetch(base + '/oauth/token', {
    method: 'POST',
    headers: { authorization: 'Basic ' + btoa(key + ':' + secret), 'content-type': 'application/x-www-form-urlencoded' },
    body: 'grant_type=client_credentials',
  });
  if (!t.ok) throw new Error('POST /oauth/token ' + t.status + ' ' + await t.text());
  const token = await t.json();
  const auth = { authorization: 'Bearer ' + token.access_token };
  const flags = [];
  for (let page = 0; ; page++) {
    const r = await fetch(`${base}/v1/applications/${token.application_id}/flags?status=OPEN&size=100&page=${page}`, { headers: auth });
    if (!r.ok) throw new Error('GET flags ' + r.status + ' ' + await r.text());
    const body = await r.json();
    flags.push(...((body._embedded && body._embedded.flags) || []));
    if (!(body._links && body._links.next)) return flags;
  }
}
")]
extern "C" {
    fn open_flags(host: &str, key: &str, secret: &str) -> Promise;
}

#[wasm_bindgen(inline_js = "
export function js_file(bytes, name) { return new File([bytes], name, { type: 'application/octet-stream' }); }
export async function fetch_bytes(url) { const r = await fetch(url); if (!r.ok) throw new Error('GET ' + r.status); return new Uint8Array(await r.arrayBuffer()); }
export function web_sys_log(m) { console.log(m); }
")]
extern "C" {
    fn js_file(bytes: &js_sys::Uint8Array, name: &str) -> JsValue;
    #[wasm_bindgen(js_name = fetch_bytes)]
    fn fetch_bytes_js(url: &str) -> Promise;
    fn web_sys_log(m: &str);
}

async fn fetch_bytes(url: &str) -> js_sys::Uint8Array {
    JsFuture::from(fetch_bytes_js(url))
        .await
        .expect("download")
        .into()
}
