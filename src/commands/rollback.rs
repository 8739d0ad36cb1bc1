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
            number,
            keys,
            indexes,
        } => format!(
            "Run {number} was rolled back; its {keys} foreign keys and {indexes} indexes left aside are now restored.\n"
        ),
        Outcome::RolledBack { number, undone } => format!(
            "Run {number} rolled back: {} rows it created deleted ({} records, {} many2many pairs), \
             {} per-company copies deleted, {} external ids removed, {} rows referring to them cleared (ON DELETE), \
             {} matched records restored, {} sequences reset{}{}.\n",
            undone.rows + undone.pairs,
            undone.rows,
            undone.pairs,
            undone.copies,
            undone.xmlids,
            undone.cascaded,
            undone.restored,
            undone.sequences,
            if undone.reinserted > 0 {
                format!(", {} rows a catch-up deleted put back", undone.reinserted)
            } else {
                String::new()
            },
            if undone.final_sql_objects > 0 {
                format!(
                    ", {} rows, columns, keys and indexes the rules' final SQL created removed",
                    undone.final_sql_objects
                )
            } else {
                String::new()
            }
        ),
    };
    report::emit(&message)?;
    Ok(Status::Success)
}
