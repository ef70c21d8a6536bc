//! The one registry of audit rules.

pub mod caps;
pub mod daemon;
pub mod filesystem;
pub mod identity;
pub mod meta;
pub mod namespaces;
pub mod network;
pub mod privileges;
pub mod resources;
pub mod secrets;
pub mod supply;

use std::sync::OnceLock;

use super::rule::Rule;

/// Every rule, in a stable order (the order of `berth rules`).
pub fn all() -> &'static [Rule] {
    static ALL: OnceLock<Vec<Rule>> = OnceLock::new();
    ALL.get_or_init(|| {
        [
            privileges::RULES,
            caps::RULES,
            namespaces::RULES,
            filesystem::RULES,
            network::RULES,
            identity::RULES,
            resources::RULES,
            supply::RULES,
            secrets::RULES,
            daemon::RULES,
            meta::RULES,
        ]
        .concat()
    })
}

pub fn get(id: &str) -> Option<&'static Rule> {
    all().iter().find(|r| r.id == id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_unique_kebab_case_and_documented() {
        let mut seen = std::collections::BTreeSet::new();
        for r in all() {
            assert!(seen.insert(r.id), "duplicate {}", r.id);
            assert!(
                r.id.bytes()
                    .all(|b| b.is_ascii_lowercase() || b == b'-' || b.is_ascii_digit()),
                "{}",
                r.id
            );
            assert!(
                !r.title.is_empty() && r.why.len() > 30 && r.fix.len() > 10,
                "{}",
                r.id
            );
        }
    }
}
