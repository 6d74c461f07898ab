//! Every operation of the Lambda API, as botocore's service model for
//! Lambda (2015-03-31) lists them (botocore 1.44.8): method, URI template
//! and name.
//!
//! The host serves a few of them; this table lets it answer any other with a
//! typed error that names the operation, and tells the server which paths are
//! Lambda's, so that the HTTP gateway never takes one. Copied facts only:
//! the operations' names and URIs.

/// One operation: `method` and `uri` as in the model (`{Name}` one segment,
/// a query after `?` only tells apart operations on the same path).
#[derive(Debug)]
pub struct Operation {
    pub method: &'static str,
    pub uri: &'static str,
    pub name: &'static str,
}

const fn op(method: &'static str, uri: &'static str, name: &'static str) -> Operation {
    Operation { method, uri, name }
}

/// The first segment of every operation's URI: the API versions.
pub const VERSIONS: &[&str] = &[
    "2014-11-13",
    "2015-03-31",
    "2016-08-19",
    "2017-03-31",
    "2017-10-31",
    "2018-10-31",
    "2019-09-25",
    "2019-09-30",
    "2020-04-22",
    "2020-06-30",
    "2021-07-20",
    "2021-10-31",
    "2021-11-15",
    "2024-08-31",
    "2025-11-30",
    "2025-12-01",
];

/// Whether `path` belongs to the Lambda API (its first segment is an API version).
pub fn is_lambda_path(path: &str) -> bool {
    let first = path.trim_start_matches('/').split('/').next().unwrap_or("");
    VERSIONS.contains(&first)
}

/// The operation a request is, if any.
pub fn find(method: &str, path: &str) -> Option<&'static Operation> {
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    OPERATIONS.iter().find(|op| {
        let template = op.uri.split('?').next().unwrap_or(op.uri);
        let parts: Vec<&str> = template.trim_matches('/').split('/').collect();
        op.method == method
            && parts.len() == segments.len()
            && parts
                .iter()
                .zip(&segments)
                .all(|(p, s)| (p.starts_with('{') && !s.is_empty()) || p == s)
    })
}

pub const OPERATIONS: &[Operation] = &[
    op(
        "POST",
        "/2014-11-13/functions/{FunctionName}/invoke-async",
        "InvokeAsync",
    ),
    op(
        "POST",
        "/2015-03-31/event-source-mappings",
        "CreateEventSourceMapping",
    ),
    op(
        "GET",
        "/2015-03-31/event-source-mappings",
        "ListEventSourceMappings",
    ),
    op(
        "DELETE",
        "/2015-03-31/event-source-mappings/{UUID}",
        "DeleteEventSourceMapping",
    ),
    op(
        "GET",
        "/2015-03-31/event-source-mappings/{UUID}",
        "GetEventSourceMapping",
    ),
    op(
        "PUT",
        "/2015-03-31/event-source-mappings/{UUID}",
        "UpdateEventSourceMapping",
    ),
    op("POST", "/2015-03-31/functions", "CreateFunction"),
    op("GET", "/2015-03-31/functions", "ListFunctions"),
    op(
        "DELETE",
        "/2015-03-31/functions/{FunctionName}",
        "DeleteFunction",
    ),
    op("GET", "/2015-03-31/functions/{FunctionName}", "GetFunction"),
    op(
        "POST",
        "/2015-03-31/functions/{FunctionName}/aliases",
        "CreateAlias",
    ),
    op(
        "GET",
        "/2015-03-31/functions/{FunctionName}/aliases",
        "ListAliases",
    ),
    op(
        "DELETE",
        "/2015-03-31/functions/{FunctionName}/aliases/{Name}",
        "DeleteAlias",
    ),
    op(
        "GET",
        "/2015-03-31/functions/{FunctionName}/aliases/{Name}",
        "GetAlias",
    ),
    op(
        "PUT",
        "/2015-03-31/functions/{FunctionName}/aliases/{Name}",
        "UpdateAlias",
    ),
    op(
        "PUT",
        "/2015-03-31/functions/{FunctionName}/code",
        "UpdateFunctionCode",
    ),
    op(
        "GET",
        "/2015-03-31/functions/{FunctionName}/configuration",
        "GetFunctionConfiguration",
    ),
    op(
        "PUT",
        "/2015-03-31/functions/{FunctionName}/configuration",
        "UpdateFunctionConfiguration",
    ),
    op(
        "POST",
        "/2015-03-31/functions/{FunctionName}/invocations",
        "Invoke",
    ),
    op(
        "POST",
        "/2015-03-31/functions/{FunctionName}/policy",
        "AddPermission",
    ),
    op(
        "GET",
        "/2015-03-31/functions/{FunctionName}/policy",
        "GetPolicy",
    ),
    op(
        "DELETE",
        "/2015-03-31/functions/{FunctionName}/policy/{StatementId}",
        "RemovePermission",
    ),
    op(
        "GET",
        "/2015-03-31/functions/{FunctionName}/versions",
        "ListVersionsByFunction",
    ),
    op(
        "POST",
        "/2015-03-31/functions/{FunctionName}/versions",
        "PublishVersion",
    ),
    op("GET", "/2016-08-19/account-settings", "GetAccountSettings"),
    op("GET", "/2017-03-31/tags/{Resource}", "ListTags"),
    op("POST", "/2017-03-31/tags/{Resource}", "TagResource"),
    op("DELETE", "/2017-03-31/tags/{Resource}", "UntagResource"),
    op(
        "DELETE",
        "/2017-10-31/functions/{FunctionName}/concurrency",
        "DeleteFunctionConcurrency",
    ),
    op(
        "PUT",
        "/2017-10-31/functions/{FunctionName}/concurrency",
        "PutFunctionConcurrency",
    ),
    op("GET", "/2018-10-31/layers", "ListLayers"),
    op(
        "GET",
        "/2018-10-31/layers/{LayerName}/versions",
        "ListLayerVersions",
    ),
    op(
        "POST",
        "/2018-10-31/layers/{LayerName}/versions",
        "PublishLayerVersion",
    ),
    op(
        "DELETE",
        "/2018-10-31/layers/{LayerName}/versions/{VersionNumber}",
        "DeleteLayerVersion",
    ),
    op(
        "GET",
        "/2018-10-31/layers/{LayerName}/versions/{VersionNumber}",
        "GetLayerVersion",
    ),
    op(
        "POST",
        "/2018-10-31/layers/{LayerName}/versions/{VersionNumber}/policy",
        "AddLayerVersionPermission",
    ),
    op(
        "GET",
        "/2018-10-31/layers/{LayerName}/versions/{VersionNumber}/policy",
        "GetLayerVersionPolicy",
    ),
    op(
        "DELETE",
        "/2018-10-31/layers/{LayerName}/versions/{VersionNumber}/policy/{StatementId}",
        "RemoveLayerVersionPermission",
    ),
    op(
        "GET",
        "/2018-10-31/layers?find=LayerVersion",
        "GetLayerVersionByArn",
    ),
    op(
        "DELETE",
        "/2019-09-25/functions/{FunctionName}/event-invoke-config",
        "DeleteFunctionEventInvokeConfig",
    ),
    op(
        "GET",
        "/2019-09-25/functions/{FunctionName}/event-invoke-config",
        "GetFunctionEventInvokeConfig",
    ),
    op(
        "PUT",
        "/2019-09-25/functions/{FunctionName}/event-invoke-config",
        "PutFunctionEventInvokeConfig",
    ),
    op(
        "POST",
        "/2019-09-25/functions/{FunctionName}/event-invoke-config",
        "UpdateFunctionEventInvokeConfig",
    ),
    op(
        "GET",
        "/2019-09-25/functions/{FunctionName}/event-invoke-config/list",
        "ListFunctionEventInvokeConfigs",
    ),
    op(
        "GET",
        "/2019-09-30/functions/{FunctionName}/concurrency",
        "GetFunctionConcurrency",
    ),
    op(
        "DELETE",
        "/2019-09-30/functions/{FunctionName}/provisioned-concurrency",
        "DeleteProvisionedConcurrencyConfig",
    ),
    op(
        "GET",
        "/2019-09-30/functions/{FunctionName}/provisioned-concurrency",
        "GetProvisionedConcurrencyConfig",
    ),
    op(
        "PUT",
        "/2019-09-30/functions/{FunctionName}/provisioned-concurrency",
        "PutProvisionedConcurrencyConfig",
    ),
    op(
        "GET",
        "/2019-09-30/functions/{FunctionName}/provisioned-concurrency?List=ALL",
        "ListProvisionedConcurrencyConfigs",
    ),
    op(
        "POST",
        "/2020-04-22/code-signing-configs",
        "CreateCodeSigningConfig",
    ),
    op(
        "GET",
        "/2020-04-22/code-signing-configs",
        "ListCodeSigningConfigs",
    ),
    op(
        "DELETE",
        "/2020-04-22/code-signing-configs/{CodeSigningConfigArn}",
        "DeleteCodeSigningConfig",
    ),
    op(
        "GET",
        "/2020-04-22/code-signing-configs/{CodeSigningConfigArn}",
        "GetCodeSigningConfig",
    ),
    op(
        "PUT",
        "/2020-04-22/code-signing-configs/{CodeSigningConfigArn}",
        "UpdateCodeSigningConfig",
    ),
    op(
        "GET",
        "/2020-04-22/code-signing-configs/{CodeSigningConfigArn}/functions",
        "ListFunctionsByCodeSigningConfig",
    ),
    op(
        "DELETE",
        "/2020-06-30/functions/{FunctionName}/code-signing-config",
        "DeleteFunctionCodeSigningConfig",
    ),
    op(
        "GET",
        "/2020-06-30/functions/{FunctionName}/code-signing-config",
        "GetFunctionCodeSigningConfig",
    ),
    op(
        "PUT",
        "/2020-06-30/functions/{FunctionName}/code-signing-config",
        "PutFunctionCodeSigningConfig",
    ),
    op(
        "GET",
        "/2021-07-20/functions/{FunctionName}/runtime-management-config",
        "GetRuntimeManagementConfig",
    ),
    op(
        "PUT",
        "/2021-07-20/functions/{FunctionName}/runtime-management-config",
        "PutRuntimeManagementConfig",
    ),
    op(
        "POST",
        "/2021-10-31/functions/{FunctionName}/url",
        "CreateFunctionUrlConfig",
    ),
    op(
        "DELETE",
        "/2021-10-31/functions/{FunctionName}/url",
        "DeleteFunctionUrlConfig",
    ),
    op(
        "GET",
        "/2021-10-31/functions/{FunctionName}/url",
        "GetFunctionUrlConfig",
    ),
    op(
        "PUT",
        "/2021-10-31/functions/{FunctionName}/url",
        "UpdateFunctionUrlConfig",
    ),
    op(
        "GET",
        "/2021-10-31/functions/{FunctionName}/urls",
        "ListFunctionUrlConfigs",
    ),
    op(
        "POST",
        "/2021-11-15/functions/{FunctionName}/response-streaming-invocations",
        "InvokeWithResponseStream",
    ),
    op(
        "GET",
        "/2024-08-31/functions/{FunctionName}/recursion-config",
        "GetFunctionRecursionConfig",
    ),
    op(
        "PUT",
        "/2024-08-31/functions/{FunctionName}/recursion-config",
        "PutFunctionRecursionConfig",
    ),
    op(
        "POST",
        "/2025-11-30/capacity-providers",
        "CreateCapacityProvider",
    ),
    op(
        "GET",
        "/2025-11-30/capacity-providers",
        "ListCapacityProviders",
    ),
    op(
        "DELETE",
        "/2025-11-30/capacity-providers/{CapacityProviderName}",
        "DeleteCapacityProvider",
    ),
    op(
        "GET",
        "/2025-11-30/capacity-providers/{CapacityProviderName}",
        "GetCapacityProvider",
    ),
    op(
        "PUT",
        "/2025-11-30/capacity-providers/{CapacityProviderName}",
        "UpdateCapacityProvider",
    ),
    op(
        "GET",
        "/2025-11-30/capacity-providers/{CapacityProviderName}/function-versions",
        "ListFunctionVersionsByCapacityProvider",
    ),
    op(
        "GET",
        "/2025-11-30/functions/{FunctionName}/function-scaling-config",
        "GetFunctionScalingConfig",
    ),
    op(
        "PUT",
        "/2025-11-30/functions/{FunctionName}/function-scaling-config",
        "PutFunctionScalingConfig",
    ),
    op(
        "POST",
        "/2025-12-01/durable-execution-callbacks/{CallbackId}/fail",
        "SendDurableExecutionCallbackFailure",
    ),
    op(
        "POST",
        "/2025-12-01/durable-execution-callbacks/{CallbackId}/heartbeat",
        "SendDurableExecutionCallbackHeartbeat",
    ),
    op(
        "POST",
        "/2025-12-01/durable-execution-callbacks/{CallbackId}/succeed",
        "SendDurableExecutionCallbackSuccess",
    ),
    op(
        "GET",
        "/2025-12-01/durable-executions/{DurableExecutionArn}",
        "GetDurableExecution",
    ),
    op(
        "DELETE",
        "/2025-12-01/durable-executions/{DurableExecutionArn}",
        "DeleteDurableExecution",
    ),
    op(
        "POST",
        "/2025-12-01/durable-executions/{DurableExecutionArn}/checkpoint",
        "CheckpointDurableExecution",
    ),
    op(
        "GET",
        "/2025-12-01/durable-executions/{DurableExecutionArn}/history",
        "GetDurableExecutionHistory",
    ),
    op(
        "POST",
        "/2025-12-01/durable-executions/{DurableExecutionArn}/pause",
        "PauseDurableExecution",
    ),
    op(
        "POST",
        "/2025-12-01/durable-executions/{DurableExecutionArn}/resume",
        "ResumeDurableExecution",
    ),
    op(
        "GET",
        "/2025-12-01/durable-executions/{DurableExecutionArn}/state",
        "GetDurableExecutionState",
    ),
    op(
        "POST",
        "/2025-12-01/durable-executions/{DurableExecutionArn}/stop",
        "StopDurableExecution",
    ),
    op(
        "GET",
        "/2025-12-01/functions/{FunctionName}/durable-executions",
        "ListDurableExecutionsByFunction",
    ),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_operations_by_method_and_path() {
        assert_eq!(
            find("GET", "/2015-03-31/functions/f/policy").unwrap().name,
            "GetPolicy"
        );
        assert_eq!(
            find("PUT", "/2017-10-31/functions/f/concurrency")
                .unwrap()
                .name,
            "PutFunctionConcurrency"
        );
        assert_eq!(
            find("DELETE", "/2015-03-31/functions/f").unwrap().name,
            "DeleteFunction"
        );
        assert!(find("GET", "/2015-03-31/functions/f/nothing").is_none());
        assert!(find("PATCH", "/2015-03-31/functions/f").is_none());
    }

    #[test]
    fn versions_cover_every_operation() {
        for op in OPERATIONS {
            assert!(is_lambda_path(op.uri), "{}", op.uri);
        }
        assert!(!is_lambda_path("/items/2015-03-31"));
        assert!(!is_lambda_path("/"));
    }
}
