//! Degenerate networks from fixtures/degenerate: each file carries its expected count (derived
//! by hand, explained in `meta.why`) and its box; every partition must also pass the certificate.

use crate::support::count_certified;
use relu_regions::slice::parse_box_flag;
use relu_regions::{Network, Slice};
use std::path::Path;

fn check(path: &Path) {
    let text = std::fs::read_to_string(path).unwrap();
    let name = path.file_name().unwrap().to_string_lossy().to_string();
    let meta: serde_json::Value = serde_json::from_str(&text).unwrap();
    let expected = meta["meta"]["expected_regions"]
        .as_u64()
        .unwrap_or_else(|| panic!("{name}: no expected_regions")) as usize;
    let net = Network::from_json(&text, &name).unwrap();
    let b = meta["meta"]["box"].as_str().unwrap();
    let slice = Slice::identity(parse_box_flag(b, net.input_dim()).unwrap());
    assert_eq!(
        count_certified(&net, &slice),
        expected,
        "fixture {name}: {}",
        meta["meta"]["why"]
    );
}

#[test]
fn every_degenerate_fixture_has_its_hand_derived_count() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/degenerate");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    assert!(files.len() >= 12, "fixtures missing in {dir:?}");
    for f in &files {
        check(f);
    }
}

#[test]
fn duplicates_count_like_the_reduced_network() {
    // Duplicating every neuron of a random-ish layer leaves the count unchanged.
    use crate::support::*;
    let base = network(&[
        layer(&[&[3, -1, 1], &[1, 2, -1], &[-2, 1, 0], &[1, 1, 1]], 4),
        layer(
            &[&[1, -1, 2, 0, -1], &[2, 1, -1, 1, 1], &[0, 1, 1, -3, 0]],
            2,
        ),
    ]);
    let doubled = network(&[
        layer(
            &[
                &[3, -1, 1],
                &[3, -1, 1],
                &[1, 2, -1],
                &[-2, 1, 0],
                &[1, 1, 1],
                &[2, 4, -2],
            ],
            4,
        ),
        layer(
            &[
                &[1, 0, -1, 2, 0, 0, -1],
                &[2, 0, 1, -1, 1, 0, 1],
                &[2, 0, 1, -1, 1, 0, 1],
                &[0, 0, 1, 1, -3, 0, 0],
            ],
            2,
        ),
    ]);
    let s = square(-1, 1);
    assert_eq!(count_certified(&base, &s), count_certified(&doubled, &s));
}
