//! The berth command line: parses arguments, calls an operation, prints the result.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand, ValueEnum};

use berth::audit::rule::{Rule, Severity};
use berth::audit::rules;
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
berth audit ./stacks --format html --out report.html\n  \
berth host plan --root /tmp/host\n  \
berth deploy nextcloud --name cloud --domain cloud.example.com\n  \
berth verify cloud\n\n\
Exit codes: 0 success, 1 an operation failed (I/O) or, for audit and verify, something to \
fix was found, 2 bad input (nothing was written)."
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
    /// Audit compose files and daemon.json against every rule (see `berth rules`).
    ///
    /// Directories are searched recursively for compose.yaml, compose.yml,
    /// docker-compose.yaml and docker-compose.yml (each merged with its .override. sibling).
    /// `-f` merges files like `docker compose -f a -f b`. Variables are interpolated from the
    /// project's .env or --env-file; a finding points at the line as written.
    ///
    /// Suppress a finding with a comment above the key: `# berth: allow RULE -- reason`,
    /// or with --config FILE listing `suppress: [{rule, service?, path?, reason}]`. A
    /// suppression without a reason is reported and not applied.
    ///
    /// Exit codes: 0 no finding at or above --fail-on, 1 findings at or above it, 2 an input
    /// could not be read.
    #[command(
        after_help = "Examples:\n  berth audit ./stacks/\n  berth audit compose.yaml -f override.yaml\n  \
berth audit --daemon-config /etc/docker/daemon.json\n  \
berth audit ./stacks --format sarif --out berth.sarif --fail-on medium\n  \
berth audit ./stacks --format html --out report.html"
    )]
    Audit(AuditArgs),
    /// List the audit rules; `berth rules show ID` explains one.
    Rules(RulesArgs),
    /// Harden the Docker host: daemon.json (merged), firewall, fail2ban, upgrades, sshd,
    /// the Docker socket, nginx sites.
    ///
    /// `plan` shows what would change (a diff per file, the commands); `apply` does it,
    /// atomically, keeping a backup of every file it replaces; `rollback` puts the last
    /// applied set back; `status` says per item: ok, missing, drifted. --root DIR prefixes
    /// every path, so the whole flow runs against a directory; commands run only with the
    /// real root (/) and only when their tool exists.
    #[command(subcommand)]
    Host(HostCommand),
    /// Deploy a catalog app on this Docker engine: allocate UIDs and a port (state),
    /// render, create its users and data directories, start it, wait for health, verify.
    Deploy(DeployArgs),
    /// The deployed apps, with their UIDs, ports and state.
    Ls(StateArgs),
    /// Compare what each container of an app declares, is configured with, and runs with.
    Verify(VerifyArgs),
    /// Stop and remove an app; --purge also deletes its data, users and allocations.
    Remove(RemoveArgs),
}

#[derive(Args)]
struct StateArgs {
    /// Where berth keeps its state (default /var/lib/berth as root, else the XDG state dir).
    #[arg(long, value_name = "DIR")]
    state_dir: Option<PathBuf>,
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
}

#[derive(Args)]
struct DeployArgs {
    /// The catalog app (see `berth catalog list`).
    app: String,
    #[arg(long)]
    name: String,
    #[arg(long)]
    domain: Option<String>,
    #[arg(long = "set", value_name = "KEY=VALUE")]
    set: Vec<String>,
    /// Seconds to wait for every service to be healthy.
    #[arg(long, default_value_t = 300)]
    timeout: u64,
    /// Root prefix for the host changes (nginx site, firewall); commands run only with /.
    #[arg(long, value_name = "DIR", default_value = "/")]
    host_root: PathBuf,
    #[command(flatten)]
    state: StateArgs,
}

#[derive(Args)]
struct VerifyArgs {
    name: String,
    #[command(flatten)]
    state: StateArgs,
}

#[derive(Args)]
struct RemoveArgs {
    name: String,
    /// Also delete the app's data, users and allocations.
    #[arg(long)]
    purge: bool,
    #[command(flatten)]
    state: StateArgs,
}

#[derive(Subcommand)]
enum HostCommand {
    /// What would change: a diff per file and the commands, changing nothing.
    Plan(HostArgs),
    /// Do it. Re-running on an unchanged host changes nothing.
    Apply(HostArgs),
    /// Put back the files the last apply replaced (and remove the ones it created).
    Rollback(HostArgs),
    /// Each baseline item: ok, missing, drifted, refused or unavailable.
    Status(HostArgs),
}

#[derive(Args)]
struct HostArgs {
    /// Prefix for every host path (a directory for tests, a laptop or an image build).
    #[arg(long, value_name = "DIR", default_value = "/")]
    root: PathBuf,
    /// Replace an operator-set daemon.json KEY with berth's value (or `ssh-root-login`).
    #[arg(long, value_name = "KEY")]
    force: Vec<String>,
    /// Allow SSH only from these networks (CIDR); the plan refuses to drop your own.
    #[arg(long, value_name = "CIDR", num_args = 1..)]
    ssh_allow: Vec<String>,
    /// Directory of rendered apps (subdirectories with berth.json): their nginx sites and
    /// public ports.
    #[arg(long, value_name = "DIR")]
    apps: Vec<PathBuf>,
    /// Restart Docker after changing daemon.json.
    #[arg(long)]
    restart_docker: bool,
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
}

#[derive(Args)]
struct AuditArgs {
    /// Compose files or directories to audit (default: the current directory, unless only
    /// --daemon-config is given).
    paths: Vec<PathBuf>,
    /// A compose file merged onto the given one, in order (repeatable).
    #[arg(short = 'f', long = "file", value_name = "FILE")]
    files: Vec<PathBuf>,
    /// Read variables from this file instead of the project's .env.
    #[arg(long, value_name = "FILE")]
    env_file: Option<PathBuf>,
    /// Also audit a Docker daemon configuration (usually /etc/docker/daemon.json).
    #[arg(long, value_name = "FILE")]
    daemon_config: Option<PathBuf>,
    /// Suppression file: `suppress: [{rule, service?, path?, reason}]`.
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    #[arg(long, value_enum, default_value_t = ReportFormat::Text)]
    format: ReportFormat,
    /// Write the report to FILE instead of standard output.
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,
    /// Exit 1 when a finding at or above this severity is not suppressed.
    #[arg(long, value_enum, default_value_t = Severity::High)]
    fail_on: Severity,
    /// Explain every finding (why and fix), and list suppressed ones.
    #[arg(short, long)]
    verbose: bool,
    /// No progress bar.
    #[arg(short, long)]
    quiet: bool,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum ReportFormat {
    Text,
    Json,
    Sarif,
    Html,
}

#[derive(Args)]
struct RulesArgs {
    #[command(subcommand)]
    command: Option<RulesCommand>,
    #[arg(long, value_enum, default_value_t = RulesFormat::Text)]
    format: RulesFormat,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum RulesFormat {
    Text,
    Json,
    /// The rule reference page (docs/rules.md).
    Markdown,
}

#[derive(Subcommand)]
enum RulesCommand {
    /// Everything about one rule: why it matters, how to fix it, references.
    Show {
        id: String,
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
    },
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

// The audit allocates and frees millions of small strings and nodes; mimalloc does that
// markedly faster than glibc's allocator (measured: benches/compare.sh).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    // Like every Unix filter: when the reader goes away (`berth audit | head`), stop quietly
    // instead of failing on the next write. Rust ignores SIGPIPE by default.
    // SAFETY: restoring a signal's default disposition before any thread starts.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    let cli = Cli::parse();
    let code = match run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e}");
            e.exit_code()
        }
    };
    ExitCode::from(u8::try_from(code).unwrap_or(1))
}

fn load_catalog(dir: Option<&PathBuf>) -> Result<Catalog> {
    match dir {
        Some(dir) => Catalog::load_dir(dir),
        None => Catalog::builtin(),
    }
}

fn run(cli: Cli) -> Result<i32> {
    match cli.command {
        Command::Catalog(CatalogCommand::List { format }) => {
            catalog_list(&load_catalog(cli.catalog.as_ref())?, format);
        }
        Command::Catalog(CatalogCommand::Show { app, format }) => {
            let catalog = load_catalog(cli.catalog.as_ref())?;
            catalog_show(catalog.get(&app)?, format);
        }
        Command::Render(args) => {
            let catalog = load_catalog(cli.catalog.as_ref())?;
            let outcome = render_cmd(catalog.get(&args.app)?, &args)?;
            print_render(&outcome, args.format);
        }
        Command::Audit(args) => return audit_cmd(args),
        Command::Rules(args) => rules_cmd(args)?,
        Command::Host(cmd) => return host_cmd(cmd),
        Command::Deploy(args) => {
            let catalog = load_catalog(cli.catalog.as_ref())?;
            return deploy_cmd(catalog.get(&args.app)?, &args);
        }
        Command::Ls(args) => {
            let state_dir = args
                .state_dir
                .clone()
                .unwrap_or_else(berth::ops::deploy::default_state_dir);
            let apps = berth::ops::deploy::list(&state_dir)?;
            if args.format == Format::Json {
                print_json(&apps);
            } else {
                for listed in &apps {
                    let a = &listed.app;
                    let port = a.port.map_or("-".to_string(), |p| format!("127.0.0.1:{p}"));
                    println!(
                        "{:<20} {:<12} uid {:<6} {:<16} {}",
                        a.name, a.app, a.uid_base, port, a.status
                    );
                    for (service, uid, image, ports) in &listed.services {
                        println!("    {service:<16} uid {uid:<6} {image}  {ports}");
                    }
                }
                if apps.is_empty() {
                    println!("no apps deployed (state in {})", state_dir.display());
                }
            }
        }
        Command::Verify(args) => {
            let state_dir = args
                .state
                .state_dir
                .clone()
                .unwrap_or_else(berth::ops::deploy::default_state_dir);
            let app = berth::ops::deploy::list(&state_dir)?
                .into_iter()
                .map(|l| l.app)
                .find(|a| a.name == args.name)
                .ok_or_else(|| {
                    Error::input(format!(
                        "no app named {:?}; `berth ls` lists them",
                        args.name
                    ))
                })?;
            let verified = berth::ops::verify::verify(&app.name, std::path::Path::new(&app.dir))?;
            if args.state.format == Format::Json {
                print_json(&verified);
            } else {
                for d in &verified.differences {
                    println!(
                        "{} {} {}: {} declared {}, actual {}",
                        d.service, d.container, d.layer, d.field, d.declared, d.actual
                    );
                }
                for u in &verified.unchecked {
                    println!("not checked: {u}");
                }
                println!(
                    "{} container(s), {} difference(s)",
                    verified.containers,
                    verified.differences.len()
                );
            }
            return Ok(
                if verified.differences.is_empty() && verified.containers > 0 {
                    0
                } else {
                    1
                },
            );
        }
        Command::Remove(args) => {
            let state_dir = args
                .state
                .state_dir
                .clone()
                .unwrap_or_else(berth::ops::deploy::default_state_dir);
            let row = berth::ops::deploy::remove(&state_dir, &args.name, args.purge, now())?;
            println!(
                "removed {}{}",
                row.name,
                if args.purge {
                    " and purged its data, users and allocations"
                } else {
                    " (data kept)"
                }
            );
        }
    }
    Ok(0)
}

/// Seconds since the epoch: the one clock the commands read (backup stamps, state times).
fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

fn deploy_cmd(template: &Template, args: &DeployArgs) -> Result<i32> {
    use std::io::IsTerminal;
    let bar = if std::io::stderr().is_terminal() {
        let bar = indicatif::ProgressBar::new_spinner();
        bar.enable_steady_tick(std::time::Duration::from_millis(120));
        bar
    } else {
        indicatif::ProgressBar::hidden()
    };
    let step = |s: &str| bar.set_message(format!("{}: {s}", args.name));
    let request = berth::ops::deploy::DeployRequest {
        template,
        name: args.name.clone(),
        domain: args.domain.clone(),
        settings: parse_settings(&args.set)?,
        state_dir: args
            .state
            .state_dir
            .clone()
            .unwrap_or_else(berth::ops::deploy::default_state_dir),
        seed: secret_seed(None)?,
        now: now(),
        timeout: std::time::Duration::from_secs(args.timeout),
        host_root: args.host_root.clone(),
        step: &step,
    };
    let result = berth::ops::deploy::deploy(&request);
    bar.finish_and_clear();
    let deployed = match result {
        Ok(d) => d,
        Err(e) => {
            eprintln!("error: deploy of {} failed: {e}", args.name);
            return Ok(1);
        }
    };
    if args.state.format == Format::Json {
        print_json(&deployed);
    } else {
        println!(
            "{} ({}) in {}: uid {}, port {}",
            deployed.app.name,
            deployed.app.app,
            deployed.dir.display(),
            deployed.app.uid_base,
            deployed
                .app
                .port
                .map_or("-".to_string(), |p| format!("127.0.0.1:{p}"))
        );
        for d in &deployed.differences {
            println!(
                "  {} {}: {} declared {}, actual {}",
                d.service, d.layer, d.field, d.declared, d.actual
            );
        }
        for u in &deployed.unchecked {
            println!("  not checked: {u}");
        }
        for a in &deployed.host {
            for (path, change) in &a.files {
                if *change != berth::fsx::Change::Unchanged {
                    println!("  {:<16} {change:?} /{path}", a.item);
                }
            }
            for c in &a.commands {
                println!("  {:<16} $ {}  -> {}", a.item, c.argv.join(" "), c.outcome);
            }
        }
        println!("{}", deployed.app.status);
    }
    Ok(if deployed.differences.is_empty() {
        0
    } else {
        1
    })
}

fn host_options(args: &HostArgs) -> berth::ops::host::Options {
    berth::ops::host::Options {
        root: args.root.clone(),
        force: args.force.clone(),
        ssh_allow: args.ssh_allow.clone(),
        apps: args.apps.clone(),
        restart_docker: args.restart_docker,
        only: Vec::new(),
        stamp: now().to_string(),
    }
}

fn print_items(items: &[berth::host::baseline::Item], diffs: bool) {
    for item in items {
        println!(
            "{:<20} {:<11} {}",
            item.name,
            format!("{:?}", item.status).to_lowercase(),
            item.summary
        );
        if diffs {
            for f in &item.files {
                let old = f.old.as_deref().unwrap_or("");
                let diff = similar::TextDiff::from_lines(old, &f.new);
                let label = format!("/{}", f.path);
                print!(
                    "{}",
                    diff.unified_diff()
                        .header(if f.old.is_some() { &label } else { "/dev/null" }, &label)
                );
            }
            for c in &item.commands {
                let tag = match &c.missing_tool {
                    Some(t) => format!(" (missing: {t})"),
                    None => String::new(),
                };
                println!("    $ {}{tag}    # {}", c.argv.join(" "), c.why);
            }
        }
        for n in &item.notes {
            println!("    note: {n}");
        }
    }
}

fn host_cmd(cmd: HostCommand) -> Result<i32> {
    use berth::ops::host;
    match cmd {
        HostCommand::Plan(args) => {
            let (inputs, items) = host::plan(&host_options(&args))?;
            if args.format == Format::Json {
                print_json(&items);
            } else {
                print_items(&items, true);
                if !inputs.live {
                    println!(
                        "\nroot is {}: commands are listed, never run",
                        args.root.display()
                    );
                }
            }
        }
        HostCommand::Status(args) => {
            let (_, items) = host::plan(&host_options(&args))?;
            if args.format == Format::Json {
                let status: Vec<_> = items
                    .iter()
                    .map(|i| serde_json::json!({"item": i.name, "status": i.status, "summary": i.summary, "notes": i.notes}))
                    .collect();
                print_json(&status);
            } else {
                print_items(&items, false);
            }
            let all_ok = items.iter().all(|i| {
                matches!(
                    i.status,
                    berth::host::baseline::Status::Ok | berth::host::baseline::Status::Unavailable
                )
            });
            return Ok(if all_ok { 0 } else { 1 });
        }
        HostCommand::Apply(args) => {
            let (items, applied, backup) = host::apply(&host_options(&args))?;
            if args.format == Format::Json {
                print_json(
                    &serde_json::json!({"applied": applied, "backup": backup, "items": items}),
                );
            } else {
                let mut changed = 0;
                for a in &applied {
                    for (path, change) in &a.files {
                        if *change != berth::fsx::Change::Unchanged {
                            changed += 1;
                            println!("{:<20} {:?} /{path}", a.item, change);
                        }
                    }
                    for c in &a.commands {
                        println!("{:<20} $ {}  -> {}", a.item, c.argv.join(" "), c.outcome);
                    }
                }
                for i in items
                    .iter()
                    .filter(|i| i.status == berth::host::baseline::Status::Refused)
                {
                    println!("{:<20} {}", i.name, i.summary);
                }
                match backup {
                    Some(dir) => {
                        println!("{changed} file(s) changed; backups in {}", dir.display())
                    }
                    None => println!("nothing changed"),
                }
            }
        }
        HostCommand::Rollback(args) => match host::rollback(&host_options(&args))? {
            Some((dir, files)) => {
                for f in &files {
                    println!("restored /{f}");
                }
                println!("rolled back {}", dir.display());
            }
            None => println!("no backup set to roll back"),
        },
    }
    Ok(0)
}

fn audit_cmd(args: AuditArgs) -> Result<i32> {
    use std::io::IsTerminal;
    let mut paths = args.paths;
    if paths.is_empty() && args.files.is_empty() && args.daemon_config.is_none() {
        paths.push(PathBuf::from("."));
    }
    let request = berth::ops::audit::Request {
        paths,
        files: args.files,
        env_file: args.env_file,
        daemon_config: args.daemon_config,
        config: args.config,
        progress: !args.quiet && std::io::stderr().is_terminal(),
    };
    let report = berth::ops::audit::run(&request)?;
    let color = args.out.is_none()
        && anstream::AutoStream::choice(&std::io::stdout()) != anstream::ColorChoice::Never;
    if args.format == ReportFormat::Text && args.out.is_none() {
        // Streamed: a report of hundreds of thousands of findings is never held twice.
        use std::io::Write;
        let stdout = std::io::stdout();
        let mut sink = std::io::BufWriter::with_capacity(1 << 20, stdout.lock());
        let _ = berth::report::text::write(&mut sink, &report, args.verbose, color);
        let _ = sink.flush();
        let code = report.exit_code(args.fail_on);
        std::mem::forget(report);
        return Ok(code);
    }
    let text = match args.format {
        ReportFormat::Text => berth::report::text::render(&report, args.verbose, color),
        ReportFormat::Json => berth::report::json::render(&report),
        ReportFormat::Sarif => berth::report::sarif::render(&report),
        ReportFormat::Html => berth::report::html::render(&report),
    };
    match &args.out {
        Some(path) => {
            write_report(path, &text)?;
            eprintln!("{}", report.summary());
        }
        None => {
            use std::io::Write;
            // Styles were only added if anstream said this stdout takes colour.
            let _ = std::io::stdout().lock().write_all(text.as_bytes());
        }
    }
    let code = report.exit_code(args.fail_on);
    // The process ends here: freeing a large report item by item would only add time.
    std::mem::forget(report);
    Ok(code)
}

fn write_report(path: &std::path::Path, text: &str) -> Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    if !dir.is_dir() {
        return Err(Error::input(format!(
            "--out {}: the directory {} does not exist",
            path.display(),
            dir.display()
        )));
    }
    let stamp = now().to_string();
    let mut backups = berth::fsx::Backups::new(&dir, &dir.join(".berth/backup"), &stamp);
    berth::fsx::write_file(path, text.as_bytes(), 0o644, &mut backups)?;
    Ok(())
}

fn rules_cmd(args: RulesArgs) -> Result<()> {
    match args.command {
        None => {
            match args.format {
                RulesFormat::Json => {
                    print_json(&rules::all());
                    return Ok(());
                }
                RulesFormat::Markdown => {
                    print!("{}", rules::markdown());
                    return Ok(());
                }
                RulesFormat::Text => {}
            }
            for r in rules::all() {
                println!(
                    "{:<28} {:<8} {:<7} {}",
                    r.id,
                    r.severity.as_str(),
                    r.target(),
                    r.title
                );
            }
            println!(
                "\n{} rules; `berth rules show ID` explains one.",
                rules::all().len()
            );
        }
        Some(RulesCommand::Show { id, format }) => {
            let rule = rules::get(&id).ok_or_else(|| {
                Error::input(format!(
                    "unknown rule {:?}; `berth rules` lists them",
                    berth::validate::printable(&id)
                ))
            })?;
            if format == Format::Json {
                print_json(rule);
            } else {
                print_rule(rule);
            }
        }
    }
    Ok(())
}

fn print_rule(r: &Rule) {
    println!("{} ({}, {})\n", r.id, r.severity.as_str(), r.target());
    println!("{}\n", r.title);
    println!("Why: {}\n", r.why);
    println!("Fix: {}\n", r.fix);
    for (name, ids) in r.refs.named() {
        if !ids.is_empty() {
            println!("{name}: {}", ids.join(", "));
        }
    }
    println!(
        "\nSuppress one finding: # berth: allow {} -- <reason>",
        r.id
    );
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
    let stamp = now().to_string();
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
        let ports: Vec<String> = svc.ports.iter().map(ToString::to_string).collect();
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
