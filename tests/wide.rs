//! The wide pair (`shared/odoo-dumps-wide`: Odoo 16 with the apps real companies run, into an
//! empty Odoo 19 with the same apps): `analyze` finds nothing blocking and nothing no rule covers;
//! `run` ends with every foreign key proven and `verify` (integrity, business, deep) passes; and
//! each app's storage changes carry their meaning on the real rows, source and target rows compared
//! through the mappings the run recorded (tasks' states and hours, repair lines as stock moves,
//! employee versions, maintenance team aliases, point of sale payment method types, expenses,
//! time off allocations, followers of matched records).

mod common;

use std::collections::{BTreeMap, HashMap};

use common::{Database, DatabasePair};
use serde_json::Value;

#[test]
fn analyze_on_the_wide_pair_finds_nothing_blocking_or_uncovered() {
    let pair = DatabasePair::wide("wide_analyze");
    let outcome = pair.run(&["--format", "json", "analyze"]);
    outcome.assert_code(0);
    let json: Value = serde_json::from_str(&outcome.stdout).expect("JSON report");
    let findings = json["findings"].as_array().expect("findings");
    let blocking: Vec<&Value> = findings
        .iter()
        .filter(|f| f["blocking"].as_bool() == Some(true))
        .collect();
    assert!(blocking.is_empty(), "blocking: {blocking:#?}");
    let uncovered: Vec<&Value> = findings
        .iter()
        .filter(|f| f["covered_by"].is_null())
        .collect();
    assert!(uncovered.is_empty(), "not covered: {uncovered:#?}");
    // The stored findings say the same.
    assert_eq!(
        pair.target.count(
            "SELECT 1 FROM odoo_migrate.analysis_findings WHERE blocking OR covered_by IS NULL"
        ),
        0
    );
    // Repair lines are covered by the stock moves made from them.
    let lines = findings
        .iter()
        .find(|f| f["subject"] == "repair.line")
        .expect("a finding for repair.line");
    assert!(
        lines["detail"]
            .as_str()
            .is_some_and(|d| d.contains("become stock.move records")),
        "{lines}"
    );
}

#[test]
fn the_wide_pair_migrates_with_every_key_proven_and_each_app_keeps_its_meaning() {
    let pair = DatabasePair::wide("wide_run");
    let run = pair.run(&["run"]);
    run.assert_code(0);
    // Every key set aside is back and valid: none is left recorded as deferred.
    assert_eq!(
        pair.target.count(
            "SELECT 1 FROM pg_constraint c JOIN pg_namespace n ON n.oid = c.connamespace \
             WHERE n.nspname = 'public' AND c.contype = 'f' AND NOT c.convalidated"
        ),
        0,
        "{}",
        run.stdout
    );
    let verify = pair.run(&["verify", "--deep"]);
    verify.assert_code(0);

    let (source, target) = (&pair.source, &pair.target);
    project_tasks_keep_their_state_and_hours(source, target);
    repair_lines_are_stock_moves_of_their_repair(source, target);
    every_employee_has_a_current_version(source, target);
    maintenance_teams_have_their_own_alias(source, target);
    pos_payment_methods_have_a_type(source, target);
    expenses_and_allocations_keep_their_amounts(source, target);
    followers_of_matched_records_are_matched_not_doubled(source, target);
}

/// The value of one column per source id, and per target id.
fn by_id(database: &Database, sql: &str) -> HashMap<i32, Option<String>> {
    database
        .rows_by_id(sql)
        .into_iter()
        .map(|(id, mut row)| (id, row.remove(0)))
        .collect()
}

/// 17 made a task's state required: a task in a folded stage is done, a blocked kanban state asks
/// for changes, a done one is approved, others are in progress or waiting on open dependencies;
/// its timesheet hours stay with it.
fn project_tasks_keep_their_state_and_hours(source: &Database, target: &Database) {
    let map = target.id_map("project.task");
    let facts = source.rows_by_id(
        "SELECT t.id, COALESCE(st.fold, false)::text, COALESCE(t.kanban_state, 'normal'), \
         (SELECT coalesce(sum(l.unit_amount), 0)::numeric(12,2)::text FROM account_analytic_line l WHERE l.task_id = t.id) \
         FROM project_task t LEFT JOIN project_task_type st ON st.id = t.stage_id",
    );
    let states = by_id(target, "SELECT id, state FROM project_task");
    let hours = by_id(
        target,
        "SELECT t.id, (SELECT coalesce(sum(l.unit_amount), 0)::numeric(12,2)::text FROM account_analytic_line l WHERE l.task_id = t.id) FROM project_task t",
    );
    assert_eq!(map.len(), facts.len(), "every task is mapped");
    let mut seen = BTreeMap::new();
    for (source_id, fact) in &facts {
        let target_id = map[source_id];
        let state = states[&target_id].clone().unwrap_or_default();
        let folded = fact[0].as_deref() == Some("true");
        let expected: &[&str] = match (folded, fact[1].as_deref()) {
            (true, _) => &["1_done"],
            (false, Some("blocked")) => &["02_changes_requested", "04_waiting_normal"],
            (false, Some("done")) => &["03_approved", "04_waiting_normal"],
            _ => &["01_in_progress", "04_waiting_normal"],
        };
        assert!(
            expected.contains(&state.as_str()),
            "task {source_id} → {target_id}: {state}, expected one of {expected:?} ({fact:?})"
        );
        *seen.entry(state).or_insert(0) += 1;
        assert_eq!(
            hours[&target_id], fact[2],
            "hours of task {source_id} → {target_id}"
        );
    }
    assert!(
        seen.len() >= 3,
        "the demo's tasks are in several states: {seen:?}"
    );
}

/// 17 merged repair lines into stock moves: each 16 line is a move of its repair with the same
/// product, quantity, locations and type (add/remove).
fn repair_lines_are_stock_moves_of_their_repair(source: &Database, target: &Database) {
    let lines = source.rows_by_id(
        "SELECT id, repair_id::text, product_id::text, product_uom_qty::numeric(12,2)::text, location_id::text, location_dest_id::text, type, state FROM repair_line",
    );
    assert!(!lines.is_empty(), "the demo has repair lines");
    let moves = target.id_map("repair.line:move");
    let repairs = target.id_map("repair.order");
    let products = target.id_map("product.product");
    let locations = target.id_map("stock.location");
    let targets = target.rows_by_id(
        "SELECT id, repair_id::text, product_id::text, product_uom_qty::numeric(12,2)::text, location_id::text, location_dest_id::text, repair_line_type, state FROM stock_move",
    );
    let through = |map: &HashMap<i32, i32>, value: &Option<String>| {
        value
            .as_deref()
            .and_then(|v| v.parse::<i32>().ok())
            .map(|id| map[&id].to_string())
    };
    for (line, fact) in &lines {
        let move_id = moves[line];
        let made = &targets[&move_id];
        assert_eq!(
            made[0],
            through(&repairs, &fact[0]),
            "repair of line {line}"
        );
        assert_eq!(
            made[1],
            through(&products, &fact[1]),
            "product of line {line}"
        );
        assert_eq!(made[2], fact[2], "quantity of line {line}");
        assert_eq!(
            made[3],
            through(&locations, &fact[3]),
            "source location of line {line}"
        );
        assert_eq!(
            made[4],
            through(&locations, &fact[4]),
            "destination of line {line}"
        );
        assert_eq!(made[5], fact[5], "type of line {line}");
        assert_eq!(made[6], fact[6], "state of line {line}");
    }
}

/// 19 keeps contracts in employee versions: each 16 contract is a version of its employee with
/// its dates, and every employee has a current version (the one made from it when it had no
/// contract in force).
fn every_employee_has_a_current_version(source: &Database, target: &Database) {
    let employees = target.id_map("hr.employee");
    let contracts = target.id_map("hr.contract");
    let contract_facts = source.rows_by_id(
        "SELECT id, employee_id::text, date_start::text, date_end::text FROM hr_contract",
    );
    let versions = target.rows_by_id(
        "SELECT id, employee_id::text, contract_date_start::text, contract_date_end::text FROM hr_version",
    );
    for (contract, fact) in &contract_facts {
        let version = &versions[&contracts[contract]];
        let employee = fact[0].as_deref().and_then(|e| e.parse::<i32>().ok());
        assert_eq!(
            version[0],
            employee.map(|e| employees[&e].to_string()),
            "employee of contract {contract}"
        );
        assert_eq!(version[1], fact[1], "start of contract {contract}");
        assert_eq!(version[2], fact[2], "end of contract {contract}");
    }
    let current = by_id(
        target,
        "SELECT id, current_version_id::text FROM hr_employee",
    );
    let own = target.id_map("hr.employee:version");
    let without_contract = source.column(
        "SELECT e.id::text FROM hr_employee e WHERE NOT EXISTS (SELECT 1 FROM hr_contract c \
         WHERE c.employee_id = e.id AND COALESCE(c.active, true) AND c.state IS DISTINCT FROM 'cancel') ORDER BY e.id",
    );
    assert!(!without_contract.is_empty());
    for employee in &without_contract {
        let employee: i32 = employee.parse().expect("id");
        let version = own[&employee];
        assert_eq!(
            current[&employees[&employee]].as_deref(),
            Some(version.to_string().as_str()),
            "employee {employee} without contract: its own version is its current one"
        );
    }
    for (employee, target_id) in &employees {
        let version: Option<i32> = current[target_id].as_deref().and_then(|v| v.parse().ok());
        let version = version.unwrap_or_else(|| panic!("employee {employee} has no version"));
        assert_eq!(
            versions[&version][0].as_deref(),
            Some(target_id.to_string().as_str()),
            "the current version of employee {employee} is its own"
        );
    }
}

/// 19 requires a maintenance team's mail alias: each team the run created has one of its own,
/// for maintenance requests, defaulting them to that team.
fn maintenance_teams_have_their_own_alias(_source: &Database, target: &Database) {
    let teams = target.id_map_how("maintenance.team");
    let created: Vec<i32> = teams
        .values()
        .filter(|(_, how)| how == "created")
        .map(|(id, _)| *id)
        .collect();
    assert!(!created.is_empty(), "the demo's own teams are created");
    for team in created {
        let alias = target.rows(&format!(
            "SELECT m.model, a.alias_defaults, a.alias_parent_thread_id::text FROM maintenance_team t \
             JOIN mail_alias a ON a.id = t.alias_id JOIN ir_model m ON m.id = a.alias_model_id WHERE t.id = {team}"
        ));
        assert_eq!(
            alias,
            vec![vec![
                Some("maintenance.request".to_string()),
                Some(format!("{{'maintenance_team_id': {team}}}")),
                Some(team.to_string()),
            ]],
            "alias of team {team}"
        );
    }
    assert_eq!(
        target.count("SELECT alias_id FROM maintenance_team GROUP BY alias_id HAVING count(*) > 1"),
        0,
        "no alias shared"
    );
}

/// 18 gave point of sale payment methods a required type: terminal when 16 named a payment
/// terminal, none otherwise (cash and bank alike).
fn pos_payment_methods_have_a_type(source: &Database, target: &Database) {
    let map = target.id_map("pos.payment.method");
    let terminals = by_id(
        source,
        "SELECT id, NULLIF(use_payment_terminal, '') FROM pos_payment_method",
    );
    let types = by_id(
        target,
        "SELECT id, payment_method_type FROM pos_payment_method",
    );
    assert!(!terminals.is_empty());
    for (method, terminal) in &terminals {
        let expected = if terminal.is_some() {
            "terminal"
        } else {
            "none"
        };
        assert_eq!(
            types[&map[method]].as_deref(),
            Some(expected),
            "payment method {method}"
        );
    }
}

/// Expenses keep their amounts per employee, time off allocations their days per employee and
/// type, whatever 18 did to their states.
fn expenses_and_allocations_keep_their_amounts(source: &Database, target: &Database) {
    let employees = target.id_map("hr.employee");
    let types = target.id_map("hr.leave.type");
    let expense_totals = |database: &Database| -> BTreeMap<String, String> {
        database
            .rows("SELECT employee_id::text, sum(total_amount)::numeric(12,2)::text FROM hr_expense GROUP BY 1")
            .into_iter()
            .map(|r| (r[0].clone().unwrap_or_default(), r[1].clone().unwrap_or_default()))
            .collect()
    };
    let in_target: BTreeMap<String, String> = expense_totals(source)
        .into_iter()
        .map(|(employee, total)| {
            (
                employees[&employee.parse::<i32>().expect("id")].to_string(),
                total,
            )
        })
        .collect();
    assert!(!in_target.is_empty());
    assert_eq!(expense_totals(target), in_target, "expenses per employee");

    let allocations = |database: &Database| -> BTreeMap<(String, String), String> {
        database
            .rows("SELECT employee_id::text, holiday_status_id::text, sum(number_of_days)::numeric(12,2)::text FROM hr_leave_allocation GROUP BY 1, 2")
            .into_iter()
            .map(|r| {
                (
                    (r[0].clone().unwrap_or_default(), r[1].clone().unwrap_or_default()),
                    r[2].clone().unwrap_or_default(),
                )
            })
            .collect()
    };
    let expected: BTreeMap<(String, String), String> = allocations(source)
        .into_iter()
        .map(|((employee, kind), days)| {
            (
                (
                    employees[&employee.parse::<i32>().expect("id")].to_string(),
                    types[&kind.parse::<i32>().expect("id")].to_string(),
                ),
                days,
            )
        })
        .collect();
    assert!(!expected.is_empty());
    assert_eq!(
        allocations(target),
        expected,
        "allocated days per employee and type"
    );
}

/// Followers of records that the target already has (matched by external id or natural key) are
/// matched to the target's own follower of that record and partner, never added twice.
fn followers_of_matched_records_are_matched_not_doubled(source: &Database, target: &Database) {
    let how = target.id_map_how("mail.followers");
    // Expense reports are folded into their expenses (expense.toml): their followers have no
    // record to follow, and are left out and reported.
    assert_eq!(
        how.len() as i64,
        source.count("SELECT 1 FROM mail_followers WHERE res_model <> 'hr.expense.sheet'"),
        "every follower of a migrated record mapped"
    );
    assert!(
        target.count(
            "SELECT 1 FROM odoo_migrate.problems WHERE kind = 'record_of_unmigrated_model' \
             AND model = 'mail.followers' AND message LIKE '% hr.expense.sheet,%'"
        ) > 0
    );
    assert!(
        how.values().any(|(_, how)| how == "natural_key"),
        "followers of matched records are matched"
    );
    assert_eq!(
        target.count(
            "SELECT 1 FROM mail_followers GROUP BY res_model, res_id, partner_id HAVING count(*) > 1"
        ),
        0
    );
}
