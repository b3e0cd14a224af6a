//! Whether the procedures of a product cover every hop the policy allows,
//! without two of the same disruption competing for one.

use std::collections::BTreeSet;

use crate::runbook::catalog::ProductEntry;
use crate::runbook::error::Problem;

/// Every procedure must fit at least one hop the policy allows, and no two
/// procedures of the same disruption may fit the same hop and facts.
pub(super) fn check_coverage(product: &ProductEntry, problems: &mut Vec<Problem>) {
    let releases = &product.product.releases;
    let combos = product.fact_combinations();
    let mut used = BTreeSet::new();
    let mut reported = BTreeSet::new();
    for (i, from) in releases.iter().enumerate() {
        for to in &releases[i + 1..] {
            if product.hop_rule(from, to).is_none() {
                continue;
            }
            for facts in &combos {
                let fitting = product.fitting(from, to, facts);
                used.extend(fitting.iter().map(|p| p.id()));
                for (a, b) in fitting
                    .iter()
                    .zip(fitting.iter().skip(1))
                    .filter(|(a, b)| a.procedure.disruption == b.procedure.disruption)
                {
                    if reported.insert((a.id(), b.id())) {
                        for (this, other) in [(a, b), (b, a)] {
                            let msg = format!(
                                "procedures `{}` and `{}` both fit {from} -> {to} ({}) with the same disruption, so the choice is ambiguous",
                                this.id(),
                                other.id(),
                                describe(facts)
                            );
                            let help = "narrow `applies.from`/`to` or `when`, or give them different `disruption`";
                            problems.push(Problem::new(&this.file, this.procedure.applies.to.pos, msg).help(help));
                        }
                    }
                }
            }
        }
    }
    for entry in product.procedures.iter().filter(|p| !used.contains(p.id())) {
        let msg =
            format!("procedure `{}` fits no hop between known releases that the product's path allows", entry.id());
        let help = "check `applies` against the product's `releases` and `path.rules`";
        problems.push(Problem::new(&entry.file, entry.procedure.id.pos, msg).help(help));
    }
}

pub(super) fn describe(facts: &crate::runbook::catalog::Facts) -> String {
    if facts.is_empty() {
        return "any installation".into();
    }
    facts.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(", ")
}
