//! Update masks (AIP-134): the paths a client names, checked against the
//! fields a resource lets it change.

use jilin_domain::Violations;

/// The mutable fields `mask` names, each once, in the order given: `*` is
/// all of them, a path may carry the resource prefix (`rule.bands`), and
/// an empty mask or an unknown path is a violation on `update_mask`.
pub fn resolve_mask(
    mask: Option<&prost_types::FieldMask>,
    resource: &str,
    mutable: &[&str],
    violations: &mut Violations,
) -> Vec<String> {
    let paths = mask.map(|mask| mask.paths.as_slice()).unwrap_or_default();
    if paths.is_empty() {
        violations.add("update_mask", "required: the fields to change");
    }
    if paths.iter().any(|path| path == "*") {
        return mutable.iter().map(|field| field.to_string()).collect();
    }
    let prefix = format!("{resource}.");
    let mut fields: Vec<String> = Vec::new();
    for path in paths {
        let path = path.strip_prefix(&prefix).unwrap_or(path);
        if !mutable.contains(&path) {
            violations.add(
                "update_mask",
                format!(
                    "`{path}` is not a mutable field of {resource}; mutable: {}",
                    mutable.join(", ")
                ),
            );
        } else if !fields.iter().any(|field| field == path) {
            fields.push(path.to_owned());
        }
    }
    fields
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mask(paths: &[&str]) -> Option<prost_types::FieldMask> {
        Some(prost_types::FieldMask {
            paths: paths.iter().map(|p| p.to_string()).collect(),
        })
    }

    #[test]
    fn masks_name_mutable_fields_once() {
        let mutable = ["bands", "summary"];
        let mut violations = Violations::new();
        let fields = resolve_mask(
            mask(&["rule.summary", "bands", "summary"]).as_ref(),
            "rule",
            &mutable,
            &mut violations,
        );
        assert_eq!(fields, ["summary", "bands"]);
        assert_eq!(violations.into_result(()), Ok(()));
        let mut violations = Violations::new();
        let all = resolve_mask(mask(&["*"]).as_ref(), "rule", &mutable, &mut violations);
        assert_eq!(all, ["bands", "summary"]);
    }

    #[test]
    fn empty_masks_and_unknown_paths_are_violations() {
        let mut violations = Violations::new();
        resolve_mask(None, "rule", &["bands"], &mut violations);
        resolve_mask(
            mask(&["kind"]).as_ref(),
            "rule",
            &["bands"],
            &mut violations,
        );
        let fields: Vec<_> = violations
            .into_result(())
            .unwrap_err()
            .into_iter()
            .map(|v| v.field)
            .collect();
        assert_eq!(fields, ["update_mask", "update_mask"]);
    }
}
