//! Versions and version ranges, parsed the lenient way operators write them.
//!
//! Accepted version forms (all mean a semantic version underneath):
//! - `1.6.0`, `v1.6.0`, `V1.6.0` — a leading `v` is a label, not part of the number;
//! - `stable-2.14.10` — a vendor's label ending in `-` before the number; which
//!   label a product writes is its [`VersionFormat`], and versions whose numbers
//!   are equal are equal whatever their labels;
//! - `1.6`, `1` — missing parts are zero (`1.6.0`, `1.0.0`);
//! - `2.7.0.0` — Kong's four-part tags; the fourth part is kept for display and
//!   ordering but ranges only look at the first three;
//! - `1.7.0-rc.1` — pre-releases as in semver.
//!
//! Ranges are semver requirements (`>=1.4.0, <2.0.0`, `2.8.*`, `~2.8`) with two
//! differences that match how upgrade documents read: `2.8.x` is a wildcard, and a
//! bare version with no operator (`1.7.0`) means exactly that version, not `^1.7.0`.

use std::cmp::Ordering;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A product version.
#[derive(Debug, Clone)]
pub struct Version {
    sem: semver::Version,
    /// The fourth part of a Kong-style `a.b.c.d` tag.
    fourth: Option<u64>,
    /// Written before the number (`v`, `stable-`); shown, never compared.
    label: String,
}

/// Why a version or range could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{input}` is not a version: {reason}")]
pub struct VersionError {
    pub input: String,
    pub reason: String,
}

impl Version {
    pub fn new(major: u64, minor: u64, patch: u64) -> Self {
        Version { sem: semver::Version::new(major, minor, patch), fourth: None, label: String::new() }
    }

    pub fn parse(input: &str) -> Result<Self, VersionError> {
        let err = |reason: &str| VersionError { input: input.to_string(), reason: reason.into() };
        let (label, text) = split_label(input.trim());
        if text.is_empty() {
            return Err(err("it is empty"));
        }
        // Split off pre-release/build so only the numeric core is padded.
        let core_end = text.find(['-', '+']).unwrap_or(text.len());
        let (core, rest) = text.split_at(core_end);
        let parts: Vec<&str> = core.split('.').collect();
        if parts.len() > 4 {
            return Err(err("it has more than four dot-separated parts"));
        }
        let mut nums = [0u64; 4];
        for (i, part) in parts.iter().enumerate() {
            if part.is_empty() || !part.bytes().all(|b| b.is_ascii_digit()) {
                return Err(err("each dot-separated part must be a number (like 1.6.0)"));
            }
            nums[i] = part.parse().map_err(|_| err("a part is too large"))?;
        }
        let padded = format!("{}.{}.{}{}", nums[0], nums[1], nums[2], rest);
        let sem = semver::Version::parse(&padded).map_err(|e| err(&e.to_string()))?;
        let fourth = (parts.len() == 4).then_some(nums[3]);
        Ok(Version { sem, fourth, label: label.to_string() })
    }

    /// What was written before the number: `v`, `stable-` or nothing.
    pub fn label(&self) -> &str {
        &self.label
    }

    pub fn major(&self) -> u64 {
        self.sem.major
    }
    pub fn minor(&self) -> u64 {
        self.sem.minor
    }
    pub fn patch(&self) -> u64 {
        self.sem.patch
    }
    pub fn semver(&self) -> &semver::Version {
        &self.sem
    }

    /// The `major.minor` line this version belongs to.
    pub fn line(&self) -> (u64, u64) {
        (self.sem.major, self.sem.minor)
    }
}

/// Splits a label off the front of a version as typed: `v1.6.0` → (`v`,
/// `1.6.0`), `stable-2.14.10` → (`stable-`, `2.14.10`); anything else has none.
pub fn split_label(text: &str) -> (&str, &str) {
    let digit_at = |i: usize| text.as_bytes().get(i).is_some_and(u8::is_ascii_digit);
    if text.starts_with(['v', 'V']) && (text.len() == 1 || digit_at(1)) {
        return text.split_at(1);
    }
    let word = text.bytes().take_while(u8::is_ascii_alphanumeric).count();
    let starts_with_letter = text.bytes().next().is_some_and(|b| b.is_ascii_alphabetic());
    if starts_with_letter && text.as_bytes().get(word) == Some(&b'-') && digit_at(word + 1) {
        return text.split_at(word + 1);
    }
    ("", text)
}

impl PartialEq for Version {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}
impl Eq for Version {}
impl std::hash::Hash for Version {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        (self.sem.major, self.sem.minor, self.sem.patch, &self.sem.pre, self.fourth.unwrap_or(0)).hash(state);
    }
}

impl Ord for Version {
    fn cmp(&self, other: &Self) -> Ordering {
        self.sem.cmp_precedence(&other.sem).then(self.fourth.unwrap_or(0).cmp(&other.fourth.unwrap_or(0)))
    }
}
impl PartialOrd for Version {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Version {
    /// The version without its label: `2.14.10` for `stable-2.14.10`.
    pub fn number(&self) -> String {
        let s = &self.sem;
        let mut text = format!("{}.{}.{}", s.major, s.minor, s.patch);
        if let Some(d) = self.fourth {
            text.push_str(&format!(".{d}"));
        }
        if !s.pre.is_empty() {
            text.push_str(&format!("-{}", s.pre));
        }
        text
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{}", self.label, self.number())
    }
}

impl FromStr for Version {
    type Err = VersionError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Version::parse(s)
    }
}

/// How a product writes its versions: the label before the number, if any
/// (`stable-` for `stable-2.14.10`, `v` for `v1.6.0`). Versions are read with
/// or without it (and with a `v`), and shown with it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VersionFormat {
    prefix: String,
}

impl VersionFormat {
    pub fn new(prefix: &str) -> Self {
        VersionFormat { prefix: prefix.to_string() }
    }

    /// Reads `text` as a version of this product.
    pub fn parse(&self, text: &str) -> Result<Version, VersionError> {
        self.adopt(Version::parse(text)?)
    }

    /// `version` written this product's way; an error when it carries a label
    /// the product does not write (`edge-24.1.1` where releases are `stable-…`).
    pub fn adopt(&self, mut version: Version) -> Result<Version, VersionError> {
        if !self.accepts(version.label()) {
            return Err(VersionError {
                input: version.to_string(),
                reason: format!("this product's versions are written like `{}`", self.example()),
            });
        }
        version.label.clone_from(&self.prefix);
        Ok(version)
    }

    fn accepts(&self, label: &str) -> bool {
        label.is_empty() || label.eq_ignore_ascii_case("v") || label == self.prefix
    }

    fn example(&self) -> String {
        format!("{}1.2.3", self.prefix)
    }
}

/// A set of versions, written as a semver requirement (see the module comment).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VersionRange {
    text: String,
    req: semver::VersionReq,
}

impl VersionRange {
    pub fn parse(input: &str) -> Result<Self, VersionError> {
        let err = |reason: String| VersionError { input: input.to_string(), reason };
        if input.trim().is_empty() {
            return Err(err("a range may not be empty; use `*` for any version".into()));
        }
        let mut parts = Vec::new();
        for part in input.split(',') {
            parts.push(normalise_comparator(part.trim()).map_err(err)?);
        }
        let req = semver::VersionReq::parse(&parts.join(", "))
            .map_err(|e| err(format!("{e} (write ranges like `>=1.4.0, <2.0.0` or `2.8.x`)")))?;
        Ok(VersionRange { text: input.trim().to_string(), req })
    }

    pub fn any() -> Self {
        VersionRange { text: "*".into(), req: semver::VersionReq::STAR }
    }

    pub fn matches(&self, v: &Version) -> bool {
        self.req.matches(&v.sem)
    }

    pub fn as_str(&self) -> &str {
        &self.text
    }
}

/// Rewrites one comparator into semver's syntax: `x` wildcards become `*`, a leading
/// `v` is dropped, and a bare version gets `=` so it means exactly that version.
fn normalise_comparator(part: &str) -> Result<String, String> {
    if part.is_empty() {
        return Err("there is an empty part between commas".into());
    }
    let op_len = part.find(|c: char| c.is_ascii_alphanumeric() || c == '*').unwrap_or(part.len());
    let (op, version) = part.split_at(op_len);
    let (_, version) = split_label(version.trim());
    let mut pieces: Vec<&str> = version.split('.').map(|p| if p.eq_ignore_ascii_case("x") { "*" } else { p }).collect();
    // Kong's fourth part does not take part in range matching.
    if pieces.len() == 4 && pieces[3].bytes().all(|b| b.is_ascii_digit()) {
        pieces.truncate(3);
    }
    let version = pieces.join(".");
    let is_wildcard = version.contains('*');
    let op = op.trim();
    if op.is_empty() && !is_wildcard {
        return Ok(format!("={version}"));
    }
    Ok(format!("{op}{version}"))
}

impl fmt::Display for VersionRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

macro_rules! string_serde {
    ($ty:ty, $what:literal) => {
        impl<'de> Deserialize<'de> for $ty {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let text = String::deserialize(d)?;
                <$ty>::parse(&text).map_err(serde::de::Error::custom)
            }
        }
        impl Serialize for $ty {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.collect_str(self)
            }
        }
        impl schemars::JsonSchema for $ty {
            fn schema_name() -> std::borrow::Cow<'static, str> {
                stringify!($ty).into()
            }
            fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
                schemars::json_schema!({ "type": "string", "description": $what })
            }
        }
    };
}
string_serde!(Version, "A version such as 1.6.0, v1.6.0, stable-2.14.10, 2.8 or 2.7.0.0");
string_serde!(VersionRange, "A version range such as `>=1.4.0, <2.0.0`, `2.8.x` or `1.7.0` (exact)");

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &str) -> Version {
        Version::parse(s).unwrap()
    }
    fn r(s: &str) -> VersionRange {
        VersionRange::parse(s).unwrap()
    }

    #[test]
    fn lenient_versions_read_as_operators_write_them() {
        assert_eq!(v("v1.6.0"), v("1.6.0"));
        assert_eq!(v("1.6"), Version::new(1, 6, 0));
        assert_eq!(v(" 2 "), Version::new(2, 0, 0));
        assert_eq!(v("2.7.0.0").to_string(), "2.7.0.0");
        assert!(v("2.7.0.1") > v("2.7.0.0"));
        assert!(v("2.7.0.0") < v("2.8.0"));
        assert!(v("1.7.0-rc.1") < v("1.7.0"));
    }

    #[test]
    fn labels_are_shown_but_not_compared() {
        assert_eq!(v("stable-2.14.10"), v("2.14.10"));
        assert_eq!(v("stable-2.14.10").to_string(), "stable-2.14.10");
        assert_eq!(v("stable-2.14.10").label(), "stable-");
        assert_eq!(v("V1.6").to_string(), "V1.6.0");
        assert!(v("stable-2.14.10") > v("2.14.9"));
        assert_eq!(split_label("1.7.0-rc.1"), ("", "1.7.0-rc.1"));
        assert_eq!(split_label("latest"), ("", "latest"));
    }

    #[test]
    fn a_format_writes_its_prefix_and_refuses_other_labels() {
        let linkerd = VersionFormat::new("stable-");
        assert_eq!(linkerd.parse("2.14.10").unwrap().to_string(), "stable-2.14.10");
        assert_eq!(linkerd.parse("v2.14.10").unwrap().to_string(), "stable-2.14.10");
        assert_eq!(linkerd.parse("stable-2.14").unwrap(), Version::new(2, 14, 0));
        let e = linkerd.parse("edge-24.1.1").unwrap_err();
        assert_eq!(
            e.to_string(),
            "`edge-24.1.1` is not a version: this product's versions are written like `stable-1.2.3`"
        );
        let plain = VersionFormat::default();
        assert_eq!(plain.parse("v1.6.0").unwrap().to_string(), "1.6.0");
        assert!(plain.parse("stable-1.6.0").is_err());
        assert!(r("stable-2.14.x").matches(&linkerd.parse("2.14.3").unwrap()));
    }

    #[test]
    fn malformed_versions_say_why() {
        for bad in ["", "v", "1..2", "1.a", "1.2.3.4.5", "latest"] {
            let e = Version::parse(bad).unwrap_err();
            assert_eq!(e.input, bad);
            assert!(!e.reason.is_empty());
        }
    }

    #[test]
    fn bare_version_in_a_range_is_exact() {
        assert!(r("1.7.0").matches(&v("1.7.0")));
        assert!(!r("1.7.0").matches(&v("1.7.1")));
        assert!(!r("1.7.0").matches(&v("1.8.0")));
    }

    #[test]
    fn x_wildcards_and_v_prefixes_work_in_ranges() {
        assert!(r("2.8.x").matches(&v("2.8.4")));
        assert!(!r("2.8.x").matches(&v("2.9.0")));
        assert!(r(">=v1.4.0, <2.0.0").matches(&v("1.9.9")));
        assert!(!r(">=v1.4.0, <2.0.0").matches(&v("2.0.0")));
        assert!(r("*").matches(&v("0.1.0")));
        assert!(r(">=2.7.0.0").matches(&v("2.7.0.0")));
    }

    #[test]
    fn range_boundaries_are_inclusive_or_exclusive_as_written() {
        let range = r(">=2.1.0, <3.0.0");
        assert!(range.matches(&v("2.1.0")));
        assert!(!range.matches(&v("2.0.9")));
        assert!(!range.matches(&v("3.0.0")));
    }

    #[test]
    fn malformed_ranges_say_why() {
        for bad in ["", ">=1.0,", ">=>1", "1.2.q"] {
            assert!(VersionRange::parse(bad).is_err(), "{bad} should fail");
        }
    }
}
