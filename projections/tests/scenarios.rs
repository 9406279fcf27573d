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
    StatsQuery::new(code(region), Period::parse(period).unwrap())
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

fn admin() -> Actor {
    actor("admin-1", Role::Admin, Scope::Subtree(code("330802")))
}

const V1: &str = "330802005001";
const V2: &str = "330802005002";
const TOWNSHIP: &str = "330802005";

/// A case reported in G1 (village 1) and handled by the township, resolved there on 3 March,
/// then corrected on 5 March to G2 (village 2) and to another category.
async fn corrected_case(w: &World) {
    w.open("moved", G1, "2026-03-02T02:00:00Z").await;
    w.run(
        "moved",
        gw(G1),
        "2026-03-02T03:00:00Z",
        Action::Escalate {
            to: Some(code(TOWNSHIP)),
            reason: "需街道处理".into(),
        },
    )
    .await;
    let s = staff(TOWNSHIP);
    w.run(
        "moved",
        s.clone(),
        "2026-03-02T04:00:00Z",
        Action::Assign {
            handler: s.id().clone(),
        },
    )
    .await;
    w.resolve(
        "moved",
        s,
        "2026-03-03T04:00:00Z",
        ResolutionMethod::Explanation,
    )
    .await;
    w.run(
        "moved",
        admin(),
        "2026-03-05T00:00:00Z",
        Action::CorrectDetails {
            kind: None,
            category: Some(Category::Contract),
            source: None,
            severity: None,
            location: Some(code(G2)),
            summary: None,
            reason: "登记时选错了网格和类别".into(),
        },
    )
    .await;
}

#[tokio::test]
async fn a_correction_moves_the_cases_activity_and_cohort_to_the_corrected_region_and_category() {
    let w = World::new();
    corrected_case(&w).await;
    let p = w.project().await;
    {
        let view = p.read();
        let march = |region: &str| view.stats(&query(region, "2026-03"), &regions());

        // Nothing stays in village 1: neither the cohort nor the events before the correction.
        let v1 = march(V1);
        assert_eq!(
            v1.figures,
            Figures::from_counts(&Counts::default()),
            "village 1 keeps nothing"
        );
        assert!(v1.time_to_resolution.is_empty());
        // Everything is in village 2: one case in one place of the report.
        let v2 = march(V2);
        let (c, a) = (&v2.figures.cohort, &v2.figures.activity);
        assert_eq!((c.registered, at_level(c, Level::Township)), (1, 1));
        assert_eq!(
            (a.reported, a.registered, a.escalated, a.resolved),
            (1, 1, 1, 1)
        );
        assert_eq!(v2.time_to_resolution[&Level::Township].count, 1);
        // Activity by handling unit stays with the units that acted: grid 1's worker
        // reported, registered and escalated; the township resolved.
        let a1 = &v1.unit_activity;
        assert_eq!(
            (a1.reported, a1.registered, a1.escalated, a1.resolved),
            (1, 1, 1, 0),
            "grid 1's work stays in village 1"
        );
        let u2 = &v2.unit_activity;
        assert_eq!((u2.reported, u2.escalated, u2.resolved), (0, 0, 0));
        let township = march(TOWNSHIP);
        assert_eq!(township.unit_activity.resolved, 1);
        assert_eq!(
            township.unit_activity.reported, 1,
            "its grids' work rolls up"
        );
        // The township's drill-down adds up: the case is under village 2 only.
        let mut q = query(TOWNSHIP, "2026-03");
        q.drill_down = true;
        q.breakdown = Some(Breakdown::Category);
        let tw = view.stats(&q, &regions());
        let reported: Vec<(String, i64)> = tw
            .children
            .iter()
            .map(|ch| (ch.region.to_string(), ch.figures.activity.reported))
            .collect();
        assert!(reported.contains(&(V1.to_owned(), 0)) && reported.contains(&(V2.to_owned(), 1)));
        // And under the corrected category only, activity included.
        let cats: Vec<(Dim, i64, i64)> = tw
            .breakdown
            .iter()
            .map(|(d, f)| (*d, f.cohort.registered, f.activity.escalated))
            .collect();
        assert_eq!(cats, vec![(Dim::Category(Category::Contract), 1, 1)]);
    }

    // As known at a time before the correction, the case was in village 1.
    let before = as_of(w.path.log(), Calendar::default(), t("2026-03-04T00:00:00Z"))
        .await
        .unwrap();
    let v1_then = before.stats(&query(V1, "2026-03"), &regions());
    assert_eq!(v1_then.figures.activity.reported, 1);
    assert_eq!(v1_then.figures.cohort.registered, 1);
    assert_eq!(
        before
            .stats(&query(V2, "2026-03"), &regions())
            .figures
            .activity
            .reported,
        0
    );
}

#[tokio::test]
async fn case_rates_count_cases_not_events() {
    let w = World::new();
    // "twice" goes up twice (grid → village → township); "stays" never moves.
    w.open("twice", G1, "2026-03-02T02:00:00Z").await;
    w.run(
        "twice",
        gw(G1),
        "2026-03-02T03:00:00Z",
        Action::Escalate {
            to: None,
            reason: "需村调委会调解".into(),
        },
    )
    .await;
    w.run(
        "twice",
        staff(V1),
        "2026-03-02T04:00:00Z",
        Action::Escalate {
            to: None,
            reason: "需街道调解".into(),
        },
    )
    .await;
    w.open("stays", G2, "2026-03-03T02:00:00Z").await;
    let p = w.project().await;
    let r = p.read().stats(&query(TOWNSHIP, "2026-03"), &regions());
    assert_eq!(r.figures.activity.escalated, 2, "two escalation events");
    assert_eq!(r.figures.cohort.escalated, 1, "one case escalated");
    assert_eq!(r.figures.cohort.registered, 2);
    assert_eq!(
        r.figures.rates.escalation,
        Some(0.5),
        "上交率 = cases escalated at least once / registered, not events (that would be 1.0)"
    );
    assert_eq!(r.figures.rates.extension, Some(0.0));
    assert_eq!(r.figures.rates.reopen, None, "nothing closed");

    // Ranked by escalation rate, lower first: village 2 (0%) before village 1 (100%); by the
    // default township rate both have none resolved, so the code decides.
    let mut q = query(TOWNSHIP, "2026-03");
    q.drill_down = true;
    q.rank_by = RankBy::Escalation;
    let ranked = p.read().stats(&q, &regions());
    assert_eq!(ranked.ranked_by, RankBy::Escalation);
    let order: Vec<(String, usize, Option<f64>)> = ranked
        .children
        .iter()
        .map(|c| (c.region.to_string(), c.rank, c.rank_value))
        .collect();
    assert_eq!(
        order,
        vec![(V2.to_owned(), 1, Some(0.0)), (V1.to_owned(), 2, Some(1.0))]
    );
}

#[tokio::test]
async fn overdue_open_cases_at_t_by_holding_unit_and_by_region() {
    let w = World::new();
    w.open("late", G1, "2026-03-01T02:00:00Z").await;
    w.open("up", G2, "2026-03-01T02:00:00Z").await;
    w.run(
        "up",
        gw(G2),
        "2026-03-01T03:00:00Z",
        Action::Escalate {
            to: Some(code(TOWNSHIP)),
            reason: "需街道处理".into(),
        },
    )
    .await;
    w.open("done", G1, "2026-03-01T02:00:00Z").await;
    w.resolve(
        "done",
        gw(G1),
        "2026-03-01T05:00:00Z",
        ResolutionMethod::OnTheSpot,
    )
    .await;
    let p = w.project().await;
    let view = p.read();
    let deadline = |id: &str| {
        view.case(&CaseId::new(id).unwrap())
            .unwrap()
            .state
            .deadline
            .unwrap()
    };
    let (late, up) = (deadline("late"), deadline("up"));
    assert!(late < up, "the grid's deadline comes before the township's");
    let overdue_at = |t: Timestamp, period: &str| {
        let mut q = query(TOWNSHIP, period);
        q.as_of = Some(t);
        q.drill_down = true;
        view.stats(&q, &regions())
    };
    // At the grid's deadline itself nothing is overdue yet; just after it, "late" is.
    assert_eq!(overdue_at(late, "2026-03").overdue.open, 0);
    let r = overdue_at(Timestamp::from_millis(late.as_millis() + 1), "2026-03");
    assert_eq!((r.overdue.open, r.overdue.registered_in_period), (1, 1));
    let holders: Vec<(String, i64)> = r
        .overdue
        .by_holder
        .iter()
        .map(|u| (u.code.to_string(), u.count))
        .collect();
    assert_eq!(holders, vec![(G1.to_owned(), 1)]);
    // After the township's deadline both are: one held by the grid, one by the township, and
    // by location one in each village.
    let r = overdue_at(Timestamp::from_millis(up.as_millis() + 1), "2026-04");
    assert_eq!(r.overdue.open, 2);
    assert_eq!(
        r.overdue.registered_in_period, 0,
        "registered in March, not April"
    );
    let holders: Vec<(String, i64)> = r
        .overdue
        .by_holder
        .iter()
        .map(|u| (u.code.to_string(), u.count))
        .collect();
    assert_eq!(holders, vec![(TOWNSHIP.to_owned(), 1), (G1.to_owned(), 1)]);
    let by_region: Vec<(String, i64)> = r
        .overdue
        .by_region
        .iter()
        .map(|u| (u.code.to_string(), u.count))
        .collect();
    assert_eq!(by_region, vec![(V1.to_owned(), 1), (V2.to_owned(), 1)]);
    assert!(r.children.iter().all(|c| c.overdue_open == 1));
    // A village's figure counts what is located in it, whoever holds it.
    let mut q = query(V2, "2026-03");
    q.as_of = Some(Timestamp::from_millis(up.as_millis() + 1));
    let v2 = view.stats(&q, &regions());
    assert_eq!(v2.overdue.open, 1);
    assert_eq!(v2.overdue.by_holder[0].code, code(TOWNSHIP));
}

#[tokio::test]
async fn year_on_year_series_and_drill_down_with_a_breakdown() {
    let w = World::new();
    w.open("last-year", G1, "2025-03-10T02:00:00Z").await;
    w.open("a", G1, "2026-03-02T02:00:00Z").await;
    w.open("b", G2, "2026-03-20T02:00:00Z").await;
    w.report("i", G2, "2026-04-02T02:00:00Z", CaseKind::Incident)
        .await;
    w.run("i", gw(G2), "2026-04-02T03:00:00Z", Action::Register)
        .await;
    let p = w.project().await;
    let view = p.read();

    let r = view.stats(&query(TOWNSHIP, "2026-03"), &regions());
    assert_eq!(r.year_on_year.previous_period, "2025-03-01..2025-04-01");
    assert_eq!(r.year_on_year.previous_registered, 1);
    assert_eq!(
        r.year_on_year.registered_change,
        Some(1.0),
        "+100% year on year"
    );
    assert_eq!(r.change.previous_period, "2026-02-01..2026-03-01");
    assert_eq!(r.change.registered_change, None, "nothing in February");

    // A series of months: one point each, adding up to the whole period.
    let whole = Period::parse("2026-01-01..2026-05-01").unwrap();
    let s = view.series(code(TOWNSHIP), &whole, Step::Month, Some(Breakdown::Kind));
    let regs: Vec<(String, i64)> = s
        .points
        .iter()
        .map(|pt| (pt.period.clone(), pt.figures.cohort.registered))
        .collect();
    assert_eq!(
        regs,
        vec![
            ("2026-01-01..2026-02-01".to_owned(), 0),
            ("2026-02-01..2026-03-01".to_owned(), 0),
            ("2026-03-01..2026-04-01".to_owned(), 2),
            ("2026-04-01..2026-05-01".to_owned(), 1),
        ]
    );
    let all = view.stats(&StatsQuery::new(code(TOWNSHIP), whole), &regions());
    let summed: i64 = s.points.iter().map(|pt| pt.figures.activity.reported).sum();
    assert_eq!(summed, all.figures.activity.reported);
    assert_eq!(
        s.points[3].breakdown,
        vec![(Dim::Kind(CaseKind::Incident), s.points[3].figures.clone())]
    );

    // Drill-down and breakdown together: each village broken down by kind.
    let mut q = query(TOWNSHIP, "2026-03-01..2026-05-01");
    q.drill_down = true;
    q.breakdown = Some(Breakdown::Kind);
    let r = view.stats(&q, &regions());
    let v2 = r.children.iter().find(|c| c.region == code(V2)).unwrap();
    let kinds: Vec<(Dim, i64)> = v2
        .breakdown
        .iter()
        .map(|(d, f)| (*d, f.cohort.registered))
        .collect();
    assert_eq!(
        kinds,
        vec![
            (Dim::Kind(CaseKind::Dispute), 1),
            (Dim::Kind(CaseKind::Incident), 1)
        ]
    );
}

#[test]
fn periods_split_into_steps_and_go_back_a_year() {
    let p = |s: &str| Period::parse(s).unwrap();
    let strs = |v: Vec<Period>| v.iter().map(|p| p.to_string()).collect::<Vec<_>>();
    // 1 March 2026 is a Sunday: the first ISO week is cut to it.
    assert_eq!(
        strs(p("2026-03-01..2026-03-12").split(Step::Week)),
        vec![
            "2026-03-01..2026-03-02",
            "2026-03-02..2026-03-09",
            "2026-03-09..2026-03-12"
        ]
    );
    assert_eq!(p("2026").split(Step::Month).len(), 12);
    assert_eq!(
        strs(p("2025-11-15..2026-04-01").split(Step::Quarter)),
        vec!["2025-11-15..2026-01-01", "2026-01-01..2026-04-01"]
    );
    assert_eq!(
        strs(p("2025-06-01..2027-01-01").split(Step::Year)),
        vec!["2025-06-01..2026-01-01", "2026-01-01..2027-01-01"]
    );
    assert_eq!(p("2026-03").split(Step::Day).len(), 31);
    assert_eq!(p("2026-Q1").year_before(), p("2025-Q1"));
    assert_eq!(p("2024-02-29").year_before(), p("2023-02-28"));
    // A week: the week 52 weeks before, Monday to Sunday (not the same dates, which would
    // run Saturday to Saturday).
    assert_eq!(p("2025-W05").year_before(), p("2024-W05"));
    assert_eq!(p("2025-W05").year_before().days(), 7);
    // Seven days not a week keep their dates.
    assert_eq!(
        p("2025-01-29..2025-02-05").year_before(),
        p("2024-01-29..2024-02-05")
    );
}

/// A report recorded before categories were checked against the kind (an incident filed under
/// a dispute category) still decodes, takes new commands and counts where it says: the rule
/// applies to new commands only.
#[tokio::test]
async fn an_old_report_with_a_category_outside_its_kind_still_counts() {
    let w = World::new();
    let case = CaseId::new("old-1").unwrap();
    let at = t("2026-03-02T02:00:00Z");
    let header = chain::CommitHeader {
        case_id: case.clone(),
        command_id: CommandId::new("old-report").unwrap(),
        occurred_at: at,
        recorded_at: at,
        actor: gw(G1),
        correlation_id: None,
        causation_id: None,
    };
    let reported: Event = event::CaseReported {
        kind: CaseKind::Incident,
        category: Category::Neighbours,
        source: Source::GridPatrol,
        severity: Severity::Normal,
        location: code(G1),
        received_by: code(G1),
        parties: vec![],
        summary: "楼道杂物".into(),
        happened_at: at,
    }
    .into();
    assert!(!Category::Neighbours.fits(CaseKind::Incident));
    let events = chain::seal(&header, chain::ChainHead::default(), &[reported]).unwrap();
    w.path
        .log()
        .append(Commit {
            case_id: case.clone(),
            partition: code("330802"),
            command_id: header.command_id.clone(),
            expected_version: 0,
            events,
            fingerprint: None,
        })
        .await
        .unwrap();
    // New commands on it are taken (the pair is not checked again).
    w.run("old-1", gw(G1), "2026-03-02T03:00:00Z", Action::Register)
        .await;
    let p = w.project().await;
    let mut q = query("330802005", "2026-03");
    q.breakdown = Some(Breakdown::Category);
    let r = p.read().stats(&q, &regions());
    assert_eq!(r.figures.cohort.registered, 1);
    assert_eq!(r.figures.activity.reported, 1);
    let cats: Vec<(Dim, i64)> = r
        .breakdown
        .iter()
        .map(|(d, f)| (*d, f.cohort.registered))
        .collect();
    assert_eq!(cats, vec![(Dim::Category(Category::Neighbours), 1)]);
    q.breakdown = Some(Breakdown::Kind);
    let r = p.read().stats(&q, &regions());
    let kinds: Vec<(Dim, i64)> = r
        .breakdown
        .iter()
        .map(|(d, f)| (*d, f.cohort.registered))
        .collect();
    assert_eq!(kinds, vec![(Dim::Kind(CaseKind::Incident), 1)]);
}
