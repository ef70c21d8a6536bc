//! Image references and what "pinned" means.

/// The parts of an image reference: `[registry/]repository[:tag][@digest]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageRef<'a> {
    pub repository: &'a str,
    pub tag: Option<&'a str>,
    pub digest: Option<&'a str>,
}

/// How firmly an image reference names one image.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pinning {
    /// No tag at all: Docker reads it as `latest`.
    Untagged,
    /// `latest`, `stable`, `main` and other moving names.
    Floating,
    /// A bare major (`16`, `16-alpine`, `v2`): moves with every minor release.
    MajorOnly,
    /// At least major.minor (or a date or commit build).
    Version,
    /// Fixed by content digest.
    Digest,
}

const FLOATING: &[&str] = &[
    "latest", "stable", "main", "master", "edge", "nightly", "dev", "develop", "release", "lts",
    "current", "beta", "alpha", "rc", "next", "canary", "mainline",
];

impl<'a> ImageRef<'a> {
    pub fn parse(reference: &'a str) -> Self {
        let (rest, digest) = match reference.split_once('@') {
            Some((r, d)) => (r, Some(d)),
            None => (reference, None),
        };
        // A colon after the last slash is a tag; one before it is a registry port.
        let last_slash = rest.rfind('/').map_or(0, |i| i + 1);
        let (repository, tag) = match rest[last_slash..].rfind(':') {
            Some(i) => (&rest[..last_slash + i], Some(&rest[last_slash + i + 1..])),
            None => (rest, None),
        };
        ImageRef {
            repository,
            tag,
            digest,
        }
    }

    pub fn pinning(&self) -> Pinning {
        if self
            .digest
            .is_some_and(|d| d.starts_with("sha256:") && d.len() == 71)
        {
            return Pinning::Digest;
        }
        let Some(tag) = self.tag.filter(|t| !t.is_empty()) else {
            return Pinning::Untagged;
        };
        let lower = tag.to_ascii_lowercase();
        let head = lower.split(['-', '_']).next().unwrap_or("");
        if FLOATING.contains(&lower.as_str()) || FLOATING.contains(&head) {
            return Pinning::Floating;
        }
        // "v1.2", "1.2.3-alpine", "2026.02.16-sha-26c615c": a version has digit '.' digit.
        let version = head.strip_prefix('v').unwrap_or(head);
        let mut parts = version.split('.');
        let major_is_number = parts
            .next()
            .is_some_and(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()));
        let minor_is_number = parts
            .next()
            .is_some_and(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()));
        match (major_is_number, minor_is_number) {
            (true, true) => Pinning::Version,
            (true, false) => Pinning::MajorOnly,
            // A non-numeric tag we do not know ("alpine", "bookworm") moves like latest.
            _ => Pinning::Floating,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pin(s: &str) -> Pinning {
        ImageRef::parse(s).pinning()
    }

    #[test]
    fn classifies_tags() {
        assert_eq!(pin("nginx"), Pinning::Untagged);
        assert_eq!(pin("localhost:5000/nginx"), Pinning::Untagged);
        assert_eq!(pin("nginx:latest"), Pinning::Floating);
        assert_eq!(pin("nginx:alpine"), Pinning::Floating);
        assert_eq!(pin("postgres:16-alpine"), Pinning::MajorOnly);
        assert_eq!(pin("ghcr.io/wg-easy/wg-easy:15"), Pinning::MajorOnly);
        assert_eq!(pin("nextcloud:34.0.3-apache"), Pinning::Version);
        assert_eq!(
            pin("ghcr.io/danny-avila/librechat:v0.8.7"),
            Pinning::Version
        );
        assert_eq!(
            pin("supabase/studio:2026.02.16-sha-26c615c"),
            Pinning::Version
        );
        assert_eq!(pin("localhost:5000/app:1.2"), Pinning::Version);
        let digest = format!("mysql:8.0.44@sha256:{}", "a".repeat(64));
        assert_eq!(pin(&digest), Pinning::Digest);
    }

    #[test]
    fn splits_registry_port_from_tag() {
        let r = ImageRef::parse("registry:5000/team/app:1.2@sha256:ab");
        assert_eq!(r.repository, "registry:5000/team/app");
        assert_eq!(r.tag, Some("1.2"));
        assert_eq!(r.digest, Some("sha256:ab"));
    }
}
