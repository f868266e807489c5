//! Activation patterns as bitsets over all hidden neurons, layer by layer (bit = active).

/// Number of u64 words for `n` bits.
pub fn words(n: usize) -> usize {
    n.div_ceil(64).max(1)
}

pub fn get(bits: &[u64], i: usize) -> bool {
    bits[i / 64] >> (i % 64) & 1 == 1
}

pub fn set(bits: &mut [u64], i: usize, value: bool) {
    if value {
        bits[i / 64] |= 1 << (i % 64);
    } else {
        bits[i / 64] &= !(1 << (i % 64));
    }
}

/// The pattern as a string of '0'/'1', neuron order layer by layer.
pub fn to_string(bits: &[u64], n: usize) -> String {
    (0..n)
        .map(|i| if get(bits, i) { '1' } else { '0' })
        .collect()
}

/// Parses a '0'/'1' string of length `n`.
pub fn from_str(s: &str, n: usize) -> Option<Vec<u64>> {
    if s.len() != n {
        return None;
    }
    let mut bits = vec![0u64; words(n)];
    for (i, c) in s.bytes().enumerate() {
        match c {
            b'1' => set(&mut bits, i, true),
            b'0' => {}
            _ => return None,
        }
    }
    Some(bits)
}
