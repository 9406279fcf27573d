//! Parties' personal data through the API: it enters with a report or `add_party`, lives only
//! in the vault, is shown to the holding unit (ID number masked, reveal recorded), found again
//! by blind index, erased by a supervisor with a legal basis — and analysts and auditors never
//! receive a personal field from any endpoint.

use super::common::*;
use super::harness::*;

const NAME: &str = "赵美兰";
const ID_NUMBER: &str = "330802198503124427";
const PHONE: &str = "13712345678";
const ADDRESS: &str = "金桂社区3幢2单元";
const OTHER_NAME: &str = "钱卫东";

/// A report with two parties, the first with every personal field.
fn report_with_people(grid: &str) -> Value {
    let mut body = report_body(grid);
    body["parties"] = json!([
        { "role": "applicant", "personal": {
            "name": NAME, "id_number": ID_NUMBER, "phone": "+86 137-1234-5678", "address": ADDRESS,
        } },
        { "role": "respondent", "personal": { "name": OTHER_NAME } },
    ]);
    body
}

async fn report_people(h: &Harness, token: &str, grid: &str) -> String {
    let r = h
        .command(token, "", "report", report_with_people(grid))
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "report: {}", r.text());
    r.json()["case_id"].as_str().unwrap().to_owned()
}

fn parties_uri(case: &str) -> String {
    format!("/api/v1/cases/{case}/parties?purpose=%E7%94%B5%E8%AF%9D%E8%81%94%E7%B3%BB")
}

/// Waits until the projection has applied every command so far: the access log and erasure
/// find a party's cases through it.
async fn caught_up(h: &Harness) {
    h.read(&format!("/api/v1/cases?limit=1&{}", h.after()), AUD)
        .await;
}

async fn first_party(h: &Harness, case: &str) -> String {
    h.read(&parties_uri(case), GW1).await["parties"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

#[tokio::test]
async fn the_holding_unit_sees_names_and_a_masked_id_and_the_log_holds_none() {
    let h = Harness::new();
    let case = report_people(&h, GW1, G1).await;
    let v = h.read(&parties_uri(&case), GW1).await;
    assert_eq!(v["personal_data"], true);
    let p = &v["parties"][0];
    assert_eq!(p["role"], "applicant");
    assert_eq!(p["data"], "held");
    assert!(p["id"].as_str().unwrap().starts_with("p-"), "{p}");
    assert_eq!(p["personal"]["name"], NAME);
    assert_eq!(p["personal"]["id_number_masked"], "330***********4427");
    assert_eq!(p["personal"]["phone"], PHONE);
    assert_eq!(p["personal"]["address"], ADDRESS);
    assert_eq!(v["parties"][1]["personal"]["name"], OTHER_NAME);
    // The events carry the opaque id and the role only.
    let timeline = h.get(&format!("/api/v1/cases/{case}/timeline"), GW1).await;
    assert!(timeline.text().contains(p["id"].as_str().unwrap()));
    for secret in [NAME, ID_NUMBER, PHONE, ADDRESS, OTHER_NAME] {
        assert!(
            !timeline.text().contains(secret),
            "{secret} in the timeline"
        );
        // Nothing in clear in any file: neither the log nor the vault.
        let dir = h._dir.as_ref().unwrap().path();
        assert_eq!(
            files_holding(&[dir], secret.as_bytes()),
            Vec::<std::path::PathBuf>::new()
        );
        assert_eq!(
            files_holding(&[h.vault_dir.path()], secret.as_bytes()),
            Vec::<std::path::PathBuf>::new()
        );
    }
    // Reading states a purpose, and the read is in the access log.
    h.refused(
        h.get(&format!("/api/v1/cases/{case}/parties"), GW1).await,
        400,
        "invalid_field",
    )
    .await;
    caught_up(&h).await;
    let log = h
        .read(
            &format!("/api/v1/access-log?party={}", p["id"].as_str().unwrap()),
            AUD,
        )
        .await;
    let actions: Vec<&str> = log["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions, ["write", "read"], "{log}");
    assert_eq!(log["entries"][1]["actor"], "gw-1");
    assert_eq!(log["entries"][1]["purpose"], "电话联系");
}

#[tokio::test]
async fn others_see_ids_and_roles_only_and_the_reveal_is_recorded() {
    let h = Harness::new();
    let case = report_people(&h, GW1, G1).await;
    let party = first_party(&h, &case).await;
    // The township's supervisor and the auditor see who is a party, not who they are.
    for token in [SUP, AUD, TWN] {
        let v = h.read(&parties_uri(&case), token).await;
        assert_eq!(v["personal_data"], false, "{token}");
        assert_eq!(v["parties"][0]["data"], "held");
        assert!(v["parties"][0]["personal"].is_null(), "{token}: {v}");
    }
    h.refused(h.get(&parties_uri(&case), ANA).await, 403, "forbidden")
        .await;
    // Another grid does not know the case at all.
    h.refused(h.get(&parties_uri(&case), GW2).await, 404, "not_found")
        .await;
    // The whole ID number: the holding unit only, with a purpose, recorded before it is shown.
    let uri = format!("/api/v1/cases/{case}/parties/{party}/reveal");
    let purpose = json!({ "purpose": "出具调解协议书" }).to_string();
    for (token, status) in [(SUP, 403), (AUD, 403), (ANA, 403), (TWN, 403), (GW2, 404)] {
        let r = h.post_raw(&uri, Some(token), &[], purpose.clone()).await;
        assert_eq!(r.status.as_u16(), status, "{token}: {}", r.text());
        assert!(!r.text().contains(ID_NUMBER));
    }
    let r = h.post_raw(&uri, Some(GW1), &[], "{}").await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text());
    let r = h.post_raw(&uri, Some(GW1), &[], purpose).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert_eq!(r.json()["id_number"], ID_NUMBER);
    caught_up(&h).await;
    let log = h
        .read(
            &format!("/api/v1/access-log?party={party}&action=reveal_id_number"),
            AUD,
        )
        .await;
    assert_eq!(log["entries"].as_array().unwrap().len(), 1, "{log}");
    assert_eq!(log["entries"][0]["purpose"], "出具调解协议书");
    assert_eq!(log["entries"][0]["fields"], json!(["id_number"]));
    // The access log is the auditors' (and admins').
    h.refused(h.get("/api/v1/access-log", GW1).await, 403, "forbidden")
        .await;
    h.refused(h.get("/api/v1/access-log", ANA).await, 403, "forbidden")
        .await;
    // It pages: every entry once, oldest first, through the cursor.
    let everything = h.read("/api/v1/access-log?limit=200", AUD).await;
    let all = everything["entries"].as_array().unwrap().clone();
    assert!(all.len() >= 3, "{everything}");
    assert!(everything["next_cursor"].is_null());
    let mut paged = Vec::new();
    let mut cursor = String::new();
    loop {
        let page = h
            .read(&format!("/api/v1/access-log?limit=2&cursor={cursor}"), AUD)
            .await;
        let entries = page["entries"].as_array().unwrap();
        assert!(entries.len() <= 2, "{page}");
        paged.extend(entries.iter().cloned());
        match page["next_cursor"].as_str() {
            Some(c) => cursor = c.to_owned(),
            None => break,
        }
    }
    assert_eq!(paged, all);
    h.refused(
        h.get("/api/v1/access-log?cursor=nonsense", AUD).await,
        400,
        "invalid_query",
    )
    .await;
}

#[tokio::test]
async fn an_auditor_granted_personal_data_reads_it_logged_but_looks_nobody_up() {
    let mut cfg = Config::default();
    cfg.privacy.personal_data_auditors = vec!["aud-pd".parse().unwrap()];
    let h = Harness::with_config(cfg);
    let case = report_people(&h, GW1, G1).await;
    let party = first_party(&h, &case).await;
    // The granted auditor sees names and the masked number, with a purpose; the other
    // auditor still sees ids and roles only.
    h.refused(
        h.get(&format!("/api/v1/cases/{case}/parties"), AUD_PD)
            .await,
        400,
        "invalid_field",
    )
    .await;
    let v = h.read(&parties_uri(&case), AUD_PD).await;
    assert_eq!(v["personal_data"], true, "{v}");
    assert_eq!(v["parties"][0]["personal"]["name"], NAME);
    assert_eq!(
        v["parties"][0]["personal"]["id_number_masked"],
        "330***********4427"
    );
    let v = h.read(&parties_uri(&case), AUD).await;
    assert_eq!(v["personal_data"], false, "{v}");
    assert!(v["parties"][0]["personal"].is_null(), "{v}");
    // The whole number on request, recorded.
    let uri = format!("/api/v1/cases/{case}/parties/{party}/reveal");
    let purpose = json!({ "purpose": "核查调解协议的当事人身份" }).to_string();
    let r = h.post_raw(&uri, Some(AUD), &[], purpose.clone()).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text());
    let r = h.post_raw(&uri, Some(AUD_PD), &[], purpose).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert_eq!(r.json()["id_number"], ID_NUMBER);
    // Looking people up stays with those who handle the case.
    let other = format!("/api/v1/cases/{case}/parties/{party}/other-cases?purpose=x");
    h.refused(h.get(&other, AUD_PD).await, 403, "forbidden")
        .await;
    h.refused(
        h.get(&format!("/api/v1/cases?person={NAME}&purpose=x"), AUD_PD)
            .await,
        403,
        "forbidden",
    )
    .await;
    // A case outside the auditor's township is unknown to them, grant or not.
    let elsewhere = report_people(&h, GW4, G4).await;
    h.refused(
        h.get(&parties_uri(&elsewhere), AUD_PD).await,
        404,
        "not_found",
    )
    .await;
    // Every read by the auditor is in the access log, with the role and the purpose.
    caught_up(&h).await;
    let log = h
        .read(
            &format!("/api/v1/access-log?party={party}&actor=aud-pd"),
            AUD,
        )
        .await;
    let entries = log["entries"].as_array().unwrap();
    let actions: Vec<&str> = entries
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert!(actions.contains(&"read"), "{log}");
    assert!(actions.contains(&"reveal_id_number"), "{log}");
    assert!(entries.iter().all(|e| e["role"] == "auditor"), "{log}");
}

#[tokio::test]
async fn a_personal_data_grant_to_anyone_but_a_known_auditor_stops_the_start() {
    for (who, words) in [
        ("gw-1", "the grant is for auditors"),
        ("nobody", "has no token"),
    ] {
        let mut cfg = Config::default();
        cfg.privacy.personal_data_auditors = vec![who.parse().unwrap()];
        let vault_dir = tempfile::tempdir().unwrap();
        let log_dir = tempfile::tempdir().unwrap();
        cfg.data_dir = log_dir.path().to_owned();
        let vault = gridcase_vault::Vault::open(
            gridcase_vault::Store::open_dir(vault_dir.path()).unwrap(),
            gridcase_vault::MasterKey::generate().unwrap(),
        )
        .await
        .unwrap();
        let log = gridcase_bus::SledLog::open(log_dir.path().join("log")).unwrap();
        let Err(e) = serve::build_app(
            &cfg,
            log.into(),
            Arc::new(vault),
            regions(),
            gridcase_projections::Projection::in_memory(gridcase_projections::Calendar::default()),
            &tokens(),
        ) else {
            panic!("a grant to {who} was accepted");
        };
        let msg = e.to_string();
        assert!(msg.contains(who) && msg.contains(words), "{msg}");
    }
}

#[tokio::test]
async fn free_text_is_ciphertext_in_the_log_and_clear_for_the_cases_readers() {
    let h = Harness::new();
    let summary = "楼上住户赵美兰家漏水，已两次协商未果";
    let note_text = "已电话联系钱卫东，约定周三上门查看";
    let mut body = report_body(G1);
    body["summary"] = json!(summary);
    let r = h.command(GW1, "", "report", body).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    let case = r.json()["case_id"].as_str().unwrap().to_owned();
    h.ok(GW1, &case, "add_note", note(note_text)).await;
    // Those who read the case read the text.
    for uri in [
        format!("/api/v1/cases/{case}"),
        format!("/api/v1/cases/{case}/timeline"),
    ] {
        let text = h.get(&uri, GW1).await.text();
        assert!(
            text.contains(summary) && text.contains(note_text),
            "{uri}: {text}"
        );
        assert!(!text.contains("sealed"), "{uri}: {text}");
    }
    // Lists show the summary, and search finds it by its words.
    caught_up(&h).await;
    let found = h
        .read(
            &format!("/api/v1/cases?q=%E6%BC%8F%E6%B0%B4&{}", h.after()),
            GW1,
        )
        .await;
    let row = found["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["case_id"] == case.as_str())
        .unwrap_or_else(|| panic!("search by 漏水 did not find {case}: {found}"));
    assert_eq!(row["summary"], summary);
    // Neither the log nor the vault holds the text in clear: the events carry ciphertext.
    for secret in [summary, note_text, "赵美兰", "钱卫东"] {
        let dir = h._dir.as_ref().unwrap().path();
        assert_eq!(
            files_holding(&[dir, h.vault_dir.path()], secret.as_bytes()),
            Vec::<std::path::PathBuf>::new(),
            "{secret}"
        );
    }
    let commits = h
        .app
        .path
        .log()
        .read_case(&case.parse().unwrap())
        .await
        .unwrap();
    let report = commits[0].events[0].decode().unwrap();
    let gridcase_domain::Event::CaseReported(report) = report else {
        panic!("the first event is the report")
    };
    assert!(report.summary.is_sealed(), "{:?}", report.summary);
    // Each read of the case's text is recorded, once per view.
    let log = h
        .read("/api/v1/access-log?actor=gw-1&action=read_case_text", AUD)
        .await;
    let reads: Vec<&Value> = log["entries"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["case"] == case.as_str())
        .collect();
    assert_eq!(reads.len(), 2, "{log}");
}

#[tokio::test]
async fn a_finished_cases_text_is_erased_once_its_parties_are_and_the_history_stays() {
    let h = Harness::new();
    let case = report_people(&h, GW1, G1).await;
    let basis = json!({ "legal_basis": "retention_expired" });
    let delete = |uri: String, token: &'static str| {
        let (h, basis) = (&h, &basis);
        async move { h.delete(&uri, token, basis).await }
    };
    let text_uri = format!("/api/v1/cases/{case}/text");
    // Open: the text is kept.
    h.refused(
        delete(text_uri.clone(), SUP).await,
        422,
        "case_not_finished",
    )
    .await;
    h.ok(GW1, &case, "register", json!({})).await;
    h.ok(GW1, &case, "assign", json!({ "handler": "gw-1" }))
        .await;
    h.ok(
        GW1,
        &case,
        "resolve",
        json!({ "method": "on_the_spot", "summary": "当场化解，双方签字确认" }),
    )
    .await;
    h.ok(GW1, &case, "close", json!({})).await;
    // Closed, but its parties' data is still held.
    h.refused(
        delete(text_uri.clone(), SUP).await,
        422,
        "parties_not_erased",
    )
    .await;
    for token in [GW1, VIL, AUD, ANA] {
        h.refused(delete(text_uri.clone(), token).await, 403, "forbidden")
            .await;
    }
    caught_up(&h).await;
    let parties = h.read(&parties_uri(&case), SUP).await;
    for p in parties["parties"].as_array().unwrap() {
        let party = p["id"].as_str().unwrap();
        let r = delete(format!("/api/v1/parties/{party}/personal-data"), SUP).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    }
    let before = h.read(&format!("/api/v1/cases/{case}/timeline"), SUP).await;
    assert!(before.to_string().contains(SUMMARY), "{before}");
    // An auditor without the personal-data grant reads the text as the log stores it.
    let audited = h.read(&format!("/api/v1/cases/{case}/timeline"), AUD).await;
    assert!(!audited.to_string().contains(SUMMARY), "{audited}");
    assert!(
        audited["events"][0]["event"]["summary"]["sealed"].is_string(),
        "{audited}"
    );
    // 院墙, a word of the summary.
    let search_uri = format!("/api/v1/cases?q=%E9%99%A2%E5%A2%99&{}", h.after());
    let found = h.read(&search_uri, GW1).await;
    assert!(found.to_string().contains(&case), "{found}");
    let commits = h
        .app
        .path
        .log()
        .read_case(&case.parse().unwrap())
        .await
        .unwrap();
    let r = delete(text_uri.clone(), SUP).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    // The text reads ［已删除］ wherever it was; the history is the same records.
    let after = h.read(&format!("/api/v1/cases/{case}/timeline"), SUP).await;
    let text = after.to_string();
    for gone in [SUMMARY, "当场化解，双方签字确认"] {
        assert!(!text.contains(gone), "{gone} after erasure: {text}");
    }
    assert!(text.contains("［已删除］"), "{text}");
    assert_eq!(
        after["events"].as_array().unwrap().len(),
        before["events"].as_array().unwrap().len()
    );
    for (a, b) in after["events"]
        .as_array()
        .unwrap()
        .iter()
        .zip(before["events"].as_array().unwrap())
    {
        assert_eq!(a["hash"], b["hash"]);
    }
    assert_eq!(
        h.app
            .path
            .log()
            .read_case(&case.parse().unwrap())
            .await
            .unwrap(),
        commits,
        "the log is unchanged"
    );
    // Search no longer finds it by its words; erasing again is harmless.
    let found = h.read(&search_uri, GW1).await;
    assert!(!found.to_string().contains(&case), "{found}");
    let r = delete(text_uri, SUP).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
}

#[tokio::test]
async fn a_finished_cases_text_is_kept_for_the_retention_period() {
    let mut cfg = Config::default();
    cfg.privacy.case_text_retention_days = 30;
    let h = Harness::with_config(cfg);
    let case = report_people(&h, GW1, G1).await;
    h.ok(
        GW1,
        &case,
        "reject",
        json!({ "reason": "duplicate", "note": "重复上报" }),
    )
    .await;
    caught_up(&h).await;
    let basis = json!({ "legal_basis": "retention_expired" });
    let parties = h.read(&parties_uri(&case), SUP).await;
    for p in parties["parties"].as_array().unwrap() {
        let party = p["id"].as_str().unwrap();
        let r = h
            .delete(
                &format!("/api/v1/parties/{party}/personal-data"),
                SUP,
                &basis,
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    }
    // Finished and its parties erased, but its last activity was just now.
    let r = h
        .delete(&format!("/api/v1/cases/{case}/text"), SUP, &basis)
        .await;
    assert!(r.text().contains("30 days"), "{}", r.text());
    h.refused(r, 422, "retention_not_passed").await;
}

#[tokio::test]
async fn a_party_added_later_gets_a_derived_id_and_a_retry_names_the_same_party() {
    let h = Harness::new();
    let case = h.report(GW1, G1).await;
    let body = json!({ "party": { "role": "third_party", "personal": { "name": "张卫东", "phone": "13900001111" } } });
    let key = h.next_key();
    let first = h
        .send(
            GW1,
            &case,
            "add_party",
            body.clone(),
            &[("idempotency-key", &key)],
        )
        .await;
    assert_eq!(first.status, StatusCode::OK, "{}", first.text());
    let again = h
        .send(GW1, &case, "add_party", body, &[("idempotency-key", &key)])
        .await;
    assert_eq!(again.json()["duplicate"], true, "{}", again.text());
    let v = h.read(&parties_uri(&case), GW1).await;
    let parties = v["parties"].as_array().unwrap();
    assert_eq!(parties.len(), 3, "{v}");
    assert_eq!(parties[2]["role"], "third_party");
    assert_eq!(parties[2]["personal"]["name"], "张卫东");
    // The party is in the case view too (opaque id, role).
    let view = h.read(&format!("/api/v1/cases/{case}"), GW1).await;
    assert!(view
        .to_string()
        .contains(parties[2]["id"].as_str().unwrap()));
}

#[tokio::test]
async fn bad_personal_data_is_a_400_naming_the_field_and_appends_nothing() {
    let h = Harness::new();
    let mut body = report_with_people(G1);
    body["parties"][0]["personal"]["id_number"] = json!("110105194912310021");
    let v = h
        .refused(
            h.command(GW1, "", "report", body).await,
            400,
            "invalid_field",
        )
        .await;
    assert_eq!(v["field"], "parties[0].personal.id_number", "{v}");
    let mut body = report_with_people(G1);
    body["parties"][1]["id"] = json!("p-chosen");
    let v = h
        .refused(
            h.command(GW1, "", "report", body).await,
            400,
            "invalid_field",
        )
        .await;
    assert_eq!(v["field"], "parties[1].id", "{v}");
    let mut body = report_with_people(G1);
    body["parties"][0]["personal"]["nickname"] = json!("阿英");
    let v = h
        .refused(
            h.command(GW1, "", "report", body).await,
            400,
            "invalid_field",
        )
        .await;
    assert_eq!(v["field"], "parties[0].personal", "{v}");
}

#[tokio::test]
async fn the_same_person_is_found_in_other_cases_by_blind_index() {
    let h = Harness::new();
    let a = report_people(&h, GW1, G1).await;
    // The same person again, the name typed with a space.
    let mut body = report_body(G1);
    body["parties"] = json!([{ "role": "respondent", "personal": {
        "name": "赵 美兰", "id_number": ID_NUMBER.to_lowercase(),
    } }]);
    let r = h.command(GW1, "", "report", body).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    let b = r.json()["case_id"].as_str().unwrap().to_owned();
    // Someone else in another township.
    h.command(GW4, "", "report", report_with_people(G4)).await;
    let party = first_party(&h, &a).await;
    let v = h
        .read(
            &format!("/api/v1/cases/{a}/parties/{party}/other-cases?purpose=%E6%9F%A5%E9%87%8D"),
            GW1,
        )
        .await;
    let items = v["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{v}");
    assert_eq!(items[0]["case"]["case_id"], b.as_str());
    assert_eq!(items[0]["matched_by"], json!(["id_number", "name"]));
    // The case in the other township is a match the grid worker may not see: counted only.
    assert_eq!(v["hidden"], 1, "{v}");
    // Search by person: a phone number as dialled finds the first case.
    let found = h
        .read(
            &format!(
                "/api/v1/cases?person=137%201234%205678&purpose=%E6%9F%A5%E9%87%8D&{}",
                h.after()
            ),
            GW1,
        )
        .await;
    assert_eq!(found["total"], 1, "{found}");
    assert_eq!(found["items"][0]["case_id"], a.as_str());
    let by_id = h
        .read(
            &format!("/api/v1/cases?person={ID_NUMBER}&purpose=x&{}", h.after()),
            GW1,
        )
        .await;
    assert_eq!(by_id["total"], 2, "{by_id}");
    // A mistyped ID number is said to be one, not searched as a phone number.
    let r = h
        .get("/api/v1/cases?person=330802198503124428&purpose=x", GW1)
        .await;
    let v = h.refused(r, 400, "invalid_query").await;
    assert_eq!(v["field"], "person");
    // Auditors and analysts do not look people up.
    h.refused(
        h.get(&format!("/api/v1/cases?person={ID_NUMBER}&purpose=x"), AUD)
            .await,
        403,
        "forbidden",
    )
    .await;
    // Lookups are in the access log with what they found.
    let log = h.read("/api/v1/access-log?action=lookup", AUD).await;
    assert!(log["entries"].as_array().unwrap().len() >= 2, "{log}");
}

#[tokio::test]
async fn erasure_shows_erased_and_changes_no_history_or_statistics() {
    let h = Harness::new();
    let case = report_people(&h, GW1, G1).await;
    h.ok(GW1, &case, "register", json!({})).await;
    let party = first_party(&h, &case).await;
    let timeline = h.read(&format!("/api/v1/cases/{case}/timeline"), AUD).await;
    // The statistics once the report and the registration are applied.
    caught_up(&h).await;
    let stats_uri =
        format!("/api/v1/stats?region={COUNTY}&period=2025-06&as_of=2025-07-01T00:00:00Z");
    let stats = h.read(&stats_uri, ANA).await;
    let uri = format!("/api/v1/parties/{party}/personal-data");
    let erase = |token: &'static str, body: Value| {
        let (h, uri) = (&h, &uri);
        async move { h.delete(uri, token, &body).await }
    };
    let basis = json!({ "legal_basis": "data_subject_request", "remark": "申请编号 2026-117" });
    for token in [GW1, VIL, AUD] {
        h.refused(erase(token, basis.clone()).await, 403, "forbidden")
            .await;
    }
    h.refused(erase(ANA, basis.clone()).await, 403, "forbidden")
        .await;
    let r = erase(SUP, json!({ "remark": "x" })).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text());
    let r = h
        .delete("/api/v1/parties/p-nobody/personal-data", SUP, &basis)
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.text());
    let r = erase(SUP, basis).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert_eq!(r.json()["cases"], json!([case]));
    // 已删除 where the data was; the other party is untouched.
    let v = h.read(&parties_uri(&case), GW1).await;
    assert_eq!(v["parties"][0]["data"], "erased", "{v}");
    assert!(v["parties"][0]["personal"].is_null());
    assert!(v["parties"][0]["erased_at"].is_string());
    assert_eq!(v["parties"][1]["personal"]["name"], OTHER_NAME);
    let r = h
        .post_raw(
            &format!("/api/v1/cases/{case}/parties/{party}/reveal"),
            Some(GW1),
            &[],
            json!({ "purpose": "核对" }).to_string(),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text());
    assert_eq!(r.json()["code"], "personal_data_erased");
    // History and statistics are exactly as before.
    assert_eq!(
        h.read(&format!("/api/v1/cases/{case}/timeline"), AUD).await,
        timeline
    );
    assert_eq!(h.read(&stats_uri, ANA).await, stats);
    // Nothing of the erased party survives in the vault's files.
    for secret in [NAME, ID_NUMBER, PHONE, ADDRESS] {
        assert_eq!(
            files_holding(&[h.vault_dir.path()], secret.as_bytes()),
            Vec::<std::path::PathBuf>::new()
        );
    }
    let log = h
        .read(
            &format!("/api/v1/access-log?party={party}&action=erase_party_data"),
            AUD,
        )
        .await;
    assert_eq!(log["entries"][0]["actor"], "sup-1", "{log}");
    assert_eq!(
        log["entries"][0]["purpose"],
        "data_subject_request: 申请编号 2026-117"
    );
}

/// Every string of a JSON value.
fn all_strings(v: &Value) -> String {
    let mut out = Vec::new();
    strings(v, &mut out);
    out.join("\n")
}

#[tokio::test]
async fn analysts_and_auditors_never_receive_a_personal_field_from_any_endpoint() {
    let h = Harness::new();
    let case = report_people(&h, GW1, G1).await;
    h.ok(GW1, &case, "register", json!({})).await;
    let party = first_party(&h, &case).await;
    // Reads by the holding unit and a reveal fill the access log.
    let reveal = format!("/api/v1/cases/{case}/parties/{party}/reveal");
    h.post_raw(
        &reveal,
        Some(GW1),
        &[],
        json!({ "purpose": "核对" }).to_string(),
    )
    .await;
    let doc = h.read("/api/v1/openapi.json", AUD).await;
    let secrets = [
        NAME,
        ID_NUMBER,
        PHONE,
        ADDRESS,
        OTHER_NAME,
        "330***********4427",
    ];
    let mut checked = 0;
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, _) in item.as_object().unwrap() {
            let uri = path
                .replace("{id}", &case)
                .replace("{party}", &party)
                .replace("{code}", VILLAGE);
            let sep = if uri.contains('?') { '&' } else { '?' };
            let uri = format!("{uri}{sep}purpose=x");
            for token in [AUD, ANA] {
                let r = match method.as_str() {
                    "get" => h.get(&uri, token).await,
                    "post" if uri.contains("/reveal") => {
                        h.post_raw(
                            &uri,
                            Some(token),
                            &[],
                            json!({ "purpose": "x" }).to_string(),
                        )
                        .await
                    }
                    // Commands are refused to both roles before anything is read.
                    "post" | "delete" => continue,
                    other => panic!("{other} {path}"),
                };
                let text = r.text();
                let strings = serde_json::from_str::<Value>(&text)
                    .map(|v| all_strings(&v))
                    .unwrap_or(text);
                for s in secrets {
                    assert!(
                        !strings.contains(s),
                        "{method} {uri} as {token} returned {s}"
                    );
                }
                checked += 1;
            }
        }
    }
    assert!(checked > 30, "{checked} responses checked");
}

/// The request's fingerprint covers its personal fields (as a keyed hash): the same key with
/// another phone number is a mismatch, and the first party's data stays as it was.
#[tokio::test]
async fn a_retry_with_other_personal_data_is_a_mismatch_and_overwrites_nothing() {
    let h = Harness::new();
    let mut body = report_with_people(G1);
    body["occurred_at"] = json!(h.tick());
    let key = [("idempotency-key", "people-1")];
    let r = h.send(GW1, "", "report", body.clone(), &key).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    let case = r.json()["case_id"].as_str().unwrap().to_owned();
    let mut other = body.clone();
    other["parties"][0]["personal"]["phone"] = json!("13900001111");
    let r = h.send(GW1, "", "report", other, &key).await;
    h.refused(r, 422, "idempotency_key_mismatch").await;
    let v = h.read(&parties_uri(&case), GW1).await;
    assert_eq!(v["parties"][0]["personal"]["phone"], PHONE);
    // The very same request again: the first result, the same data.
    let r = h.send(GW1, "", "report", body, &key).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert_eq!(r.json()["duplicate"], true);
    assert_eq!(r.json()["case_id"], case);
    let v = h.read(&parties_uri(&case), GW1).await;
    assert_eq!(v["parties"].as_array().unwrap().len(), 2);
    assert_eq!(v["parties"][0]["personal"]["name"], NAME);
}
