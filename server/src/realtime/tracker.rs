//! Who is online, who is in which chat, who is typing (docs/protocol.md §13.4, 13.5).
//!
//! Pure bookkeeping: each method reports the transition it caused (went online, left
//! the chat, stopped typing…) and the caller publishes the matching events. Nothing
//! here does I/O or reads a clock; times are passed in.

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;
use std::time::{Duration, Instant};

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

#[derive(Debug, Default)]
struct UserPresence {
    connections: u32,
    online: bool,
    /// Bumped on every connect so a stale offline timer can tell it lost the race.
    generation: u64,
}

/// Online state per user: online while at least one connection is open, plus a grace
/// period after the last one closes.
#[derive(Debug, Default)]
pub struct Presence {
    users: Mutex<HashMap<i64, UserPresence>>,
    /// Users online when the server last stopped and not back yet (restore).
    restored: Mutex<HashSet<i64>>,
}

impl Presence {
    /// After a restart: `users` were online when the server stopped.
    pub fn restore(&self, users: impl IntoIterator<Item = i64>) {
        lock(&self.restored).extend(users);
    }

    /// `user` came online: `true` if they were online when the server stopped (and are
    /// no longer waited for).
    pub fn returned(&self, user: i64) -> bool {
        lock(&self.restored).remove(&user)
    }

    /// Whether `user` was online when the server stopped and is still waited for.
    pub fn awaited(&self, user: i64) -> bool {
        lock(&self.restored).contains(&user)
    }

    /// The restored users who have not come back; none are waited for after this.
    pub fn not_returned(&self) -> Vec<i64> {
        lock(&self.restored).drain().collect()
    }

    /// A connection of `user` opened; `true` if the user just came online.
    pub fn connect(&self, user: i64) -> bool {
        let mut users = lock(&self.users);
        let p = users.entry(user).or_default();
        p.connections += 1;
        p.generation += 1;
        let came_online = !p.online;
        p.online = true;
        came_online
    }

    /// A connection of `user` closed. When it was the last one, returns the generation
    /// to pass to [`Presence::expire`] once the grace period is over.
    pub fn disconnect(&self, user: i64) -> Option<u64> {
        let mut users = lock(&self.users);
        let p = users.get_mut(&user)?;
        p.connections = p.connections.saturating_sub(1);
        (p.connections == 0).then_some(p.generation)
    }

    /// The grace period of `generation` ended; `true` if the user just went offline
    /// (no connection came back meanwhile).
    pub fn expire(&self, user: i64, generation: u64) -> bool {
        let mut users = lock(&self.users);
        match users.get(&user) {
            Some(p) if p.connections == 0 && p.generation == generation && p.online => {
                users.remove(&user);
                true
            }
            _ => false,
        }
    }

    /// Open connections of `user` on this node.
    pub fn connections(&self, user: i64) -> u32 {
        lock(&self.users).get(&user).map_or(0, |p| p.connections)
    }

    /// Whether `user` is online.
    pub fn is_online(&self, user: i64) -> bool {
        lock(&self.users).get(&user).is_some_and(|p| p.online)
    }

    /// Number of users online.
    pub fn online_count(&self) -> usize {
        lock(&self.users).values().filter(|p| p.online).count()
    }

    /// Users online on this node, and those still awaited after a restart
    /// ([`Presence::awaited`]), every application's.
    pub fn online_or_awaited(&self) -> Vec<i64> {
        let mut ids: Vec<i64> = lock(&self.users)
            .iter()
            .filter(|(_, p)| p.online)
            .map(|(id, _)| *id)
            .collect();
        ids.extend(lock(&self.restored).iter().copied());
        ids
    }
}

/// A token bucket: `rate` per second, holding at most `burst`.
#[derive(Debug, Clone)]
pub struct RateLimit {
    tokens: f64,
    rate: f64,
    burst: f64,
    last: Instant,
}

impl RateLimit {
    /// A full bucket.
    pub fn new(rate: u32, burst: u32, now: Instant) -> RateLimit {
        RateLimit {
            tokens: burst as f64,
            rate: rate as f64,
            burst: burst.max(1) as f64,
            last: now,
        }
    }

    fn refill(&mut self, now: Instant) {
        let dt = now.saturating_duration_since(self.last).as_secs_f64();
        self.last = now;
        self.tokens = (self.tokens + dt * self.rate).min(self.burst);
    }

    /// Takes a token now, or on credit: how long the caller must wait for it (the
    /// request is paced rather than refused).
    pub fn pace(&mut self, now: Instant) -> Duration {
        self.refill(now);
        self.tokens -= 1.0;
        if self.tokens >= 0.0 || self.rate <= 0.0 {
            Duration::ZERO
        } else {
            Duration::from_secs_f64(-self.tokens / self.rate)
        }
    }

    /// Takes a token if there is one.
    pub fn take(&mut self, now: Instant) -> bool {
        self.refill(now);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod rate_tests {
    use super::*;

    #[test]
    fn pacing_spends_the_burst_then_spaces_requests_at_the_rate() {
        let t0 = Instant::now();
        let mut r = RateLimit::new(10, 3, t0);
        for _ in 0..3 {
            assert_eq!(r.pace(t0), Duration::ZERO);
        }
        // The 4th and 5th wait 0.1 s and 0.2 s for their tokens.
        assert_eq!(r.pace(t0).as_millis(), 100);
        assert_eq!(r.pace(t0).as_millis(), 200);
        // Half a second later the debt is paid and 3 tokens are back.
        assert_eq!(r.pace(t0 + Duration::from_millis(500)), Duration::ZERO);
    }
}

/// Active chat sessions per (channel, user), counted over connections.
#[derive(Debug, Default)]
pub struct Participants {
    counts: Mutex<HashMap<(i64, i64), u32>>,
    /// (channel, user) chat sessions open when the server last stopped and not back.
    restored: Mutex<HashSet<(i64, i64)>>,
}

impl Participants {
    /// After a restart: the (channel, user) chat sessions open when the server stopped.
    pub fn restore(&self, pairs: impl IntoIterator<Item = (i64, i64)>) {
        lock(&self.restored).extend(pairs);
    }

    /// `user` entered the chat of `channel`: `true` if they were in it when the server
    /// stopped (and are no longer waited for there).
    pub fn returned(&self, channel: i64, user: i64) -> bool {
        lock(&self.restored).remove(&(channel, user))
    }

    /// Whether `user` had a chat session in `channel` when the server stopped and it is
    /// still waited for.
    pub fn awaited(&self, channel: i64, user: i64) -> bool {
        lock(&self.restored).contains(&(channel, user))
    }

    /// The restored chat sessions not back; none are waited for after this.
    pub fn not_returned(&self) -> Vec<(i64, i64)> {
        lock(&self.restored).drain().collect()
    }

    /// A connection of `user` started a chat session in `channel`; `true` on 0→1.
    pub fn enter(&self, channel: i64, user: i64) -> bool {
        let mut counts = lock(&self.counts);
        let n = counts.entry((channel, user)).or_default();
        *n += 1;
        *n == 1
    }

    /// A connection of `user` ended its chat session in `channel`; `true` on 1→0.
    pub fn leave(&self, channel: i64, user: i64) -> bool {
        let mut counts = lock(&self.counts);
        match counts.get_mut(&(channel, user)) {
            Some(n) if *n > 1 => {
                *n -= 1;
                false
            }
            Some(_) => {
                counts.remove(&(channel, user));
                true
            }
            None => false,
        }
    }

    /// Whether `user` has an active chat session in `channel`.
    pub fn is_active(&self, channel: i64, user: i64) -> bool {
        lock(&self.counts).contains_key(&(channel, user))
    }
}

/// Presence and chat-participation changes waiting to be recorded for the next start
/// (the presence module's restore): the last change of each user and (channel, user),
/// taken all together by one write.
#[derive(Debug, Default)]
pub struct PendingRecords {
    inner: Mutex<Records>,
    /// Held from [`PendingRecords::take`] until the write of what it took is done:
    /// writes one after the other, so an older change cannot land after a newer one.
    writing: tokio::sync::Mutex<()>,
}

/// What [`PendingRecords::take`] hands to the write.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Records {
    /// User → online.
    pub online: HashMap<i64, bool>,
    /// (channel, user) → in the chat.
    pub chats: HashMap<(i64, i64), bool>,
    scheduled: bool,
}

impl PendingRecords {
    /// Records that `user` is (not) online; `true` when no write is scheduled yet (the
    /// caller schedules one).
    pub fn online(&self, user: i64, online: bool) -> bool {
        let mut r = lock(&self.inner);
        r.online.insert(user, online);
        !std::mem::replace(&mut r.scheduled, true)
    }

    /// Records that `user` is (not) in the chat of `channel`; see [`PendingRecords::online`].
    pub fn chat(&self, channel: i64, user: i64, active: bool) -> bool {
        let mut r = lock(&self.inner);
        r.chats.insert((channel, user), active);
        !std::mem::replace(&mut r.scheduled, true)
    }

    /// Everything recorded since the last call, once the write of the previous call's is
    /// done (the guard: hold it until this one's is); the next change schedules a write
    /// again.
    pub async fn take(&self) -> (Records, tokio::sync::MutexGuard<'_, ()>) {
        let turn = self.writing.lock().await;
        (std::mem::take(&mut *lock(&self.inner)), turn)
    }
}

/// Typing state per (thread, user) with its channel and the time it lapses. The main
/// thread of a channel is `main-<id>`.
#[derive(Debug)]
pub struct Typing {
    deadlines: Mutex<HashMap<(String, i64), (i64, Instant)>>,
    timeout: Duration,
}

/// What a keystroke update did to the typing state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TypingChange {
    /// The user started typing.
    Started,
    /// The user stopped typing.
    Stopped,
    /// No change (still typing, or still not typing).
    None,
}

impl Typing {
    /// Typing lapses after `timeout` without keystrokes.
    pub fn new(timeout: Duration) -> Typing {
        Typing {
            deadlines: Mutex::new(HashMap::new()),
            timeout,
        }
    }

    /// A keystrokes update in `thread` of `channel`: a non-empty draft keeps (or
    /// starts) typing, an empty one stops it.
    pub fn keystrokes(
        &self,
        thread: &str,
        channel: i64,
        user: i64,
        draft_empty: bool,
        now: Instant,
    ) -> TypingChange {
        let mut d = lock(&self.deadlines);
        let key = (thread.to_owned(), user);
        if draft_empty {
            return if d.remove(&key).is_some() {
                TypingChange::Stopped
            } else {
                TypingChange::None
            };
        }
        match d.insert(key, (channel, now + self.timeout)) {
            Some(_) => TypingChange::None,
            None => TypingChange::Started,
        }
    }

    /// Stops typing (a message was sent); `true` if the user was typing.
    pub fn stop(&self, thread: &str, user: i64) -> bool {
        lock(&self.deadlines)
            .remove(&(thread.to_owned(), user))
            .is_some()
    }

    /// Stops typing in every thread of `channel` (the chat session ended); returns
    /// the threads where the user was typing.
    pub fn stop_channel(&self, channel: i64, user: i64) -> Vec<String> {
        let mut d = lock(&self.deadlines);
        let gone: Vec<String> = d
            .iter()
            .filter(|((_, u), (c, _))| *u == user && *c == channel)
            .map(|((t, _), _)| t.clone())
            .collect();
        for t in &gone {
            d.remove(&(t.clone(), user));
        }
        gone
    }

    /// Removes and returns every typing state that lapsed by `now`:
    /// (thread, channel, user).
    pub fn expired(&self, now: Instant) -> Vec<(String, i64, i64)> {
        let mut d = lock(&self.deadlines);
        let gone: Vec<_> = d
            .iter()
            .filter(|(_, (_, t))| *t <= now)
            .map(|((th, u), (c, _))| (th.clone(), *c, *u))
            .collect();
        for (th, _, u) in &gone {
            d.remove(&(th.clone(), *u));
        }
        gone
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn presence_goes_offline_only_after_the_last_connection_and_its_grace_period() {
        let p = Presence::default();
        assert!(p.connect(1));
        assert!(!p.connect(1), "second tab does not re-announce");
        assert_eq!(p.disconnect(1), None, "one tab still open");
        let generation = p.disconnect(1).expect("last connection closed");
        assert!(p.is_online(1), "still online during the grace period");
        assert!(p.expire(1, generation));
        assert!(!p.is_online(1));
    }

    #[test]
    fn a_reconnect_within_the_grace_period_cancels_going_offline() {
        let p = Presence::default();
        p.connect(1);
        let generation = p.disconnect(1).unwrap();
        assert!(!p.connect(1), "no online flap");
        assert!(!p.expire(1, generation), "stale timer loses");
        assert!(p.is_online(1));
    }

    #[test]
    fn a_rate_limit_allows_its_burst_then_its_rate() {
        let t0 = Instant::now();
        let mut r = RateLimit::new(10, 5, t0);
        assert!((0..5).all(|_| r.take(t0)));
        assert!(!r.take(t0));
        assert!(
            r.take(t0 + Duration::from_millis(100)),
            "one token per 100 ms"
        );
        assert!(!r.take(t0 + Duration::from_millis(100)));
        let later = t0 + Duration::from_secs(60);
        assert!((0..5).all(|_| r.take(later)), "refills up to the burst");
        assert!(!r.take(later));
    }

    #[test]
    fn participants_count_chat_sessions_across_connections() {
        let p = Participants::default();
        assert!(p.enter(7, 1));
        assert!(!p.enter(7, 1));
        assert!(!p.leave(7, 1));
        assert!(p.is_active(7, 1));
        assert!(p.leave(7, 1));
        assert!(!p.is_active(7, 1));
        assert!(!p.leave(7, 1), "leaving twice is harmless");
    }

    #[test]
    fn typing_starts_on_a_draft_and_stops_on_empty_draft_or_timeout() {
        let t = Typing::new(Duration::from_secs(5));
        let t0 = Instant::now();
        assert_eq!(
            t.keystrokes("main-7", 7, 1, false, t0),
            TypingChange::Started
        );
        assert_eq!(t.keystrokes("main-7", 7, 1, false, t0), TypingChange::None);
        assert_eq!(
            t.keystrokes("main-7", 7, 1, true, t0),
            TypingChange::Stopped
        );
        assert_eq!(t.keystrokes("main-7", 7, 1, true, t0), TypingChange::None);
        t.keystrokes("main-7", 7, 2, false, t0);
        assert!(t.expired(t0 + Duration::from_secs(4)).is_empty());
        assert_eq!(
            t.expired(t0 + Duration::from_secs(5)),
            vec![("main-7".to_owned(), 7, 2)]
        );
        assert!(!t.stop("main-7", 2), "already lapsed");
    }

    #[test]
    fn ending_a_chat_session_stops_typing_in_every_thread_of_the_channel() {
        let t = Typing::new(Duration::from_secs(5));
        let t0 = Instant::now();
        t.keystrokes("main-7", 7, 1, false, t0);
        t.keystrokes("standalone-3", 7, 1, false, t0);
        t.keystrokes("main-8", 8, 1, false, t0);
        let mut gone = t.stop_channel(7, 1);
        gone.sort();
        assert_eq!(gone, ["main-7", "standalone-3"]);
        assert!(t.stop("main-8", 1));
    }

    #[tokio::test]
    async fn pending_records_keep_the_last_change_and_ask_for_one_write_at_a_time() {
        let p = PendingRecords::default();
        assert!(p.online(1, true), "the first change schedules a write");
        assert!(!p.chat(5, 1, true), "one is scheduled already");
        assert!(!p.online(1, false));
        assert!(!p.chat(5, 2, true));
        let (r, turn) = p.take().await;
        assert_eq!(r.online, HashMap::from([(1, false)]));
        assert_eq!(r.chats, HashMap::from([((5, 1), true), ((5, 2), true)]));
        assert!(
            p.chat(5, 1, false),
            "taken: the next change schedules again"
        );
        // The next take waits until the write of the first is done.
        let next = p.take();
        tokio::pin!(next);
        assert!(futures_poll_once(next.as_mut()).is_none(), "still writing");
        drop(turn);
        assert_eq!(next.await.0.chats, HashMap::from([((5, 1), false)]));
    }

    fn futures_poll_once<F: std::future::Future>(f: std::pin::Pin<&mut F>) -> Option<F::Output> {
        let waker = std::task::Waker::noop();
        match f.poll(&mut std::task::Context::from_waker(waker)) {
            std::task::Poll::Ready(v) => Some(v),
            std::task::Poll::Pending => None,
        }
    }
}
