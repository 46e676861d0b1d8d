//! A list of byte strings packed into chunks: how the keyspace holds list values.
//!
//! Elements live as records in chunks of at most `CHUNK_BYTES` (8 KiB, the node size Redis
//! uses by default), head first. A record is the element's length in LEB128, the element, then
//! the length's bytes reversed, so a chunk reads from either end like a listpack: a 64-byte
//! element takes 66 bytes, and a chunk is one allocation plus 32 bytes in the chunk deque.
//!
//! Each chunk keeps free room at both ends of its buffer: its records sit in `buf[start..]`,
//! with `buf[..start]` free for pushes at the head and the vector's spare capacity free for
//! pushes at the tail. A push writes into that room, so it never moves the other records. When
//! the room runs out the chunk doubles its buffer (up to `CHUNK_BYTES`, keeping the room it
//! had at the other end), or re-centres its records if a quarter of the buffer is free; a full
//! chunk gets a new neighbour. Pushing at one end thus fills chunks completely, and a push costs
//! O(1) amortized. Pops move the boundaries (a chunk gives memory back once three quarters of it
//! are free), and drop chunks they empty.
//!
//! Inserts and sets find their chunk by its element count, walk it, and rebuild it at its exact
//! size (splitting it first when it is full), O(chunks + chunk size): only the end chunks take
//! pushes, so the others need no free room.
//!
//! Compared with chunks that append records in any order and keep an offset table, this needs
//! no table (2 to 4 bytes an element and its slack), no garbage and no compaction, for the cost
//! of walking a chunk for positional access, which is O(chunk size) either way.

use std::collections::VecDeque;
use std::fmt;

/// The bytes a chunk holds at most, unless it holds one larger element alone.
const CHUNK_BYTES: usize = 8 << 10;

/// An end of a list or chunk.
#[derive(Clone, Copy, PartialEq, Eq)]
enum End {
    Head,
    Tail,
}

impl End {
    fn other(self) -> End {
        match self {
            End::Head => End::Tail,
            End::Tail => End::Head,
        }
    }
}

/// A list of byte strings, head first, stored compactly (see the module documentation).
#[derive(Clone, Default)]
pub struct PackedList {
    /// Never empty ones.
    chunks: VecDeque<Chunk>,
    len: usize,
}

impl PackedList {
    /// An empty list.
    pub fn new() -> PackedList {
        PackedList::default()
    }

    /// Number of elements.
    pub fn len(&self) -> usize {
        self.len
    }

    /// True without elements.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The elements, head first.
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = &[u8]> {
        self.chunks.iter().flat_map(Chunk::records).map(element)
    }

    /// Adds `element` at the head.
    pub fn push_front(&mut self, element: &[u8]) {
        self.push_into(0, End::Head, element);
    }

    /// Adds `element` at the tail.
    pub fn push_back(&mut self, element: &[u8]) {
        self.push_into(self.chunks.len().saturating_sub(1), End::Tail, element);
    }

    /// Removes the head element.
    pub fn pop_front(&mut self) -> Option<Vec<u8>> {
        self.pop(End::Head)
    }

    /// Removes the tail element.
    pub fn pop_back(&mut self) -> Option<Vec<u8>> {
        self.pop(End::Tail)
    }

    /// Removes the first `n` elements (all of them when there are fewer).
    pub fn remove_front(&mut self, n: usize) {
        self.remove(End::Head, n);
    }

    /// Keeps the first `len` elements.
    pub fn truncate(&mut self, len: usize) {
        self.remove(End::Tail, self.len.saturating_sub(len));
    }

    /// Removes every element.
    pub fn clear(&mut self) {
        *self = PackedList::new();
    }

    /// Inserts `element` at position `at`, before the element there.
    ///
    /// # Panics
    /// When `at` is greater than the length.
    pub fn insert(&mut self, at: usize, element: &[u8]) {
        assert!(at <= self.len, "insertion index {at} beyond the length {}", self.len);
        if at == self.len {
            return self.push_back(element);
        }
        let (i, k) = self.locate(at);
        let full = self.chunks[i].bytes() + record_len(element) > CHUNK_BYTES;
        let (i, k) = if full && k > 0 { self.split(i, k) } else { (i, k) };
        if !self.chunks[i].splice(k, 0, Some(element)) {
            // Too large to join chunk `i`: a chunk of its own before it, or after it.
            self.chunks.insert(i + usize::from(k > 0), Chunk::with(element));
        }
        self.len += 1;
    }

    /// Replaces the element at position `at`; false (and no change) when there is none.
    pub fn set(&mut self, at: usize, element: &[u8]) -> bool {
        if at >= self.len {
            return false;
        }
        let (i, k) = self.locate(at);
        if !self.chunks[i].splice(k, 1, Some(element)) {
            // Too large for its chunk: out with the old element, then in as inserts go.
            self.chunks[i].splice(k, 1, None);
            if self.chunks[i].len() == 0 {
                self.chunks.remove(i);
            }
            self.len -= 1;
            self.insert(at, element);
        }
        true
    }

    /// Removes up to `limit` elements equal to `x`, the ones nearest the head; returns how many.
    pub fn remove_first(&mut self, x: &[u8], limit: usize) -> usize {
        self.remove_matching(x, limit, End::Head)
    }

    /// Removes up to `limit` elements equal to `x`, the ones nearest the tail; returns how many.
    pub fn remove_last(&mut self, x: &[u8], limit: usize) -> usize {
        self.remove_matching(x, limit, End::Tail)
    }

    /// Pushes `element` at `end` of chunk `i`, or into a new chunk beside it when that one is
    /// full (or there is none).
    fn push_into(&mut self, i: usize, end: End, element: &[u8]) {
        if !self.chunks.get_mut(i).is_some_and(|c| c.push(end, element)) {
            let at = match end {
                End::Head => i,
                End::Tail => (i + 1).min(self.chunks.len()),
            };
            // A one-chunk list (most lists) should not pay for room for more chunks.
            self.chunks.reserve_exact(usize::from(self.chunks.is_empty()));
            self.chunks.insert(at, Chunk::with(element));
        }
        self.len += 1;
    }

    fn pop(&mut self, end: End) -> Option<Vec<u8>> {
        let chunk = match end {
            End::Head => self.chunks.front(),
            End::Tail => self.chunks.back(),
        }?;
        let popped = chunk.records_from(end).next().map(|r| element(r).to_vec());
        self.remove(end, 1);
        popped
    }

    /// Removes `n` elements (all of them when there are fewer) at `end`.
    fn remove(&mut self, end: End, n: usize) {
        let mut n = n.min(self.len);
        self.len -= n;
        while n > 0 {
            let chunk = match end {
                End::Head => self.chunks.front_mut(),
                End::Tail => self.chunks.back_mut(),
            };
            let chunk = chunk.expect("the chunks hold len elements");
            let k = n.min(chunk.len());
            n -= k;
            if k < chunk.len() {
                chunk.remove(end, k);
            } else if end == End::Head {
                self.chunks.pop_front();
            } else {
                self.chunks.pop_back();
            }
        }
        self.shrink_chunks_if_sparse();
    }

    fn remove_matching(&mut self, x: &[u8], limit: usize, end: End) -> usize {
        let mut removed = 0;
        let chunks = self.chunks.len();
        for i in 0..chunks {
            if removed == limit {
                break;
            }
            let i = if end == End::Head { i } else { chunks - 1 - i };
            removed += self.chunks[i].remove_matching(x, limit - removed, end);
        }
        if removed > 0 {
            self.chunks.retain(|c| c.len() > 0);
            self.shrink_chunks_if_sparse();
            self.len -= removed;
        }
        removed
    }

    /// Gives memory back once three quarters of the chunk deque are free.
    fn shrink_chunks_if_sparse(&mut self) {
        if self.chunks.len() * 4 <= self.chunks.capacity() {
            self.chunks.shrink_to_fit();
        }
    }

    /// Splits chunk `i` before its `k`th element (`0 < k < len`); returns where that place is in
    /// the smaller part: the end of the first or the start of the second.
    fn split(&mut self, i: usize, k: usize) -> (usize, usize) {
        let right = self.chunks[i].split_off(k);
        let left_is_smaller = self.chunks[i].bytes() <= right.bytes();
        self.chunks.insert(i + 1, right);
        if left_is_smaller { (i, k) } else { (i + 1, 0) }
    }

    /// The chunk holding position `at` (below the length), and the position within it, counting
    /// chunks from the nearer end.
    fn locate(&self, at: usize) -> (usize, usize) {
        let chunks = self.chunks.iter().map(Chunk::len).enumerate();
        if at < self.len / 2 {
            let mut first = 0;
            for (i, n) in chunks {
                if at < first + n {
                    return (i, at - first);
                }
                first += n;
            }
        } else {
            let mut first = self.len;
            for (i, n) in chunks.rev() {
                first -= n;
                if at >= first {
                    return (i, at - first);
                }
            }
        }
        unreachable!("positions below the length are in a chunk")
    }
}

impl fmt::Debug for PackedList {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

impl PartialEq for PackedList {
    fn eq(&self, other: &PackedList) -> bool {
        self.len == other.len && self.iter().eq(other.iter())
    }
}

impl Eq for PackedList {}

impl<E: AsRef<[u8]>> Extend<E> for PackedList {
    fn extend<I: IntoIterator<Item = E>>(&mut self, elements: I) {
        elements.into_iter().for_each(|e| self.push_back(e.as_ref()));
    }
}

impl<E: AsRef<[u8]>> FromIterator<E> for PackedList {
    fn from_iter<I: IntoIterator<Item = E>>(elements: I) -> PackedList {
        let mut list = PackedList::new();
        list.extend(elements);
        list
    }
}

/// Consecutive elements as records: `buf[start..]` holds them, head first.
#[derive(Clone)]
struct Chunk {
    buf: Vec<u8>,
    /// Free bytes before the head.
    start: u32,
    /// Number of elements.
    count: u32,
}

impl Chunk {
    /// A chunk holding just `element`, in a buffer of its size.
    fn with(element: &[u8]) -> Chunk {
        let mut chunk = Chunk { buf: Vec::with_capacity(record_len(element)), start: 0, count: 0 };
        chunk.push(End::Tail, element);
        chunk
    }

    /// Number of elements.
    fn len(&self) -> usize {
        self.count as usize
    }

    fn start(&self) -> usize {
        self.start as usize
    }

    fn set_start(&mut self, start: usize) {
        self.start = small(start);
    }

    /// The records.
    fn live(&self) -> &[u8] {
        &self.buf[self.start()..]
    }

    /// Bytes the records take.
    fn bytes(&self) -> usize {
        self.live().len()
    }

    fn records(&self) -> Records<'_> {
        Records(self.live())
    }

    /// The records from `end` inward.
    fn records_from(&self, end: End) -> impl Iterator<Item = &[u8]> {
        let mut records = self.records();
        std::iter::from_fn(move || match end {
            End::Head => records.next(),
            End::Tail => records.next_back(),
        })
    }

    /// Bytes taken by the `k` records nearest `end`.
    fn span(&self, end: End, k: usize) -> usize {
        self.records_from(end).take(k).map(<[u8]>::len).sum()
    }

    /// Free bytes before the head or after the tail.
    fn room(&self, end: End) -> usize {
        match end {
            End::Head => self.start(),
            End::Tail => self.buf.capacity() - self.buf.len(),
        }
    }

    /// Adds `element` at `end`; false when the chunk is full.
    fn push(&mut self, end: End, element: &[u8]) -> bool {
        let n = record_len(element);
        if !self.make_room(end, n) {
            return false;
        }
        let at = match end {
            End::Head => {
                self.set_start(self.start() - n);
                self.start()
            }
            End::Tail => {
                let at = self.buf.len();
                self.buf.resize(at + n, 0);
                at
            }
        };
        write_record(&mut self.buf[at..at + n], element);
        self.count += 1;
        true
    }

    /// Replaces the `removed` elements from the `k`th on (`k` may be the length) by `element`, if
    /// any, in a buffer of just the right size: this moves the chunk's bytes anyway, and chunks
    /// in the middle of a list take no pushes. False, and no change, when that would not fit.
    fn splice(&mut self, k: usize, removed: usize, element: Option<&[u8]>) -> bool {
        let (from, to) = (self.span(End::Head, k), self.span(End::Head, k + removed));
        let n = element.map_or(0, record_len);
        let bytes = self.bytes() - (to - from) + n;
        if bytes > CHUNK_BYTES {
            return false;
        }
        let live = self.live();
        let mut buf = Vec::with_capacity(bytes);
        buf.extend_from_slice(&live[..from]);
        buf.resize(from + n, 0);
        if let Some(element) = element {
            write_record(&mut buf[from..], element);
        }
        buf.extend_from_slice(&live[to..]);
        self.buf = buf;
        self.start = 0;
        self.count = self.count + u32::from(element.is_some()) - small(removed);
        true
    }

    /// Ensures `n` free bytes at `end`, growing the buffer or moving the records; false when the
    /// chunk is full.
    fn make_room(&mut self, end: End, n: usize) -> bool {
        if self.room(end) >= n {
            return true;
        }
        let (cap, live) = (self.buf.capacity(), self.bytes());
        if live + n > CHUNK_BYTES {
            return false;
        }
        let spare = cap - live;
        // Re-centre only with a quarter of the buffer free, so that it pays for itself; else
        // double the buffer, keeping the room at the other end.
        let (cap, other_room) = if spare >= n && spare >= cap / 4 {
            (cap, (spare - n) / 2)
        } else if cap < CHUNK_BYTES {
            let grown = (2 * cap).clamp(live + n, CHUNK_BYTES);
            (grown, grown - live - n)
        } else {
            return false;
        };
        let other_room = other_room.min(self.room(end.other()));
        let front = match end {
            End::Head => cap - live - other_room,
            End::Tail => other_room,
        };
        self.relayout(cap, front);
        true
    }

    /// Moves the records into a new buffer of `cap` bytes, after `front` free bytes.
    fn relayout(&mut self, cap: usize, front: usize) {
        let mut buf = Vec::with_capacity(cap);
        buf.resize(front, 0);
        buf.extend_from_slice(self.live());
        self.buf = buf;
        self.set_start(front);
    }

    /// Removes `k` elements at `end`, not all of them.
    fn remove(&mut self, end: End, k: usize) {
        let span = self.span(end, k);
        match end {
            End::Head => self.set_start(self.start() + span),
            End::Tail => self.buf.truncate(self.buf.len() - span),
        }
        self.count -= small(k);
        self.shrink_if_sparse();
    }

    /// Splits off the elements from the `k`th on (`0 < k < len`) into a new chunk; both parts
    /// are left without free room.
    fn split_off(&mut self, k: usize) -> Chunk {
        let at = self.span(End::Head, k);
        let right = Chunk { buf: self.live()[at..].to_vec(), start: 0, count: self.count - small(k) };
        self.buf.truncate(self.start() + at);
        self.relayout(at, 0);
        self.count = small(k);
        right
    }

    /// Gives memory back once three quarters of the buffer are free, keeping free room at the
    /// head as far as it was there (where elements went, more may come).
    fn shrink_if_sparse(&mut self) {
        let live = self.bytes();
        if live < self.buf.capacity() / 4 {
            self.relayout(2 * live, self.start().min(live));
        }
    }

    /// Removes up to `limit` elements equal to `x`, nearest `end` first, leaving no free room;
    /// returns how many. The chunk may end up empty.
    fn remove_matching(&mut self, x: &[u8], limit: usize, end: End) -> usize {
        let matches = self.records().filter(|r| element(r) == x).count();
        let removed = matches.min(limit);
        if removed == 0 {
            return 0;
        }
        // Numbered from 1 at the head, the matches to remove.
        let doomed = match end {
            End::Head => 1..=removed,
            End::Tail => matches - removed + 1..=matches,
        };
        let mut buf = Vec::with_capacity(self.bytes() - removed * record_len(x));
        let mut nth_match = 0;
        for record in self.records() {
            if element(record) == x {
                nth_match += 1;
                if doomed.contains(&nth_match) {
                    continue;
                }
            }
            buf.extend_from_slice(record);
        }
        self.buf = buf;
        self.start = 0;
        self.count -= small(removed);
        removed
    }
}

/// A chunk offset or count, which fits `u32`: only a lone element's chunk may exceed
/// `CHUNK_BYTES`, and its start is 0.
fn small(n: usize) -> u32 {
    u32::try_from(n).expect("chunk offsets and counts fit u32")
}

/// A chunk's records, each the element's length (LEB128), the element and the length's bytes
/// reversed.
struct Records<'a>(&'a [u8]);

impl<'a> Iterator for Records<'a> {
    type Item = &'a [u8];

    fn next(&mut self) -> Option<&'a [u8]> {
        let (len, header) = read_len(self.0.iter().copied())?;
        let (record, rest) = self.0.split_at(len + 2 * header);
        self.0 = rest;
        Some(record)
    }
}

impl DoubleEndedIterator for Records<'_> {
    fn next_back(&mut self) -> Option<Self::Item> {
        let (len, header) = read_len(self.0.iter().rev().copied())?;
        let (rest, record) = self.0.split_at(self.0.len() - len - 2 * header);
        self.0 = rest;
        Some(record)
    }
}

/// The LEB128 length at the start of `bytes`, and its size; `None` when there are no bytes.
fn read_len(bytes: impl Iterator<Item = u8>) -> Option<(usize, usize)> {
    let mut len = 0;
    for (i, b) in bytes.enumerate() {
        len |= usize::from(b & 0x7f) << (7 * i);
        if b < 0x80 {
            return Some((len, i + 1));
        }
    }
    None
}

/// The bytes of a length in LEB128 (seven bits a byte, low bits first).
fn header_len(len: usize) -> usize {
    ((usize::BITS - len.leading_zeros()) as usize).div_ceil(7).max(1)
}

/// The bytes of `element`'s record.
fn record_len(element: &[u8]) -> usize {
    element.len() + 2 * header_len(element.len())
}

/// Writes `element`'s record into `out`, of [`record_len`] bytes.
fn write_record(out: &mut [u8], element: &[u8]) {
    let header = header_len(element.len());
    let last = out.len() - 1;
    for i in 0..header {
        let more = if i + 1 < header { 0x80 } else { 0 };
        let byte = (element.len() >> (7 * i)) as u8 & 0x7f | more;
        out[i] = byte;
        out[last - i] = byte;
    }
    out[header..header + element.len()].copy_from_slice(element);
}

/// The element in a record.
fn element(record: &[u8]) -> &[u8] {
    let header = 1 + record.iter().take_while(|b| **b >= 0x80).count();
    &record[header..record.len() - header]
}

#[cfg(test)]
mod tests {
    use std::collections::VecDeque;

    use proptest::prelude::*;

    use super::*;

    /// Heap bytes the list holds: chunk buffers and the chunk deque, slack included.
    fn heap_bytes(list: &PackedList) -> usize {
        let buffers: usize = list.chunks.iter().map(|c| c.buf.capacity()).sum();
        buffers + list.chunks.capacity() * size_of::<Chunk>()
    }

    /// Checks the layout invariants and that the list holds `model`'s elements, both ways.
    fn assert_matches(list: &PackedList, model: &VecDeque<Vec<u8>>) {
        assert_eq!(list.len(), model.len());
        assert!(list.iter().eq(model.iter().map(Vec::as_slice)), "{list:?} != {model:?}");
        assert!(list.iter().rev().eq(model.iter().rev().map(Vec::as_slice)));
        assert_eq!(list.chunks.iter().map(Chunk::len).sum::<usize>(), list.len());
        for chunk in &list.chunks {
            assert_eq!(chunk.records().count(), chunk.len());
            assert!(chunk.len() > 0, "an empty chunk");
            assert!(chunk.len() == 1 || chunk.buf.capacity() <= CHUNK_BYTES, "an oversized chunk");
        }
    }

    fn model_of(elements: &[&[u8]]) -> VecDeque<Vec<u8>> {
        elements.iter().map(|e| e.to_vec()).collect()
    }

    #[test]
    fn length_headers_round_trip_at_their_boundaries() {
        let lengths = [0, 1, 127, 128, 129, 16383, 16384, 3 * CHUNK_BYTES];
        let elements: Vec<Vec<u8>> = lengths.iter().map(|&n| vec![0xff; n]).collect();
        let mut list = PackedList::new();
        for e in &elements {
            list.push_front(e);
            list.push_back(e);
        }
        let mut model: VecDeque<Vec<u8>> = elements.iter().rev().chain(&elements).cloned().collect();
        assert_matches(&list, &model);
        while !model.is_empty() {
            assert_eq!(list.pop_back(), model.pop_back());
            assert_eq!(list.pop_front(), model.pop_front());
            assert_matches(&list, &model);
        }
        assert_eq!(list.pop_front(), None);
        assert_eq!(list.pop_back(), None);
    }

    #[test]
    fn headers_take_a_byte_per_seven_bits() {
        assert_eq!([0, 127, 128, 16383, 16384].map(header_len), [1, 1, 2, 2, 3]);
        assert_eq!(record_len(&[7; 64]), 66);
    }

    #[test]
    fn long_lists_cost_two_bytes_an_element_plus_little() {
        for front in [true, false] {
            let mut list = PackedList::new();
            for i in 0..100_000u32 {
                let element = [i as u8; 64];
                if front { list.push_front(&element) } else { list.push_back(&element) }
            }
            let per_element = heap_bytes(&list) as f64 / list.len() as f64;
            assert!(per_element < 67.5, "{per_element} bytes an element");
        }
    }

    #[test]
    fn inserts_and_sets_leave_no_slack() {
        let mut list = PackedList::new();
        let mut rng = 0x9e37_79b9_7f4a_7c15u64;
        for i in 0..20_000 {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            let (at, len) = ((rng >> 8) as usize % (list.len() + 1), 16 + rng as usize % 85);
            match i % 3 {
                0 => list.push_back(&vec![0; len]),
                1 => list.insert(at, &vec![1; len]),
                _ => {
                    list.set(at, &vec![2; len]);
                }
            }
        }
        let payload: usize = list.iter().map(<[u8]>::len).sum();
        let overhead = (heap_bytes(&list) - payload) as f64 / list.len() as f64;
        assert!(overhead < 4.0, "{overhead} bytes an element beyond its own");
    }

    #[test]
    fn short_lists_stay_short() {
        let mut list = PackedList::new();
        list.push_back(b"0123456789");
        assert_eq!(heap_bytes(&list), 12 + size_of::<Chunk>());
        list.push_front(b"0123456789");
        assert_eq!(heap_bytes(&list), 24 + size_of::<Chunk>());
        assert!(size_of::<PackedList>() <= 40);
    }

    #[test]
    fn popping_gives_memory_back() {
        let mut list: PackedList = (0..5000u32).map(u32::to_be_bytes).collect();
        list.truncate(3);
        list.remove_front(1);
        assert_eq!(list, [1u32, 2].map(u32::to_be_bytes).into_iter().collect());
        assert!(heap_bytes(&list) < 80, "{} bytes", heap_bytes(&list));
    }

    #[test]
    fn queues_reuse_their_room() {
        // Queue use: push at one end, pop at the other, forever.
        let mut list = PackedList::new();
        for i in 0..200_000u32 {
            list.push_front(&i.to_le_bytes());
            if i >= 100 {
                assert_eq!(list.pop_back(), Some((i - 100).to_le_bytes().to_vec()));
            }
        }
        assert_eq!(list.len(), 100);
        assert!(heap_bytes(&list) < 2 * CHUNK_BYTES);
    }

    #[test]
    fn inserts_split_full_chunks() {
        let mut list: PackedList = (0..1000u16).map(|i| [i as u8; 60]).collect();
        let mut model: VecDeque<Vec<u8>> = list.iter().map(<[u8]>::to_vec).collect();
        for (at, e) in [(500, &b"mid"[..]), (0, b""), (1, b"x"), (1002, b"end"), (124, &[9; 200])] {
            list.insert(at, e);
            model.insert(at, e.to_vec());
            assert_matches(&list, &model);
        }
        assert!(list.set(3, &[1; 9000]));
        model[3] = vec![1; 9000];
        assert!(!list.set(model.len(), b"none"));
        assert_matches(&list, &model);
    }

    #[test]
    fn removals_by_value_count_from_either_end() {
        let mut list: PackedList = [&b"a"[..], b"b", b"a", b"c", b"a"].into_iter().collect();
        assert_eq!(list.remove_last(b"a", 2), 2);
        assert_matches(&list, &model_of(&[b"a", b"b", b"c"]));
        assert_eq!(list.remove_first(b"a", usize::MAX), 1);
        assert_eq!(list.remove_first(b"z", 1), 0);
        assert_matches(&list, &model_of(&[b"b", b"c"]));
        list.clear();
        assert!(list.is_empty());
        assert_eq!(format!("{list:?}"), "[]");
    }

    #[derive(Clone, Debug)]
    enum Op {
        Push { front: bool, element: Vec<u8>, times: usize },
        Pop { front: bool },
        RemoveFront(usize),
        Truncate(usize),
        Insert(usize, Vec<u8>),
        Set(usize, Vec<u8>),
        RemoveMatching { last: bool, x: Vec<u8>, limit: usize },
        Clear,
    }

    fn element() -> impl Strategy<Value = Vec<u8>> {
        let few = [&b""[..], b"\0", b"\xff", b"a", b"\x80\xff", &[b'x'; 127], &[b'x'; 128]];
        prop_oneof![
            3 => proptest::sample::select(few.map(<[u8]>::to_vec).to_vec()),
            2 => proptest::collection::vec(any::<u8>(), 0..300),
        ]
    }

    fn op() -> impl Strategy<Value = Op> {
        let times = prop_oneof![6 => Just(1usize), 1 => 1usize..200];
        let limit = prop_oneof![3 => 0usize..4, 1 => Just(usize::MAX)];
        prop_oneof![
            8 => (any::<bool>(), element(), times).prop_map(|(front, element, times)| Op::Push { front, element, times }),
            4 => any::<bool>().prop_map(|front| Op::Pop { front }),
            1 => (0usize..300).prop_map(Op::RemoveFront),
            1 => any::<usize>().prop_map(Op::Truncate),
            2 => (any::<usize>(), element()).prop_map(|(at, e)| Op::Insert(at, e)),
            2 => (any::<usize>(), element()).prop_map(|(at, e)| Op::Set(at, e)),
            1 => (any::<bool>(), element(), limit).prop_map(|(last, x, limit)| Op::RemoveMatching { last, x, limit }),
            1 => Just(Op::Clear),
        ]
    }

    /// Applies `op` to both; asserts they return the same.
    fn apply(op: Op, list: &mut PackedList, model: &mut VecDeque<Vec<u8>>) {
        let len = model.len();
        match op {
            Op::Push { front, element, times } => {
                for i in 0..times {
                    let mut e = element.clone();
                    e.extend(std::iter::repeat_n(i as u8, usize::from(i > 0)));
                    if front {
                        list.push_front(&e);
                        model.push_front(e);
                    } else {
                        list.push_back(&e);
                        model.push_back(e);
                    }
                }
            }
            Op::Pop { front: true } => assert_eq!(list.pop_front(), model.pop_front()),
            Op::Pop { front: false } => assert_eq!(list.pop_back(), model.pop_back()),
            Op::RemoveFront(n) => {
                list.remove_front(n);
                model.drain(..n.min(len));
            }
            Op::Truncate(keep) => {
                list.truncate(keep % (len + 1));
                model.truncate(keep % (len + 1));
            }
            Op::Insert(at, e) => {
                list.insert(at % (len + 1), &e);
                model.insert(at % (len + 1), e);
            }
            Op::Set(at, e) => {
                let at = at % (len + 2);
                assert_eq!(list.set(at, &e), at < len);
                if let Some(slot) = model.get_mut(at) {
                    *slot = e;
                }
            }
            Op::RemoveMatching { last, x, limit } => {
                let removed = if last { list.remove_last(&x, limit) } else { list.remove_first(&x, limit) };
                assert_eq!(removed, remove_from_model(model, &x, limit, last));
            }
            Op::Clear => {
                list.clear();
                model.clear();
            }
        }
    }

    fn remove_from_model(model: &mut VecDeque<Vec<u8>>, x: &[u8], limit: usize, last: bool) -> usize {
        if last {
            model.make_contiguous().reverse();
        }
        let mut removed = 0;
        model.retain(|e| {
            let remove = removed < limit && e == x;
            removed += usize::from(remove);
            !remove
        });
        if last {
            model.make_contiguous().reverse();
        }
        removed
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(128))]
        #[test]
        fn agrees_with_a_deque_of_vectors(ops in proptest::collection::vec(op(), 1..300)) {
            let (mut list, mut model) = (PackedList::new(), VecDeque::new());
            for op in ops {
                apply(op, &mut list, &mut model);
                assert_matches(&list, &model);
            }
            prop_assert_eq!(list.clone(), model.iter().collect::<PackedList>());
        }
    }
}
