//! API keys (`docs/operator.md`, "API keys"): the keys file that `scim-gateway keys`
//! writes and the gateway reads, the generation of a key's secret, and the checks every key
//! passes before the gateway accepts it.
//!
//! A key is shown once, as `sgw_<id>_<32 random base62>`; the file keeps only the SHA-256 hex
//! digest of that secret, with the key's public id, tenant, scopes, label and dates. Several keys
//! of one tenant may be valid at once (rotation with an overlap: add a key, switch the identity
//! provider to it, revoke the old one). A revoked key stays in the file with the time of its
//! revocation, so that `keys list` shows it and the gateway can say why it refuses it.
//!
//! Pure apart from [`read_file`] and [`write_file`] (and the OS random generator in
//! [`generate`]). Not here: checking a request's bearer against the keys (`server::auth`).

use std::fmt;
use std::io::Write;
use std::path::Path;

use rand::distr::{Alphanumeric, Distribution};
use rand::TryRngCore;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use time::format_description::well_known::Rfc3339;
use time::{Duration, OffsetDateTime};

/// The scope that lets a key read: GET, list, search and the discovery endpoints.
pub(crate) const SCOPE_READ: &str = "scim.read";
/// The scope that lets a key write: POST, PUT, PATCH and DELETE.
pub(crate) const SCOPE_WRITE: &str = "scim.write";
/// Every scope a key may have.
pub(crate) const SCOPES: [&str; 2] = [SCOPE_READ, SCOPE_WRITE];
/// How every secret starts.
pub(crate) const SECRET_PREFIX: &str = "sgw_";
/// Characters of a generated key id.
const ID_LEN: usize = 8;
/// Random characters of a secret after its id: 32 base62 characters, about 190 bits.
const SECRET_RANDOM_LEN: usize = 32;
/// The longest tenant name.
const MAX_TENANT_LEN: usize = 63;

/// What a key may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Scopes {
    pub read: bool,
    pub write: bool,
}

impl Scopes {
    /// Both scopes (the static tokens of `auth.token_sha256`).
    pub const ALL: Scopes = Scopes {
        read: true,
        write: true,
    };

    /// Reads scope names; an unknown one is an error naming it.
    pub fn parse<S: AsRef<str>>(names: &[S]) -> Result<Scopes, String> {
        let mut s = Scopes::default();
        for n in names {
            match n.as_ref().trim() {
                SCOPE_READ => s.read = true,
                SCOPE_WRITE => s.write = true,
                other => {
                    return Err(format!(
                        "{other:?} is not a scope; the scopes are {}",
                        SCOPES.join(" and ")
                    ))
                }
            }
        }
        if !s.read && !s.write {
            return Err(format!(
                "a key needs at least one scope ({})",
                SCOPES.join(", ")
            ));
        }
        Ok(s)
    }

    /// The scope names, in the order of [`SCOPES`].
    pub(crate) fn names(self) -> Vec<&'static str> {
        let mut out = Vec::new();
        if self.read {
            out.push(SCOPE_READ);
        }
        if self.write {
            out.push(SCOPE_WRITE);
        }
        out
    }
}

impl fmt::Display for Scopes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.names().join(","))
    }
}

/// One `[[keys]]` entry as written in the file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyEntry {
    /// The public id: shown by `keys list`, used by `keys revoke`, part of the secret.
    pub id: String,
    #[serde(default)]
    pub(crate) label: String,
    pub(crate) tenant: String,
    pub(crate) scopes: Vec<String>,
    /// SHA-256 (hex) of the whole secret `sgw_<id>_<random>`.
    pub(crate) sha256: String,
    /// RFC 3339.
    pub(crate) created: String,
    /// RFC 3339; absent: never.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires: Option<String>,
    /// RFC 3339: when `keys revoke` revoked it; absent: not revoked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) revoked: Option<String>,
}

/// The whole keys file.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeysFile {
    #[serde(default)]
    pub keys: Vec<KeyEntry>,
}

/// The file as parsed, with the place of each entry for messages.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SpannedFile {
    #[serde(default)]
    keys: Vec<toml::Spanned<KeyEntry>>,
}

/// A checked key, as the gateway uses it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Key {
    pub id: String,
    pub label: String,
    pub tenant: String,
    pub scopes: Scopes,
    pub(crate) digest: [u8; 32],
    pub created: OffsetDateTime,
    pub expires: Option<OffsetDateTime>,
    pub(crate) revoked: Option<OffsetDateTime>,
}

/// Whether a key is accepted now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyStatus {
    Active,
    Expired,
    Revoked,
}

impl KeyStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            KeyStatus::Active => "active",
            KeyStatus::Expired => "expired",
            KeyStatus::Revoked => "revoked",
        }
    }
}

impl Key {
    /// Revoked wins over expired: both refuse the key, revocation says more.
    pub fn status(&self, now: OffsetDateTime) -> KeyStatus {
        if self.revoked.is_some() {
            KeyStatus::Revoked
        } else if self.expires.is_some_and(|e| e <= now) {
            KeyStatus::Expired
        } else {
            KeyStatus::Active
        }
    }
}

/// Why a keys file cannot be used or written.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeysError {
    #[error("{path}: cannot read the keys file: {reason}")]
    Read { path: String, reason: String },
    /// Every problem found, one per line: `file:line:column: where: what` and a `fix:` line.
    #[error("{0}")]
    Invalid(String),
    #[error("{path}: cannot write the keys file: {reason}")]
    Write { path: String, reason: String },
    #[error("the operating system's random generator failed: {0}")]
    Random(String),
}

/// 1-based line and column of byte `offset` in `text`.
fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = text.get(..offset).unwrap_or(text);
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, column)
}

/// Whether `name` can be a tenant's name: 1–63 characters of `a-z 0-9 . _ -`, starting with a
/// letter or digit. Tenant names appear in URLs (`/t/{tenant}/…`), metrics and logs.
pub(crate) fn check_tenant_name(name: &str) -> Result<(), String> {
    let ok = !name.is_empty()
        && name.len() <= MAX_TENANT_LEN
        && name
            .bytes()
            .next()
            .is_some_and(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-".contains(&b));
    if ok {
        Ok(())
    } else {
        Err(format!(
            "{name:?} is not a tenant name: use 1 to {MAX_TENANT_LEN} characters among a-z, 0-9, '.', '_' and '-', starting with a letter or digit (e.g. \"acme\")"
        ))
    }
}

fn parse_time(s: &str) -> Result<OffsetDateTime, String> {
    OffsetDateTime::parse(s.trim(), &Rfc3339)
        .map_err(|_| format!("{s:?} is not an RFC 3339 time (e.g. \"2027-11-27T00:00:00Z\")"))
}

/// A time as the file writes it: RFC 3339 in UTC, whole seconds.
pub fn format_time(t: OffsetDateTime) -> String {
    let t = t
        .to_offset(time::UtcOffset::UTC)
        .replace_nanosecond(0)
        .unwrap_or(t);
    t.format(&Rfc3339).unwrap_or_default()
}

/// Parses and checks a keys file. `source` names it in messages. Every problem is reported,
/// each with its line and a fix; no message shows a digest.
pub(crate) fn parse(source: &str, text: &str) -> Result<(KeysFile, Vec<Key>), KeysError> {
    let spanned: SpannedFile = toml::from_str(text).map_err(|e| {
        let (line, col) = e.span().map_or((0, 0), |s| line_col(text, s.start));
        let message = e.message().trim_end().to_string();
        let fix = if message.contains("unknown field") {
            "the keys of an entry are id, label, tenant, scopes, sha256, created, expires and revoked"
        } else if message.contains("missing field") {
            "add it; `scim-gateway keys new` writes complete entries"
        } else {
            "check the TOML syntax here; `scim-gateway keys new` writes valid entries"
        };
        KeysError::Invalid(format!("{source}:{line}:{col}: {message}\n  fix: {fix}"))
    })?;
    let mut problems = Vec::new();
    let mut keys = Vec::new();
    let mut entries = Vec::new();
    for (i, s) in spanned.keys.iter().enumerate() {
        let (line, col) = line_col(text, s.span().start);
        let entry = s.get_ref();
        let at = format!("{source}:{line}:{col}: keys[{i}] (id {:?})", entry.id);
        match check_entry(entry) {
            Ok(k) => {
                if let Some(other) = keys.iter().position(|o: &Key| o.id == k.id) {
                    problems.push(format!(
                        "{at}: the id is also the id of keys[{other}]\n  fix: every key needs its own id; create keys with `scim-gateway keys new`"
                    ));
                } else if let Some(other) = keys.iter().position(|o: &Key| o.digest == k.digest) {
                    problems.push(format!(
                        "{at}: the same secret digest as keys[{other}]\n  fix: remove one of the two entries"
                    ));
                } else {
                    keys.push(k);
                }
            }
            Err((what, fix)) => problems.push(format!("{at}: {what}\n  fix: {fix}")),
        }
        entries.push(entry.clone());
    }
    if problems.is_empty() {
        Ok((KeysFile { keys: entries }, keys))
    } else {
        Err(KeysError::Invalid(problems.join("\n")))
    }
}

/// One entry's checks: `Err((what, fix))`.
fn check_entry(e: &KeyEntry) -> Result<Key, (String, String)> {
    let regenerate = "create a key with `scim-gateway keys new`".to_string();
    if e.id.is_empty() || e.id.len() > 32 || !e.id.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Err((
            "the id must be 1 to 32 letters or digits".into(),
            regenerate,
        ));
    }
    check_tenant_name(&e.tenant)
        .map_err(|m| (format!("tenant: {m}"), "fix the tenant name".into()))?;
    let scopes = Scopes::parse(&e.scopes).map_err(|m| {
        (
            format!("scopes: {m}"),
            format!("write e.g. scopes = [\"{SCOPE_READ}\", \"{SCOPE_WRITE}\"]"),
        )
    })?;
    let digest = hex::decode(e.sha256.trim())
        .ok()
        .and_then(|b| <[u8; 32]>::try_from(b.as_slice()).ok())
        .ok_or_else(|| {
            (
                "sha256 is not a SHA-256 hex digest (64 hex characters)".to_string(),
                "never put a secret here: the file holds only digests; create a key with `scim-gateway keys new`".to_string(),
            )
        })?;
    if e.label.chars().any(char::is_control) {
        return Err((
            "the label contains a control character".into(),
            "write a one-line label".into(),
        ));
    }
    let time = |name: &str, v: &str| {
        parse_time(v).map_err(|m| {
            (
                format!("{name}: {m}"),
                "write an RFC 3339 time in UTC, e.g. \"2027-11-27T00:00:00Z\"".to_string(),
            )
        })
    };
    let created = time("created", &e.created)?;
    let expires = e
        .expires
        .as_deref()
        .map(|v| time("expires", v))
        .transpose()?;
    let revoked = e
        .revoked
        .as_deref()
        .map(|v| time("revoked", v))
        .transpose()?;
    Ok(Key {
        id: e.id.clone(),
        label: e.label.clone(),
        tenant: e.tenant.clone(),
        scopes,
        digest,
        created,
        expires,
        revoked,
    })
}

/// Reads and checks the keys file at `path`.
pub fn read_file(path: &Path) -> Result<(KeysFile, Vec<Key>), KeysError> {
    let name = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| KeysError::Read {
        path: name.clone(),
        reason: e.to_string(),
    })?;
    parse(&name, &text)
}

/// The text of a keys file.
pub(crate) fn to_text(file: &KeysFile) -> String {
    let body = toml::to_string(file).unwrap_or_default();
    format!(
        "# scim-gateway API keys, written by `scim-gateway keys` (new, revoke). Only the SHA-256\n\
         # digest of each secret is kept: a lost secret cannot be recovered, create a new key.\n\n{body}"
    )
}

/// Writes `file` to `path` atomically: a temporary file in the same directory, synced, then
/// renamed over `path`. A reader (the gateway polling the file) sees the old file or the new
/// one, never half of one. A new file is readable by its owner only (0600); a file that exists
/// keeps its group and its owner and group permissions (e.g. 0640, group `scim-gateway`, so
/// that the gateway's user can still read it), never permissions for others.
pub fn write_file(path: &Path, file: &KeysFile) -> Result<(), KeysError> {
    let name = path.display().to_string();
    let fail = |e: std::io::Error| KeysError::Write {
        path: name.clone(),
        reason: e.to_string(),
    };
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let file_name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "keys.toml".into());
    let tmp = dir.join(format!(".{file_name}.tmp-{}", std::process::id()));
    #[cfg(unix)]
    let existing = std::fs::metadata(path).ok();
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let result = (|| {
        let mut f = options.open(&tmp)?;
        #[cfg(unix)]
        if let Some(m) = &existing {
            use std::os::unix::fs::{MetadataExt, PermissionsExt};
            // Owner and group as before when allowed (as root); the group's permissions only
            // matter if the group stayed.
            let _ = std::os::unix::fs::fchown(&f, Some(m.uid()), Some(m.gid()));
            f.set_permissions(std::fs::Permissions::from_mode(m.mode() & 0o770))?;
        }
        f.write_all(to_text(file).as_bytes())?;
        f.sync_all()?;
        drop(f);
        std::fs::rename(&tmp, path)?;
        // The rename itself is durable once the directory is synced.
        if let Ok(d) = std::fs::File::open(dir) {
            let _ = d.sync_all();
        }
        Ok(())
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result.map_err(fail)
}

/// `n` random base62 characters from the operating system's generator.
fn random_base62(n: usize) -> Result<String, KeysError> {
    let mut os = rand::rngs::OsRng;
    // Probe once so that a failing generator is an error here, not a panic below.
    os.try_next_u64()
        .map_err(|e| KeysError::Random(e.to_string()))?;
    let mut rng = os.unwrap_err();
    Ok(Alphanumeric
        .sample_iter(&mut rng)
        .take(n)
        .map(char::from)
        .collect())
}

/// The SHA-256 hex digest of a secret, as the file stores it.
pub fn secret_digest_hex(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

/// What `keys new` asks for.
#[derive(Debug, Clone)]
pub struct NewKey<'a> {
    pub tenant: &'a str,
    pub scopes: Scopes,
    pub label: &'a str,
    pub expires: Option<OffsetDateTime>,
}

/// A new key for `file`: its entry (appended to `file`) and its secret, which is nowhere else
/// and must be shown to the operator once.
pub fn generate(
    file: &mut KeysFile,
    new: &NewKey<'_>,
    now: OffsetDateTime,
) -> Result<(KeyEntry, String), KeysError> {
    check_tenant_name(new.tenant).map_err(KeysError::Invalid)?;
    if new.label.chars().any(char::is_control) {
        return Err(KeysError::Invalid(
            "the label contains a control character".into(),
        ));
    }
    if new.expires.is_some_and(|e| e <= now) {
        return Err(KeysError::Invalid(
            "the expiry is in the past; give a later time or a duration such as 90d".into(),
        ));
    }
    let id = loop {
        let id = random_base62(ID_LEN)?;
        if !file.keys.iter().any(|k| k.id == id) {
            break id;
        }
    };
    let secret = format!("{SECRET_PREFIX}{id}_{}", random_base62(SECRET_RANDOM_LEN)?);
    let entry = KeyEntry {
        id,
        label: new.label.trim().to_string(),
        tenant: new.tenant.to_string(),
        scopes: new.scopes.names().into_iter().map(String::from).collect(),
        sha256: secret_digest_hex(&secret),
        created: format_time(now),
        expires: new.expires.map(format_time),
        revoked: None,
    };
    file.keys.push(entry.clone());
    Ok((entry, secret))
}

/// Marks key `id` revoked at `now`. `Ok(false)` when it already was.
pub fn revoke(file: &mut KeysFile, id: &str, now: OffsetDateTime) -> Result<bool, KeysError> {
    let entry = file.keys.iter_mut().find(|k| k.id == id).ok_or_else(|| {
        KeysError::Invalid(format!(
            "no key with id {id:?}; `scim-gateway keys list` shows the ids"
        ))
    })?;
    if entry.revoked.is_some() {
        return Ok(false);
    }
    entry.revoked = Some(format_time(now));
    Ok(true)
}

/// An expiry as `keys new --expires` takes it: a duration from `now` (`90d`, `12h`) or a time
/// (RFC 3339, or a date `2027-01-31` meaning its midnight UTC).
pub fn parse_expiry(text: &str, now: OffsetDateTime) -> Result<OffsetDateTime, String> {
    let t = text.trim();
    let help = || {
        format!(
            "{t:?} is not an expiry: write a number of days or hours (90d, 12h), an RFC 3339 time (2027-11-27T00:00:00Z) or a date (2027-11-27)"
        )
    };
    if let Some((n, unit)) = t
        .strip_suffix('d')
        .map(|n| (n, Duration::DAY))
        .or_else(|| t.strip_suffix('h').map(|n| (n, Duration::HOUR)))
    {
        let n: i32 = n.parse().map_err(|_| help())?;
        if n <= 0 {
            return Err(help());
        }
        return now.checked_add(unit * n).ok_or_else(help);
    }
    if let Ok(at) = OffsetDateTime::parse(t, &Rfc3339) {
        return Ok(at);
    }
    let date_format = time::macros::format_description!("[year]-[month]-[day]");
    time::Date::parse(t, date_format)
        .map(|d| d.midnight().assume_utc())
        .map_err(|_| help())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> OffsetDateTime {
        OffsetDateTime::parse("2026-11-27T17:00:00Z", &Rfc3339).unwrap()
    }

    fn new_key<'a>(tenant: &'a str, scopes: Scopes) -> NewKey<'a> {
        NewKey {
            tenant,
            scopes,
            label: "Entra production",
            expires: None,
        }
    }

    #[test]
    fn a_generated_secret_has_the_contract_format_and_only_its_digest_is_kept() {
        let mut file = KeysFile::default();
        let (entry, secret) = generate(&mut file, &new_key("acme", Scopes::ALL), now()).unwrap();
        let rest = secret.strip_prefix("sgw_").unwrap();
        let (id, random) = rest.split_once('_').unwrap();
        assert_eq!(id, entry.id);
        assert_eq!(id.len(), 8);
        assert_eq!(random.len(), 32);
        assert!(random.bytes().all(|b| b.is_ascii_alphanumeric()));
        assert_eq!(entry.sha256, secret_digest_hex(&secret));
        assert_eq!(entry.created, "2026-11-27T17:00:00Z");
        assert_eq!(entry.scopes, vec!["scim.read", "scim.write"]);
        let text = to_text(&file);
        assert!(!text.contains(random), "the secret is never written");
        // What is written reads back as the same key.
        let (back, keys) = parse("keys.toml", &text).unwrap();
        assert_eq!(back, file);
        assert_eq!(keys[0].tenant, "acme");
        assert_eq!(keys[0].status(now()), KeyStatus::Active);
    }

    #[test]
    fn two_secrets_differ() {
        let mut file = KeysFile::default();
        let (_, a) = generate(&mut file, &new_key("acme", Scopes::ALL), now()).unwrap();
        let (_, b) = generate(&mut file, &new_key("acme", Scopes::ALL), now()).unwrap();
        assert_ne!(a, b);
        assert_ne!(file.keys[0].id, file.keys[1].id);
    }

    #[test]
    fn the_contract_example_parses() {
        let text = r#"
[[keys]]
id = "k7Hq3mX2"            # public id
label = "Entra production"
tenant = "acme"
scopes = ["scim.read", "scim.write"]
sha256 = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
created = "2026-11-27T17:00:00Z"
expires = "2027-11-27T00:00:00Z"   # optional
"#;
        let (_, keys) = parse("keys.toml", text).unwrap();
        assert_eq!(keys.len(), 1);
        assert_eq!(keys[0].id, "k7Hq3mX2");
        assert_eq!(keys[0].scopes, Scopes::ALL);
        assert_eq!(keys[0].status(now()), KeyStatus::Active);
        let later = OffsetDateTime::parse("2027-11-27T00:00:00Z", &Rfc3339).unwrap();
        assert_eq!(keys[0].status(later), KeyStatus::Expired);
    }

    #[test]
    fn an_empty_file_has_no_keys() {
        assert!(parse("keys.toml", "").unwrap().1.is_empty());
        assert!(parse("keys.toml", "# nothing yet\n").unwrap().1.is_empty());
    }

    #[test]
    fn problems_name_the_line_and_never_echo_a_digest() {
        let text = "\n[[keys]]\nid = \"a1\"\ntenant = \"acme\"\nscopes = [\"scim.read\"]\nsha256 = \"ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad\"\ncreated = \"2026-11-27T17:00:00Z\"\n\n[[keys]]\nid = \"a2\"\ntenant = \"Acme Corp\"\nscopes = [\"scim.admin\"]\nsha256 = \"my-plain-secret\"\ncreated = \"yesterday\"\n";
        let err = parse("/etc/keys.toml", text).unwrap_err().to_string();
        assert!(
            err.starts_with("/etc/keys.toml:9:1: keys[1] (id \"a2\"): tenant:"),
            "{err}"
        );
        assert!(err.contains("fix:"), "{err}");
        assert!(!err.contains("my-plain-secret"), "{err}");
    }

    #[test]
    fn syntax_errors_and_unknown_keys_name_the_line() {
        let err = parse(
            "k.toml",
            "[[keys]]\nid = \"a\"\nexpire = \"2027-01-01T00:00:00Z\"\n",
        )
        .unwrap_err()
        .to_string();
        assert!(err.starts_with("k.toml:3:"), "{err}");
        assert!(err.contains("expire"), "{err}");
        let err = parse("k.toml", "[[keys]\n").unwrap_err().to_string();
        assert!(err.starts_with("k.toml:1:"), "{err}");
    }

    #[test]
    fn duplicate_ids_and_digests_are_refused() {
        let one = |id: &str, d: &str| {
            format!("[[keys]]\nid = \"{id}\"\ntenant = \"a\"\nscopes = [\"scim.read\"]\nsha256 = \"{d}\"\ncreated = \"2026-11-27T17:00:00Z\"\n")
        };
        let d1 = secret_digest_hex("one");
        let d2 = secret_digest_hex("two");
        let err = parse("k", &(one("x", &d1) + &one("x", &d2))).unwrap_err();
        assert!(err.to_string().contains("also the id of keys[0]"), "{err}");
        let err = parse("k", &(one("x", &d1) + &one("y", &d1))).unwrap_err();
        assert!(err.to_string().contains("same secret digest"), "{err}");
    }

    #[test]
    fn revoking_marks_the_entry_once() {
        let mut file = KeysFile::default();
        let (entry, _) = generate(&mut file, &new_key("acme", Scopes::ALL), now()).unwrap();
        assert!(revoke(&mut file, &entry.id, now()).unwrap());
        assert!(!revoke(&mut file, &entry.id, now()).unwrap());
        assert!(revoke(&mut file, "nope", now()).is_err());
        let (_, keys) = parse("k", &to_text(&file)).unwrap();
        assert_eq!(keys[0].status(now()), KeyStatus::Revoked);
    }

    #[test]
    fn scopes_are_checked() {
        assert_eq!(
            Scopes::parse(&["scim.read"]).unwrap(),
            Scopes {
                read: true,
                write: false
            }
        );
        assert_eq!(
            Scopes::parse(&["scim.write", "scim.read"]).unwrap(),
            Scopes::ALL
        );
        assert!(Scopes::parse(&["scim.admin"])
            .unwrap_err()
            .contains("scim.admin"));
        assert!(Scopes::parse::<&str>(&[]).is_err());
    }

    #[test]
    fn tenant_names_are_url_and_label_safe() {
        for ok in ["acme", "acme-eu", "a", "tenant_7", "acme.com"] {
            assert!(check_tenant_name(ok).is_ok(), "{ok}");
        }
        for bad in ["", "Acme", "a/b", "-a", "a b", "é", &"a".repeat(64)] {
            assert!(check_tenant_name(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn expiries_are_durations_times_or_dates() {
        assert_eq!(
            format_time(parse_expiry("90d", now()).unwrap()),
            "2027-02-25T17:00:00Z"
        );
        assert_eq!(
            format_time(parse_expiry("12h", now()).unwrap()),
            "2026-11-28T05:00:00Z"
        );
        assert_eq!(
            format_time(parse_expiry("2027-11-27T00:00:00Z", now()).unwrap()),
            "2027-11-27T00:00:00Z"
        );
        assert_eq!(
            format_time(parse_expiry("2027-01-31", now()).unwrap()),
            "2027-01-31T00:00:00Z"
        );
        for bad in ["", "0d", "-3d", "soon", "90", "d"] {
            assert!(parse_expiry(bad, now()).is_err(), "{bad}");
        }
        let mut file = KeysFile::default();
        let past = NewKey {
            expires: Some(now() - Duration::DAY),
            ..new_key("acme", Scopes::ALL)
        };
        assert!(generate(&mut file, &past, now()).is_err());
    }

    #[test]
    fn the_file_is_written_atomically_and_private() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("keys.toml");
        let mut file = KeysFile::default();
        generate(&mut file, &new_key("acme", Scopes::ALL), now()).unwrap();
        write_file(&path, &file).unwrap();
        assert_eq!(read_file(&path).unwrap().0, file);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        // No temporary file is left beside it.
        let names: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(names.len(), 1);
        // A file the operator opened to the gateway's group keeps that, never more.
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
            write_file(&path, &file).unwrap();
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o640);
        }
        let missing = read_file(&dir.path().join("nope.toml")).unwrap_err();
        assert!(missing.to_string().contains("nope.toml"), "{missing}");
    }
}
