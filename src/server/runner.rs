//! The gateway's own services, as its configuration says: the SCIM listener, the admin
//! listener, the background refresh of the counts and the look-up of pending roles. Starting and stopping them is the hosting
//! crate's (`scim-gateway-hosting`: pingora start-up, shared with the example APIs). The
//! listeners' limits against slow clients and too many connections (`[listen]`) are set here,
//! and their refusals counted in the gateway's metrics.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use pingora::services::background::GenBackgroundService;
use pingora::services::ServiceWithDependents;
use scim_gateway_hosting::{
    http_service_with, BusyAnswer, InFlight, Limits, ListenerEvents, ListenerOptions, Refusal,
};

use crate::config::{Config, ADMIN_MAX_CONNECTIONS};
use crate::metrics::Metrics;
use crate::scim::error::ScimError;
use crate::server::wire::SCIM_JSON;

use crate::server::admin::AdminApp;
use crate::server::app::ScimApp;
use crate::server::counts::CountsTask;
use crate::server::reload::Live;
use crate::server::role_retry::RoleRetryTask;

/// The services of a running gateway, as its configuration says: the SCIM listener
/// (`listen.address`), the admin listener (`admin.address`, unless `""`; one thread) and the
/// background refresh of the counts (with the admin listener, every
/// `admin.counts_interval_seconds` unless 0) and the task that looks the legacy roles up again
/// while they are pending ([`role_retry_service`]). Returns them with the addresses to wait
/// for.
pub fn gateway_services(gateway: &Live) -> (Vec<Box<dyn ServiceWithDependents>>, Vec<SocketAddr>) {
    gateway_services_counted(gateway, &InFlight::new())
}

/// [`gateway_services`], whose listeners count their requests in `in_flight` (what `serve`
/// waits for when it drains on SIGTERM).
pub fn gateway_services_counted(
    gateway: &Live,
    in_flight: &InFlight,
) -> (Vec<Box<dyn ServiceWithDependents>>, Vec<SocketAddr>) {
    let current = gateway.current();
    let config = &current.config;
    let scim = config.listen.address;
    let events: Arc<dyn ListenerEvents> = Arc::new(ListenerMetrics(current.metrics.clone()));
    let mut services = vec![http_service_with(
        "scim",
        scim,
        config.listen.threads,
        ScimApp::new(gateway.clone()),
        listener_options(config, config.listen.max_connections, &events, in_flight),
    )];
    services.push(role_retry_service(gateway));
    let mut addrs = vec![scim];
    if let Some(admin) = config.admin.socket_addr() {
        services.push(http_service_with(
            "admin",
            admin,
            1,
            AdminApp::new(gateway.clone()),
            listener_options(config, ADMIN_MAX_CONNECTIONS, &events, in_flight),
        ));
        addrs.push(admin);
        if config.admin.counts_interval_seconds > 0 {
            let task = CountsTask {
                gateway: gateway.clone(),
            };
            services.push(Box::new(GenBackgroundService::new(
                "counts".into(),
                Arc::new(task),
            )));
        }
    }
    (services, addrs)
}

/// The background task that looks the legacy roles named by name up again while they are
/// pending (`groups.roles.lookup`; idle otherwise).
pub fn role_retry_service(gateway: &Live) -> Box<dyn ServiceWithDependents> {
    let task = RoleRetryTask {
        gateway: gateway.clone(),
    };
    Box::new(GenBackgroundService::new(
        "role look-up".into(),
        Arc::new(task),
    ))
}

/// The options of a listener of the gateway: `[listen]`'s timeouts, `max_connections`, the
/// refusals counted in the metrics, a SCIM error body for the 503 past the cap.
pub fn listener_options(
    config: &Config,
    max_connections: usize,
    events: &Arc<dyn ListenerEvents>,
    in_flight: &InFlight,
) -> ListenerOptions {
    let listen = &config.listen;
    let busy = ScimError::new(
        503,
        None,
        "the gateway has too many connections open; retry shortly",
    )
    .with_retry_after(1);
    ListenerOptions {
        limits: Limits {
            header_timeout: Duration::from_secs(listen.header_timeout_seconds),
            body_timeout: Duration::from_secs(listen.body_timeout_seconds),
            idle_timeout: Duration::from_secs(listen.idle_timeout_seconds),
            max_connections,
        },
        events: Some(events.clone()),
        in_flight: in_flight.clone(),
        busy_answer: Some(BusyAnswer {
            content_type: SCIM_JSON.into(),
            body: serde_json::to_vec(&busy.to_json()).unwrap_or_default(),
        }),
    }
}

/// The listeners' refusals and open connections, into the gateway's metrics
/// (`connections_refused_total`, `connections_open`).
struct ListenerMetrics(Arc<Metrics>);

impl ListenerEvents for ListenerMetrics {
    fn refused(&self, listener: &str, reason: Refusal) {
        self.0.record_connection_refused(listener, reason.as_str());
    }

    fn connections(&self, listener: &str, open: usize) {
        self.0.set_connections_open(listener, open);
    }
}
