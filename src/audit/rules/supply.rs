//! Image pinning.

use super::super::posture::Posture;
use super::super::rule::{Check, Hit, References, Rule, Severity, about};
use crate::image::{ImageRef, Pinning};

fn pinning(p: &Posture, want: &[Pinning], what: &str, out: &mut Vec<Hit>) {
    if let Some(image) = &p.image {
        let pin = ImageRef::parse(&image.value).pinning();
        if want.contains(&pin) {
            out.push(Hit {
                loc: image.loc,
                message: about(format!("uses {} ({what})", image.value)),
            });
        }
    }
}

pub const IMAGE_UNPINNED: Rule = Rule {
    id: "image-unpinned",
    severity: Severity::High,
    title: "Image not pinned",
    why: "An untagged image is `latest`, and `latest`, `stable` or a name like `alpine` move: \
          the next pull runs different code, possibly a compromised or breaking release.",
    fix: "Pin a version tag (`postgres:17.11`), better with its digest.",
    refs: References {
        cis: &["5.28"],
        kics: &[],
        compose_lint: &["CL-0004"],
    },
    check: Check::Service(|p, _, out| {
        pinning(
            p,
            &[Pinning::Untagged, Pinning::Floating],
            "a moving tag",
            out,
        )
    }),
};

pub const IMAGE_MAJOR_ONLY: Rule = Rule {
    id: "image-major-only",
    severity: Severity::Medium,
    title: "Image pinned to a major version only",
    why: "A bare major tag (`postgres:16`, `node:20-alpine`) moves with every minor release.",
    fix: "Pin at least major.minor (`postgres:16.4`).",
    refs: References {
        cis: &["5.28"],
        kics: &[],
        compose_lint: &["CL-0004"],
    },
    check: Check::Service(|p, _, out| pinning(p, &[Pinning::MajorOnly], "a major-only tag", out)),
};

pub const IMAGE_NO_DIGEST: Rule = Rule {
    id: "image-no-digest",
    severity: Severity::Info,
    title: "Image tag without digest",
    why: "A tag can be re-pushed; only a digest names exactly one image.",
    fix: "Append the digest: `image: name:1.2.3@sha256:...`.",
    refs: References {
        cis: &[],
        kics: &[],
        compose_lint: &["CL-0019"],
    },
    check: Check::Service(|p, _, out| pinning(p, &[Pinning::Version], "no digest", out)),
};

pub const RULES: &[Rule] = &[IMAGE_UNPINNED, IMAGE_MAJOR_ONLY, IMAGE_NO_DIGEST];
