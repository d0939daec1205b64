//! Failed logins, counted per username and per client address (README "Limits").
//!
//! A login is a CONNECT with `authParams` (checked by the JWT key or the auth
//! callback) or a Platform API token request. Once a username or an address has
//! failed `--login-failures-per-user` / `--login-failures-per-address` times within
//! `--login-failure-window-secs`, its next attempts are refused with
//! `RateLimitExceededError` before anything is checked (the auth callback is not
//! called), until the window that began with its first failure has passed. Nothing
//! else is slowed: guests, resumed sessions and other users and addresses go on as
//! before. A success clears the username's count.
//!
//! Counts live on each node; with several nodes an attacker spread over them gets the
//! limit once per node.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::config::Config;

/// What failed logins are counted against.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Key {
    /// A username of an application.
    User(i64, String),
    /// A client address (see `crate::net::limit_key`).
    Address(IpAddr),
}

#[derive(Debug, Clone, Copy)]
struct Count {
    failures: u32,
    since: Instant,
}

/// The failed-login counts of this node.
#[derive(Debug)]
pub struct LoginThrottle {
    per_user: u32,
    per_address: u32,
    window: Duration,
    counts: Mutex<Counts>,
}

#[derive(Debug, Default)]
struct Counts {
    map: HashMap<Key, Count>,
    /// Size at which lapsed counts are swept out (twice what was left last time).
    sweep_at: usize,
}

/// Who is logging in.
#[derive(Debug, Clone, Copy)]
pub struct Attempt<'a> {
    /// Application and username, if the login names a user.
    pub user: Option<(i64, &'a str)>,
    /// The client address, if known.
    pub address: Option<IpAddr>,
}

impl Attempt<'_> {
    fn keys(&self) -> impl Iterator<Item = (Key, bool)> + '_ {
        let user = self
            .user
            .map(|(app, name)| (Key::User(app, name.to_owned()), true));
        let address = self
            .address
            .map(|a| (Key::Address(crate::net::limit_key(a)), false));
        user.into_iter().chain(address)
    }
}

impl LoginThrottle {
    /// The limits of the configuration.
    pub fn new(c: &Config) -> LoginThrottle {
        LoginThrottle {
            per_user: c.login_failures_per_user,
            per_address: c.login_failures_per_address,
            window: Duration::from_secs(c.login_failure_window_secs),
            counts: Mutex::new(Counts {
                map: HashMap::new(),
                sweep_at: 1024,
            }),
        }
    }

    fn limit(&self, user: bool) -> u32 {
        if user {
            self.per_user
        } else {
            self.per_address
        }
    }

    /// `Err(wait)` if the attempt must be refused without being checked.
    pub fn check(&self, attempt: Attempt<'_>, now: Instant) -> Result<(), Duration> {
        let counts = self.counts.lock().unwrap_or_else(|e| e.into_inner());
        for (key, user) in attempt.keys() {
            let limit = self.limit(user);
            if let Some(c) = counts.map.get(&key) {
                let age = now.saturating_duration_since(c.since);
                if limit > 0 && c.failures >= limit && age < self.window {
                    return Err(self.window - age);
                }
            }
        }
        Ok(())
    }

    /// Counts a failed attempt.
    pub fn failed(&self, attempt: Attempt<'_>, now: Instant) {
        let mut counts = self.counts.lock().unwrap_or_else(|e| e.into_inner());
        for (key, _) in attempt.keys() {
            let c = counts.map.entry(key).or_insert(Count {
                failures: 0,
                since: now,
            });
            if now.saturating_duration_since(c.since) >= self.window {
                *c = Count {
                    failures: 0,
                    since: now,
                };
            }
            c.failures = c.failures.saturating_add(1);
        }
        if counts.map.len() >= counts.sweep_at {
            let window = self.window;
            counts
                .map
                .retain(|_, c| now.saturating_duration_since(c.since) < window);
            counts.sweep_at = (counts.map.len() * 2).max(1024);
        }
    }

    /// A successful login clears its username's count.
    pub fn succeeded(&self, attempt: Attempt<'_>) {
        if let Some((app, name)) = attempt.user {
            let mut counts = self.counts.lock().unwrap_or_else(|e| e.into_inner());
            counts.map.remove(&Key::User(app, name.to_owned()));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn throttle() -> LoginThrottle {
        let mut c = Config::for_tests("x.db", "k");
        c.login_failures_per_user = 2;
        c.login_failures_per_address = 3;
        c.login_failure_window_secs = 60;
        LoginThrottle::new(&c)
    }

    #[test]
    fn a_user_or_address_over_its_failures_waits_for_the_window() {
        let t = throttle();
        let t0 = Instant::now();
        let a: IpAddr = "192.0.2.1".parse().unwrap();
        let jane = Attempt {
            user: Some((1, "jane")),
            address: Some(a),
        };
        t.failed(jane, t0);
        assert!(t.check(jane, t0).is_ok());
        t.failed(jane, t0);
        let wait = t.check(jane, t0 + Duration::from_secs(10)).unwrap_err();
        assert_eq!(wait, Duration::from_secs(50));
        // Same address, another user: one more failure fills the address's count.
        let john = Attempt {
            user: Some((1, "john")),
            address: Some(a),
        };
        assert!(t.check(john, t0).is_ok());
        t.failed(john, t0);
        assert!(t.check(john, t0).is_err());
        // The same name in another application, from elsewhere: unaffected.
        let other = Attempt {
            user: Some((2, "jane")),
            address: Some("192.0.2.2".parse().unwrap()),
        };
        assert!(t.check(other, t0).is_ok());
        // The window passes.
        assert!(t.check(jane, t0 + Duration::from_secs(60)).is_ok());
        // A success clears the user's count (not the address's).
        t.succeeded(jane);
        let elsewhere = Attempt {
            user: Some((1, "jane")),
            address: None,
        };
        assert!(t.check(elsewhere, t0).is_ok());
    }
}
