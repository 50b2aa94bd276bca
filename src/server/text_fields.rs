//! The fields of the text log's lines (`log.format = "text"`), written exactly as
//! `tracing-subscriber`'s default field formatter writes them (`name="value"`, a space
//! between fields), with a short way for the common field: a string of printable ASCII
//! without quote or backslash is written as it is instead of through `Debug` and the
//! formatter's styling wrappers (a provisioning line's eight strings took most of the ~18,000
//! instructions the line cost). Every other field, and every field of a line written with
//! colours, goes to the default formatter itself, so the text is the same byte for byte.

use std::fmt;

use tracing::field::{Field, Visit};
use tracing_subscriber::field::{MakeVisitor, VisitFmt, VisitOutput};
use tracing_subscriber::fmt::format::{DefaultVisitor, Writer};

/// The text log's field formatter (see the module's documentation).
#[derive(Debug, Default, Clone, Copy)]
pub struct TextFields;

impl<'a> MakeVisitor<Writer<'a>> for TextFields {
    type Visitor = TextVisitor<'a>;

    fn make_visitor(&self, writer: Writer<'a>) -> TextVisitor<'a> {
        TextVisitor {
            plain: !writer.has_ansi_escapes(),
            writer,
            is_empty: true,
            result: Ok(()),
        }
    }
}

/// Writes one line's fields: see [`TextFields`].
pub struct TextVisitor<'a> {
    writer: Writer<'a>,
    /// No colours: the short way may be taken.
    plain: bool,
    /// No field written yet (none is preceded by a space).
    is_empty: bool,
    result: fmt::Result,
}

impl TextVisitor<'_> {
    /// Hands the field to the default formatter, as the next field of the line.
    fn by_default(&mut self, field: &Field, record: impl FnOnce(&mut DefaultVisitor<'_>)) {
        if self.result.is_err() || field.name().starts_with("log.") {
            // A `log` record's metadata: the default formatter skips it, writing nothing.
            return;
        }
        let mut visitor = DefaultVisitor::new(self.writer.by_ref(), self.is_empty);
        record(&mut visitor);
        self.result = visitor.finish();
        self.is_empty = false;
    }

    /// Whether `field` may be written the short way: no colours, no error yet, and a name the
    /// default formatter writes as it is (not the message, a raw identifier or `log` metadata).
    fn short(&self, field: &Field) -> bool {
        let name = field.name();
        self.plain
            && self.result.is_ok()
            && name != "message"
            && !name.starts_with("r#")
            && !name.starts_with("log.")
    }

    /// Writes `name=` and then the value `value` writes, after a space unless it is the first.
    fn write_field(&mut self, field: &Field, value: impl FnOnce(&mut Writer<'_>) -> fmt::Result) {
        let first = self.is_empty;
        let w = &mut self.writer;
        self.result = (|| {
            if !first {
                w.write_char(' ')?;
            }
            w.write_str(field.name())?;
            w.write_char('=')?;
            value(w)
        })();
        self.is_empty = false;
    }

    /// A number or a boolean: its `Debug` text, without the default formatter's wrappers (which
    /// `record` hands it to when the short way may not be taken).
    fn record_plain(
        &mut self,
        field: &Field,
        value: &dyn fmt::Debug,
        record: impl FnOnce(&mut DefaultVisitor<'_>),
    ) {
        if self.short(field) {
            self.write_field(field, |w| write!(w, "{value:?}"));
        } else {
            self.by_default(field, record);
        }
    }
}

/// Whether `Debug` writes `value` as it is, between quotes: printable ASCII, no quote and no
/// backslash.
fn debug_is_verbatim(value: &str) -> bool {
    value
        .bytes()
        .all(|b| (b' '..=b'~').contains(&b) && b != b'"' && b != b'\\')
}

impl Visit for TextVisitor<'_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        if !(self.short(field) && debug_is_verbatim(value)) {
            return self.by_default(field, |v| v.record_str(field, value));
        }
        self.write_field(field, |w| {
            w.write_char('"')?;
            w.write_str(value)?;
            w.write_char('"')
        });
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.record_plain(field, &value, |v| v.record_u64(field, value));
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.record_plain(field, &value, |v| v.record_i64(field, value));
    }

    fn record_f64(&mut self, field: &Field, value: f64) {
        self.record_plain(field, &value, |v| v.record_f64(field, value));
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.record_plain(field, &value, |v| v.record_bool(field, value));
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.by_default(field, |v| v.record_debug(field, value));
    }

    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        self.by_default(field, |v| v.record_error(field, value));
    }
}

impl VisitOutput<fmt::Result> for TextVisitor<'_> {
    fn finish(self) -> fmt::Result {
        self.result
    }
}

impl VisitFmt for TextVisitor<'_> {
    fn writer(&mut self) -> &mut dyn fmt::Write {
        &mut self.writer
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::io;
    use std::sync::{Arc, Mutex};
    use tracing_subscriber::fmt::format::{DefaultFields, FormatFields};

    /// A writer the test reads back.
    #[derive(Clone, Default)]
    struct Buffer(Arc<Mutex<Vec<u8>>>);

    impl io::Write for Buffer {
        fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
            self.0
                .lock()
                .expect("not poisoned")
                .extend_from_slice(bytes);
            Ok(bytes.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    /// The lines `emit` logs, written by a text subscriber with `fields` (and colours when
    /// `ansi`), without the time.
    fn lines<N>(fields: N, ansi: bool, emit: impl FnOnce()) -> String
    where
        N: for<'w> FormatFields<'w> + Send + Sync + 'static,
    {
        let buffer = Buffer::default();
        let out = buffer.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(move || out.clone())
            .with_ansi(ansi)
            .without_time()
            .fmt_fields(fields)
            .finish();
        tracing::subscriber::with_default(subscriber, emit);
        let bytes = buffer.0.lock().expect("not poisoned").clone();
        String::from_utf8(bytes).expect("UTF-8")
    }

    /// A line like the provisioning log's: strings, an absent and a present option, numbers.
    fn provisioning_like(tenant: &str, user: Option<&str>, detail: &str, latency_ms: f64) {
        tracing::info!(
            target: "provisioning",
            tenant,
            request_id = "3f2a9c",
            operation = "patch",
            resource_id = Some("42"),
            user_name = user,
            outcome = "ok",
            scim_status = 200u16,
            legacy_status = Some(204u16),
            latency_ms,
            detail,
            "provisioning"
        );
    }

    fn same_text(tenant: &str, user: Option<&str>, detail: &str, ansi: bool) {
        let ours = lines(TextFields, ansi, || {
            provisioning_like(tenant, user, detail, 1.25)
        });
        let theirs = lines(DefaultFields::new(), ansi, || {
            provisioning_like(tenant, user, detail, 1.25)
        });
        assert_eq!(ours, theirs);
    }

    #[test]
    fn a_provisioning_line_reads_as_the_default_formatter_writes_it() {
        let plain = lines(TextFields, false, || {
            provisioning_like("acme", Some("ada@example.com"), "updated user 42", 1.25)
        });
        assert!(
            plain.ends_with(
                "provisioning: provisioning tenant=\"acme\" request_id=\"3f2a9c\" \
                 operation=\"patch\" resource_id=\"42\" user_name=\"ada@example.com\" \
                 outcome=\"ok\" scim_status=200 legacy_status=204 latency_ms=1.25 \
                 detail=\"updated user 42\"\n"
            ),
            "{plain}"
        );
        same_text("acme", Some("ada@example.com"), "updated user 42", false);
        // Quotes, backslashes, control characters, non-ASCII and escape sequences are
        // escaped by `Debug`, as before.
        same_text(
            "a\"b",
            Some("x\\y"),
            "line\nbreak \u{1b}[31m é \u{301}",
            false,
        );
        same_text("acme", None, "", false);
        // With colours, every field is the default formatter's.
        same_text("acme", Some("ada"), "updated", true);
    }

    #[test]
    fn fields_first_or_after_a_skipped_one_are_spaced_as_before() {
        let emit = || {
            tracing::info!(
                a = "x",
                b = 3,
                c = "y\"",
                d = "z",
                e = -4i64,
                f = true,
                g = 1e21,
                h = 0.1
            )
        };
        assert_eq!(
            lines(TextFields, false, emit),
            lines(DefaultFields::new(), false, emit)
        );
        let only = || tracing::warn!(only = "one");
        assert_eq!(
            lines(TextFields, false, only),
            lines(DefaultFields::new(), false, only)
        );
    }

    proptest! {
        #[test]
        fn any_strings_read_as_the_default_formatter_writes_them(
            tenant in any::<String>(),
            user in proptest::option::of("[ -~]{0,12}"),
            detail in "[ -~\\n\\t\u{e9}\u{301}\u{1b}]{0,24}",
            latency_ms in any::<f64>(),
        ) {
            let emit = || provisioning_like(&tenant, user.as_deref(), &detail, latency_ms);
            let ours = lines(TextFields, false, emit);
            let theirs = lines(DefaultFields::new(), false, emit);
            prop_assert_eq!(ours, theirs);
        }
    }
}
