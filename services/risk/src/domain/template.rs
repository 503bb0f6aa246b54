//! A rule's summary template filled in: `{subject}`, `{name}` and
//! `{value}` replaced in one pass over the template.

/// `template` with each placeholder of `fills` replaced by its text. One
/// pass: a text put in is not searched for placeholders (a project named
/// `{value}` stays so), and a brace that starts no placeholder is kept.
pub fn fill(template: &str, fills: &[(&str, &str)]) -> String {
    let added: usize = fills.iter().map(|(_, text)| text.len()).sum();
    let mut filled = String::with_capacity(template.len() + added);
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        filled.push_str(&rest[..open]);
        let from_brace = &rest[open..];
        match fills
            .iter()
            .find(|(placeholder, _)| from_brace.starts_with(placeholder))
        {
            Some((placeholder, text)) => {
                filled.push_str(text);
                rest = &from_brace[placeholder.len()..];
            }
            None => {
                filled.push('{');
                rest = &from_brace[1..];
            }
        }
    }
    filled.push_str(rest);
    filled
}

#[cfg(test)]
mod tests {
    use super::*;

    const FILLS: [(&str, &str); 3] = [
        ("{subject}", "projects/p1"),
        ("{name}", "FAW {value} plant"),
        ("{value}", "31.2"),
    ];

    #[test]
    fn every_placeholder_is_filled_wherever_it_stands() {
        assert_eq!(
            fill("{subject} ({value}) is behind; {value}", &FILLS),
            "projects/p1 (31.2) is behind; 31.2"
        );
        assert_eq!(fill("no placeholder", &FILLS), "no placeholder");
        assert_eq!(fill("", &FILLS), "");
    }

    #[test]
    fn a_filled_text_is_not_filled_again() {
        assert_eq!(fill("{name}", &FILLS), "FAW {value} plant");
    }

    #[test]
    fn other_braces_are_kept() {
        assert_eq!(fill("{ {valu {value}} {", &FILLS), "{ {valu 31.2} {");
        assert_eq!(fill("{é{value}", &FILLS), "{é31.2");
    }
}
