//! Vector-set commands (Redis 8's `vectorset` module): `VADD`, `VREM`, `VSETATTR`, with the
//! module's argument checks. A vector set keeps each element's vector as the server stores it
//! (see [`crate::vector_set`]); one read from a file is decoded when a command first changes it.
//!
//! A `VADD` that changes an existing element's vector returns 0 and is not logged, so a log
//! holds such updates only inside `MULTI` blocks or from other writers; they are applied as the
//! loading server applies them. A `VADD … CAS` that would run in the background when loaded
//! (on an existing set, a new element, outside a transaction) makes Redis 8.6 stop loading its
//! own AOF (its AOF client cannot block), so it is refused.

use super::apply::{Call, Handler, wrong_type};
use super::args::{Reject, double, int, is};
use super::{Keyspace, Val};
use crate::rdb::Kind;
use crate::vector_set::{DEFAULT_M, Quantization, VECTOR_SET_MODULE, VectorElement, VectorSet};

/// Largest vector dimension `VADD` takes.
const MAX_DIM: i64 = 1 << 16;
/// Range of HNSW `M` `VADD` takes.
const M_RANGE: std::ops::RangeInclusive<i64> = 4..=4096;
/// Largest `EF` `VADD` takes.
const MAX_EF: i64 = 1_000_000;

/// The handler for `name`, when this module has it.
pub(super) fn lookup(name: &str) -> Option<Handler> {
    Some(match name {
        "VADD" => vadd,
        "VREM" => vrem,
        "VSETATTR" => vsetattr,
        _ => return None,
    })
}

/// The vector set in a value of module kind, decoding one read from a file.
fn as_vector_set(val: &mut Val) -> Result<&mut VectorSet, Reject> {
    if let Val::Module(m) = val
        && m.name() == VECTOR_SET_MODULE
    {
        let decoded = VectorSet::from_module_value(m, 0)
            .map_err(|e| format!("the vector set read from the file cannot be decoded: {e}"))?;
        *val = Val::VectorSet(Box::new(decoded));
    }
    match val {
        Val::VectorSet(v) => Ok(v),
        _ => Err(wrong_type()),
    }
}

/// A parsed `[REDUCE n] FP32 blob | VALUES n v…` vector.
struct Given {
    /// The requested projection size (0: none; `REDUCE` takes 32 bits of its argument, as the
    /// module does).
    reduce: u32,
    /// The components.
    vector: Vec<f32>,
    /// Arguments taken.
    consumed: usize,
}

/// The vector starting at argument 2, as `parseVector` reads it.
fn parse_vector(args: &[&[u8]]) -> Result<Given, Reject> {
    let invalid = || "invalid vector specification".to_string();
    let (mut at, mut reduce) = (2, 0);
    if args.len() > at + 2 && is(args[at], "REDUCE") {
        let n = int(args[at + 1]).map_err(|_| invalid())?;
        if n <= 0 {
            return Err(invalid());
        }
        reduce = n as u32;
        at += 2;
    }
    let format = args[at];
    if args.len() < at + 2 {
        return Err(invalid());
    }
    let vector = if is(format, "FP32") {
        let blob = args[at + 1];
        if !blob.len().is_multiple_of(4) || blob.is_empty() || blob.len() / 4 > MAX_DIM as usize {
            return Err(invalid());
        }
        at += 2;
        blob.chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect()
    } else if is(format, "VALUES") {
        let n = int(args[at + 1]).ok().filter(|n| (1..=MAX_DIM).contains(n)).ok_or_else(invalid)? as usize;
        let values = args.get(at + 2..at + 2 + n).ok_or_else(invalid)?;
        // The module reads a double and keeps it as a float.
        let vector = values
            .iter()
            .map(|v| double(v).map(|d| d as f32).map_err(|_| invalid()))
            .collect::<Result<Vec<_>, _>>()?;
        at += 2 + n;
        vector
    } else {
        return Err(invalid());
    };
    if reduce as usize > vector.len() {
        return Err(invalid());
    }
    Ok(Given { reduce, vector, consumed: at - 2 })
}

/// The options after the element.
#[derive(Default)]
struct Options<'c> {
    cas: bool,
    m: Option<u32>,
    attributes: Option<&'c [u8]>,
    quantization: Quantization,
}

fn parse_options<'c>(args: &[&'c [u8]]) -> Result<Options<'c>, Reject> {
    let mut o = Options::default();
    let mut i = 0;
    while i < args.len() {
        let value = args.get(i + 1).copied();
        match (args[i], value) {
            (opt, _) if is(opt, "CAS") => o.cas = true,
            (opt, Some(v)) if is(opt, "EF") => {
                int(v).ok().filter(|ef| (1..=MAX_EF).contains(ef)).ok_or("invalid EF")?;
                i += 1;
            }
            (opt, Some(v)) if is(opt, "M") => {
                o.m = Some(int(v).ok().filter(|m| M_RANGE.contains(m)).ok_or("invalid M")? as u32);
                i += 1;
            }
            (opt, Some(v)) if is(opt, "SETATTR") => {
                o.attributes = Some(v);
                i += 1;
            }
            (opt, _) if is(opt, "NOQUANT") => o.quantization = Quantization::None,
            (opt, _) if is(opt, "BIN") => o.quantization = Quantization::Binary,
            (opt, _) if is(opt, "Q8") => o.quantization = Quantization::Q8,
            _ => return Err("invalid option after element".into()),
        }
        i += 1;
    }
    Ok(o)
}

/// `VADD key [REDUCE n] FP32 blob | VALUES n v… element [CAS] [NOQUANT|BIN|Q8] [EF n] [M n]
/// [SETATTR json]`: creates the set with the command's settings, or checks them against the
/// set's; adds the element, or replaces its vector (and its attributes when `SETATTR` is
/// given; an empty one removes them).
fn vadd(ks: &mut Keyspace, c: &Call<'_>) -> Result<(), Reject> {
    c.at_least(5)?;
    let given = parse_vector(c.args)?;
    let element_at = 2 + given.consumed;
    let element = *c.args.get(element_at).ok_or("wrong number of arguments")?;
    let options = parse_options(&c.args[element_at + 1..])?;
    let m = options.m.unwrap_or(DEFAULT_M);
    let dim = given.vector.len() as u32;
    let existed = ks.get(c.db, c.args[1]).is_some();
    let set = as_vector_set(ks.or_insert(c, c.args[1], Kind::Module, || {
        Val::VectorSet(Box::new(VectorSet {
            dim,
            reduce: (given.reduce != 0).then_some(given.reduce),
            quantization: options.quantization,
            m,
            elements: Default::default(),
        }))
    })?)?;
    if existed {
        check_settings(set, &given, dim, &options, m)?;
    }
    let (stored, l2, range) = set.store(&given.vector);
    match set.elements.get_mut(element) {
        Some(old) => {
            (old.stored, old.l2, old.range) = (stored, l2, range);
            if let Some(a) = options.attributes {
                old.attributes = (!a.is_empty()).then(|| a.into());
            }
        }
        None => {
            if options.cas && existed && !c.queued {
                return Err("VADD … CAS that adds to an existing vector set outside a transaction: Redis \
                     8.6 cannot load it from its AOF (it would block the loading client)"
                    .into());
            }
            let added = VectorElement { stored, l2, range, attributes: options.attributes.map(Into::into) };
            set.elements.insert(element.into(), added);
        }
    }
    Ok(())
}

/// The module's checks of a `VADD` against an existing set, in its order.
fn check_settings(
    set: &VectorSet,
    given: &Given,
    dim: u32,
    options: &Options<'_>,
    m: u32,
) -> Result<(), Reject> {
    if set.quantization != options.quantization {
        return Err("asked quantization mismatch with existing vector set".into());
    }
    if set.m != m {
        return Err("asked M value mismatch with existing vector set".into());
    }
    let stored_dim = set.reduce.unwrap_or(set.dim);
    let wanted = if set.reduce.is_some() { given.reduce } else { dim };
    if stored_dim != wanted {
        return Err(format!("Vector dimension mismatch - got {dim} but set has {stored_dim}"));
    }
    if set.reduce.is_some() && dim != set.dim {
        return Err(format!(
            "Input dimension mismatch for projection - got {dim} but projection expects {}",
            set.dim
        ));
    }
    if given.reduce != 0 && set.reduce.is_none() {
        return Err("cannot add projection to existing set without projection".into());
    }
    Ok(())
}

/// `VREM key element`: the last element's removal deletes the key.
fn vrem(ks: &mut Keyspace, c: &Call<'_>) -> Result<(), Reject> {
    c.exactly(3)?;
    let key = c.args[1];
    if let Some(set) = ks.existing(c, key, Kind::Module)?.map(as_vector_set).transpose()? {
        set.elements.remove(c.args[2]);
    }
    ks.drop_if_empty(c.db, key);
    Ok(())
}

/// `VSETATTR key element json`: an empty `json` removes the attributes.
fn vsetattr(ks: &mut Keyspace, c: &Call<'_>) -> Result<(), Reject> {
    c.exactly(4)?;
    let set = ks.existing(c, c.args[1], Kind::Module)?.map(as_vector_set).transpose()?;
    if let Some(element) = set.and_then(|set| set.elements.get_mut(c.args[2])) {
        let a = c.args[3];
        element.attributes = (!a.is_empty()).then(|| a.into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keyspace::test_log::{load, load_error};

    fn vector_set(ks: &Keyspace, key: &[u8]) -> VectorSet {
        match ks.get(0, key).map(|slot| &slot.val) {
            Some(Val::VectorSet(v)) => (**v).clone(),
            other => panic!("not a vector set: {other:?}"),
        }
    }

    #[test]
    fn values_are_read_as_doubles_and_kept_as_floats_and_settings_come_from_the_first_vadd() {
        let ks = load(&[
            &["VADD", "v", "REDUCE", "1", "VALUES", "2", "0.1", "-2e0", "a", "NOQUANT", "M", "8"],
            &["VADD", "v", "REDUCE", "1", "FP32", "\0\0\0@\0\0\0\0", "b", "NOQUANT", "M", "8", "SETATTR", ""],
        ])
        .unwrap();
        let v = vector_set(&ks, b"v");
        assert_eq!((v.dim, v.reduce, v.quantization, v.m), (2, Some(1), Quantization::None, 8));
        let (stored, l2, _) = v.store(&[0.1f64 as f32, -2.0]);
        assert_eq!((&v.elements[&b"a"[..]].stored, v.elements[&b"a"[..]].l2), (&stored, l2));
        assert_eq!(v.elements[&b"b"[..]].attributes.as_deref(), Some(&b""[..]), "a new element keeps \"\"");
    }

    #[test]
    fn a_changed_element_keeps_its_attributes_unless_setattr_says_otherwise() {
        let ks = load(&[
            &["VADD", "v", "VALUES", "1", "1", "a", "SETATTR", "{}"],
            &["VADD", "v", "VALUES", "1", "2", "a"],
            &["VADD", "v", "VALUES", "1", "3", "b", "SETATTR", "[1]"],
            &["VADD", "v", "VALUES", "1", "4", "b", "SETATTR", ""],
        ])
        .unwrap();
        let v = vector_set(&ks, b"v");
        assert_eq!(v.elements[&b"a"[..]].l2, 2.0, "the change is kept");
        assert_eq!(v.elements[&b"a"[..]].attributes.as_deref(), Some(&b"{}"[..]));
        assert_eq!(v.elements[&b"b"[..]].attributes, None);
    }

    #[test]
    fn the_modules_argument_checks_are_kept() {
        for (log, reason) in [
            (&[&["VADD", "v", "VALUES", "2", "1", "a"][..]][..], "invalid vector specification"),
            (&[&["VADD", "v", "REDUCE", "3", "VALUES", "2", "1", "2", "a"]], "invalid vector specification"),
            (&[&["VADD", "v", "FP32", "abc", "a"]], "invalid vector specification"),
            (&[&["VADD", "v", "VALUES", "1", "nan", "a"]], "invalid vector specification"),
            (&[&["VADD", "v", "VALUES", "1", "1", "a", "M", "3"]], "invalid M"),
            (&[&["VADD", "v", "VALUES", "1", "1", "a", "EF"]], "invalid option after element"),
            (
                &[&["VADD", "v", "VALUES", "1", "1", "a"], &["VADD", "v", "VALUES", "2", "1", "2", "b"]],
                "dimension",
            ),
            (
                &[&["VADD", "v", "VALUES", "1", "1", "a"], &["VADD", "v", "VALUES", "1", "1", "b", "BIN"]],
                "quantization",
            ),
            (
                &[&["VADD", "v", "VALUES", "1", "1", "a"], &["VADD", "v", "VALUES", "1", "1", "b", "M", "8"]],
                "M value",
            ),
            (&[&["SET", "v", "x"], &["VADD", "v", "VALUES", "1", "1", "a"]], "WRONGTYPE"),
            (&[&["VADD", "v", "VALUES", "1", "1", "a"], &["COPY", "v", "w"]], "cannot be copied"),
        ] {
            let e = load_error(log);
            assert!(e.contains(reason), "{log:?}: {e}");
        }
    }

    #[test]
    fn cas_that_would_block_the_loading_client_is_refused_but_not_in_a_transaction() {
        let first = ["VADD", "v", "VALUES", "1", "1", "a", "CAS"];
        let second = ["VADD", "v", "VALUES", "1", "2", "b", "CAS"];
        assert!(
            load(&[&first, &["VADD", "v", "VALUES", "1", "3", "a", "CAS"]]).is_ok(),
            "creation, or a change"
        );
        assert!(load_error(&[&first, &second]).contains("cannot load it"));
        let ks = load(&[&first, &["MULTI"], &second, &["EXEC"]]).unwrap();
        assert_eq!(vector_set(&ks, b"v").elements.len(), 2);
    }

    /// The keyspace a RESP log builds.
    fn load_resp(log: &[u8]) -> Keyspace {
        let mut applier = crate::keyspace::Applier::new(Keyspace::new(), 0);
        applier.load_file(log, 0, &|_| {}).unwrap();
        applier.finish()
    }

    proptest::proptest! {
        /// Vector sets built by random commands (any float bits, attributes set, emptied and
        /// removed) come back from the RESP output (`RESTORE` of the module's form) unchanged
        /// but for empty attributes, which that form has no place for.
        #[test]
        fn resp_output_rebuilds_the_same_vector_sets(
            ops in proptest::collection::vec((0u8..5, 0u8..3, 0u8..100, proptest::array::uniform2(proptest::num::u32::ANY), 0u8..3), 0..600)
        ) {
            use crate::keyspace::test_log::resp;
            let settings: [&[&[u8]]; 3] = [&[], &[b"NOQUANT", b"M", b"8"], &[b"BIN"]];
            let mut log = Vec::new();
            for (op, key, element, bits, attributes) in ops {
                let k = format!("k{key}").into_bytes();
                let e = format!("e{element}").into_bytes();
                let attributes: &[u8] = [&b""[..], b"{\"a\":1}", b"[2]"][usize::from(attributes)];
                let vector: Vec<u8> = bits.iter().flat_map(|b| b.to_le_bytes()).collect();
                let mut args: Vec<&[u8]> = match op {
                    0 | 1 => vec![b"VADD", &k, b"FP32", &vector, &e],
                    2 => vec![b"VADD", &k, b"VALUES", b"2", b"1.5", b"-0", &e],
                    3 => vec![b"VREM", &k, &e],
                    _ => vec![b"VSETATTR", &k, &e, attributes],
                };
                if args[0] == b"VADD" {
                    args.extend_from_slice(settings[usize::from(key)]);
                    if op == 1 {
                        args.extend_from_slice(&[b"SETATTR", attributes]);
                    }
                }
                log.extend(resp(&args));
            }
            let built = load_resp(&log);
            let values = crate::rdb::write::ValueWriter::new(crate::rdb::write::Target::DEFAULT, Default::default());
            let mut out = Vec::new();
            let writer = crate::emit::RespWriter::new(values, false);
            crate::rewrite::write_resp(&built, &writer, None, &mut out).unwrap();
            let mut rebuilt = load_resp(&out);
            for key in [&b"k0"[..], b"k1", b"k2"] {
                let expected = built.get(0, key).map(|slot| match &slot.val {
                    Val::VectorSet(v) => {
                        let mut v = (**v).clone();
                        v.elements.values_mut().for_each(|e| e.attributes = e.attributes.take().filter(|a| !a.is_empty()));
                        v
                    }
                    other => panic!("not a vector set: {other:?}"),
                });
                let decoded = rebuilt.db_mut(0).get_mut(key).map(|slot| as_vector_set(&mut slot.val).unwrap().clone());
                proptest::prop_assert_eq!(expected, decoded);
            }
        }
    }

    #[test]
    fn removing_the_last_element_deletes_the_key_and_vsetattr_with_nothing_to_set_is_no_error() {
        let ks = load(&[
            &["VADD", "v", "VALUES", "1", "1", "a"],
            &["VSETATTR", "v", "missing", "{}"],
            &["VSETATTR", "nokey", "a", "{}"],
            &["VREM", "v", "missing"],
            &["VREM", "v", "a"],
        ])
        .unwrap();
        assert!(ks.get(0, b"v").is_none());
    }
}
