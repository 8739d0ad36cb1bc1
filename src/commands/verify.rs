//! `odoo-migrate verify`: turns `--check`, `--deep`, `--target-filestore`, `--report-dir` and the
//! judge's `--odoo-*` into the options of the verify stage, runs it, prints its results, and exits
//! 4 when a check failed.

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
        judge: verify::judge::Judge::new(
            verify::judge::Installation {
                odoo_bin: args.odoo_bin.as_deref(),
                python: args.odoo_python.as_deref(),
                conf: args.odoo_conf.as_deref(),
                timeout: &args.odoo_timeout,
            },
            args.check.as_deref(),
        )?,
    };
    let verification = verify::verify(&options).await?;
    report::emit(&verify::render(
        &verification.results,
        cli.format,
        verification.number,
        &verification.not_run,
    )?)?;
    if verification.passed() {
        Ok(Status::Success)
    } else {
        Ok(Status::VerificationFailed)
    }
}
