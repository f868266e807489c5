//! What `count` reports: a serde struct for `--json` (keys in docs/formats.md) and a short table.

use crate::bounds::Bounds;
use crate::exact::number::{format_rational, to_f64};
use crate::partition::Partition;
use serde::Serialize;

/// The `count --json` object.
#[derive(Debug, Clone, Serialize)]
pub struct CountReport {
    pub activation_regions: usize,
    /// With max pooling: the cells the engine split the domain into, of which the regions are
    /// unions (cells that differ only in a tournament bit that changes no argmax).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cells: Option<usize>,
    /// The network's operations as read (e.g. `Conv 1→16 3×3`, `Relu`).
    pub architecture: Vec<String>,
    /// With `--tile I/N`: "I/N", and the cells found in the tile (of which
    /// `activation_regions` are the regions this tile counts: those that do not reach left).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tile: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tile_cells: Option<usize>,
    /// Omitted until computed (never guessed).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub linear_regions: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub adjacent_pairs: Option<usize>,
    /// Time for the adjacency graph and linear regions (not part of `seconds`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub graph_seconds: Option<f64>,
    pub certified: bool,
    pub complete: bool,
    /// What stopped an incomplete run: `max_regions` or `memory`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stopped_by: Option<crate::engine::StopReason>,
    pub dim: usize,
    pub neurons: usize,
    pub widths: Vec<usize>,
    pub domain_volume: f64,
    pub domain_volume_exact: String,
    pub per_layer: Vec<usize>,
    /// Wall time of each hidden layer of the last run (planar and segment engines): where the
    /// time goes, e.g. for `--repeat` studies.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub layer_seconds: Vec<f64>,
    pub engine: String,
    /// The enumeration's wall time (with `--repeat`, the median run's).
    pub seconds: f64,
    /// The whole command's wall time: reading the inputs, the enumeration, the graph, writing
    /// the output files (set just before printing).
    pub total_seconds: f64,
    /// Time spent writing output files (regions, graph, pictures), part of `total_seconds`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub output_seconds: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vertices: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub edges: Option<usize>,
    pub exact_fallbacks: usize,
    /// Planar engine: vertices re-anchored in floats instead of rebuilt exactly.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reanchored_vertices: Option<usize>,
    /// Of those, re-anchored in double-double (deep segments).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reanchored_dd_vertices: Option<usize>,
    pub threads: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub peak_memory_bytes: Option<u64>,
    pub network: String,
    /// LPs solved (lp engine only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lp_solves: Option<usize>,
    /// With `--repeat N`: `seconds` is the median of N runs and this the first run's time.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub seconds_first: Option<f64>,
    /// Time of one f64 forward pass at all final vertices (`--floor`), and ours ÷ that.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub floor_seconds: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub floor_ratio: Option<f64>,
    /// Theoretical bounds and the Hanin–Rolnick density for this shape and count.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bounds: Option<Bounds>,
}

impl CountReport {
    pub fn new(p: &Partition, engine: &str, seconds: f64, threads: usize, network: &str) -> Self {
        let vol = p.domain.volume();
        CountReport {
            activation_regions: p.regions.len(),
            certified: p.certified,
            complete: p.complete,
            stopped_by: p.stopped_by,
            dim: p.dim,
            neurons: p.units(),
            widths: p.split.clone(),
            domain_volume: to_f64(&vol),
            domain_volume_exact: format_rational(&vol),
            per_layer: p.per_layer.clone(),
            layer_seconds: p.layer_seconds.clone(),
            engine: engine.to_string(),
            vertices: Some(p.vertex_count()),
            edges: Some(p.edge_count()),
            exact_fallbacks: p.exact_fallbacks,
            reanchored_vertices: Some(p.reanchored),
            reanchored_dd_vertices: Some(p.reanchored_dd),
            ..CountReport::new_base(seconds, threads, network)
        }
    }

    /// The report of an lp-engine run (no mesh: no vertices, edges or graph).
    pub fn from_lp(
        p: &crate::engine::lp::LpPartition,
        domain: &crate::slice::Domain,
        seconds: f64,
        threads: usize,
        network: &str,
    ) -> Self {
        let vol = domain.volume();
        CountReport {
            activation_regions: p.regions.len(),
            certified: p.certified,
            complete: p.complete,
            dim: p.dim,
            neurons: p.split.iter().sum(),
            widths: p.split.clone(),
            domain_volume: to_f64(&vol),
            domain_volume_exact: format_rational(&vol),
            per_layer: p.per_layer.clone(),
            engine: "lp".to_string(),
            vertices: None,
            edges: None,
            exact_fallbacks: p.exact_fallbacks,
            lp_solves: Some(p.lp_solves),
            ..CountReport::new_base(seconds, threads, network)
        }
    }

    /// Run-level fields; the engine-specific constructors fill in the rest.
    fn new_base(seconds: f64, threads: usize, network: &str) -> Self {
        CountReport {
            activation_regions: 0,
            cells: None,
            architecture: Vec::new(),
            tile: None,
            tile_cells: None,
            linear_regions: None,
            adjacent_pairs: None,
            graph_seconds: None,
            certified: false,
            complete: false,
            stopped_by: None,
            dim: 0,
            neurons: 0,
            widths: Vec::new(),
            domain_volume: 0.0,
            domain_volume_exact: String::new(),
            per_layer: Vec::new(),
            layer_seconds: Vec::new(),
            engine: String::new(),
            seconds,
            total_seconds: seconds,
            output_seconds: None,
            vertices: None,
            edges: None,
            exact_fallbacks: 0,
            reanchored_vertices: None,
            reanchored_dd_vertices: None,
            threads,
            peak_memory_bytes: None,
            network: network.to_string(),
            lp_solves: None,
            seconds_first: None,
            floor_seconds: None,
            floor_ratio: None,
            bounds: None,
        }
    }

    /// A short human-readable table.
    pub fn table(&self) -> String {
        let mut widths = vec![self.dim.to_string()];
        widths.extend(self.widths.iter().map(|w| w.to_string()));
        let status = match (self.certified, self.complete) {
            (true, true) => "exact, certified",
            (true, false) if self.stopped_by == Some(crate::engine::StopReason::Memory) => {
                "INCOMPLETE (stopped by --max-memory): a lower bound"
            }
            (true, false) => "INCOMPLETE (stopped by --max-regions): a lower bound",
            (false, _) => "not certified",
        };
        let per_layer = self
            .per_layer
            .iter()
            .map(|c| c.to_string())
            .collect::<Vec<_>>()
            .join(" → ");
        let mut rows = vec![
            (
                "network",
                format!(
                    "{} ({}, {} hidden units)",
                    self.network,
                    widths.join("-"),
                    self.neurons
                ),
            ),
            (
                "activation regions",
                format!("{}   ({status})", self.activation_regions),
            ),
        ];
        if let (Some(t), Some(c)) = (&self.tile, self.tile_cells) {
            rows.push((
                "tile",
                format!("{t}: {c} cells in the slab, of which the regions above start here"),
            ));
        }
        if let Some(c) = self.cells {
            rows.push((
                "cells",
                format!("{c}   (max pooling: regions are unions of cells with one argmax)"),
            ));
        }
        rows.push(("after each layer", per_layer));
        if !self.architecture.is_empty()
            && !self
                .architecture
                .iter()
                .all(|a| a.starts_with("Dense") || a == "Relu")
        {
            rows.insert(1, ("architecture", self.architecture.join(" → ")));
        }
        match &self.bounds {
            Some(b) => rows.extend(b.table_rows(Some(self.activation_regions))),
            None => rows.push((
                "bounds",
                "the classic bounds are stated for plain ReLU networks".to_string(),
            )),
        }
        if let Some(l) = self.linear_regions {
            rows.push((
                "linear regions",
                format!("{l}   (activation regions merged across identical output maps)"),
            ));
        } else if !self.complete {
            rows.push((
                "linear regions",
                "not computed: the run stopped before the last layer".to_string(),
            ));
        }
        if let Some(a) = self.adjacent_pairs {
            rows.push(("adjacent pairs", a.to_string()));
        }
        rows.extend([(
            match self.dim {
                1 => "domain length",
                2 => "domain area",
                _ => "domain volume",
            },
            format!("{} ({})", self.domain_volume_exact, self.domain_volume),
        )]);
        if let Some(n) = self.lp_solves {
            rows.push(("LP solves", n.to_string()));
        }
        if let (Some(v), Some(e)) = (self.vertices, self.edges) {
            rows.push(("vertices / edges", format!("{v} / {e}")));
        }
        rows.push((
            "exact fallbacks",
            match self.reanchored_vertices {
                Some(r) => format!(
                    "{} vertices rebuilt exactly ({r} more re-anchored in floats{})",
                    self.exact_fallbacks,
                    match self.reanchored_dd_vertices {
                        Some(dd) if dd > 0 => format!(", {dd} of them in double-double"),
                        _ => String::new(),
                    }
                ),
                None => format!("{} sign decisions decided exactly", self.exact_fallbacks),
            },
        ));
        rows.push((
            "time",
            format!(
                "{:.3} s enumeration ({} engine, {} threads)",
                self.seconds, self.engine, self.threads
            ),
        ));
        let mut parts = Vec::new();
        if let Some(g) = self.graph_seconds {
            parts.push(format!("graph and linear regions {g:.3} s"));
        }
        if let Some(o) = self.output_seconds {
            parts.push(format!("writing files {o:.3} s"));
        }
        rows.push((
            "time in all",
            if parts.is_empty() {
                format!("{:.3} s (reading inputs included)", self.total_seconds)
            } else {
                format!(
                    "{:.3} s (of which {})",
                    self.total_seconds,
                    parts.join(", ")
                )
            },
        ));
        if !self.layer_seconds.is_empty() {
            let times: Vec<String> = self
                .layer_seconds
                .iter()
                .map(|t| format!("{t:.4}"))
                .collect();
            rows.push(("time per layer", format!("{} s", times.join(" + "))));
        }
        if let (Some(f), Some(r)) = (self.floor_seconds, self.floor_ratio) {
            rows.push((
                "forward-pass floor",
                format!("{f:.4} s (enumeration = {r:.2} × floor)"),
            ));
        }
        if let Some(m) = self.peak_memory_bytes {
            rows.push((
                "peak memory",
                format!("{:.1} MiB", m as f64 / (1024.0 * 1024.0)),
            ));
        }
        rows.iter()
            .map(|(k, v)| format!("  {k:<20} {v}\n"))
            .collect()
    }
}
