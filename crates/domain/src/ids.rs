//! The shape of a user-chosen id of an indicator or a rule.

/// Lower case letters, digits and `_`, 3 to 63 characters, starting with
/// a letter (e.g. `rd_intensity`).
pub fn is_snake_case_id(id: &str) -> bool {
    (3..=63).contains(&id.len())
        && id.starts_with(|c: char| c.is_ascii_lowercase())
        && id
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snake_case_ids() {
        assert!(is_snake_case_id("rd_intensity"));
        for bad in ["", "ab", "1abc", "Abc", "a-bc", "a bc", &"a".repeat(64)] {
            assert!(!is_snake_case_id(bad), "{bad}");
        }
    }
}
