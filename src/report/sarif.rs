//! SARIF 2.1.0, as GitHub code scanning reads it: every rule as a reportingDescriptor with
//! its help and a `security-severity`, every finding as a result with a region, suppressed
//! findings carried with SARIF's own `suppressions`.

use std::collections::BTreeMap;

use serde_json::json;
use serde_sarif::sarif::{
    ArtifactLocation, Location, Message, MultiformatMessageString, PhysicalLocation, PropertyBag,
    Region, ReportingDescriptor, Result as SarifResult, ResultLevel, Run, Sarif, Suppression, Tool,
    ToolComponent,
};

use super::Report;
use crate::audit::rule::{Rule, Severity};
use crate::audit::rules;

fn level(sev: Severity) -> ResultLevel {
    match sev {
        Severity::Critical | Severity::High => ResultLevel::Error,
        Severity::Medium => ResultLevel::Warning,
        Severity::Low | Severity::Info => ResultLevel::Note,
    }
}

/// GitHub maps this number to critical (>= 9), high (>= 7), medium (>= 4) and low.
fn security_severity(sev: Severity) -> &'static str {
    match sev {
        Severity::Critical => "9.5",
        Severity::High => "8.0",
        Severity::Medium => "5.5",
        Severity::Low => "3.0",
        Severity::Info => "1.0",
    }
}

fn descriptor(rule: &Rule) -> ReportingDescriptor {
    let mut props = BTreeMap::new();
    props.insert(
        "security-severity".to_string(),
        json!(security_severity(rule.severity)),
    );
    props.insert("cis".to_string(), json!(rule.refs.cis));
    props.insert("kics".to_string(), json!(rule.refs.kics));
    props.insert("compose_lint".to_string(), json!(rule.refs.compose_lint));
    let help = format!("{}\n\nFix: {}", rule.why, rule.fix);
    ReportingDescriptor::builder()
        .id(rule.id)
        .name(rule.id)
        .short_description(MultiformatMessageString::builder().text(rule.title).build())
        .full_description(MultiformatMessageString::builder().text(rule.why).build())
        .help(MultiformatMessageString::builder().text(help).build())
        .properties(
            PropertyBag::builder()
                .tags(vec!["security".to_string(), rule.target().to_string()])
                .additional_properties(props)
                .build(),
        )
        .build()
}

/// SARIF URIs use forward slashes and no leading `./`.
fn uri(path: &std::path::Path) -> String {
    let s = path.to_string_lossy().replace('\\', "/");
    s.strip_prefix("./").unwrap_or(&s).to_string()
}

pub fn render(report: &Report) -> String {
    let all = rules::all();
    let results: Vec<SarifResult> = report
        .findings
        .iter()
        .map(|f| {
            let region = Region::builder()
                .start_line(i64::from(f.line.max(1)))
                .start_column(i64::from(f.column.max(1)))
                .build();
            let location = Location::builder()
                .physical_location(
                    PhysicalLocation::builder()
                        .artifact_location(ArtifactLocation::builder().uri(uri(&f.path)).build())
                        .region(region)
                        .build(),
                )
                .build();
            let index = all.iter().position(|r| r.id == f.rule.id).unwrap_or(0);
            let base = SarifResult::builder()
                .rule_id(f.rule.id)
                .rule_index(index as i64)
                .level(level(f.severity))
                .message(Message::builder().text(f.message().into_owned()).build())
                .locations(vec![location]);
            match &f.suppressed {
                Some(reason) => base
                    .suppressions(vec![
                        Suppression::builder()
                            .kind(json!("inSource"))
                            .justification(reason.to_string())
                            .build(),
                    ])
                    .build(),
                None => base.build(),
            }
        })
        .collect();
    let driver = ToolComponent::builder()
        .name("berth")
        .version(env!("CARGO_PKG_VERSION"))
        .rules(all.iter().map(descriptor).collect::<Vec<_>>())
        .build();
    let run = Run::builder()
        .tool(Tool::builder().driver(driver).build())
        .results(results)
        .build();
    let sarif = Sarif::builder()
        .schema(serde_sarif::sarif::SCHEMA_URL)
        .version(json!("2.1.0"))
        .runs(vec![run])
        .build();
    serde_json::to_string_pretty(&sarif).unwrap_or_default() + "\n"
}
