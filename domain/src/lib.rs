//! # gridcase-domain
//!
//! The pure model of gridcase: no I/O, no async, no clock.
//!
//! - [`region`]: [`RegionCode`] (validated, prefix-nested division codes), [`Level`] and the
//!   [`RegionTree`] of known divisions and grids.
//! - [`actor`]: [`Actor`] = id + [`Role`] + [`Scope`].
//! - [`command`] and [`mod@decide`]: a [`Command`] is decided against a [`CaseState`] into events or
//!   a typed [`Rejection`]; every business rule lives in [`decide()`]. [`ActionKind`] is an
//!   [`Action`] without its fields (derived): what says something about every action matches on
//!   it without a wildcard.
//! - [`event`] and [`state`]: the past-tense [`Event`]s and [`evolve`], which only applies facts.
//! - [`casefile`]: the [`CaseFile`], a case's whole story (moves, deadlines, referrals,
//!   mediations, resolutions, supervision, notes) folded from its events when it is read.
//! - [`allowed`]: [`allowed_actions`], which actions an actor may take now, asked of `decide`.
//! - [`record`]: the stored [`EventRecord`] (header, versioned MessagePack body, hash chain)
//!   and the decoded [`Envelope`].
//! - [`chain`]: a case's hash chain — [`chain::seal`] turns a commit's events into records on
//!   top of a [`ChainHead`], [`chain::check_link`] and [`chain::check_hash`] check them.
//! - [`policy`]: deadlines per level, severity and kind; how far a command's times may stray
//!   from the engine's clock.
//! - [`causes`]: an error with its causes, as every crate shows them ([`error_chain`],
//!   [`error_messages`]).
//!
//! ```
//! use gridcase_domain::*;
//!
//! // A deployment reads its divisions from a file (`gridcase-regions`); here, four by hand.
//! let mut regions = RegionTree::new();
//! for (code, name) in [("330800", "衢州市"), ("330802", "柯城区"), ("330802005", "新新街道"),
//!                      ("330802005001", "金桂社区")] {
//!     regions.insert(code.parse().unwrap(), name).unwrap();
//! }
//! let grid: RegionCode = "330802005001007".parse().unwrap();
//! regions.add_grid(grid, None).unwrap();
//! let policy = Policy::default();
//! let worker = Actor::new(ActorId::new("gw-1").unwrap(), Role::GridWorker, Scope::Subtree(grid)).unwrap();
//! let at = Timestamp::parse("2026-03-02T02:00:00Z").unwrap();
//! // The engine's clock when deciding: the decider reads no clock of its own.
//! let ctx = Context { regions: &regions, policy: &policy, now: at };
//! let report = Command {
//!     actor: worker,
//!     occurred_at: at,
//!     action: Action::Report {
//!         kind: CaseKind::Dispute,
//!         category: Category::Neighbours,
//!         source: Source::GridPatrol,
//!         severity: Severity::Normal,
//!         location: grid,
//!         parties: vec![],
//!         summary: "邻里噪音纠纷".into(),
//!         happened_at: at,
//!     },
//! };
//! let events = decide(&CaseState::default(), &report, &ctx).unwrap();
//! assert_eq!(events[0].type_name(), "CaseReported");
//! ```

pub mod actor;
pub mod allowed;
pub mod casefile;
pub mod causes;
pub mod chain;
pub mod command;
pub mod decide;
pub mod event;
pub mod identifiers;
pub mod ids;
pub mod policy;
pub mod record;
pub mod region;
pub mod state;
pub mod text;
pub mod time;
pub mod vocab;

pub use actor::{Actor, ActorError, Role, Scope};
pub use allowed::allowed_actions;
pub use casefile::CaseFile;
pub use causes::{error_chain, error_messages};
pub use chain::{ChainHead, CommitHeader, LinkError};
pub use command::{Action, ActionKind, Command};
pub use decide::{check_merge_target, decide, Context, Rejection};
pub use event::{Event, EventBody, Party};
pub use ids::{ActorId, CaseId, CommandId, CorrelationId, EventId, Hash, IdError, PartyId};
pub use policy::{DeadlinePolicy, KindDeadline, Policy, TimePolicy, VerifierRule};
pub use record::{CodecError, Envelope, EventHeader, EventRecord, Upcaster};
pub use region::{Level, RegionCode, RegionError, RegionTree};
pub use state::{evolve, CaseState, Status};
pub use text::{Opened, Text, TextOpener, SEALED_MARK, SUMMARY_LABEL};
pub use time::Timestamp;
pub use vocab::*;
