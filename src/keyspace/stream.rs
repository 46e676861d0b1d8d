//! Stream commands: entries added, deleted and trimmed, stream metadata, consumer groups,
//! their pending entries and consumers. Deletions that regard consumer groups (Redis 8.2) are
//! in `stream_refs`, idempotent producers (Redis 8.6) in `stream_idmp`, the server's listpack
//! nodes and node-by-node trimming in `stream_nodes`.
//!
//! Servers log streams in a deterministic form: `XADD` with the id it generated and an
//! approximate trim (`~`) as the exact one it amounted to (`MAXLEN = <length>` or
//! `MINID = <first id>`), `XTRIM ~` likewise (and not at all when it removed nothing),
//! `XREADGROUP`, `XCLAIM` and `XAUTOCLAIM` as `XCLAIM key group consumer 0 id TIME ms
//! RETRYCOUNT n FORCE JUSTID LASTID id` per entry (plus `XGROUP SETID … ENTRIESREAD n` on
//! Valkey and Redis 7.2+, and with `NOACK`), `XGROUP CREATECONSUMER` for consumers made by
//! `XREADGROUP … NOACK`.
//!
//! The stream's first id is kept as servers keep it: the first live entry, 0-0 when empty.
//! Consumer seen and active times are the `TIME` of the claims that touch them; a consumer
//! created on its own (`XGROUP CREATECONSUMER`) takes the time of the latest `#TS:`
//! annotation, the closest the log has.

use super::apply::{Call, Handler, wrong_type};
use super::args::{Reject, int, is, show};
use super::stream_idmp::{self, IdmpOption};
use super::stream_nodes;
use super::stream_refs::{self, Bound, Refs};
use super::{Keyspace, Val};
use crate::rdb::Bytes;
use crate::rdb::Kind;
use crate::rdb::stream::{Consumer, ConsumerGroup, PendingEntry, Stream, StreamEntry, StreamId};

/// The handler for `name`, when this module has it.
pub(super) fn lookup(name: &str) -> Option<Handler> {
    Some(match name {
        "XADD" => xadd,
        "XTRIM" => xtrim,
        "XDEL" => xdel,
        "XDELEX" => stream_refs::xdelex,
        "XACKDEL" => stream_refs::xackdel,
        "XCFGSET" => stream_idmp::xcfgset,
        "XIDMPRECORD" => stream_idmp::xidmprecord,
        "XSETID" => xsetid,
        "XGROUP" => xgroup,
        "XACK" => xack,
        "XCLAIM" => xclaim,
        "XREADGROUP" | "XAUTOCLAIM" => |_, _| Err("servers log it as XCLAIM and XGROUP SETID".into()),
        _ => return None,
    })
}

/// The id past which nothing can be added.
const MAX_ID: StreamId = StreamId { ms: u64::MAX, seq: u64::MAX };

/// A stream id as servers parse one (`strict` refuses `-` and `+`); `ms` alone takes
/// `missing_seq`. With `auto_seq`, `ms-*` gives `(ms, None)`.
pub(super) fn parse_id(arg: &[u8], missing_seq: u64, strict: bool) -> Result<StreamId, Reject> {
    match parse_id_auto(arg, missing_seq, strict, false)? {
        (ms, Some(seq)) => Ok(StreamId { ms, seq }),
        (_, None) => Err(bad_id()),
    }
}

fn bad_id() -> Reject {
    "Invalid stream ID specified as stream command argument".into()
}

fn parse_id_auto(
    arg: &[u8],
    missing_seq: u64,
    strict: bool,
    auto_seq: bool,
) -> Result<(u64, Option<u64>), Reject> {
    if arg.len() > 127 {
        return Err(bad_id());
    }
    match arg {
        b"-" | b"+" if strict => return Err(bad_id()),
        b"-" => return Ok((0, Some(0))),
        b"+" => return Ok((u64::MAX, Some(u64::MAX))),
        _ => {}
    }
    let unsigned = |t: &[u8]| -> Result<u64, Reject> {
        // `string2ull` falls back to `strtoull`: leading zeros are fine.
        if t.is_empty() || !t.iter().all(u8::is_ascii_digit) {
            return Err(bad_id());
        }
        std::str::from_utf8(t).ok().and_then(|s| s.parse().ok()).ok_or_else(bad_id)
    };
    match arg.iter().position(|&b| b == b'-') {
        None => Ok((unsigned(arg)?, Some(missing_seq))),
        Some(dash) => {
            let ms = unsigned(&arg[..dash])?;
            let tail = &arg[dash + 1..];
            if auto_seq && tail == b"*" { Ok((ms, None)) } else { Ok((ms, Some(unsigned(tail)?))) }
        }
    }
}

/// The stream at `key`, when there is one (a wrong type is an error).
pub(super) fn get_stream<'k>(
    ks: &'k Keyspace,
    c: &Call<'_>,
    key: &[u8],
) -> Result<Option<&'k Stream<'static>>, Reject> {
    match ks.get(c.db, key).map(|s| &s.val) {
        None => Ok(None),
        Some(Val::Stream(s)) => Ok(Some(s)),
        Some(_) => Err(wrong_type()),
    }
}

/// The existing stream at `key` for writing.
pub(super) fn stream_mut<'k>(
    ks: &'k mut Keyspace,
    c: &Call<'_>,
    key: &[u8],
) -> Result<Option<&'k mut Stream<'static>>, Reject> {
    match ks.existing(c, key, Kind::Stream)? {
        Some(Val::Stream(s)) => Ok(Some(s)),
        Some(_) => Err(wrong_type()),
        None => Ok(None),
    }
}

/// An empty stream as servers create one.
fn empty_stream() -> Val {
    Val::Stream(Box::new(Stream {
        first_id: Some(StreamId::default()),
        max_deleted_id: Some(StreamId::default()),
        entries_added: Some(0),
        nodes: Some(Vec::new()),
        ..Stream::default()
    }))
}

/// The stream at `key` for writing, created empty when missing.
fn stream_or_insert<'k>(
    ks: &'k mut Keyspace,
    c: &Call<'_>,
    key: &[u8],
) -> Result<&'k mut Stream<'static>, Reject> {
    match ks.or_insert(c, key, Kind::Stream, empty_stream)? {
        Val::Stream(s) => Ok(s),
        _ => Err(wrong_type()),
    }
}

/// Sets the first id as servers keep it after a deletion.
pub(super) fn update_first_id(s: &mut Stream<'static>) {
    s.length = s.entries.len() as u64;
    s.first_id = Some(s.entries.first().map_or_else(StreamId::default, |e| e.id));
}

/// A trim request: `MAXLEN` or `MINID`, exact or approximate (`~`).
#[derive(Clone, Copy)]
struct Trim {
    bound: Bound,
    approx: bool,
}

/// Options of `XADD`/`XTRIM`; for `XADD`, the position of the id too.
struct AddTrimArgs<'c> {
    trim: Option<Trim>,
    refs: Option<Refs>,
    idmp: Option<IdmpOption<'c>>,
    no_mkstream: bool,
    id_at: usize,
}

fn parse_add_trim<'c>(c: &Call<'c>, xadd: bool) -> Result<AddTrimArgs<'c>, Reject> {
    let mut out = AddTrimArgs { trim: None, refs: None, idmp: None, no_mkstream: false, id_at: c.args.len() };
    let mut limit = false;
    let mut i = 2;
    while i < c.args.len() {
        let more = c.args.len() - 1 - i;
        let opt = c.args[i];
        if xadd && opt == b"*" {
            out.id_at = i;
            break;
        } else if (is(opt, "MAXLEN") || is(opt, "MINID")) && more > 0 {
            if out.trim.is_some() {
                return Err(
                    "syntax error, MAXLEN and MINID options at the same time are not compatible".into()
                );
            }
            let mut approx = false;
            if more >= 2 && (c.args[i + 1] == b"~" || c.args[i + 1] == b"=") {
                approx = c.args[i + 1] == b"~";
                i += 1;
            }
            let arg = c.args[i + 1];
            let bound = if is(opt, "MAXLEN") {
                let n = int(arg)?;
                Bound::MaxLen(u64::try_from(n).map_err(|_| "The MAXLEN argument must be >= 0.")?)
            } else {
                Bound::MinId(parse_id(arg, 0, true)?)
            };
            out.trim = Some(Trim { bound, approx });
            i += 1;
        } else if is(opt, "LIMIT") && more > 0 {
            if int(c.args[i + 1])? < 0 {
                return Err("The LIMIT argument must be >= 0.".into());
            }
            limit = true;
            i += 1;
        } else if let Some(refs) = Refs::from_option(opt).filter(|_| out.refs.is_none()) {
            out.refs = Some(refs);
        } else if xadd && is(opt, "NOMKSTREAM") {
            out.no_mkstream = true;
        } else if let Some(parsed) = IdmpOption::parse(c.args, i).filter(|_| xadd) {
            if out.idmp.is_some() {
                return Err("syntax error, IDMP/IDMPAUTO specified multiple times".into());
            }
            let (option, taken) = parsed?;
            out.idmp = Some(option);
            i += taken - 1;
        } else if xadd {
            out.id_at = i;
            break;
        } else {
            return Err("syntax error".into());
        }
        i += 1;
    }
    // Loading ignores LIMIT, and accepts it without `~` (that is how servers log it).
    if limit && out.trim.is_none() {
        return Err("syntax error, LIMIT cannot be used without specifying a trimming strategy".into());
    }
    if !xadd && out.trim.is_none() {
        return Err("syntax error, XTRIM must be called with a trimming strategy".into());
    }
    Ok(out)
}

/// Trims `s` as servers do under `refs` (see `stream_refs`): node by node when its nodes are
/// known (`stream_nodes`), else only where the entries alone decide the result. Trimming does
/// not move the max deleted id. Returns the number of entries removed.
fn trim(s: &mut Stream<'static>, how: Trim, refs: Refs) -> Result<usize, Reject> {
    let removed = match stream_nodes::trim(s, how.bound, how.approx, refs) {
        Some(removed) => removed,
        None => stream_refs::trim_without_nodes(s, how.bound, how.approx, refs)?,
    };
    if removed > 0 {
        update_first_id(s);
    }
    Ok(removed)
}

/// `XADD key [NOMKSTREAM] [KEEPREF|DELREF|ACKED] [IDMP pid iid|IDMPAUTO pid]
/// [MAXLEN|MINID [=|~] n [LIMIT n]] id|ms-* field value …`. Servers log the id they generated;
/// `*` is accepted only for an idempotent id already seen (a duplicate, which adds nothing).
fn xadd(ks: &mut Keyspace, c: &Call<'_>) -> Result<(), Reject> {
    let key = c.arg(1)?;
    let args = parse_add_trim(c, true)?;
    let id_arg = c.arg(args.id_at)?;
    let fields = &c.args[args.id_at + 1..];
    if fields.len() < 2 || !fields.len().is_multiple_of(2) {
        return Err("wrong number of arguments".into());
    }
    // `*` is logged only for an idempotent id already seen, which adds nothing.
    let given = if id_arg == b"*" { None } else { Some(parse_id_auto(id_arg, 0, true, true)?) };
    if given == Some((0, Some(0))) {
        return Err("The ID specified in XADD must be greater than 0-0".into());
    }
    let existing = get_stream(ks, c, key)?;
    if existing.is_none() && args.no_mkstream {
        return Ok(());
    }
    let s = stream_or_insert(ks, c, key)?;
    let iid = match args.idmp {
        Some(option) => match stream_idmp::before_add(s, option, fields) {
            Some(iid) => Some(iid),
            None => return Ok(()),
        },
        None => None,
    };
    let Some((ms, seq)) = given else {
        return Err("an id generated from the clock: servers log XADD with the id they generated".into());
    };
    if s.last_id == MAX_ID {
        return Err("The stream has exhausted the last possible ID, unable to add more items".into());
    }
    let too_small =
        || "The ID specified in XADD is equal or smaller than the target stream top item".to_string();
    let id = match seq {
        Some(seq) => StreamId { ms, seq },
        None if s.last_id.ms == ms => {
            StreamId { ms, seq: s.last_id.seq.checked_add(1).ok_or_else(too_small)? }
        }
        None => StreamId { ms, seq: 0 },
    };
    if id <= s.last_id {
        return Err(too_small());
    }
    stream_nodes::appended(s, id, fields);
    let fields =
        fields.chunks(2).map(|p| (Bytes::Owned(p[0].to_vec()), Bytes::Owned(p[1].to_vec()))).collect();
    s.entries.push(StreamEntry { id, fields });
    s.entries_added = Some(s.entries_added.unwrap_or(0) + 1);
    s.last_id = id;
    update_first_id(s);
    if let (Some(option), Some(iid)) = (args.idmp, iid) {
        stream_idmp::after_add(s, option, iid, id);
    }
    if let Some(how) = args.trim {
        trim(s, how, args.refs.unwrap_or_default())?;
    }
    Ok(())
}

fn xtrim(ks: &mut Keyspace, c: &Call<'_>) -> Result<(), Reject> {
    let key = c.arg(1)?;
    let args = parse_add_trim(c, false)?;
    if let (Some(s), Some(how)) = (stream_mut(ks, c, key)?, args.trim) {
        trim(s, how, args.refs.unwrap_or_default())?;
    }
    Ok(())
}

/// `XDEL key id…`: the max deleted id follows the largest deleted.
fn xdel(ks: &mut Keyspace, c: &Call<'_>) -> Result<(), Reject> {
    c.at_least(3)?;
    let ids: Vec<StreamId> = c.args[2..].iter().map(|a| parse_id(a, 0, true)).collect::<Result<_, _>>()?;
    let Some(s) = stream_mut(ks, c, c.args[1])? else { return Ok(()) };
    let mut deleted = false;
    for id in ids {
        deleted |= stream_refs::delete_entry(s, id);
    }
    if deleted {
        update_first_id(s);
    }
    Ok(())
}

/// `XSETID key last-id [ENTRIESADDED n] [MAXDELETEDID id]`.
fn xsetid(ks: &mut Keyspace, c: &Call<'_>) -> Result<(), Reject> {
    let key = c.arg(1)?;
    let id = parse_id(c.arg(2)?, 0, true)?;
    let (mut entries_added, mut max_deleted) = (None, None);
    let mut i = 3;
    while i < c.args.len() {
        let more = c.args.len() - 1 - i;
        if is(c.args[i], "ENTRIESADDED") && more > 0 {
            let n = int(c.args[i + 1])?;
            entries_added = Some(u64::try_from(n).map_err(|_| "entries_added must be positive")?);
        } else if is(c.args[i], "MAXDELETEDID") && more > 0 {
            let m = parse_id(c.args[i + 1], 0, true)?;
            if id < m {
                return Err(
                    "The ID specified in XSETID is smaller than the provided max_deleted_entry_id".into()
                );
            }
            max_deleted = Some(m);
        } else {
            return Err("syntax error".into());
        }
        i += 2;
    }
    let Some(s) = stream_mut(ks, c, key)? else { return Err("no such key".into()) };
    if let Some(last) = s.entries.last() {
        if id < last.id {
            return Err("The ID specified in XSETID is smaller than the target stream top item".into());
        }
        if entries_added.is_some_and(|n| (s.entries.len() as u64) > n) {
            return Err(
                "The entries_added specified in XSETID is smaller than the target stream length".into()
            );
        }
    }
    s.last_id = id;
    if let Some(n) = entries_added {
        s.entries_added = Some(n);
    }
    if let Some(m) = max_deleted.filter(|m| *m != StreamId::default()) {
        s.max_deleted_id = Some(m);
    }
    Ok(())
}

/// The group named `name`.
pub(super) fn group_mut<'s>(
    s: &'s mut Stream<'static>,
    name: &[u8],
) -> Option<&'s mut ConsumerGroup<'static>> {
    s.groups.iter_mut().find(|g| g.name.as_cow().as_ref() == name)
}

fn no_group(c: &Call<'_>, group: &[u8]) -> Reject {
    format!("NOGROUP No such consumer group {} for key name {}", show(group), show(c.args[2]))
}

/// `XGROUP CREATE|SETID|DESTROY|CREATECONSUMER|DELCONSUMER …`.
fn xgroup(ks: &mut Keyspace, c: &Call<'_>) -> Result<(), Reject> {
    let sub = c.arg(1)?;
    if c.args.len() < 4 {
        return Err("unknown subcommand or wrong number of arguments".into());
    }
    let (key, name) = (c.args[2], c.args[3]);
    let (create, setid) = (is(sub, "CREATE"), is(sub, "SETID"));
    let syntax = || "unknown subcommand or wrong number of arguments".to_string();
    let (mut mkstream, mut entries_read) = (false, -1i64);
    let mut i = 5;
    while i < c.args.len() {
        if create && is(c.args[i], "MKSTREAM") {
            mkstream = true;
            i += 1;
        } else if (create || setid) && is(c.args[i], "ENTRIESREAD") && i + 1 < c.args.len() {
            entries_read = int(c.args[i + 1])?;
            if entries_read < -1 {
                return Err("value for ENTRIESREAD must be positive or -1".into());
            }
            i += 2;
        } else {
            return Err(syntax());
        }
    }
    let exists = get_stream(ks, c, key)?;
    if !mkstream {
        let Some(s) = exists else {
            return Err("The XGROUP subcommand requires the key to exist".into());
        };
        let found = s.groups.iter().any(|g| g.name.as_cow().as_ref() == name);
        if !found && (setid || is(sub, "CREATECONSUMER") || is(sub, "DELCONSUMER")) {
            return Err(no_group(c, name));
        }
    }
    let n = c.args.len();
    if create && (5..=8).contains(&n) {
        let id = match c.args[4] {
            b"$" => exists.map_or_else(StreamId::default, |s| s.last_id),
            other => parse_id(other, 0, true)?,
        };
        if exists.is_some_and(|s| s.groups.iter().any(|g| g.name.as_cow().as_ref() == name)) {
            return Err("BUSYGROUP Consumer Group name already exists".into());
        }
        let s = stream_or_insert(ks, c, key)?;
        let group = ConsumerGroup {
            name: Bytes::Owned(name.to_vec()),
            last_id: id,
            entries_read: Some(entries_read),
            pending: Vec::new(),
            consumers: Vec::new(),
            nacked: None,
        };
        let at = s.groups.partition_point(|g| g.name.as_cow().as_ref() < name);
        s.groups.insert(at, group);
    } else if setid && (n == 5 || n == 7) {
        let s = stream_mut(ks, c, key)?.ok_or_else(syntax)?;
        let id = match c.args[4] {
            b"$" => s.last_id,
            other => parse_id(other, 0, false)?,
        };
        let g = group_mut(s, name).ok_or_else(|| no_group(c, name))?;
        g.last_id = id;
        g.entries_read = Some(entries_read);
    } else if is(sub, "DESTROY") && n == 4 {
        let s = stream_mut(ks, c, key)?.ok_or_else(syntax)?;
        s.groups.retain(|g| g.name.as_cow().as_ref() != name);
    } else if is(sub, "CREATECONSUMER") && n == 5 {
        let seen = c.stamp.ts().map_or(0, |t| t.saturating_mul(1000));
        let s = stream_mut(ks, c, key)?.ok_or_else(syntax)?;
        let g = group_mut(s, name).ok_or_else(|| no_group(c, name))?;
        consumer_index(g, c.args[4], seen);
    } else if is(sub, "DELCONSUMER") && n == 5 {
        let s = stream_mut(ks, c, key)?.ok_or_else(syntax)?;
        let g = group_mut(s, name).ok_or_else(|| no_group(c, name))?;
        if let Some(at) = g.consumers.iter().position(|k| k.name.as_cow().as_ref() == c.args[4]) {
            g.consumers.remove(at);
            g.pending.retain(|p| p.consumer != Some(at));
            for p in &mut g.pending {
                p.consumer = p.consumer.map(|k| if k > at { k - 1 } else { k });
            }
        }
    } else {
        return Err(syntax());
    }
    Ok(())
}

/// The index of the consumer `name`, created (seen at `seen_ms`, never active) when missing.
fn consumer_index(g: &mut ConsumerGroup<'static>, name: &[u8], seen_ms: i64) -> usize {
    if let Some(at) = g.consumers.iter().position(|k| k.name.as_cow().as_ref() == name) {
        return at;
    }
    let at = g.consumers.partition_point(|k| k.name.as_cow().as_ref() < name);
    let consumer = Consumer {
        name: Bytes::Owned(name.to_vec()),
        seen_time_ms: seen_ms,
        active_time_ms: Some(-1),
        pending: Vec::new(),
    };
    g.consumers.insert(at, consumer);
    for p in &mut g.pending {
        p.consumer = p.consumer.map(|k| if k >= at { k + 1 } else { k });
    }
    at
}

/// Rebuilds each consumer's list of pending ids from the group's pending entries.
pub(super) fn sync_consumer_pending(g: &mut ConsumerGroup<'static>) {
    for k in &mut g.consumers {
        k.pending.clear();
    }
    for p in &g.pending {
        if let Some(k) = p.consumer {
            g.consumers[k].pending.push(p.id);
        }
    }
}

/// `XACK key group id…`.
fn xack(ks: &mut Keyspace, c: &Call<'_>) -> Result<(), Reject> {
    c.at_least(4)?;
    let (key, name) = (c.args[1], c.args[2]);
    let Some(s) = get_stream(ks, c, key)? else { return Ok(()) };
    if !s.groups.iter().any(|g| g.name.as_cow().as_ref() == name) {
        return Ok(());
    }
    let ids: Vec<StreamId> = c.args[3..].iter().map(|a| parse_id(a, 0, true)).collect::<Result<_, _>>()?;
    let s = stream_mut(ks, c, key)?.ok_or_else(wrong_type)?;
    let g = group_mut(s, name).ok_or_else(|| no_group(c, name))?;
    g.pending.retain(|p| !ids.contains(&p.id));
    sync_consumer_pending(g);
    Ok(())
}

/// `XCLAIM key group consumer min-idle id… [TIME ms] [RETRYCOUNT n] [FORCE] [JUSTID]
/// [LASTID id]`, as servers log every claim and delivery. `IDLE` and a non-zero min-idle
/// time are relative to a time the log does not hold, and refused.
///
/// A consumer the group does not have is created when it claims an entry; when it claims
/// none, only by newer servers (see [`Keyspace::claims_create_consumers`]).
///
/// A `LASTID` moves the group's last id, not its entries-read counter: Redis 7.0 logs
/// `XREADGROUP` deliveries without the counter, so the server that wrote such a log counted
/// reads that the same server loading the log does not (later servers log `XGROUP SETID …
/// ENTRIESREAD` after the claims).
fn xclaim(ks: &mut Keyspace, c: &Call<'_>) -> Result<(), Reject> {
    c.at_least(6)?;
    let (key, name, consumer) = (c.args[1], c.args[2], c.args[3]);
    let Some(s) = get_stream(ks, c, key)? else { return Err(no_group(c, name)) };
    if !s.groups.iter().any(|g| g.name.as_cow().as_ref() == name) {
        return Err(no_group(c, name));
    }
    let min_idle = int(c.args[4]).map_err(|_| "Invalid min-idle-time argument for XCLAIM")?;
    let mut ids = Vec::new();
    let mut j = 5;
    while let Some(id) = c.args.get(j).and_then(|a| parse_id(a, 0, true).ok()) {
        ids.push(id);
        j += 1;
    }
    let (mut force, mut justid, mut time, mut retry, mut last_id) =
        (false, false, None, None, StreamId::default());
    while j < c.args.len() {
        let more = c.args.len() - 1 - j;
        let opt = c.args[j];
        if is(opt, "FORCE") {
            force = true;
        } else if is(opt, "JUSTID") {
            justid = true;
        } else if is(opt, "TIME") && more > 0 {
            j += 1;
            time = Some(int(c.args[j]).map_err(|_| "Invalid TIME option argument for XCLAIM")?);
        } else if is(opt, "RETRYCOUNT") && more > 0 {
            j += 1;
            retry = Some(int(c.args[j]).map_err(|_| "Invalid RETRYCOUNT option argument for XCLAIM")?);
        } else if is(opt, "LASTID") && more > 0 {
            j += 1;
            last_id = parse_id(c.args[j], 0, true)?;
        } else if is(opt, "IDLE") && more > 0 {
            return Err("XCLAIM IDLE: a time relative to a moment the log does not hold".into());
        } else {
            return Err(format!("Unrecognized XCLAIM option {}", show(opt)));
        }
        j += 1;
    }
    let Some(time) = time.filter(|t| *t >= 0) else {
        return Err("XCLAIM without TIME: the delivery time would be the time of the replay".into());
    };
    let claims_create_consumers = ks.claims_create_consumers;
    let s = stream_mut(ks, c, key)?.ok_or_else(wrong_type)?;
    let entries = &s.entries;
    let g =
        s.groups.iter_mut().find(|g| g.name.as_cow().as_ref() == name).ok_or_else(|| no_group(c, name))?;
    if last_id > g.last_id {
        g.last_id = last_id;
    }
    for id in ids {
        let at = g.pending.binary_search_by(|p| p.id.cmp(&id));
        if entries.binary_search_by(|e| e.id.cmp(&id)).is_err() {
            if let Ok(at) = at {
                g.pending.remove(at);
            }
            continue;
        }
        let at = match at {
            Ok(at) => at,
            Err(at) if force => {
                let nack = PendingEntry { id, delivery_time_ms: time, delivery_count: 1, consumer: None };
                g.pending.insert(at, nack);
                at
            }
            Err(_) => continue,
        };
        if g.pending[at].consumer.is_some() && min_idle > 0 {
            return Err("XCLAIM with a min-idle time: relative to a moment the log does not hold".into());
        }
        let k = consumer_index(g, consumer, time);
        let p = &mut g.pending[at];
        p.consumer = Some(k);
        p.delivery_time_ms = time;
        match retry {
            Some(n) if n >= 0 => p.delivery_count = n as u64,
            _ if !justid => p.delivery_count += 1,
            _ => {}
        }
        let k = &mut g.consumers[k];
        k.seen_time_ms = time;
        k.active_time_ms = Some(time);
    }
    if !g.consumers.iter().any(|k| k.name.as_cow().as_ref() == consumer) {
        match claims_create_consumers {
            Some(true) => {
                consumer_index(g, consumer, time);
            }
            Some(false) => {}
            None => {
                return Err("XCLAIM that claims nothing for a consumer the group does not have: Redis \
                            7.0 and older do not create the consumer, Redis 7.2+ and Valkey do, and the \
                            log does not say which server wrote it (see --written-by)"
                    .into());
            }
        }
    }
    sync_consumer_pending(g);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keyspace::Applier;
    use crate::keyspace::test_log::{load_error, resp};

    #[test]
    fn a_claim_of_nothing_creates_its_consumer_as_the_writing_server_would() {
        let log: [&[&str]; 3] = [
            &["XADD", "s", "1-1", "f", "v"],
            &["XGROUP", "CREATE", "s", "g", "0"],
            &["XCLAIM", "s", "g", "newc", "0", "9-9", "TIME", "5", "FORCE", "JUSTID"],
        ];
        let e = load_error(&log);
        assert!(e.contains("the log does not say which server wrote it"), "{e}");
        for (creates, consumers) in [(false, 0), (true, 1)] {
            let mut applier =
                Applier::new(Keyspace { claims_create_consumers: Some(creates), ..Keyspace::new() }, 0);
            let text: Vec<u8> =
                log.iter().flat_map(|c| resp(&c.iter().map(|w| w.as_bytes()).collect::<Vec<_>>())).collect();
            applier.load_file(&text, 0, &|_| {}).unwrap();
            match applier.finish().get(0, b"s").map(|slot| &slot.val) {
                Some(Val::Stream(s)) => assert_eq!(s.groups[0].consumers.len(), consumers),
                _ => panic!("no stream"),
            }
        }
    }

    #[test]
    fn ids_parse_as_the_servers_do() {
        assert_eq!(parse_id(b"5", 0, true), Ok(StreamId { ms: 5, seq: 0 }));
        assert_eq!(parse_id(b"5-3", 0, true), Ok(StreamId { ms: 5, seq: 3 }));
        assert_eq!(parse_id(b"+", 0, false), Ok(MAX_ID));
        assert!(parse_id(b"+", 0, true).is_err() && parse_id(b"5-", 0, true).is_err());
        assert_eq!(parse_id(b"05", 0, true), Ok(StreamId { ms: 5, seq: 0 }));
        assert!(parse_id(b"5-*", 0, true).is_err() && parse_id(b"x", 0, true).is_err());
        assert_eq!(parse_id_auto(b"7-*", 0, true, true), Ok((7, None)));
    }
}
