//! The command path: load a case, decide, append with the expected version.
//!
//! [`CommandPath::execute`] is the only way commands reach the log. It
//! 1. loads the case (from a bounded cache of recent case states, else from the log),
//! 2. returns the first result if the command id was already applied to the case,
//! 3. decides (every business and scope rule lives in the domain's `decide`, which reads the
//!    engine's clock — the `recorded_at` the events will carry — from its context),
//! 4. seals the events (versions, hash chain, recorded-at) and appends them expecting the
//!    loaded version,
//! 5. on a conflict re-reads and re-decides, up to [`CommandPath::max_attempts`] times — unless
//!    the caller pinned an expected version, who then gets the conflict back.
//!
//! Within one process, commands on the same case take turns (a striped lock), so concurrent
//! clients queue rather than conflict; conflicts come only from other processes sharing the log.

use std::num::NonZeroUsize;
use std::sync::{Arc, Mutex};

use gridcase_domain::{
    chain, check_merge_target, decide, Action, ActorId, CaseId, CaseState, CodecError, Command,
    CommandId, CommitHeader, Context, CorrelationId, Envelope, EventRecord, Level, Policy,
    RegionCode, RegionTree, Rejection, Timestamp,
};

use crate::log::*;

/// A command addressed to a case, with its idempotency key and concurrency expectation.
#[derive(Debug, Clone)]
pub struct Submission {
    /// The case (for a report: the new case's id).
    pub case_id: CaseId,
    /// The idempotency key.
    pub command_id: CommandId,
    /// [`ExpectedVersion::Any`] to let the path re-decide on conflicts.
    pub expected: ExpectedVersion,
    /// Links to other commands.
    pub correlation_id: Option<CorrelationId>,
    /// What caused this command.
    pub causation_id: Option<CorrelationId>,
    /// The command.
    pub command: Command,
    /// A keyed fingerprint of the request (see [`Fingerprint`]): stored with the commit, and
    /// compared when the same command id comes again — another request under the same key is
    /// refused ([`CommandError::KeyMismatch`]) instead of answered with the first result.
    pub fingerprint: Option<Fingerprint>,
    /// Overrides the engine's clock for `recorded_at` and for the decider's `now`. Only for
    /// imports of historical data (fixtures, migrations); the HTTP API never sets it. What an
    /// import's commands name was checked when they were decided: its merges are not checked
    /// against the case they keep ([`gridcase_domain::check_merge_target`]), nor its handlers
    /// and mediators against [`People`].
    pub recorded_at: Option<Timestamp>,
}

/// What an executed command produced.
#[derive(Debug, Clone)]
pub struct Executed {
    /// The case.
    pub case_id: CaseId,
    /// The commit's global position.
    pub position: Position,
    /// The case version after the commit.
    pub version: u64,
    /// The events of the commit.
    pub events: Vec<EventRecord>,
    /// True when the command id had already been applied: this is the first result.
    pub duplicate: bool,
}

/// Why a command was not executed. Nothing was appended.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CommandError {
    /// The domain refused (HTTP 422): show the rejection.
    #[error("the domain rejected the command")]
    Rejected(#[from] Rejection),
    /// The pinned version is stale, or conflicts persisted past the retry budget (HTTP 409):
    /// re-read the case and try again.
    #[error(transparent)]
    Conflict(#[from] Conflict),
    /// The command id was already used with another request (HTTP 422
    /// `idempotency_key_mismatch`): nothing was appended; use a fresh key for a new request.
    #[error("command id {command_id} was already used for a different request")]
    KeyMismatch {
        /// The key.
        command_id: CommandId,
    },
    /// The command id was already used for another case (HTTP 409/422): use a fresh key.
    #[error("command id {command_id} was already used for case {case_id}")]
    CommandIdReused {
        /// The key.
        command_id: CommandId,
        /// The case it was used for.
        case_id: CaseId,
    },
    /// The log failed (HTTP 503 when unavailable).
    #[error(transparent)]
    Log(#[from] LogError),
    /// A stored event of the case could not be decoded: run `gridcase-replay verify`.
    #[error("case {case_id} has an undecodable event at position {position}")]
    Corrupt {
        /// The case.
        case_id: CaseId,
        /// The commit's position.
        position: Position,
        /// What the decoder said.
        #[source]
        source: CodecError,
    },
    /// A bug: the path built an invalid commit.
    #[error("internal error: the command path built an invalid commit")]
    InvalidCommit(#[source] InvalidCommit),
    /// A bug: the decided events could not be sealed into records.
    #[error("internal error: sealing the decided events")]
    Seal(#[source] CodecError),
    /// The events' free text could not be sealed.
    #[error(transparent)]
    Text(#[from] SealError),
    /// The log reported a duplicate at a position it cannot read back.
    #[error(
        "internal error: the log reported a duplicate at position {0}, which it does not have"
    )]
    MissingDuplicate(Position),
}

/// A case as loaded: its state and the commands already applied to it.
#[derive(Debug, Clone, Default)]
struct Loaded {
    state: CaseState,
    /// Each commit, for idempotent retries. Shared, so that the next state after an append
    /// copies references, not every event of the case's history.
    commits: Vec<Arc<AppliedCommit>>,
}

/// One commit of a loaded case.
#[derive(Debug)]
struct AppliedCommit {
    command_id: CommandId,
    position: Position,
    /// The case version after the commit.
    version: u64,
    events: Vec<EventRecord>,
    fingerprint: Option<Fingerprint>,
}

impl Loaded {
    /// The first result of the submission's command, if it was applied to the case; an
    /// error when it was applied for another request (both fingerprints known and different).
    fn applied(&self, sub: &Submission) -> Option<Result<Executed, CommandError>> {
        let c = self
            .commits
            .iter()
            .find(|c| c.command_id == sub.command_id)?;
        if let (Some(first), Some(now)) = (&c.fingerprint, &sub.fingerprint) {
            if first != now {
                return Some(Err(CommandError::KeyMismatch {
                    command_id: sub.command_id.clone(),
                }));
            }
        }
        Some(Ok(Executed {
            case_id: sub.case_id.clone(),
            position: c.position,
            version: c.version,
            events: c.events.clone(),
            duplicate: true,
        }))
    }
}

/// Who works where, as the deployment lists its people: lets the command path refuse a
/// handler or a mediator the unit does not have (a case assigned to a stranger, or a mediation
/// with someone who cannot end it, is stuck). The server's is its directory.
pub trait People: Send + Sync {
    /// Whether `person` is one of `unit`'s handlers (`mediator`: one of its mediators);
    /// `None` when the unit's people are not listed (then anyone is taken).
    fn works_for(&self, person: &ActorId, unit: RegionCode, mediator: bool) -> Option<bool>;
}

/// The people a decided command names, checked against `people`.
fn check_people(people: &dyn People, state: &CaseState, action: &Action) -> Result<(), Rejection> {
    match action {
        Action::Assign { handler } => {
            let Some(unit) = state.holder else {
                return Ok(());
            };
            match people.works_for(handler, unit, false) {
                Some(false) => Err(Rejection::HandlerNotOfUnit {
                    handler: handler.clone(),
                    unit,
                }),
                _ => Ok(()),
            }
        }
        Action::StartMediation {
            mediator,
            organization,
            ..
        } => match people.works_for(mediator, *organization, true) {
            Some(false) => Err(Rejection::MediatorNotOfOrganization {
                mediator: mediator.clone(),
                organization: *organization,
            }),
            _ => Ok(()),
        },
        _ => Ok(()),
    }
}

/// Seals the free text of decided events (summaries, notes, reasons) under the case's key
/// before they are chained, so that the log holds ciphertext ([`gridcase_domain::Text`]).
/// The server's is the personal data vault; without one, text is stored as written.
pub trait TextSealer: Send + Sync {
    /// Replaces every clear text of `events` of `case` with its sealed form.
    fn seal<'a>(
        &'a self,
        case: &'a CaseId,
        events: &'a mut [gridcase_domain::Event],
    ) -> futures::future::BoxFuture<'a, Result<(), SealError>>;
}

/// Why free text could not be sealed.
#[derive(Debug, thiserror::Error)]
pub enum SealError {
    /// The case's text key was erased: no new text can be written to the case (HTTP 422).
    #[error("the case's text was erased (its key destroyed): no new text can be added to it")]
    Erased,
    /// The key store failed (HTTP 503: nothing was appended; retry with the same key).
    #[error("sealing the case's text")]
    Unavailable(#[source] Box<dyn std::error::Error + Send + Sync>),
}

/// The clock that stamps `recorded_at` and that the decider checks commands' times against.
pub type Clock = Arc<dyn Fn() -> Timestamp + Send + Sync>;

/// Loads, decides and appends. Cheap to share behind an `Arc`.
pub struct CommandPath<L> {
    log: L,
    regions: Arc<RegionTree>,
    policy: Policy,
    cache: Mutex<lru::LruCache<CaseId, Arc<Loaded>>>,
    max_attempts: u32,
    clock: Clock,
    /// Commands on one case in this process take turns (striped by case id), so they queue
    /// instead of conflicting; conflicts then only come from other processes.
    stripes: Vec<tokio::sync::Mutex<()>>,
    /// Seals decided events' free text ([`CommandPath::with_sealer`]).
    sealer: Option<Arc<dyn TextSealer>>,
    /// The people handlers and mediators are checked against ([`CommandPath::with_people`]).
    people: Option<Arc<dyn People>>,
}

/// Lock stripes for per-case serialization.
const STRIPES: usize = 1024;

fn stripe_of(case: &CaseId) -> usize {
    // FNV-1a: stable and cheap.
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in case.as_str().bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    (h % STRIPES as u64) as usize
}

impl<L: EventLog> CommandPath<L> {
    /// A path over `log` with a cache of `cache_cases` recent cases.
    pub fn new(log: L, regions: Arc<RegionTree>, policy: Policy, cache_cases: usize) -> Self {
        CommandPath {
            log,
            regions,
            policy,
            cache: Mutex::new(lru::LruCache::new(
                NonZeroUsize::new(cache_cases.max(1)).expect("max(1)"),
            )),
            max_attempts: 5,
            clock: Arc::new(Timestamp::now),
            stripes: (0..STRIPES).map(|_| tokio::sync::Mutex::new(())).collect(),
            sealer: None,
            people: None,
        }
    }

    /// Seals the free text of every command's events with `sealer` before they are chained.
    pub fn with_sealer(mut self, sealer: Arc<dyn TextSealer>) -> Self {
        self.sealer = Some(sealer);
        self
    }

    /// Checks the handlers and mediators that commands name against `people` (not for
    /// imports of historical data: their people were checked then).
    pub fn with_people(mut self, people: Arc<dyn People>) -> Self {
        self.people = Some(people);
        self
    }

    /// Replaces the clock that stamps `recorded_at` (fixtures and tests).
    pub fn with_clock(mut self, clock: Clock) -> Self {
        self.clock = clock;
        self
    }

    /// How many times a conflicting command is re-decided before the conflict is returned.
    pub fn max_attempts(&self) -> u32 {
        self.max_attempts
    }

    /// The log.
    pub fn log(&self) -> &L {
        &self.log
    }

    /// The region tree.
    pub fn regions(&self) -> &RegionTree {
        &self.regions
    }

    /// The policy.
    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    /// The current state of a case (`Status::New` if unknown).
    pub async fn load(&self, case: &CaseId) -> Result<CaseState, CommandError> {
        Ok(self.loaded(case, false).await?.state.clone())
    }

    async fn loaded(&self, case: &CaseId, fresh: bool) -> Result<Arc<Loaded>, CommandError> {
        if !fresh {
            if let Some(l) = self.cache.lock().expect("cache lock").get(case) {
                return Ok(l.clone());
            }
        }
        let commits = self.log.read_case(case).await?;
        let mut l = Loaded::default();
        for c in commits {
            for r in &c.events {
                let env = Envelope::try_from(r).map_err(|source| CommandError::Corrupt {
                    case_id: case.clone(),
                    position: c.position,
                    source,
                })?;
                l.state.apply(&env);
            }
            let v = c.last_version();
            l.commits.push(Arc::new(AppliedCommit {
                command_id: c.command_id,
                position: c.position,
                version: v,
                events: c.events,
                fingerprint: c.fingerprint,
            }));
        }
        let l = Arc::new(l);
        self.cache
            .lock()
            .expect("cache lock")
            .put(case.clone(), l.clone());
        Ok(l)
    }

    /// Executes a command: see the module documentation.
    pub async fn execute(&self, sub: Submission) -> Result<Executed, CommandError> {
        let _turn = self.stripes[stripe_of(&sub.case_id)].lock().await;
        let mut fresh = false;
        let mut attempt = 0;
        loop {
            attempt += 1;
            let loaded = self.loaded(&sub.case_id, fresh).await?;
            if let Some(first) = loaded.applied(&sub) {
                return first;
            }
            let state = &loaded.state;
            if let ExpectedVersion::Exactly(v) = sub.expected {
                if v != state.version {
                    if !fresh {
                        // The cache may be behind the log; only a fresh read may refuse.
                        fresh = true;
                        continue;
                    }
                    return Err(Conflict {
                        expected: v,
                        actual: state.version,
                    }
                    .into());
                }
            }
            // One reading of the clock: the decider's `now` is the events' `recorded_at`.
            let now = sub.recorded_at.unwrap_or_else(|| (self.clock)());
            let ctx = Context {
                regions: &self.regions,
                policy: &self.policy,
                now,
            };
            let mut events = decide(state, &sub.command, &ctx)?;
            if let (Action::Merge { into, .. }, None) = (&sub.command.action, sub.recorded_at) {
                // The decider sees one case: the case a merge keeps is checked here. Not for an
                // import of historical data: its merges were decided then, and its cases are
                // loaded side by side (the kept case may not be in the log yet).
                let target = self.loaded(into, false).await?;
                check_merge_target(&sub.command.actor, into, &target.state)?;
            }
            if let (Some(people), None) = (&self.people, sub.recorded_at) {
                check_people(people.as_ref(), state, &sub.command.action)?;
            }
            if let Some(sealer) = &self.sealer {
                sealer.seal(&sub.case_id, &mut events).await?;
            }
            let commit = self.seal(&sub, state, &events, now)?;
            let records = commit.events.clone();
            let appended = self.log.append(commit).await;
            match appended {
                Ok(a) if a.duplicate => {
                    // Applied before, possibly by another process: read the first result back.
                    let l = self.loaded(&sub.case_id, true).await?;
                    return match l.applied(&sub) {
                        Some(first) => first,
                        None => Err(CommandError::CommandIdReused {
                            command_id: sub.command_id.clone(),
                            case_id: self.case_of_position(a.position).await?,
                        }),
                    };
                }
                Ok(a) => {
                    let mut next = (*loaded).clone();
                    // The events just decided are what the records hold: no need to decode.
                    for (r, e) in records.iter().zip(&events) {
                        next.state.apply_recorded(&r.header, e, r.hash);
                    }
                    next.commits.push(Arc::new(AppliedCommit {
                        command_id: sub.command_id.clone(),
                        position: a.position,
                        version: a.version,
                        events: records.clone(),
                        fingerprint: sub.fingerprint,
                    }));
                    self.cache
                        .lock()
                        .expect("cache lock")
                        .put(sub.case_id.clone(), Arc::new(next));
                    return Ok(Executed {
                        case_id: sub.case_id.clone(),
                        position: a.position,
                        version: a.version,
                        events: records,
                        duplicate: false,
                    });
                }
                Err(AppendError::Conflict(c)) => {
                    self.cache.lock().expect("cache lock").pop(&sub.case_id);
                    let pinned = matches!(sub.expected, ExpectedVersion::Exactly(_));
                    if pinned && fresh {
                        return Err(c.into());
                    }
                    if attempt >= self.max_attempts {
                        return Err(c.into());
                    }
                    fresh = true;
                }
                Err(AppendError::Invalid(e)) => return Err(CommandError::InvalidCommit(e)),
                Err(AppendError::Log(e)) => return Err(e.into()),
            }
        }
    }

    async fn case_of_position(&self, p: Position) -> Result<CaseId, CommandError> {
        let c = self.log.read_from(p, 1).await?;
        c.into_iter()
            .next()
            .map(|c| c.case_id)
            .ok_or(CommandError::MissingDuplicate(p))
    }

    fn seal(
        &self,
        sub: &Submission,
        state: &CaseState,
        events: &[gridcase_domain::Event],
        recorded_at: Timestamp,
    ) -> Result<Commit, CommandError> {
        let header = CommitHeader {
            case_id: sub.case_id.clone(),
            command_id: sub.command_id.clone(),
            occurred_at: sub.command.occurred_at,
            recorded_at,
            actor: sub.command.actor.clone(),
            correlation_id: sub.correlation_id.clone(),
            causation_id: sub.causation_id.clone(),
        };
        let records = chain::seal(&header, state.head(), events).map_err(CommandError::Seal)?;
        Ok(Commit {
            case_id: sub.case_id.clone(),
            partition: partition_for(state, &sub.command),
            command_id: sub.command_id.clone(),
            expected_version: state.version,
            events: records,
            fingerprint: sub.fingerprint,
        })
    }
}

/// The stable partition of a case: the county (or, for a city-held report, the city) of the
/// unit that first received it.
pub fn partition_for(state: &CaseState, command: &Command) -> RegionCode {
    // A report is received by the reporting actor's unit.
    partition_of(
        state
            .path
            .first()
            .copied()
            .unwrap_or_else(|| command.actor.unit()),
    )
}

/// The partition (county, or city for city-level codes) of a region.
pub fn partition_of(code: RegionCode) -> RegionCode {
    if code.level() == Level::City {
        code
    } else {
        code.ancestor_at(Level::County).unwrap_or(code)
    }
}
