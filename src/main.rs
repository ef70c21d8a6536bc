//! The berth command line: parses arguments, calls an operation, prints the result.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand, ValueEnum};

use berth::catalog::Catalog;
use berth::catalog::template::{Exposure, Role, Template};
use berth::error::{Error, Result};
use berth::ops::render::{self, RenderOutcome};
use berth::plan::{DEFAULT_UID_BASE, Request, SecretSeed};

#[derive(Parser)]
#[command(
    name = "berth",
    version,
    about = "Secure Docker hosting by default: a hardened app catalog, host hardening, audits.",
    long_about = "berth renders apps from a 1-click catalog into Docker Compose stacks that are \
hardened by construction: a UID per service, cap_drop ALL plus a named allowlist, \
no-new-privileges and AppArmor, a read-only root with noexec tmpfs, private IPC, limits, \
rotated logs, pinned images, web ports on 127.0.0.1 behind nginx, sidecars on an internal \
network, and secrets in a 0600 .env.",
    after_help = "Examples:\n  berth catalog list\n  berth catalog show nextcloud\n  \
berth render nextcloud --name cloud --domain cloud.example.com --out ./cloud\n  \
berth render postgres --name pg --out ./pg --port 15432\n\n\
Exit codes: 0 success, 1 an operation failed (I/O), 2 bad input (nothing was written)."
)]
struct Cli {
    /// Use the app templates in DIR instead of the built-in catalog.
    #[arg(long, global = true, value_name = "DIR")]
    catalog: Option<PathBuf>,

    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Browse the app catalog.
    #[command(subcommand)]
    Catalog(CatalogCommand),
    /// Render an app into a directory: compose.yaml, .env, nginx.conf, berth.json.
    ///
    /// Pure: touches no host and no engine. Re-rendering into the same directory keeps the
    /// generated secrets and rewrites only what changed (a backup of every replaced file
    /// goes to .berth/backup/). A directory that has files but no berth.json is refused.
    Render(RenderArgs),
}

#[derive(Subcommand)]
enum CatalogCommand {
    /// Every app, one line each, with its services.
    List {
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
    },
    /// One app's template: services, images, ports, capability profiles, settings.
    Show {
        /// The app, as `berth catalog list` names it.
        app: String,
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
    },
}

#[derive(Args)]
struct RenderArgs {
    /// The catalog app to render (see `berth catalog list`).
    app: String,
    /// This deployment's name: [a-z][a-z0-9-]{0,30}. The Compose project is berth-NAME.
    #[arg(long)]
    name: String,
    /// Host name nginx serves a web app on (required for web apps, refused for others).
    #[arg(long)]
    domain: Option<String>,
    /// Directory to write into; created if missing.
    #[arg(long, value_name = "DIR")]
    out: PathBuf,
    /// UID and GID of the first service; each further service gets the next number.
    #[arg(long, value_name = "UID", default_value_t = DEFAULT_UID_BASE)]
    uid_base: u32,
    /// Host port of the app's main port (127.0.0.1 for web apps; 0.0.0.0 for data services).
    #[arg(long)]
    port: Option<u16>,
    /// Change a template setting: KEY=VALUE (see `berth catalog show APP`). Repeatable.
    #[arg(long = "set", value_name = "KEY=VALUE")]
    set: Vec<String>,
    /// Derive secrets from this 64-hex-digit seed instead of the OS random source, for
    /// reproducible output in tests. Never share a seed between real deployments.
    #[arg(long, value_name = "HEX", hide = true, env = "BERTH_SECRET_SEED")]
    secret_seed: Option<String>,
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Format {
    Text,
    Json,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(u8::try_from(e.exit_code()).unwrap_or(1))
        }
    }
}

fn load_catalog(dir: Option<&PathBuf>) -> Result<Catalog> {
    match dir {
        Some(dir) => Catalog::load_dir(dir),
        None => Catalog::builtin(),
    }
}

fn run(cli: Cli) -> Result<()> {
    let catalog = load_catalog(cli.catalog.as_ref())?;
    match cli.command {
        Command::Catalog(CatalogCommand::List { format }) => {
            catalog_list(&catalog, format);
            Ok(())
        }
        Command::Catalog(CatalogCommand::Show { app, format }) => {
            let template = catalog.get(&app)?;
            catalog_show(template, format);
            Ok(())
        }
        Command::Render(args) => {
            let template = catalog.get(&args.app)?;
            let outcome = render_cmd(template, &args)?;
            print_render(&outcome, args.format);
            Ok(())
        }
    }
}

fn print_json(value: &impl serde::Serialize) {
    match serde_json::to_string_pretty(value) {
        Ok(s) => println!("{s}"),
        Err(e) => eprintln!("error: cannot encode JSON: {e}"),
    }
}

fn catalog_list(catalog: &Catalog, format: Format) {
    if format == Format::Json {
        let apps: Vec<_> = catalog
            .templates()
            .iter()
            .map(|t| {
                serde_json::json!({
                    "app": t.app,
                    "title": t.title,
                    "version": t.version,
                    "description": t.description,
                    "services": t.services.keys().collect::<Vec<_>>(),
                })
            })
            .collect();
        print_json(&apps);
        return;
    }
    let width = catalog
        .templates()
        .iter()
        .map(|t| t.app.len())
        .max()
        .unwrap_or(0);
    for t in catalog.templates() {
        let services: Vec<&str> = t.services.keys().map(String::as_str).collect();
        println!("{:width$}  {}  [{}]", t.app, t.title, services.join(", "));
    }
}

fn role_name(role: Role) -> &'static str {
    match role {
        Role::Web => "web",
        Role::Data => "data",
        Role::Sidecar => "sidecar",
        Role::Public => "public",
    }
}

fn catalog_show(t: &Template, format: Format) {
    if format == Format::Json {
        print_json(t);
        return;
    }
    println!("{} ({}), template version {}", t.title, t.app, t.version);
    println!("{}\n", t.description);
    for (name, svc) in &t.services {
        println!("service {name}  [{}]", role_name(svc.role));
        println!("  image     {}", svc.image);
        for p in &svc.ports {
            let exposure = match p.exposure.unwrap_or(match svc.role {
                Role::Data => Exposure::Public,
                _ => Exposure::Loopback,
            }) {
                Exposure::Loopback => "127.0.0.1",
                Exposure::Public => "0.0.0.0",
            };
            let proxied = if p.proxy { ", behind nginx" } else { "" };
            println!(
                "  port      {}/{} on {exposure}{proxied}",
                p.container,
                p.protocol.as_str()
            );
        }
        let caps = svc.profile.capabilities().join(", ");
        println!(
            "  profile   {} [{}]",
            svc.profile.name(),
            if caps.is_empty() {
                "no capabilities"
            } else {
                &caps
            }
        );
        for extra in &svc.cap_add {
            println!("  +cap      {}: {}", extra.cap, extra.why);
        }
        match &svc.root {
            Some(r) => println!("  user      root: {}", r.why),
            None => println!("  user      its own UID"),
        }
        for d in &svc.data {
            println!("  data      {}", d.path);
        }
        println!(
            "  limits    memory {}, cpus {}, pids {}",
            svc.limits.memory, svc.limits.cpus, svc.limits.pids
        );
        if svc.gpu.is_some() {
            println!("  gpu       NVIDIA (Container Toolkit)");
        }
        println!();
    }
    if !t.settings.is_empty() {
        println!("settings (--set KEY=VALUE):");
        for (k, s) in &t.settings {
            println!("  {k} = {:?}  {}", s.default, s.description);
        }
        println!();
    }
    if !t.secrets.is_empty() {
        println!("secrets (generated into .env):");
        for (k, s) in &t.secrets {
            println!("  {k}  {}", s.description);
        }
        println!();
    }
    for note in &t.notes {
        println!("note: {note}");
    }
}

fn parse_settings(raw: &[String]) -> Result<BTreeMap<String, String>> {
    let mut out = BTreeMap::new();
    for item in raw {
        let (k, v) = item.split_once('=').ok_or_else(|| {
            Error::input(format!(
                "--set {}: use KEY=VALUE",
                berth::validate::printable(item)
            ))
        })?;
        if out.insert(k.to_string(), v.to_string()).is_some() {
            return Err(Error::input(format!("--set {k} is given twice")));
        }
    }
    Ok(out)
}

fn secret_seed(hex: Option<&str>) -> Result<SecretSeed> {
    match hex {
        Some(h) => SecretSeed::from_hex(h)
            .ok_or_else(|| Error::input("--secret-seed: use exactly 64 hex digits")),
        None => {
            let mut seed = [0u8; 32];
            getrandom::fill(&mut seed).map_err(|e| {
                Error::input(format!(
                    "the OS random source failed ({e}); cannot make secrets"
                ))
            })?;
            Ok(SecretSeed(seed))
        }
    }
}

fn render_cmd(template: &Template, args: &RenderArgs) -> Result<RenderOutcome> {
    let request = Request {
        name: args.name.clone(),
        domain: args.domain.clone(),
        uid_base: args.uid_base,
        port: args.port,
        settings: parse_settings(&args.set)?,
    };
    let seed = secret_seed(args.secret_seed.as_deref())?;
    let stamp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs().to_string())
        .unwrap_or_else(|_| "0".into());
    render::render(template, &request, &args.out, &seed, &stamp)
}

fn print_render(outcome: &RenderOutcome, format: Format) {
    if format == Format::Json {
        print_json(outcome);
        return;
    }
    let m = &outcome.manifest;
    println!(
        "rendered {} ({} template v{}) into {}",
        m.name,
        m.app,
        m.template_version,
        outcome.out.display()
    );
    for f in &outcome.files {
        let change = match f.change {
            berth::fsx::Change::Created => "created",
            berth::fsx::Change::Updated => "updated",
            berth::fsx::Change::Unchanged => "unchanged",
        };
        let note = if f.edited_by_hand {
            "  (had hand edits; the old file is in the backup)"
        } else {
            ""
        };
        println!("  {change:9}  {}{note}", f.file);
    }
    for (name, svc) in &m.services {
        let ports: Vec<String> = svc
            .ports
            .iter()
            .map(|p| {
                format!(
                    "{}:{}->{}/{}",
                    p.host_ip, p.host_port, p.container_port, p.protocol
                )
            })
            .collect();
        let who = if svc.runs_as_root {
            "root (declared)".to_string()
        } else {
            format!("uid {}", svc.uid)
        };
        println!(
            "  service {name:12} {who:16} {}",
            if ports.is_empty() {
                "no published port".into()
            } else {
                ports.join(" ")
            }
        );
    }
    for b in &outcome.backups {
        println!("  backup     {}", b.display());
    }
    if outcome
        .files
        .iter()
        .all(|f| f.change == berth::fsx::Change::Unchanged)
    {
        println!("nothing changed");
    }
}
