//! Exact arithmetic: the one module that owns exact numbers and exact predicates.
//!
//! Everything that decides a sign exactly lives here: the restricted network in fraction-free
//! integer form ([`ExactNet`]), exact forward passes at rational points, the exact equation of a
//! neuron's boundary on a region ([`LineEq`]), and exact intersection points. Integers are
//! `num-bigint`; no rational is normalised inside a loop (a gcd per operation costs ~50×).

pub(crate) mod maps;
pub mod net;
pub mod number;
pub mod point;
pub mod polytope;

pub use net::{ExactLayer, ExactNet, LineEq};
pub use point::ExactPoint;
