//! The `odoo_migrate` schema in the target database: its creation and upgrade, and the bookkeeping of
//! runs (start, end, source identity) that every command shares.
//!
//! The schema is versioned. Each upgrade step in `sql/side_schema/` runs once, in order, inside one
//! transaction guarded by an advisory lock; a schema written by a newer tool is refused rather than
//! guessed at.

pub mod problems;
pub mod syncs;

use anyhow::{Context, Result};
use serde_json::Value;
use tokio_postgres::{Client, GenericClient, Transaction};

use crate::io::exit::{Status, refuse};

pub const SCHEMA: &str = "odoo_migrate";
pub const TOOL_VERSION: &str = env!("CARGO_PKG_VERSION");

/// The upgrade steps, in order; the version of the schema is the number of steps applied.
const STEPS: &[&str] = &[
    include_str!("../../sql/side_schema/001_initial.sql"),
    include_str!("../../sql/side_schema/002_deferred_indexes.sql"),
    include_str!("../../sql/side_schema/003_source_last_write.sql"),
    include_str!("../../sql/side_schema/004_copied_rows.sql"),
    include_str!("../../sql/side_schema/005_run_numbers_and_current_verification.sql"),
    include_str!("../../sql/side_schema/006_catch_up_syncs.sql"),
    include_str!("../../sql/side_schema/007_final_sql_objects.sql"),
    include_str!("../../sql/side_schema/008_source_row_hashes.sql"),
    include_str!("../../sql/side_schema/009_not_applicable_in_summary.sql"),
    include_str!("../../sql/side_schema/010_row_hash_method.sql"),
    include_str!("../../sql/side_schema/011_final_sql_sequences.sql"),
    include_str!("../../sql/side_schema/012_slices.sql"),
];

/// Sets aside the keys of `odoo_migrate.id_map` for a large load: its primary key, its foreign
/// key to the runs and its index by target id. Each chunk then appends its mappings to a plain
/// heap, where the keys cost four times the row itself (a btree entry on a text key and, when
/// the triggers are on, a check of the run per row); [`ensure_id_map_keys`] builds them once at
/// the end. A load writes each mapping once by construction (a chunk's range follows the last
/// checkpoint); the primary key built at the end still refuses a mapping written twice.
pub async fn set_id_map_keys_aside(client: &impl GenericClient) -> Result<()> {
    client
        .batch_execute(include_str!("../../sql/run/id_map_keys_aside.sql"))
        .await
        .context("cannot set aside the keys of odoo_migrate.id_map for the load")
}

/// Builds the keys of `id_map` that a large load set aside, unless they are there: the finishing
/// steps, `verify`, `rollback`, a resumed run's checks, a catch-up and `--update` read mappings
/// by key (and the last two write them with ON CONFLICT on the primary key).
pub async fn ensure_id_map_keys(client: &impl GenericClient) -> Result<()> {
    client
        .batch_execute(include_str!("../../sql/run/id_map_keys_restore.sql"))
        .await
        .context(
            "cannot build the keys of odoo_migrate.id_map (primary key, key to the runs, index by target id); \
             a source id mapped twice or a mapping of a run that is gone is a fault of the tool: \
             roll the run back (`odoo-migrate rollback`) and report it",
        )
}

/// Session-level advisory lock held by whatever writes a migration into the target (run, update,
/// rollback), so that two of them never work on one target at once ("odoo_run" in ASCII).
const RUN_LOCK: i64 = 0x6f64_6f6f_5f72_756e;

/// Takes the run lock for this session, or refuses with `busy` when another session holds it.
pub async fn lock_run(client: &Client, busy: &str) -> Result<()> {
    let locked: bool = client
        .query_one("SELECT pg_try_advisory_lock($1)", &[&RUN_LOCK])
        .await
        .context("cannot take the run lock on the target")?
        .get(0);
    if locked {
        Ok(())
    } else {
        Err(refuse(Status::Usage, busy.to_string()))
    }
}

/// Whether some session of this database holds the run lock: a run whose row says `running` while
/// nobody holds it was killed (kill -9, a lost terminal) and waits to be resumed.
pub async fn run_lock_held(client: &impl GenericClient) -> Result<bool> {
    // A bigint advisory key is stored as its high and low halves, objsubid 1.
    let high = (RUN_LOCK >> 32) as u32;
    let low = (RUN_LOCK & 0xffff_ffff) as u32;
    Ok(client
        .query_one(
            "SELECT EXISTS (SELECT 1 FROM pg_locks l JOIN pg_database d ON d.oid = l.database \
             WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1 \
             AND l.classid::bigint = $1 AND l.objid::bigint = $2 AND d.datname = current_database())",
            &[&i64::from(high), &i64::from(low)],
        )
        .await
        .context("cannot read the run lock's holder from pg_locks")?
        .get(0))
}

/// Advisory lock key taken while the schema is created or upgraded ("odoo_mig" in ASCII).
const SCHEMA_LOCK: i64 = 0x6f64_6f6f_5f6d_6967;

pub fn current_version() -> i32 {
    STEPS.len() as i32
}

/// Creates the side schema or upgrades it to this tool's version.
pub async fn ensure(client: &mut Client) -> Result<()> {
    let transaction = client
        .transaction()
        .await
        .context("cannot open a transaction on the target to set up the side schema")?;
    ensure_in(&transaction).await?;
    transaction
        .commit()
        .await
        .context("cannot commit the side schema")?;
    Ok(())
}

/// Creates or upgrades the side schema inside the caller's transaction (a rehearsal rolls it back).
pub async fn ensure_in(transaction: &Transaction<'_>) -> Result<()> {
    transaction
        .execute("SELECT pg_advisory_xact_lock($1)", &[&SCHEMA_LOCK])
        .await
        .context("cannot lock the side schema for its upgrade")?;
    let installed = installed_version(transaction).await?;
    if installed > current_version() {
        return Err(refuse(
            Status::WrongDatabase,
            format!(
                "the side schema `{SCHEMA}` in the target was written by a newer odoo-migrate (schema version {installed}, this tool knows {}); use that version of the tool",
                current_version()
            ),
        ));
    }
    if installed == current_version() {
        return Ok(());
    }
    transaction
        .batch_execute(&format!("CREATE SCHEMA IF NOT EXISTS {SCHEMA}"))
        .await
        .map_err(|error| permission_hint(error, "create the side schema"))?;
    for (index, step) in STEPS.iter().enumerate().skip(installed.max(0) as usize) {
        transaction
            .batch_execute(step)
            .await
            .with_context(|| format!("cannot apply side schema step {}", index + 1))?;
    }
    transaction
        .execute(
            "INSERT INTO odoo_migrate.schema_version (version, tool_version) VALUES ($1, $2)",
            &[&current_version(), &TOOL_VERSION],
        )
        .await?;
    Ok(())
}

fn permission_hint(error: tokio_postgres::Error, what: &str) -> anyhow::Error {
    if error
        .as_db_error()
        .is_some_and(|db| db.code().code() == "42501")
    {
        refuse(
            Status::Connection,
            format!(
                "the target role may not {what}: permission denied; connect to the target as the database owner (the role Odoo uses)"
            ),
        )
    } else {
        anyhow::Error::new(error).context(format!("cannot {what}"))
    }
}

/// The installed version, 0 when the schema does not exist yet.
pub async fn installed_version(client: &impl GenericClient) -> Result<i32> {
    let exists: bool = client
        .query_one(
            "SELECT to_regclass('odoo_migrate.schema_version') IS NOT NULL",
            &[],
        )
        .await?
        .get(0);
    if !exists {
        return Ok(0);
    }
    let version: Option<i32> = client
        .query_one("SELECT max(version) FROM odoo_migrate.schema_version", &[])
        .await?
        .get(0);
    Ok(version.unwrap_or(0))
}

/// The identity of an Odoo database: its `database.uuid` parameter, stable across dumps and restores.
pub async fn database_uuid(client: &impl GenericClient) -> Result<String> {
    let row = client
        .query_opt(
            "SELECT value FROM ir_config_parameter WHERE key = 'database.uuid'",
            &[],
        )
        .await
        .context("cannot read database.uuid from ir_config_parameter")?;
    Ok(row
        .and_then(|r| r.get::<_, Option<String>>(0))
        .unwrap_or_default())
}

/// Records which source database fills this target, or checks that it is the one recorded before.
pub async fn claim_source(
    client: &impl GenericClient,
    uuid: &str,
    name: &str,
    base_version: &str,
) -> Result<()> {
    let recorded = client
        .query_opt(
            "SELECT database_uuid, database_name FROM odoo_migrate.source_identity",
            &[],
        )
        .await?;
    match recorded {
        Some(row) => {
            let recorded_uuid: String = row.get(0);
            let recorded_name: String = row.get(1);
            if recorded_uuid != uuid {
                return Err(refuse(
                    Status::WrongDatabase,
                    format!(
                        "the target's side schema belongs to another source database ({recorded_name}, database.uuid {recorded_uuid}); \
                         this source is {name} ({uuid}). Use the right source, or roll back and drop the schema `{SCHEMA}` to start over"
                    ),
                ));
            }
        }
        None => {
            client
                .execute(
                    "INSERT INTO odoo_migrate.source_identity (database_uuid, database_name, base_version) VALUES ($1, $2, $3)",
                    &[&uuid, &name, &base_version],
                )
                .await?;
        }
    }
    Ok(())
}

/// Opens a row in `runs` and returns its id.
pub async fn start_run(
    client: &impl GenericClient,
    command: &str,
    source_database: &str,
    target_database: &str,
    options: &Value,
) -> Result<i64> {
    let row = client
        .query_one(
            "INSERT INTO odoo_migrate.runs (command, source_database, target_database, tool_version, options) \
             VALUES ($1, $2, $3, $4, $5) RETURNING id",
            &[&command, &source_database, &target_database, &TOOL_VERSION, options],
        )
        .await
        .context("cannot record the run in odoo_migrate.runs")?;
    Ok(row.get(0))
}

/// Closes a run with its final status and an optional message.
pub async fn finish_run(
    client: &impl GenericClient,
    run_id: i64,
    status: &str,
    message: Option<&str>,
) -> Result<()> {
    client
        .execute(
            "UPDATE odoo_migrate.runs SET status = $2, finished_at = now(), message = $3 WHERE id = $1",
            &[&run_id, &status, &message],
        )
        .await
        .with_context(|| format!("cannot close run {run_id} in odoo_migrate.runs"))?;
    Ok(())
}

/// The number of run `run_id` among the runs of its command (the first `run` is Run 1 whatever
/// `analyze` or `verify` made before it): what people are shown; ids stay the references.
pub async fn run_number(client: &impl GenericClient, run_id: i64) -> Result<i64> {
    let number: Option<i32> = client
        .query_one(
            "SELECT number FROM odoo_migrate.runs WHERE id = $1",
            &[&run_id],
        )
        .await
        .with_context(|| format!("cannot read the number of run id {run_id} in odoo_migrate.runs"))?
        .get(0);
    Ok(number.map_or(run_id, i64::from))
}

/// The problems a run recorded, by severity. "Problems" are errors and warnings, everywhere they
/// are counted (the run's last line, `status`); `info` rows are notes, counted apart.
#[derive(Debug, Clone, Copy, Default, serde::Serialize)]
pub struct ProblemCounts {
    pub errors: i64,
    pub warnings: i64,
    pub info: i64,
}

impl ProblemCounts {
    pub async fn of_run(client: &impl GenericClient, run_id: i64) -> Result<Self> {
        let row = client
            .query_one(
                "SELECT count(*) FILTER (WHERE severity = 'error'), \
                 count(*) FILTER (WHERE severity = 'warning'), count(*) FILTER (WHERE severity = 'info') \
                 FROM odoo_migrate.problems WHERE run_id = $1",
                &[&run_id],
            )
            .await
            .with_context(|| format!("cannot count the problems of run id {run_id}"))?;
        Ok(Self {
            errors: row.get(0),
            warnings: row.get(1),
            info: row.get(2),
        })
    }

    /// Errors and warnings.
    pub fn problems(&self) -> i64 {
        self.errors + self.warnings
    }
}

impl std::fmt::Display for ProblemCounts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let plural = |n: i64, word: &str| format!("{n} {word}{}", if n == 1 { "" } else { "s" });
        write!(
            f,
            "{} ({}, {}) and {} info",
            plural(self.problems(), "problem"),
            plural(self.errors, "error"),
            plural(self.warnings, "warning"),
            self.info
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_version_is_the_number_of_upgrade_steps_shipped_each_file_once_in_order() {
        let directory = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("sql/side_schema");
        let mut files: Vec<String> = std::fs::read_dir(&directory)
            .unwrap()
            .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|name| name.ends_with(".sql"))
            .collect();
        files.sort();
        assert_eq!(current_version() as usize, files.len(), "{files:?}");
        for (index, (name, step)) in files.iter().zip(STEPS).enumerate() {
            assert!(
                name.starts_with(&format!("{:03}_", index + 1)),
                "step {} is {name}",
                index + 1
            );
            let text = std::fs::read_to_string(directory.join(name)).unwrap();
            assert_eq!(&text, step, "{name} is step {}", index + 1);
        }
    }

    #[test]
    fn problem_counts_say_problems_for_errors_and_warnings_and_info_apart() {
        let counts = ProblemCounts {
            errors: 1,
            warnings: 2,
            info: 5,
        };
        assert_eq!(counts.problems(), 3);
        assert_eq!(
            counts.to_string(),
            "3 problems (1 error, 2 warnings) and 5 info"
        );
        assert_eq!(
            ProblemCounts::default().to_string(),
            "0 problems (0 errors, 0 warnings) and 0 info"
        );
        let one = ProblemCounts {
            errors: 0,
            warnings: 1,
            info: 0,
        };
        assert_eq!(
            one.to_string(),
            "1 problem (0 errors, 1 warning) and 0 info"
        );
    }
}
