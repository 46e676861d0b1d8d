//! The HNSW graph a vector set is written with: built here, since a server's graph depends
//! on random levels and is not part of the data (`DEBUG DIGEST` leaves it out).
//!
//! What a loading server requires of it: links only to other nodes present on that layer,
//! no duplicates, every link matched by one back (the module checks this), at most its
//! `max_links` per node and layer. What searches need of it: the usual HNSW shape — nodes
//! on geometrically fewer upper layers, each linked to near and diverse neighbours. Links
//! are added and dropped in pairs, so they stay reciprocal.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use super::Quantization;
use super::distance::distance;

/// Probability that a node also lives on the next layer up.
const LEVEL_UP: f64 = 0.25;
/// Highest layer.
const MAX_LEVEL: u8 = 16;
/// Candidates searched per layer while inserting (the module's default `EF`).
const EF_CONSTRUCTION: usize = 200;

/// Stored vectors, and the distance between them.
pub(super) struct Space<'v> {
    /// How vectors are stored.
    pub quantization: Quantization,
    /// Stored components.
    pub dim: u32,
    /// Each node's stored vector and quantization range.
    pub vectors: Vec<(&'v [u8], f32)>,
}

impl Space<'_> {
    fn distance(&self, a: u32, b: u32) -> f32 {
        distance(self.quantization, self.dim, self.vectors[a as usize], self.vectors[b as usize])
    }
}

/// Nodes `0..n` with their levels and links per layer.
pub(super) struct Graph {
    /// Links of each node on each of its layers (layer 0 first).
    links: Vec<Box<[Vec<u32>]>>,
    m: usize,
}

impl Graph {
    /// The most links a node keeps on `layer`.
    pub fn max_links(&self, layer: usize) -> usize {
        if layer == 0 { 2 * self.m } else { self.m }
    }

    /// Nodes.
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.links.len()
    }

    /// The highest layer of `node`.
    pub fn level(&self, node: usize) -> usize {
        self.links[node].len() - 1
    }

    /// The nodes `node` links to on `layer`.
    pub fn links(&self, node: usize, layer: usize) -> &[u32] {
        &self.links[node][layer]
    }

    /// Inserts the nodes of `space` one after the other, with levels from a fixed seed (so the
    /// same set is written the same way every time).
    pub fn build(space: &Space<'_>, m: u32) -> Graph {
        let n = space.vectors.len();
        let mut builder = Builder {
            space,
            graph: Graph { links: Vec::with_capacity(n), m: m as usize },
            visited: vec![0; n],
            epoch: 0,
            entry: None,
            random: SplitMix(0x5eed ^ n as u64),
        };
        (0..n as u32).for_each(|node| builder.insert(node));
        builder.graph
    }
}

/// A candidate: its distance to the node searched for, and its number.
#[derive(Clone, Copy, PartialEq)]
struct Near(f32, u32);

impl Eq for Near {}

impl Ord for Near {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.0.total_cmp(&other.0).then(self.1.cmp(&other.1))
    }
}

impl PartialOrd for Near {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

struct Builder<'s, 'v> {
    space: &'s Space<'v>,
    graph: Graph,
    /// The search epoch in which each node was last reached.
    visited: Vec<u32>,
    epoch: u32,
    /// The node on the highest layer.
    entry: Option<u32>,
    random: SplitMix,
}

impl Builder<'_, '_> {
    fn insert(&mut self, node: u32) {
        let level = self.random_level();
        let layers: Vec<Vec<u32>> =
            (0..=level).map(|l| Vec::with_capacity(self.graph.max_links(l))).collect();
        self.graph.links.push(layers.into());
        let Some(mut entry) = self.entry else {
            self.entry = Some(node);
            return;
        };
        let top = self.graph.level(entry as usize);
        for layer in (level + 1..=top).rev() {
            entry = self.search(node, entry, 1, layer)[0].1;
        }
        for layer in (0..=level.min(top)).rev() {
            let candidates = self.search(node, entry, EF_CONSTRUCTION, layer);
            self.connect(node, &candidates, layer);
            entry = candidates[0].1;
        }
        if level > top {
            self.entry = Some(node);
        }
    }

    fn random_level(&mut self) -> usize {
        let mut level = 0;
        while level < MAX_LEVEL && self.random.unit() < LEVEL_UP {
            level += 1;
        }
        usize::from(level)
    }

    /// The `ef` nodes nearest to `node` found on `layer` from `entry`, nearest first.
    fn search(&mut self, node: u32, entry: u32, ef: usize, layer: usize) -> Vec<Near> {
        self.epoch += 1;
        let first = Near(self.space.distance(node, entry), entry);
        self.visited[entry as usize] = self.epoch;
        let mut frontier = BinaryHeap::from([Reverse(first)]);
        let mut found = BinaryHeap::from([first]);
        while let Some(Reverse(current)) = frontier.pop() {
            if found.len() >= ef && found.peek().is_some_and(|far| current.0 > far.0) {
                break;
            }
            for &next in self.graph.links(current.1 as usize, layer) {
                if std::mem::replace(&mut self.visited[next as usize], self.epoch) == self.epoch {
                    continue;
                }
                let near = Near(self.space.distance(node, next), next);
                if found.len() < ef || found.peek().is_some_and(|far| near.0 < far.0) {
                    frontier.push(Reverse(near));
                    found.push(near);
                    if found.len() > ef {
                        found.pop();
                    }
                }
            }
        }
        found.into_sorted_vec()
    }

    /// Links `node` to up to `M` of `candidates` on `layer`: first near ones that no neighbour
    /// already taken is nearer to; then, if that left it with fewer than `M / 2`, any near ones
    /// up to `M`.
    fn connect(&mut self, node: u32, candidates: &[Near], layer: usize) {
        let m = self.graph.m;
        for &Near(distance, candidate) in candidates {
            if self.graph.links(node as usize, layer).len() >= m {
                return;
            }
            let diverse = self
                .graph
                .links(node as usize, layer)
                .iter()
                .all(|&taken| self.space.distance(candidate, taken) >= distance);
            if diverse {
                self.link(node, candidate, distance, layer, true);
            }
        }
        if self.graph.links(node as usize, layer).len() >= m / 2 {
            return;
        }
        for &Near(distance, candidate) in candidates {
            if self.graph.links(node as usize, layer).len() >= m {
                return;
            }
            if !self.graph.links(node as usize, layer).contains(&candidate) {
                self.link(node, candidate, distance, layer, false);
            }
        }
    }

    /// Links `node` and `candidate` both ways. A candidate with no room drops its farthest
    /// link for this one — when the new link is nearer (`strict`) and the dropped node keeps
    /// enough links.
    fn link(&mut self, node: u32, candidate: u32, distance: f32, layer: usize, strict: bool) {
        let c = candidate as usize;
        if self.graph.links(c, layer).len() >= self.graph.max_links(layer) {
            let Some((slot, far, far_distance)) = self.farthest(candidate, layer) else { return };
            let keeps = if strict { self.graph.m / 2 } else { self.graph.m / 4 };
            if (strict && distance >= far_distance) || self.graph.links(far as usize, layer).len() <= keeps {
                return;
            }
            self.graph.links[far as usize][layer].retain(|&l| l != candidate);
            self.graph.links[c][layer].swap_remove(slot);
        }
        self.graph.links[c][layer].push(node);
        self.graph.links[node as usize][layer].push(candidate);
    }

    /// The link of `node` on `layer` farthest from it: its slot, number and distance.
    fn farthest(&self, node: u32, layer: usize) -> Option<(usize, u32, f32)> {
        let links = self.graph.links(node as usize, layer);
        let distances = links.iter().map(|&l| self.space.distance(node, l));
        let (slot, distance) = distances.enumerate().max_by(|a, b| a.1.total_cmp(&b.1))?;
        Some((slot, links[slot], distance))
    }
}

/// SplitMix64: a small, fixed-seed source of levels.
struct SplitMix(u64);

impl SplitMix {
    /// A number in `[0, 1)`.
    fn unit(&mut self) -> f64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^= z >> 31;
        (z >> 11) as f64 / (1u64 << 53) as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `n` random 16-component vectors, normalized and quantized to Q8.
    fn vectors(n: usize) -> Vec<(Box<[u8]>, f32)> {
        let mut random = SplitMix(7);
        (0..n)
            .map(|_| {
                let mut x: Vec<f32> = (0..16).map(|_| random.unit() as f32 - 0.5).collect();
                super::super::normalize(&mut x);
                super::super::quantize_q8(&x)
            })
            .collect()
    }

    fn space(vectors: &[(Box<[u8]>, f32)]) -> Space<'_> {
        Space {
            quantization: Quantization::Q8,
            dim: 16,
            vectors: vectors.iter().map(|(v, r)| (&v[..], *r)).collect(),
        }
    }

    #[test]
    fn links_are_reciprocal_unique_within_bounds_and_on_layers_both_nodes_have() {
        let vectors = vectors(3000);
        let space = space(&vectors);
        let graph = Graph::build(&space, 8);
        assert!((0..graph.len()).any(|n| graph.level(n) > 0));
        for n in 0..graph.len() {
            for layer in 0..=graph.level(n) {
                let links = graph.links(n, layer);
                assert!(links.len() <= graph.max_links(layer));
                let mut sorted = links.to_vec();
                sorted.sort_unstable();
                sorted.dedup();
                assert_eq!(sorted.len(), links.len(), "duplicate link at {n}/{layer}");
                for &l in links {
                    assert_ne!(l as usize, n);
                    assert!(graph.level(l as usize) >= layer);
                    assert!(
                        graph.links(l as usize, layer).contains(&(n as u32)),
                        "{n} -> {l} has no link back"
                    );
                }
            }
        }
    }

    #[test]
    fn a_search_from_the_top_finds_each_node_itself() {
        let vectors = vectors(2000);
        let space = space(&vectors);
        let graph = Graph::build(&space, 16);
        let entry = (0..graph.len()).max_by_key(|&n| (graph.level(n), Reverse(n))).unwrap() as u32;
        let mut builder = Builder {
            space: &space,
            graph,
            visited: vec![0; 2000],
            epoch: 0,
            entry: Some(entry),
            random: SplitMix(0),
        };
        let found = (0..2000u32)
            .filter(|&node| {
                let mut at = entry;
                for layer in (1..=builder.graph.level(entry as usize)).rev() {
                    at = builder.search(node, at, 1, layer)[0].1;
                }
                builder.search(node, at, 50, 0).iter().any(|near| near.1 == node)
            })
            .count();
        assert!(found >= 1980, "recall {found}/2000");
    }
}
