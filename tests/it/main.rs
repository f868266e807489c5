//! The integration tests: one binary, one module per concern, shared helpers in `support`.

mod batch;
mod bounds;
mod brute_1d;
mod certificate;
mod cli;
mod closed_forms;
mod degenerate;
mod fuzz;
mod graph;
mod init_stats;
mod lp;
mod onnx;
mod property_2d;
mod reanchor;
mod reference;
mod regressions;
mod sampling;
mod support;
