//! The tool as its users live with it: help texts, JSON logs, log files, reports, redacted secrets
//! and exit codes, through the real binary.

mod common;

use common::{DatabasePair, odoo_migrate};

#[test]
fn every_command_explains_itself() {
    let top = odoo_migrate(&["--help"], &[]);
    assert_eq!(top.code, 0);
    for command in ["analyze", "rehearse", "run", "status", "verify", "rollback"] {
        assert!(top.stdout.contains(command), "{command} in --help");
        let help = odoo_migrate(&[command, "--help"], &[]);
        assert_eq!(help.code, 0, "{command} --help");
        assert!(
            help.stdout.contains("--source"),
            "{command}: {}",
            help.stdout
        );
    }
    assert!(top.stdout.contains("Exit codes"), "{}", top.stdout);
    let run = odoo_migrate(&["run", "--help"], &[]);
    for option in [
        "--jobs",
        "--chunk-size",
        "--deadline",
        "--max-duration",
        "--keep-going",
        "--restart",
        "--on-match",
        "--update",
        "--source-filestore",
        "--report-dir",
    ] {
        assert!(run.stdout.contains(option), "run --help lacks {option}");
    }
    let wrong = odoo_migrate(&["run", "--jobs", "many"], &[]);
    assert_eq!(wrong.code, 2);
}

#[test]
fn json_logs_reports_and_no_secret_anywhere() {
    let pair = DatabasePair::new("cli_json");
    // The server trusts local connections, so a password in the URL is accepted and ignored:
    // it must appear nowhere in what the tool writes.
    let secret = "Sup3rS3cret";
    let with_password = |url: String| {
        url.replacen(
            "postgres://postgres@",
            &format!("postgres://postgres:{secret}@"),
            1,
        )
    };
    let source = with_password(pair.source.url());
    let target = with_password(pair.target.url());
    assert!(source.contains(secret));
    let reports = std::env::temp_dir().join(format!("om-reports-{}", std::process::id()));
    let log = reports.join("run.log");
    std::fs::create_dir_all(&reports).unwrap();
    let outcome = odoo_migrate(
        &[
            "--source",
            &source,
            "--target",
            &target,
            "--log-format",
            "json",
            "run",
            "--report-dir",
            reports.to_str().unwrap(),
        ],
        &[],
    );
    assert_eq!(outcome.code, 0, "{}", outcome.stderr);
    let lines: Vec<&str> = outcome
        .stderr
        .lines()
        .filter(|l| !l.trim().is_empty())
        .collect();
    assert!(lines.len() >= 3, "{}", outcome.stderr);
    for line in &lines {
        let event: serde_json::Value = serde_json::from_str(line)
            .unwrap_or_else(|e| panic!("not a JSON log line ({e}): {line}"));
        assert!(
            event["level"].is_string() && event["timestamp"].is_string(),
            "{line}"
        );
    }
    let run_id = pair
        .target
        .scalar("SELECT max(id) FROM odoo_migrate.runs WHERE command = 'run'")
        .unwrap();
    let markdown = std::fs::read_to_string(reports.join(format!("run-{run_id}.md"))).unwrap();
    assert!(
        markdown.contains("| account.move | account_move → account_move | done | 30 |"),
        "{markdown}"
    );
    let csv = std::fs::read_to_string(reports.join(format!("run-{run_id}.csv"))).unwrap();
    assert!(
        csv.starts_with("model,source_table,target_table,status,source_rows,created"),
        "{csv}"
    );
    assert!(pair.target.count("SELECT 1 FROM odoo_migrate.run_report") > 200);

    // A failure, logged to a file: the secret is in neither the message nor the log.
    let failed = odoo_migrate(
        &[
            "--source",
            &source,
            "--target",
            &with_password(common::url("omt_no_such_database")),
            "--log-file",
            log.to_str().unwrap(),
            "analyze",
        ],
        &[],
    );
    assert_eq!(failed.code, 7);
    let logged = std::fs::read_to_string(&log).unwrap();
    assert!(logged.contains("does not exist"), "{logged}");
    for text in [
        &outcome.stdout,
        &outcome.stderr,
        &failed.stdout,
        &failed.stderr,
        &logged,
        &markdown,
        &csv,
    ] {
        assert!(!text.contains(secret), "secret leaked: {text}");
    }
    let status = odoo_migrate(&["--target", &target, "status"], &[]);
    assert_eq!(status.code, 0);
    assert!(!status.stdout.contains(secret));
    let _ = std::fs::remove_dir_all(reports);
}
