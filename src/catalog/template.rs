//! The catalog template format: one YAML file per app. This is the schema; `validate`
//! checks what serde cannot (references between fields, pinning, placeholders).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::profile::Profile;

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Template {
    /// The catalog name, `[a-z][a-z0-9-]*`; equals the file stem.
    pub app: String,
    /// Bumped whenever the rendered output changes meaningfully.
    pub version: u32,
    pub title: String,
    pub description: String,
    /// Values a user may change with `--set KEY=VALUE`.
    #[serde(default)]
    pub settings: BTreeMap<String, Setting>,
    /// Generated per deployment into `.env`; referenced as `{{secret:NAME}}`.
    #[serde(default)]
    pub secrets: BTreeMap<String, SecretSpec>,
    pub services: BTreeMap<String, ServiceTemplate>,
    /// Configuration files rendered into the app directory (relative path → content) and
    /// mounted read-only by services that name them in `config`. Placeholders allowed,
    /// except secrets: these files are world-readable, so secrets reach them only as
    /// environment variables the container substitutes.
    #[serde(default)]
    pub files: BTreeMap<String, String>,
    /// How nginx proxies to the web port.
    #[serde(default)]
    pub proxy: ProxySettings,
    /// Notes for the operator, shown by `catalog show`.
    #[serde(default)]
    pub notes: Vec<String>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Setting {
    pub default: String,
    pub description: String,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct SecretSpec {
    #[serde(default = "default_secret_length")]
    pub length: usize,
    #[serde(default)]
    pub charset: Charset,
    pub description: String,
    /// Not random: an HS256 JWT for `role`, signed with another secret (Supabase's
    /// ANON_KEY and SERVICE_ROLE_KEY).
    #[serde(default)]
    pub jwt: Option<JwtSpec>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct JwtSpec {
    pub role: String,
    pub signed_with: String,
}

fn default_secret_length() -> usize {
    32
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Charset {
    /// `[A-Za-z0-9]`: safe in URLs, shells, compose and .env without quoting.
    #[default]
    Alnum,
    /// Lower-case hex, for keys that must be hex.
    Hex,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Served through the host's nginx; ports on 127.0.0.1 only.
    Web,
    /// The app is a data service (a standalone database); its port is public on purpose.
    Data,
    /// A helper (database, cache) of another service; internal network, no published port.
    Sidecar,
    /// Public by nature (a VPN endpoint); the template says which port and why.
    Public,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Exposure {
    /// 127.0.0.1 only.
    Loopback,
    /// 0.0.0.0: reachable from everywhere the firewall allows.
    Public,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct PortTemplate {
    pub container: u16,
    #[serde(default = "default_protocol")]
    pub protocol: crate::model::Protocol,
    /// Defaults from the role: web → loopback, data → public.
    #[serde(default)]
    pub exposure: Option<Exposure>,
    /// Host port when the request does not choose one; defaults to the container port.
    #[serde(default)]
    pub host: Option<u16>,
    /// This is the port nginx proxies to (exactly one per app with a web service).
    #[serde(default)]
    pub proxy: bool,
    /// Why a port is public; required for `exposure: public`.
    #[serde(default)]
    pub why: Option<String>,
}

fn default_protocol() -> crate::model::Protocol {
    crate::model::Protocol::Tcp
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ExtraCap {
    pub cap: String,
    pub why: String,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RootReason {
    pub why: String,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct DataPath {
    /// Directory name under `data/<service>/` in the app directory (or volume name).
    pub name: String,
    /// Path inside the container.
    pub path: String,
    /// Use a named volume instead of an app-owned bind mount, because Docker seeds a new
    /// named volume from the image's files and a bind mount starts empty. Says why.
    #[serde(default)]
    pub volume_why: Option<String>,
    /// Mount this data path of another service (which declares it) instead of one's own;
    /// the service joins that service's group to read it.
    #[serde(default)]
    pub from: Option<String>,
    #[serde(default)]
    pub read_only: bool,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigMount {
    /// A key of the template's `files`.
    pub file: String,
    /// Path inside the container (mounted read-only).
    pub path: String,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct TmpfsTemplate {
    pub path: String,
    /// Such as `64m`.
    #[serde(default = "default_tmpfs_size")]
    pub size: String,
    /// Allow exec on this tmpfs; needs a reason.
    #[serde(default)]
    pub exec_why: Option<String>,
    #[serde(default)]
    pub mode: Option<String>,
}

fn default_tmpfs_size() -> String {
    "64m".into()
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct LimitsTemplate {
    /// Such as `512m` or `2g`.
    pub memory: String,
    pub cpus: f64,
    pub pids: u32,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct HealthcheckTemplate {
    /// `["CMD", ...]` or `["CMD-SHELL", "..."]`; placeholders allowed.
    pub test: Vec<String>,
    #[serde(default = "default_interval")]
    pub interval: String,
    #[serde(default = "default_timeout")]
    pub timeout: String,
    #[serde(default = "default_retries")]
    pub retries: u32,
    #[serde(default = "default_start_period")]
    pub start_period: String,
}

fn default_interval() -> String {
    "30s".into()
}
fn default_timeout() -> String {
    "5s".into()
}
fn default_retries() -> u32 {
    5
}
fn default_start_period() -> String {
    "30s".into()
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct GpuTemplate {
    /// Only `nvidia` for now (the NVIDIA Container Toolkit).
    pub driver: String,
    #[serde(default)]
    pub count: Option<u32>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ServiceTemplate {
    pub role: Role,
    /// Pinned: a version tag (at least major.minor) and optionally `@sha256:...`.
    pub image: String,
    #[serde(default)]
    pub ports: Vec<PortTemplate>,
    /// Run as root (no `user:`); must say why. Default: the service's own UID.
    #[serde(default)]
    pub root: Option<RootReason>,
    pub profile: Profile,
    #[serde(default)]
    pub cap_add: Vec<ExtraCap>,
    #[serde(default)]
    pub data: Vec<DataPath>,
    /// Beyond the contract's /tmp and /run.
    #[serde(default)]
    pub tmpfs: Vec<TmpfsTemplate>,
    pub limits: LimitsTemplate,
    #[serde(default)]
    pub shm_size: Option<String>,
    #[serde(default)]
    pub healthcheck: Option<HealthcheckTemplate>,
    /// Why a service has no healthcheck (an image with nothing to run one with).
    #[serde(default)]
    pub no_healthcheck_why: Option<String>,
    #[serde(default)]
    pub environment: BTreeMap<String, String>,
    #[serde(default)]
    pub command: Option<Vec<String>>,
    #[serde(default)]
    pub depends_on: Vec<String>,
    #[serde(default)]
    pub sysctls: BTreeMap<String, String>,
    #[serde(default)]
    pub gpu: Option<GpuTemplate>,
    /// Run an init process as PID 1 (reaps zombies).
    #[serde(default)]
    pub init: bool,
    /// A sidecar that must reach the outside (mail, object storage) joins the app's
    /// bridge network too, still without a published port; it says why.
    #[serde(default)]
    pub egress_why: Option<String>,
    /// Template files mounted read-only.
    #[serde(default)]
    pub config: Vec<ConfigMount>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ProxySettings {
    /// nginx `client_max_body_size`.
    #[serde(default = "default_body_size")]
    pub max_body_size: String,
    /// Proxy WebSocket upgrades.
    #[serde(default = "default_true")]
    pub websockets: bool,
    /// nginx `proxy_read_timeout` in seconds.
    #[serde(default = "default_read_timeout")]
    pub read_timeout: u32,
}

impl Default for ProxySettings {
    fn default() -> Self {
        ProxySettings {
            max_body_size: default_body_size(),
            websockets: true,
            read_timeout: default_read_timeout(),
        }
    }
}

fn default_body_size() -> String {
    "16m".into()
}
fn default_true() -> bool {
    true
}
fn default_read_timeout() -> u32 {
    60
}

impl Template {
    /// The service and port nginx proxies to, if the app has a web face.
    pub fn proxy_port(&self) -> Option<(&str, &PortTemplate)> {
        self.services.iter().find_map(|(name, svc)| {
            svc.ports
                .iter()
                .find(|p| p.proxy)
                .map(|p| (name.as_str(), p))
        })
    }
}
