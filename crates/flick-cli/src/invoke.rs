//! `flick invoke`: one synchronous invocation through a running host's Invoke
//! API, printed the way a person wants to read it: the result on stdout, the
//! log tail (when asked) and any error on stderr, and an exit code that says
//! whether the function succeeded.

use std::path::PathBuf;
use std::process::ExitCode;

use base64::Engine;
use bytes::Bytes;
use flick_host::invoke_api::sigv4::{self, SigningKey};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;

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

/// Signs the request as the AWS CLI would, when the environment has keys
/// (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_REGION`): a host with
/// `[server.auth]` refuses unsigned requests.
fn sign(req: &mut hyper::Request<Full<Bytes>>, payload: &[u8]) {
    let (Ok(id), Ok(secret)) = (
        std::env::var("AWS_ACCESS_KEY_ID"),
        std::env::var("AWS_SECRET_ACCESS_KEY"),
    ) else {
        return;
    };
    let region = std::env::var("AWS_REGION")
        .or_else(|_| std::env::var("AWS_DEFAULT_REGION"))
        .unwrap_or_else(|_| "us-east-1".into());
    if let Some(host) = req.uri().authority().map(|a| a.to_string()) {
        if let Ok(v) = host.parse() {
            req.headers_mut().insert("host", v);
        }
    }
    let (method, uri) = (req.method().clone(), req.uri().clone());
    let key = SigningKey {
        access_key_id: &id,
        secret: &secret,
        region: &region,
        service: "lambda",
    };
    let now = std::time::SystemTime::now();
    sigv4::sign(&method, &uri, req.headers_mut(), payload, key, now);
}

async fn call(args: &InvokeArgs) -> Result<ExitCode, String> {
    let payload = match (&args.data, &args.data_file) {
        (Some(d), _) => Bytes::from(d.clone()),
        (None, Some(f)) => std::fs::read(f)
            .map(Bytes::from)
            .map_err(|e| format!("cannot read {}: {e}", f.display()))?,
        (None, None) => Bytes::from_static(b"{}"),
    };
    let uri = format!(
        "{}/2015-03-31/functions/{}/invocations",
        args.endpoint.trim_end_matches('/'),
        args.name
    );
    let mut req = hyper::Request::post(&uri);
    if args.log_tail {
        req = req.header("x-amz-log-type", "Tail");
    }
    let mut req = req
        .body(Full::new(payload.clone()))
        .map_err(|e| format!("bad endpoint or name ({uri}): {e}"))?;
    sign(&mut req, &payload);
    let client = Client::builder(TokioExecutor::new()).build_http();
    let resp = client
        .request(req)
        .await
        .map_err(|e| format!("cannot reach the host at {}: {e}", args.endpoint))?;
    let status = resp.status();
    let header = |name: &str| {
        resp.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    let (function_error, log, error_type, request_id) = (
        header("x-amz-function-error"),
        header("x-amz-log-result"),
        header("x-amzn-errortype"),
        header("x-amzn-requestid"),
    );
    let body = resp
        .into_body()
        .collect()
        .await
        .map_err(|e| format!("reading the answer: {e}"))?
        .to_bytes();
    if let Some(log) = log {
        let text = base64::engine::general_purpose::STANDARD
            .decode(log)
            .map_err(|e| format!("the host sent a log tail that is not base64: {e}"))?;
        eprint!("{}", String::from_utf8_lossy(&text));
    }
    let body = String::from_utf8_lossy(&body);
    if !status.is_success() {
        let kind = error_type.unwrap_or_else(|| "error".to_string());
        let id = request_id.unwrap_or_else(|| "none".to_string());
        return Err(format!("{kind} (HTTP {status}, request id {id}): {body}"));
    }
    println!("{body}");
    Ok(if function_error.is_some() {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}
