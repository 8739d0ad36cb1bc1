//! `run --catch-up` on the real dumps: a target migrated from the demo source is brought to the
//! same database a day of work later (`holdout/odoo16_flows.dump`) and then holds what a fresh
//! migration of that later snapshot holds, table by table and value by value (ids compared through
//! the mappings, so that new records may have other ids); `verify` passes; `rollback` undoes the
//! catch-up alone. Records deleted in the source while still referenced in the target are
//! reported and kept; records changed on both sides since the last sync are conflicts, handled as
//! `--on-conflict` says.

mod common;

use std::collections::{BTreeMap, HashMap};

use common::{Database, DatabasePair, Dump, block_on, connect, differing_tables, migrate};

/// Per target table, its rows as JSON texts with every id the mappings know written as the source
/// id (`"s:<id>"`), the ids of the target's own records as `"t:<id>"`, and the id of rows of
/// tables without a model (external ids, per-company copies…) left out; sorted.
fn rows_through_the_mappings(target: &Database) -> BTreeMap<String, Vec<String>> {
    let name = target.name.clone();
    block_on(async move {
        let client = connect(&name).await;
        // table → (target id → source id) of the model copied into it. Where several source
        // records were matched to one target record (the demo's taxes with two 100% lines share a
        // natural key), the target record is named by the smallest: rows are sorted so that it
        // is inserted last, and both migrations name it alike.
        let mut maps: HashMap<String, HashMap<i64, i64>> = HashMap::new();
        for row in client
            .query(
                "SELECT DISTINCT s.target_table, m.source_id::bigint, m.target_id::bigint \
                 FROM odoo_migrate.model_state s JOIN odoo_migrate.runs r ON r.id = s.run_id AND r.status <> 'rolled_back' \
                 JOIN odoo_migrate.id_map m ON m.model = s.model WHERE s.kind = 'model' \
                 ORDER BY 1, 3, 2 DESC",
                &[],
            )
            .await
            .expect("read the mappings")
        {
            maps.entry(row.get(0))
                .or_default()
                .insert(row.get(2), row.get(1));
        }
        // table → [(column, referenced table)] of its single-column foreign keys.
        let mut keys: HashMap<String, Vec<(String, String)>> = HashMap::new();
        for row in client
            .query(
                "SELECT c.relname::text, a.attname::text, p.relname::text FROM pg_constraint k \
                 JOIN pg_class c ON c.oid = k.conrelid JOIN pg_class p ON p.oid = k.confrelid \
                 JOIN pg_attribute a ON a.attrelid = k.conrelid AND a.attnum = k.conkey[1] \
                 WHERE k.contype = 'f' AND array_length(k.conkey, 1) = 1 AND k.connamespace = 'public'::regnamespace",
                &[],
            )
            .await
            .expect("read the foreign keys")
        {
            keys.entry(row.get(0))
                .or_default()
                .push((row.get(1), row.get(2)));
        }
        let tables: Vec<String> = client
            .query(
                "SELECT tablename::text FROM pg_tables WHERE schemaname = 'public' ORDER BY 1",
                &[],
            )
            .await
            .expect("list tables")
            .iter()
            .map(|r| r.get(0))
            .collect();
        let translate = |table: &str, value: &serde_json::Value| -> serde_json::Value {
            match (maps.get(table), value.as_i64()) {
                (Some(map), Some(id)) => match map.get(&id) {
                    Some(source) => format!("s:{source}").into(),
                    None => format!("t:{id}").into(),
                },
                _ => value.clone(),
            }
        };
        let mut all = BTreeMap::new();
        for table in tables {
            let mut rows: Vec<String> = client
                .query(
                    &format!("SELECT to_jsonb(t)::text FROM public.\"{table}\" t"),
                    &[],
                )
                .await
                .expect("read a table")
                .iter()
                .map(|row| {
                    let mut value: serde_json::Value =
                        serde_json::from_str(row.get(0)).expect("a JSON row");
                    let object = value.as_object_mut().expect("a JSON object");
                    if maps.contains_key(&table) {
                        if let Some(id) = object.get("id").cloned() {
                            object.insert("id".into(), translate(&table, &id));
                        }
                    } else {
                        object.remove("id");
                    }
                    for (column, referenced) in keys.get(&table).into_iter().flatten() {
                        if let Some(id) = object.get(column).cloned() {
                            object.insert(column.clone(), translate(referenced, &id));
                        }
                    }
                    value.to_string()
                })
                .collect();
            rows.sort();
            all.insert(table, rows);
        }
        all
    })
}

/// The tables whose rows differ, each with a few rows found on one side only.
fn differences(
    expected: &BTreeMap<String, Vec<String>>,
    actual: &BTreeMap<String, Vec<String>>,
) -> Vec<String> {
    let mut out = Vec::new();
    for (table, rows) in expected {
        let other = actual.get(table).cloned().unwrap_or_default();
        if *rows == other {
            continue;
        }
        let only = |a: &[String], b: &[String]| -> Vec<String> {
            let b: std::collections::HashSet<&String> = b.iter().collect();
            a.iter()
                .filter(|r| !b.contains(r))
                .take(2)
                .map(|r| r.chars().take(600).collect())
                .collect()
        };
        out.push(format!(
            "{table}: {} rows fresh, {} caught up; fresh only {:?}; caught up only {:?}",
            rows.len(),
            other.len(),
            only(rows, &other),
            only(&other, rows)
        ));
    }
    out
}

/// Per table with an `id` column, each row's id and the MD5 of its text: to count, from the
/// database alone, the records a catch-up created, changed and deleted.
fn row_digests(db: &Database) -> BTreeMap<String, HashMap<i64, String>> {
    let mut all: BTreeMap<String, HashMap<i64, String>> = BTreeMap::new();
    for table in db.column(
        "SELECT c.relname::text FROM pg_class c JOIN pg_attribute a ON a.attrelid = c.oid AND a.attname = 'id' \
         WHERE c.relnamespace = 'public'::regnamespace AND c.relkind = 'r' ORDER BY 1",
    ) {
        let rows = db.rows(&format!(
            "SELECT id::bigint::text, md5(t::text) FROM public.\"{table}\" t"
        ));
        let rows = rows
            .into_iter()
            .filter_map(|r| Some((r[0].as_deref()?.parse().ok()?, r[1].clone()?)))
            .collect();
        all.insert(table, rows);
    }
    all
}

/// (created, changed, deleted) rows of `tables` between two [`row_digests`].
fn rows_changed(
    before: &BTreeMap<String, HashMap<i64, String>>,
    after: &BTreeMap<String, HashMap<i64, String>>,
    tables: &[String],
) -> (i64, i64, i64) {
    let (mut created, mut changed, mut deleted) = (0, 0, 0);
    let empty = HashMap::new();
    for table in tables {
        let (b, a) = (
            before.get(table).unwrap_or(&empty),
            after.get(table).unwrap_or(&empty),
        );
        for (id, digest) in a {
            match b.get(id) {
                None => created += 1,
                Some(old) if old != digest => changed += 1,
                Some(_) => {}
            }
        }
        deleted += b.keys().filter(|id| !a.contains_key(id)).count() as i64;
    }
    (created, changed, deleted)
}

#[test]
fn a_catch_up_from_the_flows_dump_equals_a_fresh_migration_and_rolls_back_alone() {
    let pair = DatabasePair::new("catch_up_flows");
    let flows = Database::copy_of(Dump::Flows, "catch_up_flows");
    let fresh = Database::copy_of(Dump::Target, "catch_up_flows_fresh");
    pair.run(&["run", "--prepare-catch-up"]).assert_code(0);
    let after_first_run = pair.target.table_digests();
    let rows_after_first_run = row_digests(&pair.target);
    let pairs_counted = |db: &Database| {
        db.column(
            "SELECT DISTINCT target_table FROM odoo_migrate.model_state WHERE kind = 'relation'",
        )
        .iter()
        .map(|t| db.count(&format!("SELECT 1 FROM public.\"{t}\"")))
        .sum::<i64>()
    };
    let pairs_after_first_run = pairs_counted(&pair.target);

    // The newer snapshot is refused by a plain run, which points at the catch-up.
    let refused = migrate(&flows.url(), &pair.target_url(), &["run"], &[]);
    refused.assert_code(8);
    refused.assert_stderr_contains("--catch-up");

    let started = std::time::Instant::now();
    let caught_up = migrate(
        &flows.url(),
        &pair.target_url(),
        &["run", "--catch-up"],
        &[],
    );
    let catch_up_time = started.elapsed();
    caught_up.assert_code(0);
    caught_up.assert_stdout_contains("Caught up with");
    let started = std::time::Instant::now();
    migrate(&flows.url(), &fresh.url(), &["run"], &[]).assert_code(0);
    let full_time = started.elapsed();
    eprintln!("catch-up {catch_up_time:?}, full run of the newer snapshot {full_time:?}");

    // Table by table, value by value, through the mappings.
    let differing = differences(
        &rows_through_the_mappings(&fresh),
        &rows_through_the_mappings(&pair.target),
    );
    assert!(
        differing.is_empty(),
        "the caught-up target differs from a fresh migration of the newer snapshot:\n{}",
        differing.join("\n")
    );

    // The sync is recorded with its snapshot and counts, and its counts are those of the
    // database: records (rows of the model tables) that appeared, changed and disappeared, and
    // many2many pairs apart.
    let sync = pair.target.rows(
        "SELECT snapshot IS NOT NULL, finished_at IS NOT NULL, created, updated, deleted, conflicts FROM odoo_migrate.syncs",
    );
    assert_eq!(sync.len(), 1, "one sync recorded: {sync:?}");
    assert_eq!(sync[0][0].as_deref(), Some("t"));
    assert_eq!(sync[0][1].as_deref(), Some("t"));
    let number = |i: usize| -> i64 { sync[0][i].as_deref().unwrap_or("0").parse().unwrap_or(-1) };
    let (created, updated, deleted, conflicts) = (number(2), number(3), number(4), number(5));
    assert!(
        created > 600,
        "the 600 new customers and the new invoices are created: {sync:?}"
    );
    let model_tables = pair.target.column(
        "SELECT DISTINCT s.target_table FROM odoo_migrate.model_state s JOIN odoo_migrate.syncs y ON y.run_id = s.run_id \
         WHERE s.kind = 'model'",
    );
    assert_eq!(
        rows_changed(
            &rows_after_first_run,
            &row_digests(&pair.target),
            &model_tables
        ),
        (created, updated, deleted),
        "(created, updated, deleted) records as the database shows them, against the sync's counts"
    );
    let pairs_added: i64 = pair
        .target
        .scalar(
            "SELECT sum(s.rows_created) FROM odoo_migrate.model_state s JOIN odoo_migrate.syncs y ON y.run_id = s.run_id \
             WHERE s.kind = 'relation'",
        )
        .and_then(|v| v.parse().ok())
        .expect("the pairs added");
    assert_eq!(
        pairs_counted(&pair.target) - pairs_after_first_run,
        pairs_added,
        "the many2many pairs the catch-up counts as added are in their tables"
    );
    // The run's lines and `status` say the same counts.
    let said = format!(
        "{created} records created, {updated} updated, {deleted} deleted; 0 deleted in the source but still \
         referenced in the target (kept); {pairs_added} many2many pairs added, 0 removed; {conflicts} conflict(s)"
    );
    caught_up.assert_stdout_contains(&said);
    caught_up.assert_stdout_contains(&format!(
        "{} rows created ({created} records, {pairs_added} many2many pairs)",
        created + pairs_added
    ));
    caught_up.assert_stdout_contains(&format!("{updated} records updated"));
    pair.run(&["status"]).assert_stdout_contains(&said);

    // verify checks the caught-up target as it checks a fresh run.
    migrate(&flows.url(), &pair.target_url(), &["verify", "--deep"], &[]).assert_code(0);

    // A second catch-up from the same snapshot has nothing to do.
    migrate(
        &flows.url(),
        &pair.target_url(),
        &["run", "--catch-up"],
        &[],
    )
    .assert_code(0)
    .assert_stdout_contains("Nothing to do");

    // The first run cannot be rolled back from under the catch-up built on it: refused, and
    // nothing changed.
    let before_refusal = pair.target.table_digests();
    pair.run(&["rollback", "--run", "1"])
        .assert_code(2)
        .assert_stderr_contains("later runs");
    let differing = differing_tables(&before_refusal, &pair.target.table_digests());
    assert!(
        differing.is_empty(),
        "a refused rollback changed {differing:?}"
    );

    // Rolling back the catch-up gives back the target as the first run left it.
    pair.run(&["rollback"])
        .assert_code(0)
        .assert_stdout_contains("rolled back");
    let differing = differing_tables(&after_first_run, &pair.target.table_digests());
    assert!(
        differing.is_empty(),
        "tables differing from the state after the first run: {differing:?}"
    );
    pair.run(&["verify"]).assert_code(0);
}

/// The target id of a source record, from the mappings.
fn target_id(target: &Database, model: &str, source_id: i64) -> i64 {
    target
        .scalar(&format!(
            "SELECT target_id FROM odoo_migrate.id_map WHERE model = '{model}' AND source_id = {source_id}"
        ))
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("{model} id {source_id} is not mapped"))
}

#[test]
fn a_record_deleted_in_the_source_but_still_referenced_in_the_target_is_reported_and_kept() {
    let pair = DatabasePair::new("catch_up_referenced");
    pair.run(&["run", "--prepare-catch-up"]).assert_code(0);
    // Two partner tags created by the run, without sub-tags: both deleted in the source.
    let tags: Vec<i64> = pair
        .target
        .column(
            "SELECT m.source_id FROM odoo_migrate.id_map m WHERE m.model = 'res.partner.category' AND m.how = 'created' \
             ORDER BY m.source_id",
        )
        .iter()
        .map(|v| v.parse().expect("an id"))
        .filter(|id| {
            pair.source
                .count(&format!("SELECT 1 FROM res_partner_category WHERE parent_id = {id}"))
                == 0
        })
        .take(2)
        .collect();
    assert_eq!(tags.len(), 2, "two leaf tags created by the run");
    let (kept, gone) = (tags[0], tags[1]);
    let (kept_target, gone_target) = (
        target_id(&pair.target, "res.partner.category", kept),
        target_id(&pair.target, "res.partner.category", gone),
    );
    pair.source.execute(&format!(
        "DELETE FROM res_partner_category WHERE id IN ({kept}, {gone})"
    ));
    // In Odoo 19, a user made a sub-tag of the first one.
    pair.target.execute(&format!(
        "INSERT INTO res_partner_category (name, parent_id, active, create_date, write_date) \
         VALUES ('{{\"en_US\": \"Made in 19\"}}', {kept_target}, true, now() at time zone 'UTC', now() at time zone 'UTC')"
    ));

    pair.run(&["run", "--catch-up"]).assert_code(0);

    assert_eq!(
        pair.target.count(&format!(
            "SELECT 1 FROM res_partner_category WHERE id = {gone_target}"
        )),
        0,
        "the tag nothing refers to is deleted"
    );
    assert_eq!(
        pair.target.count(&format!(
            "SELECT 1 FROM res_partner_category WHERE id = {kept_target}"
        )),
        1,
        "the tag a 19 record refers to is kept"
    );
    let reported = pair.target.rows(
        "SELECT source_id, detail->>'referring_table', detail->>'referring_column' FROM odoo_migrate.problems \
         WHERE kind = 'deleted_record_still_referenced' AND model = 'res.partner.category'",
    );
    assert_eq!(
        reported,
        vec![vec![
            Some(kept.to_string()),
            Some("res_partner_category".to_string()),
            Some("parent_id".to_string())
        ]],
        "the kept tag is reported with who refers to it"
    );
    assert!(
        pair.target
            .id_map("res.partner.category")
            .keys()
            .all(|id| i64::from(*id) != kept && i64::from(*id) != gone),
        "neither source record is mapped any more"
    );
    pair.run(&["verify"]).assert_code(0);
}

#[test]
fn a_record_changed_on_both_sides_is_a_conflict_settled_by_on_conflict() {
    let pair = DatabasePair::new("catch_up_conflict");
    pair.run(&["run", "--prepare-catch-up"]).assert_code(0);
    let partner: i64 = pair
        .target
        .scalar(
            "SELECT min(source_id) FROM odoo_migrate.id_map WHERE model = 'res.partner' AND how = 'created'",
        )
        .and_then(|v| v.parse().ok())
        .expect("a created partner");
    let target = target_id(&pair.target, "res.partner", partner);
    let phone = |db: &Database, id: i64| {
        db.scalar(&format!("SELECT phone FROM res_partner WHERE id = {id}"))
    };
    pair.source.execute(&format!(
        "UPDATE res_partner SET phone = '+32 1 source', write_date = now() at time zone 'UTC' WHERE id = {partner}"
    ));
    pair.target.execute(&format!(
        "UPDATE res_partner SET phone = '+32 2 target', write_date = now() at time zone 'UTC' + interval '1 minute' WHERE id = {target}"
    ));

    // By default a conflict stops the catch-up and names both values; nothing of the table moves.
    let failed = pair.run(&["run", "--catch-up"]);
    failed.assert_code(1);
    failed.assert_stderr_contains("+32 2 target");
    failed.assert_stderr_contains("+32 1 source");
    assert_eq!(phone(&pair.target, target).as_deref(), Some("+32 2 target"));

    // Resumed with the target's values winning: kept, and the conflict recorded with both.
    pair.run(&["run", "--catch-up", "--on-conflict", "target"])
        .assert_code(0);
    assert_eq!(phone(&pair.target, target).as_deref(), Some("+32 2 target"));
    let recorded = pair.target.rows(
        "SELECT source_id, detail->'columns'->'phone'->>'target', detail->'columns'->'phone'->>'source' \
         FROM odoo_migrate.problems WHERE kind = 'catch_up_conflict'",
    );
    assert_eq!(
        recorded,
        vec![vec![
            Some(partner.to_string()),
            Some("+32 2 target".to_string()),
            Some("+32 1 source".to_string())
        ]]
    );

    // Rolled back and caught up again with the source's values winning: written.
    pair.run(&["rollback"]).assert_code(0);
    assert_eq!(phone(&pair.target, target).as_deref(), Some("+32 2 target"));
    pair.run(&["run", "--catch-up", "--on-conflict", "source"])
        .assert_code(0);
    assert_eq!(phone(&pair.target, target).as_deref(), Some("+32 1 source"));
    assert_eq!(
        pair.target.count(
            "SELECT 1 FROM odoo_migrate.problems p JOIN odoo_migrate.runs r ON r.id = p.run_id \
             WHERE p.kind = 'catch_up_conflict' AND r.status = 'finished'"
        ),
        1
    );
}

#[test]
fn a_catch_up_killed_midway_resumes_to_the_same_target_as_a_fresh_migration() {
    let pair = DatabasePair::new("catch_up_killed");
    let flows = Database::copy_of(Dump::Flows, "catch_up_killed");
    let fresh = Database::copy_of(Dump::Target, "catch_up_killed_fresh");
    // Without --prepare-catch-up: the catch-up has no hashes of the older snapshot and reads the
    // whole source again.
    pair.run(&["run"]).assert_code(0);
    let killed = migrate(
        &flows.url(),
        &pair.target_url(),
        &["run", "--catch-up", "--chunk-size", "200"],
        &[("ODOO_MIGRATE_FAULT", "after_chunk_commit:60")],
    );
    assert_ne!(killed.code, 0, "the catch-up dies at the fault point");
    // A plain `run` resumes the unfinished catch-up as the catch-up it is.
    migrate(
        &flows.url(),
        &pair.target_url(),
        &["run", "--chunk-size", "200"],
        &[],
    )
    .assert_code(0)
    .assert_stdout_contains("Caught up with");
    migrate(&flows.url(), &fresh.url(), &["run"], &[]).assert_code(0);
    let differing = differences(
        &rows_through_the_mappings(&fresh),
        &rows_through_the_mappings(&pair.target),
    );
    assert!(
        differing.is_empty(),
        "the resumed catch-up differs from a fresh migration:\n{}",
        differing.join("\n")
    );
}

#[test]
fn a_catch_up_on_a_target_without_a_migration_is_refused_and_writes_nothing() {
    let pair = DatabasePair::new("catch_up_unmigrated");
    let before = pair.target.table_digests();
    let refused = pair.run(&["run", "--catch-up"]);
    refused.assert_code(8);
    refused.assert_stderr_contains("holds none");
    refused.assert_stderr_contains("odoo-migrate run");
    assert!(
        !pair.target.has_side_schema(),
        "no side schema is left behind"
    );
    let differing = differing_tables(&before, &pair.target.table_digests());
    assert!(differing.is_empty(), "tables written: {differing:?}");
}

#[test]
fn external_ids_and_company_defaults_of_earlier_records_follow_the_source() {
    let pair = DatabasePair::new("catch_up_xmlids");
    pair.run(&["run", "--prepare-catch-up"]).assert_code(0);
    let before = pair.target.table_digests();
    // Two partners the run created with an external id, and one without.
    let with_xmlid = pair.target.rows(
        "SELECT x.source_id, x.module, x.name FROM odoo_migrate.xmlid_plan x \
         JOIN odoo_migrate.id_map m ON m.model = x.model AND m.source_id = x.source_id AND m.how = 'created' \
         WHERE x.model = 'res.partner' ORDER BY x.source_id LIMIT 2",
    );
    assert_eq!(
        with_xmlid.len(),
        2,
        "two created partners with an external id"
    );
    let field = |row: &Vec<Option<String>>, i: usize| row[i].clone().expect("a value");
    let (renamed, removed) = (field(&with_xmlid[0], 0), field(&with_xmlid[1], 0));
    let (renamed_module, renamed_name) = (field(&with_xmlid[0], 1), field(&with_xmlid[0], 2));
    let (removed_module, removed_name) = (field(&with_xmlid[1], 1), field(&with_xmlid[1], 2));
    let added: i64 = pair
        .target
        .scalar(
            "SELECT min(m.source_id) FROM odoo_migrate.id_map m WHERE m.model = 'account.move' AND m.how = 'created' \
             AND NOT EXISTS (SELECT 1 FROM odoo_migrate.xmlid_plan x WHERE x.model = m.model AND x.source_id = m.source_id)",
        )
        .and_then(|v| v.parse().ok())
        .expect("a created journal entry without external id");
    pair.source.execute(&format!(
        "UPDATE ir_model_data SET name = name || '_renamed' WHERE module = '{renamed_module}' AND name = '{renamed_name}'; \
         DELETE FROM ir_model_data WHERE module = '{removed_module}' AND name = '{removed_name}'; \
         INSERT INTO ir_model_data (module, name, model, res_id, noupdate) VALUES ('__import__', 'catch_up_added', 'account.move', {added}, false)"
    ));
    // Two company defaults the run wrote, of one company and one kind of value: the first takes the
    // second's value, the second is deleted in the source.
    let defaults = pair.target.rows(
        "SELECT m.source_id, d.id, d.json_value FROM odoo_migrate.id_map m JOIN ir_default d ON d.id = m.target_id \
         JOIN ir_model_fields f ON f.id = d.field_id \
         WHERE m.model = 'ir.property' AND f.relation = 'stock.location' AND d.company_id IS NOT NULL \
         ORDER BY d.company_id, m.source_id LIMIT 2",
    );
    assert_eq!(
        defaults.len(),
        2,
        "two stock location defaults: {defaults:?}"
    );
    let (changed, gone) = (field(&defaults[0], 0), field(&defaults[1], 0));
    let (changed_row, gone_row, new_value) = (
        field(&defaults[0], 1),
        field(&defaults[1], 1),
        field(&defaults[1], 2),
    );
    pair.source.execute(&format!(
        "UPDATE ir_property SET value_reference = (SELECT value_reference FROM ir_property WHERE id = {gone}) WHERE id = {changed}; \
         DELETE FROM ir_property WHERE id = {gone}"
    ));

    pair.run(&["run", "--catch-up"]).assert_code(0);

    let xmlids_of = |model: &str, source_id: &str| {
        let target = target_id(&pair.target, model, source_id.parse().expect("an id"));
        pair.target.column(&format!(
            "SELECT module || '.' || name FROM ir_model_data WHERE model = '{model}' AND res_id = {target} ORDER BY 1"
        ))
    };
    assert_eq!(
        xmlids_of("res.partner", &renamed),
        vec![format!("{renamed_module}.{renamed_name}_renamed")],
        "a renamed external id follows"
    );
    assert!(
        xmlids_of("res.partner", &removed).is_empty(),
        "a removed external id goes"
    );
    assert_eq!(
        xmlids_of("account.move", &added.to_string()),
        vec!["__import__.catch_up_added".to_string()],
        "an added external id comes"
    );
    assert_eq!(
        pair.target.scalar(&format!(
            "SELECT json_value FROM ir_default WHERE id = {changed_row}"
        )),
        Some(new_value),
        "a changed company default follows"
    );
    assert_eq!(
        pair.target
            .count(&format!("SELECT 1 FROM ir_default WHERE id = {gone_row}")),
        0,
        "a company default the source lost goes"
    );
    pair.run(&["verify"]).assert_code(0);

    // Rolled back, both come back as the first run left them.
    pair.run(&["rollback"]).assert_code(0);
    let differing = differing_tables(&before, &pair.target.table_digests());
    assert!(
        differing.is_empty(),
        "tables differing from the state after the first run: {differing:?}"
    );
}

#[test]
fn trusting_write_date_misses_an_unstamped_sql_change_that_the_full_comparison_catches() {
    // Messages: a model whose plan reads its own row alone, where write_date is trusted.
    let pair = DatabasePair::new("catch_up_write_date");
    pair.run(&["run", "--prepare-catch-up"]).assert_code(0);
    let created = |source_id: i64| {
        pair.target.count(&format!(
            "SELECT 1 FROM odoo_migrate.id_map WHERE model = 'mail.message' AND source_id = {source_id} AND how = 'created'"
        )) == 1
    };
    // A reply and the message it answers, both created by the run.
    let (parent, reply) = pair
        .source
        .rows("SELECT parent_id, id FROM mail_message WHERE parent_id IS NOT NULL ORDER BY id")
        .into_iter()
        .filter_map(|r| {
            Some((
                r[0].as_deref()?.parse().ok()?,
                r[1].as_deref()?.parse().ok()?,
            ))
        })
        .find(|&(p, r): &(i64, i64)| created(p) && created(r))
        .expect("a reply and its message created by the run");
    let messages: Vec<i64> = pair
        .source
        .column(&format!(
            "SELECT id FROM mail_message WHERE parent_id IS NULL AND id NOT IN ({parent}, {reply}) \
             AND NOT EXISTS (SELECT 1 FROM mail_message c WHERE c.parent_id = mail_message.id) ORDER BY id"
        ))
        .iter()
        .map(|v| v.parse().expect("an id"))
        .filter(|id| created(*id))
        .take(3)
        .collect();
    assert_eq!(messages.len(), 3, "three messages created by the run");
    let (stamped, silent, later) = (messages[0], messages[1], messages[2]);
    let newest: i64 = pair
        .source
        .scalar("SELECT max(id) + 1 FROM mail_message")
        .and_then(|v| v.parse().ok())
        .expect("a new id");
    // Through the ORM (write_date stamped), by SQL alone (not stamped), a deletion whose foreign
    // key sets the reply's parent_id to null (not stamped), and a new message whose stamp is
    // older than the last sync.
    pair.source.execute(&format!(
        "UPDATE mail_message SET subject = 'stamped', write_date = now() at time zone 'UTC' WHERE id = {stamped}; \
         UPDATE mail_message SET subject = 'silent' WHERE id = {silent}; \
         DELETE FROM mail_message WHERE id = {parent}; \
         CREATE TEMP TABLE m AS SELECT * FROM mail_message WHERE id = {stamped}; \
         UPDATE m SET id = {newest}, message_id = NULL, subject = 'new', \
                      create_date = '2000-01-01', write_date = '2000-01-01'; \
         INSERT INTO mail_message SELECT * FROM m"
    ));
    let target_of = |source_id: i64| target_id(&pair.target, "mail.message", source_id);
    let subject_of = |source_id: i64| {
        pair.target.scalar(&format!(
            "SELECT subject FROM mail_message WHERE id = {}",
            target_of(source_id)
        ))
    };

    pair.run(&[
        "run",
        "--catch-up",
        "--catch-up-compare",
        "write-date",
        "--write-date-margin",
        "0",
    ])
    .assert_code(0);
    // What trusting write_date guarantees: stamped rows, new records whatever their stamp, rows
    // a deletion changed through a foreign key.
    assert_eq!(subject_of(stamped).as_deref(), Some("stamped"));
    assert_eq!(subject_of(newest).as_deref(), Some("new"));
    assert_eq!(
        pair.target.scalar(&format!(
            "SELECT parent_id FROM mail_message WHERE id = {}",
            target_of(reply)
        )),
        None,
        "the reply no longer points at the message the source deleted"
    );
    assert_eq!(
        pair.target.count(
            "SELECT 1 FROM odoo_migrate.problems WHERE kind = 'deleted_record_still_referenced'"
        ),
        0,
        "the deleted message is deleted, not kept as still referenced"
    );
    // What it misses, as --help says: a change made by SQL without the stamp.
    assert_ne!(subject_of(silent).as_deref(), Some("silent"));

    // The full comparison (the default) of the next snapshot catches it.
    pair.source.execute(&format!(
        "UPDATE mail_message SET subject = 'later', write_date = now() at time zone 'UTC' WHERE id = {later}"
    ));
    pair.run(&["run", "--catch-up"]).assert_code(0);
    assert_eq!(subject_of(later).as_deref(), Some("later"));
    assert_eq!(subject_of(silent).as_deref(), Some("silent"));
    pair.run(&["verify"]).assert_code(0);
}

#[test]
fn a_value_changed_by_sql_without_its_stamp_after_a_catch_up_is_caught_up() {
    let pair = DatabasePair::new("catch_up_unstamped");
    pair.run(&["run", "--prepare-catch-up"]).assert_code(0);
    let partners: Vec<i64> = pair
        .target
        .column(
            "SELECT source_id FROM odoo_migrate.id_map WHERE model = 'res.partner' AND how = 'created' \
             ORDER BY source_id LIMIT 2",
        )
        .iter()
        .map(|v| v.parse().expect("an id"))
        .collect();
    assert_eq!(partners.len(), 2, "two partners created by the run");
    let (stamped, ranked) = (partners[0], partners[1]);
    let rank_in_target = |source_id: i64| {
        pair.target.scalar(&format!(
            "SELECT customer_rank FROM res_partner WHERE id = {}",
            target_id(&pair.target, "res.partner", source_id)
        ))
    };
    // A first catch-up, of a change stamped as the ORM stamps it.
    pair.source.execute(&format!(
        "UPDATE res_partner SET phone = '+32 3 stamped', write_date = now() at time zone 'UTC' WHERE id = {stamped}"
    ));
    pair.run(&["run", "--catch-up"]).assert_code(0);
    let syncs = pair.target.count("SELECT 1 FROM odoo_migrate.syncs");

    // Then Odoo's `_increase_rank`: the rank raised by SQL, write_date, counts and ids untouched.
    let extents = "SELECT count(*), max(id), max(write_date) FROM res_partner";
    let before = pair.source.rows(extents);
    pair.source.execute(&format!(
        "UPDATE res_partner SET customer_rank = customer_rank + 7 WHERE id = {ranked}"
    ));
    let rank: i64 = pair
        .source
        .scalar(&format!(
            "SELECT customer_rank FROM res_partner WHERE id = {ranked}"
        ))
        .and_then(|v| v.parse().ok())
        .expect("the new rank");
    assert_eq!(
        pair.source.rows(extents),
        before,
        "nothing but the value changed"
    );
    assert_ne!(rank_in_target(ranked), Some(rank.to_string()));

    let caught_up = pair.run(&["run", "--catch-up"]);
    caught_up.assert_code(0);
    caught_up.assert_stdout_contains("Caught up with");
    assert_eq!(
        rank_in_target(ranked),
        Some(rank.to_string()),
        "the rank changed without a stamp is carried to the target"
    );
    let sync = pair.target.rows(
        "SELECT created, updated, deleted FROM odoo_migrate.syncs WHERE run_id = (SELECT max(run_id) FROM odoo_migrate.syncs)",
    );
    assert_eq!(
        pair.target.count("SELECT 1 FROM odoo_migrate.syncs"),
        syncs + 1,
        "the second catch-up is a sync of its own"
    );
    assert_eq!(
        sync,
        vec![vec![
            Some("0".to_string()),
            Some("1".to_string()),
            Some("0".to_string())
        ]],
        "one record updated"
    );

    // Nothing changed since: nothing to do, and no sync recorded.
    pair.run(&["run", "--catch-up"])
        .assert_code(0)
        .assert_stdout_contains("Nothing to do");
    assert_eq!(
        pair.target.count("SELECT 1 FROM odoo_migrate.syncs"),
        syncs + 1,
        "a catch-up with nothing to do records no sync"
    );
    pair.run(&["verify"]).assert_code(0);
}
