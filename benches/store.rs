//! Criterion benchmarks of the group store (`src/store`, groups held by the gateway) on both of
//! its databases: SQLite on a file in a temporary directory, and PostgreSQL on a throw-away
//! cluster over a Unix socket (`tests/common/postgres.rs`: no fsync, so a real server adds its
//! commit time). Membership changes one member at a time in a 10-member group and in a
//! 100,000-member one (filled once beforehand through `add_members`, 1,000 a call), a user's
//! groups (`groups_of`, a user in 20 groups), the `members[value eq …]` list
//! (`GroupQuery { member }`), and 8 tasks adding members to one group at once (throughput).
//! PostgreSQL is skipped, with a note, only when `initdb` is not installed.
//!
//! `cargo bench --bench store` measures; `cargo test --benches` runs each benchmark once (with a
//! 1,000-member group instead of 100,000, to stay quick).

#[path = "../tests/common/postgres.rs"]
mod postgres;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use tokio::runtime::Runtime;

use scim_gateway::metrics::Metrics;
use scim_gateway::store::{GroupQuery, GroupStore};

const TENANT: &str = "bench";
/// Members of the small group.
const SMALL: usize = 10;
/// Members added per `add_members` call while filling the large group.
const FILL_BATCH: usize = 1_000;
/// Groups the user of `groups_of` and `list` is in.
const USER_GROUPS: usize = 20;
/// Concurrent adders on one group, and the members each adds (one per call).
const TASKS: usize = 8;
const ADDS_PER_TASK: usize = 25;

/// User ids shaped like the legacy products' (36 characters).
fn user(prefix: &str, n: u64) -> String {
    format!("{prefix}-{n:0>width$}", width = 35 - prefix.len())
}

/// Members of the large group: 100,000 when measuring, 1,000 when `cargo test --benches` runs
/// each benchmark once (criterion measures only when given `--bench`, as `cargo bench` does).
fn large() -> usize {
    if std::env::args().any(|a| a == "--bench") {
        100_000
    } else {
        1_000
    }
}

fn runtime() -> Runtime {
    match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => panic!("cannot start a tokio runtime: {e}"),
    }
}

/// The groups every benchmark of one store works on.
struct Fixture {
    store: GroupStore,
    small: String,
    large: String,
    large_size: usize,
    /// The group the concurrent adders share.
    shared: String,
    /// A user in [`USER_GROUPS`] groups.
    busy_user: String,
}

async fn fixture(url: &str) -> Fixture {
    let store = GroupStore::open(url, Arc::new(Metrics::default()))
        .await
        .unwrap_or_else(|e| panic!("cannot open the store: {e}"));
    let small_members: Vec<String> = (0..SMALL as u64).map(|n| user("small", n)).collect();
    let small = store
        .create(TENANT, "Small", None, &small_members)
        .await
        .expect("the small group is created")
        .id;
    let large_size = large();
    let large = store
        .create(TENANT, "Large", None, &[])
        .await
        .expect("the large group is created")
        .id;
    let started = Instant::now();
    for first in (0..large_size).step_by(FILL_BATCH) {
        let batch: Vec<String> = (first..(first + FILL_BATCH).min(large_size))
            .map(|n| user("member", n as u64))
            .collect();
        store
            .add_members(TENANT, &large, &batch)
            .await
            .expect("the large group fills");
    }
    let (_, total) = store
        .members(TENANT, &large, 0, 0)
        .await
        .expect("the large group's members count");
    assert_eq!(total, large_size as u64);
    eprintln!(
        "{}: filled a group of {large_size} members, {FILL_BATCH} a call, in {:.1} s",
        store.kind(),
        started.elapsed().as_secs_f64()
    );
    let busy_user = user("busy", 0);
    for g in 0..USER_GROUPS {
        let members: Vec<String> = std::iter::once(busy_user.clone())
            .chain((0..SMALL as u64).map(|n| user(&format!("g{g}"), n)))
            .collect();
        store
            .create(TENANT, &format!("Team {g:02}"), None, &members)
            .await
            .expect("the user's groups are created");
    }
    let shared = store
        .create(TENANT, "Shared", None, &small_members)
        .await
        .expect("the shared group is created")
        .id;
    Fixture {
        store,
        small,
        large,
        large_size,
        shared,
        busy_user,
    }
}

fn config() -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .sample_size(20)
}

/// Fresh user ids, so that every timed add really adds.
static NEXT_USER: AtomicU64 = AtomicU64::new(0);

fn fresh_user() -> String {
    user("new", NEXT_USER.fetch_add(1, Ordering::Relaxed))
}

/// Times adding one new member to `group` (removing it after, untimed: the group keeps its
/// size).
async fn time_adds(store: &GroupStore, group: &str, iters: u64) -> Duration {
    let mut spent = Duration::ZERO;
    for _ in 0..iters {
        let u = vec![fresh_user()];
        let start = Instant::now();
        let added = store.add_members(TENANT, group, &u).await;
        spent += start.elapsed();
        assert_eq!(added.expect("the member is added"), u);
        store
            .remove_members(TENANT, group, &u)
            .await
            .expect("the member is removed");
    }
    spent
}

/// Times removing one member from `group` (added before, untimed).
async fn time_removes(store: &GroupStore, group: &str, iters: u64) -> Duration {
    let mut spent = Duration::ZERO;
    for _ in 0..iters {
        let u = vec![fresh_user()];
        store
            .add_members(TENANT, group, &u)
            .await
            .expect("the member is added");
        let start = Instant::now();
        let removed = store.remove_members(TENANT, group, &u).await;
        spent += start.elapsed();
        assert_eq!(removed.expect("the member is removed"), u);
    }
    spent
}

/// Times [`TASKS`] tasks each adding [`ADDS_PER_TASK`] new members to one group, one call per
/// member, all at once (the members removed after, untimed).
async fn time_concurrent_adds(store: &GroupStore, group: &str, iters: u64) -> Duration {
    let mut spent = Duration::ZERO;
    for _ in 0..iters {
        let start = Instant::now();
        let tasks: Vec<_> = (0..TASKS)
            .map(|_| {
                let store = store.clone();
                let group = group.to_string();
                tokio::spawn(async move {
                    let mut mine = Vec::with_capacity(ADDS_PER_TASK);
                    for _ in 0..ADDS_PER_TASK {
                        let u = vec![fresh_user()];
                        let added = store.add_members(TENANT, &group, &u).await;
                        assert_eq!(added.expect("the member is added"), u);
                        mine.extend(u);
                    }
                    mine
                })
            })
            .collect();
        let mut all = Vec::with_capacity(TASKS * ADDS_PER_TASK);
        for t in tasks {
            all.extend(t.await.expect("an adder finishes"));
        }
        spent += start.elapsed();
        let removed = store
            .remove_members(TENANT, group, &all)
            .await
            .expect("the members are removed");
        assert_eq!(removed.len(), TASKS * ADDS_PER_TASK, "no add was lost");
    }
    spent
}

fn bench_store(c: &mut Criterion, rt: &Runtime, f: &Fixture) {
    let kind = f.store.kind();
    let store = &f.store;
    // Each benchmark measures the success path: check the reads once first.
    let groups = rt
        .block_on(store.groups_of(TENANT, &f.busy_user))
        .expect("groups_of answers");
    assert_eq!(groups.len(), USER_GROUPS);
    let by_member = GroupQuery {
        member: Some(f.busy_user.clone()),
        ..GroupQuery::default()
    };
    let (page, total) = rt
        .block_on(store.list(TENANT, &by_member, 0, 100))
        .expect("list answers");
    assert_eq!((page.len(), total), (USER_GROUPS, USER_GROUPS as u64));

    let mut g = c.benchmark_group(format!("store_{kind}"));
    g.throughput(Throughput::Elements(1));
    g.bench_function(format!("add_member/group_of_{SMALL}"), |b| {
        b.iter_custom(|iters| rt.block_on(time_adds(store, &f.small, iters)))
    });
    g.bench_function(format!("remove_member/group_of_{SMALL}"), |b| {
        b.iter_custom(|iters| rt.block_on(time_removes(store, &f.small, iters)))
    });
    g.bench_function(format!("add_member/group_of_{}", f.large_size), |b| {
        b.iter_custom(|iters| rt.block_on(time_adds(store, &f.large, iters)))
    });
    g.bench_function(format!("remove_member/group_of_{}", f.large_size), |b| {
        b.iter_custom(|iters| rt.block_on(time_removes(store, &f.large, iters)))
    });
    g.bench_function(format!("groups_of/user_in_{USER_GROUPS}"), |b| {
        b.iter(|| rt.block_on(store.groups_of(TENANT, &f.busy_user)))
    });
    g.bench_function(format!("list/member_eq_user_in_{USER_GROUPS}"), |b| {
        b.iter(|| rt.block_on(store.list(TENANT, &by_member, 0, 100)))
    });
    let adds = (TASKS * ADDS_PER_TASK) as u64;
    g.throughput(Throughput::Elements(adds));
    g.bench_function(
        format!("concurrent_add/{TASKS}_tasks_{adds}_members"),
        |b| b.iter_custom(|iters| rt.block_on(time_concurrent_adds(store, &f.shared, iters))),
    );
    g.finish();
}

fn sqlite(c: &mut Criterion) {
    let rt = runtime();
    let dir = tempfile::tempdir().expect("a temporary directory");
    let url = format!("sqlite:{}", dir.path().join("groups.db").display());
    let f = rt.block_on(fixture(&url));
    bench_store(c, &rt, &f);
}

fn postgresql(c: &mut Criterion) {
    if !postgres::installed() {
        eprintln!(
            "store_postgres: skipped, PostgreSQL's server (initdb) is not installed \
             (apt-get install postgresql)"
        );
        return;
    }
    let rt = runtime();
    let db = postgres::database();
    let f = rt.block_on(fixture(&db.url));
    bench_store(c, &rt, &f);
}

criterion_group! {
    name = benches;
    config = config();
    targets = sqlite, postgresql
}
criterion_main!(benches);
