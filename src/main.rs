//! The `scim-gateway` command: `serve` (production), `demo` (the gateway in front of the example
//! legacy API, ready for curl), `check` (validate a mapping), `hash-token`.

use std::io::{IsTerminal, Read};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Parser, Subcommand};
use mimalloc::MiMalloc;
use scim_gateway::config::{Config, LogFormat};
use scim_gateway::example_api::acme_hr::AcmeHr;
use scim_gateway::mapping;
use scim_gateway::server::app::ScimApp;
use scim_gateway::server::auth::token_digest_hex;
use scim_gateway::server::gateway::Gateway;
use scim_gateway::server::runner::{self, free_loopback_addr, http_service, server_conf};

/// A request makes and drops many small JSON values; mimalloc serves them with about half the
/// instructions of glibc's allocator (docs/performance.md).
#[global_allocator]
static ALLOCATOR: MiMalloc = MiMalloc;

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
    /// Run the gateway in front of the example legacy API "Acme HR", both on loopback, and print
    /// how to call it.
    Demo {
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
    /// Read a token on standard input and print the SHA-256 digest that auth.token_sha256 expects.
    HashToken,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Serve { config } => serve(&config),
        Command::Demo { port, token, users } => demo(port, &token, users),
        Command::Check { mapping } => check(&mapping),
        Command::HashToken => hash_token(),
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
        LogFormat::Text => builder.try_init(),
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
    init_logging(&config);
    let mapping = match mapping::load_file(&config.mapping.file) {
        Ok(m) => m,
        Err(e) => return fail(e),
    };
    if config.auth.token_sha256.is_empty() {
        tracing::warn!("auth.token_sha256 is empty: every SCIM request will be refused with 401");
    }
    let addr = config.listen.address;
    let conf = server_conf(
        config.shutdown.grace_period_seconds,
        config.shutdown.timeout_seconds,
    );
    let gateway = match Gateway::new(config, mapping) {
        Ok(g) => Arc::new(g),
        Err(e) => return fail(e),
    };
    let (services, addrs) = runner::gateway_services(&gateway);
    tracing::info!(%addr, admin = %gateway.config.admin.address, "scim-gateway listening");
    match runner::start_with_signals(conf, services, &addrs) {
        Ok(server) => {
            server.wait();
            ExitCode::SUCCESS
        }
        Err(e) => fail(e),
    }
}

fn demo(port: u16, token: &str, users: usize) -> ExitCode {
    let mut config = Config::default();
    config.auth.token_sha256 = vec![token_digest_hex(token)];
    init_logging(&config);
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mapping_file = root.join("mappings/acme-hr.yaml");
    let mut mapping = match mapping::load_file(&mapping_file) {
        Ok(m) => m,
        Err(e) => return fail(e),
    };
    let legacy_key = format!("acme-{}", uuid::Uuid::new_v4().simple());
    let backend_addr = match free_loopback_addr() {
        Ok(a) => a,
        Err(e) => return fail(format!("no free loopback port: {e}")),
    };
    let scim_addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
    let scim_addr = if port == 0 {
        free_loopback_addr().unwrap_or(scim_addr)
    } else {
        scim_addr
    };
    mapping.backend.base_url = format!("http://{backend_addr}");
    mapping.backend.auth = Some(mapping::BackendAuth::Header {
        name: "X-Acme-Api-Key".into(),
        secret: mapping::SecretSource::Value(legacy_key.clone()),
    });
    let acme = AcmeHr::new(legacy_key);
    acme.seed(users);
    let gateway = match Gateway::new(config, mapping) {
        Ok(g) => Arc::new(g),
        Err(e) => return fail(e),
    };
    let services = vec![
        http_service("acme-hr (example legacy API)", backend_addr, 1, acme),
        http_service("scim", scim_addr, 2, ScimApp::new(gateway)),
    ];
    let server =
        match runner::start_with_signals(server_conf(1, 1), services, &[backend_addr, scim_addr]) {
            Ok(s) => s,
            Err(e) => return fail(format!("{e} (try --port 0 for any free port)")),
        };
    let base = format!("http://{scim_addr}/scim/v2");
    println!(
        "scim-gateway demo\n\
         \n  example legacy API (Acme HR): http://{backend_addr}/api/v1/users  ({users} sample users)\
         \n  SCIM base URL (Tenant URL):   {base}\
         \n  bearer token (Secret Token):  {token}\
         \n\nTry:\n  curl -s -H 'Authorization: Bearer {token}' '{base}/Users?filter=userName%20eq%20%22seed.user1%22'\
         \n  curl -s -H 'Authorization: Bearer {token}' -H 'Content-Type: application/scim+json' \\\
         \n       -d '{{\"schemas\":[\"urn:ietf:params:scim:schemas:core:2.0:User\"],\"userName\":\"grace@example.com\",\"name\":{{\"givenName\":\"Grace\",\"familyName\":\"Hopper\"}},\"emails\":[{{\"type\":\"work\",\"value\":\"grace@example.com\",\"primary\":true}}]}}' \\\
         \n       {base}/Users\
         \n\nCtrl-C stops it."
    );
    server.wait();
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
