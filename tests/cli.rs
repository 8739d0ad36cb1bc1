//! The tool as its users live with it: help texts, JSON logs, log files, reports, redacted secrets
//! and exit codes, through the real binary.

mod common;

use common::{DatabasePair, Scratch, migrate, odoo_migrate};

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
    top.assert_stdout_contains("Exit codes");
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
    let user = common::server().user;
    let with_password = |database: &str| common::url_as(&user, Some(secret), database);
    let source = with_password(&pair.source.name);
    let target = with_password(&pair.target.name);
    assert!(source.contains(secret));
    let reports = Scratch::dir("om-reports");
    let log = reports.join("run.log");
    let outcome = migrate(
        &source,
        &target,
        &["--log-format", "json", "run", "--report-dir", reports.arg()],
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
    let number = pair
        .target
        .scalar("SELECT max(number) FROM odoo_migrate.runs WHERE command = 'run'")
        .unwrap();
    let markdown = std::fs::read_to_string(reports.join(format!("run-{number}.md"))).unwrap();
    let moves = pair.source.count("SELECT 1 FROM account_move");
    assert!(
        markdown.contains(&format!(
            "| account.move | account_move → account_move | done | {moves} |"
        )),
        "{markdown}"
    );
    let csv = std::fs::read_to_string(reports.join(format!("run-{number}.csv"))).unwrap();
    assert!(
        csv.starts_with("model,source_table,target_table,status,source_rows,created"),
        "{csv}"
    );
    assert!(pair.target.count("SELECT 1 FROM odoo_migrate.run_report") > 200);

    // A failure, logged to a file: the secret is in neither the message nor the log.
    let failed = migrate(
        &source,
        &with_password("omt_no_such_database"),
        &["--log-file", log.to_str().unwrap(), "analyze"],
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
}

#[test]
fn a_configuration_file_and_an_odoo_configuration_drive_the_tool() {
    let pair = DatabasePair::new("cli_config");
    let dir = Scratch::dir("om-config");
    let odoo_conf = dir.join("odoo19.conf");
    // The test server's host, port and role; the server trusts the role, the password is ignored.
    let server = common::server();
    std::fs::write(
        &odoo_conf,
        format!(
            "[options]\ndb_host = {}\ndb_port = {}\ndb_user = {}\ndb_password = Hidd3nPw\ndata_dir = {}\n",
            server.host,
            server.port,
            server.user,
            dir.path().display()
        ),
    )
    .unwrap();
    let config = dir.join("migrate.toml");
    std::fs::write(
        &config,
        format!(
            "source = \"{}\"\nlog_format = \"json\"\n\n[target]\nodoo_conf = \"{}\"\ndatabase = \"{}\"\n\n[run]\njobs = 2\n",
            pair.source.url(),
            odoo_conf.display(),
            pair.target.name
        ),
    )
    .unwrap();
    let config = config.to_str().unwrap();
    let check = odoo_migrate(&["--config", config, "config", "check"], &[]);
    assert_eq!(check.code, 0, "{}{}", check.stdout, check.stderr);
    check.assert_stdout_contains("Odoo 16.0");
    check.assert_stdout_contains("Odoo 19.0");
    assert!(!check.stdout.contains("Hidd3nPw"), "{}", check.stdout);
    let analyze = odoo_migrate(&["--config", config, "--format", "json", "analyze"], &[]);
    assert_eq!(analyze.code, 0, "{}", analyze.stderr);
    // JSON logs from the file's log_format.
    assert!(
        analyze
            .stderr
            .lines()
            .all(|l| l.trim().is_empty() || l.starts_with('{')),
        "{}",
        analyze.stderr
    );
    // A flag wins over the file.
    let overridden = odoo_migrate(
        &[
            "--config",
            config,
            "--target",
            &common::url("omt_no_such_db"),
            "analyze",
        ],
        &[],
    );
    assert_eq!(overridden.code, 7);
    let broken = dir.join("broken.toml");
    std::fs::write(&broken, "source = \"x\"\nunknown_key = 1\n").unwrap();
    let refused = odoo_migrate(&["--config", broken.to_str().unwrap(), "status"], &[]);
    assert_eq!(refused.code, 2);
    refused.assert_stderr_contains("broken.toml:2");
}
