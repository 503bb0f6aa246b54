//! Indicator definitions: what an indicator means (names, unit, direction,
//! concept, yearly targets) and how it is computed (its expression), with
//! the rules a user-defined one must satisfy.

use std::collections::{BTreeMap, BTreeSet};

use jilin_domain::{FieldViolation, Violations};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::expr::Expr;
use super::parser::parse_expression;

/// Whether a rising value is good news.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Direction {
    HigherIsBetter,
    LowerIsBetter,
}

/// The development concept an indicator speaks to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Concept {
    Innovative,
    Coordinated,
    Green,
    Open,
    Shared,
    Structure,
}

/// An indicator as stored.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Definition {
    pub id: String,
    pub display_name: String,
    pub display_name_zh: String,
    pub description: String,
    pub unit: String,
    pub direction: Direction,
    pub concept: Concept,
    pub expression: String,
    /// Year → target value.
    pub targets: BTreeMap<i32, f64>,
    pub built_in: bool,
    pub revision: i64,
    #[serde(with = "jilin_domain::timestamp")]
    pub create_time: OffsetDateTime,
    #[serde(with = "jilin_domain::timestamp")]
    pub update_time: OffsetDateTime,
}

impl Definition {
    pub fn name(&self) -> String {
        format!("indicators/{}", self.id)
    }

    pub fn etag(&self) -> String {
        format!("\"{}\"", self.revision)
    }

    pub fn target(&self, year: i32) -> Option<f64> {
        self.targets.get(&year).copied()
    }

    /// Its user-settable fields, as a draft to patch.
    pub fn draft(&self) -> Draft {
        Draft {
            display_name: self.display_name.clone(),
            display_name_zh: self.display_name_zh.clone(),
            description: self.description.clone(),
            unit: self.unit.clone(),
            direction: Some(self.direction),
            concept: Some(self.concept),
            expression: self.expression.clone(),
            targets: self.targets.iter().map(|(y, v)| (*y, *v)).collect(),
        }
    }

    /// A new user-defined indicator from a draft that passed [`validate`].
    pub fn new(id: &str, draft: &Draft, now: OffsetDateTime) -> Self {
        let mut definition = Definition {
            id: id.to_owned(),
            display_name: String::new(),
            display_name_zh: String::new(),
            description: String::new(),
            unit: String::new(),
            direction: Direction::HigherIsBetter,
            concept: Concept::Structure,
            expression: String::new(),
            targets: BTreeMap::new(),
            built_in: false,
            revision: 1,
            create_time: now,
            update_time: now,
        };
        definition.set_fields(draft);
        definition
    }

    /// Takes every field of a draft that passed [`validate`].
    pub fn set_fields(&mut self, draft: &Draft) {
        self.display_name = draft.display_name.clone();
        self.display_name_zh = draft.display_name_zh.clone();
        self.description = draft.description.clone();
        self.unit = draft.unit.clone();
        self.direction = draft.direction.unwrap_or(self.direction);
        self.concept = draft.concept.unwrap_or(self.concept);
        self.expression = draft.expression.clone();
        self.targets = draft.targets.iter().copied().collect();
    }
}

/// How far `value` reaches `target`: `value / target` when higher is
/// better, `target / value` when lower is better; none when either is
/// missing or the divisor is zero.
pub fn attainment(direction: Direction, value: Option<f64>, target: Option<f64>) -> Option<f64> {
    let (value, target) = (value?, target?);
    let ratio = match direction {
        Direction::HigherIsBetter => value / target,
        Direction::LowerIsBetter => target / value,
    };
    ratio.is_finite().then_some(ratio)
}

/// The fields a user sets, before validation.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Draft {
    pub display_name: String,
    pub display_name_zh: String,
    pub description: String,
    pub unit: String,
    pub direction: Option<Direction>,
    pub concept: Option<Concept>,
    pub expression: String,
    pub targets: Vec<(i32, f64)>,
}

/// A field of an indicator that UpdateIndicator may change.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IndicatorField {
    DisplayName,
    DisplayNameZh,
    Description,
    Unit,
    Direction,
    Concept,
    Expression,
    Targets,
}

impl IndicatorField {
    /// Every field an update may name, in the order of the message.
    pub const ALL: [IndicatorField; 8] = [
        IndicatorField::DisplayName,
        IndicatorField::DisplayNameZh,
        IndicatorField::Description,
        IndicatorField::Unit,
        IndicatorField::Direction,
        IndicatorField::Concept,
        IndicatorField::Expression,
        IndicatorField::Targets,
    ];

    /// Its name in the API (and in update masks).
    pub fn name(self) -> &'static str {
        match self {
            IndicatorField::DisplayName => "display_name",
            IndicatorField::DisplayNameZh => "display_name_zh",
            IndicatorField::Description => "description",
            IndicatorField::Unit => "unit",
            IndicatorField::Direction => "direction",
            IndicatorField::Concept => "concept",
            IndicatorField::Expression => "expression",
            IndicatorField::Targets => "targets",
        }
    }

    /// Whether a built-in indicator lets this field change (its meaning,
    /// unit and expression are fixed).
    pub fn changes_built_in(self) -> bool {
        matches!(
            self,
            IndicatorField::DisplayName
                | IndicatorField::DisplayNameZh
                | IndicatorField::Description
                | IndicatorField::Targets
        )
    }

    /// Copies this field from `patch` into `draft`.
    pub fn copy(self, patch: &Draft, draft: &mut Draft) {
        match self {
            IndicatorField::DisplayName => draft.display_name = patch.display_name.clone(),
            IndicatorField::DisplayNameZh => draft.display_name_zh = patch.display_name_zh.clone(),
            IndicatorField::Description => draft.description = patch.description.clone(),
            IndicatorField::Unit => draft.unit = patch.unit.clone(),
            IndicatorField::Direction => draft.direction = patch.direction,
            IndicatorField::Concept => draft.concept = patch.concept,
            IndicatorField::Expression => draft.expression = patch.expression.clone(),
            IndicatorField::Targets => draft.targets = patch.targets.clone(),
        }
    }
}

/// A definition with its parsed expression, ready to evaluate.
#[derive(Clone, Debug)]
pub struct Compiled {
    pub definition: Definition,
    pub expr: Expr,
}

/// Every known indicator, compiled, by id.
#[derive(Clone, Debug, Default)]
pub struct IndicatorSet(BTreeMap<String, Compiled>);

impl IndicatorSet {
    /// Compiles stored definitions; one whose expression no longer parses
    /// is left out (and logged by the caller).
    pub fn compile(definitions: impl IntoIterator<Item = Definition>) -> (Self, Vec<String>) {
        let mut set = BTreeMap::new();
        let mut broken = Vec::new();
        for definition in definitions {
            match parse_expression(&definition.expression) {
                Ok(expr) => {
                    set.insert(definition.id.clone(), Compiled { definition, expr });
                }
                Err(err) => broken.push(format!("{}: {err}", definition.id)),
            }
        }
        (Self(set), broken)
    }

    pub fn get(&self, id: &str) -> Option<&Compiled> {
        self.0.get(id)
    }

    pub fn iter(&self) -> impl Iterator<Item = &Compiled> {
        self.0.values()
    }

    /// Ids of the indicators whose expressions refer to `id`.
    pub fn referrers(&self, id: &str) -> Vec<String> {
        self.0
            .values()
            .filter(|c| c.expr.references().contains(&id))
            .map(|c| c.definition.id.clone())
            .collect()
    }

    /// Whether `id` (with expression `expr`) would reach itself through
    /// `attain` references.
    fn creates_cycle(&self, id: &str, expr: &Expr) -> bool {
        let mut stack: Vec<String> = expr.references().iter().map(|r| r.to_string()).collect();
        let mut seen = BTreeSet::new();
        while let Some(next) = stack.pop() {
            if next == id {
                return true;
            }
            if seen.insert(next.clone())
                && let Some(compiled) = self.0.get(&next)
            {
                stack.extend(compiled.expr.references().iter().map(|r| r.to_string()));
            }
        }
        false
    }
}

/// Checks an indicator id: lower case letters, digits and `_`, 3..=63
/// characters, starting with a letter.
pub fn check_id(id: &str) -> Result<(), String> {
    if jilin_domain::is_snake_case_id(id) {
        Ok(())
    } else {
        Err("must be 3 to 63 lower case letters, digits or '_', starting with a letter".into())
    }
}

/// Validates `draft` as the new content of indicator `id`, reporting every
/// bad field (paths under `prefix`, e.g. `indicator.`).
pub fn validate(
    id: &str,
    draft: &Draft,
    set: &IndicatorSet,
    prefix: &str,
) -> Result<(), Vec<FieldViolation>> {
    let mut violations = Violations::new();
    let field = |name: &str| format!("{prefix}{name}");
    for (name, value, max) in [
        ("display_name", &draft.display_name, 200),
        ("display_name_zh", &draft.display_name_zh, 200),
        ("unit", &draft.unit, 40),
    ] {
        let length = value.chars().count();
        violations.check(
            (1..=max).contains(&length) && value.trim() == value,
            field(name),
            format!("required, at most {max} characters, no surrounding spaces"),
        );
    }
    violations.check(
        draft.description.chars().count() <= 4000,
        field("description"),
        "at most 4000 characters",
    );
    violations.check(
        draft.direction.is_some(),
        field("direction"),
        "required: HIGHER_IS_BETTER or LOWER_IS_BETTER",
    );
    violations.check(
        draft.concept.is_some(),
        field("concept"),
        "required: INNOVATIVE, COORDINATED, GREEN, OPEN, SHARED or STRUCTURE",
    );
    match parse_expression(&draft.expression) {
        Err(err) => violations.add(field("expression"), err.to_string()),
        Ok(expr) => {
            for reference in expr.references() {
                violations.check(
                    set.get(reference).is_some(),
                    field("expression"),
                    format!("attain({reference}) refers to an unknown indicator"),
                );
            }
            violations.check(
                !set.creates_cycle(id, &expr),
                field("expression"),
                format!("attain references lead back to {id}"),
            );
        }
    }
    let mut years = BTreeSet::new();
    for (index, (year, value)) in draft.targets.iter().enumerate() {
        violations.check(
            (1900..=9999).contains(year) && years.insert(*year),
            field(&format!("targets[{index}].year")),
            "a year 1900..9999, at most one target per year",
        );
        violations.check(
            value.is_finite(),
            field(&format!("targets[{index}].value")),
            "must be a finite number",
        );
    }
    violations.into_result(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn draft(expression: &str) -> Draft {
        Draft {
            display_name: "Pillar share".into(),
            display_name_zh: "支柱产业占比".into(),
            description: String::new(),
            unit: "%".into(),
            direction: Some(Direction::HigherIsBetter),
            concept: Some(Concept::Structure),
            expression: expression.into(),
            targets: vec![(2026, 50.0)],
        }
    }

    fn definition(id: &str, expression: &str) -> Definition {
        let now = OffsetDateTime::UNIX_EPOCH;
        Definition {
            id: id.into(),
            display_name: id.into(),
            display_name_zh: id.into(),
            description: String::new(),
            unit: "%".into(),
            direction: Direction::HigherIsBetter,
            concept: Concept::Structure,
            expression: expression.into(),
            targets: BTreeMap::new(),
            built_in: false,
            revision: 1,
            create_time: now,
            update_time: now,
        }
    }

    #[test]
    fn attainment_follows_direction_and_never_divides_by_zero() {
        use Direction::*;
        assert_eq!(attainment(HigherIsBetter, Some(5.0), Some(10.0)), Some(0.5));
        assert_eq!(attainment(LowerIsBetter, Some(5.0), Some(10.0)), Some(2.0));
        assert_eq!(attainment(LowerIsBetter, Some(0.0), Some(10.0)), None);
        assert_eq!(attainment(HigherIsBetter, None, Some(10.0)), None);
        assert_eq!(attainment(HigherIsBetter, Some(1.0), None), None);
    }

    #[test]
    fn every_bad_field_is_reported() {
        let mut bad = draft("sum(output_value");
        bad.display_name.clear();
        bad.unit = " % ".into();
        bad.direction = None;
        bad.concept = None;
        bad.targets = vec![(2026, 1.0), (2026, f64::NAN)];
        let fields: Vec<_> = validate("x_y", &bad, &IndicatorSet::default(), "indicator.")
            .unwrap_err()
            .into_iter()
            .map(|v| v.field)
            .collect();
        assert_eq!(
            fields,
            [
                "indicator.display_name",
                "indicator.unit",
                "indicator.direction",
                "indicator.concept",
                "indicator.expression",
                "indicator.targets[1].year",
                "indicator.targets[1].value",
            ]
        );
    }

    #[test]
    fn references_must_exist_and_not_loop() {
        let (set, broken) = IndicatorSet::compile([
            definition("a_ind", "attain(b_ind)"),
            definition("b_ind", "sum(output_value)"),
        ]);
        assert!(broken.is_empty());
        assert!(validate("c_ind", &draft("attain(a_ind)"), &set, "").is_ok());
        let unknown = validate("c_ind", &draft("attain(zzz)"), &set, "").unwrap_err();
        assert!(unknown[0].description.contains("unknown indicator"));
        let cycle = validate("b_ind", &draft("attain(a_ind)"), &set, "").unwrap_err();
        assert!(cycle[0].description.contains("lead back to b_ind"));
        assert_eq!(set.referrers("b_ind"), ["a_ind"]);
    }

    #[test]
    fn ids_are_checked() {
        assert!(check_id("rd_intensity").is_ok());
        for bad in ["ab", "1abc", "Abc", "a-b-c", &"a".repeat(64)] {
            assert!(check_id(bad).is_err(), "{bad}");
        }
    }
}
