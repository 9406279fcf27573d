//! The OpenAPI 3.1 document served at `/api/v1/openapi.json`.

use gridcase_domain::Action;
use serde_json::{json, Map, Value};

fn problem_responses() -> Value {
    let p = |d: &str| json!({ "description": d, "content": { "application/problem+json": { "schema": { "$ref": "#/components/schemas/Problem" } } } });
    json!({
        "400": p("Malformed JSON or an invalid field (named in `field`)"),
        "401": p("Missing or unknown bearer token"),
        "403": p("Outside the actor's role or scope"),
        "404": p("Unknown case, region or command"),
        "409": p("Version conflict (`expected`, `actual`) or a reused Idempotency-Key"),
        "413": p("Body too large"),
        "422": p("Rejected by the domain; `code` is the rule's name"),
        "503": p("The log is unavailable; see Retry-After"),
    })
}

/// The document.
pub fn document() -> Value {
    let headers = json!([
        { "name": "Idempotency-Key", "in": "header", "schema": { "type": "string" }, "description": "The command id; a retry with the same key returns the first result." },
        { "name": "If-Match", "in": "header", "schema": { "type": "string" }, "description": "Expected case version, e.g. \"3\"; a stale one gets 409." }
    ]);
    let mut paths = Map::new();
    let ok = json!({ "description": "Executed", "content": { "application/json": { "schema": { "$ref": "#/components/schemas/CommandResult" } } } });
    let mut report_responses = problem_responses();
    report_responses["201"] = ok.clone();
    report_responses["200"] = json!({ "description": "A retried report: the first result" });
    paths.insert(
        "/api/v1/cases".into(),
        json!({ "post": { "summary": "Report a case", "parameters": headers, "requestBody": { "content": { "application/json": { "schema": { "type": "object" } } } }, "responses": report_responses } }),
    );
    let mut cmd_responses = problem_responses();
    cmd_responses["200"] = ok;
    let mut case_params = headers.as_array().cloned().unwrap_or_default();
    case_params.push(
        json!({ "name": "id", "in": "path", "required": true, "schema": { "type": "string" } }),
    );
    case_params.push(json!({ "name": "action", "in": "path", "required": true, "schema": { "type": "string", "enum": Action::case_commands().collect::<Vec<_>>() } }));
    paths.insert(
        "/api/v1/cases/{id}/{action}".into(),
        json!({ "post": { "summary": "Any other command on a case", "parameters": case_params, "requestBody": { "content": { "application/json": { "schema": { "type": "object" } } } }, "responses": cmd_responses } }),
    );
    let read = |summary: &str, params: Value| {
        let mut r = problem_responses();
        r["200"] = json!({ "description": "OK", "content": { "application/json": { "schema": { "type": "object" } } } });
        json!({ "get": { "summary": summary, "parameters": params, "responses": r } })
    };
    let id =
        json!({ "name": "id", "in": "path", "required": true, "schema": { "type": "string" } });
    let code =
        json!({ "name": "code", "in": "path", "required": true, "schema": { "type": "string" } });
    let after = json!({ "name": "after", "in": "query", "schema": { "type": "integer" }, "description": "Wait until the projection has applied this position." });
    paths.insert(
        "/api/v1/cases/{id}".into(),
        read("The case view", json!([id, after])),
    );
    paths.insert(
        "/api/v1/cases/{id}/timeline".into(),
        read("Every event of the case", json!([id])),
    );
    paths.insert(
        "/api/v1/units/{code}/queue".into(),
        read("Open cases a unit holds", json!([code, after])),
    );
    paths.insert(
        "/api/v1/regions/{code}/open".into(),
        read("Open cases held in a subtree", json!([code, after])),
    );
    let q = |n: &str, t: &str, d: &str| json!({ "name": n, "in": "query", "schema": { "type": t }, "description": d });
    paths.insert(
        "/api/v1/stats".into(),
        read(
            "Resolution statistics",
            json!([
                q(
                    "region",
                    "string",
                    "Region code (default: the actor's unit)"
                ),
                q(
                    "period",
                    "string",
                    "2026, 2026-Q1, 2026-03, 2026-W05, 2026-03-02 or 2026-03-01..2026-04-15"
                ),
                q(
                    "as_of",
                    "string",
                    "RFC 3339 time: statistics as they stood then"
                ),
                q(
                    "breakdown",
                    "string",
                    "category, source or kind; with drill_down, each child region is broken down too"
                ),
                q(
                    "drill_down",
                    "boolean",
                    "Also every child region, ranked by rank_by, with its overdue open cases"
                ),
                q(
                    "rank_by",
                    "string",
                    "The rate children are ranked by (default township_rate): grid_rate, village_rate, township_rate, county_rate, resolution_rate, mediation_success, on_time, satisfaction (higher first), rework, extension, escalation, reopen (lower first); regions without the rate last"
                ),
                after.clone()
            ]),
        ),
    );
    paths["/api/v1/stats"]["get"]["description"] = json!(
        "Cohort (cases registered in the period, outcome as of T) and activity (events in the \
         period) figures, every one under the case's corrected location, category, source and kind. \
         Rates use DOMAIN.md's denominators: escalation = cases escalated at least once / registered, \
         extension = cases with an approved extension / registered, reopen = cases reopened / cases \
         closed (cohort counts `cohort.escalated`, `cohort.extended`, `cohort.reopened`, \
         `cohort.closed`); rework = resolutions sent back / resolutions (activity). `overdue`: open \
         cases located in the region whose deadline in force is before T (`as_of`, default now), \
         with `by_holder` (holding unit) and `by_region` (child region). `change` compares with the \
         previous period, `year_on_year` with the same dates a year before. `time_to_resolution`: \
         median and p90 hours by resolving level from a histogram, each within ±4.9% of the exact \
         quantile's hours + 1 (not of its hours), the bucket given as `median_range_hours` and \
         `p90_range_hours` ([low, high))."
    );
    paths.insert(
        "/api/v1/stats/series".into(),
        read(
            "Statistics of consecutive periods, for trend charts",
            json!([
                q(
                    "region",
                    "string",
                    "Region code (default: the actor's unit)"
                ),
                q(
                    "period",
                    "string",
                    "The whole span, as for /api/v1/stats (default: the twelve months up to this one)"
                ),
                q(
                    "step",
                    "string",
                    "day, week (ISO, Monday first), month (default), quarter or year; the first and last point are cut to the period; at most 400 points"
                ),
                q(
                    "as_of",
                    "string",
                    "RFC 3339 time: statistics as they stood then"
                ),
                q("breakdown", "string", "category, source or kind, per point"),
                after
            ]),
        ),
    );
    paths["/api/v1/stats/series"]["get"]["description"] = json!(
        "`points`: one per step, in order, each with `period` (from..to, end exclusive), `figures` \
         (cohort, activity, rates as in /api/v1/stats) and `breakdown`. The points' activity adds up \
         to the whole period's."
    );
    for p in ["/healthz", "/readyz", "/metrics"] {
        paths.insert(p.into(), json!({ "get": { "summary": "Operations", "responses": { "200": { "description": "OK" } } } }));
    }
    json!({
        "openapi": "3.1.0",
        "info": { "title": "gridcase", "version": env!("CARGO_PKG_VERSION"), "description": "Grid-based incident and dispute cases: commands, case views, queues and resolution statistics." },
        "components": {
            "securitySchemes": { "bearer": { "type": "http", "scheme": "bearer" } },
            "schemas": {
                "Problem": { "type": "object", "required": ["type", "title", "status", "code", "detail"], "properties": {
                    "type": { "type": "string" }, "title": { "type": "string" }, "status": { "type": "integer" },
                    "code": { "type": "string" }, "detail": { "type": "string" }, "field": { "type": "string" },
                    "expected": { "type": "integer" }, "actual": { "type": "integer" } } },
                "CommandResult": { "type": "object", "properties": {
                    "case_id": { "type": "string" }, "version": { "type": "integer" }, "position": { "type": "integer" },
                    "duplicate": { "type": "boolean" }, "events": { "type": "array", "items": { "type": "object" } } } }
            }
        },
        "security": [{ "bearer": [] }],
        "paths": paths,
    })
}
