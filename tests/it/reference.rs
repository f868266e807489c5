//! Reference counts from shared/bench (copied into fixtures/bench): exact counts computed by an
//! independent program.

use crate::support::count_certified;
use relu_regions::{Network, Slice};

fn fixture(name: &str) -> String {
    std::fs::read_to_string(format!(
        "{}/fixtures/bench/{name}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
}

fn check(net: &str, slice: Option<&str>, expected: usize) {
    let network = Network::from_json(&fixture(net), net).unwrap();
    let slice = match slice {
        Some(s) => Slice::from_json(&fixture(s), s, network.input_dim()).unwrap(),
        None => Slice::identity(Slice::default_box(network.input_dim())),
    };
    assert_eq!(count_certified(&network, &slice), expected, "{net}");
}

#[test]
fn mlp_2_32x32x32() {
    check("mlp-2-32x32x32-s0.json", None, 3897);
}

#[test]
fn mlp_1_64x64x64x64() {
    check("mlp-1-64x64x64x64-s0.json", None, 242);
}

#[test]
fn digits_plane_a() {
    check("digits-64-64x3.json", Some("digits-plane-a.json"), 1719);
}
