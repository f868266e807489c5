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
//! The pipeline: [`net`] (the file) → [`mod@slice`] → [`restrict`] (slice folded into layer 1, in
//! f64 and exact integer form) → [`engine`] (the planar/segment mesh, signs from the filtered
//! predicates of [`exact`]) → [`partition`] → [`certificate`] (regions file and its checker) →
//! [`report`].

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
pub mod net;
pub mod onnx;
pub mod partition;
pub mod pattern;
pub mod picture;
pub mod report;
pub mod restrict;
pub mod sampling;
pub mod slice;
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
