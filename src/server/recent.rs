//! The record cache as a request uses it: the user records it read or wrote are put there, and
//! those a write made stale taken out, once the request's answer is written (the answer does not
//! wait on the cache's bookkeeping, which moka does on the inserting request, in batches). The
//! listener runs that work before it reads the connection's next request
//! (`RequestRecord::after_answer`), so that request sees it; a request on another connection may
//! come a moment before it, and then reads the legacy API (the cache only ever saves a read).

use bytes::Bytes;

use crate::cache::records::RecordWork;
use crate::server::context::Ctx;

/// Puts `raw` in the record cache as user `id`'s record, once the answer is written.
pub(crate) fn remember(cx: &Ctx<'_>, id: &str, raw: Bytes) {
    cx.record.after_answer(RecordWork::Put {
        tenant: cx.tenant.name.clone(),
        id: id.to_owned(),
        record: raw,
    });
}

/// Takes user `id` out of the record cache: at once, so that no request takes the stale
/// record from now on, and again after the answer when the request left cache work for then
/// (a record it [`remember`]ed before must not come back after).
pub(crate) async fn forget(cx: &Ctx<'_>, id: &str) {
    cx.records.forget(&cx.tenant.name, id).await;
    if cx.record.has_after_answer() {
        cx.record.after_answer(RecordWork::Forget {
            tenant: cx.tenant.name.clone(),
            id: id.to_owned(),
        });
    }
}
