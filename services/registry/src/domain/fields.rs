//! Field-by-field validation of a project draft: every bad field of a
//! request is found and named, and the good ones parsed into typed values.

use time::Date;

use super::catalog;
use super::project::MilestoneDraft;
use super::project::{Milestone, MilestoneStatus, Project, ProjectDraft, ProjectField};
use super::violations::Violations;

const MAX_DISPLAY_NAME: usize = 200;
const MAX_DESCRIPTION: usize = 4000;
const MAX_AGENCY: usize = 100;
const MAX_TAGS: usize = 20;
const MAX_TAG: usize = 63;
const MAX_MILESTONES: usize = 100;

/// Checks every field named in `mask` and writes the values into `target`,
/// recording every violation (including planned end not after planned
/// start, judged on `target` so a mask may move one date only). `target`
/// is meant to be discarded when any violation was recorded.
pub(super) fn apply_fields(
    draft: &ProjectDraft,
    mask: &[ProjectField],
    prefix: &str,
    target: &mut Project,
    violations: &mut Violations,
) {
    let path = |field: &ProjectField| format!("{prefix}.{}", field.name());
    let mut dates_parsed = true;
    for field in mask {
        match field {
            ProjectField::DisplayName => {
                let name = draft.display_name.trim();
                violations.check(!name.is_empty(), path(field), "required");
                violations.check(
                    name.chars().count() <= MAX_DISPLAY_NAME,
                    path(field),
                    format!("at most {MAX_DISPLAY_NAME} characters"),
                );
                target.display_name = name.to_owned();
            }
            ProjectField::Description => {
                violations.check(
                    draft.description.chars().count() <= MAX_DESCRIPTION,
                    path(field),
                    format!("at most {MAX_DESCRIPTION} characters"),
                );
                target.description = draft.description.clone();
            }
            ProjectField::Sector => {
                if draft.sector.is_empty() {
                    violations.add(path(field), "required: a sector code from ListSectors");
                } else if catalog::sector_by_code(&draft.sector).is_none() {
                    violations.add(
                        path(field),
                        format!(
                            "unknown sector `{}`: use a code from ListSectors",
                            draft.sector
                        ),
                    );
                }
                target.sector = draft.sector.clone();
            }
            ProjectField::RegionCode => {
                if draft.region_code.is_empty() {
                    violations.add(path(field), "required: a GB/T 2260 code of a Jilin region");
                } else if catalog::prefecture_of(&draft.region_code).is_none() {
                    violations.add(
                        path(field),
                        format!(
                            "`{}` is not a GB/T 2260 code of a prefecture of Jilin or a county under one (see ListRegions)",
                            draft.region_code
                        ),
                    );
                }
                target.region_code = draft.region_code.clone();
            }
            ProjectField::Agency => {
                let agency = draft.agency.trim();
                violations.check(!agency.is_empty(), path(field), "required");
                violations.check(
                    agency.chars().count() <= MAX_AGENCY,
                    path(field),
                    format!("at most {MAX_AGENCY} characters"),
                );
                target.agency = agency.to_owned();
            }
            ProjectField::Tags => {
                target.tags = validate_tags(&draft.tags, &path(field), violations)
            }
            ProjectField::PlannedInvestment => {
                violations.check(
                    draft.planned_investment_yuan > 0,
                    path(field),
                    "must be greater than 0 (yuan)",
                );
                target.planned_investment_yuan = draft.planned_investment_yuan;
            }
            ProjectField::PlannedStartDate => {
                match parse_required_date(&draft.planned_start_date, &path(field), violations) {
                    Some(date) => target.planned_start_date = date,
                    None => dates_parsed = false,
                }
            }
            ProjectField::PlannedEndDate => {
                match parse_required_date(&draft.planned_end_date, &path(field), violations) {
                    Some(date) => target.planned_end_date = date,
                    None => dates_parsed = false,
                }
            }
            ProjectField::Milestones => {
                target.milestones = validate_milestones(&draft.milestones, &path(field), violations)
            }
        }
    }
    if dates_parsed && target.planned_end_date <= target.planned_start_date {
        let blamed = if mask.contains(&ProjectField::PlannedEndDate) {
            ProjectField::PlannedEndDate
        } else {
            ProjectField::PlannedStartDate
        };
        violations.add(
            path(&blamed),
            format!(
                "planned end {} must be after planned start {}",
                target.planned_end_date, target.planned_start_date
            ),
        );
    }
}

fn validate_tags(tags: &[String], path: &str, violations: &mut Violations) -> Vec<String> {
    violations.check(
        tags.len() <= MAX_TAGS,
        path,
        format!("at most {MAX_TAGS} tags"),
    );
    let mut seen = Vec::new();
    for (index, tag) in tags.iter().enumerate() {
        let valid = !tag.is_empty()
            && tag.len() <= MAX_TAG
            && tag
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        violations.check(
            valid,
            format!("{path}[{index}]"),
            format!("`{tag}`: tags are 1-{MAX_TAG} lower case letters, digits or `-`"),
        );
        if !seen.contains(tag) {
            seen.push(tag.clone());
        }
    }
    seen
}

fn validate_milestones(
    drafts: &[MilestoneDraft],
    path: &str,
    violations: &mut Violations,
) -> Vec<Milestone> {
    violations.check(
        drafts.len() <= MAX_MILESTONES,
        path,
        format!("at most {MAX_MILESTONES} milestones"),
    );
    let mut milestones = Vec::new();
    for (index, draft) in drafts.iter().enumerate() {
        let at = |field: &str| format!("{path}[{index}].{field}");
        let title = draft.title.trim();
        violations.check(!title.is_empty(), at("title"), "required");
        violations.check(
            title.chars().count() <= MAX_DISPLAY_NAME,
            at("title"),
            format!("at most {MAX_DISPLAY_NAME} characters"),
        );
        let due_date = parse_required_date(&draft.due_date, &at("due_date"), violations);
        let status = draft.status.unwrap_or(MilestoneStatus::Scheduled);
        let needs_met_date = matches!(status, MilestoneStatus::Met | MilestoneStatus::PartiallyMet);
        let met_date = if draft.met_date.is_empty() {
            violations.check(
                !needs_met_date,
                at("met_date"),
                "required when status is MET or PARTIALLY_MET",
            );
            None
        } else if !needs_met_date {
            violations.add(
                at("met_date"),
                "only allowed when status is MET or PARTIALLY_MET",
            );
            None
        } else {
            parse_required_date(&draft.met_date, &at("met_date"), violations)
        };
        if let Some(due_date) = due_date {
            milestones.push(Milestone {
                title: title.to_owned(),
                due_date,
                status,
                met_date,
            });
        }
    }
    milestones
}

/// Parses an ISO `YYYY-MM-DD` date.
pub fn parse_date(text: &str) -> Option<Date> {
    let format = time::macros::format_description!("[year]-[month]-[day]");
    (text.len() == 10)
        .then(|| Date::parse(text, &format).ok())
        .flatten()
}

fn parse_required_date(text: &str, path: &str, violations: &mut Violations) -> Option<Date> {
    if text.is_empty() {
        violations.add(path, "required: an ISO date YYYY-MM-DD");
        return None;
    }
    let date = parse_date(text);
    if date.is_none() {
        violations.add(path, format!("`{text}` is not a valid ISO date YYYY-MM-DD"));
    }
    date
}
