//! One large box split into tiles whose counts add up exactly.
//!
//! Tile k of N is the slab `a_k ≤ t₁ ≤ a_{k+1}` of the box (equal widths along the first
//! coordinate). A region that crosses slab boundaries appears in each slab it meets, as a cell
//! with its pattern; it is counted by the leftmost one only: the tile whose slab holds the
//! region's infimum of t₁. A cell of tile k > 0 is counted iff its region does not reach left
//! of a_k, which is a strict linear feasibility question on the whole box — the region's units
//! keep their signs (each an affine inequality on the region, from the pattern) and t₁ < a_k —
//! decided by the lp engine's certified test. So the tiles' counts add up to the untiled count
//! exactly, whatever N, and each tile is an independent run (a job of `batch`).

use crate::engine::lp::feasibility::{Con, Decider, Interior};
use crate::engine::lp::LpBackend;
use crate::error::{Error, Result};
use crate::exact::LineEq;
use crate::pattern;
use crate::restrict::Restricted;
use crate::slice::{Domain, Slice};
use num_bigint::BigInt;
use num_rational::BigRational;
use num_traits::{Signed, Zero};

/// Tile `index` of `count` of a box slice: the same slice over the slab of the box.
pub fn tile_slice(slice: &Slice, index: usize, count: usize) -> Result<Slice> {
    let Domain::Box(b) = &slice.domain else {
        return Err(Error::usage(
            "--tile",
            "tiles split a box; this slice's domain is a polygon",
        ));
    };
    if count == 0 || index >= count {
        return Err(Error::usage(
            "--tile",
            format!("need 0 ≤ I < N, got {index}/{count}"),
        ));
    }
    let (lo, hi) = &b[0];
    let step = (hi - lo) / BigRational::from_integer(BigInt::from(count));
    let at = |k: usize| lo + &step * BigRational::from_integer(BigInt::from(k));
    let mut boxed = b.clone();
    boxed[0] = (
        at(index),
        if index + 1 == count {
            hi.clone()
        } else {
            at(index + 1)
        },
    );
    Ok(Slice {
        domain: Domain::Box(boxed),
        ..slice.clone()
    })
}

/// Whether the region of `bits` (a cell found in tile `index` > 0 of `slice`'s box) reaches
/// left of the tile, i.e. is counted by an earlier tile. Tile 0 counts every cell.
pub fn reaches_left(
    net: &Restricted,
    slice: &Slice,
    index: usize,
    count: usize,
    bits: &[u64],
) -> bool {
    if index == 0 {
        return false;
    }
    let Domain::Box(b) = &slice.domain else {
        unreachable!("tile_slice accepts boxes only")
    };
    let d = b.len();
    let tile = tile_slice(slice, index, count).expect("checked by tile_slice");
    let Domain::Box(tb) = &tile.domain else {
        unreachable!()
    };
    let a_k = &tb[0].0;
    let mut rows: Vec<Con> = Vec::new();
    // The box, with t₁ < a_k.
    for (k, (lo, hi)) in b.iter().enumerate() {
        let hi = if k == 0 { a_k } else { hi };
        for (sign, bound) in [(1i32, lo), (-1i32, hi)] {
            let mut a = vec![BigInt::zero(); d];
            a[k] = BigInt::from(sign) * bound.denom();
            rows.push(Con::new(LineEq {
                a,
                c: -BigInt::from(sign) * bound.numer(),
            }));
        }
    }
    // Each unit keeps its sign: active ones > 0, inactive ones < 0 (a unit identically zero on
    // the region constrains nothing).
    let active = |l: usize, j: usize| pattern::get(bits, net.offsets[l] + j);
    for l in 0..net.widths.len() {
        let (maps, _) = net.exact.layer_map(l, &active);
        for (j, row) in maps.into_iter().enumerate().take(net.split[l]) {
            let on = active(l, j);
            if row.is_constant() {
                if row.c.is_zero() || row.c.is_positive() == on {
                    continue;
                }
                // A constant of the wrong sign: no such region anywhere.
                return false;
            }
            let row = if on {
                row
            } else {
                LineEq {
                    a: row.a.iter().map(|x| -x).collect(),
                    c: -row.c,
                }
            };
            rows.push(Con::new(row));
        }
    }
    let lo: Vec<BigRational> = b.iter().map(|r| r.0.clone()).collect();
    let hi: Vec<BigRational> = b.iter().map(|r| r.1.clone()).collect();
    let decider = Decider::new(&lo, &hi, LpBackend::default());
    let refs: Vec<&Con> = rows.iter().collect();
    matches!(decider.interior(&refs), Interior::NonEmpty(_))
}
