//! The group-membership cache (`docs/architecture.md`, "Where state lives"): "which groups is
//! this user in" answers, kept for a bounded time and number of entries, loaded once when
//! several requests miss together (single-flight), and dropped as soon as the gateway itself
//! changes a membership.
//!
//! Staleness: a change made in the legacy product directly (not through this gateway) is seen
//! after at most the TTL. Several gateway replicas each hold their own cache, so a write through
//! one replica is seen by the others after at most the TTL too.
//!
//! Tenants: entries are keyed by (tenant, user id), and every look-up and invalidation names the
//! tenant, so one tenant's cached groups are never answered to another, even where two tenants'
//! legacy user ids are the same.
//!
//! It also remembers, for the same TTL, the user ids a legacy API said it does not have when a
//! member add asked: an identity provider that sends the same unknown ids again (a retry, a
//! request of thousands of them) costs the legacy API no call for them. An id is forgotten as
//! soon as the gateway creates or reads that user; a user created in the legacy product
//! directly can be added as a member after at most the TTL.
//!
//! Not for: member lists of whole groups (a 100,000-member group is paged from the legacy API,
//! never held here).

pub(crate) mod records;

use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use moka::future::Cache;

use crate::scim::ScimError;

/// A group a user belongs to, as SCIM's `groups` attribute shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct GroupRef {
    pub(crate) id: String,
    pub(crate) display: Option<String>,
}

/// Cache statistics, for the metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CacheStats {
    pub(crate) hits: u64,
    pub(crate) misses: u64,
}

/// (tenant, user id) → the user's groups.
pub struct MembershipCache {
    user_groups: Cache<String, Arc<Vec<GroupRef>>>,
    /// (tenant, user id) the legacy API said it does not have, when a member add asked.
    unknown_users: Cache<String, ()>,
    /// Whether any user was ever remembered as unknown: until one is, every read of a user
    /// knows at once that it was not, without building a key and looking it up.
    any_unknown: AtomicBool,
    hits: AtomicU64,
    misses: AtomicU64,
}

impl MembershipCache {
    /// A cache whose entries live at most `ttl` and that holds at most `max_entries` users.
    pub(crate) fn new(ttl: Duration, max_entries: u64) -> MembershipCache {
        MembershipCache {
            user_groups: Cache::builder()
                .time_to_live(ttl)
                .max_capacity(max_entries)
                .build(),
            unknown_users: Cache::builder()
                .time_to_live(ttl)
                .max_capacity(max_entries)
                .build(),
            any_unknown: AtomicBool::new(false),
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
        }
    }

    /// The groups of `user_id` of `tenant`, from the cache or from the future `load` makes.
    /// Concurrent misses for the same user run it once; a failed load is not cached. The
    /// loader is only called on a miss: a hit neither builds nor moves its future.
    pub(crate) async fn user_groups<L, F>(
        &self,
        tenant: &str,
        user_id: &str,
        load: L,
    ) -> Result<Arc<Vec<GroupRef>>, ScimError>
    where
        L: FnOnce() -> F,
        F: Future<Output = Result<Vec<GroupRef>, ScimError>>,
    {
        let key = entry_key(tenant, user_id);
        if let Some(found) = self.user_groups.get(&key).await {
            self.hits.fetch_add(1, Ordering::Relaxed);
            return Ok(found);
        }
        self.misses.fetch_add(1, Ordering::Relaxed);
        // The loader (a chain of legacy calls) is a large future; moka moves it several times
        // by value. Boxed, it moves as a pointer — unboxed, a debug build overflowed the stack of
        // the server's worker threads.
        let load = Box::pin(load());
        self.user_groups
            .try_get_with(key, async { load.await.map(shared_list) })
            .await
            .map_err(|e| (*e).clone())
    }

    /// Records that `user_id` of `tenant` is in no group (a user the gateway just created), so
    /// that reading it back looks nothing up. A plain insert: there is no load to share.
    pub(crate) async fn user_has_no_groups(&self, tenant: &str, user_id: &str) {
        self.user_groups
            .insert(entry_key(tenant, user_id), shared_list(Vec::new()))
            .await;
    }

    /// Forgets what is known of these users' groups in `tenant` (after the gateway changed
    /// them).
    pub(crate) async fn invalidate_users<'a>(
        &self,
        tenant: &str,
        user_ids: impl IntoIterator<Item = &'a str>,
    ) {
        for id in user_ids {
            self.user_groups.invalidate(&entry_key(tenant, id)).await;
        }
    }

    /// Forgets everything, every tenant's (a group was renamed or deleted: every user's
    /// `groups` may show it; a reload).
    pub(crate) fn invalidate_all(&self) {
        self.user_groups.invalidate_all();
        self.unknown_users.invalidate_all();
    }

    /// Whether the legacy API of `tenant` said lately that it has no user `user_id`.
    pub(crate) fn is_unknown_user(&self, tenant: &str, user_id: &str) -> bool {
        self.any_unknown.load(Ordering::Acquire)
            && self.unknown_users.contains_key(&entry_key(tenant, user_id))
    }

    /// Remembers that the legacy API of `tenant` has no user `user_id`.
    pub(crate) async fn unknown_user(&self, tenant: &str, user_id: &str) {
        self.any_unknown.store(true, Ordering::Release);
        // Boxed, like every cache future on a request path: moka's futures are large.
        Box::pin(self.unknown_users.insert(entry_key(tenant, user_id), ())).await;
    }

    /// Forgets that user `user_id` of `tenant` was unknown: the gateway created or read it.
    pub(crate) async fn known_user(&self, tenant: &str, user_id: &str) {
        Box::pin(self.unknown_users.invalidate(&entry_key(tenant, user_id))).await;
    }

    pub fn stats(&self) -> CacheStats {
        CacheStats {
            hits: self.hits.load(Ordering::Relaxed),
            misses: self.misses.load(Ordering::Relaxed),
        }
    }
}

/// The cache key of a tenant's user. Tenant names never contain '/' (`keys::check_tenant_name`),
/// so the first '/' separates the two and no two (tenant, user) pairs share a key.
/// `groups` as a cache entry: one list shared by every user in no group (most users, in most
/// products), rather than an allocation of its own per entry.
fn shared_list(groups: Vec<GroupRef>) -> Arc<Vec<GroupRef>> {
    static NONE: std::sync::LazyLock<Arc<Vec<GroupRef>>> =
        std::sync::LazyLock::new(|| Arc::new(Vec::new()));
    if groups.is_empty() {
        Arc::clone(&NONE)
    } else {
        Arc::new(groups)
    }
}

fn entry_key(tenant: &str, user_id: &str) -> String {
    let mut key = String::with_capacity(tenant.len() + 1 + user_id.len());
    key.push_str(tenant);
    key.push('/');
    key.push_str(user_id);
    key
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;

    fn g(id: &str) -> GroupRef {
        GroupRef {
            id: id.into(),
            display: Some(format!("Group {id}")),
        }
    }

    #[tokio::test]
    async fn an_unknown_user_is_remembered_per_tenant_until_known() {
        let cache = MembershipCache::new(Duration::from_secs(60), 100);
        cache.unknown_user("t", "u1").await;
        assert!(cache.is_unknown_user("t", "u1"));
        assert!(!cache.is_unknown_user("other", "u1"), "per tenant");
        assert!(!cache.is_unknown_user("t", "u2"));
        cache.known_user("t", "u1").await;
        assert!(!cache.is_unknown_user("t", "u1"), "forgotten once known");
        cache.unknown_user("t", "u1").await;
        cache.invalidate_all();
        assert!(!cache.is_unknown_user("t", "u1"), "forgotten on a reload");
    }

    #[tokio::test]
    async fn a_second_look_up_is_a_hit_and_does_not_load() {
        let cache = MembershipCache::new(Duration::from_secs(60), 100);
        let loads = AtomicUsize::new(0);
        for _ in 0..3 {
            let loads = &loads;
            let got = cache
                .user_groups("t", "u1", move || async move {
                    loads.fetch_add(1, Ordering::SeqCst);
                    Ok(vec![g("a")])
                })
                .await
                .unwrap();
            assert_eq!(got.as_slice(), &[g("a")]);
        }
        assert_eq!(loads.load(Ordering::SeqCst), 1);
        assert_eq!(cache.stats(), CacheStats { hits: 2, misses: 1 });
    }

    #[tokio::test]
    async fn users_in_no_group_share_one_list_and_the_others_keep_their_own() {
        let cache = MembershipCache::new(Duration::from_secs(60), 100);
        let mut lists = Vec::new();
        for (user, groups) in [("u1", vec![]), ("u2", vec![]), ("u3", vec![g("a")])] {
            let got = cache
                .user_groups("t", user, move || async move { Ok(groups) })
                .await
                .unwrap();
            lists.push(got);
        }
        assert!(lists[0].is_empty() && Arc::ptr_eq(&lists[0], &lists[1]));
        assert_eq!(lists[2].as_slice(), &[g("a")]);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_misses_load_once() {
        let cache = Arc::new(MembershipCache::new(Duration::from_secs(60), 100));
        let loads = Arc::new(AtomicUsize::new(0));
        let mut tasks = Vec::new();
        for _ in 0..16 {
            let (cache, loads) = (cache.clone(), loads.clone());
            tasks.push(tokio::spawn(async move {
                cache
                    .user_groups("t", "u1", || async move {
                        loads.fetch_add(1, Ordering::SeqCst);
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        Ok(vec![g("a")])
                    })
                    .await
                    .unwrap()
            }));
        }
        for t in tasks {
            assert_eq!(t.await.unwrap().len(), 1);
        }
        assert_eq!(
            loads.load(Ordering::SeqCst),
            1,
            "one load for sixteen concurrent misses"
        );
    }

    #[tokio::test]
    async fn a_write_through_the_gateway_is_seen_on_the_next_read() {
        let cache = MembershipCache::new(Duration::from_secs(60), 100);
        cache
            .user_groups("t", "u1", || async { Ok(vec![g("a")]) })
            .await
            .unwrap();
        cache.invalidate_users("t", ["u1"]).await;
        let got = cache
            .user_groups("t", "u1", || async { Ok(vec![g("a"), g("b")]) })
            .await
            .unwrap();
        assert_eq!(got.len(), 2, "no stale read after the gateway's own write");
        cache.invalidate_all();
        let got = cache
            .user_groups("t", "u1", || async { Ok(vec![]) })
            .await
            .unwrap();
        assert!(got.is_empty());
    }

    #[tokio::test]
    async fn a_failed_load_is_not_cached() {
        let cache = MembershipCache::new(Duration::from_secs(60), 100);
        let err = cache
            .user_groups("t", "u1", || async { Err(ScimError::bad_gateway("down")) })
            .await
            .unwrap_err();
        assert_eq!(err.status, 502);
        let got = cache
            .user_groups("t", "u1", || async { Ok(vec![g("a")]) })
            .await
            .unwrap();
        assert_eq!(got.len(), 1);
    }

    #[tokio::test]
    async fn tenants_never_see_each_others_entries() {
        let cache = MembershipCache::new(Duration::from_secs(60), 100);
        cache
            .user_groups("acme", "17", || async { Ok(vec![g("acme-admins")]) })
            .await
            .unwrap();
        // The same legacy user id in another tenant is another user.
        let other = cache
            .user_groups("globex", "17", || async { Ok(vec![g("globex-sales")]) })
            .await
            .unwrap();
        assert_eq!(other.as_slice(), &[g("globex-sales")]);
        // An invalidation in one tenant leaves the other's entry alone.
        cache.invalidate_users("globex", ["17"]).await;
        let acme = cache
            .user_groups("acme", "17", || async { Ok(vec![]) })
            .await
            .unwrap();
        assert_eq!(acme.as_slice(), &[g("acme-admins")]);
    }

    #[tokio::test]
    async fn entries_expire_after_the_ttl() {
        let cache = MembershipCache::new(Duration::from_millis(50), 100);
        cache
            .user_groups("t", "u1", || async { Ok(vec![g("a")]) })
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_millis(120)).await;
        let got = cache
            .user_groups("t", "u1", || async { Ok(vec![]) })
            .await
            .unwrap();
        assert!(
            got.is_empty(),
            "the legacy API's own change is seen after the TTL"
        );
    }
}
