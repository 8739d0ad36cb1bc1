//! Named fault-injection points for the resume tests. When the environment variable
//! `ODOO_MIGRATE_FAULT` names a point (optionally `point:N` for its N-th passage), the process
//! dies there at once, as with `kill -9`: no destructor runs, no transaction commits.

use std::sync::atomic::{AtomicU64, Ordering};

static PASSAGES: AtomicU64 = AtomicU64::new(0);

/// Dies here if the environment asks for it (and pauses here if it asks for that).
pub fn point(name: &str) {
    pause(name);
    let Some(nth) = wanted("ODOO_MIGRATE_FAULT", name) else {
        return;
    };
    if PASSAGES.fetch_add(1, Ordering::SeqCst) + 1 >= nth {
        eprintln!("fault injected at {name}");
        std::process::abort();
    }
}

static PAUSES: AtomicU64 = AtomicU64::new(0);

/// Stops here for a few seconds when `ODOO_MIGRATE_PAUSE` names this point (`point:N` for its
/// N-th passage), after saying so on standard error, so that a test can act on a run in the
/// middle of its work: interrupt it, or cut its connections.
pub fn pause(name: &str) {
    let Some(nth) = wanted("ODOO_MIGRATE_PAUSE", name) else {
        return;
    };
    if PAUSES.fetch_add(1, Ordering::SeqCst) + 1 == nth {
        eprintln!("paused at {name}");
        std::thread::sleep(std::time::Duration::from_secs(3));
    }
}

/// The passage (`point:N`, 1 by default) at which `variable` asks to act on point `name`.
fn wanted(variable: &str, name: &str) -> Option<u64> {
    let value = std::env::var(variable).ok()?;
    let (point, nth) = match value.split_once(':') {
        Some((point, n)) => (point, n.parse::<u64>().unwrap_or(1)),
        None => (value.as_str(), 1),
    };
    (point == name).then_some(nth)
}
