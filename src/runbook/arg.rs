//! One element of an argument vector: a template that is always exactly one
//! argument, or a flag with a value that is left out when the value is empty.
//!
//! `argv: [acmectl, install, {flag: --values, value: "{{values_file}}"}]` runs
//! `acmectl install --values=FILE`, or `acmectl install` when `values_file` is
//! empty. The flag and its value are passed as one argument, `--flag=value`.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::fmt;

use schemars::JsonSchema;
use serde::de::{self, MapAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::located::{Located, Pos};
use super::template::{Template, TemplateError};

/// An argv element.
#[derive(Debug, Clone, PartialEq)]
pub enum Arg {
    /// One template, one argument, never left out (even when it renders empty).
    Plain(Template),
    /// `--flag=VALUE`, or no argument at all when VALUE renders empty.
    Flag(FlagArg),
}

/// A flag whose value may be empty: `{flag: --values, value: "{{values_file}}"}`.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FlagArg {
    /// The flag as the program takes it, such as `--values`; not a template.
    pub flag: Located<String>,
    /// The flag's value (a template). The element renders to `FLAG=VALUE`, or
    /// to nothing when the value renders empty.
    pub value: Template,
}

impl Arg {
    /// The template whose variables the element uses.
    pub fn template(&self) -> &Template {
        match self {
            Arg::Plain(t) => t,
            Arg::Flag(f) => &f.value,
        }
    }

    /// The element as written, for checks: a plain template's text, or the flag.
    pub fn raw(&self) -> &str {
        match self {
            Arg::Plain(t) => t.raw(),
            Arg::Flag(f) => &f.flag.value,
        }
    }

    pub fn pos(&self) -> Pos {
        match self {
            Arg::Plain(t) => t.pos,
            Arg::Flag(f) => f.flag.pos,
        }
    }

    /// The argument, or `None` for a flag whose value is empty.
    pub fn render(&self, values: &BTreeMap<String, String>) -> Result<Option<String>, TemplateError> {
        match self {
            Arg::Plain(t) => t.render(values).map(Some),
            Arg::Flag(f) => Ok(f.joined(&f.value.render(values)?)),
        }
    }

    /// As [`Arg::render`], with unknown variables left as `{{name}}` (which is
    /// not empty, so the flag is shown).
    pub fn render_partial(&self, values: &BTreeMap<String, String>) -> Option<String> {
        match self {
            Arg::Plain(t) => Some(t.render_partial(values)),
            Arg::Flag(f) => f.joined(&f.value.render_partial(values)),
        }
    }
}

impl FlagArg {
    fn joined(&self, value: &str) -> Option<String> {
        (!value.is_empty()).then(|| format!("{}={value}", self.flag.value))
    }
}

/// Renders an argument vector: one argument per plain element, one or none per flag.
pub fn render_args(argv: &[Arg], values: &BTreeMap<String, String>) -> Result<Vec<String>, TemplateError> {
    argv.iter().filter_map(|a| a.render(values).transpose()).collect()
}

/// As [`render_args`], with unknown variables left visible; for display.
pub fn render_args_partial(argv: &[Arg], values: &BTreeMap<String, String>) -> Vec<String> {
    argv.iter().filter_map(|a| a.render_partial(values)).collect()
}

impl From<Template> for Arg {
    fn from(t: Template) -> Self {
        Arg::Plain(t)
    }
}

impl fmt::Display for Arg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Arg::Plain(t) => t.fmt(f),
            Arg::Flag(flag) => write!(f, "{}={}", flag.flag.value, flag.value),
        }
    }
}

impl Serialize for Arg {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Arg::Plain(t) => t.serialize(s),
            Arg::Flag(f) => f.serialize(s),
        }
    }
}

impl JsonSchema for Arg {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Arg".into()
    }
    fn json_schema(generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
        let plain = generator.subschema_for::<Template>();
        let flag = generator.subschema_for::<FlagArg>();
        schemars::json_schema!({
            "description": "One argument (a template, never left out), or {flag, value}: `FLAG=VALUE` as one argument, left out when the value renders empty",
            "anyOf": [plain, flag]
        })
    }
}

/// What YAML gave for an element, before it is read as an [`Arg`].
enum Form {
    Text(String),
    /// A plain scalar YAML reads as a number or boolean; its text is taken
    /// from the source, since `1.10` read as a number would be `1.1`.
    Typed(String),
    Flag(FlagArg),
}

impl<'de> Deserialize<'de> for Arg {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let located = Located::<Form>::deserialize(d)?;
        let text = match located.value {
            Form::Flag(f) => return Ok(Arg::Flag(f)),
            Form::Text(text) => text,
            Form::Typed(read) => source_scalar(located.pos.offset).unwrap_or(read),
        };
        let mut template = Template::parse(&text).map_err(de::Error::custom)?;
        template.pos = located.pos;
        Ok(Arg::Plain(template))
    }
}

impl<'de> Deserialize<'de> for Form {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(FormVisitor)
    }
}

struct FormVisitor;

impl<'de> Visitor<'de> for FormVisitor {
    type Value = Form;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a string, or a map {flag, value}")
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Form, E> {
        Ok(Form::Text(v.to_string()))
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Form, E> {
        Ok(Form::Typed(v.to_string()))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Form, E> {
        Ok(Form::Typed(v.to_string()))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Form, E> {
        Ok(Form::Typed(v.to_string()))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Form, E> {
        Ok(Form::Typed(v.to_string()))
    }
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Form, A::Error> {
        FlagArg::deserialize(de::value::MapAccessDeserializer::new(map)).map(Form::Flag)
    }
}

thread_local! {
    /// The text being read, so a number-like element keeps its spelling.
    static SOURCE: RefCell<Option<String>> = const { RefCell::new(None) };
}

/// Runs `read` with `text` as the source number-like elements are taken from.
pub fn reading<T>(text: &str, read: impl FnOnce() -> T) -> T {
    SOURCE.with(|s| *s.borrow_mut() = Some(text.to_string()));
    let out = read();
    SOURCE.with(|s| *s.borrow_mut() = None);
    out
}

/// The plain scalar that starts at byte `offset` of the text being read.
fn source_scalar(offset: usize) -> Option<String> {
    SOURCE.with(|s| {
        let source = s.borrow();
        let rest = source.as_deref()?.get(offset..)?;
        // An alias, anchor or tag is not the scalar's own text: keep what YAML read.
        if rest.starts_with(['*', '&', '!']) {
            return None;
        }
        let end = rest.find([',', ']', '}', '\n', '#']).unwrap_or(rest.len());
        Some(rest[..end].trim_end().to_string()).filter(|t| !t.is_empty())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn argv(yaml: &str) -> Vec<Arg> {
        reading(yaml, || serde_saphyr::from_str::<Vec<Arg>>(yaml)).unwrap()
    }

    #[test]
    fn a_flag_with_an_empty_value_is_left_out_and_plain_elements_never_are() {
        let args = argv("[acmectl, install, {flag: --values, value: \"{{file}}\"}, \"{{extra}}\"]");
        let values = |file: &str| BTreeMap::from([("file".into(), file.into()), ("extra".into(), String::new())]);
        assert_eq!(render_args(&args, &values("v.yaml")).unwrap(), ["acmectl", "install", "--values=v.yaml", ""]);
        assert_eq!(render_args(&args, &values("")).unwrap(), ["acmectl", "install", ""]);
        assert_eq!(
            render_args_partial(&args, &BTreeMap::new()),
            ["acmectl", "install", "--values={{file}}", "{{extra}}"]
        );
    }

    #[test]
    fn number_like_elements_keep_their_spelling() {
        let block = "- helm\n- --version\n- 1.10   # a chart version\n- true\n- 0x1F\n";
        let args = argv(block);
        let raw: Vec<&str> = args.iter().map(Arg::raw).collect();
        assert_eq!(raw, ["helm", "--version", "1.10", "true", "0x1F"]);
        let flow: Vec<String> = argv("[kubectl, --v, 1.20, 7]").iter().map(ToString::to_string).collect();
        assert_eq!(flow, ["kubectl", "--v", "1.20", "7"]);
        let aliased: Vec<String> = argv("[a, &n 5, *n]").iter().map(ToString::to_string).collect();
        assert_eq!(aliased, ["a", "5", "5"]);
    }

    #[test]
    fn a_flag_map_takes_only_flag_and_value() {
        let err = serde_saphyr::from_str::<Vec<Arg>>("[a, {flag: --x, valeu: y}]").unwrap_err();
        assert!(err.to_string().contains("unknown field `valeu`"), "{err}");
    }
}
