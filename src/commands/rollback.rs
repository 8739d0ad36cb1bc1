//! `odoo-migrate rollback`: turns `--target` and `--run` into the options of the rollback stage,
//! runs it, and prints what it undid.

use anyhow::Result;

use crate::cli::{Cli, RollbackArgs};
use crate::io::exit::Status;
use crate::io::report;
use crate::pipeline::rollback::{self, Outcome};

/// `odoo-migrate rollback`: undoes a run (the newest by default) and says what was undone.
pub async fn rollback_command(cli: &Cli, args: &RollbackArgs) -> Result<Status> {
    let options = rollback::Options {
        target: cli.target()?,
        run: args.run,
    };
    let message = match rollback::rollback(&options).await? {
        Outcome::Restored {
            run_id,
            keys,
            indexes,
        } => format!(
            "Run {run_id} was rolled back; its {keys} foreign keys and {indexes} indexes left aside are now restored.\n"
        ),
        Outcome::RolledBack { run_id, undone } => format!(
            "Run {run_id} rolled back: {} created rows deleted, {} external ids removed, {} many2many pairs removed, \
             {} matched records restored, {} sequences reset.\n",
            undone.rows, undone.xmlids, undone.pairs, undone.restored, undone.sequences
        ),
    };
    report::emit(&message)?;
    Ok(Status::Success)
}
