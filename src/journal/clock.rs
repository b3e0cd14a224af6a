//! Timestamps for records and session ids.

use time::OffsetDateTime;
use time::macros::format_description;

/// An instant in the two forms the journal needs.
pub(crate) struct Stamp {
    /// RFC 3339 in UTC with a fixed number of fraction digits, so that timestamps
    /// sort as plain strings (the well-known format trims trailing zeros, which
    /// breaks that).
    pub rfc3339: String,
    /// `YYYYMMDD-HHMMSS`, the start of a session id.
    pub compact: String,
}

pub(crate) fn now() -> Stamp {
    let at = OffsetDateTime::now_utc();
    let rfc3339 = at
        .format(format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:6]Z"))
        .unwrap_or_else(|_| fallback(at));
    let compact =
        at.format(format_description!("[year][month][day]-[hour][minute][second]")).unwrap_or_else(|_| fallback(at));
    Stamp { rfc3339, compact }
}

/// Formatting a UTC time with a fixed description cannot fail in practice; if it
/// ever does, a record with seconds since the epoch is better than none.
fn fallback(at: OffsetDateTime) -> String {
    at.unix_timestamp().to_string()
}

pub(crate) fn now_rfc3339() -> String {
    now().rfc3339
}
