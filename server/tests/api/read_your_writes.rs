//! Read-your-writes.

use super::common::*;
use super::harness::*;

#[tokio::test]
async fn after_beyond_the_head_is_a_client_error_at_once_and_an_unapplied_position_is_503() {
    let mut h = Harness::new();
    let a = h.report(GW1, G1).await;
    let head = h.head().await;
    // A position the log has not reached cannot be waited for: 400 at once.
    let r = h
        .get(&format!("/api/v1/cases/{a}?after={}", head + 1_000), GW1)
        .await;
    let v = h.refused(r, 400, "after_beyond_head").await;
    assert_eq!(v["field"], "after", "{v}");
    assert!(
        v["detail"].as_str().unwrap().contains(&head.to_string()),
        "{v}"
    );
    // At or below the head but never applied (the runner is stopped): 503 with Retry-After.
    h.stop_runner().await;
    h.ok(GW1, &a, "add_note", json!({ "text": "巡查记录" }))
        .await;
    let unapplied = h.head().await;
    let r = h
        .get(&format!("/api/v1/units/{G1}/queue?after={unapplied}"), GW1)
        .await;
    assert!(r.headers.get(header::RETRY_AFTER).is_some(), "{}", r.text());
    let waited = h.refused(r, 503, "unavailable").await;

    // The wait cannot hold connections cheaply: with every waiting place taken, a read that
    // would wait answers 503 at once, with Retry-After.
    let places = u32::try_from(gridcase_server::app::MAX_WAITERS).unwrap();
    let taken = h.app.waiters.try_acquire_many(places).unwrap();
    let r = h
        .get(&format!("/api/v1/units/{G1}/queue?after={unapplied}"), GW1)
        .await;
    assert_eq!(r.headers[header::RETRY_AFTER], "1", "{}", r.text());
    let full = h.refused(r, 503, "unavailable").await;
    assert!(
        full["detail"].as_str().unwrap().contains("too many reads"),
        "{full}"
    );
    assert_ne!(full["detail"], waited["detail"]);
    // A read that needs no wait is served all the same.
    let r = h.get(&format!("/api/v1/units/{G1}/queue"), GW1).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    drop(taken);
}
