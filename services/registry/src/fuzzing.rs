//! Entry points for the fuzz targets in `fuzz/`: every parser of client
//! input and the validation of every request, callable without a server.
//! Whatever the input, each returns (an answer or violations); a panic or
//! a stack overflow is a bug the fuzzer reports.

use jilin_proto::if_decodes;
use jilin_proto::registry::v1 as pb;
use time::macros::datetime;

use crate::domain::filter::Filter;
use crate::domain::listing::{self, OrderBy};
use crate::request;

/// A filter and an `order_by` from the same text.
pub fn filter(text: &str) {
    let _ = Filter::parse(text);
    let _ = OrderBy::parse(text);
}

/// A page token, for a query it may or may not belong to.
pub fn page_token(text: &str) {
    let query = listing::query_fingerprint(&["projects", "", ""]);
    let _ = listing::decode_token(text, &query);
}

/// One request of the kind `kind` picks, decoded from `bytes` as a client
/// would send it, then validated.
pub fn request(kind: u8, bytes: &[u8]) {
    let now = datetime!(2026-06-15 08:00 UTC);
    match kind % 7 {
        0 => if_decodes(bytes, |r| drop(request::create_project(&r, now))),
        1 => if_decodes(bytes, |r| drop(request::update_project(&r))),
        2 => if_decodes(bytes, |r| drop(request::transition_project(&r))),
        3 => if_decodes(bytes, |r| drop(request::report_progress(&r, now))),
        4 => if_decodes(bytes, |r| drop(request::list_projects(&r))),
        5 => if_decodes(bytes, |r| drop(request::batch_report_progress(&r, now))),
        _ => if_decodes(bytes, |r: pb::ListProgressReportsRequest| {
            let _ = request::child_page(&r.parent, "parent", "reports", r.page_size, &r.page_token);
            let _ = request::report_name(&r.parent);
        }),
    }
}

/// Inputs that once broke a parser, and the fuzzers' finds: each must
/// return.
#[cfg(test)]
mod regressions {
    use super::*;

    fn run_text(text: &str) {
        filter(text);
        page_token(text);
    }

    #[test]
    fn known_hostile_inputs_return() {
        jilin_testkit::hostile::feed(run_text, request);
    }
}
