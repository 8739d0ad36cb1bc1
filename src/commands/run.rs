//! `odoo-migrate run`: the command line's run options turned into the pipeline's, the stop signal
//! armed (deadline, maximum duration, Ctrl+C), and the run started — or, with `--update`, the
//! update of records already migrated. `--catch-up` is a run too (the pipeline's `catch_up`).

use anyhow::Result;

use crate::cli::{Cli, LogFormat, RunArgs};
use crate::io::exit::{Status, refuse};
use crate::io::stop::{self, StopSignal};
use crate::pipeline::{self, Inputs, RunOptions};

pub async fn run_command(cli: &Cli, args: &RunArgs) -> Result<Status> {
    let inputs = inputs(cli, args)?;
    if !args.update.is_empty() {
        return pipeline::update::update(&inputs, &args.update).await;
    }
    let stop = stop_signal(args)?;
    let options = RunOptions {
        inputs,
        jobs: args.jobs,
        chunk_size: args.chunk_size,
        foreign_keys: args.foreign_keys,
        rebuild_indexes_from: args.rebuild_indexes_from,
        slice_from: args.slice_from,
        keep_going: args.keep_going,
        restart: args.restart,
        filestores: args
            .source_filestore
            .clone()
            .zip(args.target_filestore.clone()),
        report_dir: args.report_dir.clone(),
        show_progress: !cli.quiet && cli.log_format == LogFormat::Text,
        catch_up: args.catch_up,
        on_conflict: args.on_conflict,
        keep_row_hashes: args.prepare_catch_up,
        write_date_margin: (args.catch_up_compare == "write-date")
            .then_some(args.write_date_margin),
    };
    pipeline::run(&options, stop).await
}

/// Both databases, the rules files and the `--on-match` choices.
pub fn inputs(cli: &Cli, args: &RunArgs) -> Result<Inputs> {
    Ok(Inputs {
        source: cli.source()?,
        target: cli.target()?,
        rules: cli.rules.clone(),
        on_match: args.on_match.clone(),
    })
}

/// The stop signal of the run: at the deadline, after the maximum duration, or on Ctrl+C.
fn stop_signal(args: &RunArgs) -> Result<StopSignal> {
    let stop = StopSignal::default();
    if let Some(deadline) = &args.deadline {
        let wait = stop::until_deadline(deadline, chrono::Local::now()).ok_or_else(|| {
            refuse(
                Status::Usage,
                format!("--deadline takes a time of day as HH:MM (e.g. 06:30), not `{deadline}`"),
            )
        })?;
        stop.stop_after(wait);
    }
    if let Some(duration) = &args.max_duration {
        let wait = stop::parse_duration(duration).ok_or_else(|| {
            refuse(
                Status::Usage,
                format!(
                    "--max-duration takes a duration such as 90m, 2h or 1h30m, not `{duration}`"
                ),
            )
        })?;
        stop.stop_after(wait);
    }
    stop.watch_signals();
    Ok(stop)
}
