//! relu-regions: exact, certified enumeration of the activation regions of ReLU networks on
//! low-dimensional slices of their input space.
//!
//! ```
//! use relu_regions::{count_regions, EnumerateConfig, Network, Slice};
//! // One hidden layer with two neurons, x and y: four quadrants on [-1, 1]².
//! let net = Network::from_json(
//!     r#"{"layers": [{"weight": [[1, 0], [0, 1]], "bias": [0, 0]},
//!                    {"weight": [[1, 1]], "bias": [0]}]}"#, "net.json").unwrap();
//! let slice = Slice::identity(Slice::default_box(2));
//! let partition = count_regions(&net, &slice, &EnumerateConfig::default()).unwrap();
//! assert_eq!(partition.regions.len(), 4);
//! assert!(partition.certified && partition.complete);
//! ```
//!
//! Typed layers (a version-2 file; ONNX models go through [`onnx::read`] the same way): a
//! clip of two coordinates has three pieces each, so nine regions.
//!
//! ```
//! use relu_regions::{count_regions, EnumerateConfig, Network, Slice};
//! let net = Network::from_json(
//!     r#"{"version": 2, "input_shape": [2],
//!         "layers": [{"type": "clip", "min": -0.5, "max": 0.5}]}"#, "clip.json").unwrap();
//! let slice = Slice::identity(Slice::default_box(2));
//! let p = count_regions(&net, &slice, &EnumerateConfig::default()).unwrap();
//! assert_eq!(p.regions.len(), 9);
//! ```
//!
//! Every partition can be re-checked independently by its certificate:
//!
//! ```
//! # use relu_regions::{count_regions, EnumerateConfig, Network, Restricted, Slice};
//! use relu_regions::certificate::{partition_file, verify};
//! # let net = Network::from_json(r#"{"layers": [{"weight": [[1, 1]], "bias": [0]},
//! #     {"weight": [[1]], "bias": [0]}]}"#, "net.json").unwrap();
//! let slice = Slice::identity(Slice::default_box(2));
//! let p = count_regions(&net, &slice, &EnumerateConfig::default()).unwrap();
//! let restricted = Restricted::new(&net, &slice).unwrap();
//! assert_eq!(verify(&restricted, &slice.domain, &partition_file(&p)), Ok(p.regions.len()));
//! ```
//!
//! And a box split into tiles ([`tile`]) adds up exactly:
//!
//! ```
//! # use relu_regions::{count_regions, EnumerateConfig, Network, Restricted, Slice};
//! use relu_regions::tile::{reaches_left, tile_slice};
//! # let net = Network::from_json(r#"{"layers": [{"weight": [[1, 0], [1, 1], [0, 1]],
//! #     "bias": [0, 0.5, 0]}, {"weight": [[1, 1, 1]], "bias": [0]}]}"#, "net.json").unwrap();
//! let whole = Slice::identity(Slice::default_box(2));
//! let mut sum = 0;
//! for i in 0..3 {
//!     let tile = tile_slice(&whole, i, 3).unwrap();
//!     let r = Restricted::new(&net, &tile).unwrap();
//!     let p = relu_regions::enumerate(&r, &tile.domain, &EnumerateConfig::default(),
//!                                     &relu_regions::NoProgress).unwrap();
//!     sum += p.regions.iter().filter(|c| !reaches_left(&r, &whole, i, 3, c.pattern)).count();
//! }
//! assert_eq!(sum, count_regions(&net, &whole, &EnumerateConfig::default()).unwrap().regions.len());
//! ```
//!
//! The pipeline: [`net`] (a file, or an ONNX model via [`onnx`], lowered to layers by
//! [`net::lower`]) → [`mod@slice`] → [`restrict`] (slice folded into layer 1, in f64 and exact
//! integer form) → [`engine`] (the planar/segment mesh, signs from the filtered predicates of
//! [`exact`]; the lp engine for d ≥ 3) → [`partition`] → [`certificate`] (regions file and its
//! checker) → [`report`]; [`tile`] splits a box into slabs that add up.

pub mod bounds;
pub mod certificate;
pub mod compare;
pub mod engine;
pub mod error;
pub mod exact;
pub mod experiment;
pub mod graph;
pub mod init_stats;
pub mod json;
pub mod matrix;
pub mod memory;
pub mod mesh_file;
pub mod net;
pub mod onnx;
pub mod partition;
pub mod pattern;
pub mod picture;
pub mod report;
pub mod restrict;
pub mod sampling;
pub mod section;
pub mod slice;
pub mod spectral;
pub mod tile;

pub use engine::{enumerate, EngineChoice, EnumerateConfig, NoProgress, ProgressSink, StopReason};
pub use error::{Error, Result};
pub use net::Network;
pub use partition::Partition;
pub use restrict::Restricted;
pub use slice::{Domain, Slice};

/// The network embedded in the binary: 2-16-16-16-1, He-normal weights, float32 values.
pub const DEFAULT_NETWORK: &str = include_str!("../fixtures/nets/default-2-16-16-16.json");

/// Restricts `net` to `slice` and enumerates its activation regions (no progress output).
pub fn count_regions(net: &Network, slice: &Slice, cfg: &EnumerateConfig) -> Result<Partition> {
    let restricted = Restricted::new(net, slice)?;
    enumerate(&restricted, &slice.domain, cfg, &NoProgress)
}
