//! `query`: latency of the data team's queries on a seeded database, one client, one request
//! at a time, end to end over HTTP (parsing, resolvers, SQL and the answer's serialization).
//!
//! Sessions and the time span are discovered from the data; each iteration picks a random
//! session or a random one-hour window (starting at a random minute, so the hourly aggregates
//! have partial edges to complete from raw events).

use anyhow::{Context, bail};
use chrono::{DateTime, Duration, DurationRound, Utc};
use clap::Args;
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use serde_json::{Value, json};

use crate::client::Gql;
use crate::stats::Latencies;
use crate::target::{Target, TargetArgs};

/// Options of `query`.
#[derive(Debug, Clone, Args)]
pub struct QueryArgs {
    #[command(flatten)]
    pub target: TargetArgs,
    /// Timed requests per query.
    #[arg(long, default_value_t = 300)]
    pub iterations: usize,
    /// Untimed requests per query before those.
    #[arg(long, default_value_t = 20)]
    pub warmup: usize,
    /// Pages walked (of 100 events) to reach the deep page.
    #[arg(long, default_value_t = 10)]
    pub deep_page: usize,
    /// Requests per second (each due at a fixed interval; latency measured from when it was due
    /// if the previous answer came after that, otherwise from when it was sent); 0 sends the
    /// next request as soon as the previous one is answered. With ingest
    /// running against the same server (`ingest --url … --key …`), the mixed-load figures.
    #[arg(long, default_value_t = 0.0)]
    pub rate: f64,
    /// Draw time windows only from events up to this instant (RFC 3339): on a seeded database
    /// that ingest has since added events dated now to, the windows stay where the seed is.
    #[arg(long)]
    pub until: Option<DateTime<Utc>>,
    /// Run only the queries whose name contains this text (`SESSION + 1 h`, say).
    #[arg(long)]
    pub only: Option<String>,
}

/// How long a paced run watches the server's CPU with no query in flight before its first
/// request.
const IDLE_SAMPLE: std::time::Duration = std::time::Duration::from_secs(5);

const EVENTS: &str = "query($f: EventFilter, $after: String) { events(filter: $f, first: 100, after: $after) { edges { node { id sessionId category name data timestamp } } pageInfo { hasNextPage endCursor } } }";
const SESSION: &str = "query($id: String!) { session(id: $id) { eventCount firstSeen lastSeen applications { name } } }";
const SERIES: &str = "query($b: BucketSize!, $from: DateTime!, $to: DateTime!, $s: SeriesDimension) { eventSeries(bucket: $b, from: $from, to: $to, splitBy: $s) { groups { key total } points { start total groups other } } }";
const COUNTS: &str = "query($g: CountDimension!, $f: EventFilter) { eventCounts(groupBy: $g, filter: $f) { edges { node { key count } } } }";

/// What the queries are drawn from.
struct Data {
    sessions: Vec<String>,
    first: DateTime<Utc>,
    last: DateTime<Utc>,
    /// Windows with the cursor of their deep page.
    deep: Vec<(Value, String)>,
}

/// Runs every query and prints a table of latencies.
pub async fn run(args: QueryArgs) -> anyhow::Result<()> {
    let target = Target::start(&args.target).await?;
    let gql = Gql::new(&target.url, &target.key, 1);
    let mut rng = SmallRng::seed_from_u64(1);
    let mut data = discover(&gql, args.until).await?;
    data.deep = deep_cursors(&gql, &data, &mut rng, args.deep_page).await?;
    println!(
        "== query: {} sessions sampled, events from {} to {}, deep page = page {}",
        data.sessions.len(),
        data.first,
        data.last,
        args.deep_page + 1
    );
    println!("| query | p50 ms | p95 ms | p99 ms | max ms | server CPU per query µs |");
    println!("|---|---|---|---|---|---|");
    type Make = fn(&Data, &mut SmallRng) -> (&'static str, Value);
    let cases: Vec<(&str, Make)> = vec![
        ("events by session", |d, r| {
            (
                EVENTS,
                json!({ "f": { "sessionId": pick(&d.sessions, r) } }),
            )
        }),
        ("events by category + 1 h, first page", |d, r| {
            let f = with(window(d, r), "category", "page interaction");
            (EVENTS, json!({ "f": f }))
        }),
        ("events by category + 1 h, deep page", |d, r| {
            let (f, after) = &d.deep[r.random_range(0..d.deep.len())];
            (EVENTS, json!({ "f": f, "after": after }))
        }),
        ("session(id)", |d, r| {
            (SESSION, json!({ "id": pick(&d.sessions, r) }))
        }),
        ("eventCounts by SESSION", |_, _| {
            (COUNTS, json!({ "g": "SESSION" }))
        }),
        ("eventCounts by SESSION + 1 h", |d, r| {
            (COUNTS, json!({ "g": "SESSION", "f": window(d, r) }))
        }),
        ("eventCounts by CATEGORY", |_, _| {
            (COUNTS, json!({ "g": "CATEGORY" }))
        }),
        ("eventCounts by CATEGORY + 1 h", |d, r| {
            (COUNTS, json!({ "g": "CATEGORY", "f": window(d, r) }))
        }),
        ("eventCounts by NAME", |_, _| {
            (COUNTS, json!({ "g": "NAME" }))
        }),
        ("eventCounts by NAME + 1 h", |d, r| {
            (COUNTS, json!({ "g": "NAME", "f": window(d, r) }))
        }),
        ("eventSeries DAY, 30 days, split by CATEGORY", |d, _| {
            let from = d.first.duration_trunc(Duration::days(1)).unwrap_or(d.first);
            let to = from + Duration::days(30);
            let range = json!({ "from": from.to_rfc3339(), "to": to.to_rfc3339() });
            (SERIES, with(with(range, "b", "DAY"), "s", "CATEGORY"))
        }),
        ("eventSeries HOUR, 7 days", |d, r| {
            let hours = ((d.last - d.first).num_hours() - 24 * 7).max(1);
            let start = d
                .first
                .duration_trunc(Duration::hours(1))
                .unwrap_or(d.first);
            let from = start + Duration::hours(r.random_range(0..hours));
            let to = from + Duration::days(7);
            let range = json!({ "from": from.to_rfc3339(), "to": to.to_rfc3339() });
            (SERIES, with(range, "b", "HOUR"))
        }),
        ("eventSeries MINUTE, 1 h", |d, r| {
            (SERIES, with(window(d, r), "b", "MINUTE"))
        }),
    ];
    // Paced, the server waits between requests while its background tasks (the job,
    // checkpoints, index merges) go on, and so does any ingest sent to it meanwhile (`ingest
    // --url`); their CPU over the run would be charged to the queries. Measured first with no
    // query in flight, and taken off each case's CPU.
    let idle_cpu_per_second = match (args.rate > 0.0, target.usage()) {
        (true, Some(before)) => {
            tokio::time::sleep(IDLE_SAMPLE).await;
            target
                .usage()
                .map(|after| after.since(&before).cpu.as_secs_f64() / IDLE_SAMPLE.as_secs_f64())
        }
        _ => None,
    };
    for (name, make) in cases {
        if args
            .only
            .as_ref()
            .is_some_and(|only| !name.contains(only.as_str()))
        {
            continue;
        }
        let mut latencies = Latencies::default();
        let mut usage_before = None;
        let mut timed_from = std::time::Instant::now();
        let interval =
            (args.rate > 0.0).then(|| std::time::Duration::from_secs_f64(1.0 / args.rate));
        let paced_from = std::time::Instant::now();
        for i in 0..args.warmup + args.iterations {
            if i == args.warmup {
                usage_before = target.usage();
                timed_from = std::time::Instant::now();
            }
            let (query, variables) = make(&data, &mut rng);
            let started = match interval {
                Some(interval) => {
                    let due = paced_from + interval * i as u32;
                    let answered = std::time::Instant::now();
                    tokio::time::sleep_until(due.into()).await;
                    // Late because the last answer came after this request was due: the wait
                    // counts. Otherwise only the client's timer was late (tokio's rounds up to
                    // the next millisecond): latency counts from the send.
                    if answered > due {
                        due
                    } else {
                        std::time::Instant::now()
                    }
                }
                None => std::time::Instant::now(),
            };
            gql.query(query, variables)
                .await
                .map_err(|code| anyhow::anyhow!("{name} failed: {code}"))?;
            if i >= args.warmup {
                latencies.record(started.elapsed());
            }
        }
        let cpu = target
            .usage()
            .zip(usage_before)
            .map_or("n/a".to_string(), |(after, before)| {
                let background =
                    idle_cpu_per_second.unwrap_or(0.0) * timed_from.elapsed().as_secs_f64();
                let spent = (after.since(&before).cpu.as_secs_f64() - background).max(0.0);
                format!("{:.0}", spent * 1e6 / args.iterations.max(1) as f64)
            });
        let s = latencies.summary();
        println!(
            "| {name} | {:.2} | {:.2} | {:.2} | {:.2} | {cpu} |",
            s.p50, s.p95, s.p99, s.max
        );
    }
    if let Some(idle) = idle_cpu_per_second {
        println!(
            "server CPU with no query in flight (its background tasks and any ingest): {:.1} ms \
             per second, measured for {} s before the queries and taken off the CPU per query \
             above",
            idle * 1e3,
            IDLE_SAMPLE.as_secs()
        );
    }
    if let Some((peak, _)) = target.memory_kib() {
        println!("server peak RSS {:.1} MiB", peak as f64 / 1024.0);
    }
    Ok(())
}

fn pick(items: &[String], rng: &mut SmallRng) -> String {
    items[rng.random_range(0..items.len())].clone()
}

/// A one-hour window starting at a random minute of the data's span.
fn window(data: &Data, rng: &mut SmallRng) -> Value {
    let minutes = ((data.last - data.first).num_minutes() - 60).max(1);
    let from = data.first + Duration::minutes(rng.random_range(0..minutes));
    let to = from + Duration::hours(1);
    json!({ "from": from.to_rfc3339(), "to": to.to_rfc3339() })
}

fn with(mut filter: Value, field: &str, value: &str) -> Value {
    filter[field] = json!(value);
    filter
}

async fn discover(gql: &Gql, until: Option<DateTime<Utc>>) -> anyhow::Result<Data> {
    let q = |query: &'static str, variables: Value| async move {
        gql.query(query, variables)
            .await
            .map_err(|code| anyhow::anyhow!("discovery failed: {code}"))
    };
    let counts = q(COUNTS, json!({ "g": "SESSION" })).await?;
    let sessions: Vec<String> = counts["eventCounts"]["edges"]
        .as_array()
        .context("eventCounts")?
        .iter()
        .filter_map(|e| e["node"]["key"].as_str().map(str::to_string))
        .collect();
    if sessions.is_empty() {
        bail!("the database holds no events; seed it with `the-eye import`");
    }
    let edge = |order: &'static str| async move {
        let filter = match until {
            Some(until) => json!({ "to": until.to_rfc3339() }),
            None => json!({}),
        };
        let data = q(
            "query($o: EventOrder!, $f: EventFilter) { events(first: 1, order: $o, filter: $f) { edges { node { timestamp } } } }",
            json!({ "o": order, "f": filter }),
        )
        .await?;
        let text = data["events"]["edges"][0]["node"]["timestamp"]
            .as_str()
            .context("a timestamp")?
            .to_string();
        Ok::<_, anyhow::Error>(DateTime::parse_from_rfc3339(&text)?.with_timezone(&Utc))
    };
    Ok(Data {
        sessions,
        first: edge("TIMESTAMP_ASC").await?,
        last: edge("TIMESTAMP_DESC").await?,
        deep: Vec::new(),
    })
}

/// For 20 random windows, walks `pages` pages to find the cursor of a deep page.
async fn deep_cursors(
    gql: &Gql,
    data: &Data,
    rng: &mut SmallRng,
    pages: usize,
) -> anyhow::Result<Vec<(Value, String)>> {
    let mut found = Vec::new();
    for _ in 0..20 {
        let filter = with(window(data, rng), "category", "page interaction");
        let mut after: Option<String> = None;
        for _ in 0..pages {
            let page = gql
                .query(EVENTS, json!({ "f": filter, "after": after }))
                .await
                .map_err(|code| anyhow::anyhow!("paging failed: {code}"))?;
            let info = &page["events"]["pageInfo"];
            if info["hasNextPage"] != json!(true) {
                break;
            }
            after = info["endCursor"].as_str().map(str::to_string);
        }
        if let Some(after) = after {
            found.push((filter, after));
        }
    }
    if found.is_empty() {
        bail!("no window has a second page; seed more events");
    }
    Ok(found)
}
