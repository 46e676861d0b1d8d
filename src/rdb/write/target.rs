//! Which RDB format a writer produces, and what that format can hold.

use std::fmt;

use crate::rdb::{Header, Vendor};

/// An RDB format the writer can produce: `REDIS0009`..`REDIS0013` or `VALKEY080`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Target {
    vendor: Vendor,
    version: u32,
}

/// How a target stores hash field TTLs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FieldTtls {
    /// Not at all (before Redis 7.4).
    None,
    /// Redis 7.4+ types 24 (hashtable) and 25 (listpack).
    Redis,
    /// Valkey 9 type 22 (`HASH_2`).
    Valkey,
}

impl Target {
    /// Every target, oldest first.
    pub const ALL: [Target; 6] = [
        Target { vendor: Vendor::Redis, version: 9 },
        Target { vendor: Vendor::Redis, version: 10 },
        Target { vendor: Vendor::Redis, version: 11 },
        Target { vendor: Vendor::Redis, version: 12 },
        Target { vendor: Vendor::Redis, version: 13 },
        Target { vendor: Vendor::Valkey, version: 80 },
    ];

    /// What Redis 7.0 (the Debian server) loads: the default without an input version.
    pub const DEFAULT: Target = Target { vendor: Vendor::Redis, version: 10 };

    /// The target for `vendor` and `version`, when the writer produces it.
    pub fn new(vendor: Vendor, version: u32) -> Option<Target> {
        Target::ALL.into_iter().find(|t| t.vendor == vendor && t.version == version)
    }

    /// Parses `9`..`13`, `REDIS0010`, `valkey80` or `VALKEY080` (case-insensitive).
    pub fn parse(text: &str) -> Option<Target> {
        let upper = text.to_ascii_uppercase();
        let (vendor, digits) = if let Some(d) = upper.strip_prefix("VALKEY") {
            (Vendor::Valkey, d)
        } else {
            (Vendor::Redis, upper.strip_prefix("REDIS").unwrap_or(&upper))
        };
        Target::new(vendor, digits.parse().ok()?)
    }

    /// The default target for an input: its own format when the writer produces it, else the
    /// nearest one the writer produces (9 for older files, 13 for newer Redis, VALKEY080 for
    /// newer Valkey), else [`Target::DEFAULT`].
    pub fn for_input(header: Option<Header>) -> Target {
        let Some(h) = header else { return Target::DEFAULT };
        let mut same_vendor = Target::ALL.into_iter().filter(|t| t.vendor == h.vendor);
        let newest = same_vendor.clone().next_back();
        same_vendor.find(|t| t.version >= h.version).or(newest).unwrap_or(Target::DEFAULT)
    }

    /// Server family.
    pub fn vendor(self) -> Vendor {
        self.vendor
    }

    /// Format version written in the header.
    pub fn version(self) -> u32 {
        self.version
    }

    /// The 9-byte header.
    pub fn magic(self) -> String {
        match self.vendor {
            Vendor::Redis => format!("REDIS{:04}", self.version),
            Vendor::Valkey => format!("VALKEY{:03}", self.version),
        }
    }

    /// Listpack encodings and quicklist2 (Redis 7.0, RDB 10); ziplists before.
    pub fn has_listpacks(self) -> bool {
        self.vendor == Vendor::Valkey || self.version >= 10
    }

    /// Listpack-encoded sets (Redis 7.2, RDB 11).
    pub fn has_set_listpacks(self) -> bool {
        self.vendor == Vendor::Valkey || self.version >= 11
    }

    /// Function libraries (Redis 7.0, RDB 10).
    pub fn has_functions(self) -> bool {
        self.has_listpacks()
    }

    /// The stream layout written (1 to 4; 4 with idempotent-producer state, Redis 8.6).
    pub fn stream_version(self) -> u8 {
        match (self.vendor, self.version) {
            (Vendor::Redis, 9) => 1,
            (Vendor::Redis, 10) => 2,
            (Vendor::Redis, 13) => 4,
            _ => 3,
        }
    }

    /// How hash field TTLs are stored.
    pub fn field_ttls(self) -> FieldTtls {
        match (self.vendor, self.version) {
            (Vendor::Valkey, _) => FieldTtls::Valkey,
            (Vendor::Redis, v) if v >= 12 => FieldTtls::Redis,
            _ => FieldTtls::None,
        }
    }

    /// The `redis-ver` aux value written: the first release that writes this format.
    pub fn server_version(self) -> &'static str {
        match (self.vendor, self.version) {
            (Vendor::Valkey, _) => "7.2.4",
            (_, 9) => "5.0.0",
            (_, 10) => "7.0.0",
            (_, 11) => "7.2.0",
            (_, 12) => "7.4.0",
            _ => "8.6.0",
        }
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let servers = match (self.vendor, self.version) {
            (Vendor::Valkey, _) => "Valkey 9",
            (_, 9) => "Redis 5.0-6.2",
            (_, 10) => "Redis 7.0",
            (_, 11) => "Redis 7.2, Valkey 7.2-8",
            (_, 12) => "Redis 7.4-8.4",
            _ => "Redis 8.6",
        };
        write!(f, "{} ({servers})", self.magic())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_names_and_picks_defaults() {
        assert_eq!(Target::parse("10"), Some(Target::DEFAULT));
        assert_eq!(Target::parse("REDIS0011").map(Target::version), Some(11));
        assert_eq!(Target::parse("valkey80").map(Target::magic).as_deref(), Some("VALKEY080"));
        assert_eq!(Target::parse("VALKEY080").map(Target::vendor), Some(Vendor::Valkey));
        assert_eq!(Target::parse("8"), None);
        assert_eq!(Target::parse("13").map(Target::stream_version), Some(4));
        assert_eq!(Target::parse("14"), None);
        let of = |vendor, version| Target::for_input(Some(Header { vendor, version })).magic();
        assert_eq!(of(Vendor::Redis, 6), "REDIS0009");
        assert_eq!(of(Vendor::Redis, 11), "REDIS0011");
        assert_eq!(of(Vendor::Redis, 12), "REDIS0012");
        assert_eq!(of(Vendor::Redis, 14), "REDIS0013");
        assert_eq!(of(Vendor::Valkey, 81), "VALKEY080");
        assert_eq!(Target::for_input(None), Target::DEFAULT);
    }
}
