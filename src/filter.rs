//! Key selection shared by every command: databases, key glob or regex, types, expiry.

use regex::bytes::Regex;

use crate::rdb::Kind;

/// Which keys a command works on. The default selects every key.
#[derive(Clone, Debug, Default)]
pub struct Filter {
    /// Databases to keep; empty keeps all.
    pub dbs: Vec<u64>,
    /// Redis-style glob the key must match.
    pub key_glob: Option<Vec<u8>>,
    /// Regular expression the key must match (anywhere, unless anchored).
    pub key_regex: Option<Regex>,
    /// Types to keep; empty keeps all.
    pub kinds: Vec<Kind>,
    /// Drop keys whose expiry is at or before this Unix time in ms.
    pub expired_at_ms: Option<i64>,
}

impl Filter {
    /// True when the filter keeps every key.
    pub fn is_empty(&self) -> bool {
        self.dbs.is_empty() && !self.needs_key() && self.kinds.is_empty() && self.expired_at_ms.is_none()
    }

    /// True when the filter needs the key name.
    pub fn needs_key(&self) -> bool {
        self.key_glob.is_some() || self.key_regex.is_some()
    }

    /// Decides on everything but the key name.
    pub fn keeps_meta(&self, db: u64, kind: Kind, expire_ms: Option<i64>) -> bool {
        (self.dbs.is_empty() || self.dbs.contains(&db))
            && (self.kinds.is_empty() || self.kinds.contains(&kind))
            && !matches!((self.expired_at_ms, expire_ms), (Some(now), Some(exp)) if exp <= now)
    }

    /// Decides on the key name.
    pub fn keeps_key(&self, key: &[u8]) -> bool {
        self.key_glob.as_deref().is_none_or(|g| crate::glob::matches(g, key))
            && self.key_regex.as_ref().is_none_or(|r| r.is_match(key))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn combines_every_criterion() {
        let f = Filter {
            dbs: vec![1],
            key_glob: Some(b"user:*".to_vec()),
            key_regex: Some(Regex::new("[0-9]$").unwrap()),
            kinds: vec![Kind::Hash],
            expired_at_ms: Some(1000),
        };
        assert!(f.keeps_meta(1, Kind::Hash, None));
        assert!(f.keeps_meta(1, Kind::Hash, Some(1001)));
        assert!(!f.keeps_meta(1, Kind::Hash, Some(1000)));
        assert!(!f.keeps_meta(0, Kind::Hash, None));
        assert!(!f.keeps_meta(1, Kind::Set, None));
        assert!(f.keeps_key(b"user:7"));
        assert!(!f.keeps_key(b"user:x"));
        assert!(!f.keeps_key(b"admin:7"));
        assert!(Filter::default().keeps_meta(9, Kind::Stream, Some(0)));
    }
}
