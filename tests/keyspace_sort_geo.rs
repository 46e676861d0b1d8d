//! The keyspace model's `SORT … STORE` and stored geo searches judged by real servers (see
//! `keyspace_oracle`): random commands on a few keys of each type, then each option and edge
//! case on keys of its own (geo edges placed exactly on the servers' own distances); the newer
//! string commands and `RESTORE-ASKING`; and the cases the model refuses.

use aoftool::keyspace::{Applier, Keyspace, Val};

use crate::keyspace_oracle::{Cmd, cmd, differential, far_ms, on_every_server};
use crate::support::XorShift;
use crate::support::server::{self, Kind, Reply, Server};

/// A command from its name and arguments.
fn mk(name: &str, args: Vec<Vec<u8>>) -> Cmd {
    let mut c = vec![name.as_bytes().to_vec()];
    c.extend(args);
    c
}

/// One of `words`.
fn pick(rng: &mut XorShift, words: &[&str]) -> Vec<u8> {
    words[rng.below(words.len() as u64) as usize].as_bytes().to_vec()
}

/// `prefix` and a number below `n`.
fn name(rng: &mut XorShift, prefix: &str, n: u64) -> Vec<u8> {
    format!("{prefix}{}", rng.below(n)).into_bytes()
}

fn concat(prefix: &str, element: &[u8]) -> Vec<u8> {
    [prefix.as_bytes(), element].concat()
}

/// Elements: numbers (some equal as numbers), words of both cases, a signed zero.
const ELEMENTS: [&str; 14] =
    ["1", "1.0", "01", "2", "-3", "10", "2.5", "-0", "0", "1e3", "a", "b", "ab", "B"];

/// Weights: numbers as `strtod` reads them (a leading space, empty, a NUL), infinities, and
/// some no server accepts.
const WEIGHTS: [&str; 12] = ["1", "2", "1.5", "-1", " 3", "", "inf", "-inf", "1e400", "x", "7\0z", "0"];

/// A random `SORT … STORE`. `ALPHA` sorts by a pattern whose weights may tie only sort a whole
/// list (elsewhere the servers' order of ties is not in the log): others use `u_*`, unique.
fn sort_command(rng: &mut XorShift) -> Cmd {
    let source = rng.below(5);
    let mut args = vec![match source {
        0 => name(rng, "l", 3),
        1 => name(rng, "s", 3),
        2 => name(rng, "z", 3),
        3 => name(rng, "d", 3),
        _ => b"u_a".to_vec(),
    }];
    let limited = rng.below(3) == 0;
    let alpha = rng.below(2) == 0;
    match rng.below(4) {
        0 => {}
        1 => args.extend([b"BY".to_vec(), pick(rng, &["nosort", "w_a"])]),
        _ => {
            let whole_list = matches!(source, 0 | 3) && !limited;
            let pattern = if alpha && !whole_list {
                b"u_*".to_vec()
            } else {
                pick(rng, &["w_*", "h_*->f", "nokey_*", "u_*"])
            };
            args.extend([b"BY".to_vec(), pattern]);
        }
    }
    if limited {
        let (offset, count) = (rng.below(8) as i64 - 2, rng.below(8) as i64 - 2);
        args.extend([b"LIMIT".to_vec(), offset.to_string().into_bytes(), count.to_string().into_bytes()]);
    }
    let gets = rng.below(3);
    for _ in 0..gets {
        args.extend([b"GET".to_vec(), pick(rng, &["#", "w_*", "h_*->g", "nokey_*", "h_*->", "plain"])]);
    }
    if rng.below(2) == 0 {
        args.push(pick(rng, &["ASC", "DESC"]));
    }
    if alpha {
        args.push(b"ALPHA".to_vec());
    }
    // Values from GET patterns go where no sort reads them (they have no `u_` weights).
    let dst = if gets > 0 { name(rng, "o", 3) } else { pick(rng, &["d0", "d1", "d2", "l0"]) };
    args.extend([b"STORE".to_vec(), dst]);
    mk("SORT", args)
}

#[test]
fn sorts_match_the_servers() {
    let mut rng = XorShift::new(21);
    let mut commands: Vec<Cmd> =
        ELEMENTS.iter().map(|e| cmd(&["SET", &format!("u_{e}"), &format!("u{e}")])).collect();
    for _ in 0..500 {
        let e = pick(&mut rng, &ELEMENTS);
        let c = match rng.below(14) {
            0 | 1 => mk(
                "RPUSH",
                vec![name(&mut rng, "l", 3), e, pick(&mut rng, &ELEMENTS), pick(&mut rng, &ELEMENTS)],
            ),
            2 => mk("SADD", vec![name(&mut rng, "s", 3), e, pick(&mut rng, &ELEMENTS)]),
            3 => mk("ZADD", vec![name(&mut rng, "z", 3), pick(&mut rng, &["1", "2", "-1", "0.5"]), e]),
            4 | 5 => mk("SET", vec![concat("w_", &e), pick(&mut rng, &WEIGHTS)]),
            6 => mk("HSET", vec![concat("h_", &e), pick(&mut rng, &["f", "g"]), pick(&mut rng, &WEIGHTS)]),
            7 => mk("DEL", vec![pick(&mut rng, &["l0", "l1", "s0", "z0", "d0", "d1"])]),
            _ => sort_command(&mut rng),
        };
        commands.push(c);
    }
    on_every_server(&commands);
}

#[test]
fn sort_options_match_the_servers() {
    let far = far_ms(&mut XorShift::new(1));
    let mut commands = Vec::new();
    for fixed in [
        &["RPUSH", "f:l", "3", "1", "2", "10", "1.0", "01", "-0", "0"][..],
        // Numbers equal as numbers are ordered by their bytes, reversed too by DESC.
        &["SORT", "f:l", "STORE", "f:num"],
        &["SORT", "f:l", "DESC", "STORE", "f:numdesc"],
        &["SORT", "f:l", "ALPHA", "STORE", "f:alpha"],
        &["SORT", "f:l", "ALPHA", "DESC", "LIMIT", "1", "3", "STORE", "f:alphadesc"],
        // LIMIT beyond the length, before it, negative, empty, and a negative count.
        &["SORT", "f:l", "LIMIT", "2", "100", "STORE", "f:beyond"],
        &["SET", "f:past", "x", "PXAT", &far],
        &["SORT", "f:l", "LIMIT", "100", "2", "STORE", "f:past"],
        &["SORT", "f:l", "LIMIT", "-5", "2", "STORE", "f:negoffset"],
        &["SET", "f:zero", "x"],
        &["SORT", "f:l", "LIMIT", "1", "0", "STORE", "f:zero"],
        &["SORT", "f:l", "LIMIT", "3", "-3", "STORE", "f:rest"],
        // BY without `*`: a list keeps its order; once given, it sticks.
        &["SORT", "f:l", "BY", "nosort", "STORE", "f:kept"],
        &["SORT", "f:l", "BY", "nosort", "DESC", "LIMIT", "1", "2", "STORE", "f:keptdesc"],
        &["SORT", "f:l", "BY", "nosort", "BY", "fn_*", "STORE", "f:sticky"],
        // Numeric weights: spaces, empty, a NUL, infinities; missing ones are 0.
        &["MSET", "fn_3", "5", "fn_1", "5", "fn_2", " 4", "fn_10", "", "fn_1.0", "7\0x", "fn_-0", "-inf"],
        &["MSET", "fn_0", "inf", "fn_01", "1e-310"],
        &["SORT", "f:l", "BY", "fn_*", "STORE", "f:byweight"],
        &["SORT", "f:l", "BY", "fn_*", "DESC", "LIMIT", "2", "3", "STORE", "f:byweightpart"],
        &["SORT", "f:l", "BY", "nokey_*", "STORE", "f:byzero"],
        // A weight no server reads: an error, nothing stored.
        &["SET", "fn_bad", "1x"],
        &["RPUSH", "f:bad", "1", "bad"],
        &["SORT", "f:bad", "BY", "fn_*", "STORE", "f:never"],
        // ALPHA by weights: ties (and missing weights, first) keep the list's order.
        &["MSET", "fa_3", "c", "fa_1", "a", "fa_2", "a", "fa_10", "b", "fa_0", "a"],
        &["SORT", "f:l", "BY", "fa_*", "ALPHA", "STORE", "f:ties"],
        &["SORT", "f:l", "BY", "fa_*", "ALPHA", "DESC", "STORE", "f:tiesdesc"],
        &["SORT", "f:l", "BY", "nokey_*", "ALPHA", "STORE", "f:allmissing"],
        // Hash fields, GET patterns, missing values stored empty; a trailing `->` is no field.
        &["HSET", "fh_3", "w", "2", "v", "three"],
        &["HSET", "fh_1", "w", "1", "v", "one"],
        &["HSET", "fh_10", "w", "1.5"],
        &["SET", "fh_2->", "arrow"],
        &[
            "SORT", "f:l", "BY", "fh_*->w", "GET", "#", "GET", "fh_*->v", "GET", "nokey_*", "GET", "fh_*->",
            "STORE", "f:gets",
        ],
        &["SORT", "f:l", "BY", "nosort", "GET", "fa_*", "GET", "plain", "STORE", "f:l"],
        // Sets: sorted ALPHA when told not to sort.
        &["SADD", "f:nums", "3", "1", "2", "10", "-1", "1.5"],
        &["SORT", "f:nums", "STORE", "f:setnum"],
        &["SORT", "f:nums", "BY", "nosort", "STORE", "f:setalpha"],
        &["SADD", "f:s", "c", "a", "b", "B", "ab"],
        &["SORT", "f:s", "BY", "nosort", "DESC", "LIMIT", "1", "2", "GET", "#", "STORE", "f:setalpha2"],
        &["SORT", "f:s", "ALPHA", "STORE", "f:setalpha3"],
        &["SORT", "f:nums", "BY", "fn_*", "LIMIT", "1", "3", "STORE", "f:setpart"],
        // Sorted sets: rank order when not sorted.
        &["ZADD", "f:z", "3", "c", "1", "a", "2", "b", "2", "bb", "-1", "10"],
        &["SORT", "f:z", "BY", "nosort", "STORE", "f:zrank"],
        &["SORT", "f:z", "BY", "nosort", "DESC", "LIMIT", "1", "2", "STORE", "f:zrankdesc"],
        &["SORT", "f:z", "ALPHA", "DESC", "STORE", "f:zalpha"],
        // A missing source deletes the destination; a wrong type is an error.
        &["SET", "f:nothing", "x"],
        &["SORT", "f:none", "STORE", "f:nothing"],
        &["SORT", "fn_3", "STORE", "f:wrongtype"],
        &["SORT", "f:l", "BY", "fn_*"],
    ] {
        commands.push(cmd(fixed));
    }
    on_every_server(&commands);
}

/// A random position: anywhere, or in one of a few clusters (Sicily, across the antimeridian,
/// near the pole), with six decimals.
fn position(rng: &mut XorShift) -> [Vec<u8>; 2] {
    let cluster = rng.below(4);
    let mut unit = |n: u64| rng.below(n * 1_000_000) as f64 / 1e6;
    let (lon, lat) = match cluster {
        0 => (unit(360) - 180.0, unit(170) - 85.0),
        1 => (12.0 + unit(4), 36.0 + unit(3)),
        2 => ((179.0 + unit(1)) * if unit(2) < 1.0 { 1.0 } else { -1.0 }, unit(20) - 10.0),
        _ => (unit(360) - 180.0, 83.0 + unit(2)),
    };
    [format!("{lon:.6}").into_bytes(), format!("{lat:.6}").into_bytes()]
}

/// A random stored search: `GEOSEARCHSTORE`, `GEORADIUS` or `GEORADIUSBYMEMBER`, with every
/// option.
fn geo_search(rng: &mut XorShift) -> Cmd {
    let storedist = rng.below(2) == 0;
    // Distances stored back into a searched set would put its members on a few positions.
    let (src, dst) = (name(rng, "g", 3), pick(rng, if storedist { &["gd0", "gd1"] } else { &["gd0", "g0"] }));
    let member = name(rng, "m", 40);
    let reach =
        |rng: &mut XorShift| pick(rng, &["0", "0.5", "10", "150", "800", "3000", "12000", "40000", "1e7"]);
    let unit = |rng: &mut XorShift| pick(rng, &["m", "km", "KM", "ft", "mi"]);
    let mut options = Vec::new();
    if rng.below(3) != 0 {
        options.push(pick(rng, &["ASC", "DESC"]));
    }
    if rng.below(2) == 0 {
        options.extend([b"COUNT".to_vec(), (1 + rng.below(8)).to_string().into_bytes()]);
        if rng.below(3) == 0 {
            options.push(b"ANY".to_vec());
        }
    }
    match rng.below(3) {
        0 => {
            let mut args = vec![dst, src];
            if rng.below(2) == 0 {
                args.extend([b"FROMMEMBER".to_vec(), member]);
            } else {
                args.push(b"FROMLONLAT".to_vec());
                args.extend(position(rng));
            }
            if rng.below(2) == 0 {
                args.extend([b"BYRADIUS".to_vec(), reach(rng), unit(rng)]);
            } else {
                args.extend([b"BYBOX".to_vec(), reach(rng), reach(rng), unit(rng)]);
            }
            args.extend(options);
            if storedist {
                args.push(b"STOREDIST".to_vec());
            }
            mk("GEOSEARCHSTORE", args)
        }
        form => {
            let mut args = vec![src];
            if form == 1 {
                args.extend(position(rng));
            } else {
                args.push(member);
            }
            args.extend([reach(rng), unit(rng)]);
            args.extend(options);
            args.extend([if storedist { b"STOREDIST".to_vec() } else { b"STORE".to_vec() }, dst]);
            mk(if form == 1 { "GEORADIUS" } else { "GEORADIUSBYMEMBER" }, args)
        }
    }
}

#[test]
fn geo_searches_match_the_servers() {
    let mut rng = XorShift::new(31);
    let mut commands = Vec::new();
    for _ in 0..250 {
        let mut args = vec![name(&mut rng, "g", 3)];
        args.extend(position(&mut rng));
        args.push(name(&mut rng, "m", 40));
        commands.push(mk("GEOADD", args));
    }
    for _ in 0..400 {
        let c = match rng.below(8) {
            0 => {
                let mut args = vec![name(&mut rng, "g", 3)];
                args.extend(position(&mut rng));
                args.push(name(&mut rng, "m", 40));
                mk("GEOADD", args)
            }
            1 => mk("ZREM", vec![name(&mut rng, "g", 3), name(&mut rng, "m", 40)]),
            _ => geo_search(&mut rng),
        };
        commands.push(c);
    }
    on_every_server(&commands);
}

/// A random position for polygon searches: mostly in Sicily, else across the antimeridian or
/// near the pole (so that polygons there hold members).
fn dense_position(rng: &mut XorShift) -> (f64, f64) {
    let mut unit = |n: u64| rng.below(n * 1_000_000) as f64 / 1e6;
    match unit(10) as u64 {
        0 => ((179.0 + unit(1)) * if unit(2) < 1.0 { 1.0 } else { -1.0 }, unit(4) - 2.0),
        1 => (unit(40) - 20.0, 83.0 + unit(2)),
        _ => (12.0 + unit(4), 36.0 + unit(3)),
    }
}

/// A random polygon: 3 to 7 vertices around a random dense position, convex or not (vertices
/// at random angles and distances), sometimes crossing itself.
fn polygon(rng: &mut XorShift) -> Vec<Vec<u8>> {
    let (lon, lat) = dense_position(rng);
    let n = 3 + rng.below(5) as usize;
    let size = [0.3, 1.0, 2.0, 4.0][rng.below(4) as usize];
    let mut angles: Vec<f64> = (0..n).map(|_| rng.below(3600) as f64 / 10.0).collect();
    if rng.below(4) != 0 {
        angles.sort_by(f64::total_cmp);
    }
    let mut args = vec![b"BYPOLYGON".to_vec(), n.to_string().into_bytes()];
    for a in angles {
        let r = size * (0.2 + rng.below(1000) as f64 / 1000.0);
        let x = (lon + r * a.to_radians().cos()).clamp(-180.0, 180.0);
        let y = (lat + r * a.to_radians().sin()).clamp(-85.05, 85.05);
        args.extend([format!("{x:.6}").into_bytes(), format!("{y:.6}").into_bytes()]);
    }
    args
}

#[test]
fn polygon_searches_match_valkey() {
    if !server::available(Kind::Valkey9, false) {
        eprintln!("skipping: Valkey 9 not installed");
        return;
    }
    let mut rng = XorShift::new(47);
    let mut commands = Vec::new();
    for _ in 0..300 {
        let (lon, lat) = dense_position(&mut rng);
        let mut args =
            vec![name(&mut rng, "g", 2), format!("{lon:.6}").into_bytes(), format!("{lat:.6}").into_bytes()];
        args.push(name(&mut rng, "m", 200));
        commands.push(mk("GEOADD", args));
    }
    for _ in 0..300 {
        let storedist = rng.below(2) == 0;
        let mut args = vec![
            pick(&mut rng, if storedist { &["pd0", "pd1"] } else { &["p0", "g1"] }),
            name(&mut rng, "g", 2),
        ];
        if rng.below(5) == 0 {
            // Accepted before BYPOLYGON, and then not used.
            args.push(b"FROMLONLAT".to_vec());
            args.extend(position(&mut rng));
        }
        args.extend(polygon(&mut rng));
        if rng.below(3) != 0 {
            args.push(pick(&mut rng, &["ASC", "DESC"]));
        }
        if rng.below(2) == 0 {
            args.extend([b"COUNT".to_vec(), (1 + rng.below(6)).to_string().into_bytes()]);
            if rng.below(3) == 0 {
                args.push(b"ANY".to_vec());
            }
        }
        if storedist {
            args.push(b"STOREDIST".to_vec());
        }
        commands.push(mk("GEOSEARCHSTORE", args));
        if rng.below(6) == 0 {
            commands.push(mk("ZREM", vec![name(&mut rng, "g", 2), name(&mut rng, "m", 200)]));
        }
    }
    // Refused by the server, so never logged: too few vertices, too few arguments, a center
    // member with a polygon.
    commands.push(cmd(&["GEOSEARCHSTORE", "p0", "g0", "BYPOLYGON", "2", "1", "1", "2", "2"]));
    commands.push(cmd(&["GEOSEARCHSTORE", "p0", "g0", "BYPOLYGON", "4", "1", "1", "2", "2", "3", "1"]));
    commands.push(cmd(&[
        "GEOSEARCHSTORE",
        "p0",
        "g0",
        "FROMMEMBER",
        "m1",
        "BYPOLYGON",
        "3",
        "1",
        "1",
        "2",
        "2",
        "3",
        "1",
    ]));
    if let Err(e) = differential(Kind::Valkey9, &commands) {
        panic!("valkey9: {e}");
    }
}

/// The distances (meters) from member `center` of the geo set `key` to `members`, as `kind`
/// computes them (read back exactly from a `STOREDIST` on a scratch server).
fn server_distances(kind: Kind, setup: &[Cmd], key: &str, center: &str, members: &[&str]) -> Vec<f64> {
    let dir = tempfile::tempdir().unwrap();
    let mut scratch = Server::start(kind, dir.path(), &[]).unwrap_or_else(|f| panic!("{f}"));
    for c in setup {
        scratch.command(c);
    }
    scratch.command(&cmd(&[
        "GEOSEARCHSTORE",
        "tmp",
        key,
        "FROMMEMBER",
        center,
        "BYRADIUS",
        "5000",
        "km",
        "STOREDIST",
    ]));
    let mut score = |m: &str| match scratch.command(&cmd(&["ZSCORE", "tmp", m])) {
        Reply::Bulk(Some(b)) => String::from_utf8(b).unwrap().parse().unwrap(),
        other => panic!("ZSCORE tmp {m}: {other:?}"),
    };
    members.iter().map(|m| score(m)).collect()
}

/// The next double below a positive `d`, as text a server reads back exactly.
fn below(d: f64) -> String {
    format!("{:?}", f64::from_bits(d.to_bits() - 1))
}

/// Searches whose edge passes exactly through a member (the servers' own distance), poles,
/// the antimeridian, equal distances, odd radii and scores that are no geohash.
fn geo_edge_commands(kind: Kind) -> Vec<Cmd> {
    let setup = [cmd(&[
        "GEOADD",
        "e:pts",
        "13.361389",
        "38.115556",
        "c",
        "13.361389",
        "38.415556",
        "n",
        "13.761389",
        "38.115556",
        "e",
        "13.561389",
        "38.315556",
        "ne",
    ])];
    let [n, e, ne] = server_distances(kind, &setup, "e:pts", "c", &["n", "e", "ne"])[..] else {
        panic!("three distances")
    };
    let mut commands = setup.to_vec();
    let search = |dst: &str, by: &[&str]| {
        let mut c = cmd(&["GEOSEARCHSTORE", dst, "e:pts", "FROMMEMBER", "c"]);
        c.extend(cmd(by));
        c
    };
    let (ne_at, ne_below) = (format!("{ne:?}"), below(ne));
    let (n_at, n_below) = (format!("{:?}", 2.0 * n), below(2.0 * n));
    let (e_at, e_below) = (format!("{:?}", 2.0 * e), below(2.0 * e));
    commands.extend([
        search("e:r_at", &["BYRADIUS", &ne_at, "M", "STOREDIST"]),
        search("e:r_below", &["BYRADIUS", &ne_below, "m"]),
        search("e:h_at", &["BYBOX", "1000000", &n_at, "m"]),
        search("e:h_below", &["BYBOX", "1000000", &n_below, "m"]),
        search("e:w_at", &["BYBOX", &e_at, "1000000", "m"]),
        search("e:w_below", &["BYBOX", &e_below, "1000000", "m"]),
        cmd(&["GEORADIUSBYMEMBER", "e:pts", "c", &ne_at, "m", "STOREDIST", "e:r_dist"]),
    ]);
    for fixed in [
        // Poles: cells wrap north to south; the box is widest at the edge nearer the equator.
        &["GEOADD", "e:pole", "0", "85.05112878", "top", "90", "85", "a", "180", "85.05112878", "b"][..],
        &["GEOADD", "e:pole", "-179.5", "84.9", "c", "0", "-85.05112878", "bottom", "45", "-85", "d"],
        &["GEOSEARCHSTORE", "e:p1", "e:pole", "FROMLONLAT", "0", "85", "BYRADIUS", "300", "km", "STOREDIST"],
        &[
            "GEOSEARCHSTORE",
            "e:p2",
            "e:pole",
            "FROMLONLAT",
            "120",
            "85.05112878",
            "BYBOX",
            "2000",
            "500",
            "km",
        ],
        &["GEORADIUS", "e:pole", "0", "-85", "200", "km", "STORE", "e:p3"],
        &[
            "GEOSEARCHSTORE",
            "e:p4",
            "e:pole",
            "FROMMEMBER",
            "top",
            "BYRADIUS",
            "5000",
            "km",
            "DESC",
            "COUNT",
            "3",
            "STOREDIST",
        ],
        // The antimeridian: -180 and 180 are both accepted.
        &[
            "GEOADD", "e:am", "179.999", "0", "w1", "-179.999", "0", "w2", "180", "0.5", "w3", "-180",
            "-0.5", "w4",
        ],
        &["GEOADD", "e:am", "179.5", "1", "w5"],
        &["GEOSEARCHSTORE", "e:a1", "e:am", "FROMLONLAT", "180", "0", "BYRADIUS", "100", "km", "STOREDIST"],
        &["GEOSEARCHSTORE", "e:a2", "e:am", "FROMLONLAT", "-179.9999", "0", "BYBOX", "200", "200", "km"],
        &["GEORADIUSBYMEMBER", "e:am", "w1", "60", "km", "STORE", "e:a3"],
        &[
            "GEOSEARCHSTORE",
            "e:a4",
            "e:am",
            "FROMMEMBER",
            "w3",
            "BYRADIUS",
            "80",
            "mi",
            "ASC",
            "COUNT",
            "2",
            "STOREDIST",
        ],
        // Equal distances: COUNT cuts elsewhere, ANY takes the first found, a zero radius
        // keeps the members at the center.
        &["GEOADD", "e:eq", "10", "10", "p1", "10", "10", "p2", "10", "10", "p3", "11", "11", "q"],
        &[
            "GEOSEARCHSTORE",
            "e:eq1",
            "e:eq",
            "FROMLONLAT",
            "10.2",
            "10.2",
            "BYRADIUS",
            "500",
            "km",
            "COUNT",
            "3",
            "STOREDIST",
        ],
        &[
            "GEOSEARCHSTORE",
            "e:eq2",
            "e:eq",
            "FROMLONLAT",
            "10.2",
            "10.2",
            "BYRADIUS",
            "500",
            "km",
            "COUNT",
            "2",
            "ANY",
        ],
        &[
            "GEOSEARCHSTORE",
            "e:eq3",
            "e:eq",
            "FROMLONLAT",
            "10.2",
            "10.2",
            "BYRADIUS",
            "500",
            "km",
            "DESC",
            "COUNT",
            "1",
        ],
        &["GEOSEARCHSTORE", "e:eq4", "e:eq", "FROMMEMBER", "p1", "BYRADIUS", "0", "m"],
        &["GEORADIUS", "e:eq", "10", "10", "1", "ft", "STOREDIST", "e:eq5"],
        // An infinite radius reaches everything; a sorted set of scores that are no geohash.
        &["GEOSEARCHSTORE", "e:inf", "e:pole", "FROMLONLAT", "0", "0", "BYRADIUS", "inf", "km"],
        &["ZADD", "e:raw", "0", "a", "1.5", "b", "4503599627370495", "c", "100000000000000", "d"],
        &[
            "GEOSEARCHSTORE",
            "e:raw1",
            "e:raw",
            "FROMLONLAT",
            "0",
            "0",
            "BYRADIUS",
            "25000",
            "km",
            "STOREDIST",
        ],
        // The source as destination; a missing source deletes the destination.
        &["GEOSEARCHSTORE", "e:eq", "e:eq", "FROMMEMBER", "q", "BYRADIUS", "200", "km"],
        &["SET", "e:gone", "x"],
        &["GEOSEARCHSTORE", "e:gone", "e:nokey", "FROMLONLAT", "0", "0", "BYRADIUS", "1", "km"],
        &["SET", "e:gone2", "x"],
        &["GEORADIUSBYMEMBER", "e:nokey", "x", "1", "km", "STORE", "e:gone2"],
        // Errors: nothing is logged.
        &["GEOSEARCHSTORE", "e:x", "e:pts", "FROMMEMBER", "nobody", "BYRADIUS", "1", "km"],
        &["GEORADIUS", "e:pts", "13", "38", "100", "km", "WITHDIST", "STORE", "e:x"],
        &["GEORADIUS", "e:pts", "13", "38", "100", "km"],
    ] {
        commands.push(cmd(fixed));
    }
    commands
}

#[test]
fn geo_search_edges_match_the_servers() {
    for kind in Kind::ALL {
        if !server::available(kind, false) {
            eprintln!("skipping {}: not installed", kind.name());
            continue;
        }
        if let Err(e) = differential(kind, &geo_edge_commands(kind)) {
            panic!("{}: {e}", kind.name());
        }
    }
}

/// A DUMP payload of the string `hello` (RDB version 9, which both servers restore).
fn dump_of_hello() -> Vec<u8> {
    let mut payload = vec![0, 5];
    payload.extend_from_slice(b"hello");
    payload.extend_from_slice(&9u16.to_le_bytes());
    let crc = aoftool::rdb::crc::crc64(&payload);
    payload.extend_from_slice(&crc.to_le_bytes());
    payload
}

#[test]
fn newer_string_commands_match_the_servers() {
    // Valkey 9.1 has MSETEX and SET IFEQ; Redis 7.0 refuses them, so logs nothing.
    let (far, far_s) = (far_ms(&mut XorShift::new(2)), "4102444800");
    let mut commands = Vec::new();
    for fixed in [
        &["SET", "c:a", "1"][..],
        &["SET", "c:a", "2", "IFEQ", "1"],
        &["SET", "c:a", "3", "IFEQ", "nope"],
        &["SET", "c:b", "x", "IFEQ", "y"],
        &["RPUSH", "c:l", "a"],
        &["SET", "c:l", "x", "IFEQ", "a"],
        &["SET", "c:a", "4", "IFEQ", "2", "GET"],
        &["SET", "c:t", "1", "EX", "1000"],
        &["SET", "c:t", "2", "IFEQ", "1", "KEEPTTL"],
        &["SET", "c:t2", "1"],
        &["SET", "c:t2", "2", "IFEQ", "1", "PXAT", &far],
        &["MSETEX", "2", "c:m1", "v1", "c:m2", "v2"],
        &["MSETEX", "2", "c:m1", "x", "c:m3", "y", "NX"],
        &["MSETEX", "2", "c:m3", "x", "c:m4", "y", "NX", "EXAT", far_s],
        &["MSETEX", "1", "c:m1", "z", "XX", "KEEPTTL"],
        &["MSETEX", "2", "c:m1", "a", "c:m2", "b", "PX", "100000"],
        &["MSETEX", "1", "c:m2", "c", "KEEPTTL"],
        &["MSETEX", "2", "c:m1", "a", "c:none", "b", "XX"],
        &["MSETEX", "1", "c:l", "v", "XX"],
        &["SET", "c:d", "v"],
        &["DELIFEQ", "c:d", "v"],
    ] {
        commands.push(cmd(fixed));
    }
    let payload = dump_of_hello();
    commands.push(vec![b"RESTORE-ASKING".to_vec(), b"c:r".to_vec(), b"0".to_vec(), payload.clone()]);
    commands.push(vec![
        b"RESTORE-ASKING".to_vec(),
        b"c:a".to_vec(),
        far.into_bytes(),
        payload,
        b"REPLACE".to_vec(),
        b"ABSTTL".to_vec(),
    ]);
    on_every_server(&commands);
}

/// `commands` as a log holds them (RESP).
fn log(commands: &[&[&str]]) -> Vec<u8> {
    let mut aof = Vec::new();
    for c in commands {
        aof.extend(format!("*{}\r\n", c.len()).into_bytes());
        for arg in *c {
            aof.extend(format!("${}\r\n{arg}\r\n", arg.len()).into_bytes());
        }
    }
    aof
}

/// The reason the model gives for refusing the last of `commands`, which it must refuse.
fn refusal(commands: &[&[&str]]) -> String {
    let mut applier = Applier::new(Keyspace::new(), 0);
    applier.load_file(&log(commands), 0, &|_| {}).expect_err("the model must refuse this").to_string()
}

#[test]
fn orders_the_log_does_not_show_are_refused() {
    // A set loads in hash order: elements with equal ALPHA weights would come out in it.
    let e = refusal(&[&["SADD", "s", "a", "b", "c"], &["SORT", "s", "BY", "w_*", "ALPHA", "STORE", "d"]]);
    assert!(e.contains("equal sort weights"), "{e}");
    // A list under LIMIT is sorted by a partial quicksort, which is not stable.
    let e = refusal(&[
        &["RPUSH", "l", "a", "b", "c"],
        &["SORT", "l", "BY", "w_*", "ALPHA", "LIMIT", "0", "2", "STORE", "d"],
    ]);
    assert!(e.contains("equal sort weights"), "{e}");
    // COUNT cutting between members at the same distance.
    let e = refusal(&[
        &["GEOADD", "g", "10", "10", "a", "10", "10", "b"],
        &["GEOSEARCHSTORE", "d", "g", "FROMLONLAT", "10", "10.5", "BYRADIUS", "100", "km", "COUNT", "1"],
    ]);
    assert!(e.contains("same distance"), "{e}");
    // The same in a polygon (Valkey 9), whose distances are from its centroid.
    let e = refusal(&[
        &["GEOADD", "g", "10", "10", "a", "10", "10", "b"],
        &["GEOSEARCHSTORE", "d", "g", "BYPOLYGON", "3", "9", "9", "11", "9", "10", "11", "COUNT", "1"],
    ]);
    assert!(e.contains("same distance"), "{e}");
    // A digest the server checks only when there is a value to compare.
    let e = refusal(&[&["SET", "k", "v"], &["SET", "k", "w", "IFDEQ", "1234"]]);
    assert!(e.contains("exactly 16 hexadecimal characters"), "{e}");
    let e = refusal(&[&["DELEX", "k"]]);
    assert!(e.contains("DEL"), "{e}");
}

#[test]
fn ties_that_do_not_show_are_applied() {
    // Equal weights, but equal GET values too: any order stores the same list.
    let commands: [&[&str]; 2] =
        [&["SADD", "s", "a", "b", "c"], &["SORT", "s", "BY", "w_*", "ALPHA", "GET", "x_*", "STORE", "d"]];
    let aof = log(&commands);
    let mut applier = Applier::new(Keyspace::new(), 0);
    applier.load_file(&aof, 0, &|_| {}).unwrap();
    let stored = applier.finish().get(0, b"d").map(|s| s.val.clone());
    let empty: &[u8] = b"";
    assert_eq!(stored, Some(Val::List(Box::new([empty; 3].into_iter().collect()))));
}
