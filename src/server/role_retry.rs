//! The background task that looks the legacy roles up again while they are pending
//! (`server::roles`): the legacy API could not answer at start, or at a reload that replaced a
//! generation still waiting for them. It tries with a capped back-off ([`FIRST_WAIT`] doubling
//! to [`MAX_WAIT`]) until the look-up succeeds, then installs the role ids the way a reload
//! installs a generation ([`Live::resolve_roles`]); then it sleeps until a generation with
//! pending roles is installed again.

use std::time::Duration;

use async_trait::async_trait;
use pingora::server::ShutdownWatch;
use pingora::services::background::BackgroundService;

use crate::server::reload::{Live, RolesAttempt};

/// The wait after the first failed look-up.
pub const FIRST_WAIT: Duration = Duration::from_millis(500);

/// The longest wait between two look-ups.
pub const MAX_WAIT: Duration = Duration::from_secs(30);

/// The wait after a failed look-up that followed one of `previous`.
pub(crate) fn next_wait(previous: Duration) -> Duration {
    (previous * 2).min(MAX_WAIT)
}

/// The task (a pingora background service, started with the gateway's listeners).
pub struct RoleRetryTask {
    /// The running gateway: each attempt looks at its current generation.
    pub gateway: Live,
}

#[async_trait]
impl BackgroundService for RoleRetryTask {
    async fn start(&self, mut shutdown: ShutdownWatch) {
        let mut wait = FIRST_WAIT;
        loop {
            let pause = match self.gateway.resolve_roles().await {
                RolesAttempt::NothingPending | RolesAttempt::Installed => {
                    wait = FIRST_WAIT;
                    let status = self.gateway.current().role_lookup.clone();
                    tokio::select! {
                        _ = status.woken() => {}
                        _ = shutdown.changed() => return,
                    }
                    continue;
                }
                RolesAttempt::Superseded => FIRST_WAIT,
                RolesAttempt::Failed(_) => {
                    let this = wait;
                    wait = next_wait(wait);
                    this
                }
            };
            tokio::select! {
                _ = tokio::time::sleep(pause) => {}
                _ = shutdown.changed() => return,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_wait_doubles_from_half_a_second_up_to_thirty_seconds() {
        let mut waits = vec![FIRST_WAIT];
        while waits.len() < 9 {
            waits.push(next_wait(*waits.last().unwrap()));
        }
        let ms: Vec<u128> = waits.iter().map(Duration::as_millis).collect();
        assert_eq!(
            ms,
            [500, 1000, 2000, 4000, 8000, 16_000, 30_000, 30_000, 30_000]
        );
    }
}
