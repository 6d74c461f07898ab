//! `flick durable`: the durable executions of a running host, through its
//! Lambda API (the same operations boto3 and the AWS CLI call): list a
//! function's executions, show one, print its history, stop it, and
//! complete, fail or heartbeat a callback. Tables for a person by default,
//! the API's JSON with `--json`.

use std::process::ExitCode;

use bytes::Bytes;
use hyper::Method;
use percent_encoding::{utf8_percent_encode, NON_ALPHANUMERIC};
use serde_json::{json, Value};

use crate::host_client::HostClient;

#[derive(clap::Args)]
pub struct DurableArgs {
    #[command(subcommand)]
    command: DurableCommand,
    /// The host's address.
    #[arg(
        long,
        global = true,
        env = "FLICK_ENDPOINT",
        default_value = "http://127.0.0.1:9000"
    )]
    endpoint: String,
    /// Print the API's JSON instead of a table.
    #[arg(long, global = true)]
    json: bool,
}

#[derive(clap::Subcommand)]
enum DurableCommand {
    /// A function's executions, newest first.
    List {
        function: String,
        /// Only executions in this status (RUNNING, SUCCEEDED, FAILED, TIMED_OUT, STOPPED); repeatable.
        #[arg(long = "status")]
        statuses: Vec<String>,
    },
    /// One execution: status, input, result or error.
    Show { arn: String },
    /// An execution's history, event by event.
    History { arn: String },
    /// Stops a running execution.
    Stop {
        arn: String,
        /// The error the execution ends with.
        #[arg(long, default_value = "Execution stopped by user request")]
        message: String,
        #[arg(long)]
        error_type: Option<String>,
    },
    /// Completes (`--succeed RESULT`), fails (`--fail MESSAGE`) or heartbeats a callback.
    Callback {
        callback_id: String,
        #[arg(long, group = "outcome")]
        succeed: Option<String>,
        #[arg(long, group = "outcome")]
        fail: Option<String>,
        #[arg(long, group = "outcome")]
        heartbeat: bool,
        /// The failure's error type.
        #[arg(long, requires = "fail")]
        error_type: Option<String>,
    },
}

pub async fn run(args: DurableArgs) -> ExitCode {
    match call(&args).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("flick durable: {e}");
            ExitCode::FAILURE
        }
    }
}

fn encode(segment: &str) -> String {
    utf8_percent_encode(segment, NON_ALPHANUMERIC).to_string()
}

const BASE: &str = "/2025-12-01";

async fn call(args: &DurableArgs) -> Result<(), String> {
    let client = HostClient::new(&args.endpoint);
    let value = match &args.command {
        DurableCommand::List { function, statuses } => {
            let query: String = statuses
                .iter()
                .map(|s| format!("&Statuses={}", encode(s)))
                .collect();
            let path = format!(
                "{BASE}/functions/{}/durable-executions?MaxItems=1000{query}",
                encode(function)
            );
            all_pages(&client, &path, "DurableExecutions").await?
        }
        DurableCommand::History { arn } => {
            let path = format!(
                "{BASE}/durable-executions/{}/history?MaxItems=1000",
                encode(arn)
            );
            all_pages(&client, &path, "Events").await?
        }
        command => {
            let (method, path, body) = request_for(command)?;
            send(&client, method, &path, body).await?
        }
    };
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&value).unwrap_or_default()
        );
        return Ok(());
    }
    match &args.command {
        DurableCommand::List { .. } => print_list(&value),
        DurableCommand::Show { .. } => print_show(&value),
        DurableCommand::History { .. } => print_history(&value),
        DurableCommand::Stop { arn, .. } => println!("stopped {arn}"),
        DurableCommand::Callback { callback_id, .. } => println!("callback {callback_id}: done"),
    }
    Ok(())
}

/// The request of a command that is one request.
fn request_for(command: &DurableCommand) -> Result<(Method, String, Bytes), String> {
    let error = |message: &str, error_type: &Option<String>| {
        let mut error = json!({ "ErrorMessage": message });
        if let Some(t) = error_type {
            error["ErrorType"] = t.clone().into();
        }
        Bytes::from(error.to_string())
    };
    Ok(match command {
        DurableCommand::Show { arn } => (
            Method::GET,
            format!("{BASE}/durable-executions/{}", encode(arn)),
            Bytes::new(),
        ),
        DurableCommand::Stop {
            arn,
            message,
            error_type,
        } => (
            Method::POST,
            format!("{BASE}/durable-executions/{}/stop", encode(arn)),
            error(message, error_type),
        ),
        DurableCommand::Callback {
            callback_id,
            succeed,
            fail,
            heartbeat,
            error_type,
        } => {
            let path = |verb: &str| {
                format!(
                    "{BASE}/durable-execution-callbacks/{}/{verb}",
                    encode(callback_id)
                )
            };
            match (succeed, fail, heartbeat) {
                (Some(result), _, _) => {
                    (Method::POST, path("succeed"), Bytes::from(result.clone()))
                }
                (_, Some(message), _) => (Method::POST, path("fail"), error(message, error_type)),
                (_, _, true) => (Method::POST, path("heartbeat"), Bytes::new()),
                _ => return Err("say --succeed RESULT, --fail MESSAGE or --heartbeat".into()),
            }
        }
        DurableCommand::List { .. } | DurableCommand::History { .. } => {
            unreachable!("paged, not one request")
        }
    })
}

/// Every page of a listing (`NextMarker` followed), its `key` items in one array.
async fn all_pages(client: &HostClient, path: &str, key: &str) -> Result<Value, String> {
    let mut items = Vec::new();
    let mut marker: Option<String> = None;
    loop {
        let page_path = match &marker {
            Some(m) => format!("{path}&Marker={}", encode(m)),
            None => path.to_string(),
        };
        let page = send(client, Method::GET, &page_path, Bytes::new()).await?;
        items.extend(page[key].as_array().cloned().unwrap_or_default());
        marker = page["NextMarker"]
            .as_str()
            .filter(|m| !m.is_empty())
            .map(str::to_string);
        if marker.is_none() {
            return Ok(json!({ key: items }));
        }
    }
}

/// One request; its JSON answer, or the API's error as `TYPE: message`.
async fn send(
    client: &HostClient,
    method: Method,
    path: &str,
    body: Bytes,
) -> Result<Value, String> {
    let answer = client.send(method, path, &[], body).await?;
    let text = String::from_utf8_lossy(&answer.body);
    let value: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
    if answer.status.is_success() {
        return Ok(value);
    }
    let kind = answer.header("x-amzn-errortype").unwrap_or("error");
    let message = value
        .get("message")
        .or_else(|| value.get("Message"))
        .and_then(Value::as_str)
        .unwrap_or(&text);
    Err(format!("{kind}: {message}"))
}

/// Epoch seconds (the API's timestamps) as a UTC time.
fn time_of(v: &Value) -> String {
    v.as_f64().map_or_else(
        || "-".into(),
        |secs| {
            let t = std::time::UNIX_EPOCH + std::time::Duration::from_secs_f64(secs.max(0.0));
            flick_host::clock::iso8601(t)
        },
    )
}

fn text(v: &Value, key: &str) -> String {
    v.get(key)
        .and_then(Value::as_str)
        .unwrap_or("-")
        .to_string()
}

fn print_list(value: &Value) {
    let executions = value["DurableExecutions"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    println!(
        "{:<36}  {:<9}  {:<24}  {:<24}  ARN",
        "NAME", "STATUS", "STARTED", "ENDED"
    );
    for e in executions {
        println!(
            "{:<36}  {:<9}  {:<24}  {:<24}  {}",
            text(&e, "DurableExecutionName"),
            text(&e, "Status"),
            time_of(&e["StartTimestamp"]),
            time_of(&e["EndTimestamp"]),
            text(&e, "DurableExecutionArn"),
        );
    }
}

fn print_show(e: &Value) {
    for (label, key) in [
        ("arn", "DurableExecutionArn"),
        ("name", "DurableExecutionName"),
        ("function", "FunctionArn"),
        ("status", "Status"),
    ] {
        println!("{label:<9} {}", text(e, key));
    }
    println!("{:<9} {}", "started", time_of(&e["StartTimestamp"]));
    println!("{:<9} {}", "ended", time_of(&e["EndTimestamp"]));
    println!("{:<9} {}", "input", text(e, "InputPayload"));
    if let Some(result) = e.get("Result").and_then(Value::as_str) {
        println!("{:<9} {result}", "result");
    }
    if let Some(error) = e.get("Error") {
        println!("{:<9} {error}", "error");
    }
}

fn print_history(value: &Value) {
    let events = value["Events"].as_array().cloned().unwrap_or_default();
    println!(
        "{:>4}  {:<24}  {:<22}  {:<20}  DETAILS",
        "ID", "TIME", "EVENT", "NAME"
    );
    for e in events {
        let details = e
            .as_object()
            .and_then(|m| m.iter().find(|(k, _)| k.ends_with("Details")))
            .map(|(_, v)| v.to_string())
            .unwrap_or_default();
        println!(
            "{:>4}  {:<24}  {:<22}  {:<20}  {details}",
            e["EventId"].as_u64().unwrap_or_default(),
            time_of(&e["EventTimestamp"]),
            text(&e, "EventType"),
            text(&e, "Name"),
        );
    }
}
