//! `odoo-migrate verify`: turns `--check`, `--deep`, `--target-filestore` and `--report-dir` into
//! the options of the verify stage, runs it, prints its results, and exits 4 when a check failed.

use anyhow::Result;

use crate::cli::{Cli, VerifyArgs};
use crate::io::exit::Status;
use crate::io::report;
use crate::rules::Rules;
use crate::verify;

/// `odoo-migrate verify`: checks the migration, prints the results, and tells whether all passed.
pub async fn verify_command(cli: &Cli, args: &VerifyArgs) -> Result<Status> {
    verify::refuse_unknown_check(args.check.as_deref())?;
    let options = verify::Options {
        rules: Rules::load(&cli.rules)?,
        source: cli.source()?,
        target: cli.target()?,
        check: args.check.clone(),
        deep: args.deep,
        target_filestore: args.target_filestore.clone(),
        report_dir: args.report_dir.clone(),
    };
    let verification = verify::verify(&options).await?;
    report::emit(&verify::render(
        &verification.results,
        cli.format,
        verification.number,
    )?)?;
    if verification.passed() {
        Ok(Status::Success)
    } else {
        Ok(Status::VerificationFailed)
    }
}
