//! Checks the deployment artefacts (`deploy/`, `.dockerignore`) and the operator documentation
//! against the repository and the operations contract (`docs/operator.md`): every YAML and JSON
//! file parses; the Dockerfile builds the gateway from paths that exist and runs it as a
//! non-root user; the Kubernetes manifests and the Helm chart probe the admin port on the
//! contract's paths, run non-root with resources set, and carry a gateway configuration that the gateway's own loader
//! accepts with ports that match; alerts and the dashboard name only the gateway's metrics
//! with their labels; the systemd unit reloads with SIGHUP and outlasts the shutdown grace;
//! the group store is an SQLite file on a writable volume where store.url points (one replica;
//! the chart refuses more) or PostgreSQL, its URL from a Secret, with no password in any file.
//! External checkers run when they are on PATH and say so when they are not: `promtool`
//! (rules, rule unit tests, scrape config, the dashboard's queries), `helm` (lint, template),
//! `kubectl kustomize`, `systemd-analyze verify`.
//! Not for: building the image or installing anything (no Docker engine or cluster here).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use figment::providers::{Format, Toml};
use figment::Figment;
use scim_gateway::config::Config;
use serde_json::Value;

/// The metrics the gateway exports, with their labels, as the operations contract names them.
/// This mirrors the gateway's metrics (src/: the prometheus registry served on the admin
/// listener); a later version of this test is meant to read them from a running gateway's
/// `/metrics` instead. `job` and `instance` are added by Prometheus; histograms also have
/// `_bucket` (with `le`), `_sum` and `_count`.
const CONTRACT_METRICS: &[(&str, Kind, &[&str])] = &[
    (
        "scim_gateway_scim_requests_total",
        Kind::Counter,
        &["tenant", "resource", "operation", "status"],
    ),
    (
        "scim_gateway_scim_request_duration_seconds",
        Kind::Histogram,
        &["resource", "operation"],
    ),
    ("scim_gateway_scim_requests_in_flight", Kind::Gauge, &[]),
    (
        "scim_gateway_backend_requests_total",
        Kind::Counter,
        &["endpoint", "status"],
    ),
    (
        "scim_gateway_backend_request_duration_seconds",
        Kind::Histogram,
        &["endpoint"],
    ),
    ("scim_gateway_cache_hits_total", Kind::Counter, &["cache"]),
    ("scim_gateway_cache_misses_total", Kind::Counter, &["cache"]),
    (
        "scim_gateway_auth_failures_total",
        Kind::Counter,
        &["reason"],
    ),
    (
        "scim_gateway_provisioned_users",
        Kind::Gauge,
        &["tenant", "state"],
    ),
    ("scim_gateway_provisioned_groups", Kind::Gauge, &["tenant"]),
    (
        "scim_gateway_config_reloads_total",
        Kind::Counter,
        &["outcome"],
    ),
    ("scim_gateway_build_info", Kind::Gauge, &["version"]),
    (
        "scim_gateway_backend_circuit_open",
        Kind::Gauge,
        &["backend"],
    ),
    (
        "scim_gateway_rate_limited_total",
        Kind::Counter,
        &["tenant"],
    ),
    (
        "scim_gateway_backend_retries_total",
        Kind::Counter,
        &["endpoint"],
    ),
    ("scim_gateway_backend_queue_depth", Kind::Gauge, &[]),
    (
        "scim_gateway_backend_token_fetches_total",
        Kind::Counter,
        &["outcome"],
    ),
    (
        "scim_gateway_store_operations_total",
        Kind::Counter,
        &["operation", "outcome"],
    ),
    (
        "scim_gateway_store_operation_seconds",
        Kind::Histogram,
        &["operation"],
    ),
];

#[derive(Clone, Copy, PartialEq, Debug)]
enum Kind {
    Counter,
    Gauge,
    Histogram,
}

/// Labels every scraped series has.
const TARGET_LABELS: &[&str] = &["job", "instance"];

/// The contract's fixed names.
const SCIM_PORT: u64 = 8080;
const ADMIN_PORT: u64 = 9090;
const CONFIG_PATH: &str = "/etc/scim-gateway/gateway.toml";
const MAPPINGS_DIR: &str = "/etc/scim-gateway/mappings/";
const KEYS_FILE: &str = "/etc/scim-gateway/keys/keys.toml";
const IMAGE_UID: u64 = 10001;

/// The alerts deploy/prometheus/alerts.yml must define.
const ALERTS: &[&str] = &[
    "ScimGatewayDown",
    "ScimGatewayAbsent",
    "ScimGatewayHighErrorRatio",
    "ScimGatewayBackendErrors",
    "ScimGatewayBackendSlow",
    "ScimGatewayAuthFailures",
    "ScimGatewayConfigReloadFailed",
    "ScimGatewayBackendCircuitOpen",
];

// ---------------------------------------------------------------------------------------------
// Helpers

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn read(rel: &str) -> String {
    std::fs::read_to_string(root().join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

fn yaml_docs(what: &str, text: &str) -> Vec<Value> {
    serde_saphyr::from_multiple::<Value>(text).unwrap_or_else(|e| panic!("{what}: {e}"))
}

fn yaml(rel: &str) -> Value {
    let mut docs = yaml_docs(rel, &read(rel));
    assert_eq!(docs.len(), 1, "{rel}: expected one YAML document");
    docs.remove(0)
}

fn toml_value(what: &str, text: &str) -> Value {
    Figment::from(Toml::string(text))
        .extract::<Value>()
        .unwrap_or_else(|e| panic!("{what}: not TOML: {e}"))
}

/// `v` at a dotted path (`spec.template.spec`), or Null.
fn at<'a>(v: &'a Value, path: &str) -> &'a Value {
    path.split('.').fold(v, |v, k| &v[k])
}

fn str_at<'a>(v: &'a Value, path: &str, what: &str) -> &'a str {
    at(v, path)
        .as_str()
        .unwrap_or_else(|| panic!("{what}: {path} is not a string: {}", at(v, path)))
}

fn port_of(address: &str) -> u64 {
    address
        .rsplit_once(':')
        .and_then(|(_, p)| p.parse().ok())
        .unwrap_or_else(|| panic!("{address:?} has no port"))
}

fn files_under(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files_under(&path, out);
        } else {
            out.push(path);
        }
    }
}

/// A program found on PATH.
fn tool(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}

fn run(program: &Path, args: &[&str], dir: &Path) -> std::process::Output {
    Command::new(program)
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap_or_else(|e| panic!("{} could not run: {e}", program.display()))
}

fn skipped(check: &str, tool_name: &str) {
    println!("SKIPPED: {check}: `{tool_name}` is not on PATH");
}

// ---------------------------------------------------------------------------------------------
// The gateway configuration embedded in the artefacts

/// Keys of the operations contract that the configuration loader may not accept yet, and how
/// each is named in the loader's "unknown field" error.
const NEW_KEYS: &[&str] = &["admin", "tenants", "keys_file"];

fn load_config_text(text: &str) -> Result<Config, String> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("gateway.toml");
    std::fs::write(&path, text).unwrap();
    Config::load(&path).map_err(|e| e.to_string())
}

/// `text` without the tables or the line of one of NEW_KEYS.
fn strip_key(text: &str, key: &str) -> String {
    let mut out = String::new();
    let mut skipping = false;
    for line in text.lines() {
        let t = line.trim();
        if t.starts_with('[') {
            let table = t.trim_matches(|c| c == '[' || c == ']');
            skipping = table == key || table.starts_with(&format!("{key}."));
        }
        let assigns_key = t
            .split_once('=')
            .is_some_and(|(k, _)| k.trim() == key && !t.starts_with('#'));
        if !skipping && !assigns_key {
            out.push_str(line);
            out.push('\n');
        }
    }
    out
}

/// Loads a gateway.toml shipped in an artefact with the gateway's own loader, and returns its
/// values as parsed TOML (for the new keys, whether or not the loader knows them yet).
///
/// While the loader does not accept one of `[admin]`, `[tenants.*]` or `auth.keys_file` (they
/// are being added beside this test), that key is left out of the loaded text, and the test
/// says so on stdout; every other key is still checked by the loader. To be completed: once
/// the loader accepts the three, this fallback never triggers and can go.
fn check_gateway_config(what: &str, text: &str) -> Value {
    let mut checked = text.to_string();
    let mut left_out = Vec::new();
    loop {
        match load_config_text(&checked) {
            Ok(config) => {
                // `serve` needs scim.public_url or scim.allowed_hosts to start.
                let problem = scim_gateway::config::serve_problem(&config, Path::new(what));
                assert!(problem.is_none(), "serve refuses {what}: {problem:?}");
                break;
            }
            Err(e) => {
                let unknown = NEW_KEYS.iter().find(|k| {
                    e.contains("unknown field")
                        && e.contains(&format!("`{k}`"))
                        && !left_out.contains(*k)
                });
                match unknown {
                    Some(k) => {
                        left_out.push(*k);
                        checked = strip_key(&checked, k);
                    }
                    None => panic!("{what}: the gateway refuses this configuration:\n{e}"),
                }
            }
        }
    }
    if !left_out.is_empty() {
        println!(
            "NOTE: {what}: the configuration loader does not accept {left_out:?} yet; \
             checked without them (to be completed when it does)"
        );
    }
    toml_value(what, text)
}

/// The checks every shipped configuration must pass: the contract's ports, mapping directory
/// and keys file. Returns the mapping file's name.
fn check_contract_config(what: &str, cfg: &Value, scim_port: u64, admin_port: u64) -> String {
    let listen = str_at(cfg, "listen.address", what);
    assert!(
        listen.starts_with("0.0.0.0:"),
        "{what}: listen.address {listen:?} must accept connections from outside the container"
    );
    assert_eq!(port_of(listen), scim_port, "{what}: listen.address port");
    let admin = str_at(cfg, "admin.address", what);
    assert_eq!(port_of(admin), admin_port, "{what}: admin.address port");
    assert_eq!(
        str_at(cfg, "auth.keys_file", what),
        KEYS_FILE,
        "{what}: auth.keys_file"
    );
    let mapping = str_at(cfg, "mapping.file", what);
    let name = mapping
        .strip_prefix(MAPPINGS_DIR)
        .unwrap_or_else(|| panic!("{what}: mapping.file {mapping:?} is not under {MAPPINGS_DIR}"));
    assert_eq!(
        str_at(cfg, "log.format", what),
        "json",
        "{what}: log.format"
    );
    name.to_string()
}

fn shutdown_seconds(cfg: &Value, what: &str) -> u64 {
    let grace = at(cfg, "shutdown.grace_period_seconds").as_u64();
    let timeout = at(cfg, "shutdown.timeout_seconds").as_u64();
    match (grace, timeout) {
        (Some(g), Some(t)) => g + t,
        _ => panic!("{what}: shutdown.grace_period_seconds and timeout_seconds must be set"),
    }
}

// ---------------------------------------------------------------------------------------------
// All files

#[test]
fn every_yaml_and_json_file_in_deploy_parses() {
    let mut files = Vec::new();
    files_under(&root().join("deploy"), &mut files);
    let templates = root().join("deploy/helm/scim-gateway/templates");
    let (mut yamls, mut jsons) = (0, 0);
    for f in &files {
        let name = f.display().to_string();
        match f.extension().and_then(|e| e.to_str()) {
            // Helm templates are Go templates, not YAML; they are checked below.
            Some("yaml" | "yml") if !f.starts_with(&templates) => {
                let text = std::fs::read_to_string(f).unwrap();
                let docs = yaml_docs(&name, &text);
                assert!(!docs.is_empty(), "{name}: no YAML document");
                yamls += 1;
            }
            Some("json") => {
                let text = std::fs::read_to_string(f).unwrap();
                serde_json::from_str::<Value>(&text).unwrap_or_else(|e| panic!("{name}: {e}"));
                jsons += 1;
            }
            _ => {}
        }
    }
    assert!(
        yamls >= 10,
        "expected the k8s, helm and prometheus YAML files, found {yamls}"
    );
    assert!(jsons >= 1, "expected the Grafana dashboard");
}

// ---------------------------------------------------------------------------------------------
// Docker

/// The Dockerfile's instructions, continuation lines joined, comments dropped.
fn dockerfile_instructions(text: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut current = String::new();
    for line in text.lines() {
        let t = line.trim();
        if t.starts_with('#') || (t.is_empty() && current.is_empty()) {
            continue;
        }
        if let Some(body) = t.strip_suffix('\\') {
            current.push_str(body);
            current.push(' ');
            continue;
        }
        current.push_str(t);
        let (op, args) = current.split_once(' ').unwrap_or((current.as_str(), ""));
        out.push((op.to_ascii_uppercase(), args.trim().to_string()));
        current.clear();
    }
    out
}

fn dockerignore_excludes(patterns: &[String], path: &str) -> bool {
    patterns.iter().any(|p| {
        if let Some(ext) = p.strip_prefix("*.") {
            !path.contains('/') && path.ends_with(&format!(".{ext}"))
        } else {
            let p = p.trim_start_matches("**/");
            path == p || path.starts_with(&format!("{p}/"))
        }
    })
}

#[test]
fn dockerfile_builds_the_gateway_from_repository_paths_and_runs_it_unprivileged() {
    let text = read("deploy/docker/Dockerfile");
    let ins = dockerfile_instructions(&text);
    let froms: Vec<usize> = (0..ins.len()).filter(|&i| ins[i].0 == "FROM").collect();
    assert!(froms.len() >= 2, "a multi-stage build: builder and runtime");

    // ARG defaults before the first FROM resolve the base images.
    let mut args = std::collections::BTreeMap::new();
    for (op, a) in &ins[..froms[0]] {
        if op == "ARG" {
            if let Some((k, v)) = a.split_once('=') {
                args.insert(k.to_string(), v.to_string());
            }
        }
    }
    let resolve = |s: &str| {
        let mut s = s.to_string();
        for (k, v) in &args {
            s = s.replace(&format!("${{{k}}}"), v);
        }
        s
    };
    let builder_image = resolve(ins[froms[0]].1.split_whitespace().next().unwrap());
    assert!(
        builder_image.starts_with("rust:") && builder_image.ends_with("-bookworm"),
        "builder: a Debian bookworm Rust image, got {builder_image}"
    );
    let runtime_image = resolve(
        ins[*froms.last().unwrap()]
            .1
            .split_whitespace()
            .next()
            .unwrap(),
    );
    assert!(
        runtime_image.starts_with("debian:bookworm") || runtime_image.contains("distroless/cc"),
        "runtime: a small glibc image, got {runtime_image}"
    );

    let builder = &ins[froms[0]..froms[1]];
    let runtime = &ins[*froms.last().unwrap()..];
    let runs: Vec<&str> = builder
        .iter()
        .filter(|(op, _)| op == "RUN")
        .map(|(_, a)| a.as_str())
        .collect();
    assert!(
        runs.iter()
            .any(|r| r.contains("apt-get install") && r.split_whitespace().any(|w| w == "cmake")),
        "the builder installs cmake (pingora's zlib-ng and zstd need it)"
    );
    let builds: Vec<&&str> = runs
        .iter()
        .filter(|r| r.contains("cargo build --release --locked"))
        .collect();
    assert_eq!(
        builds.len(),
        2,
        "a dependency layer, then the gateway: {runs:?}"
    );
    // The dependency layer is built before the sources are copied.
    let first_build = ins
        .iter()
        .position(|(op, a)| op == "RUN" && a.contains("cargo build"))
        .unwrap();
    let copy_src = ins
        .iter()
        .position(|(op, a)| op == "COPY" && a.starts_with("src "))
        .expect("COPY src");
    assert!(
        first_build < copy_src,
        "dependencies must be built before src/ is copied"
    );

    // Every [[bench]] of Cargo.toml needs a stub in the dependency layer, or cargo refuses the
    // manifest.
    let manifest = toml_value("Cargo.toml", &read("Cargo.toml"));
    for bench in manifest["bench"].as_array().into_iter().flatten() {
        let name = bench["name"].as_str().unwrap();
        assert!(
            builds[0].contains(&format!("benches/{name}.rs")),
            "the dependency layer has no stub for bench {name}"
        );
    }

    // Every COPY source exists and is not excluded by .dockerignore.
    let ignore: Vec<String> = read(".dockerignore")
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#') && !l.starts_with('!'))
        .map(str::to_string)
        .collect();
    for p in ["target", ".git"] {
        assert!(
            dockerignore_excludes(&ignore, p),
            ".dockerignore must exclude {p}"
        );
    }
    let mut copied = Vec::new();
    for (op, a) in &ins {
        if op != "COPY" || a.contains("--from=") {
            continue;
        }
        let words: Vec<&str> = a
            .split_whitespace()
            .filter(|w| !w.starts_with("--"))
            .collect();
        for src in &words[..words.len() - 1] {
            let src = src.trim_end_matches('/');
            assert!(
                root().join(src).exists(),
                "COPY {src}: no such path in the repository"
            );
            assert!(
                !dockerignore_excludes(&ignore, src),
                "COPY {src}: excluded by .dockerignore"
            );
            copied.push((src.to_string(), words[words.len() - 1].to_string()));
        }
    }
    for needed in ["Cargo.toml", "Cargo.lock", "src", "mappings"] {
        assert!(
            copied.iter().any(|(s, _)| s == needed),
            "the image needs {needed}"
        );
    }

    // The runtime stage: the binary, non-root, the contract's ports, the default command.
    let runtime_has =
        |op: &str, pred: &dyn Fn(&str) -> bool| runtime.iter().any(|(o, a)| o == op && pred(a));
    assert!(runtime_has("COPY", &|a| a.contains("--from=")
        && a.ends_with("/usr/local/bin/scim-gateway")));
    assert!(runtime_has("RUN", &|a| a.contains("ca-certificates")));
    assert!(runtime_has("RUN", &|a| a
        .contains(&format!("--uid {IMAGE_UID}"))
        && a.contains("scim-gateway")));
    let user = runtime
        .iter()
        .rev()
        .find(|(op, _)| op == "USER")
        .map(|(_, a)| a.clone())
        .expect("a USER in the runtime stage");
    let uid = user.split(':').next().unwrap();
    assert!(
        uid == IMAGE_UID.to_string() || uid == "scim-gateway",
        "USER {user}: the contract's uid {IMAGE_UID}"
    );
    let expose: BTreeSet<u64> = runtime
        .iter()
        .filter(|(op, _)| op == "EXPOSE")
        .flat_map(|(_, a)| a.split_whitespace().map(|p| p.parse::<u64>().unwrap()))
        .collect();
    assert_eq!(expose, BTreeSet::from([SCIM_PORT, ADMIN_PORT]));
    let json_array = |op: &str| -> Vec<String> {
        let (_, a) = runtime
            .iter()
            .rev()
            .find(|(o, _)| o == op)
            .unwrap_or_else(|| panic!("no {op}"));
        serde_json::from_str(a).unwrap_or_else(|e| panic!("{op} must be a JSON array: {e}"))
    };
    assert_eq!(json_array("ENTRYPOINT"), ["scim-gateway"]);
    assert_eq!(json_array("CMD"), ["serve", "--config", CONFIG_PATH]);

    // The configuration the image ships is the one copied to CONFIG_PATH; it loads, and its
    // mapping is one the image copies.
    let (config_src, _) = copied
        .iter()
        .find(|(_, dest)| dest == CONFIG_PATH)
        .expect("a gateway.toml copied to /etc/scim-gateway/gateway.toml");
    let cfg = check_gateway_config(config_src, &read(config_src));
    let mapping = check_contract_config(config_src, &cfg, SCIM_PORT, ADMIN_PORT);
    assert!(
        copied.iter().any(|(s, d)| s == "mappings"
            && d.trim_end_matches('/') == MAPPINGS_DIR.trim_end_matches('/')),
        "mappings/ must be copied to {MAPPINGS_DIR}"
    );
    assert!(
        root().join("mappings").join(&mapping).is_file(),
        "mappings/{mapping}"
    );
}

// ---------------------------------------------------------------------------------------------
// Kubernetes

fn container<'a>(pod_spec: &'a Value, name: &str) -> &'a Value {
    pod_spec["containers"]
        .as_array()
        .and_then(|cs| cs.iter().find(|c| c["name"] == name))
        .unwrap_or_else(|| panic!("no container {name}"))
}

/// The container port a probe or Service names (by name or number).
fn resolve_port(c: &Value, port: &Value) -> u64 {
    if let Some(n) = port.as_u64() {
        return n;
    }
    let name = port.as_str().expect("a port name or number");
    c["ports"]
        .as_array()
        .and_then(|ps| ps.iter().find(|p| p["name"] == name))
        .and_then(|p| p["containerPort"].as_u64())
        .unwrap_or_else(|| panic!("no container port named {name}"))
}

/// The gateway container's probes, security context and resources, as the contract and the
/// memory target of `docs/performance.md` ("Targets") want them.
fn check_gateway_container(what: &str, c: &Value) {
    let scim = resolve_port(c, &Value::from("scim"));
    let admin = resolve_port(c, &Value::from("admin"));
    assert_eq!(
        (scim, admin),
        (SCIM_PORT, ADMIN_PORT),
        "{what}: container ports"
    );
    for (probe, path) in [("livenessProbe", "/healthz"), ("readinessProbe", "/readyz")] {
        let get = &c[probe]["httpGet"];
        assert_eq!(get["path"], path, "{what}: {probe} path");
        assert_eq!(
            resolve_port(c, &get["port"]),
            ADMIN_PORT,
            "{what}: {probe} port"
        );
    }
    let sc = &c["securityContext"];
    assert_eq!(sc["runAsNonRoot"], true, "{what}: runAsNonRoot");
    assert_eq!(sc["runAsUser"], IMAGE_UID, "{what}: runAsUser");
    assert_eq!(
        sc["readOnlyRootFilesystem"], true,
        "{what}: readOnlyRootFilesystem"
    );
    assert_eq!(
        sc["allowPrivilegeEscalation"], false,
        "{what}: allowPrivilegeEscalation"
    );
    assert_eq!(
        sc["capabilities"]["drop"],
        serde_json::json!(["ALL"]),
        "{what}: capabilities"
    );
    let r = &c["resources"];
    for key in ["requests.cpu", "requests.memory", "limits.memory"] {
        assert!(
            at(r, key).is_string(),
            "{what}: resources.{key} must be set"
        );
    }
    assert_eq!(
        c["args"],
        serde_json::json!(["serve", "--config", CONFIG_PATH]),
        "{what}: args"
    );
}

/// The projected volume mounted at /etc/scim-gateway: gateway.toml, the mapping, the keys.
fn check_etc_volume(what: &str, pod_spec: &Value, c: &Value, mapping_file: &str) {
    let mount = c["volumeMounts"]
        .as_array()
        .and_then(|ms| ms.iter().find(|m| m["mountPath"] == "/etc/scim-gateway"))
        .unwrap_or_else(|| panic!("{what}: nothing mounted at /etc/scim-gateway"));
    assert_eq!(
        mount["readOnly"], true,
        "{what}: /etc/scim-gateway read-only"
    );
    assert!(
        mount.get("subPath").is_none(),
        "{what}: no subPath (updates must reach the pod)"
    );
    let vol = pod_spec["volumes"]
        .as_array()
        .and_then(|vs| vs.iter().find(|v| v["name"] == mount["name"]))
        .unwrap_or_else(|| panic!("{what}: no volume {}", mount["name"]));
    let paths: BTreeSet<&str> = vol["projected"]["sources"]
        .as_array()
        .unwrap_or_else(|| panic!("{what}: /etc/scim-gateway must be a projected volume"))
        .iter()
        .flat_map(|s| {
            let src = s.get("configMap").or_else(|| s.get("secret")).unwrap();
            src["items"].as_array().unwrap().iter()
        })
        .map(|i| i["path"].as_str().unwrap())
        .collect();
    let mapping = format!("mappings/{mapping_file}");
    let want = BTreeSet::from(["gateway.toml", "keys/keys.toml", mapping.as_str()]);
    assert_eq!(paths, want, "{what}: files under /etc/scim-gateway");
}

/// A keys file as `scim-gateway keys new` writes it (the contract's fields).
fn check_keys_file(what: &str, text: &str) {
    let keys = toml_value(what, text);
    let keys = keys["keys"]
        .as_array()
        .unwrap_or_else(|| panic!("{what}: no [[keys]]"));
    for k in keys {
        for field in ["id", "label", "tenant", "sha256", "created"] {
            assert!(k[field].is_string(), "{what}: key without {field}");
        }
        let digest = k["sha256"].as_str().unwrap();
        assert!(
            digest.len() == 64 && digest.bytes().all(|b| b.is_ascii_hexdigit()),
            "{what}: sha256 must be a hex SHA-256 digest"
        );
        for s in k["scopes"].as_array().expect("scopes") {
            assert!(
                ["scim.read", "scim.write"].contains(&s.as_str().unwrap()),
                "{what}: scope {s}"
            );
        }
    }
}

#[test]
fn kubernetes_sidecar_probes_the_admin_port_and_runs_unprivileged() {
    let dir = "deploy/kubernetes";
    let kustomization = yaml(&format!("{dir}/kustomization.yaml"));
    let mut objects = Vec::new();
    for r in kustomization["resources"].as_array().expect("resources") {
        let rel = format!("{dir}/{}", r.as_str().unwrap());
        objects.extend(yaml_docs(&rel, &read(&rel)));
    }
    let find = |kind: &str, name: &str| -> &Value {
        objects
            .iter()
            .find(|o| o["kind"] == kind && o["metadata"]["name"] == name)
            .unwrap_or_else(|| panic!("no {kind} {name} in {dir}"))
    };
    let deployment = objects
        .iter()
        .find(|o| o["kind"] == "Deployment")
        .expect("a Deployment");
    let pod = &deployment["spec"]["template"];
    let spec = &pod["spec"];
    let gw = container(spec, "scim-gateway");
    assert!(
        spec["containers"].as_array().unwrap().len() >= 2,
        "the gateway is a sidecar of the legacy app"
    );
    check_gateway_container("deployment.yaml", gw);
    assert_eq!(
        deployment["spec"]["selector"]["matchLabels"], pod["metadata"]["labels"],
        "the selector must match the pod's labels"
    );

    // Prometheus' pod discovery: string annotations, the admin port.
    let ann = &pod["metadata"]["annotations"];
    assert_eq!(ann["prometheus.io/scrape"], "true");
    assert_eq!(ann["prometheus.io/port"], ADMIN_PORT.to_string());
    assert_eq!(ann["prometheus.io/path"], "/metrics");

    // The configuration and the mapping.
    let cm = find("ConfigMap", "scim-gateway-config");
    let cfg = check_gateway_config(
        "deploy/kubernetes/configmap.yaml gateway.toml",
        cm["data"]["gateway.toml"]
            .as_str()
            .expect("data.gateway.toml"),
    );
    let mapping_file = check_contract_config("configmap gateway.toml", &cfg, SCIM_PORT, ADMIN_PORT);
    let mapping_text = cm["data"][&mapping_file]
        .as_str()
        .unwrap_or_else(|| panic!("the ConfigMap has no {mapping_file}"));
    assert_eq!(
        mapping_text,
        read(&format!("mappings/{mapping_file}")),
        "the ConfigMap's mapping must be mappings/{mapping_file} as shipped: embed the file \
         again, indented by 4 spaces, under data.{mapping_file}"
    );
    scim_gateway::mapping::load_str(&mapping_file, mapping_text)
        .unwrap_or_else(|e| panic!("the ConfigMap's mapping does not load:\n{e}"));
    check_etc_volume("deployment.yaml", spec, gw, &mapping_file);

    // The legacy API's credential: the variable the mapping reads, from a Secret.
    let mapping: Value = serde_saphyr::from_str(mapping_text).unwrap();
    let var = str_at(&mapping, "backend.auth.from_env", "mapping");
    let env = gw["env"]
        .as_array()
        .and_then(|es| es.iter().find(|e| e["name"] == var))
        .unwrap_or_else(|| panic!("the gateway container has no {var}"));
    let secret_name = str_at(env, "valueFrom.secretKeyRef.name", "env");
    find("Secret", secret_name);
    let keys = find("Secret", "scim-gateway-keys");
    check_keys_file(
        "secret.yaml keys.toml",
        keys["stringData"]["keys.toml"]
            .as_str()
            .expect("stringData.keys.toml"),
    );

    // Shutdown: the pod outlasts preStop + the gateway's grace and timeout.
    let pre_stop: u64 = gw["lifecycle"]["preStop"]["exec"]["command"][1]
        .as_str()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let grace = spec["terminationGracePeriodSeconds"]
        .as_u64()
        .expect("terminationGracePeriodSeconds");
    assert!(
        grace > pre_stop + shutdown_seconds(&cfg, "configmap"),
        "terminationGracePeriodSeconds {grace} must exceed preStop + shutdown grace + timeout"
    );

    // The Service: the SCIM port only, onto this pod.
    let svc = find("Service", "scim-gateway");
    let ports = svc["spec"]["ports"].as_array().unwrap();
    assert_eq!(
        ports.len(),
        1,
        "the Service exposes SCIM only (admin has no auth)"
    );
    assert_eq!(resolve_port(gw, &ports[0]["targetPort"]), SCIM_PORT);
    assert_eq!(ports[0]["port"], SCIM_PORT);
    for (k, v) in svc["spec"]["selector"].as_object().unwrap() {
        assert_eq!(&pod["metadata"]["labels"][k], v, "Service selector {k}");
    }

    match tool("kubectl") {
        Some(kubectl) => {
            let out = run(&kubectl, &["kustomize", dir], &root());
            assert!(
                out.status.success(),
                "kubectl kustomize {dir}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            let rendered = yaml_docs("kustomize output", &String::from_utf8_lossy(&out.stdout));
            assert_eq!(
                rendered.len(),
                objects.len(),
                "kustomize renders every resource"
            );
            println!("kubectl kustomize {dir}: ok ({} objects)", rendered.len());
        }
        None => skipped("kubectl kustomize deploy/kubernetes", "kubectl"),
    }
}

// ---------------------------------------------------------------------------------------------
// Helm

/// `.Values.a.b` references of a template.
fn values_refs(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(i) = rest.find(".Values.") {
        rest = &rest[i + ".Values.".len()..];
        let end = rest
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '.'))
            .unwrap_or(rest.len());
        out.push(rest[..end].trim_end_matches('.').to_string());
    }
    out
}

fn quoted_after(text: &str, word: &str) -> BTreeSet<String> {
    text.match_indices(word)
        .filter_map(|(i, _)| {
            let rest = text[i + word.len()..].trim_start().strip_prefix('"')?;
            Some(rest[..rest.find('"')?].to_string())
        })
        .collect()
}

#[test]
fn helm_chart_matches_the_contract_and_its_templates_name_existing_values() {
    let chart_dir = "deploy/helm/scim-gateway";
    let chart = yaml(&format!("{chart_dir}/Chart.yaml"));
    assert_eq!(chart["apiVersion"], "v2");
    assert_eq!(chart["name"], "scim-gateway");
    assert_eq!(chart["type"], "application");
    let version = env!("CARGO_PKG_VERSION");
    assert_eq!(
        chart["appVersion"], version,
        "appVersion is the gateway's version"
    );

    let values = yaml(&format!("{chart_dir}/values.yaml"));
    assert_eq!(values["ports"]["scim"], SCIM_PORT);
    assert_eq!(values["ports"]["admin"], ADMIN_PORT);
    assert_eq!(values["service"]["port"], SCIM_PORT);
    let sc = &values["securityContext"];
    assert_eq!(sc["runAsNonRoot"], true);
    assert_eq!(sc["runAsUser"], IMAGE_UID);
    assert_eq!(sc["readOnlyRootFilesystem"], true);
    assert_eq!(sc["capabilities"]["drop"], serde_json::json!(["ALL"]));
    for key in ["requests.cpu", "requests.memory", "limits.memory"] {
        assert!(at(&values["resources"], key).is_string(), "resources.{key}");
    }

    let cfg = check_gateway_config(
        "helm values.yaml config",
        str_at(&values, "config", "values.yaml"),
    );
    let mapping_file = check_contract_config("helm values config", &cfg, SCIM_PORT, ADMIN_PORT);
    assert_eq!(
        values["mapping"]["fileName"],
        mapping_file.as_str(),
        "mapping.fileName"
    );
    let example = read(&format!("{chart_dir}/files/{mapping_file}"));
    assert_eq!(
        example,
        read(&format!("mappings/{mapping_file}")),
        "files/{mapping_file} must be a copy of mappings/{mapping_file}: copy it again"
    );
    let grace = values["terminationGracePeriodSeconds"].as_u64().unwrap();
    let pre_stop = values["preStopSleepSeconds"].as_u64().unwrap();
    assert!(grace > pre_stop + shutdown_seconds(&cfg, "values.yaml"));

    // Templates: delimiters balanced, every .Values path exists, every include is defined.
    let templates = root().join(chart_dir).join("templates");
    let mut names = BTreeSet::new();
    let mut all = String::new();
    for entry in std::fs::read_dir(&templates).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(
            text.matches("{{").count(),
            text.matches("}}").count(),
            "{name}: unbalanced {{{{ }}}}"
        );
        for r in values_refs(&text) {
            let mut v = &values;
            for k in r.split('.') {
                if v.as_object().is_some_and(|o| o.is_empty()) || v.is_null() {
                    break; // a map the user fills (sidecar.container, podAnnotations…)
                }
                v = v
                    .get(k)
                    .unwrap_or_else(|| panic!("{name}: .Values.{r} is not in values.yaml"));
            }
        }
        all.push_str(&text);
        names.insert(name);
    }
    for t in [
        "_helpers.tpl",
        "NOTES.txt",
        "deployment.yaml",
        "service.yaml",
        "configmap.yaml",
        "secret.yaml",
        "servicemonitor.yaml",
    ] {
        assert!(names.contains(t), "templates/{t} is missing");
    }
    let defined = quoted_after(&all, "define");
    for used in quoted_after(&all, "include") {
        assert!(
            defined.contains(&used),
            "include {used:?} is not defined in _helpers.tpl"
        );
    }
    let deployment = read(&format!("{chart_dir}/templates/deployment.yaml"));
    for must in [
        "path: /healthz",
        "path: /readyz",
        "port: admin",
        "checksum/config",
        "mountPath: /etc/scim-gateway",
        "path: keys/keys.toml",
    ] {
        assert!(
            deployment.contains(must),
            "templates/deployment.yaml must contain {must:?}"
        );
    }

    match tool("helm") {
        Some(helm) => {
            let out = run(&helm, &["lint", chart_dir], &root());
            assert!(
                out.status.success(),
                "helm lint: {}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
            for extra in [
                &[][..],
                &[
                    "--set",
                    "metrics.serviceMonitor.enabled=true",
                    "--set",
                    "legacyCredential.value=x",
                ][..],
            ] {
                let mut args = vec!["template", "scim", chart_dir];
                args.extend_from_slice(extra);
                let out = run(&helm, &args, &root());
                assert!(
                    out.status.success(),
                    "helm template {extra:?}: {}",
                    String::from_utf8_lossy(&out.stderr)
                );
                let docs = yaml_docs("helm template", &String::from_utf8_lossy(&out.stdout));
                let dep = docs
                    .iter()
                    .find(|d| d["kind"] == "Deployment")
                    .expect("a Deployment");
                let spec = &dep["spec"]["template"]["spec"];
                check_gateway_container("helm Deployment", container(spec, "scim-gateway"));
                check_etc_volume(
                    "helm Deployment",
                    spec,
                    container(spec, "scim-gateway"),
                    &mapping_file,
                );
                let cm = docs
                    .iter()
                    .find(|d| d["kind"] == "ConfigMap")
                    .expect("a ConfigMap");
                check_gateway_config(
                    "helm ConfigMap",
                    cm["data"]["gateway.toml"]
                        .as_str()
                        .expect("data.gateway.toml"),
                );
            }
            println!("helm lint and helm template: ok");
        }
        None => skipped(
            "helm lint / helm template deploy/helm/scim-gateway (structural checks only)",
            "helm",
        ),
    }
}

// ---------------------------------------------------------------------------------------------
// The group store (groups held by the gateway): SQLite on a volume, one replica; PostgreSQL,
// its URL from a Secret, several

/// Where the artefacts keep the SQLite file, and its directory (a volume, writable).
const STORE_DIR: &str = "/var/lib/scim-gateway";
const STORE_URL: &str = "sqlite:/var/lib/scim-gateway/groups.db";
const STORE_ENV: &str = "SCIM_GATEWAY_STORE__URL";

/// The directory an `sqlite:` store URL's file is in.
fn sqlite_dir(what: &str, url: &str) -> String {
    let path = url
        .strip_prefix("sqlite:")
        .unwrap_or_else(|| panic!("{what}: {url:?} is not an sqlite: URL"));
    assert!(
        path.starts_with('/'),
        "{what}: {url:?}: an absolute path, on the volume"
    );
    let (dir, file) = path.rsplit_once('/').unwrap();
    assert!(!file.is_empty(), "{what}: {url:?} names no file");
    dir.to_string()
}

/// The gateway container's environment variable `name`.
fn env_var<'a>(c: &'a Value, name: &str) -> Option<&'a Value> {
    c["env"]
        .as_array()
        .and_then(|es| es.iter().find(|e| e["name"] == name))
}

/// The store's URL comes from a Secret, never as a literal value.
fn check_store_url_from_secret(what: &str, c: &Value) -> String {
    let env = env_var(c, STORE_ENV).unwrap_or_else(|| panic!("{what}: no {STORE_ENV}"));
    assert!(
        env.get("value").is_none(),
        "{what}: {STORE_ENV} must come from a Secret, not a value"
    );
    str_at(env, "valueFrom.secretKeyRef.name", what).to_string()
}

/// The writable volume mounted at `dir` in the gateway container, and the pod's volume behind
/// it.
fn store_volume<'a>(what: &str, spec: &'a Value, c: &Value, dir: &str) -> &'a Value {
    let mount = c["volumeMounts"]
        .as_array()
        .and_then(|ms| ms.iter().find(|m| m["mountPath"] == dir))
        .unwrap_or_else(|| {
            panic!("{what}: nothing mounted at {dir}, where the store's SQLite file is")
        });
    assert_ne!(
        mount["readOnly"], true,
        "{what}: {dir} must be writable (the file and its -wal, -shm files)"
    );
    spec["volumes"]
        .as_array()
        .and_then(|vs| vs.iter().find(|v| v["name"] == mount["name"]))
        .unwrap_or_else(|| panic!("{what}: no volume {}", mount["name"]))
}

/// No gateway container mounts a volume at the SQLite directory (PostgreSQL keeps the groups).
fn check_no_store_volume(what: &str, spec: &Value, c: &Value) {
    assert!(
        !c["volumeMounts"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|m| m["mountPath"] == STORE_DIR),
        "{what}: with PostgreSQL nothing is mounted at {STORE_DIR}"
    );
    assert!(
        !spec["volumes"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|v| v.get("persistentVolumeClaim").is_some()),
        "{what}: with PostgreSQL the pod needs no PersistentVolumeClaim"
    );
}

#[test]
fn no_deploy_file_holds_a_postgres_password() {
    // Only placeholders where a URL is shown: the password comes from a Secret or a file of
    // mode 0640 that is not in git.
    let placeholders = ["PASSWORD", "$PASSWORD", "${PASSWORD}"];
    let mut files = Vec::new();
    files_under(&root().join("deploy"), &mut files);
    let mut urls = 0;
    for f in files {
        let Ok(text) = std::fs::read_to_string(&f) else {
            continue;
        };
        for (i, _) in text.match_indices("postgres://") {
            urls += 1;
            let rest = &text[i + "postgres://".len()..];
            let end = rest
                .find(|c: char| c.is_whitespace() || c == '"' || c == '\'')
                .unwrap_or(rest.len());
            let url = &rest[..end];
            if let Some((userinfo, _)) = url.split_once('@') {
                if let Some((_, password)) = userinfo.split_once(':') {
                    assert!(
                        placeholders.contains(&password),
                        "{}: postgres://{url} holds a password; take it from a Secret",
                        f.display()
                    );
                }
            }
        }
    }
    assert!(urls > 0, "the deploy files show no PostgreSQL URL at all");
}

#[test]
fn docker_image_and_systemd_unit_keep_the_sqlite_store_in_a_writable_directory() {
    // The image: the shipped gateway.toml's store is in the image's VOLUME, owned by uid 10001.
    let cfg = toml_value(
        "deploy/docker/gateway.toml",
        &read("deploy/docker/gateway.toml"),
    );
    let url = str_at(&cfg, "store.url", "deploy/docker/gateway.toml");
    let dir = sqlite_dir("deploy/docker/gateway.toml", url);
    let ins = dockerfile_instructions(&read("deploy/docker/Dockerfile"));
    let volumes: Vec<&str> = ins
        .iter()
        .filter(|(op, _)| op == "VOLUME")
        .map(|(_, a)| a.as_str())
        .collect();
    assert!(
        volumes.iter().any(|v| v
            .split_whitespace()
            .any(|p| p.trim_matches(['[', ']', '"', ',']) == dir)),
        "the Dockerfile must declare VOLUME {dir}, where store.url {url} is (got {volumes:?})"
    );
    assert!(
        ins.iter().any(|(op, a)| op == "RUN"
            && a.contains(&format!("-o {IMAGE_UID}"))
            && a.contains(&dir)),
        "the image must create {dir} owned by uid {IMAGE_UID}, or the gateway cannot write it"
    );

    // The unit: systemd creates the state directory the install steps point store.url at.
    let unit = read("deploy/systemd/scim-gateway.service");
    let directive = |key: &str| -> Vec<&str> {
        unit.lines()
            .filter(|l| !l.trim_start().starts_with('#'))
            .filter_map(|l| l.split_once('='))
            .filter(|(k, _)| k.trim() == key)
            .map(|(_, v)| v.trim())
            .collect()
    };
    assert_eq!(directive("StateDirectory"), ["scim-gateway"]);
    assert!(
        unit.contains(STORE_URL),
        "the unit's install steps must set store.url to {STORE_URL}, in its StateDirectory"
    );
    assert_eq!(sqlite_dir("systemd", STORE_URL), "/var/lib/scim-gateway");
}

#[test]
fn kubernetes_keeps_sqlite_on_a_claim_for_one_replica_and_postgres_from_a_secret_for_several() {
    let dir = "deploy/kubernetes";
    let kustomization = yaml(&format!("{dir}/kustomization.yaml"));
    let mut objects = Vec::new();
    for r in kustomization["resources"].as_array().expect("resources") {
        let rel = format!("{dir}/{}", r.as_str().unwrap());
        objects.extend(yaml_docs(&rel, &read(&rel)));
    }
    let deployment = objects
        .iter()
        .find(|o| o["kind"] == "Deployment")
        .expect("a Deployment");
    let spec = &deployment["spec"]["template"]["spec"];
    let gw = container(spec, "scim-gateway");

    // SQLite: the file of gateway.toml's store.url is on the claim, one replica, Recreate.
    let cm = objects
        .iter()
        .find(|o| o["kind"] == "ConfigMap")
        .expect("a ConfigMap");
    let cfg = toml_value(
        "configmap gateway.toml",
        cm["data"]["gateway.toml"].as_str().unwrap(),
    );
    let url = str_at(&cfg, "store.url", "configmap gateway.toml");
    assert!(
        env_var(gw, STORE_ENV).is_none(),
        "the base uses gateway.toml's store.url"
    );
    let store_dir = sqlite_dir("configmap gateway.toml", url);
    let vol = store_volume("deployment.yaml", spec, gw, &store_dir);
    let claim = str_at(vol, "persistentVolumeClaim.claimName", "deployment.yaml");
    let pvc = objects
        .iter()
        .find(|o| o["kind"] == "PersistentVolumeClaim" && o["metadata"]["name"] == claim)
        .unwrap_or_else(|| panic!("no PersistentVolumeClaim {claim} in {dir}"));
    assert!(at(pvc, "spec.resources.requests.storage").is_string());
    assert_eq!(
        deployment["spec"]["replicas"], 1,
        "one replica with the SQLite store"
    );
    assert_eq!(
        deployment["spec"]["strategy"]["type"], "Recreate",
        "two pods must never write one SQLite file"
    );
    assert_eq!(
        spec["securityContext"]["fsGroup"], IMAGE_UID,
        "the claim writable by the gateway"
    );

    // PostgreSQL: the component postgres/, off by default.
    let component = yaml(&format!("{dir}/postgres/kustomization.yaml"));
    assert_eq!(component["kind"], "Component");
    assert!(
        read(&format!("{dir}/kustomization.yaml")).contains("#   - postgres"),
        "kustomization.yaml must show how to turn the postgres component on"
    );
    let patch = yaml(&format!("{dir}/postgres/deployment-postgres.yaml"));
    assert!(
        patch["spec"]["replicas"].as_u64().is_some_and(|n| n > 1),
        "the postgres component runs several replicas"
    );
    check_store_url_from_secret(
        "postgres/deployment-postgres.yaml",
        container(&patch["spec"]["template"]["spec"], "scim-gateway"),
    );

    match tool("kubectl") {
        Some(kubectl) => {
            // The example with the component turned on, as a user would.
            let tmp = tempfile::tempdir().unwrap();
            let mut files = Vec::new();
            files_under(&root().join(dir), &mut files);
            for f in files {
                let rel = f.strip_prefix(root().join(dir)).unwrap();
                let to = tmp.path().join(rel);
                std::fs::create_dir_all(to.parent().unwrap()).unwrap();
                std::fs::copy(&f, &to).unwrap();
            }
            let k = tmp.path().join("kustomization.yaml");
            let text = std::fs::read_to_string(&k)
                .unwrap()
                .replace("# components:", "components:")
                .replace("#   - postgres", "  - postgres");
            std::fs::write(&k, text).unwrap();
            let out = run(&kubectl, &["kustomize", "."], tmp.path());
            assert!(
                out.status.success(),
                "kubectl kustomize with the postgres component: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            let rendered = yaml_docs("kustomize output", &String::from_utf8_lossy(&out.stdout));
            assert!(
                !rendered
                    .iter()
                    .any(|o| o["kind"] == "PersistentVolumeClaim"),
                "with PostgreSQL no PersistentVolumeClaim"
            );
            let dep = rendered
                .iter()
                .find(|o| o["kind"] == "Deployment")
                .expect("a Deployment");
            assert!(dep["spec"]["replicas"].as_u64().is_some_and(|n| n > 1));
            assert_eq!(dep["spec"]["strategy"]["type"], "RollingUpdate");
            let spec = &dep["spec"]["template"]["spec"];
            let gw = container(spec, "scim-gateway");
            check_gateway_container("postgres component", gw);
            check_store_url_from_secret("postgres component", gw);
            check_no_store_volume("postgres component", spec, gw);
            println!("kubectl kustomize {dir} with components: [postgres]: ok");
        }
        None => skipped(
            "kubectl kustomize deploy/kubernetes with the postgres component",
            "kubectl",
        ),
    }
}

#[test]
fn helm_chart_keeps_sqlite_on_a_claim_for_one_replica_and_refuses_more() {
    let chart_dir = "deploy/helm/scim-gateway";
    let values = yaml(&format!("{chart_dir}/values.yaml"));
    // The defaults: SQLite on a claim, one replica: `helm install` just works.
    assert_eq!(values["store"]["kind"], "sqlite");
    assert_eq!(
        values["replicaCount"], 1,
        "one replica with the default SQLite store"
    );
    let path = str_at(&values, "store.sqlite.path", "values.yaml");
    assert_eq!(format!("sqlite:{path}"), STORE_URL);
    assert!(values["store"]["sqlite"]["size"].is_string());
    assert!(values["store"]["sqlite"]["storageClass"].is_string());
    // PostgreSQL: a Secret's name and key, never the URL or a password as a value.
    let pg = values["store"]["postgres"]
        .as_object()
        .expect("store.postgres");
    let keys: BTreeSet<&str> = pg.keys().map(String::as_str).collect();
    assert_eq!(keys, BTreeSet::from(["existingSecret", "key"]));

    let template = |name: &str| read(&format!("{chart_dir}/templates/{name}"));
    let helpers = template("_helpers.tpl");
    let deployment = template("deployment.yaml");
    let pvc = template("pvc.yaml");
    // Textual checks (helm renders them below when it is installed).
    assert!(
        deployment.starts_with("{{- include \"scim-gateway.validateStore\" . }}"),
        "templates/deployment.yaml must check the store settings first"
    );
    let validate = helpers
        .split("define \"scim-gateway.validateStore\"")
        .nth(1)
        .expect("_helpers.tpl defines scim-gateway.validateStore");
    let refusal = validate
        .lines()
        .position(|l| {
            l.contains("eq $kind \"sqlite\"") && l.contains("gt (int .Values.replicaCount) 1")
        })
        .expect("a refusal of replicaCount > 1 with store.kind sqlite");
    let fail = validate.lines().nth(refusal + 1).unwrap();
    assert!(
        fail.contains("fail") && fail.contains("store.kind=postgres"),
        "the refusal must fail with the fix (store.kind=postgres): {fail}"
    );
    for must in [
        "mountPath: {{ dir .Values.store.sqlite.path }}",
        "value: {{ printf \"sqlite:%s\" .Values.store.sqlite.path | quote }}",
        "name: {{ .Values.store.postgres.existingSecret }}",
        "key: {{ .Values.store.postgres.key }}",
        "claimName: {{ include \"scim-gateway.storeClaim\" . }}",
        "type: Recreate",
    ] {
        assert!(
            deployment.contains(must),
            "templates/deployment.yaml must contain {must:?}"
        );
    }
    assert!(
        pvc.contains("kind: PersistentVolumeClaim")
            && pvc.contains("{{- if eq .Values.store.kind \"sqlite\" }}")
    );

    let Some(helm) = tool("helm") else {
        skipped(
            "helm template with store.kind sqlite and postgres (textual checks only)",
            "helm",
        );
        return;
    };
    let render = |extra: &[&str]| {
        let mut args = vec!["template", "scim", chart_dir];
        args.extend_from_slice(extra);
        run(&helm, &args, &root())
    };
    // SQLite: the claim mounted at the file's directory, the URL pointing there.
    let out = render(&[]);
    assert!(
        out.status.success(),
        "helm template: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let docs = yaml_docs("helm template", &String::from_utf8_lossy(&out.stdout));
    let dep = docs.iter().find(|d| d["kind"] == "Deployment").unwrap();
    let spec = &dep["spec"]["template"]["spec"];
    let gw = container(spec, "scim-gateway");
    let url = str_at(
        env_var(gw, STORE_ENV).expect("SCIM_GATEWAY_STORE__URL"),
        "value",
        "helm",
    );
    let vol = store_volume("helm sqlite", spec, gw, &sqlite_dir("helm sqlite", url));
    let claim = str_at(vol, "persistentVolumeClaim.claimName", "helm sqlite");
    assert!(docs
        .iter()
        .any(|d| d["kind"] == "PersistentVolumeClaim" && d["metadata"]["name"] == claim));
    assert_eq!(dep["spec"]["strategy"]["type"], "Recreate");
    check_gateway_container("helm sqlite", gw);

    // PostgreSQL: three replicas, the URL from the Secret, no claim.
    let out = render(&[
        "--set",
        "store.kind=postgres",
        "--set",
        "store.postgres.existingSecret=scim-gateway-store",
        "--set",
        "replicaCount=3",
    ]);
    assert!(
        out.status.success(),
        "helm template postgres: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let docs = yaml_docs("helm template", &String::from_utf8_lossy(&out.stdout));
    assert!(!docs.iter().any(|d| d["kind"] == "PersistentVolumeClaim"));
    let dep = docs.iter().find(|d| d["kind"] == "Deployment").unwrap();
    assert_eq!(dep["spec"]["replicas"], 3);
    let spec = &dep["spec"]["template"]["spec"];
    let gw = container(spec, "scim-gateway");
    assert_eq!(
        check_store_url_from_secret("helm postgres", gw),
        "scim-gateway-store"
    );
    check_no_store_volume("helm postgres", spec, gw);
    check_gateway_container("helm postgres", gw);

    // Refused, with the fix: several replicas on one SQLite file; PostgreSQL without its Secret.
    for (extra, fix) in [
        (&["--set", "replicaCount=2"][..], "store.kind=postgres"),
        (
            &["--set", "store.kind=postgres"][..],
            "store.postgres.existingSecret",
        ),
    ] {
        let out = render(extra);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            !out.status.success(),
            "helm template {extra:?} must be refused"
        );
        assert!(
            stderr.contains(fix),
            "helm template {extra:?}: the message names {fix}: {stderr}"
        );
    }
    println!("helm template with the SQLite and the PostgreSQL store: ok");
}

// ---------------------------------------------------------------------------------------------
// Prometheus and Grafana

/// Every `scim_gateway_…` metric named in a PromQL expression, with the label names of the
/// selector right after it.
fn metric_selectors(expr: &str) -> Vec<(String, Vec<String>)> {
    let mut out = Vec::new();
    let mut rest = expr;
    while let Some(i) = rest.find("scim_gateway_") {
        rest = &rest[i..];
        let end = rest
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(rest.len());
        let name = rest[..end].to_string();
        rest = &rest[end..];
        let mut labels = Vec::new();
        if let Some(sel) = rest.strip_prefix('{') {
            let close = sel.find('}').expect("an unclosed selector");
            let body = &sel[..close];
            // label="v", label=~"v", label!="v": names are before the operator; values are quoted.
            let mut in_quotes = false;
            let mut token = String::new();
            for ch in body.chars() {
                match ch {
                    '"' => in_quotes = !in_quotes,
                    '=' | '!' | '~' if !in_quotes => {
                        if !token.trim().is_empty() {
                            labels.push(token.trim().to_string());
                        }
                        token.clear();
                    }
                    ',' if !in_quotes => token.clear(),
                    c if !in_quotes => token.push(c),
                    _ => {}
                }
            }
            rest = &sel[close..];
        }
        out.push((name, labels));
    }
    out
}

/// Checks the metrics and labels of one expression against CONTRACT_METRICS; returns the
/// metrics named.
fn check_expr(what: &str, expr: &str) -> Vec<String> {
    let mut named = Vec::new();
    for (name, labels) in metric_selectors(expr) {
        let (base, bucket) = ["_bucket", "_sum", "_count"]
            .iter()
            .find_map(|s| {
                let b = name.strip_suffix(s)?;
                CONTRACT_METRICS
                    .iter()
                    .any(|(m, k, _)| *m == b && *k == Kind::Histogram)
                    .then_some((b.to_string(), *s == "_bucket"))
            })
            .unwrap_or((name.clone(), false));
        let (_, kind, allowed) = CONTRACT_METRICS
            .iter()
            .find(|(m, _, _)| *m == base)
            .unwrap_or_else(|| panic!("{what}: {name} is not a metric of the contract"));
        assert!(
            *kind != Kind::Histogram || base != name,
            "{what}: the histogram {name} is queried without _bucket/_sum/_count"
        );
        for l in labels {
            assert!(
                allowed.contains(&l.as_str())
                    || TARGET_LABELS.contains(&l.as_str())
                    || (bucket && l == "le"),
                "{what}: {name} has no label {l:?}"
            );
        }
        named.push(base);
    }
    // Only Prometheus' own `up` besides the gateway's metrics.
    let rest = expr.replace("scim_gateway_", "");
    if rest.contains("up{") {
        assert!(
            expr.contains("job=\"scim-gateway\""),
            "{what}: up without job=\"scim-gateway\""
        );
    }
    named
}

#[test]
fn alerts_use_only_contract_metrics_and_carry_a_runbook() {
    let rules = yaml("deploy/prometheus/alerts.yml");
    let mut seen = BTreeSet::new();
    for group in rules["groups"].as_array().expect("groups") {
        for rule in group["rules"].as_array().expect("rules") {
            let name = str_at(rule, "alert", "alerts.yml").to_string();
            let expr = str_at(rule, "expr", &name);
            check_expr(&name, expr);
            for a in ["summary", "description", "runbook"] {
                assert!(
                    rule["annotations"][a]
                        .as_str()
                        .is_some_and(|s| s.len() > 10),
                    "{name}: annotation {a}"
                );
            }
            assert!(
                ["critical", "warning"].contains(&str_at(rule, "labels.severity", &name)),
                "{name}: severity"
            );
            assert!(seen.insert(name.clone()), "{name} defined twice");
        }
    }
    let want: BTreeSet<String> = ALERTS.iter().map(|s| s.to_string()).collect();
    assert_eq!(seen, want, "the alerts of deploy/prometheus/alerts.yml");

    let prom = yaml("deploy/prometheus/prometheus.yml");
    assert_eq!(prom["scrape_configs"][0]["job_name"], "scim-gateway");
    assert_eq!(prom["rule_files"], serde_json::json!(["alerts.yml"]));
}

/// The dashboard's queries, with Grafana's variables replaced by values Prometheus accepts.
fn dashboard_queries(dash: &Value) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for p in dash["panels"].as_array().expect("panels") {
        let title = p["title"].as_str().unwrap_or("?").to_string();
        for t in p["targets"].as_array().into_iter().flatten() {
            let expr = t["expr"]
                .as_str()
                .unwrap_or_else(|| panic!("{title}: a target without expr"));
            out.push((title.clone(), expr.to_string()));
        }
    }
    for v in dash["templating"]["list"].as_array().expect("templating") {
        if let Some(q) = v["query"]["query"].as_str() {
            // label_values(<selector>, label) → the selector.
            let inner = q
                .strip_prefix("label_values(")
                .and_then(|s| s.rsplit_once(','))
                .map(|(sel, _)| sel.to_string())
                .unwrap_or_else(|| panic!("variable {}: expected label_values(...)", v["name"]));
            out.push((format!("variable {}", v["name"]), inner));
        }
    }
    out.into_iter()
        .map(|(w, e)| {
            let e = e
                .replace("$__rate_interval", "5m")
                .replace("$instance", ".*")
                .replace("$tenant", ".*");
            (w, e)
        })
        .collect()
}

#[test]
fn grafana_dashboard_uses_only_contract_metrics() {
    let dash: Value = serde_json::from_str(&read("deploy/grafana/scim-gateway.json")).unwrap();
    assert_eq!(dash["uid"], "scim-gateway");
    let mut ids = BTreeSet::new();
    for p in dash["panels"].as_array().unwrap() {
        assert!(
            ids.insert(p["id"].as_u64().expect("panel id")),
            "duplicate panel id {}",
            p["id"]
        );
        for k in ["x", "y", "w", "h"] {
            assert!(
                p["gridPos"][k].is_u64(),
                "panel {}: gridPos.{k}",
                p["title"]
            );
        }
        if p["type"] != "row" {
            assert!(
                p["targets"].as_array().is_some_and(|t| !t.is_empty()),
                "panel {} has no query",
                p["title"]
            );
        }
    }
    let mut named = BTreeSet::new();
    for (what, expr) in dashboard_queries(&dash) {
        assert!(
            expr.contains("job=\"scim-gateway\""),
            "{what}: select job=\"scim-gateway\""
        );
        named.extend(check_expr(&what, &expr));
    }
    // What the dashboard is for (the panels the operator guide describes).
    for m in [
        "scim_gateway_scim_requests_total",
        "scim_gateway_scim_request_duration_seconds",
        "scim_gateway_scim_requests_in_flight",
        "scim_gateway_backend_requests_total",
        "scim_gateway_backend_request_duration_seconds",
        "scim_gateway_cache_hits_total",
        "scim_gateway_auth_failures_total",
        "scim_gateway_provisioned_users",
    ] {
        assert!(named.contains(m), "the dashboard shows no {m}");
    }
}

#[test]
fn promtool_checks_rules_rule_tests_scrape_config_and_dashboard_queries() {
    let Some(promtool) = tool("promtool") else {
        skipped(
            "promtool check rules/config, promtool test rules",
            "promtool",
        );
        return;
    };
    let dir = root().join("deploy/prometheus");
    for args in [
        &["check", "rules", "alerts.yml"][..],
        &["check", "config", "prometheus.yml"][..],
        &["test", "rules", "alerts.test.yml"][..],
    ] {
        let out = run(&promtool, args, &dir);
        assert!(
            out.status.success(),
            "promtool {}:\n{}{}",
            args.join(" "),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    // The dashboard's queries as recording rules: promtool parses each expression.
    let dash: Value = serde_json::from_str(&read("deploy/grafana/scim-gateway.json")).unwrap();
    let rules: Vec<Value> = dashboard_queries(&dash)
        .into_iter()
        .enumerate()
        .map(|(i, (_, e))| serde_json::json!({"record": format!("dashboard:query_{i}"), "expr": e}))
        .collect();
    let file = serde_json::json!({"groups": [{"name": "dashboard", "rules": rules}]});
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("dashboard-rules.json");
    // JSON is YAML: promtool reads it as a rule file.
    std::fs::write(&path, serde_json::to_string_pretty(&file).unwrap()).unwrap();
    let out = run(
        &promtool,
        &["check", "rules", path.to_str().unwrap()],
        tmp.path(),
    );
    assert!(
        out.status.success(),
        "the dashboard's queries:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    println!(
        "promtool: rules, rule tests, scrape config and {} dashboard queries: ok",
        rules.len()
    );
}

// ---------------------------------------------------------------------------------------------
// systemd

#[test]
fn systemd_unit_reloads_with_sighup_and_outlasts_the_shutdown_grace() {
    let rel = "deploy/systemd/scim-gateway.service";
    let text = read(rel);
    let directive = |key: &str| -> Vec<String> {
        text.lines()
            .filter_map(|l| l.split_once('='))
            .filter(|(k, _)| k.trim() == key)
            .map(|(_, v)| v.trim().to_string())
            .collect()
    };
    let one = |key: &str| -> String {
        let v = directive(key);
        assert_eq!(v.len(), 1, "{rel}: {key} once, found {v:?}");
        v[0].clone()
    };
    assert_eq!(
        one("ExecStart"),
        format!("/usr/local/bin/scim-gateway serve --config {CONFIG_PATH}")
    );
    assert_eq!(one("ExecReload"), "/bin/kill -HUP $MAINPID");
    assert_eq!(one("User"), "scim-gateway");
    for (k, v) in [
        ("NoNewPrivileges", "yes"),
        ("ProtectSystem", "strict"),
        ("ProtectHome", "yes"),
        ("PrivateTmp", "yes"),
        ("CapabilityBoundingSet", ""),
        ("Restart", "on-failure"),
    ] {
        assert_eq!(one(k), v, "{rel}: {k}");
    }
    // The defaults of config/gateway.toml, which the unit's install steps start from.
    let cfg = Config::load(&root().join("config/gateway.toml")).unwrap();
    assert_eq!(
        scim_gateway::config::serve_problem(&cfg, Path::new("config/gateway.toml")),
        None,
        "serve starts with config/gateway.toml"
    );
    let stop: u64 = one("TimeoutStopSec").parse().unwrap();
    assert!(
        stop > cfg.shutdown.grace_period_seconds + cfg.shutdown.timeout_seconds,
        "TimeoutStopSec {stop} must exceed the shutdown grace and timeout"
    );

    match tool("systemd-analyze") {
        Some(sa) => {
            let out = run(&sa, &["verify", rel], &root());
            let problems: Vec<String> = String::from_utf8_lossy(&out.stderr)
                .lines()
                .chain(String::from_utf8_lossy(&out.stdout).lines())
                // The binary is not installed on a build machine.
                .filter(|l| !l.contains("/usr/local/bin/scim-gateway is not executable"))
                .filter(|l| !l.trim().is_empty())
                .map(str::to_string)
                .collect();
            assert!(
                problems.is_empty(),
                "systemd-analyze verify {rel}:\n{}",
                problems.join("\n")
            );
            println!("systemd-analyze verify: ok");
        }
        None => skipped("systemd-analyze verify", "systemd-analyze"),
    }
}

// ---------------------------------------------------------------------------------------------
// Documentation

/// Relative links `](path)` of a Markdown file, without anchors.
fn relative_links(text: &str) -> Vec<String> {
    text.match_indices("](")
        .filter_map(|(i, _)| {
            let rest = &text[i + 2..];
            let link = &rest[..rest.find(')')?];
            let link = link.split('#').next()?;
            (!link.is_empty() && !link.contains("://") && !link.starts_with("mailto:"))
                .then(|| link.to_string())
        })
        .collect()
}

#[test]
fn operator_and_idp_docs_name_every_metric_alert_and_key_and_link_to_files_that_exist() {
    let operator = read("docs/operator.md");
    for (m, _, _) in CONTRACT_METRICS {
        assert!(
            operator.contains(m),
            "docs/operator.md does not describe {m}"
        );
    }
    for a in ALERTS {
        assert!(
            operator.contains(a),
            "docs/operator.md has no runbook for {a}"
        );
    }
    // Every key of config/gateway.toml, and the contract's new ones.
    let cfg = toml_value("config/gateway.toml", &read("config/gateway.toml"));
    let mut keys = vec!["auth.keys_file".to_string(), "admin.address".to_string()];
    for (section, table) in cfg.as_object().unwrap() {
        for key in table.as_object().into_iter().flatten().map(|(k, _)| k) {
            keys.push(format!("{section}.{key}"));
        }
    }
    for k in [
        "mapping.backend_url",
        "tenants.<name>.allowed_domains",
        "tenants.<name>.legacy_id",
    ] {
        keys.push(k.to_string());
    }
    for k in &keys {
        assert!(
            operator.contains(&format!("| `{k}` |")),
            "docs/operator.md has no row for the key {k}"
        );
    }
    for field in [
        "tenant",
        "request_id",
        "operation",
        "resource",
        "resource_id",
        "user_name",
        "outcome",
        "scim_status",
        "legacy_status",
        "latency_ms",
        "detail",
    ] {
        assert!(
            operator.contains(&format!("`{field}`")),
            "docs/operator.md: log field {field}"
        );
    }
    for endpoint in ["/metrics", "/healthz", "/readyz", "/status"] {
        assert!(operator.contains(endpoint), "docs/operator.md: {endpoint}");
    }

    for doc in [
        "docs/operator.md",
        "deploy/README.md",
        "docs/idp/entra.md",
        "docs/idp/okta.md",
        "docs/idp/jumpcloud.md",
    ] {
        let text = read(doc);
        let base = root().join(doc);
        let dir = base.parent().unwrap();
        for link in relative_links(&text) {
            assert!(dir.join(&link).exists(), "{doc}: link {link} names no file");
        }
    }
    for idp in ["entra", "okta", "jumpcloud"] {
        let text = read(&format!("docs/idp/{idp}.md"));
        for must in ["/scim/v2", "/t/", "401", "403", "409", "Retry-After"] {
            assert!(text.contains(must), "docs/idp/{idp}.md must cover {must}");
        }
    }
}
