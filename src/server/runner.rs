//! The gateway's own services, as its configuration says: the SCIM listener, the admin
//! listener and the background refresh of the counts. Starting and stopping them is the hosting
//! crate's (`scim-gateway-hosting`: pingora start-up, shared with the example APIs).

use std::net::SocketAddr;
use std::sync::Arc;

use pingora::services::background::GenBackgroundService;
use pingora::services::ServiceWithDependents;
use scim_gateway_hosting::http_service;

use crate::server::admin::AdminApp;
use crate::server::app::ScimApp;
use crate::server::counts::CountsTask;
use crate::server::reload::Live;

/// The services of a running gateway, as its configuration says: the SCIM listener
/// (`listen.address`), the admin listener (`admin.address`, unless `""`; one thread) and the
/// background refresh of the counts (with the admin listener, every
/// `admin.counts_interval_seconds` unless 0). Returns them with the addresses to wait for.
pub fn gateway_services(gateway: &Live) -> (Vec<Box<dyn ServiceWithDependents>>, Vec<SocketAddr>) {
    let current = gateway.current();
    let config = &current.config;
    let scim = config.listen.address;
    let mut services = vec![http_service(
        "scim",
        scim,
        config.listen.threads,
        ScimApp::new(gateway.clone()),
    )];
    let mut addrs = vec![scim];
    if let Some(admin) = config.admin.socket_addr() {
        services.push(http_service(
            "admin",
            admin,
            1,
            AdminApp::new(gateway.clone()),
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
