//! Help for the reader's structural errors: the name an unknown key or value
//! was probably meant to be, a key that sits one level off, and how to read on
//! past an unknown key so the rest of the file is still checked.

use super::schema::FieldTable;
use super::suggest;

/// The name the reader did not know and the names it expected, from messages
/// such as "unknown field `timout`, expected one of `namespaces`, `timeout`".
pub fn unknown_name(message: &str) -> Option<(&str, Vec<&str>)> {
    let rest = message.strip_prefix("unknown field `").or_else(|| message.strip_prefix("unknown variant `"))?;
    let (name, rest) = rest.split_once('`')?;
    let expected = rest.split_once("expected").map_or("", |(_, e)| e);
    let expected = expected.trim_start().strip_prefix("one of").unwrap_or(expected);
    let names = expected
        .split(',')
        .flat_map(|part| part.split(" or "))
        .map(|n| n.trim().trim_matches('`'))
        .filter(|n| !n.is_empty())
        .collect();
    Some((name, names))
}

/// Help for an unknown key at `line`:`column`: a likely spelling, else where the
/// key would belong one level in or out.
pub fn unknown_key_help(text: &str, line: u32, column: u32, message: &str, fields: &FieldTable) -> Option<String> {
    let (name, expected) = unknown_name(message)?;
    if let Some(guess) = suggest::did_you_mean(name, expected.iter().copied()) {
        return Some(guess);
    }
    if !message.starts_with("unknown field") {
        return None;
    }
    let lines: Vec<&str> = text.lines().collect();
    let at = KeyLine::parse(lines.get(line.checked_sub(1)? as usize)?)?;
    if at.name != name || at.column + 1 != column as usize {
        return None;
    }
    too_deep(&lines, line as usize - 1, &at, fields).or_else(|| too_shallow(&lines, line as usize - 1, &at, fields))
}

/// The key is a field of the mapping one level out.
fn too_deep(lines: &[&str], index: usize, at: &KeyLine, fields: &FieldTable) -> Option<String> {
    let (owner_index, owner) = owner_of(lines, index, at.column)?;
    let outer = owner_of(lines, owner_index, owner.column).map_or("", |(_, k)| k.name);
    let belongs = fields.get(outer).is_some_and(|f| f.contains(at.name));
    let also_here = fields.get(owner.name).is_some_and(|f| f.contains(at.name));
    (belongs && !also_here).then(|| {
        format!(
            "`{}` belongs one level out, beside `{}` (line {}): move it left to column {}",
            at.name,
            owner.name,
            owner_index + 1,
            owner.column + 1
        )
    })
}

/// The key is a field of the mapping under the key just above it.
fn too_shallow(lines: &[&str], index: usize, at: &KeyLine, fields: &FieldTable) -> Option<String> {
    let (sibling_index, sibling) = lines[..index]
        .iter()
        .enumerate()
        .rev()
        .filter_map(|(i, l)| KeyLine::parse(l).map(|k| (i, k)))
        .find(|(_, k)| k.column <= at.column)
        .filter(|(_, k)| k.column == at.column && !k.dash)?;
    fields.get(sibling.name).is_some_and(|f| f.contains(at.name)).then(|| {
        format!(
            "`{}` belongs one level in, under `{}:` (line {}): indent it further",
            at.name,
            sibling.name,
            sibling_index + 1
        )
    })
}

/// The key whose value is the mapping that holds a key at `column` on line
/// `index`; `None` at the top level. A `- ` item is looked through to the key
/// of its sequence.
fn owner_of<'a>(lines: &[&'a str], index: usize, column: usize) -> Option<(usize, KeyLine<'a>)> {
    let (mut limit, mut in_item) = (column, false);
    for i in (0..index).rev() {
        let Some(k) = KeyLine::parse(lines[i]) else { continue };
        if k.column < limit || (in_item && k.column == limit && !k.dash) {
            return Some((i, k));
        }
        if k.dash && k.column == limit && !in_item {
            (limit, in_item) = (k.dash_column, true);
        }
    }
    None
}

/// A line that starts a key: `  name: ...` or `  - name: ...`.
#[derive(Debug)]
struct KeyLine<'a> {
    name: &'a str,
    /// 0-based column of the key.
    column: usize,
    dash: bool,
    dash_column: usize,
}

impl<'a> KeyLine<'a> {
    fn parse(line: &'a str) -> Option<Self> {
        let first = line.len() - line.trim_start_matches(' ').len();
        let rest = &line[first..];
        let (dash, rest, column) = match rest.strip_prefix("- ") {
            Some(after) => {
                let pad = after.len() - after.trim_start_matches(' ').len();
                (true, &after[pad..], first + 2 + pad)
            }
            None => (false, rest, first),
        };
        let end = rest.find(':')?;
        let name = &rest[..end];
        let plain = !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
        let ends = rest[end + 1..].is_empty() || rest[end + 1..].starts_with(' ');
        (plain && ends).then_some(KeyLine { name, column, dash, dash_column: first })
    }
}

/// `text` with the key whose name or value is at `line`:`column` blanked out,
/// with everything indented under it (line breaks kept, so positions stay),
/// when the key starts its line: the reader can then go on to the rest of the
/// file. Also the key's name.
pub fn without_key(text: &str, line: u32, column: u32) -> Option<(String, String)> {
    let index = (line as usize).checked_sub(1)?;
    let lines: Vec<&str> = text.split('\n').collect();
    let key = KeyLine::parse(lines.get(index)?)?;
    if key.dash || key.column + 1 > column as usize {
        return None;
    }
    let end = (index + 1..lines.len())
        .find(|&i| {
            let l = lines[i];
            !l.trim().is_empty() && l.len() - l.trim_start_matches(' ').len() <= key.column
        })
        .unwrap_or(lines.len());
    if empties_its_owner(&lines, index, end, key.column) {
        return None;
    }
    let kept: Vec<&str> =
        lines.iter().enumerate().map(|(i, l)| if (index..end).contains(&i) { "" } else { l }).collect();
    Some((key.name.to_string(), kept.join("\n")))
}

/// Whether lines `index..end`, the one key at `column` there, are all that the
/// mapping holding them has: without them its owner would be left empty.
fn empties_its_owner(lines: &[&str], index: usize, end: usize, column: usize) -> bool {
    let Some((owner_index, owner)) = owner_of(lines, index, column) else { return false };
    let meaningful = |l: &str| !l.trim().is_empty() && !l.trim_start().starts_with('#');
    let before = lines[owner_index + 1..index].iter().any(|l| meaningful(l));
    let after = lines.get(end).is_some_and(|l| meaningful(l) && l.len() - l.trim_start().len() > owner.column);
    !before && !after
}

/// Keys of the mapping that holds the key on `line` (1-based) that are written
/// with nothing after them and nothing under them, such as `apply:` alone:
/// `(line, column, key)`, 1-based.
pub fn empty_keys(text: &str, line: u32) -> Vec<(u32, u32, &str)> {
    let lines: Vec<&str> = text.lines().collect();
    let Some(start) = lines.get((line as usize).saturating_sub(1)).and_then(|l| KeyLine::parse(l)) else {
        return Vec::new();
    };
    let indent = |l: &str| l.len() - l.trim_start_matches(' ').len();
    let meaningful = |l: &&str| !l.trim().is_empty() && !l.trim_start().starts_with('#');
    let rest: Vec<(usize, &str)> =
        lines.iter().copied().enumerate().skip(line as usize).filter(|(_, l)| meaningful(l)).collect();
    let mut out = Vec::new();
    for (n, (i, l)) in rest.iter().enumerate() {
        if indent(l) < start.column || KeyLine::parse(l).is_some_and(|k| k.dash && k.dash_column < start.column) {
            break;
        }
        let Some(k) = KeyLine::parse(l).filter(|k| k.column == start.column && !k.dash) else { continue };
        let after = l[k.column + k.name.len() + 1..].trim();
        let nested = rest.get(n + 1).is_some_and(|(_, next)| indent(next) > start.column);
        if (after.is_empty() || after.starts_with('#')) && !nested {
            out.push((*i as u32 + 1, k.column as u32 + 1, k.name));
        }
    }
    out
}

/// The reader's "expected string key for externally tagged enum", said in the
/// format's terms: which key needs which of its alternatives.
pub fn empty_choice(text: &str, line: u32, message: &str, fields: &FieldTable) -> Option<String> {
    if !message.contains("externally tagged enum") {
        return None;
    }
    let key = KeyLine::parse(text.lines().nth((line as usize).checked_sub(1)?)?)?;
    let choices: Vec<&str> = fields.get(key.name)?.iter().map(String::as_str).collect();
    Some(format!("`{}` needs exactly one of: {}", key.name, choices.join(", ")))
}

/// Help for a string where `argv` takes a list: it is an argument vector, and
/// a shell command line does not belong there.
pub fn argv_string(text: &str, line: u32, message: &str) -> Option<&'static str> {
    if !message.starts_with("expected sequence") {
        return None;
    }
    let key = KeyLine::parse(text.lines().nth((line as usize).checked_sub(1)?)?)?;
    key.name.ends_with("argv").then_some(
        "argv is an argument vector, one element per argument, never a shell command line: \
         [helm, upgrade, --install, \"{{release}}\"]; to apply what a command prints use `apply: {command: {argv: [...]}}`",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_names_and_their_alternatives_are_read_from_the_message() {
        let (name, expected) = unknown_name("unknown field `timout`, expected one of `namespaces`, `timeout`").unwrap();
        assert_eq!((name, expected), ("timout", vec!["namespaces", "timeout"]));
        let (name, expected) = unknown_name("unknown variant `hgh`, expected `low` or `high`").unwrap();
        assert_eq!((name, expected), ("hgh", vec!["low", "high"]));
        assert!(unknown_name("missing field `id`").is_none());
    }

    #[test]
    fn a_blanked_key_takes_its_nested_lines_with_it() {
        let text = "a: 1\nb:\n  c: 2\n\n  d: 3\ne: 4\n";
        assert_eq!(without_key(text, 2, 1).unwrap(), ("b".to_string(), "a: 1\n\n\n\n\ne: 4\n".to_string()));
        assert_eq!(without_key("a: 1\nb: x\n", 2, 4).unwrap().1, "a: 1\n\n");
        assert!(without_key("- b: 1\n", 1, 3).is_none());
    }

    #[test]
    fn keys_written_with_nothing_are_found_in_their_mapping() {
        let text = "steps:\n  - id: a\n    apply:\n    wait:\n      for: x\n  - id: b\n    note:\n";
        assert_eq!(empty_keys(text, 2), vec![(3, 5, "apply")]);
        assert_eq!(empty_keys(text, 6), vec![(7, 5, "note")]);
    }
}
