//! What the in-process and the real-socket tests share: the actors, their tokens and the
//! request bodies.

#![allow(dead_code)]

use gridcase_domain::{Actor, ActorId, RegionCode, Role, Scope};
use serde_json::{json, Value};

/// 柯城区 (county).
pub const COUNTY: &str = "330802";
/// 新新街道 (township).
pub const TOWNSHIP: &str = "330802005";
/// 金桂社区 (village).
pub const VILLAGE: &str = "330802005001";
/// Another village of the same township.
pub const VILLAGE2: &str = "330802005002";
/// Grid 1 of the village.
pub const G1: &str = "330802005001001";
/// Grid 2 of the same village.
pub const G2: &str = "330802005001002";
/// A grid of the other village.
pub const G3: &str = "330802005002001";
/// Another township of the county, with one village and one grid.
pub const TOWNSHIP_B: &str = "330802006";
/// Its village.
pub const VILLAGE_B: &str = "330802006001";
/// Its grid.
pub const G4: &str = "330802006001001";

/// Bearer tokens, one per actor.
pub const GW1: &str = "tok-gw1";
pub const GW2: &str = "tok-gw2";
pub const GW4: &str = "tok-gw4";
pub const VIL: &str = "tok-village";
pub const TWN: &str = "tok-township";
pub const CTY: &str = "tok-county";
pub const MED1: &str = "tok-med1";
pub const MED2: &str = "tok-med2";
pub const SUP: &str = "tok-supervisor";
pub const AUD: &str = "tok-auditor";
/// An auditor of the township that a test may grant personal data (`[privacy]`).
pub const AUD_PD: &str = "tok-auditor-pd";
pub const ANA: &str = "tok-analyst";
pub const ADM: &str = "tok-admin";

pub fn code(s: &str) -> RegionCode {
    s.parse().unwrap()
}

pub fn actor(id: &str, role: Role, scope: Scope) -> Actor {
    Actor::new(ActorId::new(id).unwrap(), role, scope).unwrap()
}

fn subtree(id: &str, role: Role, region: &str) -> Actor {
    actor(id, role, Scope::Subtree(code(region)))
}

fn mediator(id: &str) -> Actor {
    actor(
        id,
        Role::Mediator,
        Scope::Assignment {
            organization: code(VILLAGE),
        },
    )
}

/// One actor of every role (and a second grid worker and mediator for the scope tests).
pub fn tokens() -> Vec<(String, Actor)> {
    [
        (GW1, subtree("gw-1", Role::GridWorker, G1)),
        (GW2, subtree("gw-2", Role::GridWorker, G2)),
        (GW4, subtree("gw-4", Role::GridWorker, G4)),
        (VIL, subtree("staff-v1", Role::UnitStaff, VILLAGE)),
        (TWN, subtree("staff-t1", Role::UnitStaff, TOWNSHIP)),
        (CTY, subtree("staff-c1", Role::UnitStaff, COUNTY)),
        (MED1, mediator("med-1")),
        (MED2, mediator("med-2")),
        (SUP, subtree("sup-1", Role::Supervisor, TOWNSHIP)),
        (AUD, subtree("aud-1", Role::Auditor, TOWNSHIP)),
        (AUD_PD, subtree("aud-pd", Role::Auditor, TOWNSHIP)),
        (ANA, subtree("ana-1", Role::Analyst, COUNTY)),
        (ADM, subtree("admin-1", Role::Admin, COUNTY)),
    ]
    .into_iter()
    .map(|(t, a)| (t.to_owned(), a))
    .collect()
}

/// The actor behind a token.
pub fn actor_of(token: &str) -> Actor {
    tokens()
        .into_iter()
        .find(|(t, _)| t == token)
        .map(|(_, a)| a)
        .unwrap_or_else(|| panic!("no actor for token {token}"))
}

/// Free text that must never reach an analyst.
pub const SUMMARY: &str = "张家与李家因院墙界址发生争执";
/// Opaque party ids that must never reach an analyst.
pub const PARTIES: [&str; 2] = ["party-7731", "party-7732"];

/// A report body for a dispute in `grid`.
pub fn report_body(grid: &str) -> Value {
    json!({
        "kind": "dispute",
        "category": "neighbours",
        "source": "grid_patrol",
        "severity": "normal",
        "location": grid,
        "parties": [
            { "id": PARTIES[0], "role": "applicant" },
            { "id": PARTIES[1], "role": "respondent" },
        ],
        "summary": SUMMARY,
        "happened_at": "2025-06-01T08:00:00Z",
    })
}

/// Every file under `dir`, recursively.
fn files_under(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            files_under(&p, out);
        } else {
            out.push(p);
        }
    }
}

/// The files under `dirs` whose bytes contain `needle` (for erasure and clear-text checks).
pub fn files_holding(dirs: &[&std::path::Path], needle: &[u8]) -> Vec<std::path::PathBuf> {
    let mut all = Vec::new();
    for d in dirs {
        files_under(d, &mut all);
    }
    all.into_iter()
        .filter(|f| {
            std::fs::read(f)
                .map(|b| b.windows(needle.len()).any(|w| w == needle))
                .unwrap_or(false)
        })
        .collect()
}

/// The bundled Zhejiang divisions plus the grids [`G1`] and [`G2`]: the regions of the
/// real-socket tests.
pub fn walk_regions() -> std::sync::Arc<gridcase_domain::RegionTree> {
    let mut t = gridcase_regions::bundled_divisions().clone();
    for g in [G1, G2] {
        t.add_grid(code(g), None).unwrap();
    }
    std::sync::Arc::new(t)
}

/// A server on `127.0.0.1:0` with its data in `dir` and the back-dating window lifted (the
/// walks are dated June 2025 and run on the wall clock).
pub fn walk_config(dir: &std::path::Path) -> gridcase_server::config::Config {
    let mut cfg = gridcase_server::config::Config {
        listen: "127.0.0.1:0".parse().unwrap(),
        data_dir: dir.to_owned(),
        ..Default::default()
    };
    cfg.policy.times.max_backdate_days = 0;
    cfg
}
