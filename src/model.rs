//! The one normalized description of a container's security posture.
//!
//! The renderer produces it from a catalog template; the audit (compose reader, engine,
//! kernel) will produce it from what is on disk or running. The writers in `compose` turn
//! it into text. Architecture invariant: plain data, no I/O, no knowledge of the CLI.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// A Linux capability in Docker's canonical spelling (upper case, no `CAP_` prefix).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Capability(String);

impl Capability {
    /// Normalizes Docker's accepted spellings: case-insensitive, optional `CAP_` prefix.
    pub fn parse(raw: &str) -> Option<Self> {
        let upper = raw.trim().to_ascii_uppercase();
        let name = upper.strip_prefix("CAP_").unwrap_or(&upper);
        if name == "ALL" || KNOWN_CAPABILITIES.contains(&name) {
            Some(Capability(name.to_string()))
        } else {
            None
        }
    }

    /// `ALL`, as in `cap_drop: [ALL]`.
    pub fn all() -> Self {
        Capability("ALL".into())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Every capability the kernel defines as of Linux 6.x (capability.h), as Docker names them.
pub const KNOWN_CAPABILITIES: &[&str] = &[
    "AUDIT_CONTROL",
    "AUDIT_READ",
    "AUDIT_WRITE",
    "BLOCK_SUSPEND",
    "BPF",
    "CHECKPOINT_RESTORE",
    "CHOWN",
    "DAC_OVERRIDE",
    "DAC_READ_SEARCH",
    "FOWNER",
    "FSETID",
    "IPC_LOCK",
    "IPC_OWNER",
    "KILL",
    "LEASE",
    "LINUX_IMMUTABLE",
    "MAC_ADMIN",
    "MAC_OVERRIDE",
    "MKNOD",
    "NET_ADMIN",
    "NET_BIND_SERVICE",
    "NET_BROADCAST",
    "NET_RAW",
    "PERFMON",
    "SETFCAP",
    "SETGID",
    "SETPCAP",
    "SETUID",
    "SYSLOG",
    "SYS_ADMIN",
    "SYS_BOOT",
    "SYS_CHROOT",
    "SYS_MODULE",
    "SYS_NICE",
    "SYS_PACCT",
    "SYS_PTRACE",
    "SYS_RAWIO",
    "SYS_RESOURCE",
    "SYS_TIME",
    "SYS_TTY_CONFIG",
    "WAKE_ALARM",
];

/// Who the container's process runs as.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct User {
    pub uid: u32,
    pub gid: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Protocol {
    Tcp,
    Udp,
}

impl Protocol {
    pub fn as_str(self) -> &'static str {
        match self {
            Protocol::Tcp => "tcp",
            Protocol::Udp => "udp",
        }
    }
}

/// A published port. `host_ip` is always explicit: berth never leaves it to Docker's
/// all-interfaces default.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PortBinding {
    pub host_ip: String,
    pub host_port: u16,
    pub container_port: u16,
    pub protocol: Protocol,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum Mount {
    /// A host directory, relative to the app directory or absolute.
    Bind {
        source: String,
        target: String,
        read_only: bool,
    },
    /// A named volume of the project.
    Volume {
        source: String,
        target: String,
        read_only: bool,
    },
}

/// A tmpfs mount with its options, written in Docker's short syntax.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Tmpfs {
    pub target: String,
    /// Size in bytes.
    pub size: u64,
    /// Whether programs may be executed from it; berth's default is noexec.
    pub exec: bool,
    /// Octal mode; tmpfs defaults to 1777, which is what /tmp wants.
    pub mode: Option<u32>,
}

impl Tmpfs {
    /// Docker's short syntax: `/tmp:rw,noexec,nosuid,nodev,size=67108864`.
    pub fn to_short_syntax(&self) -> String {
        let exec = if self.exec { "exec" } else { "noexec" };
        let mut s = format!(
            "{}:rw,{exec},nosuid,nodev,size={}",
            self.target,
            crate::units::format_bytes(self.size)
        );
        if let Some(mode) = self.mode {
            s.push_str(&format!(",mode={mode:o}"));
        }
        s
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Limits {
    /// Bytes.
    pub memory: u64,
    pub cpus: f64,
    pub pids: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Logging {
    pub driver: String,
    pub options: BTreeMap<String, String>,
}

impl Logging {
    /// json-file with rotation, 10m x 3: the contract's logging.
    pub fn rotated_json_file() -> Self {
        Logging {
            driver: "json-file".into(),
            options: BTreeMap::from([
                ("max-file".into(), "3".into()),
                ("max-size".into(), "10m".into()),
            ]),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Healthcheck {
    pub test: Vec<Text>,
    pub interval: String,
    pub timeout: String,
    pub retries: u32,
    pub start_period: String,
}

/// One piece of an environment value (or command word): literal text, or a reference to a
/// variable in the app's `.env`. Keeping references symbolic is how secrets stay out of
/// compose.yaml and out of logs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", content = "value", rename_all = "lowercase")]
pub enum Piece {
    Literal(String),
    Variable(String),
}

/// A string made of pieces, such as `postgres://app:${DB_PASSWORD}@db/app`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Text(pub Vec<Piece>);

impl Text {
    pub fn literal(s: impl Into<String>) -> Self {
        Text(vec![Piece::Literal(s.into())])
    }

    /// The text with variables left as `${NAME}` (for files the container does not
    /// interpolate, variables are refused before this is called).
    pub fn to_literal(&self) -> String {
        self.0
            .iter()
            .map(|p| match p {
                Piece::Literal(s) => s.clone(),
                Piece::Variable(v) => format!("${{{v}}}"),
            })
            .collect()
    }
}

/// A GPU request, written as a Compose device reservation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GpuRequest {
    pub driver: String,
    /// `None` means all GPUs.
    pub count: Option<u32>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum IpcMode {
    Private,
    Shareable,
}

/// A declared, justified departure from the hardening contract. Rendered as an audit
/// suppression comment beside the key, so the audit shows intent instead of a silent pass.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Exception {
    /// The audit rule this exception answers.
    pub rule: String,
    pub reason: String,
}

/// A container's security posture.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ServiceSpec {
    pub name: String,
    pub image: String,
    pub user: User,
    pub command: Option<Vec<Text>>,
    pub cap_drop: Vec<Capability>,
    pub cap_add: Vec<Capability>,
    pub privileged: bool,
    pub read_only: bool,
    pub tmpfs: Vec<Tmpfs>,
    pub mounts: Vec<Mount>,
    pub ports: Vec<PortBinding>,
    pub networks: Vec<String>,
    pub ipc: IpcMode,
    pub security_opt: Vec<String>,
    pub limits: Limits,
    pub shm_size: Option<u64>,
    pub logging: Logging,
    pub healthcheck: Option<Healthcheck>,
    pub environment: BTreeMap<String, Text>,
    pub sysctls: BTreeMap<String, String>,
    pub gpu: Option<GpuRequest>,
    pub depends_on: Vec<String>,
    /// Extra groups (GIDs), to read data another service of the app owns.
    pub group_add: Vec<u32>,
    pub restart: String,
    pub init: bool,
    pub exceptions: Vec<Exception>,
}

/// A network of the app's project.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NetworkSpec {
    pub name: String,
    /// No route out of the host: sidecars live here.
    pub internal: bool,
}

/// A whole Compose project as berth writes it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StackSpec {
    pub project: String,
    pub services: Vec<ServiceSpec>,
    pub networks: Vec<NetworkSpec>,
    /// Named volumes of the project.
    pub volumes: Vec<String>,
}
