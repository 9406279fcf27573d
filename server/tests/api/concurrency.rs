//! Many clients on one case.

use super::common::*;
use super::harness::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn racing_clients_on_one_case_lose_no_update() {
    let h = Arc::new(Harness::new());
    let a = h.report(GW1, G1).await;
    h.ok(GW1, &a, "register", json!({})).await;
    let v0 = 2u64;

    /// One client's request: its key, its If-Match, who sends it.
    struct Client {
        key: String,
        if_match: Option<u64>,
        token: &'static str,
    }
    let mut clients = Vec::new();
    for i in 0..16 {
        clients.push(Client {
            key: format!("free-{i}"),
            if_match: None,
            token: if i % 2 == 0 { GW1 } else { VIL },
        });
    }
    for i in 0..8 {
        // All pinned to the version they read: at most one of them can win.
        clients.push(Client {
            key: format!("pinned-{i}"),
            if_match: Some(v0),
            token: GW1,
        });
    }
    for i in 0..2 {
        clients.push(Client {
            key: format!("stale-{i}"),
            if_match: Some(v0 - 1),
            token: GW1,
        });
    }
    for i in 0..3 {
        // The same key twice: a retry racing its original.
        clients.push(Client {
            key: format!("free-{i}"),
            if_match: None,
            token: if i % 2 == 0 { GW1 } else { VIL },
        });
    }
    for i in 0..2 {
        clients.push(Client {
            key: format!("auditor-{i}"),
            if_match: None,
            token: AUD,
        });
    }
    let n = clients.len();
    let barrier = Arc::new(tokio::sync::Barrier::new(n));
    let mut tasks = Vec::new();
    for c in clients {
        let h = h.clone();
        let a = a.clone();
        let barrier = barrier.clone();
        tasks.push(tokio::spawn(async move {
            let uri = format!("/api/v1/cases/{a}/add_note");
            let body = json!({ "text": format!("并发备注 {}", c.key) }).to_string();
            let if_match = c.if_match.map(|v| format!("\"{v}\""));
            let mut headers = vec![("idempotency-key", c.key.as_str())];
            if let Some(m) = &if_match {
                headers.push(("if-match", m.as_str()));
            }
            barrier.wait().await;
            let r = h.post_raw(&uri, Some(c.token), &headers, body).await;
            (c.key, c.token, c.if_match, r)
        }));
    }
    let mut won: BTreeMap<String, u64> = BTreeMap::new();
    let mut senders: BTreeMap<String, &str> = BTreeMap::new();
    let mut statuses: BTreeMap<u16, usize> = BTreeMap::new();
    for t in tasks {
        let (key, token, if_match, r) = t.await.unwrap();
        senders.insert(key.clone(), token);
        *statuses.entry(r.status.as_u16()).or_default() += 1;
        match r.status.as_u16() {
            200 => {
                let v = r.json();
                let version = v["version"].as_u64().unwrap();
                // A key's responses all report the same commit.
                if let Some(prev) = won.insert(key.clone(), version) {
                    assert_eq!(prev, version, "{key}: two commits for one key");
                }
            }
            409 => {
                let v = r.json();
                assert_eq!(v["code"], "conflict", "{v}");
                assert!(if_match.is_some() || key.starts_with("free-"), "{key}: {v}");
                if key.starts_with("stale-") {
                    assert_eq!(v["expected"], v0 - 1);
                }
            }
            403 => {
                assert!(key.starts_with("auditor-"), "{key}: {}", r.text());
                assert_eq!(r.json()["code"], "ReadOnlyRole");
            }
            s => panic!("{key}: unexpected {s}: {}", r.text()),
        }
    }
    eprintln!("statuses {statuses:?}, {} notes appended", won.len());
    assert!(!statuses.contains_key(&500), "{statuses:?}");
    assert!(
        won.keys().filter(|k| k.starts_with("pinned-")).count() <= 1,
        "{won:?}"
    );
    assert!(won.keys().all(|k| !k.starts_with("stale-")), "{won:?}");

    // Every winning version exactly once, contiguous after v0, each the winner's note.
    let tl = h.read(&format!("/api/v1/cases/{a}/timeline"), VIL).await;
    let events = tl["events"].as_array().unwrap();
    let versions: Vec<u64> = events
        .iter()
        .map(|e| e["version"].as_u64().unwrap())
        .collect();
    assert_eq!(versions, (1..=events.len() as u64).collect::<Vec<_>>());
    let notes: Vec<&Value> = events
        .iter()
        .filter(|e| e["event_type"] == "NoteAdded")
        .collect();
    assert_eq!(notes.len(), won.len(), "{statuses:?} {won:?}");
    assert_eq!(tl["version"], v0 + won.len() as u64);
    let mut by_version: BTreeMap<u64, String> = BTreeMap::new();
    for e in &notes {
        by_version.insert(
            e["version"].as_u64().unwrap(),
            e["command_id"].as_str().unwrap().to_owned(),
        );
    }
    for (key, version) in &won {
        // The command id is the key scoped to its sender.
        let id = api::scoped_command_id(&actor_of(senders[key]), key).to_string();
        assert_eq!(by_version.get(version), Some(&id), "{key} at {version}");
    }
    assert_eq!(h.head().await, 2 + won.len() as u64);
}
