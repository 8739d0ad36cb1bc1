//! `odoo-migrate rehearse`: the migration of a sample of every model inside a target transaction
//! that is rolled back, reporting what would fail.

use anyhow::Result;

use crate::cli::{Cli, RehearseArgs};
use crate::io::exit::Status;
use crate::pipeline::{self, Inputs};

pub async fn rehearse_command(cli: &Cli, args: &RehearseArgs) -> Result<Status> {
    let inputs = Inputs {
        source: cli.source()?,
        target: cli.target()?,
        rules: cli.rules.clone(),
        on_match: Vec::new(),
    };
    pipeline::rehearse::rehearse(&inputs, args.sample, cli.format).await
}
