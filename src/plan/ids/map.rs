//! The in-memory form of the id plan: per model, source id → (target id, how it was found), in
//! memory that follows the number of records (a bitmap of ids and arrays by rank), not the
//! largest id. Built by the planning and by [`super::load`], read by the copy's hot path. Pure
//! data: touches no database.

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

/// Ids below this can always be slots: a bitmap of 512 KiB at most per model.
const FRAME_FLOOR: usize = 1 << 22;
/// Beyond the floor, a map frames ids up to this many times its number of records (a bit each:
/// 8 bytes of bitmap per record at most); ids past that (a record given a huge id by hand or by
/// an import, a negative id) go to a hash map, so that one outlier never costs gigabytes.
const FRAME_PER_RECORD: usize = 64;

/// The mapping of one model, by source id. Its memory follows the number of records, not the
/// largest id: a bitmap says which source ids have a slot (a bit per id), a running count per
/// 64 ids gives a slot's rank, and the target ids and hows are held by rank (5 bytes a record).
/// Slots are made in ascending id order: from the source's ids before the planning fills them
/// ([`IdMap::frame`]), or as a stored plan is read back in id order. An id without a slot (far
/// past the others, negative, or inserted out of order) lives in `outliers`.
#[derive(Debug, Clone)]
pub struct IdMap {
    /// Bit `i % 64` of word `i / 64`: source id `i` has a slot.
    present: Vec<u64>,
    /// Slots before each word of `present`.
    before: Vec<u32>,
    /// By slot: target id, and how (0 for a slot not mapped yet).
    targets: Vec<i32>,
    hows: Vec<u8>,
    /// The largest id with a slot; new slots go after it.
    last_slot: Option<i32>,
    /// Source ids at or past this (or negative) have no slot.
    frame_limit: usize,
    outliers: HashMap<i32, (i32, u8)>,
    pub mapped: usize,
}

impl Default for IdMap {
    fn default() -> IdMap {
        IdMap {
            present: Vec::new(),
            before: Vec::new(),
            targets: Vec::new(),
            hows: Vec::new(),
            last_slot: None,
            frame_limit: FRAME_FLOOR,
            outliers: HashMap::new(),
            mapped: 0,
        }
    }
}

impl IdMap {
    /// The slot of a source id, when it has one.
    #[inline]
    fn slot(&self, source_id: i32) -> Option<usize> {
        let index = usize::try_from(source_id).ok()?;
        let word = *self.present.get(index >> 6)?;
        let bit = 1u64 << (index & 63);
        if word & bit == 0 {
            return None;
        }
        Some(self.before[index >> 6] as usize + (word & (bit - 1)).count_ones() as usize)
    }

    /// Makes a slot for `source_id` after the last one, when the id comes after it and is framed.
    fn push_slot(&mut self, source_id: i32) -> Option<usize> {
        if self.last_slot.is_some_and(|last| source_id <= last) {
            return None;
        }
        let index = usize::try_from(source_id)
            .ok()
            .filter(|&index| index < self.frame_limit)?;
        let word = index >> 6;
        if word >= self.present.len() {
            let count = u32::try_from(self.targets.len()).ok()?;
            self.present.resize(word + 1, 0);
            self.before.resize(word + 1, count);
        }
        self.present[word] |= 1u64 << (index & 63);
        self.targets.push(0);
        self.hows.push(0);
        self.last_slot = Some(source_id);
        Some(self.targets.len() - 1)
    }

    /// Makes a slot (not mapped yet) for each of `ids`, ascending: the source's ids of the model,
    /// before the planning maps them.
    pub(super) fn frame(&mut self, ids: &[i32]) {
        for &id in ids {
            self.push_slot(id);
        }
    }

    pub fn insert(&mut self, source_id: i32, target_id: i32, how: How) {
        // An id kept aside is never at or past `last_slot` within the frame: no slot can shadow it.
        let slot = match self.slot(source_id).or_else(|| self.push_slot(source_id)) {
            Some(slot) => {
                if self.hows[slot] == 0 {
                    self.mapped += 1;
                }
                self.targets[slot] = target_id;
                self.hows[slot] = how as u8;
                return;
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
        match self.slot(source_id) {
            Some(slot) => Some((self.targets[slot], self.hows[slot])),
            None if self.outliers.is_empty() => None,
            None => self.outliers.get(&source_id).copied(),
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

    /// Sizes the map once for `records` ids up to `max_id`, so that framing or loading it never
    /// reallocates; ids far past what the number of records explains are left to the outliers.
    pub(super) fn reserve_for(&mut self, max_id: i32, records: usize) {
        self.frame_limit = records
            .saturating_mul(FRAME_PER_RECORD)
            .max(FRAME_FLOOR)
            .max(self.present.len() * 64);
        let words = usize::try_from(max_id)
            .map_or(0, |m| m.saturating_add(1))
            .min(self.frame_limit)
            .div_ceil(64);
        self.present
            .reserve_exact(words.saturating_sub(self.present.len()));
        self.before
            .reserve_exact(words.saturating_sub(self.before.len()));
        self.targets
            .reserve_exact(records.saturating_sub(self.targets.len()));
        self.hows
            .reserve_exact(records.saturating_sub(self.hows.len()));
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
            .min(self.present.len() * 64);
        let mut index = from;
        while index < to {
            let word = self.present[index >> 6] >> (index & 63);
            if word == 0 {
                index = (index | 63) + 1;
                continue;
            }
            index += word.trailing_zeros() as usize;
            if index >= to {
                break;
            }
            if let Ok(id) = i32::try_from(index)
                && let Some(slot) = self.slot(id)
                && self.hows[slot] != 0
            {
                ids.push(id);
            }
            index += 1;
        }
        ids.sort_unstable();
        ids
    }

    /// Bytes held, for the memory figures of the benchmark.
    pub fn heap_bytes(&self) -> usize {
        self.present.capacity() * 8
            + self.before.capacity() * 4
            + self.targets.capacity() * 4
            + self.hows.capacity()
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

/// Mappings made by hand, for the unit tests of the modules that read them.
#[cfg(test)]
impl Mappings {
    /// The mappings `(model, source id, target id, how)`; `removed` lists source records left out.
    pub fn of(pairs: &[(&str, i32, i32, How)], removed: &[(&str, i32)]) -> Mappings {
        let mut mappings = Mappings::default();
        for &(model, source, target, how) in pairs {
            mappings.entry(model).insert(source, target, how);
        }
        for &(model, source) in removed {
            mappings
                .removed
                .entry(model.to_string())
                .or_default()
                .insert(source);
        }
        mappings
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn framed_slots_hold_the_mappings_and_only_them() {
        let mut map = IdMap::default();
        map.reserve_for(300, 4);
        map.frame(&[-3, 2, 64, 65, 200]);
        assert_eq!(map.mapped, 0);
        assert_eq!(map.get(64), None);
        map.insert(200, 7, How::Created);
        map.insert(2, 9, How::Xmlid);
        map.insert(-3, 1, How::Created);
        map.insert(300, 5, How::NaturalKey);
        map.insert(100, 6, How::Created);
        assert_eq!(map.get(200), Some(7));
        assert_eq!(map.how(2), Some(How::Xmlid));
        assert_eq!(map.get(-3), Some(1));
        assert_eq!(map.get(300), Some(5));
        assert_eq!(map.get(100), Some(6));
        assert_eq!((map.get(64), map.get(65), map.get(3)), (None, None, None));
        assert_eq!(map.mapped, 5);
        assert_eq!(map.mapped_between(0, 1000), vec![2, 100, 200, 300]);
        assert_eq!(map.mapped_between(65, 199), vec![100]);
    }

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
    #[test]
    fn each_way_of_finding_a_record_has_the_name_the_side_schema_stores() {
        for (how, name) in [
            (How::Xmlid, "xmlid"),
            (How::NaturalKey, "natural_key"),
            (How::Created, "created"),
        ] {
            assert_eq!(how.as_str(), name);
            assert_eq!(How::parse(name), Some(how));
            let mut map = IdMap::default();
            map.insert(4, 40, how);
            assert_eq!(map.how(4), Some(how));
        }
        assert_eq!(How::parse("matched"), None);
    }

    #[test]
    fn framed_ids_take_their_slots_whatever_the_order_they_are_mapped_in() {
        let mut map = IdMap::default();
        map.frame(&[2, 64, 65, 70, 71, 900]);
        for id in [900, 71, 2, 70, 65, 64] {
            map.insert(id, id + 1000, How::Created);
        }
        assert!(
            map.outliers.is_empty(),
            "framed ids kept aside: {:?}",
            map.outliers
        );
        // Ids the frame did not list still get slots past the last one, below the floor.
        map.insert(FRAME_FLOOR as i32 - 1, 1, How::Created);
        assert!(map.outliers.is_empty(), "{:?}", map.outliers);
        // Scanning from inside a word finds the ids after the start, and only them.
        assert_eq!(map.mapped_between(66, 127), vec![70, 71]);
        assert_eq!(map.mapped_between(65, 70), vec![65, 70]);
    }

    #[test]
    fn the_frame_grows_with_the_number_of_records_and_stops_at_its_limit() {
        let mut map = IdMap::default();
        // The floor alone: an id at the floor is kept aside.
        map.insert(FRAME_FLOOR as i32, 1, How::Created);
        assert_eq!(map.outliers.len(), 1);
        // 100 000 records may be framed up to 6.4 M ids.
        let mut big = IdMap::default();
        big.reserve_for(6_000_000, 100_000);
        big.frame(&[1, 5_000_000]);
        big.insert(5_000_000, 2, How::Created);
        big.insert(6_399_999, 3, How::Created);
        assert!(big.outliers.is_empty(), "{:?}", big.outliers);
        big.insert(6_400_000, 4, How::Created);
        assert_eq!(big.outliers.len(), 1, "past 64 ids a record");
        assert_eq!(big.get(5_000_000), Some(2));
        // Sized again for fewer records (a stored plan read back): what is framed stays framed.
        let mut again = IdMap::default();
        again.reserve_for(6_000_000, 100_000);
        again.frame(&[5_000_000]);
        again.reserve_for(6_000_000, 10);
        again.insert(5_000_010, 5, How::Created);
        assert!(again.outliers.is_empty(), "{:?}", again.outliers);
    }

    #[test]
    fn a_key_of_ids_is_remapped_id_by_id_or_not_at_all() {
        let mut map = IdMap::default();
        map.insert(3, 30, How::Created);
        map.insert(5, 50, How::Xmlid);
        assert_eq!(map.remap_key("3").as_deref(), Some("30"));
        assert_eq!(map.remap_key("3, 5").as_deref(), Some("30,50"));
        assert_eq!(map.remap_key("3,4"), None, "4 is not mapped");
        assert_eq!(map.remap_key("x"), None);
    }

    #[test]
    fn a_model_finds_its_own_map_by_name_by_bytes_and_by_index() {
        let mut mappings = Mappings::of(
            &[
                ("res.partner", 7, 70, How::Created),
                ("account.move", 3, 30, How::Xmlid),
                ("res.partner", 8, 80, How::NaturalKey),
            ],
            &[],
        );
        let partner = |map: Option<&IdMap>| map.map(|m| (m.get(7), m.get(8), m.get(3)));
        let moves = |map: Option<&IdMap>| map.map(|m| (m.get(3), m.get(7)));
        assert_eq!(
            partner(mappings.get("res.partner")),
            Some((Some(70), Some(80), None))
        );
        assert_eq!(moves(mappings.get("account.move")), Some((Some(30), None)));
        assert!(mappings.get("res.users").is_none(), "a model without a map");
        // The copy reads a `res_model` column's bytes.
        assert_eq!(
            partner(mappings.get_bytes(b"res.partner")),
            Some((Some(70), Some(80), None))
        );
        assert_eq!(
            moves(mappings.get_bytes(b"account.move")),
            Some((Some(30), None))
        );
        assert!(mappings.get_bytes(b"res.users").is_none());
        assert!(
            mappings.get_bytes(b"res.\xffpartner").is_none(),
            "not UTF-8"
        );
        // A stored plan is loaded into the map at a model's index.
        assert_eq!(mappings.index_of("res.partner"), Some(0));
        assert_eq!(mappings.index_of("account.move"), Some(1));
        assert_eq!(mappings.index_of("res.users"), None);
        mappings.maps[1].insert(4, 40, How::Created);
        assert_eq!(moves(mappings.get("account.move")), Some((Some(30), None)));
        assert_eq!(
            mappings.get("account.move").and_then(|m| m.get(4)),
            Some(40)
        );
    }

    #[test]
    fn a_renamed_model_finds_its_map_by_its_odoo_19_name_too() {
        let mut mappings = Mappings::of(
            &[
                ("mail.channel", 5, 50, How::Created),
                ("res.partner", 7, 70, How::Created),
            ],
            &[],
        );
        mappings.alias("discuss.channel", "mail.channel");
        assert_eq!(
            mappings.get("discuss.channel").and_then(|m| m.get(5)),
            Some(50)
        );
        assert_eq!(mappings.index_of("discuss.channel"), Some(0));
        // A name with a map of its own keeps it; a model without a map lends none.
        mappings.alias("res.partner", "mail.channel");
        assert_eq!(mappings.get("res.partner").and_then(|m| m.get(7)), Some(70));
        assert_eq!(mappings.get("res.partner").and_then(|m| m.get(5)), None);
        mappings.alias("res.users", "res.groups");
        assert!(mappings.get("res.users").is_none());
        mappings.alias("res.partner", "res.partner");
        assert_eq!(mappings.index_of("res.partner"), Some(1));
    }

    #[test]
    fn only_the_records_left_out_of_their_own_model_are_removed() {
        let mappings = Mappings::of(
            &[("res.partner", 4, 40, How::Created)],
            &[("res.partner", 5), ("account.move", 4)],
        );
        assert!(mappings.is_removed("res.partner", 5));
        assert!(mappings.is_removed("account.move", 4));
        assert!(
            !mappings.is_removed("res.partner", 4),
            "mapped, not removed"
        );
        assert!(!mappings.is_removed("account.move", 5));
        assert!(
            !mappings.is_removed("res.users", 5),
            "a model with none removed"
        );
    }

    #[test]
    fn a_catch_up_inserts_only_the_records_its_own_plan_created() {
        let mut mappings = Mappings::of(
            &[
                ("res.partner", 4, 40, How::Created),
                ("res.partner", 6, 60, How::Created),
            ],
            &[],
        );
        // Not a catch-up: every record mapped as created is inserted.
        assert!(mappings.is_fresh("res.partner", 4));
        assert!(mappings.is_fresh("account.move", 9));
        mappings.fresh = Some(HashMap::from([(
            "res.partner".to_string(),
            HashSet::from([6]),
        )]));
        assert!(mappings.is_fresh("res.partner", 6));
        assert!(
            !mappings.is_fresh("res.partner", 4),
            "created by an earlier run"
        );
        assert!(
            !mappings.is_fresh("account.move", 6),
            "a model with none created"
        );
    }
}
