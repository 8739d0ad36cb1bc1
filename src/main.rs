//! odoo-migrate: moves a whole Odoo 16 database into a fresh Odoo 19 database, PostgreSQL to
//! PostgreSQL. This file only wires the phases together; each module owns one phase.

mod catalog;
mod cli;
mod commands;
mod copy;
mod io;
mod pipeline;
mod plan;
mod rules;
mod side_schema;
#[cfg(test)]
mod test_utils;
mod verify;

use std::process::ExitCode;

use clap::{CommandFactory, FromArgMatches};

use crate::cli::{Cli, Command};
use crate::io::exit::Status;

fn main() -> ExitCode {
    let matches = Cli::command().get_matches();
    let mut cli = match Cli::from_arg_matches(&matches) {
        Ok(cli) => cli,
        Err(error) => error.exit(),
    };
    if let Err(error) = cli::config::apply(&mut cli, &matches) {
        eprintln!("error: {}", io::connect::redact(&error.to_string()));
        return ExitCode::from(io::exit::status_of(&error).code() as u8);
    }
    cli::init_logging(&cli);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: cannot start the async runtime: {error}");
            return ExitCode::from(Status::Failure.code() as u8);
        }
    };
    let status = match runtime.block_on(dispatch(&cli)) {
        Ok(status) => status,
        Err(error) => {
            let status = io::exit::status_of(&error);
            let mut message = match status {
                Status::Failure => format!("{error:#}"),
                _ => error.to_string(),
            };
            if let Some(hint) = io::connect::hint(&error) {
                message.push_str(&format!("\nhint: {hint}"));
            }
            let message = io::connect::redact(&message);
            let json_on_stderr = cli.log_format == cli::LogFormat::Json && cli.log_file.is_none();
            if json_on_stderr || cli.log_file.is_some() {
                tracing::error!(exit_code = status.code(), "{message}");
            }
            if !json_on_stderr {
                eprintln!("error: {message}");
            }
            status
        }
    };
    ExitCode::from(status.code() as u8)
}

async fn dispatch(cli: &Cli) -> anyhow::Result<Status> {
    match &cli.command {
        Command::Analyze(args) => commands::analyze::analyze_command(cli, args).await,
        Command::Run(args) => commands::run::run_command(cli, args).await,
        Command::Status => commands::status::status_command(cli).await,
        Command::Verify(args) => commands::verify::verify_command(cli, args).await,
        Command::Rollback(args) => commands::rollback::rollback_command(cli, args).await,
        Command::Config {
            action: cli::ConfigAction::Check,
        } => commands::config::check_command(cli).await,
        Command::Rehearse(args) => commands::rehearse::rehearse_command(cli, args).await,
    }
}
