//! The gateway's log lines as a test reads them: a global JSON subscriber (installed once per
//! test binary) that keeps every line in memory, for tests that check what the provisioning
//! log or a warning says. Tests run in parallel in one binary: find your lines by the request
//! id you sent (`X-Request-Id`), or by ids only your test uses.

use std::io::Write;
use std::sync::{Arc, Mutex, OnceLock};

use serde_json::Value;

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn captured() -> &'static Captured {
    // Global rather than scoped: tracing caches per call site whether anyone listens, and the
    // gateway logs from its own threads.
    static LOGS: OnceLock<Captured> = OnceLock::new();
    LOGS.get_or_init(|| {
        let logs = Captured::default();
        let writer = logs.clone();
        let subscriber = tracing_subscriber::fmt()
            .json()
            .with_ansi(false)
            .with_max_level(tracing::Level::INFO)
            .with_writer(move || writer.clone())
            .finish();
        tracing::subscriber::set_global_default(subscriber)
            .expect("no other global subscriber in the test binary");
        logs
    })
}

/// Starts capturing (call it before the requests whose lines you want).
pub fn capture() {
    captured();
}

/// Every line logged so far, parsed.
pub fn lines() -> Vec<Value> {
    let bytes = captured().0.lock().unwrap().clone();
    String::from_utf8_lossy(&bytes)
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

/// The provisioning lines of the request with this `X-Request-Id`, in order.
pub fn provisioning(request_id: &str) -> Vec<Value> {
    lines()
        .into_iter()
        .filter(|l| l["target"] == "provisioning" && l["fields"]["request_id"] == request_id)
        .collect()
}

/// The member lines (`add_member`, `remove_member`) of the request with this `X-Request-Id`,
/// as (operation, outcome, scim_status, detail).
pub fn member_lines(request_id: &str) -> Vec<(String, String, u64, String)> {
    provisioning(request_id)
        .iter()
        .map(|l| &l["fields"])
        .filter(|f| {
            matches!(
                f["operation"].as_str(),
                Some("add_member" | "remove_member")
            )
        })
        .map(|f| {
            (
                f["operation"].as_str().unwrap_or_default().to_string(),
                f["outcome"].as_str().unwrap_or_default().to_string(),
                f["scim_status"].as_u64().unwrap_or_default(),
                f["detail"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect()
}
