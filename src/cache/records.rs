//! The legacy-record cache: the user records the gateway has just read or written, kept a few
//! seconds so that the read half of the next write of the same user (Entra's cycle is a match by
//! filter, a GET, then a PATCH) needs no second legacy call. A record is kept as the bytes the
//! legacy API sent (one shared buffer, about 1–2 KB) and parsed again when used: a parsed JSON
//! tree is several times larger, and thousands of them cost memory and CPU on every read.
//!
//! Records are put here, and taken out when a write makes them stale, once the request's answer
//! is written (the answer does not wait on the cache's bookkeeping; the same connection's next
//! request sees the result, and a removal is also made at once): see `server::recent`.
//!
//! It is only used where a stale record cannot do harm: the gateway reads from it only for a
//! write whose update endpoint sends the record's version as `If-Match` (`if_match: true` in the
//! mapping), so a record that changed in the legacy product since is refused there (412) and
//! read again. Reads answered to a client (GET, lists) always go to the legacy API. A record is
//! put here only under the id it carries (read through the identity check, or the id of the
//! record a write answered), and the write that takes one uses it only when that is still so.

use std::time::Duration;

use bytes::Bytes;
use moka::future::Cache;
use moka::policy::EvictionPolicy;

/// A change of the cache left for later (until a request's answer is written), done by
/// [`RecordCache::apply`]: `record` becomes the current state of user `id` of `tenant`, or
/// that user is forgotten.
#[derive(Debug)]
pub(crate) enum RecordWork {
    Put {
        tenant: String,
        id: String,
        record: Bytes,
    },
    Forget {
        tenant: String,
        id: String,
    },
}

/// (tenant, legacy id) → the legacy record.
pub struct RecordCache {
    records: Option<Cache<(String, String), Bytes>>,
}

impl RecordCache {
    /// A cache whose entries live at most `ttl` (zero: a cache that keeps nothing) and that
    /// holds at most `max_entries` records, the least recently used going first. A record is
    /// wanted by the write that follows its read within moments, so a few hundred are enough
    /// whatever the number of users; and every record is admitted (moka's default policy
    /// keeps out a new key when the cache is full, which here is every key).
    pub(crate) fn new(ttl: Duration, max_entries: u64) -> RecordCache {
        let records = (!ttl.is_zero() && max_entries > 0).then(|| {
            Cache::builder()
                .time_to_live(ttl)
                .max_capacity(max_entries)
                .eviction_policy(EvictionPolicy::lru())
                .build()
        });
        RecordCache { records }
    }

    /// The record last seen for `id` of `tenant`, if it is still fresh.
    pub(crate) async fn get(&self, tenant: &str, id: &str) -> Option<Bytes> {
        let records = self.records.as_ref()?;
        records.get(&(tenant.to_string(), id.to_string())).await
    }

    /// Does `work`, left for later ([`RecordWork`]). A record put is kept as a compact copy:
    /// the bytes handed in may be a slice of a larger read buffer, which must not stay alive.
    pub(crate) async fn apply(&self, work: RecordWork) {
        let Some(records) = &self.records else {
            return;
        };
        match work {
            RecordWork::Put { tenant, id, record } => {
                records
                    .insert((tenant, id), Bytes::copy_from_slice(&record))
                    .await;
            }
            RecordWork::Forget { tenant, id } => records.invalidate(&(tenant, id)).await,
        }
    }

    /// Forgets `id` of `tenant` (the gateway changed it in a way it did not read back).
    pub(crate) async fn forget(&self, tenant: &str, id: &str) {
        if let Some(records) = &self.records {
            records
                .invalidate(&(tenant.to_string(), id.to_string()))
                .await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    impl RecordCache {
        async fn put(&self, tenant: &str, id: &str, record: Bytes) {
            self.apply(RecordWork::Put {
                tenant: tenant.into(),
                id: id.into(),
                record,
            })
            .await;
        }
    }

    #[tokio::test]
    async fn records_are_kept_per_tenant_and_forgotten_on_demand() {
        let cache = RecordCache::new(Duration::from_secs(60), 100);
        cache.put("a", "1", Bytes::from_static(b"a")).await;
        cache.put("b", "1", Bytes::from_static(b"b")).await;
        assert_eq!(cache.get("a", "1").await.unwrap(), "a");
        assert_eq!(cache.get("b", "1").await.unwrap(), "b");
        cache.forget("a", "1").await;
        assert!(cache.get("a", "1").await.is_none());
        assert!(cache.get("b", "1").await.is_some());
    }

    #[tokio::test]
    async fn a_zero_ttl_keeps_nothing() {
        let cache = RecordCache::new(Duration::ZERO, 100);
        cache.put("a", "1", Bytes::from_static(b"{}")).await;
        assert!(cache.get("a", "1").await.is_none());
    }

    #[tokio::test]
    async fn records_expire_after_the_ttl() {
        let cache = RecordCache::new(Duration::from_millis(50), 100);
        cache.put("a", "1", Bytes::from_static(b"{}")).await;
        tokio::time::sleep(Duration::from_millis(120)).await;
        assert!(cache.get("a", "1").await.is_none());
    }

    #[tokio::test]
    async fn when_full_the_newest_record_is_kept_and_the_least_recently_used_goes() {
        let cache = RecordCache::new(Duration::from_secs(60), 3);
        for id in 0..200 {
            let id = id.to_string();
            cache.put("a", &id, Bytes::from(id.clone())).await;
            if let Some(records) = &cache.records {
                records.run_pending_tasks().await;
            }
            // The record just read is there for the write that follows, however many were
            // read before it.
            assert_eq!(cache.get("a", &id).await.as_deref(), Some(id.as_bytes()));
        }
        assert!(cache.get("a", "0").await.is_none());
    }

    #[tokio::test]
    async fn no_room_keeps_nothing() {
        let cache = RecordCache::new(Duration::from_secs(60), 0);
        cache.put("a", "1", Bytes::from_static(b"{}")).await;
        assert!(cache.get("a", "1").await.is_none());
    }
}
