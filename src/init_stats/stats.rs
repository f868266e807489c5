//! Exact predictions (docs/experiments.md#definitions) and the report that sets them next to the
//! Monte Carlo moments.
//!
//! Mean law (FM1), exact for every symmetric weight law: one ReLU layer gives
//! `E[M_j | h_{j−1}] = a_j·M_{j−1} + b_j` with `a_j = c_j/2` (orthogonal:
//! `(g²/2)·min(n_{j−1},n_j)/n_j`) and `b_j = σ_b²/2`; a linear-branch residual block gives
//! `a_ℓ = 1 + v·(c/2)·η_ℓ²`, `b_ℓ = η_ℓ²·σ_b²·(v/2 + 1)`.
//!
//! Second moment (FM2), where it closes:
//! - Gaussian weights and Gaussian biases: the pre-activations are, given `h_{j−1}`, i.i.d.
//!   `N(0, s²)` with `s² = c·M_{j−1} + σ_b²`, and `E[ReLU(z)⁴] = 3s⁴/2`, so
//!   `E[M_j²] = (1 + 5/n_j)/4 · E[(c·M_{j−1} + σ_b²)²]`. With zero biases this is
//!   `(c/2)²·(1 + 5/n_j)·E[M_{j−1}²]`, Hanin & Rolnick's formula.
//! - Any symmetric law, zero biases, first layer only: `(c/2)²·M_0²·(1 + (5 + 2κρ_0)/n_1)` with
//!   `ρ_0 = ||x||₄⁴/||x||₂⁴` known, since the input is fixed. Deeper layers need the law of the
//!   random `ρ_{j−1}`: no closed form, reported as null.
//! - Orthogonal weights, zero biases: `z = gQh` is uniform on a sphere (or the first `n_out`
//!   coordinates of one) with independent fair signs, so, with `m = max(n_{j−1}, n_j)`,
//!   `E[M_j² | h] = E[M_j | h]² · (n_j + 5)·m / (n_j·(m + 2))`; for a square layer the relative
//!   variance is exactly `3/(n + 2)`, often quoted as "≈ 3/n".
//!
//! Empirical variance across layers: with the linear conditional mean law,
//! `E[M_j M_k] = A_{jk}·E[M_j²] + B_{jk}·E[M_j]` for `j ≤ k`, which gives `E[Var_emp]` whenever
//! every `E[M_j²]` is known; for He and zero biases it reduces to
//! `(1/L²)·Σ_j (2j − 1 − L)·E[M_j²]`.

use serde::Serialize;

use super::arch::{Architecture, Branch};
use super::init::{Init, Sampler, WeightLaw};
use super::simulate::{Experiment, Moments, Welford};

/// 97.5% quantile of the standard normal: 95% two-sided confidence intervals.
pub const Z95: f64 = 1.959_963_984_540_054;

/// Exact expectations, `None` where there is no closed form.
#[derive(Clone, Debug, PartialEq)]
pub struct Predictions {
    /// `E[M_j]`, j = 0..L.
    pub mean_m: Vec<Option<f64>>,
    /// `E[M_j²]`, j = 0..L.
    pub mean_m2: Vec<Option<f64>>,
    /// `E[Var_emp]`.
    pub var_emp: Option<f64>,
}

/// The conditional mean law `(a_j, b_j)`, j = 1..L, if it is exact for this experiment.
fn mean_law(exp: &Experiment) -> Option<Vec<(f64, f64)>> {
    let n = exp.arch.layer_sizes();
    let sb2 = exp.bias_var;
    match &exp.arch {
        Architecture::Dense { .. } => Some(
            (1..n.len())
                .map(|j| (exp.init.mean_factor(n[j - 1], n[j]), sb2 / 2.0))
                .collect(),
        ),
        Architecture::Conv(c) => {
            let Init::Iid { scale, .. } = exp.init else {
                return None;
            };
            let t = c.taps();
            Some(
                c.channels
                    .windows(2)
                    .map(|w| (scale.c(t * w[0], t * w[1]) / 2.0, sb2 / 2.0))
                    .collect(),
            )
        }
        Architecture::Residual(r) => {
            if r.branch == Branch::Relu {
                return None;
            }
            // W₁ keeps a fraction c/2 of M through its ReLU (square layer).
            let half_c = exp.init.mean_factor(r.width, r.width);
            let v = r.branch_var;
            let etas = r.eta.values(r.blocks).ok()?;
            Some(
                etas.iter()
                    .map(|e| (1.0 + e * e * v * half_c, e * e * sb2 * (v / 2.0 + 1.0)))
                    .collect(),
            )
        }
    }
}

/// One step of the exact second-moment recursion, if there is one for layer `j`.
fn second_moment_step(
    exp: &Experiment,
    j: usize,
    x: &[f64],
    prev_m: f64,
    prev_m2: f64,
) -> Option<f64> {
    let Architecture::Dense { widths } = &exp.arch else {
        return None;
    };
    let (n_in, n) = (widths[j - 1], widths[j]);
    let sb2 = exp.bias_var;
    match exp.init {
        Init::Iid {
            scale,
            law: WeightLaw::Normal,
        } => {
            let c = scale.c(n_in, n);
            let e = c * c * prev_m2 + 2.0 * c * sb2 * prev_m + sb2 * sb2;
            Some((1.0 + 5.0 / n as f64) / 4.0 * e)
        }
        Init::Iid { scale, law } if j == 1 && sb2 == 0.0 => {
            let half_c = scale.c(n_in, n) / 2.0;
            let l2: f64 = x.iter().map(|v| v * v).sum();
            let l4: f64 = x.iter().map(|v| v.powi(4)).sum();
            let rho = if l2 > 0.0 { l4 / (l2 * l2) } else { 0.0 };
            let kappa = law.excess_kurtosis();
            Some(half_c * half_c * prev_m2 * (1.0 + (5.0 + 2.0 * kappa * rho) / n as f64))
        }
        Init::Orthogonal { .. } if sb2 == 0.0 => {
            let a = exp.init.mean_factor(n_in, n);
            let m = n_in.max(n) as f64;
            let nf = n as f64;
            Some(a * a * prev_m2 * (nf + 5.0) * m / (nf * (m + 2.0)))
        }
        _ => None,
    }
}

/// The exact predictions (docs/experiments.md#definitions) for this experiment.
pub fn predict(exp: &Experiment) -> Predictions {
    let x = exp.input_vector().unwrap_or_default();
    let m0 = if x.is_empty() {
        0.0
    } else {
        x.iter().map(|v| v * v).sum::<f64>() / x.len() as f64
    };
    let layers = exp.arch.depth() + 1;
    let law = mean_law(exp);
    let mut mean_m = vec![None; layers];
    let mut mean_m2 = vec![None; layers];
    mean_m[0] = Some(m0);
    mean_m2[0] = Some(m0 * m0);
    if let Some(law) = &law {
        for (j, &(a, b)) in law.iter().enumerate() {
            mean_m[j + 1] = mean_m[j].map(|m| a * m + b);
        }
    }
    for j in 1..layers {
        mean_m2[j] = match (mean_m[j - 1], mean_m2[j - 1]) {
            (Some(m), Some(m2)) => second_moment_step(exp, j, &x, m, m2),
            _ => None,
        };
    }
    let first = if exp.include_input { 0 } else { 1 };
    let var_emp = law.as_ref().and_then(|law| {
        let idx: Vec<usize> = (first..layers).collect();
        let e1: Option<Vec<f64>> = idx.iter().map(|&j| mean_m[j]).collect();
        let e2: Option<Vec<f64>> = idx.iter().map(|&j| mean_m2[j]).collect();
        let (e1, e2) = (e1?, e2?);
        let jn = idx.len() as f64;
        let mut cross = 0.0;
        for (p, &j) in idx.iter().enumerate() {
            cross += e2[p];
            // E[M_k | F_j] = A·M_j + B, carried forward from k = j.
            let (mut a_acc, mut b_acc) = (1.0, 0.0);
            for &(a, b) in &law[j..layers - 1] {
                a_acc *= a;
                b_acc = a * b_acc + b;
                cross += 2.0 * (a_acc * e2[p] + b_acc * e1[p]);
            }
        }
        Some(e2.iter().sum::<f64>() / jn - cross / (jn * jn))
    });
    Predictions {
        mean_m,
        mean_m2,
        var_emp,
    }
}

/// Statistics of one layer, as in the `--json` output.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct LayerStats {
    pub layer: usize,
    /// n_j, neurons in the layer.
    pub width: usize,
    pub mean_m: f64,
    pub mean_m2: f64,
    /// Sample variance of M_j over the K networks.
    pub var_m: f64,
    pub ci95_mean_m: [f64; 2],
    pub ci95_mean_m2: [f64; 2],
    pub pred_mean_m: Option<f64>,
    pub pred_mean_m2: Option<f64>,
    /// (mean − prediction) / standard error.
    pub z_mean_m: Option<f64>,
    pub z_mean_m2: Option<f64>,
    /// Sample variance of ln M_j over the networks with M_j > 0; ≈ 5·Σ_{i≤j} 1/n_i for wide
    /// Gaussian layers, and robust where the heavy tail of M_j hides its variance.
    pub var_log_m: f64,
    /// Fraction of networks with M_j = 0 (all units of layer j inactive).
    pub dead_fraction: f64,
}

/// A verdict on one failure mode: the measured quantity, its prediction, and words.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Verdict {
    /// `None` when the quantity is undefined (e.g. `M_0 = 0` for FM1).
    pub present: Option<bool>,
    pub value: Option<f64>,
    pub predicted: Option<f64>,
    pub text: String,
}

/// The whole result of a run: what `init-stats` prints.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Report {
    pub architecture: String,
    pub init: String,
    pub sampler: Sampler,
    /// n_0..n_L.
    pub widths: Vec<usize>,
    pub bias_var: f64,
    pub samples: usize,
    pub seed: u64,
    pub m0: f64,
    /// Σ_{j=1..L} 1/n_j.
    pub beta: f64,
    /// e^{5β} − 1, the large-width approximation of the Gaussian dense FM2 relative variance.
    pub exp_5beta_minus_1: f64,
    pub include_input: bool,
    pub layers: Vec<LayerStats>,
    pub var_emp_mean: f64,
    pub ci95_var_emp: [f64; 2],
    pub pred_var_emp: Option<f64>,
    pub z_var_emp: Option<f64>,
    pub fm1: Verdict,
    pub fm2: Verdict,
    /// Kept sample paths (for plots), not part of the JSON.
    #[serde(skip)]
    pub trajectories: Vec<Vec<f64>>,
}

fn ci(w: &Welford) -> [f64; 2] {
    let h = Z95 * w.se();
    [w.mean - h, w.mean + h]
}

fn z_score(w: &Welford, pred: Option<f64>) -> Option<f64> {
    pred.map(|p| (w.mean - p) / w.se())
}

impl Report {
    pub fn new(exp: &Experiment, mo: &Moments) -> Report {
        let pred = predict(exp);
        let sizes = exp.arch.layer_sizes();
        let layers: Vec<LayerStats> = (0..sizes.len())
            .map(|j| LayerStats {
                layer: j,
                width: sizes[j],
                mean_m: mo.m[j].mean,
                mean_m2: mo.m2[j].mean,
                var_m: mo.m[j].var(),
                ci95_mean_m: ci(&mo.m[j]),
                ci95_mean_m2: ci(&mo.m2[j]),
                pred_mean_m: pred.mean_m[j],
                pred_mean_m2: pred.mean_m2[j],
                z_mean_m: z_score(&mo.m[j], pred.mean_m[j]),
                z_mean_m2: z_score(&mo.m2[j], pred.mean_m2[j]),
                var_log_m: mo.log_m[j].var(),
                dead_fraction: mo.zeros[j] as f64 / mo.samples as f64,
            })
            .collect();
        let beta = exp.arch.beta();
        let last = layers.last().expect("depth >= 1");
        let fm1 = fm1_verdict(mo.m0, last);
        let fm2 = fm2_verdict(last, beta, matches!(exp.arch, Architecture::Dense { .. }));
        Report {
            architecture: exp.arch.describe(),
            init: exp.init.to_string(),
            sampler: exp.sampler,
            widths: sizes,
            bias_var: exp.bias_var,
            samples: mo.samples,
            seed: exp.seed,
            m0: mo.m0,
            beta,
            exp_5beta_minus_1: (5.0 * beta).exp_m1(),
            include_input: exp.include_input,
            var_emp_mean: mo.var_emp.mean,
            ci95_var_emp: ci(&mo.var_emp),
            pred_var_emp: pred.var_emp,
            z_var_emp: z_score(&mo.var_emp, pred.var_emp),
            layers,
            fm1,
            fm2,
            trajectories: mo.trajectories.clone(),
        }
    }

    /// The report as pretty JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("a report always serialises")
    }

    /// The human table printed by `init-stats`.
    pub fn to_table(&self) -> String {
        use std::fmt::Write;
        let mut s = String::new();
        let _ = writeln!(
            s,
            "{} network, widths {:?}, init {}, bias variance {}, K = {} samples, seed {}, {} sampler",
            self.architecture,
            self.widths,
            self.init,
            self.bias_var,
            self.samples,
            self.seed,
            match self.sampler {
                Sampler::Weights => "weight",
                Sampler::Preactivations => "pre-activation",
            }
        );
        let _ = writeln!(
            s,
            "M_0 = {}, beta = sum 1/n_j = {} (e^(5 beta) - 1 = {})\n",
            g(self.m0),
            g(self.beta),
            g(self.exp_5beta_minus_1)
        );
        let _ = writeln!(
            s,
            "{:>5} {:>6}  {:>32} {:>10}  {:>32} {:>10}  {:>10}  {:>10}",
            "layer",
            "width",
            "E[M_j] (95% CI)",
            "predicted",
            "E[M_j^2] (95% CI)",
            "predicted",
            "Var(M_j)",
            "Var(ln M_j)"
        );
        for l in &self.layers {
            let _ = writeln!(
                s,
                "{:>5} {:>6}  {:>32} {:>10}  {:>32} {:>10}  {:>10}  {:>10}",
                l.layer,
                l.width,
                with_ci(l.mean_m, l.ci95_mean_m),
                opt(l.pred_mean_m),
                with_ci(l.mean_m2, l.ci95_mean_m2),
                opt(l.pred_mean_m2),
                g(l.var_m),
                g(l.var_log_m)
            );
        }
        let _ = writeln!(
            s,
            "\nVar_emp (variance of M_j across layers {}..L, per network): {}   predicted {}",
            if self.include_input { 0 } else { 1 },
            with_ci(self.var_emp_mean, self.ci95_var_emp),
            opt(self.pred_var_emp)
        );
        let _ = writeln!(s, "FM1: {}", self.fm1.text);
        let _ = writeln!(s, "FM2: {}", self.fm2.text);
        s
    }
}

fn fm1_verdict(m0: f64, last: &LayerStats) -> Verdict {
    let pred = last.pred_mean_m;
    if m0 <= 0.0 {
        return Verdict {
            present: None,
            value: None,
            predicted: None,
            text: format!(
                "M_0 = 0, so no ratio E[M_L]/M_0 (E[M_L] = {})",
                g(last.mean_m)
            ),
        };
    }
    let r = last.mean_m / m0;
    let rp = pred.map(|p| p / m0);
    let agree = match (last.z_mean_m, rp) {
        (Some(z), Some(p)) => format!("; predicted {} (z = {:.2})", g(p), z),
        _ => "; no closed form for this architecture".into(),
    };
    let (present, words) = if r > 2.0 {
        (true, "present, the mean explodes with depth")
    } else if r < 0.5 {
        (true, "present, the mean vanishes with depth")
    } else {
        (false, "absent, the mean stays within a factor 2 of M_0")
    };
    Verdict {
        present: Some(present),
        value: Some(r),
        predicted: rp,
        text: format!("{words}, E[M_L]/M_0 = {}{agree}", g(r)),
    }
}

fn fm2_verdict(last: &LayerStats, beta: f64, dense: bool) -> Verdict {
    let rel = last.var_m / (last.mean_m * last.mean_m);
    let pred = match (last.pred_mean_m, last.pred_mean_m2) {
        (Some(m), Some(m2)) if m > 0.0 => Some(m2 / (m * m) - 1.0),
        _ => None,
    };
    if !rel.is_finite() {
        return Verdict {
            present: None,
            value: None,
            predicted: pred,
            text: "E[M_L] = 0: no relative variance".into(),
        };
    }
    let words = if rel > 1.0 {
        "present, M_L fluctuates more than its mean"
    } else {
        "absent, M_L fluctuates less than its mean"
    };
    let p = match pred {
        Some(p) => format!("predicted {}", g(p)),
        None => "no closed form".into(),
    };
    Verdict {
        present: Some(rel > 1.0),
        value: Some(rel),
        predicted: pred,
        text: if dense {
            format!(
                "{words}: Var(M_L)/E[M_L]^2 = {} ({p}; beta = {}, e^(5 beta) - 1 = {})",
                g(rel),
                g(beta),
                g((5.0 * beta).exp_m1())
            )
        } else {
            format!("{words}: Var(M_L)/E[M_L]^2 = {} ({p})", g(rel))
        },
    }
}

/// A number with 5 significant digits, in scientific notation when far from 1.
pub fn g(x: f64) -> String {
    if !x.is_finite() {
        return format!("{x}");
    }
    if x == 0.0 {
        return "0".into();
    }
    let a = x.abs();
    if (1e-3..1e6).contains(&a) {
        let digits = (4 - a.log10().floor() as i32).max(0) as usize;
        let s = format!("{x:.digits$}");
        if s.contains('.') {
            s.trim_end_matches('0').trim_end_matches('.').to_string()
        } else {
            s
        }
    } else {
        format!("{x:.4e}")
    }
}

fn opt(x: Option<f64>) -> String {
    x.map_or_else(|| "-".into(), g)
}

fn with_ci(m: f64, ci: [f64; 2]) -> String {
    format!("{} [{}, {}]", g(m), g(ci[0]), g(ci[1]))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::init_stats::arch::EtaSchedule;

    fn he(widths: Vec<usize>) -> Experiment {
        Experiment::new(Architecture::dense(widths).unwrap(), Init::HE_NORMAL)
    }

    #[test]
    fn worked_values_of_spec_section_9() {
        let p = predict(&he(vec![2, 16, 16, 16]));
        assert_eq!(p.mean_m, vec![Some(1.0); 4]);
        // (1 + 5/16)^3 = (21/16)^3 = 9261/4096.
        assert!((p.mean_m2[3].unwrap() - 9261.0 / 4096.0).abs() < 1e-15);
        assert!((p.mean_m2[3].unwrap() - 2.26099).abs() < 5e-6);
        // (1/9)·(−2·21/16 + 0 + 2·(21/16)^3) = 0.21077…
        let want = (-2.0 * 21.0 / 16.0 + 2.0 * 9261.0 / 4096.0) / 9.0;
        assert!((p.var_emp.unwrap() - want).abs() < 1e-14);
        assert!((p.var_emp.unwrap() - 0.21077).abs() < 5e-6);
    }

    #[test]
    fn var_emp_general_formula_reduces_to_the_he_special_case() {
        // (1/L²) Σ_j (2j − 1 − L)·E[M_j²] for He, zero biases, several shapes.
        for widths in [vec![3, 5, 7, 4, 9, 6], vec![1, 2], vec![4, 4, 4]] {
            let p = predict(&he(widths.clone()));
            let l = widths.len() - 1;
            let s: f64 = (1..=l)
                .map(|j| (2 * j) as f64 - 1.0 - l as f64)
                .zip(&p.mean_m2[1..])
                .map(|(w, e)| w * e.unwrap())
                .sum();
            let want = s / (l * l) as f64;
            assert!((p.var_emp.unwrap() - want).abs() < 1e-12, "{widths:?}");
        }
    }

    #[test]
    fn var_emp_with_the_input_included() {
        // j = 0..L: (1/(L+1)²)·Σ_j (2j − L)·E[M_j²] for He and zero biases.
        let e = he(vec![2, 16, 16, 16]).with_include_input(true);
        let p = predict(&e);
        let s: f64 = (0..=3)
            .map(|j| (2 * j) as f64 - 3.0)
            .zip(&p.mean_m2)
            .map(|(w, e)| w * e.unwrap())
            .sum();
        assert!((p.var_emp.unwrap() - s / 16.0).abs() < 1e-14);
    }

    #[test]
    fn c_equal_one_halves_the_mean_per_layer_and_biases_add() {
        let init = "c=1".parse().unwrap();
        let e = Experiment::new(Architecture::dense(vec![3, 8, 8, 8, 8]).unwrap(), init);
        assert_eq!(predict(&e).mean_m[4], Some(1.0 / 16.0));
        // (c/2)^L M_0 + (σ_b²/2)·Σ_{k<L} (c/2)^k with c = 1, σ_b² = 0.5, L = 4, M_0 = 1.
        let e = e.with_bias_var(0.5);
        let want = 1.0 / 16.0 + 0.25 * (1.0 + 0.5 + 0.25 + 0.125);
        assert!((predict(&e).mean_m[4].unwrap() - want).abs() < 1e-15);
    }

    #[test]
    fn residual_linear_branch_worked_value() {
        let a = Architecture::residual(&[16; 7], Branch::Linear, EtaSchedule::InverseLayer, 1.0)
            .unwrap();
        let p = predict(&Experiment::new(a, Init::HE_NORMAL));
        // Π_{ℓ=1..6} (1 + 1/ℓ²) = 3.1547…
        let want: f64 = (1..=6).map(|l| 1.0 + 1.0 / (l * l) as f64).product();
        assert!((p.mean_m[6].unwrap() - want).abs() < 1e-14);
        assert!((want - 3.1547).abs() < 5e-5);
        assert_eq!(p.mean_m2[6], None);
    }

    #[test]
    fn orthogonal_square_relative_variance_is_three_over_n_plus_two() {
        let init = Init::Orthogonal { gain: 2f64.sqrt() };
        let e = Experiment::new(Architecture::dense(vec![16, 16]).unwrap(), init);
        let p = predict(&e);
        let m = p.mean_m[1].unwrap();
        assert!((m - 1.0).abs() < 1e-15);
        assert!((p.mean_m2[1].unwrap() / (m * m) - 1.0 - 3.0 / 18.0).abs() < 1e-14);
    }

    #[test]
    fn uniform_first_layer_uses_the_kurtosis() {
        // x = (1, 1): ρ = 2/4; (1 + (5 − 1.2)/16) = 1.2375 for He.
        let e = Experiment::new(
            Architecture::dense(vec![2, 16, 16]).unwrap(),
            "he-uniform".parse().unwrap(),
        );
        let p = predict(&e);
        assert!((p.mean_m2[1].unwrap() - 1.2375).abs() < 1e-15);
        assert_eq!(p.mean_m2[2], None);
        assert_eq!(p.var_emp, None);
    }

    #[test]
    fn gaussian_biases_close_the_second_moment() {
        // One layer, M_0 = 1, c = 2, σ_b² = 1: (1 + 5/n)/4 · (2 + 1)² .
        let e = he(vec![1, 4]).with_bias_var(1.0);
        assert!((predict(&e).mean_m2[1].unwrap() - (1.0 + 1.25) / 4.0 * 9.0).abs() < 1e-14);
    }

    #[test]
    fn numbers_print_with_five_digits() {
        assert_eq!(g(1.0), "1");
        assert_eq!(g(2.260986328125), "2.261");
        assert_eq!(g(0.21077), "0.21077");
        assert_eq!(g(1.5e-7), "1.5000e-7");
    }
}
