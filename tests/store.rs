//! The group store (`scim_gateway::store`) on both of its databases: an SQLite file in a
//! temporary directory and a real PostgreSQL server (`common::postgres`, a throw-away cluster
//! over a Unix socket). Each behaviour is one function run on both (`both!`): per-tenant
//! isolation, unique displayNames, versions, idempotent membership changes, paging; then what
//! only PostgreSQL has to show (locks and concurrent writers across two stores), export →
//! import between the two, the `store` command, and the errors of `open`.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::postgres;
use scim_gateway::metrics::Metrics;
use scim_gateway::store::{GroupQuery, GroupStore, StoreError};
use serde_json::Value;

/// A store and what keeps its database alive.
struct Fixture {
    store: GroupStore,
    url: String,
    _dir: Option<tempfile::TempDir>,
}

async fn sqlite() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite:{}", dir.path().join("groups.db").display());
    let store = GroupStore::open(&url, Arc::new(Metrics::default()))
        .await
        .unwrap();
    Fixture {
        store,
        url,
        _dir: Some(dir),
    }
}

async fn pg() -> Fixture {
    let db = postgres::database();
    let store = GroupStore::open(&db.url, Arc::new(Metrics::default()))
        .await
        .unwrap();
    Fixture {
        store,
        url: db.url,
        _dir: None,
    }
}

/// `both!(f)`: the tests `f::sqlite` and `f::postgres`, each running `f(&store)`.
macro_rules! both {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                let f = super::sqlite().await;
                assert_eq!(f.store.kind(), "sqlite");
                super::$name(&f.store).await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                let f = super::pg().await;
                assert_eq!(f.store.kind(), "postgres");
                super::$name(&f.store).await;
            }
        }
    )*};
}

both!(
    create_get_and_list_with_every_filter,
    tenants_cannot_see_or_touch_each_others_groups,
    display_names_are_unique_per_tenant_ignoring_case,
    every_change_bumps_the_version_and_a_stale_version_is_refused,
    membership_changes_are_idempotent,
    members_come_in_pages_with_exact_totals,
    replace_members_reports_the_difference,
    delete_returns_the_former_members,
    remove_user_leaves_every_group_of_its_tenant,
);

fn users(names: &[&str]) -> Vec<String> {
    names.iter().map(|s| s.to_string()).collect()
}

fn by_name(name: &str) -> GroupQuery {
    GroupQuery {
        display_name: Some(name.into()),
        ..GroupQuery::default()
    }
}

async fn create_get_and_list_with_every_filter(s: &GroupStore) {
    let eng = s
        .create("acme", "Engineering", Some("ext-1"), &users(&["u1", "u2"]))
        .await
        .unwrap();
    assert_eq!(eng.version, 1);
    assert_eq!(uuid::Uuid::parse_str(&eng.id).unwrap().get_version_num(), 4);
    assert_eq!(eng.created, eng.last_modified);
    let sales = s
        .create("acme", "Sales", None, &users(&["u2"]))
        .await
        .unwrap();
    let ops = s.create("acme", "Ops", None, &[]).await.unwrap();

    assert_eq!(s.get("acme", &eng.id).await.unwrap(), Some(eng.clone()));
    assert_eq!(s.get("acme", "no-such-id").await.unwrap(), None);

    let all = s.list("acme", &GroupQuery::default(), 0, 10).await.unwrap();
    assert_eq!(all, (vec![eng.clone(), sales.clone(), ops.clone()], 3));
    let page = s.list("acme", &GroupQuery::default(), 1, 1).await.unwrap();
    assert_eq!(page, (vec![sales.clone()], 3), "offset 1, one per page");
    let count_only = s.list("acme", &GroupQuery::default(), 0, 0).await.unwrap();
    assert_eq!(count_only, (vec![], 3));

    let (found, total) = s
        .list("acme", &by_name("eNGINEERING"), 0, 10)
        .await
        .unwrap();
    assert_eq!(
        (found, total),
        (vec![eng.clone()], 1),
        "displayName ignores case"
    );
    let q = GroupQuery {
        external_id: Some("ext-1".into()),
        ..GroupQuery::default()
    };
    assert_eq!(s.list("acme", &q, 0, 10).await.unwrap().1, 1);
    let q = GroupQuery {
        external_id: Some("EXT-1".into()),
        ..GroupQuery::default()
    };
    assert_eq!(
        s.list("acme", &q, 0, 10).await.unwrap().1,
        0,
        "externalId is exact"
    );
    let q = GroupQuery {
        member: Some("u2".into()),
        ..GroupQuery::default()
    };
    assert_eq!(
        s.list("acme", &q, 0, 10).await.unwrap(),
        (vec![eng.clone(), sales.clone()], 2)
    );
    // Entra's membership check: id eq … and members[value eq …].
    let q = GroupQuery {
        id: Some(sales.id.clone()),
        member: Some("u1".into()),
        ..GroupQuery::default()
    };
    assert_eq!(s.list("acme", &q, 0, 10).await.unwrap().1, 0);
    let q = GroupQuery {
        id: Some(sales.id.clone()),
        member: Some("u2".into()),
        ..GroupQuery::default()
    };
    assert_eq!(s.list("acme", &q, 0, 10).await.unwrap().1, 1);

    assert!(s.has_member("acme", &eng.id, "u1").await.unwrap());
    assert!(!s.has_member("acme", &ops.id, "u1").await.unwrap());
    let of_u2 = s.groups_of("acme", "u2").await.unwrap();
    assert_eq!(of_u2, vec![eng, sales]);
    s.ping().await.unwrap();
}

async fn tenants_cannot_see_or_touch_each_others_groups(s: &GroupStore) {
    let a = s
        .create("tenant-a", "Admins", Some("x"), &users(&["alice"]))
        .await
        .unwrap();
    let id = &a.id.clone();
    let b = "tenant-b";
    assert_eq!(s.get(b, id).await.unwrap(), None);
    assert_eq!(
        s.list(b, &GroupQuery::default(), 0, 10).await.unwrap(),
        (vec![], 0)
    );
    assert_eq!(s.list(b, &by_name("Admins"), 0, 10).await.unwrap().1, 0);
    let q = GroupQuery {
        member: Some("alice".into()),
        ..GroupQuery::default()
    };
    assert_eq!(s.list(b, &q, 0, 10).await.unwrap().1, 0);
    let q = GroupQuery {
        id: Some(id.into()),
        ..GroupQuery::default()
    };
    assert_eq!(s.list(b, &q, 0, 10).await.unwrap().1, 0);
    assert!(!s.has_member(b, id, "alice").await.unwrap());
    assert_eq!(s.groups_of(b, "alice").await.unwrap(), vec![]);
    assert_eq!(s.members(b, id, 0, 10).await, Err(StoreError::NotFound));
    assert_eq!(
        s.update(b, id, "Hijacked", None, None).await,
        Err(StoreError::NotFound)
    );
    assert_eq!(
        s.add_members(b, id, &users(&["mallory"])).await,
        Err(StoreError::NotFound)
    );
    assert_eq!(
        s.remove_members(b, id, &users(&["alice"])).await,
        Err(StoreError::NotFound)
    );
    assert_eq!(
        s.replace_members(b, id, &users(&["mallory"])).await,
        Err(StoreError::NotFound)
    );
    assert_eq!(
        s.remove_user(b, "alice").await.unwrap(),
        Vec::<String>::new()
    );
    assert_eq!(s.delete(b, id).await, Err(StoreError::NotFound));
    // Tenant A's group is as it was.
    assert_eq!(s.get("tenant-a", id).await.unwrap(), Some(a));
    assert_eq!(
        s.members("tenant-a", id, 0, 10).await.unwrap(),
        (users(&["alice"]), 1)
    );
}

async fn display_names_are_unique_per_tenant_ignoring_case(s: &GroupStore) {
    let g = s.create("acme", "Tallybook Pro", None, &[]).await.unwrap();
    let err = s
        .create("acme", "TALLYBOOK PRO", None, &users(&["u1"]))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, StoreError::Conflict(m) if m.contains("TALLYBOOK PRO")),
        "{err:?}"
    );
    assert_eq!(
        s.list("acme", &GroupQuery::default(), 0, 10)
            .await
            .unwrap()
            .1,
        1
    );
    // Another tenant may have the same name.
    s.create("globex", "Tallybook Pro", None, &[])
        .await
        .unwrap();
    // Renaming onto a taken name is a conflict too; changing one's own case is not.
    let other = s.create("acme", "Managers", None, &[]).await.unwrap();
    assert!(matches!(
        s.update("acme", &other.id, "tallybook pro", None, None)
            .await,
        Err(StoreError::Conflict(_))
    ));
    let renamed = s
        .update("acme", &g.id, "TallyBook PRO", None, None)
        .await
        .unwrap();
    assert_eq!(renamed.display_name, "TallyBook PRO");
}

async fn every_change_bumps_the_version_and_a_stale_version_is_refused(s: &GroupStore) {
    let g = s.create("acme", "Owners", None, &[]).await.unwrap();
    let version = |s: &GroupStore, id: String| {
        let s = s.clone();
        async move { s.get("acme", &id).await.unwrap().unwrap().version }
    };
    s.add_members("acme", &g.id, &users(&["u1"])).await.unwrap();
    assert_eq!(version(s, g.id.clone()).await, 2);
    s.remove_members("acme", &g.id, &users(&["u1"]))
        .await
        .unwrap();
    assert_eq!(version(s, g.id.clone()).await, 3);
    let updated = s
        .update("acme", &g.id, "Owners", Some("ext-9"), Some(3))
        .await
        .unwrap();
    assert_eq!(updated.version, 4);
    assert_eq!(updated.external_id.as_deref(), Some("ext-9"));
    assert!(updated.last_modified >= g.last_modified);
    assert_eq!(updated.created, g.created);
    assert_eq!(
        s.update("acme", &g.id, "Owners 2", None, Some(3)).await,
        Err(StoreError::Stale)
    );
    assert_eq!(
        s.get("acme", &g.id).await.unwrap().unwrap().display_name,
        "Owners",
        "a stale update changes nothing"
    );
    assert_eq!(
        s.update("acme", "no-such-id", "X", None, Some(1)).await,
        Err(StoreError::NotFound)
    );
    let cleared = s.update("acme", &g.id, "Owners", None, None).await.unwrap();
    assert_eq!((cleared.version, cleared.external_id), (5, None));
}

async fn membership_changes_are_idempotent(s: &GroupStore) {
    let g = s
        .create("acme", "Pro", None, &users(&["u1"]))
        .await
        .unwrap();
    let added = s
        .add_members("acme", &g.id, &users(&["u2", "u1", "u3", "u2"]))
        .await
        .unwrap();
    assert_eq!(
        added,
        users(&["u2", "u3"]),
        "u1 was a member; u2 counted once"
    );
    assert_eq!(s.get("acme", &g.id).await.unwrap().unwrap().version, 2);
    assert_eq!(
        s.add_members("acme", &g.id, &users(&["u1", "u3"]))
            .await
            .unwrap(),
        Vec::<String>::new()
    );
    assert_eq!(
        s.get("acme", &g.id).await.unwrap().unwrap().version,
        2,
        "nothing added, no new version"
    );
    assert_eq!(
        s.remove_members("acme", &g.id, &users(&["u9", "u3"]))
            .await
            .unwrap(),
        users(&["u3"])
    );
    assert_eq!(
        s.remove_members("acme", &g.id, &users(&["u3"]))
            .await
            .unwrap(),
        Vec::<String>::new()
    );
    assert_eq!(s.get("acme", &g.id).await.unwrap().unwrap().version, 3);
    assert_eq!(
        s.members("acme", &g.id, 0, 10).await.unwrap(),
        (users(&["u1", "u2"]), 2)
    );
    assert_eq!(
        s.add_members("acme", "no-such-id", &users(&["u1"])).await,
        Err(StoreError::NotFound)
    );
}

async fn members_come_in_pages_with_exact_totals(s: &GroupStore) {
    // More than one insert batch (500).
    let all: Vec<String> = (0..1203).map(|i| format!("user-{i:05}")).collect();
    let g = s
        .create("acme", "Everyone", None, &all[..700])
        .await
        .unwrap();
    let added = s.add_members("acme", &g.id, &all[600..]).await.unwrap();
    assert_eq!(added, all[700..].to_vec());
    assert_eq!(
        s.members("acme", &g.id, 1000, 10).await.unwrap(),
        (all[1000..1010].to_vec(), 1203)
    );
    assert_eq!(
        s.members("acme", &g.id, 1200, 10).await.unwrap(),
        (all[1200..].to_vec(), 1203)
    );
    assert_eq!(
        s.members("acme", &g.id, 5000, 10).await.unwrap(),
        (vec![], 1203)
    );
    assert_eq!(
        s.members("acme", &g.id, 0, 0).await.unwrap(),
        (vec![], 1203)
    );
    assert_eq!(
        s.members("acme", "no-such-id", 0, 10).await,
        Err(StoreError::NotFound)
    );
}

async fn replace_members_reports_the_difference(s: &GroupStore) {
    let g = s
        .create("acme", "Advisers", None, &users(&["a", "b", "c"]))
        .await
        .unwrap();
    let (added, mut removed) = s
        .replace_members("acme", &g.id, &users(&["c", "d", "a"]))
        .await
        .unwrap();
    removed.sort();
    assert_eq!((added, removed), (users(&["d"]), users(&["b"])));
    assert_eq!(s.get("acme", &g.id).await.unwrap().unwrap().version, 2);
    assert_eq!(
        s.replace_members("acme", &g.id, &users(&["a", "c", "d"]))
            .await
            .unwrap(),
        (vec![], vec![])
    );
    assert_eq!(s.get("acme", &g.id).await.unwrap().unwrap().version, 2);
    let (added, removed) = s.replace_members("acme", &g.id, &[]).await.unwrap();
    assert_eq!((added.len(), removed.len()), (0, 3));
    assert_eq!(s.members("acme", &g.id, 0, 10).await.unwrap().1, 0);
}

async fn delete_returns_the_former_members(s: &GroupStore) {
    let g = s
        .create("acme", "Temp", None, &users(&["y", "x"]))
        .await
        .unwrap();
    assert_eq!(s.delete("acme", &g.id).await.unwrap(), users(&["x", "y"]));
    assert_eq!(s.get("acme", &g.id).await.unwrap(), None);
    assert_eq!(s.groups_of("acme", "x").await.unwrap(), vec![]);
    assert_eq!(s.delete("acme", &g.id).await, Err(StoreError::NotFound));
    // The name is free again.
    s.create("acme", "temp", None, &[]).await.unwrap();
}

async fn remove_user_leaves_every_group_of_its_tenant(s: &GroupStore) {
    let g1 = s
        .create("acme", "One", None, &users(&["u", "v"]))
        .await
        .unwrap();
    let g2 = s.create("acme", "Two", None, &users(&["u"])).await.unwrap();
    let g3 = s
        .create("acme", "Three", None, &users(&["v"]))
        .await
        .unwrap();
    let other = s
        .create("globex", "One", None, &users(&["u"]))
        .await
        .unwrap();
    let mut expected = vec![g1.id.clone(), g2.id.clone()];
    expected.sort();
    assert_eq!(s.remove_user("acme", "u").await.unwrap(), expected);
    assert_eq!(s.groups_of("acme", "u").await.unwrap(), vec![]);
    assert_eq!(s.get("acme", &g1.id).await.unwrap().unwrap().version, 2);
    assert_eq!(s.get("acme", &g3.id).await.unwrap().unwrap().version, 1);
    assert!(s.has_member("globex", &other.id, "u").await.unwrap());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lock_on_postgres_excludes_a_second_holder_until_dropped() {
    let db = postgres::database();
    let one = GroupStore::open(&db.url, Arc::new(Metrics::default()))
        .await
        .unwrap();
    let two = GroupStore::open(&db.url, Arc::new(Metrics::default()))
        .await
        .unwrap();
    let held = one.lock("acme", "displayName:engineering").await.unwrap();
    let waiter = {
        let two = two.clone();
        tokio::spawn(async move { two.lock("acme", "displayName:engineering").await })
    };
    // Another key, or the same key of another tenant, does not wait.
    let other = tokio::time::timeout(
        Duration::from_secs(5),
        two.lock("globex", "displayName:engineering"),
    )
    .await
    .expect("another tenant's lock is free")
    .unwrap();
    drop(other);
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert!(!waiter.is_finished(), "the second holder got the lock");
    drop(held);
    let second = tokio::time::timeout(Duration::from_secs(5), waiter)
        .await
        .expect("the lock was not released when its guard was dropped")
        .unwrap()
        .unwrap();
    drop(second);
}

#[tokio::test]
async fn a_lock_on_sqlite_is_immediate() {
    let f = sqlite().await;
    let _a = f.store.lock("acme", "k").await.unwrap();
    let _b = tokio::time::timeout(Duration::from_secs(1), f.store.lock("acme", "k"))
        .await
        .unwrap()
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_stores_on_one_postgres_adding_members_at_once_lose_none() {
    let db = postgres::database();
    let one = GroupStore::open(&db.url, Arc::new(Metrics::default()))
        .await
        .unwrap();
    let two = GroupStore::open(&db.url, Arc::new(Metrics::default()))
        .await
        .unwrap();
    let g = one.create("acme", "Busy", None, &[]).await.unwrap();
    let mut tasks = Vec::new();
    for (n, store) in [(0, one.clone()), (1, two.clone())] {
        for i in 0..40 {
            let (store, id) = (store.clone(), g.id.clone());
            tasks.push(tokio::spawn(async move {
                store
                    .add_members("acme", &id, &[format!("user-{n}-{i:02}")])
                    .await
            }));
        }
    }
    for t in tasks {
        assert_eq!(t.await.unwrap().unwrap().len(), 1);
    }
    let (members, total) = two.members("acme", &g.id, 0, 100).await.unwrap();
    assert_eq!(total, 80, "{members:?}");
    assert_eq!(
        one.get("acme", &g.id).await.unwrap().unwrap().version,
        81,
        "one version per change"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn export_from_sqlite_imports_into_postgres_unchanged() {
    let from = sqlite().await;
    let s = &from.store;
    let g = s
        .create("acme", "Engineering", Some("e1"), &users(&["u1", "u2"]))
        .await
        .unwrap();
    s.add_members("acme", &g.id, &users(&["u3"])).await.unwrap();
    s.create("globex", "Engineering", None, &[]).await.unwrap();
    let doc = s.export().await.unwrap();
    assert_eq!(doc["groups"].as_array().unwrap().len(), 2);

    let to = pg().await;
    let counts = to.store.import(&doc).await.unwrap();
    assert_eq!((counts.groups, counts.members), (2, 3));
    assert_eq!(to.store.export().await.unwrap(), doc);
    assert_eq!(
        to.store.get("acme", &g.id).await.unwrap().unwrap().version,
        2
    );
    // Importing again overwrites: nothing doubles.
    to.store.import(&doc).await.unwrap();
    assert_eq!(to.store.export().await.unwrap(), doc);
    // A document that is not an export is refused, and nothing is written.
    let err = to
        .store
        .import(&serde_json::json!({"groups": []}))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Corrupt(m) if m.contains("store export")));
    // A displayName another group of the tenant has: refused as a whole.
    let mut clash = doc.clone();
    clash["groups"][0]["id"] = Value::String("another-id".into());
    assert!(matches!(
        to.store.import(&clash).await,
        Err(StoreError::Conflict(_))
    ));
    assert_eq!(to.store.export().await.unwrap(), doc);
}

#[tokio::test]
async fn the_sqlite_file_keeps_the_groups_across_a_restart() {
    let f = sqlite().await;
    let g = f
        .store
        .create("acme", "Kept", None, &users(&["u1"]))
        .await
        .unwrap();
    drop(f.store);
    let again = GroupStore::open(&f.url, Arc::new(Metrics::default()))
        .await
        .unwrap();
    assert_eq!(again.get("acme", &g.id).await.unwrap(), Some(g));
}

#[tokio::test]
async fn open_says_which_store_failed_and_how_to_fix_it_without_the_password() {
    let metrics = Arc::new(Metrics::default());
    let err = GroupStore::open(&postgres::missing_database_url(), metrics.clone())
        .await
        .unwrap_err();
    let text = err.to_string();
    assert!(matches!(err, StoreError::Unavailable(_)), "{text}");
    assert!(
        text.contains("postgres://postgres:***@localhost/no_such_database"),
        "{text}"
    );
    assert!(
        text.contains("createdb") && text.contains("[store] url"),
        "{text}"
    );
    assert!(!text.contains("hunter2"), "{text}");

    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite:{}/missing-dir/groups.db", dir.path().display());
    let text = GroupStore::open(&url, metrics)
        .await
        .unwrap_err()
        .to_string();
    assert!(
        text.contains(&url) && text.contains("directory must exist"),
        "{text}"
    );
}

#[tokio::test]
async fn store_operations_are_counted_by_outcome() {
    let metrics = Arc::new(Metrics::default());
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite:{}", dir.path().join("g.db").display());
    let s = GroupStore::open(&url, metrics.clone()).await.unwrap();
    s.create("acme", "A", None, &[]).await.unwrap();
    s.create("acme", "a", None, &[]).await.unwrap_err();
    let text = metrics.render(Default::default());
    for line in [
        "scim_gateway_store_operations_total{operation=\"create\",outcome=\"ok\"} 1",
        "scim_gateway_store_operations_total{operation=\"create\",outcome=\"conflict\"} 1",
        "scim_gateway_store_operation_seconds_count{operation=\"create\"} 2",
    ] {
        assert!(text.contains(line), "{line} missing in:\n{text}");
    }
}

#[test]
fn the_store_command_moves_groups_from_sqlite_to_postgres() {
    const BIN: &str = env!("CARGO_BIN_EXE_scim-gateway");
    let dir = tempfile::tempdir().unwrap();
    let sqlite_url = format!("sqlite:{}", dir.path().join("groups.db").display());
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let id = runtime.block_on(async {
        let s = GroupStore::open(&sqlite_url, Arc::new(Metrics::default()))
            .await
            .unwrap();
        s.create("acme", "Moved", None, &users(&["u1"]))
            .await
            .unwrap()
            .id
    });
    let config = |url: &str, name: &str| {
        let p = dir.path().join(name);
        std::fs::write(&p, format!("[store]\nurl = {url:?}\n")).unwrap();
        p
    };
    let from = config(&sqlite_url, "from.toml");
    let out = std::process::Command::new(BIN)
        .args(["store", "export", "--config"])
        .arg(&from)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let file = dir.path().join("export.json");
    std::fs::write(&file, &out.stdout).unwrap();

    let db = postgres::database();
    let to = config(&db.url, "to.toml");
    let out = std::process::Command::new(BIN)
        .args(["store", "import"])
        .arg(&file)
        .arg("--config")
        .arg(&to)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains("imported 1 groups with 1 memberships"),
        "{stderr}"
    );
    let got = runtime.block_on(async {
        let s = GroupStore::open(&db.url, Arc::new(Metrics::default()))
            .await
            .unwrap();
        s.members("acme", &id, 0, 10).await.unwrap()
    });
    assert_eq!(got, (users(&["u1"]), 1));
}
