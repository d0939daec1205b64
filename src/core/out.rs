//! What the driver polls, shared by every part: the I/O to perform, completed calls,
//! events for the app's callbacks, and the [`TimerTable`]. Every write goes through
//! [`Out::send`], which re-arms the keep-alive: the heart-beat is due one interval after
//! the last frame written, whoever wrote it (docs/protocol.md §2.7).

use std::collections::VecDeque;

use chatkitty_protocol::Frame;

use super::timer::{Timer, TimerTable};
use super::types::{Completion, Done, Event, Failure, Id, Io};

/// The output queues and the timer table.
#[derive(Debug)]
pub(crate) struct Out<P> {
    io: VecDeque<Io>,
    done: VecDeque<Completion<P>>,
    events: VecDeque<Event<P>>,
    pub(crate) timers: TimerTable,
    /// When the last frame or heart-beat was written (ms).
    last_tx: u64,
    /// Our heart-beat interval while connected (0: none).
    keep_alive: u64,
}

impl<P> Out<P> {
    pub(crate) fn new() -> Out<P> {
        Out {
            io: VecDeque::new(),
            done: VecDeque::new(),
            events: VecDeque::new(),
            timers: TimerTable::default(),
            last_tx: 0,
            keep_alive: 0,
        }
    }

    /// Writes a frame.
    pub(crate) fn send(&mut self, frame: &Frame, now: u64) {
        self.write(frame.encode_to_string(), now);
    }

    /// Writes text (a frame, or an EOL heart-beat).
    pub(crate) fn write(&mut self, text: String, now: u64) {
        self.io.push_back(Io::Send(text));
        self.last_tx = now;
        if self.keep_alive > 0 {
            self.timers.set(Timer::KeepAlive, now + self.keep_alive);
        }
    }

    /// Sets our heart-beat interval (0: none) and the keep-alive timer from the last
    /// write.
    pub(crate) fn keep_alive(&mut self, interval: u64) {
        self.keep_alive = interval;
        let at = (interval > 0).then(|| self.last_tx + interval);
        self.timers.set_or_stop(Timer::KeepAlive, at);
    }

    pub(crate) fn open(&mut self, url: String) {
        self.io.push_back(Io::Open(url));
    }

    pub(crate) fn close(&mut self) {
        self.io.push_back(Io::Close);
    }

    pub(crate) fn complete(&mut self, id: Id, result: Result<Done<P>, Failure<P>>) {
        self.done.push_back(Completion { id, result });
    }

    pub(crate) fn event(&mut self, event: Event<P>) {
        self.events.push_back(event);
    }

    pub(crate) fn poll_io(&mut self) -> Option<Io> {
        self.io.pop_front()
    }

    pub(crate) fn poll_completion(&mut self) -> Option<Completion<P>> {
        self.done.pop_front()
    }

    pub(crate) fn poll_event(&mut self) -> Option<Event<P>> {
        self.events.pop_front()
    }
}
