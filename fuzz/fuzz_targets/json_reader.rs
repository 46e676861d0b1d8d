#![no_main]
//! Arbitrary bytes through the JSON reader: no panic, error offsets inside the input, and for
//! JSON Lines, the sequential reader agrees with parsing each line on its own (what a parallel
//! reader does).

use aoftool::json_reader::{JsonReader, Line, parse_line};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let len = data.len() as u64;
    // The reader's view: the header, then items up to the first error (as Debug text, which
    // compares NaN scores equal).
    let mut read = Vec::new();
    match JsonReader::new(data) {
        Err(e) => {
            assert!(e.offset() <= len, "error offset {} outside {len} bytes: {e}", e.offset());
            read.push(format!("error at {}", e.offset()));
        }
        Ok(reader) => {
            read.extend(reader.header().map(|h| format!("{h:?}")));
            for result in reader {
                match result {
                    Ok(item) => read.push(format!("{item:?}")),
                    Err(e) => {
                        assert!(e.offset() <= len, "error offset {} outside {len} bytes: {e}", e.offset());
                        read.push(format!("error at {}", e.offset()));
                    }
                }
            }
        }
    }
    // Line by line: each error is at its line's start.
    let mut lines = Vec::new();
    let mut offset = 0;
    for line in data.split(|&b| b == b'\n') {
        match parse_line(line, offset) {
            Ok(Line::Blank) => {}
            Ok(Line::Header(h)) if lines.is_empty() => lines.push(format!("{h:?}")),
            Ok(Line::Header(_)) => lines.push(format!("error at {offset}")),
            Ok(Line::Item(item)) => lines.push(format!("{item:?}")),
            Err(e) => {
                assert_eq!(e.offset(), offset, "{e}");
                lines.push(format!("error at {offset}"));
            }
        }
        if lines.last().is_some_and(|l| l.starts_with("error at")) {
            break;
        }
        offset += line.len() as u64 + 1;
    }
    let is_lines = data.iter().find(|b| !b" \t\r\n".contains(b)) != Some(&b'[');
    if is_lines {
        assert_eq!(read, lines);
    }
});
