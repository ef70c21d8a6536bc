//! /etc/docker/daemon.json, merged, never clobbered. Architecture invariant: pure; text in,
//! text and a report out.
//!
//! berth manages a few keys. A key the operator did not set is added; a key the operator
//! set to the same value is left; a key set to something else is reported as a conflict and
//! left alone unless forced. Every other key stays exactly as it was, in its place.

use serde_json::{Map, Value, json};

use crate::audit::daemon_config;

/// The open-files limit berth gives containers by default: enough for databases and
/// Node apps, bounded so one container cannot hold a million descriptors.
pub const NOFILE: u64 = 65536;

/// What berth wants in daemon.json, in the order it adds them.
pub fn managed(facts: &HostFacts) -> Vec<(&'static str, Value)> {
    let nofile = facts.nofile_ceiling.map_or(NOFILE, |c| c.min(NOFILE));
    vec![
        ("live-restore", json!(true)),
        ("userland-proxy", json!(false)),
        ("no-new-privileges", json!(true)),
        (
            "default-ulimits",
            json!({"nofile": {"Name": "nofile", "Hard": nofile, "Soft": nofile}}),
        ),
        ("log-driver", json!("json-file")),
        ("log-opts", json!({"max-size": "10m", "max-file": "3"})),
        ("storage-driver", json!("overlay2")),
    ]
}

/// Facts about the host that change what is safe to add.
#[derive(Debug, Clone, Default)]
pub struct HostFacts {
    /// The node is part of a Swarm (live-restore is refused by dockerd in Swarm mode).
    pub swarm_active: bool,
    /// A storage driver other than overlay2 holds data (/var/lib/docker/<driver> exists).
    pub other_storage_driver: Option<String>,
    /// The most open files the engine can give a container, when it cannot raise its own
    /// limit (see [`nofile_ceiling`]); `None` when unknown or not bounded.
    pub nofile_ceiling: Option<u64>,
}

/// The highest nofile a container of this engine can get, from dockerd's /proc/PID/status
/// and /proc/PID/limits. runc sets the container's rlimit from a process that inherits the
/// engine's limits (containerd and its shim are the engine's children unless run apart);
/// raising a hard limit needs CAP_SYS_RESOURCE, which an engine in an unprivileged LXC
/// container or a rootless engine does not have. There, asking for more than the hard limit
/// makes every container start fail ("error setting rlimit type 7: operation not permitted").
pub fn nofile_ceiling(status: &str, limits: &str) -> Option<u64> {
    let cap_eff = status
        .lines()
        .find_map(|l| l.strip_prefix("CapEff:"))
        .and_then(|v| u64::from_str_radix(v.trim(), 16).ok())?;
    if cap_eff & caps::Capability::CAP_SYS_RESOURCE.bitmask() != 0 {
        return None;
    }
    let hard = limits
        .lines()
        .find_map(|l| l.strip_prefix("Max open files"))?
        .split_whitespace()
        .nth(1)?;
    hard.parse().ok()
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Conflict {
    pub key: String,
    pub current: String,
    pub wanted: String,
    /// What happens: left alone, or replaced because forced.
    pub resolution: String,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Merge {
    /// The merged file; equal to the input when nothing changes.
    pub text: String,
    pub added: Vec<String>,
    pub conflicts: Vec<Conflict>,
    /// Known interactions worth knowing (route_localnet, Swarm, storage).
    pub notes: Vec<String>,
}

/// Why an existing daemon.json was not touched.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invalid {
    pub line: u32,
    pub col: u32,
    pub message: String,
}

fn show(v: &Value) -> String {
    serde_json::to_string(v).unwrap_or_default()
}

pub fn merge(
    existing: Option<&str>,
    facts: &HostFacts,
    force: &[String],
) -> Result<Merge, Invalid> {
    let mut doc: Map<String, Value> = match existing {
        None => Map::new(),
        Some(text) if text.trim().is_empty() => Map::new(),
        Some(text) => {
            // Strict JSON with positions, and duplicate keys refused (serde_json alone would
            // silently keep the last one; berth never "repairs" what it cannot parse).
            daemon_config::parse(text, 0).map_err(|e| Invalid {
                line: e.line,
                col: e.col,
                message: e.message,
            })?;
            match serde_json::from_str::<Value>(text) {
                Ok(Value::Object(map)) => map,
                _ => {
                    return Err(Invalid {
                        line: 1,
                        col: 1,
                        message: "daemon.json must be a JSON object".into(),
                    });
                }
            }
        }
    };
    let mut added = Vec::new();
    let mut conflicts = Vec::new();
    let mut notes = Vec::new();
    let forced = |key: &str| force.iter().any(|f| f == key);

    for (key, wanted) in managed(facts) {
        if key == "live-restore" && facts.swarm_active {
            notes.push(
                "live-restore is not added: this node is in Swarm mode, and dockerd refuses \
                 live-restore there (\"--live-restore daemon configuration is incompatible \
                 with swarm mode\")"
                    .into(),
            );
            continue;
        }
        if key == "storage-driver"
            && !doc.contains_key(key)
            && let Some(driver) = &facts.other_storage_driver
        {
            notes.push(format!(
                "storage-driver is not added: /var/lib/docker/{driver} holds this engine's \
                 images and containers, and switching to overlay2 would hide them"
            ));
            continue;
        }
        if key == "log-opts" {
            merge_log_opts(&mut doc, &wanted, &mut added, &mut notes);
            continue;
        }
        match doc.get(key) {
            None => {
                doc.insert(key.to_string(), wanted);
                added.push(key.to_string());
            }
            Some(current) if *current == wanted => {}
            Some(current) if key == "default-ulimits" && current.get("nofile").is_none() => {
                // Keep the operator's other ulimits, add nofile beside them.
                if let (Some(Value::Object(map)), Some(nofile)) =
                    (doc.get_mut(key), wanted.get("nofile"))
                {
                    map.insert("nofile".into(), nofile.clone());
                    added.push("default-ulimits.nofile".into());
                }
            }
            Some(current) => {
                let current_text = show(current);
                let resolution = if forced(key) {
                    doc.insert(key.to_string(), wanted.clone());
                    "replaced (--force)".to_string()
                } else {
                    format!("left as the operator set it; `--force {key}` replaces it")
                };
                conflicts.push(Conflict {
                    key: key.to_string(),
                    current: current_text,
                    wanted: show(&wanted),
                    resolution,
                });
            }
        }
    }
    if let Some(ceiling) = facts.nofile_ceiling {
        nofile_notes(&doc, ceiling, &mut notes);
    }
    if doc.get("userland-proxy") == Some(&json!(false)) {
        notes.push(
            "userland-proxy false: ports published on 127.0.0.1 stay reachable from the host \
             itself because dockerd sets net.ipv4.conf.<bridge>.route_localnet=1; IPv6 \
             loopback (::1) has no such path, so nginx must proxy to 127.0.0.1"
                .into(),
        );
    }
    let mut text = serde_json::to_string_pretty(&Value::Object(doc)).unwrap_or_default();
    text.push('\n');
    // Unchanged content keeps the operator's formatting byte for byte.
    if added.is_empty()
        && conflicts
            .iter()
            .all(|c| !c.resolution.starts_with("replaced"))
        && let Some(existing) = existing
        && !existing.trim().is_empty()
    {
        text = existing.to_string();
    }
    Ok(Merge {
        text,
        added,
        conflicts,
        notes,
    })
}

/// Says why nofile is lower than usual, and warns when the file asks for more than the
/// engine can give (every container start would fail).
fn nofile_notes(doc: &Map<String, Value>, ceiling: u64, notes: &mut Vec<String>) {
    let nofile = &doc.get("default-ulimits").and_then(|u| u.get("nofile"));
    let asked = ["Soft", "Hard"]
        .iter()
        .filter_map(|k| nofile.and_then(|n| n.get(k)).and_then(Value::as_u64))
        .max();
    match asked {
        Some(asked) if asked > ceiling => notes.push(format!(
            "default-ulimits.nofile asks for {asked} open files, but the engine cannot raise its \
             own limit above {ceiling} (no CAP_SYS_RESOURCE): every container start will fail \
             with \"error setting rlimit type 7\"; `--force default-ulimits` sets {ceiling}"
        )),
        Some(_) if ceiling < NOFILE => notes.push(format!(
            "default-ulimits.nofile is {ceiling}, not {NOFILE}: the engine cannot raise its own \
             open-files limit (no CAP_SYS_RESOURCE, as in an unprivileged LXC container or a \
             rootless engine), and containers cannot get more than it has"
        )),
        _ => {}
    }
}

/// json-file rotation: with log-driver json-file (or unset, which means json-file), make
/// sure max-size and max-file are there; an operator's own values are kept.
fn merge_log_opts(
    doc: &mut Map<String, Value>,
    wanted: &Value,
    added: &mut Vec<String>,
    notes: &mut Vec<String>,
) {
    let driver = doc
        .get("log-driver")
        .and_then(Value::as_str)
        .unwrap_or("json-file");
    if driver != "json-file" && driver != "local" {
        notes.push(format!(
            "log-opts are not added: log-driver is {driver}, which rotates (or ships) logs its own way"
        ));
        return;
    }
    let opts = doc
        .entry("log-opts")
        .or_insert_with(|| Value::Object(Map::new()));
    let Value::Object(opts) = opts else {
        notes.push("log-opts is not an object; left alone".into());
        return;
    };
    if let Value::Object(want) = wanted {
        for (k, v) in want {
            if !opts.contains_key(k) {
                opts.insert(k.clone(), v.clone());
                added.push(format!("log-opts.{k}"));
            }
        }
    }
}

/// Checks types of the keys berth manages (dockerd checks the rest with --validate).
pub fn validate(text: &str) -> Result<(), String> {
    let v: Value = serde_json::from_str(text).map_err(|e| e.to_string())?;
    let obj = v.as_object().ok_or("not a JSON object")?;
    for (key, want) in [
        ("live-restore", "boolean"),
        ("userland-proxy", "boolean"),
        ("no-new-privileges", "boolean"),
        ("icc", "boolean"),
        ("default-ulimits", "object"),
        ("log-opts", "object"),
        ("log-driver", "string"),
        ("storage-driver", "string"),
    ] {
        if let Some(value) = obj.get(key) {
            let ok = match want {
                "boolean" => value.is_boolean(),
                "object" => value.is_object(),
                _ => value.is_string(),
            };
            if !ok {
                return Err(format!("{key} must be a {want}"));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts() -> HostFacts {
        HostFacts::default()
    }

    #[test]
    fn fresh_host_gets_everything() {
        let m = merge(None, &facts(), &[]).unwrap();
        let v: Value = serde_json::from_str(&m.text).unwrap();
        assert_eq!(v["live-restore"], true);
        assert_eq!(v["userland-proxy"], false);
        assert_eq!(v["default-ulimits"]["nofile"]["Soft"], 65536);
        assert_eq!(v["log-opts"]["max-size"], "10m");
        assert_eq!(v["storage-driver"], "overlay2");
        assert!(m.conflicts.is_empty());
        validate(&m.text).unwrap();
    }

    #[test]
    fn hardened_host_is_a_no_op_byte_for_byte() {
        let first = merge(None, &facts(), &[]).unwrap().text;
        let reformatted = first.replace("  ", "    ");
        let again = merge(Some(&reformatted), &facts(), &[]).unwrap();
        assert!(again.added.is_empty());
        assert_eq!(again.text, reformatted);
    }

    #[test]
    fn operator_keys_are_kept_in_place_and_conflicts_reported() {
        let existing = "{\n  \"data-root\": \"/srv/docker\",\n  \"live-restore\": false,\n  \"log-opts\": {\"max-size\": \"50m\"},\n  \"dns\": [\"1.1.1.1\"]\n}\n";
        let m = merge(Some(existing), &facts(), &[]).unwrap();
        let v: Value = serde_json::from_str(&m.text).unwrap();
        let keys: Vec<&String> = v.as_object().unwrap().keys().collect();
        assert_eq!(&keys[..4], ["data-root", "live-restore", "log-opts", "dns"]);
        assert_eq!(v["live-restore"], false, "left alone");
        assert_eq!(v["log-opts"]["max-size"], "50m", "operator value kept");
        assert_eq!(v["log-opts"]["max-file"], "3");
        assert_eq!(m.conflicts[0].key, "live-restore");
        let forced = merge(Some(existing), &facts(), &["live-restore".into()]).unwrap();
        let v: Value = serde_json::from_str(&forced.text).unwrap();
        assert_eq!(v["live-restore"], true);
    }

    #[test]
    fn unparseable_input_is_refused_with_its_position() {
        for (text, line) in [
            ("{\n  \"a\": 1,\n}\n", 3),
            ("{\n  // comment\n  \"a\": 1\n}\n", 2),
            ("{\n  \"a\": 1,\n  \"a\": 2\n}\n", 3),
        ] {
            let err = merge(Some(text), &facts(), &[]).unwrap_err();
            assert_eq!(err.line, line, "{text}: {err:?}");
        }
    }

    #[test]
    fn swarm_and_other_storage_drivers_are_respected() {
        let facts = HostFacts {
            swarm_active: true,
            other_storage_driver: Some("btrfs".into()),
            nofile_ceiling: None,
        };
        let m = merge(None, &facts, &[]).unwrap();
        let v: Value = serde_json::from_str(&m.text).unwrap();
        assert!(v.get("live-restore").is_none());
        assert!(v.get("storage-driver").is_none());
        assert_eq!(m.notes.len(), 3);
    }

    const LIMITS: &str = "Limit                     Soft Limit           Hard Limit           Units     \n\
Max cpu time              unlimited            unlimited            seconds   \n\
Max open files            20000                20000                files     \n";

    #[test]
    fn the_ceiling_is_the_hard_limit_only_without_cap_sys_resource() {
        // Read off this machine's dockerd: every capability but CAP_SYS_RESOURCE (bit 24).
        let without = "Name:\tdockerd\nCapEff:\t000001fffeffffff\n";
        let with = "Name:\tdockerd\nCapEff:\t000001ffffffffff\n";
        assert_eq!(nofile_ceiling(without, LIMITS), Some(20000));
        assert_eq!(nofile_ceiling(with, LIMITS), None);
        let unlimited = LIMITS.replace("20000                20000", "unlimited unlimited");
        assert_eq!(nofile_ceiling(without, &unlimited), None);
        assert_eq!(nofile_ceiling("Name:\tdockerd\n", LIMITS), None, "unknown");
    }

    #[test]
    fn nofile_never_exceeds_what_the_engine_can_give() {
        let bounded = HostFacts {
            nofile_ceiling: Some(20000),
            ..HostFacts::default()
        };
        let m = merge(None, &bounded, &[]).unwrap();
        let v: Value = serde_json::from_str(&m.text).unwrap();
        assert_eq!(v["default-ulimits"]["nofile"]["Soft"], 20000);
        assert_eq!(v["default-ulimits"]["nofile"]["Hard"], 20000);
        assert!(
            m.notes.iter().any(|n| n.contains("not 65536")),
            "{:?}",
            m.notes
        );
        // Re-planned on the same engine: nothing to do.
        let again = merge(Some(&m.text), &bounded, &[]).unwrap();
        assert!(again.added.is_empty() && again.conflicts.is_empty());
        // A roomy engine is not lowered.
        let roomy = HostFacts {
            nofile_ceiling: Some(1 << 20),
            ..HostFacts::default()
        };
        let v: Value = serde_json::from_str(&merge(None, &roomy, &[]).unwrap().text).unwrap();
        assert_eq!(v["default-ulimits"]["nofile"]["Hard"], 65536);
        // A file asking for more than the engine can give is a conflict, with the reason.
        let unbounded = merge(None, &facts(), &[]).unwrap().text;
        let m = merge(Some(&unbounded), &bounded, &[]).unwrap();
        assert_eq!(m.conflicts[0].key, "default-ulimits");
        assert!(
            m.notes
                .iter()
                .any(|n| n.contains("every container start will fail"))
        );
        let forced = merge(Some(&unbounded), &bounded, &["default-ulimits".into()]).unwrap();
        let v: Value = serde_json::from_str(&forced.text).unwrap();
        assert_eq!(v["default-ulimits"]["nofile"]["Soft"], 20000);
    }
}
