//! `FUNCTION LOAD`, `DELETE`, `FLUSH` and `RESTORE`: the libraries the keyspace keeps.

use super::apply::{Call, Handler};
use super::args::{Reject, is};
use super::load::library_name;
use crate::cursor::Cursor;
use crate::rdb::RdbStr;

/// The opcode of a library in a `FUNCTION DUMP` payload (`RDB_OPCODE_FUNCTION2`).
const OP_FUNCTION2: u8 = 245;

/// The handler for `name`, when this module has it.
pub(super) fn lookup(name: &str) -> Option<Handler> {
    (name == "FUNCTION").then_some(function)
}

fn function(ks: &mut super::Keyspace, c: &Call<'_>) -> Result<(), Reject> {
    let sub = c.arg(1)?;
    if is(sub, "LOAD") {
        let (replace, code) = match c.args.len() {
            3 => (false, c.args[2]),
            4 if is(c.args[2], "REPLACE") => (true, c.args[3]),
            _ => return Err("syntax error".into()),
        };
        let name = library_name(code).to_vec();
        if !replace && ks.functions.contains_key(&name) {
            return Err("ERR Library already exists".into());
        }
        ks.functions.insert(name, code.to_vec());
    } else if is(sub, "DELETE") {
        ks.functions.remove(c.arg(2)?).ok_or("ERR Library not found")?;
    } else if is(sub, "FLUSH") {
        ks.functions.clear();
    } else if is(sub, "RESTORE") {
        restore(ks, c.arg(2)?, c.args.get(3).copied())?;
    } else {
        return Err("unknown FUNCTION subcommand".into());
    }
    Ok(())
}

/// `FUNCTION RESTORE payload [FLUSH|APPEND|REPLACE]` (APPEND by default): the payload is
/// library records, the format version and a CRC-64.
fn restore(ks: &mut super::Keyspace, payload: &[u8], policy: Option<&[u8]>) -> Result<(), Reject> {
    let bad = || "ERR payload version or checksum are wrong".to_string();
    let body = payload.get(..payload.len().checked_sub(10).ok_or_else(bad)?).ok_or_else(bad)?;
    let mut libraries = Vec::new();
    let mut cur = Cursor::new(body, 0);
    while cur.remaining() > 0 {
        if cur.u8("opcode").map_err(|e| e.to_string())? != OP_FUNCTION2 {
            return Err(bad());
        }
        let code = RdbStr::read_bytes(&mut cur).map_err(|e| e.to_string())?.to_vec();
        libraries.push((library_name(&code).to_vec(), code));
    }
    match policy {
        Some(p) if is(p, "FLUSH") => ks.functions.clear(),
        Some(p) if is(p, "REPLACE") => {}
        None => {}
        Some(p) if is(p, "APPEND") => {}
        Some(_) => return Err("syntax error".into()),
    }
    let append = policy.is_none_or(|p| is(p, "APPEND"));
    if append && libraries.iter().any(|(name, _)| ks.functions.contains_key(name)) {
        return Err("ERR Library already exists".into());
    }
    ks.functions.extend(libraries);
    Ok(())
}
