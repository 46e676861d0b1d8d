//! Commands in order with their context: file, offset, line, database in effect, latest `#TS:`,
//! and the transaction they belong to. This is the sequential view the keyspace consumes; `check`
//! uses the parallel scan instead.

use super::resp::{Command, Item, Parser, parse_digits};
use crate::error::Result;

/// A command with where and in what state it was read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CommandRecord<'a> {
    /// The command (offset, bytes, name, arguments).
    pub command: Command<'a>,
    /// Index of the file it came from (0 for a single file; load order in a multi-part AOF).
    pub file: usize,
    /// 1-based line of the command's first byte, counted from the start of the RESP body.
    pub line: u64,
    /// The database in effect (`SELECT` changes it from the command after the `SELECT` on).
    pub db: u64,
    /// The latest `#TS:` annotation before the command, in Unix seconds.
    pub timestamp: Option<i64>,
    /// For `MULTI`, the commands it queues and its `EXEC`: the offset of that `MULTI`.
    pub transaction: Option<u64>,
}

/// Iterates the commands of one RESP body in order; stops after the first error.
pub struct CommandReader<'a> {
    parser: Parser<'a>,
    file: usize,
    pos: usize,
    line: u64,
    db: u64,
    timestamp: Option<i64>,
    transaction: Option<u64>,
    failed: bool,
}

impl<'a> CommandReader<'a> {
    /// Commands of the RESP body parsed by `parser`, from file number `file`; each file starts in
    /// database 0, as servers load each file with a fresh client.
    pub fn new(parser: Parser<'a>, file: usize) -> CommandReader<'a> {
        CommandReader {
            parser,
            file,
            pos: 0,
            line: 1,
            db: 0,
            timestamp: None,
            transaction: None,
            failed: false,
        }
    }

    fn advance(&mut self, next: usize) {
        let bytes = &self.parser.data()[self.pos..next];
        self.line += memchr::memchr_iter(b'\n', bytes).count() as u64;
        self.pos = next;
    }
}

impl<'a> Iterator for CommandReader<'a> {
    type Item = Result<CommandRecord<'a>>;

    fn next(&mut self) -> Option<Self::Item> {
        while !self.failed && self.pos < self.parser.data().len() {
            let (item, next) = match self.parser.item(self.pos) {
                Ok(found) => found,
                Err(e) => {
                    self.failed = true;
                    return Some(Err(e));
                }
            };
            let line = self.line;
            self.advance(next);
            match item {
                Item::Annotation { text, .. } => {
                    if let Some(ts) = text.strip_prefix(b"TS:") {
                        self.timestamp = std::str::from_utf8(ts).ok().and_then(|t| t.trim().parse().ok());
                    }
                }
                Item::Command(command) => {
                    if command.is("select")
                        && let Some(db) = command.args().nth(1).and_then(parse_digits)
                    {
                        self.db = db as u64;
                    }
                    if command.is("multi") {
                        self.transaction = Some(command.offset);
                    }
                    let record = CommandRecord {
                        command,
                        file: self.file,
                        line,
                        db: self.db,
                        timestamp: self.timestamp,
                        transaction: self.transaction,
                    };
                    if command.is("exec") {
                        self.transaction = None;
                    }
                    return Some(Ok(record));
                }
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_carry_line_db_timestamp_and_transaction() {
        let body = b"#TS:100\r\n*2\r\n$6\r\nSELECT\r\n$1\r\n3\r\n*1\r\n$5\r\nMULTI\r\n\
*2\r\n$4\r\nINCR\r\n$1\r\nk\r\n*1\r\n$4\r\nEXEC\r\n#TS:200\r\n*2\r\n$3\r\nDEL\r\n$1\r\nk\r\n";
        let got: Vec<CommandRecord<'_>> =
            CommandReader::new(Parser::new(body, 50), 2).collect::<Result<_>>().unwrap();
        let names: Vec<&[u8]> = got.iter().map(|r| r.command.name).collect();
        assert_eq!(names, vec![&b"SELECT"[..], b"MULTI", b"INCR", b"EXEC", b"DEL"]);
        assert_eq!(got.iter().map(|r| r.line).collect::<Vec<_>>(), vec![2, 7, 10, 15, 19]);
        assert!(got.iter().all(|r| r.db == 3 && r.file == 2));
        let multi_at = got[1].command.offset;
        let tx: Vec<Option<u64>> = got.iter().map(|r| r.transaction).collect();
        assert_eq!(tx, vec![None, Some(multi_at), Some(multi_at), Some(multi_at), None]);
        assert_eq!(got[0].timestamp, Some(100));
        assert_eq!(got[4].timestamp, Some(200));
        assert_eq!(got[2].command.args().nth(1), Some(&b"k"[..]));
        let mut broken = CommandReader::new(Parser::new(b"*1\r\n$4\r\nPING\r\nxx", 0), 0);
        assert!(broken.next().unwrap().is_ok());
        assert_eq!(broken.next().unwrap().unwrap_err().offset(), 14);
        assert!(broken.next().is_none());
    }
}
