//! Update masks (AIP-134): the paths a client names, parsed into the
//! resource's own enum of updatable fields, so that an unknown path is a
//! violation and never silently ignored.

use jilin_domain::{Checked, FieldViolation};

/// The fields of a resource an update may change.
pub trait MaskField: Copy + PartialEq + 'static {
    /// Every updatable field, in the order of the resource message.
    const ALL: &'static [Self];
    /// Its path in an update mask (e.g. `display_name`).
    fn path(self) -> &'static str;
}

/// How a resource's mask is read.
pub struct MaskRules<'a, F> {
    /// The resource message's name, an allowed path prefix (`rule.bands`).
    pub resource: &'a str,
    /// Fields the server sets: naming one says so.
    pub output_only: &'a [&'a str],
    /// The fields an empty mask means (those set in the request, AIP-134),
    /// or `None` when a mask is required.
    pub when_empty: Option<Vec<F>>,
}

/// The fields `mask` names, each once, in the order given; `*` is all of
/// them. An unknown or output-only path, or a mask that names nothing,
/// is a violation on `update_mask`, all of them reported at once.
pub fn resolve_mask<F: MaskField>(
    mask: Option<&prost_types::FieldMask>,
    rules: MaskRules<'_, F>,
) -> Checked<Vec<F>> {
    let violation = |description: String| FieldViolation::new("update_mask", description);
    let paths = mask.map(|mask| mask.paths.as_slice()).unwrap_or_default();
    if paths.is_empty() {
        return match rules.when_empty {
            Some(fields) if !fields.is_empty() => Ok(fields),
            Some(_) => Err(vec![violation(
                "nothing to update: set update_mask or some mutable fields".into(),
            )]),
            None => Err(vec![violation("required: the fields to change".into())]),
        };
    }
    if paths.iter().any(|path| path == "*") {
        return Ok(F::ALL.to_vec());
    }
    let prefix = format!("{}.", rules.resource);
    let mut fields = Vec::new();
    let mut violations = Vec::new();
    for path in paths {
        let path = path.strip_prefix(&prefix).unwrap_or(path);
        match F::ALL.iter().find(|field| field.path() == path) {
            Some(field) if !fields.contains(field) => fields.push(*field),
            Some(_) => {}
            None if rules.output_only.contains(&path) => {
                violations.push(violation(format!("`{path}` is output only")))
            }
            None => violations.push(violation(format!(
                "`{path}` is not a mutable field of {}; mutable: {}",
                rules.resource,
                F::ALL
                    .iter()
                    .map(|f| f.path())
                    .collect::<Vec<_>>()
                    .join(", ")
            ))),
        }
    }
    if violations.is_empty() {
        Ok(fields)
    } else {
        Err(violations)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Clone, Copy, Debug, PartialEq)]
    enum RuleField {
        Bands,
        Summary,
    }

    impl MaskField for RuleField {
        const ALL: &'static [Self] = &[RuleField::Bands, RuleField::Summary];
        fn path(self) -> &'static str {
            match self {
                RuleField::Bands => "bands",
                RuleField::Summary => "summary",
            }
        }
    }

    fn mask(paths: &[&str]) -> Option<prost_types::FieldMask> {
        Some(prost_types::FieldMask {
            paths: paths.iter().map(|p| p.to_string()).collect(),
        })
    }

    fn rules(when_empty: Option<Vec<RuleField>>) -> MaskRules<'static, RuleField> {
        MaskRules {
            resource: "rule",
            output_only: &["revision"],
            when_empty,
        }
    }

    #[test]
    fn masks_name_mutable_fields_once() {
        let fields = resolve_mask(
            mask(&["rule.summary", "bands", "summary"]).as_ref(),
            rules(None),
        );
        assert_eq!(fields, Ok(vec![RuleField::Summary, RuleField::Bands]));
        let all = resolve_mask(mask(&["*"]).as_ref(), rules(None));
        assert_eq!(all, Ok(RuleField::ALL.to_vec()));
    }

    #[test]
    fn an_empty_mask_means_the_set_fields_where_allowed() {
        let implied = resolve_mask(None, rules(Some(vec![RuleField::Bands])));
        assert_eq!(implied, Ok(vec![RuleField::Bands]));
        assert!(resolve_mask(None, rules(Some(Vec::new()))).is_err());
        assert!(resolve_mask(None, rules(None)).is_err());
    }

    #[test]
    fn every_unknown_or_output_only_path_is_a_violation() {
        let violations =
            resolve_mask(mask(&["kind", "revision", "bands"]).as_ref(), rules(None)).unwrap_err();
        let descriptions: Vec<_> = violations.iter().map(|v| v.description.as_str()).collect();
        assert_eq!(descriptions.len(), 2);
        assert!(descriptions[0].starts_with("`kind` is not a mutable field of rule"));
        assert_eq!(descriptions[1], "`revision` is output only");
        assert!(violations.iter().all(|v| v.field == "update_mask"));
    }
}
