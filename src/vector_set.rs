//! Vector sets (Redis 8's `vectorset` module type) as the commands that built them leave them:
//! each element's vector as it was given, not as the server stores it.
//!
//! A server keeps a vector normalized and quantized, inside an HNSW graph whose shape depends
//! on random levels; its RDB form holds that graph. What decides a vector set's contents (and
//! its `DEBUG DIGEST`) is each element's vector as given, its attributes and the set's
//! settings: a server given the same `VADD`s quantizes the same vectors the same way. So a
//! vector set built from a log is written back as `VADD` commands, and has no RDB form here.

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
}

/// The module type name vector sets are saved under in RDB files.
pub const VECTOR_SET_MODULE: &str = "vectorset";

/// The servers' default HNSW `M` (links per node and level).
pub const DEFAULT_M: u32 = 16;

/// A vector set.
#[derive(Clone, Debug, PartialEq, Eq)]
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

impl VectorSet {
    /// A set with this one's settings holding `elements`.
    pub fn with_elements(&self, elements: impl IntoIterator<Item = (Box<[u8]>, VectorElement)>) -> VectorSet {
        VectorSet {
            dim: self.dim,
            reduce: self.reduce,
            quantization: self.quantization,
            m: self.m,
            elements: elements.into_iter().collect(),
        }
    }
}

/// An element's vector and attributes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VectorElement {
    /// The vector as given (before any projection): `dim` little-endian 32-bit floats, as
    /// `VADD … FP32` takes them.
    pub vector: Box<[u8]>,
    /// The attributes (JSON text as given), when set.
    pub attributes: Option<Box<[u8]>>,
}
