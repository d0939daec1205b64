//! Thread ids (docs/protocol.md §6.5, §12.4): a channel's main thread (`main-<channel>`),
//! a message's reply thread (`message-<message>`) and standalone threads made with
//! `createThread` (`standalone-<id>`). Thread ids are strings on the wire; both sides
//! build and parse them here.

use crate::destination::{ThreadTopic, Topic};

/// Which thread.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ThreadKey {
    /// A channel's main thread.
    Main(i64),
    /// A standalone thread.
    Standalone(i64),
    /// The replies to a message.
    Message(i64),
}

impl ThreadKey {
    /// The wire id.
    pub fn to_id(self) -> String {
        match self {
            ThreadKey::Main(c) => format!("main-{c}"),
            ThreadKey::Standalone(t) => format!("standalone-{t}"),
            ThreadKey::Message(m) => format!("message-{m}"),
        }
    }

    /// Parses a wire id.
    pub fn parse(id: &str) -> Option<ThreadKey> {
        let (kind, n) = id.split_once('-')?;
        let n: i64 = n.parse().ok()?;
        match kind {
            "main" => Some(ThreadKey::Main(n)),
            "standalone" => Some(ThreadKey::Standalone(n)),
            "message" => Some(ThreadKey::Message(n)),
            _ => None,
        }
    }

    /// The thread resource's `type` field.
    pub fn kind(self) -> &'static str {
        match self {
            ThreadKey::Main(_) => "MAIN",
            ThreadKey::Standalone(_) => "STANDALONE",
            ThreadKey::Message(_) => "MESSAGE",
        }
    }

    /// One of the thread's topics.
    pub fn topic(self, t: ThreadTopic) -> String {
        Topic::Thread(self.to_id(), t).to_destination()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thread_ids_round_trip_and_reject_other_shapes() {
        for k in [
            ThreadKey::Main(1),
            ThreadKey::Standalone(22),
            ThreadKey::Message(333),
        ] {
            assert_eq!(ThreadKey::parse(&k.to_id()), Some(k));
        }
        for bad in [
            "",
            "main",
            "main-",
            "main-x",
            "other-1",
            "main-99999999999999999999",
        ] {
            assert_eq!(ThreadKey::parse(bad), None, "{bad}");
        }
    }
}
