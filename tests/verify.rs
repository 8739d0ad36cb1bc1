//! `verify` on a real migration passes every check; then each damage a check exists for is made on
//! a copy of that migrated target (`CREATE DATABASE … TEMPLATE`, one migration for all), and a full
//! `verify` (every check, not `--check` alone) fails exactly that check, with the detail that names
//! the damage. `attachment-files` and `deep` run only when asked for (a filestore, `--deep`): they
//! are shown failing in `migration.rs`.

mod common;

use common::damage::{self, Damage};
use common::{Database, DatabasePair};

/// The first row of `sql` on `db`, split on `|`.
fn fields_of(db: &Database, sql: &str) -> Vec<String> {
    db.scalar(sql)
        .unwrap_or_else(|| panic!("no row for {sql}"))
        .split('|')
        .map(str::to_string)
        .collect()
}

/// Two source records of a created model mapped to one target record, chosen so that no other
/// check can see it: two created records of the same table with the same non-null columns (so
/// `fields` counts the same), the first without an external id in the source (so `external-ids`
/// has nothing to say), of a model no business check reads.
fn duplicate_mapping(pair: &DatabasePair) -> Damage {
    let with_xmlid = pair
        .source
        .column("SELECT model || ':' || res_id FROM ir_model_data WHERE res_id IS NOT NULL");
    for (model, table) in [
        ("res.partner.category", "res_partner_category"),
        ("crm.tag", "crm_tag"),
        ("mail.message", "mail_message"),
        ("crm.lead", "crm_lead"),
    ] {
        let candidates = pair.target.rows(&format!(
            "WITH c AS (SELECT m.source_id, m.target_id, md5(array_to_string(ARRAY( \
                 SELECT e.key FROM jsonb_each(to_jsonb(t)) e WHERE e.value <> 'null'::jsonb ORDER BY e.key), ',')) AS p \
               FROM odoo_migrate.id_map m JOIN public.{table} t ON t.id = m.target_id \
               WHERE m.model = '{model}' AND m.how = 'created') \
             SELECT a.source_id::text, b.target_id::text FROM c a JOIN c b ON a.p = b.p AND a.target_id <> b.target_id \
             ORDER BY a.source_id, b.target_id LIMIT 50"
        ));
        if let Some(row) = candidates
            .iter()
            .find(|row| !with_xmlid.contains(&format!("{model}:{}", row[0].as_deref().unwrap())))
        {
            let (source_id, target_id) = (row[0].clone().unwrap(), row[1].clone().unwrap());
            return Damage {
                check: "duplicates",
                sql: format!(
                    "UPDATE odoo_migrate.id_map SET target_id = {target_id} \
                     WHERE model = '{model}' AND source_id = {source_id}"
                ),
                names: format!("{model} target id {target_id}"),
            };
        }
    }
    panic!("no two created records of the same shape to map twice")
}

/// A record the run matched (did not create) deleted from the target, keys untouched (replica
/// mode: no cascade): only `counts` sees a mapped record missing. A model no business check and no
/// `res_model`/`res_id` pair reads.
fn missing_matched_record(pair: &DatabasePair) -> Damage {
    let found = pair.target.rows(
        "SELECT m.model, replace(m.model, '.', '_'), m.target_id::text FROM odoo_migrate.id_map m \
         WHERE m.how <> 'created' AND m.model NOT IN ('res.company', 'res.partner', 'res.users', \
         'product.product', 'product.template', 'stock.location', 'account.account', 'account.journal', \
         'account.move', 'account.move.line', 'sale.order', 'purchase.order', 'stock.move', 'stock.quant', \
         'ir.sequence', 'ir.sequence.date_range') \
         AND NOT EXISTS (SELECT 1 FROM mail_message x WHERE x.model = m.model AND x.res_id = m.target_id) \
         AND NOT EXISTS (SELECT 1 FROM ir_attachment x WHERE x.res_model = m.model AND x.res_id = m.target_id) \
         AND NOT EXISTS (SELECT 1 FROM mail_followers x WHERE x.res_model = m.model AND x.res_id = m.target_id) \
         AND NOT EXISTS (SELECT 1 FROM mail_activity x WHERE x.res_model = m.model AND x.res_id = m.target_id) \
         ORDER BY m.model, m.target_id",
    );
    let row = found
        .iter()
        .find(|row| {
            let table = row[1].as_deref().unwrap();
            pair.target.count(&format!(
                "SELECT 1 FROM pg_tables WHERE schemaname = 'public' AND tablename = '{table}'"
            )) == 1
        })
        .expect("a matched record of a model with a table of its name");
    let (_model, table, id) = (
        row[0].clone().unwrap(),
        row[1].clone().unwrap(),
        row[2].clone().unwrap(),
    );
    Damage {
        check: "counts",
        sql: format!(
            "SET session_replication_role = replica; DELETE FROM public.{table} WHERE id = {id}; \
             SET session_replication_role = origin"
        ),
        names: format!("missing from {table}"),
    }
}

/// Every damage, one per check that a full `verify` runs.
fn damages(pair: &DatabasePair) -> Vec<Damage> {
    let target = &pair.target;
    let line = fields_of(
        target,
        "SELECT l.id || '|' || (a.code_store ->> l.company_id::text) FROM account_move_line l \
         JOIN account_move m ON m.id = l.move_id AND m.state = 'posted' \
         JOIN account_account a ON a.id = l.account_id WHERE l.debit > 0 ORDER BY l.id LIMIT 1",
    );
    let entry = fields_of(
        target,
        "SELECT m.id || '|' || j.code || '|' || other.id FROM account_move m \
         JOIN account_journal j ON j.id = m.journal_id \
         JOIN LATERAL (SELECT o.id FROM account_journal o WHERE o.company_id = m.company_id \
           AND o.id <> m.journal_id ORDER BY o.id LIMIT 1) other ON true \
         WHERE m.state = 'posted' ORDER BY m.id LIMIT 1",
    );
    let xmlid = fields_of(
        target,
        "SELECT d.module || '|' || d.name FROM ir_model_data d JOIN odoo_migrate.id_map m \
         ON m.model = 'res.partner' AND m.target_id = d.res_id AND m.how = 'created' \
         WHERE d.model = 'res.partner' ORDER BY d.id LIMIT 1",
    );
    vec![
        // An item moved to the next year: its account's balance per year changes.
        Damage {
            check: "trial-balance",
            sql: format!(
                "UPDATE account_move_line SET date = date + interval '1 year' WHERE id = {}",
                line[0]
            ),
            names: format!("|{}:", line[1]),
        },
        // An entry moved to another journal of its company: the journals' totals change.
        Damage {
            check: "journal-totals",
            sql: format!(
                "UPDATE account_move SET journal_id = {} WHERE id = {}",
                entry[2], entry[0]
            ),
            names: format!("journal {}", entry[1]),
        },
        Damage {
            check: "open-balances",
            sql: "UPDATE account_move_line SET amount_residual = amount_residual + 1 WHERE id = \
                  (SELECT min(l.id) FROM account_move_line l JOIN account_move m ON m.id = l.move_id \
                   AND m.state = 'posted' JOIN account_account a ON a.id = l.account_id \
                   WHERE a.account_type = 'asset_receivable')"
                .into(),
            names: "asset_receivable".into(),
        },
        Damage {
            check: "revenue-per-month",
            sql: "UPDATE account_move SET amount_untaxed_signed = amount_untaxed_signed + 1 WHERE id = \
                  (SELECT min(id) FROM account_move WHERE state = 'posted' AND move_type = 'out_invoice')"
                .into(),
            names: "out_invoice".into(),
        },
        Damage {
            check: "stock-on-hand",
            sql: "UPDATE stock_quant SET quantity = quantity + 7 WHERE id = \
                  (SELECT min(id) FROM stock_quant WHERE quantity > 0)"
                .into(),
            names: "product ".into(),
        },
        Damage {
            check: "stock-valuation",
            sql: "UPDATE stock_move SET value = value + 1 WHERE id = \
                  (SELECT min(id) FROM stock_move WHERE value IS NOT NULL)"
                .into(),
            names: "valuation".into(),
        },
        Damage {
            check: "order-states",
            sql: "UPDATE sale_order SET amount_total = amount_total + 1 WHERE id = \
                  (SELECT min(id) FROM sale_order)"
                .into(),
            names: "sale|".into(),
        },
        // An external id pointed at the next record.
        Damage {
            check: "external-ids",
            sql: format!(
                "UPDATE ir_model_data SET res_id = res_id + 1 WHERE module = '{}' AND name = '{}'",
                xmlid[0], xmlid[1]
            ),
            names: format!("{}.{}", xmlid[0], xmlid[1]),
        },
        missing_matched_record(pair),
        // A value of a created partner emptied.
        Damage {
            check: "fields",
            sql: "UPDATE res_partner SET email = NULL WHERE id = (SELECT min(p.id) FROM res_partner p \
                  JOIN odoo_migrate.id_map m ON m.model = 'res.partner' AND m.how = 'created' \
                  AND m.target_id = p.id WHERE p.email IS NOT NULL)"
                .into(),
            names: "res_partner.email".into(),
        },
        // A message of a partner pointed at a partner that does not exist.
        Damage {
            check: "references",
            sql: "UPDATE mail_message SET res_id = (SELECT max(id) + 1000 FROM res_partner) WHERE id = \
                  (SELECT min(id) FROM mail_message WHERE model = 'res.partner' AND res_id <> 0)"
                .into(),
            names: "mail_message.res_id".into(),
        },
        duplicate_mapping(pair),
        // A value Odoo 19 does not know in a selection column of a created partner.
        Damage {
            check: "selection-values",
            sql: "UPDATE res_partner SET type = 'no_such_kind' WHERE id = (SELECT min(target_id) \
                  FROM odoo_migrate.id_map WHERE model = 'res.partner' AND how = 'created')"
                .into(),
            names: "no_such_kind".into(),
        },
    ]
}

#[test]
fn every_check_passes_then_each_damage_fails_exactly_its_own_check_in_a_full_verify() {
    let pair = DatabasePair::new("verify_damage");
    pair.run(&["run"]).assert_code(0);
    let reports = common::Scratch::path_for("om-verify", "");
    let all = pair.run(&["verify", "--report-dir", reports.arg()]);
    all.assert_code(0);
    let damages = damages(&pair);
    // Every check a full verify runs has a damage below, and passes with a subject first (an
    // emptied check would pass with none). The checks of apps the demo pair does not have
    // (timesheets, manufacturing, …) are not applicable: they pass, and have nothing to damage.
    let mut covered: Vec<String> = damages.iter().map(|d| d.check.to_string()).collect();
    covered.sort();
    let (expected, not_applicable) = damage::applicable_and_not(&pair.target);
    assert_eq!(covered, expected, "one damage per check of a full verify");
    assert_eq!(
        not_applicable,
        common::DEMO_NOT_APPLICABLE,
        "the demo source has none of these apps"
    );
    for check in &expected {
        assert_eq!(
            pair.target.count(&format!(
                "SELECT 1 FROM odoo_migrate.verification_summary WHERE check_name = '{check}' AND ok"
            )),
            1,
            "{check} passes and is summarized"
        );
    }
    assert!(
        std::fs::read_dir(reports.path()).unwrap().count() >= 1,
        "CSV written"
    );
    // A business check's report counts, per company, the subjects its query finds on each side.
    for (side, db, sql) in [
        (
            "source",
            &pair.source,
            include_str!("../sql/verify/order_states.source.sql"),
        ),
        (
            "target",
            &pair.target,
            include_str!("../sql/verify/order_states.target.sql"),
        ),
    ] {
        let counted = db.rows(&format!(
            "SELECT company_id::text, count(*)::text FROM ({}) q GROUP BY 1 ORDER BY 1",
            sql.trim().trim_end_matches(';')
        ));
        let reported = pair.target.rows(&format!(
            "SELECT substr(v.subject, 9), v.{side}_value FROM odoo_migrate.current_verification c \
             JOIN odoo_migrate.verification_results v ON v.run_id = c.verify_id \
             AND v.check_name = c.check_name WHERE c.check_name = 'order-states' ORDER BY 1"
        ));
        assert!(!counted.is_empty(), "the demo has orders");
        assert_eq!(
            reported, counted,
            "order-states: {side} subjects per company"
        );
    }

    // One copy of the migrated target per damage, three verified at a time.
    damage::assert_each_fails_alone(&pair, &damages, "verify", 3);

    // The migrated target itself was never damaged: it still passes, and `--check` runs one check.
    let (code, failed) = damage::verify_failures(&pair, &pair.target, &[]);
    assert_eq!(code, 0, "{failed:?}");
    let (code, _) = damage::verify_failures(&pair, &pair.target, &["--check", "counts"]);
    assert_eq!(code, 0);
    let unknown = pair.run(&["verify", "--check", "no-such-check"]);
    unknown.assert_code(2);
    unknown.assert_stderr_contains("trial-balance");
}
