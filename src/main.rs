//! The `scim-gateway` command: `serve` (production), `demo` (the gateway in front of the example
//! legacy API, ready for curl), `check` (validate a mapping), `probe` and `explain` (try a
//! mapping against its legacy API), `hash-token`, `keys new|list|revoke` (the API keys file),
//! and `store export|import` (the groups held by the gateway, as JSON).

use std::io::{IsTerminal, Read};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use scim_gateway::config::{Config, LogFormat};
use scim_gateway::keys::{self, KeysFile, NewKey, Scopes};
use scim_gateway::mapping;
use scim_gateway::onboard::{self, driver::Driver};
use scim_gateway::server::app::ScimApp;
use scim_gateway::server::auth::token_digest_hex;
use scim_gateway::server::gateway::Gateway;
use scim_gateway::server::reload::{self, Live};
use scim_gateway::server::runner::{gateway_services_counted, role_retry_service};
use scim_gateway_example_apis::{AcmeHr, Crewbase, Keystone, Orbit, Tallybook};
use scim_gateway_hosting::{
    free_loopback_addr, http_service, server_conf, start_with_signals, InFlight, RunningServer,
    Stop,
};

mod allocator;
mod resident;

/// The binary's allocator: mimalloc, whose malloc and free cost a fraction of glibc's on the
/// request path (measured in docs/performance.md, with the memory it keeps).
#[global_allocator]
static ALLOCATOR: allocator::MiMalloc = allocator::MiMalloc;

#[derive(Parser)]
#[command(
    name = "scim-gateway",
    version,
    about = "A SCIM 2.0 gateway in front of a legacy REST user API"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the gateway with a configuration file (environment variables SCIM_GATEWAY_… override it).
    Serve {
        #[arg(long, default_value = "config/gateway.toml")]
        config: PathBuf,
    },
    /// Run the gateway in front of an example legacy API (Acme HR unless --example says
    /// another), with its shipped mapping, both on loopback, and print how to call it.
    Demo {
        /// The example legacy API, described by mappings/<EXAMPLE>.yaml.
        #[arg(long, value_enum, default_value_t = Example::AcmeHr)]
        example: Example,
        /// Port of the SCIM listener (0: any free port).
        #[arg(long, default_value_t = 8080)]
        port: u16,
        /// The bearer token the demo accepts.
        #[arg(long, default_value = "demo-token")]
        token: String,
        /// How many sample users the example legacy API starts with.
        #[arg(long, default_value_t = 3)]
        users: usize,
    },
    /// Validate a mapping file; prints each problem as file:line:column with a fix.
    Check { mapping: Vec<PathBuf> },
    /// Take a throw-away user (and group) through what identity providers do, against the real
    /// legacy API, and say for each step what the legacy API answered and what to fix in the
    /// mapping. Cleans up what it created. Exit status 0 when every step passed.
    Probe {
        /// The mapping to try.
        mapping: PathBuf,
        #[command(flatten)]
        target: OnboardTarget,
        /// Run even when the tenant already has users (the probe only ever changes or deletes
        /// what it created itself).
        #[arg(long)]
        allow_existing_users: bool,
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Show the legacy calls a SCIM request would make, in order, with their bodies, without
    /// sending any write.
    Explain {
        /// The mapping to use.
        mapping: PathBuf,
        /// The SCIM method: GET, POST, PUT, PATCH or DELETE.
        method: String,
        /// The SCIM path and query, e.g. '/Users?filter=userName eq "ada@example.com"'.
        path: String,
        /// The SCIM request body (JSON), `@FILE` to read it from a file, or `-` for standard input.
        body: Option<String>,
        #[command(flatten)]
        target: OnboardTarget,
        /// Send the reads to the legacy API (so that a PATCH is shown against the real record);
        /// writes are never sent.
        #[arg(long)]
        live: bool,
        /// Print the explanation as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Read a token on standard input and print the SHA-256 digest that auth.token_sha256 expects.
    HashToken,
    /// Manage the API keys identity providers authenticate with (the keys file).
    Keys {
        #[command(subcommand)]
        command: KeysCommand,
    },
    /// Back up or move the groups held by the gateway ([store] url): export or import JSON.
    Store {
        #[command(subcommand)]
        command: StoreCommand,
    },
}

/// Which legacy API `probe` and `explain` talk to, and as which tenant.
#[derive(clap::Args)]
struct OnboardTarget {
    /// A gateway configuration to read as `serve` does (tenants, mapping.backend_url); without
    /// it, the defaults and SCIM_GATEWAY_… environment variables. The mapping argument wins
    /// over its mapping.file.
    #[arg(long)]
    config: Option<PathBuf>,
    /// The tenant to act for (its [tenants.<name>] table applies).
    #[arg(long, default_value = "default")]
    tenant: String,
}

/// Where the keys file is: `--file`, else `auth.keys_file` of `--config`.
#[derive(clap::Args)]
struct KeysFileArgs {
    /// The keys file (created by `keys new` when missing).
    #[arg(long, visible_alias = "keys-file", conflicts_with = "config")]
    file: Option<PathBuf>,
    /// The gateway configuration whose auth.keys_file names the keys file.
    #[arg(long, default_value = "config/gateway.toml")]
    config: PathBuf,
}

#[derive(Subcommand)]
enum KeysCommand {
    /// Create a key for a tenant and print its secret, once.
    New {
        /// The tenant the key acts for (a-z, 0-9, '.', '_', '-').
        #[arg(long)]
        tenant: String,
        /// scim.read (GET, list, search) and/or scim.write (POST, PUT, PATCH, DELETE): repeat
        /// it, or separate them with commas (--scopes scim.read,scim.write).
        #[arg(
            long = "scope",
            visible_alias = "scopes",
            required = true,
            value_delimiter = ',',
            value_parser = ["scim.read", "scim.write"]
        )]
        scopes: Vec<String>,
        /// What the key is for, e.g. "Entra production".
        #[arg(long)]
        label: String,
        /// When the key stops working: a duration (90d, 12h), a date or an RFC 3339 time.
        /// Default: never.
        #[arg(long)]
        expires: Option<String>,
        /// Print only the secret (for scripts).
        #[arg(long)]
        quiet: bool,
        #[command(flatten)]
        file: KeysFileArgs,
    },
    /// List the keys: id, tenant, label, scopes, dates and status (never a secret or a digest).
    List {
        #[command(flatten)]
        file: KeysFileArgs,
    },
    /// Revoke a key: from the gateway's next reload of the file, it gets 401.
    Revoke {
        /// The key's id, as `keys list` shows it.
        id: String,
        #[command(flatten)]
        file: KeysFileArgs,
    },
}

/// glibc gives each thread that allocates its own malloc arena (up to 8 per CPU), and each
/// keeps freed memory: under load the gateway's worker, admin and cache threads held about
/// 60 MB that way, against 45 MB with two arenas and no more CPU (docs/performance.md).
/// `MALLOC_ARENA_MAX` in the environment, read by glibc itself, takes precedence.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn limit_malloc_arenas() {
    if std::env::var_os("MALLOC_ARENA_MAX").is_some() {
        return;
    }
    // SAFETY: mallopt only changes allocator settings; it is called before any thread starts.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 2);
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn limit_malloc_arenas() {}

fn main() -> ExitCode {
    limit_malloc_arenas();
    let cli = Cli::parse();
    match cli.command {
        Command::Serve { config } => serve(&config),
        Command::Demo {
            example,
            port,
            token,
            users,
        } => demo(example, port, &token, users),
        Command::Check { mapping } => check(&mapping),
        Command::Probe {
            mapping,
            target,
            allow_existing_users,
            json,
        } => probe(&mapping, &target, allow_existing_users, json),
        Command::Explain {
            mapping,
            method,
            path,
            body,
            target,
            live,
            json,
        } => explain(
            &mapping,
            &target,
            &method,
            &path,
            body.as_deref(),
            live,
            json,
        ),
        Command::HashToken => hash_token(),
        Command::Keys { command } => keys_command(command),
        Command::Store { command } => store_command(command),
    }
}

fn init_logging(config: &Config) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(&config.log.level));
    // pingora's HTTP client logs whole request heads (the legacy API key among them) at trace
    // level: keep it at warn whatever the filter says.
    let filter = match "pingora_core=warn".parse() {
        Ok(d) => filter.add_directive(d),
        Err(_) => filter,
    };
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr);
    let _ = match config.log.format {
        LogFormat::Json => builder.json().try_init(),
        LogFormat::Text => builder
            .fmt_fields(scim_gateway::server::text_fields::TextFields)
            .try_init(),
    };
}

fn fail(message: impl std::fmt::Display) -> ExitCode {
    eprintln!("scim-gateway: {message}");
    ExitCode::from(2)
}

fn serve(config_path: &Path) -> ExitCode {
    let config = match Config::load(config_path) {
        Ok(c) => c,
        Err(e) => return fail(e),
    };
    if let Some(problem) = scim_gateway::config::serve_problem(&config, config_path) {
        return fail(problem);
    }
    init_logging(&config);
    let mapping = match mapping::load_file(&config.mapping.file) {
        Ok(m) => m,
        Err(e) => return fail(e),
    };
    let addr = config.listen.address;
    let grace = std::time::Duration::from_secs(config.shutdown.grace_period_seconds);
    // `drain` ends the process once the requests in flight are answered or the grace period is
    // over; pingora's own grace period (a fixed sleep) is only the backstop behind it, one
    // `timeout_seconds` longer, so that pingora never cuts a request before `drain` decides.
    let conf = server_conf(
        config.shutdown.grace_period_seconds + config.shutdown.timeout_seconds.max(1),
        config.shutdown.timeout_seconds,
    );
    let gateway = match Gateway::new(config, mapping) {
        Ok(g) => g,
        Err(e) => return fail(e),
    };
    if gateway.keys.is_empty() {
        tracing::warn!(
            "no API key and no auth.token_sha256: every SCIM request will be refused with 401 \
             (create a key with `scim-gateway keys new`)"
        );
    }
    let admin = gateway.config.admin.address.clone();
    let live = Live::from_config_file(gateway, config_path.to_path_buf());
    // SIGHUP reloads the configuration, the mapping and the keys; a changed keys file reloads
    // the keys.
    let _watcher = match reload::watch(live.clone(), reload::KEYS_POLL_INTERVAL) {
        Ok(w) => w,
        Err(e) => return fail(format!("cannot watch for SIGHUP: {e}")),
    };
    let in_flight = InFlight::new();
    let (services, addrs) = gateway_services_counted(&live, &in_flight);
    tracing::info!(%addr, admin = %admin, "scim-gateway listening");
    match start_with_signals(conf, services, &addrs) {
        Ok(server) => {
            // Serving: the code only start-up ran leaves the resident set.
            let released_kb = resident::release_startup_code();
            tracing::debug!(released_kb, "start-up code released");
            drain(server, &in_flight, grace);
            ExitCode::SUCCESS
        }
        Err(e) => fail(e),
    }
}

/// Runs until a signal. On SIGTERM the listeners stop accepting and the requests in flight
/// have up to `grace` to be answered; `serve` returns as soon as none is left (at once when
/// idle), logging the start and the end of the draining. On SIGINT it stops at once.
fn drain(server: RunningServer, in_flight: &InFlight, grace: std::time::Duration) {
    match server.wait_for_signal() {
        Some(Stop::Graceful) => {
            let started = std::time::Instant::now();
            tracing::info!(
                in_flight = in_flight.count(),
                grace_period_seconds = grace.as_secs(),
                "shutdown: draining, no new connections accepted"
            );
            let left = in_flight.wait_idle(grace);
            let elapsed_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
            if left == 0 {
                tracing::info!(
                    elapsed_ms,
                    "shutdown: drained, every request answered; exiting"
                );
            } else {
                tracing::warn!(
                    in_flight = left,
                    elapsed_ms,
                    "shutdown: grace period over, cutting the requests still in flight; exiting"
                );
            }
            server.detach();
        }
        Some(Stop::Fast) => {
            tracing::info!("shutdown: interrupted, exiting at once");
            server.wait();
        }
        None => server.wait(),
    }
}

/// An example legacy API `demo` runs the gateway in front of, with its shipped mapping
/// `mappings/<name>.yaml`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Example {
    /// Acme HR: numeric ids, an API-key header, teams with member endpoints.
    AcmeHr,
    /// Crewbase: string ids, a bearer token, membership as a list on the person.
    Crewbase,
    /// Keystone: a Rails-style API with wrapped records and `Token token=` auth.
    Keystone,
    /// Orbit: a JSON:API-style SaaS with OAuth 2.0 client credentials.
    Orbit,
    /// Orbit with SCIM Groups as its roles: one role per user, Administrator protected.
    OrbitRoles,
    /// Tallybook: users only, one role and a licence each, following groups the gateway holds.
    Tallybook,
}

/// What the demo needs of one example legacy API, made ready to serve.
struct DemoBackend {
    /// How the example calls itself.
    title: &'static str,
    /// The example API as a pingora service (its users already seeded).
    service: Box<dyn pingora::services::ServiceWithDependents>,
    /// The environment variable the shipped mapping's `backend.auth` reads the legacy
    /// credential from, and the value the demo sets it to (the example API's own secret).
    credential: (&'static str, String),
    /// The path of the example API's user list.
    users_path: &'static str,
    /// The userName of the first sample user (for the printed filter).
    sample_user_name: &'static str,
}

impl Example {
    /// The name on the command line, which also names the mapping file.
    fn name(self) -> &'static str {
        match self {
            Example::AcmeHr => "acme-hr",
            Example::Crewbase => "crewbase",
            Example::Keystone => "keystone",
            Example::Orbit => "orbit",
            Example::OrbitRoles => "orbit-roles",
            Example::Tallybook => "tallybook",
        }
    }

    /// The example API with `users` sample users and a fresh secret, served on `addr`.
    fn backend(self, addr: std::net::SocketAddr, users: usize) -> DemoBackend {
        let secret = format!("{}-{}", self.name(), uuid::Uuid::new_v4().simple());
        let service_name = format!("{} (example legacy API)", self.name());
        match self {
            Example::AcmeHr => {
                let api = AcmeHr::new(secret.clone());
                api.seed(users);
                DemoBackend {
                    title: "Acme HR",
                    service: http_service(&service_name, addr, 1, api),
                    credential: ("ACME_API_KEY", secret),
                    users_path: "/api/v1/users",
                    sample_user_name: "seed.user1",
                }
            }
            Example::Crewbase => {
                let api = Crewbase::new(secret.clone());
                api.seed(users);
                DemoBackend {
                    title: "Crewbase",
                    service: http_service(&service_name, addr, 1, api),
                    credential: ("CREWBASE_TOKEN", secret),
                    users_path: "/v2/people",
                    sample_user_name: "seed.person1",
                }
            }
            Example::Keystone => {
                let api = Keystone::new(secret.clone());
                api.seed(users);
                DemoBackend {
                    title: "Keystone",
                    service: http_service(&service_name, addr, 1, api),
                    // Rails token authentication: the variable holds the whole header value.
                    credential: ("KEYSTONE_AUTH", format!("Token token=\"{secret}\"")),
                    users_path: "/api/users",
                    sample_user_name: "seed.user1",
                }
            }
            Example::Orbit | Example::OrbitRoles => {
                // The client id is the one both Orbit mappings name; the secret is the
                // OAuth client secret the gateway trades for tokens.
                let api = Orbit::new("scim-gateway", secret.clone());
                api.seed(users);
                DemoBackend {
                    title: "Orbit",
                    service: http_service(&service_name, addr, 1, api),
                    credential: ("ORBIT_CLIENT_SECRET", secret),
                    users_path: "/api/v2/users",
                    sample_user_name: "seed.user1@example.com",
                }
            }
            Example::Tallybook => {
                let api = Tallybook::new(secret.clone());
                // Every account has the Owner who signed it up.
                api.seed_owner("owner@example.com");
                api.seed(users);
                DemoBackend {
                    title: "Tallybook",
                    service: http_service(&service_name, addr, 1, api),
                    credential: ("TALLYBOOK_TOKEN", secret),
                    users_path: "/api/users",
                    sample_user_name: "seed.user1@example.com",
                }
            }
        }
    }
}

fn demo(example: Example, port: u16, token: &str, users: usize) -> ExitCode {
    let backend_addr = match free_loopback_addr() {
        Ok(a) => a,
        Err(e) => return fail(format!("no free loopback port: {e}")),
    };
    let backend = example.backend(backend_addr, users);
    // The shipped mapping reads the legacy credential from the environment, as it would in
    // production; the demo sets that variable to the example API's secret. Set here, before
    // any thread is started.
    let (variable, secret) = &backend.credential;
    std::env::set_var(variable, secret);
    let mut config = Config::default();
    config.auth.token_sha256 = vec![token_digest_hex(token)];
    // Groups held by the gateway (Tallybook's): a store of this demo's own, gone with it.
    let store_file = std::env::temp_dir().join(format!(
        "scim-gateway-demo-{}-groups.db",
        std::process::id()
    ));
    config.store.url = format!("sqlite:{}", store_file.display());
    init_logging(&config);
    let mapping_name = format!("mappings/{}.yaml", example.name());
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut mapping = match mapping::load_file(&root.join(&mapping_name)) {
        Ok(m) => m,
        Err(e) => return fail(e),
    };
    let scim_addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
    let scim_addr = if port == 0 {
        free_loopback_addr().unwrap_or(scim_addr)
    } else {
        scim_addr
    };
    mapping.backend.base_url = format!("http://{backend_addr}");
    // The URLs the gateway writes name the address the banner prints, whatever Host a client
    // sends (localhost or 127.0.0.1 both reach it: the demo listens on loopback only).
    config.scim.public_url = format!("http://{scim_addr}{}", config.scim.base_path);
    // Built before the example API listens: roles it looks up by name (Orbit's) are pending
    // until then, and looked up again in the background.
    let gateway = match Gateway::new(config, mapping) {
        Ok(g) => Live::new(g),
        Err(e) => return fail(e),
    };
    let services = vec![
        backend.service,
        http_service("scim", scim_addr, 2, ScimApp::new(gateway.clone())),
        role_retry_service(&gateway),
    ];
    let server = match start_with_signals(server_conf(1, 1), services, &[backend_addr, scim_addr]) {
        Ok(s) => s,
        Err(e) => return fail(format!("{e} (try --port 0 for any free port)")),
    };
    // The roles the mapping names are looked up once the example API listens: the banner
    // waits for them, so that the first create already has the default role's id.
    let waiting = std::time::Instant::now();
    while gateway.roles_pending() && waiting.elapsed() < std::time::Duration::from_secs(10) {
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    if gateway.roles_pending() {
        tracing::warn!("the legacy roles are not looked up yet; creates answer 503 until they are");
    }
    let base = format!("http://{scim_addr}/scim/v2");
    let title = backend.title;
    let users_url = format!("http://{backend_addr}{}", backend.users_path);
    let filter = backend.sample_user_name;
    println!(
        "scim-gateway demo: {title}, described by {mapping_name}\n\
         \n  example legacy API ({title}): {users_url}  ({users} sample users)\
         \n  legacy credential:            ${variable}, which the mapping's backend.auth reads (set by the demo)\
         \n  SCIM base URL (Tenant URL):   {base}\
         \n  bearer token (Secret Token):  {token}\
         \n\nTry:\n  curl -s -H 'Authorization: Bearer {token}' '{base}/Users?filter=userName%20eq%20%22{filter}%22'\
         \n  curl -s -H 'Authorization: Bearer {token}' -H 'Content-Type: application/scim+json' \\\
         \n       -d '{{\"schemas\":[\"urn:ietf:params:scim:schemas:core:2.0:User\"],\"userName\":\"grace@example.com\",\"name\":{{\"givenName\":\"Grace\",\"familyName\":\"Hopper\"}},\"emails\":[{{\"type\":\"work\",\"value\":\"grace@example.com\",\"primary\":true}}]}}' \\\
         \n       {base}/Users\
         \n\nOther examples: scim-gateway demo --example acme-hr|crewbase|keystone|orbit|orbit-roles|tallybook. Ctrl-C stops it."
    );
    server.wait();
    for suffix in ["", "-wal", "-shm"] {
        let mut file = store_file.clone().into_os_string();
        file.push(suffix);
        let _ = std::fs::remove_file(file);
    }
    ExitCode::SUCCESS
}

fn check(files: &[PathBuf]) -> ExitCode {
    if files.is_empty() {
        return fail(
            "name at least one mapping file, e.g. scim-gateway check mappings/acme-hr.yaml",
        );
    }
    let mut failed = false;
    for f in files {
        match mapping::load_file(f) {
            Ok(m) => println!("{}: ok (mapping {:?})", f.display(), m.name),
            Err(e) => {
                eprintln!("{e}");
                failed = true;
            }
        }
    }
    if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

/// The in-process gateway `probe` and `explain` use: the configuration read as `serve` reads
/// it (or the defaults and environment), the mapping given on the command line.
fn onboarding_driver(
    mapping_file: &Path,
    target: &OnboardTarget,
    explain_live: Option<bool>,
) -> Result<Driver, String> {
    let mut config = match &target.config {
        Some(path) => Config::load(path),
        None => Config::from_env(),
    }
    .map_err(|e| e.to_string())?;
    config.log.level = "warn".into();
    init_logging(&config);
    config.mapping.file = mapping_file.to_path_buf();
    let mapping = mapping::load_file(mapping_file).map_err(|e| e.to_string())?;
    match explain_live {
        Some(live) => Driver::for_explain(config, mapping, &target.tenant, live),
        None => Driver::new(config, mapping, &target.tenant),
    }
    .map_err(|e| e.to_string())
}

/// The in-process gateway of `probe` or `explain` ([`onboarding_driver`]) and a runtime for
/// its requests.
fn onboarding(
    mapping_file: &Path,
    target: &OnboardTarget,
    explain_live: Option<bool>,
) -> Result<(Driver, tokio::runtime::Runtime), String> {
    let driver = onboarding_driver(mapping_file, target, explain_live)?;
    Ok((driver, command_runtime()?))
}

/// A runtime for a command's requests (`probe`, `explain`, `store`).
fn command_runtime() -> Result<tokio::runtime::Runtime, String> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start a runtime: {e}"))
}

/// An onboarding command's report on standard output: `text`, or the report as JSON.
fn print_report(report: &impl serde::Serialize, text: String, json: bool) {
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(report).unwrap_or_default()
        );
    } else {
        print!("{text}");
    }
}

fn probe(
    mapping_file: &Path,
    target: &OnboardTarget,
    allow_existing_users: bool,
    json: bool,
) -> ExitCode {
    let (driver, runtime) = match onboarding(mapping_file, target, None) {
        Ok(x) => x,
        Err(e) => return fail(e),
    };
    let options = onboard::probe::ProbeOptions {
        allow_existing_users,
    };
    let report = runtime.block_on(onboard::probe::probe(&driver, &options));
    print_report(&report, report.text(), json);
    if report.passed() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

/// The body argument of `explain`: JSON text, `@FILE`, or `-` (standard input).
fn explain_body(arg: Option<&str>) -> Result<Option<serde_json::Value>, String> {
    let text = match arg {
        None => return Ok(None),
        Some("-") => {
            let mut s = String::new();
            std::io::stdin()
                .read_to_string(&mut s)
                .map_err(|e| format!("could not read the body from standard input: {e}"))?;
            s
        }
        Some(a) => match a.strip_prefix('@') {
            Some(file) => std::fs::read_to_string(file)
                .map_err(|e| format!("could not read the body from {file}: {e}"))?,
            None => a.to_string(),
        },
    };
    serde_json::from_str(&text)
        .map(Some)
        .map_err(|e| format!("the body is not JSON: {e}"))
}

fn explain(
    mapping_file: &Path,
    target: &OnboardTarget,
    method: &str,
    path: &str,
    body: Option<&str>,
    live: bool,
    json: bool,
) -> ExitCode {
    let method = match method.to_ascii_uppercase().parse::<http::Method>() {
        Ok(m) => m,
        Err(_) => return fail(format!("{method:?} is not an HTTP method")),
    };
    let body = match explain_body(body) {
        Ok(b) => b,
        Err(e) => return fail(e),
    };
    let (driver, runtime) = match onboarding(mapping_file, target, Some(live)) {
        Ok(x) => x,
        Err(e) => return fail(e),
    };
    let request = onboard::explain::ExplainRequest {
        method,
        path: path.to_string(),
        body,
        live,
    };
    let explanation = runtime.block_on(onboard::explain::explain(driver, &request));
    print_report(&explanation, explanation.text(), json);
    if explanation.failed() {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

fn hash_token() -> ExitCode {
    let mut token = String::new();
    if let Err(e) = std::io::stdin().read_to_string(&mut token) {
        return fail(format!("could not read the token from standard input: {e}"));
    }
    let token = token.trim_end_matches(['\r', '\n']);
    if token.is_empty() {
        return fail(
            "no token on standard input; e.g.  printf %s \"$TOKEN\" | scim-gateway hash-token",
        );
    }
    println!("{}", token_digest_hex(token));
    ExitCode::SUCCESS
}

/// The keys file `args` name.
fn keys_path(args: &KeysFileArgs) -> Result<PathBuf, String> {
    if let Some(f) = &args.file {
        return Ok(f.clone());
    }
    let config = Config::load(&args.config).map_err(|e| e.to_string())?;
    if config.auth.keys_file.as_os_str().is_empty() {
        return Err(format!(
            "{} sets no auth.keys_file; set it (e.g. keys_file = \"/etc/scim-gateway/keys/keys.toml\") or pass --file",
            args.config.display()
        ));
    }
    Ok(config.auth.keys_file)
}

/// The keys file at `path`; an absent file has no keys yet (`missing_ok`).
fn read_keys(path: &Path, missing_ok: bool) -> Result<KeysFile, String> {
    if missing_ok && !path.exists() {
        return Ok(KeysFile::default());
    }
    keys::read_file(path)
        .map(|(file, _)| file)
        .map_err(|e| e.to_string())
}

fn keys_command(command: KeysCommand) -> ExitCode {
    let now = time::OffsetDateTime::now_utc();
    let result = match command {
        KeysCommand::New {
            tenant,
            scopes,
            label,
            expires,
            quiet,
            file,
        } => keys_new(
            &file,
            &tenant,
            &scopes,
            &label,
            expires.as_deref(),
            quiet,
            now,
        ),
        KeysCommand::List { file } => keys_list(&file, now),
        KeysCommand::Revoke { id, file } => keys_revoke(&file, &id, now),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => fail(e),
    }
}

fn keys_new(
    args: &KeysFileArgs,
    tenant: &str,
    scopes: &[String],
    label: &str,
    expires: Option<&str>,
    quiet: bool,
    now: time::OffsetDateTime,
) -> Result<(), String> {
    let path = keys_path(args)?;
    let scopes = Scopes::parse(scopes)?;
    let expires = expires.map(|e| keys::parse_expiry(e, now)).transpose()?;
    let mut file = read_keys(&path, true)?;
    let new = NewKey {
        tenant,
        scopes,
        label,
        expires,
    };
    let (entry, secret) = keys::generate(&mut file, &new, now).map_err(|e| e.to_string())?;
    keys::write_file(&path, &file).map_err(|e| e.to_string())?;
    if quiet {
        println!("{secret}");
        return Ok(());
    }
    let expiry = entry.expires.as_deref().unwrap_or("never");
    println!(
        "Created API key {id} for tenant {tenant:?} (scopes {scopes}, expires {expiry}) in {path}.\n\
         \n    {secret}\n\n\
         This secret is shown once and stored nowhere (the file keeps only its SHA-256).\n\
         Paste it as the Secret Token in Microsoft Entra ID (the API token in Okta, the token in\n\
         JumpCloud), with the Tenant URL https://<gateway>/t/{tenant}/scim/v2 (or .../scim/v2).\n\
         A running gateway picks the key up within a few seconds (or on SIGHUP).",
        id = entry.id,
        path = path.display(),
    );
    Ok(())
}

fn keys_list(args: &KeysFileArgs, now: time::OffsetDateTime) -> Result<(), String> {
    let path = keys_path(args)?;
    let (_, list) = keys::read_file(&path).map_err(|e| e.to_string())?;
    println!(
        "{:<10} {:<16} {:<24} {:<21} {:<20} {:<20} STATUS",
        "ID", "TENANT", "LABEL", "SCOPES", "CREATED", "EXPIRES"
    );
    for k in &list {
        let label: String = k.label.chars().take(24).collect();
        println!(
            "{:<10} {:<16} {:<24} {:<21} {:<20} {:<20} {}",
            k.id,
            k.tenant,
            label,
            k.scopes.to_string(),
            keys::format_time(k.created),
            k.expires
                .map(keys::format_time)
                .unwrap_or_else(|| "never".into()),
            k.status(now).as_str(),
        );
    }
    Ok(())
}

fn keys_revoke(args: &KeysFileArgs, id: &str, now: time::OffsetDateTime) -> Result<(), String> {
    let path = keys_path(args)?;
    let mut file = read_keys(&path, false)?;
    if keys::revoke(&mut file, id, now).map_err(|e| e.to_string())? {
        keys::write_file(&path, &file).map_err(|e| e.to_string())?;
        println!(
            "Revoked API key {id} in {}; a running gateway refuses it within a few seconds (or on SIGHUP).",
            path.display()
        );
    } else {
        println!("API key {id} was already revoked.");
    }
    Ok(())
}

#[derive(Subcommand)]
enum StoreCommand {
    /// Print every group of every tenant, with its members, as JSON on standard output.
    Export {
        #[arg(long, default_value = "config/gateway.toml")]
        config: PathBuf,
    },
    /// Write the groups of an export into the store (a group of the same tenant and id is
    /// overwritten), in one transaction.
    Import {
        /// The file written by `store export`.
        file: PathBuf,
        #[arg(long, default_value = "config/gateway.toml")]
        config: PathBuf,
    },
}

fn store_command(command: StoreCommand) -> ExitCode {
    use scim_gateway::store::GroupStore;
    let (StoreCommand::Export { config } | StoreCommand::Import { config, .. }) = &command;
    let run = async {
        let config = Config::load(config).map_err(|e| e.to_string())?;
        let metrics = std::sync::Arc::new(scim_gateway::metrics::Metrics::default());
        let store = GroupStore::open(&config.store.url, metrics)
            .await
            .map_err(|e| e.to_string())?;
        match &command {
            StoreCommand::Export { .. } => {
                let doc = store.export().await.map_err(|e| e.to_string())?;
                let text = serde_json::to_string_pretty(&doc).map_err(|e| e.to_string())?;
                println!("{text}");
            }
            StoreCommand::Import { file, .. } => {
                let text = std::fs::read_to_string(file)
                    .map_err(|e| format!("{}: {e}", file.display()))?;
                let doc = serde_json::from_str(&text)
                    .map_err(|e| format!("{}: not JSON: {e}", file.display()))?;
                let n = store.import(&doc).await.map_err(|e| e.to_string())?;
                eprintln!(
                    "imported {} groups with {} memberships into {}",
                    n.groups,
                    n.members,
                    store.redacted_url()
                );
            }
        }
        Ok::<(), String>(())
    };
    match command_runtime().and_then(|rt| rt.block_on(run)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => fail(e),
    }
}
