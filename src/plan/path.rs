//! Finding the versions a plan stops at: the fewest hops the product's path rules
//! allow, each hop fitted by some procedure, preferring the longest hops first.

use std::collections::BTreeMap;

use super::error::PlanError;
use crate::runbook::{Facts, ProductEntry, Version};

/// The versions from `from` to `to` inclusive, one hop between each neighbour.
pub fn find(product: &ProductEntry, from: &Version, to: &Version, facts: &Facts) -> Result<Vec<Version>, PlanError> {
    let nodes = stops(product, from, to);
    let hop = |a: &Version, b: &Version| {
        a < b && product.hop_rule(a, b).is_some() && !product.fitting(a, b, facts).is_empty()
    };
    // Hops still needed from each stop to the target, computed backwards.
    let mut remaining: BTreeMap<&Version, usize> = BTreeMap::new();
    remaining.insert(to, 0);
    for node in nodes.iter().rev().skip(1) {
        let best = nodes.iter().filter(|n| hop(node, n)).filter_map(|n| remaining.get(n)).min();
        if let Some(best) = best {
            remaining.insert(node, best + 1);
        }
    }
    let Some(&count) = remaining.get(from) else {
        return Err(explain_no_path(product, &nodes, from, to, facts));
    };
    let mut path = vec![from.clone()];
    let mut current = from;
    for left in (0..count).rev() {
        // Among the stops that keep the path shortest, the furthest one.
        let next = nodes
            .iter()
            .rev()
            .find(|n| remaining.get(n) == Some(&left) && hop(current, n))
            .ok_or_else(|| explain_no_path(product, &nodes, from, to, facts))?;
        path.push(next.clone());
        current = next;
    }
    Ok(path)
}

/// Where a plan may stop: the start, the newest known patch of each minor line in
/// between (other than the start's own line), and the target.
fn stops(product: &ProductEntry, from: &Version, to: &Version) -> Vec<Version> {
    let mut newest_per_line: BTreeMap<(u64, u64), &Version> = BTreeMap::new();
    for r in product
        .product
        .releases
        .iter()
        .filter(|r| *r > from && *r < to && r.line() != from.line() && r.line() != to.line())
    {
        newest_per_line.insert(r.line(), r);
    }
    let mut nodes = vec![from.clone()];
    nodes.extend(newest_per_line.into_values().cloned());
    nodes.push(to.clone());
    nodes
}

fn explain_no_path(
    product: &ProductEntry,
    nodes: &[Version],
    from: &Version,
    to: &Version,
    facts: &Facts,
) -> PlanError {
    let allowed_out: Vec<&Version> = nodes.iter().filter(|n| product.hop_rule(from, n).is_some()).collect();
    let explanation = if allowed_out.is_empty() {
        let rules: Vec<String> =
            product.product.path.rules.iter().map(|r| format!("  - {}", r.reason.trim())).collect();
        format!("no path rule allows a hop that starts at {from}. The rules are:\n{}", rules.join("\n"))
    } else if product.hop_rule(from, to).is_some() && product.fitting(from, to, facts).is_empty() {
        let described: Vec<String> = product
            .procedures
            .iter()
            .map(|p| {
                let a = &p.procedure.applies;
                let when: Vec<String> = a
                    .when
                    .iter()
                    .map(|(k, v)| {
                        format!("{}={}", k.value, v.iter().map(|x| x.value.as_str()).collect::<Vec<_>>().join("|"))
                    })
                    .collect();
                format!("  - {}: from {} to {} {}", p.id(), a.from.value, a.to.value, when.join(" "))
            })
            .collect();
        let facts_text: Vec<String> = facts.iter().map(|(k, v)| format!("{k}={v}")).collect();
        format!(
            "the path rules allow {from} -> {to}, but no procedure fits it for this installation ({}). Procedures:\n{}",
            facts_text.join(", "),
            described.join("\n")
        )
    } else {
        let reachable: Vec<String> = allowed_out.iter().map(ToString::to_string).collect();
        format!(
            "from {from} the path rules allow hops to {} only, and none of those lead on to {to}",
            reachable.join(", ")
        )
    };
    PlanError::NoPath { from: from.clone(), to: to.clone(), explanation }
}

/// How many minor releases `running` is behind `target`, counted over the
/// product's `releases`: the minor lines after `running`'s, up to and with
/// `target`'s. A line missing from the releases does not count.
pub fn minors_behind(releases: &[Version], running: &Version, target: &Version) -> u32 {
    let mut lines: Vec<(u64, u64)> =
        releases.iter().map(Version::line).filter(|l| *l > running.line() && *l <= target.line()).collect();
    lines.sort_unstable();
    lines.dedup();
    u32::try_from(lines.len()).unwrap_or(u32::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minors_behind_counts_the_product_s_minor_lines() {
        let v = |s: &str| Version::parse(s).unwrap();
        let releases: Vec<Version> = ["1.9.0", "2.0.0", "2.0.3", "2.1.0", "2.2.0", "2.4.0"].map(v).to_vec();
        assert_eq!(minors_behind(&releases, &v("2.1.4"), &v("2.1.0")), 0);
        assert_eq!(minors_behind(&releases, &v("2.0.1"), &v("2.2.0")), 2);
        assert_eq!(minors_behind(&releases, &v("1.9.0"), &v("2.2.0")), 3, "across the major: 2.0, 2.1, 2.2");
        assert_eq!(minors_behind(&releases, &v("2.2.0"), &v("2.4.0")), 1, "there was no 2.3");
    }
}
