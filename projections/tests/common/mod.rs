//! What the projection's integration tests share: a runtime, and generated commits as the log
//! takes them.

use gridcase_bus::{partition_of, Commit};
use gridcase_fixtures::GeneratedCommit;

/// A single-threaded runtime for one test.
pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// A generated commit as an append to the log.
pub fn commit_of(g: &GeneratedCommit) -> Commit {
    Commit {
        case_id: g.case_id.clone(),
        // The embedded log ignores the partition; NATS would need the case's first unit.
        partition: partition_of(g.command.actor.unit()),
        command_id: g.command_id.clone(),
        expected_version: g.expected_version,
        events: g.events.clone(),
        fingerprint: None,
    }
}
