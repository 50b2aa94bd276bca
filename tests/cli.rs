//! The `scim-gateway` binary as an operator uses it: `check` on good and broken mappings,
//! `hash-token`, `serve` with a config file and environment overrides, stopped by SIGTERM, and
//! `demo` in front of each example legacy API, its printed curl lines working as printed.

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use scim_gateway::server::auth::token_digest_hex;
use scim_gateway_example_apis::acme_hr::AcmeHr;
use scim_gateway_hosting::{free_loopback_addr, http_service, server_conf, start};

const BIN: &str = env!("CARGO_BIN_EXE_scim-gateway");

fn temp_dir(name: &str) -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("scim-gw-cli-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

#[test]
fn check_accepts_the_shipped_mappings() {
    let root = env!("CARGO_MANIFEST_DIR");
    let out = Command::new(BIN)
        .args([
            "check",
            &format!("{root}/mappings/acme-hr.yaml"),
            &format!("{root}/mappings/crewbase.yaml"),
            &format!("{root}/mappings/keystone.yaml"),
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn check_names_file_line_and_fix_for_a_broken_mapping() {
    let dir = temp_dir("check");
    let file = dir.join("broken.yaml");
    std::fs::write(
        &file,
        "name: broken\nbackend:\n  base_url: http://127.0.0.1:1\nusers:\n  id: $.id\n  attributes:\n    - { scim: userNmae, legacy: $.login }\n",
    )
    .unwrap();
    let out = Command::new(BIN).arg("check").arg(&file).output().unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(&format!("{}:7:", file.display())), "{err}");
    assert!(
        err.contains("userName"),
        "suggests the right attribute: {err}"
    );
    assert!(err.contains("fix:"), "{err}");
}

#[test]
fn hash_token_prints_the_sha256_digest() {
    let mut child = Command::new(BIN)
        .arg("hash-token")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(b"s3cret\n").unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        token_digest_hex("s3cret")
    );
}

#[test]
fn serve_runs_from_a_config_file_with_env_overrides_and_stops_on_sigterm() {
    // The legacy API the served gateway talks to.
    let api = AcmeHr::new("legacy-key-from-env");
    api.seed(2);
    let backend = free_loopback_addr().unwrap();
    let _legacy = start(
        server_conf(0, 1),
        vec![http_service("acme", backend, 1, api)],
        &[backend],
    )
    .unwrap();

    let dir = temp_dir("serve");
    let config = dir.join("gateway.toml");
    let root = env!("CARGO_MANIFEST_DIR");
    std::fs::write(
        &config,
        format!(
            "[listen]\naddress = \"127.0.0.1:1\"\n[mapping]\nfile = \"{root}/mappings/acme-hr.yaml\"\n[auth]\ntoken_sha256 = [\"{}\"]\n[shutdown]\ngrace_period_seconds = 0\ntimeout_seconds = 1\n",
            token_digest_hex("operator-token")
        ),
    )
    .unwrap();
    let scim = free_loopback_addr().unwrap();
    let mut child = Command::new(BIN)
        .args(["serve", "--config"])
        .arg(&config)
        .env("SCIM_GATEWAY_LISTEN__ADDRESS", scim.to_string())
        // serve needs public_url or allowed_hosts; any key can come from the environment.
        .env(
            "SCIM_GATEWAY_SCIM__PUBLIC_URL",
            format!("http://{scim}/scim/v2"),
        )
        // Not the default 9090: other processes on this machine may hold it.
        .env(
            "SCIM_GATEWAY_ADMIN__ADDRESS",
            free_loopback_addr().unwrap().to_string(),
        )
        .env(
            "SCIM_GATEWAY_MAPPING__BACKEND_URL",
            format!("http://{backend}"),
        )
        .env("ACME_API_KEY", "legacy-key-from-env")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .new_agent();
    let url = format!("http://{scim}/scim/v2/Users?count=10");
    let deadline = Instant::now() + Duration::from_secs(20);
    let body = loop {
        match agent
            .get(&url)
            .header("Authorization", "Bearer operator-token")
            .call()
        {
            Ok(mut r) => {
                assert_eq!(r.status(), 200);
                break r.body_mut().read_to_string().unwrap();
            }
            Err(_) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(50)),
            Err(e) => panic!("serve did not come up: {e}"),
        }
    };
    let json: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(json["totalResults"], 2);

    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let stopped = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            assert!(
                status.success(),
                "serve exits cleanly on SIGTERM: {status:?}"
            );
            break;
        }
        assert!(
            stopped.elapsed() < Duration::from_secs(10),
            "serve did not stop within 10 s of SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let mut logs = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut logs).unwrap();
    assert!(
        !logs.contains("legacy-key-from-env"),
        "the legacy key must never be logged"
    );
    assert!(
        !logs.contains("operator-token"),
        "the IdP token must never be logged"
    );
}

/// A running demo, stopped when dropped (a failed assertion included).
struct Demo(std::process::Child);

impl Drop for Demo {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A demo started with `args`, and its output read up to its last line ("Ctrl-C stops it").
fn start_demo(args: &[&str]) -> (Demo, Vec<String>) {
    use std::io::BufRead;
    let mut demo = Demo(
        Command::new(BIN)
            .arg("demo")
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let stdout = demo.0.stdout.take().unwrap();
    let mut lines = Vec::new();
    for line in std::io::BufReader::new(stdout).lines() {
        let line = line.unwrap();
        let done = line.contains("Ctrl-C stops it");
        lines.push(line);
        if done {
            break;
        }
    }
    (demo, lines)
}

#[test]
fn demo_runs_each_example_with_its_shipped_mapping_and_its_curl_lines_work() {
    // TODO(orbit): add ("orbit", "/api/v2/users") once mappings/orbit.yaml is shipped.
    for (example, users_path) in [
        ("acme-hr", "/api/v1/users"),
        ("crewbase", "/v2/people"),
        ("keystone", "/api/users"),
        ("orbit-roles", "/api/v2/users"),
    ] {
        let (_demo, lines) = start_demo(&[
            "--example",
            example,
            "--port",
            "0",
            "--token",
            "demo-test-token",
            "--users",
            "2",
        ]);
        let text = lines.join("\n");
        assert!(
            text.contains(&format!("mappings/{example}.yaml")),
            "{example}: names its mapping\n{text}"
        );
        assert!(text.contains(users_path), "{example}\n{text}");
        // The first curl line, as a newcomer pastes it: a filter that finds the first sample
        // user.
        let filter_url = lines
            .iter()
            .find_map(|l| {
                let start = l.find("'http://")? + 1;
                let end = start + l[start..].find('\'')?;
                Some(l[start..end].to_string())
            })
            .unwrap_or_else(|| panic!("{example}: no curl URL in\n{text}"));
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .build()
            .new_agent();
        let mut r = agent
            .get(&filter_url)
            .header("Authorization", "Bearer demo-test-token")
            .call()
            .unwrap();
        let status = r.status();
        let body = r.body_mut().read_to_string().unwrap();
        assert_eq!(status, 200, "{example}: {body}");
        let json: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(json["totalResults"], 1, "{example}: {body}");
    }
}

#[test]
fn demo_orbit_roles_shows_orbits_roles_as_groups_billing_left_out() {
    let (_demo, lines) = start_demo(&[
        "--example",
        "orbit-roles",
        "--port",
        "0",
        "--token",
        "demo-test-token",
        "--users",
        "2",
    ]);
    let text = lines.join("\n");
    let users_url = lines
        .iter()
        .find_map(|l| {
            let start = l.find("'http://")? + 1;
            let end = start + l[start..].find("/Users")?;
            Some(l[start..end].to_string())
        })
        .unwrap_or_else(|| panic!("no SCIM URL in\n{text}"));
    let agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .new_agent();
    let mut r = agent
        .get(&format!("{users_url}/Groups"))
        .header("Authorization", "Bearer demo-test-token")
        .call()
        .unwrap();
    let body = r.body_mut().read_to_string().unwrap();
    assert_eq!(r.status(), 200, "{body}");
    let json: serde_json::Value = serde_json::from_str(&body).unwrap();
    let mut names: Vec<&str> = json["Resources"]
        .as_array()
        .unwrap_or_else(|| panic!("{body}"))
        .iter()
        .map(|g| g["displayName"].as_str().unwrap())
        .collect();
    names.sort_unstable();
    assert_eq!(
        names,
        ["Administrator", "Editor", "Member", "Viewer"],
        "{body}"
    );
    // The sample users are Members, shown as the Member group's members.
    let member = json["Resources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["displayName"] == "Member")
        .unwrap();
    let mut r = agent
        .get(&format!(
            "{users_url}/Groups/{}",
            member["id"].as_str().unwrap()
        ))
        .header("Authorization", "Bearer demo-test-token")
        .call()
        .unwrap();
    let body = r.body_mut().read_to_string().unwrap();
    let group: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(group["members"].as_array().map(Vec::len), Some(2), "{body}");
}

#[test]
fn demo_refuses_an_unknown_example_and_lists_the_known_ones() {
    let out = Command::new(BIN)
        .args(["demo", "--example", "acme", "--port", "0"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(
            "[possible values: acme-hr, crewbase, keystone, orbit, orbit-roles, tallybook]"
        ),
        "{err}"
    );
}
