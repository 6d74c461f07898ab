//! `flick invoke`: one synchronous invocation through a running host's Invoke
//! API, printed the way a person wants to read it: the result on stdout, the
//! log tail (when asked) and any error on stderr, and an exit code that says
//! whether the function succeeded.

use std::path::PathBuf;
use std::process::ExitCode;

use base64::Engine;
use bytes::Bytes;
use hyper::Method;

use crate::host_client::HostClient;

#[derive(clap::Args)]
pub struct InvokeArgs {
    /// The function's name (or ARN).
    name: String,
    /// The event, as JSON.
    #[arg(long, conflicts_with = "data_file")]
    data: Option<String>,
    /// A file holding the event.
    #[arg(long)]
    data_file: Option<PathBuf>,
    /// The host's address.
    #[arg(long, env = "FLICK_ENDPOINT", default_value = "http://127.0.0.1:9000")]
    endpoint: String,
    /// Also print the invocation's log (its last 4 KB).
    #[arg(long)]
    log_tail: bool,
}

pub async fn run(args: InvokeArgs) -> ExitCode {
    match call(&args).await {
        Ok(code) => code,
        Err(e) => {
            eprintln!("flick invoke: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn call(args: &InvokeArgs) -> Result<ExitCode, String> {
    let payload = match (&args.data, &args.data_file) {
        (Some(d), _) => Bytes::from(d.clone()),
        (None, Some(f)) => std::fs::read(f)
            .map(Bytes::from)
            .map_err(|e| format!("cannot read {}: {e}", f.display()))?,
        (None, None) => Bytes::from_static(b"{}"),
    };
    let path = format!("/2015-03-31/functions/{}/invocations", args.name);
    let headers: &[(&str, &str)] = match args.log_tail {
        true => &[("x-amz-log-type", "Tail")],
        false => &[],
    };
    let answer = HostClient::new(&args.endpoint)
        .send(Method::POST, &path, headers, payload)
        .await?;
    if let Some(log) = answer.header("x-amz-log-result") {
        let text = base64::engine::general_purpose::STANDARD
            .decode(log)
            .map_err(|e| format!("the host sent a log tail that is not base64: {e}"))?;
        eprint!("{}", String::from_utf8_lossy(&text));
    }
    let body = String::from_utf8_lossy(&answer.body);
    if !answer.status.is_success() {
        let kind = answer.header("x-amzn-errortype").unwrap_or("error");
        let id = answer.header("x-amzn-requestid").unwrap_or("none");
        let status = answer.status;
        return Err(format!("{kind} (HTTP {status}, request id {id}): {body}"));
    }
    println!("{body}");
    Ok(match answer.header("x-amz-function-error") {
        Some(_) => ExitCode::FAILURE,
        None => ExitCode::SUCCESS,
    })
}
