//! Turning errors into what the operator reads: miette diagnostics that point at
//! the offending runbook line.

use miette::{LabeledSpan, MietteDiagnostic, NamedSource, Report};

use crate::runbook::Problem;

/// A runbook problem as a diagnostic with the file's text, so the offending line
/// is shown and underlined.
pub fn problem(p: &Problem) -> Report {
    let offset = p.offset().min(p.file.text.len());
    let len = token_len(&p.file.text[offset..]);
    let mut diag = MietteDiagnostic::new(format!("{}:{}:{}: {}", p.file.name, p.pos.line, p.pos.column, p.message))
        .with_code("stepwise::runbook");
    if p.pos.is_known() {
        diag = diag.with_label(LabeledSpan::at(offset..offset + len, "here"));
    }
    if let Some(help) = &p.help {
        diag = diag.with_help(help.clone());
    }
    if p.warning {
        diag = diag.with_severity(miette::Severity::Warning);
    }
    Report::new(diag).with_source_code(NamedSource::new(p.file.name.clone(), p.file.text.clone()))
}

/// How much to underline: the word or quoted value at the spot, at least one character.
fn token_len(rest: &str) -> usize {
    let end = rest.find(['\n', ',', ']', '}', '#']).unwrap_or(rest.len());
    let token = rest[..end].trim_end();
    token.len().max(rest.chars().next().map_or(0, char::len_utf8)).min(end.max(1))
}

#[cfg(test)]
mod tests {
    use super::token_len;

    #[test]
    fn underlines_one_value() {
        assert_eq!(token_len("lowish\nnext: 1"), 6);
        assert_eq!(token_len("'>=>1', to: x"), 6);
        assert_eq!(token_len("\n"), 1);
        assert_eq!(token_len(""), 0);
    }
}
