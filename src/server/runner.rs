//! The gateway's own services, as its configuration says: the SCIM listener, the admin
//! listener, the background refresh of the counts and the look-up of pending roles. Starting and stopping them is the hosting
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
use crate::server::role_retry::RoleRetryTask;

/// The services of a running gateway, as its configuration says: the SCIM listener
/// (`listen.address`), the admin listener (`admin.address`, unless `""`; one thread) and the
/// background refresh of the counts (with the admin listener, every
/// `admin.counts_interval_seconds` unless 0) and the task that looks the legacy roles up again
/// while they are pending ([`role_retry_service`]). Returns them with the addresses to wait
/// for.
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
    services.push(role_retry_service(gateway));
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
