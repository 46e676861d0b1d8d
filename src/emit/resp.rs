//! The commands that recreate a dataset, as the servers' own AOF rewrite emits them: one
//! creating command per key of at most 64 items, absolute `PEXPIREAT`, streams as `XADD` +
//! `XSETID` + `XGROUP CREATE` + `XCLAIM`, libraries as `FUNCTION LOAD`. Module values (and,
//! on request, every key) become `RESTORE` with a DUMP payload.

use crate::dataset::{Entry, Item, pre_ga_library_code};
use crate::error::{Error, ErrorKind, Result};
use crate::rdb::stream::{IDMP_DEFAULT_DURATION_S, IDMP_DEFAULT_MAX_ENTRIES, Idmp, Stream, StreamId};
use crate::rdb::write::record::{dump_payload, is_empty_collection};
use crate::rdb::write::value::ScoreText;
use crate::rdb::write::{Adjustments, ValueWriter};
use crate::rdb::{Bytes, HashField, Value};

/// Items per command, as the servers' rewrite (`AOF_REWRITE_ITEMS_PER_CMD`).
pub const ITEMS_PER_COMMAND: usize = 64;

/// Writes items as RESP commands.
#[derive(Clone, Debug)]
pub struct RespWriter {
    payloads: ValueWriter,
    restore_all: bool,
}

impl RespWriter {
    /// A writer whose `RESTORE` payloads are in `payloads`' format; `restore_all` writes every
    /// key as `RESTORE`, not only module values.
    pub fn new(payloads: ValueWriter, restore_all: bool) -> RespWriter {
        RespWriter { payloads, restore_all }
    }

    /// True when every key is written as `RESTORE` (then a value cannot come in pieces).
    pub fn restores_all(&self) -> bool {
        self.restore_all
    }

    /// Appends `SELECT db`.
    pub fn put_select(out: &mut Vec<u8>, db: u64) {
        Command::new(out, 2).arg(b"SELECT").int(db as i64);
    }

    /// Appends the commands for one item; returns whether it wrote anything (aux fields and
    /// empty collections write nothing).
    ///
    /// # Errors
    /// [`ErrorKind::Unrepresentable`] for what commands cannot recreate (offset 0).
    pub fn put_item(&self, item: &Item<'_>, out: &mut Vec<u8>, adj: &mut Adjustments) -> Result<bool> {
        match item {
            Item::Key(entry) => self.put_entry(entry, out, adj),
            Item::Aux { .. } => Ok(false),
            Item::Function { code } => {
                Command::new(out, 3).arg(b"FUNCTION").arg(b"LOAD").bytes(code);
                Ok(true)
            }
            Item::FunctionPreGa { name, engine, description, code } => {
                adj.function_descriptions_dropped += u64::from(description.is_some());
                Command::new(out, 3)
                    .arg(b"FUNCTION")
                    .arg(b"LOAD")
                    .arg(&pre_ga_library_code(name, engine, code));
                Ok(true)
            }
            Item::ModuleAux { .. } => Err(refuse("module aux data", "; convert to an RDB file instead")),
            Item::SlotImport { .. } => {
                Err(refuse("a Valkey slot import", "; convert to an RDB file instead"))
            }
        }
    }

    fn put_entry(&self, entry: &Entry<'_>, out: &mut Vec<u8>, adj: &mut Adjustments) -> Result<bool> {
        if is_empty_collection(&entry.value) {
            adj.empty_keys_skipped += 1;
            return Ok(false);
        }
        if self.restore_all {
            return self.put_restore(entry, out, adj);
        }
        let key = &entry.key;
        match &entry.value {
            Value::String(s) => {
                Command::new(out, 3).arg(b"SET").bytes(key).bytes(s);
            }
            Value::List(items) => put_chunks(out, b"RPUSH", key, items, 1, |c, b| {
                c.bytes(b);
            }),
            Value::Set(items) => put_chunks(out, b"SADD", key, items, 1, |c, b| {
                c.bytes(b);
            }),
            Value::ZSet(items) => {
                let mut text = ScoreText::default();
                put_chunks(out, b"ZADD", key, items, 2, |c, (m, s)| {
                    c.arg(text.format(*s)).bytes(m);
                });
            }
            Value::Hash(fields) => put_hash(out, key, fields),
            Value::Stream(s) => put_stream(out, key, s, adj)?,
            // Only the module can turn its values into commands (vector sets have none that
            // give back the server's stored vectors).
            Value::Module(_) | Value::VectorSet(_) => return self.put_restore(entry, out, adj),
        }
        if let Some(ms) = entry.expire_ms {
            Command::new(out, 3).arg(b"PEXPIREAT").bytes(key).int(ms);
        }
        Ok(true)
    }
}

impl RespWriter {
    /// `RESTORE key <expiry> <payload> ABSTTL [IDLETIME s] [FREQ f]`.
    fn put_restore(&self, entry: &Entry<'_>, out: &mut Vec<u8>, adj: &mut Adjustments) -> Result<bool> {
        let payload = dump_payload(&self.payloads, &entry.value, adj)?;
        let extra = 2 * usize::from(entry.idle_s.is_some()) + 2 * usize::from(entry.freq.is_some());
        let mut cmd = Command::new(out, 5 + extra);
        cmd.arg(b"RESTORE").bytes(&entry.key).int(entry.expire_ms.unwrap_or(0)).arg(&payload).arg(b"ABSTTL");
        if let Some(idle) = entry.idle_s {
            cmd.arg(b"IDLETIME").int(idle as i64);
        }
        if let Some(freq) = entry.freq {
            cmd.arg(b"FREQ").int(i64::from(freq));
        }
        Ok(true)
    }
}

fn refuse(what: &str, hint: &'static str) -> Error {
    Error::new(ErrorKind::Unrepresentable { target: "RESP".into(), what: what.into(), hint }, 0)
}

/// Writes `items` as `NAME key item…` commands of at most [`ITEMS_PER_COMMAND`] items, each
/// item taking `args_per_item` arguments.
fn put_chunks<T>(
    out: &mut Vec<u8>,
    name: &[u8],
    key: &Bytes<'_>,
    items: &[T],
    args_per_item: usize,
    mut put: impl FnMut(&mut Command<'_>, &T),
) {
    for chunk in items.chunks(ITEMS_PER_COMMAND) {
        let mut cmd = Command::new(out, 2 + chunk.len() * args_per_item);
        cmd.arg(name).bytes(key);
        chunk.iter().for_each(|item| put(&mut cmd, item));
    }
}

/// `HSET` in chunks, then one `HPEXPIREAT … FIELDS` per run of fields sharing an expiry.
fn put_hash(out: &mut Vec<u8>, key: &Bytes<'_>, fields: &[HashField<'_>]) {
    put_chunks(out, b"HSET", key, fields, 2, |c, f| {
        c.bytes(&f.field).bytes(&f.value);
    });
    let mut timed: Vec<&HashField<'_>> = fields.iter().filter(|f| f.expire_ms.is_some()).collect();
    timed.sort_by_key(|f| f.expire_ms);
    for same in timed.chunk_by(|a, b| a.expire_ms == b.expire_ms) {
        for chunk in same.chunks(ITEMS_PER_COMMAND) {
            let mut cmd = Command::new(out, 5 + chunk.len());
            cmd.arg(b"HPEXPIREAT").bytes(key).int(chunk[0].expire_ms.unwrap_or(0)).arg(b"FIELDS");
            cmd.int(chunk.len() as i64);
            chunk.iter().for_each(|f| {
                cmd.bytes(&f.field);
            });
        }
    }
}

/// Entries with `XADD` (an empty stream with the `XADD MAXLEN 0` trick), then `XSETID`, then
/// each group with `XGROUP CREATE`, its consumers and its pending entries (`XCLAIM … FORCE`).
fn put_stream(out: &mut Vec<u8>, key: &Bytes<'_>, s: &Stream<'_>, adj: &mut Adjustments) -> Result<()> {
    if s.entries.iter().any(|e| e.fields.is_empty()) {
        return Err(refuse("a stream entry without fields", "; XADD needs at least one"));
    }
    if s.entries.is_empty() {
        let mut cmd = Command::new(out, 7);
        cmd.arg(b"XADD").bytes(key).arg(b"MAXLEN").arg(b"0").id(StreamId { ms: 0, seq: 1 });
        cmd.arg(b"x").arg(b"y");
    }
    for e in &s.entries {
        let mut cmd = Command::new(out, 3 + 2 * e.fields.len());
        cmd.arg(b"XADD").bytes(key).id(e.id);
        for (f, v) in &e.fields {
            cmd.bytes(f).bytes(v);
        }
    }
    let mut cmd = Command::new(out, 7);
    cmd.arg(b"XSETID").bytes(key).id(s.last_id);
    cmd.arg(b"ENTRIESADDED").int(s.entries_added.unwrap_or(s.length) as i64);
    cmd.arg(b"MAXDELETEDID").id(s.max_deleted_id.unwrap_or_default());
    let live: rustc_hash::FxHashSet<StreamId> = s.entries.iter().map(|e| e.id).collect();
    for g in &s.groups {
        let read = g.entries_read.filter(|n| *n >= 0);
        let mut cmd = Command::new(out, 5 + 2 * usize::from(read.is_some()));
        cmd.arg(b"XGROUP").arg(b"CREATE").bytes(key).bytes(&g.name).id(g.last_id);
        if let Some(n) = read {
            cmd.arg(b"ENTRIESREAD").int(n);
        }
        // A consumer with a pending entry to claim is created by its XCLAIM, as in the
        // servers' rewrite; the others need creating.
        let claims: rustc_hash::FxHashSet<usize> =
            g.pending.iter().filter(|p| live.contains(&p.id)).filter_map(|p| p.consumer).collect();
        for (_, c) in g.consumers.iter().enumerate().filter(|(i, _)| !claims.contains(i)) {
            Command::new(out, 5)
                .arg(b"XGROUP")
                .arg(b"CREATECONSUMER")
                .bytes(key)
                .bytes(&g.name)
                .bytes(&c.name);
        }
        for p in &g.pending {
            let Some(owner) = p.consumer.and_then(|i| g.consumers.get(i)) else {
                return Err(refuse(
                    "a pending entry owned by no consumer",
                    "; convert to an RDB file instead",
                ));
            };
            if !live.contains(&p.id) {
                adj.pending_entries_dropped += 1;
                continue;
            }
            let mut cmd = Command::new(out, 12);
            cmd.arg(b"XCLAIM").bytes(key).bytes(&g.name).bytes(&owner.name).arg(b"0").id(p.id);
            cmd.arg(b"TIME").int(p.delivery_time_ms).arg(b"RETRYCOUNT").int(p.delivery_count as i64);
            cmd.arg(b"JUSTID").arg(b"FORCE");
        }
    }
    if let Some(idmp) = &s.idmp {
        put_idempotent_ids(out, key, idmp, &live, adj);
    }
    Ok(())
}

/// A stream's idempotent-producer state as the servers' rewrite writes it: `XCFGSET` when the
/// configuration is not the default, then `XIDMPRECORD` for each remembered id whose entry is
/// still there, producer by producer, oldest first.
fn put_idempotent_ids(
    out: &mut Vec<u8>,
    key: &Bytes<'_>,
    idmp: &Idmp<'_>,
    live: &rustc_hash::FxHashSet<StreamId>,
    adj: &mut Adjustments,
) {
    if (idmp.duration_s, idmp.max_entries) != (IDMP_DEFAULT_DURATION_S, IDMP_DEFAULT_MAX_ENTRIES) {
        let mut cmd = Command::new(out, 6);
        cmd.arg(b"XCFGSET").bytes(key).arg(b"IDMP-DURATION").int(idmp.duration_s as i64);
        cmd.arg(b"IDMP-MAXSIZE").int(idmp.max_entries as i64);
    }
    let mut recorded = 0;
    for p in &idmp.producers {
        for (iid, id) in &p.entries {
            if !live.contains(id) {
                adj.idempotent_ids_dropped += 1;
                continue;
            }
            Command::new(out, 5).arg(b"XIDMPRECORD").bytes(key).bytes(&p.pid).bytes(iid).id(*id);
            recorded += 1;
        }
    }
    if (idmp.iids_added, idmp.iids_duplicates) != (recorded, 0) {
        adj.idempotent_counters_reset += 1;
    }
}

/// One RESP command being appended: `*<argc>` then bulk strings.
struct Command<'o> {
    out: &'o mut Vec<u8>,
}

impl<'o> Command<'o> {
    fn new(out: &'o mut Vec<u8>, argc: usize) -> Command<'o> {
        out.push(b'*');
        out.extend_from_slice(itoa::Buffer::new().format(argc).as_bytes());
        out.extend_from_slice(b"\r\n");
        Command { out }
    }

    fn arg(&mut self, a: &[u8]) -> &mut Self {
        self.out.push(b'$');
        self.out.extend_from_slice(itoa::Buffer::new().format(a.len()).as_bytes());
        self.out.extend_from_slice(b"\r\n");
        self.out.extend_from_slice(a);
        self.out.extend_from_slice(b"\r\n");
        self
    }

    fn bytes(&mut self, b: &Bytes<'_>) -> &mut Self {
        b.with_bytes(|b| self.arg(b))
    }

    fn int(&mut self, i: i64) -> &mut Self {
        self.arg(itoa::Buffer::new().format(i).as_bytes())
    }

    fn id(&mut self, id: StreamId) -> &mut Self {
        self.arg(id.to_string().as_bytes())
    }
}
