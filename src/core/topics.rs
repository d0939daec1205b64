//! Topic subscriptions, one per destination and shared by reference count: every chat
//! session (and thread) on a channel takes a reference, so each event reaches each
//! handler set once (docs/protocol.md §3.2, 16.5). A topic is subscribed while it has
//! references (the ten user topics for as long as the session lasts) and confirmed by
//! the RECEIPT of its SUBSCRIBE on the current connection; after a drop every topic is
//! subscribed again with the same id.

use chatkitty_protocol::destination::UserTopic;
use chatkitty_protocol::{header, Command, Frame};

use super::out::Out;
use super::types::Ids;

/// `ack` mode of topic subscriptions (docs/protocol.md §3.2).
const ACK_CLIENT_INDIVIDUAL: &str = "client-individual";

/// One topic subscription.
#[derive(Debug)]
pub(crate) struct Topic {
    id: String,
    /// The topic's destination.
    pub(crate) dest: String,
    receipt: String,
    /// Handler sets interested in this destination.
    refs: u32,
    sent: bool,
    /// The RECEIPT of the SUBSCRIBE arrived on the current connection.
    confirmed: bool,
    /// Which of the current user's topics this is (they feed instance observers).
    pub(crate) user: Option<UserTopic>,
}

/// Every topic subscription.
#[derive(Debug, Default)]
pub(crate) struct Topics {
    list: Vec<Topic>,
}

impl Topics {
    /// How many topics are subscribed (leak tests).
    pub(crate) fn len(&self) -> usize {
        self.list.len()
    }

    /// Takes a reference to `dest`, subscribing it (now when `up`, else on the next
    /// connection) if it is new; `user` marks one of the current user's topics.
    pub(crate) fn retain<P>(
        &mut self,
        dest: &str,
        user: Option<UserTopic>,
        ids: &mut Ids,
        up: bool,
        out: &mut Out<P>,
        now: u64,
    ) {
        if let Some(t) = self.list.iter_mut().find(|t| t.dest == dest) {
            t.refs += 1;
            if user.is_some() {
                t.user = user;
            }
            return;
        }
        let mut t = Topic {
            id: ids.subscription(),
            dest: dest.to_owned(),
            receipt: ids.receipt(),
            refs: 1,
            sent: false,
            confirmed: false,
            user,
        };
        if up {
            t.sent = true;
            out.send(&subscribe_frame(&t), now);
        }
        self.list.push(t);
    }

    /// Drops a reference to `dest`; the last one unsubscribes it (the user topics stay).
    pub(crate) fn release<P>(&mut self, dest: &str, up: bool, out: &mut Out<P>, now: u64) {
        let Some(i) = self.list.iter().position(|t| t.dest == dest) else {
            return;
        };
        let t = &mut self.list[i];
        t.refs = t.refs.saturating_sub(1);
        if t.refs > 0 || t.user.is_some() {
            return;
        }
        let t = self.list.remove(i);
        if t.sent && up {
            let f = Frame::new(Command::Unsubscribe).with_header(header::ID, t.id);
            out.send(&f, now);
        }
    }

    /// Whether `dest` is confirmed on this connection (an absent link counts as one).
    pub(crate) fn confirmed(&self, dest: &Option<String>) -> bool {
        match dest {
            None => true,
            Some(d) => self.list.iter().any(|t| &t.dest == d && t.confirmed),
        }
    }

    /// The RECEIPT `receipt` confirms a topic; whether it was one of ours.
    pub(crate) fn confirm(&mut self, receipt: &str) -> bool {
        match self.list.iter_mut().find(|t| t.receipt == receipt) {
            Some(t) => {
                t.confirmed = true;
                true
            }
            None => false,
        }
    }

    /// The topic of subscription `sub`.
    pub(crate) fn by_subscription(&self, sub: &str) -> Option<&Topic> {
        self.list.iter().find(|t| t.id == sub)
    }

    /// The server refused subscription `sub`: it is forgotten. Returns its destination.
    pub(crate) fn refused(&mut self, sub: &str) -> Option<String> {
        let i = self.list.iter().position(|t| t.id == sub)?;
        Some(self.list.remove(i).dest)
    }

    /// Whether the current user's topics are subscribed.
    pub(crate) fn has_user_topics(&self) -> bool {
        self.list.iter().any(|t| t.user.is_some())
    }

    /// Subscribes every topic that waited for a connection.
    pub(crate) fn flush<P>(&mut self, out: &mut Out<P>, now: u64) {
        for t in self.list.iter_mut().filter(|t| !t.sent && t.refs > 0) {
            t.sent = true;
            out.send(&subscribe_frame(t), now);
        }
    }

    /// The connection is gone: every topic waits for the next one.
    pub(crate) fn lost(&mut self) {
        for t in &mut self.list {
            t.sent = false;
            t.confirmed = false;
        }
    }

    /// The session is over: the user's topics go (the next session's user has its
    /// own); `ended` drops the chat sessions' too.
    pub(crate) fn teardown(&mut self, ended: bool) {
        self.list.retain(|t| t.user.is_none() && !ended);
        self.lost();
    }
}

fn subscribe_frame(t: &Topic) -> Frame {
    Frame::new(Command::Subscribe)
        .with_header(header::ID, t.id.as_str())
        .with_header(header::RECEIPT, t.receipt.as_str())
        .with_header(header::ACK, ACK_CLIENT_INDIVIDUAL)
        .with_header(header::DESTINATION, t.dest.as_str())
}
