//! Hostile data in real dumps modified by the test: column names that need quoting, every kind of
//! text, very large values, references to deleted rows. The tool migrates them exactly or reports
//! them precisely, and never writes a dangling id.

mod common;

use common::DatabasePair;

const WEIRD: &str = "x_Studio \"Quoted\" select";

#[test]
fn awkward_names_texts_large_values_and_dangling_references() {
    let pair = DatabasePair::new("hostile");
    let column = format!("\"{}\"", WEIRD.replace('"', "\"\""));
    for database in [&pair.source, &pair.target] {
        database.execute(&format!(
            "ALTER TABLE res_partner ADD COLUMN {column} text, ADD COLUMN x_big jsonb, ADD COLUMN x_blob bytea"
        ));
    }
    let text = "émoji 🎉 tab\tnewline\nback\\slash 'quote' \"double\" \\0 NUL-like zero\u{200b}width \u{202e}rtl \u{1F600} 日本語";
    let literal = text.replace('\'', "''");
    pair.source.execute(&format!(
        "UPDATE res_partner SET {column} = '{literal}', \
         x_big = (SELECT jsonb_object_agg('k' || g, repeat('v', 100)) FROM generate_series(1, 10000) g), \
         x_blob = (SELECT string_agg(sha256(g::text::bytea), ''::bytea) FROM generate_series(1, 60000) g) \
         WHERE id IN (SELECT id FROM res_partner ORDER BY id DESC LIMIT 3)"
    ));
    // A many2one to a deleted row (possible in real databases whose keys were dropped once) and a
    // message attached to a record that no longer exists.
    pair.source.execute(
        "ALTER TABLE res_partner DROP CONSTRAINT res_partner_parent_id_fkey; \
         UPDATE res_partner SET parent_id = 999999 WHERE id = (SELECT max(id) FROM res_partner); \
         UPDATE mail_message SET res_id = 888888 WHERE id = (SELECT min(id) FROM mail_message WHERE model = 'res.partner')",
    );
    pair.run(&["run"]).assert_code(0);

    let expected = pair
        .source
        .scalar(&format!(
            "SELECT string_agg(md5({column}) || md5(x_big::text) || md5(x_blob), ',' ORDER BY id) FROM res_partner WHERE x_big IS NOT NULL"
        ))
        .unwrap();
    let actual = pair
        .target
        .scalar(&format!(
            "SELECT string_agg(md5(t.{column}) || md5(t.x_big::text) || md5(t.x_blob), ',' ORDER BY m.source_id) \
             FROM res_partner t JOIN odoo_migrate.id_map m ON m.model = 'res.partner' AND m.target_id = t.id \
             WHERE t.x_big IS NOT NULL"
        ))
        .unwrap();
    assert_eq!(
        actual, expected,
        "text, jsonb and bytea arrive byte for byte"
    );
    assert_eq!(
        pair.target
            .scalar(&format!(
                "SELECT {column} FROM res_partner WHERE x_big IS NOT NULL LIMIT 1"
            ))
            .as_deref(),
        Some(text)
    );

    // The dangling many2one is written as NULL and reported with its record.
    let dangling_source = pair
        .source
        .scalar("SELECT max(id) FROM res_partner")
        .unwrap();
    assert_eq!(
        pair.target
            .scalar(&format!(
                "SELECT coalesce(t.parent_id::text, 'NULL') FROM res_partner t JOIN odoo_migrate.id_map m \
                 ON m.model = 'res.partner' AND m.target_id = t.id AND m.source_id = {dangling_source}"
            ))
            .as_deref(),
        Some("NULL")
    );
    assert_eq!(
        pair.target.count(&format!(
            "SELECT 1 FROM odoo_migrate.problems WHERE kind = 'unmapped_reference' AND table_name = 'res_partner' \
             AND column_name = 'parent_id' AND detail->'sample_source_ids' @> '[{dangling_source}]'"
        )),
        1
    );
    assert_eq!(
        pair.target.count(
            "SELECT 1 FROM odoo_migrate.problems WHERE kind = 'unmapped_reference' AND table_name = 'mail_message' \
             AND column_name = 'res_id' AND detail->>'referenced_model' = 'res.partner'"
        ),
        1
    );
    assert_eq!(
        pair.target
            .count("SELECT 1 FROM mail_message WHERE model = 'res.partner' AND res_id = 888888"),
        0,
        "no dangling id written"
    );
    pair.run(&["verify"]).assert_code(0);
}
