//! Finding cases: the indexes the projection keeps beside its case views, and search over
//! them.
//!
//! [`Indexes`] holds, for every case, where it is located (also by category), which units
//! ever held it, when it was reported, who handles it, which mediators run or ran its
//! mediations, and the character unigrams and bigrams of its summary (Chinese has no spaces
//! between words, so text is matched by characters, then confirmed by a substring test). The
//! indexes are derived from the case views: they are built when a snapshot is loaded or a long
//! catch-up ends (see [`crate::Projection::catch_up`]), kept current by every commit applied
//! live, and never written to disk — the text index holds free text, which must not lie in
//! clear in the data directory (see DOMAIN.md, "Personal information").
//!
//! [`Projector::search`] narrows the candidates with the most selective index the query
//! allows (text, mediator, handler, category in a region, region), filters them with every
//! condition and the reader's visibility, sorts and pages them with an opaque cursor. Nothing
//! is capped silently: `total` counts every match.

use std::collections::{BTreeSet, HashSet};

use gridcase_domain::{
    ActorId, CaseId, CaseKind, CaseState, Category, Level, Party, PartyId, RegionCode, Source,
    Status, Text, TextOpener, Timestamp, SUMMARY_LABEL,
};

use crate::projector::{CaseEntry, FastMap, Projector};

/// How search results are ordered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SearchSort {
    /// Most recently reported first (the default).
    #[default]
    Newest,
    /// Earliest reported first.
    Oldest,
    /// Soonest deadline first (overdue cases first, cases without a deadline last).
    Deadline,
    /// Most recently changed first.
    Updated,
}

impl SearchSort {
    /// Every order, by wire name.
    pub const ALL: [SearchSort; 4] = [
        SearchSort::Newest,
        SearchSort::Oldest,
        SearchSort::Deadline,
        SearchSort::Updated,
    ];

    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            SearchSort::Newest => "newest",
            SearchSort::Oldest => "oldest",
            SearchSort::Deadline => "deadline",
            SearchSort::Updated => "updated",
        }
    }
}

/// What to look for. Every condition that is set must hold.
#[derive(Debug, Clone, Default)]
pub struct SearchQuery {
    /// Cases located in this subtree.
    pub region: Option<RegionCode>,
    /// Cases in one of these statuses (any when empty).
    pub status: Vec<Status>,
    /// Of this kind.
    pub kind: Option<CaseKind>,
    /// Of this category.
    pub category: Option<Category>,
    /// From this source.
    pub source: Option<Source>,
    /// Held by exactly this unit.
    pub holder: Option<RegionCode>,
    /// Held by a unit in this subtree.
    pub held_in: Option<RegionCode>,
    /// Held at this level.
    pub level: Option<Level>,
    /// Open and past their deadline at `now` (or, when false, not).
    pub overdue: Option<bool>,
    /// Assigned to this handler.
    pub assignee: Option<ActorId>,
    /// With a mediation (running or concluded) run by this mediator.
    pub mediator: Option<ActorId>,
    /// Only a running mediation counts for `mediator`.
    pub mediation_active: bool,
    /// Reported at or after this time.
    pub reported_from: Option<Timestamp>,
    /// Reported before this time.
    pub reported_to: Option<Timestamp>,
    /// Text in the summary (case-insensitive for Latin letters).
    pub text: Option<String>,
    /// With one of these parties (any when empty): the server fills it from the personal
    /// data vault's blind index, so a person is found without their name being indexed here.
    pub parties: Vec<PartyId>,
    /// The order.
    pub sort: SearchSort,
    /// Most results on a page (at least 1).
    pub limit: usize,
    /// Where the previous page ended ([`SearchPage::next`]).
    pub cursor: Option<String>,
}

/// Who is reading: search only ever returns cases the reader may see.
#[derive(Debug, Clone)]
pub enum Visibility {
    /// Cases located in, or ever held in, this subtree.
    Subtree(RegionCode),
    /// Cases with a mediation run by this mediator.
    Mediator(ActorId),
}

/// One page of results.
#[derive(Debug)]
pub struct SearchPage<'a> {
    /// The cases of this page, in order.
    pub items: Vec<&'a CaseEntry>,
    /// How many cases match in all.
    pub total: usize,
    /// The cursor of the next page, if there is one.
    pub next: Option<String>,
}

/// Why a query cannot be answered.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SearchError {
    /// The cursor was not made by this order of results.
    #[error("the cursor does not belong to this search (sort {sort}): start again without it")]
    BadCursor {
        /// The order asked for.
        sort: &'static str,
    },
}

/// The index keys of one case: what changes in a commit decides which indexes move.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct IndexKeys {
    location: Option<RegionCode>,
    category: Option<Category>,
    units: Vec<RegionCode>,
    reported: Option<i64>,
    handler: Option<ActorId>,
    mediators: Vec<ActorId>,
    /// How many parties the case has: parties only ever join a case, so the count says which
    /// are new (their ids are indexed from the case itself, without copying them per commit).
    parties: usize,
    /// The summary as the case view holds it (sealed or clear): opened only when it changes.
    summary: Option<Text>,
    /// Location and holder while the case is open (work lists ask for open cases only).
    open: Option<(RegionCode, Option<RegionCode>)>,
}

impl IndexKeys {
    pub(crate) fn of(s: &CaseState) -> IndexKeys {
        let mut units = s.path.clone();
        units.sort();
        units.dedup();
        let mut mediators: Vec<ActorId> = s
            .mediations
            .iter()
            .map(|m| m.mediator.clone())
            .chain(s.mediation.iter().map(|m| m.mediator.clone()))
            .collect();
        mediators.sort();
        mediators.dedup();
        IndexKeys {
            parties: s.details.as_ref().map_or(0, |d| d.parties.len()),
            location: s.details.as_ref().map(|d| d.location),
            category: s.details.as_ref().map(|d| d.category),
            units,
            reported: s.reported_at.map(Timestamp::as_millis),
            handler: s.handler.clone(),
            mediators,
            summary: s.details.as_ref().map(|d| d.summary.clone()),
            open: s
                .details
                .as_ref()
                .filter(|_| s.status.is_open())
                .map(|d| (d.location, s.holder)),
        }
    }
}

/// The search indexes of a projection (never persisted).
///
/// The indexes name a case by its number here ([`CaseNumbers`]), not by its id: an entry is
/// a few bytes and is inserted without allocating or comparing ids.
#[derive(Debug, Clone, Default)]
pub(crate) struct Indexes {
    numbers: CaseNumbers,
    sets: Sets<Tree>,
    text: TextIndex,
    /// The opened summaries of cases whose summary is sealed (in memory only), for the
    /// substring test of text queries.
    opened: FastMap<CaseId, String>,
}

/// The sorted indexes: entries (key, case number).
#[derive(Debug, Clone, Default)]
struct Sets<H: Hold> {
    by_location: H::Of<(RegionCode, u32)>,
    /// Cases by category, then location (a region's cases of one category).
    by_category: H::Of<(Category, RegionCode, u32)>,
    by_unit: H::Of<(RegionCode, u32)>,
    by_reported: H::Of<(i64, u32)>,
    by_handler: H::Of<(ActorId, u32)>,
    by_mediator: H::Of<(ActorId, u32)>,
    by_party: H::Of<(PartyId, u32)>,
    /// Open cases by location.
    open_by_location: H::Of<(RegionCode, u32)>,
    /// Open cases by their holding unit.
    open_by_holder: H::Of<(RegionCode, u32)>,
}

/// How [`Sets`] hold their entries: in B-trees ([`Tree`], searched and updated entry by
/// entry), or gathered unsorted ([`Gather`]) while the indexes of a whole projection are
/// built, then sorted once each — inserting hundreds of thousands of entries one by one at
/// random places was a third of that build.
trait Hold {
    type Of<E: Ord + Clone + std::fmt::Debug>: Entries<E> + Default + Clone + std::fmt::Debug;
}

#[derive(Debug, Clone, Default)]
struct Tree;

impl Hold for Tree {
    type Of<E: Ord + Clone + std::fmt::Debug> = BTreeSet<E>;
}

#[derive(Debug, Clone, Default)]
struct Gather;

impl Hold for Gather {
    type Of<E: Ord + Clone + std::fmt::Debug> = Vec<E>;
}

/// Entries of one index.
trait Entries<E> {
    fn put(&mut self, e: E);
    fn take(&mut self, e: &E);
}

impl<E: Ord> Entries<E> for BTreeSet<E> {
    fn put(&mut self, e: E) {
        self.insert(e);
    }

    fn take(&mut self, e: &E) {
        self.remove(e);
    }
}

impl<E: PartialEq> Entries<E> for Vec<E> {
    fn put(&mut self, e: E) {
        self.push(e);
    }

    fn take(&mut self, e: &E) {
        self.retain(|x| x != e);
    }
}

impl Sets<Gather> {
    /// Each index sorted (duplicates dropped, as a set drops them).
    fn sorted(self) -> Sets<Tree> {
        Sets {
            by_location: self.by_location.into_iter().collect(),
            by_category: self.by_category.into_iter().collect(),
            by_unit: self.by_unit.into_iter().collect(),
            by_reported: self.by_reported.into_iter().collect(),
            by_handler: self.by_handler.into_iter().collect(),
            by_mediator: self.by_mediator.into_iter().collect(),
            by_party: self.by_party.into_iter().collect(),
            open_by_location: self.open_by_location.into_iter().collect(),
            open_by_holder: self.open_by_holder.into_iter().collect(),
        }
    }
}

impl<H: Hold> Sets<H> {
    /// Moves case number `n` from the `old` keys to the `new` ones; `parties` are the case's
    /// parties now.
    fn update(&mut self, n: u32, old: &IndexKeys, new: &IndexKeys, parties: &[Party]) {
        if old.location != new.location {
            if let Some(l) = old.location {
                self.by_location.take(&(l, n));
            }
            if let Some(l) = new.location {
                self.by_location.put((l, n));
            }
        }
        if (old.category, old.location) != (new.category, new.location) {
            if let (Some(c), Some(l)) = (old.category, old.location) {
                self.by_category.take(&(c, l, n));
            }
            if let (Some(c), Some(l)) = (new.category, new.location) {
                self.by_category.put((c, l, n));
            }
        }
        if old.units != new.units {
            for u in old.units.iter().filter(|u| !new.units.contains(u)) {
                self.by_unit.take(&(*u, n));
            }
            for u in new.units.iter().filter(|u| !old.units.contains(u)) {
                self.by_unit.put((*u, n));
            }
        }
        if old.reported != new.reported {
            if let Some(r) = old.reported {
                self.by_reported.take(&(r, n));
            }
            if let Some(r) = new.reported {
                self.by_reported.put((r, n));
            }
        }
        if old.handler != new.handler {
            if let Some(h) = &old.handler {
                self.by_handler.take(&(h.clone(), n));
            }
            if let Some(h) = &new.handler {
                self.by_handler.put((h.clone(), n));
            }
        }
        if old.mediators != new.mediators {
            for m in old.mediators.iter().filter(|m| !new.mediators.contains(m)) {
                self.by_mediator.take(&(m.clone(), n));
            }
            for m in new.mediators.iter().filter(|m| !old.mediators.contains(m)) {
                self.by_mediator.put((m.clone(), n));
            }
        }
        if new.parties > old.parties {
            for p in parties.get(old.parties..).unwrap_or_default() {
                self.by_party.put((p.id.clone(), n));
            }
        }
        if old.open != new.open {
            if let Some((location, holder)) = old.open {
                self.open_by_location.take(&(location, n));
                if let Some(h) = holder {
                    self.open_by_holder.take(&(h, n));
                }
            }
            if let Some((location, holder)) = new.open {
                self.open_by_location.put((location, n));
                if let Some(h) = holder {
                    self.open_by_holder.put((h, n));
                }
            }
        }
    }
}

/// Cases numbered in the order the indexes first see them.
#[derive(Debug, Clone, Default)]
struct CaseNumbers {
    ids: Vec<CaseId>,
    of: FastMap<CaseId, u32>,
}

impl CaseNumbers {
    /// The number of `case`, given one if it has none yet.
    fn number(&mut self, case: &CaseId) -> u32 {
        if let Some(n) = self.of.get(case) {
            return *n;
        }
        let n = u32::try_from(self.ids.len()).expect("fewer than 2^32 cases");
        self.ids.push(case.clone());
        self.of.insert(case.clone(), n);
        n
    }

    fn get(&self, case: &CaseId) -> Option<u32> {
        self.of.get(case).copied()
    }

    fn id(&self, n: u32) -> &CaseId {
        &self.ids[n as usize]
    }
}

impl Indexes {
    /// Forgets the opened summary of `case`.
    pub(crate) fn forget_text(&mut self, case: &CaseId) {
        self.opened.remove(case);
        // Its grams stay posted: make every hit be checked against the text, which is gone.
        if let Some(doc) = self.numbers.get(case) {
            self.text.revised.insert(doc);
        }
    }

    /// Moves `case` from the `old` keys to the `new` ones; `parties` are the case's parties now.
    pub(crate) fn update(
        &mut self,
        case: &CaseId,
        old: &IndexKeys,
        new: &IndexKeys,
        parties: &[Party],
        opener: Option<&dyn TextOpener>,
    ) {
        let n = self.numbers.number(case);
        self.sets.update(n, old, new, parties);
        self.update_text(case, n, old, new, opener);
    }

    /// The summary's part of [`Indexes::update`]: its grams, and the opened text of a sealed one.
    fn update_text(
        &mut self,
        case: &CaseId,
        n: u32,
        old: &IndexKeys,
        new: &IndexKeys,
        opener: Option<&dyn TextOpener>,
    ) {
        if old.summary != new.summary {
            match &new.summary {
                Some(Text::Clear(s)) => {
                    self.opened.remove(case);
                    self.text.add(n, s);
                }
                Some(sealed) => {
                    // Text that cannot be opened here (its key erased, or made by another
                    // process) is not searchable.
                    let opened = sealed.open(case, SUMMARY_LABEL, opener);
                    match opened.text() {
                        Some(s) => {
                            self.text.add(n, s);
                            self.opened.insert(case.clone(), s.to_owned());
                        }
                        None => {
                            self.opened.remove(case);
                        }
                    }
                }
                None => {}
            }
        }
    }

    /// The indexes of many cases at once: `views` (id, keys, parties) in the order their
    /// numbers are given, each set sorted once at the end.
    fn of_views<'a>(
        views: impl Iterator<Item = (&'a CaseId, IndexKeys, &'a [Party])>,
        opener: Option<&dyn TextOpener>,
    ) -> Indexes {
        let mut index = Indexes::default();
        let mut gathered = Sets::<Gather>::default();
        let empty = IndexKeys::default();
        for (case, keys, parties) in views {
            let n = index.numbers.number(case);
            gathered.update(n, &empty, &keys, parties);
            index.update_text(case, n, &empty, &keys, opener);
        }
        index.sets = gathered.sorted();
        index
    }

    fn subtree(
        set: &BTreeSet<(RegionCode, u32)>,
        root: RegionCode,
    ) -> impl Iterator<Item = u32> + '_ {
        set.range((root, 0)..)
            .take_while(move |(r, _)| root.contains(*r))
            .map(|(_, n)| *n)
    }

    /// The cases of `category` located in `root`'s subtree.
    fn category_in(&self, category: Category, root: RegionCode) -> impl Iterator<Item = u32> + '_ {
        self.sets
            .by_category
            .range((category, root, 0)..)
            .take_while(move |(c, r, _)| *c == category && root.contains(*r))
            .map(|(_, _, n)| *n)
    }

    fn of_party<'a>(&'a self, party: &'a PartyId) -> impl Iterator<Item = u32> + 'a {
        self.sets
            .by_party
            .range((party.clone(), 0)..)
            .take_while(move |(p, _)| p == party)
            .map(|(_, n)| *n)
    }

    fn of_actor<'a>(
        set: &'a BTreeSet<(ActorId, u32)>,
        actor: &'a ActorId,
    ) -> impl Iterator<Item = u32> + 'a {
        set.range((actor.clone(), 0)..)
            .take_while(move |(a, _)| a == actor)
            .map(|(_, n)| *n)
    }

    /// The cases whose summary may contain `query`, each with whether it surely does.
    fn text_candidates(&self, query: &[char]) -> Vec<(&CaseId, bool)> {
        self.text
            .candidates_confirmed(query)
            .into_iter()
            .map(|(n, sure)| (self.numbers.id(n), sure))
            .collect()
    }
}

/// Unigram and bigram postings of the summaries, by case number. Postings only grow: a
/// corrected summary adds its new grams, and the substring test on the current summary drops
/// what no longer fits.
#[derive(Debug, Clone, Default)]
struct TextIndex {
    postings: FastMap<u64, Vec<u32>>,
    /// By case number: whether a summary of the case was indexed.
    has_text: Vec<bool>,
    /// Documents whose summary was corrected: their postings may name grams the summary no
    /// longer has.
    revised: HashSet<u32>,
}

/// The searchable form of a text: lower case, without white space.
fn normalize(s: &str) -> Vec<char> {
    s.chars()
        .filter(|c| !c.is_whitespace())
        .flat_map(char::to_lowercase)
        .collect()
}

fn gram(a: char, b: Option<char>) -> u64 {
    (u64::from(a as u32) << 32) | u64::from(b.map_or(0x11_0000, |b| b as u32))
}

/// The grams of a text: every character, and every pair of neighbours.
fn grams(chars: &[char]) -> impl Iterator<Item = u64> + '_ {
    chars
        .iter()
        .map(|c| gram(*c, None))
        .chain(chars.windows(2).map(|w| gram(w[0], Some(w[1]))))
}

impl TextIndex {
    fn add(&mut self, doc: u32, text: &str) {
        let i = doc as usize;
        if self.has_text.len() <= i {
            self.has_text.resize(i + 1, false);
        }
        if std::mem::replace(&mut self.has_text[i], true) {
            self.revised.insert(doc);
        }
        let chars = normalize(text);
        let mut grams: Vec<u64> = grams(&chars).collect();
        grams.sort_unstable();
        grams.dedup();
        for g in grams {
            let list = self.postings.entry(g).or_default();
            // Cases are numbered as they come, so a new summary's number is usually the
            // largest: appended, no search.
            match list.last() {
                Some(&last) if last >= doc => {
                    if let Err(at) = list.binary_search(&doc) {
                        list.insert(at, doc);
                    }
                }
                _ => list.push(doc),
            }
        }
    }

    /// The cases whose summary may contain `query` (a superset: confirm with the text).
    #[cfg(test)]
    fn candidates(&self, query: &[char]) -> Vec<u32> {
        self.candidates_confirmed(query)
            .into_iter()
            .map(|(c, _)| c)
            .collect()
    }

    /// The cases whose summary may contain `query`, each with whether it surely does: a query
    /// of one or two characters is a single posting, exact for a summary never corrected.
    fn candidates_confirmed(&self, query: &[char]) -> Vec<(u32, bool)> {
        let exact = query.len() <= 2;
        let keys: Vec<u64> = if query.len() == 1 {
            vec![gram(query[0], None)]
        } else {
            query.windows(2).map(|w| gram(w[0], Some(w[1]))).collect()
        };
        let mut lists: Vec<&Vec<u32>> = Vec::with_capacity(keys.len());
        for k in &keys {
            match self.postings.get(k) {
                Some(l) => lists.push(l),
                None => return Vec::new(),
            }
        }
        lists.sort_by_key(|l| l.len());
        let Some((first, rest)) = lists.split_first() else {
            return Vec::new();
        };
        first
            .iter()
            .filter(|d| rest.iter().all(|l| l.binary_search(d).is_ok()))
            .map(|d| (*d, exact && !self.revised.contains(d)))
            .collect()
    }
}

/// The sort key of a case in an order: smaller comes first.
fn sort_key(sort: SearchSort, e: &CaseEntry) -> i64 {
    let reported = e.state.reported_at.map_or(0, Timestamp::as_millis);
    match sort {
        SearchSort::Newest => -reported,
        SearchSort::Oldest => reported,
        SearchSort::Deadline => match e.state.deadline {
            Some(d) if e.state.status.is_open() => d.as_millis(),
            _ => i64::MAX,
        },
        SearchSort::Updated => -e.updated_at.as_millis(),
    }
}

/// A cursor: opaque to clients (hex), standing for the order, the sort key and the case of
/// the last row given.
fn encode_cursor(sort: SearchSort, key: i64, case: &CaseId) -> String {
    hex::encode(format!("{}.{key}.{case}", sort.as_str()))
}

fn decode_cursor(sort: SearchSort, cursor: &str) -> Result<(i64, CaseId), SearchError> {
    let bad = || SearchError::BadCursor {
        sort: sort.as_str(),
    };
    let cursor = hex::decode(cursor)
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .ok_or_else(bad)?;
    let rest = cursor
        .strip_prefix(sort.as_str())
        .and_then(|r| r.strip_prefix('.'))
        .ok_or_else(bad)?;
    let (key, case) = rest.split_once('.').ok_or_else(bad)?;
    Ok((
        key.parse().map_err(|_| bad())?,
        CaseId::new(case).map_err(|_| bad())?,
    ))
}

impl Projector {
    /// Every search index, built from the case views (after loading a snapshot or a long
    /// catch-up).
    pub(crate) fn indexes_of_views(&self) -> Indexes {
        let mut ids: Vec<&CaseId> = self.cases.keys().collect();
        // Text documents are numbered in a stable order.
        ids.sort();
        let views = ids.into_iter().map(|id| {
            let state = &self.cases[id].state;
            let parties = state.details.as_ref().map_or(&[][..], |d| &d.parties[..]);
            (id, IndexKeys::of(state), parties)
        });
        Indexes::of_views(views, self.opener.as_deref())
    }

    /// One page of the cases that match `q` and that `visible` lets the reader see; see the
    /// module documentation.
    ///
    /// # Errors
    ///
    /// [`SearchError::BadCursor`] for a cursor of another order or a malformed one.
    pub fn search(
        &self,
        q: &SearchQuery,
        visible: &Visibility,
        now: Timestamp,
    ) -> Result<SearchPage<'_>, SearchError> {
        self.debug_assert_lookups_current();
        let after = q
            .cursor
            .as_deref()
            .map(|c| decode_cursor(q.sort, c))
            .transpose()?;
        let text = q.text.as_deref().map(normalize).filter(|t| !t.is_empty());
        let idx = &self.index;
        // Work lists ask for open cases: their indexes are far smaller than the history's.
        let open_only = !q.status.is_empty() && q.status.iter().all(|s| s.is_open());
        let scope = match visible {
            Visibility::Subtree(r) => Some(*r),
            Visibility::Mediator(_) => None,
        };
        // The most selective index the query and the reader allow.
        // Each candidate with whether its text is already known to match.
        let candidates: Vec<(&CaseId, bool)> = if !q.parties.is_empty() {
            // A person is in few cases: the most selective index of all.
            let mut seen: HashSet<u32> = HashSet::new();
            q.parties
                .iter()
                .flat_map(|p| idx.of_party(p))
                .filter(|n| seen.insert(*n))
                .map(|n| (idx.numbers.id(n), false))
                .collect()
        } else if let Some(t) = &text {
            idx.text_candidates(t)
        } else {
            let numbers: Vec<u32> = if let Some(m) = q.mediator.as_ref().or(match visible {
                Visibility::Mediator(m) => Some(m),
                Visibility::Subtree(_) => None,
            }) {
                Indexes::of_actor(&idx.sets.by_mediator, m).collect()
            } else if let Some(h) = &q.assignee {
                Indexes::of_actor(&idx.sets.by_handler, h).collect()
            } else if let (true, Some(root)) = (open_only, q.holder.or(q.held_in)) {
                // One holder per case: no duplicates.
                Indexes::subtree(&idx.sets.open_by_holder, root).collect()
            } else if let (true, Some(region)) = (open_only, q.region) {
                // `region` filters by location, so the open cases located there are all candidates.
                Indexes::subtree(&idx.sets.open_by_location, region).collect()
            } else if let (Some(category), Some(region)) = (q.category, q.region) {
                // `region` filters by location: the cases of the category located there.
                idx.category_in(category, region).collect()
            } else if let Some(root) = q.holder.or(q.held_in) {
                // Every unit that ever held a case is indexed, the current holder among them; a
                // case held by several units of the subtree comes once.
                let mut seen: HashSet<u32> = HashSet::new();
                Indexes::subtree(&idx.sets.by_unit, root)
                    .filter(|n| seen.insert(*n))
                    .collect()
            } else {
                let root = match (q.region, scope) {
                    (Some(r), Some(s)) if s.contains(r) => Some(r),
                    (Some(r), Some(s)) if r.contains(s) => Some(s),
                    (Some(_), Some(_)) => return Ok(empty_page()),
                    (r, s) => r.or(s),
                };
                match root {
                    Some(root) => {
                        let mut seen: HashSet<u32> = HashSet::new();
                        Indexes::subtree(&idx.sets.by_location, root)
                            .chain(Indexes::subtree(&idx.sets.by_unit, root))
                            .filter(|n| seen.insert(*n))
                            .collect()
                    }
                    None => idx.sets.by_reported.iter().map(|(_, n)| *n).collect(),
                }
            };
            numbers
                .into_iter()
                .map(|n| (idx.numbers.id(n), false))
                .collect()
        };
        let mut matches: Vec<(i64, &CaseEntry)> = candidates
            .into_iter()
            .filter_map(|(c, text_known)| Some((c, self.cases.get(c)?, text_known)))
            .filter(|(_, e, _)| is_visible(visible, &e.state))
            .filter(|(c, e, text_known)| {
                let text = if *text_known { None } else { text.as_deref() };
                matches(q, text, (c, e), idx, now)
            })
            .map(|(_, e, _)| (sort_key(q.sort, e), e))
            .collect();
        let total = matches.len();
        matches.sort_by(|a, b| (a.0, &a.1.state.id).cmp(&(b.0, &b.1.state.id)));
        let start = match &after {
            Some((key, case)) => {
                matches.partition_point(|(k, e)| (*k, e.state.id.as_ref()) <= (*key, Some(case)))
            }
            None => 0,
        };
        let limit = q.limit.max(1);
        let page: Vec<&CaseEntry> = matches[start..]
            .iter()
            .take(limit)
            .map(|(_, e)| *e)
            .collect();
        let next = if start + limit < matches.len() {
            page.last().and_then(|e| {
                let id = e.state.id.as_ref()?;
                Some(encode_cursor(q.sort, sort_key(q.sort, e), id))
            })
        } else {
            None
        };
        Ok(SearchPage {
            items: page,
            total,
            next,
        })
    }
}

fn empty_page<'a>() -> SearchPage<'a> {
    SearchPage {
        items: Vec::new(),
        total: 0,
        next: None,
    }
}

/// Whether the reader may see the case: located in or ever held in the subtree, or a
/// mediation run by the mediator.
pub fn is_visible(v: &Visibility, s: &CaseState) -> bool {
    match v {
        Visibility::Subtree(root) => {
            s.details
                .as_ref()
                .is_some_and(|d| root.contains(d.location))
                || s.path.iter().any(|u| root.contains(*u))
        }
        Visibility::Mediator(m) => {
            s.mediation.as_ref().is_some_and(|a| &a.mediator == m)
                || s.mediations.iter().any(|r| &r.mediator == m)
        }
    }
}

fn matches(
    q: &SearchQuery,
    text: Option<&[char]>,
    (case, e): (&CaseId, &CaseEntry),
    idx: &Indexes,
    now: Timestamp,
) -> bool {
    let s = &e.state;
    let Some(d) = s.details.as_ref() else {
        return false;
    };
    let summary = || match &d.summary {
        Text::Clear(s) => s.as_str(),
        Text::Sealed(_) => idx.opened.get(case).map_or("", String::as_str),
    };
    q.region.is_none_or(|r| r.contains(d.location))
        && (q.status.is_empty() || q.status.contains(&s.status))
        && q.kind.is_none_or(|k| k == d.kind)
        && q.category.is_none_or(|c| c == d.category)
        && q.source.is_none_or(|x| x == d.source)
        && q.holder.is_none_or(|h| s.holder == Some(h))
        && q.held_in
            .is_none_or(|r| s.holder.is_some_and(|h| r.contains(h)))
        && q.level.is_none_or(|l| s.holder_level() == Some(l))
        && q.overdue.is_none_or(|o| s.is_overdue(now) == o)
        && q.assignee
            .as_ref()
            .is_none_or(|h| s.handler.as_ref() == Some(h))
        && q.mediator.as_ref().is_none_or(|m| {
            s.mediation.as_ref().is_some_and(|a| &a.mediator == m)
                || (!q.mediation_active && s.mediations.iter().any(|r| &r.mediator == m))
        })
        && q.reported_from
            .is_none_or(|t| s.reported_at.is_some_and(|r| r >= t))
        && q.reported_to
            .is_none_or(|t| s.reported_at.is_some_and(|r| r < t))
        && text.is_none_or(|t| contains_normalized(summary(), t))
        && (q.parties.is_empty() || d.parties.iter().any(|p| q.parties.contains(&p.id)))
}

/// Whether the normalised form of `text` contains `query` (already normalised), without
/// allocating: a candidate check runs for every posting of a common pair of characters.
fn contains_normalized(text: &str, query: &[char]) -> bool {
    let chars = || {
        text.chars()
            .filter(|c| !c.is_whitespace())
            .flat_map(char::to_lowercase)
    };
    let mut starts = chars();
    loop {
        let mut window = starts.clone();
        if query.iter().all(|q| window.next() == Some(*q)) {
            return true;
        }
        if starts.next().is_none() {
            return false;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use gridcase_domain::Opened;

    /// "Seals" by reversing the bytes: enough to tell opened text from stored text.
    #[derive(Debug)]
    struct Reverse;

    impl TextOpener for Reverse {
        fn open(&self, _: &CaseId, label: &str, sealed: &[u8]) -> Opened {
            if label != SUMMARY_LABEL {
                return Opened::Unavailable;
            }
            let mut b = sealed.to_vec();
            b.reverse();
            String::from_utf8(b).map_or(Opened::Unavailable, Opened::Clear)
        }
    }

    #[test]
    fn sealed_summaries_are_searchable_once_opened_and_only_then() {
        let a = CaseId::new("a").unwrap();
        let mut bytes = "楼上漏水".as_bytes().to_vec();
        bytes.reverse();
        let keys = IndexKeys {
            summary: Some(Text::Sealed(bytes)),
            ..IndexKeys::default()
        };
        let mut idx = Indexes::default();
        idx.update(&a, &IndexKeys::default(), &keys, &[], Some(&Reverse));
        assert_eq!(idx.text_candidates(&normalize("漏水")), vec![(&a, true)]);
        assert_eq!(idx.opened.get(&a).map(String::as_str), Some("楼上漏水"));
        // Without the key, nothing of the text is indexed.
        let mut idx = Indexes::default();
        idx.update(&a, &IndexKeys::default(), &keys, &[], None);
        assert!(idx.text_candidates(&normalize("漏水")).is_empty());
        assert!(idx.opened.is_empty());
    }

    #[test]
    fn a_corrected_summary_is_checked_against_its_text() {
        let mut t = TextIndex::default();
        let (a, b) = (0, 1);
        t.add(b, "楼上漏水");
        t.add(a, "楼上漏水");
        t.add(a, "路灯电缆裸露");
        // The old grams stay posted, so the text must be confirmed; the other case's need not.
        assert_eq!(
            t.candidates_confirmed(&normalize("漏水")),
            vec![(a, false), (b, true)]
        );
        assert_eq!(t.candidates_confirmed(&normalize("路灯")), vec![(a, false)]);
    }

    #[test]
    fn grams_find_chinese_text_without_spaces() {
        let mut t = TextIndex::default();
        let (a, b) = (0, 1);
        t.add(a, "楼上漏水引发邻里纠纷");
        t.add(b, "路灯电缆裸露 Street light");
        assert_eq!(t.candidates_confirmed(&normalize("漏水")), vec![(a, true)]);
        assert_eq!(t.candidates(&normalize("漏水")), vec![a]);
        assert_eq!(t.candidates(&normalize("纠")), vec![a]);
        assert_eq!(t.candidates(&normalize("light")), vec![b]);
        assert_eq!(t.candidates(&normalize("STREET")), vec![b]);
        assert!(t.candidates(&normalize("火灾")).is_empty());
    }

    #[test]
    fn cursors_belong_to_their_order() {
        let c = CaseId::new("330802-abc").unwrap();
        let s = encode_cursor(SearchSort::Deadline, -17, &c);
        assert_eq!(decode_cursor(SearchSort::Deadline, &s), Ok((-17, c)));
        assert!(decode_cursor(SearchSort::Newest, &s).is_err());
        assert!(decode_cursor(SearchSort::Newest, "garbage").is_err());
    }
}
