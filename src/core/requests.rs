//! Request correlation (docs/protocol.md §3.1, 3.3, 3.5): relays, each a SUBSCRIBE
//! answered by one MESSAGE on its own subscription id, and actions, each a SEND with a
//! receipt, answered by the result event that carries it, by the RECEIPT, or by an
//! error on the errors queue. Both wait here until a connection takes them
//! ([`Requests::flush`]); relays are asked again on the next connection after a drop,
//! actions only when they are idempotent message sends. Each action fails after
//! [`super::Config::send_timeout_ms`]; the earliest such deadline is the
//! [`Timer::SendTimeout`].

use std::rc::Rc;

use chatkitty_protocol::destination as dest;
use chatkitty_protocol::event::completes_create_channel;
use chatkitty_protocol::{header, Command, Frame};

use super::out::Out;
use super::payload::Payload;
use super::timer::{Timer, TimerTable};
use super::types::{Failure, Id, Ids, Page, PageKind, Post};
use super::uploads::Uploads;

/// How a relay call's answer becomes its result.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Shape {
    /// The resource.
    Plain,
    /// One field of the resource (`count`, `exists`).
    Field(&'static str),
    /// A page of these items.
    Page(PageKind),
}

/// Who is waiting for a relay's answer.
#[derive(Debug)]
pub(crate) enum Purpose {
    /// An API call.
    Call(Id, Shape),
    /// The start-up's current user (docs/protocol.md §4.1).
    User,
    /// The start-up's write grant (10.1).
    WriteGrant,
    /// The start-up's read grant (10.1).
    ReadGrant,
    /// The message a queued chat event needs (11.2).
    Lookup {
        /// The chat session.
        chat: Id,
        /// The queued event.
        seq: u64,
    },
    /// Gap recovery of a chat session; `seed` (no cursor yet): only learn the newest id.
    Recover {
        /// The chat session.
        chat: Id,
        /// See above.
        seed: bool,
    },
}

/// A relay: asked, or waiting for a connection.
#[derive(Debug)]
pub(crate) struct Relay {
    /// Its subscription id, which its answer (or error) names.
    sub: String,
    /// The relay destination.
    pub(crate) dest: String,
    /// Parameter headers (docs/protocol.md §9.4).
    pub(crate) params: Rc<[(String, String)]>,
    pub(crate) purpose: Purpose,
    sent: bool,
}

/// What completes an action.
#[derive(Debug)]
pub(crate) enum Mode<P> {
    /// The first topic MESSAGE with our `receipt-id` (3.3), then this.
    Event(Post),
    /// `createChannel`: only the channel-creation event types complete it.
    CreateChannel,
    /// The RECEIPT, with this value of the request (docs/api.md §11.3).
    Receipt(Option<P>),
}

/// An action: sent, or waiting for a connection.
#[derive(Debug)]
pub(crate) struct Action<P> {
    receipt: String,
    /// The call.
    pub(crate) id: Id,
    dest: String,
    body: String,
    pub(crate) mode: Mode<P>,
    sent: bool,
    /// `idempotency-key` (message sends): safe to send again after a drop.
    key: Option<String>,
    /// Fails with [`Failure::Timeout`] at this time (None: never).
    deadline: Option<u64>,
}

impl<P> Action<P> {
    /// Action `id`: a SEND of `body` to `dest`. `key` (message sends) is its
    /// `idempotency-key`, one per logical send, kept when it is sent again after a drop.
    pub(crate) fn new(
        id: Id,
        ids: &mut Ids,
        dest: String,
        body: String,
        mode: Mode<P>,
        key: Option<String>,
        deadline: Option<u64>,
    ) -> Action<P> {
        let receipt = ids.receipt();
        Action {
            receipt,
            id,
            dest,
            body,
            mode,
            sent: false,
            key,
            deadline,
        }
    }
}

/// Pending relays and actions, and the errors queue that reports their failures.
#[derive(Debug)]
pub(crate) struct Requests<P> {
    /// The subscription id of the errors queue (3.5).
    pub(crate) errors_sub: String,
    relays: Vec<Relay>,
    actions: Vec<Action<P>>,
}

impl<P: Payload> Requests<P> {
    pub(crate) fn new(ids: &mut Ids) -> Requests<P> {
        Requests {
            errors_sub: ids.subscription(),
            relays: Vec::new(),
            actions: Vec::new(),
        }
    }

    /// How many relays and actions are pending (leak tests).
    pub(crate) fn sizes(&self) -> (usize, usize) {
        (self.relays.len(), self.actions.len())
    }

    /// Queues a relay; it goes out with the next [`Requests::flush`].
    pub(crate) fn add_relay(
        &mut self,
        ids: &mut Ids,
        dest: String,
        params: Rc<[(String, String)]>,
        purpose: Purpose,
    ) {
        self.relays.push(Relay {
            sub: ids.subscription(),
            dest,
            params,
            purpose,
            sent: false,
        });
    }

    /// Queues an action; it goes out with the next [`Requests::flush`].
    pub(crate) fn add_action(&mut self, action: Action<P>, timers: &mut TimerTable) {
        self.actions.push(action);
        self.arm(timers);
    }

    /// The start-up frames (docs/protocol.md §4.1 steps 4–10): the current user, the
    /// errors queue, and the grants not held yet, sent at once (they are pipelined
    /// behind CONNECT).
    pub(crate) fn start_up(
        &mut self,
        ids: &mut Ids,
        grants: (bool, bool),
        out: &mut Out<P>,
        now: u64,
    ) {
        self.relays.retain(|r| !matches!(r.purpose, Purpose::User));
        let none: Rc<[(String, String)]> = Rc::from([]);
        self.add_relay(
            ids,
            dest::CURRENT_USER_RELAY.to_owned(),
            none.clone(),
            Purpose::User,
        );
        let f = Frame::new(Command::Subscribe)
            .with_header(header::ID, self.errors_sub.as_str())
            .with_header(header::DESTINATION, dest::ERRORS_QUEUE);
        out.send(&f, now);
        let pending = |r: &Self, p: fn(&Purpose) -> bool| r.relays.iter().any(|r| p(&r.purpose));
        if !grants.0 && !pending(self, |p| matches!(p, Purpose::WriteGrant)) {
            let d = dest::WRITE_GRANT_RELAY.to_owned();
            self.add_relay(ids, d, none.clone(), Purpose::WriteGrant);
        }
        if !grants.1 && !pending(self, |p| matches!(p, Purpose::ReadGrant)) {
            let d = dest::READ_GRANT_RELAY.to_owned();
            self.add_relay(ids, d, none, Purpose::ReadGrant);
        }
        for r in self.relays.iter_mut().filter(|r| {
            !r.sent
                && matches!(
                    r.purpose,
                    Purpose::User | Purpose::WriteGrant | Purpose::ReadGrant
                )
        }) {
            r.sent = true;
            out.send(&relay_frame(r), now);
        }
    }

    /// Sends every relay, then every action, that waited for a connection, in the order
    /// they were made.
    pub(crate) fn flush(&mut self, out: &mut Out<P>, now: u64) {
        for r in self.relays.iter_mut().filter(|r| !r.sent) {
            r.sent = true;
            out.send(&relay_frame(r), now);
        }
        for a in self.actions.iter_mut().filter(|a| !a.sent) {
            a.sent = true;
            let mut f = action_frame(&a.dest, &a.receipt, &a.body);
            if let Some(k) = &a.key {
                f.push_header(header::IDEMPOTENCY_KEY, k.as_str());
            }
            out.send(&f, now);
        }
    }

    /// The relay answered (or refused) on subscription `sub`, no longer pending.
    pub(crate) fn take_relay(&mut self, sub: &str) -> Option<Relay> {
        let i = self.relays.iter().position(|r| r.sub == sub)?;
        Some(self.relays.remove(i))
    }

    /// The action a topic event of type `ty` with `receipt-id: receipt` completes.
    pub(crate) fn take_event_answer(
        &mut self,
        receipt: &str,
        ty: &str,
        timers: &mut TimerTable,
    ) -> Option<Action<P>> {
        self.take(timers, |a| {
            a.receipt == receipt
                && match a.mode {
                    Mode::Event(_) => true,
                    Mode::CreateChannel => completes_create_channel(ty),
                    Mode::Receipt(_) => false,
                }
        })
    }

    /// The action a RECEIPT completes (only those completed by it; the others stay
    /// pending after their RECEIPT, as in the official client: the server sends the
    /// result event first, 3.3).
    pub(crate) fn take_receipt_answer(
        &mut self,
        receipt: &str,
        timers: &mut TimerTable,
    ) -> Option<Action<P>> {
        self.take(timers, |a| {
            a.receipt == receipt && matches!(a.mode, Mode::Receipt(_))
        })
    }

    /// The action an error with `receipt-id: receipt` fails.
    pub(crate) fn take_refused(
        &mut self,
        receipt: &str,
        timers: &mut TimerTable,
    ) -> Option<Action<P>> {
        self.take(timers, |a| a.receipt == receipt)
    }

    /// Fails the actions `which` selects with `failure`.
    pub(crate) fn fail_actions(
        &mut self,
        which: fn(&Action<P>, u64) -> bool,
        now: u64,
        failure: Failure<P>,
        out: &mut Out<P>,
    ) {
        let mut i = 0;
        while i < self.actions.len() {
            if which(&self.actions[i], now) {
                let id = self.actions.remove(i).id;
                out.complete(id, Err(failure.clone()));
            } else {
                i += 1;
            }
        }
        self.arm(&mut out.timers);
    }

    /// The send timeout fired: the actions whose deadline passed fail.
    pub(crate) fn expire(&mut self, now: u64, out: &mut Out<P>) {
        let due = |a: &Action<P>, now| a.deadline.is_some_and(|d| d <= now);
        self.fail_actions(due, now, Failure::Timeout, out);
    }

    /// Errors without a correlation header fail every action sent (docs/protocol.md §3.5).
    pub(crate) fn fail_sent(&mut self, failure: Failure<P>, out: &mut Out<P>, now: u64) {
        self.fail_actions(|a, _| a.sent, now, failure, out);
    }

    /// The connection is gone. Relays are reads: safe to repeat on the next
    /// connection (recoveries are asked again once their topic is confirmed there).
    /// Actions in flight may or may not have been applied: they fail rather than risk
    /// being applied twice, except message sends, which the server applies once per
    /// idempotency key.
    pub(crate) fn lost(&mut self, out: &mut Out<P>, now: u64) {
        self.relays
            .retain(|r| !matches!(r.purpose, Purpose::Recover { .. }));
        for r in &mut self.relays {
            r.sent = false;
        }
        let in_flight = |a: &Action<P>, _| a.sent && a.key.is_none();
        self.fail_actions(in_flight, now, Failure::Connection, out);
        for a in &mut self.actions {
            a.sent = false;
        }
    }

    /// The session is over. Only the relays of calls stay, to be asked on the next
    /// connection; `ended` (endSession, access denied) fails them and every action too,
    /// since they will never be answered.
    pub(crate) fn teardown(&mut self, ended: bool, out: &mut Out<P>) {
        self.relays
            .retain(|r| matches!(r.purpose, Purpose::Call(..)));
        for r in &mut self.relays {
            r.sent = false;
        }
        if !ended {
            return;
        }
        let calls: Vec<Id> = self
            .relays
            .drain(..)
            .filter_map(|r| match r.purpose {
                Purpose::Call(id, _) => Some(id),
                _ => None,
            })
            .chain(self.actions.drain(..).map(|a| a.id))
            .collect();
        for id in calls {
            out.complete(id, Err(Failure::Connection));
        }
        self.arm(&mut out.timers);
    }

    fn take(
        &mut self,
        timers: &mut TimerTable,
        which: impl Fn(&Action<P>) -> bool,
    ) -> Option<Action<P>> {
        let i = self.actions.iter().position(which)?;
        let a = self.actions.remove(i);
        self.arm(timers);
        Some(a)
    }

    /// Sets the send timeout to the earliest action deadline.
    fn arm(&self, timers: &mut TimerTable) {
        let next = self.actions.iter().filter_map(|a| a.deadline).min();
        timers.set_or_stop(Timer::SendTimeout, next);
    }
}

/// A paging relay's answer as a [`Page`]: its items (messages with the read grant in
/// their file URLs, 10.3) and links.
pub(crate) fn page_of<P: Payload>(
    resource: Option<P>,
    params: Rc<[(String, String)]>,
    kind: PageKind,
    files: &Uploads<P>,
) -> Page<P> {
    let mut items = resource
        .as_ref()
        .and_then(|r| r.get("_embedded"))
        .and_then(|e| e.get(kind.content))
        .unwrap_or_else(P::empty_array);
    if kind.files {
        for i in 0..items.array_len() {
            if let Some(mut item) = items.at(i) {
                files.map_file(&mut item);
                items.set_at(i, item);
            }
        }
    }
    let rel = |name: &'static str| {
        resource
            .as_ref()
            .and_then(|r| r.get_str(&["_relays", name]))
    };
    Page {
        next: rel("next"),
        prev: rel("prev"),
        items,
        params,
        kind,
    }
}

/// A SEND to an action with a JSON body and a receipt.
pub(crate) fn action_frame(dest: &str, receipt: &str, body: &str) -> Frame {
    Frame::new(Command::Send)
        .with_header(header::DESTINATION, dest)
        .with_header(header::CONTENT_TYPE, header::JSON_UTF8)
        .with_header(header::RECEIPT, receipt)
        .with_body(body)
}

fn relay_frame(r: &Relay) -> Frame {
    let mut f = Frame::new(Command::Subscribe);
    for (k, v) in r.params.iter() {
        f.push_header(k.as_str(), v.as_str());
    }
    f.push_header(header::ID, r.sub.as_str());
    f.push_header(header::DESTINATION, r.dest.as_str());
    f
}
