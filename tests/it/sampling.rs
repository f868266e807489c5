//! Sampled estimates (docs/guide.md#sampling-estimators) never exceed the exact count and reach
//! it as the grid refines; `compare` flags impossible patterns and wrong points and finds the
//! regions an estimate missed.

use crate::support::*;
use rand::SeedableRng;
use relu_regions::exact::number::format_rational;
use relu_regions::sampling::{self, segment_slice, SampleRng};
use relu_regions::{Network, Partition, Restricted, Slice, DEFAULT_NETWORK};
use std::collections::HashSet;

/// A two-layer network with regions of moderate size on [-1, 1]².
const NET: &str = r#"{"layers": [
  {"weight": [[1, 0.5], [-0.5, 1.5], [0.5, -0.5]], "bias": [-0.5, 0.5, 0]},
  {"weight": [[1, -1, 1], [-1, 2, -1]], "bias": [0.5, -0.25]},
  {"weight": [[1, 1]], "bias": [0]}]}"#;

fn net() -> Network {
    Network::from_json(NET, "NET").unwrap()
}

fn patterns_of(p: &Partition) -> HashSet<Vec<u64>> {
    p.regions.iter().map(|r| r.pattern.to_vec()).collect()
}

/// Grid and random-point samples never exceed the exact count, and every pattern they report
/// is a region's pattern.
fn check_below(net: &Network, slice: &Slice, label: &str) {
    let exact = count(net, slice);
    let regions = patterns_of(&exact);
    let r = Restricted::new(net, slice).unwrap();
    let mut samples = Vec::new();
    for m in [1, 4, 17, 64] {
        samples.push(sampling::grid(&r, &slice.domain, m).unwrap());
    }
    let mut rng = SampleRng::seed_from_u64(1);
    samples.push(sampling::random_points(&r, &slice.domain, 3000, &mut rng).unwrap());
    for s in samples {
        assert!(
            s.distinct_patterns <= exact.regions.len(),
            "{label}: {} {} > exact {}",
            s.method,
            s.distinct_patterns,
            exact.regions.len()
        );
        for (p, _) in &s.patterns {
            assert!(
                regions.contains(p),
                "{label}: {} found a non-region pattern",
                s.method
            );
        }
        assert_eq!(s.patterns.len(), s.distinct_patterns);
    }
}

#[test]
fn samples_never_exceed_the_exact_count() {
    let default = Network::from_json(DEFAULT_NETWORK, "default").unwrap();
    check_below(&default, &square(-1, 1), "default network");
    check_below(&net(), &square(-1, 1), "NET");
    // Degenerate inputs: boundaries through corners and grid centres, duplicates, zero biases.
    for name in [
        "boundaries-through-corners.json",
        "duplicate-neurons.json",
        "zero-biases-deep.json",
        "three-lines-through-inner-point.json",
    ] {
        let text = std::fs::read_to_string(format!(
            "{}/fixtures/degenerate/{name}",
            env!("CARGO_MANIFEST_DIR")
        ))
        .unwrap();
        let net = Network::from_json(&text, name).unwrap();
        if net.input_dim() == 2 {
            check_below(&net, &square(-1, 1), name);
        }
    }
}

#[test]
fn grid_refinement_reaches_the_exact_count() {
    // Centres of the 3M grid include those of the M grid: counts cannot go down.
    let net = net();
    let slice = square(-1, 1);
    let exact = count(&net, &slice).regions.len();
    let r = Restricted::new(&net, &slice).unwrap();
    let mut last = 0;
    let mut seen = Vec::new();
    for m in [1, 3, 9, 27, 81, 243] {
        let s = sampling::grid(&r, &slice.domain, m).unwrap();
        assert!(s.distinct_patterns >= last, "grid {m}: {seen:?}");
        last = s.distinct_patterns;
        seen.push(last);
    }
    assert!(
        seen[0] < exact,
        "a 1-point grid cannot see every region: {seen:?}"
    );
    assert_eq!(
        last, exact,
        "grid refinement {seen:?} never reached {exact}"
    );
}

#[test]
fn points_on_boundaries_are_skipped() {
    // Lines x = 0, y = 0, x + y = 0: six regions; the 3×3 grid has centres on them.
    let net = network(&[layer(&[&[1, 0, 0], &[0, 1, 0], &[1, 1, 0]], 1)]);
    let slice = square(-1, 1);
    let r = Restricted::new(&net, &slice).unwrap();
    let s = sampling::grid(&r, &slice.domain, 3).unwrap();
    assert_eq!(s.points, 9);
    assert_eq!(
        s.on_boundary, 7,
        "x = 0, y = 0 or x + y = 0 at 7 of 9 centres"
    );
    assert_eq!(s.distinct_patterns, 2);
    assert!(
        s.exact_fallbacks >= 7,
        "boundary points need the exact pass"
    );
    // A polygon domain: only centres strictly inside are used.
    let tri = Slice::from_json(
        r#"{"origin": [0, 0], "basis": [[1, 0], [0, 1]], "polygon": [[-1, -1], [1, -1], [-1, 1]]}"#,
        "tri.json",
        2,
    )
    .unwrap();
    let s = sampling::grid(&r, &tri.domain, 4).unwrap();
    assert_eq!(s.points, 6, "centres strictly below the diagonal x + y = 0");
}

#[test]
fn random_points_are_reproducible_and_chao1_is_above_what_was_seen() {
    let net = Network::from_json(DEFAULT_NETWORK, "default").unwrap();
    let slice = square(-1, 1);
    let r = Restricted::new(&net, &slice).unwrap();
    let draw = |seed| {
        let mut rng = SampleRng::seed_from_u64(seed);
        sampling::random_points(&r, &slice.domain, 2000, &mut rng).unwrap()
    };
    let (a, b, c) = (draw(7), draw(7), draw(8));
    assert_eq!(a.patterns, b.patterns);
    assert_ne!(a.patterns, c.patterns);
    let chao1 = a.chao1.unwrap();
    assert!(chao1 >= a.distinct_patterns as f64);
    let (f1, f2, k, s) = (
        a.singletons as f64,
        a.doubletons as f64,
        2000.0,
        a.distinct_patterns as f64,
    );
    assert!((chao1 - (s + (k - 1.0) / k * f1 * (f1 - 1.0) / (2.0 * (f2 + 1.0)))).abs() < 1e-9);
    assert!(
        a.singletons > 0,
        "2000 points on 786 regions leave singletons"
    );
}

#[test]
fn lines_are_counted_exactly_along_segments() {
    // Lines x = 0, y = 0, x + y = 0 on [-1, 1]²: a segment through the origin crosses all three
    // at one point (2 regions); one that misses it crosses each once (4 regions).
    let net = network(&[layer(&[&[1, 0, 0], &[0, 1, 0], &[1, 1, 0]], 1)]);
    let slice = square(-1, 1);
    for (p, q_, expected) in [
        ([qi(-1), q(-1, 2)], [qi(1), q(1, 2)], 2),
        ([qi(-1), q(1, 2)], [qi(1), q(-1, 4)], 4),
        ([q(1, 4), q(1, 4)], [q(3, 4), q(1, 2)], 1),
    ] {
        let (seg, length) = segment_slice(&slice, &p, &q_);
        assert_eq!(count(&net, &seg).regions.len(), expected, "{p:?} → {q_:?}");
        assert!(length > 0.0);
    }
    // Lengths are measured in input space.
    let through = Slice::from_json(
        r#"{"origin": [0, 0], "basis": [[3, 0], [0, 3]], "box": [[0, 1], [0, 1]]}"#,
        "s",
        2,
    )
    .unwrap();
    let (_, length) = segment_slice(&through, &[qi(0), qi(0)], &[qi(1), qi(0)]);
    assert!((length - 3.0).abs() < 1e-12);

    let default = Network::from_json(DEFAULT_NETWORK, "default").unwrap();
    let mut rng = SampleRng::seed_from_u64(2);
    let s = sampling::random_lines(&default, &slice, 20, &mut rng).unwrap();
    let mut rng = SampleRng::seed_from_u64(2);
    let again = sampling::random_lines(&default, &slice, 20, &mut rng).unwrap();
    assert_eq!(s.regions, again.regions);
    assert_eq!(s.regions.len(), 20);
    assert!(s.regions.iter().all(|&r| (1..=17 * 17 * 17).contains(&r)));
    assert_eq!(s.total_regions, s.regions.iter().sum::<usize>());
    assert!((s.regions_per_length - s.total_regions as f64 / s.total_length).abs() < 1e-9);
}

// ---------------------------------------------------------------- the binary: sample, compare

fn run(args: &[&str]) -> (i32, String, String) {
    crate::support::run_cli(args)
}

fn temp(name: &str, text: &str) -> String {
    crate::support::temp_file("sampling", name, text)
}

fn json(text: &str) -> serde_json::Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("{e}: {text}"))
}

#[test]
fn sample_command_keys_and_usage_errors() {
    let net = temp("sample-net.json", NET);
    let (code, out, err) = run(&["sample", &net, "--grid", "9", "--json"]);
    assert_eq!(code, 0, "{err}");
    assert!(json(&out)["distinct_patterns"].as_u64().unwrap() >= 1);
    let (code, out, _) = run(&["sample", &net, "--points", "500", "--seed", "5", "--json"]);
    assert_eq!(code, 0);
    let v = json(&out);
    assert!(v["chao1"].as_f64().unwrap() >= v["distinct_patterns"].as_f64().unwrap());
    assert_eq!(v["seed"], 5);
    let (code, out, _) = run(&["sample", &net, "--lines", "4", "--seed", "1", "--json"]);
    assert_eq!(code, 0);
    assert!(json(&out)["regions_per_length"].as_f64().unwrap() > 0.0);
    for bad in [
        &["sample", &net][..],
        &["sample", &net, "--grid", "0"],
        &["sample", &net, "--grid", "100000"],
        &["sample", &net, "--grid", "3", "--points", "5"],
    ] {
        let (code, _, err) = run(bad);
        assert_eq!(code, 2, "{bad:?}: {err}");
        assert!(!err.contains("panicked"), "{err}");
    }
}

/// The exact partition of NET with exact vertices, for building estimate files.
fn partition_and_witnesses() -> (Partition, Vec<Vec<String>>, Vec<String>) {
    let p = count(&net(), &square(-1, 1));
    let points = p.exact_vertices();
    let witnesses = (0..p.regions.len())
        .map(|r| {
            p.region_witness(r, &points)
                .iter()
                .map(|x| format!("\"{}\"", format_rational(x)))
                .collect()
        })
        .collect();
    let areas = (0..p.regions.len())
        .map(|r| format_rational(&p.region_measure(r, &points)))
        .collect();
    (p, witnesses, areas)
}

fn estimate_file(name: &str, regions: usize, entries: &[(Vec<String>, String)]) -> String {
    let points: Vec<String> = entries
        .iter()
        .map(|(w, _)| format!("[{}]", w.join(", ")))
        .collect();
    let patterns: Vec<String> = entries.iter().map(|(_, p)| format!("\"{p}\"")).collect();
    temp(
        name,
        &format!(
            r#"{{"regions": {regions}, "points": [{}], "patterns": [{}]}}"#,
            points.join(", "),
            patterns.join(", ")
        ),
    )
}

#[test]
fn compare_finds_planted_missing_regions() {
    let (p, witnesses, areas) = partition_and_witnesses();
    let n = p.regions.len();
    assert!(n >= 6, "NET has {n} regions");
    let missing = [1usize, n - 2];
    let entries: Vec<(Vec<String>, String)> = (0..n)
        .filter(|r| !missing.contains(r))
        .map(|r| (witnesses[r].clone(), p.pattern_string(r)))
        .collect();
    let net = temp("cmp-net.json", NET);
    let est = estimate_file("missing.json", n - 2, &entries);
    let (code, out, err) = run(&["compare", &net, "--estimate", &est, "--json"]);
    assert_eq!(code, 0, "{out}{err}");
    let v = json(&out);
    assert_eq!(v["exact_regions"], n);
    assert!((v["relative_error"].as_f64().unwrap() + 2.0 / n as f64).abs() < 1e-12);
    assert_eq!(v["impossible_patterns"].as_array().unwrap().len(), 0);
    assert_eq!(v["wrong_points"].as_array().unwrap().len(), 0);
    let missed = v["missed_regions"].as_array().unwrap();
    let got: Vec<u64> = missed
        .iter()
        .map(|m| m["region"].as_u64().unwrap())
        .collect();
    assert_eq!(got, vec![missing[0] as u64, missing[1] as u64]);
    for (m, &r) in missed.iter().zip(&missing) {
        assert_eq!(m["area_exact"], areas[r], "region {r}");
        assert_eq!(m["pattern"], p.pattern_string(r));
    }
    let smallest = areas
        .iter()
        .map(|a| relu_regions::exact::number::parse_rational(a).unwrap())
        .min()
        .unwrap();
    assert_eq!(v["smallest_region_area_exact"], format_rational(&smallest));
    assert_eq!(v["passed"], true);
    // The table says it too.
    let (code, out, _) = run(&["compare", &net, "--estimate", &est]);
    assert_eq!(code, 0);
    assert!(out.contains("missed regions           2"), "{out}");
    // Only a count: no pattern checks, no missed list.
    let est = temp("count-only.json", &format!(r#"{{"regions": {}}}"#, n + 3));
    let (code, out, _) = run(&["compare", &net, "--estimate", &est, "--json"]);
    assert_eq!(code, 0);
    let v = json(&out);
    assert!(v.get("missed_regions").is_none());
    assert!((v["relative_error"].as_f64().unwrap() - 3.0 / n as f64).abs() < 1e-12);
}

#[test]
fn compare_flags_planted_impossible_patterns_and_wrong_points() {
    let (p, witnesses, _) = partition_and_witnesses();
    let n = p.regions.len();
    let neurons = p.neurons();
    let mut entries: Vec<(Vec<String>, String)> = (0..n)
        .map(|r| (witnesses[r].clone(), p.pattern_string(r)))
        .collect();
    let net = temp("cmp2-net.json", NET);

    // An impossible pattern: one no region has (found by search over all 2^N).
    let real: HashSet<String> = (0..n).map(|r| p.pattern_string(r)).collect();
    let impossible = (0..1u32 << neurons)
        .map(|m| {
            (0..neurons)
                .map(|i| if m >> i & 1 == 1 { '1' } else { '0' })
                .collect::<String>()
        })
        .find(|s| !real.contains(s))
        .expect("some pattern is impossible");
    let mut planted = entries.clone();
    planted[2].1 = impossible.clone();
    let est = estimate_file("impossible.json", n, &planted);
    let (code, out, err) = run(&["compare", &net, "--estimate", &est, "--json"]);
    assert_eq!(code, 1, "{out}{err}");
    let v = json(&out);
    assert_eq!(v["impossible_patterns"][0]["index"], 2);
    assert_eq!(v["impossible_patterns"][0]["pattern"], impossible.as_str());
    assert_eq!(v["passed"], false);
    // Its point now has the wrong pattern too, and region 2 is missed.
    assert_eq!(v["wrong_points"][0]["index"], 2);
    assert_eq!(v["missed_regions"][0]["region"], 2);

    // A real pattern at the wrong point: not impossible, but the point is wrong.
    entries.swap(0, 1);
    let (a, b) = (entries[0].0.clone(), entries[1].0.clone());
    entries[0].0 = b;
    entries[1].0 = a;
    entries[0].1 = p.pattern_string(0);
    entries[1].1 = p.pattern_string(0);
    let est = estimate_file("wrong-point.json", n, &entries);
    let (code, out, _) = run(&["compare", &net, "--estimate", &est, "--json"]);
    assert_eq!(code, 1, "{out}");
    let v = json(&out);
    assert_eq!(v["impossible_patterns"].as_array().unwrap().len(), 0);
    let wrong = v["wrong_points"].as_array().unwrap();
    assert_eq!(wrong.len(), 1, "{wrong:?}");
    assert_eq!(wrong[0]["index"], 1);
    assert_eq!(wrong[0]["actual"], p.pattern_string(1));

    // A tool that calls a zero pre-activation active is wrong on a boundary point.
    let lines = temp(
        "lines.json",
        r#"{"layers": [{"weight": [[1, 0], [0, 1]], "bias": [0, 0]}, {"weight": [[1, 1]], "bias": [0]}]}"#,
    );
    let est = temp(
        "boundary.json",
        r#"{"regions": 4, "points": [[0, 0.5], [0.5, 0.5]], "patterns": [[1, 1], [true, true]]}"#,
    );
    let (code, out, _) = run(&["compare", &lines, "--estimate", &est, "--json"]);
    assert_eq!(code, 1, "{out}");
    let v = json(&out);
    assert_eq!(v["wrong_points"][0]["on_boundary"], true);
    assert_eq!(v["wrong_points"][0]["actual"], "01");
    // With the strict rule (zero is inactive) the same point is fine.
    let est = temp(
        "boundary-ok.json",
        r#"{"regions": 4, "points": [[0, 0.5]], "patterns": ["01"]}"#,
    );
    let (code, out, _) = run(&["compare", &lines, "--estimate", &est, "--json"]);
    assert_eq!(code, 0, "{out}");
}

#[test]
fn compare_rejects_bad_estimate_files() {
    let net = temp("cmp3-net.json", NET);
    let cases: &[(&str, &str, &[&str])] = &[
        (
            "trunc.json",
            r#"{"regions": 4, "patterns": [[0,"#,
            &["trunc.json", "JSON"],
        ),
        (
            "noregions.json",
            r#"{"patterns": []}"#,
            &["noregions.json", "regions"],
        ),
        (
            "negative.json",
            r#"{"regions": -3}"#,
            &["negative.json", "regions"],
        ),
        (
            "short.json",
            r#"{"regions": 4, "patterns": [[0, 1, 1, 0, 1], [0, 1]]}"#,
            &["short.json", "patterns[1]"],
        ),
        (
            "two.json",
            r#"{"regions": 4, "patterns": [[0, 1, 1, 0, 2]]}"#,
            &["two.json", "patterns[0][4]"],
        ),
        (
            "outside.json",
            r#"{"regions": 4, "points": [[0, 0], [3, 0]], "patterns": ["00000", "00000"]}"#,
            &["outside.json", "points[1]", "outside"],
        ),
        (
            "mismatch.json",
            r#"{"regions": 4, "points": [[0, 0]], "patterns": []}"#,
            &["mismatch.json", "points"],
        ),
        (
            "dims.json",
            r#"{"regions": 4, "points": [[0, 0, 0]], "patterns": ["00000"]}"#,
            &["dims.json", "points[0]"],
        ),
    ];
    for (name, text, needles) in cases {
        let est = temp(name, text);
        let (code, _, err) = run(&["compare", &net, "--estimate", &est]);
        assert_eq!(code, 2, "{name}: {err}");
        assert!(!err.contains("panicked"), "{name}: {err}");
        for needle in *needles {
            assert!(
                err.contains(needle),
                "{name}: stderr does not name {needle:?}: {err}"
            );
        }
    }
    let (code, _, err) = run(&["compare", &net, "--estimate", "/nonexistent/est.json"]);
    assert_eq!(code, 2);
    assert!(err.contains("/nonexistent/est.json"), "{err}");
}
