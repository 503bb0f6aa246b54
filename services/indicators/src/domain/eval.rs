//! Evaluating an expression for one period and one slice of the province,
//! reading sums from a [`CellSource`]. Values are `Option<f64>`: a division
//! by zero, a missing comparison year or a target that does not exist is
//! "no value", never NaN or a panic.

use jilin_domain::Period;

use super::cube::{CellSource, ComboTotals, combo_index};
use super::definition::{IndicatorSet, attainment};
use super::expr::{BinaryOp, Expr, Selector};
use super::labels::{Combo, Dimension, Matcher, Measure, count_slots};

/// `attain` caps an over-achieved target at this ratio, so that one
/// indicator far above its target cannot mask another far below (JRC
/// handbook, distance-to-target normalisation).
pub const ATTAIN_CAP: f64 = 1.2;

/// Guards against `attain` chains deeper than any sane catalog.
const MAX_REFERENCE_DEPTH: usize = 8;

/// The months and slice an expression is evaluated over.
#[derive(Clone, Debug, PartialEq)]
pub struct Scope {
    pub first: Period,
    pub last: Period,
    /// The query's filter and breakdown group, applied to every aggregate.
    pub matchers: Vec<Matcher>,
}

impl Scope {
    fn shifted(&self, months: i32) -> Option<Scope> {
        Some(Scope {
            first: self.first.add_months(months)?,
            last: self.last.add_months(months)?,
            matchers: self.matchers.clone(),
        })
    }
}

/// One aggregate that went into a value, for `ExplainIndicatorValue`.
#[derive(Clone, Debug, PartialEq)]
pub struct Term {
    pub expression: String,
    pub first: Option<Period>,
    pub last: Period,
    pub matchers: Vec<Matcher>,
    pub value: Option<f64>,
}

/// Evaluates expressions against one cell source and indicator set.
pub struct Evaluator<'a> {
    pub cells: &'a dyn CellSource,
    pub indicators: &'a IndicatorSet,
}

impl Evaluator<'_> {
    /// The value of `expr` over `scope`.
    pub fn value(&self, expr: &Expr, scope: &Scope) -> Option<f64> {
        self.eval(expr, scope, 0, &mut None)
    }

    /// The value of `expr` over `scope` and every aggregate read for it.
    pub fn explain(&self, expr: &Expr, scope: &Scope) -> (Option<f64>, Vec<Term>) {
        let mut terms = Some(Vec::new());
        let value = self.eval(expr, scope, 0, &mut terms);
        (value, terms.unwrap_or_default())
    }

    fn eval(
        &self,
        expr: &Expr,
        scope: &Scope,
        depth: usize,
        terms: &mut Option<Vec<Term>>,
    ) -> Option<f64> {
        let value = match expr {
            Expr::Number(value) => Some(*value),
            Expr::Negate(inner) => self.eval(inner, scope, depth, terms).map(|v| -v),
            Expr::Binary { op, left, right } => {
                let left = self.eval(left, scope, depth, terms);
                let right = self.eval(right, scope, depth, terms);
                arithmetic(*op, left?, right?)
            }
            Expr::Yoy(inner) => {
                let current = self.eval(inner, scope, depth, terms);
                let earlier = scope
                    .shifted(-12)
                    .and_then(|earlier| self.eval(inner, &earlier, depth, terms));
                arithmetic(BinaryOp::Div, current? - earlier?, earlier?)
            }
            Expr::Ytd(inner) => {
                let year_to_date = Scope {
                    first: scope.last.january(),
                    ..scope.clone()
                };
                self.eval(inner, &year_to_date, depth, terms)
            }
            Expr::Attain(id) => self.attain(id, scope, depth, terms),
            Expr::Months => Some(f64::from(scope.first.months_until(scope.last) + 1)),
            Expr::Sum(_) | Expr::Count(_) | Expr::Hhi(..) | Expr::Cv(..) => {
                return self.aggregate(expr, scope, terms);
            }
        };
        value.filter(|v| v.is_finite())
    }

    fn attain(
        &self,
        id: &str,
        scope: &Scope,
        depth: usize,
        terms: &mut Option<Vec<Term>>,
    ) -> Option<f64> {
        if depth >= MAX_REFERENCE_DEPTH {
            return None;
        }
        let referred = self.indicators.get(id)?;
        let value = self.eval(&referred.expr, scope, depth + 1, terms);
        let target = referred.definition.target(scope.last.year());
        let ratio = attainment(referred.definition.direction, value, target)?;
        Some(ratio.clamp(0.0, ATTAIN_CAP))
    }

    fn aggregate(&self, expr: &Expr, scope: &Scope, terms: &mut Option<Vec<Term>>) -> Option<f64> {
        let (own, first, last, slots, by) = match expr {
            Expr::Sum(selector) => {
                let first = months_of(selector.measure, scope);
                (
                    &selector.matchers,
                    first,
                    scope.last,
                    vec![selector.measure.slot()],
                    None,
                )
            }
            Expr::Count(matchers) => (matchers, None, scope.last, count_slots(matchers), None),
            Expr::Hhi(Selector { measure, matchers }, by)
            | Expr::Cv(Selector { measure, matchers }, by) => {
                let first = months_of(*measure, scope);
                (matchers, first, scope.last, vec![measure.slot()], Some(*by))
            }
            _ => unreachable!("only aggregates reach here"),
        };
        let matchers: Vec<Matcher> = own.iter().chain(&scope.matchers).cloned().collect();
        let totals = self.cells.totals(&slots, first, last);
        let value = match (expr, by) {
            (Expr::Hhi(..), Some(by)) => herfindahl(&members(&totals, &matchers, by)),
            (Expr::Cv(..), Some(by)) => coefficient_of_variation(&members(&totals, &matchers, by)),
            _ => Some(
                Combo::all()
                    .filter(|combo| combo.matches(&matchers))
                    .map(|combo| totals[combo_index(combo)])
                    .sum::<i128>() as f64,
            ),
        };
        if let Some(terms) = terms {
            terms.push(Term {
                expression: expr.to_string(),
                first,
                last,
                matchers,
                value,
            });
        }
        value
    }
}

/// The first month a measure is read from: the scope's first for flows,
/// its last for stocks (the end-of-period level).
fn months_of(measure: Measure, scope: &Scope) -> Option<Period> {
    Some(if measure.is_stock() {
        scope.last
    } else {
        scope.first
    })
}

fn arithmetic(op: BinaryOp, left: f64, right: f64) -> Option<f64> {
    let value = match op {
        BinaryOp::Add => left + right,
        BinaryOp::Sub => left - right,
        BinaryOp::Mul => left * right,
        BinaryOp::Div if right == 0.0 => return None,
        BinaryOp::Div => left / right,
    };
    value.is_finite().then_some(value)
}

/// Totals per member of `by`, over the combinations the matchers accept,
/// in catalog order. Members with no accepted combination are left out;
/// members with accepted combinations but no data count as zero.
fn members(totals: &ComboTotals, matchers: &[Matcher], by: Dimension) -> Vec<i128> {
    let mut members: Vec<(&str, i128)> = Vec::new();
    for combo in Combo::all().filter(|combo| combo.matches(matchers)) {
        let member = by.member_of(combo);
        let total = totals[combo_index(combo)];
        match members.iter_mut().find(|(name, _)| *name == member) {
            Some((_, sum)) => *sum += total,
            None => members.push((member, total)),
        }
    }
    members.into_iter().map(|(_, total)| total).collect()
}

/// Σ share², in 0..=1; none when the total is zero.
fn herfindahl(values: &[i128]) -> Option<f64> {
    let total: i128 = values.iter().sum();
    if total == 0 {
        return None;
    }
    let total = total as f64;
    Some(values.iter().map(|&v| (v as f64 / total).powi(2)).sum())
}

/// Population standard deviation over mean; none when there are no members
/// or the mean is zero.
fn coefficient_of_variation(values: &[i128]) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    let n = values.len() as f64;
    let mean = values.iter().sum::<i128>() as f64 / n;
    if mean == 0.0 {
        return None;
    }
    let variance = values
        .iter()
        .map(|&v| (v as f64 - mean).powi(2))
        .sum::<f64>()
        / n;
    Some(variance.sqrt() / mean)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::cube::{Cube, Deltas};
    use crate::domain::labels::display_matchers;
    use crate::domain::parser::parse_expression;

    fn month(text: &str) -> Period {
        Period::parse(text).unwrap()
    }

    fn scope(first: &str, last: &str) -> Scope {
        Scope {
            first: month(first),
            last: month(last),
            matchers: Vec::new(),
        }
    }

    fn cube(entries: &[(&str, &str, &str, Measure, i64)]) -> Cube {
        let mut deltas = Deltas::new();
        for (period, sector, region, measure, amount) in entries {
            let combo = Combo::of(sector, region).unwrap();
            deltas.add(month(period), combo, measure.slot(), *amount);
        }
        let mut cube = Cube::new();
        cube.apply(&deltas);
        cube
    }

    fn value(cube: &Cube, text: &str, scope: &Scope) -> Option<f64> {
        let indicators = IndicatorSet::default();
        let evaluator = Evaluator {
            cells: cube,
            indicators: &indicators,
        };
        evaluator.value(&parse_expression(text).unwrap(), scope)
    }

    #[test]
    fn the_deepest_expressions_accepted_are_evaluated_on_a_small_stack() {
        use crate::domain::parser::{MAX_LENGTH, MAX_TREE_DEPTH};
        let chain = |operations: usize| format!("{}1", "1+".repeat(operations));
        assert!(parse_expression(&chain(MAX_TREE_DEPTH)).is_err());
        assert!(parse_expression(&chain(MAX_LENGTH)).is_err());
        let deepest = chain(MAX_TREE_DEPTH - 1);
        // A tokio worker's stack (2 MiB), in a debug build: evaluation,
        // display and drop all walk the tree recursively.
        let worker = std::thread::Builder::new().stack_size(2 << 20);
        let evaluated = worker
            .spawn(move || {
                let expr = parse_expression(&deepest).unwrap();
                let shown = expr.to_string();
                drop(expr);
                (
                    value(&Cube::new(), &deepest, &scope("2026-01", "2026-01")),
                    shown,
                )
            })
            .unwrap()
            .join()
            .expect("no stack overflow");
        assert_eq!(evaluated.0, Some(MAX_TREE_DEPTH as f64));
        assert_eq!(evaluated.1.matches('+').count(), MAX_TREE_DEPTH - 1);
    }

    #[test]
    fn shares_ratios_and_division_by_zero() {
        use Measure::OutputValue as O;
        let cube = cube(&[
            ("2026-01", "automobile", "220100", O, 300),
            ("2026-01", "biotech", "220300", O, 100),
        ]);
        let jan = scope("2026-01", "2026-01");
        let share = "sum(output_value{group=\"pillar\"}) / sum(output_value) * 100";
        assert_eq!(value(&cube, share, &jan), Some(75.0));
        assert_eq!(value(&cube, share, &scope("2026-02", "2026-02")), None);
        assert_eq!(value(&cube, "1 / 0", &jan), None);
    }

    #[test]
    fn yoy_and_ytd_shift_the_months() {
        use Measure::OutputValue as O;
        let cube = cube(&[
            ("2025-03", "automobile", "220100", O, 100),
            ("2026-01", "automobile", "220100", O, 50),
            ("2026-03", "automobile", "220100", O, 120),
        ]);
        let march = scope("2026-03", "2026-03");
        assert_eq!(value(&cube, "yoy(sum(output_value))", &march), Some(0.2));
        assert_eq!(value(&cube, "ytd(sum(output_value))", &march), Some(170.0));
        assert_eq!(
            value(
                &cube,
                "yoy(sum(output_value))",
                &scope("2026-01", "2026-01")
            ),
            None,
            "no value a year earlier"
        );
    }

    #[test]
    fn employment_is_a_stock_and_counts_accumulate() {
        let building = crate::domain::labels::status_slot(2);
        let combo = Combo::of("automobile", "220100").unwrap();
        let mut deltas = Deltas::new();
        deltas.add(month("2026-01"), combo, Measure::Employment.slot(), 10);
        deltas.add(month("2026-03"), combo, Measure::Employment.slot(), 30);
        deltas.add(month("2026-01"), combo, building, 2);
        deltas.add(month("2026-03"), combo, building, -1);
        let mut cube = Cube::new();
        cube.apply(&deltas);
        let quarter = scope("2026-01", "2026-03");
        assert_eq!(value(&cube, "sum(employment)", &quarter), Some(30.0));
        let count = "count(projects{status=\"UNDER_CONSTRUCTION\"})";
        assert_eq!(value(&cube, count, &scope("2026-02", "2026-02")), Some(2.0));
        assert_eq!(value(&cube, count, &quarter), Some(1.0));
    }

    #[test]
    fn concentration_and_dispersion() {
        use Measure::ValueAdded as V;
        let cube = cube(&[
            ("2026-01", "automobile", "220100", V, 50),
            ("2026-01", "biotech", "220100", V, 50),
        ]);
        let jan = scope("2026-01", "2026-01");
        assert_eq!(value(&cube, "hhi(value_added by sector)", &jan), Some(0.5));
        assert_eq!(value(&cube, "hhi(value_added by region)", &jan), Some(1.0));
        // One region of nine holds everything: mean 100/9, sd = mean * sqrt(8).
        let cv = value(&cube, "cv(value_added by region)", &jan).unwrap();
        assert!((cv - 8f64.sqrt()).abs() < 1e-12, "{cv}");
        assert_eq!(value(&cube, "cv(output_value by region)", &jan), None);
    }

    #[test]
    fn explain_lists_every_aggregate() {
        use Measure::OutputValue as O;
        let cube = cube(&[("2026-01", "automobile", "220100", O, 40)]);
        let indicators = IndicatorSet::default();
        let evaluator = Evaluator {
            cells: &cube,
            indicators: &indicators,
        };
        let expr =
            parse_expression("sum(output_value{group=\"pillar\"}) / sum(output_value)").unwrap();
        let mut jan = scope("2026-01", "2026-01");
        jan.matchers.push(Matcher::equals(
            crate::domain::labels::Label::Region,
            "220100",
        ));
        let (value, terms) = evaluator.explain(&expr, &jan);
        assert_eq!(value, Some(1.0));
        assert_eq!(terms.len(), 2);
        assert_eq!(terms[0].expression, "sum(output_value{group=\"pillar\"})");
        assert_eq!(
            display_matchers(&terms[0].matchers),
            "group=\"pillar\", region=\"220100\""
        );
        assert_eq!(terms[1].value, Some(40.0));
    }
}
