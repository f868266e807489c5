//! The sweeps of Hanin & Rolnick (2018) as named presets, each a table (markdown or JSON) and a
//! chart (docs/experiments.md).
//!
//! - `fm1`: c ∈ {1/3, 1/2, 1, 2, 4} × depth = width ∈ {5, 10, 20, 30, 50, 100}: `E[M_L]/M_0`
//!   against `(c/2)^L`.
//! - `fm2`: β ∈ {0.1, 0.5, 1, 2} under constant, increasing, decreasing and alternating width
//!   schedules (He, Gaussian, L = 10): `Var(M_L)/E[M_L]²` against `Π(1 + 5/n_j) − 1` and
//!   `e^{5β} − 1`, and `E[Var_emp]`.
//! - `resnet`: η ∈ {1, 1/ℓ, 1/√L, 0.9^ℓ} × both branch endings × L ∈ {10, 50}, width 32, v = 1.
//! - `orthogonal`: orthogonal (gain √2) against He Gaussian, square layers, L = 10: relative
//!   variance per layer `3/(n+2)` against `5/n`.
//! - `conv`: 1-D and 2-D circular convolutions, He and c = 1: the dense mean law.
//!
//! Every case of a preset uses the same seed: with zero biases the He/LeCun/… networks of one
//! seed differ only by a scale, so the `fm1` columns are common-random-number comparisons.

use std::fmt;
use std::str::FromStr;

use serde::Serialize;

use super::arch::{Architecture, Branch, ConvShape, EtaSchedule};
use super::init::{Init, Sampler, Scale, WeightLaw};
use super::plot::{line_chart, Series, PALETTE};
use super::simulate::Experiment;
use super::stats::{g, Report};
use super::InitStatsError;

/// A named sweep.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Preset {
    Fm1,
    Fm2,
    Resnet,
    Orthogonal,
    Conv,
}

impl Preset {
    pub const ALL: [Preset; 5] = [
        Preset::Fm1,
        Preset::Fm2,
        Preset::Resnet,
        Preset::Orthogonal,
        Preset::Conv,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Preset::Fm1 => "fm1",
            Preset::Fm2 => "fm2",
            Preset::Resnet => "resnet",
            Preset::Orthogonal => "orthogonal",
            Preset::Conv => "conv",
        }
    }

    /// Samples per case when `--samples` is not given: a run of the whole preset takes seconds
    /// to a minute on two cores.
    pub fn default_samples(self) -> usize {
        match self {
            Preset::Fm1 => 2000,
            Preset::Fm2 => 200_000,
            Preset::Resnet => 2000,
            Preset::Orthogonal => 2000,
            Preset::Conv => 1000,
        }
    }
}

impl Preset {
    /// `fm2` draws pre-activations from their exact Gaussian law: at β ≥ 0.5 the tail of `M_L`
    /// is so heavy that its variance needs 10⁵ samples or more. Every other preset draws weights.
    pub fn default_sampler(self) -> Sampler {
        match self {
            Preset::Fm2 => Sampler::Preactivations,
            _ => Sampler::Weights,
        }
    }
}

impl fmt::Display for Preset {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Preset {
    type Err = InitStatsError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Preset::ALL
            .into_iter()
            .find(|p| p.name() == s)
            .ok_or_else(|| {
                let known: Vec<&str> = Preset::ALL.iter().map(|p| p.name()).collect();
                InitStatsError::Preset(s.to_string(), known.join(", "))
            })
    }
}

/// One case of a sweep and its full report.
#[derive(Clone, Debug, Serialize)]
pub struct Case {
    pub label: String,
    pub report: Report,
}

/// A finished sweep: a table, the per-case reports, and a chart.
#[derive(Clone, Debug, Serialize)]
pub struct SweepReport {
    pub preset: String,
    pub title: String,
    pub samples: usize,
    pub seed: u64,
    pub sampler: Sampler,
    pub columns: Vec<String>,
    pub rows: Vec<Vec<String>>,
    pub cases: Vec<Case>,
    /// The chart as an SVG document.
    #[serde(skip)]
    pub svg: String,
}

impl SweepReport {
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("a sweep always serialises")
    }

    pub fn to_markdown(&self) -> String {
        let mut s = format!(
            "{} (K = {} samples per case, seed {}, {} sampler)\n\n| {} |\n|{}\n",
            self.title,
            self.samples,
            self.seed,
            match self.sampler {
                Sampler::Weights => "weight",
                Sampler::Preactivations => "pre-activation",
            },
            self.columns.join(" | "),
            "---|".repeat(self.columns.len())
        );
        for r in &self.rows {
            s += &format!("| {} |\n", r.join(" | "));
        }
        s
    }
}

fn he() -> Init {
    Init::HE_NORMAL
}

fn ci_text(m: f64, ci: [f64; 2]) -> String {
    format!("{} [{}, {}]", g(m), g(ci[0]), g(ci[1]))
}

fn opt(x: Option<f64>) -> String {
    x.map_or_else(|| "-".into(), g)
}

fn rel_var(r: &Report) -> f64 {
    let l = r.layers.last().expect("depth >= 1");
    l.var_m / (l.mean_m * l.mean_m)
}

fn pred_rel_var(r: &Report) -> Option<f64> {
    let l = r.layers.last().expect("depth >= 1");
    Some(l.pred_mean_m2? / (l.pred_mean_m? * l.pred_mean_m?) - 1.0)
}

fn mean_path(r: &Report) -> Vec<(f64, f64)> {
    r.layers
        .iter()
        .map(|l| (l.layer as f64, l.mean_m / r.m0))
        .collect()
}

fn pred_path(r: &Report) -> Vec<(f64, f64)> {
    r.layers
        .iter()
        .map(|l| (l.layer as f64, l.pred_mean_m.unwrap_or(f64::NAN) / r.m0))
        .collect()
}

/// Widths `n_1..n_L` following `profile` (relative widths) scaled so that Σ 1/n_j ≈ β.
fn widths_for_beta(profile: &[f64], beta: f64) -> Vec<usize> {
    let s: f64 = profile.iter().map(|p| 1.0 / p).sum::<f64>() / beta;
    profile
        .iter()
        .map(|p| ((s * p).round() as usize).max(1))
        .collect()
}

/// Run a preset in the current rayon pool; `samples` overrides the preset's default.
pub fn run(
    preset: Preset,
    samples: Option<usize>,
    seed: u64,
    sampler: Option<Sampler>,
) -> Result<SweepReport, InitStatsError> {
    let k = samples.unwrap_or(preset.default_samples());
    let sampler = sampler.unwrap_or(preset.default_sampler());
    let exp = |arch: Architecture, init: Init| {
        Experiment::new(arch, init)
            .with_samples(k)
            .with_seed(seed)
            .with_sampler(sampler)
    };
    let mut cases = Vec::new();
    let mut rows = Vec::new();
    let mut series = Vec::new();
    let (title, columns, chart_title, x_label, y_label): (&str, &[&str], String, &str, &str);

    match preset {
        Preset::Fm1 => {
            title = "FM1: mean of M_L against the weight scale c (Gaussian, zero biases, x = 1)";
            columns = &[
                "c",
                "n = L",
                "E[M_L]/M_0 (95% CI)",
                "predicted (c/2)^L",
                "verdict",
            ];
            let cs = [
                (1.0 / 3.0, "1/3"),
                (0.5, "1/2"),
                (1.0, "1"),
                (2.0, "2"),
                (4.0, "4"),
            ];
            for (ci, &(c, cname)) in cs.iter().enumerate() {
                for n in [5usize, 10, 20, 30, 50, 100] {
                    let init = Init::Iid {
                        scale: Scale::C(c),
                        law: WeightLaw::Normal,
                    };
                    let r = exp(Architecture::dense(vec![n; n + 1])?, init).run()?;
                    let l = r.layers.last().expect("depth >= 1");
                    let m0 = r.m0;
                    rows.push(vec![
                        cname.to_string(),
                        n.to_string(),
                        ci_text(
                            l.mean_m / m0,
                            [l.ci95_mean_m[0] / m0, l.ci95_mean_m[1] / m0],
                        ),
                        opt(l.pred_mean_m.map(|p| p / m0)),
                        match (r.fm1.present, r.fm1.value) {
                            (Some(false), _) => "absent".to_string(),
                            (Some(true), Some(v)) if v > 1.0 => "explodes".to_string(),
                            (Some(true), _) => "vanishes".to_string(),
                            (None, _) => "-".to_string(),
                        },
                    ]);
                    if n == 30 {
                        series.push(Series::new(
                            format!("c = {cname}"),
                            mean_path(&r),
                            PALETTE[ci],
                        ));
                        let mut p = Series::new("", pred_path(&r), PALETTE[ci]);
                        p.dashed = true;
                        p.width = 1.0;
                        p.legend = false;
                        series.push(p);
                    }
                    cases.push(Case {
                        label: format!("c={cname}, n=L={n}"),
                        report: r,
                    });
                }
            }
            chart_title = "FM1: E[M_j]/M_0, width = depth = 30 (dashed: (c/2)^j)".into();
            x_label = "layer j";
            y_label = "E[M_j]/M_0 (log scale)";
        }
        Preset::Fm2 => {
            title = "FM2: relative variance of M_L against beta = sum 1/n_j (He Gaussian, L = 10)";
            columns = &[
                "schedule",
                "beta",
                "widths n_1..n_L",
                "E[M_L^2]/M_0^2 (95% CI)",
                "predicted",
                "Var(M_L)/E[M_L]^2",
                "predicted prod(1+5/n)-1",
                "e^(5 beta)-1",
                "Var(ln M_L)",
                "5 beta",
                "E[Var_emp] (95% CI)",
                "predicted",
            ];
            let depth = 10usize;
            let profiles: [(&str, Vec<f64>); 4] = [
                ("constant", vec![1.0; depth]),
                (
                    "increasing",
                    (0..depth)
                        .map(|i| 1.0 + 3.0 * i as f64 / (depth - 1) as f64)
                        .collect(),
                ),
                (
                    "decreasing",
                    (0..depth)
                        .map(|i| 4.0 - 3.0 * i as f64 / (depth - 1) as f64)
                        .collect(),
                ),
                (
                    "alternating",
                    (0..depth)
                        .map(|i| if i % 2 == 0 { 1.0 } else { 4.0 })
                        .collect(),
                ),
            ];
            for (si, (name, profile)) in profiles.iter().enumerate() {
                let mut emp = Vec::new();
                let mut theory = Vec::new();
                for target in [0.1, 0.5, 1.0, 2.0] {
                    let hidden = widths_for_beta(profile, target);
                    let mut widths = vec![hidden[0]];
                    widths.extend(&hidden);
                    let r = exp(Architecture::dense(widths)?, he()).run()?;
                    let l = r.layers.last().expect("depth >= 1");
                    let m02 = r.m0 * r.m0;
                    rows.push(vec![
                        name.to_string(),
                        g(r.beta),
                        format!("{hidden:?}"),
                        ci_text(
                            l.mean_m2 / m02,
                            [l.ci95_mean_m2[0] / m02, l.ci95_mean_m2[1] / m02],
                        ),
                        opt(l.pred_mean_m2.map(|p| p / m02)),
                        g(rel_var(&r)),
                        opt(pred_rel_var(&r)),
                        g(r.exp_5beta_minus_1),
                        g(l.var_log_m),
                        g(5.0 * r.beta),
                        ci_text(r.var_emp_mean, r.ci95_var_emp),
                        opt(r.pred_var_emp),
                    ]);
                    emp.push((r.beta, rel_var(&r)));
                    theory.push((r.beta, pred_rel_var(&r).unwrap_or(f64::NAN)));
                    cases.push(Case {
                        label: format!("{name}, beta={target}"),
                        report: r,
                    });
                }
                series.push(Series::new(format!("{name}: measured"), emp, PALETTE[si]));
                let mut t = Series::new(format!("{name}: exact"), theory, PALETTE[si]);
                t.dashed = true;
                t.width = 1.0;
                series.push(t);
            }
            let e5: Vec<(f64, f64)> = (1..=40)
                .map(|i| {
                    let b = 0.05 * i as f64;
                    (b, (5.0 * b).exp_m1())
                })
                .collect();
            let mut s = Series::new("e^(5 beta) - 1", e5, "black");
            s.width = 1.0;
            series.push(s);
            chart_title = "FM2: Var(M_L)/E[M_L]^2 against beta (He Gaussian, L = 10)".into();
            x_label = "beta = sum_j 1/n_j";
            y_label = "Var(M_L)/E[M_L]^2 (log scale)";
        }
        Preset::Resnet => {
            title = "Residual stacks: E[M_L]/M_0 (width 32, W1 He Gaussian, W2 variance 1/n)";
            columns = &[
                "branch",
                "eta",
                "L",
                "sum eta",
                "E[M_L]/M_0 (95% CI)",
                "predicted",
                "Var(M_L)/E[M_L]^2",
            ];
            let etas = [
                EtaSchedule::Constant(1.0),
                EtaSchedule::InverseLayer,
                EtaSchedule::InverseSqrtDepth,
                EtaSchedule::Geometric(0.9),
            ];
            let mut color = 0;
            for branch in [Branch::Linear, Branch::Relu] {
                for eta in &etas {
                    for depth in [10usize, 50] {
                        let arch =
                            Architecture::residual(&vec![32; depth + 1], branch, eta.clone(), 1.0)?;
                        let sum_eta: f64 = eta.values(depth)?.iter().sum();
                        let r = exp(arch, he()).run()?;
                        let l = r.layers.last().expect("depth >= 1");
                        let bname = match branch {
                            Branch::Linear => "linear",
                            Branch::Relu => "relu",
                        };
                        rows.push(vec![
                            bname.into(),
                            eta.to_string(),
                            depth.to_string(),
                            g(sum_eta),
                            ci_text(
                                l.mean_m / r.m0,
                                [l.ci95_mean_m[0] / r.m0, l.ci95_mean_m[1] / r.m0],
                            ),
                            opt(l.pred_mean_m.map(|p| p / r.m0)),
                            g(rel_var(&r)),
                        ]);
                        if depth == 50 {
                            let mut s = Series::new(
                                format!("{bname}, eta = {eta}"),
                                mean_path(&r),
                                PALETTE[color % 10],
                            );
                            s.dashed = branch == Branch::Relu;
                            series.push(s);
                            color += 1;
                        }
                        cases.push(Case {
                            label: format!("{bname}, eta={eta}, L={depth}"),
                            report: r,
                        });
                    }
                }
            }
            chart_title = "Residual stacks, L = 50: E[M_l]/M_0 (dashed: ReLU branch)".into();
            x_label = "block l";
            y_label = "E[M_l]/M_0 (log scale)";
        }
        Preset::Orthogonal => {
            title = "Orthogonal (gain sqrt 2) against He Gaussian, square layers, L = 10";
            columns = &[
                "init",
                "n",
                "E[M_L]/M_0 (95% CI)",
                "predicted",
                "Var(M_L)/E[M_L]^2",
                "predicted",
                "per layer: 3/(n+2) or 5/n",
            ];
            let ortho = Init::Orthogonal { gain: 2f64.sqrt() };
            let mut color = 0;
            for (iname, init) in [("orthogonal", ortho), ("he-normal", he())] {
                for n in [4usize, 16, 64] {
                    let r = exp(Architecture::dense(vec![n; 11])?, init).run()?;
                    let l = r.layers.last().expect("depth >= 1");
                    let per_layer = if iname == "orthogonal" {
                        3.0 / (n as f64 + 2.0)
                    } else {
                        5.0 / n as f64
                    };
                    rows.push(vec![
                        iname.into(),
                        n.to_string(),
                        ci_text(
                            l.mean_m / r.m0,
                            [l.ci95_mean_m[0] / r.m0, l.ci95_mean_m[1] / r.m0],
                        ),
                        opt(l.pred_mean_m.map(|p| p / r.m0)),
                        g(rel_var(&r)),
                        opt(pred_rel_var(&r)),
                        g(per_layer),
                    ]);
                    let rv: Vec<(f64, f64)> = r
                        .layers
                        .iter()
                        .map(|l| (l.layer as f64, l.var_m / (l.mean_m * l.mean_m)))
                        .collect();
                    let mut s = Series::new(format!("{iname}, n = {n}"), rv, PALETTE[color]);
                    s.dashed = iname != "orthogonal";
                    series.push(s);
                    color += 1;
                    cases.push(Case {
                        label: format!("{iname}, n={n}"),
                        report: r,
                    });
                }
            }
            chart_title =
                "Var(M_j)/E[M_j]^2: orthogonal (solid) against He Gaussian (dashed)".into();
            x_label = "layer j";
            y_label = "relative variance (log scale)";
        }
        Preset::Conv => {
            title = "Convolutions with circular padding: the dense mean law (Gaussian, kernel 3)";
            columns = &[
                "architecture",
                "channels",
                "c",
                "E[M_L]/M_0 (95% CI)",
                "predicted",
                "Var(M_L)/E[M_L]^2",
            ];
            let archs = [
                Architecture::conv(ConvShape::D1 { len: 32 }, vec![1, 8, 8, 8, 8, 8], 3)?,
                Architecture::conv(
                    ConvShape::D2 {
                        height: 8,
                        width: 8,
                    },
                    vec![1, 4, 4, 4, 4, 4],
                    3,
                )?,
            ];
            let mut color = 0;
            for arch in archs {
                for (cname, c) in [("2", 2.0), ("1", 1.0)] {
                    let init = Init::Iid {
                        scale: Scale::C(c),
                        law: WeightLaw::Normal,
                    };
                    let Architecture::Conv(cv) = &arch else {
                        unreachable!()
                    };
                    let channels = format!("{:?}", cv.channels);
                    let r = exp(arch.clone(), init).run()?;
                    let l = r.layers.last().expect("depth >= 1");
                    rows.push(vec![
                        r.architecture.clone(),
                        channels,
                        cname.into(),
                        ci_text(
                            l.mean_m / r.m0,
                            [l.ci95_mean_m[0] / r.m0, l.ci95_mean_m[1] / r.m0],
                        ),
                        opt(l.pred_mean_m.map(|p| p / r.m0)),
                        g(rel_var(&r)),
                    ]);
                    series.push(Series::new(
                        format!("{}, c = {cname}", r.architecture),
                        mean_path(&r),
                        PALETTE[color],
                    ));
                    let mut p = Series::new("", pred_path(&r), PALETTE[color]);
                    p.dashed = true;
                    p.width = 1.0;
                    p.legend = false;
                    series.push(p);
                    color += 1;
                    cases.push(Case {
                        label: format!("{}, c={cname}", r.architecture),
                        report: r,
                    });
                }
            }
            chart_title = "Convolutions: E[M_j]/M_0 (dashed: (c/2)^j)".into();
            x_label = "layer j";
            y_label = "E[M_j]/M_0 (log scale)";
        }
    }
    Ok(SweepReport {
        preset: preset.name().into(),
        title: title.into(),
        samples: k,
        seed,
        sampler,
        columns: columns.iter().map(|c| c.to_string()).collect(),
        rows,
        cases,
        svg: line_chart(&chart_title, x_label, y_label, &series),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn beta_schedules_hit_their_target() {
        let w = widths_for_beta(&[1.0; 10], 0.5);
        assert_eq!(w, vec![20; 10]);
        let inc: Vec<f64> = (0..10).map(|i| 1.0 + i as f64 / 3.0).collect();
        let w = widths_for_beta(&inc, 1.0);
        let beta: f64 = w.iter().map(|&n| 1.0 / n as f64).sum();
        assert!((beta - 1.0).abs() < 0.1, "{w:?} gives beta {beta}");
        assert!(w.windows(2).all(|p| p[0] <= p[1]));
    }

    #[test]
    fn presets_parse_by_name() {
        for p in Preset::ALL {
            assert_eq!(p.name().parse::<Preset>().unwrap(), p);
        }
        assert!(matches!(
            "x".parse::<Preset>(),
            Err(InitStatsError::Preset(..))
        ));
    }
}
