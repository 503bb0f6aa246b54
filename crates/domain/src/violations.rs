//! Collecting every bad field of a request at once, so the caller gets one
//! `google.rpc.BadRequest` naming all of them rather than the first only.
//!
//! A request is parsed part by part: each part is [`Checked`] (its typed
//! value, or every violation found in it), and [`AllValid::all_valid`]
//! combines the parts into all the values or all the violations. No
//! placeholder value ever stands in for a bad field.

/// One bad field: its path in the request (e.g. `project.planned_end_date`)
/// and what is wrong with it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FieldViolation {
    pub field: String,
    pub description: String,
}

impl FieldViolation {
    pub fn new(field: impl Into<String>, description: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            description: description.into(),
        }
    }

    /// The same violation on a field of an item of a larger request:
    /// `report.period` under `requests[3]` is `requests[3].report.period`.
    pub fn under(self, prefix: &str) -> Self {
        Self {
            field: format!("{prefix}.{}", self.field),
            description: self.description,
        }
    }
}

/// One part of a request, parsed: its value, or every violation in it.
pub type Checked<T> = Result<T, Vec<FieldViolation>>;

/// A part that is wrong in one way.
pub fn invalid<T>(field: impl Into<String>, description: impl Into<String>) -> Checked<T> {
    Err(vec![FieldViolation::new(field, description)])
}

/// Characters of a client's input quoted back in an error, at most: a
/// violation that echoed a huge input would not fit in the trailing
/// metadata clients accept (16 KB for grpcio).
pub const MAX_QUOTED: usize = 200;

/// `text` as an error may quote it: cut at [`MAX_QUOTED`] characters, with
/// an ellipsis when cut.
pub fn quoted(text: &str) -> String {
    match text.char_indices().nth(MAX_QUOTED) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_owned(),
    }
}

/// Turns an error into a violation on `field`, its description the
/// error's message: `Filter::parse(text).map_err(violation_on("filter"))`.
pub fn violation_on<E: std::fmt::Display>(
    field: &str,
) -> impl FnOnce(E) -> Vec<FieldViolation> + '_ {
    move |err| vec![FieldViolation::new(field, err.to_string())]
}

/// Combines independently checked parts (a tuple of [`Checked`]) into the
/// tuple of their values, or every violation of every part, in order.
pub trait AllValid {
    type Values;
    fn all_valid(self) -> Checked<Self::Values>;
}

macro_rules! all_valid_for_tuples {
    ($(($($part:ident),+)),+) => {$(
        impl<$($part),+> AllValid for ($(Checked<$part>,)+) {
            type Values = ($($part,)+);

            #[allow(non_snake_case)]
            fn all_valid(self) -> Checked<Self::Values> {
                let ($($part,)+) = self;
                match ($($part,)+) {
                    ($(Ok($part),)+) => Ok(($($part,)+)),
                    ($($part,)+) => {
                        let mut violations = Vec::new();
                        $(if let Err(more) = $part {
                            violations.extend(more);
                        })+
                        Err(violations)
                    }
                }
            }
        }
    )+};
}

all_valid_for_tuples!(
    (A, B),
    (A, B, C),
    (A, B, C, D),
    (A, B, C, D, E),
    (A, B, C, D, E, F),
    (A, B, C, D, E, F, G)
);

/// An accumulator of field violations.
#[derive(Debug, Default)]
pub struct Violations(Vec<FieldViolation>);

impl Violations {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn add(&mut self, field: impl Into<String>, description: impl Into<String>) {
        self.0.push(FieldViolation {
            field: field.into(),
            description: description.into(),
        });
    }

    /// Adds a violation when `ok` is false.
    pub fn check(&mut self, ok: bool, field: impl Into<String>, description: impl Into<String>) {
        if !ok {
            self.add(field, description);
        }
    }

    pub fn extend(&mut self, more: Vec<FieldViolation>) {
        self.0.extend(more);
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// `Ok(value)` when nothing was found, every violation otherwise.
    pub fn into_result<T>(self, value: T) -> Result<T, Vec<FieldViolation>> {
        if self.0.is_empty() {
            Ok(value)
        } else {
            Err(self.0)
        }
    }

    pub fn into_vec(self) -> Vec<FieldViolation> {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_input_is_quoted_cut_short() {
        assert_eq!(quoted("short"), "short");
        let long = "é".repeat(MAX_QUOTED + 50);
        let shown = quoted(&long);
        assert_eq!(shown.chars().count(), MAX_QUOTED + 1);
        assert!(shown.ends_with('…'));
    }

    #[test]
    fn all_valid_parts_give_their_values() {
        let parts: (Checked<u8>, Checked<&str>) = (Ok(1), Ok("a"));
        assert_eq!(parts.all_valid(), Ok((1, "a")));
    }

    #[test]
    fn every_violation_of_every_part_is_kept_in_order() {
        let parts: (Checked<u8>, Checked<u8>, Checked<u8>) = (
            invalid("a", "bad"),
            Ok(2),
            Err(vec![
                FieldViolation::new("c", "x"),
                FieldViolation::new("c", "y"),
            ]),
        );
        let fields: Vec<_> = parts
            .all_valid()
            .unwrap_err()
            .into_iter()
            .map(|v| format!("{}:{}", v.field, v.description))
            .collect();
        assert_eq!(fields, ["a:bad", "c:x", "c:y"]);
    }
}
