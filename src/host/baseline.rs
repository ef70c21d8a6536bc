//! The host baseline: what berth wants on a Docker host, item by item, as a plan of file
//! changes and commands. Architecture invariant: pure; everything about the host is read
//! beforehand into `Inputs`, and every path is relative to the root prefix.

use std::collections::BTreeMap;
use std::net::IpAddr;

use serde::Serialize;

use super::daemon_json::{self, HostFacts};

pub const DAEMON_JSON: &str = "etc/docker/daemon.json";
pub const SSHD_DROP_IN: &str = "etc/ssh/sshd_config.d/00-berth.conf";
pub const FAIL2BAN_JAIL: &str = "etc/fail2ban/jail.d/berth.conf";
pub const AUTO_UPGRADES: &str = "etc/apt/apt.conf.d/52berth-auto-upgrades";
pub const UFW_CONF: &str = "etc/ufw/ufw.conf";
pub const DOCKER_SOCKET: &str = "var/run/docker.sock";
pub const APPARMOR_ENABLED: &str = "sys/module/apparmor/parameters/enabled";

/// The items a deployment changes on the host (its nginx site and firewall rules).
pub const DEPLOY_ITEMS: &[&str] = &["firewall (ufw)", "nginx sites"];

pub fn nginx_site(app: &str) -> String {
    format!("etc/nginx/conf.d/berth-{app}.conf")
}

/// The SSH session berth runs in, if any (from SSH_CONNECTION).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SshSession {
    pub client: IpAddr,
    pub as_root: bool,
}

/// A rendered or deployed app, as the host needs to know it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct App {
    pub name: String,
    pub nginx_conf: Option<String>,
    /// Ports published on all interfaces on purpose (data services, VPN): (port, protocol).
    pub public_ports: Vec<(u16, String)>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Socket {
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
    /// The GID of group `docker` on this host, if it exists.
    pub docker_gid: Option<u32>,
}

/// Everything the plan needs to know, read from the host (under the root prefix).
#[derive(Debug, Clone, Default)]
pub struct Inputs {
    /// Current contents of the files berth manages, by relative path (None: absent).
    pub files: BTreeMap<String, Option<String>>,
    pub facts: HostFacts,
    pub force: Vec<String>,
    pub ssh_allow: Vec<Cidr>,
    pub session: Option<SshSession>,
    pub apps: Vec<App>,
    pub socket: Option<Socket>,
    /// Which commands exist on this host.
    pub tools: BTreeMap<String, bool>,
    /// The root prefix is `/`: commands may run.
    pub live: bool,
    pub restart_docker: bool,
}

impl Inputs {
    fn file(&self, path: &str) -> Option<&str> {
        self.files.get(path).and_then(|c| c.as_deref())
    }
    fn has(&self, tool: &str) -> bool {
        self.tools.get(tool).copied().unwrap_or(false)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Ok,
    Missing,
    Drifted,
    /// berth will not do it (it would lock the operator out, or the input is invalid).
    Refused,
    /// Outside berth's reach on this host (a tool or kernel feature is missing).
    Unavailable,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FileChange {
    /// Relative to the root prefix.
    pub path: String,
    pub old: Option<String>,
    pub new: String,
    pub mode: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Command {
    pub argv: Vec<String>,
    pub why: String,
    /// The tool this needs, when it is not on the host.
    pub missing_tool: Option<String>,
    /// Run it before the item's commands that follow, and stop if it fails (a validation).
    pub check: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Item {
    pub name: &'static str,
    pub status: Status,
    pub summary: String,
    pub files: Vec<FileChange>,
    pub commands: Vec<Command>,
    pub notes: Vec<String>,
}

impl Item {
    fn new(name: &'static str) -> Self {
        Item {
            name,
            status: Status::Ok,
            summary: String::new(),
            files: Vec::new(),
            commands: Vec::new(),
            notes: Vec::new(),
        }
    }

    fn command(&mut self, inputs: &Inputs, tool: &str, argv: &[&str], why: &str, check: bool) {
        self.commands.push(Command {
            argv: argv.iter().map(|s| s.to_string()).collect(),
            why: why.to_string(),
            missing_tool: (!inputs.has(tool)).then(|| tool.to_string()),
            check,
        });
    }

    /// Wants `path` to hold `new`: a change when it differs, and the status that follows.
    fn want_file(&mut self, inputs: &Inputs, path: &str, new: String, mode: u32) -> bool {
        let old = inputs.file(path).map(str::to_string);
        if old.as_deref() == Some(new.as_str()) {
            return false;
        }
        self.status = if old.is_none() {
            Status::Missing
        } else {
            Status::Drifted
        };
        self.files.push(FileChange {
            path: path.to_string(),
            old,
            new,
            mode,
        });
        true
    }
}

/// An IPv4 or IPv6 network in CIDR notation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    pub addr: IpAddr,
    pub prefix: u8,
}

impl Cidr {
    pub fn parse(s: &str) -> Option<Cidr> {
        let (addr, prefix) = match s.split_once('/') {
            Some((a, p)) => (a.parse().ok()?, p.parse().ok()?),
            None => {
                let addr: IpAddr = s.parse().ok()?;
                (addr, if addr.is_ipv4() { 32 } else { 128 })
            }
        };
        let max = if matches!(addr, IpAddr::V4(_)) {
            32
        } else {
            128
        };
        (prefix <= max).then_some(Cidr { addr, prefix })
    }

    pub fn contains(&self, ip: IpAddr) -> bool {
        let bits = |a: IpAddr| -> (u128, u8) {
            match a {
                IpAddr::V4(v) => (u128::from(u32::from(v)), 32),
                IpAddr::V6(v) => (u128::from(v), 128),
            }
        };
        let ((net, width), (host, host_width)) = (bits(self.addr), bits(ip));
        if width != host_width {
            return false;
        }
        let shift = u32::from(width - self.prefix);
        self.prefix == 0 || (net >> shift) == (host >> shift)
    }
}

impl std::fmt::Display for Cidr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

/// The whole baseline, in the order it is applied.
pub fn plan(inputs: &Inputs) -> Result<Vec<Item>, String> {
    Ok(vec![
        daemon(inputs)?,
        socket(inputs),
        firewall(inputs),
        fail2ban(inputs),
        upgrades(inputs),
        sshd(inputs),
        nginx(inputs),
        apparmor(inputs),
    ])
}

fn daemon(inputs: &Inputs) -> Result<Item, String> {
    let mut item = Item::new("docker daemon.json");
    let merge = daemon_json::merge(inputs.file(DAEMON_JSON), &inputs.facts, &inputs.force)
        .map_err(|e| {
            format!(
                "/{DAEMON_JSON}:{}:{}: {}; berth leaves a file it cannot parse untouched: fix it, then run again",
                e.line, e.col, e.message
            )
        })?;
    daemon_json::validate(&merge.text)?;
    let changed = item.want_file(inputs, DAEMON_JSON, merge.text.clone(), 0o644);
    for c in &merge.conflicts {
        item.notes.push(format!(
            "{}: is {}, berth wants {}; {}",
            c.key, c.current, c.wanted, c.resolution
        ));
        if item.status == Status::Ok {
            item.status = Status::Drifted;
        }
    }
    item.notes.extend(merge.notes);
    item.summary = if changed {
        format!(
            "merge {} key(s): {}",
            merge.added.len(),
            merge.added.join(", ")
        )
    } else if merge.conflicts.is_empty() {
        "hardened".into()
    } else {
        "hardened except operator-set keys".into()
    };
    if changed {
        if inputs.has("dockerd-validate") {
            item.command(
                inputs,
                "dockerd",
                &[
                    "dockerd",
                    "--validate",
                    "--config-file",
                    "/etc/docker/daemon.json",
                ],
                "let the engine check the merged file",
                true,
            );
        } else {
            item.notes.push("this engine has no `dockerd --validate` (added in 23.0); berth checked JSON and the types of the keys it manages".into());
        }
        if inputs.restart_docker {
            item.command(
                inputs,
                "systemctl",
                &["systemctl", "restart", "docker"],
                "apply daemon.json (containers keep running only if live-restore was already on)",
                false,
            );
        } else {
            item.notes.push("Docker reads daemon.json at start: run again with --restart-docker, or restart it at a quiet moment".into());
        }
    }
    Ok(item)
}

fn socket(inputs: &Inputs) -> Item {
    let mut item = Item::new("docker socket");
    let Some(s) = &inputs.socket else {
        item.status = Status::Unavailable;
        item.summary = "no /var/run/docker.sock under this root".into();
        return item;
    };
    // Permission bits, not a number: "660 or stricter" means no bit outside rw-rw----.
    let bits_ok = s.mode & 0o7777 & !0o660 == 0;
    let owner_ok = s.uid == 0 && Some(s.gid) == s.docker_gid;
    item.summary = format!("mode {:o}, owner {}:{}", s.mode & 0o7777, s.uid, s.gid);
    if !bits_ok {
        item.status = Status::Drifted;
        item.command(
            inputs,
            "chmod",
            &["chmod", "660", "/var/run/docker.sock"],
            "only root and the docker group may reach the Docker API",
            false,
        );
    }
    if !owner_ok {
        item.status = Status::Drifted;
        item.command(
            inputs,
            "chown",
            &["chown", "root:docker", "/var/run/docker.sock"],
            "the socket belongs to root and the docker group",
            false,
        );
    }
    item
}

fn firewall(inputs: &Inputs) -> Item {
    let mut item = Item::new("firewall (ufw)");
    let enabled = inputs
        .file(UFW_CONF)
        .is_some_and(|c| c.lines().any(|l| l.trim() == "ENABLED=yes"));
    item.status = if enabled { Status::Ok } else { Status::Missing };
    item.summary = if enabled {
        "ufw enabled".into()
    } else {
        "ufw not enabled".into()
    };
    let why = "deny everything incoming but SSH, HTTP, HTTPS and declared public ports";
    item.command(
        inputs,
        "ufw",
        &["ufw", "default", "deny", "incoming"],
        why,
        false,
    );
    item.command(
        inputs,
        "ufw",
        &["ufw", "default", "allow", "outgoing"],
        why,
        false,
    );
    if inputs.ssh_allow.is_empty() {
        item.command(inputs, "ufw", &["ufw", "allow", "22/tcp"], "SSH", false);
    } else {
        for cidr in &inputs.ssh_allow {
            let c = cidr.to_string();
            item.command(
                inputs,
                "ufw",
                &[
                    "ufw", "allow", "from", &c, "to", "any", "port", "22", "proto", "tcp",
                ],
                "SSH from the allowed networks only",
                false,
            );
        }
    }
    item.command(
        inputs,
        "ufw",
        &["ufw", "allow", "80/tcp"],
        "HTTP (nginx)",
        false,
    );
    item.command(
        inputs,
        "ufw",
        &["ufw", "allow", "443/tcp"],
        "HTTPS (nginx)",
        false,
    );
    for app in &inputs.apps {
        for (port, proto) in &app.public_ports {
            let rule = format!("{port}/{proto}");
            item.command(
                inputs,
                "ufw",
                &["ufw", "allow", &rule],
                &format!("{} publishes it on purpose", app.name),
                false,
            );
        }
    }
    item.command(
        inputs,
        "ufw",
        &["ufw", "--force", "enable"],
        "turn the firewall on",
        false,
    );
    item.notes.push("Docker's published ports bypass ufw's INPUT rules; berth publishes web ports on 127.0.0.1 only for that reason".into());
    item
}

pub fn fail2ban_jail() -> String {
    "# Written by berth host apply.\n\
     [sshd]\n\
     enabled = true\n\
     backend = systemd\n\
     maxretry = 5\n\
     findtime = 10m\n\
     bantime = 1h\n\
     \n\
     [nginx-http-auth]\n\
     enabled = true\n\
     logpath = /var/log/nginx/error.log\n\
     maxretry = 5\n\
     bantime = 1h\n"
        .to_string()
}

fn fail2ban(inputs: &Inputs) -> Item {
    let mut item = Item::new("fail2ban");
    let changed = item.want_file(inputs, FAIL2BAN_JAIL, fail2ban_jail(), 0o644);
    item.summary = "jails for sshd and nginx auth failures".into();
    if changed {
        item.command(
            inputs,
            "fail2ban-client",
            &["fail2ban-client", "-t"],
            "check the jail configuration",
            true,
        );
        item.command(
            inputs,
            "fail2ban-client",
            &["fail2ban-client", "reload"],
            "load the jails",
            false,
        );
    }
    item
}

pub fn auto_upgrades() -> String {
    "// Written by berth host apply: security updates every day.\n\
     APT::Periodic::Update-Package-Lists \"1\";\n\
     APT::Periodic::Unattended-Upgrade \"1\";\n"
        .to_string()
}

fn upgrades(inputs: &Inputs) -> Item {
    let mut item = Item::new("unattended-upgrades");
    item.want_file(inputs, AUTO_UPGRADES, auto_upgrades(), 0o644);
    item.summary = "daily package lists and security upgrades".into();
    if !inputs.has("unattended-upgrade") {
        item.command(
            inputs,
            "apt-get",
            &["apt-get", "install", "-y", "unattended-upgrades"],
            "the package that does the upgrades",
            false,
        );
    }
    item
}

pub fn sshd_drop_in(allow: &[Cidr]) -> String {
    let mut s = String::from(
        "# Written by berth host apply. Named 00- so it is read first: sshd keeps the first\n\
         # value it reads, and later drop-ins (cloud-init's 50-) must not undo these.\n\
         PasswordAuthentication no\n\
         KbdInteractiveAuthentication no\n\
         PermitRootLogin no\n\
         PermitEmptyPasswords no\n\
         X11Forwarding no\n\
         MaxAuthTries 4\n",
    );
    if !allow.is_empty() {
        let hosts: Vec<String> = allow.iter().map(|c| format!("*@{c}")).collect();
        s.push_str(&format!("AllowUsers {}\n", hosts.join(" ")));
    }
    s
}

fn sshd(inputs: &Inputs) -> Item {
    let mut item = Item::new("sshd");
    item.summary = "no passwords, no root login".into();
    if let Some(session) = &inputs.session {
        if !inputs.ssh_allow.is_empty()
            && !inputs.ssh_allow.iter().any(|c| c.contains(session.client))
        {
            item.status = Status::Refused;
            item.summary = format!(
                "refused: this SSH session comes from {}, which no --ssh-allow network contains; \
                 applying would lock you out",
                session.client
            );
            return item;
        }
        if session.as_root && !inputs.force.iter().any(|f| f == "ssh-root-login") {
            item.status = Status::Refused;
            item.summary =
                "refused: you are logged in as root over SSH and this would disable root login; \
                 log in as a sudo user first, or pass --force ssh-root-login"
                    .into();
            return item;
        }
    }
    let changed = item.want_file(inputs, SSHD_DROP_IN, sshd_drop_in(&inputs.ssh_allow), 0o644);
    if changed {
        item.command(
            inputs,
            "sshd",
            &["sshd", "-t"],
            "check the configuration before reloading",
            true,
        );
        item.command(
            inputs,
            "systemctl",
            &["systemctl", "reload", "ssh"],
            "use the new settings (open sessions stay)",
            false,
        );
    }
    if inputs
        .file("etc/ssh/sshd_config")
        .is_some_and(|c| !c.contains("sshd_config.d"))
    {
        item.notes.push("/etc/ssh/sshd_config has no `Include /etc/ssh/sshd_config.d/*.conf`, so the drop-in has no effect until it does".into());
    }
    item
}

fn nginx(inputs: &Inputs) -> Item {
    let mut item = Item::new("nginx sites");
    let mut changed = false;
    let mut count = 0;
    for app in &inputs.apps {
        if let Some(conf) = &app.nginx_conf {
            count += 1;
            changed |= item.want_file(inputs, &nginx_site(&app.name), conf.clone(), 0o644);
        }
    }
    item.summary = format!("{count} app server block(s)");
    if changed {
        item.command(
            inputs,
            "nginx",
            &["nginx", "-t"],
            "check the configuration before reloading",
            true,
        );
        item.command(
            inputs,
            "systemctl",
            &["systemctl", "reload", "nginx"],
            "serve the new sites",
            false,
        );
    }
    item
}

/// Whether the kernel runs AppArmor, from the content of [`APPARMOR_ENABLED`] (what
/// `aa-enabled` reads).
pub fn apparmor_enabled(file: Option<&str>) -> bool {
    file.is_some_and(|c| c.trim() == "Y")
}

fn apparmor(inputs: &Inputs) -> Item {
    let mut item = Item::new("apparmor");
    if apparmor_enabled(inputs.file(APPARMOR_ENABLED)) {
        item.summary = "kernel AppArmor on; rendered stacks state apparmor=docker-default, which the engine loads".into();
    } else {
        item.status = Status::Unavailable;
        item.summary = "kernel AppArmor is off or absent: the engine ignores apparmor= in compose files on this host".into();
    }
    item
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cidrs() {
        let c = Cidr::parse("10.0.0.0/8").unwrap();
        assert!(c.contains("10.1.2.3".parse().unwrap()));
        assert!(!c.contains("11.0.0.1".parse().unwrap()));
        assert!(!c.contains("::1".parse().unwrap()));
        assert!(
            Cidr::parse("2001:db8::/32")
                .unwrap()
                .contains("2001:db8::1".parse().unwrap())
        );
        assert!(
            Cidr::parse("0.0.0.0/0")
                .unwrap()
                .contains("8.8.8.8".parse().unwrap())
        );
        assert!(Cidr::parse("10.0.0.0/33").is_none());
        assert!(Cidr::parse("nope").is_none());
        assert_eq!(Cidr::parse("192.0.2.7").unwrap().prefix, 32);
    }

    #[test]
    fn socket_mode_is_checked_as_bits() {
        let mut inputs = Inputs::default();
        for (mode, ok) in [
            (0o660, true),
            (0o600, true),
            (0o606, false),
            (0o664, false),
            (0o670, false),
        ] {
            inputs.socket = Some(Socket {
                mode,
                uid: 0,
                gid: 999,
                docker_gid: Some(999),
            });
            assert_eq!(socket(&inputs).status == Status::Ok, ok, "{mode:o}");
        }
    }

    #[test]
    fn ssh_lockout_is_refused() {
        let mut inputs = Inputs {
            ssh_allow: vec![Cidr::parse("10.0.0.0/8").unwrap()],
            session: Some(SshSession {
                client: "192.0.2.1".parse().unwrap(),
                as_root: false,
            }),
            ..Inputs::default()
        };
        assert_eq!(sshd(&inputs).status, Status::Refused);
        inputs.session = Some(SshSession {
            client: "10.9.9.9".parse().unwrap(),
            as_root: false,
        });
        assert_eq!(sshd(&inputs).status, Status::Missing);
        inputs.session = Some(SshSession {
            client: "10.9.9.9".parse().unwrap(),
            as_root: true,
        });
        assert_eq!(sshd(&inputs).status, Status::Refused);
        inputs.force = vec!["ssh-root-login".into()];
        assert_eq!(sshd(&inputs).status, Status::Missing);
    }
}
