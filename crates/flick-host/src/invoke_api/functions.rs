//! The read-only control plane: the calls local tools, SDK code, SAM and
//! Terraform make to look a function up. Every value is the manifest's;
//! only `$LATEST` exists, with no aliases and no published versions.
//!
//! Owns the `FunctionConfiguration` shape and its neighbours; nothing here
//! changes state, and every other control-plane call is refused by name
//! (see [`super::operations`]).

use std::sync::Arc;

use axum::extract::State;
use axum::http::Uri;
use axum::Json;
use serde_json::{json, Value};

use super::{ApiError, InvokeApi};
use crate::clock;
use crate::function::{function_arn, Function, ACCOUNT_ID};

type Reply = Result<Json<Value>, ApiError>;

/// ListFunctions.
pub async fn list(State(api): State<Arc<InvokeApi>>) -> Json<Value> {
    let functions: Vec<Value> = api
        .scheduler
        .functions()
        .map(|f| configuration(f))
        .collect();
    Json(json!({ "Functions": functions }))
}

/// GetFunction.
pub async fn get(State(api): State<Arc<InvokeApi>>, uri: Uri) -> Reply {
    let f = api.resolve(&uri, 1, false)?;
    Ok(Json(json!({
        "Configuration": configuration(&f),
        "Code": { "RepositoryType": "Local", "Location": f.config.workdir.to_string_lossy() },
        "Concurrency": { "ReservedConcurrentExecutions": f.config.max_concurrency },
    })))
}

/// GetFunctionConfiguration.
pub async fn get_configuration(State(api): State<Arc<InvokeApi>>, uri: Uri) -> Reply {
    let f = api.resolve(&uri, 1, false)?;
    Ok(Json(configuration(&f)))
}

/// ListVersionsByFunction: `$LATEST` is the only version.
pub async fn list_versions(State(api): State<Arc<InvokeApi>>, uri: Uri) -> Reply {
    let f = api.resolve(&uri, 1, false)?;
    Ok(Json(json!({ "Versions": [configuration(&f)] })))
}

/// ListAliases: none.
pub async fn list_aliases(State(api): State<Arc<InvokeApi>>, uri: Uri) -> Reply {
    api.resolve(&uri, 1, false)?;
    Ok(Json(json!({ "Aliases": [] })))
}

/// GetFunctionConcurrency: `max_concurrency` is the function's reserved concurrency.
pub async fn get_concurrency(State(api): State<Arc<InvokeApi>>, uri: Uri) -> Reply {
    let f = api.resolve(&uri, 1, false)?;
    Ok(Json(
        json!({ "ReservedConcurrentExecutions": f.config.max_concurrency }),
    ))
}

/// GetAccountSettings: the host is the account; all of its concurrency is
/// reserved by its functions.
pub async fn get_account_settings(State(api): State<Arc<InvokeApi>>) -> Json<Value> {
    let concurrency: usize = api
        .scheduler
        .functions()
        .map(|f| f.config.max_concurrency)
        .sum();
    Json(json!({
        "AccountLimit": {
            "TotalCodeSize": 80_530_636_800u64,
            "CodeSizeUnzipped": 262_144_000,
            "CodeSizeZipped": 52_428_800,
            "ConcurrentExecutions": concurrency,
            "UnreservedConcurrentExecutions": 0,
        },
        "AccountUsage": {
            "TotalCodeSize": 0,
            "FunctionCount": api.scheduler.functions().count(),
        },
    }))
}

/// GetFunctionEventInvokeConfig: the manifest's `[functions.NAME.async]`.
pub async fn get_event_invoke_config(State(api): State<Arc<InvokeApi>>, uri: Uri) -> Reply {
    let f = api.resolve(&uri, 1, false)?;
    if !f.config.async_declared {
        return Err(ApiError::ResourceNotFound(format!(
            "The function {}:$LATEST doesn't have an EventInvokeConfig",
            f.arn
        )));
    }
    let a = &f.config.async_config;
    let destination = |name: &Option<String>| {
        name.as_ref()
            .map(|n| json!({ "Destination": function_arn(&f.region, n) }))
            .unwrap_or_else(|| json!({}))
    };
    Ok(Json(json!({
        "FunctionArn": format!("{}:$LATEST", f.arn),
        "MaximumRetryAttempts": a.max_retry_attempts,
        "MaximumEventAgeInSeconds": a.max_event_age_s,
        "LastModified": modified(&f).duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs()),
        "DestinationConfig": {
            "OnSuccess": destination(&a.on_success),
            "OnFailure": destination(&a.on_failure),
        },
    })))
}

/// GetFunctionUrlConfig: a function the HTTP gateway serves has the host's
/// address as its URL (its routes decide which paths reach it).
pub async fn get_url_config(State(api): State<Arc<InvokeApi>>, uri: Uri) -> Reply {
    let f = api.resolve(&uri, 1, false)?;
    if f.config.http.is_none() {
        return Err(ApiError::ResourceNotFound(
            "The resource you requested does not exist.".into(),
        ));
    }
    let time = clock::lambda_timestamp(modified(&f));
    Ok(Json(json!({
        "FunctionUrl": format!("http://{}/", api.listen),
        "FunctionArn": f.arn,
        "AuthType": "NONE",
        "CreationTime": time,
        "LastModifiedTime": time,
        "InvokeMode": "RESPONSE_STREAM",
    })))
}

fn modified(f: &Function) -> std::time::SystemTime {
    std::fs::metadata(&f.config.workdir)
        .and_then(|m| m.modified())
        .unwrap_or_else(|_| std::time::SystemTime::now())
}

/// A function's `FunctionConfiguration`.
fn configuration(f: &Function) -> Value {
    let c = &f.config;
    let mut config = json!({
        "FunctionName": c.name,
        "FunctionArn": f.arn,
        "Role": format!("arn:aws:iam::{ACCOUNT_ID}:role/flick"),
        "Handler": c.handler.as_deref().unwrap_or(&c.command[0]),
        "CodeSize": 0,
        "Description": "",
        "Timeout": c.timeout_s,
        "MemorySize": c.memory_mb,
        "EphemeralStorage": { "Size": c.ephemeral_storage_mb },
        "LastModified": clock::lambda_timestamp(modified(f)),
        "Version": "$LATEST",
        "Environment": { "Variables": c.env },
        "PackageType": "Zip",
        "State": "Active",
        "LastUpdateStatus": "Successful",
        "Architectures": [std::env::consts::ARCH.replace("aarch64", "arm64")],
        "LoggingConfig": { "LogFormat": "Text", "LogGroup": f.log_group() },
    });
    if let Some(runtime) = f.runtime() {
        config["Runtime"] = runtime.into();
    }
    if c.per_tenant {
        config["TenancyConfig"] = json!({ "TenantIsolationMode": "PER_TENANT" });
    }
    config
}
