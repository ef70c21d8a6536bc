//! /etc/docker/daemon.json, merged, never clobbered. Architecture invariant: pure; text in,
//! text and a report out.
//!
//! berth manages a few keys. A key the operator did not set is added; a key the operator
//! set to the same value is left; a key set to something else is reported as a conflict and
//! left alone unless forced. Every other key stays exactly as it was, in its place.

use serde_json::{Map, Value, json};

use crate::audit::daemon_config;

/// What berth wants in daemon.json, in the order it adds them.
pub fn managed() -> Vec<(&'static str, Value)> {
    vec![
        ("live-restore", json!(true)),
        ("userland-proxy", json!(false)),
        ("no-new-privileges", json!(true)),
        (
            "default-ulimits",
            json!({"nofile": {"Name": "nofile", "Hard": 65536, "Soft": 65536}}),
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

    for (key, wanted) in managed() {
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
        };
        let m = merge(None, &facts, &[]).unwrap();
        let v: Value = serde_json::from_str(&m.text).unwrap();
        assert!(v.get("live-restore").is_none());
        assert!(v.get("storage-driver").is_none());
        assert_eq!(m.notes.len(), 3);
    }
}
