//! "Did you mean" for names an author misspelt: the known name closest to the
//! one written, when it is close enough to be a likely slip.

/// The candidate closest to `written`, if a few edits turn one into the other.
pub fn closest<'a>(written: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let limit = (written.chars().count() / 3).clamp(1, 3);
    candidates
        .into_iter()
        .filter(|c| *c != written)
        .map(|c| (distance(written, c), c))
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

/// `did you mean `x`?`, or nothing when no candidate is close.
pub fn did_you_mean<'a>(written: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<String> {
    closest(written, candidates).map(|c| format!("did you mean `{c}`?"))
}

/// Edit distance (insertions, deletions, substitutions; a swap of two
/// neighbouring characters counts as one), case-insensitive.
fn distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.to_lowercase().chars().collect();
    let b: Vec<char> = b.to_lowercase().chars().collect();
    let mut rows = vec![(0..=b.len()).collect::<Vec<usize>>()];
    for i in 1..=a.len() {
        let mut row = vec![i; b.len() + 1];
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            row[j] = (rows[i - 1][j] + 1).min(row[j - 1] + 1).min(rows[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                row[j] = row[j].min(rows[i - 2][j - 2] + 1);
            }
        }
        rows.push(row);
    }
    rows[a.len()][b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn close_names_are_suggested_and_far_ones_are_not() {
        assert_eq!(closest("timout", ["namespaces", "timeout", "kinds"]), Some("timeout"));
        assert_eq!(closest("meshed_namespase", ["namespace", "meshed_namespaces"]), Some("meshed_namespaces"));
        assert_eq!(closest("comand", ["command", "check"]), Some("command"));
        assert_eq!(closest("nmaespace", ["namespace"]), Some("namespace"));
        assert_eq!(closest("colour", ["id", "title", "steps"]), None);
        assert_eq!(closest("x", ["y"]), Some("y"));
        assert_eq!(closest("same", ["same"]), None);
    }
}
