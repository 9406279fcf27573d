//! Parties learned after the report (当事人): who may add one, when, and what the case then
//! holds. Personal data never reaches the domain: a party is an opaque id and a role.

mod support;

use gridcase_domain::event::*;
use gridcase_domain::*;
use support::*;

fn late(id: &str) -> Party {
    Party {
        id: PartyId::new(id).unwrap(),
        role: PartyRole::ThirdParty,
    }
}

fn add(id: &str) -> Action {
    Action::AddParty { party: late(id) }
}

#[test]
fn the_holding_unit_adds_a_party_and_the_case_lists_it() {
    let s = given(&h_registered(grid1()))
        .when(cmd(grid_worker(grid1()), add("p-late")))
        .then(&[PartyAdded {
            party: late("p-late"),
        }
        .into()]);
    let parties = &s.details.as_ref().unwrap().parties;
    assert_eq!(parties.last(), Some(&late("p-late")));
    assert_eq!(s.status, Status::Registered, "adding a party moves nothing");
}

#[test]
fn a_party_already_in_the_case_is_refused() {
    let reported = h_registered(grid1());
    let first = match &reported[0] {
        Event::CaseReported(e) => e.parties[0].id.clone(),
        other => panic!("{other:?}"),
    };
    given(&reported)
        .when(cmd(grid_worker(grid1()), add(first.as_str())))
        .then_rejected(Rejection::PartyAlreadyInCase { party: first });
}

#[test]
fn a_closed_case_takes_no_new_party() {
    given(&h_closed(grid1()))
        .when(cmd(staff(village1()), add("p-late")))
        .then_rejected(invalid_status("add_party", Status::Closed));
}

#[test]
fn another_grid_and_the_read_only_roles_may_not_add_a_party() {
    let other = grid_worker(grid2());
    given(&h_registered(grid1()))
        .when(cmd(other.clone(), add("p-late")))
        .then_rejected(Rejection::OutOfScope {
            actor: other.id().clone(),
            region: grid1(),
        });
    for actor in [auditor(), analyst()] {
        let role = actor.role();
        given(&h_registered(grid1()))
            .when(cmd(actor, add("p-late")))
            .then_rejected(Rejection::ReadOnlyRole { role });
    }
}

// --- identifiers in free text ----------------------------------------------------------------

use gridcase_domain::identifiers::personal_number_in;

#[test]
fn id_numbers_and_mobile_numbers_in_free_text_are_found_however_written() {
    for (text, what) in [
        ("当事人电话13812345678，已联系", "a mobile number"),
        ("电话 138 1234 5678", "a mobile number"),
        ("电话138-1234-5678", "a mobile number"),
        ("+86 138 1234 5678", "a mobile number"),
        ("手机１３８１２３４５６７８", "a mobile number"),
        ("身份证330802198503124427，户籍柯城", "an ID number"),
        ("身份证11010519491231002x", "an ID number"),
        ("身份证１１０１０５１９４９１２３１００２Ｘ", "an ID number"),
    ] {
        assert_eq!(personal_number_in(text), Some(what), "{text}");
    }
    for text in [
        "院墙滴水，双方争执已三年",
        "合同编号12812345678", // not a mobile prefix
        "编号213812345678",    // twelve digits
        "330802198503124428",  // the check character does not fit
        "2025年3月2日14时，涉及面积120平方米",
        "工单 0570-3021234", // a landline: not caught
    ] {
        assert_eq!(personal_number_in(text), None, "{text}");
    }
}

#[test]
fn a_report_or_note_with_a_phone_number_is_refused_naming_the_field() {
    given(&h_registered(grid1()))
        .when(cmd(
            grid_worker(grid1()),
            Action::AddNote {
                text: "已电话联系当事人，电话13812345678".into(),
            },
        ))
        .then_rejected(Rejection::PersonalNumberInText {
            field: "text",
            what: "a mobile number",
        });
}
