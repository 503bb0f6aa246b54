//! The syntax tree of an indicator expression and its canonical display,
//! which is fully parenthesised and parses back to the same tree.

use std::fmt;

use super::labels::{Dimension, Matcher, Measure, display_matchers};

/// An arithmetic operator.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BinaryOp {
    Add,
    Sub,
    Mul,
    Div,
}

impl BinaryOp {
    pub fn symbol(self) -> char {
        match self {
            BinaryOp::Add => '+',
            BinaryOp::Sub => '-',
            BinaryOp::Mul => '*',
            BinaryOp::Div => '/',
        }
    }
}

/// A measure with its label matchers: `output_value{group="pillar"}`.
#[derive(Clone, Debug, PartialEq)]
pub struct Selector {
    pub measure: Measure,
    pub matchers: Vec<Matcher>,
}

impl fmt::Display for Selector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.measure.name())?;
        if !self.matchers.is_empty() {
            write!(f, "{{{}}}", display_matchers(&self.matchers))?;
        }
        Ok(())
    }
}

/// An indicator expression.
#[derive(Clone, Debug, PartialEq)]
pub enum Expr {
    Number(f64),
    Negate(Box<Expr>),
    Binary {
        op: BinaryOp,
        left: Box<Expr>,
        right: Box<Expr>,
    },
    /// `sum(measure{...})` over the months of the period.
    Sum(Selector),
    /// `count(projects{...})`: projects at the end of the period.
    Count(Vec<Matcher>),
    /// `yoy(e)`: relative change of `e` against the same period a year earlier.
    Yoy(Box<Expr>),
    /// `ytd(e)`: `e` from January to the end of the period.
    Ytd(Box<Expr>),
    /// `hhi(measure by dim)`: Herfindahl index of the shares of each member.
    Hhi(Selector, Dimension),
    /// `cv(measure by dim)`: coefficient of variation across the members.
    Cv(Selector, Dimension),
    /// `attain(id)`: another indicator's attainment of its target, capped.
    Attain(String),
    /// `months()`: the number of months the value covers (to annualise).
    Months,
}

impl Expr {
    /// Every indicator id this expression refers to through `attain`.
    pub fn references(&self) -> Vec<&str> {
        let mut found = Vec::new();
        self.visit(&mut |expr| {
            if let Expr::Attain(id) = expr {
                found.push(id.as_str());
            }
        });
        found
    }

    fn visit<'a>(&'a self, f: &mut impl FnMut(&'a Expr)) {
        f(self);
        match self {
            Expr::Negate(inner) | Expr::Yoy(inner) | Expr::Ytd(inner) => inner.visit(f),
            Expr::Binary { left, right, .. } => {
                left.visit(f);
                right.visit(f);
            }
            _ => {}
        }
    }
}

impl fmt::Display for Expr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Expr::Number(value) => write!(f, "{value}"),
            Expr::Negate(inner) => write!(f, "(-{inner})"),
            Expr::Binary { op, left, right } => write!(f, "({left} {} {right})", op.symbol()),
            Expr::Sum(selector) => write!(f, "sum({selector})"),
            Expr::Count(matchers) if matchers.is_empty() => write!(f, "count(projects)"),
            Expr::Count(matchers) => write!(f, "count(projects{{{}}})", display_matchers(matchers)),
            Expr::Yoy(inner) => write!(f, "yoy({inner})"),
            Expr::Ytd(inner) => write!(f, "ytd({inner})"),
            Expr::Hhi(selector, by) => write!(f, "hhi({selector} by {})", by.name()),
            Expr::Cv(selector, by) => write!(f, "cv({selector} by {})", by.name()),
            Expr::Attain(id) => write!(f, "attain({id})"),
            Expr::Months => write!(f, "months()"),
        }
    }
}
