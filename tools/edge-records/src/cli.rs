//! The command line of `edge-records`.

use super::app::AppCmd;
use super::error::{Exit, OpsError, Result, EXIT_CODES_HELP};
use super::export::{CheckArgs, ExportArgs};
use super::jti::JtiCmd;
use super::policy_info::PolicyInfo;
use super::sensedia::SensediaArgs;
use super::store::{Store, Wrangler};
use super::token::TokenCmd;
use super::Ctx;
use clap::{Args, Parser, Subcommand};
use std::io::{BufRead, IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

const ABOUT: &str = "Manage the gateway's records (apps, access tokens, keys, JWT issuer keys and revocations) in local or deployed Workers KV, through wrangler.";

const AFTER: &str = "Targets: --local (the default: the KV of `wrangler dev`, the demo and the tests, in .wrangler/state or --persist-to) or --remote (deployed KV, with your wrangler login). Secrets and tokens are read from standard input, never from arguments.";

#[derive(Debug, Parser)]
#[command(name = "edge-records", version, about = ABOUT, after_help = format!("{AFTER}\n\n{EXIT_CODES_HELP}"))]
pub struct Cli {
    #[command(flatten)]
    pub target: TargetArgs,
    #[command(subcommand)]
    pub cmd: Cmd,
}

#[derive(Debug, Args)]
#[command(next_help_heading = "Target")]
pub struct TargetArgs {
    /// Local KV (the default): what `wrangler dev`, the demo and the tests read.
    #[arg(long, global = true, conflicts_with = "remote")]
    pub local: bool,
    /// Deployed KV (uses your wrangler login).
    #[arg(long, global = true)]
    pub remote: bool,
    /// Local KV folder (as `wrangler dev --persist-to`); default .wrangler/state next to the config.
    #[arg(long, global = true, value_name = "DIR", conflicts_with = "remote")]
    pub persist_to: Option<PathBuf>,
    /// The wrangler configuration: KV binding, namespace ids and the policy (cache TTLs, API names).
    #[arg(
        long,
        short = 'c',
        global = true,
        value_name = "FILE",
        default_value = "wrangler.toml"
    )]
    pub config: PathBuf,
    /// A wrangler environment ([env.<name>] in the configuration).
    #[arg(long, short = 'e', global = true, value_name = "NAME")]
    pub env: Option<String>,
    /// The KV binding holding the records.
    #[arg(long, global = true, default_value = "RECORDS")]
    pub binding: String,
    /// How to run wrangler (default: node_modules/.bin/wrangler, else `npx --no-install wrangler`).
    #[arg(
        long,
        global = true,
        value_name = "COMMAND",
        env = "EDGE_RECORDS_WRANGLER"
    )]
    pub wrangler: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum Cmd {
    /// Apps: create, show, list, status, revoke / reinstate, expiry, grants, extra info, keys.
    #[command(subcommand)]
    App(AppCmd),
    /// Access tokens: issue, import, revoke, show, list.
    #[command(subcommand)]
    Token(TokenCmd),
    /// JWT issuer keys (the jwt-issuer:<issuer> records): add, remove, list, show; rotation.
    #[command(subcommand)]
    Issuer(super::issuer::IssuerCmd),
    /// JWT revocations by issuer and jti.
    #[command(subcommand)]
    Jti(JtiCmd),
    /// Import records from another gateway.
    #[command(subcommand)]
    Import(ImportCmd),
    /// Write every record to a file (backup, review), in `wrangler kv bulk put` format.
    Export(ExportArgs),
    /// Check that every record parses under the Worker's own types; list malformed ones.
    Check(CheckArgs),
}

#[derive(Debug, Subcommand)]
pub enum ImportCmd {
    /// Apps and access tokens from a Sensedia API Manager export (Manager API v3 JSON).
    Sensedia(SensediaArgs),
}

/// Runs a parsed command.
pub fn run(ctx: &mut Ctx, cmd: Cmd) -> Result<()> {
    match cmd {
        Cmd::App(c) => super::app::run(ctx, c),
        Cmd::Token(c) => super::token::run(ctx, c),
        Cmd::Issuer(c) => super::issuer::run(ctx, c),
        Cmd::Jti(c) => super::jti::run(ctx, c),
        Cmd::Import(ImportCmd::Sensedia(a)) => super::sensedia::run(ctx, a),
        Cmd::Export(a) => super::export::export(ctx, a),
        Cmd::Check(a) => super::export::check(ctx, a),
    }
}

/// Asks on the terminal (/dev/tty, so standard input can carry tokens).
fn confirm_on_tty(question: &str) -> Result<bool> {
    let tty = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/tty");
    let Ok(mut tty) = tty else {
        return Err(OpsError::new(
            Exit::NotConfirmed,
            format!("{question} — no terminal to ask; pass --yes to confirm"),
        ));
    };
    write!(tty, "{question} [y/N] ")?;
    tty.flush()?;
    let mut answer = String::new();
    std::io::BufReader::new(tty).read_line(&mut answer)?;
    Ok(matches!(
        answer.trim().to_ascii_lowercase().as_str(),
        "y" | "yes"
    ))
}

/// The binary's entry point.
pub fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { Exit::Usage as u8 } else { 0 });
        }
    };
    let t = &cli.target;
    let config = t.config.clone();
    let have_config = config.is_file();
    let mut store = Wrangler {
        program: Wrangler::resolve_program(t.wrangler.as_deref(), Some(&config)),
        config: have_config.then(|| config.clone()),
        env: t.env.clone(),
        binding: t.binding.clone(),
        remote: t.remote,
        persist_to: t.persist_to.clone(),
        local_list_page: super::store::LOCAL_LIST_PAGE,
    };
    let policy = PolicyInfo::load(&config, t.env.as_deref());
    let stdin = std::io::stdin();
    let stdin_is_tty = stdin.is_terminal();
    let mut stdin = stdin.lock();
    let mut out = std::io::stdout().lock();
    let mut err = std::io::stderr();
    let mut confirm = confirm_on_tty;
    if let Some(w) = &policy.warning {
        let _ = writeln!(err, "warning: {w}");
    }
    let mut ctx = Ctx {
        store: &mut store as &mut dyn Store,
        policy,
        now: super::util::now(),
        stdin: &mut stdin,
        stdin_is_tty,
        out: &mut out,
        err: &mut err,
        confirm: &mut confirm,
        clock: Some(super::util::now),
    };
    match run(&mut ctx, cli.cmd) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            let _ = ctx.out.flush();
            let _ = writeln!(ctx.err, "edge-records: error: {}", e.message);
            ExitCode::from(e.exit as u8)
        }
    }
}
