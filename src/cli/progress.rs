//! A progress bar on stderr (indicatif) that appears only once a run has taken about a second.

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use relu_regions::ProgressSink;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

pub struct Bar {
    bar: ProgressBar,
    start: Instant,
    shown: AtomicBool,
    enabled: bool,
}

impl Bar {
    pub fn new(enabled: bool) -> Bar {
        let bar = ProgressBar::with_draw_target(Some(0), ProgressDrawTarget::hidden());
        bar.set_style(
            ProgressStyle::with_template("{prefix} [{bar:30}] {pos}/{len} faces ({elapsed})")
                .expect("valid template")
                .progress_chars("=> "),
        );
        Bar {
            bar,
            start: Instant::now(),
            shown: AtomicBool::new(false),
            enabled,
        }
    }

    fn maybe_show(&self) {
        if self.enabled
            && !self.shown.load(Ordering::Relaxed)
            && self.start.elapsed() > Duration::from_secs(1)
            && !self.shown.swap(true, Ordering::Relaxed)
        {
            self.bar.set_draw_target(ProgressDrawTarget::stderr());
        }
    }
}

impl ProgressSink for Bar {
    fn start_layer(&self, layer: usize, layers: usize, faces: usize) {
        self.bar.set_prefix(format!("layer {}/{layers}", layer + 1));
        self.bar.set_length(faces as u64);
        self.bar.set_position(0);
        self.maybe_show();
    }

    fn advance(&self, faces: u64) {
        self.bar.inc(faces);
        self.maybe_show();
    }

    fn finish(&self) {
        self.bar.finish_and_clear();
    }
}
