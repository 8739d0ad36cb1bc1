//! Named fault-injection points for the resume tests. When the environment variable
//! `ODOO_MIGRATE_FAULT` names a point (optionally `point:N` for its N-th passage), the process
//! dies there at once, as with `kill -9`: no destructor runs, no transaction commits.

use std::sync::atomic::{AtomicU64, Ordering};

static PASSAGES: AtomicU64 = AtomicU64::new(0);

/// Dies here if the environment asks for it.
pub fn point(name: &str) {
    let Ok(wanted) = std::env::var("ODOO_MIGRATE_FAULT") else {
        return;
    };
    let (wanted_name, nth) = match wanted.split_once(':') {
        Some((point, n)) => (point, n.parse::<u64>().unwrap_or(1)),
        None => (wanted.as_str(), 1),
    };
    if wanted_name != name {
        return;
    }
    if PASSAGES.fetch_add(1, Ordering::SeqCst) + 1 >= nth {
        eprintln!("fault injected at {name}");
        std::process::abort();
    }
}
