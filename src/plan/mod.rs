//! Planning: catalog template + request → everything `render` writes. Architecture
//! invariant: pure and deterministic. No clock, no randomness (the seed is passed in), no
//! I/O; the same inputs give the same bytes.

pub mod secrets;

use std::collections::BTreeMap;

use serde::Serialize;

use crate::catalog::placeholder::{self, Token};
use crate::catalog::template::{Exposure, Role, ServiceTemplate, Template};
use crate::error::{Error, Result};
use crate::model::{
    Capability, Exception, GpuRequest, Healthcheck, IpcMode, Limits, Logging, Mount, NetworkSpec,
    Piece, PortBinding, ServiceSpec, StackSpec, Text, Tmpfs, User,
};
use crate::units::parse_bytes;
use crate::{compose, nginx, validate};
pub use secrets::SecretSeed;

/// What the user asked for.
#[derive(Debug, Clone)]
pub struct Request {
    /// The deployment's name (`--name`), which names the Compose project `berth-<name>`.
    pub name: String,
    pub domain: Option<String>,
    /// The first service's UID and GID; further services count up from it.
    pub uid_base: u32,
    /// Host port of the app's primary port (the proxied one, or the first published one).
    pub port: Option<u16>,
    pub settings: BTreeMap<String, String>,
}

/// Default first UID of an app: high in the normal-user range, clear of login users and of
/// the usual subuid ranges (100000+). The deploy issue allocates these from state.
pub const DEFAULT_UID_BASE: u32 = 50_000;
/// Default host port of a web app's proxied port.
pub const DEFAULT_WEB_PORT: u16 = 8080;

/// Everything a render produces.
#[derive(Debug, Clone)]
pub struct Plan {
    pub stack: StackSpec,
    pub compose_yaml: String,
    /// `.env` contents: secrets, never printed.
    pub env_file: String,
    pub nginx_conf: Option<String>,
    /// Template configuration files: relative path → content (no secrets).
    pub config_files: BTreeMap<String, String>,
    pub manifest: Manifest,
}

/// `berth.json`: what was rendered, so later commands can detect drift and re-render.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct Manifest {
    pub berth_version: String,
    pub app: String,
    pub template_version: u32,
    pub name: String,
    pub project: String,
    pub domain: Option<String>,
    pub settings: BTreeMap<String, String>,
    pub services: BTreeMap<String, ServiceRecord>,
    /// sha256 of each file berth wrote, by file name.
    pub files: BTreeMap<String, String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct ServiceRecord {
    pub uid: u32,
    pub gid: u32,
    pub image: String,
    pub runs_as_root: bool,
    pub ports: Vec<PortRecord>,
    /// Host directories (relative to the app directory) that must be owned by uid:gid.
    pub data_dirs: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct PortRecord {
    pub host_ip: String,
    pub host_port: u16,
    pub container_port: u16,
    pub protocol: String,
}

impl std::fmt::Display for PortRecord {
    /// `127.0.0.1:8080->80/tcp`, as Docker shows a binding.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}:{}->{}/{}",
            self.host_ip, self.host_port, self.container_port, self.protocol
        )
    }
}

/// Directory (relative to the app directory) for a service's data path.
pub fn data_dir(service: &str, name: &str) -> String {
    format!("data/{service}/{name}")
}

/// The named volume for a service's data path that asks for one.
pub fn volume_name(service: &str, name: &str) -> String {
    format!("{service}-{name}")
}

pub fn plan(
    template: &Template,
    request: &Request,
    seed: &SecretSeed,
    existing_secrets: &BTreeMap<String, String>,
) -> Result<Plan> {
    validate::app_name(&request.name)?;
    check_request(template, request)?;
    let settings = effective_settings(template, request)?;
    let uid_count = u32::try_from(template.services.len()).unwrap_or(u32::MAX);
    if request.uid_base < 1000 || request.uid_base.checked_add(uid_count).is_none() {
        return Err(Error::input(format!(
            "--uid-base {}: use a UID of 1000 or more, leaving room for {uid_count} services",
            request.uid_base
        )));
    }

    let ctx = Context {
        template,
        request,
        settings: &settings,
    };
    let has_sidecars = template.services.values().any(|s| s.role == Role::Sidecar);
    let mut networks = vec![NetworkSpec {
        name: "frontend".into(),
        internal: false,
    }];
    if has_sidecars {
        networks.push(NetworkSpec {
            name: "backend".into(),
            internal: true,
        });
    }

    let primary = primary_port(template);
    let mut services = Vec::new();
    let mut records = BTreeMap::new();
    for (index, (name, svc)) in template.services.iter().enumerate() {
        let id = request.uid_base + index as u32;
        let spec = ctx.service(name, svc, id, has_sidecars, primary)?;
        records.insert(
            name.clone(),
            ServiceRecord {
                uid: id,
                gid: id,
                image: svc.image.clone(),
                runs_as_root: svc.root.is_some(),
                ports: spec
                    .ports
                    .iter()
                    .map(|p| PortRecord {
                        host_ip: p.host_ip.clone(),
                        host_port: p.host_port,
                        container_port: p.container_port,
                        protocol: p.protocol.as_str().into(),
                    })
                    .collect(),
                data_dirs: svc
                    .data
                    .iter()
                    .filter(|d| d.volume_why.is_none() && d.from.is_none())
                    .map(|d| data_dir(name, &d.name))
                    .collect(),
            },
        );
        services.push(spec);
    }
    check_port_clashes(&services)?;

    let volumes = template
        .services
        .iter()
        .flat_map(|(svc, t)| {
            t.data
                .iter()
                .filter(|d| d.volume_why.is_some() && d.from.is_none())
                .map(move |d| volume_name(svc, &d.name))
        })
        .collect();
    let stack = StackSpec {
        project: format!("berth-{}", request.name),
        services,
        networks,
        volumes,
    };
    let header = format!(
        "Rendered by berth {} from catalog app {} (template version {}) for {}.\n\
         Re-run `berth render` to change it; edits here are reported as drift.",
        env!("CARGO_PKG_VERSION"),
        template.app,
        template.version,
        request.name
    );
    let compose_yaml = compose::write::stack_to_yaml(&stack, &header);

    let mut env_lines = vec![format!(
        "# Secrets for berth app {} ({}). Generated once, kept on re-render; mode 0600.",
        request.name, template.app
    )];
    let mut values: BTreeMap<&str, String> = BTreeMap::new();
    for (key, spec) in template.secrets.iter().filter(|(_, s)| s.jwt.is_none()) {
        let value = existing_secrets
            .get(key)
            .cloned()
            .unwrap_or_else(|| secrets::generate(seed, key, spec));
        values.insert(key, value);
    }
    for (key, spec) in &template.secrets {
        if let Some(jwt) = &spec.jwt {
            let value = existing_secrets.get(key).cloned().unwrap_or_else(|| {
                let signing_key = values.get(jwt.signed_with.as_str()).cloned();
                secrets::jwt(&jwt.role, &signing_key.unwrap_or_default())
            });
            values.insert(key, value);
        }
    }
    for (key, value) in &values {
        env_lines.push(format!("{key}={value}"));
    }
    let env_file = env_lines.join("\n") + "\n";

    // nginx proxies to exactly the host port compose publishes, read back from the stack.
    let proxied_host_port = template.proxy_port().and_then(|(svc, port)| {
        stack
            .services
            .iter()
            .find(|s| s.name == svc)?
            .ports
            .iter()
            .find(|p| p.container_port == port.container && p.protocol == port.protocol)
            .map(|p| p.host_port)
    });
    let nginx_conf = match (proxied_host_port, &request.domain) {
        (Some(host_port), Some(domain)) => Some(nginx::server_block(
            &request.name,
            domain,
            host_port,
            &template.proxy,
        )),
        _ => None,
    };

    let config_files = template
        .files
        .iter()
        .map(|(path, raw)| Ok((path.clone(), ctx.text(raw)?.to_literal())))
        .collect::<Result<BTreeMap<_, _>>>()?;

    let mut files = BTreeMap::new();
    for (path, content) in &config_files {
        files.insert(path.clone(), sha256_hex(content));
    }
    files.insert("compose.yaml".to_string(), sha256_hex(&compose_yaml));
    files.insert(".env".to_string(), sha256_hex(&env_file));
    if let Some(conf) = &nginx_conf {
        files.insert("nginx.conf".to_string(), sha256_hex(conf));
    }
    let manifest = Manifest {
        berth_version: env!("CARGO_PKG_VERSION").into(),
        app: template.app.clone(),
        template_version: template.version,
        name: request.name.clone(),
        project: stack.project.clone(),
        domain: request.domain.clone(),
        settings,
        services: records,
        files,
    };
    Ok(Plan {
        stack,
        compose_yaml,
        env_file,
        nginx_conf,
        config_files,
        manifest,
    })
}

pub fn sha256_hex(text: &str) -> String {
    use sha2::{Digest, Sha256};
    Sha256::digest(text.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn check_request(template: &Template, request: &Request) -> Result<()> {
    match (&request.domain, template.proxy_port()) {
        (Some(domain), Some(_)) => validate::domain(domain)?,
        (None, Some(_)) => {
            return Err(Error::input(format!(
                "{} is a web app: give --domain (the host name nginx serves it on)",
                template.app
            )));
        }
        (Some(_), None) => {
            return Err(Error::input(format!(
                "{} has no web service to put behind nginx: drop --domain",
                template.app
            )));
        }
        (None, None) => {}
    }
    if request.port == Some(0) {
        return Err(Error::input("--port 0: use a port from 1 to 65535"));
    }
    Ok(())
}

fn effective_settings(template: &Template, request: &Request) -> Result<BTreeMap<String, String>> {
    for (key, value) in &request.settings {
        if !template.settings.contains_key(key) {
            let known: Vec<&str> = template.settings.keys().map(String::as_str).collect();
            return Err(Error::input(format!(
                "--set {}: {} declares no such setting; it has: {}",
                validate::printable(key),
                template.app,
                if known.is_empty() {
                    "none".to_string()
                } else {
                    known.join(", ")
                }
            )));
        }
        validate::setting_value(key, value)?;
    }
    Ok(template
        .settings
        .iter()
        .map(|(k, s)| {
            let v = request.settings.get(k).unwrap_or(&s.default);
            (k.clone(), v.clone())
        })
        .collect())
}

/// The (service, default host port) that `--port` moves: the proxied port, else the first
/// published one.
fn primary_port(template: &Template) -> Option<(&str, u16, u16)> {
    if let Some((svc, port)) = template.proxy_port() {
        return Some((svc, port.container, port.host.unwrap_or(DEFAULT_WEB_PORT)));
    }
    template.services.iter().find_map(|(name, svc)| {
        svc.ports
            .first()
            .map(|p| (name.as_str(), p.container, p.host.unwrap_or(p.container)))
    })
}

fn check_port_clashes(services: &[ServiceSpec]) -> Result<()> {
    let mut seen = BTreeMap::new();
    for svc in services {
        for p in &svc.ports {
            if let Some(other) = seen.insert((p.host_port, p.protocol), &svc.name) {
                return Err(Error::input(format!(
                    "host port {}/{} is used by both {other} and {}; choose another --port",
                    p.host_port,
                    p.protocol.as_str(),
                    svc.name
                )));
            }
        }
    }
    Ok(())
}

struct Context<'a> {
    template: &'a Template,
    request: &'a Request,
    settings: &'a BTreeMap<String, String>,
}

impl Context<'_> {
    /// Resolves placeholders: settings, domain and name become literal text; secrets stay
    /// references to `.env`.
    fn text(&self, raw: &str) -> Result<Text> {
        let tokens = placeholder::parse(raw).map_err(|message| Error::Template {
            path: self.template.app.clone(),
            message,
        })?;
        let mut pieces: Vec<Piece> = Vec::new();
        for token in tokens {
            let piece = match token {
                Token::Literal(s) => Piece::Literal(s),
                Token::Secret(name) => Piece::Variable(name),
                Token::Setting(name) => {
                    Piece::Literal(self.settings.get(&name).cloned().unwrap_or_default())
                }
                Token::Domain => Piece::Literal(self.request.domain.clone().unwrap_or_default()),
                Token::Name => Piece::Literal(self.request.name.clone()),
            };
            // Merge adjacent literals so equal strings compare equal.
            match (pieces.last_mut(), piece) {
                (Some(Piece::Literal(prev)), Piece::Literal(next)) => prev.push_str(&next),
                (_, piece) => pieces.push(piece),
            }
        }
        Ok(Text(pieces))
    }

    fn service(
        &self,
        name: &str,
        svc: &ServiceTemplate,
        id: u32,
        has_sidecars: bool,
        primary: Option<(&str, u16, u16)>,
    ) -> Result<ServiceSpec> {
        let mut exceptions = Vec::new();
        let user = if let Some(root) = &svc.root {
            exceptions.push(Exception {
                rule: "user-root".into(),
                reason: root.why.clone(),
            });
            User { uid: 0, gid: 0 }
        } else {
            User { uid: id, gid: id }
        };

        let mut cap_add: Vec<Capability> = svc
            .profile
            .capabilities()
            .iter()
            .filter_map(|c| Capability::parse(c))
            .collect();
        for extra in &svc.cap_add {
            if let Some(cap) = Capability::parse(&extra.cap) {
                cap_add.push(cap);
            }
        }
        cap_add.sort();
        cap_add.dedup();
        // Each capability the audit grades gets its declared reason beside it: the extra
        // cap's own `why`, or the profile's.
        for cap in &cap_add {
            if let Some(rule) = crate::audit::rules::caps::rule_for(cap.as_str()) {
                let why = svc
                    .cap_add
                    .iter()
                    .find(|e| Capability::parse(&e.cap).as_ref() == Some(cap))
                    .map(|e| e.why.clone())
                    .unwrap_or_else(|| {
                        format!("profile {}: {}", svc.profile.name(), svc.profile.why())
                    });
                exceptions.push(Exception {
                    rule: rule.into(),
                    reason: format!("{}: {why}", cap.as_str()),
                });
            }
        }

        let mut tmpfs = vec![
            Tmpfs {
                target: "/tmp".into(),
                size: 64 << 20,
                exec: false,
                mode: None,
            },
            Tmpfs {
                target: "/run".into(),
                size: 16 << 20,
                exec: false,
                mode: None,
            },
        ];
        for t in &svc.tmpfs {
            if let Some(why) = &t.exec_why {
                exceptions.push(Exception {
                    rule: "tmpfs-exec".into(),
                    reason: format!("{}: {why}", t.path),
                });
            }
            // A template may resize the contract's /tmp or /run; it cannot drop them.
            tmpfs.retain(|existing| existing.target != t.path);
            tmpfs.push(Tmpfs {
                target: t.path.clone(),
                size: parse_bytes(&t.size).unwrap_or(64 << 20),
                exec: t.exec_why.is_some(),
                mode: t
                    .mode
                    .as_deref()
                    .and_then(|m| u32::from_str_radix(m, 8).ok()),
            });
        }
        tmpfs.sort_by(|a, b| a.target.cmp(&b.target));

        let mut mounts: Vec<Mount> = Vec::new();
        let mut group_add = Vec::new();
        for d in &svc.data {
            let owner = d.from.as_deref().unwrap_or(name);
            if owner != name {
                group_add.push(self.uid_of(owner));
            }
            let as_volume = self
                .template
                .services
                .get(owner)
                .and_then(|o| o.data.iter().find(|od| od.name == d.name))
                .is_some_and(|od| od.volume_why.is_some());
            mounts.push(if as_volume {
                Mount::Volume {
                    source: volume_name(owner, &d.name),
                    target: d.path.clone(),
                    read_only: d.read_only,
                }
            } else {
                Mount::Bind {
                    source: format!("./{}", data_dir(owner, &d.name)),
                    target: d.path.clone(),
                    read_only: d.read_only,
                }
            });
        }
        for c in &svc.config {
            mounts.push(Mount::Bind {
                source: format!("./{}", c.file),
                target: c.path.clone(),
                read_only: true,
            });
        }
        group_add.sort_unstable();
        group_add.dedup();

        let mut ports = Vec::new();
        for p in &svc.ports {
            let exposure = p.exposure.unwrap_or(match svc.role {
                Role::Data => Exposure::Public,
                _ => Exposure::Loopback,
            });
            let is_primary = primary.is_some_and(|(s, c, _)| s == name && c == p.container);
            let default_host = if p.proxy {
                p.host.unwrap_or(DEFAULT_WEB_PORT)
            } else {
                p.host.unwrap_or(p.container)
            };
            let host_port = match self.request.port {
                Some(port) if is_primary => port,
                _ => default_host,
            };
            let host_ip = match exposure {
                Exposure::Loopback => "127.0.0.1",
                Exposure::Public => {
                    let why = p.why.clone().unwrap_or_else(|| {
                        "standalone data service: published on purpose, auth on, firewall rule"
                            .into()
                    });
                    exceptions.push(Exception {
                        rule: "port-all-interfaces".into(),
                        reason: format!("{}/{}: {why}", p.container, p.protocol.as_str()),
                    });
                    "0.0.0.0"
                }
            };
            ports.push(PortBinding {
                host_ip: host_ip.into(),
                host_port,
                container_port: p.container,
                protocol: p.protocol,
            });
        }

        let mut networks = Vec::new();
        let on_frontend = svc.role != Role::Sidecar || svc.egress_why.is_some();
        if on_frontend {
            networks.push("frontend".to_string());
        }
        if has_sidecars {
            networks.push("backend".to_string());
        }

        let environment = svc
            .environment
            .iter()
            .map(|(k, v)| Ok((k.clone(), self.text(v)?)))
            .collect::<Result<BTreeMap<_, _>>>()?;
        let command = svc
            .command
            .as_ref()
            .map(|words| {
                words
                    .iter()
                    .map(|w| self.text(w))
                    .collect::<Result<Vec<_>>>()
            })
            .transpose()?;
        let healthcheck = match &svc.healthcheck {
            Some(hc) => Some(Healthcheck {
                test: hc
                    .test
                    .iter()
                    .map(|w| self.text(w))
                    .collect::<Result<_>>()?,
                interval: hc.interval.clone(),
                timeout: hc.timeout.clone(),
                retries: hc.retries,
                start_period: hc.start_period.clone(),
            }),
            None => {
                exceptions.push(Exception {
                    rule: "healthcheck-missing".into(),
                    reason: svc.no_healthcheck_why.clone().unwrap_or_default(),
                });
                None
            }
        };

        Ok(ServiceSpec {
            name: name.to_string(),
            image: svc.image.clone(),
            user,
            command,
            cap_drop: vec![Capability::all()],
            cap_add,
            privileged: false,
            read_only: true,
            tmpfs,
            mounts,
            ports,
            networks,
            ipc: IpcMode::Private,
            security_opt: vec![
                "no-new-privileges:true".into(),
                "apparmor=docker-default".into(),
            ],
            limits: Limits {
                memory: parse_bytes(&svc.limits.memory).unwrap_or(256 << 20),
                cpus: svc.limits.cpus,
                pids: svc.limits.pids,
            },
            shm_size: svc.shm_size.as_deref().and_then(parse_bytes),
            logging: Logging::rotated_json_file(),
            healthcheck,
            environment,
            sysctls: svc.sysctls.clone(),
            gpu: svc.gpu.as_ref().map(|g| GpuRequest {
                driver: g.driver.clone(),
                count: g.count,
            }),
            depends_on: svc.depends_on.clone(),
            restart: "unless-stopped".into(),
            init: svc.init,
            group_add,
            exceptions,
        })
    }

    /// The UID (and GID) the plan gives a service: its place in name order.
    fn uid_of(&self, service: &str) -> u32 {
        let index = self
            .template
            .services
            .keys()
            .position(|k| k == service)
            .unwrap_or(0);
        self.request.uid_base + index as u32
    }
}
