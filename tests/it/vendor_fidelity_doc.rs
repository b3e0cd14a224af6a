//! `docs/vendor-fidelity.md` maps every instruction of the vendors' upgrade
//! documents to the runbook steps, notes and rules that carry it, and every
//! runbook step to a row. These tests read its tables and the YAML under
//! `runbooks/` and fail, naming the row, when the document and the runbooks
//! have drifted apart: a reference to a file, step, note, rule, fact or
//! variable that does not exist; a deviation, gap or addition without its
//! reason; a step, note, rule or skew entry that no row accounts for; a seed
//! line beyond the length the document records for that seed.
//!
//! The YAML is read as plain data (not through the runbook loader), so the
//! check depends only on the file layout the runbooks document.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a test: a panic is its failure report

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use regex::Regex;
use serde_json::Value;

const DOC: &str = "docs/vendor-fidelity.md";
const STATUSES: &[&str] = &["OK", "DEV", "MISSING", "n/a", "added", "unsupported"];

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// One row of a fidelity table: `| id | seed | seed says | runbook | status | why |`.
#[derive(Debug)]
struct Row {
    line: usize,
    id: String,
    seed: String,
    says: String,
    runbook: String,
    status: String,
    why: String,
}

impl Row {
    fn name(&self) -> String {
        format!("{} ({DOC}:{})", self.id, self.line)
    }
}

fn cells(line: &str) -> Vec<String> {
    let inner = line.trim().trim_start_matches('|').trim_end_matches('|');
    // A `|` inside backticks would split a cell; the document has none, and a
    // row with the wrong number of cells is reported below.
    inner.split('|').map(|c| c.trim().to_string()).collect()
}

fn doc_text() -> String {
    std::fs::read_to_string(root().join(DOC)).unwrap_or_else(|e| panic!("{DOC}: {e}"))
}

fn rows(text: &str) -> Vec<Row> {
    let id = Regex::new(r"^[A-Z]+-[0-9]+$").unwrap();
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate() {
        if !line.trim_start().starts_with('|') {
            continue;
        }
        let c = cells(line);
        if !id.is_match(&c[0]) {
            continue;
        }
        assert_eq!(c.len(), 6, "{DOC}:{}: row {} has {} cells, not 6: {line}", n + 1, c[0], c.len());
        out.push(Row {
            line: n + 1,
            id: c[0].clone(),
            seed: c[1].clone(),
            says: c[2].clone(),
            runbook: c[3].clone(),
            status: c[4].clone(),
            why: c[5].clone(),
        });
    }
    assert!(out.len() > 100, "{DOC} has only {} rows; was the table format changed?", out.len());
    out
}

/// The seed table of the header: short name → number of lines of the file.
fn seed_lengths(text: &str) -> BTreeMap<String, usize> {
    let short = Regex::new(r"^S[0-9]+$").unwrap();
    let mut out = BTreeMap::new();
    for line in text.lines().filter(|l| l.trim_start().starts_with('|')) {
        let c = cells(line);
        if c.len() >= 3 && short.is_match(&c[0]) {
            let lines = c[2].parse().unwrap_or_else(|_| panic!("{DOC}: seed {} gives no line count: {line}", c[0]));
            out.insert(c[0].clone(), lines);
        }
    }
    assert_eq!(out.len(), 5, "{DOC}: the header's seed table lists five seeds: {out:?}");
    out
}

/// A YAML file under `runbooks/`, read as data.
fn yaml(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_saphyr::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn names(v: &Value, list: &str, key: &str) -> Vec<String> {
    v.get(list)
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(|x| x.get(key).and_then(Value::as_str)).map(str::to_string).collect())
        .unwrap_or_default()
}

fn path_rules(v: &Value) -> usize {
    v.get("path").and_then(|p| p.get("rules")).and_then(Value::as_array).map_or(0, Vec::len)
}

/// Everything a row may reference, by `product/file.yaml#fragment`.
struct Runbooks {
    files: BTreeMap<String, Value>,
}

impl Runbooks {
    fn read() -> Self {
        let mut files = BTreeMap::new();
        let dir = root().join("runbooks");
        for product in std::fs::read_dir(&dir).unwrap() {
            let product = product.unwrap().path();
            if !product.is_dir() {
                continue;
            }
            for file in std::fs::read_dir(&product).unwrap() {
                let file = file.unwrap().path();
                if file.extension().is_some_and(|e| e == "yaml" || e == "yml") {
                    let rel = file.strip_prefix(&dir).unwrap().to_string_lossy().replace('\\', "/");
                    files.insert(rel, yaml(&file));
                }
            }
        }
        assert!(files.len() > 10, "runbooks/ holds only {} files", files.len());
        Runbooks { files }
    }

    fn is_product(file: &str) -> bool {
        file.ends_with("/product.yaml")
    }

    /// Why `file#fragment` names nothing, or None when it exists.
    fn missing(&self, file: &str, fragment: Option<&str>) -> Option<String> {
        let Some(v) = self.files.get(file) else {
            return Some(format!("runbooks/{file} does not exist"));
        };
        let fragment = fragment?;
        let (kind, name) = fragment.split_once(':').unwrap_or(("step", fragment));
        let found = match kind {
            "step" if !Self::is_product(file) => names(v, "steps", "id").iter().any(|s| s == name),
            "note" => names(v, "notes", "id").iter().any(|s| s == name),
            "fact" => names(v, "facts", "name").iter().any(|s| s == name),
            "variable" => names(v, "variables", "name").iter().any(|s| s == name),
            "skew" => names(v, "skew", "image").iter().any(|s| s == name),
            "rule" => name.parse::<usize>().is_ok_and(|i| i < path_rules(v)),
            "key" => v.get(name).is_some(),
            _ => {
                return Some(format!(
                    "`{kind}:` is not a kind of reference (step, note, rule, skew, fact, variable, key)"
                ));
            }
        };
        (!found).then(|| format!("runbooks/{file} has no {kind} `{name}`"))
    }

    /// Every step, note, path rule and skew entry, as the reference that names it.
    fn content(&self) -> BTreeSet<String> {
        let mut out = BTreeSet::new();
        for (file, v) in &self.files {
            if Self::is_product(file) {
                out.extend(names(v, "notes", "id").into_iter().map(|n| format!("{file}#note:{n}")));
                out.extend(names(v, "skew", "image").into_iter().map(|n| format!("{file}#skew:{n}")));
                out.extend((0..path_rules(v)).map(|i| format!("{file}#rule:{i}")));
            } else {
                out.insert(file.clone());
                out.extend(names(v, "steps", "id").into_iter().map(|s| format!("{file}#{s}")));
            }
        }
        out
    }
}

/// The references of a row's runbook cell: backticked `product/file.yaml`,
/// `product/file.yaml#step-a,step-b` or `product/product.yaml#note:a,b`
/// (several fragments of one file, comma-separated).
fn references(cell: &str) -> Vec<(String, Option<String>)> {
    let re = Regex::new(r"`([a-z0-9][a-z0-9-]*/[a-z0-9][a-z0-9.-]*\.ya?ml)(?:#([^`]+))?`").unwrap();
    let mut out = Vec::new();
    for c in re.captures_iter(cell) {
        let file = c[1].to_string();
        match c.get(2) {
            None => out.push((file, None)),
            Some(frags) => {
                // `#note:a,b` names notes a and b: a kind carries on to the
                // names after it, until another kind is given.
                let mut kind: Option<&str> = None;
                for f in frags.as_str().split(',').map(str::trim) {
                    let fragment = match (f.split_once(':'), kind) {
                        (Some((k, _)), _) => {
                            kind = Some(k);
                            f.to_string()
                        }
                        (None, Some(k)) => format!("{k}:{f}"),
                        (None, None) => f.to_string(),
                    };
                    out.push((file.clone(), Some(fragment)));
                }
            }
        }
    }
    out
}

fn is_empty(cell: &str) -> bool {
    let t = cell.trim();
    t.is_empty() || t == "—" || t == "-"
}

#[test]
fn every_row_has_a_known_status_and_ids_are_unique_and_unbroken() {
    let text = doc_text();
    let mut problems = Vec::new();
    let mut seen: BTreeMap<String, Vec<u32>> = BTreeMap::new();
    let mut ids = BTreeSet::new();
    for row in rows(&text) {
        if !STATUSES.contains(&row.status.as_str()) {
            problems.push(format!("{}: status `{}` is none of {STATUSES:?}", row.name(), row.status));
        }
        if !ids.insert(row.id.clone()) {
            problems.push(format!("{}: the id is used twice", row.name()));
        }
        if is_empty(&row.says) {
            problems.push(format!("{}: says nothing about what the seed or the runbook holds", row.name()));
        }
        let (prefix, n) = row.id.split_once('-').unwrap();
        seen.entry(prefix.to_string()).or_default().push(n.parse().unwrap());
    }
    for (prefix, mut numbers) in seen {
        numbers.sort_unstable();
        let expected: Vec<u32> = (1..=numbers.len() as u32).collect();
        if numbers != expected {
            problems.push(format!("ids {prefix}-* are not 1..{}: {numbers:?} (a row was dropped?)", numbers.len()));
        }
    }
    assert!(problems.is_empty(), "{DOC}:\n{}", problems.join("\n"));
}

#[test]
fn deviations_gaps_and_additions_say_why() {
    let text = doc_text();
    let mut problems = Vec::new();
    for row in rows(&text) {
        let needs_why = matches!(row.status.as_str(), "DEV" | "MISSING" | "added" | "unsupported");
        if needs_why && (is_empty(&row.why) || row.why.split_whitespace().count() < 5) {
            problems.push(format!(
                "{}: status {} needs a reason of a few words, has `{}`",
                row.name(),
                row.status,
                row.why
            ));
        }
        let needs_reference = matches!(row.status.as_str(), "OK" | "DEV" | "added" | "unsupported");
        if needs_reference && references(&row.runbook).is_empty() {
            problems.push(format!(
                "{}: status {} names no runbook location (`product/file.yaml#step`)",
                row.name(),
                row.status
            ));
        }
    }
    assert!(problems.is_empty(), "{DOC}:\n{}", problems.join("\n"));
}

#[test]
fn every_referenced_file_step_note_and_rule_exists() {
    let text = doc_text();
    let runbooks = Runbooks::read();
    let mut problems = Vec::new();
    for row in rows(&text) {
        for (file, fragment) in references(&row.runbook) {
            if let Some(why) = runbooks.missing(&file, fragment.as_deref()) {
                problems.push(format!("{}: {why}", row.name()));
            }
        }
    }
    assert!(problems.is_empty(), "{DOC}:\n{}", problems.join("\n"));
}

#[test]
fn every_procedure_step_note_rule_and_skew_entry_is_accounted_for() {
    let text = doc_text();
    let runbooks = Runbooks::read();
    let mut referenced = BTreeSet::new();
    for row in rows(&text) {
        for (file, fragment) in references(&row.runbook) {
            match fragment {
                None => {
                    referenced.insert(file);
                }
                Some(f) => {
                    let f = f.strip_prefix("step:").unwrap_or(&f).to_string();
                    referenced.insert(file.clone());
                    referenced.insert(format!("{file}#{f}"));
                }
            }
        }
    }
    let unaccounted: Vec<String> = runbooks.content().difference(&referenced).cloned().collect();
    assert!(
        unaccounted.is_empty(),
        "{DOC} has no row for these runbook contents; add a row (the seed instruction it carries, \
         or status `added` with why the runbook has it):\n{}",
        unaccounted.join("\n")
    );
}

#[test]
fn seed_lines_are_within_the_seeds() {
    let text = doc_text();
    let lengths = seed_lengths(&text);
    let cite = Regex::new(r"(S[0-9]+):([0-9]+)(?:-([0-9]+))?").unwrap();
    let mut problems = Vec::new();
    for row in rows(&text) {
        let cited: Vec<_> = cite.captures_iter(&row.seed).collect();
        let seedless = row.id.starts_with("R-") || row.id.starts_with("A-");
        if seedless {
            if !is_empty(&row.seed) {
                problems.push(format!("{}: runbook content with no seed behind it cites `{}`", row.name(), row.seed));
            }
            continue;
        }
        if cited.is_empty() {
            problems.push(format!("{}: cites no seed line (`S3:79` or `S3:79-84`): `{}`", row.name(), row.seed));
        }
        for c in cited {
            let Some(&len) = lengths.get(&c[1]) else {
                problems.push(format!("{}: seed {} is not in the header's seed table", row.name(), &c[1]));
                continue;
            };
            let first: usize = c[2].parse().unwrap();
            let last: usize = c.get(3).map_or(first, |m| m.as_str().parse().unwrap());
            if first == 0 || first > last || last > len {
                problems.push(format!("{}: lines {first}-{last} are not within {} ({len} lines)", row.name(), &c[1]));
            }
        }
    }
    assert!(problems.is_empty(), "{DOC}:\n{}", problems.join("\n"));
}

#[test]
fn the_header_counts_match_the_table() {
    // The counts in the header are written by hand; this keeps them honest.
    let text = doc_text();
    let mut counted: BTreeMap<(String, String), usize> = BTreeMap::new();
    for row in rows(&text) {
        let section = product_of(&row);
        *counted.entry((section, row.status.clone())).or_default() += 1;
    }
    let mut problems = Vec::new();
    let head = Regex::new(r"^\| *(NGINX Service Mesh|Kuma|Kong Mesh|Kong Gateway|all) *\|").unwrap();
    let statuses = ["OK", "DEV", "MISSING", "n/a", "added", "unsupported"];
    let mut checked = 0;
    for line in text.lines() {
        if !head.is_match(line) {
            continue;
        }
        let c = cells(line);
        if c.len() != statuses.len() + 1 {
            continue;
        }
        checked += 1;
        for (i, status) in statuses.iter().enumerate() {
            let written: usize = c[i + 1].trim_matches('*').parse().unwrap_or(usize::MAX);
            let actual: usize = if c[0] == "all" {
                counted.iter().filter(|((_, s), _)| s == status).map(|(_, n)| n).sum()
            } else {
                counted.get(&(c[0].clone(), status.to_string())).copied().unwrap_or(0)
            };
            if written != actual {
                problems.push(format!(
                    "count of {status} for {}: the header says {}, the table has {actual}",
                    c[0],
                    c[i + 1]
                ));
            }
        }
    }
    assert_eq!(checked, 5, "{DOC}: the header's count table has a line per product and one for all");
    assert!(problems.is_empty(), "{DOC}:\n{}", problems.join("\n"));
}

/// Which product a row counts for: a seed row by its id (Kong Mesh rows cite
/// Kuma's notes too), runbook content by the file it names first.
fn product_of(row: &Row) -> String {
    let product = match row.id.split('-').next().unwrap() {
        "N" | "O" => "nginx-service-mesh".to_string(),
        "G" => "kong-gateway".to_string(),
        "KM" | "V" => "kong-mesh".to_string(),
        "K" => "kuma".to_string(),
        other => references(&row.runbook)
            .first()
            .map(|(f, _)| f.split('/').next().unwrap().to_string())
            .unwrap_or_else(|| panic!("{}: a row with prefix {other} must name a runbook file", row.name())),
    };
    match product.as_str() {
        "nginx-service-mesh" => "NGINX Service Mesh",
        "kuma" => "Kuma",
        "kong-mesh" => "Kong Mesh",
        "kong-gateway" => "Kong Gateway",
        other => panic!("{}: unknown product {other}", row.name()),
    }
    .to_string()
}

#[test]
fn the_header_names_every_missing_instruction() {
    // The "Still missing" section lists, in bold, every MISSING and unsupported
    // row, so the open work is read at the top without scanning the tables.
    let text = doc_text();
    let start = text.find("## Still missing").expect("a `## Still missing` section");
    let end = text[start + 1..].find("\n## ").map_or(text.len(), |i| start + 1 + i);
    let section = &text[start..end];
    let bold = Regex::new(r"\*\*([A-Z]+-[0-9]+)\*\*").unwrap();
    let listed: BTreeSet<String> = bold.captures_iter(section).map(|c| c[1].to_string()).collect();
    let open: BTreeSet<String> =
        rows(&text).into_iter().filter(|r| r.status == "MISSING" || r.status == "unsupported").map(|r| r.id).collect();
    assert_eq!(listed, open, "{DOC}: the `Still missing` section lists {listed:?}, the table's open rows are {open:?}");
}
