//! Host namespaces and IPC.

use super::super::posture::Located;
use super::super::rule::{Check, Hit, References, Rule, Severity, about};

fn is_host(v: &Option<Located<String>>) -> Option<&Located<String>> {
    v.as_ref().filter(|x| x.value.eq_ignore_ascii_case("host"))
}

fn host_ns(field: &Option<Located<String>>, phrase: &'static str, out: &mut Vec<Hit>) {
    if let Some(v) = is_host(field) {
        out.push(Hit {
            loc: v.loc,
            message: about(phrase),
        });
    }
}

pub const HOST_NETWORK: Rule = Rule {
    id: "host-network",
    severity: Severity::High,
    title: "Host network namespace",
    why: "With `network_mode: host` the container sees every host interface, can bind any \
          host port and reach services listening on the host's loopback.",
    fix: "Remove `network_mode: host`; publish the needed ports on 127.0.0.1.",
    refs: References {
        cis: &["5.10"],
        kics: &["071a71ff-f868-47a4-ac0b-3c59e4ab5443"],
        compose_lint: &["CL-0008"],
    },
    check: Check::Service(|p, _, out| {
        host_ns(&p.network_mode, "shares the host's network namespace", out)
    }),
};

pub const HOST_PID: Rule = Rule {
    id: "host-pid",
    severity: Severity::High,
    title: "Host PID namespace",
    why: "With `pid: host` the container sees and can signal every host process, and reads \
          their environment and command lines.",
    fix: "Remove `pid: host`.",
    refs: References {
        cis: &["5.16"],
        kics: &["4f31dd9f-2cc3-4751-9b53-67e4af83dac0"],
        compose_lint: &["CL-0010"],
    },
    check: Check::Service(|p, _, out| host_ns(&p.pid, "shares the host's PID namespace", out)),
};

pub const HOST_IPC: Rule = Rule {
    id: "host-ipc",
    severity: Severity::High,
    title: "Host IPC namespace",
    why: "With `ipc: host` the container shares the host's shared memory and semaphores, and \
          can read or corrupt other processes' shared memory.",
    fix: "Use `ipc: private`.",
    refs: References {
        cis: &["5.17"],
        kics: &["baa3890f-bed7-46f5-ab8f-1da8fc91c729"],
        compose_lint: &["CL-0010"],
    },
    check: Check::Service(|p, _, out| host_ns(&p.ipc, "shares the host's IPC namespace", out)),
};

pub const HOST_UTS: Rule = Rule {
    id: "host-uts",
    severity: Severity::Medium,
    title: "Host UTS namespace",
    why: "With `uts: host` the container can change the host's hostname.",
    fix: "Remove `uts: host`.",
    refs: References {
        cis: &["5.21"],
        kics: &[],
        compose_lint: &["CL-0010"],
    },
    check: Check::Service(|p, _, out| host_ns(&p.uts, "shares the host's UTS namespace", out)),
};

pub const HOST_USERNS: Rule = Rule {
    id: "host-userns",
    severity: Severity::High,
    title: "Host user namespace",
    why: "`userns_mode: host` opts out of the daemon's user-namespace remapping, so root in \
          the container is root on the host again.",
    fix: "Remove `userns_mode: host`.",
    refs: References {
        cis: &["5.31"],
        kics: &["8af7162d-6c98-482f-868e-0d33fb675ca8"],
        compose_lint: &["CL-0010"],
    },
    check: Check::Service(|p, _, out| {
        host_ns(&p.userns_mode, "shares the host's user namespace", out)
    }),
};

pub const IPC_NOT_PRIVATE: Rule = Rule {
    id: "ipc-not-private",
    severity: Severity::Low,
    title: "IPC namespace not explicitly private",
    why: "Without `ipc: private` the daemon's default-ipc-mode decides, and `shareable` or \
          `service:` modes let other containers attach to this one's shared memory.",
    fix: "Set `ipc: private`.",
    refs: References {
        cis: &["5.17"],
        kics: &[],
        compose_lint: &[],
    },
    check: Check::Service(|p, _, out| match &p.ipc {
        None => out.push(Hit {
            loc: p.loc,
            message: about("leaves IPC isolation to the daemon default"),
        }),
        Some(v)
            if !matches!(
                v.value.to_ascii_lowercase().as_str(),
                "private" | "none" | "host"
            ) =>
        {
            out.push(Hit {
                loc: v.loc,
                message: about(format!("uses ipc: {}", v.value)),
            })
        }
        _ => {}
    }),
};

pub const NETWORK_DEFAULT_BRIDGE: Rule = Rule {
    id: "network-default-bridge",
    severity: Severity::Medium,
    title: "Default bridge network",
    why: "`network_mode: bridge` puts the service on docker0, shared by every container on \
          the host that uses it; Compose's per-project network keeps apps apart.",
    fix: "Remove `network_mode: bridge` and use the project's networks.",
    refs: References {
        cis: &["5.30"],
        kics: &["ce14a68b-1668-41a0-ab7d-facd9f784742"],
        compose_lint: &[],
    },
    check: Check::Service(|p, _, out| {
        if let Some(v) = p.network_mode.as_ref().filter(|v| v.value == "bridge") {
            out.push(Hit {
                loc: v.loc,
                message: about("joins the shared default bridge"),
            });
        }
    }),
};

pub const RULES: &[Rule] = &[
    HOST_NETWORK,
    HOST_PID,
    HOST_IPC,
    HOST_UTS,
    HOST_USERNS,
    IPC_NOT_PRIVATE,
    NETWORK_DEFAULT_BRIDGE,
];
