//! The exact integer cube: for every month and every (sector, region)
//! combination, the sums of the reported measures, the planned investment
//! falling due and the change in project counts per status. Ratios are never
//! stored; expressions read sums out of the cube at query time.

use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap};

use jilin_domain::Period;

use super::labels::{Combo, SLOTS};

/// The slots of one (month, sector, region) cell.
pub type Cell = [i64; SLOTS];

/// Per-combination totals, indexed like `Combo::all()`.
pub type ComboTotals = Vec<i128>;

/// Where expressions read their sums from. The service reads the cube; the
/// tests read a naive recomputation from raw reports.
pub trait CellSource {
    /// For each (sector, region) combination, the sum of `slots` over the
    /// months `first..=last` (from the beginning of time when `first` is
    /// `None`).
    fn totals(&self, slots: &[usize], first: Option<Period>, last: Period) -> ComboTotals;
}

/// A cell source that remembers what it answered: the points and groups
/// of one query or publication pass ask for the same month ranges over
/// and over (a breakdown filters the same per-combination totals), so each
/// is read from the underlying source once.
pub struct Memo<'a> {
    source: &'a dyn CellSource,
    seen: RefCell<HashMap<TotalsKey, ComboTotals>>,
}

/// The arguments of one `totals` call.
type TotalsKey = (Vec<usize>, Option<Period>, Period);

impl<'a> Memo<'a> {
    pub fn new(source: &'a dyn CellSource) -> Self {
        Self {
            source,
            seen: RefCell::default(),
        }
    }
}

impl CellSource for Memo<'_> {
    fn totals(&self, slots: &[usize], first: Option<Period>, last: Period) -> ComboTotals {
        let key = (slots.to_vec(), first, last);
        if let Some(totals) = self.seen.borrow().get(&key) {
            return totals.clone();
        }
        let totals = self.source.totals(slots, first, last);
        self.seen.borrow_mut().insert(key, totals.clone());
        totals
    }
}

/// Index of a combination in `Combo::all()` order.
pub fn combo_index(combo: Combo) -> usize {
    combo.sector * jilin_domain::REGIONS.len() + combo.region
}

/// Number of combinations.
pub fn combo_count() -> usize {
    jilin_domain::SECTORS.len() * jilin_domain::REGIONS.len()
}

/// Signed changes to apply to cells, keyed by month and combination. Zero
/// entries are dropped, so equal deltas compare equal.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Deltas(BTreeMap<(Period, Combo), Cell>);

impl Deltas {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds `amount` to one slot.
    pub fn add(&mut self, period: Period, combo: Combo, slot: usize, amount: i64) {
        if amount == 0 {
            return;
        }
        let cell = self.0.entry((period, combo)).or_insert([0; SLOTS]);
        cell[slot] += amount;
        if cell.iter().all(|&v| v == 0) {
            self.0.remove(&(period, combo));
        }
    }

    /// Adds every slot of `values` times `sign`.
    pub fn add_cell(&mut self, period: Period, combo: Combo, values: &Cell, sign: i64) {
        if values.iter().all(|&v| v == 0) {
            return;
        }
        let cell = self.0.entry((period, combo)).or_insert([0; SLOTS]);
        for (slot, value) in cell.iter_mut().zip(values) {
            *slot += value * sign;
        }
        if cell.iter().all(|&v| v == 0) {
            self.0.remove(&(period, combo));
        }
    }

    /// Adds all of `other`.
    pub fn merge(&mut self, other: &Deltas) {
        for ((period, combo), cell) in &other.0 {
            self.add_cell(*period, *combo, cell, 1);
        }
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = (&(Period, Combo), &Cell)> {
        self.0.iter()
    }

    /// The months these deltas touch.
    pub fn periods(&self) -> Vec<Period> {
        let mut periods: Vec<Period> = self.0.keys().map(|(period, _)| *period).collect();
        periods.dedup();
        periods
    }
}

/// The cube held in memory for queries: one dense row of cells per month
/// that has any non-zero cell.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Cube {
    months: BTreeMap<Period, Vec<Cell>>,
}

impl Cube {
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets one cell (as loaded from the store).
    pub fn set(&mut self, period: Period, combo: Combo, cell: Cell) {
        let row = self
            .months
            .entry(period)
            .or_insert_with(|| vec![[0; SLOTS]; combo_count()]);
        row[combo_index(combo)] = cell;
        if row.iter().all(|cell| cell.iter().all(|&v| v == 0)) {
            self.months.remove(&period);
        }
    }

    pub fn get(&self, period: Period, combo: Combo) -> Cell {
        self.months
            .get(&period)
            .map_or([0; SLOTS], |row| row[combo_index(combo)])
    }

    /// Applies deltas; a cell whose slots all reach zero is gone.
    pub fn apply(&mut self, deltas: &Deltas) {
        for ((period, combo), delta) in deltas.iter() {
            let mut cell = self.get(*period, *combo);
            for (slot, amount) in delta.iter().enumerate() {
                cell[slot] += amount;
            }
            self.set(*period, *combo, cell);
        }
    }

    /// The first and last month holding data.
    pub fn span(&self) -> Option<(Period, Period)> {
        Some((
            *self.months.keys().next()?,
            *self.months.keys().next_back()?,
        ))
    }
}

/// Sums cells into a cube: what a start computes from every stored
/// project and report. Cheaper per cell than [`Cube::apply`], which keeps
/// the cube tidy after every change; [`CubeSum::finish`] tidies once.
#[derive(Debug, Default)]
pub struct CubeSum {
    months: BTreeMap<Period, Vec<Cell>>,
}

impl CubeSum {
    /// Adds every slot of `values` to one cell.
    pub fn add_cell(&mut self, period: Period, combo: Combo, values: &Cell) {
        let row = self
            .months
            .entry(period)
            .or_insert_with(|| vec![[0; SLOTS]; combo_count()]);
        for (slot, value) in row[combo_index(combo)].iter_mut().zip(values) {
            *slot += value;
        }
    }

    /// Adds all of `deltas`.
    pub fn add(&mut self, deltas: &Deltas) {
        for ((period, combo), cell) in deltas.iter() {
            self.add_cell(*period, *combo, cell);
        }
    }

    /// The cube, without the months that summed to nothing.
    pub fn finish(self) -> Cube {
        let mut months = self.months;
        months.retain(|_, row| row.iter().any(|cell| cell.iter().any(|&v| v != 0)));
        Cube { months }
    }
}

impl CellSource for Cube {
    fn totals(&self, slots: &[usize], first: Option<Period>, last: Period) -> ComboTotals {
        let mut totals = vec![0i128; combo_count()];
        let rows = match first {
            Some(first) if first > last => return totals,
            Some(first) => self.months.range(first..=last),
            None => self.months.range(..=last),
        };
        for (_, row) in rows {
            for (total, cell) in totals.iter_mut().zip(row) {
                for &slot in slots {
                    *total += i128::from(cell[slot]);
                }
            }
        }
        totals
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn month(text: &str) -> Period {
        Period::parse(text).unwrap()
    }

    #[test]
    fn a_sum_of_cells_is_the_cube_their_deltas_make() {
        let (a, b) = (
            Combo::of("automobile", "220100").unwrap(),
            Combo::of("petrochemical", "220200").unwrap(),
        );
        let mut cell = [0; SLOTS];
        cell[3] = 9;
        let mut parts = Vec::new();
        for (period, combo, sign) in [
            ("2026-01", a, 1),
            ("2026-01", b, 1),
            ("2026-02", a, 1),
            ("2026-02", a, -1),
            ("2026-03", b, 1),
        ] {
            let mut deltas = Deltas::new();
            deltas.add_cell(month(period), combo, &cell, sign);
            parts.push(deltas);
        }
        let mut sum = CubeSum::default();
        let mut cube = Cube::new();
        for deltas in &parts {
            sum.add(deltas);
            cube.apply(deltas);
        }
        let summed = sum.finish();
        assert_eq!(summed, cube);
        assert_eq!(summed.span(), Some((month("2026-01"), month("2026-03"))));
        assert_eq!(summed.get(month("2026-02"), a), [0; SLOTS]);
    }

    #[test]
    fn deltas_cancel_to_nothing() {
        let combo = Combo::of("automobile", "220100").unwrap();
        let mut deltas = Deltas::new();
        deltas.add(month("2026-01"), combo, 1, 5);
        deltas.add(month("2026-01"), combo, 1, -5);
        assert!(deltas.is_empty());
    }

    #[test]
    fn totals_sum_months_per_combination_and_empty_months_vanish() {
        let combo = Combo::of("petrochemical", "220200").unwrap();
        let mut cube = Cube::new();
        let mut deltas = Deltas::new();
        deltas.add(month("2026-01"), combo, 1, 7);
        deltas.add(month("2026-03"), combo, 1, 5);
        cube.apply(&deltas);
        let totals = cube.totals(&[1], Some(month("2026-01")), month("2026-02"));
        assert_eq!(totals[combo_index(combo)], 7);
        let all = cube.totals(&[1], None, month("2026-12"));
        assert_eq!(all.iter().sum::<i128>(), 12);

        let mut undo = Deltas::new();
        undo.add_cell(
            month("2026-01"),
            combo,
            &cube.get(month("2026-01"), combo),
            -1,
        );
        cube.apply(&undo);
        assert_eq!(cube.span(), Some((month("2026-03"), month("2026-03"))));
    }

    #[test]
    fn a_memo_reads_each_range_once_and_answers_the_same() {
        struct Counting(std::cell::Cell<usize>, Cube);
        impl CellSource for Counting {
            fn totals(&self, slots: &[usize], first: Option<Period>, last: Period) -> ComboTotals {
                self.0.set(self.0.get() + 1);
                self.1.totals(slots, first, last)
            }
        }
        let combo = Combo::of("automobile", "220100").unwrap();
        let mut deltas = Deltas::new();
        deltas.add(month("2026-01"), combo, 1, 9);
        let mut cube = Cube::new();
        cube.apply(&deltas);
        let source = Counting(std::cell::Cell::new(0), cube.clone());
        let memo = Memo::new(&source);
        let jan = month("2026-01");
        for _ in 0..3 {
            assert_eq!(
                memo.totals(&[1], Some(jan), jan),
                cube.totals(&[1], Some(jan), jan)
            );
        }
        assert_eq!(memo.totals(&[1], None, jan), cube.totals(&[1], None, jan));
        assert_eq!(source.0.get(), 2, "one read per distinct range");
    }
}
