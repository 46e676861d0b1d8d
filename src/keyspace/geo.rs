//! Geo commands: `GEOADD` (which servers log as the `ZADD` it becomes) and the searches that
//! store their result, `GEOSEARCHSTORE` and `GEORADIUS`/`GEORADIUSBYMEMBER … STORE|STOREDIST`,
//! which servers log as given.
//!
//! A logged search is replayed bit for bit as the servers run it: the center and radius (or box)
//! give a bounding box and a geohash precision (a Valkey 9 `BYPOLYGON` gives the box of its
//! vertices, and its centroid is the center); the cell holding the center and its eight
//! neighbours (some dropped when the bounding box does not reach them) are scanned as score
//! ranges of the sorted set; each member found is decoded from its 52-bit score and kept when
//! its haversine distance (the servers' constants and order of operations) is within the
//! shape (inside a polygon: Valkey's even-odd ray test in the plane of longitude and latitude). So a member the servers' cells miss is missed here too, and one exactly on the edge is
//! kept as they keep it. `COUNT n` keeps the nearest (`DESC`: farthest) `n`; with `ANY`, the
//! first `n` found in scan order, which the model follows. The result is stored as a sorted
//! set of geohash scores, or of distances in the unit asked for with `STOREDIST`; an empty one
//! deletes the destination.

use std::cmp::Ordering;

use super::apply::{Call, Handler, wrong_type};
use super::args::{Reject, double, int, is};
use super::{Keyspace, Val, ZSet, zset};

/// The handler for `name`, when this module has it.
pub(super) fn lookup(name: &str) -> Option<Handler> {
    Some(match name {
        "GEOADD" => geoadd,
        "GEORADIUS" => |ks, c| search(ks, c, Form::Radius),
        "GEORADIUSBYMEMBER" => |ks, c| search(ks, c, Form::RadiusByMember),
        "GEOSEARCHSTORE" => |ks, c| search(ks, c, Form::SearchStore),
        "GEORADIUS_RO" | "GEORADIUSBYMEMBER_RO" => {
            |_, _| Err("this search only reads: servers never log it".into())
        }
        _ => return None,
    })
}

/// Longitudes servers accept.
const LONGITUDE: (f64, f64) = (-180.0, 180.0);
/// Latitudes servers accept (the Web Mercator limits).
const LATITUDE: (f64, f64) = (-85.05112878, 85.05112878);
/// Bits of each coordinate in a geohash score.
const SCORE_STEP: u32 = 26;
/// The servers' Earth radius (quadratic mean, WGS-84), meters.
const EARTH_RADIUS: f64 = 6372797.560856;
/// Half the Web Mercator world width, meters: the servers' limit for their precision estimate.
const MERCATOR_MAX: f64 = 20037726.37;
/// Degrees to radians, as the servers compute it.
const DEG_TO_RAD: f64 = std::f64::consts::PI / 180.0;
/// Up to this, Valkey 9.x takes a longitude difference's half-angle sine as 0.
const VALKEY_SINE_EPSILON: f64 = 1e-15;
/// Longitude bits of a geohash (odd positions); latitude bits are the even ones.
const LONGITUDE_BITS: u64 = 0xaaaa_aaaa_aaaa_aaaa;

/// A geohash cell: `step` bits of each coordinate, interleaved.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Cell {
    bits: u64,
    step: u32,
}

/// The bits of `x` spread to the even positions.
fn spread(x: u32) -> u64 {
    (0..32).fold(0, |acc, bit| acc | (u64::from(x >> bit & 1) << (2 * bit)))
}

/// The even-position bits of `x`, gathered.
fn squash(x: u64) -> u32 {
    (0..32).fold(0, |acc, bit| acc | (((x >> (2 * bit)) & 1) as u32) << bit)
}

/// The cell of `step` bits holding a position: each coordinate as a fraction of its range,
/// scaled to `2^step` and truncated (a coordinate at the top of its range sets the bit above the
/// cell's, as in the servers).
fn encode(longitude: f64, latitude: f64, step: u32) -> Cell {
    let cells = (1u64 << step) as f64;
    let fixed = |v: f64, (lo, hi): (f64, f64)| ((v - lo) / (hi - lo) * cells) as u32;
    Cell { bits: spread(fixed(latitude, LATITUDE)) | spread(fixed(longitude, LONGITUDE)) << 1, step }
}

/// The 52-bit geohash score of a position.
fn score_of(longitude: f64, latitude: f64) -> u64 {
    encode(longitude, latitude, SCORE_STEP).bits
}

/// A cell's extent: (min, max) longitude and latitude.
struct Area {
    longitude: (f64, f64),
    latitude: (f64, f64),
}

/// The extent of a cell, computed as the servers compute it.
fn area(cell: Cell) -> Area {
    let cells = (1u64 << cell.step) as f64;
    let span = |i: u32, (lo, hi): (f64, f64)| {
        let scale = hi - lo;
        (lo + (f64::from(i) / cells) * scale, lo + (f64::from(i.wrapping_add(1)) / cells) * scale)
    };
    Area { longitude: span(squash(cell.bits >> 1), LONGITUDE), latitude: span(squash(cell.bits), LATITUDE) }
}

/// The position (longitude, latitude) a score stands for: the center of its cell, clamped to
/// the ranges. The score is converted to an integer by truncation.
fn position(score: f64) -> (f64, f64) {
    let a = area(Cell { bits: score as u64, step: SCORE_STEP });
    let mid = |(lo, hi): (f64, f64), (min, max): (f64, f64)| ((lo + hi) / 2.0).clamp(min, max);
    (mid(a.longitude, LONGITUDE), mid(a.latitude, LATITUDE))
}

/// The cell `d` (-1, 0 or 1) steps away along the coordinate whose bits are `mask`, wrapping
/// around the world as the servers' bit arithmetic does.
fn shift(cell: Cell, mask: u64, d: i8) -> Cell {
    if d == 0 {
        return cell;
    }
    let width = 64 - 2 * cell.step;
    let (coordinate, other) = (cell.bits & mask, cell.bits & !mask);
    let gaps = !mask >> width;
    let moved =
        if d > 0 { coordinate.wrapping_add(gaps + 1) } else { (coordinate | gaps).wrapping_sub(gaps + 1) };
    Cell { bits: (moved & (mask >> width)) | other, step: cell.step }
}

/// The cell `dx` cells east and `dy` cells north.
fn neighbour(cell: Cell, dx: i8, dy: i8) -> Cell {
    shift(shift(cell, LONGITUDE_BITS, dx), !LONGITUDE_BITS, dy)
}

/// The cells a search scans, in the servers' order: the center's, then north, south, east,
/// west, north-east, north-west, south-east, south-west, as (dx, dy).
const SCANNED: [(i8, i8); 9] = [(0, 0), (0, 1), (0, -1), (1, 0), (-1, 0), (1, 1), (-1, 1), (1, -1), (-1, -1)];

/// Degrees in radians.
fn deg_rad(degrees: f64) -> f64 {
    degrees * DEG_TO_RAD
}

/// Radians in degrees.
fn rad_deg(radians: f64) -> f64 {
    radians / DEG_TO_RAD
}

/// The distance between two latitudes on a meridian.
fn latitude_distance(lat1: f64, lat2: f64) -> f64 {
    EARTH_RADIUS * (deg_rad(lat2) - deg_rad(lat1)).abs()
}

/// A distance as the servers compute it, the three ways their versions do: always by the
/// haversine (Redis before 7.0.6); by the meridian formula instead when the longitudes'
/// half-difference sine is 0 (Redis since 7.0.6, and Valkey until mid-2025); or when that sine
/// is within 1e-15 of 0 (Valkey since, 9.x). They differ, in the last bits, only for points on or within about
/// 1e-13 degrees of the other's meridian, and the log does not say which server wrote it.
#[derive(Clone, Copy)]
struct Meters([f64; 3]);

impl Meters {
    /// The distance between two positions (longitude, latitude).
    fn between((lon1, lat1): (f64, f64), (lon2, lat2): (f64, f64)) -> Meters {
        let v = ((deg_rad(lon2) - deg_rad(lon1)) / 2.0).sin();
        let meridian = latitude_distance(lat1, lat2);
        let (lat1r, lat2r) = (deg_rad(lat1), deg_rad(lat2));
        let u = ((lat2r - lat1r) / 2.0).sin();
        let a = u * u + lat1r.cos() * lat2r.cos() * v * v;
        let haversine = 2.0 * EARTH_RADIUS * a.sqrt().asin();
        let pick = |meridian_below: f64| if v.abs() <= meridian_below { meridian } else { haversine };
        Meters([haversine, pick(0.0), pick(VALKEY_SINE_EPSILON)])
    }

    /// The distance as Valkey 9 computes it.
    fn valkey(self) -> f64 {
        self.0[2]
    }

    /// Whether each way of computing the distance keeps it within `limit`.
    fn within(self, limit: f64) -> [bool; 3] {
        self.0.map(|d| d <= limit)
    }

    /// The distance, when every way gives the same number (antipodal points can give NaN).
    fn value(self) -> Result<f64, Reject> {
        if self.0[0].is_nan() {
            return Err("a distance that is NaN (a point nearly antipodal to the center)".into());
        }
        agreed(self.0)
    }
}

/// The value every server version computes, or an error when they differ.
fn agreed<T: PartialEq + Copy>(values: [T; 3]) -> Result<T, Reject> {
    if values[1..].iter().any(|v| *v != values[0]) {
        return Err("a point on or within about 1e-13 degrees of the center's meridian: server \
                    versions compute its distance differently, and the log does not say which \
                    one wrote it"
            .into());
    }
    Ok(values[0])
}

/// How far a search reaches from its center, in its unit.
#[derive(Clone)]
enum Extent {
    Radius(f64),
    Box {
        width: f64,
        height: f64,
    },
    /// `BYPOLYGON` (Valkey 9): vertices (longitude, latitude) in degrees; the center is their
    /// centroid.
    Polygon(Vec<(f64, f64)>),
}

/// A search area: center (longitude, latitude), extent, and meters per unit of the extent.
struct Shape {
    center: (f64, f64),
    extent: Extent,
    unit: f64,
}

impl Shape {
    /// The area of `extent` around `center`; a polygon's center is its centroid, whatever
    /// `FROMLONLAT` said.
    fn new(center: Option<(f64, f64)>, extent: Extent, unit: f64) -> Option<Shape> {
        let center = match &extent {
            Extent::Polygon(vertices) => centroid(vertices),
            _ => center?,
        };
        Some(Shape { center, extent, unit })
    }

    /// The servers' bounding box: [min longitude, min latitude, max longitude, max latitude].
    fn bounds(&self) -> [f64; 4] {
        let (lon, lat) = self.center;
        let (half_width, half_height) = match &self.extent {
            Extent::Radius(r) => (self.unit * r, self.unit * r),
            Extent::Box { width, height } => (self.unit * (width / 2.0), self.unit * (height / 2.0)),
            Extent::Polygon(vertices) => return polygon_bounds(vertices),
        };
        let lat_delta = rad_deg(half_height / EARTH_RADIUS);
        // The widest edge: the one nearer the equator.
        let edge = if lat < 0.0 { lat - lat_delta } else { lat + lat_delta };
        let lon_delta = rad_deg(half_width / EARTH_RADIUS / deg_rad(edge).cos());
        [lon - lon_delta, lat - lat_delta, lon + lon_delta, lat + lat_delta]
    }

    /// The radius the precision is estimated from, meters: a box's half diagonal, a polygon's
    /// farthest bounding-box corner from the centroid.
    fn reach(&self) -> f64 {
        let reach = match &self.extent {
            Extent::Radius(r) => *r,
            Extent::Box { width, height } => {
                ((width / 2.0) * (width / 2.0) + (height / 2.0) * (height / 2.0)).sqrt()
            }
            Extent::Polygon(vertices) => {
                let [min_lon, min_lat, max_lon, max_lat] = polygon_bounds(vertices);
                let corners =
                    [(min_lon, max_lat), (max_lon, max_lat), (min_lon, min_lat), (max_lon, min_lat)];
                corners.iter().fold(0.0, |far, &corner| {
                    let d = Meters::between(self.center, corner).valkey();
                    if d > far { d } else { far }
                })
            }
        };
        reach * self.unit
    }

    /// The cells to scan, in scan order; `None` for the ones the bounding box does not reach.
    fn cells(&self) -> [Option<Cell>; 9] {
        let [min_lon, min_lat, max_lon, max_lat] = self.bounds();
        let (lon, lat) = self.center;
        let mut step = estimate_step(self.reach(), lat);
        let mut center = encode(lon, lat, step);
        let side = |dx, dy| area(neighbour(center, dx, dy));
        let too_coarse = side(0, 1).latitude.1 < max_lat
            || side(0, -1).latitude.0 > min_lat
            || side(1, 0).longitude.1 < max_lon
            || side(-1, 0).longitude.0 > min_lon;
        if step > 1 && too_coarse {
            step -= 1;
            center = encode(lon, lat, step);
        }
        let a = area(center);
        SCANNED.map(|(dx, dy)| {
            let beyond = (dy < 0 && a.latitude.0 < min_lat)
                || (dy > 0 && a.latitude.1 > max_lat)
                || (dx < 0 && a.longitude.0 < min_lon)
                || (dx > 0 && a.longitude.1 > max_lon);
            (step < 2 || !beyond).then(|| neighbour(center, dx, dy))
        })
    }

    /// The distance of `point` from the center when the point is inside the shape: a box holds
    /// the points within half its height of the center's latitude and within half its width of
    /// the center's longitude, measured along the point's parallel.
    fn contains(&self, point: (f64, f64)) -> Result<Option<Meters>, Reject> {
        let distance = Meters::between(self.center, point);
        let inside = match &self.extent {
            Extent::Polygon(vertices) => {
                // Only Valkey 9 has polygons: its distance is the one.
                return Ok(in_polygon(vertices, point).then(|| Meters([distance.valkey(); 3])));
            }
            Extent::Radius(r) => distance.within(r * self.unit),
            &Extent::Box { width, height } => {
                let (lon, lat) = point;
                let rows = Meters::between(point, (lon, self.center.1)).within(height * self.unit / 2.0);
                let columns = Meters::between(point, (self.center.0, lat)).within(width * self.unit / 2.0);
                [0, 1, 2].map(|i| rows[i] && columns[i])
            }
        };
        Ok(agreed(inside)?.then_some(distance))
    }
}

/// The smallest and largest longitude and latitude of the vertices, as a bounding box.
fn polygon_bounds(vertices: &[(f64, f64)]) -> [f64; 4] {
    let start = [LONGITUDE.1, LATITUDE.1, LONGITUDE.0, LATITUDE.0];
    vertices.iter().fold(start, |[min_lon, min_lat, max_lon, max_lat], &(lon, lat)| {
        // The servers' comparisons, in their order (a NaN never wins).
        [
            if lon < min_lon { lon } else { min_lon },
            if lat < min_lat { lat } else { min_lat },
            if lon > max_lon { lon } else { max_lon },
            if lat > max_lat { lat } else { max_lat },
        ]
    })
}

/// The centroid Valkey searches a polygon from: the direction of the sum of the vertices as
/// unit vectors.
fn centroid(vertices: &[(f64, f64)]) -> (f64, f64) {
    let (mut x, mut y, mut z) = (0.0, 0.0, 0.0);
    for &(lon, lat) in vertices {
        let (lon, lat) = (deg_rad(lon), deg_rad(lat));
        x += lat.cos() * lon.cos();
        y += lat.cos() * lon.sin();
        z += lat.sin();
    }
    (rad_deg(y.atan2(x)), rad_deg(z.atan2((x * x + y * y).sqrt())))
}

/// Whether `point` is inside the polygon by the even-odd rule, as Valkey tests it: a ray
/// towards growing longitude, crossing edges in the plane of longitude and latitude.
fn in_polygon(vertices: &[(f64, f64)], (x, y): (f64, f64)) -> bool {
    let mut inside = false;
    let mut previous = vertices.len() - 1;
    for (i, &(ax, ay)) in vertices.iter().enumerate() {
        let (bx, by) = vertices[previous];
        if (ay > y) != (by > y) && x < (bx - ax) * (y - ay) / (by - ay) + ax {
            inside = !inside;
        }
        previous = i;
    }
    inside
}

/// Bits per coordinate of the cells a search with this reach (meters) scans around `latitude`:
/// the servers' estimate, coarser towards the poles.
fn estimate_step(mut reach: f64, latitude: f64) -> u32 {
    if reach == 0.0 {
        return SCORE_STEP;
    }
    let mut step: i32 = 1;
    while reach < MERCATOR_MAX {
        reach *= 2.0;
        step += 1;
    }
    step -= 2;
    if latitude.abs() > 66.0 {
        step -= 1;
        if latitude.abs() > 80.0 {
            step -= 1;
        }
    }
    step.clamp(1, SCORE_STEP as i32) as u32
}

/// The scores of the members inside a cell: `min..max`.
fn score_range(cell: Cell) -> (f64, f64) {
    let shift = 2 * (SCORE_STEP - cell.step);
    ((cell.bits << shift) as f64, ((cell.bits + 1) << shift) as f64)
}

/// A member a search found: name, score and distance from the center.
struct Found<'z> {
    member: &'z [u8],
    score: f64,
    distance: Meters,
}

/// The members inside `shape`, in the servers' scan order, stopping at `limit` (`ANY`).
fn scan<'z>(z: &'z ZSet, shape: &Shape, limit: Option<usize>) -> Result<Vec<Found<'z>>, Reject> {
    let full = |found: &Vec<Found<'_>>| limit.is_some_and(|n| found.len() >= n);
    let mut found = Vec::new();
    // The servers skip a cell equal to the last one scanned, the center's excepted.
    let mut last = None;
    for (i, cell) in shape.cells().into_iter().enumerate() {
        let Some(cell) = cell else { continue };
        if last == Some(cell) {
            continue;
        }
        if full(&found) {
            break;
        }
        let (min, max) = score_range(cell);
        for (member, score) in z.iter().skip_while(|(_, s)| *s < min).take_while(|(_, s)| *s < max) {
            if let Some(distance) = shape.contains(position(score))? {
                found.push(Found { member, score, distance });
            }
            if full(&found) {
                break;
            }
        }
        if i > 0 {
            last = Some(cell);
        }
    }
    Ok(found)
}

/// Which command runs the search.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Form {
    /// `GEORADIUS key longitude latitude radius unit [options]`.
    Radius,
    /// `GEORADIUSBYMEMBER key member radius unit [options]`.
    RadiusByMember,
    /// `GEOSEARCHSTORE dst src FROMMEMBER|FROMLONLAT … BYRADIUS|BYBOX … [options]`.
    SearchStore,
}

/// A search as the servers parse it.
#[derive(Default)]
struct Query<'a> {
    /// Where the result goes; a search without is read-only.
    store: Option<&'a [u8]>,
    storedist: bool,
    center: Option<(f64, f64)>,
    /// The extent and its unit (meters per unit).
    extent: Option<(Extent, f64)>,
    /// Farthest first (`DESC`).
    desc: bool,
    count: Option<usize>,
    any: bool,
}

/// `GEORADIUS`, `GEORADIUSBYMEMBER` and `GEOSEARCHSTORE`: a search of the sorted set at the
/// source key; with a destination, the result replaces it (a missing source deletes it).
fn search(ks: &mut Keyspace, c: &Call<'_>, form: Form) -> Result<(), Reject> {
    let src = c.arg(if form == Form::SearchStore { 2 } else { 1 })?;
    let (dst, result) = {
        let z = match ks.get(c.db, src).map(|s| &s.val) {
            None => None,
            Some(Val::ZSet(z)) => Some(&**z),
            Some(_) => return Err(wrong_type()),
        };
        let query = Query::parse(c, form, z)?;
        let Some(dst) = query.store else { return Ok(()) };
        match (z, query.shape()) {
            (Some(z), Some(shape)) => (dst, query.run(z, &shape)?),
            // Without a source there is nothing to find (nor, for GEORADIUSBYMEMBER, a center).
            _ => (dst, ZSet::default()),
        }
    };
    zset::store(ks, c, dst, result);
    Ok(())
}

impl<'a> Query<'a> {
    /// Parses the arguments in the servers' order: the fixed ones, then the options (member
    /// positions are looked up in `z` as they are met; with no source, not at all).
    fn parse(c: &Call<'a>, form: Form, z: Option<&ZSet>) -> Result<Query<'a>, Reject> {
        let mut q = Query::default();
        let first = match form {
            Form::Radius => {
                c.at_least(6)?;
                q.center = Some(lon_lat(c.args[2], c.args[3])?);
                q.extent = Some((Extent::Radius(radius(c.args[4])?), unit(c.args[5])?));
                6
            }
            Form::RadiusByMember => {
                c.at_least(5)?;
                if let Some(z) = z {
                    q.center = Some(member_position(z, c.args[2])?);
                    q.extent = Some((Extent::Radius(radius(c.args[3])?), unit(c.args[4])?));
                }
                5
            }
            Form::SearchStore => {
                c.at_least(8)?;
                q.store = Some(c.args[1]);
                3
            }
        };
        let searching = form == Form::SearchStore;
        let (mut with, mut from_member, mut from_lonlat, mut by_radius, mut by_box, mut by_polygon) =
            (false, false, false, false, false, false);
        let mut i = first;
        while let Some(&opt) = c.args.get(i) {
            let next = &c.args[i + 1..];
            if is(opt, "WITHDIST") || is(opt, "WITHHASH") || is(opt, "WITHCOORD") {
                with = true;
            } else if is(opt, "ANY") {
                q.any = true;
            } else if is(opt, "ASC") || is(opt, "DESC") {
                q.desc = is(opt, "DESC");
            } else if is(opt, "COUNT") && !next.is_empty() {
                let n = int(next[0])?;
                q.count = Some(usize::try_from(n).ok().filter(|n| *n > 0).ok_or("COUNT must be > 0")?);
                i += 1;
            } else if (is(opt, "STORE") || is(opt, "STOREDIST")) && !next.is_empty() && !searching {
                q.store = Some(next[0]);
                q.storedist = is(opt, "STOREDIST");
                i += 1;
            } else if is(opt, "STOREDIST") && searching {
                q.storedist = true;
            } else if is(opt, "FROMMEMBER") && !next.is_empty() && searching && !from_lonlat && !by_polygon {
                if let Some(z) = z {
                    q.center = Some(member_position(z, next[0])?);
                }
                from_member = true;
                i += 1;
            } else if is(opt, "FROMLONLAT") && next.len() >= 2 && searching && !from_member && !by_polygon {
                q.center = Some(lon_lat(next[0], next[1])?);
                from_lonlat = true;
                i += 2;
            } else if is(opt, "BYRADIUS") && next.len() >= 2 && searching && !by_box && !by_polygon {
                q.extent = Some((Extent::Radius(radius(next[0])?), unit(next[1])?));
                by_radius = true;
                i += 2;
            } else if is(opt, "BYBOX") && next.len() >= 3 && searching && !by_radius && !by_polygon {
                q.extent = Some(box_extent(next[0], next[1], unit(next[2])?)?);
                by_box = true;
                i += 3;
            } else if is(opt, "BYPOLYGON")
                && next.len() >= 2
                && searching
                && !by_radius
                && !by_box
                && !from_member
            {
                // Valkey 9 checks neither an earlier FROMLONLAT (the centroid replaces it) nor an
                // earlier BYPOLYGON (the later one wins).
                let vertices = polygon(next)?;
                i += 1 + 2 * vertices.len();
                q.extent = Some((Extent::Polygon(vertices), 1.0));
                by_polygon = true;
            } else {
                return Err("syntax error".into());
            }
            i += 1;
        }
        if q.store.is_some() && with {
            return Err("STORE is not compatible with WITHDIST, WITHHASH and WITHCOORD options".into());
        }
        if searching && !(from_member || from_lonlat || by_polygon) {
            return Err("exactly one of FROMMEMBER or FROMLONLAT can be specified".into());
        }
        if searching && !(by_radius || by_box || by_polygon) {
            return Err("exactly one of BYRADIUS, BYBOX and BYPOLYGON can be specified".into());
        }
        if q.any && q.count.is_none() {
            return Err("the ANY argument requires COUNT argument".into());
        }
        Ok(q)
    }

    /// The area searched, once the center (or the polygon) and extent are known.
    fn shape(&self) -> Option<Shape> {
        let (extent, unit) = self.extent.clone()?;
        Shape::new(self.center, extent, unit)
    }

    /// The sorted set the search stores: the members found (`COUNT` of them), scored by
    /// geohash or, with `STOREDIST`, by distance in the query's unit.
    fn run(&self, z: &ZSet, shape: &Shape) -> Result<ZSet, Reject> {
        let found = scan(z, shape, self.count.filter(|_| self.any))?;
        let mut result = ZSet::default();
        for f in self.nearest(found)? {
            let score = if self.storedist { f.distance.value()? / shape.unit } else { f.score };
            result.insert(f.member.into(), score);
        }
        Ok(result)
    }

    /// The members `COUNT` keeps: the nearest (farthest for `DESC`), unless `ANY` already
    /// stopped the scan. Members at the same distance across the cut are refused: which the
    /// servers keep depends on their partial quicksort.
    fn nearest<'z>(&self, found: Vec<Found<'z>>) -> Result<Vec<Found<'z>>, Reject> {
        let Some(n) = self.count.filter(|n| !self.any && *n < found.len()) else { return Ok(found) };
        let mut ranked =
            found.into_iter().map(|f| Ok((f.distance.value()?, f))).collect::<Result<Vec<_>, Reject>>()?;
        let nearer = |a: &f64, b: &f64| a.partial_cmp(b).unwrap_or(Ordering::Equal);
        ranked.sort_by(|a, b| if self.desc { nearer(&b.0, &a.0) } else { nearer(&a.0, &b.0) });
        if ranked[n - 1].0 == ranked[n].0 {
            return Err("members at the same distance on both sides of the COUNT cut: which one the \
                        servers keep depends on their sort"
                .into());
        }
        Ok(ranked.into_iter().take(n).map(|(_, f)| f).collect())
    }
}

/// A longitude and latitude argument pair, in the servers' ranges.
fn lon_lat(lon: &[u8], lat: &[u8]) -> Result<(f64, f64), Reject> {
    let (lon, lat) = (double(lon)?, double(lat)?);
    if !(LONGITUDE.0..=LONGITUDE.1).contains(&lon) || !(LATITUDE.0..=LATITUDE.1).contains(&lat) {
        return Err(format!("invalid longitude,latitude pair {lon},{lat}"));
    }
    Ok((lon, lat))
}

/// The position of `member` of `z`, decoded from its score (which must convert to an unsigned
/// 64-bit integer: the servers' conversion of any other is undefined behaviour).
fn member_position(z: &ZSet, member: &[u8]) -> Result<(f64, f64), Reject> {
    let score = z.score(member).ok_or("could not decode requested zset member")?;
    if !(0.0..18_446_744_073_709_551_616.0).contains(&score) {
        return Err(format!("a center member whose score {score} is no geohash"));
    }
    Ok(position(score))
}

/// `BYPOLYGON`'s arguments after the keyword: a vertex count of 3 or more that the arguments
/// left hold, then that many longitude, latitude pairs.
fn polygon(args: &[&[u8]]) -> Result<Vec<(f64, f64)>, Reject> {
    let n = int(args[0]).ok().and_then(|n| i32::try_from(n).ok()).ok_or("invalid number of vertices")?;
    let room = (args.len() - 1) / 2;
    let n = usize::try_from(n).ok().filter(|&n| n >= 3 && n <= room);
    let n = n.ok_or("GEOSEARCH BYPOLYGON must have at least 3 vertices")?;
    args[1..=2 * n].chunks(2).map(|pair| lon_lat(pair[0], pair[1])).collect()
}

fn radius(arg: &[u8]) -> Result<f64, Reject> {
    let r = double(arg).map_err(|_| "need numeric radius")?;
    if r < 0.0 {
        return Err("radius cannot be negative".into());
    }
    Ok(r)
}

/// A box's width and height in `unit` (meters per unit), and the unit.
fn box_extent(width: &[u8], height: &[u8], unit: f64) -> Result<(Extent, f64), Reject> {
    let width = double(width).map_err(|_| "need numeric width")?;
    let height = double(height).map_err(|_| "need numeric height")?;
    if width < 0.0 || height < 0.0 {
        return Err("height or width cannot be negative".into());
    }
    // Redis halves a side before converting it to meters for the bounding box, Valkey 9 after:
    // the same but when the product overflows.
    if [width, height].iter().any(|&side| unit * (side / 2.0) != unit * side / 2.0) {
        return Err("a box so large that converting it to meters overflows".into());
    }
    Ok((Extent::Box { width, height }, unit))
}

/// Meters per unit: `M`, `KM`, `FT` or `MI`.
fn unit(arg: &[u8]) -> Result<f64, Reject> {
    Ok(match arg {
        a if is(a, "M") => 1.0,
        a if is(a, "KM") => 1000.0,
        a if is(a, "FT") => 0.3048,
        a if is(a, "MI") => 1609.34,
        _ => return Err("unsupported unit provided. please use M, KM, FT, MI".into()),
    })
}

/// `GEOADD key [NX|XX] [CH] longitude latitude member…`: a `ZADD` of geohash scores.
fn geoadd(ks: &mut Keyspace, c: &Call<'_>) -> Result<(), Reject> {
    let key = c.arg(1)?;
    let mut first = 2;
    while c.args.get(first).is_some_and(|o| is(o, "NX") || is(o, "XX") || is(o, "CH")) {
        first += 1;
    }
    let triples = &c.args[first..];
    if !triples.len().is_multiple_of(3) {
        return Err("syntax error".into());
    }
    let mut scores = Vec::with_capacity(triples.len() / 3);
    for t in triples.chunks(3) {
        let (lon, lat) = lon_lat(t[0], t[1])?;
        scores.push(itoa::Buffer::new().format(score_of(lon, lat)).as_bytes().to_vec());
    }
    let mut args: Vec<&[u8]> = vec![b"ZADD", key];
    args.extend_from_slice(&c.args[2..first]);
    for (score, t) in scores.iter().zip(triples.chunks(3)) {
        args.extend([score.as_slice(), t[2]]);
    }
    zset::zadd(ks, &Call { args: &args, ..*c }, false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn geohash_scores_match_the_servers() {
        // Scores Redis gives for GEOADD of these positions.
        assert_eq!(score_of(13.361389, 38.115556), 3_479_099_956_230_698);
        assert_eq!(score_of(15.087269, 37.502669), 3_479_447_370_796_909);
        assert_eq!(score_of(-180.0, -85.05112878), 0);
    }

    #[test]
    fn positions_decode_as_the_servers_do() {
        // GEOPOS of GEOADD 10 20 on Redis 7.0 and Valkey 9.1.
        let (lon, lat) = position(score_of(10.0, 20.0) as f64);
        assert_eq!(format!("{lon:.17}"), "10.00000208616256714");
        assert_eq!(format!("{lat:.17}"), "20.00000058910486445");
    }

    #[test]
    fn neighbours_wrap_around_the_world() {
        let west_edge = encode(-180.0, 0.0, 3);
        let east_edge = encode(179.9, 0.0, 3);
        assert_eq!(neighbour(west_edge, -1, 0), east_edge);
        assert_eq!(neighbour(east_edge, 1, 0), west_edge);
        let top = encode(0.0, 85.0, 2);
        assert_eq!(neighbour(top, 0, 1), encode(0.0, -85.0, 2));
    }

    #[test]
    fn distances_match_the_servers() {
        // STOREDIST (km) of a GEOSEARCHSTORE on both servers, around GEOADD 10 20.
        let member = position(score_of(10.0, 20.0) as f64);
        let d = Meters::between((10.000002086162567, 21.0), member).value().unwrap();
        assert_eq!(d / 1000.0, 111.226_234_476_046_41);
    }

    #[test]
    fn polygons_match_valkey() {
        // GEOSEARCHSTORE d g BYPOLYGON 3 12 37 16 37 14 39 STOREDIST on Valkey 9.1: distances
        // from the centroid.
        let triangle = vec![(12.0, 37.0), (16.0, 37.0), (14.0, 39.0)];
        let shape = Shape::new(None, Extent::Polygon(triangle), 1.0).unwrap();
        let distance = |lon, lat| {
            let found = shape.contains(position(score_of(lon, lat) as f64)).unwrap();
            found.map(|d| d.value().unwrap())
        };
        assert_eq!(distance(13.361389, 38.115556), Some(74_231.302_939_734_01));
        assert_eq!(distance(15.087269, 37.502669), Some(97_789.732_920_648_34));
        assert_eq!(distance(12.0, 39.0), None);
        // Even-odd: a point in the notch of a concave polygon is outside, one in its arm inside.
        let notched = [(0.0, 0.0), (4.0, 0.0), (4.0, 4.0), (2.0, 1.0), (0.0, 4.0)];
        assert!(!in_polygon(&notched, (2.0, 3.0)));
        assert!(in_polygon(&notched, (1.0, 2.0)));
        assert_eq!(polygon_bounds(&notched), [0.0, 0.0, 4.0, 4.0]);
    }

    #[test]
    fn steps_follow_the_radius_and_latitude() {
        assert_eq!(estimate_step(0.0, 0.0), 26);
        // 200 km doubles 7 times below the Mercator half width: 8 bits, less 2.
        assert_eq!(estimate_step(200_000.0, 0.0), 6);
        assert_eq!(estimate_step(200_000.0, 70.0), 5);
        assert_eq!(estimate_step(200_000.0, -85.0), 4);
        assert_eq!(estimate_step(f64::INFINITY, 0.0), 1);
    }
}
