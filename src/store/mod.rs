//! The group store: SCIM Groups held by the gateway itself (a mapping's `groups: held_by:
//! gateway`) for legacy products that have no groups. One schema and one code path (sqlx's Any
//! driver) over two databases: SQLite, embedded, a file that needs nothing installed (the
//! default; one replica), and PostgreSQL, shared by several replicas. The schema's migrations
//! are applied at `open`; every statement names the tenant; every membership change is one
//! transaction that bumps the group's version, so two replicas changing one group lose nothing.
//! The SQL is in `sql.rs`, all of it.
//!
//! Not here: the SCIM side (`server::groups`: parsing, filters, PATCH, the HTTP status each
//! [`StoreError`] becomes), roles and flags derived from the groups, the checks that members
//! are legacy users.

mod sql;

use std::borrow::Cow;
use std::collections::{BTreeMap, HashSet};
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Once};
use std::time::{Duration, Instant};

use serde::Serialize;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use sqlx::any::{AnyPoolOptions, AnyRow};
use sqlx::migrate::{Migration, MigrationSource, MigrationType, Migrator};
use sqlx::postgres::PgConnection;
use sqlx::{AnyPool, Connection, Executor, Row};

use crate::metrics::Metrics;

/// How long an operation waits for a free connection (or for the database to answer a new
/// one) before it fails as [`StoreError::Unavailable`].
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(5);
/// How long [`GroupStore::lock`] waits for another replica to release the same key.
const LOCK_TIMEOUT: Duration = Duration::from_secs(15);
/// Members inserted or deleted per statement (3 parameters a row, far below both databases'
/// limits).
const BATCH: usize = 500;
/// The `format` of an export document.
const EXPORT_FORMAT: &str = "scim-gateway-groups";

/// A group as stored. `version` starts at 1 and grows by one at every change (its
/// displayName, externalId or members): the SCIM ETag.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StoredGroup {
    pub id: String,
    pub display_name: String,
    pub external_id: Option<String>,
    /// RFC 3339, UTC.
    pub created: String,
    pub last_modified: String,
    pub version: i64,
}

/// What [`GroupStore::list`] selects; every field present must match.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GroupQuery {
    pub id: Option<String>,
    /// Equal ignoring case.
    pub display_name: Option<String>,
    /// Exactly equal.
    pub external_id: Option<String>,
    /// The group has this member.
    pub member: Option<String>,
}

/// What [`GroupStore::import`] wrote.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct ImportCounts {
    pub groups: u64,
    pub members: u64,
}

/// Why a store operation failed.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum StoreError {
    /// The database cannot be reached, timed out, or is shutting down (SCIM 503 with
    /// Retry-After).
    #[error("the group store is unavailable: {0}")]
    Unavailable(String),
    /// The displayName is taken by another group of the tenant (SCIM 409 uniqueness).
    #[error("{0}")]
    Conflict(String),
    /// The expected version is not the group's (SCIM 412).
    #[error("the group was changed meanwhile (its version is not the one expected)")]
    Stale,
    /// No such group in the tenant.
    #[error("no such group")]
    NotFound,
    /// Anything else: a bug, a damaged database, an unreadable import document (SCIM 500).
    #[error("the group store failed: {0}")]
    Corrupt(String),
}

impl StoreError {
    /// The `outcome` label of `scim_gateway_store_operations_total`.
    fn outcome(&self) -> &'static str {
        match self {
            StoreError::Unavailable(_) => "unavailable",
            StoreError::Conflict(_) => "conflict",
            StoreError::Stale => "stale",
            StoreError::NotFound => "not_found",
            StoreError::Corrupt(_) => "corrupt",
        }
    }
}

/// The two databases.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Sqlite,
    Postgres,
}

/// The group store: a connection pool, cheap to clone.
#[derive(Clone)]
pub struct GroupStore {
    inner: Arc<Inner>,
}

struct Inner {
    pool: AnyPool,
    kind: Kind,
    /// The URL as configured (it may hold a password: never printed; see [`redact_url`]).
    url: String,
    metrics: Arc<Metrics>,
}

impl std::fmt::Debug for GroupStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GroupStore")
            .field("url", &redact_url(&self.inner.url))
            .finish()
    }
}

/// A lock held across replicas until dropped (see [`GroupStore::lock`]).
pub struct StoreLock {
    /// PostgreSQL: the connection whose session holds the advisory lock; closing it releases
    /// the lock. SQLite: none (one replica; the in-process locks suffice).
    conn: Option<PgConnection>,
}

impl std::fmt::Debug for StoreLock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoreLock")
            .field("held_in_database", &self.conn.is_some())
            .finish()
    }
}

impl Drop for StoreLock {
    fn drop(&mut self) {
        if let Some(conn) = self.conn.take() {
            // A clean close (the server releases the session's locks at once); without a
            // runtime the socket is simply dropped, which the server notices as well.
            if let Ok(handle) = tokio::runtime::Handle::try_current() {
                handle.spawn(async move {
                    let _ = conn.close().await;
                });
            }
        }
    }
}

/// The URL with its password (in the authority or as `password=` in the query) replaced by
/// `***`, for messages and logs.
pub fn redact_url(url: &str) -> String {
    let mut out = url.to_string();
    if let Some(scheme_end) = out.find("://") {
        let rest = scheme_end + 3;
        let authority_end = out[rest..].find(['/', '?']).map_or(out.len(), |i| rest + i);
        if let Some(at) = out[rest..authority_end].rfind('@') {
            let userinfo = &out[rest..rest + at];
            if let Some(colon) = userinfo.find(':') {
                out.replace_range(rest + colon + 1..rest + at, "***");
            }
        }
    }
    if let Some(q) = out.find('?') {
        let (head, query) = out.split_at(q + 1);
        let query: Vec<String> = query
            .split('&')
            .map(|p| match p.split_once('=') {
                Some((k, _)) if k.eq_ignore_ascii_case("password") => format!("{k}=***"),
                _ => p.to_string(),
            })
            .collect();
        out = format!("{head}{}", query.join("&"));
    }
    out
}

/// The migrations of `sql::MIGRATIONS`, compiled in (sqlx's `migrate!` macro is not used).
#[derive(Debug)]
struct Migrations;

impl<'s> MigrationSource<'s> for Migrations {
    #[allow(clippy::type_complexity)]
    fn resolve(
        self,
    ) -> Pin<Box<dyn Future<Output = Result<Vec<Migration>, sqlx::error::BoxDynError>> + Send + 's>>
    {
        Box::pin(async {
            Ok(sql::MIGRATIONS
                .iter()
                .map(|(version, description, text)| {
                    Migration::new(
                        *version,
                        Cow::Borrowed(*description),
                        MigrationType::Simple,
                        Cow::Borrowed(*text),
                        false,
                    )
                })
                .collect())
        })
    }
}

/// The time now, as stored: RFC 3339 in UTC with microseconds, so that text order is time
/// order.
fn now() -> String {
    let format = time::macros::format_description!(
        "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:6]Z"
    );
    time::OffsetDateTime::now_utc()
        .format(&format)
        .unwrap_or_default()
}

/// The key that makes displayNames unique per tenant ignoring case.
fn name_key(display_name: &str) -> String {
    display_name.to_lowercase()
}

/// The users once each, in their order.
fn distinct(users: &[String]) -> Vec<&str> {
    let mut seen = HashSet::new();
    users
        .iter()
        .map(String::as_str)
        .filter(|u| seen.insert(*u))
        .collect()
}

/// A sqlx error as a [`StoreError`]: connection trouble is `Unavailable`, the rest `Corrupt`.
fn classify(e: sqlx::Error) -> StoreError {
    use sqlx::Error as E;
    match &e {
        E::PoolTimedOut | E::PoolClosed | E::Io(_) | E::Tls(_) | E::WorkerCrashed => {
            StoreError::Unavailable(e.to_string())
        }
        E::Database(db) => {
            let code = db.code().unwrap_or_default();
            // PostgreSQL: connection exceptions (08), insufficient resources (53), operator
            // intervention such as a shutdown (57), serialization failure and deadlock (40),
            // credentials refused (28), the database gone (3D000: dropped, or never made).
            // SQLite: busy (5) and locked (6), with their extended codes.
            let transient = ["08", "53", "57", "40", "28", "3D000"]
                .iter()
                .any(|p| code.starts_with(p))
                || code.parse::<i64>().is_ok_and(|c| matches!(c & 0xff, 5 | 6));
            if transient {
                StoreError::Unavailable(e.to_string())
            } else {
                StoreError::Corrupt(e.to_string())
            }
        }
        _ => StoreError::Corrupt(e.to_string()),
    }
}

/// As [`classify`], with a unique violation as the displayName `name` taken.
fn classify_write(e: sqlx::Error, name: &str) -> StoreError {
    if let sqlx::Error::Database(db) = &e {
        if db.is_unique_violation() {
            return StoreError::Conflict(format!(
                "a group with displayName {name:?} already exists in this tenant"
            ));
        }
        if db.is_foreign_key_violation() {
            return StoreError::NotFound;
        }
    }
    classify(e)
}

fn group_from_row(row: &AnyRow) -> Result<StoredGroup, StoreError> {
    let corrupt = |e: sqlx::Error| StoreError::Corrupt(format!("a stored group: {e}"));
    Ok(StoredGroup {
        id: row.try_get(0).map_err(corrupt)?,
        display_name: row.try_get(1).map_err(corrupt)?,
        external_id: row.try_get(2).map_err(corrupt)?,
        created: row.try_get(3).map_err(corrupt)?,
        last_modified: row.try_get(4).map_err(corrupt)?,
        version: row.try_get(5).map_err(corrupt)?,
    })
}

fn first_string(row: &AnyRow) -> Result<String, StoreError> {
    row.try_get(0)
        .map_err(|e| StoreError::Corrupt(format!("a stored value: {e}")))
}

fn count_from_row(row: &AnyRow) -> Result<u64, StoreError> {
    let n: i64 = row
        .try_get(0)
        .map_err(|e| StoreError::Corrupt(format!("a count: {e}")))?;
    Ok(u64::try_from(n).unwrap_or(0))
}

fn to_i64(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

type Tx = sqlx::Transaction<'static, sqlx::Any>;

/// Runs `statement` with the tenant and one more value in `tx`, and returns the first column
/// of every row it answers (member or group ids).
async fn strings(
    tx: &mut Tx,
    statement: &str,
    tenant: &str,
    key: &str,
) -> Result<Vec<String>, StoreError> {
    sqlx::query(statement)
        .bind(tenant)
        .bind(key)
        .fetch_all(&mut **tx)
        .await
        .map_err(classify)?
        .iter()
        .map(first_string)
        .collect()
}

/// Inserts `users` (distinct) as members; returns those that were not members yet.
async fn insert_members(
    tx: &mut Tx,
    tenant: &str,
    id: &str,
    users: &[&str],
) -> Result<Vec<String>, StoreError> {
    let mut added = Vec::new();
    for chunk in users.chunks(BATCH) {
        let text = sql::insert_members(chunk.len());
        let mut q = sqlx::query(&text).bind(tenant).bind(id);
        for u in chunk {
            q = q.bind(*u);
        }
        let rows = q
            .fetch_all(&mut **tx)
            .await
            .map_err(|e| classify_write(e, ""))?;
        for row in &rows {
            added.push(first_string(row)?);
        }
    }
    // RETURNING gives no order: answer in the order asked.
    let added_set: HashSet<&str> = added.iter().map(String::as_str).collect();
    Ok(users
        .iter()
        .filter(|u| added_set.contains(**u))
        .map(|u| u.to_string())
        .collect())
}

/// Deletes the memberships of `users` (distinct); returns those that were members.
async fn delete_members(
    tx: &mut Tx,
    tenant: &str,
    id: &str,
    users: &[&str],
) -> Result<Vec<String>, StoreError> {
    let mut removed = Vec::new();
    for chunk in users.chunks(BATCH) {
        let text = sql::delete_members(chunk.len());
        let mut q = sqlx::query(&text).bind(tenant).bind(id);
        for u in chunk {
            q = q.bind(*u);
        }
        for row in &q.fetch_all(&mut **tx).await.map_err(classify)? {
            removed.push(first_string(row)?);
        }
    }
    let removed_set: HashSet<&str> = removed.iter().map(String::as_str).collect();
    Ok(users
        .iter()
        .filter(|u| removed_set.contains(**u))
        .map(|u| u.to_string())
        .collect())
}

/// Bumps the group's version (and takes its row lock); `NotFound` when the tenant has no such
/// group.
async fn bump(tx: &mut Tx, tenant: &str, id: &str, now: &str) -> Result<(), StoreError> {
    let done = sqlx::query(sql::BUMP_VERSION)
        .bind(tenant)
        .bind(id)
        .bind(now)
        .execute(&mut **tx)
        .await
        .map_err(classify)?;
    if done.rows_affected() == 0 {
        return Err(StoreError::NotFound);
    }
    Ok(())
}

/// Deletes the group and its members in `tx`, and commits; returns its former members.
/// `NotFound` when the tenant has no such group.
async fn delete_in(mut tx: Tx, tenant: &str, id: &str) -> Result<Vec<String>, StoreError> {
    let mut members = strings(&mut tx, sql::DELETE_ALL_MEMBERS, tenant, id).await?;
    let done = sqlx::query(sql::DELETE_GROUP)
        .bind(tenant)
        .bind(id)
        .execute(&mut *tx)
        .await
        .map_err(classify)?;
    if done.rows_affected() == 0 {
        tx.rollback().await.map_err(classify)?;
        return Err(StoreError::NotFound);
    }
    tx.commit().await.map_err(classify)?;
    members.sort();
    Ok(members)
}

fn str_field<'a>(v: &'a Value, key: &str, at: usize) -> Result<&'a str, StoreError> {
    v.get(key).and_then(Value::as_str).ok_or_else(|| {
        StoreError::Corrupt(format!(
            "the import document: groups[{at}] has no string \"{key}\""
        ))
    })
}

impl GroupStore {
    /// Opens the store at `url`: `sqlite:PATH` (the file is created when missing) or
    /// `postgres://user:password@host/database` (the database must exist), and applies the
    /// schema's migrations.
    pub async fn open(url: &str, metrics: Arc<Metrics>) -> Result<GroupStore, StoreError> {
        let shown = redact_url(url);
        let (kind, connect_url) = if let Some(path) = url.strip_prefix("sqlite:") {
            let path = path.trim_start_matches("//");
            let file = path.split('?').next().unwrap_or_default();
            if file.is_empty() {
                return Err(StoreError::Unavailable(format!(
                    "store URL {shown:?} names no file; fix: set [store] url to \"sqlite:PATH\", \
                     e.g. \"sqlite:scim-gateway-groups.db\""
                )));
            }
            let sep = if path.contains('?') { '&' } else { '?' };
            (Kind::Sqlite, format!("sqlite:{path}{sep}mode=rwc"))
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            (Kind::Postgres, url.to_string())
        } else {
            return Err(StoreError::Unavailable(format!(
                "store URL {shown:?} is neither sqlite: nor postgres://; fix: set [store] url \
                 (or SCIM_GATEWAY_STORE__URL) to \"sqlite:PATH\" or \
                 \"postgres://USER:PASSWORD@HOST/DATABASE\""
            )));
        };
        static DRIVERS: Once = Once::new();
        DRIVERS.call_once(sqlx::any::install_default_drivers);
        let fix = match kind {
            Kind::Sqlite => "fix: the file's directory must exist and be writable by the gateway",
            Kind::Postgres => {
                "fix: check that the server is reachable from the gateway, that the database \
                 exists (createdb) and the user and password are right"
            }
        };
        let failed = |what: &str, e: &dyn std::fmt::Display| {
            StoreError::Unavailable(format!(
                "cannot {what} the group store at {shown}: {e}; {fix} ([store] url, \
                 SCIM_GATEWAY_STORE__URL)"
            ))
        };
        let options = || {
            let options = AnyPoolOptions::new()
                .acquire_timeout(ACQUIRE_TIMEOUT)
                .max_connections(match kind {
                    Kind::Sqlite => 4,
                    Kind::Postgres => 10,
                })
                // No maintenance task: the pool spawns none on the runtime that opens it.
                .idle_timeout(None)
                .max_lifetime(None);
            match kind {
                // WAL: readers do not wait for the writer. sqlx already sets foreign_keys and a
                // busy timeout of 5 s on each SQLite connection.
                Kind::Sqlite => options.after_connect(|conn, _| {
                    Box::pin(async move {
                        conn.execute("PRAGMA journal_mode = WAL").await?;
                        Ok(())
                    })
                }),
                Kind::Postgres => options,
            }
        };
        // The schema is migrated through a pool of its own, closed after: the gateway opens the
        // store on a runtime of its own before its servers start, and a connection belongs to
        // the runtime it was made on. The store's pool connects lazily, on the runtime of the
        // request that first needs a connection.
        let migrating = options()
            .connect(&connect_url)
            .await
            .map_err(|e| failed("open", &e))?;
        let migrator = Migrator::new(Migrations)
            .await
            .map_err(|e| failed("read the migrations of", &e))?;
        let migrated = migrator.run(&migrating).await;
        migrating.close().await;
        migrated.map_err(|e| failed("migrate", &e))?;
        let pool = options()
            .connect_lazy(&connect_url)
            .map_err(|e| failed("open", &e))?;
        Ok(GroupStore {
            inner: Arc::new(Inner {
                pool,
                kind,
                url: url.to_string(),
                metrics,
            }),
        })
    }

    /// `"sqlite"` or `"postgres"`.
    pub fn kind(&self) -> &'static str {
        match self.inner.kind {
            Kind::Sqlite => "sqlite",
            Kind::Postgres => "postgres",
        }
    }

    /// The URL with its password hidden.
    pub fn redacted_url(&self) -> String {
        redact_url(&self.inner.url)
    }

    /// Runs `op` counting it in the metrics as `operation`.
    async fn observe<T>(
        &self,
        operation: &'static str,
        op: impl Future<Output = Result<T, StoreError>>,
    ) -> Result<T, StoreError> {
        let start = Instant::now();
        let result = op.await;
        let outcome = match &result {
            Ok(_) => "ok",
            Err(e) => e.outcome(),
        };
        self.inner
            .metrics
            .record_store(operation, outcome, start.elapsed());
        result
    }

    async fn begin(&self) -> Result<Tx, StoreError> {
        self.inner.pool.begin().await.map_err(classify)
    }

    /// Answers when the database does (for `/readyz`).
    pub async fn ping(&self) -> Result<(), StoreError> {
        self.observe("ping", async {
            self.inner
                .pool
                .execute(sql::PING)
                .await
                .map_err(classify)
                .map(|_| ())
        })
        .await
    }

    /// Creates a group (a new UUID v4 id, version 1) with `members`; `Conflict` when the
    /// tenant has a group of that displayName, whatever its case.
    pub async fn create(
        &self,
        tenant: &str,
        display_name: &str,
        external_id: Option<&str>,
        members: &[String],
    ) -> Result<StoredGroup, StoreError> {
        self.observe("create", async {
            let id = uuid::Uuid::new_v4().to_string();
            let now = now();
            let mut tx = self.begin().await?;
            sqlx::query(sql::INSERT_GROUP)
                .bind(tenant)
                .bind(&id)
                .bind(display_name)
                .bind(name_key(display_name))
                .bind(external_id)
                .bind(&now)
                .execute(&mut *tx)
                .await
                .map_err(|e| classify_write(e, display_name))?;
            insert_members(&mut tx, tenant, &id, &distinct(members)).await?;
            tx.commit().await.map_err(classify)?;
            Ok(StoredGroup {
                id,
                display_name: display_name.to_string(),
                external_id: external_id.map(str::to_string),
                created: now.clone(),
                last_modified: now,
                version: 1,
            })
        })
        .await
    }

    async fn get_inner(&self, tenant: &str, id: &str) -> Result<Option<StoredGroup>, StoreError> {
        let row = sqlx::query(&sql::get_group())
            .bind(tenant)
            .bind(id)
            .fetch_optional(&self.inner.pool)
            .await
            .map_err(classify)?;
        row.as_ref().map(group_from_row).transpose()
    }

    /// The tenant's group of that id.
    pub async fn get(&self, tenant: &str, id: &str) -> Result<Option<StoredGroup>, StoreError> {
        self.observe("get", self.get_inner(tenant, id)).await
    }

    /// A page of the tenant's groups matching `q` (ordered by creation, then id), and how many
    /// match in all.
    pub async fn list(
        &self,
        tenant: &str,
        q: &GroupQuery,
        offset: u64,
        limit: u64,
    ) -> Result<(Vec<StoredGroup>, u64), StoreError> {
        self.observe("list", async {
            let (where_, n) = sql::list_where(
                q.id.is_some(),
                q.display_name.is_some(),
                q.external_id.is_some(),
                q.member.is_some(),
            );
            let key = q.display_name.as_deref().map(name_key);
            let params: Vec<&str> = [
                Some(tenant),
                q.id.as_deref(),
                key.as_deref(),
                q.external_id.as_deref(),
                q.member.as_deref(),
            ]
            .into_iter()
            .flatten()
            .collect();
            let count_text = sql::count_groups(&where_);
            let mut count = sqlx::query(&count_text);
            for p in &params {
                count = count.bind(*p);
            }
            let total =
                count_from_row(&count.fetch_one(&self.inner.pool).await.map_err(classify)?)?;
            if limit == 0 || offset >= total {
                return Ok((Vec::new(), total));
            }
            let page_text = sql::list_groups(&where_, n);
            let mut page = sqlx::query(&page_text);
            for p in &params {
                page = page.bind(*p);
            }
            let rows = page
                .bind(to_i64(limit))
                .bind(to_i64(offset))
                .fetch_all(&self.inner.pool)
                .await
                .map_err(classify)?;
            let groups = rows.iter().map(group_from_row).collect::<Result<_, _>>()?;
            Ok((groups, total))
        })
        .await
    }

    /// A page of the group's members (ordered by user id) and how many it has; `NotFound`
    /// when the tenant has no such group.
    pub async fn members(
        &self,
        tenant: &str,
        id: &str,
        offset: u64,
        limit: u64,
    ) -> Result<(Vec<String>, u64), StoreError> {
        self.observe("members", async {
            if self.get_inner(tenant, id).await?.is_none() {
                return Err(StoreError::NotFound);
            }
            let total = count_from_row(
                &sqlx::query(sql::COUNT_MEMBERS)
                    .bind(tenant)
                    .bind(id)
                    .fetch_one(&self.inner.pool)
                    .await
                    .map_err(classify)?,
            )?;
            if limit == 0 || offset >= total {
                return Ok((Vec::new(), total));
            }
            let rows = sqlx::query(sql::MEMBERS_PAGE)
                .bind(tenant)
                .bind(id)
                .bind(to_i64(limit))
                .bind(to_i64(offset))
                .fetch_all(&self.inner.pool)
                .await
                .map_err(classify)?;
            let members = rows.iter().map(first_string).collect::<Result<_, _>>()?;
            Ok((members, total))
        })
        .await
    }

    /// Whether `user` is a member of the tenant's group `id` (false when there is no such
    /// group).
    pub async fn has_member(&self, tenant: &str, id: &str, user: &str) -> Result<bool, StoreError> {
        self.observe("has_member", async {
            let row = sqlx::query(sql::HAS_MEMBER)
                .bind(tenant)
                .bind(id)
                .bind(user)
                .fetch_one(&self.inner.pool)
                .await
                .map_err(classify)?;
            Ok(count_from_row(&row)? > 0)
        })
        .await
    }

    /// Sets the displayName and externalId (version + 1); with `if_version`, only while the
    /// group is at that version (else `Stale`).
    pub async fn update(
        &self,
        tenant: &str,
        id: &str,
        display_name: &str,
        external_id: Option<&str>,
        if_version: Option<i64>,
    ) -> Result<StoredGroup, StoreError> {
        self.observe("update", async {
            let text = match if_version {
                Some(_) => sql::update_group_if_version(),
                None => sql::update_group(),
            };
            let mut q = sqlx::query(&text)
                .bind(tenant)
                .bind(id)
                .bind(display_name)
                .bind(name_key(display_name))
                .bind(external_id)
                .bind(now());
            if let Some(v) = if_version {
                q = q.bind(v);
            }
            let row = q
                .fetch_optional(&self.inner.pool)
                .await
                .map_err(|e| classify_write(e, display_name))?;
            match row {
                Some(row) => group_from_row(&row),
                None if self.get_inner(tenant, id).await?.is_some() => Err(StoreError::Stale),
                None => Err(StoreError::NotFound),
            }
        })
        .await
    }

    /// Adds `users` to the group in one transaction; those already members are left as they
    /// are. Returns those added; the version grows by one when there is any. No read of the
    /// member list: the work is proportional to `users`, not to the group.
    pub async fn add_members(
        &self,
        tenant: &str,
        id: &str,
        users: &[String],
    ) -> Result<Vec<String>, StoreError> {
        self.observe("add_members", async {
            let mut tx = self.begin().await?;
            bump(&mut tx, tenant, id, &now()).await?;
            let added = insert_members(&mut tx, tenant, id, &distinct(users)).await?;
            if added.is_empty() {
                tx.rollback().await.map_err(classify)?;
            } else {
                tx.commit().await.map_err(classify)?;
            }
            Ok(added)
        })
        .await
    }

    /// Removes `users` from the group in one transaction; returns those that were members (the
    /// version grows by one when there is any).
    pub async fn remove_members(
        &self,
        tenant: &str,
        id: &str,
        users: &[String],
    ) -> Result<Vec<String>, StoreError> {
        self.observe("remove_members", async {
            let mut tx = self.begin().await?;
            bump(&mut tx, tenant, id, &now()).await?;
            let removed = delete_members(&mut tx, tenant, id, &distinct(users)).await?;
            if removed.is_empty() {
                tx.rollback().await.map_err(classify)?;
            } else {
                tx.commit().await.map_err(classify)?;
            }
            Ok(removed)
        })
        .await
    }

    /// Makes `users` the group's members, in one transaction: returns (added, removed); the
    /// version grows by one when either is not empty.
    pub async fn replace_members(
        &self,
        tenant: &str,
        id: &str,
        users: &[String],
    ) -> Result<(Vec<String>, Vec<String>), StoreError> {
        self.observe("replace_members", async {
            let mut tx = self.begin().await?;
            bump(&mut tx, tenant, id, &now()).await?;
            let wanted = distinct(users);
            let wanted_set: HashSet<&str> = wanted.iter().copied().collect();
            let current = strings(&mut tx, sql::ALL_MEMBERS, tenant, id).await?;
            let gone: Vec<&str> = current
                .iter()
                .map(String::as_str)
                .filter(|u| !wanted_set.contains(u))
                .collect();
            let removed = delete_members(&mut tx, tenant, id, &gone).await?;
            let added = insert_members(&mut tx, tenant, id, &wanted).await?;
            if added.is_empty() && removed.is_empty() {
                tx.rollback().await.map_err(classify)?;
            } else {
                tx.commit().await.map_err(classify)?;
            }
            Ok((added, removed))
        })
        .await
    }

    /// Deletes the group; returns its former members. `NotFound` when the tenant has no such
    /// group.
    pub async fn delete(&self, tenant: &str, id: &str) -> Result<Vec<String>, StoreError> {
        self.observe("delete", async {
            let tx = self.begin().await?;
            delete_in(tx, tenant, id).await
        })
        .await
    }

    /// Takes the group at `version` for a change guarded by `If-Match`: its version grows by
    /// one in a statement that holds only while the group is at `version` (else `Stale`;
    /// `NotFound` when the tenant has no such group), so that of two writers that read the
    /// same version only the first goes on.
    pub async fn claim(&self, tenant: &str, id: &str, version: i64) -> Result<(), StoreError> {
        self.observe("claim", async {
            let done = sqlx::query(sql::BUMP_VERSION_IF)
                .bind(tenant)
                .bind(id)
                .bind(now())
                .bind(version)
                .execute(&self.inner.pool)
                .await
                .map_err(classify)?;
            if done.rows_affected() > 0 {
                return Ok(());
            }
            match self.get_inner(tenant, id).await? {
                Some(_) => Err(StoreError::Stale),
                None => Err(StoreError::NotFound),
            }
        })
        .await
    }

    /// [`GroupStore::delete`] only while the group is at `version`, checked in the delete's
    /// transaction (else `Stale`).
    pub async fn delete_at(
        &self,
        tenant: &str,
        id: &str,
        version: i64,
    ) -> Result<Vec<String>, StoreError> {
        self.observe("delete", async {
            let mut tx = self.begin().await?;
            let held = sqlx::query(sql::BUMP_VERSION_IF)
                .bind(tenant)
                .bind(id)
                .bind(now())
                .bind(version)
                .execute(&mut *tx)
                .await
                .map_err(classify)?;
            if held.rows_affected() == 0 {
                tx.rollback().await.map_err(classify)?;
                return match self.get_inner(tenant, id).await? {
                    Some(_) => Err(StoreError::Stale),
                    None => Err(StoreError::NotFound),
                };
            }
            delete_in(tx, tenant, id).await
        })
        .await
    }

    /// The tenant's groups `user` is a member of (ordered by creation, then id).
    pub async fn groups_of(
        &self,
        tenant: &str,
        user: &str,
    ) -> Result<Vec<StoredGroup>, StoreError> {
        self.observe("groups_of", async {
            sqlx::query(&sql::groups_of())
                .bind(tenant)
                .bind(user)
                .fetch_all(&self.inner.pool)
                .await
                .map_err(classify)?
                .iter()
                .map(group_from_row)
                .collect()
        })
        .await
    }

    /// Removes `user` from every group of the tenant (each one's version + 1); returns the
    /// ids of the groups it left.
    pub async fn remove_user(&self, tenant: &str, user: &str) -> Result<Vec<String>, StoreError> {
        self.observe("remove_user", async {
            let mut tx = self.begin().await?;
            let mut left = strings(&mut tx, sql::REMOVE_USER, tenant, user).await?;
            left.sort();
            let now = now();
            for id in &left {
                bump(&mut tx, tenant, id, &now).await?;
            }
            tx.commit().await.map_err(classify)?;
            Ok(left)
        })
        .await
    }

    /// Takes the lock named `key` in the tenant, across every replica sharing the store, until
    /// the returned guard is dropped. PostgreSQL: a session advisory lock on a connection of
    /// its own (waits at most 15 s for another holder, then `Unavailable`); a replica that
    /// dies releases it with its connection. SQLite: nothing to take (one replica).
    pub async fn lock(&self, tenant: &str, key: &str) -> Result<StoreLock, StoreError> {
        self.observe("lock", async {
            if self.inner.kind == Kind::Sqlite {
                return Ok(StoreLock { conn: None });
            }
            let digest = Sha256::new()
                .chain_update(tenant.as_bytes())
                .chain_update([0])
                .chain_update(key.as_bytes())
                .finalize();
            let mut first = [0u8; 8];
            first.copy_from_slice(&digest[..8]);
            let lock_id = i64::from_be_bytes(first);
            let take = async {
                let mut conn = PgConnection::connect(&self.inner.url)
                    .await
                    .map_err(classify)?;
                sqlx::query(sql::ADVISORY_LOCK)
                    .bind(lock_id)
                    .execute(&mut conn)
                    .await
                    .map_err(classify)?;
                Ok(StoreLock { conn: Some(conn) })
            };
            tokio::time::timeout(LOCK_TIMEOUT, take)
                .await
                .unwrap_or_else(|_| {
                    Err(StoreError::Unavailable(format!(
                        "waited {} s for another replica to release a lock",
                        LOCK_TIMEOUT.as_secs()
                    )))
                })
        })
        .await
    }

    /// Every group of every tenant with its members, as one JSON document for
    /// [`GroupStore::import`] (`scim-gateway store export`).
    pub async fn export(&self) -> Result<Value, StoreError> {
        self.observe("export", async {
            let mut tx = self.begin().await?;
            let groups = sqlx::query(sql::EXPORT_GROUPS)
                .fetch_all(&mut *tx)
                .await
                .map_err(classify)?;
            let member_rows = sqlx::query(sql::EXPORT_MEMBERS)
                .fetch_all(&mut *tx)
                .await
                .map_err(classify)?;
            tx.rollback().await.map_err(classify)?;
            let corrupt = |e: sqlx::Error| StoreError::Corrupt(format!("an exported row: {e}"));
            let mut members: BTreeMap<(String, String), Vec<Value>> = BTreeMap::new();
            for row in &member_rows {
                let tenant: String = row.try_get(0).map_err(corrupt)?;
                let group: String = row.try_get(1).map_err(corrupt)?;
                let member: String = row.try_get(2).map_err(corrupt)?;
                members
                    .entry((tenant, group))
                    .or_default()
                    .push(Value::String(member));
            }
            let mut out = Vec::with_capacity(groups.len());
            for row in &groups {
                let tenant: String = row.try_get(0).map_err(corrupt)?;
                let id: String = row.try_get(1).map_err(corrupt)?;
                let display_name: String = row.try_get(2).map_err(corrupt)?;
                let external_id: Option<String> = row.try_get(3).map_err(corrupt)?;
                let created: String = row.try_get(4).map_err(corrupt)?;
                let last_modified: String = row.try_get(5).map_err(corrupt)?;
                let version: i64 = row.try_get(6).map_err(corrupt)?;
                let m = members
                    .remove(&(tenant.clone(), id.clone()))
                    .unwrap_or_default();
                out.push(json!({
                    "tenant": tenant, "id": id, "displayName": display_name,
                    "externalId": external_id, "created": created,
                    "lastModified": last_modified, "version": version, "members": m,
                }));
            }
            Ok(json!({ "format": EXPORT_FORMAT, "version": 1, "groups": out }))
        })
        .await
    }

    /// Writes the groups of an [`GroupStore::export`] document, in one transaction: a group
    /// whose (tenant, id) exists is overwritten, members included; others are left as they
    /// are. `Conflict` when a displayName is taken by another group of the tenant (nothing is
    /// written then).
    pub async fn import(&self, doc: &Value) -> Result<ImportCounts, StoreError> {
        self.observe("import", async {
            if doc.get("format").and_then(Value::as_str) != Some(EXPORT_FORMAT) {
                return Err(StoreError::Corrupt(format!(
                    "the import document is not a `scim-gateway store export` (no \"format\": \
                     \"{EXPORT_FORMAT}\")"
                )));
            }
            let groups = doc.get("groups").and_then(Value::as_array).ok_or_else(|| {
                StoreError::Corrupt("the import document has no \"groups\" array".into())
            })?;
            let mut counts = ImportCounts::default();
            let mut tx = self.begin().await?;
            for (at, g) in groups.iter().enumerate() {
                let tenant = str_field(g, "tenant", at)?;
                let id = str_field(g, "id", at)?;
                let name = str_field(g, "displayName", at)?;
                let created = str_field(g, "created", at)?;
                let modified = str_field(g, "lastModified", at)?;
                let external_id = g.get("externalId").and_then(Value::as_str);
                let version = g.get("version").and_then(Value::as_i64).unwrap_or(1);
                let members: Vec<String> = g
                    .get("members")
                    .and_then(Value::as_array)
                    .map(|a| {
                        a.iter()
                            .filter_map(Value::as_str)
                            .map(str::to_string)
                            .collect()
                    })
                    .unwrap_or_default();
                sqlx::query(sql::UPSERT_GROUP)
                    .bind(tenant)
                    .bind(id)
                    .bind(name)
                    .bind(name_key(name))
                    .bind(external_id)
                    .bind(created)
                    .bind(modified)
                    .bind(version)
                    .execute(&mut *tx)
                    .await
                    .map_err(|e| classify_write(e, name))?;
                sqlx::query(sql::DELETE_ALL_MEMBERS)
                    .bind(tenant)
                    .bind(id)
                    .execute(&mut *tx)
                    .await
                    .map_err(classify)?;
                let added = insert_members(&mut tx, tenant, id, &distinct(&members)).await?;
                counts.groups += 1;
                counts.members += added.len() as u64;
            }
            tx.commit().await.map_err(classify)?;
            Ok(counts)
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_hidden_in_urls() {
        assert_eq!(
            redact_url("postgres://gw:s3cr%40t@db.internal:5432/scim"),
            "postgres://gw:***@db.internal:5432/scim"
        );
        assert_eq!(
            redact_url("postgres://db/scim?user=gw&password=hunter2&sslmode=disable"),
            "postgres://db/scim?user=gw&password=***&sslmode=disable"
        );
        assert_eq!(redact_url("postgres://gw@db/scim"), "postgres://gw@db/scim");
        assert_eq!(redact_url("sqlite:groups.db"), "sqlite:groups.db");
    }

    #[test]
    fn stored_times_sort_as_text_in_time_order() {
        let a = now();
        std::thread::sleep(Duration::from_millis(2));
        let b = now();
        assert!(a < b, "{a} {b}");
        assert!(
            time::OffsetDateTime::parse(&a, &time::format_description::well_known::Rfc3339).is_ok()
        );
    }

    #[test]
    fn duplicate_users_count_once_in_their_first_place() {
        let users = ["b", "a", "b", "c", "a"].map(String::from);
        assert_eq!(distinct(&users), ["b", "a", "c"]);
    }

    #[tokio::test]
    async fn an_unknown_scheme_is_refused_with_the_fix_and_no_password() {
        let err = GroupStore::open("mysql://gw:hunter2@db/x", Arc::new(Metrics::default()))
            .await
            .unwrap_err()
            .to_string();
        assert!(err.contains("sqlite:PATH"), "{err}");
        assert!(!err.contains("hunter2"), "{err}");
    }
}
