//! Every built-in rule judged by the running service from real events:
//! the values just under, at and just over each band's threshold, `for`
//! periods, and the life cycle (firing, escalation, acknowledgement,
//! resolution, a second episode) with the notifications it publishes.

mod common;

use common::*;
use jilin_proto::registry::v1 as registry;
use jilin_proto::risk::v1 as pb;
use pb::Severity::{Critical, Warning};
use pb::alert::State::{Firing, Pending, Resolved};
use registry::project::Status;

/// A project case: its events, and the severity its rule must reach.
struct Case {
    rule: &'static str,
    project: registry::Project,
    reports: Vec<registry::ProgressReport>,
    expected: Option<pb::Severity>,
}

fn case(
    rule: &'static str,
    id: &str,
    status: Status,
    change: impl FnOnce(&mut registry::Project),
    reports: Vec<registry::ProgressReport>,
    expected: Option<pb::Severity>,
) -> Case {
    let mut project = project(id, status);
    change(&mut project);
    Case {
        rule,
        project,
        reports,
        expected,
    }
}

fn milestone(due: &str) -> registry::Milestone {
    registry::Milestone {
        title: format!("due {due}"),
        due_date: due.into(),
        status: registry::milestone::Status::Scheduled.into(),
        met_date: String::new(),
    }
}

/// On 2026-07-01 half of the default project's span has elapsed, so its
/// schedule lag is 50 − progress points and its investment lag compares
/// with 500,000 yuan.
fn cases() -> Vec<Case> {
    use Status::{Approved, Suspended, UnderConstruction};
    let keep = |_: &mut registry::Project| {};
    let building = |id: &str, investment: i64, progress: i32, expected| {
        (id.to_owned(), investment, progress, expected)
    };
    let mut cases = Vec::new();
    for (id, investment, progress, expected) in [
        building("lag-09", 500_000, 41, None),
        building("lag-10", 500_000, 40, Some(Warning)),
        building("lag-11", 500_000, 39, Some(Warning)),
        building("lag-30", 500_000, 20, Some(Warning)),
        building("lag-31", 500_000, 19, Some(Critical)),
    ] {
        let reports = vec![report("2026-06", investment, progress)];
        cases.push(case(
            "schedule_lag",
            &id,
            UnderConstruction,
            keep,
            reports,
            expected,
        ));
    }
    for (id, investment, expected) in [
        ("inv-400001", 400_001, None),
        ("inv-400000", 400_000, Some(Warning)),
        ("inv-399999", 399_999, Some(Warning)),
        ("inv-250001", 250_001, Some(Warning)),
        ("inv-250000", 250_000, Some(Critical)),
        ("inv-249999", 249_999, Some(Critical)),
    ] {
        let reports = vec![report("2026-06", investment, 50)];
        cases.push(case(
            "investment_lag",
            id,
            UnderConstruction,
            keep,
            reports,
            expected,
        ));
    }
    for (id, investment, expected) in [
        ("cost-1099999", 1_099_999, None),
        ("cost-1100000", 1_100_000, Some(Warning)),
        ("cost-1100001", 1_100_001, Some(Warning)),
        ("cost-1299999", 1_299_999, Some(Warning)),
        ("cost-1300000", 1_300_000, Some(Critical)),
        ("cost-1300001", 1_300_001, Some(Critical)),
    ] {
        let reports = vec![report("2026-06", investment, 50)];
        cases.push(case(
            "cost_overrun",
            id,
            UnderConstruction,
            keep,
            reports,
            expected,
        ));
    }
    for (id, start, expected) in [
        ("start-0602", "2026-06-02", None),
        ("start-0601", "2026-06-01", Some(Warning)),
        ("start-0531", "2026-05-31", Some(Warning)),
        ("start-0402", "2026-04-02", Some(Warning)),
        ("start-0401", "2026-04-01", Some(Critical)),
        ("start-0331", "2026-03-31", Some(Critical)),
    ] {
        let planned = |p: &mut registry::Project| {
            p.planned_start_date = start.into();
            p.planned_end_date = "2027-12-31".into();
        };
        cases.push(case("not_started", id, Approved, planned, vec![], expected));
    }
    for (id, last, expected) in [
        ("stall-05", "2026-05", None),
        ("stall-04", "2026-04", Some(Warning)),
        ("stall-03", "2026-03", Some(Critical)),
        ("stall-02", "2026-02", Some(Critical)),
    ] {
        let early = |p: &mut registry::Project| {
            p.planned_start_date = "2026-01-01".into();
            p.planned_end_date = "2027-12-31".into();
        };
        let reports = vec![report(last, 10_000, 10)];
        cases.push(case(
            "stalled_reporting",
            id,
            UnderConstruction,
            early,
            reports,
            expected,
        ));
    }
    for (id, due, expected) in [
        ("due-0701", "2026-07-01", None),
        ("due-0630", "2026-06-30", Some(Warning)),
        ("due-0403", "2026-04-03", Some(Warning)),
        ("due-0402", "2026-04-02", Some(Critical)),
        ("due-0401", "2026-04-01", Some(Critical)),
    ] {
        let with_milestone = |p: &mut registry::Project| p.milestones = vec![milestone(due)];
        let reports = vec![report("2026-06", 500_000, 50)];
        cases.push(case(
            "overdue_milestone",
            id,
            UnderConstruction,
            with_milestone,
            reports,
            expected,
        ));
    }
    cases.push(case(
        "suspended",
        "paused",
        Suspended,
        keep,
        vec![],
        Some(Warning),
    ));
    cases.push(case("suspended", "approved", Approved, keep, vec![], None));
    cases
}

#[tokio::test]
async fn project_rules_judge_each_band_at_its_boundaries() {
    let mut system = TestRisk::spawn().await;
    let cases = cases();
    let mut events = Vec::new();
    for case in &cases {
        // A report carries its project: one event, one judgement.
        if case.reports.is_empty() {
            events.push(project_event(&case.project));
        }
        for report in &case.reports {
            events.push(report_event(&case.project, report));
        }
    }
    system.registry(&events, true).await;
    let mut wrong = Vec::new();
    for case in &cases {
        let alert = system.state(case.rule, &case.project.name).await;
        let severity = alert.map(|(state, severity)| {
            assert_eq!(state, Firing, "{} {}", case.rule, case.project.name);
            severity
        });
        if severity != case.expected {
            wrong.push(format!(
                "{} {}: expected {:?}, got {:?}",
                case.rule, case.project.name, case.expected, severity
            ));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));

    // The alert explains itself: value, threshold, labels, summary.
    let alert = system
        .alert("schedule_lag", "projects/lag-31")
        .await
        .unwrap();
    assert_eq!(alert.value, Some(31.0));
    assert_eq!(alert.threshold, Some(30.0));
    assert_eq!(alert.rule_revision, 1);
    assert_eq!(alert.labels["region"], "220100", "the prefecture of 220102");
    assert_eq!(alert.labels["sector"], "automobile");
    assert_eq!(alert.labels["group"], "pillar");
    assert_eq!(alert.labels["agency"], "jilin-drc");
    assert_eq!(
        alert.summary,
        "projects/lag-31 is 31.0 points behind its time-elapsed schedule"
    );

    // Every firing alert was published once, on its severity's subject.
    let subjects = system.risk_subjects().await;
    let critical = subjects
        .iter()
        .filter(|s| *s == "jilin.risk.alert.firing.critical")
        .count();
    let warning = subjects
        .iter()
        .filter(|s| *s == "jilin.risk.alert.firing.warning")
        .count();
    let mut firing = system
        .client
        .list_alerts(pb::ListAlertsRequest {
            page_size: 500,
            filter: "state = FIRING AND severity = CRITICAL".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .alerts
        .len();
    assert_eq!(critical, firing);
    firing = system
        .client
        .list_alerts(pb::ListAlertsRequest {
            page_size: 500,
            filter: "state = FIRING AND severity = WARNING".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .alerts
        .len();
    assert_eq!(warning, firing);
    assert_eq!(subjects.len(), critical + warning);
}

#[tokio::test]
async fn time_based_rules_follow_the_clock() {
    let mut system = TestRisk::spawn().await;
    let mut waiting = project("waiting", Status::Approved);
    waiting.planned_start_date = "2026-06-15".into();
    waiting.planned_end_date = "2027-06-15".into();
    system.registry(&[project_event(&waiting)], true).await;
    assert_eq!(system.state("not_started", "projects/waiting").await, None);
    system.set_clock("2026-07-15");
    system.running().evaluate_now().await.unwrap();
    assert_eq!(
        system.state("not_started", "projects/waiting").await,
        Some((Firing, Warning))
    );
    system.set_clock("2026-09-15");
    system.running().evaluate_now().await.unwrap();
    assert_eq!(
        system.state("not_started", "projects/waiting").await,
        Some((Firing, Critical))
    );
    // Starting construction clears it.
    waiting.status = Status::UnderConstruction.into();
    waiting.revision = 2;
    system.registry(&[project_event(&waiting)], true).await;
    assert_eq!(
        system.state("not_started", "projects/waiting").await,
        Some((Resolved, Critical))
    );
    let not_started: Vec<_> = system
        .risk_events()
        .await
        .into_iter()
        .filter(|(_, change)| change.alert.as_ref().unwrap().rule == "rules/not_started")
        .map(|(subject, _)| subject)
        .collect();
    assert_eq!(
        not_started,
        [
            "jilin.risk.alert.firing.warning",
            "jilin.risk.alert.escalated.critical",
            "jilin.risk.alert.firing.critical",
            "jilin.risk.alert.resolved.critical",
        ]
    );
}

#[tokio::test]
async fn an_alert_fires_escalates_is_acknowledged_resolves_and_fires_again() {
    let mut system = TestRisk::spawn().await;
    let site = project("site", Status::UnderConstruction);
    let subject = "projects/site";
    let mut revision = 0;
    let mut progress_report = |progress| {
        revision += 1;
        let mut report = report("2026-06", 500_000, progress);
        report.revision = revision;
        report_event(&site, &report)
    };
    system.registry(&[progress_report(45)], true).await;
    assert_eq!(
        system.state("schedule_lag", subject).await,
        None,
        "5 points"
    );

    system.registry(&[progress_report(35)], true).await;
    assert_eq!(
        system.state("schedule_lag", subject).await,
        Some((Firing, Warning))
    );
    // Without tokens (--insecure-no-auth) the actor header names the caller.
    let mut ack = tonic::Request::new(pb::AcknowledgeAlertRequest {
        name: "alerts/schedule_lag:projects:site".into(),
        comment: "site visit on Monday".into(),
        ..Default::default()
    });
    ack.metadata_mut()
        .insert("x-jilin-actor", "li.wei".parse().unwrap());
    let acked = system
        .client
        .acknowledge_alert(ack)
        .await
        .unwrap()
        .into_inner();
    assert_eq!(acked.acknowledged_by, "li.wei");
    let last = acked.history.last().unwrap();
    assert_eq!(last.change(), pb::alert_transition::Change::Acknowledged);
    assert_eq!(last.note, "li.wei: site visit on Monday");

    system.registry(&[progress_report(15)], true).await;
    let alert = system.alert("schedule_lag", subject).await.unwrap();
    assert_eq!((alert.state(), alert.severity()), (Firing, Critical));
    assert_eq!(
        alert.acknowledged_by, "",
        "an escalation clears the acknowledgement"
    );

    system.registry(&[progress_report(50)], true).await;
    let alert = system.alert("schedule_lag", subject).await.unwrap();
    assert_eq!(alert.state(), Resolved);
    assert!(alert.end_time.is_some());
    assert_eq!(
        alert.summary, "projects/site is 35.0 points behind its time-elapsed schedule",
        "a resolved alert tells its last breach"
    );

    system.registry(&[progress_report(20)], true).await;
    let alert = system.alert("schedule_lag", subject).await.unwrap();
    assert_eq!(
        (alert.state(), alert.severity(), alert.episode),
        (Firing, Warning, 2)
    );
    assert!(alert.end_time.is_none());
    use pb::alert_transition::Change as C;
    let history: Vec<_> = alert.history.iter().map(|t| t.change()).collect();
    assert_eq!(
        history,
        [
            C::Firing,
            C::Acknowledged,
            C::Escalated,
            C::Resolved,
            C::Firing
        ]
    );
    assert_eq!(
        system.risk_subjects().await,
        [
            "jilin.risk.alert.firing.warning",
            "jilin.risk.alert.acknowledged.warning",
            "jilin.risk.alert.escalated.critical",
            "jilin.risk.alert.firing.critical",
            "jilin.risk.alert.resolved.critical",
            "jilin.risk.alert.firing.warning",
        ]
    );
    // Only a firing alert can be acknowledged.
    let lag = system.alert("investment_lag", subject).await;
    assert!(lag.is_none());
    let resolved = system
        .client
        .acknowledge_alert(pb::AcknowledgeAlertRequest {
            name: "alerts/not_started:projects:site".into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(resolved.code(), Code::NotFound);
}

#[tokio::test]
async fn portfolio_rules_judge_indicator_values_over_periods() {
    let mut system = TestRisk::spawn().await;
    let decline = "indicators/output_growth";
    system
        .indicator_values(&[value("output_growth", "2026-01", -0.01, Some(6.0))])
        .await;
    assert_eq!(
        system.state("sustained_output_decline", decline).await,
        Some((Pending, Critical)),
        "one month of decline is not yet sustained"
    );
    assert!(
        system.risk_subjects().await.is_empty(),
        "pending is not notified"
    );
    system
        .indicator_values(&[value("output_growth", "2026-02", -0.5, Some(6.0))])
        .await;
    assert_eq!(
        system.state("sustained_output_decline", decline).await,
        Some((Firing, Critical))
    );
    system
        .indicator_values(&[value("output_growth", "2026-03", 0.0, Some(6.0))])
        .await;
    assert_eq!(
        system.state("sustained_output_decline", decline).await,
        Some((Resolved, Critical))
    );

    for (rule, indicator, under, at_or_over, target) in [
        (
            "sector_over_reliance",
            "sector_concentration",
            0.25,
            0.2501,
            Some(0.22),
        ),
        (
            "energy_intensity_over_target",
            "energy_intensity",
            1200.0,
            1200.01,
            Some(1200.0),
        ),
        (
            "investment_completion_behind",
            "investment_completion_rate",
            80.01,
            80.0,
            Some(100.0),
        ),
    ] {
        let subject = format!("indicators/{indicator}");
        system
            .indicator_values(&[value(indicator, "2026-04", under, target)])
            .await;
        assert_eq!(
            system.state(rule, &subject).await,
            None,
            "{rule} at {under}"
        );
        system
            .indicator_values(&[value(indicator, "2026-05", at_or_over, target)])
            .await;
        assert_eq!(
            system.state(rule, &subject).await,
            Some((Firing, Warning)),
            "{rule} at {at_or_over}"
        );
    }
    // A regional value does not move the province's alert.
    let mut regional = value("output_growth", "2026-06", -3.0, None);
    regional.group = "220100".into();
    regional.group_by = jilin_proto::indicators::v1::GroupBy::Region.into();
    system.indicator_values(&[regional]).await;
    assert_eq!(
        system.state("sustained_output_decline", decline).await,
        Some((Resolved, Critical))
    );

    // The current month (July) is still being reported: judged once it is over.
    let subject = "indicators/sector_concentration";
    system
        .indicator_values(&[value("sector_concentration", "2026-06", 0.2, None)])
        .await;
    assert_eq!(
        system.state("sector_over_reliance", subject).await,
        Some((Resolved, Warning))
    );
    system
        .indicator_values(&[value("sector_concentration", "2026-07", 0.4, None)])
        .await;
    assert_eq!(
        system.state("sector_over_reliance", subject).await,
        Some((Resolved, Warning)),
        "July is not over on 1 July"
    );
    system.set_clock("2026-08-01");
    system.running().evaluate_now().await.unwrap();
    assert_eq!(
        system.state("sector_over_reliance", subject).await,
        Some((Firing, Warning))
    );
}

#[tokio::test]
async fn indicator_rules_follow_the_stored_series_whatever_the_order() {
    let mut system = TestRisk::spawn().await;
    let subject = "indicators/output_growth";
    // Values published before June's reports were all in (stale), then the
    // settled ones, then a late revision of an older month. June comes
    // first: whether May arrives in the same consumer batch or the next,
    // the latest complete month stays June, judged once.
    system
        .indicator_values(&[
            value("output_growth", "2026-06", -100.0, None),
            value("output_growth", "2026-05", -100.0, None),
        ])
        .await;
    assert_eq!(
        system.state("sustained_output_decline", subject).await,
        Some((Pending, Critical)),
        "judged once, on the latest complete month"
    );
    system
        .indicator_values(&[value("output_growth", "2026-06", 4.0, None)])
        .await;
    assert_eq!(
        system.state("sustained_output_decline", subject).await,
        Some((Resolved, Critical)),
        "the settled value replaces the stale one"
    );
    system
        .indicator_values(&[value("output_growth", "2026-04", -3.0, None)])
        .await;
    assert_eq!(
        system.state("sustained_output_decline", subject).await,
        Some((Resolved, Critical)),
        "an older month does not move the latest"
    );
    assert!(
        system.risk_subjects().await.is_empty(),
        "nothing ever fired"
    );
}
