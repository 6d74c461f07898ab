//! Conformance fixture: the behaviours every conformance function implements,
//! written against the official `lambda_runtime` crate. Dispatches on `event.action`.

use lambda_runtime::{service_fn, Diagnostic, LambdaEvent};
use serde_json::{json, Map, Value};
use std::io::Write;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

fn custom_error(message: String) -> Diagnostic {
    Diagnostic {
        error_type: "CustomError".to_string(),
        error_message: message,
    }
}

async fn handle(event: LambdaEvent<Value>) -> Result<Value, Diagnostic> {
    let (payload, ctx) = event.into_parts();
    let action = payload
        .get("action")
        .and_then(Value::as_str)
        .unwrap_or("echo")
        .to_string();
    match action.as_str() {
        "echo" => Ok(payload),
        "context" => {
            let cfg = &ctx.env_config;
            Ok(json!({
                "request_id": ctx.request_id,
                "invoked_function_arn": ctx.invoked_function_arn,
                "deadline_ms": ctx.deadline,
                "remaining_ms": ctx.deadline as i64 - now_ms() as i64,
                "function_name": cfg.function_name,
                "function_version": cfg.version,
                "memory_limit_in_mb": cfg.memory,
                "log_group_name": cfg.log_group,
                "log_stream_name": cfg.log_stream,
                "client_context": ctx.client_context.as_ref().map(|c| serde_json::to_value(c).unwrap_or(Value::Null)),
                "identity": ctx.identity.as_ref().map(|c| serde_json::to_value(c).unwrap_or(Value::Null)),
                "trace_id": ctx.xray_trace_id.clone().or_else(|| std::env::var("_X_AMZN_TRACE_ID").ok()),
            }))
        }
        "env" => {
            let env: Map<String, Value> = std::env::vars()
                .map(|(k, v)| (k, Value::String(v)))
                .collect();
            Ok(Value::Object(env))
        }
        "error" => {
            let msg = payload
                .get("message")
                .and_then(Value::as_str)
                .unwrap_or("boom")
                .to_string();
            Err(custom_error(msg))
        }
        "error_plain" => {
            let msg = payload
                .get("message")
                .and_then(Value::as_str)
                .unwrap_or("boom")
                .to_string();
            Err(Diagnostic::from(lambda_runtime::Error::from(msg)))
        }
        "sleep" => {
            let ms = payload.get("ms").and_then(Value::as_u64).unwrap_or(0);
            tokio::time::sleep(Duration::from_millis(ms)).await;
            Ok(json!({ "slept_ms": ms, "pid": std::process::id() }))
        }
        "crash" => {
            println!("crashing on purpose");
            let _ = std::io::stdout().flush();
            std::process::exit(1);
        }
        "oom" => {
            // Allocate and touch 8 MiB blocks until the host's memory limit kills us.
            // Capped at 4 GiB so a host without a limit answers instead of eating the machine.
            let mut blocks: Vec<Vec<u8>> = Vec::new();
            let block = 8 * 1024 * 1024;
            while blocks.len() * block < 4096 * 1024 * 1024 {
                blocks.push(vec![1u8; block]);
            }
            Ok(json!({ "allocated_mb": blocks.len() * 8 }))
        }
        "log" => {
            let n = payload.get("n").and_then(Value::as_u64).unwrap_or(1);
            let marker = payload
                .get("marker")
                .and_then(Value::as_str)
                .unwrap_or("MARK")
                .to_string();
            for i in 0..n {
                println!("{marker} stdout {i}");
                eprintln!("{marker} stderr {i}");
            }
            let _ = std::io::stdout().flush();
            Ok(json!({ "logged": n }))
        }
        "pid" => Ok(json!({
            "pid": std::process::id(),
            "cwd": std::env::current_dir().map(|p| p.display().to_string()).unwrap_or_default(),
            "init_type": std::env::var("AWS_LAMBDA_INITIALIZATION_TYPE").ok(),
        })),
        other => Err(Diagnostic {
            error_type: "UnknownAction".to_string(),
            error_message: format!("unknown action {other:?}"),
        }),
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    lambda_runtime::run(service_fn(handle)).await
}
