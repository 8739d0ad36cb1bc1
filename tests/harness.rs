//! Self-test of the test harness: copies of the templates are distinct, come from the right dumps,
//! and disappear when dropped.

mod common;

use common::{Database, DatabasePair, Dump};

#[test]
fn pairs_made_in_parallel_are_distinct_copies_of_the_dumps_and_are_dropped() {
    let (first, second) = std::thread::scope(|scope| {
        let first = scope.spawn(|| DatabasePair::new("harness_parallel_a"));
        let second = scope.spawn(|| DatabasePair::new("harness_parallel_b"));
        (first.join().unwrap(), second.join().unwrap())
    });
    let names: Vec<String> = [&first, &second]
        .iter()
        .flat_map(|pair| {
            [
                pair.source_name().to_string(),
                pair.target_name().to_string(),
            ]
        })
        .collect();
    for (i, name) in names.iter().enumerate() {
        assert!(name.len() <= 63, "{name} is too long for PostgreSQL");
        assert_eq!(name, &name.to_lowercase());
        assert!(!names[..i].contains(name), "{name} is used twice");
        assert!(common::database_exists_named(name), "{name} exists");
    }
    for pair in [&first, &second] {
        assert_eq!(
            pair.source.scalar("SELECT count(*) FROM res_company"),
            Some("3".into())
        );
        assert_eq!(
            pair.target.scalar("SELECT count(*) FROM res_company"),
            Some("1".into())
        );
        assert!(
            pair.source_url()
                .contains(&format!("/{}", pair.source_name()))
        );
        assert!(
            pair.target_url()
                .contains(&format!("/{}", pair.target_name()))
        );
    }

    // A change in one copy is not seen by the other copies.
    first
        .target
        .execute("CREATE TABLE harness_marker (id int); INSERT INTO harness_marker VALUES (1)");
    assert_eq!(first.target.count("SELECT * FROM harness_marker"), 1);
    assert_eq!(
        second
            .target
            .scalar("SELECT to_regclass('harness_marker') IS NULL"),
        Some("true".into())
    );

    drop(first);
    drop(second);
    for name in &names {
        assert!(!common::database_exists_named(name), "{name} was dropped");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn clients_work_inside_a_runtime_and_drop_does_too() {
    let pair = DatabasePair::new("harness_async");
    let source = pair.source_client().await;
    let target = pair.target_client().await;
    let companies: i64 = source
        .query_one("SELECT count(*) FROM res_company", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(companies, 3);
    let version: String = target
        .query_one(
            "SELECT latest_version FROM ir_module_module WHERE name = 'base'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert!(version.starts_with("19."), "target base is {version}");
    let (source_name, target_name) = (
        pair.source_name().to_string(),
        pair.target_name().to_string(),
    );
    // Dropped while the clients above are still connected: WITH (FORCE) ends them.
    drop(pair);
    assert!(!common::database_exists_named(&source_name));
    assert!(!common::database_exists_named(&target_name));
}

#[test]
fn a_single_copy_and_the_binary_runner() {
    let pristine = Database::copy_of(Dump::Target, "harness_single");
    assert_eq!(
        pristine.rows("SELECT 1, NULL::text"),
        [[Some("1".into()), None]]
    );
    assert_eq!(
        pristine.query_scalar("SELECT count(*) FROM res_company"),
        Some("1".into())
    );
    let (code, stdout, _stderr): (i32, String, String) =
        common::odoo_migrate(&["--help"], &[]).into();
    assert_eq!(code, 0);
    assert!(stdout.contains("analyze"), "{stdout}");
}
