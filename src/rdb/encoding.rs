//! Value type codes: the byte before each key, resolved to an [`Encoding`] by the file's vendor.

use super::Vendor;

/// The logical Redis type of a value, as `TYPE key` reports it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Kind {
    /// String (also HyperLogLog and bitmaps).
    String,
    /// List.
    List,
    /// Set.
    Set,
    /// Sorted set.
    ZSet,
    /// Hash.
    Hash,
    /// Stream.
    Stream,
    /// Module value.
    Module,
}

impl Kind {
    /// The name `TYPE` returns, also used in JSON output and `--type` filters.
    pub fn name(self) -> &'static str {
        match self {
            Kind::String => "string",
            Kind::List => "list",
            Kind::Set => "set",
            Kind::ZSet => "zset",
            Kind::Hash => "hash",
            Kind::Stream => "stream",
            Kind::Module => "module",
        }
    }

    /// Parses a name as [`Kind::name`] writes it.
    pub fn from_name(name: &str) -> Option<Kind> {
        [Kind::String, Kind::List, Kind::Set, Kind::ZSet, Kind::Hash, Kind::Stream, Kind::Module]
            .into_iter()
            .find(|k| k.name() == name)
    }
}

/// How a value is laid out in the file: one variant per RDB type code.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Encoding {
    /// 0: one string.
    String,
    /// 1: length-prefixed list of strings.
    List,
    /// 2: length-prefixed set of strings.
    Set,
    /// 3: members with ASCII scores.
    ZSet,
    /// 4: field/value pairs.
    Hash,
    /// 5: members with binary double scores.
    ZSet2,
    /// 6: Redis 4.0 release-candidate module value (cannot be skipped).
    ModulePreGa,
    /// 7: module value with self-describing opcodes.
    Module2,
    /// 9: zipmap hash (Redis 2.x).
    HashZipmap,
    /// 10: ziplist list.
    ListZiplist,
    /// 11: intset.
    SetIntset,
    /// 12: ziplist sorted set.
    ZSetZiplist,
    /// 13: ziplist hash.
    HashZiplist,
    /// 14: quicklist of ziplists.
    ListQuicklist,
    /// 15: stream, version 1.
    StreamListpacks,
    /// 16: listpack hash.
    HashListpack,
    /// 17: listpack sorted set.
    ZSetListpack,
    /// 18: quicklist of listpacks or plain nodes.
    ListQuicklist2,
    /// 19: stream, version 2.
    StreamListpacks2,
    /// 20: listpack set.
    SetListpack,
    /// 21: stream, version 3.
    StreamListpacks3,
    /// 26: stream, version 4 (Redis 8.6: idempotent-producer state).
    StreamListpacks4,
    /// 27: stream, version 5 (Redis 8.8: per-group NACKed entries).
    StreamListpacks5,
    /// 22 (Redis): hash with field TTLs, 7.4 release candidate (absolute TTLs).
    HashMetadataPreGa,
    /// 23 (Redis): listpack hash with field TTLs, 7.4 release candidate.
    HashListpackExPreGa,
    /// 24: hash with field TTLs relative to a minimum.
    HashMetadata,
    /// 25: listpack hash with field TTLs and a minimum.
    HashListpackEx,
    /// 22 (Valkey): hash whose fields carry an optional absolute TTL.
    ValkeyHash2,
}

impl Encoding {
    /// Resolves a type byte; `None` for opcodes and codes no supported server writes.
    pub fn from_code(code: u8, vendor: Vendor) -> Option<Encoding> {
        use Encoding::*;
        Some(match (code, vendor) {
            (0, _) => String,
            (1, _) => List,
            (2, _) => Set,
            (3, _) => ZSet,
            (4, _) => Hash,
            (5, _) => ZSet2,
            (6, _) => ModulePreGa,
            (7, _) => Module2,
            (9, _) => HashZipmap,
            (10, _) => ListZiplist,
            (11, _) => SetIntset,
            (12, _) => ZSetZiplist,
            (13, _) => HashZiplist,
            (14, _) => ListQuicklist,
            (15, _) => StreamListpacks,
            (16, _) => HashListpack,
            (17, _) => ZSetListpack,
            (18, _) => ListQuicklist2,
            (19, _) => StreamListpacks2,
            (20, _) => SetListpack,
            (21, _) => StreamListpacks3,
            (22, Vendor::Redis) => HashMetadataPreGa,
            (22, Vendor::Valkey) => ValkeyHash2,
            (23, Vendor::Redis) => HashListpackExPreGa,
            (24, _) => HashMetadata,
            (25, _) => HashListpackEx,
            (26, Vendor::Redis) => StreamListpacks4,
            (27, Vendor::Redis) => StreamListpacks5,
            _ => return None,
        })
    }

    /// The stream layout version of a stream encoding (1 to 5).
    pub fn stream_version(self) -> Option<u8> {
        use Encoding::*;
        match self {
            StreamListpacks => Some(1),
            StreamListpacks2 => Some(2),
            StreamListpacks3 => Some(3),
            StreamListpacks4 => Some(4),
            StreamListpacks5 => Some(5),
            _ => None,
        }
    }

    /// Why a type byte that [`Encoding::from_code`] rejects cannot be read.
    pub fn unsupported_reason(code: u8, vendor: Vendor) -> &'static str {
        match (code, vendor) {
            (23, Vendor::Valkey) => "Valkey 9.2 PATH_HASH, whose layout is not published yet",
            (28, Vendor::Redis) => "Redis 8.8 ARRAY, not supported yet",
            (8, _) => "type 8 was never written by a released server",
            _ => "not a type or opcode any supported server writes",
        }
    }

    /// The type byte as written in the file.
    pub fn code(self) -> u8 {
        use Encoding::*;
        match self {
            String => 0,
            List => 1,
            Set => 2,
            ZSet => 3,
            Hash => 4,
            ZSet2 => 5,
            ModulePreGa => 6,
            Module2 => 7,
            HashZipmap => 9,
            ListZiplist => 10,
            SetIntset => 11,
            ZSetZiplist => 12,
            HashZiplist => 13,
            ListQuicklist => 14,
            StreamListpacks => 15,
            HashListpack => 16,
            ZSetListpack => 17,
            ListQuicklist2 => 18,
            StreamListpacks2 => 19,
            SetListpack => 20,
            StreamListpacks3 => 21,
            HashMetadataPreGa | ValkeyHash2 => 22,
            HashListpackExPreGa => 23,
            HashMetadata => 24,
            HashListpackEx => 25,
            StreamListpacks4 => 26,
            StreamListpacks5 => 27,
        }
    }

    /// The logical type.
    pub fn kind(self) -> Kind {
        use Encoding::*;
        match self {
            String => Kind::String,
            List | ListZiplist | ListQuicklist | ListQuicklist2 => Kind::List,
            Set | SetIntset | SetListpack => Kind::Set,
            ZSet | ZSet2 | ZSetZiplist | ZSetListpack => Kind::ZSet,
            Hash | HashZipmap | HashZiplist | HashListpack | HashMetadataPreGa | HashListpackExPreGa
            | HashMetadata | HashListpackEx | ValkeyHash2 => Kind::Hash,
            StreamListpacks | StreamListpacks2 | StreamListpacks3 | StreamListpacks4 | StreamListpacks5 => {
                Kind::Stream
            }
            ModulePreGa | Module2 => Kind::Module,
        }
    }

    /// A stable name for the on-disk layout, used in JSON output (`"encoding"`).
    pub fn name(self) -> &'static str {
        use Encoding::*;
        match self {
            String => "string",
            List => "linkedlist",
            Set => "hashtable",
            ZSet => "skiplist",
            Hash => "hashtable",
            ZSet2 => "skiplist2",
            ModulePreGa => "module-pre-ga",
            Module2 => "module2",
            HashZipmap => "zipmap",
            ListZiplist | ZSetZiplist | HashZiplist => "ziplist",
            SetIntset => "intset",
            ListQuicklist => "quicklist",
            StreamListpacks => "listpacks",
            StreamListpacks2 => "listpacks2",
            StreamListpacks3 => "listpacks3",
            StreamListpacks4 => "listpacks4",
            StreamListpacks5 => "listpacks5",
            HashListpack | ZSetListpack | SetListpack => "listpack",
            ListQuicklist2 => "quicklist2",
            HashMetadataPreGa => "metadata-pre-ga",
            HashListpackExPreGa => "listpack-ex-pre-ga",
            HashMetadata => "metadata",
            HashListpackEx => "listpack-ex",
            ValkeyHash2 => "hash2",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip_for_both_vendors() {
        for vendor in [Vendor::Redis, Vendor::Valkey] {
            for code in 0..=255u8 {
                if let Some(enc) = Encoding::from_code(code, vendor) {
                    assert_eq!(enc.code(), code);
                }
            }
        }
        assert_eq!(Encoding::from_code(22, Vendor::Valkey), Some(Encoding::ValkeyHash2));
        assert_eq!(Encoding::from_code(22, Vendor::Redis), Some(Encoding::HashMetadataPreGa));
        assert_eq!(Encoding::from_code(23, Vendor::Valkey), None);
        assert_eq!(Encoding::from_code(8, Vendor::Redis), None);
        assert_eq!(Encoding::from_code(26, Vendor::Valkey), None);
    }
}
