//! Tenants and API keys over real sockets: each key acts for its tenant only (through
//! `/scim/v2` and `/t/{tenant}/scim/v2`), each tenant's users land in its own store of the
//! multi-tenant example API Acme HR, scopes and the domain allow-list are enforced before any
//! legacy call, keys rotate with an overlap, and the keys file reloads (on a change, on SIGHUP)
//! without accepting a broken file. Also the `scim-gateway keys` commands.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::scim::patch_op;
use common::{Env, Legacy};
use scim_gateway::config::TenantConfig;
use scim_gateway::keys::{self, KeysFile, NewKey, Scopes};
use scim_gateway::server::reload;
use scim_gateway_example_apis::acme_hr::AcmeHr;
use scim_gateway_hosting::{free_loopback_addr, http_service, server_conf, start};
use serde_json::{json, Value};
use time::OffsetDateTime;

const BIN: &str = env!("CARGO_BIN_EXE_scim-gateway");

const READ_ONLY: Scopes = Scopes {
    read: true,
    write: false,
};

/// A keys file in a temporary directory, and the secrets of the keys added to it.
struct Keys {
    dir: tempfile::TempDir,
    file: KeysFile,
}

impl Keys {
    fn new() -> Keys {
        Keys {
            dir: tempfile::tempdir().unwrap(),
            file: KeysFile::default(),
        }
    }

    fn path(&self) -> PathBuf {
        self.dir.path().join("keys.toml")
    }

    /// Adds a key and writes the file; returns (id, secret).
    fn add(&mut self, tenant: &str, scopes: Scopes) -> (String, String) {
        let new = NewKey {
            tenant,
            scopes,
            label: "test",
            expires: None,
        };
        let (entry, secret) =
            keys::generate(&mut self.file, &new, OffsetDateTime::now_utc()).unwrap();
        self.save();
        (entry.id, secret)
    }

    fn save(&self) {
        keys::write_file(&self.path(), &self.file).unwrap();
    }

    fn revoke(&mut self, id: &str) {
        assert!(keys::revoke(&mut self.file, id, OffsetDateTime::now_utc()).unwrap());
        self.save();
    }
}

fn bearer(secret: &str) -> String {
    format!("Bearer {secret}")
}

fn user(name: &str) -> Value {
    json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": name,
           "name": {"givenName": "Ada", "familyName": "Lovelace"},
           "emails": [{"type": "work", "value": name, "primary": true}], "active": true})
}

/// The URL of `path` under tenant `tenant`'s SCIM base (`/t/{tenant}/scim/v2`).
fn tenant_url(env: &Env, tenant: &str, path: &str) -> String {
    let root = env.base.strip_suffix("/scim/v2").unwrap();
    format!("{root}/t/{tenant}/scim/v2{path}")
}

/// Acme HR with tenants "acme" and "globex", and a gateway whose keys file is `keys` and whose
/// tenant "acme" allows only acme.com addresses.
fn start_env(keys: &Keys) -> Env {
    let path = keys.path();
    let env = Env::start_with(Legacy::AcmeHr, move |c| {
        c.auth.keys_file = path;
        c.tenants.insert(
            "acme".into(),
            TenantConfig {
                allowed_domains: vec!["acme.com".into()],
                legacy_id: None,
            },
        );
    });
    env.acme().add_tenant("acme");
    env.acme().add_tenant("globex");
    env
}

fn acme_store(env: &Env, tenant: &str) -> AcmeHr {
    env.acme().tenant(tenant).unwrap()
}

#[test]
fn a_tenants_key_reads_and_writes_only_its_tenants_users() {
    let mut keys = Keys::new();
    let (_, a) = keys.add("acme", Scopes::ALL);
    let (_, b) = keys.add("globex", Scopes::ALL);
    let env = start_env(&keys);
    let (a, b) = (bearer(&a), bearer(&b));

    let ada = env.call_with("POST", "/Users", Some(&user("ada@acme.com")), Some(&a));
    assert_eq!(ada.status, 201, "{:?}", ada.body);
    // The same userName in another tenant is another user, in another store.
    for name in ["ada@acme.com", "bob@globex.com"] {
        let r = env.call_with("POST", "/Users", Some(&user(name)), Some(&b));
        assert_eq!(r.status, 201, "{:?}", r.body);
    }
    assert_eq!(acme_store(&env, "acme").user_count(), 1);
    assert_eq!(acme_store(&env, "globex").user_count(), 2);
    assert_eq!(env.acme().user_count(), 0, "nothing in the default tenant");
    let stored = acme_store(&env, "acme").user(1).unwrap();
    assert_eq!(stored["login"], "ada@acme.com");

    // Each key lists its own tenant's users only.
    let listed = env.call_with("GET", "/Users", None, Some(&a));
    assert_eq!(listed.body["totalResults"], 1, "{:?}", listed.body);
    let listed = env.call_with("GET", "/Users", None, Some(&b));
    assert_eq!(listed.body["totalResults"], 2, "{:?}", listed.body);
    let bob = env.call_with(
        "GET",
        "/Users?filter=userName+eq+%22bob@globex.com%22",
        None,
        Some(&a),
    );
    assert_eq!(bob.body["totalResults"], 0, "acme cannot find globex's bob");

    // globex's user 2 does not exist for acme: not readable, not writable, not deletable.
    assert_eq!(env.call_with("GET", "/Users/2", None, Some(&a)).status, 404);
    let deactivate = patch_op(json!([{"op": "replace", "path": "active", "value": false}]));
    assert_eq!(
        env.call_with("PATCH", "/Users/2", Some(&deactivate), Some(&a))
            .status,
        404
    );
    assert_eq!(
        env.call_with("DELETE", "/Users/2", None, Some(&a)).status,
        404
    );
    assert_eq!(
        acme_store(&env, "globex").user(2).unwrap()["status"],
        "enabled"
    );
    // User 1 is a different person in each tenant.
    let one = env.call_with("GET", "/Users/1", None, Some(&b));
    assert_eq!(one.body["userName"], "ada@acme.com");
    assert_eq!(
        env.call_with("DELETE", "/Users/1", None, Some(&a)).status,
        204
    );
    assert_eq!(
        acme_store(&env, "acme").user(1).unwrap()["status"],
        "archived"
    );
    assert_eq!(
        acme_store(&env, "globex").user(1).unwrap()["status"],
        "enabled"
    );

    // The static token still acts for the tenant "default".
    let d = env.post("/Users", &user("carol@example.com"));
    assert_eq!(d.status, 201, "{:?}", d.body);
    assert_eq!(env.acme().user_count(), 1);
}

#[test]
fn a_key_on_another_tenants_url_gets_403_and_nothing_is_read_or_written() {
    let mut keys = Keys::new();
    let (_, a) = keys.add("acme", Scopes::ALL);
    let env = start_env(&keys);
    let a = bearer(&a);
    acme_store(&env, "globex").seed(2);
    let before = env.backend_requests();
    for (method, path, body) in [
        ("GET", "/Users", None),
        ("GET", "/Users/1", None),
        ("POST", "/Users", Some(user("eve@acme.com"))),
        (
            "PATCH",
            "/Users/1",
            Some(patch_op(
                json!([{"op": "replace", "path": "active", "value": false}]),
            )),
        ),
        ("DELETE", "/Users/1", None),
        ("GET", "/ServiceProviderConfig", None),
    ] {
        let r = env.call_with(
            method,
            &tenant_url(&env, "globex", path),
            body.as_ref(),
            Some(&a),
        );
        assert_eq!(r.status, 403, "{method} {path}: {:?}", r.body);
        assert_eq!(r.body["status"], "403");
        assert!(
            r.body["detail"].as_str().unwrap().contains("globex"),
            "{:?}",
            r.body
        );
    }
    assert_eq!(
        env.backend_requests(),
        before,
        "nothing reached the legacy API"
    );
    assert_eq!(acme_store(&env, "globex").user_count(), 2);
    let metrics = env.admin_get("/metrics").1;
    assert!(
        metrics
            .lines()
            .any(|l| l == "scim_gateway_auth_failures_total{reason=\"tenant\"} 6"),
        "{metrics}"
    );
    assert_eq!(
        acme_store(&env, "globex").user(1).unwrap()["status"],
        "enabled"
    );

    // On its own tenant's URL, the key works, and locations keep the tenant URL.
    let created = env.call_with(
        "POST",
        &tenant_url(&env, "acme", "/Users"),
        Some(&user("eve@acme.com")),
        Some(&a),
    );
    assert_eq!(created.status, 201, "{:?}", created.body);
    let location = created.location.clone().unwrap();
    assert_eq!(location, tenant_url(&env, "acme", "/Users/1"));
    assert_eq!(created.body["meta"]["location"], location.as_str());
    let got = env.call_with("GET", &location, None, Some(&a));
    assert_eq!(got.status, 200);
    assert_eq!(got.body["meta"]["location"], location.as_str());
    let listed = env.call_with("GET", &tenant_url(&env, "acme", "/Users"), None, Some(&a));
    assert_eq!(
        listed.body["Resources"][0]["meta"]["location"],
        location.as_str()
    );
    // Through /scim/v2, the plain location.
    let plain = env.call_with("GET", "/Users/1", None, Some(&a));
    assert_eq!(
        plain.body["meta"]["location"],
        format!("{}/Users/1", env.base).as_str()
    );
}

#[test]
fn unknown_expired_and_revoked_keys_get_401() {
    let mut keys = Keys::new();
    let (_, good) = keys.add("acme", Scopes::ALL);
    let (_, expired) = keys.add("acme", Scopes::ALL);
    let (revoked_id, revoked) = keys.add("acme", Scopes::ALL);
    keys.file.keys[1].expires = Some("2020-01-01T00:00:00Z".into());
    keys.save();
    keys.revoke(&revoked_id);
    let env = start_env(&keys);
    assert_eq!(
        env.call_with("GET", "/Users", None, Some(&bearer(&good)))
            .status,
        200
    );
    let last = if good.ends_with('x') { 'y' } else { 'x' };
    let forged = format!("{}{last}", &good[..good.len() - 1]);
    for (secret, why) in [
        (forged.as_str(), "not valid"),
        ("sgw_nothing_here", "not valid"),
        (expired.as_str(), "expired"),
        (revoked.as_str(), "revoked"),
    ] {
        let r = env.call_with("GET", "/Users", None, Some(&bearer(secret)));
        assert_eq!(r.status, 401, "{why}: {:?}", r.body);
        assert!(
            r.header("www-authenticate").unwrap().starts_with("Bearer"),
            "{why}"
        );
        assert!(
            r.body["detail"].as_str().unwrap().contains(why),
            "{:?}",
            r.body
        );
        assert!(!r.body["detail"].as_str().unwrap().contains(secret));
    }
    let r = env.call_with("GET", "/Users", None, None);
    assert_eq!(r.status, 401);
    // Counted by reason; a revoked key counts as an unknown one.
    let metrics = env.admin_get("/metrics").1;
    for (reason, n) in [("unknown_key", 3), ("expired", 1), ("missing", 1)] {
        let line = format!("scim_gateway_auth_failures_total{{reason=\"{reason}\"}} {n}");
        assert!(
            metrics.lines().any(|l| l == line),
            "no {line:?} in\n{metrics}"
        );
    }
}

#[test]
fn a_read_only_key_reads_and_searches_but_cannot_write() {
    let mut keys = Keys::new();
    let (_, reader) = keys.add("acme", READ_ONLY);
    let env = start_env(&keys);
    let ids: Vec<String> = acme_store(&env, "acme")
        .seed(1)
        .iter()
        .map(u64::to_string)
        .collect();
    let id = &ids[0];
    let reader = bearer(&reader);
    let search =
        json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"], "count": 5});
    for (method, path, body) in [
        ("GET", "/Users".to_string(), None),
        ("GET", format!("/Users/{id}"), None),
        ("POST", "/Users/.search".to_string(), Some(search.clone())),
        ("POST", "/.search".to_string(), Some(search)),
        ("GET", "/Schemas".to_string(), None),
    ] {
        let r = env.call_with(method, &path, body.as_ref(), Some(&reader));
        assert_eq!(r.status, 200, "{method} {path}: {:?}", r.body);
    }
    let before = env.backend_requests();
    let deactivate = patch_op(json!([{"op": "replace", "path": "active", "value": false}]));
    for (method, path, body) in [
        ("POST", "/Users".to_string(), Some(user("x@acme.com"))),
        ("PUT", format!("/Users/{id}"), Some(user("x@acme.com"))),
        ("PATCH", format!("/Users/{id}"), Some(deactivate)),
        ("DELETE", format!("/Users/{id}"), None),
        (
            "POST",
            "/Groups".to_string(),
            Some(json!({"displayName": "Sales"})),
        ),
    ] {
        let r = env.call_with(method, &path, body.as_ref(), Some(&reader));
        assert_eq!(r.status, 403, "{method} {path}: {:?}", r.body);
        assert!(r.body["detail"].as_str().unwrap().contains("scim.write"));
    }
    assert_eq!(
        env.backend_requests(),
        before,
        "no write reached the legacy API"
    );
    assert_eq!(
        acme_store(&env, "acme").user(1).unwrap()["status"],
        "enabled"
    );
}

#[test]
fn users_outside_the_tenants_domains_are_refused_before_any_legacy_call() {
    let mut keys = Keys::new();
    let (_, a) = keys.add("acme", Scopes::ALL);
    let (_, g) = keys.add("globex", Scopes::ALL);
    let env = start_env(&keys);
    let a = bearer(&a);
    let before = env.backend_requests();
    let r = env.call_with("POST", "/Users", Some(&user("mallory@gmail.com")), Some(&a));
    assert_eq!(r.status, 400, "{:?}", r.body);
    assert_eq!(r.body["scimType"], "invalidValue");
    let detail = r.body["detail"].as_str().unwrap();
    assert!(
        detail.contains("gmail.com") && detail.contains("acme.com"),
        "{detail}"
    );
    // A userName without '@' is checked through its emails.
    let mut other = user("mallory");
    other["emails"] = json!([{"type": "work", "value": "mallory@ACME.com.evil.io"}]);
    let r = env.call_with("POST", "/Users", Some(&other), Some(&a));
    assert_eq!(r.status, 400, "{:?}", r.body);
    assert_eq!(
        env.backend_requests(),
        before,
        "nothing reached the legacy API"
    );
    assert_eq!(acme_store(&env, "acme").user_count(), 0);

    // The allowed domain and its subdomains, in any case.
    let ok = env.call_with("POST", "/Users", Some(&user("Ada@EU.Acme.com")), Some(&a));
    assert_eq!(ok.status, 201, "{:?}", ok.body);
    let id = ok.body["id"].as_str().unwrap().to_string();
    // A PATCH or PUT bringing in another domain is refused; the stored user is unchanged.
    let to_gmail = patch_op(
        json!([{"op": "replace", "path": "emails[type eq \"work\"].value",
                                     "value": "ada@gmail.com"}]),
    );
    let r = env.call_with("PATCH", &format!("/Users/{id}"), Some(&to_gmail), Some(&a));
    assert_eq!(r.status, 400, "{:?}", r.body);
    let r = env.call_with(
        "PUT",
        &format!("/Users/{id}"),
        Some(&user("ada@gmail.com")),
        Some(&a),
    );
    assert_eq!(r.status, 400, "{:?}", r.body);
    assert_eq!(
        acme_store(&env, "acme").user(1).unwrap()["email"],
        "Ada@EU.Acme.com"
    );
    // Deactivating is no new address: allowed.
    let off = patch_op(json!([{"op": "replace", "path": "active", "value": false}]));
    let r = env.call_with("PATCH", &format!("/Users/{id}"), Some(&off), Some(&a));
    assert_eq!(r.status, 200, "{:?}", r.body);

    // globex has no allow-list.
    let r = env.call_with(
        "POST",
        "/Users",
        Some(&user("x@gmail.com")),
        Some(&bearer(&g)),
    );
    assert_eq!(r.status, 201, "{:?}", r.body);
}

#[test]
fn one_tenants_cached_groups_are_never_shown_to_another() {
    let mut keys = Keys::new();
    let (_, a) = keys.add("acme", Scopes::ALL);
    let (_, g) = keys.add("globex", Scopes::ALL);
    let env = start_env(&keys);
    let (a, g) = (bearer(&a), bearer(&g));
    // User 1 in both tenants; in acme, a member of "Admins".
    let ua = env.call_with("POST", "/Users", Some(&user("ada@acme.com")), Some(&a));
    let ug = env.call_with("POST", "/Users", Some(&user("ada@globex.com")), Some(&g));
    assert_eq!(
        (ua.body["id"].clone(), ug.body["id"].clone()),
        (json!("1"), json!("1"))
    );
    let admins = json!({"displayName": "Admins", "members": [{"value": "1"}]});
    let r = env.call_with("POST", "/Groups", Some(&admins), Some(&a));
    assert_eq!(r.status, 201, "{:?}", r.body);
    // acme reads its user's groups (and caches them)…
    let r = env.call_with("GET", "/Users/1", None, Some(&a));
    assert_eq!(r.body["groups"][0]["display"], "Admins", "{:?}", r.body);
    let r = env.call_with("GET", "/Users/1", None, Some(&a));
    assert_eq!(r.body["groups"][0]["display"], "Admins", "{:?}", r.body);
    // …and globex's user 1 is in no group.
    let r = env.call_with("GET", "/Users/1", None, Some(&g));
    assert_eq!(r.status, 200);
    assert!(
        r.body.get("groups").is_none_or(|gr| gr == &json!([])),
        "{:?}",
        r.body
    );
    let r = env.call_with("GET", "/Groups", None, Some(&g));
    assert_eq!(r.body["totalResults"], 0);
}

#[test]
fn keys_rotate_with_an_overlap_and_reload_when_the_file_changes() {
    let mut keys = Keys::new();
    let (old_id, old) = keys.add("acme", Scopes::ALL);
    let env = start_env(&keys);
    let _watcher = reload::watch(env.live.clone(), Duration::from_millis(50)).unwrap();
    let status = |secret: &str| {
        env.call_with("GET", "/Users", None, Some(&bearer(secret)))
            .status
    };
    let eventually = |secret: &str, want: u16| {
        let deadline = Instant::now() + Duration::from_secs(10);
        while status(secret) != want {
            assert!(Instant::now() < deadline, "still not {want}");
            std::thread::sleep(Duration::from_millis(20));
        }
    };
    assert_eq!(status(&old), 200);
    // A new key: both are valid while the identity provider switches over.
    let (_, new) = keys.add("acme", Scopes::ALL);
    eventually(&new, 200);
    assert_eq!(status(&old), 200);
    // The old one is revoked: 401 for it, the new one still works.
    keys.revoke(&old_id);
    eventually(&old, 401);
    assert_eq!(status(&new), 200);
    let (ok, _) = env.live.reloads().snapshot();
    assert!(ok >= 2);
    let metrics = env.admin_get("/metrics").1;
    let line = format!("scim_gateway_config_reloads_total{{outcome=\"ok\"}} {ok}");
    assert!(
        metrics.lines().any(|l| l == line),
        "no {line:?} in\n{metrics}"
    );
}

#[test]
fn the_admin_status_lists_every_tenant_with_its_own_counts() {
    let mut keys = Keys::new();
    let (_, a) = keys.add("acme", Scopes::ALL);
    keys.add("globex", Scopes::ALL);
    let env = start_env(&keys);
    acme_store(&env, "globex").seed(3);
    let r = env.call_with(
        "POST",
        "/Users",
        Some(&user("ada@acme.com")),
        Some(&bearer(&a)),
    );
    assert_eq!(r.status, 201, "{:?}", r.body);
    let (status, body) = env.admin_get("/status");
    assert_eq!(status, 200);
    let doc: Value = serde_json::from_str(&body).unwrap();
    let tenants = doc["tenants"].as_object().unwrap();
    let names: Vec<&String> = tenants.keys().collect();
    assert_eq!(names, ["acme", "default", "globex"], "{doc:#}");
    assert_eq!(tenants["acme"]["users_active"], 1, "{doc:#}");
    assert_eq!(tenants["globex"]["users_active"], 3, "{doc:#}");
    assert_eq!(tenants["default"]["users_active"], 0, "{doc:#}");
    // A tenant added by a new key shows up after the reload.
    keys.add("initech", Scopes::ALL);
    env.acme().add_tenant("initech");
    env.live.reload().unwrap();
    let doc: Value = serde_json::from_str(&env.admin_get("/status").1).unwrap();
    assert!(doc["tenants"].get("initech").is_some(), "{doc:#}");
}

#[test]
fn a_broken_keys_file_is_refused_and_the_keys_in_use_keep_working() {
    let mut keys = Keys::new();
    let (_, a) = keys.add("acme", Scopes::ALL);
    let env = start_env(&keys);
    std::fs::write(
        keys.path(),
        "[[keys]]\nid = \"x\"\ntenant = \"acme\"\nscopes = [\"scim.admin\"]\nsha256 = \"00\"\ncreated = \"now\"\n",
    )
    .unwrap();
    let err = env.live.reload().unwrap_err();
    assert_eq!(err.file, keys.path());
    let shown = format!("{}:1:1:", keys.path().display());
    assert!(err.message.starts_with(&shown), "{}", err.message);
    assert!(err.message.contains("fix:"), "{}", err.message);
    assert_eq!(env.live.reloads().snapshot(), (0, 1));
    assert_eq!(
        env.call_with("GET", "/Users", None, Some(&bearer(&a)))
            .status,
        200
    );
    // A missing file is refused the same way.
    std::fs::remove_file(keys.path()).unwrap();
    assert!(env.live.reload().is_err());
    assert_eq!(
        env.call_with("GET", "/Users", None, Some(&bearer(&a)))
            .status,
        200
    );
    // Fixed, it loads.
    keys.save();
    env.live.reload().unwrap();
    assert_eq!(env.live.reloads().snapshot(), (1, 2));
    assert_eq!(env.live.tenant_names(), ["acme", "default"]);
}

// --- the binary: SIGHUP and the keys commands ----------------------------------------------------

fn keys_cmd(args: &[&str]) -> std::process::Output {
    Command::new(BIN).arg("keys").args(args).output().unwrap()
}

fn stdout(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn secret_in(text: &str) -> String {
    text.split_whitespace()
        .find(|w| w.starts_with("sgw_"))
        .unwrap_or_else(|| panic!("no secret in {text}"))
        .to_string()
}

#[test]
fn keys_new_prints_the_secret_once_list_hides_it_and_revoke_marks_it() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("keys.toml");
    let f = file.to_str().unwrap();
    let out = keys_cmd(&[
        "new",
        "--tenant",
        "acme",
        "--scope",
        "scim.read",
        "--scope",
        "scim.write",
        "--label",
        "Entra production",
        "--expires",
        "90d",
        "--file",
        f,
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = stdout(&out);
    let secret = secret_in(&text);
    assert!(text.contains("Secret Token"), "{text}");
    let stored = std::fs::read_to_string(&file).unwrap();
    assert!(!stored.contains(&secret), "the secret is not stored");
    assert!(stored.contains(&keys::secret_digest_hex(&secret)));
    let id = secret.split('_').nth(1).unwrap().to_string();

    // The spelling of the operator guide: --keys-file, --scopes with commas.
    let quiet = keys_cmd(&[
        "new",
        "--keys-file",
        f,
        "--tenant",
        "globex",
        "--label",
        "Okta",
        "--scopes",
        "scim.read,scim.write",
        "--quiet",
    ]);
    let second = stdout(&quiet).trim().to_string();
    assert!(
        second.starts_with("sgw_") && !second.contains(' '),
        "{second}"
    );

    let list = stdout(&keys_cmd(&["list", "--file", f]));
    assert!(
        list.contains(&id) && list.contains("acme") && list.contains("globex"),
        "{list}"
    );
    assert!(list.contains("Entra production"), "{list}");
    assert_eq!(list.matches("scim.read,scim.write").count(), 2, "{list}");
    assert_eq!(list.matches("active").count(), 2, "{list}");
    assert!(!list.contains(&secret) && !list.contains(&second), "{list}");
    assert!(
        !list.contains(&keys::secret_digest_hex(&secret)[..16]),
        "{list}"
    );

    let out = keys_cmd(&["revoke", &id, "--file", f]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let list = stdout(&keys_cmd(&["list", "--file", f]));
    assert!(
        list.lines()
            .any(|l| l.starts_with(&id) && l.ends_with("revoked")),
        "{list}"
    );
    let again = keys_cmd(&["revoke", &id, "--file", f]);
    assert!(stdout(&again).contains("already revoked"));
    let unknown = keys_cmd(&["revoke", "nope", "--file", f]);
    assert!(!unknown.status.success());

    // Bad input is refused with a reason, and nothing is written.
    let before = std::fs::read_to_string(&file).unwrap();
    for args in [
        vec![
            "new",
            "--tenant",
            "Acme Corp",
            "--scope",
            "scim.read",
            "--label",
            "x",
            "--file",
            f,
        ],
        vec![
            "new",
            "--tenant",
            "acme",
            "--scope",
            "scim.admin",
            "--label",
            "x",
            "--file",
            f,
        ],
        vec![
            "new",
            "--tenant",
            "acme",
            "--scope",
            "scim.read",
            "--label",
            "x",
            "--expires",
            "soon",
            "--file",
            f,
        ],
    ] {
        let out = keys_cmd(&args);
        assert!(!out.status.success(), "{args:?}");
        assert!(!String::from_utf8_lossy(&out.stderr).is_empty());
    }
    assert_eq!(std::fs::read_to_string(&file).unwrap(), before);
}

/// `scim-gateway serve` in front of an in-process Acme HR, from `config`; waits until it answers.
fn serve(config: &Path, scim: std::net::SocketAddr, backend: std::net::SocketAddr) -> Child {
    let child = Command::new(BIN)
        .args(["serve", "--config"])
        .arg(config)
        .env("SCIM_GATEWAY_LISTEN__ADDRESS", scim.to_string())
        .env("SCIM_GATEWAY_SCIM__ALLOWED_HOSTS", "[\"127.0.0.1\"]")
        .env(
            "SCIM_GATEWAY_MAPPING__BACKEND_URL",
            format!("http://{backend}"),
        )
        .env("ACME_API_KEY", "legacy-key")
        .env("SCIM_GATEWAY_ADMIN__ADDRESS", "")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut child = child;
    let deadline = Instant::now() + Duration::from_secs(20);
    while std::net::TcpStream::connect(scim).is_err() {
        if let Some(status) = child.try_wait().unwrap() {
            let mut logs = String::new();
            std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut logs).unwrap();
            panic!("serve exited ({status}):\n{logs}");
        }
        assert!(Instant::now() < deadline, "serve did not come up");
        std::thread::sleep(Duration::from_millis(50));
    }
    child
}

fn signal(child: &Child, sig: &str) {
    let sent = Command::new("kill")
        .args([sig, &child.id().to_string()])
        .status()
        .unwrap();
    assert!(sent.success());
}

#[test]
fn serve_reloads_on_sighup_and_refuses_a_broken_keys_file() {
    let api = AcmeHr::new("legacy-key");
    api.add_tenant("acme");
    let backend = free_loopback_addr().unwrap();
    let _legacy = start(
        server_conf(0, 1),
        vec![http_service("acme", backend, 1, api.clone())],
        &[backend],
    )
    .unwrap();
    let mut keys = Keys::new();
    let (_, first) = keys.add("acme", Scopes::ALL);
    let config = keys.dir.path().join("gateway.toml");
    let root = env!("CARGO_MANIFEST_DIR");
    let keys_path = keys.path();
    let write_config = |tenants: &str| {
        std::fs::write(
            &config,
            format!(
                "[mapping]\nfile = \"{root}/mappings/acme-hr.yaml\"\n[auth]\nkeys_file = \"{}\"\n[shutdown]\ngrace_period_seconds = 0\ntimeout_seconds = 1\n{tenants}",
                keys_path.display()
            ),
        )
        .unwrap();
    };
    write_config("");
    let scim = free_loopback_addr().unwrap();
    let mut child = serve(&config, scim, backend);
    let agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .new_agent();
    let post = |secret: &str, name: &str| {
        agent
            .post(&format!("http://{scim}/scim/v2/Users"))
            .header("Authorization", &bearer(secret))
            .header("Content-Type", "application/scim+json")
            .send(user(name).to_string())
            .unwrap()
            .status()
            .as_u16()
    };
    let get = |secret: &str| {
        agent
            .get(&format!("http://{scim}/scim/v2/Users"))
            .header("Authorization", &bearer(secret))
            .call()
            .unwrap()
            .status()
            .as_u16()
    };
    let eventually = |what: &dyn Fn() -> bool| {
        let deadline = Instant::now() + Duration::from_secs(10);
        while !what() {
            assert!(Instant::now() < deadline, "not within 10 s");
            std::thread::sleep(Duration::from_millis(50));
        }
    };
    assert_eq!(post(&first, "ada@gmail.com"), 201);

    // A new key and an allow-list for acme; SIGHUP applies both.
    let (_, second) = keys.add("acme", Scopes::ALL);
    write_config("[tenants.acme]\nallowed_domains = [\"acme.com\"]\n");
    signal(&child, "-HUP");
    eventually(&|| post(&first, "bob@gmail.com") == 400);
    assert_eq!(get(&second), 200);
    assert_eq!(post(&second, "bob@acme.com"), 201);
    // ada@gmail.com, provisioned before the allow-list, can still be updated and deactivated;
    // her userName cannot become another address outside it.
    let patch = |ops: Value| {
        agent
            .patch(&format!("http://{scim}/scim/v2/Users/1"))
            .header("Authorization", &bearer(&first))
            .header("Content-Type", "application/scim+json")
            .send(patch_op(ops).to_string())
            .unwrap()
            .status()
            .as_u16()
    };
    let title = json!([{"op": "replace", "path": "title", "value": "Engineer"}]);
    assert_eq!(patch(title), 200);
    let renamed = json!([{"op": "replace", "path": "userName", "value": "ada2@gmail.com"}]);
    assert_eq!(patch(renamed), 400);
    assert_eq!(
        patch(json!([{"op": "replace", "path": "active", "value": false}])),
        200
    );
    let store = api.tenant("acme").unwrap();
    let ada = store.user(1).unwrap();
    assert_eq!(
        (&ada["login"], &ada["job_title"]),
        (&json!("ada@gmail.com"), &json!("Engineer"))
    );
    let logins: Vec<Value> = (1..=store.user_count() as u64)
        .filter_map(|id| store.user(id))
        .map(|u| u["login"].clone())
        .collect();
    assert!(logins.contains(&json!("bob@acme.com")), "{logins:?}");
    assert_eq!(api.user_count(), 0, "nothing in the default tenant");

    // A broken keys file: refused on SIGHUP, the keys in use keep working.
    std::fs::write(keys.path(), "[[keys]\nbroken").unwrap();
    signal(&child, "-HUP");
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(get(&first), 200);
    assert_eq!(get(&second), 200);

    signal(&child, "-TERM");
    let status = child.wait().unwrap();
    assert!(
        status.success(),
        "serve survived SIGHUP and stopped on SIGTERM: {status:?}"
    );
    let mut logs = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut logs).unwrap();
    let at = format!("{}:1:", keys.path().display());
    assert!(
        logs.contains("reload refused") && logs.contains(&at),
        "{logs}"
    );
    assert!(
        !logs.contains(&first) && !logs.contains(&second),
        "no secret is logged"
    );
}

#[test]
fn addresses_that_do_not_parse_are_refused_and_nothing_is_created() {
    let mut keys = Keys::new();
    let (_, a) = keys.add("acme", Scopes::ALL);
    let env = start_env(&keys);
    let a = bearer(&a);
    let before = env.backend_requests();
    for hostile in [
        "x@gmail.com\u{0}@acme.com",
        "x@gmail.com#@acme.com",
        "x@gmail.com?@acme.com",
        "x@gmail.com@acme.com",
        "x@acme.com\r\nBcc: y@gmail.com",
        "x@acme.com#",
        "\"x@gmail.com\"@acme.com",
        "x@[192.0.2.1]",
    ] {
        // As the userName, and as an email of a user whose userName has no '@'.
        let mut as_email = user("x");
        as_email["emails"] = json!([{"type": "work", "value": hostile}]);
        for (attr, body) in [("userName", user(hostile)), ("emails", as_email)] {
            let r = env.call_with("POST", "/Users", Some(&body), Some(&a));
            assert_eq!(r.status, 400, "{hostile:?} as {attr}: {:?}", r.body);
            assert_eq!(r.body["scimType"], "invalidValue", "{:?}", r.body);
            let detail = r.body["detail"].as_str().unwrap();
            assert!(detail.starts_with(&format!("{attr} ")), "{detail}");
            assert!(
                !detail.chars().any(char::is_control),
                "a control character echoed raw: {detail:?}"
            );
        }
    }
    assert_eq!(
        env.backend_requests(),
        before,
        "nothing reached the legacy API"
    );
    assert_eq!(acme_store(&env, "acme").user_count(), 0);
}

#[test]
fn unicode_domains_are_compared_by_their_a_label() {
    let mut keys = Keys::new();
    let (_, a) = keys.add("acme", Scopes::ALL);
    let path = keys.path();
    let env = Env::start_with(Legacy::AcmeHr, move |c| {
        c.auth.keys_file = path;
        c.tenants.insert(
            "acme".into(),
            TenantConfig {
                // One written in Unicode, one as its A-label (café.example).
                allowed_domains: vec!["bücher.example".into(), "xn--caf-dma.example".into()],
                legacy_id: None,
            },
        );
    });
    env.acme().add_tenant("acme");
    let a = bearer(&a);
    for ok in [
        "jo@xn--bcher-kva.example",
        "ann@BÜCHER.example",
        "eve@eu.bücher.example",
        "max@café.example",
    ] {
        let r = env.call_with("POST", "/Users", Some(&user(ok)), Some(&a));
        assert_eq!(r.status, 201, "{ok}: {:?}", r.body);
    }
    for bad in ["jo@bucher.example", "jo@xn--bcher-kva.example.evil.io"] {
        let r = env.call_with("POST", "/Users", Some(&user(bad)), Some(&a));
        assert_eq!(r.status, 400, "{bad}: {:?}", r.body);
    }
    assert_eq!(acme_store(&env, "acme").user_count(), 4);
}

#[test]
fn a_disallowed_secondary_email_cannot_become_the_user_name() {
    let mut keys = Keys::new();
    let (_, a) = keys.add("acme", Scopes::ALL);
    let env = start_env(&keys);
    let a = bearer(&a);
    let r = env.call_with("POST", "/Users", Some(&user("ada@acme.com")), Some(&a));
    assert_eq!(r.status, 201, "{:?}", r.body);
    let id = r.body["id"].as_str().unwrap().to_string();
    // A home e-mail outside the allowed domains, set in the product itself.
    let store = acme_store(&env, "acme");
    let mut changes = serde_json::Map::new();
    changes.insert("personal_email".into(), json!("ada@gmail.com"));
    assert!(store.edit_user(1, &changes));

    // It may stay an e-mail: a change that keeps it is accepted.
    let off = patch_op(json!([{"op": "replace", "path": "active", "value": false}]));
    let r = env.call_with("PATCH", &format!("/Users/{id}"), Some(&off), Some(&a));
    assert_eq!(r.status, 200, "{:?}", r.body);
    // It may not become the userName, by PATCH or by PUT.
    let promote =
        patch_op(json!([{"op": "replace", "path": "userName", "value": "ada@gmail.com"}]));
    let r = env.call_with("PATCH", &format!("/Users/{id}"), Some(&promote), Some(&a));
    assert_eq!(r.status, 400, "{:?}", r.body);
    assert!(
        r.body["detail"]
            .as_str()
            .unwrap()
            .starts_with("userName \"ada@gmail.com\""),
        "{:?}",
        r.body
    );
    let mut replaced = user("ada@gmail.com");
    replaced["emails"] = json!([
        {"type": "work", "value": "ada@acme.com", "primary": true},
        {"type": "home", "value": "ada@gmail.com"}
    ]);
    let r = env.call_with("PUT", &format!("/Users/{id}"), Some(&replaced), Some(&a));
    assert_eq!(r.status, 400, "{:?}", r.body);
    let stored = store.user(1).unwrap();
    assert_eq!(stored["login"], "ada@acme.com");
    assert_eq!(stored["personal_email"], "ada@gmail.com");
}
