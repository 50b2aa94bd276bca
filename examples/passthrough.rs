//! A plain pingora reverse proxy that forwards every request, unchanged, to one backend: the
//! baseline of the load harness (`benches/load/run`). It does no authentication, parsing or
//! translation, so "gateway vs pass-through" isolates what SCIM translation costs on top of
//! pingora's own proxying (docs/performance.md, "Targets"). Not part of the product.
//!
//! ```text
//! cargo run --release --example passthrough -- --port 18082 --backend 127.0.0.1:18081
//! ```

use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;

use async_trait::async_trait;
use clap::Parser;
use pingora::upstreams::peer::HttpPeer;
use pingora_proxy::{http_proxy_service, ProxyHttp, Session};
use scim_gateway_hosting::{server_conf, start_with_signals};

#[derive(Parser)]
#[command(about = "A plain pingora pass-through proxy to one backend")]
struct Args {
    /// Port on 127.0.0.1.
    #[arg(long, default_value_t = 18082)]
    port: u16,
    /// The backend's address, e.g. 127.0.0.1:18081.
    #[arg(long)]
    backend: SocketAddr,
    /// Worker threads (the gateway's default is 2).
    #[arg(long, default_value_t = 2)]
    threads: usize,
}

struct Passthrough {
    backend: SocketAddr,
}

#[async_trait]
impl ProxyHttp for Passthrough {
    type CTX = ();

    fn new_ctx(&self) -> Self::CTX {}

    async fn upstream_peer(
        &self,
        _session: &mut Session,
        _ctx: &mut Self::CTX,
    ) -> pingora::Result<Box<HttpPeer>> {
        Ok(Box::new(HttpPeer::new(self.backend, false, String::new())))
    }
}

fn main() -> ExitCode {
    let args = Args::parse();
    let addr = SocketAddr::from(([127, 0, 0, 1], args.port));
    let mut service = http_proxy_service(
        &Arc::new(server_conf(0, 1)),
        Passthrough {
            backend: args.backend,
        },
    );
    service.add_tcp(&addr.to_string());
    service.threads = Some(args.threads.max(1));
    match start_with_signals(server_conf(0, 1), vec![Box::new(service)], &[addr]) {
        Ok(server) => {
            println!(
                "pass-through listening on http://{addr} -> {}",
                args.backend
            );
            server.wait();
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("passthrough: {e}");
            ExitCode::from(2)
        }
    }
}
