//! Applying logged commands: transactions, dispatch by name, and errors that name the command.

use super::args::{Reject, show};
use super::{
    Keyspace, Slot, Stamp, Val, bitfield, function, geo, hash, hll, keys, list, set, sort, stream, string,
    vector_set, zset,
};
use crate::aof::reader::CommandRecord;
use crate::error::{Error, ErrorKind, Result};
use crate::rdb::Kind;
use rustc_hash::FxHashMap;

/// One command being applied.
pub(super) struct Call<'c> {
    /// The arguments, the name first.
    pub args: &'c [&'c [u8]],
    /// The database in effect.
    pub db: u64,
    /// When and from where: the stamp of every key it writes.
    pub stamp: Stamp,
    /// Whether it runs in a transaction (`MULTI` … `EXEC`).
    pub queued: bool,
}

impl Call<'_> {
    /// Argument `i`, or an arity error.
    pub fn arg(&self, i: usize) -> Result<&[u8], Reject> {
        self.args.get(i).copied().ok_or_else(|| "wrong number of arguments".to_string())
    }

    /// Requires `min` arguments or more, the name included.
    pub fn at_least(&self, min: usize) -> Result<(), Reject> {
        if self.args.len() < min { Err("wrong number of arguments".into()) } else { Ok(()) }
    }

    /// The optional `count` after the key of a pop (`LPOP key [count]`, `ZPOPMIN key
    /// [count]`): 1 when absent.
    pub fn pop_count(&self) -> Result<usize, Reject> {
        if self.args.len() > 3 {
            return Err("syntax error".into());
        }
        match self.args.get(2) {
            None => Ok(1),
            Some(n) => super::args::uint(n, i64::MAX as u64)
                .map(|n| usize::try_from(n).unwrap_or(usize::MAX))
                .map_err(|_| "value is out of range, must be positive".into()),
        }
    }

    /// Requires exactly `n` arguments, the name included.
    pub fn exactly(&self, n: usize) -> Result<(), Reject> {
        if self.args.len() != n { Err("wrong number of arguments".into()) } else { Ok(()) }
    }
}

/// A command's effect on the keyspace.
pub(super) type Handler = fn(&mut Keyspace, &Call<'_>) -> Result<(), Reject>;

/// The handler for an upper-case command name.
fn handler(name: &str) -> Option<Handler> {
    [
        keys::lookup,
        string::lookup,
        bitfield::lookup,
        hll::lookup,
        function::lookup,
        list::lookup,
        set::lookup,
        zset::lookup,
        geo::lookup,
        sort::lookup,
        hash::lookup,
        stream::lookup,
        vector_set::lookup,
    ]
    .iter()
    .find_map(|lookup| lookup(name))
}

/// Applies commands in log order to a keyspace, holding back a transaction until its `EXEC`
/// (one never closed is dropped, as servers drop it when loading).
pub struct Applier<'a> {
    keyspace: Keyspace,
    source: u32,
    transaction: Vec<CommandRecord<'a>>,
    /// What applies commands, for each of the two threads that can apply at once.
    runners: [Runner; 2],
}

/// Applies single commands: finds their handler and counts them.
#[derive(Default)]
pub(super) struct Runner {
    /// Handlers by command name as logged (any case): looking a name up in every module's
    /// table, upper-cased, for each of millions of commands showed in profiles.
    handlers: FxHashMap<Box<[u8]>, Handler>,
    /// Commands applied.
    applied: u64,
}

impl Runner {
    /// Applies one command to `keyspace`, stamped with `source`; `queued` when it is part of
    /// a transaction.
    pub(super) fn run(
        &mut self,
        keyspace: &mut Keyspace,
        source: u32,
        record: &CommandRecord<'_>,
        args: &[&[u8]],
        queued: bool,
    ) -> Result<()> {
        let cmd = &record.command;
        let call = Call { args, db: record.db, stamp: Stamp::new(record.timestamp, source), queued };
        let reject = |reason: String| {
            let command = String::from_utf8_lossy(cmd.name).to_ascii_uppercase();
            Error::new(ErrorKind::Command { command, reason }, cmd.offset)
        };
        let handler = match self.handlers.get(cmd.name) {
            Some(&handler) => handler,
            None => {
                let Some(handler) = handler(&String::from_utf8_lossy(cmd.name).to_ascii_uppercase()) else {
                    return Err(reject("the keyspace model does not know this command".into()));
                };
                self.handlers.insert(cmd.name.into(), handler);
                handler
            }
        };
        handler(keyspace, &call).map_err(|reason| match call.args.get(1) {
            Some(key) => reject(format!("{reason} (first argument {})", show(key))),
            None => reject(reason),
        })?;
        self.applied += 1;
        Ok(())
    }
}

/// Whether a command (its name in any case, and its argument count with the name) changes
/// nothing but the key its first argument names, in the database in effect: commands of
/// these kinds on keys in different hash halves of the keyspace can be applied at once.
/// Commands that may name more keys (`DEL a b`), read other keys, or touch more than one
/// database or the functions are not listed.
pub(super) fn first_key_only(name: &[u8], args: usize) -> bool {
    let mut upper = [0u8; 16];
    let Some(upper) = upper.get_mut(..name.len()) else { return false };
    upper.copy_from_slice(name);
    upper.make_ascii_uppercase();
    match &*upper {
        b"DEL" | b"UNLINK" => args == 2,
        b"SET" | b"SETNX" | b"SETEX" | b"PSETEX" | b"GETSET" | b"GETDEL" | b"GETEX" | b"APPEND"
        | b"SETRANGE" | b"INCR" | b"DECR" | b"INCRBY" | b"DECRBY" | b"SETBIT" | b"PFADD" | b"EXPIRE"
        | b"PEXPIRE" | b"EXPIREAT" | b"PEXPIREAT" | b"PERSIST" | b"LPUSH" | b"RPUSH" | b"LPUSHX"
        | b"RPUSHX" | b"LPOP" | b"RPOP" | b"LREM" | b"LSET" | b"LTRIM" | b"LINSERT" | b"SADD" | b"SREM"
        | b"ZADD" | b"ZINCRBY" | b"ZREM" | b"ZREMRANGEBYSCORE" | b"ZREMRANGEBYRANK" | b"ZREMRANGEBYLEX"
        | b"ZPOPMIN" | b"ZPOPMAX" | b"GEOADD" | b"HSET" | b"HMSET" | b"HSETNX" | b"HDEL" | b"HINCRBY"
        | b"XADD" | b"XDEL" | b"XTRIM" | b"XDELEX" | b"XACKDEL" | b"XCFGSET" | b"XIDMPRECORD" | b"VADD"
        | b"VREM" | b"VSETATTR" => args >= 2,
        _ => false,
    }
}

impl<'a> Applier<'a> {
    /// Applies commands to `keyspace`; they come from input number `source`.
    pub fn new(keyspace: Keyspace, source: u32) -> Applier<'a> {
        Applier { keyspace, source, transaction: Vec::new(), runners: Default::default() }
    }

    /// The input further commands come from.
    pub fn set_source(&mut self, source: u32) {
        self.source = source;
    }

    /// Commands applied so far (transactions count their commands).
    pub fn applied(&self) -> u64 {
        self.runners.iter().map(|r| r.applied).sum()
    }

    /// Applies one logged command.
    ///
    /// # Errors
    /// [`ErrorKind::Command`] at the command's offset for a command the model does not know
    /// or one a server would have rejected.
    pub fn apply(&mut self, record: CommandRecord<'a>) -> Result<()> {
        let args: Vec<&[u8]> = record.command.args().collect();
        self.apply_split(record, &args)
    }

    /// Applies one logged command whose arguments (the name first) are already split out.
    ///
    /// # Errors
    /// As [`Applier::apply`].
    pub fn apply_split(&mut self, record: CommandRecord<'a>, args: &[&[u8]]) -> Result<()> {
        let name = record.command.name;
        if name.eq_ignore_ascii_case(b"MULTI") {
            self.transaction.clear();
            self.transaction.push(record);
            return Ok(());
        }
        if name.eq_ignore_ascii_case(b"EXEC") {
            let queued: Vec<CommandRecord<'a>> = self.transaction.drain(..).skip(1).collect();
            return queued.into_iter().try_for_each(|r| {
                let args: Vec<&[u8]> = r.command.args().collect();
                self.run(&r, &args, true)
            });
        }
        if !self.transaction.is_empty() {
            self.transaction.push(record);
            return Ok(());
        }
        self.run(&record, args, false)
    }

    /// The keyspace, for loading records into it.
    pub fn keyspace_mut(&mut self) -> &mut Keyspace {
        &mut self.keyspace
    }

    /// The stamp of records loaded from the current input (no `#TS:` known).
    pub fn stamp(&self) -> Stamp {
        Stamp::new(None, self.source)
    }

    /// Whether no transaction is open (so a command is applied at once, not queued).
    pub(super) fn outside_transaction(&self) -> bool {
        self.transaction.is_empty()
    }

    /// What applying needs, for applying on two threads: the keyspace, the runners and the
    /// input number.
    pub(super) fn parts(&mut self) -> (&mut Keyspace, &mut [Runner; 2], u32) {
        (&mut self.keyspace, &mut self.runners, self.source)
    }

    /// Drops a transaction never closed (each file is loaded by a fresh client).
    pub(super) fn drop_open_transaction(&mut self) {
        self.transaction.clear();
    }

    /// Ends the input: an open transaction is dropped. Returns the keyspace.
    pub fn finish(self) -> Keyspace {
        self.keyspace
    }

    fn run(&mut self, record: &CommandRecord<'a>, args: &[&[u8]], queued: bool) -> Result<()> {
        self.runners[0].run(&mut self.keyspace, self.source, record, args, queued)
    }
}

/// Access for command handlers.
impl Keyspace {
    /// The value of `key` for writing, created by `empty` (a value of `kind`) when missing.
    pub(super) fn or_insert(
        &mut self,
        call: &Call<'_>,
        key: &[u8],
        kind: Kind,
        empty: impl FnOnce() -> Val,
    ) -> Result<&mut Val, Reject> {
        let db = self.db_mut(call.db);
        let slot = db.get_or_insert_with(key, || Slot::new(empty(), None, call.stamp));
        if slot.val.kind() != kind {
            return Err(wrong_type());
        }
        slot.written = call.stamp;
        Ok(&mut slot.val)
    }

    /// The value of `key` for writing when it exists: checks its type and stamps it.
    pub(super) fn existing(
        &mut self,
        call: &Call<'_>,
        key: &[u8],
        kind: Kind,
    ) -> Result<Option<&mut Val>, Reject> {
        let Some(slot) = self.dbs.get_mut(&call.db).and_then(|db| db.get_mut(key)) else { return Ok(None) };
        if slot.val.kind() != kind {
            return Err(wrong_type());
        }
        slot.written = call.stamp;
        Ok(Some(&mut slot.val))
    }

    /// Deletes `key` if its collection became empty, as servers do.
    pub(super) fn drop_if_empty(&mut self, db: u64, key: &[u8]) {
        if self.get(db, key).is_some_and(|s| s.val.is_empty_collection()) {
            self.remove(db, key);
        }
    }

    /// Sets `key` to `val` with `expire_ms`, replacing whatever it held.
    pub(super) fn put(&mut self, call: &Call<'_>, key: &[u8], val: Val, expire_ms: Option<i64>) {
        self.db_mut(call.db).insert(key, Slot::new(val, expire_ms, call.stamp));
    }

    /// Removes `key` from the call's database.
    pub(super) fn remove(&mut self, db: u64, key: &[u8]) -> Option<Slot> {
        let slot = self.dbs.get_mut(&db)?.remove(key);
        if self.dbs.get(&db).is_some_and(|d| d.is_empty()) {
            self.dbs.remove(&db);
        }
        slot
    }
}

/// The error servers give for an operation on the wrong type.
pub(super) fn wrong_type() -> Reject {
    "WRONGTYPE Operation against a key holding the wrong kind of value".into()
}
