//! The wasm driver: the `ChatKitty` class, its WebSocket, its timer, Promises and app
//! callbacks. It feeds the [`Client`] core and carries out what the core decides; it
//! makes no protocol decision itself.
//!
//! Re-entrancy: [`drive`] takes everything out of the core under one short borrow,
//! releases it, and only then performs I/O, settles Promises and calls app callbacks,
//! so a callback may call back into the SDK (ARCHITECTURE.md traps). A throwing
//! callback is caught and logged with `console.error`.

mod convert;
mod js;
mod socket;

use std::cell::{Cell, RefCell};
use std::rc::{Rc, Weak};

use js_sys::{Function, Object, Promise, Reflect};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

use crate::core::{
    ops, ChatEvent, Client, Completion, Config, Done, Event, Failure, Id, Io, Misuse, Op, Page,
    Payload, Upload, DEFAULT_HOST,
};
use convert::{set, succeeded};
use js::Js;
use socket::{Socket, Timer};

#[wasm_bindgen]
extern "C" {
    #[wasm_bindgen(js_namespace = console, js_name = error)]
    fn console_error(message: &str, error: &JsValue);
}

fn now() -> u64 {
    js_sys::Date::now() as u64
}

/// How a pending Promise is settled when its call completes.
enum Settle {
    /// `startSession`: `{session: {user}}`.
    Session,
    /// `{<key>: resource}` (a page: `{paginator}`); no key: the flags only.
    Resource(Option<&'static str>),
    /// `nextPage()`/`prevPage()`: the paginator itself; rejects on failure.
    NextPage,
    /// `endSession`: undefined.
    Closed,
    /// A chat session's awaitable: resolves with the non-thenable result copy.
    Chat(JsValue),
}

struct Pending {
    id: Id,
    resolve: Function,
    reject: Function,
    settle: Settle,
}

/// Observer kinds: `onCurrentUserChanged`, `onCurrentUserOnline`,
/// `onCurrentUserOffline`, then the instance observers of [`crate::core::UserEvent`]
/// from `USER_EVENTS` on (the numbering of index.js's observer table).
type Observed = u8;
const CURRENT_USER: Observed = 0;
const ONLINE: Observed = 1;
const OFFLINE: Observed = 2;
const USER_EVENTS: Observed = 3;

struct Observer {
    id: u32,
    kind: Observed,
    target: JsValue,
}

/// Everything one `ChatKitty` instance owns. Shared through `Rc`; closures hold `Weak`.
struct Inner {
    core: RefCell<Client<Js>>,
    socket: RefCell<Option<Socket>>,
    timer: RefCell<Option<Timer>>,
    pending: RefCell<Vec<Pending>>,
    observers: RefCell<Vec<Observer>>,
    next_observer: Cell<u32>,
    /// Chat sessions: id → the request holding the handlers, and the session object.
    chats: RefCell<Vec<(Id, JsValue, JsValue)>>,
    /// The configuration's `WebSocket` constructor (Node without a global one, tests);
    /// `undefined`: the global `WebSocket`.
    web_socket: JsValue,
    /// Itself while the core is live ([`Client::is_live`]): a session's client must
    /// not be freed when the app keeps no reference to it (the glue's
    /// FinalizationRegistry frees an unreferenced instance, and dropping it would close
    /// the socket). Set and cleared at the end of [`drive`].
    keep: RefCell<Option<Rc<Inner>>>,
    me: Weak<Inner>,
}

/// The ChatKitty client. Use `ChatKitty.getInstance(apiKey)`, or
/// `new ChatKitty({apiKey, host, isSecure})` for a self-hosted server.
#[wasm_bindgen(js_name = ChatKitty)]
pub struct ChatKitty {
    inner: Rc<Inner>,
}

thread_local! {
    /// surface.js's uploader: `(upload, done) => void` (XMLHttpRequest, docs/protocol.md §10.2).
    static UPLOADER: RefCell<Option<Function>> = const { RefCell::new(None) };
}

/// `{host, isSecure, minReconnectDelay, maxReconnectDelay, sendTimeout}` (index.d.ts).
fn read_config(api_key: String, options: &JsValue) -> Config {
    let opts = Js(options.clone());
    let mut c = Config::new(
        api_key,
        opts.get("host")
            .and_then(|h| h.as_string())
            .filter(|h| !h.is_empty())
            .unwrap_or_else(|| DEFAULT_HOST.to_owned()),
        opts.get("isSecure").is_none_or(|s| s.truthy()),
    );
    let ms = |name| opts.get(name).and_then(|v| v.as_number()).map(|n| n as u64);
    c.reconnect_min_ms = ms("minReconnectDelay").unwrap_or(c.reconnect_min_ms);
    c.reconnect_max_ms = ms("maxReconnectDelay").unwrap_or(c.reconnect_max_ms);
    c.send_timeout_ms = ms("sendTimeout").unwrap_or(c.send_timeout_ms);
    c
}

#[wasm_bindgen(js_class = ChatKitty)]
impl ChatKitty {
    /// Creates a client for `{apiKey, host?, isSecure?}` (not cached).
    #[wasm_bindgen(constructor)]
    pub fn new(configuration: JsValue) -> Result<ChatKitty, JsValue> {
        let api_key = Js(configuration.clone())
            .get("apiKey")
            .and_then(|k| k.as_string())
            .ok_or_else(|| {
                convert::misuse(
                    Misuse::Expected("apiKey must be a string"),
                    &JsValue::NULL,
                    "ChatKitty",
                )
            })?;
        let config = read_config(api_key, &configuration);
        let web_socket = Js(configuration)
            .get("WebSocket")
            .map_or(JsValue::UNDEFINED, |w| w.0);
        let seed = (js_sys::Math::random() * 9_007_199_254_740_992.0) as u64 ^ now();
        let inner = Rc::new_cyclic(|me: &Weak<Inner>| Inner {
            core: RefCell::new(Client::new(config, seed)),
            socket: RefCell::new(None),
            timer: RefCell::new(None),
            pending: RefCell::new(Vec::new()),
            observers: RefCell::new(Vec::new()),
            next_observer: Cell::new(1),
            chats: RefCell::new(Vec::new()),
            web_socket,
            keep: RefCell::new(None),
            me: me.clone(),
        });
        *inner.timer.borrow_mut() = Some(Timer::new(Rc::downgrade(&inner)));
        Ok(ChatKitty { inner })
    }

    /// The current user while a session is active, otherwise `undefined`.
    #[wasm_bindgen(getter, js_name = currentUser, skip_typescript)]
    pub fn current_user(&self) -> JsValue {
        self.inner
            .core
            .borrow()
            .current_user()
            .map_or(JsValue::UNDEFINED, |u| u.0.clone())
    }

    /// Starts a user session: `{username, authParams?}`.
    #[wasm_bindgen(js_name = startSession, skip_typescript)]
    pub fn start_session(&self, request: JsValue) -> Result<Promise, JsValue> {
        self.call("startSession", Settle::Session, |c, now| {
            c.start_session(&Js(request), now)
        })
    }

    /// Ends the session: resolves once the connection is closed.
    #[wasm_bindgen(js_name = endSession, skip_typescript)]
    pub fn end_session(&self) -> Result<Promise, JsValue> {
        self.call(
            "endSession",
            Settle::Closed,
            |c, now| Ok(c.end_session(now)),
        )
    }

    /// Runs API call `op` of the core's table (`crate::core::OPS`) with `request`;
    /// index.js gives each row its JavaScript name.
    #[wasm_bindgen(js_name = _call, skip_typescript)]
    pub fn call_op(&self, op: Op, request: JsValue) -> Result<Promise, JsValue> {
        let key = ops::OPS.get(op as usize).and_then(|s| s.key);
        let id = {
            let r = self
                .inner
                .core
                .borrow_mut()
                .call(op, &Js(request.clone()), now());
            r.map_err(|m| convert::misuse(m, &request, ""))?
        };
        let promise = self.promise(id, Settle::Resource(key));
        drive(&self.inner);
        Ok(promise)
    }

    /// Registers observer `kind` (see `Observed`): a function or `{onNext}`. Returns
    /// a working unsubscribe, which itself returns a no-op (docs/api.md §13). `replay`: an
    /// `onCurrentUserChanged` registered before the module loaded, already called.
    #[wasm_bindgen(js_name = _on, skip_typescript)]
    pub fn on(
        &self,
        kind: Observed,
        observer: JsValue,
        replay: Option<bool>,
    ) -> Result<Function, JsValue> {
        if kind >= USER_EVENTS {
            let r = self.inner.core.borrow().require_session();
            r.map_err(|m| convert::misuse(m, &observer, ""))?;
        } else if kind == CURRENT_USER && replay != Some(true) {
            let mut user = self.current_user();
            if user.is_undefined() {
                user = JsValue::NULL;
            }
            notify(&observer, &user);
        }
        Ok(self.observe(kind, observer))
    }

    /// For leak tests: the number of entries in the SDK's tables — the core's (topics,
    /// relays, actions, chat sessions, queued chat events), pending Promises, chat
    /// sessions and observers.
    #[wasm_bindgen(js_name = _tables, skip_typescript)]
    pub fn tables(&self) -> u32 {
        let i = &self.inner;
        let core: usize = i.core.borrow().table_sizes().iter().sum();
        (core + i.pending.borrow().len() + i.chats.borrow().len() + i.observers.borrow().len())
            as u32
    }

    /// Sets the function that performs uploads (index.js does, once).
    #[wasm_bindgen(js_name = _host, skip_typescript)]
    pub fn host(uploader: Function) {
        UPLOADER.with(|u| *u.borrow_mut() = Some(uploader));
    }

    /// Sends the current draft text (debounced 150 ms per channel).
    #[wasm_bindgen(js_name = sendKeystrokes, skip_typescript)]
    pub fn send_keystrokes(&self, request: JsValue) -> Result<(), JsValue> {
        let r = self
            .inner
            .core
            .borrow_mut()
            .send_keystrokes(&Js(request), now());
        r.map_err(|m| convert::misuse(m, &JsValue::NULL, "sendKeystrokes"))?;
        drive(&self.inner);
        Ok(())
    }

    /// Enters a channel's real-time chat. Returns at once a result that is readable
    /// immediately and awaitable (it settles when the server confirmed every
    /// subscription of the chat session).
    #[wasm_bindgen(js_name = startChatSession, skip_typescript)]
    pub fn start_chat_session(&self, request: JsValue) -> Result<JsValue, JsValue> {
        let inner = &self.inner;
        let id = {
            let r = inner
                .core
                .borrow_mut()
                .start_chat_session(&Js(request.clone()), now());
            r.map_err(|m| convert::misuse(m, &request, "startChatSession"))?
        };
        let session = Object::new();
        inner
            .chats
            .borrow_mut()
            .push((id, request.clone(), session.clone().into()));
        set(
            &session,
            "channel",
            &Reflect::get(&request, &"channel".into())?,
        );
        set(&session, "thread", &JsValue::NULL);
        let weak = inner.me.clone();
        let end = Closure::<dyn Fn()>::new(move || {
            if let Some(inner) = weak.upgrade() {
                inner.chats.borrow_mut().retain(|c| c.0 != id);
                inner.core.borrow_mut().end_chat_session(id, now());
                drive(&inner);
            }
        });
        set(&session, "end", &end.into_js_value());
        // Follows a thread: `session.thread` is set and its topics subscribed (docs/api.md §13).
        let weak = inner.me.clone();
        let set_thread =
            Closure::<dyn Fn(JsValue) -> Result<(), JsValue>>::new(move |thread: JsValue| {
                let Some(inner) = weak.upgrade() else {
                    return Ok(());
                };
                let r = inner
                    .core
                    .borrow_mut()
                    .set_thread(id, &Js(thread.clone()), now());
                r.map_err(|m| convert::misuse(m, &thread, "setThread"))?;
                if let Some(c) = inner.chats.borrow().iter().find(|c| c.0 == id) {
                    let _ = Reflect::set(&c.2, &"thread".into(), &thread);
                }
                drive(&inner);
                Ok(())
            });
        set(&session, "setThread", &set_thread.into_js_value());

        // What `await` yields: the same fields, without `then`, so it does not loop.
        let settled = succeeded(Some("session"), &session);
        let result = succeeded(Some("session"), &session);
        let promise = self.promise(id, Settle::Chat(settled.into()));
        let then: Function = Reflect::get(&promise, &"then".into())?.unchecked_into();
        set(&result, "then", &then.bind0(&promise));
        drive(inner);
        Ok(result.into())
    }
}

impl ChatKitty {
    /// Runs an API call on the core and returns a Promise settled by its completion.
    fn call(
        &self,
        call: &str,
        settle: Settle,
        f: impl FnOnce(&mut Client<Js>, u64) -> Result<Id, Misuse>,
    ) -> Result<Promise, JsValue> {
        let id = {
            let r = f(&mut self.inner.core.borrow_mut(), now());
            r.map_err(|m| convert::misuse(m, &JsValue::NULL, call))?
        };
        let promise = self.promise(id, settle);
        drive(&self.inner);
        Ok(promise)
    }

    fn promise(&self, id: Id, settle: Settle) -> Promise {
        pending_promise(&self.inner, id, settle)
    }

    fn observe(&self, kind: Observed, target: JsValue) -> Function {
        let inner = &self.inner;
        let id = inner.next_observer.get();
        inner.next_observer.set(id + 1);
        inner
            .observers
            .borrow_mut()
            .push(Observer { id, kind, target });
        let weak = inner.me.clone();
        let unsubscribe = Closure::<dyn Fn() -> JsValue>::new(move || {
            if let Some(inner) = weak.upgrade() {
                inner.observers.borrow_mut().retain(|o| o.id != id);
            }
            // `unsubscribe()()` keeps working for code written against 1.58.2 (docs/api.md §13).
            noop()
        });
        unsubscribe.into_js_value().unchecked_into()
    }
}

fn noop() -> JsValue {
    thread_local! {
        static NOOP: JsValue = Closure::<dyn Fn()>::new(|| {}).into_js_value();
    }
    NOOP.with(JsValue::clone)
}

fn pending_promise(inner: &Rc<Inner>, id: Id, settle: Settle) -> Promise {
    let mut settle = Some(settle);
    Promise::new(&mut |resolve, reject| {
        if let Some(settle) = settle.take() {
            inner.pending.borrow_mut().push(Pending {
                id,
                resolve,
                reject,
                settle,
            });
        }
    })
}

/// Calls an observer: a function with `arg`, or an object's `onNext(arg)`.
fn notify(target: &JsValue, arg: &JsValue) {
    let r = if let Some(f) = target.dyn_ref::<Function>() {
        f.call1(&JsValue::UNDEFINED, arg)
    } else {
        match Reflect::get(target, &"onNext".into()) {
            Ok(f) if f.is_function() => f.unchecked_ref::<Function>().call1(target, arg),
            _ => Ok(JsValue::UNDEFINED),
        }
    };
    if let Err(e) = r {
        console_error("chatkitty-wasm: a callback threw", &e);
    }
}

/// Feeds the core's outputs to the world until it has nothing more to say.
fn drive(inner: &Rc<Inner>) {
    loop {
        let (mut io, mut done, mut events) = (Vec::new(), Vec::new(), Vec::new());
        let mut uploads = Vec::new();
        let deadline = {
            let mut core = inner.core.borrow_mut();
            while let Some(x) = core.poll_io() {
                io.push(x);
            }
            while let Some(x) = core.poll_upload() {
                uploads.push(x);
            }
            while let Some(x) = core.poll_completion() {
                done.push(x);
            }
            while let Some(x) = core.poll_event() {
                events.push(x);
            }
            core.poll_timeout()
        };
        if let Some(timer) = inner.timer.borrow_mut().as_mut() {
            timer.arm(deadline);
        }
        if io.is_empty() && done.is_empty() && events.is_empty() && uploads.is_empty() {
            let live = inner.core.borrow().is_live();
            let mut keep = inner.keep.borrow_mut();
            if live != keep.is_some() {
                // Never the last reference: the caller holds `inner`.
                *keep = live.then(|| inner.clone());
            }
            return;
        }
        for x in io {
            perform(inner, x);
        }
        for u in uploads {
            upload(inner, u);
        }
        for c in done {
            settle(inner, c);
        }
        for e in events {
            deliver(inner, e);
        }
    }
}

fn perform(inner: &Rc<Inner>, io: Io) {
    match io {
        Io::Open(url) => match Socket::open(&url, &inner.web_socket, Rc::downgrade(inner)) {
            Ok(s) => *inner.socket.borrow_mut() = Some(s),
            Err(_) => inner.core.borrow_mut().handle_closed(now()),
        },
        Io::Send(text) => {
            if let Some(s) = inner.socket.borrow().as_ref() {
                s.send(&text);
            }
        }
        Io::Close => {
            let old = inner.socket.borrow_mut().take();
            drop(old);
        }
    }
}

/// Hands an upload to index.js's `XMLHttpRequest` uploader, which calls back with the
/// HTTP status and response text and calls the progress listener (docs/api.md §2.6).
fn upload(inner: &Rc<Inner>, u: Upload<Js>) {
    let o = Object::new();
    set(&o, "url", &u.url.as_str().into());
    set(&o, "grant", &u.grant.as_str().into());
    set(&o, "file", &u.file.0);
    let fields = Object::new();
    for (k, v) in &u.fields {
        set(&fields, k, &v.as_str().into());
    }
    set(&o, "fields", &fields);
    set(
        &o,
        "listener",
        &u.listener.map_or(JsValue::UNDEFINED, |l| l.0),
    );
    let weak = inner.me.clone();
    let id = u.id;
    let done = Closure::once_into_js(move |status: u16, text: String| -> bool {
        let Some(inner) = weak.upgrade() else {
            return false;
        };
        let ok = inner.core.borrow_mut().handle_upload(id, status, &text);
        drive(&inner);
        ok
    });
    let uploader = UPLOADER.with(|u| u.borrow().clone());
    let r = match uploader {
        Some(f) => f.call2(&JsValue::UNDEFINED, &o, &done),
        None => Err(JsValue::from_str("no uploader")),
    };
    if let Err(e) = r {
        console_error("chatkitty-wasm: upload failed to start", &e);
        inner.core.borrow_mut().handle_upload(id, 0, "");
    }
}

fn settle(inner: &Rc<Inner>, c: Completion<Js>) {
    let pending = {
        let mut all = inner.pending.borrow_mut();
        match all.iter().position(|p| p.id == c.id) {
            Some(i) => all.remove(i),
            None => return,
        }
    };
    let resolve = |v: &JsValue| {
        let _ = pending.resolve.call1(&JsValue::UNDEFINED, v);
    };
    match (pending.settle, c.result) {
        (Settle::NextPage, Err(f)) => {
            let _ = pending
                .reject
                .call1(&JsValue::UNDEFINED, &convert::error_value(f));
        }
        (Settle::Chat(done), Ok(_)) => resolve(&done),
        (_, Err(Failure::NotAReply(m))) => {
            let _ = pending
                .reject
                .call1(&JsValue::UNDEFINED, &convert::not_a_reply(m));
        }
        (_, Err(f)) => resolve(&convert::failed(f).into()),
        (Settle::Session, Ok(Done::Session(user))) => {
            let session = Object::new();
            set(&session, "user", &user.0);
            resolve(&succeeded(Some("session"), &session).into());
        }
        (Settle::Resource(key), Ok(Done::Resource(r))) => {
            let v = r.map_or(JsValue::UNDEFINED, |r| r.0);
            resolve(&succeeded(key, &v).into());
        }
        (Settle::Resource(_), Ok(Done::Page(p))) => {
            resolve(&succeeded(Some("paginator"), &paginator(inner, p)).into());
        }
        (Settle::NextPage, Ok(Done::Page(p))) => resolve(&paginator(inner, p)),
        (Settle::Closed, Ok(_)) => resolve(&JsValue::UNDEFINED),
        (_, Ok(_)) => resolve(&succeeded(None, &JsValue::UNDEFINED).into()),
    }
}

/// `{items, hasNextPage, hasPrevPage, nextPage(), prevPage()}` (docs/api.md §11.1).
fn paginator(inner: &Rc<Inner>, page: Page<Js>) -> JsValue {
    let o = Object::new();
    set(&o, "items", &page.items.0);
    set(&o, "hasNextPage", &JsValue::from_bool(page.next.is_some()));
    set(&o, "hasPrevPage", &JsValue::from_bool(page.prev.is_some()));
    for (name, link) in [("nextPage", page.next), ("prevPage", page.prev)] {
        let weak = inner.me.clone();
        let (params, kind) = (page.params.clone(), page.kind);
        let f = Closure::<dyn Fn() -> Promise>::new(move || {
            let Some(inner) = weak.upgrade() else {
                return Promise::resolve(&JsValue::UNDEFINED);
            };
            let id = inner
                .core
                .borrow_mut()
                .page(link.as_deref(), params.clone(), kind, now());
            let p = pending_promise(&inner, id, Settle::NextPage);
            drive(&inner);
            p
        });
        set(&o, name, &f.into_js_value());
    }
    o.into()
}

fn deliver(inner: &Rc<Inner>, event: Event<Js>) {
    let (kind, arg) = match event {
        Event::CurrentUser(u) => (CURRENT_USER, u.map_or(JsValue::NULL, |u| u.0)),
        Event::Online => (ONLINE, JsValue::UNDEFINED),
        Event::Offline => (OFFLINE, JsValue::UNDEFINED),
        Event::Chat {
            session,
            kind,
            first,
            second,
        } => return deliver_chat(inner, session, kind, first, second),
        Event::User { kind, value } => (USER_EVENTS + kind as u8, value.0),
    };
    let targets: Vec<JsValue> = inner
        .observers
        .borrow()
        .iter()
        .filter(|o| o.kind == kind)
        .map(|o| o.target.clone())
        .collect();
    let user = match kind {
        CURRENT_USER => arg,
        k if k >= USER_EVENTS => {
            for t in targets {
                notify(&t, &arg);
            }
            return;
        }
        _ => inner
            .core
            .borrow()
            .current_user()
            .map_or(JsValue::UNDEFINED, |u| u.0.clone()),
    };
    for t in targets {
        if kind != CURRENT_USER {
            // Online/offline: a function gets no argument; `onNext(user)` only with a user.
            if let Some(f) = t.dyn_ref::<Function>() {
                if let Err(e) = f.call0(&JsValue::UNDEFINED) {
                    console_error("chatkitty-wasm: a callback threw", &e);
                }
                continue;
            }
            if user.is_undefined() {
                continue;
            }
        }
        notify(&t, &user);
    }
}

fn deliver_chat(inner: &Rc<Inner>, session: Id, kind: ChatEvent, first: Js, second: Option<Js>) {
    let request = {
        let chats = inner.chats.borrow();
        match chats.iter().find(|c| c.0 == session) {
            Some(c) => c.1.clone(),
            None => return,
        }
    };
    let req = Js(request.clone());
    let handler = req
        .get(kind.handler())
        .or_else(|| kind.alias().and_then(|a| req.get(a)));
    let Some(f) = handler.and_then(|h| h.0.dyn_into::<Function>().ok()) else {
        return;
    };
    let r = match second {
        Some(s) => f.call2(&JsValue::UNDEFINED, &first.0, &s.0),
        None => f.call1(&JsValue::UNDEFINED, &first.0),
    };
    if let Err(e) = r {
        console_error("chatkitty-wasm: a chat session handler threw", &e);
    }
}

/// Socket and timer callbacks enter here.
fn input(inner: &Weak<Inner>, f: impl FnOnce(&mut Client<Js>, u64)) {
    if let Some(inner) = inner.upgrade() {
        f(&mut inner.core.borrow_mut(), now());
        drive(&inner);
    }
}
