//! Rendering check reports as text and as JSON.

use std::path::Path;

use aoftool::check::{FileKind, FileReport, Problem, RdbReport, RespReport};
use aoftool::convert::ChecksumState;
use serde_json::{Value, json};

/// Prints a file's report as text.
pub fn print_file(path: &Path, report: &FileReport) {
    println!("{}: {}, {} bytes", path.display(), kind_name(report), report.len);
    if let Some(rdb) = &report.rdb {
        print_rdb(rdb);
    }
    if report.trailing_bytes > 0 {
        println!("  note: {} bytes after the RDB trailer (servers ignore them)", report.trailing_bytes);
    }
    if let Some(resp) = &report.resp {
        print_resp(resp);
    }
    if let Some(resp) = report.resp.as_ref().filter(|r| r.strict_count > 0) {
        println!("  STRICT: {} commands the server would reject, first:", resp.strict_count);
        for f in &resp.strict_findings {
            println!("    offset {}: {} ({:?})", f.offset, f.name, f.verdict);
        }
    }
    match &report.problem {
        None if report.is_valid() => println!("  valid"),
        None => {}
        Some(p) => print_problem(p),
    }
}

fn kind_name(report: &FileReport) -> String {
    match (report.kind, &report.rdb) {
        (FileKind::Empty, _) => "empty AOF".into(),
        (FileKind::Resp, _) => "AOF (RESP)".into(),
        (FileKind::Rdb, Some(r)) => format!("RDB {}", r.header.magic_and_version()),
        (FileKind::Preamble, Some(r)) => format!("AOF with RDB preamble {}", r.header.magic_and_version()),
        (FileKind::Rdb | FileKind::Preamble, None) => "RDB".into(),
    }
}

fn print_rdb(rdb: &RdbReport) {
    let aux: Vec<String> = rdb.aux.iter().map(|(k, v)| format!("{k}={v}")).collect();
    if !aux.is_empty() {
        println!("  aux: {}", aux.join(" "));
    }
    let dbs: Vec<String> = rdb
        .keys
        .iter()
        .map(|(db, types)| {
            let t: Vec<String> = types.iter().map(|(k, n)| format!("{k} {n}")).collect();
            format!("db {db}: {}", t.join(", "))
        })
        .collect();
    println!("  keys: {} ({}), {} with expiry", rdb.total_keys(), dbs.join("; "), rdb.expires);
    println!(
        "  functions: {}, module aux: {}, checksum: {}, RDB ends at {}",
        rdb.functions,
        rdb.module_aux,
        checksum_name(rdb.checksum),
        rdb.end
    );
}

fn checksum_name(state: ChecksumState) -> &'static str {
    match state {
        ChecksumState::Valid => "valid",
        ChecksumState::Absent => "absent or disabled",
        ChecksumState::Mismatch { .. } => "MISMATCH",
    }
}

fn print_resp(resp: &RespReport) {
    let top: Vec<String> = resp.names.iter().take(12).map(|(n, c)| format!("{n} {c}")).collect();
    let more = if resp.names.len() > 12 {
        format!(", … {} more names", resp.names.len() - 12)
    } else {
        String::new()
    };
    println!("  commands: {} ({}{more})", resp.commands, top.join(", "));
    let dbs: Vec<String> = resp.dbs.iter().map(u64::to_string).collect();
    let ts = resp.timestamps.map_or("none".to_string(), |(a, b)| format!("{a}..{b}"));
    println!(
        "  annotations: {}, dbs: [{}], MULTI blocks: {}, #TS: {ts}, RESP starts at {}",
        resp.annotations,
        dbs.join(" "),
        resp.multi_blocks,
        resp.start
    );
}

fn print_problem(p: &Problem) {
    let line = p.line.map_or(String::new(), |l| format!(", line {l}"));
    let what = if p.truncated { "TRUNCATED" } else { "INVALID" };
    println!("  {what} at offset {} ({:#x}){line}: {}", p.error.offset(), p.error.offset(), kind_text(p));
    match &p.cut {
        Some(cut) => {
            let ts = cut.timestamps.map_or(String::new(), |(a, b)| format!(", #TS {a}..{b}"));
            println!(
                "  last good offset: {}; a fix would cut {} bytes, {} complete commands{ts}",
                cut.offset, cut.bytes, cut.commands
            );
        }
        None => println!("  truncation cannot repair this"),
    }
}

fn kind_text(p: &Problem) -> String {
    let mut text = p.error.kind().to_string();
    if let Some(key) = p.error.key() {
        text.push_str(&format!(" (while reading key \"{}\")", key.escape_ascii()));
    }
    text
}

/// A file's report as JSON.
pub fn file_json(path: &Path, report: &FileReport) -> Value {
    json!({
        "path": path.display().to_string(),
        "kind": match report.kind {
            FileKind::Empty => "empty",
            FileKind::Rdb => "rdb",
            FileKind::Resp => "aof",
            FileKind::Preamble => "aof-preamble",
        },
        "bytes": report.len,
        "valid": report.is_valid(),
        "rdb": report.rdb.as_ref().map(rdb_json),
        "resp": report.resp.as_ref().map(resp_json),
        "trailing_bytes": report.trailing_bytes,
        "problem": report.problem.as_ref().map(problem_json),
    })
}

fn rdb_json(rdb: &RdbReport) -> Value {
    json!({
        "magic": rdb.header.magic(),
        "version": rdb.header.version,
        "aux": rdb.aux.iter().map(|(k, v)| json!([k, v])).collect::<Vec<_>>(),
        "keys": rdb.keys.iter().map(|(db, t)| (db.to_string(), json!(t))).collect::<serde_json::Map<_, _>>(),
        "total_keys": rdb.total_keys(),
        "expires": rdb.expires,
        "functions": rdb.functions,
        "module_aux": rdb.module_aux,
        "checksum": checksum_name(rdb.checksum),
        "end": rdb.end,
    })
}

fn resp_json(resp: &RespReport) -> Value {
    json!({
        "start": resp.start,
        "commands": resp.commands,
        "annotations": resp.annotations,
        "names": resp.names.iter().map(|(n, c)| json!([n, c])).collect::<Vec<_>>(),
        "dbs": resp.dbs,
        "multi_blocks": resp.multi_blocks,
        "timestamps": resp.timestamps.map(|(a, b)| json!([a, b])),
        "strict_count": resp.strict_count,
        "strict_findings": resp.strict_findings.iter().map(|f| json!({
            "offset": f.offset, "name": f.name, "verdict": format!("{:?}", f.verdict),
        })).collect::<Vec<_>>(),
    })
}

fn problem_json(p: &Problem) -> Value {
    json!({
        "offset": p.error.offset(),
        "line": p.line,
        "truncated": p.truncated,
        "message": kind_text(p),
        "cut": p.cut.as_ref().map(|c| json!({
            "offset": c.offset,
            "bytes": c.bytes,
            "commands": c.commands,
            "timestamps": c.timestamps.map(|(a, b)| json!([a, b])),
        })),
    })
}
