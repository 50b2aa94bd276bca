//! A real, throw-away PostgreSQL server for the tests (and for `benches/store.rs`, which
//! includes this file): one cluster per test process (Debian's `postgresql` package: `initdb`
//! and `pg_ctl` from `pg_config --bindir` or /usr/lib/postgresql/*/bin), its data directory and
//! Unix socket in a fresh temporary directory, no TCP listener, and a database of its own for
//! each test ([`database`]), so that tests run in parallel. The cluster is stopped (`pg_ctl
//! stop -m immediate`) and its directory removed when the process exits (a `libc::atexit`
//! handler: statics are never dropped).
//!
//! As root (initdb refuses root), the server runs as the package's `postgres` user through
//! `runuser`, in a directory owned by it. `scripts/test` installs the package when missing.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;

/// The one cluster of this process.
struct Cluster {
    bin: PathBuf,
    /// The temporary directory: the socket is here, the data in `data/`.
    dir: PathBuf,
    as_postgres: bool,
}

static CLUSTER: OnceLock<Result<Cluster, String>> = OnceLock::new();
static NEXT_DB: AtomicU64 = AtomicU64::new(0);

/// One test's database: a `postgres://` URL over the cluster's Unix socket.
#[derive(Debug, Clone)]
pub struct Database {
    pub url: String,
    pub name: String,
}

/// Whether PostgreSQL's server (`initdb`) is installed, so that [`database`] can start a
/// cluster (the benchmarks skip PostgreSQL when it is not).
pub fn installed() -> bool {
    bindir().is_some()
}

/// A fresh, empty database on this process's cluster (started on first use).
///
/// Panics with the fix when PostgreSQL is not installed or does not start.
pub fn database() -> Database {
    let cluster = match CLUSTER.get_or_init(start) {
        Ok(c) => c,
        Err(e) => panic!("{e}"),
    };
    let name = format!(
        "t_{}_{}",
        std::process::id(),
        NEXT_DB.fetch_add(1, Ordering::Relaxed)
    );
    let out = cluster.psql(&format!("CREATE DATABASE {name}"));
    assert!(
        out.status.success(),
        "CREATE DATABASE {name}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Database {
        url: format!(
            "postgres://postgres@localhost/{name}?host={}",
            cluster.dir.display()
        ),
        name,
    }
}

/// Takes `db` away while clients use it: its connections ended, the database dropped (a
/// store lost, as a test sees it).
pub fn drop_database(db: &Database) {
    let Some(Ok(cluster)) = CLUSTER.get() else {
        panic!("no cluster: the database was never made");
    };
    let out = cluster.psql(&format!("DROP DATABASE {} WITH (FORCE)", db.name));
    assert!(
        out.status.success(),
        "DROP DATABASE {}: {}",
        db.name,
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A URL of this cluster's server for a database that does not exist.
pub fn missing_database_url() -> String {
    let cluster = match CLUSTER.get_or_init(start) {
        Ok(c) => c,
        Err(e) => panic!("{e}"),
    };
    format!(
        "postgres://postgres:hunter2@localhost/no_such_database?host={}",
        cluster.dir.display()
    )
}

impl Cluster {
    /// Runs one SQL command as the `postgres` user in its maintenance database.
    fn psql(&self, sql: &str) -> Output {
        self.run(
            "psql",
            &[
                "-X",
                "-q",
                "-v",
                "ON_ERROR_STOP=1",
                "-h",
                path_str(&self.dir),
                "-U",
                "postgres",
                "-d",
                "postgres",
                "-c",
                sql,
            ],
        )
    }
}

fn path_str(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// The directory of PostgreSQL's server binaries.
fn bindir() -> Option<PathBuf> {
    let from_pg_config = Command::new("pg_config")
        .arg("--bindir")
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| PathBuf::from(String::from_utf8_lossy(&o.stdout).trim()));
    if let Some(dir) = from_pg_config.filter(|d| d.join("initdb").is_file()) {
        return Some(dir);
    }
    let mut versions: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(|e| e.ok().map(|e| e.path().join("bin")))
        .filter(|d| d.join("initdb").is_file())
        .collect();
    versions.sort_by_key(|d| {
        d.parent()
            .and_then(|v| v.file_name()?.to_str()?.parse::<u32>().ok())
            .unwrap_or(0)
    });
    versions.pop()
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

impl Cluster {
    /// Runs one of PostgreSQL's programs, as `postgres` when we are root.
    fn run(&self, program: &str, args: &[&str]) -> Output {
        let exe = self.bin.join(program);
        let mut cmd = if self.as_postgres {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(&exe);
            c
        } else {
            Command::new(&exe)
        };
        cmd.args(args)
            .env("LC_ALL", "C")
            .current_dir(&self.dir)
            .output()
            .unwrap_or_else(|e| panic!("cannot run {}: {e}", exe.display()))
    }
}

extern "C" fn stop_at_exit() {
    if let Some(Ok(cluster)) = CLUSTER.get() {
        let data = cluster.dir.join("data");
        let _ = cluster.run(
            "pg_ctl",
            &["stop", "-m", "immediate", "-w", "-D", path_str(&data)],
        );
        let _ = std::fs::remove_dir_all(&cluster.dir);
    }
}

fn start() -> Result<Cluster, String> {
    let bin = bindir().ok_or(
        "PostgreSQL's server (initdb) is not installed; fix: apt-get install postgresql \
         (scripts/test installs it)",
    )?;
    let dir = std::env::temp_dir().join(format!(
        "scim-gw-pg-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0)
    ));
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let as_postgres = is_root();
    if as_postgres {
        let out = Command::new("chown")
            .args(["postgres:postgres", path_str(&dir)])
            .output()
            .map_err(|e| e.to_string())?;
        if !out.status.success() {
            return Err(format!(
                "chown postgres {}: {} (the postgresql package creates the postgres user)",
                dir.display(),
                String::from_utf8_lossy(&out.stderr)
            ));
        }
    }
    let cluster = Cluster {
        bin,
        dir,
        as_postgres,
    };
    let data = cluster.dir.join("data");
    let out = cluster.run(
        "initdb",
        &[
            "-D",
            path_str(&data),
            "-U",
            "postgres",
            "-A",
            "trust",
            "-E",
            "UTF8",
            "--locale=C",
            "--no-sync",
        ],
    );
    if !out.status.success() {
        return Err(format!(
            "initdb failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    let options = format!(
        "-k {} -c listen_addresses='' -c fsync=off -c synchronous_commit=off \
         -c full_page_writes=off -c max_connections=300",
        cluster.dir.display()
    );
    let log = cluster.dir.join("server.log");
    let out = cluster.run(
        "pg_ctl",
        &[
            "start",
            "-w",
            "-D",
            path_str(&data),
            "-l",
            path_str(&log),
            "-o",
            &options,
        ],
    );
    if !out.status.success() {
        let log = std::fs::read_to_string(&log).unwrap_or_default();
        return Err(format!(
            "pg_ctl start failed: {}{}\n{log}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    // SAFETY: registers a plain function, run once by the C runtime at process exit.
    unsafe {
        libc::atexit(stop_at_exit);
    }
    Ok(cluster)
}
