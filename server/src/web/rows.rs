//! Cases in lists (我的工作台 and 检索): the API's [`CaseRow`] as a person reads it — names
//! instead of ids and codes, the deadline as a countdown (red when overdue, amber within a
//! day), and the partial that shows a page of them with its pager.

use askama::Template;
use gridcase_domain::Timestamp;

use super::i18n::{Clock, Tr};
use super::status_class;
use crate::api::shape::{CaseRow, Page};

/// How near a deadline is: the countdown's colour.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Due {
    /// No deadline running (closed, referred, not registered yet).
    None,
    /// Past it.
    Overdue,
    /// Within a day.
    Soon,
    /// Later.
    Later,
}

impl Due {
    /// The CSS class.
    pub fn class(self) -> &'static str {
        match self {
            Due::None => "due-none",
            Due::Overdue => "due-overdue",
            Due::Soon => "due-soon",
            Due::Later => "due-later",
        }
    }
}

/// The countdown to a deadline of an open case: `剩 2天3小时`, `超期 5小时`.
pub fn countdown(t: Tr, deadline: Option<Timestamp>, open: bool, now: Timestamp) -> (String, Due) {
    let Some(d) = deadline.filter(|_| open) else {
        return ("—".into(), Due::None);
    };
    let ms = d.as_millis() - now.as_millis();
    let left = ms.unsigned_abs() / 60_000;
    let (days, hours, minutes) = (left / 1440, left % 1440 / 60, left % 60);
    let span = match (t.zh(), days, hours) {
        (true, 0, 0) => format!("{minutes}分钟"),
        (true, 0, h) => format!("{h}小时{minutes}分"),
        (true, d, h) => format!("{d}天{h}小时"),
        (false, 0, 0) => format!("{minutes} min"),
        (false, 0, h) => format!("{h} h {minutes} min"),
        (false, d, h) => format!("{d} d {h} h"),
    };
    if ms < 0 {
        let word = if t.zh() { "超期" } else { "overdue" };
        (format!("{word} {span}"), Due::Overdue)
    } else {
        let word = if t.zh() { "剩" } else { "left:" };
        let due = if ms <= 24 * 3600 * 1000 {
            Due::Soon
        } else {
            Due::Later
        };
        (format!("{word} {span}"), due)
    }
}

/// Cuts a summary to `n` characters (with `…`).
pub fn short(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_owned()
    } else {
        let mut out: String = s.chars().take(n).collect();
        out.push('…');
        out
    }
}

/// One case in a list.
#[derive(Debug, Clone)]
pub struct RowView {
    /// The case id.
    pub id: String,
    /// Its summary, cut short.
    pub summary: String,
    /// `矛盾纠纷 · 邻里`.
    pub what: String,
    /// Severity's wire name (its class) and its name, when not normal.
    pub severity: Option<(&'static str, String)>,
    /// Where, names below the city.
    pub place: String,
    /// The holding unit's name.
    pub holder: String,
    /// Handler and mediator names (`—` when none).
    pub people: String,
    /// Status name and its badge class.
    pub status: String,
    /// The badge class.
    pub status_class: &'static str,
    /// When reported (local).
    pub reported: String,
    /// The deadline (local), or `—`.
    pub deadline: String,
    /// The countdown.
    pub countdown: String,
    /// Its colour.
    pub due: Due,
    /// Pressed from above (督办).
    pub supervised: bool,
}

impl RowView {
    /// The row of `r` at `now`.
    pub fn of(t: Tr, clock: &Clock, r: &CaseRow, now: Timestamp) -> RowView {
        let (countdown, due) = countdown(t, r.deadline, r.status.is_open(), now);
        let mut people: Vec<String> = Vec::new();
        if let Some(a) = &r.assignee {
            people.push(a.name.clone());
        }
        if let Some(m) = &r.mediator {
            people.push(format!(
                "{}{}",
                if t.zh() { "调解员 " } else { "mediator " },
                m.name
            ));
        }
        RowView {
            id: r.case_id.to_string(),
            summary: short(r.summary.as_deref().unwrap_or(""), 40),
            what: format!("{} · {}", t.kind(&r.kind), t.category(&r.category)),
            severity: (r.severity != gridcase_domain::Severity::Normal)
                .then(|| (r.severity.as_str(), t.severity(&r.severity))),
            place: r.place.clone(),
            holder: r
                .holder
                .as_ref()
                .map_or_else(|| "—".into(), |h| h.name.clone()),
            people: if people.is_empty() {
                "—".into()
            } else {
                people.join("，")
            },
            status: t.status(&r.status),
            status_class: status_class(&r.status),
            reported: r
                .reported_at
                .map_or_else(|| "—".into(), |x| clock.minute(x)),
            deadline: r
                .deadline
                .filter(|_| r.status.is_open())
                .map_or_else(|| "—".into(), |x| clock.minute(x)),
            countdown,
            due,
            supervised: r.supervised,
        }
    }
}

/// A page of cases with its pager: the part of 我的工作台 and 检索 that is swapped in place.
#[derive(Template)]
#[template(path = "partials/case_table.html")]
pub struct CaseTable {
    /// Translations.
    pub t: Tr,
    /// The element id (`work-list`, `search-results`).
    pub id: &'static str,
    /// The rows.
    pub rows: Vec<RowView>,
    /// Matches in all.
    pub total: usize,
    /// The link to the next page, if any.
    pub next: Option<String>,
    /// The link to the first page, when this is not it.
    pub first: Option<String>,
    /// What to say when there are no rows.
    pub empty: &'static str,
}

impl CaseTable {
    /// The table of `page`; `link(cursor)` makes the URL of another page (`None`: the first).
    pub fn new(
        t: Tr,
        clock: &Clock,
        id: &'static str,
        page: &Page<CaseRow>,
        paged: bool,
        link: impl Fn(Option<&str>) -> String,
        empty: &'static str,
    ) -> CaseTable {
        let now = Timestamp::now();
        CaseTable {
            t,
            id,
            rows: page
                .items
                .iter()
                .map(|r| RowView::of(t, clock, r, now))
                .collect(),
            total: page.total,
            next: page.next_cursor.as_deref().map(|c| link(Some(c))),
            first: paged.then(|| link(None)),
            empty,
        }
    }
}

/// A URL query string from pairs, the empty values left out.
pub fn query_string<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> String {
    pairs
        .into_iter()
        .filter(|(_, v)| !v.is_empty())
        .map(|(k, v)| format!("{k}={}", super::session::encode(v)))
        .collect::<Vec<_>>()
        .join("&")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deadlines_count_down_and_colour() {
        let zh = Tr::default();
        let now = Timestamp::parse("2025-03-01T00:00:00Z").unwrap();
        let at = |s| Some(Timestamp::parse(s).unwrap());
        assert_eq!(
            countdown(zh, at("2025-03-03T03:00:00Z"), true, now),
            ("剩 2天3小时".into(), Due::Later)
        );
        assert_eq!(
            countdown(zh, at("2025-03-01T05:30:00Z"), true, now),
            ("剩 5小时30分".into(), Due::Soon)
        );
        assert_eq!(
            countdown(zh, at("2025-02-28T23:50:00Z"), true, now),
            ("超期 10分钟".into(), Due::Overdue)
        );
        assert_eq!(
            countdown(zh, at("2025-02-28T00:00:00Z"), false, now).1,
            Due::None
        );
        assert_eq!(short("一二三四五", 3), "一二三…");
        assert_eq!(short("一二三", 3), "一二三");
        assert_eq!(
            query_string([("q", "漏水 楼上"), ("kind", ""), ("view", "queue")]),
            "q=%E6%BC%8F%E6%B0%B4%20%E6%A5%BC%E4%B8%8A&view=queue"
        );
    }
}
