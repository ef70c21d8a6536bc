//! A service's security posture as declared in a compose file: the audit's view of the one
//! model (DESIGN.md), every value located. Rules read this, never raw YAML, so another
//! source (the engine's inspect, /proc) can feed the same rules later.
//! Architecture invariant: pure; built from a loaded `Project`.

use std::collections::BTreeMap;
use std::path::Path;

use crate::compose::node::{Loc, Node, Value};
use crate::compose::project::{ServiceNode, resolve_host_path};

#[derive(Debug, Clone, PartialEq)]
pub struct Located<T> {
    pub value: T,
    pub loc: Loc,
}

fn located(node: &Node) -> Option<Located<String>> {
    node.scalar().map(|s| Located {
        value: s.into_owned(),
        loc: node.loc,
    })
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MountKind {
    Bind,
    Volume,
    /// `- /data` alone: an anonymous volume, not a host path.
    Anonymous,
    Tmpfs,
    Other(String),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Mount {
    pub kind: MountKind,
    /// Host path for binds, resolved against the project directory; volume name for volumes.
    pub source: Option<String>,
    pub target: String,
    pub read_only: bool,
    pub propagation: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Port {
    /// None: Docker's default, all interfaces.
    pub host_ip: Option<String>,
    /// None: not published (container port only) or a random host port.
    pub published: Option<String>,
    pub target: String,
    pub protocol: String,
    /// Only a container port (`"80"`): Docker publishes it on a random host port.
    pub random_host_port: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct EnvVar {
    pub key: String,
    pub value: String,
    /// As written, before interpolation (`${DB_PASSWORD}`).
    pub written: String,
    pub loc: Loc,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Health {
    Absent,
    Disabled(Loc),
    Present,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Posture {
    pub name: String,
    /// The service's key: where "missing" findings point.
    pub loc: Loc,
    pub image: Option<Located<String>>,
    pub user: Option<Located<String>>,
    pub privileged: Option<Located<bool>>,
    /// Capability names as written.
    pub cap_add: Vec<Located<String>>,
    pub cap_drop: Vec<Located<String>>,
    pub read_only: Option<Located<bool>>,
    /// security_opt entries, as written.
    pub security_opt: Vec<Located<String>>,
    pub ipc: Option<Located<String>>,
    pub pid: Option<Located<String>>,
    pub uts: Option<Located<String>>,
    pub userns_mode: Option<Located<String>>,
    pub network_mode: Option<Located<String>>,
    pub cgroup_parent: Option<Located<String>>,
    pub mounts: Vec<Located<Mount>>,
    /// tmpfs options strings, `/tmp:rw,exec` (from `tmpfs:` and `type: tmpfs` volumes).
    pub tmpfs: Vec<Located<String>>,
    pub ports: Vec<Located<Port>>,
    /// Host side of each device mapping.
    pub devices: Vec<Located<String>>,
    pub memory: Option<Located<String>>,
    pub cpus: Option<Located<String>>,
    pub pids: Option<Located<String>>,
    pub logging_driver: Option<Located<String>>,
    pub logging_options: BTreeMap<String, Located<String>>,
    pub logging_loc: Option<Loc>,
    pub health: Health,
    pub restart: Option<Located<String>>,
    pub restart_max_attempts: Option<Located<String>>,
    pub environment: Vec<EnvVar>,
}

fn strings(node: Option<&Node>) -> Vec<Located<String>> {
    node.map(|n| n.items().iter().filter_map(located).collect())
        .unwrap_or_default()
}

fn first<'a>(node: &'a Node, paths: &[&[&str]]) -> Option<&'a Node> {
    paths.iter().find_map(|path| {
        let mut n = node;
        for key in *path {
            n = n.get(key)?;
        }
        (!n.is_null()).then_some(n)
    })
}

impl Posture {
    pub fn from_compose(svc: &ServiceNode, project_dir: &Path) -> Self {
        let n = &svc.node;
        let get = |k: &str| n.get(k).filter(|v| !v.is_null());
        let text = |k: &str| get(k).and_then(located);
        let flag = |k: &str| {
            get(k).and_then(|v| {
                v.as_bool().map(|b| Located {
                    value: b,
                    loc: v.loc,
                })
            })
        };
        let logging = get("logging");
        let mut tmpfs = match get("tmpfs") {
            Some(t) if t.items().is_empty() => located(t).into_iter().collect(),
            other => strings(other),
        };
        let mounts: Vec<Located<Mount>> = get("volumes")
            .map(|v| {
                v.items()
                    .iter()
                    .filter_map(|m| mount(m, project_dir))
                    .collect()
            })
            .unwrap_or_default();
        for m in &mounts {
            if m.value.kind == MountKind::Tmpfs {
                tmpfs.push(Located {
                    value: m.value.target.clone(),
                    loc: m.loc,
                });
            }
        }
        let health = match get("healthcheck") {
            None => Health::Absent,
            Some(h) => {
                let disabled = h.get("disable").and_then(Node::as_bool) == Some(true)
                    || h.get("test").and_then(|t| {
                        t.items()
                            .first()
                            .and_then(|x| x.scalar())
                            .map(|s| s == "NONE")
                    }) == Some(true);
                if disabled {
                    Health::Disabled(n.key_loc("healthcheck").unwrap_or(h.loc))
                } else {
                    Health::Present
                }
            }
        };
        Posture {
            name: svc.name.clone(),
            loc: svc.loc,
            image: text("image"),
            user: text("user"),
            privileged: flag("privileged"),
            cap_add: strings(get("cap_add")),
            cap_drop: strings(get("cap_drop")),
            read_only: flag("read_only"),
            security_opt: strings(get("security_opt")),
            ipc: text("ipc"),
            pid: text("pid"),
            uts: text("uts"),
            userns_mode: text("userns_mode"),
            network_mode: text("network_mode"),
            cgroup_parent: text("cgroup_parent"),
            mounts,
            tmpfs,
            ports: get("ports")
                .map(|p| p.items().iter().filter_map(port).collect())
                .unwrap_or_default(),
            devices: get("devices")
                .map(|d| {
                    d.items()
                        .iter()
                        .filter_map(|x| match x.get("source") {
                            Some(src) => located(src),
                            None => located(x).map(|l| Located {
                                value: l.value.split(':').next().unwrap_or("").to_string(),
                                loc: l.loc,
                            }),
                        })
                        .collect()
                })
                .unwrap_or_default(),
            memory: first(
                n,
                &[&["mem_limit"], &["deploy", "resources", "limits", "memory"]],
            )
            .and_then(located),
            cpus: first(
                n,
                &[
                    &["cpus"],
                    &["deploy", "resources", "limits", "cpus"],
                    &["cpu_quota"],
                    &["cpu_shares"],
                ],
            )
            .and_then(located),
            pids: first(
                n,
                &[&["pids_limit"], &["deploy", "resources", "limits", "pids"]],
            )
            .and_then(located),
            logging_driver: logging.and_then(|l| l.get("driver")).and_then(located),
            logging_options: logging
                .and_then(|l| l.get("options"))
                .map(|o| {
                    o.entries()
                        .iter()
                        .filter_map(|(k, v)| located(v).map(|l| (k.name.clone(), l)))
                        .collect()
                })
                .unwrap_or_default(),
            logging_loc: logging.map(|l| n.key_loc("logging").unwrap_or(l.loc)),
            health,
            restart: text("restart"),
            restart_max_attempts: first(n, &[&["deploy", "restart_policy", "max_attempts"]])
                .and_then(located),
            environment: environment(get("environment")),
        }
    }
}

fn environment(node: Option<&Node>) -> Vec<EnvVar> {
    let Some(node) = node else {
        return Vec::new();
    };
    match &node.value {
        Value::Map(entries) => entries
            .iter()
            .map(|(k, v)| EnvVar {
                key: k.name.clone(),
                value: v.scalar().map(|s| s.into_owned()).unwrap_or_default(),
                written: v.written().map(|s| s.into_owned()).unwrap_or_default(),
                loc: v.loc,
            })
            .collect(),
        Value::Seq(items) => items
            .iter()
            .filter_map(|item| {
                let value = item.scalar()?;
                let written = item.written()?;
                let (key, value) = value.split_once('=').unwrap_or((&value, ""));
                let written = written.split_once('=').map_or("", |(_, w)| w);
                Some(EnvVar {
                    key: key.to_string(),
                    value: value.to_string(),
                    written: written.to_string(),
                    loc: item.loc,
                })
            })
            .collect(),
        _ => Vec::new(),
    }
}

fn is_host_path(s: &str) -> bool {
    s.starts_with('/') || s.starts_with('.') || s.starts_with('~')
}

fn mount(node: &Node, project_dir: &Path) -> Option<Located<Mount>> {
    let loc = node.loc;
    if let Some(text) = node.scalar() {
        // Short syntax: SOURCE:TARGET[:MODE] or just TARGET (anonymous).
        let parts: Vec<&str> = text.split(':').collect();
        let (source, target, mode) = match parts.as_slice() {
            [target] => (None, *target, ""),
            [source, target] => (Some(*source), *target, ""),
            [source, target, mode, ..] => (Some(*source), *target, *mode),
            [] => return None,
        };
        let modes: Vec<&str> = mode.split(',').collect();
        let kind = match source {
            None => MountKind::Anonymous,
            Some(s) if is_host_path(s) => MountKind::Bind,
            Some(_) => MountKind::Volume,
        };
        let source = source.map(|s| host_source(&kind, s, project_dir));
        let propagation = modes
            .iter()
            .find(|m| {
                matches!(
                    **m,
                    "shared" | "rshared" | "slave" | "rslave" | "private" | "rprivate"
                )
            })
            .map(|m| m.to_string());
        return Some(Located {
            value: Mount {
                kind,
                source,
                target: target.to_string(),
                read_only: modes.contains(&"ro"),
                propagation,
            },
            loc,
        });
    }
    let kind = match node.get("type").and_then(|t| t.scalar()).as_deref() {
        Some("bind") => MountKind::Bind,
        Some("volume") => {
            if node.get("source").is_some() {
                MountKind::Volume
            } else {
                MountKind::Anonymous
            }
        }
        Some("tmpfs") => MountKind::Tmpfs,
        Some(other) => MountKind::Other(other.to_string()),
        None => MountKind::Volume,
    };
    let source = node
        .get("source")
        .and_then(|s| s.scalar())
        .map(|s| host_source(&kind, &s, project_dir));
    Some(Located {
        value: Mount {
            kind,
            source,
            target: node
                .get("target")
                .and_then(|t| t.scalar())
                .map(|s| s.into_owned())
                .unwrap_or_default(),
            read_only: node
                .get("read_only")
                .and_then(Node::as_bool)
                .unwrap_or(false),
            propagation: node
                .get("bind")
                .and_then(|b| b.get("propagation"))
                .and_then(|p| p.scalar())
                .map(|s| s.into_owned()),
        },
        loc,
    })
}

fn host_source(kind: &MountKind, source: &str, project_dir: &Path) -> String {
    if *kind == MountKind::Bind {
        resolve_host_path(project_dir, source)
            .to_string_lossy()
            .into_owned()
    } else {
        source.to_string()
    }
}

fn port(node: &Node) -> Option<Located<Port>> {
    let loc = node.loc;
    if let Some(text) = node.scalar() {
        // [[HOST_IP:]HOST_PORT:]CONTAINER_PORT[/PROTOCOL]; an IPv6 host IP is in brackets.
        let (spec, protocol) = text.split_once('/').unwrap_or((&text, "tcp"));
        let (host_ip, rest) = if let Some(stripped) = spec.strip_prefix('[') {
            let (ip, rest) = stripped.split_once(']')?;
            (Some(ip.to_string()), rest.trim_start_matches(':'))
        } else {
            let parts: Vec<&str> = spec.split(':').collect();
            if parts.len() == 3 {
                (Some(parts[0].to_string()), &spec[parts[0].len() + 1..])
            } else {
                (None, spec)
            }
        };
        let (published, target) = match rest.split_once(':') {
            Some((p, t)) => (Some(p.to_string()).filter(|p| !p.is_empty()), t.to_string()),
            None => (None, rest.to_string()),
        };
        let random_host_port = published.is_none();
        return Some(Located {
            value: Port {
                host_ip: host_ip.filter(|ip| !ip.is_empty()),
                published,
                target,
                protocol: protocol.to_string(),
                random_host_port,
            },
            loc,
        });
    }
    let get = |k: &str| node.get(k).and_then(|v| v.scalar()).map(|s| s.into_owned());
    let published = get("published");
    Some(Located {
        value: Port {
            host_ip: get("host_ip").filter(|ip| !ip.is_empty()),
            random_host_port: published.is_none(),
            published,
            target: get("target").unwrap_or_default(),
            protocol: get("protocol").unwrap_or_else(|| "tcp".into()),
        },
        loc,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compose::node;
    use crate::compose::project::ServiceNode;

    fn posture(yaml: &str) -> Posture {
        let doc = node::parse(yaml, 0).unwrap();
        let svc = ServiceNode {
            name: "s".into(),
            loc: doc.loc,
            node: doc,
        };
        Posture::from_compose(&svc, Path::new("/srv/app"))
    }

    #[test]
    fn short_and_long_mounts() {
        let p = posture(
            "volumes:\n  - /data\n  - db:/var/lib\n  - ../../etc:/host-etc:ro,rshared\n  - type: bind\n    source: /var/run\n    target: /r\n  - type: volume\n    target: /anon\n",
        );
        let kinds: Vec<_> = p.mounts.iter().map(|m| m.value.kind.clone()).collect();
        assert_eq!(
            kinds,
            [
                MountKind::Anonymous,
                MountKind::Volume,
                MountKind::Bind,
                MountKind::Bind,
                MountKind::Anonymous
            ]
        );
        assert_eq!(p.mounts[2].value.source.as_deref(), Some("/etc"));
        assert!(p.mounts[2].value.read_only);
        assert_eq!(p.mounts[2].value.propagation.as_deref(), Some("rshared"));
    }

    #[test]
    fn port_forms() {
        let p = posture(
            "ports:\n  - 80\n  - 8080:80\n  - 127.0.0.1:8080:80/tcp\n  - '[::1]:53:53/udp'\n  - target: 443\n    published: 8443\n    host_ip: 0.0.0.0\n",
        );
        let v: Vec<_> = p
            .ports
            .iter()
            .map(|p| {
                (
                    p.value.host_ip.clone(),
                    p.value.published.clone(),
                    p.value.target.clone(),
                )
            })
            .collect();
        assert_eq!(v[0], (None, None, "80".into()));
        assert_eq!(v[1], (None, Some("8080".into()), "80".into()));
        assert_eq!(
            v[2],
            (Some("127.0.0.1".into()), Some("8080".into()), "80".into())
        );
        assert_eq!(v[3], (Some("::1".into()), Some("53".into()), "53".into()));
        assert_eq!(p.ports[3].value.protocol, "udp");
        assert_eq!(
            v[4],
            (Some("0.0.0.0".into()), Some("8443".into()), "443".into())
        );
    }

    #[test]
    fn environment_map_and_list() {
        let p = posture("environment:\n  - A=1\n  - B\n");
        assert_eq!(p.environment[0].key, "A");
        assert_eq!(p.environment[0].value, "1");
        assert_eq!(p.environment[1].key, "B");
        let q = posture("environment:\n  PASSWORD: x\n");
        assert_eq!(q.environment[0].value, "x");
        assert_eq!(q.environment[0].loc.line, 2);
    }

    #[test]
    fn limits_from_service_or_deploy() {
        let p = posture("deploy:\n  resources:\n    limits:\n      memory: 1g\n      pids: 100\n");
        assert_eq!(p.memory.unwrap().value, "1g");
        assert_eq!(p.pids.unwrap().loc.line, 5);
        assert!(p.cpus.is_none());
    }
}
