//! Turning runbook files into a [`Catalog`]: the embedded set, plus the files
//! [`crate::catalog_files`] read from the directories the operator names,
//! handed over as text. Every problem in every file is collected, not just the
//! first.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::{Arc, LazyLock};

use include_dir::{Dir, include_dir};

use super::catalog::{Catalog, ProcedureEntry, ProductEntry};
use super::error::{Problem, RunbookError, SourceFile};
use super::hints;
use super::located::Pos;
use super::model::{ACTION_KEYS, Procedure, Product};
use super::schema::{self, FieldTable, SchemaKind};
use super::validate;

static EMBEDDED: Dir<'static> = include_dir!("$CARGO_MANIFEST_DIR/runbooks");

/// The name of the one product file in each product directory.
pub const PRODUCT_FILE: &str = "product.yaml";

/// A runbook file before parsing: which product directory it sits in, and its text.
#[derive(Debug, Clone)]
pub struct RawFile {
    /// The product directory's name (`nginx-service-mesh`).
    pub dir: String,
    pub file: Arc<SourceFile>,
    /// Where the file lives on disk, for resolving relative paths in `apply.file`;
    /// `None` for embedded files.
    pub path: Option<PathBuf>,
    /// Whether this is the product file rather than a procedure.
    pub is_product: bool,
}

impl RawFile {
    pub fn new(dir: impl Into<String>, file: Arc<SourceFile>, path: Option<PathBuf>) -> Self {
        let is_product = file.name.rsplit(['/', '\\']).next() == Some(PRODUCT_FILE);
        RawFile { dir: dir.into(), file, path, is_product }
    }

    pub fn is_product(&self) -> bool {
        self.is_product
    }
}

/// The runbooks compiled into the binary.
pub fn embedded_files() -> Vec<RawFile> {
    let mut out = Vec::new();
    for product_dir in EMBEDDED.dirs() {
        let dir = product_dir.path().to_string_lossy().into_owned();
        for file in product_dir.files().filter(|f| is_yaml(f.path())) {
            let name = format!("runbooks/{}", file.path().to_string_lossy());
            let text = String::from_utf8_lossy(file.contents()).into_owned();
            out.push(RawFile::new(dir.clone(), SourceFile::new(name, text), None));
        }
    }
    out.sort_by(|a, b| a.file.name.cmp(&b.file.name));
    out
}

/// Adds `extra` to `base`. A product directory in `extra` that has its own
/// product file replaces the one in `base` entirely; one with only procedures
/// adds them to the product in `base`.
pub fn merge(base: Vec<RawFile>, extra: Vec<RawFile>) -> Vec<RawFile> {
    let replaced: std::collections::BTreeSet<&str> =
        extra.iter().filter(|f| f.is_product()).map(|f| f.dir.as_str()).collect();
    let mut out: Vec<RawFile> = base.into_iter().filter(|f| !replaced.contains(f.dir.as_str())).collect();
    out.extend(extra);
    out
}

/// Parses and checks `files` as one set and builds the catalog.
pub fn build(files: Vec<RawFile>) -> Result<Catalog, RunbookError> {
    let mut problems = Vec::new();
    let mut products = Vec::new();
    let mut procedures = Vec::new();
    // Products whose file could not be read: their procedures are not reported
    // as naming an unknown product on top of that.
    let mut unreadable = BTreeSet::new();
    for raw in files {
        validate::check_markers(&raw.file, &mut problems);
        if raw.is_product() {
            match parse::<Product>(&raw.file, SchemaKind::Product, &mut problems) {
                Some(mut p) => {
                    p.adopt_version_format();
                    products.push(ProductEntry { product: p, file: raw.file, dir: raw.dir, procedures: Vec::new() })
                }
                None => {
                    unreadable.insert(raw.dir);
                }
            }
        } else if let Some(p) = parse::<Procedure>(&raw.file, SchemaKind::Procedure, &mut problems) {
            procedures.push(ProcedureEntry { procedure: p, file: raw.file, dir: raw.dir, path: raw.path });
        }
    }
    let mut catalog = validate::assemble(products, procedures, &unreadable, &mut problems);
    if problems.iter().any(|p| !p.warning) {
        return Err(RunbookError::Invalid(problems));
    }
    catalog.warnings = problems;
    Ok(catalog)
}

/// The most unknown keys read past in one file before giving up on it.
const MAX_READ_PAST: usize = 20;

fn parse<T: serde::de::DeserializeOwned>(
    file: &Arc<SourceFile>,
    kind: SchemaKind,
    problems: &mut Vec<Problem>,
) -> Option<T> {
    if file.text.lines().all(|l| l.trim().is_empty() || l.trim_start().starts_with('#')) {
        problems.push(
            Problem::new(file, Pos { line: 1, column: 1, offset: 0 }, "the file is empty")
                .help("a runbook file holds one YAML mapping; see docs/runbooks.md"),
        );
        return None;
    }
    let mut text = file.text.clone();
    // The keys read past, and what was guessed for them: a misspelt `titel`, or
    // a `disruption` with a bad value, is not also reported as missing.
    let mut skipped: Vec<String> = Vec::new();
    for _ in 0..MAX_READ_PAST {
        let e = match super::arg::reading(&text, || serde_saphyr::from_str::<T>(&text)) {
            Ok(value) => return Some(value),
            Err(e) => e,
        };
        let problem = problem_from_yaml(file, &text, kind, &e);
        let missing = problem.message.strip_prefix("missing field ").map(|name| name.trim_matches('`'));
        if missing.is_some_and(|name| skipped.iter().any(|s| s == name)) {
            return None;
        }
        let next = without_bad_key(&text, &problem);
        if let Some(guess) = problem.help.as_deref().and_then(|h| h.strip_prefix("did you mean `")) {
            skipped.push(guess.trim_end_matches("`?").to_string());
        }
        problems.push(problem);
        let (key, next) = next?;
        skipped.push(key);
        text = next;
    }
    None
}

/// The text with the key `problem` is about blanked out, so the rest can be
/// read; not when the reader could not parse the text at all, nor when a step
/// would lose its action (and be reported as doing nothing too).
fn without_bad_key(text: &str, problem: &Problem) -> Option<(String, String)> {
    if !read_past(&problem.message) {
        return None;
    }
    let (key, rest) = hints::without_key(text, problem.pos.line, problem.pos.column)?;
    let unknown = problem.message.starts_with("unknown field");
    (unknown || !ACTION_KEYS.contains(&key.as_str())).then_some((key, rest))
}

/// Whether the reader stopped at a key or value it could not take, rather than
/// at text it could not parse: the key can then be skipped and the rest read.
fn read_past(message: &str) -> bool {
    const VALUE_ERRORS: [&str; 7] = [
        "unknown field",
        "unknown variant",
        "invalid type",
        "invalid value",
        "expected sequence",
        "expected mapping",
        "needs exactly one of",
    ];
    const OWN_ERRORS: [&str; 6] = [
        "is not a version",
        "is not a valid variable name",
        "is never closed",
        "a timeout",
        "ends without a unit",
        "a unit with no number",
    ];
    VALUE_ERRORS.iter().any(|e| message.starts_with(e)) || OWN_ERRORS.iter().any(|e| message.contains(e))
}

fn problem_from_yaml(file: &Arc<SourceFile>, text: &str, kind: SchemaKind, e: &serde_saphyr::Error) -> Problem {
    let pos = e
        .location()
        .map(|l| {
            let (line, column) = (u32::try_from(l.line()).unwrap_or(0), u32::try_from(l.column()).unwrap_or(0));
            Pos { line, column, offset: file.offset_of(line, column) }
        })
        .unwrap_or_default();
    let message = strip_location_prefix(&e.without_snippet().to_string());
    let message = hints::empty_choice(text, pos.line, &message, field_table(kind)).unwrap_or(message);
    let help = hints::unknown_key_help(text, pos.line, pos.column, &message, field_table(kind))
        .or_else(|| hints::argv_string(text, pos.line, &message).map(str::to_string))
        .or_else(|| yaml_help(&message).map(str::to_string));
    let problem = Problem::new(file, pos, message);
    match help {
        Some(h) => problem.help(h),
        None => problem,
    }
}

/// The keys each kind of file allows where, computed once.
fn field_table(kind: SchemaKind) -> &'static FieldTable {
    static PRODUCT: LazyLock<FieldTable> = LazyLock::new(|| schema::field_table(SchemaKind::Product));
    static PROCEDURE: LazyLock<FieldTable> = LazyLock::new(|| schema::field_table(SchemaKind::Procedure));
    match kind {
        SchemaKind::Product => &PRODUCT,
        SchemaKind::Procedure => &PROCEDURE,
    }
}

/// The reader's messages start with `error: line N column M: `; the position is
/// shown separately, so keep only the sentence.
fn strip_location_prefix(message: &str) -> String {
    let first = message.lines().next().unwrap_or(message);
    let first = first.strip_prefix("error: ").unwrap_or(first);
    let text = match first.strip_prefix("line ").and_then(|rest| rest.split_once(": ")) {
        Some((where_, text)) if where_.contains("column") => text,
        _ => first,
    };
    // Some messages repeat the position at the end.
    match text.rfind(" at line ") {
        Some(i) if text[i..].contains("column") => text[..i].to_string(),
        _ => text.to_string(),
    }
}

fn yaml_help(message: &str) -> Option<&'static str> {
    if message.starts_with("unknown field") {
        Some("check the spelling; the JSON Schemas in assets/schema/ list every field")
    } else if message.starts_with("missing field") {
        Some("add the field; docs/runbooks.md describes what each one means")
    } else if message.starts_with("duplicate mapping key") {
        Some("each key may appear once in a mapping; remove or rename one of them")
    } else if message.contains("found a tab") {
        Some("indent YAML with spaces, not tabs")
    } else if message.contains("did not find expected key") || message.contains("mapping values are not allowed") {
        Some("check the indentation: the keys of one mapping must start in the same column")
    } else if message.starts_with("invalid u") || message.starts_with("invalid i") {
        Some("this field takes a whole number")
    } else if message.starts_with("expected sequence") {
        Some("this field takes a list, such as [a, b]")
    } else if message.starts_with("expected mapping") {
        Some("this place takes a mapping of keys and values, such as `id: upgrade`")
    } else if message.contains("needs exactly one of") {
        Some("write one of them as a key under it, with its value")
    } else if message.contains("after enum variant value") {
        Some("give only one of the alternatives here, not several")
    } else {
        None
    }
}

/// Whether a file name is a runbook file's.
pub fn is_yaml(path: &Path) -> bool {
    matches!(path.extension().and_then(|e| e.to_str()), Some("yaml" | "yml"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn location_prefix_is_removed_once() {
        assert_eq!(strip_location_prefix("error: line 3 column 8: mapping values: here"), "mapping values: here");
        assert_eq!(strip_location_prefix("plain message"), "plain message");
        assert_eq!(
            strip_location_prefix("error: line 5 column 13: unknown variant `x` at line 5, column 13"),
            "unknown variant `x`"
        );
    }

    #[test]
    fn embedded_runbooks_load_without_problems() {
        match build(embedded_files()) {
            Ok(catalog) => assert!(!catalog.products.is_empty()),
            Err(RunbookError::Invalid(problems)) => {
                let listing: Vec<String> = problems.iter().map(ToString::to_string).collect();
                panic!("embedded runbooks have problems:\n{}", listing.join("\n"));
            }
            Err(e) => panic!("{e}"),
        }
    }

    #[test]
    fn embedded_runbooks_are_found_by_product_directory() {
        let files = embedded_files();
        assert!(files.iter().any(|f| f.is_product()), "no product.yaml embedded");
        assert!(files.iter().all(|f| f.file.name.starts_with(&format!("runbooks/{}/", f.dir))));
    }
}
