//! `{{variable}}` templating for argument vectors and other runbook strings.
//!
//! A template is split into literal text and variable names when it is read, so a
//! malformed template is reported at load time with its position, and rendering
//! can never produce a shell fragment: each template renders to exactly one string,
//! and an argument vector stays one argument per element whatever the values hold.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::located::{Located, Pos};

#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Text(String),
    Var(String),
}

/// A string that may name variables as `{{name}}`.
#[derive(Debug, Clone)]
pub struct Template {
    raw: String,
    parts: Vec<Part>,
    pub pos: Pos,
}

/// Why a template could not be read or rendered.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TemplateError {
    #[error("`{{{{` at byte {at} is never closed with `}}}}`")]
    Unclosed { at: usize },
    #[error("`{{{{{name}}}}}` is not a valid variable name: use letters, digits, `_` and `-`, starting with a letter")]
    BadName { name: String },
    #[error("variable `{name}` has no value")]
    Missing { name: String },
}

impl Template {
    pub fn parse(raw: &str) -> Result<Self, TemplateError> {
        let mut parts = Vec::new();
        let mut rest = raw;
        let mut consumed = 0;
        while let Some(open) = rest.find("{{") {
            if open > 0 {
                parts.push(Part::Text(rest[..open].to_string()));
            }
            let after = &rest[open + 2..];
            let close = after.find("}}").ok_or(TemplateError::Unclosed { at: consumed + open })?;
            let name = after[..close].trim();
            if !is_variable_name(name) {
                return Err(TemplateError::BadName { name: name.to_string() });
            }
            parts.push(Part::Var(name.to_string()));
            consumed += open + 2 + close + 2;
            rest = &after[close + 2..];
        }
        if !rest.is_empty() {
            parts.push(Part::Text(rest.to_string()));
        }
        Ok(Template { raw: raw.to_string(), parts, pos: Pos::default() })
    }

    /// A template with no variables; for values built in code.
    pub fn literal(text: &str) -> Self {
        Template { raw: text.to_string(), parts: vec![Part::Text(text.to_string())], pos: Pos::default() }
    }

    pub fn raw(&self) -> &str {
        &self.raw
    }

    /// The variable names this template uses, in order of appearance.
    pub fn variables(&self) -> impl Iterator<Item = &str> {
        self.parts.iter().filter_map(|p| match p {
            Part::Var(name) => Some(name.as_str()),
            Part::Text(_) => None,
        })
    }

    /// Renders with every variable required to have a value.
    pub fn render(&self, values: &BTreeMap<String, String>) -> Result<String, TemplateError> {
        self.render_with(|name| {
            values.get(name).cloned().ok_or_else(|| TemplateError::Missing { name: name.to_string() })
        })
    }

    /// Renders what is known and leaves unknown variables as `{{name}}`, for showing
    /// a plan before every value has been given.
    pub fn render_partial(&self, values: &BTreeMap<String, String>) -> String {
        let shown = self.render_with(|name| {
            Ok::<_, TemplateError>(values.get(name).cloned().unwrap_or_else(|| format!("{{{{{name}}}}}")))
        });
        shown.unwrap_or_default()
    }

    fn render_with<E>(&self, mut value: impl FnMut(&str) -> Result<String, E>) -> Result<String, E> {
        let mut out = String::with_capacity(self.raw.len());
        for part in &self.parts {
            match part {
                Part::Text(t) => out.push_str(t),
                Part::Var(name) => out.push_str(&value(name)?),
            }
        }
        Ok(out)
    }
}

/// Renders an argument vector: one output argument per template, never split or joined.
pub fn render_argv(argv: &[Template], values: &BTreeMap<String, String>) -> Result<Vec<String>, TemplateError> {
    argv.iter().map(|t| t.render(values)).collect()
}

pub fn is_variable_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

impl PartialEq for Template {
    fn eq(&self, other: &Self) -> bool {
        self.raw == other.raw
    }
}

impl fmt::Display for Template {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.raw)
    }
}

impl<'de> Deserialize<'de> for Template {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let located = Located::<String>::deserialize(d)?;
        let mut template = Template::parse(&located.value).map_err(serde::de::Error::custom)?;
        template.pos = located.pos;
        Ok(template)
    }
}

impl Serialize for Template {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.raw)
    }
}

impl schemars::JsonSchema for Template {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Template".into()
    }
    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "type": "string",
            "description": "A template: text that may name variables as {{name}}, replaced by their values when the step is shown or run. Only fields of this type are templates"
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn renders_variables_in_place() {
        let t = Template::parse("--namespace={{ ns }}-x").unwrap();
        assert_eq!(t.variables().collect::<Vec<_>>(), ["ns"]);
        assert_eq!(t.render(&values(&[("ns", "nginx-mesh")])).unwrap(), "--namespace=nginx-mesh-x");
    }

    #[test]
    fn hostile_values_stay_one_argument_each() {
        let argv: Vec<Template> = ["helm", "uninstall", "{{release}}", "--namespace", "{{ns}}"]
            .iter()
            .map(|s| Template::parse(s).unwrap())
            .collect();
        let hostile = "a b; rm -rf / $(reboot) 'q\"\nz";
        let out = render_argv(&argv, &values(&[("release", hostile), ("ns", "x y")])).unwrap();
        assert_eq!(out, ["helm", "uninstall", hostile, "--namespace", "x y"]);
    }

    #[test]
    fn missing_values_are_errors_or_left_visible() {
        let t = Template::parse("{{a}}/{{b}}").unwrap();
        assert_eq!(t.render(&values(&[("a", "1")])), Err(TemplateError::Missing { name: "b".into() }));
        assert_eq!(t.render_partial(&values(&[("a", "1")])), "1/{{b}}");
    }

    #[test]
    fn malformed_templates_are_rejected() {
        assert_eq!(Template::parse("x {{a"), Err(TemplateError::Unclosed { at: 2 }));
        assert!(matches!(Template::parse("{{}}"), Err(TemplateError::BadName { .. })));
        assert!(matches!(Template::parse("{{a b}}"), Err(TemplateError::BadName { .. })));
        assert!(matches!(Template::parse("{{1a}}"), Err(TemplateError::BadName { .. })));
    }

    #[test]
    fn text_without_variables_is_kept_verbatim() {
        let t = Template::parse("plain } { text").unwrap();
        assert_eq!(t.variables().count(), 0);
        assert_eq!(t.render(&BTreeMap::new()).unwrap(), "plain } { text");
    }
}
