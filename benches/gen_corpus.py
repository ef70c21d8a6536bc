#!/usr/bin/env python3
"""Writes a corpus of varied compose files for benchmarking `berth audit`.

usage: gen_corpus.py DIR [COUNT] [SEED]

Each file is a project directory DIR/pNNNNN/compose.yaml with 1 to 6 services mixing what
real stacks use: short and long port and volume syntax, environment maps and lists with
literal and ${VAR} values, anchors and `<<` merge keys, caps, security_opt, limits, logging,
healthchecks, deploy blocks, some override files, and now and then a risky setting. The
output is deterministic for a given seed.
"""
import os
import random
import sys

IMAGES = ["nginx:1.27.3", "nginx", "postgres:16", "postgres:17.1", "redis:7.4.1-alpine", "redis:latest",
          "ghcr.io/acme/api:v2.3.1", "mariadb:11.4.12", "node:20-alpine", "traefik:v3.2",
          "grafana/grafana:11.3.0", "prom/prometheus:v2.55.0", "mongo:8.0.29@sha256:" + "b" * 64]
CAPS = ["CHOWN", "NET_ADMIN", "SYS_ADMIN", "SETUID", "SETGID", "NET_BIND_SERVICE", "cap_sys_ptrace", "DAC_OVERRIDE"]
ENV_KEYS = ["DB_PASSWORD", "DB_HOST", "API_KEY", "LOG_LEVEL", "JWT_SECRET", "TZ", "DATABASE_URL", "PORT"]


def service(r, name, anchors):
    lines = [f"  {name}:"]
    if anchors and r.random() < 0.4:
        lines.append("    <<: *defaults")
    lines.append(f"    image: {r.choice(IMAGES)}")
    if r.random() < 0.5:
        lines.append(f"    user: \"{r.choice(['1000:1000', '0', 'root', '33:33'])}\"")
    if r.random() < 0.3:
        lines.append(f"    read_only: {r.choice(['true', 'false'])}")
    if r.random() < 0.4:
        lines.append("    cap_drop: [ALL]")
    if r.random() < 0.3:
        lines.append("    cap_add:")
        for c in r.sample(CAPS, r.randint(1, 3)):
            lines.append(f"      - {c}")
    if r.random() < 0.4:
        lines.append("    security_opt:")
        for o in r.sample(["no-new-privileges:true", "seccomp=unconfined", "apparmor=docker-default", "label:disable"], r.randint(1, 2)):
            lines.append(f"      - {o}")
    if r.random() < 0.7:
        lines.append("    ports:")
        for _ in range(r.randint(1, 3)):
            p = r.randint(1, 65000)
            form = r.random()
            if form < 0.4:
                lines.append(f"      - \"{p}:{r.choice([80, 443, 8080, 5432])}\"")
            elif form < 0.7:
                lines.append(f"      - 127.0.0.1:{p}:{r.choice([80, 443, 3000])}")
            else:
                lines += [f"      - target: {r.choice([80, 53])}", f"        published: \"{p}\"",
                          f"        protocol: {r.choice(['tcp', 'udp'])}"]
    if r.random() < 0.7:
        lines.append("    volumes:")
        for _ in range(r.randint(1, 4)):
            v = r.random()
            if v < 0.3:
                lines.append(f"      - ./data/{name}:/data")
            elif v < 0.45:
                lines.append("      - /var/run/docker.sock:/var/run/docker.sock:ro")
            elif v < 0.6:
                lines.append(f"      - {name}-vol:/var/lib/{name}")
            elif v < 0.7:
                lines.append("      - /etc/localtime:/etc/localtime:ro")
            elif v < 0.8:
                lines.append("      - /usr/src/app/node_modules")
            else:
                lines += ["      - type: bind", f"        source: {r.choice(['/etc', './conf', '/srv/app'])}",
                          "        target: /conf", f"        read_only: {r.choice(['true', 'false'])}"]
    if r.random() < 0.8:
        if r.random() < 0.5:
            lines.append("    environment:")
            for k in r.sample(ENV_KEYS, r.randint(1, 5)):
                val = r.choice(["hunter2", "${" + k + "}", "${" + k + ":-x}", "postgres://u:pw@db/app", "info", "8080"])
                lines.append(f"      {k}: \"{val}\"")
        else:
            lines.append("    environment:")
            for k in r.sample(ENV_KEYS, r.randint(1, 5)):
                lines.append(f"      - {k}={r.choice(['hunter2', '${X}', 'debug'])}")
    if r.random() < 0.5:
        lines.append(f"    mem_limit: {r.choice(['256m', '1g', '0'])}")
    if r.random() < 0.4:
        lines.append(f"    cpus: {r.choice(['0.5', '1', '2.0'])}")
    if r.random() < 0.3:
        lines.append(f"    pids_limit: {r.choice([100, -1, 512])}")
    if r.random() < 0.3:
        lines += ["    deploy:", "      resources:", "        limits:", f"          memory: {r.choice(['512M', '2G'])}",
                  "          cpus: \"0.5\""]
    if r.random() < 0.5:
        lines.append("    logging: {driver: json-file, options: {max-size: 10m, max-file: \"3\"}}")
    if r.random() < 0.5:
        lines.append("    healthcheck:")
        lines.append("      test: [\"CMD-SHELL\", \"curl -f http://localhost/ || exit 1\"]")
        lines.append("      interval: 30s")
    if r.random() < 0.1:
        lines.append("    privileged: true")
    if r.random() < 0.05:
        lines.append(f"    network_mode: {r.choice(['host', 'bridge'])}")
    if r.random() < 0.05:
        lines.append("    pid: host")
    if r.random() < 0.2:
        lines.append(f"    restart: {r.choice(['unless-stopped', 'always', 'on-failure:10'])}")
    return lines


def project(r):
    anchors = r.random() < 0.3
    out = []
    if r.random() < 0.3:
        out.append("version: \"3.8\"")
    if anchors:
        out += ["x-defaults: &defaults", "  restart: unless-stopped", "  logging:", "    driver: json-file",
                "    options:", "      max-size: 10m"]
    out.append("services:")
    names = [f"svc{i}" for i in range(r.randint(1, 6))]
    for n in names:
        out += service(r, n, anchors)
    vols = [f"{n}-vol" for n in names]
    out.append("volumes:")
    out += [f"  {v}: {{}}" for v in vols]
    return "\n".join(out) + "\n"


def main():
    root = sys.argv[1]
    count = int(sys.argv[2]) if len(sys.argv) > 2 else 10000
    seed = int(sys.argv[3]) if len(sys.argv) > 3 else 1
    r = random.Random(seed)
    for i in range(count):
        d = os.path.join(root, f"p{i:05d}")
        os.makedirs(d, exist_ok=True)
        with open(os.path.join(d, "compose.yaml"), "w") as f:
            f.write(project(r))
        if r.random() < 0.05:
            with open(os.path.join(d, "compose.override.yaml"), "w") as f:
                f.write("services:\n  svc0:\n    read_only: true\n    cap_add: [SYS_ADMIN]\n")


if __name__ == "__main__":
    main()
