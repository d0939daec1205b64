//! Keystroke debouncing (docs/protocol.md §11.1, docs/api.md §13): a draft is sent
//! 150 ms after the last keystroke for its destination, the last value of a burst
//! winning, with a receipt nobody waits for (3.3). Drafts due while offline are dropped:
//! a stale draft is worth nothing. The earliest due draft is the
//! [`Timer::Keystrokes`].

use super::out::Out;
use super::requests::action_frame;
use super::timer::{Timer, TimerTable};
use super::types::Ids;

/// Keystroke debounce (docs/protocol.md §11.1).
const DEBOUNCE_MS: u64 = 150;

#[derive(Debug)]
struct Draft {
    dest: String,
    body: String,
    due: u64,
}

/// The drafts waiting for their debounce, one per destination.
#[derive(Debug, Default)]
pub(crate) struct Keystrokes {
    drafts: Vec<Draft>,
}

impl Keystrokes {
    /// The draft `body` for `dest` replaces any waiting one, due 150 ms from `now`.
    pub(crate) fn set(&mut self, dest: String, body: String, now: u64, timers: &mut TimerTable) {
        let due = now + DEBOUNCE_MS;
        match self.drafts.iter_mut().find(|d| d.dest == dest) {
            Some(d) => {
                d.body = body;
                d.due = due;
            }
            None => self.drafts.push(Draft { dest, body, due }),
        }
        self.arm(timers);
    }

    /// Sends the drafts due at `now` (when `up`; drops them otherwise).
    pub(crate) fn flush<P>(&mut self, now: u64, up: bool, ids: &mut Ids, out: &mut Out<P>) {
        let mut i = 0;
        while i < self.drafts.len() {
            if self.drafts[i].due <= now {
                let d = self.drafts.remove(i);
                if up {
                    let f = action_frame(&d.dest, &ids.receipt(), &d.body);
                    out.send(&f, now);
                }
            } else {
                i += 1;
            }
        }
        self.arm(&mut out.timers);
    }

    /// Drops every draft (the session ended).
    pub(crate) fn clear(&mut self, timers: &mut TimerTable) {
        self.drafts.clear();
        self.arm(timers);
    }

    fn arm(&self, timers: &mut TimerTable) {
        let next = self.drafts.iter().map(|d| d.due).min();
        timers.set_or_stop(Timer::Keystrokes, next);
    }
}
