//! StackSpec → compose.yaml. Architecture invariant: pure; the same stack gives the same
//! bytes. Declared exceptions become `# berth: allow <rule> -- <reason>` comments above the
//! key they concern, which the audit reads as the operator's intent.

use std::collections::BTreeMap;

use super::yaml::{self, Entry, MapBuilder, Node};
use crate::model::{Exception, IpcMode, Mount, Piece, ServiceSpec, StackSpec, Text};
use crate::units::format_bytes;

/// The comment that marks a declared exception; the audit's suppression syntax.
pub fn allow_comment(e: &Exception) -> String {
    format!("berth: allow {} -- {}", e.rule, e.reason)
}

/// Compose text for a value: literal `$` doubled so Compose does not interpolate it, and
/// variables written as `${NAME:?...}` so a missing `.env` fails loudly instead of
/// starting a database with an empty password.
pub fn text_to_compose(text: &Text) -> String {
    text.0
        .iter()
        .map(|p| match p {
            Piece::Literal(s) => s.replace('$', "$$"),
            Piece::Variable(v) => format!("${{{v}:?{v} is missing from .env}}"),
        })
        .collect()
}

pub fn stack_to_yaml(stack: &StackSpec, header: &str) -> String {
    // `service_healthy` on a dependency without a healthcheck would never start.
    let healthchecked: Vec<&str> = stack
        .services
        .iter()
        .filter(|s| s.healthcheck.is_some())
        .map(|s| s.name.as_str())
        .collect();
    let mut services = MapBuilder::new();
    for svc in &stack.services {
        // A missing healthcheck is reported at the service, so its reason goes above it.
        services.push(
            &svc.name,
            service(svc, &healthchecked),
            comments_for(svc, "healthcheck-missing"),
        );
    }
    let mut networks = MapBuilder::new();
    for net in &stack.networks {
        let mut n = MapBuilder::new().entry("driver", Node::str("bridge"));
        if net.internal {
            n = n.entry("internal", Node::Bool(true));
        }
        networks = networks.entry(&net.name, n.build());
    }
    let mut root = MapBuilder::new()
        .entry("name", Node::str(&stack.project))
        .entry("services", services.build())
        .entry("networks", networks.build());
    if !stack.volumes.is_empty() {
        let mut volumes = MapBuilder::new();
        for v in &stack.volumes {
            volumes = volumes.entry(v, Node::Map(Vec::new()));
        }
        root = root.entry("volumes", volumes.build());
    }
    let root = root.build();
    let header: Vec<String> = header.lines().map(str::to_string).collect();
    yaml::to_string(&header, &root)
}

fn comments_for(svc: &ServiceSpec, rule: &str) -> Vec<String> {
    svc.exceptions
        .iter()
        .filter(|e| e.rule == rule)
        .map(allow_comment)
        .collect()
}

fn service(svc: &ServiceSpec, healthchecked: &[&str]) -> Node {
    let mut m = MapBuilder::new();
    m.push("image", Node::str(&svc.image), Vec::new());
    m.push(
        "user",
        Node::str(format!("{}:{}", svc.user.uid, svc.user.gid)),
        comments_for(svc, "user-root"),
    );
    if let Some(command) = &svc.command {
        m.push(
            "command",
            Node::Seq(
                command
                    .iter()
                    .map(|t| Node::str(text_to_compose(t)))
                    .collect(),
            ),
            Vec::new(),
        );
    }
    if !svc.group_add.is_empty() {
        m.push(
            "group_add",
            Node::strs(svc.group_add.iter().map(u32::to_string)),
            Vec::new(),
        );
    }
    m.push("restart", Node::str(&svc.restart), Vec::new());
    if svc.init {
        m.push("init", Node::Bool(true), Vec::new());
    }
    m.push("read_only", Node::Bool(svc.read_only), Vec::new());
    m.push(
        "cap_drop",
        Node::strs(svc.cap_drop.iter().map(|c| c.as_str())),
        Vec::new(),
    );
    if !svc.cap_add.is_empty() {
        let comments = ["cap-add-host-takeover", "cap-add-host-reaching", "cap-add"]
            .iter()
            .flat_map(|rule| comments_for(svc, rule))
            .collect();
        m.push(
            "cap_add",
            Node::strs(svc.cap_add.iter().map(|c| c.as_str())),
            comments,
        );
    }
    m.push(
        "security_opt",
        Node::strs(svc.security_opt.iter().cloned()),
        Vec::new(),
    );
    let ipc = match svc.ipc {
        IpcMode::Private => "private",
        IpcMode::Shareable => "shareable",
    };
    m.push("ipc", Node::str(ipc), Vec::new());
    m.push(
        "tmpfs",
        Node::strs(svc.tmpfs.iter().map(|t| t.to_short_syntax())),
        comments_for(svc, "tmpfs-exec"),
    );
    if !svc.mounts.is_empty() {
        m.push(
            "volumes",
            Node::Seq(svc.mounts.iter().map(mount).collect()),
            Vec::new(),
        );
    }
    if !svc.ports.is_empty() {
        let ports = svc.ports.iter().map(|p| {
            format!(
                "{}:{}:{}/{}",
                p.host_ip,
                p.host_port,
                p.container_port,
                p.protocol.as_str()
            )
        });
        m.push(
            "ports",
            Node::strs(ports),
            comments_for(svc, "port-all-interfaces"),
        );
    }
    m.push(
        "networks",
        Node::strs(svc.networks.iter().cloned()),
        Vec::new(),
    );
    if !svc.environment.is_empty() {
        let env = svc
            .environment
            .iter()
            .map(|(k, v)| Entry {
                key: k.clone(),
                value: Node::str(text_to_compose(v)),
                comments: Vec::new(),
            })
            .collect();
        m.push("environment", Node::Map(env), Vec::new());
    }
    if !svc.sysctls.is_empty() {
        m.push("sysctls", string_map(&svc.sysctls), Vec::new());
    }
    m.push(
        "mem_limit",
        Node::str(format_bytes(svc.limits.memory)),
        Vec::new(),
    );
    m.push("cpus", Node::Float(svc.limits.cpus), Vec::new());
    m.push(
        "pids_limit",
        Node::Int(i64::from(svc.limits.pids)),
        Vec::new(),
    );
    if let Some(shm) = svc.shm_size {
        m.push("shm_size", Node::str(format_bytes(shm)), Vec::new());
    }
    if let Some(gpu) = &svc.gpu {
        let count = gpu
            .count
            .map_or(Node::str("all"), |c| Node::Int(i64::from(c)));
        let device = MapBuilder::new()
            .entry("driver", Node::str(&gpu.driver))
            .entry("count", count)
            .entry("capabilities", Node::strs(["gpu"]))
            .build();
        let deploy = MapBuilder::new()
            .entry(
                "resources",
                MapBuilder::new()
                    .entry(
                        "reservations",
                        MapBuilder::new()
                            .entry("devices", Node::Seq(vec![device]))
                            .build(),
                    )
                    .build(),
            )
            .build();
        m.push("deploy", deploy, Vec::new());
    }
    let logging = MapBuilder::new()
        .entry("driver", Node::str(&svc.logging.driver))
        .entry("options", string_map(&svc.logging.options))
        .build();
    m.push("logging", logging, Vec::new());
    if let Some(hc) = &svc.healthcheck {
        let hc = MapBuilder::new()
            .entry(
                "test",
                Node::Seq(
                    hc.test
                        .iter()
                        .map(|t| Node::str(text_to_compose(t)))
                        .collect(),
                ),
            )
            .entry("interval", Node::str(&hc.interval))
            .entry("timeout", Node::str(&hc.timeout))
            .entry("retries", Node::Int(i64::from(hc.retries)))
            .entry("start_period", Node::str(&hc.start_period))
            .build();
        m.push("healthcheck", hc, Vec::new());
    }
    if !svc.depends_on.is_empty() {
        let mut deps = MapBuilder::new();
        for dep in &svc.depends_on {
            let condition = if healthchecked.contains(&dep.as_str()) {
                "service_healthy"
            } else {
                "service_started"
            };
            deps = deps.entry(
                dep,
                MapBuilder::new()
                    .entry("condition", Node::str(condition))
                    .build(),
            );
        }
        m.push("depends_on", deps.build(), Vec::new());
    }
    m.build()
}

fn mount(m: &Mount) -> Node {
    let (kind, source, target, read_only) = match m {
        Mount::Bind {
            source,
            target,
            read_only,
        } => ("bind", source, target, *read_only),
        Mount::Volume {
            source,
            target,
            read_only,
        } => ("volume", source, target, *read_only),
    };
    let mut b = MapBuilder::new()
        .entry("type", Node::str(kind))
        .entry("source", Node::str(source))
        .entry("target", Node::str(target));
    if read_only {
        b = b.entry("read_only", Node::Bool(true));
    }
    b.build()
}

fn string_map(map: &BTreeMap<String, String>) -> Node {
    Node::Map(
        map.iter()
            .map(|(k, v)| Entry {
                key: k.clone(),
                value: Node::str(v),
                comments: Vec::new(),
            })
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dollars_are_escaped_and_secrets_are_references() {
        let t = Text(vec![
            Piece::Literal("pa$s:".into()),
            Piece::Variable("DB_PASSWORD".into()),
        ]);
        assert_eq!(
            text_to_compose(&t),
            "pa$$s:${DB_PASSWORD:?DB_PASSWORD is missing from .env}"
        );
    }
}
