//! The `flick` command: `serve` runs the host on a manifest, `invoke` calls a
//! running host, `bench` measures a function's cold and warm starts, `queue`
//! inspects and re-drives its durable queue, `durable` lists and steers its
//! durable executions, `openapi` prints a function's OpenAPI document, and
//! `logs`, `build`, `new` and `package` cover a function's life. Owns
//! argument parsing, exit codes and printing; the work is in `flick-host`
//! and the modules named after each command, and requests to a running host
//! go through [`host_client`].

mod bench;
mod build;
mod durable;
mod host_client;
mod invoke;
mod logs;
mod new;
mod openapi;
mod package;
mod queue;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};
use flick_host::sandbox::ContextError;
use flick_host::{ServeError, ServeOptions};

#[derive(Parser)]
#[command(
    name = "flick",
    version,
    about = "Run AWS Lambda functions locally, with Lambda's semantics"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the functions of a manifest: the Lambda Invoke API on `server.listen`.
    Serve {
        /// The manifest.
        #[arg(long, default_value = "flick.toml")]
        config: PathBuf,
        /// Address to listen on, instead of the manifest's `server.listen`.
        #[arg(long)]
        listen: Option<SocketAddr>,
        /// Seconds that invocations under way may run on after SIGTERM or Ctrl-C.
        #[arg(long, default_value_t = 10)]
        grace: u64,
        /// Do not run the manifest's build commands.
        #[arg(long)]
        no_build: bool,
        /// Serve an address other machines can reach without access keys.
        #[arg(long)]
        insecure: bool,
        /// Keep logs and the queue here instead of the manifest's `server.state_dir`.
        #[arg(long, value_name = "DIR")]
        state_dir: Option<PathBuf>,
        /// Rebuild a function when its sources change and serve the new build.
        #[arg(long)]
        watch: bool,
    },
    /// Invoke a function on a running host and print its result.
    Invoke(invoke::InvokeArgs),
    /// Measure a function's cold starts and warm invocations, phase by phase.
    Bench(bench::BenchArgs),
    /// The durable queue of Event invocations: list, show-dlq, redrive.
    Queue(queue::QueueArgs),
    /// Durable executions on a running host: list, show, history, stop, callback.
    Durable(durable::DurableArgs),
    /// Print the OpenAPI document of a function built with `flick::http::openapi`.
    Openapi(openapi::OpenApiArgs),
    /// Print a function's log (`--follow`, `--since 10m`, `--request-id ID`).
    Logs(logs::LogsArgs),
    /// Build functions as Lambda wants them: target/flick/NAME/ and NAME.zip, with a size report.
    Build(build::BuildArgs),
    /// Create a function from a template and add it to the manifest.
    New(new::NewArgs),
    /// Write the AWS SAM template of the manifest's functions (built by `flick build`).
    Package(package::PackageArgs),
    /// Started by `serve` itself: kills what is left of its sandboxes when it exits.
    #[command(name = flick_host::watchdog::SUBCOMMAND, hide = true)]
    Watchdog { cgroup: Option<PathBuf> },
}

/// The manifest a command works on; a bad one is said on stderr and ends
/// the command with exit code 2, as `flick serve` does.
fn load_manifest(path: &std::path::Path) -> Result<flick_host::manifest::Manifest, ExitCode> {
    flick_host::manifest::Manifest::load(path).map_err(|e| {
        eprintln!("flick: {e}");
        ExitCode::from(2)
    })
}

fn main() -> ExitCode {
    // A sandbox shell becomes a function's runtime: it must start small and
    // fast, before any argument parsing.
    if std::env::args_os().nth(1).as_deref()
        == Some(flick_host::sandbox::shell::SUBCOMMAND.as_ref())
    {
        flick_host::sandbox::shell::inside::run();
    }
    let cli = Cli::parse();
    let command = match cli.command {
        Command::Watchdog { cgroup } => {
            flick_host::watchdog::run(cgroup);
            return ExitCode::SUCCESS;
        }
        Command::Queue(args) => return queue::run(args),
        Command::Openapi(args) => return openapi::run(args),
        Command::Logs(args) => return logs::run(args),
        Command::Build(args) => return build::run(args),
        Command::New(args) => return new::run(args),
        Command::Package(args) => return package::run(args),
        other => other,
    };
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("FLICK_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        // Colours for a person at a terminal, not escape codes in a log file.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_target(false)
        .init();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("flick: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match command {
        Command::Serve {
            config,
            listen,
            grace,
            no_build,
            insecure,
            state_dir,
            watch,
        } => {
            let options = ServeOptions {
                config,
                listen,
                grace: Duration::from_secs(grace),
                skip_build: no_build,
                insecure,
                state_dir,
                watch,
            };
            match runtime.block_on(flick_host::serve(options)) {
                Ok(()) => ExitCode::SUCCESS,
                Err(
                    e @ (ServeError::Manifest(_)
                    | ServeError::Insecure { .. }
                    | ServeError::AuthKeys(_)
                    | ServeError::Store { .. }
                    | ServeError::Layers(_)
                    | ServeError::Sandboxes(ContextError::Unsupported(_))),
                ) => {
                    eprintln!("flick: {e}");
                    ExitCode::from(2)
                }
                Err(e) => {
                    eprintln!("flick: {e}");
                    ExitCode::FAILURE
                }
            }
        }
        Command::Invoke(args) => runtime.block_on(invoke::run(args)),
        Command::Durable(args) => runtime.block_on(durable::run(args)),
        Command::Bench(args) => runtime.block_on(bench::run(args)),
        Command::Watchdog { .. }
        | Command::Queue(_)
        | Command::Openapi(_)
        | Command::Logs(_)
        | Command::Build(_)
        | Command::New(_)
        | Command::Package(_) => {
            unreachable!("handled before the runtime starts")
        }
    }
}
