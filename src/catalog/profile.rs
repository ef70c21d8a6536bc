//! Named capability profiles (DESIGN.md, "the hardening contract"). A template names one
//! and may add more only with a written reason, so it never silently gets more.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Profile {
    /// Nothing at all: the process runs as its own UID and needs no privilege.
    None,
    Web,
    DbInit,
    Gpu,
    Vpn,
    Browser,
}

impl Profile {
    pub fn capabilities(self) -> &'static [&'static str] {
        match self {
            Profile::None => &[],
            Profile::Web => &["NET_BIND_SERVICE", "SETGID", "SETUID"],
            Profile::DbInit => &["CHOWN", "FOWNER", "NET_BIND_SERVICE", "SETGID", "SETUID"],
            Profile::Gpu => &["NET_BIND_SERVICE", "SETGID", "SETUID", "SYS_NICE"],
            Profile::Vpn => &["NET_ADMIN"],
            Profile::Browser => &["NET_BIND_SERVICE", "SETGID", "SETUID", "SYS_ADMIN"],
        }
    }

    /// Why a service with this profile needs its capabilities (written beside them).
    pub fn why(self) -> &'static str {
        match self {
            Profile::None => "no capabilities",
            Profile::Web => "binds its port and drops to its own user",
            Profile::DbInit => "initialises and chowns its data directory, then drops privileges",
            Profile::Gpu => "GPU inference raises worker thread priority",
            Profile::Vpn => "configures the VPN interface, routes and NAT in its network namespace",
            Profile::Browser => "the browser's own sandbox needs namespaces",
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Profile::None => "none",
            Profile::Web => "web",
            Profile::DbInit => "db-init",
            Profile::Gpu => "gpu",
            Profile::Vpn => "vpn",
            Profile::Browser => "browser",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Capability;

    #[test]
    fn every_profile_names_real_capabilities() {
        for p in [
            Profile::None,
            Profile::Web,
            Profile::DbInit,
            Profile::Gpu,
            Profile::Vpn,
            Profile::Browser,
        ] {
            for cap in p.capabilities() {
                assert!(Capability::parse(cap).is_some(), "{cap} in {}", p.name());
            }
        }
    }

    #[test]
    fn db_init_is_web_plus_chown_fowner() {
        let mut web: Vec<_> = Profile::Web.capabilities().to_vec();
        web.extend(["CHOWN", "FOWNER"]);
        web.sort();
        assert_eq!(web, Profile::DbInit.capabilities());
    }
}
