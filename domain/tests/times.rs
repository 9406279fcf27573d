//! Times against the engine's clock: nothing is dated in the future beyond a small skew, and
//! `occurred_at` is back-dated at most the policy's window.

mod support;

use gridcase_domain::event::*;
use gridcase_domain::*;
use support::*;

const MINUTE_MS: i64 = 60_000;

fn note() -> Action {
    Action::AddNote {
        text: "已电话联系当事人".into(),
    }
}

fn report_happened_at(at: Timestamp) -> Action {
    let mut action = report(grid1()).action();
    if let Action::Report { happened_at, .. } = &mut action {
        *happened_at = at;
    }
    action
}

fn policy(future_skew_minutes: u32, max_backdate_days: u32) -> Policy {
    Policy {
        times: TimePolicy {
            future_skew_minutes,
            max_backdate_days,
        },
        ..Policy::default()
    }
}

// --- the future --------------------------------------------------------------------------------

#[test]
fn a_command_dated_up_to_five_minutes_after_the_clock_is_accepted() {
    let clock = now().plus_millis(-5 * MINUTE_MS);
    given(&h_assigned(grid1()))
        .at_clock(clock)
        .when(cmd(grid_worker(grid1()), note()))
        .then(&[NoteAdded {
            text: "已电话联系当事人".into(),
        }
        .into()]);
}

#[test]
fn a_command_dated_later_is_in_the_future() {
    let clock = now().plus_millis(-5 * MINUTE_MS - 1);
    given(&h_assigned(grid1()))
        .at_clock(clock)
        .when(cmd(grid_worker(grid1()), note()))
        .then_rejected(Rejection::InTheFuture {
            field: "occurred_at",
            latest: now().plus_millis(-1),
        });
}

#[test]
fn a_report_dated_in_the_future_is_refused_before_it_opens_a_case() {
    let clock = t0();
    given_no_case()
        .at_clock(clock)
        .when(cmd(grid_worker(grid1()), report(grid1()).action()))
        .then_rejected(Rejection::InTheFuture {
            field: "occurred_at",
            latest: clock.plus_millis(5 * MINUTE_MS),
        });
}

#[test]
fn what_is_reported_cannot_have_happened_in_the_future() {
    // The report itself is dated by the clock; what it reports is dated an hour later.
    let action = report_happened_at(now().plus_millis(60 * MINUTE_MS));
    given_no_case()
        .at_clock(now())
        .when(cmd(grid_worker(grid1()), action))
        .then_rejected(Rejection::InTheFuture {
            field: "happened_at",
            latest: now().plus_millis(5 * MINUTE_MS),
        });
    // Within the skew it is only "after the report", as before.
    let action = report_happened_at(now().plus_millis(MINUTE_MS));
    given_no_case()
        .at_clock(now())
        .when(cmd(grid_worker(grid1()), action))
        .then_rejected(invalid_field("happened_at", "is after the report"));
}

#[test]
fn the_skew_is_configurable() {
    given(&h_assigned(grid1()))
        .with_policy(policy(0, 30))
        .at_clock(now().plus_millis(-1))
        .when(cmd(grid_worker(grid1()), note()))
        .then_rejected(Rejection::InTheFuture {
            field: "occurred_at",
            latest: now().plus_millis(-1),
        });
    assert!(given(&h_assigned(grid1()))
        .with_policy(policy(60, 30))
        .at_clock(now().plus_millis(-59 * MINUTE_MS))
        .when(cmd(grid_worker(grid1()), note()))
        .result()
        .is_ok());
}

#[test]
fn every_command_is_checked_even_by_roles_that_may_not_act() {
    // The time is a property of the command: checked before who may do what (a mediator
    // without a mediation on the case would otherwise hear MediationNotStarted).
    given(&h_assigned(grid1()))
        .at_clock(t0())
        .when(cmd(mediator(town1()), note()))
        .then_rejected(Rejection::InTheFuture {
            field: "occurred_at",
            latest: t0().plus_millis(5 * MINUTE_MS),
        });
    // ... but read-only roles hear first that they only read.
    given(&h_assigned(grid1()))
        .at_clock(t0())
        .when(cmd(auditor(), note()))
        .then_rejected(Rejection::ReadOnlyRole {
            role: Role::Auditor,
        });
}

// --- the past ----------------------------------------------------------------------------------

#[test]
fn a_command_back_dated_up_to_thirty_days_is_accepted() {
    let clock = now().plus_days(30);
    assert!(given(&h_assigned(grid1()))
        .at_clock(clock)
        .when(cmd(grid_worker(grid1()), note()))
        .result()
        .is_ok());
}

#[test]
fn a_command_back_dated_further_is_refused() {
    let clock = now().plus_days(30).plus_millis(1);
    given(&h_assigned(grid1()))
        .at_clock(clock)
        .when(cmd(grid_worker(grid1()), note()))
        .then_rejected(Rejection::TooFarInThePast {
            field: "occurred_at",
            earliest: now().plus_millis(1),
        });
}

#[test]
fn a_late_resolution_cannot_be_back_dated_into_its_deadline_beyond_the_window() {
    // Due at t0 + 3 days; resolved on day 40 but dated day 2.
    let dated = t0().plus_days(2);
    given(&h_assigned(grid1()))
        .at_clock(t0().plus_days(40))
        .when(cmd_at(
            grid_worker(grid1()),
            dated,
            Action::Resolve {
                method: ResolutionMethod::OnTheSpot,
                summary: "已化解".into(),
            },
        ))
        .then_rejected(Rejection::TooFarInThePast {
            field: "occurred_at",
            earliest: t0().plus_days(10),
        });
}

#[test]
fn what_is_reported_may_have_happened_long_ago() {
    // Only occurred_at is bounded: an old grievance is reported today.
    let action = report_happened_at(now().plus_days(-400));
    assert!(given_no_case()
        .at_clock(now())
        .when(cmd(grid_worker(grid1()), action))
        .result()
        .is_ok());
}

#[test]
fn a_window_of_zero_days_lifts_the_bound() {
    assert!(given(&h_assigned(grid1()))
        .with_policy(policy(5, 0))
        .at_clock(now().plus_days(3650))
        .when(cmd(grid_worker(grid1()), note()))
        .result()
        .is_ok());
}

#[test]
fn nothing_is_dated_before_the_case_was_reported_whatever_the_window() {
    // The history is reported at t0.
    given(&h_assigned(grid1()))
        .with_policy(policy(5, 0))
        .at_clock(now())
        .when(cmd_at(grid_worker(grid1()), t0().plus_millis(-1), note()))
        .then_rejected(invalid_field(
            "occurred_at",
            "is before the case was reported",
        ));
}
