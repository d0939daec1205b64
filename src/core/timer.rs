//! The timer table: one deadline (ms) per kind of timer, set and stopped by the part
//! that owns it; `Client::poll_timeout` is the earliest, and `Client::handle_timeout`
//! runs the ones that are due, in [`Timer::ALL`] order. Parts with many deadlines (one
//! per action, one per keystrokes destination) keep their earliest here.

/// What a deadline is for, and which part owns it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Timer {
    /// The link: open the socket again once the backoff is over (docs/protocol.md §4.2).
    Reconnect,
    /// The link: the socket must open and CONNECTED arrive by then (2.7).
    Connect,
    /// The link: close after `endSession`'s DISCONNECT if its receipt has not come (2.8).
    Disconnect,
    /// The link: nothing heard for two of the server's heart-beat intervals (2.7).
    Idle,
    /// The link: nothing written for our heart-beat interval; send an EOL (2.7).
    KeepAlive,
    /// The requests: the earliest deadline of an action ([`super::Config::send_timeout_ms`]).
    SendTimeout,
    /// The keystrokes: the earliest debounced draft due (docs/protocol.md §11.1).
    Keystrokes,
}

impl Timer {
    /// Every timer, in the order due ones are handled: the link's first (a dead
    /// connection is noticed before anything is sent on it), then the calls.
    pub(crate) const ALL: [Timer; 7] = [
        Timer::Reconnect,
        Timer::Connect,
        Timer::Disconnect,
        Timer::Idle,
        Timer::KeepAlive,
        Timer::SendTimeout,
        Timer::Keystrokes,
    ];
}

/// The deadline of each [`Timer`], if set.
#[derive(Debug, Default)]
pub(crate) struct TimerTable {
    at: [Option<u64>; Timer::ALL.len()],
}

impl TimerTable {
    /// Sets `timer` to fire at `at` (replacing its deadline).
    pub(crate) fn set(&mut self, timer: Timer, at: u64) {
        self.at[timer as usize] = Some(at);
    }

    /// Sets `timer` to `at`, or stops it.
    pub(crate) fn set_or_stop(&mut self, timer: Timer, at: Option<u64>) {
        self.at[timer as usize] = at;
    }

    /// Stops `timer`.
    pub(crate) fn stop(&mut self, timer: Timer) {
        self.at[timer as usize] = None;
    }

    /// The earliest deadline of all.
    pub(crate) fn next(&self) -> Option<u64> {
        self.at.iter().flatten().min().copied()
    }

    /// Whether `timer` is due at `now`; a due timer is stopped (its owner sets it
    /// again if it must fire again).
    pub(crate) fn expire(&mut self, timer: Timer, now: u64) -> bool {
        let slot = &mut self.at[timer as usize];
        if slot.is_some_and(|at| at <= now) {
            *slot = None;
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_next_deadline_is_the_earliest_set_and_due_timers_are_stopped() {
        let mut t = TimerTable::default();
        assert_eq!(t.next(), None);
        t.set(Timer::KeepAlive, 60);
        t.set(Timer::Connect, 20);
        t.set_or_stop(Timer::Keystrokes, Some(40));
        assert_eq!(t.next(), Some(20));
        assert!(!t.expire(Timer::Connect, 19));
        assert!(t.expire(Timer::Connect, 20));
        assert!(!t.expire(Timer::Connect, 20), "fired once");
        assert_eq!(t.next(), Some(40));
        t.stop(Timer::Keystrokes);
        t.set_or_stop(Timer::SendTimeout, None);
        assert_eq!(t.next(), Some(60));
    }
}
