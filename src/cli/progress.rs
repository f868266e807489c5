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
        Bar::counting(enabled, "faces")
    }

    /// A bar counting `unit` (faces, points, segments, planes, samples), with an ETA.
    pub fn counting(enabled: bool, unit: &str) -> Bar {
        let bar = ProgressBar::with_draw_target(Some(0), ProgressDrawTarget::hidden());
        bar.set_style(
            ProgressStyle::with_template(&format!(
                "{{prefix}} [{{bar:30}}] {{pos}}/{{len}} {unit} ({{elapsed}}, eta {{eta}})"
            ))
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

/// Set by the Ctrl-C handler ([`catch_ctrl_c`]); engines stop soon after.
static INTERRUPTED: AtomicBool = AtomicBool::new(false);

/// From now on a first Ctrl-C asks the running count to stop cleanly (it reports what it has,
/// `complete: false`); a second one ends the program at once.
pub fn catch_ctrl_c() {
    let _ = ctrlc::set_handler(|| {
        if INTERRUPTED.swap(true, Ordering::Relaxed) {
            std::process::exit(130);
        }
        eprintln!("\nrelu-regions: stopping (Ctrl-C again to quit at once)");
    });
}

/// Whether Ctrl-C was pressed.
pub fn interrupted() -> bool {
    INTERRUPTED.load(Ordering::Relaxed)
}

impl ProgressSink for Bar {
    fn cancelled(&self) -> bool {
        interrupted()
    }

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

/// A spinner on stderr for a step without a count (writing a file, checking a certificate): it
/// appears only if the step is still running after a second, and says what is being done.
pub struct Spinner {
    done: std::sync::Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Spinner {
    pub fn new(enabled: bool, message: String) -> Spinner {
        let done = std::sync::Arc::new(AtomicBool::new(false));
        let thread = enabled.then(|| {
            let done = done.clone();
            std::thread::spawn(move || {
                let start = Instant::now();
                while start.elapsed() < Duration::from_secs(1) {
                    if done.load(Ordering::Relaxed) {
                        return;
                    }
                    std::thread::park_timeout(Duration::from_millis(50));
                }
                let bar = ProgressBar::new_spinner();
                bar.set_style(
                    ProgressStyle::with_template("{spinner} {msg} ({elapsed})")
                        .expect("valid template"),
                );
                bar.set_message(message);
                while !done.load(Ordering::Relaxed) {
                    bar.tick();
                    std::thread::park_timeout(Duration::from_millis(100));
                }
                bar.finish_and_clear();
            })
        });
        Spinner { done, thread }
    }

    pub fn finish(mut self) {
        self.stop();
    }

    fn stop(&mut self) {
        self.done.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            t.thread().unpark();
            let _ = t.join();
        }
    }
}

impl Drop for Spinner {
    fn drop(&mut self) {
        self.stop();
    }
}
