//! The ListProjects filter: a subset of AIP-160.
//!
//! ```text
//! filter     := conjunction ( "AND" conjunction )*
//! conjunction:= factor ( "OR" factor )*          // OR binds tighter, as in AIP-160
//! factor     := "NOT" factor | "(" filter ")" | comparison
//! comparison := field ( "=" | "!=" | ":" ) value
//! field      := sector | group | region_code | prefecture | status | agency | tags
//! value      := word | "quoted string"
//! ```
//! `tags:x` and `tags = x` mean "has tag x"; `prefecture = "220100"` matches
//! Changchun and every county under it, `region_code` matches exactly.

use super::catalog;
use super::project::{Project, Status};
use jilin_domain::quoted;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Field {
    Sector,
    Group,
    RegionCode,
    Prefecture,
    Status,
    Agency,
    Tags,
}

impl Field {
    const NAMES: [(&'static str, Field); 7] = [
        ("sector", Field::Sector),
        ("group", Field::Group),
        ("region_code", Field::RegionCode),
        ("prefecture", Field::Prefecture),
        ("status", Field::Status),
        ("agency", Field::Agency),
        ("tags", Field::Tags),
    ];

    fn parse(name: &str) -> Option<Field> {
        Self::NAMES
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, f)| *f)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    Equal,
    NotEqual,
    Has,
}

/// A parsed filter.
#[derive(Clone, Debug, PartialEq)]
pub enum Filter {
    All,
    And(Box<Filter>, Box<Filter>),
    Or(Box<Filter>, Box<Filter>),
    Not(Box<Filter>),
    Compare { field: Field, op: Op, value: String },
}

/// Where and why a filter did not parse. `position` is a 0-based character
/// offset into the filter text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FilterError {
    pub position: usize,
    pub message: String,
}

impl std::fmt::Display for FilterError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "at position {}: {}", self.position, self.message)
    }
}

/// Longest filter accepted, in characters.
pub const MAX_FILTER_LENGTH: usize = 2048;
/// Deepest nesting of parentheses and NOT accepted: the parser recurses
/// once per level, and a client must not be able to exhaust its stack.
pub const MAX_FILTER_DEPTH: usize = 32;

impl Filter {
    pub fn parse(text: &str) -> Result<Filter, FilterError> {
        if text.chars().count() > MAX_FILTER_LENGTH {
            return Err(FilterError {
                position: MAX_FILTER_LENGTH,
                message: format!("a filter is at most {MAX_FILTER_LENGTH} characters"),
            });
        }
        let tokens = tokenize(text)?;
        if tokens.is_empty() {
            return Ok(Filter::All);
        }
        let mut parser = Parser {
            tokens,
            next: 0,
            end: text.chars().count(),
            depth: 0,
        };
        let filter = parser.filter()?;
        match parser.peek() {
            None => Ok(filter),
            Some(token) => Err(token.error("expected AND, OR or the end of the filter")),
        }
    }

    /// Whether the filter only joins exact values (`=` or `:`) with `AND`
    /// and `OR`: the projects holding those values are then exactly its
    /// matches, which an index can count and page without reading them.
    pub fn is_exact_values(&self) -> bool {
        match self {
            Filter::And(left, right) | Filter::Or(left, right) => {
                left.is_exact_values() && right.is_exact_values()
            }
            Filter::Compare { op, .. } => *op != Op::NotEqual,
            Filter::All | Filter::Not(_) => false,
        }
    }

    pub fn matches(&self, project: &Project) -> bool {
        match self {
            Filter::All => true,
            Filter::And(left, right) => left.matches(project) && right.matches(project),
            Filter::Or(left, right) => left.matches(project) || right.matches(project),
            Filter::Not(inner) => !inner.matches(project),
            Filter::Compare { field, op, value } => {
                let found = match field {
                    Field::Tags => project.tags.iter().any(|tag| tag == value),
                    Field::Sector => project.sector == *value,
                    Field::Group => project.group() == value,
                    Field::RegionCode => project.region_code == *value,
                    Field::Prefecture => project.prefecture() == value,
                    Field::Status => project.status.as_str() == value,
                    Field::Agency => project.agency == *value,
                };
                if *op == Op::NotEqual { !found } else { found }
            }
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
enum Kind {
    Word(String),
    Quoted(String),
    Open,
    Close,
    Equal,
    NotEqual,
    Colon,
}

#[derive(Clone, Debug)]
struct Token {
    kind: Kind,
    position: usize,
}

impl Token {
    fn error(&self, message: impl Into<String>) -> FilterError {
        FilterError {
            position: self.position,
            message: message.into(),
        }
    }

    fn is_keyword(&self, keyword: &str) -> bool {
        matches!(&self.kind, Kind::Word(word) if word == keyword)
    }
}

fn tokenize(text: &str) -> Result<Vec<Token>, FilterError> {
    let chars: Vec<char> = text.chars().collect();
    let mut tokens = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let start = i;
        let kind = match c {
            c if c.is_whitespace() => {
                i += 1;
                continue;
            }
            '(' => Kind::Open,
            ')' => Kind::Close,
            '=' => Kind::Equal,
            ':' => Kind::Colon,
            '!' if chars.get(i + 1) == Some(&'=') => {
                i += 1;
                Kind::NotEqual
            }
            '"' => {
                let mut value = String::new();
                i += 1;
                loop {
                    match chars.get(i) {
                        None => {
                            return Err(FilterError {
                                position: start,
                                message: "unterminated string".into(),
                            });
                        }
                        Some('"') => break,
                        Some('\\') if chars.get(i + 1).is_some() => {
                            value.push(chars[i + 1]);
                            i += 2;
                        }
                        Some(c) => {
                            value.push(*c);
                            i += 1;
                        }
                    }
                }
                Kind::Quoted(value)
            }
            c if is_word_char(c) => {
                while i + 1 < chars.len() && is_word_char(chars[i + 1]) {
                    i += 1;
                }
                Kind::Word(chars[start..=i].iter().collect())
            }
            other => {
                return Err(FilterError {
                    position: start,
                    message: format!("unexpected character `{other}`"),
                });
            }
        };
        tokens.push(Token {
            kind,
            position: start,
        });
        i += 1;
    }
    Ok(tokens)
}

fn is_word_char(c: char) -> bool {
    c.is_alphanumeric() || matches!(c, '_' | '-' | '.')
}

struct Parser {
    tokens: Vec<Token>,
    next: usize,
    end: usize,
    /// Parentheses and NOTs open around the current position.
    depth: usize,
}

impl Parser {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.next)
    }

    fn take(&mut self, expected: &str) -> Result<Token, FilterError> {
        let token = self
            .tokens
            .get(self.next)
            .cloned()
            .ok_or_else(|| FilterError {
                position: self.end,
                message: format!("expected {expected}, found the end of the filter"),
            })?;
        self.next += 1;
        Ok(token)
    }

    fn filter(&mut self) -> Result<Filter, FilterError> {
        let mut left = self.conjunction()?;
        while self.peek().is_some_and(|t| t.is_keyword("AND")) {
            self.next += 1;
            let right = self.conjunction()?;
            left = Filter::And(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn conjunction(&mut self) -> Result<Filter, FilterError> {
        let mut left = self.factor()?;
        while self.peek().is_some_and(|t| t.is_keyword("OR")) {
            self.next += 1;
            let right = self.factor()?;
            left = Filter::Or(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn factor(&mut self) -> Result<Filter, FilterError> {
        let token = self.take("a comparison such as `status = APPROVED`")?;
        match &token.kind {
            Kind::Word(word) if word == "NOT" => {
                let inner = self.nested(&token, Self::factor)?;
                Ok(Filter::Not(Box::new(inner)))
            }
            Kind::Open => {
                let inner = self.nested(&token, Self::filter)?;
                let close = self.take("`)`")?;
                if close.kind != Kind::Close {
                    return Err(close.error("expected `)`"));
                }
                Ok(inner)
            }
            Kind::Word(name) => {
                let field = Field::parse(name).ok_or_else(|| {
                    let known: Vec<_> = Field::NAMES.iter().map(|(n, _)| *n).collect();
                    token.error(format!(
                        "unknown field `{}`; filterable fields: {}",
                        quoted(name),
                        known.join(", ")
                    ))
                })?;
                self.comparison(field)
            }
            _ => Err(token.error("expected a field name, NOT or `(`")),
        }
    }

    /// Parses one level deeper, refusing to go past [`MAX_FILTER_DEPTH`].
    fn nested(
        &mut self,
        opening: &Token,
        parse: fn(&mut Self) -> Result<Filter, FilterError>,
    ) -> Result<Filter, FilterError> {
        if self.depth == MAX_FILTER_DEPTH {
            return Err(opening.error(format!(
                "parentheses and NOT nest at most {MAX_FILTER_DEPTH} deep"
            )));
        }
        self.depth += 1;
        let inner = parse(self);
        self.depth -= 1;
        inner
    }

    fn comparison(&mut self, field: Field) -> Result<Filter, FilterError> {
        let op_token = self.take("`=`, `!=` or `:`")?;
        let op = match op_token.kind {
            Kind::Equal => Op::Equal,
            Kind::NotEqual => Op::NotEqual,
            Kind::Colon => Op::Has,
            _ => return Err(op_token.error("expected `=`, `!=` or `:`")),
        };
        let value_token = self.take("a value")?;
        let value = match &value_token.kind {
            Kind::Word(word) if !matches!(word.as_str(), "AND" | "OR" | "NOT") => word.clone(),
            Kind::Quoted(text) => text.clone(),
            _ => return Err(value_token.error("expected a value")),
        };
        if let Some(problem) = check_value(field, &value) {
            return Err(value_token.error(problem));
        }
        Ok(Filter::Compare { field, op, value })
    }
}

/// Catches typos in enumerated values instead of silently matching nothing.
fn check_value(field: Field, value: &str) -> Option<String> {
    match field {
        Field::Status if Status::parse(value).is_none() => {
            let known: Vec<_> = Status::ALL.iter().map(|s| s.as_str()).collect();
            Some(format!(
                "unknown status `{}`; one of {}",
                quoted(value),
                known.join(", ")
            ))
        }
        Field::Group if !catalog::GROUPS.contains(&value) => Some(format!(
            "unknown group `{}`; one of {}",
            quoted(value),
            catalog::GROUPS.join(", ")
        )),
        Field::Sector if catalog::sector_by_code(value).is_none() => Some(format!(
            "unknown sector `{}`; see ListSectors",
            quoted(value)
        )),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn deep_nesting_and_long_filters_are_refused_not_recursed_into() {
        let deep = format!("{}x", "(".repeat(1000));
        let err = Filter::parse(&deep).unwrap_err();
        assert!(err.message.contains("nest at most"), "{err}");
        let deeper = format!("{}x", "(".repeat(3000));
        assert!(Filter::parse(&deeper).is_err());
        let nots = format!("{}status = APPROVED", "NOT ".repeat(MAX_FILTER_DEPTH + 1));
        assert!(
            Filter::parse(&nots)
                .unwrap_err()
                .message
                .contains("nest at most")
        );
        let ok = format!(
            "{}status = APPROVED{}",
            "(".repeat(MAX_FILTER_DEPTH),
            ")".repeat(MAX_FILTER_DEPTH)
        );
        assert!(Filter::parse(&ok).is_ok());
        let long = format!("agency = \"{}\"", "a".repeat(MAX_FILTER_LENGTH));
        assert!(
            Filter::parse(&long)
                .unwrap_err()
                .message
                .contains("at most")
        );
    }

    #[test]
    fn errors_quote_at_most_a_short_piece_of_the_input() {
        let err = Filter::parse(&format!("status = {}", "X".repeat(1500))).unwrap_err();
        assert!(err.message.chars().count() < 400, "{}", err.message.len());
    }

    use super::*;
    use crate::domain::project::{self, ProjectDraft};
    use time::macros::datetime;

    fn project(sector: &str, region: &str, tags: &[&str]) -> Project {
        let draft = ProjectDraft {
            display_name: "x".into(),
            sector: sector.into(),
            region_code: region.into(),
            agency: "jilin-drc".into(),
            tags: tags.iter().map(|t| t.to_string()).collect(),
            planned_investment_yuan: 1,
            planned_start_date: "2025-01-01".into(),
            planned_end_date: "2026-01-01".into(),
            ..Default::default()
        };
        project::create("p".into(), &draft, datetime!(2026-01-01 0:00 UTC)).unwrap()
    }

    fn matches(filter: &str, project: &Project) -> bool {
        Filter::parse(filter).unwrap().matches(project)
    }

    #[test]
    fn the_contract_example_works() {
        let p = project("automobile", "220100", &[]);
        assert!(matches(
            r#"status = PROPOSED AND region_code = "220100""#,
            &p
        ));
        assert!(!matches(
            r#"status = UNDER_CONSTRUCTION AND region_code = "220100""#,
            &p
        ));
    }

    #[test]
    fn or_binds_tighter_than_and() {
        let p = project("automobile", "220200", &["changjitu"]);
        // a AND (b OR c)
        assert!(matches(
            "group = pillar AND region_code = 220100 OR tags:changjitu",
            &p
        ));
        assert!(!matches(
            "group = emerging AND region_code = 220200 OR tags:changjitu",
            &p
        ));
    }

    #[test]
    fn not_parentheses_tags_and_prefecture() {
        let p = project("biotech", "220182", &["ecological"]);
        assert!(matches("NOT (group = pillar OR group = traditional)", &p));
        assert!(matches("tags:ecological AND tags != changjitu", &p));
        assert!(matches(r#"prefecture = "220100""#, &p));
        assert!(!matches(r#"region_code = "220100""#, &p));
        assert!(matches("", &p));
    }

    #[test]
    fn errors_say_where_and_what() {
        let cases = [
            ("status = BUILDING", 9, "unknown status"),
            ("colour = red", 0, "unknown field"),
            ("status =", 8, "expected a value"),
            ("status = APPROVED AND", 21, "expected a comparison"),
            ("(status = APPROVED", 18, "expected `)`"),
            ("status = APPROVED extra", 18, "expected AND, OR"),
            (r#"agency = "open"#, 9, "unterminated string"),
            ("status ~ APPROVED", 7, "unexpected character"),
            ("group = heavy", 8, "unknown group"),
        ];
        for (text, position, message) in cases {
            let err = Filter::parse(text).unwrap_err();
            assert_eq!(err.position, position, "{text}: {err}");
            assert!(err.message.contains(message), "{text}: {err}");
        }
    }
}
