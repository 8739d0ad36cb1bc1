//! When a run must stop before its end: Ctrl+C or SIGTERM (a second one exits at once), or the
//! deadline of an overnight window. Workers look at the signal between chunks, so a stop always
//! falls on a committed chunk boundary.

use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};
use std::time::Duration;

use crate::io::exit::Status;

const RUNNING: u8 = 0;
const DEADLINE: u8 = 1;
const INTERRUPTED: u8 = 2;
const FAILED: u8 = 3;

/// Shared between the workers and the tasks that watch signals and the clock.
#[derive(Clone, Default)]
pub struct StopSignal {
    state: Arc<AtomicU8>,
}

impl StopSignal {
    pub fn requested(&self) -> bool {
        self.state.load(Ordering::SeqCst) != RUNNING
    }

    /// The exit status a stop calls for, if one was requested.
    pub fn status(&self) -> Option<Status> {
        match self.state.load(Ordering::SeqCst) {
            DEADLINE => Some(Status::DeadlineReached),
            INTERRUPTED => Some(Status::Interrupted),
            _ => None,
        }
    }

    /// Another table failed and the run does not keep going: stop the others at a boundary.
    pub fn request_after_failure(&self) {
        self.request(FAILED);
    }

    fn request(&self, reason: u8) {
        let _ = self
            .state
            .compare_exchange(RUNNING, reason, Ordering::SeqCst, Ordering::SeqCst);
    }

    /// Stops the run `after` from now.
    pub fn stop_after(&self, after: Duration) {
        let signal = self.clone();
        tokio::spawn(async move {
            tokio::time::sleep(after).await;
            tracing::warn!("deadline reached: stopping at the next chunk boundary");
            signal.request(DEADLINE);
        });
    }

    /// Watches SIGINT and SIGTERM: the first asks for a clean stop, the second exits at once
    /// (the open transactions roll back on the server, so nothing half-written remains).
    pub fn watch_signals(&self) {
        let signal = self.clone();
        tokio::spawn(async move {
            let mut count = 0;
            loop {
                wait_for_signal().await;
                count += 1;
                if count == 1 {
                    tracing::warn!(
                        "interrupted: finishing the chunks in progress, then stopping (interrupt again to stop now)"
                    );
                    signal.request(INTERRUPTED);
                } else {
                    crate::io::progress::clear_bars();
                    eprintln!("interrupted again: stopping now; uncommitted chunks roll back");
                    std::process::exit(Status::Interrupted.code());
                }
            }
        });
    }
}

#[cfg(unix)]
async fn wait_for_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut interrupt), Ok(mut terminate)) = (
        signal(SignalKind::interrupt()),
        signal(SignalKind::terminate()),
    ) else {
        std::future::pending::<()>().await;
        return;
    };
    tokio::select! {
        _ = interrupt.recv() => {}
        _ = terminate.recv() => {}
    }
}

#[cfg(not(unix))]
async fn wait_for_signal() {
    let _ = tokio::signal::ctrl_c().await;
}

/// How long from `now` until the next `HH:MM` of the machine's local clock.
pub fn until_deadline(text: &str, now: chrono::DateTime<chrono::Local>) -> Option<Duration> {
    use chrono::Timelike;
    let seconds_of_day = u64::from(now.num_seconds_from_midnight());
    until_time_of_day(text, seconds_of_day)
}

fn until_time_of_day(text: &str, now_seconds_of_day: u64) -> Option<Duration> {
    let (hours, minutes) = text.split_once(':')?;
    let hours: u64 = hours.parse().ok().filter(|h| *h < 24)?;
    let minutes: u64 = minutes.parse().ok().filter(|m| *m < 60)?;
    let target = hours * 3600 + minutes * 60;
    let wait = if target > now_seconds_of_day {
        target - now_seconds_of_day
    } else {
        target + 86_400 - now_seconds_of_day
    };
    Some(Duration::from_secs(wait))
}

/// Parses a duration such as `90s`, `45m`, `2h` or `1h30m`.
pub fn parse_duration(text: &str) -> Option<Duration> {
    let mut total = 0u64;
    let mut number = String::new();
    let mut any = false;
    for c in text.trim().chars() {
        if c.is_ascii_digit() {
            number.push(c);
            continue;
        }
        let value: u64 = number.parse().ok()?;
        number.clear();
        total += value
            * match c {
                's' => 1,
                'm' => 60,
                'h' => 3600,
                _ => return None,
            };
        any = true;
    }
    if !number.is_empty() {
        total += number.parse::<u64>().ok()?;
        any = true;
    }
    any.then(|| Duration::from_secs(total))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deadlines_fall_on_the_next_occurrence() {
        assert_eq!(
            until_time_of_day("06:30", 5 * 3600),
            Some(Duration::from_secs(5400))
        );
        assert_eq!(
            until_time_of_day("06:00", 23 * 3600),
            Some(Duration::from_secs(7 * 3600))
        );
        assert_eq!(until_time_of_day("25:00", 0), None);
        assert_eq!(until_time_of_day("soon", 0), None);
    }

    #[test]
    fn durations_read_like_people_write_them() {
        assert_eq!(parse_duration("90s"), Some(Duration::from_secs(90)));
        assert_eq!(parse_duration("1h30m"), Some(Duration::from_secs(5400)));
        assert_eq!(parse_duration("120"), Some(Duration::from_secs(120)));
        assert_eq!(parse_duration("2 days"), None);
        assert_eq!(parse_duration(""), None);
    }
}
