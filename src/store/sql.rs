//! Every SQL statement of the group store, and its schema migrations: one dialect that SQLite and
//! PostgreSQL both run as written (`$1`… placeholders, `ON CONFLICT`, `RETURNING`, TEXT and
//! BIGINT columns only). Every statement on the tables names the tenant (`tenant = $1`), so no
//! query can reach another tenant's rows.
//!
//! Not here: running them, and what their errors mean (`super`).

/// The schema's versions, applied in order at `GroupStore::open` (recorded by sqlx in
/// `_sqlx_migrations`). Never edit a released one (its checksum is checked): add the next.
pub(super) const MIGRATIONS: &[(i64, &str, &str)] = &[(
    1,
    "groups and members",
    "CREATE TABLE scim_groups (
        tenant TEXT NOT NULL,
        id TEXT NOT NULL,
        display_name TEXT NOT NULL,
        display_name_key TEXT NOT NULL,
        external_id TEXT,
        created TEXT NOT NULL,
        last_modified TEXT NOT NULL,
        version BIGINT NOT NULL,
        PRIMARY KEY (tenant, id)
    );
    CREATE UNIQUE INDEX scim_groups_display_name ON scim_groups (tenant, display_name_key);
    CREATE INDEX scim_groups_external_id ON scim_groups (tenant, external_id);
    CREATE INDEX scim_groups_created ON scim_groups (tenant, created, id);
    CREATE TABLE scim_group_members (
        tenant TEXT NOT NULL,
        group_id TEXT NOT NULL,
        member TEXT NOT NULL,
        PRIMARY KEY (tenant, group_id, member),
        FOREIGN KEY (tenant, group_id) REFERENCES scim_groups (tenant, id) ON DELETE CASCADE
    );
    CREATE INDEX scim_group_members_member ON scim_group_members (tenant, member);",
)];

/// The columns of a group, in the order `super::group_from_row` reads them.
const GROUP_COLUMNS: &str =
    "g.id, g.display_name, g.external_id, g.created, g.last_modified, g.version";
/// The same, unqualified (SQLite's RETURNING names the columns of the table itself).
const RETURNED_COLUMNS: &str = "id, display_name, external_id, created, last_modified, version";

pub(super) const PING: &str = "SELECT 1";

/// $1 tenant, $2 id, $3 display name, $4 its lower-case key, $5 external id, $6 now.
pub(super) const INSERT_GROUP: &str = "INSERT INTO scim_groups \
    (tenant, id, display_name, display_name_key, external_id, created, last_modified, version) \
    VALUES ($1, $2, $3, $4, $5, $6, $6, 1)";

/// $1 tenant, $2 id.
pub(super) fn get_group() -> String {
    format!("SELECT {GROUP_COLUMNS} FROM scim_groups g WHERE g.tenant = $1 AND g.id = $2")
}

/// $1 tenant, $2 id, $3 display name, $4 key, $5 external id, $6 now.
pub(super) fn update_group() -> String {
    format!(
        "UPDATE scim_groups SET display_name = $3, display_name_key = $4, external_id = $5, \
         last_modified = $6, version = version + 1 WHERE tenant = $1 AND id = $2 \
         RETURNING {RETURNED_COLUMNS}"
    )
}

/// As [`update_group`], only while the version is $7.
pub(super) fn update_group_if_version() -> String {
    format!(
        "UPDATE scim_groups SET display_name = $3, display_name_key = $4, external_id = $5, \
         last_modified = $6, version = version + 1 \
         WHERE tenant = $1 AND id = $2 AND version = $7 RETURNING {RETURNED_COLUMNS}"
    )
}

/// $1 tenant, $2 id, $3 now: the version bump of a membership change; it also takes the
/// group's row lock, so that concurrent changes of one group queue up.
pub(super) const BUMP_VERSION: &str = "UPDATE scim_groups SET version = version + 1, \
    last_modified = $3 WHERE tenant = $1 AND id = $2";

/// $1 tenant, $2 id, $3 now, $4 the version expected: [`BUMP_VERSION`] only while the group
/// is at that version (a change guarded by `If-Match`).
pub(super) const BUMP_VERSION_IF: &str = "UPDATE scim_groups SET version = version + 1, \
    last_modified = $3 WHERE tenant = $1 AND id = $2 AND version = $4";

/// $1 tenant, $2 id.
pub(super) const DELETE_GROUP: &str = "DELETE FROM scim_groups WHERE tenant = $1 AND id = $2";

/// The list's WHERE clause from the filters present, numbered from $2 ($1 is the tenant), and
/// how many parameters it uses.
pub(super) fn list_where(
    id: bool,
    display_name: bool,
    external_id: bool,
    member: bool,
) -> (String, usize) {
    let mut clause = String::from("g.tenant = $1");
    let mut n = 1;
    for (present, condition) in [
        (id, "g.id = $"),
        (display_name, "g.display_name_key = $"),
        (external_id, "g.external_id = $"),
    ] {
        if present {
            n += 1;
            clause.push_str(&format!(" AND {condition}{n}"));
        }
    }
    if member {
        n += 1;
        clause.push_str(&format!(
            " AND EXISTS (SELECT 1 FROM scim_group_members m WHERE m.tenant = g.tenant \
             AND m.group_id = g.id AND m.member = ${n})"
        ));
    }
    (clause, n)
}

/// A page of groups: `where_` from [`list_where`] using `n` parameters; then LIMIT, OFFSET.
pub(super) fn list_groups(where_: &str, n: usize) -> String {
    format!(
        "SELECT {GROUP_COLUMNS} FROM scim_groups g WHERE {where_} ORDER BY g.created, g.id \
         LIMIT ${} OFFSET ${}",
        n + 1,
        n + 2
    )
}

pub(super) fn count_groups(where_: &str) -> String {
    format!("SELECT COUNT(*) FROM scim_groups g WHERE {where_}")
}

/// $1 tenant, $2 group id, $3 limit, $4 offset.
pub(super) const MEMBERS_PAGE: &str = "SELECT member FROM scim_group_members \
    WHERE tenant = $1 AND group_id = $2 ORDER BY member LIMIT $3 OFFSET $4";

/// $1 tenant, $2 group id.
pub(super) const ALL_MEMBERS: &str = "SELECT member FROM scim_group_members \
    WHERE tenant = $1 AND group_id = $2 ORDER BY member";

/// $1 tenant, $2 group id.
pub(super) const COUNT_MEMBERS: &str =
    "SELECT COUNT(*) FROM scim_group_members WHERE tenant = $1 AND group_id = $2";

/// $1 tenant, $2 group id, $3 user.
pub(super) const HAS_MEMBER: &str = "SELECT COUNT(*) FROM scim_group_members \
    WHERE tenant = $1 AND group_id = $2 AND member = $3";

/// $1 tenant, $2 group id, then `n` users from $3: those not yet members are added and
/// returned.
pub(super) fn insert_members(n: usize) -> String {
    let values: Vec<String> = (0..n).map(|i| format!("($1, $2, ${})", i + 3)).collect();
    format!(
        "INSERT INTO scim_group_members (tenant, group_id, member) VALUES {} \
         ON CONFLICT DO NOTHING RETURNING member",
        values.join(", ")
    )
}

/// $1 tenant, $2 group id, then `n` users from $3: those that were members are removed and
/// returned.
pub(super) fn delete_members(n: usize) -> String {
    let list: Vec<String> = (0..n).map(|i| format!("${}", i + 3)).collect();
    format!(
        "DELETE FROM scim_group_members WHERE tenant = $1 AND group_id = $2 \
         AND member IN ({}) RETURNING member",
        list.join(", ")
    )
}

/// $1 tenant, $2 group id.
pub(super) const DELETE_ALL_MEMBERS: &str =
    "DELETE FROM scim_group_members WHERE tenant = $1 AND group_id = $2 RETURNING member";

/// $1 tenant, $2 user.
pub(super) fn groups_of() -> String {
    format!(
        "SELECT {GROUP_COLUMNS} FROM scim_groups g JOIN scim_group_members m \
         ON m.tenant = g.tenant AND m.group_id = g.id \
         WHERE g.tenant = $1 AND m.member = $2 ORDER BY g.created, g.id"
    )
}

/// $1 tenant, $2 user.
pub(super) const REMOVE_USER: &str =
    "DELETE FROM scim_group_members WHERE tenant = $1 AND member = $2 RETURNING group_id";

/// Every group of every tenant (export).
pub(super) const EXPORT_GROUPS: &str = "SELECT g.tenant, g.id, g.display_name, g.external_id, \
    g.created, g.last_modified, g.version FROM scim_groups g ORDER BY g.tenant, g.created, g.id";

/// Every membership of every tenant (export).
pub(super) const EXPORT_MEMBERS: &str = "SELECT tenant, group_id, member \
    FROM scim_group_members ORDER BY tenant, group_id, member";

/// $1 tenant, $2 id, $3 display name, $4 key, $5 external id, $6 created, $7 last modified,
/// $8 version: insert, or overwrite the group of that id (import).
pub(super) const UPSERT_GROUP: &str = "INSERT INTO scim_groups \
    (tenant, id, display_name, display_name_key, external_id, created, last_modified, version) \
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (tenant, id) DO UPDATE SET \
    display_name = excluded.display_name, display_name_key = excluded.display_name_key, \
    external_id = excluded.external_id, created = excluded.created, \
    last_modified = excluded.last_modified, version = excluded.version";

/// PostgreSQL only: waits for the session-level advisory lock $1.
pub(super) const ADVISORY_LOCK: &str = "SELECT pg_advisory_lock($1)";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn list_filters_are_numbered_after_the_tenant_and_paging_after_them() {
        let (w, n) = list_where(true, false, true, true);
        assert_eq!(n, 4);
        assert!(w.starts_with("g.tenant = $1 AND g.id = $2 AND g.external_id = $3"));
        assert!(w.contains("m.member = $4"));
        assert!(list_groups(&w, n).ends_with("LIMIT $5 OFFSET $6"));
        assert_eq!(
            list_where(false, false, false, false),
            ("g.tenant = $1".into(), 1)
        );
    }

    #[test]
    fn member_batches_number_their_parameters_from_3() {
        assert!(insert_members(2).contains("VALUES ($1, $2, $3), ($1, $2, $4) ON CONFLICT"));
        assert!(delete_members(3).contains("IN ($3, $4, $5)"));
    }
}
