//! Chat sessions (docs/api.md §7): each a set of handlers on a channel's topics, and on
//! the topics of the thread it follows. A session subscribes its channel's self topic
//! first and the seven others on its RECEIPT (docs/protocol.md §4.4), sharing the
//! subscriptions with other sessions through the [`Topics`]. Events are queued per
//! session in arrival order; one that needs a message first (a reply's parent, the
//! message of a read receipt or reaction, 11.2) holds back those behind it until its
//! lookup relay answers.
//!
//! Gap recovery (docs/api.md §14.3): a session with `onReceivedMessage` tracks the
//! newest message it delivered and, once its messages topic is confirmed again after a
//! drop, relays the channel's messages `after` it (page by page, oldest first) while
//! live events wait behind an entry that holds them back, dropping any message id it
//! already delivered. The official client resubscribes and forgets what it missed.

use std::rc::Rc;

use chatkitty_protocol::destination::ChannelTopic;

use super::events::{ChatEvent, Lookup, THREAD_TOPICS};
use super::out::Out;
use super::payload::Payload;
use super::requests::{Purpose, Requests};
use super::text;
use super::topics::Topics;
use super::types::{Done, Event, Failure, Id, Ids, Misuse};
use super::uploads::Uploads;

/// The query of gap-recovery relays before the cursor: pages of 100 (the server's
/// cap, docs/protocol.md §9.2) after a message id.
const RECOVERY_PAGE: &str = "size=100&after=";
/// How many delivered message ids a chat session remembers to drop duplicates (the
/// overlap of a recovery and the live events held behind it is a round trip's worth).
const SEEN: usize = 64;
/// Gap recovery starts after the oldest of the last this many delivered messages, not
/// after the newest: a server may publish a channel's messages slightly out of id
/// order, and one published after a newer one when the connection dropped is caught.
const RECHECK: usize = 16;
/// The largest message id a JavaScript number holds exactly (2^53 - 1).
const MAX_SAFE_ID: f64 = 9_007_199_254_740_991.0;
/// The `seq` of the queue entry holding live events back during gap recovery.
const HOLD: u64 = u64::MAX;
/// What `startChatSession` needs (its topics are read from it).
const CHANNEL_FROM_SERVER: &str = "channel must be a channel the server sent (with _topics)";

/// Gap recovery of a chat session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Recovery {
    /// Nothing to do.
    Idle,
    /// A relay is due once the messages topic is confirmed.
    Due,
    /// A relay is on its way.
    Asked,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    /// Waiting for the self topic's RECEIPT (docs/protocol.md §4.4 step 3).
    SelfTopic,
    /// The other seven topics requested; waiting for their receipts.
    Rest,
    /// Every subscription confirmed.
    Confirmed,
}

#[derive(Debug)]
struct Queued<P> {
    seq: u64,
    kind: ChatEvent,
    first: Option<P>,
    second: Option<P>,
    waiting: bool,
}

/// One chat session.
#[derive(Debug)]
pub(crate) struct Chat<P> {
    pub(crate) id: Id,
    /// The channel's topics, in `ChannelTopic::ALL` order (None when the link is absent).
    topics: Vec<Option<String>>,
    /// The handlers given, as [`ChatEvent::bit`]s.
    mask: u32,
    stage: Stage,
    /// Events in arrival order; an event waiting for a lookup holds back later ones.
    queue: Vec<Queued<P>>,
    next_seq: u64,
    /// `setThread`: the thread and its topics in [`THREAD_TOPICS`] order (docs/api.md §13).
    thread: Option<(P, Vec<Option<String>>)>,
    /// `channel._relays.messages` when gap recovery is on (`onReceivedMessage` given).
    relay: Option<String>,
    /// The newest message id delivered (or known to precede the session).
    after: Option<u64>,
    /// The last [`SEEN`] delivered message ids (0: none), a ring written at
    /// `delivered % SEEN`.
    seen: [u64; SEEN],
    delivered: usize,
    recovery: Recovery,
}

/// What chat sessions use of the other parts: topic references, relays (lookups and
/// recoveries), ids, the outputs, and the read grant for the messages they deliver.
pub(crate) struct Cx<'a, P> {
    pub(crate) topics: &'a mut Topics,
    pub(crate) requests: &'a mut Requests<P>,
    pub(crate) ids: &'a mut Ids,
    pub(crate) out: &'a mut Out<P>,
    pub(crate) files: &'a Uploads<P>,
    /// Whether the link is up.
    pub(crate) up: bool,
    pub(crate) now: u64,
}

impl<P: Payload> Cx<'_, P> {
    /// Sends everything that waited for a connection: topics, then relays and actions
    /// in the order they were made.
    pub(crate) fn flush(&mut self) {
        if self.up {
            self.topics.flush(self.out, self.now);
            self.requests.flush(self.out, self.now);
        }
    }

    fn retain(&mut self, dest: &str) {
        let up = self.up;
        self.topics
            .retain(dest, None, self.ids, up, self.out, self.now);
    }

    fn release(&mut self, dest: &str) {
        self.topics.release(dest, self.up, self.out, self.now);
    }

    fn relay(&mut self, dest: String, purpose: Purpose) {
        self.requests
            .add_relay(self.ids, dest, Rc::from([]), purpose);
    }
}

/// Every chat session.
#[derive(Debug)]
pub(crate) struct Chats<P> {
    pub(crate) list: Vec<Chat<P>>,
}

impl<P: Payload> Chats<P> {
    pub(crate) fn new() -> Chats<P> {
        Chats { list: Vec::new() }
    }

    /// How many events wait in the sessions' queues (leak tests).
    pub(crate) fn queued(&self) -> usize {
        self.list.iter().map(|c| c.queue.len()).sum()
    }

    /// `startChatSession(request)`: a session with the handlers `request` has,
    /// subscribing its channel's self topic (see the module docs).
    pub(crate) fn start(&mut self, request: &P, cx: &mut Cx<'_, P>) -> Result<Id, Misuse> {
        let channel = request
            .get("channel")
            .ok_or(Misuse::Expected(CHANNEL_FROM_SERVER))?;
        let topics: Vec<Option<String>> = ChannelTopic::ALL
            .iter()
            .map(|t| channel.get_str(&["_topics", t.link_name()]))
            .collect();
        let self_topic = topics[0]
            .clone()
            .ok_or(Misuse::Expected(CHANNEL_FROM_SERVER))?;
        let mut mask = 0;
        for kind in ChatEvent::ALL {
            if request.get(kind.handler()).is_some()
                || kind.alias().is_some_and(|a| request.get(a).is_some())
            {
                mask |= kind.bit();
            }
        }
        // `_after`: a message id the app already has (shareConnection's handover,
        // docs/api.md §18.1): the session starts as after a drop, relaying what came
        // after it, instead of seeding its cursor with the newest message.
        let after = request
            .get("_after")
            .and_then(|v| v.as_number())
            .filter(|n| n.fract() == 0.0 && (0.0..=MAX_SAFE_ID).contains(n))
            .map(|n| n as u64);
        let id = cx.ids.call();
        let relay = channel
            .get_str(&["_relays", "messages"])
            .filter(|_| mask & ChatEvent::ReceivedMessage.bit() != 0 && topics[1].is_some());
        self.list.push(Chat {
            id,
            topics,
            mask,
            stage: Stage::SelfTopic,
            queue: Vec::new(),
            next_seq: 0,
            thread: None,
            recovery: if relay.is_some() {
                Recovery::Due
            } else {
                Recovery::Idle
            },
            relay,
            after,
            seen: [0; SEEN],
            delivered: 0,
        });
        cx.retain(&self_topic);
        self.advance(cx);
        Ok(id)
    }

    /// `session.end()`: releases the session's topics (thread's first, then the
    /// channel's in reverse subscription order, as the official client unsubscribes,
    /// 4.4), those still pending included. A no-op for an unknown session.
    pub(crate) fn end(&mut self, id: Id, cx: &mut Cx<'_, P>) {
        let Some(i) = self.list.iter().position(|c| c.id == id) else {
            return;
        };
        let chat = self.list.remove(i);
        if let Some((_, topics)) = &chat.thread {
            for dest in topics.iter().rev().flatten() {
                cx.release(dest);
            }
        }
        let held = match chat.stage {
            Stage::SelfTopic => 1,
            _ => chat.topics.len(),
        };
        for dest in chat.topics[..held].iter().rev().flatten() {
            cx.release(dest);
        }
        if chat.stage != Stage::Confirmed {
            cx.out.complete(id, Ok(Done::ChatReady));
        }
    }

    /// `session.setThread(thread)`: follows `thread`'s topics instead of the previous
    /// thread's (docs/api.md §13). A no-op for an ended session.
    pub(crate) fn set_thread(
        &mut self,
        chat: Id,
        thread: &P,
        cx: &mut Cx<'_, P>,
    ) -> Result<(), Misuse> {
        let topics: Vec<Option<String>> = THREAD_TOPICS
            .iter()
            .map(|t| thread.get_str(&["_topics", t.link_name()]))
            .collect();
        if topics.iter().all(Option::is_none) {
            return Err(Misuse::Expected("thread must be a thread the server sent"));
        }
        let Some(i) = self.list.iter().position(|c| c.id == chat) else {
            return Ok(());
        };
        let old = self.list[i]
            .thread
            .replace((thread.clone(), topics.clone()));
        for dest in topics.iter().flatten() {
            cx.retain(dest);
        }
        if let Some((_, old)) = old {
            for dest in old.iter().rev().flatten() {
                cx.release(dest);
            }
        }
        Ok(())
    }

    /// An event of type `ty` arrived on topic `topic_dest`: queued for every session
    /// with a handler for it (messages get the read grant once, 10.3).
    pub(crate) fn dispatch(
        &mut self,
        topic_dest: &str,
        ty: &str,
        resource: &mut P,
        cx: &mut Cx<'_, P>,
    ) {
        let mut mapped = false;
        for ci in 0..self.list.len() {
            let chat = &mut self.list[ci];
            let thread_kind = chat.thread.as_ref().and_then(|(_, topics)| {
                let t = topics
                    .iter()
                    .position(|d| d.as_deref() == Some(topic_dest))?;
                ChatEvent::route_thread(THREAD_TOPICS[t], ty)
            });
            if let Some(kind) = thread_kind.filter(|k| chat.mask & k.bit() != 0) {
                if kind == ChatEvent::ThreadReceivedMessage && !mapped {
                    cx.files.map_file(resource);
                    mapped = true;
                }
                let seq = chat.next_seq;
                chat.next_seq += 1;
                let thread = chat.thread.as_ref().map(|(t, _)| t.clone());
                chat.queue.push(Queued {
                    seq,
                    kind,
                    first: thread,
                    second: Some(resource.clone()),
                    waiting: false,
                });
                chat.flush(cx.out);
            }
            let Some(t) = chat
                .topics
                .iter()
                .position(|d| d.as_deref() == Some(topic_dest))
            else {
                continue;
            };
            let Some(kind) = ChatEvent::route(ChannelTopic::ALL[t], ty) else {
                continue;
            };
            if chat.mask & kind.bit() == 0 {
                continue;
            }
            if kind == ChatEvent::ReceivedMessage && !mapped {
                cx.files.map_file(resource);
                mapped = true;
            }
            let end = chat.queue.len();
            chat.enqueue(kind, resource, end, cx);
            cx.flush();
            self.list[ci].flush(cx.out);
        }
    }

    /// Moves each session on as its topics are confirmed: the rest after the self
    /// topic, ready once all are; then asks for the recoveries that are due.
    pub(crate) fn advance(&mut self, cx: &mut Cx<'_, P>) {
        let mut i = 0;
        while i < self.list.len() {
            let chat = &mut self.list[i];
            match chat.stage {
                Stage::SelfTopic if cx.topics.confirmed(&chat.topics[0]) => {
                    chat.stage = Stage::Rest;
                    let rest: Vec<String> = chat.topics[1..].iter().flatten().cloned().collect();
                    for d in rest {
                        cx.retain(&d);
                    }
                    continue; // re-check this chat: its topics may all be confirmed
                }
                Stage::Rest if chat.topics.iter().all(|d| cx.topics.confirmed(d)) => {
                    chat.stage = Stage::Confirmed;
                    cx.out.complete(chat.id, Ok(Done::ChatReady));
                }
                _ => {}
            }
            i += 1;
        }
        self.recover(cx);
    }

    /// Asks for the messages of each session whose recovery is due, once its messages
    /// topic is confirmed on this connection (so nothing published later can be
    /// missed): a page `after` its cursor, oldest messages first, while live events
    /// wait; without a cursor yet (`seed`), the newest message, to set one.
    fn recover(&mut self, cx: &mut Cx<'_, P>) {
        for c in &mut self.list {
            if c.recovery != Recovery::Due
                || c.stage != Stage::Confirmed
                || !cx.topics.confirmed(&c.topics[1])
            {
                continue;
            }
            let Some(mut dest) = c.relay.clone() else {
                continue;
            };
            // The position goes in the relay's query, as in page links (docs/protocol.md §9.2).
            dest.push('?');
            match c.after {
                Some(after) => {
                    let from = (1..=RECHECK.min(c.delivered))
                        .map(|k| c.seen[(c.delivered - k) % SEEN])
                        .fold(after, u64::min);
                    dest.push_str(RECOVERY_PAGE);
                    text::push_u64(&mut dest, from);
                    c.hold();
                }
                None => dest.push_str("size=1"),
            }
            c.recovery = Recovery::Asked;
            let seed = c.after.is_none();
            cx.relay(dest, Purpose::Recover { chat: c.id, seed });
        }
        cx.flush();
    }

    /// A recovery relay answered with `page` (None: refused). A seed sets the cursor;
    /// otherwise the page's messages go, oldest first, before the entry holding live
    /// events back, and the newer page (`prev`, docs/protocol.md §9.3) is asked for while
    /// there is one.
    pub(crate) fn recovered(&mut self, chat: Id, seed: bool, page: Option<P>, cx: &mut Cx<'_, P>) {
        let Some(c) = self.list.iter_mut().find(|c| c.id == chat) else {
            return;
        };
        let items = page
            .as_ref()
            .and_then(|p| p.get("_embedded"))
            .and_then(|e| e.get("messages"))
            .unwrap_or_else(P::empty_array);
        c.recovery = Recovery::Idle;
        if seed {
            if page.is_some() {
                // Pages list the newest first.
                let newest = items.at(0).as_ref().and_then(message_id).unwrap_or(0);
                c.after = c.after.max(Some(newest));
            }
            return;
        }
        let mut at = c.queue.iter().position(|q| q.seq == HOLD).unwrap_or(0);
        for i in (0..items.array_len()).rev() {
            if let Some(mut m) = items.at(i) {
                cx.files.map_file(&mut m);
                c.enqueue(ChatEvent::ReceivedMessage, &m, at, cx);
                at += 1;
            }
        }
        match page.and_then(|p| p.get_str(&["_relays", "prev"])) {
            Some(newer) => {
                c.recovery = Recovery::Asked;
                cx.relay(newer, Purpose::Recover { chat, seed });
            }
            None => {
                if let Some(i) = c.queue.iter().position(|q| q.seq == HOLD) {
                    c.queue.remove(i);
                }
            }
        }
        cx.flush();
        c.flush(cx.out);
    }

    /// The lookup of queued event `seq` answered with `resource` (None: refused).
    pub(crate) fn looked_up(
        &mut self,
        chat: Id,
        seq: u64,
        resource: Option<P>,
        cx: &mut Cx<'_, P>,
    ) {
        let Some(c) = self.list.iter_mut().find(|c| c.id == chat) else {
            return;
        };
        let mut resource = resource;
        if let Some(q) = c.queue.iter_mut().find(|q| q.seq == seq) {
            if q.kind == ChatEvent::ReceivedMessage {
                if let Some(parent) = resource.as_mut() {
                    cx.files.map_file(parent);
                }
            }
            q.waiting = false;
            match q.kind.lookup() {
                Lookup::Message => q.first = resource,
                _ => q.second = resource,
            }
        }
        c.flush(cx.out);
    }

    /// The connection is gone: every session with gap recovery recovers once its
    /// messages topic is back, holding live events back from now if it has a cursor.
    pub(crate) fn lost(&mut self) {
        for c in &mut self.list {
            if c.relay.is_some() {
                c.recovery = Recovery::Due;
                if c.after.is_some() {
                    c.hold();
                }
            }
        }
    }

    /// The server refused topic `dest`: the sessions waiting on it fail.
    pub(crate) fn refused(&mut self, dest: &str, failure: &Failure<P>, out: &mut Out<P>) {
        for c in &mut self.list {
            if c.stage != Stage::Confirmed && c.topics.iter().any(|t| t.as_deref() == Some(dest)) {
                c.stage = Stage::Confirmed;
                out.complete(c.id, Err(failure.clone()));
            }
        }
    }

    /// The session ended: every chat session goes; those not confirmed yet complete.
    pub(crate) fn end_all(&mut self, out: &mut Out<P>) {
        for c in self.list.drain(..) {
            if c.stage != Stage::Confirmed {
                out.complete(c.id, Ok(Done::ChatReady));
            }
        }
    }
}

impl<P: Payload> Chat<P> {
    /// Queues event `kind` of `resource` at position `at`, asking first for the
    /// message it needs (docs/protocol.md §11.2); later events wait behind it.
    fn enqueue(&mut self, kind: ChatEvent, resource: &P, at: usize, cx: &mut Cx<'_, P>) {
        let lookup = match kind.lookup() {
            Lookup::None => None,
            Lookup::Parent => resource.get_str(&["_relays", "parent"]),
            Lookup::Message => resource.get_str(&["_relays", "message"]),
        };
        let seq = self.next_seq;
        self.next_seq += 1;
        let (first, second) = match kind.lookup() {
            Lookup::Message => (None, Some(resource.clone())),
            _ => (Some(resource.clone()), None),
        };
        self.queue.insert(
            at,
            Queued {
                seq,
                kind,
                first,
                second,
                waiting: lookup.is_some(),
            },
        );
        if let Some(dest) = lookup {
            cx.relay(dest, Purpose::Lookup { chat: self.id, seq });
        }
    }

    /// Holds live events back (once) until the recovery has delivered what it found.
    fn hold(&mut self) {
        if !self.queue.iter().any(|q| q.seq == HOLD) {
            self.queue.push(Queued {
                seq: HOLD,
                kind: ChatEvent::ReceivedMessage,
                first: None,
                second: None,
                waiting: true,
            });
        }
    }

    /// Delivers the events at the head of the queue that wait for nothing.
    fn flush(&mut self, out: &mut Out<P>) {
        while self.queue.first().is_some_and(|q| !q.waiting) {
            let q = self.queue.remove(0);
            // A message delivered already (live and recovered) is dropped; the newest
            // delivered id is the recovery cursor.
            if let (Some(m), Some(_), ChatEvent::ReceivedMessage) = (&q.first, &self.relay, q.kind)
            {
                if let Some(id) = message_id(m) {
                    if self.seen.contains(&id) {
                        continue;
                    }
                    self.seen[self.delivered % SEEN] = id;
                    self.delivered += 1;
                    self.after = self.after.max(Some(id));
                }
            }
            // An event whose message could not be fetched is dropped (nothing to show).
            if let Some(first) = q.first {
                out.event(Event::Chat {
                    session: self.id,
                    kind: q.kind,
                    first,
                    second: q.second,
                });
            }
        }
    }
}

fn message_id<P: Payload>(m: &P) -> Option<u64> {
    m.get("id")?.as_number().map(|n| n as u64)
}
