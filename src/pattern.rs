//! Activation patterns as bitsets over all hidden neurons, layer by layer (bit = active).

/// Number of u64 words for `n` bits.
pub fn words(n: usize) -> usize {
    n.div_ceil(64).max(1)
}

pub fn get(bits: &[u64], i: usize) -> bool {
    bits[i / 64] >> (i % 64) & 1 == 1
}

/// The indices in `range` whose bits are set in both `a` and `b`, in increasing order (a word at
/// a time: the caller's faces have many neurons and few set in both).
pub fn both_set<'a>(
    a: &'a [u64],
    b: &'a [u64],
    range: std::ops::Range<usize>,
) -> impl Iterator<Item = usize> + 'a {
    let words = range.end.div_ceil(64).min(a.len()).min(b.len());
    (range.start / 64..words).flat_map(move |w| {
        let mut word = a[w] & b[w];
        // Keep only the bits inside the range.
        if w == range.start / 64 {
            word &= u64::MAX << (range.start % 64);
        }
        if w == range.end / 64 {
            word &= (1u64 << (range.end % 64)) - 1;
        }
        std::iter::from_fn(move || {
            (word != 0).then(|| {
                let j = w * 64 + word.trailing_zeros() as usize;
                word &= word - 1;
                j
            })
        })
    })
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

/// The pattern as text with one '0'/'1' per unit: hidden layer l has `widths[l]` rows of which
/// the first `split[l]` are units; its pass-through rows are left out.
pub fn to_unit_string(bits: &[u64], widths: &[usize], split: &[usize]) -> String {
    let mut out = String::with_capacity(split.iter().sum());
    let mut offset = 0;
    for (&w, &s) in widths.iter().zip(split) {
        out.extend((offset..offset + s).map(|i| if get(bits, i) { '1' } else { '0' }));
        offset += w;
    }
    out
}

/// The inverse of [`to_unit_string`] (pass-through rows set), `None` for a text of the wrong
/// length or with other characters than '0'/'1'.
pub fn from_unit_str(text: &str, widths: &[usize], split: &[usize]) -> Option<Vec<u64>> {
    if text.len() != split.iter().sum::<usize>() {
        return None;
    }
    let mut bits = vec![0u64; words(widths.iter().sum())];
    let mut chars = text.bytes();
    let mut offset = 0;
    for (&w, &s) in widths.iter().zip(split) {
        for i in offset..offset + w {
            let on = if i < offset + s {
                match chars.next()? {
                    b'1' => true,
                    b'0' => false,
                    _ => return None,
                }
            } else {
                true
            };
            set(&mut bits, i, on);
        }
        offset += w;
    }
    Some(bits)
}

/// ORs the first `n` bits of `src` into `dst` starting at bit `offset` (word at a time).
pub fn or_shifted(dst: &mut [u64], src: &[u64], offset: usize, n: usize) {
    let (word, shift) = (offset / 64, offset % 64);
    for (i, &w) in src.iter().enumerate() {
        let valid = n.saturating_sub(i * 64).min(64);
        if valid == 0 {
            break;
        }
        let w = if valid == 64 {
            w
        } else {
            w & ((1u64 << valid) - 1)
        };
        dst[word + i] |= w << shift;
        if shift > 0 && word + i + 1 < dst.len() {
            dst[word + i + 1] |= w >> (64 - shift);
        }
    }
}

/// Bits `lo..hi` of a pattern, shifted down to bit 0 (a key for the units of one layer).
pub fn range(bits: &[u64], lo: usize, hi: usize) -> Vec<u64> {
    let n = hi - lo;
    let mut out = vec![0u64; words(n)];
    for (w, word) in out.iter_mut().enumerate() {
        let start = lo + 64 * w;
        let (q, s) = (start / 64, start % 64);
        let mut v = bits[q] >> s;
        if s > 0 && q + 1 < bits.len() {
            v |= bits[q + 1] << (64 - s);
        }
        let len = (n - 64 * w).min(64);
        if len < 64 {
            v &= (1u64 << len) - 1;
        }
        *word = v;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn or_shifted_matches_bit_by_bit() {
        for offset in [0, 3, 63, 64, 70] {
            for n in [1, 5, 64, 65, 130] {
                let src: Vec<u64> = (0..words(n))
                    .map(|i| 0x9E37_79B9_7F4A_7C15u64.rotate_left(i as u32 * 7))
                    .collect();
                let mut fast = vec![0u64; words(offset + n)];
                or_shifted(&mut fast, &src, offset, n);
                let mut slow = vec![0u64; words(offset + n)];
                for j in 0..n {
                    if get(&src, j) {
                        set(&mut slow, offset + j, true);
                    }
                }
                assert_eq!(fast, slow, "offset {offset} n {n}");
            }
        }
    }

    #[test]
    fn both_set_matches_bit_by_bit() {
        let a: Vec<u64> = (0..3)
            .map(|i| 0x9E37_79B9_7F4A_7C15u64.rotate_left(i * 11))
            .collect();
        let b: Vec<u64> = (0..3)
            .map(|i| 0xD1B5_4A32_D192_ED03u64.rotate_left(i * 5))
            .collect();
        for start in [0, 1, 17, 63, 64, 65, 128, 150] {
            for end in [0, 1, 40, 63, 64, 65, 127, 128, 129, 191, 192] {
                let fast: Vec<usize> = both_set(&a, &b, start..end).collect();
                let slow: Vec<usize> = (start..end).filter(|&j| get(&a, j) && get(&b, j)).collect();
                assert_eq!(fast, slow, "range {start}..{end}");
            }
        }
    }

    #[test]
    fn a_range_of_bits_matches_bit_by_bit() {
        let mut bits = vec![0u64; 3];
        for g in [0, 5, 63, 64, 70, 127, 128, 150, 191] {
            set(&mut bits, g, true);
        }
        for (lo, hi) in [
            (0, 192),
            (5, 70),
            (60, 131),
            (64, 128),
            (100, 101),
            (150, 192),
        ] {
            let r = range(&bits, lo, hi);
            for g in lo..hi {
                assert_eq!(get(&r, g - lo), get(&bits, g), "bit {g} of {lo}..{hi}");
            }
            // Nothing set past the range.
            let n = hi - lo;
            assert!((n..64 * r.len()).all(|i| !get(&r, i)));
        }
    }
}
