//! The append suites: commands/s through the full command path against the raw write limit
//! of the same bytes (the embedded file log against a plain file written in the same groups;
//! NATS against raw publishes).

use std::collections::VecDeque;
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use async_nats::jetstream::message::PublishMessage;
use futures::StreamExt;
use gridcase_bus::testing::jetstream as js;
use gridcase_bus::{CommandPath, FileLog, NatsLog, Position};

use super::workload::{self, GroupProbe, LaneRun, WRITERS};
use super::{ctx, group_digits, BenchError, Percentiles, Row, Run, Target};

/// Most raw publishes awaiting their acknowledgement at once.
const PUBLISH_WINDOW: usize = 4096;

pub(crate) async fn embedded(run: &mut Run) -> Result<(), BenchError> {
    let scale = run.sizes.append;
    let w = workload::materialize(scale, 1);
    eprintln!(
        "bench: {scale}: {} commands ({} cases, {} events), {WRITERS} writers",
        w.commits.len(),
        w.cases,
        w.events
    );
    let dir = run.dir("append-embedded-engine")?;
    let log = FileLog::open(&dir).map_err(ctx("opening the file log"))?;
    let path = Arc::new(CommandPath::new(
        log.clone(),
        w.regions.clone(),
        w.policy.clone(),
        10_000,
    ));
    let probe = GroupProbe::start(log.clone())?;
    let mut engine = workload::run_command_path(path.clone(), w.commits, WRITERS).await?;
    let groups = probe.finish();
    let values = stored_values(&log, &engine.applied)?;
    drop(path);
    drop(log);

    let flushes = groups.len().max(1) as f64;
    let mean_group = engine.commands as f64 / flushes;
    let group = (mean_group.round() as usize).max(1);
    let raw_dir = run.dir("append-embedded-raw")?;
    let raw_secs = raw_file(&raw_dir, values.clone(), group).await?;
    let raw64_dir = run.dir("append-embedded-raw64")?;
    let raw64_secs = raw_file(&raw64_dir, values.clone(), WRITERS).await?;
    let n = values.len() as f64;
    let (engine_rate, raw_rate, raw64_rate) = (
        engine.commands as f64 / engine.seconds,
        n / raw_secs,
        n / raw64_secs,
    );
    let lat = Percentiles::of(&mut engine.latencies);
    let mut sorted_groups = groups.clone();
    sorted_groups.sort_unstable();
    let median_group = sorted_groups
        .get(sorted_groups.len() / 2)
        .copied()
        .unwrap_or(0);
    let value_bytes: usize = values.iter().map(Vec::len).sum();
    run.rows.push(
        Row::rate(
            "append-embedded",
            "append-embedded",
            "commands/s",
            engine_rate,
            raw_rate,
            Target::RatioAtLeast {
                min: 0.5,
                min_engine: None,
            },
        )
        .note(format!(
            "file log; p50 {:.1} ms, p99 {:.1} ms; {} cmds, group {:.1} (raw at 64: {} cmd/s)",
            lat.p50_ms,
            lat.p99_ms,
            engine.commands,
            mean_group,
            group_digits(raw64_rate)
        ))
        .detail("fixture", scale.name())
        .detail("writers", WRITERS)
        .detail("commands", engine.commands)
        .detail("events", engine.events)
        .detail("engine_seconds", engine.seconds)
        .detail("raw_seconds", raw_secs)
        .detail("latency", lat)
        .detail("flushes", groups.len())
        .detail("mean_group", mean_group)
        .detail("median_group", median_group)
        .detail("raw_group", group)
        .detail("engine_ms_per_group", engine.seconds * 1e3 / flushes)
        .detail(
            "raw_ms_per_batch",
            raw_secs * 1e3 / (n / group as f64).ceil().max(1.0),
        )
        .detail("raw_group_64_commands_per_s", raw64_rate)
        .detail("mean_commit_value_bytes", value_bytes as f64 / n.max(1.0)),
    );
    Ok(())
}

/// The stored value of each applied commit, as the engine wrote it.
fn stored_values(log: &FileLog, applied: &[Position]) -> Result<Vec<Vec<u8>>, BenchError> {
    let mut by_position = std::collections::HashMap::new();
    let mut cursor = log.raw_from(Position::FIRST);
    while let Some(c) = cursor.next_raw().map_err(ctx("reading the engine's log"))? {
        by_position.insert(c.position, c.value);
    }
    applied
        .iter()
        .map(|p| {
            by_position
                .remove(p)
                .ok_or_else(|| BenchError::Failed(format!("position {p} is missing")))
        })
        .collect()
}

/// The raw limit of the file log: the same records (the record header, then the stored value)
/// appended to a plain file, `group` commits per write, one `fdatasync` per write. Returns
/// the seconds taken.
async fn raw_file(dir: &Path, values: Vec<Vec<u8>>, group: usize) -> Result<f64, BenchError> {
    use std::io::Write;
    let path = dir.join("raw.log");
    tokio::task::spawn_blocking(move || -> Result<f64, BenchError> {
        let mut file = std::fs::File::create(&path).map_err(ctx("creating the raw file"))?;
        let started = Instant::now();
        let mut buf = Vec::new();
        for chunk in values.chunks(group) {
            buf.clear();
            for v in chunk {
                FileLog::frame_record(v, &mut buf).map_err(ctx("framing a record"))?;
            }
            file.write_all(&buf).map_err(ctx("raw write"))?;
            file.sync_data().map_err(ctx("raw fdatasync"))?;
        }
        Ok(started.elapsed().as_secs_f64())
    })
    .await
    .map_err(ctx("the raw file writer failed"))?
}

/// Fills the engine's NATS stream through the command path (the append-nats workload).
pub(crate) async fn fill_nats(run: &mut Run) -> Result<(NatsLog, LaneRun), BenchError> {
    let scale = run.sizes.append;
    let w = workload::materialize(scale, 1);
    eprintln!(
        "bench: {scale}: {} commands ({} cases, {} events) through NATS, {WRITERS} writers",
        w.commits.len(),
        w.cases,
        w.events
    );
    let log = run.nats.engine_log().await?;
    let path = Arc::new(CommandPath::new(
        log.clone(),
        w.regions.clone(),
        w.policy.clone(),
        10_000,
    ));
    let lanes = workload::run_command_path(path, w.commits, WRITERS).await?;
    run.nats.engine_filled = true;
    Ok((log, lanes))
}

pub(crate) async fn nats(run: &mut Run) -> Result<(), BenchError> {
    if let Err(reason) = run.nats.url() {
        run.skip("append-nats", reason);
        return Ok(());
    }
    let url = run.nats.url().map_err(BenchError::Failed)?;
    let (log, mut engine) = fill_nats(run).await?;
    let settings = log.settings().clone();
    // Everything the engine stored, to publish again as fast as the server takes it.
    let conn = js::connect(&url).await.map_err(ctx("connecting to NATS"))?;
    let mut stored = Vec::with_capacity(engine.commands as usize);
    let mut messages = js::read_from(&conn.jetstream, &settings.stream, 1)
        .await
        .map_err(ctx("reading the engine's stream"))?;
    while let Some(m) = messages.next().await {
        stored.push(m.map_err(ctx("reading the engine's stream"))?);
    }
    drop(messages);
    let rtt = round_trips(&conn, &settings, &stored).await?;
    let raw = run.nats.raw_settings();
    let payload_bytes: usize = stored.iter().map(|m| m.payload.len()).sum();
    let n = stored.len();
    let raw_secs = publish_raw(
        &conn,
        stored.clone(),
        &settings.subject_prefix,
        &raw,
        PUBLISH_WINDOW,
    )
    .await?;
    // The same with only as many publishes in flight as the engine has writers: what one
    // publish per writer at a time could reach at best.
    let raw64_secs = publish_raw(
        &conn,
        stored,
        &settings.subject_prefix,
        &run.nats.raw64_settings(),
        WRITERS,
    )
    .await?;
    let acked = n as u64;
    let publish = publish_round_trips(&conn, &raw, 200).await?;
    let engine_rate = engine.commands as f64 / engine.seconds;
    let raw_rate = acked as f64 / raw_secs;
    let raw64_rate = acked as f64 / raw64_secs;
    let lat = Percentiles::of(&mut engine.latencies);
    run.rows.push(
        Row::rate(
            "append-nats",
            "append-nats",
            "commands/s",
            engine_rate,
            raw_rate,
            Target::RatioAtLeast {
                min: 0.7,
                min_engine: None,
            },
        )
        .note(format!(
            "p50 {:.1} ms, p99 {:.1} ms; {} cmds; raw with {WRITERS} in flight: {} cmd/s; one \
             request p50: last msg {:.2} ms, case read {:.2} ms, publish+ack {:.2} ms",
            lat.p50_ms,
            lat.p99_ms,
            engine.commands,
            group_digits(raw64_rate),
            rtt.last_msg.p50_ms,
            rtt.read_case.p50_ms,
            publish.p50_ms
        ))
        .detail("fixture", run.sizes.append.name())
        .detail("writers", WRITERS)
        .detail("commands", engine.commands)
        .detail("events", engine.events)
        .detail("engine_seconds", engine.seconds)
        .detail("raw_seconds", raw_secs)
        .detail("raw_messages", n)
        .detail("latency", lat)
        .detail("raw_publishes_in_flight", PUBLISH_WINDOW)
        .detail("raw_64_in_flight_seconds", raw64_secs)
        .detail("raw_64_in_flight_commands_per_s", raw64_rate)
        .detail("last_message_request", rtt.last_msg)
        .detail("case_read_subject", rtt.read_case)
        .detail("single_publish_and_ack", publish)
        .detail("server_version", conn.server_version.to_string())
        .detail(
            "mean_payload_bytes",
            payload_bytes as f64 / (n.max(1) as f64),
        ),
    );
    Ok(())
}

/// Publishes the engine's messages (`stored`, on subjects under `from_prefix`) again to the
/// stream of `raw`, with at most `window` acknowledgements outstanding; every one must be
/// stored at the engine's sequence. Returns the seconds the publishing took.
async fn publish_raw(
    conn: &js::Connection,
    stored: Vec<js::RawMsg>,
    from_prefix: &str,
    raw: &js::StreamSettings,
    window: usize,
) -> Result<f64, BenchError> {
    js::ensure_stream(&conn.jetstream, raw)
        .await
        .map_err(ctx("creating the raw stream"))?;
    let started = Instant::now();
    let mut inflight = VecDeque::with_capacity(window);
    for m in stored {
        let subject = m.subject.replacen(from_prefix, &raw.subject_prefix, 1);
        let msg = PublishMessage::build()
            .headers(m.headers)
            .payload(m.payload.into());
        let ack = conn
            .jetstream
            .send_publish(subject, msg)
            .await
            .map_err(ctx("raw publish"))?;
        inflight.push_back((m.seq, ack));
        if inflight.len() >= window {
            if let Some((seq, ack)) = inflight.pop_front() {
                check_ack(seq, ack.await)?;
            }
        }
    }
    while let Some((seq, ack)) = inflight.pop_front() {
        check_ack(seq, ack.await)?;
    }
    Ok(started.elapsed().as_secs_f64())
}

fn check_ack(
    seq: u64,
    ack: Result<
        async_nats::jetstream::publish::PublishAck,
        async_nats::jetstream::context::PublishError,
    >,
) -> Result<(), BenchError> {
    let ack = ack.map_err(ctx("raw publish acknowledgement"))?;
    if ack.sequence != seq || ack.duplicate {
        return Err(BenchError::Failed(format!(
            "raw publish of message {seq} was stored at {} (duplicate: {})",
            ack.sequence, ack.duplicate
        )));
    }
    Ok(())
}

/// Latencies of the single requests the NATS append path is made of.
struct RoundTrips {
    /// Last message on a case's subject from the stream leader (`NatsLog::append` asks only
    /// when it knows nothing of the case: after its own appends and reads it knows the head).
    last_msg: Percentiles,
    /// A whole case through batched direct gets by subject (`read_subject`, as
    /// `NatsLog::read_case` reads on a command-path cache miss; no consumer).
    read_case: Percentiles,
}

/// Times the reads the append path makes, one at a time, on up to 200 of the engine's cases.
async fn round_trips(
    conn: &js::Connection,
    settings: &gridcase_bus::NatsSettings,
    stored: &[js::RawMsg],
) -> Result<RoundTrips, BenchError> {
    let mut subjects: Vec<&str> = stored.iter().map(|m| m.subject.as_str()).collect();
    subjects.sort_unstable();
    subjects.dedup();
    let step = (subjects.len() / 200).max(1);
    let (mut last, mut read) = (Vec::new(), Vec::new());
    for subject in subjects.into_iter().step_by(step) {
        let t = Instant::now();
        js::last_on_subject(&conn.jetstream, &settings.stream, subject)
            .await
            .map_err(ctx("reading a case's last message"))?;
        last.push(t.elapsed());
        let case = subject.rsplit('.').next().unwrap_or_default();
        let filter = format!("{}.*.{case}", settings.subject_prefix);
        let t = Instant::now();
        js::read_subject(conn, &settings.stream, &filter, true)
            .await
            .map_err(ctx("reading a case"))?;
        read.push(t.elapsed());
    }
    Ok(RoundTrips {
        last_msg: Percentiles::of(&mut last),
        read_case: Percentiles::of(&mut read),
    })
}

/// Times `n` publishes to the raw stream, each awaiting its acknowledgement.
async fn publish_round_trips(
    conn: &js::Connection,
    raw: &js::StreamSettings,
    n: usize,
) -> Result<Percentiles, BenchError> {
    let mut samples = Vec::with_capacity(n);
    let payload = vec![0u8; 512];
    for i in 0..n {
        let t = Instant::now();
        conn.jetstream
            .publish(
                format!("{}.probe.{i}", raw.subject_prefix),
                payload.clone().into(),
            )
            .await
            .map_err(ctx("probe publish"))?
            .await
            .map_err(ctx("probe publish acknowledgement"))?;
        samples.push(t.elapsed());
    }
    Ok(Percentiles::of(&mut samples))
}
