//! Parsing command arguments as the servers do.

/// Why a command cannot be applied.
pub type Reject = String;

/// A signed 64-bit integer in the servers' strict form (`string2ll`: no spaces, no `+`, no
/// leading zeros).
pub fn int(arg: &[u8]) -> Result<i64, Reject> {
    crate::rdb::write::int::canonical_int(arg)
        .ok_or_else(|| format!("value is not an integer: {}", show(arg)))
}

/// A non-negative integer that fits `max`.
pub fn uint(arg: &[u8], max: u64) -> Result<u64, Reject> {
    let v = int(arg)?;
    u64::try_from(v).ok().filter(|v| *v <= max).ok_or_else(|| format!("value out of range: {}", show(arg)))
}

/// The argument escaped for a message.
pub fn show(arg: &[u8]) -> String {
    let shown = crate::error::escape_bytes(&arg[..arg.len().min(64)]);
    if arg.len() > 64 { format!("\"{shown}…\"") } else { format!("\"{shown}\"") }
}

/// The positions `start..=end` select in a sequence of `len` (negative ones count from the
/// end), clamped as servers clamp them for `LRANGE`, `LTRIM` and `ZRANGE`; `None` when empty.
pub fn index_range(start: i64, end: i64, len: usize) -> Option<std::ops::RangeInclusive<usize>> {
    let len = i64::try_from(len).unwrap_or(i64::MAX);
    let start = if start < 0 { (len + start).max(0) } else { start };
    let end = if end < 0 { len + end } else { end };
    if start > end || start >= len {
        return None;
    }
    Some(start as usize..=end.min(len - 1) as usize)
}

/// What C's `strtod` reads at the start of an argument.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Strtod {
    /// The value (0 when nothing converts; NaN for a `nan` prefix).
    pub value: f64,
    /// Bytes consumed, leading white space included; 0 when nothing converts.
    pub len: usize,
    /// The value overflowed to an infinity or underflowed to zero (`ERANGE`).
    pub out_of_range: bool,
}

/// Reads a number at the start of `arg` as glibc's `strtod` does: white space, a sign, then
/// `inf`/`infinity`, `nan` (with an optional `(…)` tag) or a decimal with an optional exponent.
/// Hexadecimal floats are refused (`strtod` reads them; the model does not).
pub fn strtod(arg: &[u8]) -> Result<Strtod, Reject> {
    let none = Strtod { value: 0.0, len: 0, out_of_range: false };
    let start = arg.iter().take_while(|b| is_c_space(**b)).count();
    let mut i = start + usize::from(matches!(arg.get(start), Some(b'+' | b'-')));
    let negative = arg.get(start) == Some(&b'-');
    let signed = |v: f64| if negative { -v } else { v };
    let word =
        |at: usize, w: &str| arg.get(at..at + w.len()).is_some_and(|a| a.eq_ignore_ascii_case(w.as_bytes()));
    if word(i, "inf") {
        let len = i + if word(i, "infinity") { 8 } else { 3 };
        return Ok(Strtod { value: signed(f64::INFINITY), len, out_of_range: false });
    }
    if word(i, "nan") {
        i += 3;
        if arg.get(i) == Some(&b'(') {
            let tag = arg[i + 1..].iter().take_while(|b| b.is_ascii_alphanumeric() || **b == b'_').count();
            if arg.get(i + 1 + tag) == Some(&b')') {
                i += tag + 2;
            }
        }
        return Ok(Strtod { value: f64::NAN, len: i, out_of_range: false });
    }
    let digits = |at: usize| arg.get(at..).map_or(0, |a| a.iter().take_while(|b| b.is_ascii_digit()).count());
    if word(i, "0x") && arg.get(i + 2).is_some_and(|b| b.is_ascii_hexdigit() || *b == b'.') {
        return Err(format!("hexadecimal floats are not modelled: {}", show(arg)));
    }
    let number = i;
    let whole = digits(i);
    i += whole;
    let mut fraction = 0;
    if arg.get(i) == Some(&b'.') {
        fraction = digits(i + 1);
        if whole + fraction > 0 {
            i += 1 + fraction;
        }
    }
    if whole + fraction == 0 {
        return Ok(none);
    }
    let nonzero = arg[number..i].iter().any(|b| (b'1'..=b'9').contains(b));
    if matches!(arg.get(i), Some(b'e' | b'E')) {
        let sign = usize::from(matches!(arg.get(i + 1), Some(b'+' | b'-')));
        let exp = digits(i + 1 + sign);
        if exp > 0 {
            i += 1 + sign + exp;
        }
    }
    // The consumed text is ASCII and in a form Rust's parser reads, correctly rounded as glibc.
    let text = std::str::from_utf8(&arg[number..i]).map_err(|_| "unreachable: not ASCII")?;
    let value: f64 = text.parse().map_err(|_| format!("value is not a valid float: {}", show(arg)))?;
    let out_of_range = value.is_infinite() || (value == 0.0 && nonzero);
    Ok(Strtod { value: signed(value), len: i, out_of_range })
}

/// C's `isspace` in the C locale.
fn is_c_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t'..=b'\r')
}

/// A double as `getDoubleFromObject` parses it: all of the argument as `strtod` reads it,
/// without leading white space; NaN, overflow and underflow to zero refused.
pub fn double(arg: &[u8]) -> Result<f64, Reject> {
    let read = strtod(arg)?;
    if arg.first().is_none_or(|b| is_c_space(*b))
        || read.len != arg.len()
        || read.out_of_range
        || read.value.is_nan()
    {
        return Err(format!("value is not a valid float: {}", show(arg)));
    }
    Ok(read.value)
}

/// True when `arg` equals the keyword `word` ignoring ASCII case.
pub fn is(arg: &[u8], word: &str) -> bool {
    arg.eq_ignore_ascii_case(word.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_parse_as_the_servers_do() {
        assert_eq!(int(b"-12"), Ok(-12));
        assert!(int(b"012").is_err() && int(b"+1").is_err() && int(b" 1").is_err());
        assert_eq!(double(b"1.5"), Ok(1.5));
        assert_eq!(double(b"-inf"), Ok(f64::NEG_INFINITY));
        assert_eq!(double(b"+Infinity"), Ok(f64::INFINITY));
        assert_eq!(double(b"1e3"), Ok(1000.0));
        assert_eq!(double(b"5."), Ok(5.0));
        assert_eq!(double(b"-.5"), Ok(-0.5));
        assert_eq!(double(b"4e-320").map(|v| v > 0.0), Ok(true));
        assert_eq!(double(b"-0").map(f64::is_sign_negative), Ok(true));
        for bad in [
            &b"nan"[..],
            b" 1",
            b"1 ",
            b"",
            b"1x",
            b"+-1",
            b"1e400",
            b"-1e400",
            b"1e-400",
            b".",
            b"1\0",
            b"e5",
        ] {
            assert!(double(bad).is_err(), "{}", show(bad));
        }
        assert!(double(b"0x10").is_err());
    }

    #[test]
    fn index_ranges_clamp_as_the_servers_do() {
        assert_eq!(index_range(0, -1, 3), Some(0..=2));
        assert_eq!(index_range(-10, 1, 3), Some(0..=1));
        assert_eq!(index_range(1, 100, 3), Some(1..=2));
        assert_eq!(index_range(2, 1, 3), None);
        assert_eq!(index_range(3, 5, 3), None);
        assert_eq!(index_range(0, -4, 3), None);
        assert_eq!(index_range(i64::MIN, i64::MAX, 0), None);
    }

    #[test]
    fn strtod_reads_a_prefix() {
        let read = |a: &[u8]| strtod(a).map(|r| (r.value, r.len));
        assert_eq!(read(b""), Ok((0.0, 0)));
        assert_eq!(read(b"  "), Ok((0.0, 0)));
        assert_eq!(read(b" 2.5xyz"), Ok((2.5, 4)));
        assert_eq!(read(b"1e"), Ok((1.0, 1)));
        assert_eq!(read(b"1e+"), Ok((1.0, 1)));
        assert_eq!(read(b"-infinit"), Ok((f64::NEG_INFINITY, 4)));
        assert_eq!(read(b"0x"), Ok((0.0, 1)));
        assert_eq!(strtod(b"1e999").map(|r| (r.value, r.out_of_range)), Ok((f64::INFINITY, true)));
        assert!(strtod(b"nan(x1)").is_ok_and(|r| r.value.is_nan() && r.len == 7));
    }
}
