//! Which projects hold each value of the fields a ListProjects filter
//! compares: an in-memory secondary index, so that a filter naming exact
//! values reads only the projects that can match instead of the whole
//! portfolio.
//!
//! The index proposes candidates, a superset of the matches; the caller
//! still applies the whole filter to each candidate. A comparison `=` or
//! `:` proposes the projects holding that value; `AND` intersects, `OR`
//! unites; `NOT`, `!=` and an empty filter propose nothing, which means
//! "read everything".

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};
use std::ops::Bound;

use roaring::RoaringBitmap;

use super::filter::{Field, Filter, Op};
use super::project::Project;

/// A field and one value of it, as a filter compares them.
type Key = (Field, String);

/// Project ids by field value, for every field a filter can name.
///
/// Each project gets a slot, a small number that never changes, and each
/// key a bitmap of the slots under it: `AND` and `OR` are bitmap
/// operations, and a count is the bitmap's size, whatever the portfolio's.
#[derive(Debug, Default)]
pub struct ProjectIndex {
    /// Each project's slot, by id: walked in name order to page.
    slots: BTreeMap<String, u32>,
    /// Each slot's id and the keys it is indexed under now.
    by_slot: Vec<(String, Vec<Key>)>,
    slots_by_key: HashMap<Key, RoaringBitmap>,
}

/// The projects a filter can match, as the index's slots.
#[derive(Debug)]
pub struct Candidates<'a>(Cow<'a, RoaringBitmap>);

impl Candidates<'_> {
    /// How many projects can match.
    pub fn len(&self) -> usize {
        self.0.len() as usize
    }
}

/// The keys `project` is found under: one per field, one per tag.
fn keys_of(project: &Project) -> Vec<Key> {
    let mut keys = vec![
        (Field::Sector, project.sector.clone()),
        (Field::Group, project.group().to_owned()),
        (Field::RegionCode, project.region_code.clone()),
        (Field::Prefecture, project.prefecture().to_owned()),
        (Field::Status, project.status.as_str().to_owned()),
        (Field::Agency, project.agency.clone()),
    ];
    keys.extend(project.tags.iter().map(|tag| (Field::Tags, tag.clone())));
    keys
}

impl ProjectIndex {
    pub fn new<'a>(projects: impl IntoIterator<Item = &'a Project>) -> Self {
        let mut index = Self::default();
        for project in projects {
            index.put(project);
        }
        index
    }

    /// Indexes `project` as it is now, replacing what was indexed for it.
    pub fn put(&mut self, project: &Project) {
        let keys = keys_of(project);
        let slot = match self.slots.get(&project.id) {
            Some(&slot) => slot,
            None => {
                let slot = u32::try_from(self.by_slot.len()).expect("fewer than 2^32 projects");
                self.slots.insert(project.id.clone(), slot);
                self.by_slot.push((project.id.clone(), Vec::new()));
                slot
            }
        };
        let indexed = &mut self.by_slot[slot as usize].1;
        for key in std::mem::replace(indexed, keys.clone()) {
            if let Some(slots) = self.slots_by_key.get_mut(&key) {
                slots.remove(slot);
                if slots.is_empty() {
                    self.slots_by_key.remove(&key);
                }
            }
        }
        for key in keys {
            self.slots_by_key.entry(key).or_default().insert(slot);
        }
    }

    /// The projects that can match `filter`, or `None` when the index
    /// cannot narrow it (every project must be read). A single value is
    /// lent, not copied.
    pub fn candidates(&self, filter: &Filter) -> Option<Candidates<'_>> {
        let slots = match filter {
            Filter::Compare {
                field,
                op: Op::Equal | Op::Has,
                value,
            } => self
                .slots_by_key
                .get(&(*field, value.clone()))
                .map_or_else(|| Cow::Owned(RoaringBitmap::new()), Cow::Borrowed),
            Filter::And(left, right) => match (self.candidates(left), self.candidates(right)) {
                (Some(left), Some(right)) => Cow::Owned(left.0.as_ref() & right.0.as_ref()),
                (one, None) | (None, one) => return one,
            },
            Filter::Or(left, right) => {
                let left = self.candidates(left)?;
                let right = self.candidates(right)?;
                Cow::Owned(left.0.as_ref() | right.0.as_ref())
            }
            Filter::All | Filter::Not(_) | Filter::Compare { .. } => return None,
        };
        Some(Candidates(slots))
    }

    /// The ids of `candidates`, in no particular order.
    pub fn ids<'a>(&'a self, candidates: &'a Candidates<'_>) -> impl Iterator<Item = &'a str> {
        candidates.0.iter().map(|slot| self.id_of(slot))
    }

    fn id_of(&self, slot: u32) -> &str {
        &self.by_slot[slot as usize].0
    }

    /// The page of `candidates` in name order after the id `after`: up to
    /// `size` ids, and whether more follow. Reads no project.
    ///
    /// Walking every id in name order from `after` finds the page after
    /// about `size × projects ÷ candidates` ids; sorting the candidates
    /// costs about their number. The walk goes first and gives up for the
    /// sort once it has cost as much, so a page never costs more than
    /// twice the cheaper way.
    pub fn page(
        &self,
        candidates: &Candidates<'_>,
        after: Option<&str>,
        size: usize,
    ) -> (Vec<&str>, bool) {
        let wanted = size + 1;
        let budget = candidates.len().max(wanted);
        let mut page = Vec::with_capacity(wanted);
        let names = self.slots.range::<str, _>(after_bound(after));
        for (walked, (id, &slot)) in names.enumerate() {
            if page.len() == wanted {
                break;
            }
            if walked == budget {
                page = self.sorted_page(candidates, after, wanted);
                break;
            }
            if candidates.0.contains(slot) {
                page.push(id.as_str());
            }
        }
        let more = page.len() > size;
        page.truncate(size);
        (page, more)
    }

    /// The first `wanted` ids of `candidates` after `after`, by sorting.
    fn sorted_page(
        &self,
        candidates: &Candidates<'_>,
        after: Option<&str>,
        wanted: usize,
    ) -> Vec<&str> {
        let mut ids: Vec<&str> = candidates
            .0
            .iter()
            .map(|slot| self.id_of(slot))
            .filter(|id| after.is_none_or(|after| *id > after))
            .collect();
        if ids.len() > wanted {
            ids.select_nth_unstable(wanted - 1);
            ids.truncate(wanted);
        }
        ids.sort_unstable();
        ids
    }
}

fn after_bound(after: Option<&str>) -> (Bound<&str>, Bound<&str>) {
    match after {
        Some(after) => (Bound::Excluded(after), Bound::Unbounded),
        None => (Bound::Unbounded, Bound::Unbounded),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::listing::{self, OrderBy};
    use crate::domain::project::{self, ProjectDraft, Status};
    use proptest::prelude::*;
    use std::collections::HashSet;
    use time::macros::datetime;

    const SECTORS: [&str; 4] = ["automobile", "petrochemical", "biotech", "tourism"];
    const REGIONS: [&str; 4] = ["220100", "220102", "220200", "220300"];
    const AGENCIES: [&str; 3] = ["jilin-drc", "2201-drc", "2202-drc"];
    const TAGS: [&str; 3] = ["changjitu", "green", "export"];
    const STATUSES: [Status; 4] = [
        Status::Proposed,
        Status::Approved,
        Status::UnderConstruction,
        Status::Suspended,
    ];

    /// A project's filterable fields, as indexes into the tables above.
    type Shape = (usize, usize, usize, usize, Vec<usize>, i64);

    fn project(id: usize, (sector, region, agency, status, tags, investment): &Shape) -> Project {
        let draft = ProjectDraft {
            display_name: format!("plant {id}"),
            sector: SECTORS[*sector].into(),
            region_code: REGIONS[*region].into(),
            agency: AGENCIES[*agency].into(),
            tags: tags.iter().map(|tag| TAGS[*tag].to_owned()).collect(),
            planned_investment_yuan: *investment,
            planned_start_date: "2025-01-01".into(),
            planned_end_date: "2026-01-01".into(),
            ..Default::default()
        };
        let mut project =
            project::create(format!("p{id:03}"), &draft, datetime!(2026-01-01 0:00 UTC)).unwrap();
        project.status = STATUSES[*status];
        project
    }

    fn shape() -> impl Strategy<Value = Shape> {
        (
            0..SECTORS.len(),
            0..REGIONS.len(),
            0..AGENCIES.len(),
            0..STATUSES.len(),
            prop::collection::vec(0..TAGS.len(), 0..3),
            1..1_000_000i64,
        )
    }

    /// A comparison over any field, with values that exist and some that do not.
    fn comparison() -> impl Strategy<Value = String> {
        let values = prop_oneof![
            (0..SECTORS.len()).prop_map(|i| format!("sector = {}", SECTORS[i])),
            (0..REGIONS.len()).prop_map(|i| format!("region_code = \"{}\"", REGIONS[i])),
            Just("prefecture = \"220100\"".to_owned()),
            (0..STATUSES.len()).prop_map(|i| format!("status = {}", STATUSES[i].as_str())),
            (0..AGENCIES.len()).prop_map(|i| format!("agency = {}", AGENCIES[i])),
            (0..TAGS.len()).prop_map(|i| format!("tags:{}", TAGS[i])),
            Just("group = pillar".to_owned()),
            Just("sector = construction".to_owned()),
        ];
        (values, any::<bool>()).prop_map(|(text, negate)| {
            if negate {
                text.replacen(" = ", " != ", 1)
            } else {
                text
            }
        })
    }

    fn filter() -> impl Strategy<Value = String> {
        let leaf = prop_oneof![comparison(), Just(String::new())];
        leaf.prop_recursive(3, 12, 2, |inner| {
            prop_oneof![
                (inner.clone(), inner.clone()).prop_map(|(a, b)| join(&a, "AND", &b)),
                (inner.clone(), inner.clone()).prop_map(|(a, b)| join(&a, "OR", &b)),
                inner.prop_map(|a| if a.is_empty() {
                    a
                } else {
                    format!("NOT ({a})")
                }),
            ]
        })
    }

    fn join(left: &str, word: &str, right: &str) -> String {
        match (left.is_empty(), right.is_empty()) {
            (true, _) => right.to_owned(),
            (_, true) => left.to_owned(),
            _ => format!("({left}) {word} ({right})"),
        }
    }

    /// Every page of a listing, as ids.
    fn pages(matching: Vec<Project>, order: &OrderBy) -> Vec<Vec<String>> {
        let mut pages = Vec::new();
        let mut after = None;
        loop {
            let page = listing::paginate(matching.clone(), order, "q", after, 7);
            pages.push(page.projects.iter().map(|p| p.id.clone()).collect());
            if page.next_page_token.is_empty() {
                return pages;
            }
            after = listing::decode_token(&page.next_page_token, "q").unwrap();
        }
    }

    /// Every page of ids in name order, as `page_at` makes them.
    fn pages_of_ids<'a>(
        page_at: impl Fn(Option<&str>, usize) -> (Vec<&'a str>, bool),
    ) -> Vec<Vec<String>> {
        let mut pages = Vec::new();
        let mut after: Option<String> = None;
        loop {
            let (page, more) = page_at(after.as_deref(), 7);
            pages.push(page.iter().map(|id| id.to_string()).collect::<Vec<_>>());
            match page.last() {
                Some(last) if more => after = Some(last.to_string()),
                _ => return pages,
            }
        }
    }

    proptest! {
        #[test]
        fn listing_through_the_index_is_listing_the_whole_portfolio(
            portfolio in prop::collection::vec(shape(), 0..60),
            updates in prop::collection::vec((0..60usize, shape()), 0..30),
            filter_text in filter(),
            order_text in prop_oneof![
                Just(""), Just("name"), Just("planned_investment_yuan desc"),
                Just("display_name, name desc"),
            ],
        ) {
            let mut projects: Vec<Project> =
                portfolio.iter().enumerate().map(|(id, shape)| project(id, shape)).collect();
            let mut index = ProjectIndex::new(&projects);
            for (target, shape) in &updates {
                if let Some(slot) = projects.get_mut(*target) {
                    *slot = project(*target, shape);
                    index.put(slot);
                }
            }
            let filter = Filter::parse(&filter_text).unwrap();
            let order = OrderBy::parse(order_text).unwrap();
            let scanned: Vec<Project> =
                projects.iter().filter(|p| filter.matches(p)).cloned().collect();
            let indexed: Vec<Project> = match index.candidates(&filter) {
                None => scanned.clone(),
                Some(candidates) => {
                    let ids: HashSet<&str> = index.ids(&candidates).collect();
                    projects
                        .iter()
                        .filter(|p| ids.contains(p.id.as_str()) && filter.matches(p))
                        .cloned()
                        .collect()
                }
            };
            let expected = pages(scanned.clone(), &order);
            prop_assert_eq!(pages(indexed, &order), expected.clone());
            // A filter of exact values in name order: the candidates are
            // the matches, counted and paged without reading a project.
            if filter.is_exact_values() && order.is_by_name() {
                let candidates = index.candidates(&filter).unwrap();
                prop_assert_eq!(candidates.len(), scanned.len());
                let paged = pages_of_ids(|after, size| index.page(&candidates, after, size));
                prop_assert_eq!(paged, expected.clone());
                let sorted = pages_of_ids(|after, size| {
                    let mut page = index.sorted_page(&candidates, after, size + 1);
                    let more = page.len() > size;
                    page.truncate(size);
                    (page, more)
                });
                prop_assert_eq!(sorted, expected);
            }
        }
    }

    #[test]
    fn exact_values_narrow_and_negations_do_not() {
        let shapes: Vec<Shape> = vec![
            (0, 0, 0, 2, vec![0], 10),
            (0, 1, 1, 2, vec![], 20),
            (2, 0, 0, 0, vec![1], 30),
        ];
        let projects: Vec<Project> = shapes
            .iter()
            .enumerate()
            .map(|(id, s)| project(id, s))
            .collect();
        let index = ProjectIndex::new(&projects);
        let ids = |text: &str| {
            index
                .candidates(&Filter::parse(text).unwrap())
                .map(|candidates| {
                    let mut ids: Vec<String> = index.ids(&candidates).map(str::to_owned).collect();
                    ids.sort();
                    ids
                })
        };
        assert_eq!(
            ids("sector = automobile AND region_code = \"220100\""),
            Some(vec!["p000".to_owned()])
        );
        assert_eq!(
            ids("tags:green OR agency = 2201-drc"),
            Some(vec!["p001".into(), "p002".into()])
        );
        assert_eq!(ids("sector = construction"), Some(vec![]));
        assert_eq!(ids("NOT sector = automobile"), None);
        assert_eq!(
            ids("sector != automobile AND status = PROPOSED"),
            Some(vec!["p002".into()])
        );
        assert_eq!(ids(""), None);
    }
}
