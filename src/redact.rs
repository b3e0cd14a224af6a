//! Keeping secrets out of what stepwise writes and shows: the values of
//! variables a runbook marks `secret`, bearer tokens, and values that look like
//! a Secret's data (long base64 after a key). Every sink — the transcript, the
//! diagnostic log, the events front ends draw — passes its text through
//! [`text`] first.
//!
//! The list of secret values is process-wide, like a CI system's masks: a value
//! is registered once ([`add`]) as soon as it is known, and from then on no
//! sink can write it, whichever module produced the text.

use std::borrow::Cow;
use std::sync::{LazyLock, RwLock};

use regex::Regex;

/// What a secret is replaced with.
pub const MASK: &str = "«secret»";

/// Values shorter than this are not masked: replacing every `on` or `1` in a
/// transcript would hide more than it protects.
const SHORTEST: usize = 4;

static VALUES: RwLock<Vec<String>> = RwLock::new(Vec::new());

#[expect(clippy::expect_used, reason = "a constant pattern, compiled by the unit tests")]
/// `Authorization: Bearer x`, `--token=x`, `token: x` and the like.
static TOKEN: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)(\bbearer\s+|--token[= ]|\btoken\s*[:=]\s*)[A-Za-z0-9._~+/=-]{8,}").expect("a valid pattern")
});

/// `key: <40 or more base64 characters>`: how a Secret's data, a TLS key or a
/// license looks in YAML or JSON output.
#[expect(clippy::expect_used, reason = "a constant pattern, compiled by the unit tests")]
static SECRET_DATA: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r#"(:\s*\\?"?)[A-Za-z0-9+/]{40,}={0,2}"#).expect("a valid pattern"));

/// Registers a secret value; from now on every sink masks it.
pub fn add(value: &str) {
    if value.len() < SHORTEST {
        return;
    }
    // JSON sinks (the transcript) hold the value escaped.
    let escaped = serde_json::to_string(value).map(|q| q[1..q.len() - 1].to_string()).unwrap_or_default();
    let mut values = VALUES.write().unwrap_or_else(std::sync::PoisonError::into_inner);
    for v in [value.to_string(), escaped] {
        if !v.is_empty() && !values.contains(&v) {
            values.push(v);
        }
    }
    // Longer values first, so a value containing another is masked whole.
    values.sort_by_key(|v| std::cmp::Reverse(v.len()));
}

/// `s` with every registered value, bearer token and Secret-like value masked.
pub fn text(s: &str) -> Cow<'_, str> {
    let mut out = Cow::Borrowed(s);
    {
        let values = VALUES.read().unwrap_or_else(std::sync::PoisonError::into_inner);
        for value in values.iter() {
            if out.contains(value.as_str()) {
                out = Cow::Owned(out.replace(value.as_str(), MASK));
            }
        }
    }
    if TOKEN.is_match(&out) {
        out = Cow::Owned(TOKEN.replace_all(&out, |c: &regex::Captures| format!("{}{MASK}", &c[1])).into_owned());
    }
    if SECRET_DATA.is_match(&out) {
        let masked = SECRET_DATA.replace_all(&out, |c: &regex::Captures| {
            let value = &c[0][c[1].len()..];
            // Digests and ids (hex, one case) are not secrets; random bytes in
            // base64 nearly always mix both cases.
            let mixed = value.bytes().any(|b| b.is_ascii_uppercase()) && value.bytes().any(|b| b.is_ascii_lowercase());
            if mixed { format!("{}{MASK}", &c[1]) } else { c[0].to_string() }
        });
        if masked != out {
            out = Cow::Owned(masked.into_owned());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registered_values_tokens_and_secret_data_are_masked() {
        add("hunter2-registry-password");
        assert_eq!(text("login -p hunter2-registry-password ok"), format!("login -p {MASK} ok"));
        assert_eq!(text("Authorization: Bearer eyJhbGciOiJSUzI1NiJ9.abc"), format!("Authorization: Bearer {MASK}"));
        assert_eq!(text("kong --token=abcdefgh12345"), format!("kong --token={MASK}"));
        let key = "LS0tLS1CRUdJTiBQUklWQVRFIEtFWS0tLS0tCk1JSUV2Z0lCQURBTkJna3Fo";
        assert_eq!(text(&format!("  tls.key: {key}")), format!("  tls.key: {MASK}"));
        assert_eq!(text(&format!(r#"{{"key":"{key}"}}"#)), format!(r#"{{"key":"{MASK}"}}"#));
    }

    #[test]
    fn ordinary_text_is_left_alone() {
        let digest = "\"sha256\":\"9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08\"";
        for s in ["restarted deployment tui-app-b/web", "image: nginx@sha256:0123abcd", "mode: strict", "on", digest] {
            assert_eq!(text(s), s);
        }
        add("on");
        assert_eq!(text("mode: on"), "mode: on", "values too short to mask are not");
    }
}
