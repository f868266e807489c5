//! SVG line charts of `M_j` against depth, on a logarithmic axis (FM1 makes the mean grow or
//! shrink geometrically). Built with the `svg` crate; returns the document as a string.

use svg::node::element::path::Data;
use svg::node::element::{Line, Path, Rectangle, Text};
use svg::Document;

use super::stats::{g, Report};

/// One curve of a chart.
#[derive(Clone, Debug, PartialEq)]
pub struct Series {
    pub label: String,
    /// `(x, y)` points; points with `y <= 0` or non-finite are skipped (log axis).
    pub points: Vec<(f64, f64)>,
    pub color: String,
    pub width: f64,
    pub dashed: bool,
    /// Opacity, for faint sample paths.
    pub opacity: f64,
    /// Shown in the legend.
    pub legend: bool,
}

impl Series {
    pub fn new(
        label: impl Into<String>,
        points: Vec<(f64, f64)>,
        color: impl Into<String>,
    ) -> Self {
        Series {
            label: label.into(),
            points,
            color: color.into(),
            width: 2.0,
            dashed: false,
            opacity: 1.0,
            legend: true,
        }
    }
}

/// Distinguishable colours for up to ten series (then they repeat).
pub const PALETTE: [&str; 10] = [
    "#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
    "#bcbd22", "#17becf",
];

const W: f64 = 760.0;
const H: f64 = 480.0;
const LEFT: f64 = 80.0;
const RIGHT: f64 = 210.0;
const TOP: f64 = 40.0;
const BOTTOM: f64 = 50.0;

/// A chart with a linear x axis and a log10 y axis.
pub fn line_chart(title: &str, x_label: &str, y_label: &str, series: &[Series]) -> String {
    let pts = || {
        series
            .iter()
            .flat_map(|s| s.points.iter())
            .filter(|(x, y)| x.is_finite() && y.is_finite() && *y > 0.0)
    };
    let (mut x0, mut x1, mut y0, mut y1) = (f64::MAX, f64::MIN, f64::MAX, f64::MIN);
    for &(x, y) in pts() {
        x0 = x0.min(x);
        x1 = x1.max(x);
        y0 = y0.min(y.log10());
        y1 = y1.max(y.log10());
    }
    if x0 > x1 {
        (x0, x1, y0, y1) = (0.0, 1.0, 0.0, 1.0);
    }
    if x1 - x0 < 1e-12 {
        x1 = x0 + 1.0;
    }
    // Whole decades, at least one.
    let (y0, y1) = (y0.floor(), y1.ceil().max(y0.floor() + 1.0));
    let pw = W - LEFT - RIGHT;
    let ph = H - TOP - BOTTOM;
    let sx = move |x: f64| LEFT + (x - x0) / (x1 - x0) * pw;
    let sy = move |y: f64| TOP + (y1 - y.log10()) / (y1 - y0) * ph;

    let mut doc = Document::new()
        .set("viewBox", (0, 0, W, H))
        .set("width", W)
        .set("height", H)
        .set("font-family", "sans-serif")
        .set("font-size", 12)
        .add(
            Rectangle::new()
                .set("width", W)
                .set("height", H)
                .set("fill", "white"),
        )
        .add(
            Text::new(title)
                .set("x", W / 2.0 - RIGHT / 2.0)
                .set("y", 22)
                .set("text-anchor", "middle")
                .set("font-size", 15),
        )
        .add(
            Text::new(x_label)
                .set("x", LEFT + pw / 2.0)
                .set("y", H - 10.0)
                .set("text-anchor", "middle"),
        )
        .add(
            Text::new(y_label)
                .set(
                    "transform",
                    format!("translate(18,{}) rotate(-90)", TOP + ph / 2.0),
                )
                .set("text-anchor", "middle"),
        );

    // Decade grid on y (thinned to at most ~10 labels), integer-ish ticks on x.
    let decades = (y1 - y0) as i64;
    let step = (decades / 10 + 1).max(1);
    let mut e = y0 as i64;
    while e <= y1 as i64 {
        let y = sy(10f64.powi(e as i32));
        doc = doc.add(grid_line(LEFT, y, LEFT + pw, y)).add(
            Text::new(format!("1e{e}"))
                .set("x", LEFT - 6.0)
                .set("y", y + 4.0)
                .set("text-anchor", "end"),
        );
        e += step;
    }
    let xstep = nice_step((x1 - x0) / 8.0);
    let mut x = (x0 / xstep).ceil() * xstep;
    while x <= x1 + 1e-9 {
        let px = sx(x);
        doc = doc.add(grid_line(px, TOP, px, TOP + ph)).add(
            Text::new(g(x))
                .set("x", px)
                .set("y", TOP + ph + 16.0)
                .set("text-anchor", "middle"),
        );
        x += xstep;
    }
    doc = doc.add(
        Rectangle::new()
            .set("x", LEFT)
            .set("y", TOP)
            .set("width", pw)
            .set("height", ph)
            .set("fill", "none")
            .set("stroke", "black"),
    );

    let mut legend_row = 0.0;
    for s in series {
        let mut data = Data::new();
        let mut pen_down = false;
        for &(x, y) in &s.points {
            if !(x.is_finite() && y.is_finite() && y > 0.0) {
                pen_down = false;
                continue;
            }
            data = if pen_down {
                data.line_to((sx(x), sy(y)))
            } else {
                data.move_to((sx(x), sy(y)))
            };
            pen_down = true;
        }
        let mut path = Path::new()
            .set("d", data)
            .set("fill", "none")
            .set("stroke", s.color.as_str())
            .set("stroke-width", s.width)
            .set("stroke-opacity", s.opacity);
        if s.dashed {
            path = path.set("stroke-dasharray", "6 4");
        }
        doc = doc.add(path);
        if s.legend {
            let ly = TOP + 10.0 + legend_row * 18.0;
            let lx = W - RIGHT + 12.0;
            let mut mark = Line::new()
                .set("x1", lx)
                .set("y1", ly)
                .set("x2", lx + 24.0)
                .set("y2", ly)
                .set("stroke", s.color.as_str())
                .set("stroke-width", s.width);
            if s.dashed {
                mark = mark.set("stroke-dasharray", "6 4");
            }
            doc = doc.add(mark).add(
                Text::new(s.label.as_str())
                    .set("x", lx + 30.0)
                    .set("y", ly + 4.0),
            );
            legend_row += 1.0;
        }
    }
    doc.to_string()
}

fn grid_line(x1: f64, y1: f64, x2: f64, y2: f64) -> Line {
    Line::new()
        .set("x1", x1)
        .set("y1", y1)
        .set("x2", x2)
        .set("y2", y2)
        .set("stroke", "#dddddd")
}

/// 1, 2 or 5 times a power of ten, at least `raw`.
fn nice_step(raw: f64) -> f64 {
    if !(raw > 0.0 && raw.is_finite()) {
        return 1.0;
    }
    let p = 10f64.powf(raw.log10().floor());
    [1.0, 2.0, 5.0, 10.0]
        .iter()
        .map(|m| m * p)
        .find(|&s| s >= raw)
        .unwrap_or(10.0 * p)
}

/// `M_j` against layer `j` for one run: faint sample paths, the mean with its 95% CI, and the
/// exact prediction where there is one.
pub fn report_chart(r: &Report) -> String {
    let mut series = Vec::new();
    for (i, t) in r.trajectories.iter().enumerate() {
        let mut s = Series::new(
            "sample paths",
            t.iter().enumerate().map(|(j, &m)| (j as f64, m)).collect(),
            "#888888",
        );
        s.width = 1.0;
        s.opacity = 0.35;
        s.legend = i == 0;
        series.push(s);
    }
    let by_layer = |f: &dyn Fn(&super::stats::LayerStats) -> f64| {
        r.layers
            .iter()
            .map(|l| (l.layer as f64, f(l)))
            .collect::<Vec<_>>()
    };
    let mut lo = Series::new(
        "95% CI of E[M_j]",
        by_layer(&|l| l.ci95_mean_m[0]),
        PALETTE[0],
    );
    lo.width = 1.0;
    let mut hi = Series::new("", by_layer(&|l| l.ci95_mean_m[1]), PALETTE[0]);
    hi.width = 1.0;
    hi.legend = false;
    series.push(Series::new(
        "mean of M_j",
        by_layer(&|l| l.mean_m),
        PALETTE[0],
    ));
    series.push(lo);
    series.push(hi);
    if r.layers.iter().all(|l| l.pred_mean_m.is_some()) {
        let mut p = Series::new(
            "predicted E[M_j]",
            by_layer(&|l| l.pred_mean_m.unwrap_or(f64::NAN)),
            PALETTE[1],
        );
        p.dashed = true;
        series.push(p);
    }
    let title = format!(
        "M_j = |h_j|^2/n_j: {}, {}, K = {}",
        r.architecture, r.init, r.samples
    );
    line_chart(&title, "layer j", "M_j (log scale)", &series)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chart_has_one_path_per_series_and_survives_zeros() {
        let s = vec![
            Series::new("a", vec![(0.0, 1.0), (1.0, 0.0), (2.0, 4.0)], PALETTE[0]),
            Series::new("b", vec![(0.0, 1e-3), (2.0, 1e3)], PALETTE[1]),
        ];
        let doc = line_chart("t", "x", "y", &s);
        assert_eq!(doc.matches("<path").count(), 2);
        assert!(doc.contains("1e-3") && doc.contains("1e3"));
        assert!(!doc.contains("NaN"));
    }

    #[test]
    fn nice_steps() {
        assert_eq!(nice_step(0.3), 0.5);
        assert_eq!(nice_step(0.01), 0.01);
        assert_eq!(nice_step(1.2), 2.0);
        assert_eq!(nice_step(12.5), 20.0);
        assert_eq!(nice_step(40.0), 50.0);
    }
}
