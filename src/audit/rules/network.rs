//! Published ports.

use super::super::rule::{Check, Hit, References, Rule, Severity, about};

fn all_interfaces(ip: Option<&str>) -> bool {
    matches!(ip, None | Some("0.0.0.0") | Some("::") | Some(""))
}

pub const PORT_ALL_INTERFACES: Rule = Rule {
    id: "port-all-interfaces",
    severity: Severity::Medium,
    title: "Port published on all interfaces",
    why: "A port without a host IP is published on 0.0.0.0, and Docker's iptables rules \
          bypass host firewalls such as ufw: the service is on the internet.",
    fix: "Publish on 127.0.0.1 (`127.0.0.1:8080:80`) behind a reverse proxy; a service that \
          must be public says so in a `# berth: allow port-all-interfaces -- why` comment.",
    refs: References {
        cis: &["5.14"],
        kics: &["451d79dc-0588-476a-ad03-3c7f0320abb3"],
        compose_lint: &["CL-0005"],
    },
    check: Check::Service(|p, _, out| {
        for port in &p.ports {
            if all_interfaces(port.value.host_ip.as_deref()) {
                let host = port.value.published.as_deref().unwrap_or("a random port");
                out.push(Hit {
                    loc: port.loc,
                    message: about(format!(
                        "publishes {}/{} on all interfaces (host {host})",
                        port.value.target, port.value.protocol
                    )),
                });
            }
        }
    }),
};

pub const PORT_PRIVILEGED: Rule = Rule {
    id: "port-privileged",
    severity: Severity::Low,
    title: "Privileged host port",
    why: "Host ports below 1024 are the ones system services own (SSH, SMTP, HTTP); a \
          container taking one can impersonate or displace them.",
    fix: "Publish on a high port and let the host's reverse proxy own 80 and 443.",
    refs: References {
        cis: &["5.8"],
        kics: &["bc2908f3-f73c-40a9-8793-c1b7d5544f79"],
        compose_lint: &[],
    },
    check: Check::Service(|p, _, out| {
        for port in &p.ports {
            let low = port
                .value
                .published
                .as_deref()
                .and_then(|s| s.split('-').next())
                .and_then(|s| s.parse::<u32>().ok())
                .is_some_and(|n| n < 1024);
            if low {
                out.push(Hit {
                    loc: port.loc,
                    message: about(format!(
                        "publishes host port {}",
                        port.value.published.as_deref().unwrap_or("")
                    )),
                });
            }
        }
    }),
};

pub const RULES: &[Rule] = &[PORT_ALL_INTERFACES, PORT_PRIVILEGED];
