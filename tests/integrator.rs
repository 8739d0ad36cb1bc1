//! What an integrator reads at 7 a.m. must be true: `status` of a killed run says it was
//! interrupted, a newer dump of the same database is not taken as already migrated, and a
//! refused run leaves the target as it was.

mod common;

use common::{DatabasePair, odoo_migrate};

/// Runs `run` on the pair with a fault point that kills the process there.
fn run_killed_at(pair: &DatabasePair, fault: &str) -> common::Outcome {
    let (source, target) = (pair.source.url(), pair.target.url());
    odoo_migrate(
        &[
            "--source",
            &source,
            "--target",
            &target,
            "run",
            "--chunk-size",
            "500",
        ],
        &[("ODOO_MIGRATE_FAULT", fault)],
    )
}

#[test]
fn status_of_a_killed_run_says_interrupted_and_how_to_resume() {
    let pair = DatabasePair::new("status_killed");
    let killed = run_killed_at(&pair, "after_chunk_commit:3");
    assert_ne!(killed.code, 0, "the fault point must end the process");
    // The run's row still says running: only its lock tells that nobody works on it.
    assert_eq!(
        pair.target
            .scalar("SELECT status FROM odoo_migrate.runs WHERE command = 'run'")
            .as_deref(),
        Some("running")
    );

    let text = pair.run(&["status"]);
    text.assert_code(0);
    assert!(text.stdout.contains("(interrupted)"), "{}", text.stdout);
    assert!(text.stdout.contains("odoo-migrate run"), "{}", text.stdout);
    let json = pair.run(&["--format", "json", "status"]);
    json.assert_code(0);
    let status: serde_json::Value = serde_json::from_str(&json.stdout).expect("status JSON");
    assert_eq!(status["status"], "interrupted", "{}", json.stdout);

    // Resumed, it finishes, and status says so.
    pair.run(&["run"]).assert_code(0);
    let done = pair.run(&["--format", "json", "status"]);
    let status: serde_json::Value = serde_json::from_str(&done.stdout).expect("status JSON");
    assert_eq!(status["status"], "finished", "{}", done.stdout);
}

#[test]
fn a_newer_snapshot_of_the_source_is_refused_not_taken_as_migrated() {
    let pair = DatabasePair::new("newer_snapshot");
    pair.run(&["run"]).assert_code(0);
    let before = pair.target.table_digests();

    // The same Odoo database a day later: one partner more, one partner written.
    pair.source.execute(
        "INSERT INTO res_partner (name, active, create_date, write_date) VALUES ('Came later', true, now(), now())",
    );
    let again = pair.run(&["run"]);
    again.assert_code(8);
    assert!(
        again.stderr.contains("another snapshot") && again.stderr.contains("res_partner"),
        "{}",
        again.stderr
    );
    assert_eq!(
        common::differing_tables(&before, &pair.target.table_digests()),
        Vec::<String>::new(),
        "a refused run changes nothing in the target"
    );
}

#[test]
fn a_run_refused_for_a_filled_target_writes_nothing_into_it() {
    let pair = DatabasePair::new("refused_writes_nothing");
    pair.target
        .execute("INSERT INTO crm_lead (name, type) VALUES ('A lead of the new company', 'lead')");
    let refused = pair.run(&["run"]);
    refused.assert_code(8);
    assert!(refused.stderr.contains("crm_lead"), "{}", refused.stderr);
    assert_eq!(
        pair.target
            .scalar("SELECT count(*) FROM pg_namespace WHERE nspname = 'odoo_migrate'")
            .as_deref(),
        Some("0"),
        "no side schema written by a refused run"
    );
}

/// The checks of a full `verify` on the demo pair that `verification_summary` lists.
fn summary(pair: &DatabasePair) -> Vec<Vec<Option<String>>> {
    pair.target.rows(
        "SELECT check_name, state, verification::text, migration_run::text, (verified_at IS NOT NULL)::text \
         FROM odoo_migrate.verification_summary ORDER BY check_name",
    )
}

#[test]
fn the_verification_views_show_the_current_runs_verification_and_each_command_numbers_its_runs() {
    let pair = DatabasePair::new("verify_current");
    // An analysis and a verification before any run take no number from the first run.
    pair.run(&["analyze"]);
    pair.run(&["run"]).assert_code(0);
    assert_eq!(
        pair.target
            .scalar("SELECT number FROM odoo_migrate.runs WHERE command = 'run'")
            .as_deref(),
        Some("1")
    );
    let status = pair.run(&["status"]);
    assert!(status.stdout.starts_with("Run 1 ("), "{}", status.stdout);

    // Before any verification of the run: one line, not verified.
    let before = summary(&pair);
    assert_eq!(before.len(), 1, "{before:?}");
    assert_eq!(before[0][1].as_deref(), Some("not verified"));
    assert_eq!(before[0][3].as_deref(), Some("1"));

    pair.run(&["verify"]).assert_code(0);
    let full = summary(&pair);
    assert!(full.len() > 5, "a line per check: {full:?}");
    // The checks of apps the demo source does not have are not applicable, not ok.
    for line in &full {
        let check = line[0].as_deref().unwrap_or_default();
        let expected = if common::DEMO_NOT_APPLICABLE.contains(&check) {
            "not applicable"
        } else {
            "ok"
        };
        assert_eq!(line[1].as_deref(), Some(expected), "{line:?}");
        assert_eq!(line[2].as_deref(), Some("1"), "verification 1: {line:?}");
        assert_eq!(line[3].as_deref(), Some("1"), "of run 1: {line:?}");
        assert_eq!(line[4].as_deref(), Some("true"), "{line:?}");
    }

    // A verification of one check replaces that check's line only.
    let one = pair.run(&["verify", "--check", "counts"]);
    one.assert_code(0);
    assert!(one.stdout.starts_with("Verification 2:"), "{}", one.stdout);
    let after = summary(&pair);
    assert_eq!(after.len(), full.len(), "{after:?}");
    for line in &after {
        let expected = if line[0].as_deref() == Some("counts") {
            "2"
        } else {
            "1"
        };
        assert_eq!(line[2].as_deref(), Some(expected), "{line:?}");
    }

    // Rolled back, the run's verification is no longer the state of the target.
    pair.run(&["rollback", "--run", "1"]).assert_code(0);
    let rolled_back = summary(&pair);
    assert_eq!(rolled_back.len(), 1, "{rolled_back:?}");
    assert_eq!(rolled_back[0][1].as_deref(), Some("not verified"));
    // Nor after the next run, which is Run 2.
    pair.run(&["run", "--restart"]).assert_code(0);
    let rerun = summary(&pair);
    assert_eq!(rerun.len(), 1, "{rerun:?}");
    assert_eq!(rerun[0][1].as_deref(), Some("not verified"));
    assert_eq!(rerun[0][3].as_deref(), Some("2"));
    assert_eq!(
        pair.target
            .count("SELECT 1 FROM odoo_migrate.verification_failures"),
        0
    );
    let status = pair.run(&["status"]);
    assert!(status.stdout.starts_with("Run 2 ("), "{}", status.stdout);
}

#[test]
fn the_run_status_and_rollback_count_the_same_problems_and_rows() {
    let pair = DatabasePair::new("same_counts");
    let run = pair.run(&["run"]);
    run.assert_code(0);
    let counted = |severity: &str| {
        pair.target.count(&format!(
            "SELECT 1 FROM odoo_migrate.problems WHERE severity IN ({severity})"
        ))
    };
    let (problems, info) = (counted("'error', 'warning'"), counted("'info'"));
    let said = format!("{problems} problem{}", if problems == 1 { "" } else { "s" });
    assert!(run.stdout.contains(&said), "{said}: {}", run.stdout);
    assert!(
        run.stdout.contains(&format!("{info} info")),
        "{}",
        run.stdout
    );
    let status = pair.run(&["status"]);
    assert!(status.stdout.contains(&said), "{said}: {}", status.stdout);
    let json = pair.run(&["--format", "json", "status"]);
    let status: serde_json::Value = serde_json::from_str(&json.stdout).expect("status JSON");
    assert_eq!(status["problems"], problems, "{}", json.stdout);
    assert_eq!(status["problem_counts"]["info"], info, "{}", json.stdout);

    // The rollback deletes what the run counted as created: its records and many2many pairs.
    let created = pair
        .target
        .scalar("SELECT rows_created FROM odoo_migrate.runs WHERE command = 'run'")
        .expect("the run's rows_created");
    let records = pair
        .target
        .count("SELECT 1 FROM odoo_migrate.id_map WHERE how = 'created'");
    let pairs = pair
        .target
        .count("SELECT 1 FROM odoo_migrate.relation_rows");
    assert_eq!(
        created.parse::<i64>().expect("a count"),
        records + pairs,
        "the run counts as created its records and its many2many pairs"
    );
    let rollback = pair.run(&["rollback"]);
    rollback.assert_code(0);
    assert!(
        rollback.stdout.contains(&format!(
            "{created} rows it created deleted ({records} records, {pairs} many2many pairs)"
        )),
        "{}",
        rollback.stdout
    );
}

/// Quotes one word for `sh -c`.
fn shell_word(word: &str) -> String {
    format!("'{}'", word.replace('\'', r"'\''"))
}

/// Ctrl+C typed on the terminal while the progress bar is drawn: the bar says at once that the
/// run is stopping, the run ends at a chunk boundary with its "stopped" line, and no bar is left
/// drawn below it (the last bar drawn is followed by an erase).
#[test]
fn ctrl_c_under_the_progress_bar_is_answered_and_leaves_no_bar_behind() {
    use std::io::{Read, Write};
    let pair = DatabasePair::new("ctrl_c_tty");
    let words: Vec<String> = std::iter::once(common::BINARY.to_string())
        .chain(pair.args(&["run", "--chunk-size", "200"]))
        .map(|word| shell_word(&word))
        .collect();
    // `script` gives the run a terminal of its own; ^C written to it is turned by the terminal
    // into SIGINT for the run, as when a user presses Ctrl+C.
    let mut child = common::clean_command("script")
        .args(["-qfec", &format!("exec {}", words.join(" ")), "/dev/null"])
        .env("ODOO_MIGRATE_PAUSE", "before_chunk_commit:25")
        .env("TERM", "xterm")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("start the run under `script` (util-linux)");
    let mut terminal = child.stdout.take().expect("the terminal's output");
    let mut keyboard = child.stdin.take().expect("the terminal's input");
    let mut screen = Vec::new();
    let mut buffer = [0u8; 4096];
    let mut interrupted = false;
    loop {
        let read = terminal.read(&mut buffer).unwrap_or(0);
        if read == 0 {
            break;
        }
        screen.extend_from_slice(&buffer[..read]);
        if !interrupted && String::from_utf8_lossy(&screen).contains("paused at") {
            keyboard.write_all(b"\x03").expect("type Ctrl+C");
            keyboard.flush().expect("type Ctrl+C");
            interrupted = true;
        }
    }
    let status = child.wait().expect("wait for script");
    let screen = String::from_utf8_lossy(&screen).into_owned();
    assert!(interrupted, "the run never paused: {screen}");
    assert_eq!(
        status.code(),
        Some(6),
        "an interrupted run exits 6: {screen}"
    );
    assert!(
        screen.contains("stopping after the chunks in progress"),
        "the bar does not say the run is stopping: {screen}"
    );
    assert!(
        screen.contains("stopped: the run was interrupted"),
        "no stopped line: {screen}"
    );
    let last_bar = screen.rfind("rows/s").expect("a progress bar was drawn");
    let last_erase = screen.rfind("\x1b[2K").expect("the bar was erased");
    assert!(
        last_erase > last_bar,
        "a bar is left on the screen after the run ended: {}",
        &screen[last_bar.saturating_sub(200)..]
    );
}
