//! An application's blocklist (docs/protocol.md §22.5): words and patterns that refuse a
//! message (`BLOCK`) or are masked in it (`MASK`). Each action's entries are compiled
//! into one case-insensitive, size-limited regular expression, so a message is scanned
//! once per action whatever the number of entries (the `regex` crate runs in time
//! linear in the text). Compiled lists are cached per application for a few seconds.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

/// Entries one application may have.
pub const MAX_ENTRIES: usize = 1000;
/// Longest pattern, in characters.
pub const MAX_PATTERN_CHARS: usize = 200;
/// Memory one compiled blocklist may take (the `regex` crate's size limit).
const MAX_COMPILED_BYTES: usize = 4 << 20;
/// How long a compiled list is used before it is read again (changes made on this node
/// apply at once; on other nodes within this long).
pub const CACHE_TTL: Duration = Duration::from_secs(5);

/// What an entry does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// The message is refused.
    Block,
    /// The match is replaced with asterisks.
    Mask,
}

impl Action {
    /// Parses `BLOCK` / `MASK`.
    pub fn parse(s: &str) -> Option<Action> {
        match s {
            "BLOCK" => Some(Action::Block),
            "MASK" => Some(Action::Mask),
            _ => None,
        }
    }

    /// As stored.
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Block => "BLOCK",
            Action::Mask => "MASK",
        }
    }
}

/// One entry: a word (matched whole, any case) or a regular expression.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// The word or pattern.
    pub pattern: String,
    /// A regular expression (else a word).
    pub is_regex: bool,
    /// What it does.
    pub action: Action,
}

/// Why an entry cannot be used.
pub fn check_entry(e: &Entry) -> Result<(), String> {
    if e.pattern.trim().is_empty() || e.pattern.chars().count() > MAX_PATTERN_CHARS {
        return Err(format!("A pattern is 1 to {MAX_PATTERN_CHARS} characters."));
    }
    if e.is_regex {
        compile(&[e.pattern.as_str()]).map_err(|m| format!("Invalid pattern: {m}"))?;
    }
    Ok(())
}

fn piece(e: &Entry) -> String {
    if e.is_regex {
        format!("(?:{})", e.pattern)
    } else {
        format!(r"\b{}\b", regex::escape(e.pattern.trim()))
    }
}

fn compile(pieces: &[&str]) -> Result<Option<regex::Regex>, String> {
    if pieces.is_empty() {
        return Ok(None);
    }
    regex::RegexBuilder::new(&pieces.join("|"))
        .case_insensitive(true)
        .size_limit(MAX_COMPILED_BYTES)
        .dfa_size_limit(MAX_COMPILED_BYTES)
        .build()
        .map(Some)
        .map_err(|e| e.to_string())
}

/// A compiled blocklist.
#[derive(Debug, Default)]
pub struct Compiled {
    block: Option<regex::Regex>,
    mask: Option<regex::Regex>,
}

/// What a blocklist says of a text.
#[derive(Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Nothing matched.
    Pass,
    /// Refused: what matched.
    Blocked(String),
    /// Masked: the text with every match replaced by asterisks.
    Masked(String),
}

impl Compiled {
    /// Compiles entries (an entry that does not compile is left out and logged).
    pub fn new(entries: &[Entry]) -> Compiled {
        let of = |action: Action| -> Option<regex::Regex> {
            let pieces: Vec<String> = entries
                .iter()
                .filter(|e| e.action == action && check_entry(e).is_ok())
                .map(piece)
                .collect();
            let refs: Vec<&str> = pieces.iter().map(String::as_str).collect();
            compile(&refs).unwrap_or_else(|e| {
                tracing::warn!(error = %e, "a blocklist does not compile: its {} entries are ignored", action.as_str());
                None
            })
        };
        Compiled {
            block: of(Action::Block),
            mask: of(Action::Mask),
        }
    }

    /// Checks a text: blocked if any BLOCK entry matches, else masked where MASK entries
    /// match.
    pub fn check(&self, text: &str) -> Verdict {
        if let Some(m) = self.block.as_ref().and_then(|r| r.find(text)) {
            return Verdict::Blocked(m.as_str().to_owned());
        }
        match &self.mask {
            Some(r) if r.is_match(text) => Verdict::Masked(
                r.replace_all(text, |c: &regex::Captures<'_>| {
                    "*".repeat(c[0].chars().count())
                })
                .into_owned(),
            ),
            _ => Verdict::Pass,
        }
    }
}

/// Compiled blocklists by application, each used for [`CACHE_TTL`].
#[derive(Debug, Default)]
pub struct Cache {
    lists: RwLock<HashMap<i64, (Instant, Arc<Compiled>)>>,
}

impl Cache {
    /// The cached list of `app`, if fresh.
    pub fn get(&self, app: i64) -> Option<Arc<Compiled>> {
        let lists = self.lists.read().unwrap_or_else(|e| e.into_inner());
        lists
            .get(&app)
            .filter(|(at, _)| at.elapsed() < CACHE_TTL)
            .map(|(_, c)| c.clone())
    }

    /// Caches the list of `app`.
    pub fn put(&self, app: i64, compiled: Arc<Compiled>) {
        let mut lists = self.lists.write().unwrap_or_else(|e| e.into_inner());
        lists.insert(app, (Instant::now(), compiled));
    }

    /// Forgets the list of `app` (it changed).
    pub fn forget(&self, app: i64) {
        self.lists
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&app);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn e(p: &str, is_regex: bool, action: Action) -> Entry {
        Entry {
            pattern: p.into(),
            is_regex,
            action,
        }
    }

    #[test]
    fn words_match_whole_in_any_case_patterns_as_written() {
        let c = Compiled::new(&[
            e("darn", false, Action::Mask),
            e("spam", false, Action::Block),
            e(r"\d{3}-\d{4}", true, Action::Mask),
        ]);
        assert_eq!(
            c.check("well DARN it, call 555-1234"),
            Verdict::Masked("well **** it, call ********".into())
        );
        assert_eq!(c.check("darned fine"), Verdict::Pass, "whole words only");
        assert_eq!(c.check("buy SPAM now"), Verdict::Blocked("SPAM".into()));
        assert_eq!(c.check("a.b (x)"), Verdict::Pass);
    }

    #[test]
    fn words_with_regex_characters_are_literal_and_bad_patterns_are_refused() {
        let c = Compiled::new(&[e("a.b", false, Action::Block)]);
        assert_eq!(c.check("axb"), Verdict::Pass);
        assert_eq!(c.check("a.b"), Verdict::Blocked("a.b".into()));
        assert!(check_entry(&e("(unclosed", true, Action::Block)).is_err());
        assert!(check_entry(&e(&"x".repeat(MAX_PATTERN_CHARS + 1), false, Action::Block)).is_err());
        assert!(
            check_entry(&e(r"(a+)+$", true, Action::Block)).is_ok(),
            "no backtracking to fear"
        );
    }
}
