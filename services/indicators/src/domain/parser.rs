//! A recursive-descent parser for indicator expressions and label filters,
//! with errors that name the position (1-based character column) and what
//! was expected there.
//!
//! ```text
//! expr     = term { ("+" | "-") term }
//! term     = unary { ("*" | "/") unary }
//! unary    = "-" unary | primary
//! primary  = number | "(" expr ")" | call
//! call     = "sum(" selector ")" | "count(" "projects" [matchers] ")"
//!          | "yoy(" expr ")" | "ytd(" expr ")" | "attain(" ident ")" | "months()"
//!          | ("hhi(" | "cv(") selector "by" ("sector" | "region" | "group") ")"
//! selector = measure [matchers]
//! matchers = "{" [matcher { "," matcher }] "}"
//! matcher  = label ("=" | "!=") string
//! ```

use std::fmt;

use super::expr::{BinaryOp, Expr, Selector};
use super::labels::{Dimension, Label, Matcher, Measure};

/// Nesting deeper than this is refused rather than overflowing the stack.
const MAX_DEPTH: usize = 64;

/// Characters of an expression or filter, at most.
pub const MAX_LENGTH: usize = 4096;

/// Depth of an expression's tree, at most. Operators chain without nesting
/// in the text (`1+1+1…`) but nest in the tree, which evaluation, display
/// and drop walk recursively: this keeps every walk short, even through the
/// eight `attain` references evaluation follows at most.
pub const MAX_TREE_DEPTH: usize = 128;

/// What went wrong, and where.
#[derive(Clone, Debug, PartialEq)]
pub struct ParseError {
    /// 1-based character column.
    pub position: usize,
    pub kind: ErrorKind,
}

#[derive(Clone, Debug, PartialEq)]
pub enum ErrorKind {
    UnexpectedCharacter(char),
    UnterminatedString,
    InvalidNumber(String),
    Expected {
        expected: &'static str,
        found: String,
    },
    UnknownFunction(String),
    UnknownMeasure(String),
    UnknownLabel(String),
    UnknownLabelValue {
        label: Label,
        value: String,
    },
    StatusOutsideCount,
    TooDeep,
    TooLong(usize),
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "at position {}: ", self.position)?;
        match &self.kind {
            ErrorKind::UnexpectedCharacter(c) => write!(f, "unexpected character '{c}'"),
            ErrorKind::UnterminatedString => write!(f, "unterminated string"),
            ErrorKind::InvalidNumber(text) => write!(f, "invalid number '{text}'"),
            ErrorKind::Expected { expected, found } => {
                write!(f, "expected {expected}, found {found}")
            }
            ErrorKind::UnknownFunction(name) => write!(
                f,
                "unknown function '{name}'; expected one of sum, count, yoy, ytd, hhi, cv, attain, months"
            ),
            ErrorKind::UnknownMeasure(name) => {
                let all: Vec<_> = Measure::ALL.iter().map(|m| m.name()).collect();
                write!(
                    f,
                    "unknown measure '{name}'; expected one of {}",
                    all.join(", ")
                )
            }
            ErrorKind::UnknownLabel(name) => write!(
                f,
                "unknown label '{name}'; expected one of sector, group, region, changjitu, status"
            ),
            ErrorKind::UnknownLabelValue { label, value } => write!(
                f,
                "'{value}' is not a {} (expected one of {})",
                label.name(),
                label.values().join(", ")
            ),
            ErrorKind::StatusOutsideCount => {
                write!(
                    f,
                    "the status label is only allowed in count(projects{{...}})"
                )
            }
            ErrorKind::TooDeep => write!(
                f,
                "expression nested more than {MAX_DEPTH} levels, or more than {MAX_TREE_DEPTH} operations deep"
            ),
            ErrorKind::TooLong(length) => write!(
                f,
                "{length} characters long; at most {MAX_LENGTH} are accepted"
            ),
        }
    }
}

impl std::error::Error for ParseError {}

/// Parses an indicator expression.
pub fn parse_expression(text: &str) -> Result<Expr, ParseError> {
    let mut parser = Parser::new(text)?;
    let expr = parser.expr(0)?;
    parser.expect_end()?;
    if tree_depth(&expr) > MAX_TREE_DEPTH {
        return Err(ParseError {
            position: 1,
            kind: ErrorKind::TooDeep,
        });
    }
    Ok(expr)
}

/// The depth of `expr`'s tree (a text of at most [`MAX_LENGTH`] characters
/// makes at most half as many levels, so this walk itself is short).
fn tree_depth(expr: &Expr) -> usize {
    1 + match expr {
        Expr::Negate(inner) | Expr::Yoy(inner) | Expr::Ytd(inner) => tree_depth(inner),
        Expr::Binary { left, right, .. } => tree_depth(left).max(tree_depth(right)),
        Expr::Number(_)
        | Expr::Sum(_)
        | Expr::Count(_)
        | Expr::Hhi(..)
        | Expr::Cv(..)
        | Expr::Attain(_)
        | Expr::Months => 0,
    }
}

/// Parses a query filter: matchers separated by commas, e.g.
/// `region="220100", group!="services"`. Empty text is no filter.
pub fn parse_filter(text: &str) -> Result<Vec<Matcher>, ParseError> {
    let mut parser = Parser::new(text)?;
    let mut matchers = Vec::new();
    if parser.peek() == &Token::End {
        return Ok(matchers);
    }
    loop {
        matchers.push(parser.matcher(false)?);
        if !parser.eat(&Token::Comma) {
            break;
        }
    }
    parser.expect_end()?;
    Ok(matchers)
}

#[derive(Clone, Debug, PartialEq)]
enum Token {
    Number(f64),
    Ident(String),
    Str(String),
    LParen,
    RParen,
    LBrace,
    RBrace,
    Comma,
    Plus,
    Minus,
    Star,
    Slash,
    Eq,
    NotEq,
    End,
}

impl Token {
    fn describe(&self) -> String {
        match self {
            Token::Number(n) => format!("number {n}"),
            Token::Ident(name) => format!("'{name}'"),
            Token::Str(value) => format!("string \"{value}\""),
            Token::LParen => "'('".into(),
            Token::RParen => "')'".into(),
            Token::LBrace => "'{'".into(),
            Token::RBrace => "'}'".into(),
            Token::Comma => "','".into(),
            Token::Plus => "'+'".into(),
            Token::Minus => "'-'".into(),
            Token::Star => "'*'".into(),
            Token::Slash => "'/'".into(),
            Token::Eq => "'='".into(),
            Token::NotEq => "'!='".into(),
            Token::End => "end of input".into(),
        }
    }
}

fn tokenize(text: &str) -> Result<Vec<(usize, Token)>, ParseError> {
    let chars: Vec<char> = text.chars().collect();
    let mut tokens = Vec::new();
    let mut i = 0;
    let error = |position: usize, kind| ParseError {
        position: position + 1,
        kind,
    };
    while i < chars.len() {
        let c = chars[i];
        let start = i;
        let token = match c {
            c if c.is_whitespace() => {
                i += 1;
                continue;
            }
            '(' => Token::LParen,
            ')' => Token::RParen,
            '{' => Token::LBrace,
            '}' => Token::RBrace,
            ',' => Token::Comma,
            '+' => Token::Plus,
            '-' => Token::Minus,
            '*' => Token::Star,
            '/' => Token::Slash,
            '=' => Token::Eq,
            '!' if chars.get(i + 1) == Some(&'=') => {
                i += 1;
                Token::NotEq
            }
            '"' => {
                let end = chars[i + 1..]
                    .iter()
                    .position(|&c| c == '"')
                    .ok_or_else(|| error(start, ErrorKind::UnterminatedString))?;
                let value: String = chars[i + 1..i + 1 + end].iter().collect();
                i += end + 1;
                Token::Str(value)
            }
            c if c.is_ascii_digit() || c == '.' => {
                let len = chars[i..]
                    .iter()
                    .take_while(|c| c.is_ascii_digit() || **c == '.')
                    .count();
                let text: String = chars[i..i + len].iter().collect();
                i += len - 1;
                match text.parse::<f64>() {
                    Ok(value) if value.is_finite() => Token::Number(value),
                    _ => return Err(error(start, ErrorKind::InvalidNumber(text))),
                }
            }
            c if c.is_ascii_alphabetic() || c == '_' => {
                let len = chars[i..]
                    .iter()
                    .take_while(|c| c.is_ascii_alphanumeric() || **c == '_')
                    .count();
                let name: String = chars[i..i + len].iter().collect();
                i += len - 1;
                Token::Ident(name)
            }
            other => return Err(error(start, ErrorKind::UnexpectedCharacter(other))),
        };
        tokens.push((start + 1, token));
        i += 1;
    }
    tokens.push((chars.len() + 1, Token::End));
    Ok(tokens)
}

struct Parser {
    tokens: Vec<(usize, Token)>,
    next: usize,
}

impl Parser {
    fn new(text: &str) -> Result<Self, ParseError> {
        let length = text.chars().count();
        if length > MAX_LENGTH {
            return Err(ParseError {
                position: MAX_LENGTH + 1,
                kind: ErrorKind::TooLong(length),
            });
        }
        Ok(Self {
            tokens: tokenize(text)?,
            next: 0,
        })
    }

    fn peek(&self) -> &Token {
        &self.tokens[self.next].1
    }

    fn position(&self) -> usize {
        self.tokens[self.next].0
    }

    fn advance(&mut self) -> (usize, Token) {
        let token = self.tokens[self.next].clone();
        if self.next + 1 < self.tokens.len() {
            self.next += 1;
        }
        token
    }

    fn eat(&mut self, token: &Token) -> bool {
        if self.peek() == token {
            self.advance();
            true
        } else {
            false
        }
    }

    fn unexpected(&self, expected: &'static str) -> ParseError {
        ParseError {
            position: self.position(),
            kind: ErrorKind::Expected {
                expected,
                found: self.peek().describe(),
            },
        }
    }

    fn expect(&mut self, token: Token, expected: &'static str) -> Result<(), ParseError> {
        if self.eat(&token) {
            Ok(())
        } else {
            Err(self.unexpected(expected))
        }
    }

    fn expect_end(&self) -> Result<(), ParseError> {
        match self.peek() {
            Token::End => Ok(()),
            _ => Err(self.unexpected("an operator or end of input")),
        }
    }

    fn ident(&mut self, expected: &'static str) -> Result<(usize, String), ParseError> {
        match self.peek().clone() {
            Token::Ident(name) => Ok((self.advance().0, name)),
            _ => Err(self.unexpected(expected)),
        }
    }

    fn expr(&mut self, depth: usize) -> Result<Expr, ParseError> {
        if depth > MAX_DEPTH {
            return Err(ParseError {
                position: self.position(),
                kind: ErrorKind::TooDeep,
            });
        }
        let mut left = self.term(depth)?;
        loop {
            let op = match self.peek() {
                Token::Plus => BinaryOp::Add,
                Token::Minus => BinaryOp::Sub,
                _ => return Ok(left),
            };
            self.advance();
            let right = self.term(depth)?;
            left = binary(op, left, right);
        }
    }

    fn term(&mut self, depth: usize) -> Result<Expr, ParseError> {
        let mut left = self.unary(depth)?;
        loop {
            let op = match self.peek() {
                Token::Star => BinaryOp::Mul,
                Token::Slash => BinaryOp::Div,
                _ => return Ok(left),
            };
            self.advance();
            let right = self.unary(depth)?;
            left = binary(op, left, right);
        }
    }

    fn unary(&mut self, depth: usize) -> Result<Expr, ParseError> {
        if self.eat(&Token::Minus) {
            if depth > MAX_DEPTH {
                return Err(ParseError {
                    position: self.position(),
                    kind: ErrorKind::TooDeep,
                });
            }
            return Ok(Expr::Negate(Box::new(self.unary(depth + 1)?)));
        }
        self.primary(depth)
    }

    fn primary(&mut self, depth: usize) -> Result<Expr, ParseError> {
        match self.peek().clone() {
            Token::Number(value) => {
                self.advance();
                Ok(Expr::Number(value))
            }
            Token::LParen => {
                self.advance();
                let inner = self.expr(depth + 1)?;
                self.expect(Token::RParen, "')'")?;
                Ok(inner)
            }
            Token::Ident(name) => {
                let position = self.position();
                self.advance();
                self.expect(Token::LParen, "'(' after a function name")?;
                let call = self.call(&name, position, depth)?;
                self.expect(Token::RParen, "')'")?;
                Ok(call)
            }
            _ => Err(self.unexpected("a number, '(' or a function")),
        }
    }

    fn call(&mut self, name: &str, position: usize, depth: usize) -> Result<Expr, ParseError> {
        Ok(match name {
            "sum" => Expr::Sum(self.selector()?),
            "count" => {
                let (at, what) = self.ident("'projects'")?;
                if what != "projects" {
                    return Err(ParseError {
                        position: at,
                        kind: ErrorKind::Expected {
                            expected: "'projects'",
                            found: format!("'{what}'"),
                        },
                    });
                }
                Expr::Count(self.matchers(true)?)
            }
            "yoy" => Expr::Yoy(Box::new(self.expr(depth + 1)?)),
            "ytd" => Expr::Ytd(Box::new(self.expr(depth + 1)?)),
            "hhi" | "cv" => {
                let selector = self.selector()?;
                match self.ident("'by'")? {
                    (_, by) if by == "by" => {}
                    (at, other) => {
                        return Err(ParseError {
                            position: at,
                            kind: ErrorKind::Expected {
                                expected: "'by'",
                                found: format!("'{other}'"),
                            },
                        });
                    }
                }
                let (at, dimension) = self.ident("sector, region or group")?;
                let dimension = Dimension::from_name(&dimension).ok_or(ParseError {
                    position: at,
                    kind: ErrorKind::Expected {
                        expected: "sector, region or group",
                        found: format!("'{dimension}'"),
                    },
                })?;
                if name == "hhi" {
                    Expr::Hhi(selector, dimension)
                } else {
                    Expr::Cv(selector, dimension)
                }
            }
            "attain" => Expr::Attain(self.ident("an indicator id")?.1),
            "months" => Expr::Months,
            other => {
                return Err(ParseError {
                    position,
                    kind: ErrorKind::UnknownFunction(other.to_owned()),
                });
            }
        })
    }

    fn selector(&mut self) -> Result<Selector, ParseError> {
        let (at, name) = self.ident("a measure")?;
        let measure = Measure::from_name(&name).ok_or(ParseError {
            position: at,
            kind: ErrorKind::UnknownMeasure(name),
        })?;
        Ok(Selector {
            measure,
            matchers: self.matchers(false)?,
        })
    }

    fn matchers(&mut self, allow_status: bool) -> Result<Vec<Matcher>, ParseError> {
        let mut matchers = Vec::new();
        if !self.eat(&Token::LBrace) {
            return Ok(matchers);
        }
        if self.eat(&Token::RBrace) {
            return Ok(matchers);
        }
        loop {
            matchers.push(self.matcher(allow_status)?);
            if self.eat(&Token::RBrace) {
                return Ok(matchers);
            }
            if !self.eat(&Token::Comma) {
                return Err(self.unexpected("',' or '}'"));
            }
        }
    }

    fn matcher(&mut self, allow_status: bool) -> Result<Matcher, ParseError> {
        let (at, name) = self.ident("a label")?;
        let label = Label::from_name(&name).ok_or(ParseError {
            position: at,
            kind: ErrorKind::UnknownLabel(name),
        })?;
        if label == Label::Status && !allow_status {
            return Err(ParseError {
                position: at,
                kind: ErrorKind::StatusOutsideCount,
            });
        }
        let negated = match self.peek() {
            Token::Eq => false,
            Token::NotEq => true,
            _ => return Err(self.unexpected("'=' or '!='")),
        };
        self.advance();
        let at = self.position();
        let Token::Str(value) = self.peek().clone() else {
            return Err(self.unexpected("a quoted value"));
        };
        self.advance();
        if !label.values().contains(&value.as_str()) {
            return Err(ParseError {
                position: at,
                kind: ErrorKind::UnknownLabelValue { label, value },
            });
        }
        Ok(Matcher {
            label,
            negated,
            value,
        })
    }
}

fn binary(op: BinaryOp, left: Expr, right: Expr) -> Expr {
    Expr::Binary {
        op,
        left: Box::new(left),
        right: Box::new(right),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn error_of(text: &str) -> ParseError {
        parse_expression(text).expect_err(text)
    }

    #[test]
    fn parses_the_documented_forms() {
        for text in [
            "sum(output_value{group=\"pillar\"}) / sum(output_value) * 100",
            "sum(energy_kgce) / sum(value_added)",
            "yoy(sum(output_value))",
            "hhi(output_value by sector)",
            "cv(value_added{changjitu!=\"true\"} by region)",
            "count(projects{status=\"UNDER_CONSTRUCTION\", region=\"220100\"})",
            "count(projects)",
            "ytd(sum(investment_completed)) / ytd(sum(planned_investment))",
            "-(1 + 2.5) * -3",
            "attain(rd_intensity) * 0.2",
            "sum(value_added) / sum(employment) * 12 / months()",
            "sum(output_value{})",
        ] {
            parse_expression(text).unwrap_or_else(|err| panic!("{text}: {err}"));
        }
    }

    #[test]
    fn precedence_and_associativity() {
        let expr = parse_expression("1 - 2 - 3 * 4 / 5").unwrap();
        assert_eq!(expr.to_string(), "((1 - 2) - ((3 * 4) / 5))");
        let expr = parse_expression("-2 * 3").unwrap();
        assert_eq!(expr.to_string(), "((-2) * 3)");
    }

    #[test]
    fn display_round_trips() {
        for text in [
            "sum(output_value{group=\"pillar\", region!=\"220100\"}) / sum(output_value) * 100",
            "yoy(ytd(sum(energy_kgce) / sum(value_added))) * -100",
            "hhi(output_value{sector!=\"automobile\"} by group) + cv(employment by sector)",
            "count(projects{status=\"SUSPENDED\"}) / count(projects)",
            "attain(export_share) + 0.125",
            "sum(value_added) * 12 / months()",
        ] {
            let expr = parse_expression(text).unwrap();
            let shown = expr.to_string();
            assert_eq!(parse_expression(&shown).unwrap(), expr, "{shown}");
            assert_eq!(parse_expression(&shown).unwrap().to_string(), shown);
        }
    }

    #[test]
    fn every_error_kind_names_its_position() {
        let cases: &[(&str, usize, ErrorKind)] = &[
            (
                "sum(output_value) # 2",
                19,
                ErrorKind::UnexpectedCharacter('#'),
            ),
            (
                "sum(output_value{group=\"pillar})",
                24,
                ErrorKind::UnterminatedString,
            ),
            ("1.2.3 + 1", 1, ErrorKind::InvalidNumber("1.2.3".into())),
            (
                "sum(output_value",
                17,
                ErrorKind::Expected {
                    expected: "')'",
                    found: "end of input".into(),
                },
            ),
            (
                "avg(output_value)",
                1,
                ErrorKind::UnknownFunction("avg".into()),
            ),
            ("sum(output)", 5, ErrorKind::UnknownMeasure("output".into())),
            (
                "sum(output_value{city=\"x\"})",
                18,
                ErrorKind::UnknownLabel("city".into()),
            ),
            (
                "sum(output_value{group=\"heavy\"})",
                24,
                ErrorKind::UnknownLabelValue {
                    label: Label::Group,
                    value: "heavy".into(),
                },
            ),
            (
                "sum(output_value{status=\"APPROVED\"})",
                18,
                ErrorKind::StatusOutsideCount,
            ),
            (
                "hhi(output_value per sector)",
                18,
                ErrorKind::Expected {
                    expected: "'by'",
                    found: "'per'".into(),
                },
            ),
            (
                "hhi(output_value by agency)",
                21,
                ErrorKind::Expected {
                    expected: "sector, region or group",
                    found: "'agency'".into(),
                },
            ),
            (
                "count(reports)",
                7,
                ErrorKind::Expected {
                    expected: "'projects'",
                    found: "'reports'".into(),
                },
            ),
            (
                "1 +",
                4,
                ErrorKind::Expected {
                    expected: "a number, '(' or a function",
                    found: "end of input".into(),
                },
            ),
            (
                "sum(output_value) sum(value_added)",
                19,
                ErrorKind::Expected {
                    expected: "an operator or end of input",
                    found: "'sum'".into(),
                },
            ),
            (
                "sum(output_value{group=\"pillar\" sector=\"automobile\"})",
                33,
                ErrorKind::Expected {
                    expected: "',' or '}'",
                    found: "'sector'".into(),
                },
            ),
            (
                "sum(output_value{group==\"pillar\"})",
                24,
                ErrorKind::Expected {
                    expected: "a quoted value",
                    found: "'='".into(),
                },
            ),
            (
                "",
                1,
                ErrorKind::Expected {
                    expected: "a number, '(' or a function",
                    found: "end of input".into(),
                },
            ),
        ];
        for (text, position, kind) in cases {
            let error = error_of(text);
            assert_eq!(
                (error.position, &error.kind),
                (*position, kind),
                "{text}: {error}"
            );
        }
        let deep = format!("{}1{}", "(".repeat(100), ")".repeat(100));
        assert_eq!(error_of(&deep).kind, ErrorKind::TooDeep);
        let negations = format!("{}1", "-".repeat(100));
        assert_eq!(error_of(&negations).kind, ErrorKind::TooDeep);
    }

    #[test]
    fn messages_say_what_was_expected() {
        assert_eq!(
            error_of("sum(output_value").to_string(),
            "at position 17: expected ')', found end of input"
        );
    }

    #[test]
    fn filters_are_comma_separated_matchers() {
        let filter = parse_filter("region=\"220100\", group!=\"services\"").unwrap();
        assert_eq!(filter.len(), 2);
        assert!(filter[1].negated);
        assert!(parse_filter("  ").unwrap().is_empty());
        let error = parse_filter("region=\"220100\" group=\"pillar\"").unwrap_err();
        assert_eq!(error.position, 17);
        assert_eq!(
            parse_filter("status=\"APPROVED\"").unwrap_err().kind,
            ErrorKind::StatusOutsideCount
        );
    }
}
