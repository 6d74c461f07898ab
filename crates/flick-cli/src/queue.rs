//! `flick queue`: the durable queue of `Event` invocations, seen and
//! repaired from the command line. Opens the queue database directly (the
//! file in the manifest's `state_dir`, or its `server.store` PostgreSQL
//! database), so it works whether or not hosts are running on it; the work
//! is in `flick_host::queue::admin`.

use std::path::PathBuf;
use std::process::ExitCode;

#[derive(clap::Args)]
pub struct QueueArgs {
    /// The manifest whose `state_dir` holds the queue.
    #[arg(long, default_value = "flick.toml")]
    config: PathBuf,
    #[command(subcommand)]
    command: QueueCommand,
}

#[derive(clap::Subcommand)]
enum QueueCommand {
    /// Per function: events waiting, in flight, and dead-lettered.
    List,
    /// The dead-lettered events of a function, with their invocation records.
    ShowDlq { function: String },
    /// Queue a function's dead-lettered events again (all, or the one ID).
    Redrive {
        function: String,
        id: Option<String>,
    },
}

pub fn run(args: QueueArgs) -> ExitCode {
    let manifest = match crate::load_manifest(&args.config) {
        Ok(m) => m,
        Err(code) => return code,
    };
    let result =
        flick_host::queue::admin::open(&manifest.server).and_then(|mut admin| match args.command {
            QueueCommand::List => {
                println!(
                    "{:<24} {:>10} {:>10} {:>12}",
                    "FUNCTION", "PENDING", "IN_FLIGHT", "DEAD_LETTERS"
                );
                for d in admin.depths()? {
                    println!(
                        "{:<24} {:>10} {:>10} {:>12}",
                        d.function, d.pending, d.in_flight, d.dead_letters
                    );
                }
                Ok(())
            }
            QueueCommand::ShowDlq { function } => {
                for d in admin.dead_letters(&function)? {
                    println!(
                        "{}\t{}\tinvokes={}\tfailed_ms={}\t{}",
                        d.id, d.condition, d.invokes, d.failed_ms, d.record
                    );
                }
                Ok(())
            }
            QueueCommand::Redrive { function, id } => {
                let n = admin.redrive(&function, id.as_deref())?;
                println!("re-driven: {n}");
                if n == 0 && id.is_some() {
                    eprintln!("flick queue: no dead-lettered event with that id for {function}");
                }
                Ok(())
            }
        });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("flick queue: {e}");
            ExitCode::FAILURE
        }
    }
}
