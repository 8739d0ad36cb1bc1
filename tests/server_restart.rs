//! The PostgreSQL server restarts in the middle of a run; the run retries or the next run resumes,
//! and the target ends equal to the target of an uninterrupted run. It restarts the cluster that
//! serves the test server's port (`ODOO_MIGRATE_TEST_PG` / `PGPORT`, found with `pg_lsclusters`),
//! so it is ignored by default and run alone by `.ci/run` as root
//! (`cargo test --test server_restart -- --ignored`).

mod common;

use common::DatabasePair;

const CHUNK: &str = "400";

fn state(pair: &DatabasePair) -> (std::collections::BTreeMap<String, String>, Option<String>) {
    let mappings = pair.target.scalar(
        "SELECT md5(string_agg(model || ':' || source_id || ':' || target_id || ':' || how, ',' ORDER BY model, source_id)) FROM odoo_migrate.id_map",
    );
    (pair.target.state_digests(), mappings)
}

#[test]
#[ignore = "restarts the PostgreSQL server; run alone: cargo test --test server_restart -- --ignored"]
fn a_server_restart_mid_run_is_survived() {
    let cluster = common::cluster::test_cluster();
    let reference = DatabasePair::new("restart_reference");
    reference
        .run(&["run", "--chunk-size", CHUNK])
        .assert_code(0);
    let expected = state(&reference);

    let pair = DatabasePair::new("restart_mid_run");
    let code = common::run_and_act_while_paused(&pair, CHUNK, "after_chunk_rows:30", |_| {
        cluster.restart()
    });
    if code != 0 {
        assert_eq!(code, 1, "a lost server is a failure, not a crash");
        pair.run(&["run", "--chunk-size", CHUNK]).assert_code(0);
    }
    let actual = state(&pair);
    let differing = common::differing_tables(&expected.0, &actual.0);
    assert!(differing.is_empty(), "tables differ: {differing:?}");
    assert_eq!(actual.1, expected.1, "mappings differ");
    pair.run(&["verify"]).assert_code(0);
}
