//! Applying runs of single-key commands on two threads.
//!
//! A command that changes only the key its first argument names
//! ([`first_key_only`](super::apply::first_key_only)) changes nothing in the other hash half of
//! the keyspace ([`half_of`](super::db::half_of)). For a run of such commands the applying
//! thread lends half 1 of the keyspace to a partner thread, and each applies, in log order,
//! the commands on its half. The partner keeps the half from run to run, so the two threads
//! go at their own pace (the partner up to a few runs behind) and meet only when a command
//! needs the whole keyspace, or the input ends: then the half is taken back.

use std::ops::Range;
use std::sync::Arc;
use std::sync::mpsc::{Receiver, SyncSender};

use super::apply::Runner;
use super::load::Batch;
use super::{Applier, Keyspace};
use crate::error::{Error, ErrorKind, Result};

/// What the applying thread tells the partner.
pub(super) enum Message<'a> {
    /// Half 1 of the keyspace, and the runner to apply to it with.
    Lend(Keyspace, Runner),
    /// Apply the half-1 commands of this run of a batch.
    Apply { batch: Arc<Batch<'a>>, range: Range<usize>, source: u32 },
    /// Hand the half back.
    Return,
}

/// The half handed back, with the runner and the first error the partner met.
pub(super) struct Done {
    keyspace: Keyspace,
    runner: Runner,
    result: Result<()>,
}

/// The applying thread's side of the partnership.
pub(super) struct Partner<'a> {
    to_partner: SyncSender<Message<'a>>,
    done: Receiver<Done>,
    /// Whether the partner holds half 1 now.
    lent: bool,
}

impl<'a> Partner<'a> {
    /// Talks to a [`partner`] thread through these channels.
    pub(super) fn new(to_partner: SyncSender<Message<'a>>, done: Receiver<Done>) -> Partner<'a> {
        Partner { to_partner, done, lent: false }
    }

    /// Applies `range` of `batch` (commands outside a transaction on one key each): the
    /// half-1 commands go to the partner (lending it the half first if needed), this thread
    /// applies the half-0 ones.
    pub(super) fn apply_run(
        &mut self,
        applier: &mut Applier<'a>,
        batch: &Arc<Batch<'a>>,
        range: Range<usize>,
    ) -> Result<()> {
        let (keyspace, runners, source) = applier.parts();
        if !self.lent {
            let lend = Message::Lend(keyspace.split(), std::mem::take(&mut runners[1]));
            self.lent = self.to_partner.send(lend).is_ok();
        }
        let sent = self.lent
            && self
                .to_partner
                .send(Message::Apply { batch: Arc::clone(batch), range: range.clone(), source })
                .is_ok();
        if !sent {
            return Err(partner_lost());
        }
        match batch.apply_half(0, range, keyspace, &mut runners[0], source) {
            Ok(()) => Ok(()),
            failed => self.take_back(applier, failed),
        }
    }

    /// Takes half 1 back from the partner if it has it; returns the error of whichever of
    /// `pending` and the partner's first failure comes first in the log.
    pub(super) fn take_back(&mut self, applier: &mut Applier<'a>, pending: Result<()>) -> Result<()> {
        if !self.lent {
            return pending;
        }
        self.lent = false;
        let returned = self.to_partner.send(Message::Return).ok().and_then(|()| self.done.recv().ok());
        let Some(Done { keyspace: upper, runner, result }) = returned else { return Err(partner_lost()) };
        let (keyspace, runners, _) = applier.parts();
        keyspace.join(upper);
        runners[1] = runner;
        match (pending, result) {
            (Err(a), Err(b)) => Err(if a.offset() <= b.offset() { a } else { b }),
            (Err(e), _) | (_, Err(e)) => Err(e),
            (Ok(()), Ok(())) => Ok(()),
        }
    }
}

/// The partner thread: holds the half it is lent and applies its share of each run to it
/// (after a failure, only waits to hand the half back), until the applying thread hangs up.
pub(super) fn partner(messages: &Receiver<Message<'_>>, done: &SyncSender<Done>) {
    let mut held = None;
    let mut result = Ok(());
    for message in messages {
        match message {
            Message::Lend(keyspace, runner) => held = Some((keyspace, runner)),
            Message::Apply { batch, range, source } => {
                if let (Some((keyspace, runner)), Ok(())) = (held.as_mut(), &result) {
                    result = batch.apply_half(1, range, keyspace, runner, source);
                }
            }
            Message::Return => {
                let Some((keyspace, runner)) = held.take() else { continue };
                let result = std::mem::replace(&mut result, Ok(()));
                if done.send(Done { keyspace, runner, result }).is_err() {
                    return;
                }
            }
        }
    }
}

/// The error for a partner thread that stopped answering (it panicked).
fn partner_lost() -> Error {
    Error::new(ErrorKind::Io(std::io::Error::other("the second applying thread stopped")), 0)
}

#[cfg(test)]
mod tests {
    use super::super::db::half_of;
    use super::super::test_log::resp;
    use super::*;
    use crate::aof::reader::CommandReader;
    use crate::aof::resp::Parser;

    /// A small deterministic generator.
    struct Rng(u64);

    impl Rng {
        fn below(&mut self, n: u64) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0 % n
        }
    }

    /// Long runs of single-key commands of every kind on many keys, between commands that
    /// need the whole keyspace (renames, transactions, database switches and swaps).
    fn mixed_log() -> Vec<u8> {
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        let mut aof = Vec::new();
        for block in 0..40 {
            for _ in 0..300 + rng.below(600) {
                let n = rng.below(400).to_string();
                let v = rng.below(1000).to_string();
                let key = |kind: &str| format!("{kind}:{n}").into_bytes();
                let command: Vec<Vec<u8>> = match rng.below(12) {
                    0 => vec!["SET".into(), key("s"), v.into()],
                    1 => vec!["INCRBY".into(), key("n"), v.into()],
                    2 => vec!["APPEND".into(), key("s"), v.into()],
                    3 => vec!["LPUSH".into(), key("l"), v.into()],
                    4 => vec!["RPOP".into(), key("l")],
                    5 => vec!["SADD".into(), key("set"), v.into()],
                    6 => vec!["SREM".into(), key("set"), v.into()],
                    7 => vec!["ZADD".into(), key("z"), v.clone().into(), v.into()],
                    8 => vec!["HSET".into(), key("h"), v.clone().into(), v.into()],
                    9 => vec!["HDEL".into(), key("h"), v.into()],
                    10 => vec!["PEXPIREAT".into(), key("s"), "4102444800000".into()],
                    _ => vec!["DEL".into(), key("s")],
                };
                aof.extend(resp(&command.iter().map(Vec::as_slice).collect::<Vec<_>>()));
            }
            let (a, b) = (format!("s:{}", rng.below(400)), format!("s:{}", rng.below(400)));
            match block % 4 {
                0 => {
                    aof.extend(resp(&[b"SET", a.as_bytes(), b"renamed"]));
                    aof.extend(resp(&[b"RENAME", a.as_bytes(), b.as_bytes()]));
                }
                1 => {
                    aof.extend(resp(&[b"MULTI"]));
                    aof.extend(resp(&[b"SET", a.as_bytes(), b"in a transaction"]));
                    aof.extend(resp(&[b"INCR", b"n:1"]));
                    aof.extend(resp(&[b"EXEC"]));
                }
                2 => aof.extend(resp(&[b"SELECT", if block % 8 == 2 { b"1" } else { b"0" }])),
                _ => aof.extend(resp(&[b"SWAPDB", b"0", b"1"])),
            }
        }
        aof
    }

    #[test]
    fn two_threads_build_what_one_builds() {
        let aof = mixed_log();
        let mut together = Applier::new(Keyspace::new(), 0);
        together.load_file(&aof, 0, &|_| {}).unwrap();
        let mut one_by_one = Applier::new(Keyspace::new(), 0);
        for record in CommandReader::new(Parser::new(&aof, 0), 0) {
            one_by_one.apply(record.unwrap()).unwrap();
        }
        assert_eq!(together.applied(), one_by_one.applied());
        let (together, one_by_one) = (together.finish(), one_by_one.finish());
        assert!(together.len() > 1000, "{} keys", together.len());
        assert!(together.dbs == one_by_one.dbs, "the keyspaces differ");
    }

    /// A key whose hash falls in `half`.
    fn key_in_half(half: usize, n: &mut u32) -> Vec<u8> {
        loop {
            *n += 1;
            let key = format!("k{n}").into_bytes();
            if half_of(&key) == half {
                return key;
            }
        }
    }

    #[test]
    fn the_earliest_failure_is_reported_whichever_thread_met_it() {
        for (early, late) in [(0, 1), (1, 0)] {
            let mut n = 0;
            let (early_key, late_key) = (key_in_half(early, &mut n), key_in_half(late, &mut n));
            let mut aof = Vec::new();
            aof.extend(resp(&[b"SET", &early_key, b"a string"]));
            aof.extend(resp(&[b"SET", &late_key, b"a string"]));
            let mut offsets = Vec::new();
            for i in 0..2000 {
                if i == 100 || i == 1500 {
                    offsets.push(aof.len() as u64);
                    let key = if i == 100 { &early_key } else { &late_key };
                    aof.extend(resp(&[b"LPUSH", key, b"not a list"]));
                } else {
                    aof.extend(resp(&[b"SET", &key_in_half(i % 2, &mut n), b"v"]));
                }
            }
            let mut applier = Applier::new(Keyspace::new(), 0);
            let e = applier.load_file(&aof, 0, &|_| {}).unwrap_err();
            assert_eq!(e.offset(), offsets[0], "{e}");
            assert!(e.to_string().contains("WRONGTYPE"), "{e}");
        }
    }
}
