//! The rules in force: the default 16 → 19 pack compiled into the binary, and the user's files
//! loaded over it in order ([`Rules::load`]) — merged entry by entry, each entry's origin and
//! `file:line` remembered for reports and errors. What the files say against each other is
//! checked by `conflicts`; names against the databases by `checks`.

use std::collections::BTreeMap;
use std::path::PathBuf;

use anyhow::Result;

use super::Rules;
use super::format::{ColumnNotes, RulesFile, locate, parse, refuse_problems};
use crate::io::exit::{Status, refuse};

/// The default 16 → 19 pack, compiled into the binary so that it always matches the tool's version.
const DEFAULT_PACK: &[(&str, &str)] = &[
    (
        "rules/16-19/modules.toml",
        include_str!("../../rules/16-19/modules.toml"),
    ),
    (
        "rules/16-19/models.toml",
        include_str!("../../rules/16-19/models.toml"),
    ),
    (
        "rules/16-19/base.toml",
        include_str!("../../rules/16-19/base.toml"),
    ),
    (
        "rules/16-19/payment.toml",
        include_str!("../../rules/16-19/payment.toml"),
    ),
    (
        "rules/16-19/partner.toml",
        include_str!("../../rules/16-19/partner.toml"),
    ),
    (
        "rules/16-19/accounting.toml",
        include_str!("../../rules/16-19/accounting.toml"),
    ),
    (
        "rules/16-19/product.toml",
        include_str!("../../rules/16-19/product.toml"),
    ),
    (
        "rules/16-19/stock.toml",
        include_str!("../../rules/16-19/stock.toml"),
    ),
    (
        "rules/16-19/sale_purchase.toml",
        include_str!("../../rules/16-19/sale_purchase.toml"),
    ),
    (
        "rules/16-19/mail.toml",
        include_str!("../../rules/16-19/mail.toml"),
    ),
    (
        "rules/16-19/attendance.toml",
        include_str!("../../rules/16-19/attendance.toml"),
    ),
    (
        "rules/16-19/event.toml",
        include_str!("../../rules/16-19/event.toml"),
    ),
    (
        "rules/16-19/expense.toml",
        include_str!("../../rules/16-19/expense.toml"),
    ),
    (
        "rules/16-19/fleet.toml",
        include_str!("../../rules/16-19/fleet.toml"),
    ),
    (
        "rules/16-19/holidays.toml",
        include_str!("../../rules/16-19/holidays.toml"),
    ),
    (
        "rules/16-19/hr.toml",
        include_str!("../../rules/16-19/hr.toml"),
    ),
    (
        "rules/16-19/landed_costs.toml",
        include_str!("../../rules/16-19/landed_costs.toml"),
    ),
    (
        "rules/16-19/maintenance.toml",
        include_str!("../../rules/16-19/maintenance.toml"),
    ),
    (
        "rules/16-19/mass_mailing.toml",
        include_str!("../../rules/16-19/mass_mailing.toml"),
    ),
    (
        "rules/16-19/mrp.toml",
        include_str!("../../rules/16-19/mrp.toml"),
    ),
    (
        "rules/16-19/pos.toml",
        include_str!("../../rules/16-19/pos.toml"),
    ),
    (
        "rules/16-19/project.toml",
        include_str!("../../rules/16-19/project.toml"),
    ),
    (
        "rules/16-19/purchase_requisition.toml",
        include_str!("../../rules/16-19/purchase_requisition.toml"),
    ),
    (
        "rules/16-19/recruitment.toml",
        include_str!("../../rules/16-19/recruitment.toml"),
    ),
    (
        "rules/16-19/repair.toml",
        include_str!("../../rules/16-19/repair.toml"),
    ),
    (
        "rules/16-19/website.toml",
        include_str!("../../rules/16-19/website.toml"),
    ),
];

impl Rules {
    /// Loads the default pack and then each user file, in order; later files override earlier ones
    /// entry by entry, except that two of the user's files may not give a model, table or column
    /// two different names or values: that is refused with both places.
    pub fn load(user_files: &[PathBuf]) -> Result<Rules> {
        let mut rules = Rules::default();
        for (name, text) in DEFAULT_PACK {
            rules.merge(parse(name, text)?, name);
        }
        let mut problems = Vec::new();
        for path in user_files {
            let text = std::fs::read_to_string(path).map_err(|error| {
                refuse(
                    Status::Usage,
                    format!("cannot read the rules file {}: {error}", path.display()),
                )
            })?;
            let name = path.display().to_string();
            let file = parse(&name, &text)?;
            let lines = locate(&text);
            problems.extend(rules.conflicts_with(&name, &lines, &file));
            rules.record_locations(&name, &lines, &file);
            rules.merge(file, &name);
        }
        problems.extend(rules.carried_by_problems());
        refuse_problems(problems)?;
        Ok(rules)
    }

    /// Remembers where the entries of a user's file are written, for the errors of
    /// [`Rules::check_names`]: an entry at its first place, what it sets at the place in force
    /// (the last file that sets it).
    fn record_locations(
        &mut self,
        name: &str,
        lines: &BTreeMap<Vec<String>, usize>,
        file: &RulesFile,
    ) {
        let xmlids_before = self.xmlids.len();
        for (path, line) in lines {
            let here = format!("{name}:{line}");
            let is_section = |s: &String| s == "models" || s == "tables";
            match path.as_slice() {
                [section, module] if section == "modules" => {
                    self.locations
                        .entry(format!("modules.{module}"))
                        .or_insert(here);
                }
                [section, module, what] if section == "modules" => {
                    self.locations
                        .insert(format!("modules.{module}.{what}"), here);
                }
                [section, owner] if is_section(section) => {
                    self.locations
                        .entry(format!("{section}.{owner}"))
                        .or_insert(here);
                }
                [section, owner, what] if is_section(section) && what != "columns" => {
                    self.locations
                        .insert(format!("{section}.{owner}.{what}"), here);
                }
                [section, owner, kind, column]
                    if is_section(section)
                        && (kind == "columns" || kind == "dropped" || kind == "carried_by") =>
                {
                    self.locations
                        .insert(format!("{section}.{owner}.{kind}.{column}"), here);
                }
                [section, index] if section == "relations#" => {
                    if let Some(rule) = index
                        .parse::<usize>()
                        .ok()
                        .and_then(|i| file.relations.get(i))
                    {
                        self.locations
                            .insert(format!("relations.{}.{}", rule.from, rule.to), here);
                    }
                }
                [section, index] if section == "xmlids#" => {
                    if let Ok(index) = index.parse::<usize>() {
                        self.locations
                            .insert(format!("xmlids.{}", xmlids_before + index), here);
                    }
                }
                _ => {}
            }
        }
    }

    /// Applies a file over the rules so far: a model or table named again keeps what the new file
    /// does not set, and its columns are replaced one by one.
    fn merge(&mut self, file: RulesFile, origin: &str) {
        for (name, rule) in file.modules {
            self.origins
                .insert(format!("modules.{name}"), origin.to_string());
            self.modules.insert(name, rule);
        }
        for (name, rule) in file.models {
            self.record_origins(
                &format!("models.{name}"),
                &rule.dropped,
                &rule.carried_by,
                origin,
            );
            let merged = self.models.entry(name).or_default();
            merged.rename = rule.rename.or(merged.rename.take());
            merged.table = rule.table.or(merged.table.take());
            merged.policy = rule.policy.or(merged.policy);
            merged.natural_key = rule.natural_key.or(merged.natural_key.take());
            merged.on_match = rule.on_match.or(merged.on_match);
            merged.shared_match |= rule.shared_match;
            merged.note = rule.note.or(merged.note.take());
            merged.columns.extend(rule.columns);
            merged.post_sql.extend(rule.post_sql);
            merged.final_sql.extend(rule.final_sql);
            merged.unknowable.extend(rule.unknowable);
            merged.not_in_target.extend(rule.not_in_target);
            merged.dropped.extend(rule.dropped);
            merged.carried_by.extend(rule.carried_by);
        }
        for column in file.dropped_everywhere.keys() {
            self.origins
                .insert(format!("dropped_everywhere.{column}"), origin.to_string());
        }
        self.dropped_everywhere.extend(file.dropped_everywhere);
        self.xmlids.extend(file.xmlids);
        for relation in file.relations {
            self.origins.insert(
                format!("relations.{}.{}", relation.from, relation.to),
                origin.to_string(),
            );
            self.relations
                .retain(|r| !(r.from == relation.from && r.to == relation.to));
            self.relations.push(relation);
        }
        for derived in file.derived {
            self.origins
                .insert(format!("derived.{}", derived.name), origin.to_string());
            self.derived.retain(|d| d.name != derived.name);
            self.derived_models
                .insert(derived.name.clone(), derived.as_model_rule());
            self.derived.push(derived);
        }
        for copy in file.company_copies {
            self.origins
                .insert(format!("company_copies.{}", copy.model), origin.to_string());
            self.company_copies.retain(|c| c.model != copy.model);
            self.company_copies.push(copy);
        }
        for (name, rule) in file.tables {
            self.record_origins(
                &format!("tables.{name}"),
                &rule.dropped,
                &rule.carried_by,
                origin,
            );
            let merged = self.tables.entry(name).or_default();
            merged.rename = rule.rename.or(merged.rename.take());
            merged.skip |= rule.skip;
            merged.note = rule.note.or(merged.note.take());
            merged.columns.extend(rule.columns);
            merged.dropped.extend(rule.dropped);
            merged.carried_by.extend(rule.carried_by);
        }
    }

    /// Where a model's or relation table's rule (`owner_key`, `models.<model>` or
    /// `tables.<table>`) and each of its `dropped` and `carried_by` entries come from.
    fn record_origins(
        &mut self,
        owner_key: &str,
        dropped: &ColumnNotes,
        carried_by: &ColumnNotes,
        origin: &str,
    ) {
        self.origins
            .insert(owner_key.to_string(), origin.to_string());
        for (kind, columns) in [("dropped", dropped), ("carried_by", carried_by)] {
            for column in columns.keys() {
                self.origins
                    .insert(format!("{owner_key}.{kind}.{column}"), origin.to_string());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_pack_parses() {
        let rules = Rules::load(&[]).expect("default pack");
        assert_eq!(rules.module_in_target("web_editor"), Some("html_editor"));
        assert_eq!(rules.module_in_target("account_sequence"), Some("account"));
        assert_eq!(rules.model_in_target("mail.channel"), "discuss.channel");
        assert_eq!(rules.model_in_target("res.partner"), "res.partner");
    }

    #[test]
    fn company_prefixed_xmlids_follow_their_rule() {
        let file = parse(
            "t.toml",
            "[[xmlids]]\nmodels = [\"account.account\"]\nmodule = \"l10n_fr\"\ncompany_prefixed = true\nto_module = \"account\"\n",
        )
        .unwrap();
        let mut rules = Rules::default();
        rules.merge(file, "t.toml");
        assert_eq!(
            rules.xmlid_rule_in_target("account.account", "l10n_fr", "1_pcg_1011"),
            Some(("account".into(), "1_pcg_1011".into(), true))
        );
        assert_eq!(
            rules.xmlid_rule_in_target("account.account", "l10n_fr", "pcg_1011"),
            Some(("l10n_fr".into(), "pcg_1011".into(), false))
        );
        assert_eq!(
            rules.xmlid_rule_in_target("account.tax", "l10n_fr", "1_tva"),
            Some(("l10n_fr".into(), "1_tva".into(), false))
        );
    }
}
