//! Vector sets (Redis 8's `vectorset` module type), kept as a server keeps them: each
//! element's vector projected, normalized and quantized by the same float arithmetic, with
//! its length and quantization range, so that the output holds exactly the server's vectors.
//!
//! A server keeps its vectors inside an HNSW graph whose shape depends on random levels (a
//! server reloading its own AOF builds another). The graph is not kept here: it is built when
//! a set is written ([`graph`]), and the set goes out in the module's own serialized form
//! ([`module_form`]) — in an RDB file, or in a `RESTORE` payload in RESP.

mod distance;
mod graph;
mod module_form;

use rustc_hash::FxHashMap;

/// How a vector set stores its vectors (`VADD … Q8|NOQUANT|BIN`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Quantization {
    /// 8-bit integers (the default).
    #[default]
    Q8,
    /// 32-bit floats.
    None,
    /// One bit per component.
    Binary,
}

impl Quantization {
    /// The `VADD` option naming it.
    pub fn option(self) -> &'static [u8] {
        match self {
            Quantization::Q8 => b"Q8",
            Quantization::None => b"NOQUANT",
            Quantization::Binary => b"BIN",
        }
    }

    /// The module's code for it in its serialized form.
    fn code(self) -> u64 {
        match self {
            Quantization::None => 0,
            Quantization::Q8 => 1,
            Quantization::Binary => 2,
        }
    }

    fn from_code(code: u64) -> Option<Quantization> {
        [Quantization::None, Quantization::Q8, Quantization::Binary].into_iter().find(|q| q.code() == code)
    }

    /// Bytes of a stored vector of `dim` components.
    pub fn stored_len(self, dim: u32) -> usize {
        let dim = dim as usize;
        match self {
            Quantization::Q8 => dim,
            Quantization::None => 4 * dim,
            Quantization::Binary => dim.div_ceil(64) * 8,
        }
    }
}

/// The module type name vector sets are saved under in RDB files.
pub const VECTOR_SET_MODULE: &str = "vectorset";

/// The servers' default HNSW `M` (links per node and level).
pub const DEFAULT_M: u32 = 16;

/// A vector set.
#[derive(Clone, Debug, PartialEq)]
pub struct VectorSet {
    /// Components of the vectors `VADD` takes.
    pub dim: u32,
    /// Components kept after a random projection (`VADD … REDUCE n`), when there is one.
    pub reduce: Option<u32>,
    /// How vectors are stored.
    pub quantization: Quantization,
    /// HNSW `M`.
    pub m: u32,
    /// Elements by name.
    pub elements: FxHashMap<Box<[u8]>, VectorElement>,
}

/// An element's vector as the server stores it, and its attributes.
#[derive(Clone, Debug)]
pub struct VectorElement {
    /// The normalized vector, quantized: `Q8` one signed byte per component, `BIN` sign bits
    /// in little-endian 64-bit words, `NOQUANT` little-endian 32-bit floats.
    pub stored: Box<[u8]>,
    /// The vector's length before normalization (1 for a zero vector).
    pub l2: f32,
    /// The largest absolute component of the normalized vector (`Q8` only; 0 otherwise).
    pub range: f32,
    /// The attributes (JSON text as given), when set.
    pub attributes: Option<Box<[u8]>>,
}

/// Elements are equal when their stored bits are (a NaN length equals itself).
impl PartialEq for VectorElement {
    fn eq(&self, other: &Self) -> bool {
        self.stored == other.stored
            && self.l2.to_bits() == other.l2.to_bits()
            && self.range.to_bits() == other.range.to_bits()
            && self.attributes == other.attributes
    }
}

impl VectorSet {
    /// Components of the stored vectors.
    pub fn stored_dim(&self) -> u32 {
        self.reduce.unwrap_or(self.dim)
    }

    /// `given` (the `dim` components `VADD` takes) as this set stores it: projected when the
    /// set reduces, normalized, quantized — with the server's float operations in its order.
    pub fn store(&self, given: &[f32]) -> (Box<[u8]>, f32, f32) {
        let mut x = match self.reduce {
            Some(n) => project(given, n),
            None => given.to_vec(),
        };
        let l2 = normalize(&mut x);
        let (stored, range) = match self.quantization {
            Quantization::None => (x.iter().flat_map(|c| c.to_le_bytes()).collect(), 0.0),
            Quantization::Q8 => quantize_q8(&x),
            Quantization::Binary => (quantize_bin(&x), 0.0),
        };
        (stored, l2, range)
    }

    /// An element's vector as `VEMB` shows it: dequantized and scaled back by its length.
    pub fn approximate(&self, e: &VectorElement) -> Vec<f32> {
        match self.quantization {
            Quantization::None => e.stored.chunks_exact(4).map(|c| f32_at(c) * e.l2).collect(),
            Quantization::Q8 => {
                e.stored.iter().map(|&q| (f32::from(q as i8) * e.range) / 127.0 * e.l2).collect()
            }
            Quantization::Binary => (0..self.stored_dim() as usize)
                .map(|j| if e.stored[j / 8] >> (j % 8) & 1 == 1 { 1.0 } else { -1.0 })
                .collect(),
        }
    }
}

/// The little-endian float in the first 4 bytes of `b`.
fn f32_at(b: &[u8]) -> f32 {
    f32::from_le_bytes([b[0], b[1], b[2], b[3]])
}

/// Weight of the projection's row `i`, column `j`: the Hadamard pattern, `±1/√input_dim`.
fn projection_weight(i: usize, j: usize, scale: f32) -> f32 {
    if (i & j).count_ones().is_multiple_of(2) { scale } else { -scale }
}

/// The scale of the projection's weights for `input_dim` inputs (computed in double, kept as
/// a float).
fn projection_scale(input_dim: usize) -> f32 {
    (1.0 / (input_dim as f64).sqrt()) as f32
}

/// The first `out` rows of the projection applied to `input`: each a float sum in column
/// order.
fn project(input: &[f32], out: u32) -> Vec<f32> {
    let scale = projection_scale(input.len());
    (0..out as usize)
        .map(|i| {
            input.iter().enumerate().fold(0.0f32, |sum, (j, x)| sum + projection_weight(i, j, scale) * x)
        })
        .collect()
}

/// Divides `x` by its length and returns the length; a zero vector stays and has length 1.
/// Squares are summed four at a time, as the server sums them.
fn normalize(x: &mut [f32]) -> f32 {
    let mut chunks = x.chunks_exact(4);
    let mut sum = 0.0f32;
    for c in &mut chunks {
        sum += c[0] * c[0] + c[1] * c[1] + c[2] * c[2] + c[3] * c[3];
    }
    for c in chunks.remainder() {
        sum += c * c;
    }
    if sum == 0.0 {
        return 1.0;
    }
    let l2 = sum.sqrt();
    x.iter_mut().for_each(|c| *c /= l2);
    l2
}

/// Q8: each component scaled by `127 / max |x|` and rounded half away from zero; returns the
/// bytes and `max |x|` (0, with zero bytes, for a zero vector).
fn quantize_q8(x: &[f32]) -> (Box<[u8]>, f32) {
    let max = x.iter().fold(0.0f32, |max, &c| {
        if c > max {
            c
        } else if -c > max {
            -c
        } else {
            max
        }
    });
    if max == 0.0 {
        return (vec![0; x.len()].into(), 0.0);
    }
    let scale = 127.0f32 / max;
    (x.iter().map(|c| (c * scale).round() as i8 as u8).collect(), max)
}

/// BIN: bit `j` of the little-endian 64-bit words set when component `j` is positive.
fn quantize_bin(x: &[f32]) -> Box<[u8]> {
    let mut words = vec![0u8; x.len().div_ceil(64) * 8];
    for (j, &c) in x.iter().enumerate() {
        if c > 0.0 {
            words[j / 8] |= 1 << (j % 8);
        }
    }
    words.into()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(dim: u32, reduce: Option<u32>, quantization: Quantization) -> VectorSet {
        VectorSet { dim, reduce, quantization, m: DEFAULT_M, elements: Default::default() }
    }

    #[test]
    fn q8_scales_the_normalized_vector_to_127_and_keeps_its_length_and_range() {
        let (stored, l2, range) = set(2, None, Quantization::Q8).store(&[3.0, -4.0]);
        assert_eq!(l2, 5.0);
        assert_eq!(range, 0.8);
        assert_eq!(*stored, [95u8, (-127i8) as u8], "0.6 * 127 / 0.8 = 95.25");
    }

    #[test]
    fn a_zero_vector_keeps_length_one_and_range_zero() {
        for q in [Quantization::Q8, Quantization::None, Quantization::Binary] {
            let (stored, l2, range) = set(3, None, q).store(&[0.0, -0.0, 0.0]);
            assert_eq!((l2, range), (1.0, 0.0));
            assert_eq!(stored.len(), q.stored_len(3));
            assert!(stored.iter().all(|&b| b == 0) || q == Quantization::None);
        }
    }

    #[test]
    fn bin_sets_the_bits_of_positive_components_in_64_bit_words() {
        let mut given = vec![-1.0f32; 70];
        given[0] = 1.0;
        given[65] = 2.0;
        let (stored, _, _) = set(70, None, Quantization::Binary).store(&given);
        assert_eq!(stored.len(), 16);
        assert_eq!((stored[0], stored[8]), (1, 2));
    }

    #[test]
    fn the_projection_is_the_scaled_hadamard_pattern() {
        let projected = project(&[1.0, 2.0, 3.0, 4.0], 2);
        assert_eq!(projected, [10.0 * 0.5, (1.0 - 2.0 + 3.0 - 4.0) * 0.5]);
    }

    #[test]
    fn vemb_approximation_scales_back_by_range_and_length() {
        let s = set(2, None, Quantization::Q8);
        let (stored, l2, range) = s.store(&[3.0, -4.0]);
        let e = VectorElement { stored, l2, range, attributes: None };
        let v = s.approximate(&e);
        assert!((v[0] - 3.0).abs() < 0.05 && (v[1] + 4.0).abs() < 1e-5, "{v:?}");
    }
}
