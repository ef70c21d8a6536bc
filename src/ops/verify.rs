//! `berth verify`: for each container of an app, what the compose file declares, what the
//! engine configured, and what the kernel enforces; every difference is reported.

use std::collections::BTreeSet;
use std::path::Path;

use serde::Serialize;
use serde_json::Value;

use crate::audit::posture::{MountKind, Posture};
use crate::audit::rules::caps::normalize;
use crate::audit::rules::privileges::security_opt;
use crate::compose::project::{self, RealFs};
use crate::engine;
use crate::error::{Error, Result};
use crate::host::baseline;
use crate::units::parse_bytes;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Difference {
    pub service: String,
    pub container: String,
    /// "configured" (the engine's settings) or "enforced" (the kernel's view).
    pub layer: &'static str,
    pub field: String,
    pub declared: String,
    pub actual: String,
}

#[derive(Debug, Serialize)]
pub struct Verified {
    pub containers: usize,
    pub differences: Vec<Difference>,
    /// What could not be checked on this host, and why (never silently skipped).
    pub unchecked: Vec<String>,
}

/// The value of a service's `security_opt` entry `key` (`key=value` or `key:value`, read
/// as the audit reads it).
fn security_opt_value<'a>(entries: impl IntoIterator<Item = &'a str>, key: &str) -> Option<String> {
    entries.into_iter().find_map(|o| {
        let (k, v) = security_opt(o);
        (k == key).then_some(v)
    })
}

/// The kernel's confinement label for a process, as /proc/PID/attr shows it
/// (`docker-default (enforce)`); the AppArmor-specific file first, since a kernel that
/// stacks several LSMs puts another one's label in attr/current.
fn apparmor_label(pid: i64) -> Option<String> {
    ["attr/apparmor/current", "attr/current"]
        .iter()
        .find_map(|f| std::fs::read_to_string(format!("/proc/{pid}/{f}")).ok())
        .map(|l| l.trim_end_matches(['\0', '\n']).to_string())
}

/// The kernel's AppArmor view against the stated profile: `Ok((declared, actual))`
/// to compare (a complain-mode or unconfined label differs), `Err` when it cannot be
/// checked on this host.
fn apparmor_enforced(
    profile: &str,
    kernel_has_apparmor: bool,
    label: Option<String>,
) -> std::result::Result<(String, String), String> {
    if !kernel_has_apparmor {
        return Err(format!(
            "AppArmor: this kernel does not run AppArmor, so the stated profile {profile} is \
             not enforced (`berth host status` reports it)"
        ));
    }
    let declared = format!("{profile} (enforce)");
    let actual =
        label.unwrap_or_else(|| "unreadable (/proc/PID/attr of another PID namespace)".into());
    Ok((declared, actual))
}

/// Compose's cpus as the engine stores them (NanoCpus).
fn nano_cpus(cpus: &str) -> u64 {
    cpus.parse::<f64>().map_or(0, |c| (c * 1e9).round() as u64)
}

fn cap_mask(caps: &BTreeSet<String>) -> u64 {
    caps.iter()
        .filter_map(|c| format!("CAP_{c}").parse::<caps::Capability>().ok())
        .fold(0, |m, c| m | c.bitmask())
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .map(|a| {
            a.iter()
                .filter_map(|x| x.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

fn status_field(status: &str, name: &str) -> Option<String> {
    status
        .lines()
        .find(|l| l.starts_with(name))
        .and_then(|l| l.split_whitespace().nth(1))
        .map(str::to_string)
}

/// Compares every container of the project in `dir` with its compose file.
pub fn verify(name: &str, dir: &Path) -> Result<Verified> {
    let compose = dir.join("compose.yaml");
    let loaded =
        project::load(&RealFs, &[compose], None).map_err(|e| Error::input(e.to_string()))?;
    let declared: Vec<Posture> = loaded
        .services
        .iter()
        .map(|s| Posture::from_compose(s, dir))
        .collect();
    let containers = engine::containers(&format!("berth-{name}"))?;
    let mut differences = Vec::new();
    let mut unchecked = BTreeSet::new();
    let apparmor_on = baseline::apparmor_enabled(
        std::fs::read_to_string(Path::new("/").join(baseline::APPARMOR_ENABLED))
            .ok()
            .as_deref(),
    );
    for c in &containers {
        let service = c["Config"]["Labels"]["com.docker.compose.service"]
            .as_str()
            .unwrap_or("?")
            .to_string();
        let id: String = c["Id"].as_str().unwrap_or("").chars().take(12).collect();
        let mut diff = |layer: &'static str, field: &str, declared: String, actual: String| {
            if declared != actual {
                differences.push(Difference {
                    service: service.clone(),
                    container: id.clone(),
                    layer,
                    field: field.to_string(),
                    declared,
                    actual,
                });
            }
        };
        let Some(want) = declared.iter().find(|p| p.name == service) else {
            diff(
                "configured",
                "service",
                "a service of the compose file".into(),
                format!("unknown service {service}"),
            );
            continue;
        };
        let hc = &c["HostConfig"];
        // Configured: what the engine was asked to do.
        let want_add: BTreeSet<String> = want.cap_add.iter().map(|c| normalize(&c.value)).collect();
        let got_add: BTreeSet<String> = strings(&hc["CapAdd"])
            .iter()
            .map(|c| normalize(c))
            .collect();
        diff(
            "configured",
            "CapAdd",
            format!("{want_add:?}"),
            format!("{got_add:?}"),
        );
        let want_drop: BTreeSet<String> =
            want.cap_drop.iter().map(|c| normalize(&c.value)).collect();
        let got_drop: BTreeSet<String> = strings(&hc["CapDrop"])
            .iter()
            .map(|c| normalize(c))
            .collect();
        diff(
            "configured",
            "CapDrop",
            format!("{want_drop:?}"),
            format!("{got_drop:?}"),
        );
        diff(
            "configured",
            "Privileged",
            "false".into(),
            hc["Privileged"].as_bool().unwrap_or(false).to_string(),
        );
        let want_ro = want.read_only.as_ref().is_some_and(|r| r.value);
        diff(
            "configured",
            "ReadonlyRootfs",
            want_ro.to_string(),
            hc["ReadonlyRootfs"].as_bool().unwrap_or(false).to_string(),
        );
        let want_opts: BTreeSet<String> =
            want.security_opt.iter().map(|o| o.value.clone()).collect();
        let got_opts: BTreeSet<String> = strings(&hc["SecurityOpt"]).into_iter().collect();
        diff(
            "configured",
            "SecurityOpt",
            format!("{want_opts:?}"),
            format!("{got_opts:?}"),
        );
        let want_ipc = want.ipc.as_ref().map_or(String::new(), |i| i.value.clone());
        diff(
            "configured",
            "IpcMode",
            want_ipc,
            hc["IpcMode"].as_str().unwrap_or("").to_string(),
        );
        let want_user = want
            .user
            .as_ref()
            .map_or(String::new(), |u| u.value.clone());
        diff(
            "configured",
            "User",
            want_user,
            c["Config"]["User"].as_str().unwrap_or("").to_string(),
        );
        let want_mem = want
            .memory
            .as_ref()
            .and_then(|m| parse_bytes(&m.value))
            .unwrap_or(0);
        diff(
            "configured",
            "Memory",
            want_mem.to_string(),
            hc["Memory"].as_u64().unwrap_or(0).to_string(),
        );
        let want_pids = want
            .pids
            .as_ref()
            .map_or("0".to_string(), |p| p.value.clone());
        diff(
            "configured",
            "PidsLimit",
            want_pids,
            hc["PidsLimit"].as_i64().unwrap_or(0).to_string(),
        );
        let want_cpus = want.cpus.as_ref().map_or(0, |c| nano_cpus(&c.value));
        diff(
            "configured",
            "NanoCpus",
            want_cpus.to_string(),
            hc["NanoCpus"].as_u64().unwrap_or(0).to_string(),
        );
        // Logging: the driver, and the rotation options the service states.
        let want_driver = want
            .logging_driver
            .as_ref()
            .map(|d| d.value.clone())
            .unwrap_or_else(|| hc["LogConfig"]["Type"].as_str().unwrap_or("").to_string());
        diff(
            "configured",
            "LogConfig.Type",
            want_driver,
            hc["LogConfig"]["Type"].as_str().unwrap_or("").to_string(),
        );
        for (key, value) in &want.logging_options {
            diff(
                "configured",
                &format!("LogConfig.Config.{key}"),
                value.value.clone(),
                hc["LogConfig"]["Config"][key]
                    .as_str()
                    .unwrap_or("")
                    .to_string(),
            );
        }
        // Mounts: each declared bind or volume at its target, with its access; binds from
        // the same host path (a volume's engine name carries the project's prefix).
        let show_mount = |target: &str, source: Option<&str>, rw: bool| {
            let access = if rw { "rw" } else { "ro" };
            match source {
                Some(src) => format!("{src}:{target}:{access}"),
                None => format!("{target}:{access}"),
            }
        };
        let want_mounts: BTreeSet<String> = want
            .mounts
            .iter()
            .filter(|m| m.value.kind != MountKind::Tmpfs)
            .map(|m| {
                let source = (m.value.kind == MountKind::Bind)
                    .then_some(m.value.source.as_deref())
                    .flatten();
                show_mount(&m.value.target, source, !m.value.read_only)
            })
            .collect();
        let got_mounts: BTreeSet<String> = c["Mounts"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|m| {
                let source = (m["Type"] == "bind").then(|| m["Source"].as_str().unwrap_or(""));
                show_mount(
                    m["Destination"].as_str().unwrap_or(""),
                    source,
                    m["RW"].as_bool().unwrap_or(false),
                )
            })
            .collect();
        diff(
            "configured",
            "Mounts",
            format!("{want_mounts:?}"),
            format!("{got_mounts:?}"),
        );
        let stated = || want.security_opt.iter().map(|o| o.value.as_str());
        let want_apparmor = security_opt_value(stated(), "apparmor");
        // Without AppArmor in the kernel the engine drops the profile (AppArmorProfile is
        // empty); that is reported as unchecked below, not as drift.
        if let Some(profile) = want_apparmor.as_ref().filter(|_| apparmor_on) {
            diff(
                "configured",
                "AppArmorProfile",
                profile.clone(),
                c["AppArmorProfile"].as_str().unwrap_or("").to_string(),
            );
        }
        let want_ports: BTreeSet<String> = want
            .ports
            .iter()
            .map(|p| {
                format!(
                    "{}:{}->{}/{}",
                    p.value.host_ip.clone().unwrap_or_default(),
                    p.value.published.clone().unwrap_or_default(),
                    p.value.target,
                    p.value.protocol
                )
            })
            .collect();
        let mut got_ports = BTreeSet::new();
        if let Some(bindings) = hc["PortBindings"].as_object() {
            for (port, list) in bindings {
                let (target, proto) = port.split_once('/').unwrap_or((port, "tcp"));
                for b in list.as_array().into_iter().flatten() {
                    got_ports.insert(format!(
                        "{}:{}->{target}/{proto}",
                        b["HostIp"].as_str().unwrap_or(""),
                        b["HostPort"].as_str().unwrap_or("")
                    ));
                }
            }
        }
        diff(
            "configured",
            "PortBindings",
            format!("{want_ports:?}"),
            format!("{got_ports:?}"),
        );

        // Enforced: what the kernel holds for the container's main process.
        if let Some(health) = c["State"]["Health"]["Status"].as_str() {
            diff("enforced", "Health", "healthy".into(), health.to_string());
        }
        if c["State"]["Running"].as_bool() != Some(true) {
            diff(
                "enforced",
                "State",
                "running".into(),
                c["State"]["Status"].as_str().unwrap_or("?").to_string(),
            );
            continue;
        }
        let Some(status) = engine::proc_status(c) else {
            diff(
                "enforced",
                "/proc status",
                "readable".into(),
                "unreadable (no cat in the image and another PID namespace)".into(),
            );
            continue;
        };
        let bounding = if want_drop.contains("ALL") {
            cap_mask(&want_add)
        } else {
            u64::MAX
        };
        let uid0 = want
            .user
            .as_ref()
            .is_none_or(|u| u.value.split(':').next() == Some("0") || u.value.starts_with("root"));
        let effective = if uid0 { bounding } else { 0 };
        let hex = |v: u64| format!("{v:016x}");
        if want_drop.contains("ALL") {
            diff(
                "enforced",
                "CapBnd",
                hex(bounding),
                status_field(&status, "CapBnd:").unwrap_or_default(),
            );
            diff(
                "enforced",
                "CapEff",
                hex(effective),
                status_field(&status, "CapEff:").unwrap_or_default(),
            );
        }
        // `no-new-privileges` alone means true; `no-new-privileges:false` turns it off.
        if let Some(nnp) = security_opt_value(stated(), "no-new-privileges") {
            diff(
                "enforced",
                "NoNewPrivs",
                if nnp == "false" { "0" } else { "1" }.into(),
                status_field(&status, "NoNewPrivs:").unwrap_or_default(),
            );
        }
        diff(
            "enforced",
            "Seccomp",
            "2".into(),
            status_field(&status, "Seccomp:").unwrap_or_default(),
        );
        if let Some(profile) = &want_apparmor {
            let label = apparmor_on
                .then(|| engine::host_pid(c).and_then(apparmor_label))
                .flatten();
            match apparmor_enforced(profile, apparmor_on, label) {
                Ok((declared, actual)) => diff("enforced", "AppArmor", declared, actual),
                Err(why) => {
                    unchecked.insert(why);
                }
            }
        }
        // A namespace the process shares with berth's own (the host's) is not isolated.
        if let Some(shared) = engine::shared_namespaces(c) {
            diff(
                "enforced",
                "shared namespaces",
                "[]".into(),
                format!("{shared:?}"),
            );
        }
    }
    // Every declared service must have a container: `compose up` can exit 0 after a pull
    // failed (seen with Compose 2.40), so absence is checked, not assumed.
    for want in &declared {
        let present = containers.iter().any(|c| {
            c["Config"]["Labels"]["com.docker.compose.service"].as_str() == Some(&want.name)
        });
        if !present {
            differences.push(Difference {
                service: want.name.clone(),
                container: String::new(),
                layer: "configured",
                field: "container".into(),
                declared: "running".into(),
                actual: "missing".into(),
            });
        }
    }
    Ok(Verified {
        containers: containers.len(),
        differences,
        unchecked: unchecked.into_iter().collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn apparmor_is_compared_with_the_kernels_label_or_said_unchecked() {
        let same = apparmor_enforced(
            "docker-default",
            true,
            Some("docker-default (enforce)".into()),
        );
        let (declared, actual) = same.unwrap();
        assert_eq!(declared, actual);
        for label in ["docker-default (complain)", "unconfined"] {
            let (declared, actual) =
                apparmor_enforced("docker-default", true, Some(label.into())).unwrap();
            assert_ne!(declared, actual, "{label}");
        }
        let unreadable = apparmor_enforced("docker-default", true, None).unwrap();
        assert!(unreadable.1.starts_with("unreadable"));
        let off = apparmor_enforced("docker-default", false, None).unwrap_err();
        assert!(off.contains("does not run AppArmor"), "{off}");
    }

    #[test]
    fn the_stated_profile_is_read_in_either_spelling() {
        for opts in [
            ["no-new-privileges:true", "apparmor=web"],
            ["AppArmor:web", "label=x"],
        ] {
            assert_eq!(security_opt_value(opts, "apparmor").as_deref(), Some("web"));
        }
        assert_eq!(security_opt_value(["seccomp=x"], "apparmor"), None);
    }

    #[test]
    fn cpus_are_stored_as_nanocpus() {
        assert_eq!(nano_cpus("0.5"), 500_000_000);
        assert_eq!(nano_cpus("2"), 2_000_000_000);
        assert_eq!(nano_cpus("0.1"), 100_000_000);
        assert_eq!(nano_cpus("many"), 0);
    }
}
