//! Exit statuses of the command line and the error type that carries one.
//!
//! Every command ends in exactly one [`Status`]; scripts and schedulers rely on these numbers, so they
//! never change meaning once released. An error that should end the process with a specific status is
//! wrapped in a [`Refusal`]; any other error ends it with [`Status::Failure`].

use std::fmt;

/// The process exit statuses, documented in the README under "Exit codes".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Success = 0,
    /// The command failed: a database error, a bug, a row that could not be written.
    Failure = 1,
    /// The command line is wrong (clap uses 2 as well).
    Usage = 2,
    /// `analyze` found differences that no rule covers and that block a migration.
    Blocking = 3,
    /// `verify` found at least one failed check.
    VerificationFailed = 4,
    /// `run` stopped at its deadline; the next `run` resumes.
    DeadlineReached = 5,
    /// `run` was interrupted by a signal; the next `run` resumes.
    Interrupted = 6,
    /// A database could not be reached or refused the login.
    Connection = 7,
    /// The databases are not what the tool migrates (not Odoo, wrong versions, the same database twice,
    /// a side schema from another source).
    WrongDatabase = 8,
}

impl Status {
    pub fn code(self) -> i32 {
        self as i32
    }
}

/// An error that ends the process with a chosen status and a message written for the user.
#[derive(Debug)]
pub struct Refusal {
    pub status: Status,
    pub message: String,
}

impl Refusal {
    pub fn new(status: Status, message: impl Into<String>) -> Self {
        Refusal {
            status,
            message: message.into(),
        }
    }
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Refusal {}

/// Builds an `anyhow::Error` that ends the process with `status`.
pub fn refuse(status: Status, message: impl Into<String>) -> anyhow::Error {
    anyhow::Error::new(Refusal::new(status, message))
}

/// The status an error ends the process with: the status of the first [`Refusal`] in its chain.
pub fn status_of(error: &anyhow::Error) -> Status {
    error
        .chain()
        .find_map(|cause| cause.downcast_ref::<Refusal>())
        .map_or(Status::Failure, |refusal| refusal.status)
}
