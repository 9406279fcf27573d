//! Hand-written scenarios for each statistic's numerator and denominator, driven through the
//! real command path and log, projected and queried.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

use gridcase_bus::*;
use gridcase_domain::*;
use gridcase_projections::*;

const CSV: &str = "code,name,level,parent\n330800,衢州市,city,33\n330802,柯城区,county,330800\n\
330802005,新新街道,township,330802\n330802005001,金桂社区,village,330802005\n\
330802005002,荷花社区,village,330802005\n";

const G1: &str = "330802005001001";
const G2: &str = "330802005002001";

fn code(s: &str) -> RegionCode {
    s.parse().unwrap()
}

fn regions() -> Arc<RegionTree> {
    let mut t = gridcase_regions::read_divisions(CSV.as_bytes()).unwrap();
    t.add_grid(code(G1), None).unwrap();
    t.add_grid(code(G2), None).unwrap();
    Arc::new(t)
}

fn actor(id: &str, role: Role, scope: Scope) -> Actor {
    Actor::new(ActorId::new(id).unwrap(), role, scope).unwrap()
}
fn gw(grid: &str) -> Actor {
    actor(
        &format!("gw-{grid}"),
        Role::GridWorker,
        Scope::Subtree(code(grid)),
    )
}
fn staff(unit: &str) -> Actor {
    actor(
        &format!("staff-{unit}"),
        Role::UnitStaff,
        Scope::Subtree(code(unit)),
    )
}
fn mediator() -> Actor {
    actor(
        "med-1",
        Role::Mediator,
        Scope::Assignment {
            organization: code("330802005001"),
        },
    )
}

struct World {
    path: CommandPath<SledLog>,
    _dir: tempfile::TempDir,
    seq: std::cell::Cell<u32>,
    /// The simulated clock: each command is recorded one second after it happened.
    clock: Arc<AtomicI64>,
}

fn t(s: &str) -> Timestamp {
    Timestamp::parse(s).unwrap()
}

impl World {
    fn new() -> World {
        let dir = tempfile::tempdir().unwrap();
        let log = SledLog::open(dir.path().join("log")).unwrap();
        let clock = Arc::new(AtomicI64::new(0));
        let c = clock.clone();
        let path = CommandPath::new(log, regions(), Policy::default(), 100).with_clock(Arc::new(
            move || Timestamp::from_millis(c.load(Ordering::SeqCst)),
        ));
        World {
            path,
            _dir: dir,
            seq: 0.into(),
            clock,
        }
    }

    async fn run(&self, case: &str, actor: Actor, at: &str, action: Action) -> Executed {
        self.seq.set(self.seq.get() + 1);
        self.clock.store(t(at).as_millis() + 1000, Ordering::SeqCst);
        let sub = Submission {
            case_id: CaseId::new(case).unwrap(),
            command_id: CommandId::new(format!("k{}", self.seq.get())).unwrap(),
            expected: ExpectedVersion::Any,
            correlation_id: None,
            causation_id: None,
            command: Command {
                actor,
                occurred_at: t(at),
                action,
            },
            fingerprint: None,
            recorded_at: None,
        };
        self.path
            .execute(sub)
            .await
            .unwrap_or_else(|e| panic!("{case} at {at}: {e}"))
    }

    async fn report(&self, case: &str, grid: &str, at: &str, kind: CaseKind) {
        let action = Action::Report {
            kind,
            // A category that fits the kind (the decider checks).
            category: if kind == CaseKind::Dispute {
                Category::Neighbours
            } else {
                Category::Other
            },
            source: Source::GridPatrol,
            severity: Severity::Normal,
            location: code(grid),
            parties: vec![],
            summary: "纠纷".into(),
            happened_at: t(at),
        };
        self.run(case, gw(grid), at, action).await;
    }

    /// Report, register and assign at the grid.
    async fn open(&self, case: &str, grid: &str, at: &str) {
        self.report(case, grid, at, CaseKind::Dispute).await;
        self.run(case, gw(grid), at, Action::Register).await;
        self.run(
            case,
            gw(grid),
            at,
            Action::Assign {
                handler: gw(grid).id().clone(),
            },
        )
        .await;
    }

    async fn resolve(&self, case: &str, who: Actor, at: &str, method: ResolutionMethod) {
        self.run(
            case,
            who,
            at,
            Action::Resolve {
                method,
                summary: "已化解".into(),
            },
        )
        .await;
    }

    async fn project(&self) -> Projection {
        let p = Projection::in_memory(Calendar::default());
        p.catch_up(self.path.log(), |_, _| {}).await.unwrap();
        p
    }
}

fn query(region: &str, period: &str) -> StatsQuery {
    StatsQuery {
        region: code(region),
        period: Period::parse(period).unwrap(),
        breakdown: None,
        drill_down: false,
    }
}

fn at_level(c: &Cohort, l: Level) -> i64 {
    c.resolved_at[&l]
}

#[tokio::test]
async fn a_case_escalated_from_the_grid_and_resolved_in_the_village_counts_for_the_village_rate_only(
) {
    let w = World::new();
    w.open("up", G1, "2026-03-02T02:00:00Z").await;
    w.run(
        "up",
        gw(G1),
        "2026-03-02T03:00:00Z",
        Action::Escalate {
            to: None,
            reason: "需村调委会调解".into(),
        },
    )
    .await;
    let v = staff("330802005001");
    w.run(
        "up",
        v.clone(),
        "2026-03-02T04:00:00Z",
        Action::Assign {
            handler: v.id().clone(),
        },
    )
    .await;
    w.resolve(
        "up",
        v,
        "2026-03-03T04:00:00Z",
        ResolutionMethod::Explanation,
    )
    .await;
    // A second case resolved in the grid.
    w.open("here", G1, "2026-03-04T02:00:00Z").await;
    w.resolve(
        "here",
        gw(G1),
        "2026-03-04T05:00:00Z",
        ResolutionMethod::OnTheSpot,
    )
    .await;

    let p = w.project().await;
    let r = p.read().stats(&query("330802005", "2026-03"), &regions());
    let c = &r.figures.cohort;
    assert_eq!(c.registered, 2);
    assert_eq!(at_level(c, Level::Grid), 1);
    assert_eq!(at_level(c, Level::Village), 1);
    assert_eq!(c.grid_rate, Some(0.5));
    assert_eq!(c.village_rate, Some(1.0));
    assert_eq!(c.township_rate, Some(1.0));
    assert_eq!(r.figures.activity.escalated, 1);
    assert_eq!(r.figures.rates.escalation, Some(0.5));
    // Time to resolution is by resolving level: 26 hours in the village, 3 in the grid.
    let ttr = &r.time_to_resolution;
    assert!((ttr[&Level::Village].median_hours - 26.0).abs() < 26.0 * 0.06);
    assert!((ttr[&Level::Grid].median_hours - 3.0).abs() < 3.0 * 0.1);
}

#[tokio::test]
async fn a_referred_out_case_counts_in_no_rate_but_in_the_denominator() {
    let w = World::new();
    w.open("out", G1, "2026-03-02T02:00:00Z").await;
    w.run(
        "out",
        gw(G1),
        "2026-03-02T03:00:00Z",
        Action::Escalate {
            to: Some(code("330802005")),
            reason: "涉法".into(),
        },
    )
    .await;
    let s = staff("330802005");
    w.run(
        "out",
        s,
        "2026-03-02T05:00:00Z",
        Action::Refer {
            target: ReferralTarget::Court,
            body: "柯城区人民法院".into(),
            reason: "诉讼".into(),
        },
    )
    .await;
    w.open("ok", G1, "2026-03-05T02:00:00Z").await;
    w.resolve(
        "ok",
        gw(G1),
        "2026-03-05T03:00:00Z",
        ResolutionMethod::OnTheSpot,
    )
    .await;
    let p = w.project().await;
    let c = p
        .read()
        .stats(&query("330802", "2026-03"), &regions())
        .figures
        .cohort;
    assert_eq!(
        (c.registered, c.referred_out, c.resolved, c.open),
        (2, 1, 1, 0)
    );
    assert_eq!(c.grid_rate, Some(0.5));
    assert_eq!(c.township_rate, Some(0.5));
    assert_eq!(c.resolution_rate, Some(0.5));
}

#[tokio::test]
async fn a_reopened_and_re_resolved_case_counts_once_at_its_final_level() {
    let w = World::new();
    w.open("re", G1, "2026-03-02T02:00:00Z").await;
    w.resolve(
        "re",
        gw(G1),
        "2026-03-02T03:00:00Z",
        ResolutionMethod::OnTheSpot,
    )
    .await;
    w.run("re", gw(G1), "2026-03-02T04:00:00Z", Action::Close)
        .await;
    let v = staff("330802005001");
    w.run(
        "re",
        v.clone(),
        "2026-03-10T02:00:00Z",
        Action::Reopen {
            reason: ReopenReason::AgreementNotHonoured,
            note: String::new(),
        },
    )
    .await;
    // Reopened at the grid, escalated to the village and resolved there.
    w.run(
        "re",
        gw(G1),
        "2026-03-10T03:00:00Z",
        Action::Escalate {
            to: None,
            reason: "协议未履行".into(),
        },
    )
    .await;
    w.run(
        "re",
        v.clone(),
        "2026-03-10T04:00:00Z",
        Action::Assign {
            handler: v.id().clone(),
        },
    )
    .await;
    w.resolve(
        "re",
        v.clone(),
        "2026-03-11T04:00:00Z",
        ResolutionMethod::Explanation,
    )
    .await;

    let p = w.project().await;
    let r = p.read().stats(&query("330802005", "2026-03"), &regions());
    let c = &r.figures.cohort;
    assert_eq!(c.registered, 1);
    assert_eq!(
        (
            at_level(c, Level::Grid),
            at_level(c, Level::Village),
            c.resolved
        ),
        (0, 1, 1)
    );
    assert_eq!(
        r.figures.activity.resolved, 2,
        "activity counts both resolutions"
    );
    assert_eq!(r.figures.activity.reopened, 1);
    assert_eq!(r.figures.rates.reopen, Some(1.0));

    // As of a time between the reopening and the second resolution, it was open; before the
    // reopening it was resolved at the grid.
    let cohort_as_of = |t: Timestamp| {
        let log = w.path.log().clone();
        async move {
            as_of(&log, Calendar::default(), t)
                .await
                .unwrap()
                .stats(&query("330802005", "2026-03"), &regions())
                .figures
                .cohort
        }
    };
    let mid = cohort_as_of(t("2026-03-10T12:00:00Z")).await;
    assert_eq!((mid.open, mid.resolved), (1, 0));
    let before = cohort_as_of(t("2026-03-05T00:00:00Z")).await;
    assert_eq!((before.resolved, at_level(&before, Level::Grid)), (1, 1));
}

#[tokio::test]
async fn rejected_reports_are_not_registered_and_mediation_success_counts_conclusions() {
    let w = World::new();
    w.report("dup", G2, "2026-03-02T02:00:00Z", CaseKind::Dispute)
        .await;
    w.run(
        "dup",
        gw(G2),
        "2026-03-02T02:10:00Z",
        Action::Reject {
            reason: RejectReason::Duplicate,
            note: String::new(),
        },
    )
    .await;
    for (case, outcome) in [
        ("m1", MediationOutcome::Agreement),
        ("m2", MediationOutcome::Failure),
    ] {
        w.open(case, G1, "2026-03-03T02:00:00Z").await;
        w.run(
            case,
            gw(G1),
            "2026-03-03T03:00:00Z",
            Action::StartMediation {
                mediation_type: MediationType::People,
                mediator: mediator().id().clone(),
                organization: code("330802005001"),
            },
        )
        .await;
        w.run(
            case,
            mediator(),
            "2026-03-04T03:00:00Z",
            Action::ConcludeMediation {
                outcome,
                note: "结果".into(),
            },
        )
        .await;
    }
    w.resolve(
        "m1",
        gw(G1),
        "2026-03-04T05:00:00Z",
        ResolutionMethod::MediatedAgreement,
    )
    .await;
    let p = w.project().await;
    let r = p.read().stats(&query("330802005", "2026-03"), &regions());
    let f = &r.figures;
    assert_eq!(
        (
            f.cohort.registered,
            f.cohort.rejected,
            f.cohort.open,
            f.cohort.resolved
        ),
        (2, 1, 1, 1)
    );
    assert_eq!(f.activity.reported, 3);
    assert_eq!(f.activity.mediations_concluded, 2);
    assert_eq!(f.rates.mediation_success, Some(0.5));
    // Sub-region: the rejected report was in the other village.
    let v2 = p
        .read()
        .stats(&query("330802005002", "2026-03"), &regions())
        .figures
        .cohort;
    assert_eq!((v2.registered, v2.rejected), (0, 1));
    // Drill-down ranks the two villages.
    let mut q = query("330802005", "2026-03");
    q.drill_down = true;
    let kids = p.read().stats(&q, &regions()).children;
    assert_eq!(
        kids.iter().map(|k| (k.region, k.rank)).collect::<Vec<_>>(),
        vec![(code("330802005001"), 1), (code("330802005002"), 2)]
    );
}

#[tokio::test]
async fn registration_late_on_31_january_utc_counts_in_february_in_shanghai() {
    let w = World::new();
    w.report("tz", G1, "2026-01-31T17:00:00Z", CaseKind::Incident)
        .await;
    w.run("tz", gw(G1), "2026-01-31T17:30:00Z", Action::Register)
        .await;
    let p = w.project().await;
    let jan = p
        .read()
        .stats(&query("330802", "2026-01"), &regions())
        .figures;
    let feb = p
        .read()
        .stats(&query("330802", "2026-02"), &regions())
        .figures;
    assert_eq!((jan.cohort.registered, feb.cohort.registered), (0, 1));
    assert_eq!(
        (jan.activity.reported, feb.activity.reported),
        (0, 1),
        "17:00Z is 01:00 on 1 Feb in Shanghai"
    );
    // Custom ranges and days are answered from day buckets.
    let day = p
        .read()
        .stats(&query("330802", "2026-02-01"), &regions())
        .figures;
    assert_eq!(day.cohort.registered, 1);
}

#[tokio::test]
async fn queues_list_open_cases_by_deadline_and_as_of_sees_the_past() {
    let w = World::new();
    w.open("late", G1, "2026-03-01T02:00:00Z").await;
    w.open("soon", G1, "2026-03-03T02:00:00Z").await;
    w.open("elsewhere", G2, "2026-03-01T02:00:00Z").await;
    let p = w.project().await;
    {
        let view = p.read();
        let q: Vec<_> = view
            .queue(code(G1))
            .map(|e| e.state.id.clone().unwrap().to_string())
            .collect();
        assert_eq!(q, vec!["late", "soon"]);
        let now = t("2026-03-05T00:00:00Z");
        let overdue: Vec<bool> = view
            .queue(code(G1))
            .map(|e| e.state.is_overdue(now))
            .collect();
        assert_eq!(overdue, vec![true, false]);
        assert_eq!(view.open_in_subtree(code("330802005")).count(), 3);
        assert_eq!(view.open_in_subtree(code("330802005002")).count(), 1);
    }
    // Nothing was recorded before the epoch: as of then, the projection is empty.
    let empty = as_of(w.path.log(), Calendar::default(), Timestamp::EPOCH)
        .await
        .unwrap();
    assert_eq!(empty.case_count(), 0);
}
