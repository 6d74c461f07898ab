//! `ListFunctions` and `GetFunction`: the read-only management calls, so that
//! `aws lambda list-functions` and SDK code that looks a function up work.
//! Owns the `FunctionConfiguration` shape; nothing here changes state.

use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::Json;
use serde_json::{json, Value};

use super::{ApiError, InvokeApi, QualifierQuery};
use crate::clock;
use crate::function::{Function, ACCOUNT_ID};

pub async fn list(State(api): State<Arc<InvokeApi>>) -> Json<Value> {
    let functions: Vec<Value> = api
        .scheduler
        .functions()
        .map(|f| configuration(f))
        .collect();
    Json(json!({ "Functions": functions }))
}

pub async fn get(
    State(api): State<Arc<InvokeApi>>,
    Path(raw_name): Path<String>,
    Query(query): Query<QualifierQuery>,
) -> Result<Json<Value>, ApiError> {
    let f = api.resolve(&raw_name, query.qualifier.as_deref())?;
    Ok(Json(json!({
        "Configuration": configuration(&f),
        "Code": { "RepositoryType": "Local", "Location": f.config.workdir.to_string_lossy() },
        "Concurrency": { "ReservedConcurrentExecutions": f.config.max_concurrency },
    })))
}

fn configuration(f: &Function) -> Value {
    let c = &f.config;
    let modified = std::fs::metadata(&c.workdir)
        .and_then(|m| m.modified())
        .unwrap_or_else(|_| std::time::SystemTime::now());
    json!({
        "FunctionName": c.name,
        "FunctionArn": f.arn,
        "Runtime": "provided.al2023",
        "Role": format!("arn:aws:iam::{ACCOUNT_ID}:role/flick"),
        "Handler": c.handler.as_deref().unwrap_or(&c.command[0]),
        "CodeSize": 0,
        "Description": "",
        "Timeout": c.timeout_s,
        "MemorySize": c.memory_mb,
        "LastModified": clock::lambda_timestamp(modified),
        "Version": "$LATEST",
        "Environment": { "Variables": c.env },
        "PackageType": "Zip",
        "State": "Active",
        "LastUpdateStatus": "Successful",
        "Architectures": [std::env::consts::ARCH.replace("aarch64", "arm64")],
        "LoggingConfig": { "LogFormat": "Text", "LogGroup": f.log_group() },
    })
}
