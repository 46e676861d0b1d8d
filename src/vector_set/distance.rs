//! Distances between stored vectors (1 - cosine similarity, as the module defines them),
//! compiled for the CPU's widest vector instructions and chosen when first called.

use multiversion::multiversion;

use super::Quantization;

/// The distance between two stored vectors of `dim` components; `range_*` are their Q8 ranges.
pub(super) fn distance(
    q: Quantization,
    dim: u32,
    (x, range_x): (&[u8], f32),
    (y, range_y): (&[u8], f32),
) -> f32 {
    match q {
        Quantization::Q8 => {
            if range_x == 0.0 || range_y == 0.0 {
                return 1.0;
            }
            (1.0 - dot_q8(x, y) as f32 * (range_x / 127.0) * (range_y / 127.0)).clamp(0.0, 2.0)
        }
        Quantization::None => 1.0 - dot_f32(x, y),
        Quantization::Binary => 2.0 * differing_bits(x, y) as f32 / dim as f32,
    }
}

/// The dot product of two vectors of signed bytes.
#[multiversion(targets("x86_64+avx2", "x86_64+sse4.1"))]
fn dot_q8(x: &[u8], y: &[u8]) -> i32 {
    x.iter().zip(y).map(|(&p, &q)| i32::from(p as i8) * i32::from(q as i8)).sum()
}

/// The dot product of two vectors of little-endian floats, summed in 8 lanes.
#[multiversion(targets("x86_64+avx2+fma", "x86_64+sse4.1"))]
fn dot_f32(x: &[u8], y: &[u8]) -> f32 {
    let float = |b: &[u8]| f32::from_le_bytes([b[0], b[1], b[2], b[3]]);
    let mut lanes = [0.0f32; 8];
    let (whole_x, whole_y) = (x.chunks_exact(32), y.chunks_exact(32));
    let tail: f32 = whole_x
        .remainder()
        .chunks_exact(4)
        .zip(whole_y.remainder().chunks_exact(4))
        .map(|(p, q)| float(p) * float(q))
        .sum();
    for (p, q) in whole_x.zip(whole_y) {
        for (k, lane) in lanes.iter_mut().enumerate() {
            *lane += float(&p[4 * k..]) * float(&q[4 * k..]);
        }
    }
    lanes.iter().sum::<f32>() + tail
}

/// Bits that differ between two bit vectors of little-endian 64-bit words.
#[multiversion(targets("x86_64+avx2+popcnt", "x86_64+popcnt"))]
fn differing_bits(x: &[u8], y: &[u8]) -> u32 {
    let word = |b: &[u8]| u64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]);
    x.chunks_exact(8).zip(y.chunks_exact(8)).map(|(p, q)| (word(p) ^ word(q)).count_ones()).sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kernels_agree_with_plain_arithmetic() {
        let x: Vec<u8> = (0..100u32).map(|i| (i * 37 % 255) as u8).collect();
        let y: Vec<u8> = (0..100u32).map(|i| (i * 91 % 253) as u8).collect();
        let plain: i32 = x.iter().zip(&y).map(|(&p, &q)| i32::from(p as i8) * i32::from(q as i8)).sum();
        assert_eq!(dot_q8(&x, &y), plain);
        let floats =
            |v: &[u8]| -> Vec<u8> { v.iter().flat_map(|&b| (f32::from(b) / 256.0).to_le_bytes()).collect() };
        let want: f32 = x.iter().zip(&y).map(|(&p, &q)| f32::from(p) / 256.0 * (f32::from(q) / 256.0)).sum();
        assert!((dot_f32(&floats(&x), &floats(&y)) - want).abs() < 1e-3);
        let differing: u32 = x.iter().zip(&y).take(96).map(|(p, q)| (p ^ q).count_ones()).sum();
        assert_eq!(differing_bits(&x[..96], &y[..96]), differing);
    }

    #[test]
    fn a_zero_q8_vector_is_at_distance_one_and_opposites_at_two() {
        let v = [127u8, 0];
        let opposite = [(-127i8) as u8, 0];
        assert_eq!(distance(Quantization::Q8, 2, (&v, 0.0), (&v, 1.0)), 1.0);
        assert_eq!(distance(Quantization::Q8, 2, (&v, 1.0), (&opposite, 1.0)), 2.0);
        assert_eq!(distance(Quantization::Binary, 64, (&[0; 8], 0.0), (&[0xff; 8], 0.0)), 2.0);
    }
}
