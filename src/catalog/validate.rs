//! What a template must satisfy beyond its schema. A template that fails here is refused at
//! load time, so every rendered stack is hardened by construction.

use std::collections::BTreeSet;

use super::placeholder::{self, Token};
use super::template::{Exposure, Role, ServiceTemplate, Template};
use crate::image::{ImageRef, Pinning};
use crate::model::Capability;
use crate::units::parse_bytes;

fn is_identifier(s: &str, upper: bool) -> bool {
    let first_ok = s.bytes().next().is_some_and(|b| {
        if upper {
            b.is_ascii_uppercase()
        } else {
            b.is_ascii_lowercase()
        }
    });
    first_ok
        && s.bytes().all(|b| {
            b.is_ascii_digit()
                || if upper {
                    b.is_ascii_uppercase() || b == b'_'
                } else {
                    b.is_ascii_lowercase() || b == b'-'
                }
        })
}

pub fn template(t: &Template, file_stem: &str) -> Result<(), String> {
    if t.app != file_stem {
        return Err(format!(
            "app is {:?} but the file is named {file_stem}.yaml; they must match",
            t.app
        ));
    }
    crate::validate::app_name(&t.app).map_err(|e| e.to_string())?;
    if t.services.is_empty() {
        return Err("no services".into());
    }
    for (key, setting) in &t.settings {
        if !is_identifier(key, true) {
            return Err(format!("setting {key:?}: use [A-Z][A-Z0-9_]*"));
        }
        crate::validate::setting_value(key, &setting.default).map_err(|e| e.to_string())?;
    }
    for (key, secret) in &t.secrets {
        if !is_identifier(key, true) {
            return Err(format!("secret {key:?}: use [A-Z][A-Z0-9_]*"));
        }
        if !(16..=128).contains(&secret.length) {
            // 16: the shortest key an upstream accepts
            return Err(format!("secret {key}: length must be 16 to 128"));
        }
    }
    let mut used_secrets = BTreeSet::new();
    for (key, secret) in &t.secrets {
        if let Some(jwt) = &secret.jwt {
            let signer = t.secrets.get_key_value(&jwt.signed_with);
            match signer {
                Some((name, s)) if s.jwt.is_none() => {
                    used_secrets.insert(name.as_str());
                }
                _ => {
                    return Err(format!(
                        "secret {key}: jwt.signed_with {:?} must be a declared random secret",
                        jwt.signed_with
                    ));
                }
            }
            if jwt.role.is_empty()
                || !jwt
                    .role
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b == b'_')
            {
                return Err(format!("secret {key}: jwt.role must be [a-z_]+"));
            }
        }
    }
    for (path, content) in &t.files {
        file(path, content).map_err(|e| format!("file {path}: {e}"))?;
        for token in placeholder::parse(content).map_err(|e| format!("file {path}: {e}"))? {
            match token {
                Token::Secret(_) => {
                    return Err(format!(
                        "file {path}: secrets cannot go into a world-readable file; pass them \
                         as environment variables and let the container substitute them"
                    ));
                }
                Token::Setting(s) if !t.settings.contains_key(&s) => {
                    return Err(format!("file {path}: {{{{setting:{s}}}}} is not declared"));
                }
                _ => {}
            }
        }
        let mounted = t
            .services
            .values()
            .any(|svc| svc.config.iter().any(|c| &c.file == path));
        if !mounted {
            return Err(format!("file {path} is declared but no service mounts it"));
        }
    }
    let mut proxies = 0;
    for (name, svc) in &t.services {
        service(t, name, svc, &mut used_secrets).map_err(|e| format!("service {name}: {e}"))?;
        proxies += svc.ports.iter().filter(|p| p.proxy).count();
    }
    if proxies > 1 {
        return Err("more than one port has `proxy: true`; nginx proxies to one".into());
    }
    // A web service exists to be proxied; a public one (a VPN) may have a UI or not.
    let has_web = t.services.values().any(|s| s.role == Role::Web);
    if has_web && proxies == 0 {
        return Err("a web service needs one port with `proxy: true`".into());
    }
    for key in t.secrets.keys() {
        if !used_secrets.contains(key.as_str()) {
            return Err(format!("secret {key} is declared but never used"));
        }
    }
    crate::units::parse_bytes(&t.proxy.max_body_size).ok_or_else(|| {
        format!(
            "proxy.max_body_size {:?} is not a size",
            t.proxy.max_body_size
        )
    })?;
    Ok(())
}

/// A template file lives under config/ in the app directory, with plain path segments, so
/// it cannot escape the directory or overwrite what berth itself writes.
fn file(path: &str, content: &str) -> Result<(), String> {
    let segment_ok = |seg: &str| {
        !seg.is_empty()
            && !seg.starts_with('.')
            && seg
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
    };
    let Some(rest) = path.strip_prefix("config/") else {
        return Err("template files go under config/".into());
    };
    if !rest.split('/').all(segment_ok) {
        return Err("use plain path segments ([A-Za-z0-9._-], no leading dot)".into());
    }
    if content.len() > 256 << 10 {
        return Err("larger than 256 KiB".into());
    }
    Ok(())
}

fn service<'t>(
    t: &'t Template,
    name: &str,
    svc: &'t ServiceTemplate,
    used_secrets: &mut BTreeSet<&'t str>,
) -> Result<(), String> {
    if !is_identifier(name, false) || name.len() > 31 {
        return Err("service names use [a-z][a-z0-9-]{0,30}".into());
    }
    match ImageRef::parse(&svc.image).pinning() {
        Pinning::Version | Pinning::Digest => {}
        other => {
            return Err(format!(
                "image {:?} is not pinned ({other:?}); use a version tag such as name:1.2.3",
                svc.image
            ));
        }
    }
    for port in &svc.ports {
        let exposure = port.exposure.unwrap_or(match svc.role {
            Role::Data => Exposure::Public,
            _ => Exposure::Loopback,
        });
        match (svc.role, exposure) {
            (Role::Sidecar, _) => {
                return Err("a sidecar publishes no port; remove `ports`".into());
            }
            (Role::Web, Exposure::Public) => {
                return Err("a web service publishes on 127.0.0.1 only (nginx fronts it)".into());
            }
            (Role::Public, Exposure::Public) if port.why.as_deref().unwrap_or("").is_empty() => {
                return Err(format!("public port {} needs a `why`", port.container));
            }
            _ => {}
        }
        let proxiable = matches!(svc.role, Role::Web | Role::Public)
            && exposure == Exposure::Loopback
            && port.protocol == crate::model::Protocol::Tcp;
        if port.proxy && !proxiable {
            return Err(
                "the proxied port must be a loopback TCP port of a web or public service".into(),
            );
        }
    }
    if svc.root.as_ref().is_some_and(|r| r.why.trim().is_empty()) {
        return Err("`root` needs a `why`".into());
    }
    for extra in &svc.cap_add {
        let cap = Capability::parse(&extra.cap)
            .ok_or_else(|| format!("cap_add {:?} is not a Linux capability", extra.cap))?;
        if cap.as_str() == "ALL" {
            return Err("cap_add ALL is never allowed".into());
        }
        if svc.profile.capabilities().contains(&cap.as_str()) {
            return Err(format!(
                "cap_add {} is already in profile {}",
                cap.as_str(),
                svc.profile.name()
            ));
        }
        if extra.why.trim().is_empty() {
            return Err(format!("cap_add {} needs a `why`", cap.as_str()));
        }
    }
    parse_bytes(&svc.limits.memory)
        .filter(|b| *b >= 6 << 20)
        .ok_or_else(|| {
            format!(
                "limits.memory {:?}: use a size of at least 6m",
                svc.limits.memory
            )
        })?;
    if !(svc.limits.cpus > 0.0 && svc.limits.cpus <= 64.0) {
        return Err("limits.cpus must be above 0 and at most 64".into());
    }
    if svc.limits.pids == 0 {
        return Err("limits.pids must be above 0".into());
    }
    if let Some(shm) = &svc.shm_size {
        parse_bytes(shm).ok_or_else(|| format!("shm_size {shm:?} is not a size"))?;
    }
    for tmpfs in &svc.tmpfs {
        if !tmpfs.path.starts_with('/') || tmpfs.path.contains([':', ',', ' ']) {
            return Err(format!(
                "tmpfs {:?}: use an absolute path without ':' or ','",
                tmpfs.path
            ));
        }
        parse_bytes(&tmpfs.size).ok_or_else(|| format!("tmpfs size {:?}", tmpfs.size))?;
        if tmpfs.exec_why.as_ref().is_some_and(|w| w.trim().is_empty()) {
            return Err(format!("tmpfs {}: exec_why is empty", tmpfs.path));
        }
        if let Some(mode) = &tmpfs.mode {
            u32::from_str_radix(mode, 8)
                .map_err(|_| format!("tmpfs mode {mode:?} is not octal"))?;
        }
    }
    for data in &svc.data {
        if !is_identifier(&data.name, false) {
            return Err(format!("data name {:?}: use [a-z][a-z0-9-]*", data.name));
        }
        if data
            .volume_why
            .as_ref()
            .is_some_and(|w| w.trim().is_empty())
        {
            return Err(format!("data {}: volume_why is empty", data.name));
        }
        if !data.path.starts_with('/') || data.path.contains(':') {
            return Err(format!(
                "data path {:?} must be absolute, without ':'",
                data.path
            ));
        }
    }
    for data in &svc.data {
        if let Some(owner) = &data.from {
            let declared = t.services.get(owner).is_some_and(|o| {
                o.data
                    .iter()
                    .any(|od| od.name == data.name && od.from.is_none())
            }) && owner != name;
            if !declared {
                return Err(format!(
                    "data {} from {owner}: that service declares no such data path",
                    data.name
                ));
            }
        }
    }
    for c in &svc.config {
        if !t.files.contains_key(&c.file) {
            return Err(format!("config {:?} is not a key of `files`", c.file));
        }
        if !c.path.starts_with('/') || c.path.contains(':') {
            return Err(format!(
                "config path {:?} must be absolute, without ':'",
                c.path
            ));
        }
    }
    for dep in &svc.depends_on {
        if !t.services.contains_key(dep) || dep == name {
            return Err(format!(
                "depends_on {dep:?} is not another service of this app"
            ));
        }
    }
    if let Some(gpu) = &svc.gpu
        && gpu.driver != "nvidia"
    {
        return Err(format!(
            "gpu driver {:?}: only nvidia is supported",
            gpu.driver
        ));
    }
    let texts = svc
        .environment
        .values()
        .chain(svc.command.iter().flatten())
        .chain(svc.healthcheck.iter().flat_map(|h| h.test.iter()));
    for text in texts {
        for token in placeholder::parse(text)? {
            match token {
                Token::Secret(s) => {
                    let (key, _) = t.secrets.get_key_value(&s).ok_or_else(|| {
                        format!("{{{{secret:{s}}}}} is not declared in `secrets`")
                    })?;
                    used_secrets.insert(key.as_str());
                }
                Token::Setting(s) if !t.settings.contains_key(&s) => {
                    return Err(format!("{{{{setting:{s}}}}} is not declared in `settings`"));
                }
                _ => {}
            }
        }
    }
    for key in svc.environment.keys() {
        let ok = key
            .bytes()
            .next()
            .is_some_and(|b| b.is_ascii_alphabetic() || b == b'_')
            && key.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
        if !ok {
            return Err(format!(
                "environment key {key:?}: use [A-Za-z_][A-Za-z0-9_]*"
            ));
        }
    }
    match (&svc.healthcheck, &svc.no_healthcheck_why) {
        (Some(hc), None) => match hc.test.first().map(String::as_str) {
            Some("CMD") | Some("CMD-SHELL") if hc.test.len() > 1 => Ok(()),
            _ => Err("healthcheck.test must start with CMD or CMD-SHELL and have a command".into()),
        },
        (None, Some(why)) if !why.trim().is_empty() => Ok(()),
        _ => Err("give a healthcheck, or no_healthcheck_why saying why there is none".into()),
    }
}
