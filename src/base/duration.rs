//! Timeouts as runbooks write them: `90s`, `5m`, `1h30m`.

use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Timeout(pub Duration);

impl Timeout {
    pub fn parse(input: &str) -> Result<Self, String> {
        let text = input.trim();
        if text.is_empty() {
            return Err("a timeout may not be empty; write it like `90s`, `5m` or `1h30m`".into());
        }
        let mut total = 0u64;
        let mut digits = String::new();
        for c in text.chars() {
            if c.is_ascii_digit() {
                digits.push(c);
                continue;
            }
            let unit = match c {
                's' => 1,
                'm' => 60,
                'h' => 3600,
                _ => return Err(format!("`{text}` has `{c}`; a timeout uses numbers with s, m or h, like `5m`")),
            };
            let n: u64 = digits.parse().map_err(|_| format!("`{text}` has a unit with no number before it"))?;
            total = total.saturating_add(n.saturating_mul(unit));
            digits.clear();
        }
        if !digits.is_empty() {
            return Err(format!("`{text}` ends without a unit; add s, m or h (for example `{digits}s`)"));
        }
        if total == 0 {
            return Err("a timeout must be longer than zero".into());
        }
        Ok(Timeout(Duration::from_secs(total)))
    }

    pub fn secs(n: u64) -> Self {
        Timeout(Duration::from_secs(n))
    }
}

impl fmt::Display for Timeout {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = self.0.as_secs();
        let (h, m, s) = (s / 3600, (s % 3600) / 60, s % 60);
        if h > 0 {
            write!(f, "{h}h")?;
        }
        if m > 0 {
            write!(f, "{m}m")?;
        }
        if s > 0 || (h == 0 && m == 0) {
            write!(f, "{s}s")?;
        }
        Ok(())
    }
}

impl<'de> Deserialize<'de> for Timeout {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Timeout::parse(&String::deserialize(d)?).map_err(serde::de::Error::custom)
    }
}

impl Serialize for Timeout {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl schemars::JsonSchema for Timeout {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Timeout".into()
    }
    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({ "type": "string", "pattern": "^([0-9]+[smh])+$", "description": "Like 90s, 5m or 1h30m" })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_and_prints_compound_timeouts() {
        assert_eq!(Timeout::parse("1h30m").unwrap(), Timeout::secs(5400));
        assert_eq!(Timeout::parse("90s").unwrap().to_string(), "1m30s");
        assert_eq!(Timeout::secs(3600).to_string(), "1h");
    }

    #[test]
    fn rejects_what_is_not_a_timeout() {
        for bad in ["", "5", "m", "5d", "0s", "1.5m"] {
            assert!(Timeout::parse(bad).is_err(), "{bad} should fail");
        }
    }
}
