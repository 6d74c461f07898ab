//! `flick bench NAME`: a cold-start lab for any function, whatever its
//! runtime, measured black-box through the Invoke API.
//!
//! Each cold sample retires the function's sandboxes (the host's
//! `/_flick/` recycle call) and invokes it once with the log tail; each
//! warm sample invokes a warm sandbox. A sample is the client's total time
//! and the host's phases from `Server-Timing`, the REPORT line, and the
//! startup trace of functions built with Flick's SDK. The host is started
//! for the run from a manifest (`--config`, the default) or is one already
//! running (`--endpoint`).
//!
//! Owns the flags, the run's course and its exit codes. The parts:
//! [`embedded`] (the host it starts), [`schedule`] (the order of samples),
//! [`recycle`] and [`invocation`] (one cold start, one invocation),
//! [`server_timing`] and [`log_tail`] (reading answers), [`phase`],
//! [`stats`] and [`results`] (what the numbers mean and add up to),
//! [`render`] (the terminal table, the JSON document, the HTML report).

mod embedded;
mod error;
mod invocation;
mod log_tail;
mod phase;
mod recycle;
mod render;
mod results;
mod sample;
mod schedule;
mod server_timing;
mod stats;

use std::path::PathBuf;
use std::process::ExitCode;

use bytes::Bytes;

use self::embedded::EmbeddedHost;
use self::error::BenchError;
use self::results::{FunctionResult, HostMemory, Mode, Results};
use self::schedule::Plan;
use crate::host_client::HostClient;

#[derive(clap::Args)]
pub struct BenchArgs {
    /// The function to measure.
    name: String,
    /// The manifest of a host to start for the run (`flick serve --no-build`
    /// on a free loopback port; build the functions first).
    #[arg(long, default_value = "flick.toml", conflicts_with = "endpoint")]
    config: PathBuf,
    /// Measure the host already running at this address instead.
    #[arg(long, value_name = "URL")]
    endpoint: Option<String>,
    /// Cold starts to measure.
    #[arg(long, value_name = "N", default_value_t = 20)]
    cold: usize,
    /// Warm invocations to measure, after one warm-up.
    #[arg(long, value_name = "M", default_value_t = 100)]
    warm: usize,
    /// The event, as JSON.
    #[arg(long, value_name = "JSON", default_value = "{}")]
    payload: String,
    /// Print one JSON document (every sample, the statistics) instead of tables.
    #[arg(long)]
    json: bool,
    /// Also write a self-contained HTML report, with charts, to this file.
    #[arg(long, value_name = "FILE")]
    html: Option<PathBuf>,
    /// Measure this function too, alternately, and show the ratios OTHER/NAME.
    #[arg(long, value_name = "OTHER")]
    compare: Option<String>,
}

impl BenchArgs {
    /// The function, and the one it is compared with.
    fn names(&self) -> Vec<String> {
        std::iter::once(&self.name)
            .chain(&self.compare)
            .cloned()
            .collect()
    }
}

pub async fn run(args: BenchArgs) -> ExitCode {
    match bench(&args).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("flick bench: {e}");
            ExitCode::from(e.exit_code())
        }
    }
}

async fn bench(args: &BenchArgs) -> Result<(), BenchError> {
    let plan = plan(args)?;
    let Some(endpoint) = &args.endpoint else {
        return bench_embedded(args, &plan).await;
    };
    let client = HostClient::new(endpoint);
    let samples = schedule::run(&client, &plan).await?;
    report(
        args,
        Mode::Endpoint,
        client.endpoint().into(),
        samples,
        None,
    )
}

/// Starts a host, measures, and stops the host whatever the measuring did.
async fn bench_embedded(args: &BenchArgs, plan: &Plan) -> Result<(), BenchError> {
    let host = EmbeddedHost::start(&args.config).await?;
    let endpoint = host.endpoint().to_string();
    let measured = schedule::run(&HostClient::new(&endpoint), plan).await;
    let memory = host.memory();
    let stopped = host.stop().await;
    let mode = Mode::Embedded {
        config: args.config.display().to_string(),
    };
    report(args, mode, endpoint, measured?, memory)?;
    stopped
}

/// The flags checked and turned into what to measure.
fn plan(args: &BenchArgs) -> Result<Plan, BenchError> {
    if args.cold == 0 && args.warm == 0 {
        return Err(BenchError::Usage(
            "--cold 0 --warm 0 measures nothing: give --cold or --warm a count above 0".into(),
        ));
    }
    if let Some(url) = &args.endpoint {
        let uri = url.parse::<hyper::Uri>().ok();
        if uri.as_ref().and_then(|u| u.scheme_str()) != Some("http") {
            return Err(BenchError::Usage(format!(
                "--endpoint must be an http:// URL such as http://127.0.0.1:9000, not {url}"
            )));
        }
    }
    if let Err(e) = serde_json::from_str::<serde_json::Value>(&args.payload) {
        return Err(BenchError::Usage(format!(
            "--payload is not JSON ({e}): {}",
            args.payload
        )));
    }
    Ok(Plan {
        names: args.names(),
        cold: args.cold,
        warm: args.warm,
        payload: Bytes::from(args.payload.clone()),
    })
}

/// Summarises the samples and shows them as asked.
fn report(
    args: &BenchArgs,
    mode: Mode,
    endpoint: String,
    measured: Vec<schedule::Measured>,
    host_memory: Option<HostMemory>,
) -> Result<(), BenchError> {
    let functions = args
        .names()
        .into_iter()
        .zip(measured)
        .map(|(name, measured)| FunctionResult::new(name, measured))
        .collect();
    let results = Results {
        mode,
        endpoint,
        payload: args.payload.clone(),
        cold: args.cold,
        warm: args.warm,
        functions,
        host_memory,
    };
    if let Some(path) = &args.html {
        std::fs::write(path, render::html::page(&results)).map_err(|e| {
            BenchError::Usage(format!("--html: cannot write {}: {e}", path.display()))
        })?;
    }
    match args.json {
        true => println!("{:#}", render::json::document(&results)),
        false => print!("{}", render::terminal::tables(&results)),
    }
    Ok(())
}
