//! `odoo-migrate config check`: the effective configuration (flags, environment and file merged),
//! passwords hidden, and a test of both connections.

use anyhow::Result;

use crate::cli::Cli;
use crate::io::connect::{Endpoint, Side};
use crate::io::exit::Status;
use crate::io::report;

/// `config check`: the effective configuration, passwords hidden, and a test of both connections.
pub async fn check_command(cli: &Cli) -> Result<Status> {
    let mut out = String::new();
    use std::fmt::Write;
    let _ = writeln!(
        out,
        "configuration file: {}",
        cli.config
            .as_ref()
            .map_or("(none)".to_string(), |p| p.display().to_string())
    );
    let mut ok = true;
    for side in [Side::Source, Side::Target] {
        let text = match side {
            Side::Source => cli.source.as_deref(),
            Side::Target => cli.target.as_deref(),
        };
        let label = side.label();
        let Some(text) = text else {
            let _ = writeln!(out, "{label}: not set");
            ok = false;
            continue;
        };
        match Endpoint::parse(side, text) {
            Err(error) => {
                let _ = writeln!(out, "{label}: {error}");
                ok = false;
            }
            Ok(endpoint) => match endpoint.connect().await {
                Ok(client) => {
                    let version: Option<String> = client
                        .query_opt(
                            "SELECT latest_version FROM ir_module_module WHERE name = 'base' AND state = 'installed'",
                            &[],
                        )
                        .await
                        .ok()
                        .flatten()
                        .and_then(|row| row.get(0));
                    let _ = writeln!(
                        out,
                        "{label}: {endpoint} — connected, {}",
                        version.map_or("not an Odoo database".to_string(), |v| format!("Odoo {v}"))
                    );
                }
                Err(error) => {
                    let _ = writeln!(out, "{label}: {endpoint} — {error}");
                    ok = false;
                }
            },
        }
    }
    let _ = writeln!(
        out,
        "rules files: {}",
        if cli.rules.is_empty() {
            "(default pack only)".to_string()
        } else {
            cli.rules
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        }
    );
    let _ = writeln!(out, "log format: {:?}", cli.log_format);
    if let Some(file) = &cli.log_file {
        let _ = writeln!(out, "log file: {}", file.display());
    }
    report::emit(&crate::io::connect::redact(&out))?;
    Ok(if ok {
        Status::Success
    } else {
        Status::Connection
    })
}
