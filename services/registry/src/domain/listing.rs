//! Ordering and pagination of List calls: `order_by` parsing and opaque
//! keyset page tokens that stay valid while items are added or removed.
//!
//! A token records the sort key of the last item returned and a hash of the
//! query it belongs to, so a token cannot be replayed against another
//! filter or order.

use std::cmp::Ordering;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use jilin_domain::quoted;

use super::project::Project;

pub const DEFAULT_PAGE_SIZE: usize = 50;
pub const MAX_PAGE_SIZE: usize = 1000;

/// A value of a sort key.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub enum SortValue {
    Number(i64),
    Text(String),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OrderField {
    Name,
    DisplayName,
    CreateTime,
    UpdateTime,
    PlannedInvestment,
    PlannedStart,
    PlannedEnd,
}

const ORDER_FIELDS: [(&str, OrderField); 7] = [
    ("name", OrderField::Name),
    ("display_name", OrderField::DisplayName),
    ("create_time", OrderField::CreateTime),
    ("update_time", OrderField::UpdateTime),
    ("planned_investment_yuan", OrderField::PlannedInvestment),
    ("planned_start_date", OrderField::PlannedStart),
    ("planned_end_date", OrderField::PlannedEnd),
];

/// Characters of an `order_by`, at most (every field, once each, fits).
pub const MAX_ORDER_BY_LENGTH: usize = 512;

/// Characters of a page token, at most: the longest this service makes
/// (every order field once, each a display name of 200 characters) fits.
pub const MAX_PAGE_TOKEN_LENGTH: usize = 8192;

/// A parsed `order_by`: fields with their direction (true = descending).
#[derive(Clone, Debug, PartialEq)]
pub struct OrderBy(Vec<(OrderField, bool)>);

impl OrderBy {
    /// Parses `field [desc|asc], ...`; empty means by name.
    pub fn parse(text: &str) -> Result<OrderBy, String> {
        let length = text.chars().count();
        if length > MAX_ORDER_BY_LENGTH {
            return Err(format!(
                "{length} characters long; at most {MAX_ORDER_BY_LENGTH} are accepted"
            ));
        }
        let mut fields = Vec::new();
        for part in text
            .split(',')
            .map(str::trim)
            .filter(|part| !part.is_empty())
        {
            let words: Vec<_> = part.split_whitespace().collect();
            let (name, descending) = match words.as_slice() {
                [name] => (*name, false),
                [name, "desc"] => (*name, true),
                [name, "asc"] => (*name, false),
                _ => {
                    return Err(format!(
                        "`{}`: expected `field` or `field desc`",
                        quoted(part)
                    ));
                }
            };
            let field = ORDER_FIELDS
                .iter()
                .find(|(known, _)| *known == name)
                .map(|(_, field)| *field)
                .ok_or_else(|| {
                    let known: Vec<_> = ORDER_FIELDS.iter().map(|(n, _)| *n).collect();
                    format!(
                        "cannot order by `{}`; one of {}",
                        quoted(name),
                        known.join(", ")
                    )
                })?;
            if fields.iter().any(|(named, _)| *named == field) {
                return Err(format!("`{name}` is named twice"));
            }
            fields.push((field, descending));
        }
        Ok(OrderBy(fields))
    }

    /// Whether this order is by id (name) ascending only, the order of
    /// [`ProjectIndex::page`](super::index::ProjectIndex::page).
    pub fn is_by_name(&self) -> bool {
        self.0
            .iter()
            .all(|(field, descending)| *field == OrderField::Name && !descending)
    }

    /// The sort key of a project: the ordered fields, then its id.
    pub fn key(&self, project: &Project) -> Vec<SortValue> {
        let mut key: Vec<SortValue> = self
            .0
            .iter()
            .map(|(field, _)| match field {
                OrderField::Name => SortValue::Text(project.id.clone()),
                OrderField::DisplayName => SortValue::Text(project.display_name.clone()),
                OrderField::CreateTime => {
                    SortValue::Number(project.create_time.unix_timestamp_nanos() as i64)
                }
                OrderField::UpdateTime => {
                    SortValue::Number(project.update_time.unix_timestamp_nanos() as i64)
                }
                OrderField::PlannedInvestment => SortValue::Number(project.planned_investment_yuan),
                OrderField::PlannedStart => SortValue::Text(project.planned_start_date.to_string()),
                OrderField::PlannedEnd => SortValue::Text(project.planned_end_date.to_string()),
            })
            .collect();
        key.push(SortValue::Text(project.id.clone()));
        key
    }

    fn compare(&self, a: &[SortValue], b: &[SortValue]) -> Ordering {
        for (index, (left, right)) in a.iter().zip(b).enumerate() {
            let descending = self.0.get(index).is_some_and(|(_, desc)| *desc);
            let ordering = if descending {
                right.cmp(left)
            } else {
                left.cmp(right)
            };
            if ordering != Ordering::Equal {
                return ordering;
            }
        }
        a.len().cmp(&b.len())
    }
}

/// Resolves a requested page size: 0 means the default, more than the
/// maximum is coerced down; negative is an error.
pub fn page_size(requested: i32) -> Result<usize, String> {
    match requested {
        n if n < 0 => Err("must not be negative".into()),
        0 => Ok(DEFAULT_PAGE_SIZE),
        n => Ok((n as usize).min(MAX_PAGE_SIZE)),
    }
}

#[derive(Serialize, Deserialize)]
struct PageToken {
    /// Hash of the query the token belongs to.
    query: String,
    /// Sort key of the last item returned.
    after: Vec<SortValue>,
}

/// A stable fingerprint of the parts of a request that define the result
/// set and its order.
pub fn query_fingerprint(parts: &[&str]) -> String {
    let mut hasher = Sha256::new();
    for part in parts {
        hasher.update(part.as_bytes());
        hasher.update([0]);
    }
    hasher.finalize()[..8]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Encodes a token that resumes after `after` for `query`: the JSON of a
/// [`PageToken`], built as a value so that encoding cannot fail.
pub fn encode_token(query: &str, after: Vec<SortValue>) -> String {
    use serde_json::{Map, Value};
    let tagged = |tag: &str, value: Value| Value::Object(Map::from_iter([(tag.to_owned(), value)]));
    let after = after
        .into_iter()
        .map(|value| match value {
            SortValue::Number(number) => tagged("Number", Value::from(number)),
            SortValue::Text(text) => tagged("Text", Value::from(text)),
        })
        .collect();
    let token = Map::from_iter([
        ("query".to_owned(), Value::from(query)),
        ("after".to_owned(), Value::Array(after)),
    ]);
    URL_SAFE_NO_PAD.encode(Value::Object(token).to_string())
}

/// Decodes a token, checking it belongs to `query`.
pub fn decode_token(text: &str, query: &str) -> Result<Option<Vec<SortValue>>, String> {
    if text.is_empty() {
        return Ok(None);
    }
    if text.len() > MAX_PAGE_TOKEN_LENGTH {
        return Err(format!(
            "not a page token returned by this service (those are at most {MAX_PAGE_TOKEN_LENGTH} characters)"
        ));
    }
    let token: PageToken = URL_SAFE_NO_PAD
        .decode(text)
        .ok()
        .and_then(|bytes| serde_json::from_slice(&bytes).ok())
        .ok_or("not a page token returned by this service")?;
    if token.query != query {
        return Err("the page token belongs to a different filter or order_by".into());
    }
    Ok(Some(token.after))
}

/// One page of a project listing.
pub struct Page {
    pub projects: Vec<Project>,
    pub next_page_token: String,
    pub total_size: usize,
}

/// The id a page in name order resumes after: the last value of the
/// token's sort key (an order by name ends with the id).
pub fn after_name(after: Option<&[SortValue]>) -> Option<&str> {
    match after.and_then(<[SortValue]>::last) {
        Some(SortValue::Text(id)) => Some(id),
        _ => None,
    }
}

/// Orders the matching projects and cuts the page after `after`.
pub fn paginate(
    mut projects: Vec<Project>,
    order: &OrderBy,
    query: &str,
    after: Option<Vec<SortValue>>,
    size: usize,
) -> Page {
    let total_size = projects.len();
    let mut keyed: Vec<_> = projects
        .drain(..)
        .map(|project| (order.key(&project), project))
        .collect();
    keyed.sort_by(|(a, _), (b, _)| order.compare(a, b));
    let start = after.map_or(0, |after| {
        keyed.partition_point(|(key, _)| order.compare(key, &after) != Ordering::Greater)
    });
    let mut page: Vec<_> = keyed.into_iter().skip(start).take(size + 1).collect();
    let more = page.len() > size;
    page.truncate(size);
    let next_page_token = match page.last() {
        Some((last, _)) if more => encode_token(query, last.clone()),
        _ => String::new(),
    };
    Page {
        projects: page.into_iter().map(|(_, project)| project).collect(),
        next_page_token,
        total_size,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::project::{self, ProjectDraft};
    use time::macros::datetime;

    fn project(id: &str, investment: i64) -> Project {
        let draft = ProjectDraft {
            display_name: id.to_uppercase(),
            sector: "automobile".into(),
            region_code: "220100".into(),
            agency: "a".into(),
            planned_investment_yuan: investment,
            planned_start_date: "2025-01-01".into(),
            planned_end_date: "2026-01-01".into(),
            ..Default::default()
        };
        project::create(id.into(), &draft, datetime!(2026-01-01 0:00 UTC)).unwrap()
    }

    fn all_pages(projects: &[Project], order: &str, size: usize) -> Vec<String> {
        let order_by = OrderBy::parse(order).unwrap();
        let query = query_fingerprint(&["", order]);
        let mut token = String::new();
        let mut ids = Vec::new();
        loop {
            let after = decode_token(&token, &query).unwrap();
            let page = paginate(projects.to_vec(), &order_by, &query, after, size);
            ids.extend(page.projects.iter().map(|p| p.id.clone()));
            if page.next_page_token.is_empty() {
                return ids;
            }
            token = page.next_page_token;
        }
    }

    #[test]
    fn the_longest_token_made_is_accepted_and_longer_input_refused() {
        let order: Vec<_> = ORDER_FIELDS.iter().map(|(name, _)| *name).collect();
        let order = order.join(" desc, ");
        let order_by = OrderBy::parse(&order).unwrap();
        let query = query_fingerprint(&["", &order]);
        let mut long = project("x", 1);
        long.display_name = "吉".repeat(200);
        let token = encode_token(&query, order_by.key(&long));
        assert!(token.len() <= MAX_PAGE_TOKEN_LENGTH, "{}", token.len());
        assert!(decode_token(&token, &query).unwrap().is_some());

        let too_long = "A".repeat(MAX_PAGE_TOKEN_LENGTH + 1);
        assert!(decode_token(&too_long, &query).is_err());
        let err = OrderBy::parse(&"display_name,".repeat(100)).unwrap_err();
        assert!(err.contains("at most 512"), "{err}");
        let err = OrderBy::parse("display_name, display_name desc").unwrap_err();
        assert!(err.contains("named twice"), "{err}");
        let err = OrderBy::parse(&"x".repeat(500)).unwrap_err();
        assert!(err.len() < 400, "{err}");
    }

    #[test]
    fn pages_walk_every_item_once_in_order() {
        let projects = vec![
            project("c", 5),
            project("a", 7),
            project("b", 5),
            project("d", 1),
        ];
        assert_eq!(all_pages(&projects, "", 3), ["a", "b", "c", "d"]);
        assert_eq!(
            all_pages(&projects, "planned_investment_yuan desc", 1),
            ["a", "b", "c", "d"]
        );
        assert_eq!(
            all_pages(&projects, "planned_investment_yuan, name desc", 2),
            ["d", "c", "b", "a"]
        );
    }

    #[test]
    fn a_page_token_survives_an_insert_before_it() {
        let mut projects = vec![project("b", 1), project("d", 1), project("f", 1)];
        let order = OrderBy::parse("").unwrap();
        let query = query_fingerprint(&["", ""]);
        let first = paginate(projects.clone(), &order, &query, None, 2);
        projects.push(project("a", 1));
        let after = decode_token(&first.next_page_token, &query).unwrap();
        let second = paginate(projects, &order, &query, after, 2);
        let ids: Vec<_> = second.projects.iter().map(|p| p.id.as_str()).collect();
        assert_eq!(ids, ["f"]);
    }

    #[test]
    fn bad_order_and_foreign_tokens_are_refused() {
        assert!(
            OrderBy::parse("budget")
                .unwrap_err()
                .contains("cannot order by `budget`")
        );
        assert!(OrderBy::parse("name sideways").is_err());
        let token = encode_token("aaaa", vec![]);
        assert!(
            decode_token(&token, "bbbb")
                .unwrap_err()
                .contains("different filter")
        );
        assert!(decode_token("garbage!", "bbbb").is_err());
        assert_eq!(page_size(0), Ok(DEFAULT_PAGE_SIZE));
        assert_eq!(page_size(5000), Ok(MAX_PAGE_SIZE));
        assert!(page_size(-1).is_err());
    }
}
