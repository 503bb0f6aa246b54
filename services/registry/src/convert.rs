//! Conversions between the contract's protobuf messages and the domain's
//! types. The only place that knows both.

use jilin_proto::registry::v1 as pb;
use time::Date;

use crate::domain::catalog::{Region, Sector};
use crate::domain::project::{MilestoneDraft, ProjectField};
use crate::domain::{
    Action, HistoryEntry, Measures, Milestone, MilestoneStatus, ProgressReport, Project,
    ProjectDraft, ReportDraft, Status,
};

pub use jilin_proto::timestamp;

fn date(date: Option<Date>) -> String {
    date.map(|date| date.to_string()).unwrap_or_default()
}

pub fn status_to_proto(status: Status) -> pb::project::Status {
    use pb::project::Status as P;
    match status {
        Status::Proposed => P::Proposed,
        Status::Approved => P::Approved,
        Status::UnderConstruction => P::UnderConstruction,
        Status::Operating => P::Operating,
        Status::Suspended => P::Suspended,
        Status::Cancelled => P::Cancelled,
    }
}

/// None for STATUS_UNSPECIFIED or an unknown number.
pub fn status_from_proto(value: i32) -> Option<Status> {
    use pb::project::Status as P;
    Some(match P::try_from(value).ok()? {
        P::Unspecified => return None,
        P::Proposed => Status::Proposed,
        P::Approved => Status::Approved,
        P::UnderConstruction => Status::UnderConstruction,
        P::Operating => Status::Operating,
        P::Suspended => Status::Suspended,
        P::Cancelled => Status::Cancelled,
    })
}

fn milestone_status_to_proto(status: MilestoneStatus) -> pb::milestone::Status {
    use pb::milestone::Status as P;
    match status {
        MilestoneStatus::Scheduled => P::Scheduled,
        MilestoneStatus::Met => P::Met,
        MilestoneStatus::NotMet => P::NotMet,
        MilestoneStatus::PartiallyMet => P::PartiallyMet,
    }
}

fn milestone_status_from_proto(value: i32) -> Option<MilestoneStatus> {
    use pb::milestone::Status as P;
    match P::try_from(value).ok()? {
        P::Unspecified => None,
        P::Scheduled => Some(MilestoneStatus::Scheduled),
        P::Met => Some(MilestoneStatus::Met),
        P::NotMet => Some(MilestoneStatus::NotMet),
        P::PartiallyMet => Some(MilestoneStatus::PartiallyMet),
    }
}

pub fn project_to_proto(project: &Project) -> pb::Project {
    pb::Project {
        name: project.name(),
        display_name: project.display_name.clone(),
        description: project.description.clone(),
        sector: project.sector.clone(),
        group: project.group().to_owned(),
        region_code: project.region_code.clone(),
        agency: project.agency.clone(),
        tags: project.tags.clone(),
        planned_investment_yuan: project.planned_investment_yuan,
        planned_start_date: project.planned_start_date.to_string(),
        planned_end_date: project.planned_end_date.to_string(),
        actual_start_date: date(project.actual_start_date),
        actual_end_date: date(project.actual_end_date),
        milestones: project.milestones.iter().map(milestone_to_proto).collect(),
        status: status_to_proto(project.status) as i32,
        suspended_from: project
            .suspended_from
            .map_or(0, |status| status_to_proto(status) as i32),
        etag: project.etag(),
        revision: project.revision,
        create_time: Some(timestamp(project.create_time)),
        update_time: Some(timestamp(project.update_time)),
    }
}

fn milestone_to_proto(milestone: &Milestone) -> pb::Milestone {
    pb::Milestone {
        title: milestone.title.clone(),
        due_date: milestone.due_date.to_string(),
        status: milestone_status_to_proto(milestone.status) as i32,
        met_date: date(milestone.met_date),
    }
}

/// The client-writable fields of a request's project.
pub fn draft_from_proto(project: &pb::Project) -> ProjectDraft {
    ProjectDraft {
        display_name: project.display_name.clone(),
        description: project.description.clone(),
        sector: project.sector.clone(),
        region_code: project.region_code.clone(),
        agency: project.agency.clone(),
        tags: project.tags.clone(),
        planned_investment_yuan: project.planned_investment_yuan,
        planned_start_date: project.planned_start_date.clone(),
        planned_end_date: project.planned_end_date.clone(),
        milestones: project
            .milestones
            .iter()
            .map(|milestone| MilestoneDraft {
                title: milestone.title.clone(),
                due_date: milestone.due_date.clone(),
                status: milestone_status_from_proto(milestone.status),
                met_date: milestone.met_date.clone(),
            })
            .collect(),
    }
}

/// The mutable fields that are set (non-default) in a request's project:
/// the implied update mask when none is given (AIP-134).
pub fn populated_fields(project: &pb::Project) -> Vec<ProjectField> {
    let set = [
        (ProjectField::DisplayName, !project.display_name.is_empty()),
        (ProjectField::Description, !project.description.is_empty()),
        (ProjectField::Sector, !project.sector.is_empty()),
        (ProjectField::RegionCode, !project.region_code.is_empty()),
        (ProjectField::Agency, !project.agency.is_empty()),
        (ProjectField::Tags, !project.tags.is_empty()),
        (
            ProjectField::PlannedInvestment,
            project.planned_investment_yuan != 0,
        ),
        (
            ProjectField::PlannedStartDate,
            !project.planned_start_date.is_empty(),
        ),
        (
            ProjectField::PlannedEndDate,
            !project.planned_end_date.is_empty(),
        ),
        (ProjectField::Milestones, !project.milestones.is_empty()),
    ];
    set.into_iter()
        .filter(|(_, is_set)| *is_set)
        .map(|(name, _)| name)
        .collect()
}

pub fn report_draft_from_proto(report: &pb::ProgressReport) -> ReportDraft {
    ReportDraft {
        period: report.period.clone(),
        measures: Measures {
            investment_completed_yuan: report.investment_completed_yuan,
            output_value_yuan: report.output_value_yuan,
            value_added_yuan: report.value_added_yuan,
            energy_kgce: report.energy_kgce,
            employment: report.employment,
            rd_spend_yuan: report.rd_spend_yuan,
            export_value_yuan: report.export_value_yuan,
        },
        physical_progress_percent: report.physical_progress_percent,
    }
}

pub fn report_to_proto(report: &ProgressReport) -> pb::ProgressReport {
    let measures = &report.measures;
    pb::ProgressReport {
        name: report.name(),
        period: report.period.to_string(),
        investment_completed_yuan: measures.investment_completed_yuan,
        output_value_yuan: measures.output_value_yuan,
        value_added_yuan: measures.value_added_yuan,
        energy_kgce: measures.energy_kgce,
        employment: measures.employment,
        rd_spend_yuan: measures.rd_spend_yuan,
        export_value_yuan: measures.export_value_yuan,
        physical_progress_percent: report.physical_progress_percent,
        revision: report.revision,
        submit_time: Some(timestamp(report.submit_time)),
    }
}

pub fn history_to_proto(project_id: &str, entry: &HistoryEntry) -> pb::HistoryEntry {
    use pb::history_entry::Action as P;
    let action = match entry.action {
        Action::Created => P::Created,
        Action::Updated => P::Updated,
        Action::Transitioned => P::Transitioned,
        Action::ReportSubmitted => P::ReportSubmitted,
        Action::ReportRevised => P::ReportRevised,
    };
    let status = |status: Option<Status>| status.map_or(0, |s| status_to_proto(s) as i32);
    pb::HistoryEntry {
        revision: entry.revision,
        time: Some(timestamp(entry.time)),
        actor: entry.actor.clone(),
        action: action as i32,
        reason: entry.reason.clone(),
        from_status: status(entry.from_status),
        to_status: status(entry.to_status),
        changed_fields: entry.changed_fields.clone(),
        report: entry
            .report
            .map(|(period, _)| crate::domain::report::report_name(project_id, period))
            .unwrap_or_default(),
        report_revision: entry.report.map_or(0, |(_, revision)| revision),
    }
}

pub fn sector_to_proto(sector: &Sector) -> pb::Sector {
    pb::Sector {
        code: sector.code.to_owned(),
        display_name: sector.name.to_owned(),
        display_name_zh: sector.name_zh.to_owned(),
        group: sector.group.to_owned(),
        industry_codes: sector
            .industry_codes
            .iter()
            .map(|c| c.to_string())
            .collect(),
    }
}

pub fn region_to_proto(region: &Region) -> pb::Region {
    pb::Region {
        code: region.code.to_owned(),
        display_name: region.name.to_owned(),
        display_name_zh: region.name_zh.to_owned(),
        changjitu: region.changjitu,
    }
}
