//! Findings the audit itself makes about its input: suppressions and unset variables.

use super::super::rule::{Check, NO_REFS, Rule, Severity};

pub const SUPPRESSION_INVALID: Rule = Rule {
    id: "suppression-invalid",
    severity: Severity::Low,
    title: "Suppression without a reason or for an unknown rule",
    why: "A suppression is a decision someone must be able to review: it names a real rule \
          and says why. One without a reason is not applied.",
    fix: "Write `# berth: allow RULE-ID -- why this is acceptable here`.",
    refs: NO_REFS,
    check: Check::Meta,
};

pub const VARIABLE_REQUIRED_UNSET: Rule = Rule {
    id: "variable-required-unset",
    severity: Severity::Info,
    title: "Required variable not set",
    why: "`${VAR:?}` makes Compose refuse to start without VAR; the audit read the value as \
          empty, so findings that depend on it may differ from what will run.",
    fix: "Pass the .env the stack is deployed with (`--env-file`).",
    refs: NO_REFS,
    check: Check::Meta,
};

pub const RULES: &[Rule] = &[SUPPRESSION_INVALID, VARIABLE_REQUIRED_UNSET];
