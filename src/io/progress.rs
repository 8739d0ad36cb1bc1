//! Progress on a terminal: one bar for the whole run with rows per second and the time left, and
//! one line per table being copied. Silent when standard error is not a terminal, with `--quiet`,
//! or with JSON logs; the side schema carries the same progress for other sessions. While bars
//! are drawn, log lines are printed above them (`stderr_above_bars`), a requested stop shows on
//! the bar itself, and `clear_bars` wipes them before the process exits on a second Ctrl+C.

use std::io::{IsTerminal, Write};
use std::sync::Mutex;
use std::time::Duration;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressState, ProgressStyle};

/// The bars on screen now, if any: log lines go above them and an exit clears them.
static ON_SCREEN: Mutex<Option<MultiProgress>> = Mutex::new(None);

fn on_screen() -> Option<MultiProgress> {
    ON_SCREEN.lock().ok().and_then(|bars| bars.clone())
}

fn set_on_screen(bars: Option<MultiProgress>) {
    if let Ok(mut on_screen) = ON_SCREEN.lock() {
        *on_screen = bars;
    }
}

/// Wipes the bars from the terminal (before an exit that skips the normal end of the run).
pub fn clear_bars() {
    if let Some(bars) = on_screen() {
        let _ = bars.clear();
    }
    set_on_screen(None);
}

/// Standard error for log lines: written above the bars while they are drawn, so that a line
/// is neither overdrawn by the next tick nor leaves a torn bar behind.
pub fn stderr_above_bars() -> AboveBars {
    AboveBars
}

/// See [`stderr_above_bars`].
pub struct AboveBars;

impl Write for AboveBars {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match on_screen() {
            Some(bars) => bars.suspend(|| std::io::stderr().write_all(buf))?,
            None => std::io::stderr().write_all(buf)?,
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        std::io::stderr().flush()
    }
}

/// The bars of one run; every method does nothing when progress is off.
#[derive(Clone)]
pub struct Progress {
    bars: Option<(MultiProgress, ProgressBar)>,
}

impl Progress {
    /// Progress over `total_rows`, of which `done_rows` were copied by earlier attempts; once
    /// `stop_requested` says so, the bar tells that the run is stopping.
    pub fn new(
        enabled: bool,
        total_rows: u64,
        done_rows: u64,
        stop_requested: impl Fn() -> bool + Clone + Send + Sync + 'static,
    ) -> Progress {
        if !enabled || !std::io::stderr().is_terminal() {
            return Progress { bars: None };
        }
        let multi = MultiProgress::with_draw_target(ProgressDrawTarget::stderr());
        let overall = multi.add(ProgressBar::new(total_rows));
        overall.set_style(
            ProgressStyle::with_template(
                "{elapsed_precise} [{bar:40}] {human_pos}/{human_len} rows, {rate}, {left}{stopping}",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .with_key(
                "rate",
                |state: &ProgressState, out: &mut dyn std::fmt::Write| {
                    let _ = write!(out, "{}", rate(state.per_sec()));
                },
            )
            .with_key(
                "left",
                |state: &ProgressState, out: &mut dyn std::fmt::Write| {
                    let _ = write!(out, "{}", left(state.pos(), state.len(), state.eta()));
                },
            )
            .with_key(
                "stopping",
                move |_: &ProgressState, out: &mut dyn std::fmt::Write| {
                    let _ = write!(out, "{}", stopping(stop_requested()));
                },
            )
            .progress_chars("=> "),
        );
        overall.set_position(done_rows);
        overall.enable_steady_tick(Duration::from_millis(500));
        set_on_screen(Some(multi.clone()));
        Progress {
            bars: Some((multi, overall)),
        }
    }

    /// A line for a table while it is copied.
    pub fn table(&self, name: &str, total: u64) -> TableProgress {
        let bar = self.bars.as_ref().map(|(multi, _)| {
            let bar = multi.add(ProgressBar::new(total));
            bar.set_style(
                ProgressStyle::with_template("  {msg:40} {human_pos}/{human_len}")
                    .unwrap_or_else(|_| ProgressStyle::default_bar()),
            );
            bar.set_message(name.to_string());
            bar
        });
        TableProgress {
            bar,
            overall: self.bars.as_ref().map(|(_, overall)| overall.clone()),
        }
    }

    pub fn finish(&self) {
        if let Some((multi, overall)) = &self.bars {
            overall.finish_and_clear();
            let _ = multi.clear();
            set_on_screen(None);
        }
    }
}

/// The line of one table.
pub struct TableProgress {
    bar: Option<ProgressBar>,
    overall: Option<ProgressBar>,
}

impl TableProgress {
    pub fn advance(&self, rows: u64) {
        if let Some(bar) = &self.bar {
            bar.inc(rows);
        }
        if let Some(overall) = &self.overall {
            overall.inc(rows);
        }
    }
}

impl Drop for TableProgress {
    fn drop(&mut self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

/// What the bar adds once a stop was asked for (Ctrl+C, SIGTERM, the deadline, a failed table).
fn stopping(requested: bool) -> &'static str {
    if requested {
        " | stopping after the chunks in progress (Ctrl+C again: at once)"
    } else {
        ""
    }
}

/// Rows per second, whole: "23,546 rows/s".
fn rate(per_second: f64) -> String {
    let whole = per_second.max(0.0).round() as u64;
    let digits = whole.to_string();
    let mut grouped = String::new();
    for (index, digit) in digits.chars().enumerate() {
        if index > 0 && (digits.len() - index).is_multiple_of(3) {
            grouped.push(',');
        }
        grouped.push(digit);
    }
    format!("{grouped} rows/s")
}

/// The time left, said only once rows were copied to estimate it from (or when none are left).
fn left(position: u64, length: Option<u64>, eta: Duration) -> String {
    match length {
        Some(length) if position >= length => "no rows left".to_string(),
        _ if position == 0 => "time left not known yet".to_string(),
        _ => format!("{} left", indicatif::HumanDuration(eta)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_are_whole_rows_per_second() {
        assert_eq!(rate(23_545.501_6), "23,546 rows/s");
        assert_eq!(rate(0.4), "0 rows/s");
        assert_eq!(rate(1_234_567.0), "1,234,567 rows/s");
    }

    #[test]
    fn a_requested_stop_shows_on_the_bar() {
        assert_eq!(stopping(false), "");
        assert!(stopping(true).contains("stopping"));
    }

    #[test]
    fn no_time_left_is_claimed_before_any_row() {
        assert_eq!(
            left(0, Some(100), Duration::ZERO),
            "time left not known yet"
        );
        assert_eq!(left(100, Some(100), Duration::ZERO), "no rows left");
        assert!(left(50, Some(100), Duration::from_secs(90)).ends_with(" left"));
    }
}
