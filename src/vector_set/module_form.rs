//! The `vectorset` module's serialized form (encoding version 0), as module items: the set's
//! settings, the projection matrix when it reduces, then per element its name, attributes,
//! stored vector and HNSW node parameters (id, level, links per layer, length and range).

use super::graph::{Graph, Space};
use super::{Quantization, VECTOR_SET_MODULE, VectorElement, VectorSet, projection_scale, projection_weight};
use crate::cursor::Cursor;
use crate::error::Result;
use crate::rdb::RdbStr;
use crate::rdb::module::{ModuleValue, module_id};
use crate::rdb::string::read_len;
use crate::rdb::write::primitive::{put_len, put_string};

const OPCODE_EOF: u64 = 0;
const OPCODE_UINT: u64 = 2;
const OPCODE_STRING: u64 = 5;

/// Save flags: a projection matrix follows; each element has an attributes string.
const HAS_PROJECTION: u64 = 1;
const HAS_ATTRIBUTES: u64 = 2;

/// Node parameter word 2: level in the low byte, serialization version in the high byte of
/// its low 32 bits. Version 0 leaves out each layer's worst-link word (the loader computes it).
const NODE_VERSION_SHIFT: u32 = 24;
/// Highest node serialization version read.
const NODE_VERSION_MAX: u64 = 1;
/// Largest `max_links` the loader takes (4 × its largest `M`).
const MAX_LINKS_LIMIT: u64 = 4 * 4096;
/// Largest dimension the loader takes.
const MAX_DIM: u64 = 1 << 16;

impl VectorSet {
    /// The set in the module's serialized form, with an HNSW graph built for it.
    pub fn to_module_value(&self) -> ModuleValue<'static> {
        let elements: Vec<(&[u8], &VectorElement)> = self.elements.iter().map(|(n, e)| (&n[..], e)).collect();
        let space = Space {
            quantization: self.quantization,
            dim: self.stored_dim(),
            vectors: elements.iter().map(|(_, e)| (&e.stored[..], e.range)).collect(),
        };
        let graph = Graph::build(&space, self.m);
        let mut out = Vec::new();
        let uint = |out: &mut Vec<u8>, v: u64| {
            put_len(out, OPCODE_UINT);
            put_len(out, v);
        };
        let string = |out: &mut Vec<u8>, s: &[u8]| {
            put_len(out, OPCODE_STRING);
            put_string(out, s);
        };
        uint(&mut out, u64::from(self.stored_dim()));
        uint(&mut out, elements.len() as u64);
        uint(&mut out, self.quantization.code() | u64::from(self.m) << 8);
        let attributes = elements.iter().any(|(_, e)| e.attributes.is_some());
        let flags = if self.reduce.is_some() { HAS_PROJECTION } else { 0 }
            | if attributes { HAS_ATTRIBUTES } else { 0 };
        uint(&mut out, flags);
        if self.reduce.is_some() {
            uint(&mut out, u64::from(self.dim));
            string(&mut out, &projection_matrix(self.dim, self.stored_dim()));
        }
        for (node, (name, e)) in elements.iter().enumerate() {
            string(&mut out, name);
            if attributes {
                string(&mut out, e.attributes.as_deref().unwrap_or_default());
            }
            string(&mut out, &e.stored);
            let params = node_params(&graph, node, e);
            uint(&mut out, params.len() as u64);
            params.into_iter().for_each(|p| uint(&mut out, p));
        }
        put_len(&mut out, OPCODE_EOF);
        let id = module_id(VECTOR_SET_MODULE, 0).expect("a 9-character module name");
        ModuleValue { id, payload: out.into() }
    }

    /// Decodes a `vectorset` module value: its settings, and each element's stored vector,
    /// length, range and attributes. The graph is checked for shape (as the loader reads it)
    /// and left behind; a projection other than the module's own pattern is refused.
    ///
    /// # Errors
    /// A payload that is not the module's form, at the offset where it goes wrong.
    pub fn from_module_value(value: &ModuleValue<'_>, offset: u64) -> Result<VectorSet> {
        let mut cur = Cursor::new(&value.payload, offset);
        let mut r = Items(&mut cur);
        if value.encver() != 0 {
            return Err(r.0.invalid("vectorset encoding version", "0", value.encver()));
        }
        let stored_dim = r.uint("vector dimension", 1..=MAX_DIM)?;
        let count = r.uint("element count", 0..=u64::MAX)?;
        let config = r.uint("quantization and M", 0..=u64::from(u32::MAX))?;
        let quantization = Quantization::from_code(config & 0xff)
            .ok_or_else(|| r.0.invalid("quantization", "0, 1 or 2", config & 0xff))?;
        let m = match (config >> 8) & 0xffff {
            0 => super::DEFAULT_M,
            m => m as u32,
        };
        let flags = r.uint("save flags", 0..=u64::from(u32::MAX))?;
        let dim = if flags & HAS_PROJECTION != 0 {
            let input = r.uint("projection input dimension", stored_dim..=MAX_DIM)?;
            let matrix = r.string("projection matrix")?;
            if *matrix != *projection_matrix(input as u32, stored_dim as u32) {
                return Err(r.0.invalid(
                    "projection matrix",
                    "the module's Hadamard pattern",
                    "other weights",
                ));
            }
            input as u32
        } else {
            stored_dim as u32
        };
        let mut set = VectorSet {
            dim,
            reduce: (flags & HAS_PROJECTION != 0).then_some(stored_dim as u32),
            quantization,
            m,
            elements: Default::default(),
        };
        for _ in 0..count {
            let name = r.string("element")?;
            let attributes = if flags & HAS_ATTRIBUTES != 0 { Some(r.string("attributes")?) } else { None };
            let stored = r.string("vector")?;
            if stored.len() != quantization.stored_len(set.stored_dim()) {
                return Err(r.0.invalid("vector", "the set's stored size", stored.len()));
            }
            let (l2, range) = r.node_params()?;
            let attributes = attributes.filter(|a| !a.is_empty());
            let element =
                VectorElement { stored: stored.into(), l2, range, attributes: attributes.map(Into::into) };
            if set.elements.insert(name.into(), element).is_some() {
                return Err(r.0.invalid("element", "a name not seen before in the set", "a repeated name"));
            }
        }
        r.opcode(OPCODE_EOF, "end of module value")?;
        Ok(set)
    }
}

/// The projection's weights, row by row, as little-endian floats.
fn projection_matrix(input_dim: u32, output_dim: u32) -> Vec<u8> {
    let scale = projection_scale(input_dim as usize);
    (0..output_dim as usize)
        .flat_map(|i| (0..input_dim as usize).map(move |j| projection_weight(i, j, scale)))
        .flat_map(f32::to_le_bytes)
        .collect()
}

/// A node's parameters (version 0): id (numbers from 1), level, then per layer the link
/// count, `max_links` and the linked ids, then length and range in one word.
fn node_params(graph: &Graph, node: usize, e: &VectorElement) -> Vec<u64> {
    let level = graph.level(node);
    let mut params = vec![node as u64 + 1, level as u64];
    for layer in 0..=level {
        let links = graph.links(node, layer);
        params.extend([links.len() as u64, graph.max_links(layer) as u64]);
        params.extend(links.iter().map(|&l| u64::from(l) + 1));
    }
    params.push(u64::from(e.range.to_bits()) << 32 | u64::from(e.l2.to_bits()));
    params
}

/// Module items read one by one.
struct Items<'c, 'a>(&'c mut Cursor<'a>);

impl Items<'_, '_> {
    fn opcode(&mut self, want: u64, what: &'static str) -> Result<()> {
        let at = self.0.offset();
        match read_len(self.0)? {
            found if found == want => Ok(()),
            found => Err(self.0.invalid_at(at, what, "its module item opcode", found)),
        }
    }

    fn uint(&mut self, what: &'static str, range: std::ops::RangeInclusive<u64>) -> Result<u64> {
        self.opcode(OPCODE_UINT, what)?;
        let at = self.0.offset();
        let v = read_len(self.0)?;
        if !range.contains(&v) {
            return Err(self.0.invalid_at(at, what, "a value the module loads", v));
        }
        Ok(v)
    }

    fn string(&mut self, what: &'static str) -> Result<Vec<u8>> {
        self.opcode(OPCODE_STRING, what)?;
        RdbStr::read_bytes(self.0).map(|b| b.with_bytes(<[u8]>::to_vec))
    }

    /// Reads a node's parameters as the loader does; returns its length and range.
    fn node_params(&mut self) -> Result<(f32, f32)> {
        let count = self.uint("node parameter count", 3..=u64::from(u32::MAX))?;
        let mut left = count;
        let mut take = |items: &mut Self, what: &'static str| -> Result<u64> {
            left = left
                .checked_sub(1)
                .ok_or_else(|| items.0.invalid(what, "a parameter within the count", "none"))?;
            items.uint(what, 0..=u64::MAX)
        };
        take(self, "node id")?;
        let level_word = take(self, "node level")?;
        let version = (level_word >> NODE_VERSION_SHIFT) & 0xff;
        if version > NODE_VERSION_MAX {
            return Err(self.0.invalid("node serialization version", "0 or 1", version));
        }
        for _ in 0..=(level_word & 0xff) {
            let links = take(self, "layer link count")?;
            let max_links = take(self, "layer max links")?;
            if links > max_links || max_links > MAX_LINKS_LIMIT {
                return Err(self.0.invalid("layer links", "no more than max links, at most 16384", links));
            }
            for _ in 0..links + version {
                take(self, "node link")?;
            }
        }
        let l2_and_range = take(self, "node length and range")?;
        if left != 0 {
            return Err(self.0.invalid("node parameters", "as many as the node's layers take", count));
        }
        Ok((f32::from_bits(l2_and_range as u32), f32::from_bits((l2_and_range >> 32) as u32)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(quantization: Quantization, reduce: Option<u32>) -> VectorSet {
        let mut set = VectorSet { dim: 8, reduce, quantization, m: 4, elements: Default::default() };
        for i in 0..300u32 {
            let given: Vec<f32> = (0..8).map(|j| ((i * 7 + j * 13) % 17) as f32 - 8.0).collect();
            let (stored, l2, range) = set.store(&given);
            let attributes = match i % 3 {
                0 => None,
                1 => Some(format!("{{\"i\":{i}}}").into_bytes().into()),
                _ => Some(Box::default()),
            };
            set.elements
                .insert(format!("e{i}").into_bytes().into(), VectorElement { stored, l2, range, attributes });
        }
        set
    }

    #[test]
    fn the_module_form_reads_back_to_the_same_set_but_empty_attributes() {
        for (q, reduce) in
            [(Quantization::Q8, None), (Quantization::None, Some(3)), (Quantization::Binary, None)]
        {
            let set = sample(q, reduce);
            let decoded = VectorSet::from_module_value(&set.to_module_value(), 0).unwrap();
            let mut expected = set.clone();
            expected
                .elements
                .values_mut()
                .for_each(|e| e.attributes = e.attributes.take().filter(|a| !a.is_empty()));
            assert_eq!(decoded, expected);
        }
    }

    #[test]
    fn damaged_forms_are_refused_with_their_offset() {
        let value = sample(Quantization::Q8, Some(4)).to_module_value();
        for cut in [0, 3, value.payload.len() / 2, value.payload.len() - 1] {
            let damaged = ModuleValue { id: value.id, payload: value.payload[..cut].to_vec().into() };
            assert!(VectorSet::from_module_value(&damaged, 100).is_err(), "cut at {cut}");
        }
        let mut other_matrix = Vec::new();
        for v in [2, 0, 1, HAS_PROJECTION, 4] {
            put_len(&mut other_matrix, OPCODE_UINT);
            put_len(&mut other_matrix, v);
        }
        put_len(&mut other_matrix, OPCODE_STRING);
        put_string(&mut other_matrix, &[0; 32]);
        put_len(&mut other_matrix, OPCODE_EOF);
        let damaged = ModuleValue { id: value.id, payload: other_matrix.into() };
        let e = VectorSet::from_module_value(&damaged, 0).unwrap_err().to_string();
        assert!(e.contains("projection matrix"), "{e}");
    }
}
