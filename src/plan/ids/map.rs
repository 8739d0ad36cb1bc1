//! The in-memory form of the id plan: per model, source id → (target id, how it was found), held
//! densely because Odoo ids come from a sequence. Built by the planning and by [`super::load`], read
//! by the copy's hot path. Pure data: touches no database.

use std::collections::{HashMap, HashSet};

/// How a source record found its target record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum How {
    Xmlid = 1,
    NaturalKey = 2,
    Created = 3,
}

impl How {
    pub fn as_str(self) -> &'static str {
        match self {
            How::Xmlid => "xmlid",
            How::NaturalKey => "natural_key",
            How::Created => "created",
        }
    }

    /// The inverse of [`How::as_str`].
    pub(super) fn parse(text: &str) -> Option<How> {
        match text {
            "xmlid" => Some(How::Xmlid),
            "natural_key" => Some(How::NaturalKey),
            "created" => Some(How::Created),
            _ => None,
        }
    }
}

/// Ids below this are always held densely: 4 Mi ids, 32 MiB at most per model.
const DENSE_FLOOR: usize = 1 << 22;
/// Beyond the floor, a map holds densely ids up to this many times its number of records; ids
/// past that (a record given a huge id by hand or by an import, a negative id) go to a hash map,
/// so that one outlier never costs gigabytes.
const DENSE_PER_RECORD: usize = 16;

/// The mapping of one model, indexed by source id: dense because Odoo ids come from a sequence,
/// with the rare ids far past the others kept aside.
#[derive(Debug, Clone)]
pub struct IdMap {
    entries: Vec<(i32, u8)>,
    /// Source ids at or past this (or negative) live in `outliers`.
    dense_limit: usize,
    outliers: HashMap<i32, (i32, u8)>,
    pub mapped: usize,
}

impl Default for IdMap {
    fn default() -> IdMap {
        IdMap {
            entries: Vec::new(),
            dense_limit: DENSE_FLOOR,
            outliers: HashMap::new(),
            mapped: 0,
        }
    }
}

impl IdMap {
    /// The dense slot of a source id, when it has one.
    #[inline]
    fn dense_index(&self, source_id: i32) -> Option<usize> {
        usize::try_from(source_id)
            .ok()
            .filter(|&index| index < self.dense_limit)
    }

    pub fn insert(&mut self, source_id: i32, target_id: i32, how: How) {
        let slot = match self.dense_index(source_id) {
            Some(index) => {
                if index >= self.entries.len() {
                    self.entries.resize(index + 1, (0, 0));
                }
                &mut self.entries[index]
            }
            None => self.outliers.entry(source_id).or_insert((0, 0)),
        };
        if slot.1 == 0 {
            self.mapped += 1;
        }
        *slot = (target_id, how as u8);
    }

    #[inline]
    fn entry(&self, source_id: i32) -> Option<(i32, u8)> {
        match usize::try_from(source_id) {
            Ok(index) if index < self.entries.len() => Some(self.entries[index]),
            _ if self.outliers.is_empty() => None,
            _ => self.outliers.get(&source_id).copied(),
        }
    }

    /// The target id of a source id, if it is mapped.
    #[inline]
    pub fn get(&self, source_id: i32) -> Option<i32> {
        match self.entry(source_id)? {
            (target, how) if how != 0 => Some(target),
            _ => None,
        }
    }

    /// A jsonb key made of ids of this model — one, or several joined by commas as in analytic
    /// distributions — with each id replaced by its target id; `None` when one is not an id or
    /// not mapped.
    pub fn remap_key(&self, key: &str) -> Option<String> {
        let ids: Option<Vec<String>> = key
            .split(',')
            .map(|id| Some(self.get(id.trim().parse().ok()?)?.to_string()))
            .collect();
        Some(ids?.join(","))
    }

    #[inline]
    pub fn how(&self, source_id: i32) -> Option<How> {
        match self.entry(source_id)?.1 {
            1 => Some(How::Xmlid),
            2 => Some(How::NaturalKey),
            3 => Some(How::Created),
            _ => None,
        }
    }

    /// Sizes the map once for `records` ids up to `max_id`, so that loading it never reallocates;
    /// ids far past what the number of records explains are left to the outliers.
    pub(super) fn reserve_for(&mut self, max_id: i32, records: usize) {
        self.dense_limit = records
            .saturating_mul(DENSE_PER_RECORD)
            .max(DENSE_FLOOR)
            .max(self.entries.len());
        // With outliers, the largest dense id is unknown: room for the records is a fair guess.
        let wanted = match usize::try_from(max_id).map_or(0, |m| m.saturating_add(1)) {
            wanted if wanted <= self.dense_limit => wanted,
            _ => records.min(self.dense_limit),
        };
        if wanted > self.entries.len() {
            self.entries.reserve_exact(wanted - self.entries.len());
        }
    }

    /// The mapped source ids from `first` to `last`, in order; visits only the ids held, never
    /// every integer of the range (an outlier may make it billions long).
    pub fn mapped_between(&self, first: i32, last: i32) -> Vec<i32> {
        let mut ids: Vec<i32> = self
            .outliers
            .iter()
            .filter(|&(&id, &(_, how))| how != 0 && (first..=last).contains(&id))
            .map(|(&id, _)| id)
            .collect();
        let from = usize::try_from(first.max(0)).unwrap_or(0);
        let to = usize::try_from(last)
            .map_or(0, |l| l.saturating_add(1))
            .min(self.entries.len());
        if from < to {
            ids.extend(
                self.entries[from..to]
                    .iter()
                    .enumerate()
                    .filter(|(_, entry)| entry.1 != 0)
                    .filter_map(|(offset, _)| i32::try_from(from + offset).ok()),
            );
        }
        ids.sort_unstable();
        ids
    }

    /// Bytes held, for the memory figures of the benchmark.
    pub fn heap_bytes(&self) -> usize {
        self.entries.capacity() * std::mem::size_of::<(i32, u8)>()
            + self.outliers.capacity() * std::mem::size_of::<(i32, (i32, u8))>()
    }
}

/// All mappings of a run, by Odoo 16 model name (and by Odoo 19 name for renamed models, so that
/// model-name columns renamed on the way still find their mapping).
#[derive(Debug, Default)]
pub struct Mappings {
    pub(super) maps: Vec<IdMap>,
    by_name: HashMap<String, usize>,
    /// Per model, the source records left out: Odoo 19 deleted them (`not_in_target`), or they
    /// belong to records of a model not migrated.
    pub(super) removed: HashMap<String, HashSet<i32>>,
    /// A catch-up's copy (`run --catch-up`): per model, the source records its own plan created;
    /// records created by earlier runs are updated where their values differ instead.
    pub fresh: Option<HashMap<String, HashSet<i32>>>,
}

impl Mappings {
    /// Whether a source record was left out on purpose (`not_in_target`, or a record of a model
    /// not migrated).
    pub fn is_removed(&self, model: &str, source_id: i32) -> bool {
        self.removed
            .get(model)
            .is_some_and(|ids| ids.contains(&source_id))
    }

    /// Whether a record mapped as created is to be inserted by this copy: always, but in a
    /// catch-up, where only the records of its own plan are.
    pub fn is_fresh(&self, model: &str, source_id: i32) -> bool {
        self.fresh
            .as_ref()
            .is_none_or(|fresh| fresh.get(model).is_some_and(|ids| ids.contains(&source_id)))
    }

    pub fn get(&self, model: &str) -> Option<&IdMap> {
        self.by_name.get(model).map(|&i| &self.maps[i])
    }

    pub fn get_bytes(&self, model: &[u8]) -> Option<&IdMap> {
        std::str::from_utf8(model).ok().and_then(|m| self.get(m))
    }

    pub fn index_of(&self, model: &str) -> Option<usize> {
        self.by_name.get(model).copied()
    }

    /// The map of `model`, made empty if it has none yet.
    pub(super) fn entry(&mut self, model: &str) -> &mut IdMap {
        let index = match self.by_name.get(model) {
            Some(&i) => i,
            None => {
                self.maps.push(IdMap::default());
                self.by_name.insert(model.to_string(), self.maps.len() - 1);
                self.maps.len() - 1
            }
        };
        &mut self.maps[index]
    }

    /// Makes `alias` (a model's Odoo 19 name) find the map of `model`, unless it names a map
    /// of its own.
    pub(super) fn alias(&mut self, alias: &str, model: &str) {
        if alias != model
            && let Some(&index) = self.by_name.get(model)
        {
            self.by_name.entry(alias.to_string()).or_insert(index);
        }
    }

    pub fn heap_bytes(&self) -> usize {
        self.maps.iter().map(IdMap::heap_bytes).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dense_map_answers_only_for_mapped_ids() {
        let mut map = IdMap::default();
        map.insert(5, 126, How::Xmlid);
        map.insert(2, 900, How::Created);
        assert_eq!(map.get(5), Some(126));
        assert_eq!(map.how(2), Some(How::Created));
        assert_eq!(map.get(3), None);
        assert_eq!(map.get(-1), None);
        assert_eq!(map.get(1_000_000), None);
        assert_eq!(map.mapped, 2);
    }

    #[test]
    fn a_huge_or_negative_id_is_kept_aside_without_gigabytes() {
        let mut map = IdMap::default();
        map.reserve_for(i32::MAX, 3);
        for (source, target) in [(1, 10), (i32::MAX, 11), (-7, 12), (2_000_000_000, 13)] {
            map.insert(source, target, How::Created);
        }
        map.insert(i32::MAX, 14, How::Xmlid);
        assert_eq!(map.get(1), Some(10));
        assert_eq!(map.get(i32::MAX), Some(14));
        assert_eq!(map.how(i32::MAX), Some(How::Xmlid));
        assert_eq!(map.get(-7), Some(12));
        assert_eq!(map.get(2_000_000_000), Some(13));
        assert_eq!(map.get(1_999_999_999), None);
        assert_eq!(map.get(2), None);
        assert_eq!(map.mapped, 4);
        assert!(map.heap_bytes() < 1 << 20, "{} bytes", map.heap_bytes());
        assert_eq!(
            map.mapped_between(-10, i32::MAX),
            vec![-7, 1, 2_000_000_000, i32::MAX]
        );
        assert_eq!(map.mapped_between(2, 2_000_000_000), vec![2_000_000_000]);
    }
}
