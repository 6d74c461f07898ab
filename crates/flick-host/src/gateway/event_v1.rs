//! The payload 1.0 event (the REST API shape) of one request.
//!
//! Owns the exact shape: `resource`, `path`, `httpMethod`; each header and
//! query parameter both as its last value and as the list of all its values
//! (`multiValueHeaders`, `multiValueQueryStringParameters`); cookies left in
//! the `cookie` header; absent parts as `null`; and the REST-style request
//! context with its `identity` block. Authorizers, client certificates and
//! stage variables do not exist on the host: `authorizer` and `clientCert`
//! are never present and `stageVariables` is `null`.
//!
//! Built with `serde_json` for the same reason as [`super::event_v2`]: the
//! exact bytes API Gateway sends are the product.

use std::collections::BTreeMap;

use serde_json::{json, Value};

use super::request::{GatewayRequest, ACCOUNT_ID, API_ID};
use crate::clock;

pub fn event(req: &GatewayRequest) -> Value {
    let headers = req.header_values();
    let query = req.query_values();
    let (body, base64) = match req.event_body() {
        Some((body, base64)) => (Value::String(body), base64),
        None => (Value::Null, false),
    };
    json!({
        "version": "1.0",
        "resource": req.resource,
        "path": req.raw_path,
        "httpMethod": req.method,
        "headers": last_values(&headers),
        "multiValueHeaders": headers,
        "queryStringParameters": last_values(&query),
        "multiValueQueryStringParameters": or_null(&query),
        "requestContext": {
            "accountId": ACCOUNT_ID,
            "apiId": API_ID,
            "domainName": req.domain_name(),
            "domainPrefix": req.domain_prefix(),
            "extendedRequestId": req.request_id,
            "httpMethod": req.method,
            "identity": {
                "accessKey": null,
                "accountId": null,
                "caller": null,
                "cognitoAuthenticationProvider": null,
                "cognitoAuthenticationType": null,
                "cognitoIdentityId": null,
                "cognitoIdentityPoolId": null,
                "principalOrgId": null,
                "sourceIp": req.source_ip,
                "user": null,
                "userAgent": req.user_agent(),
                "userArn": null,
            },
            "path": req.raw_path,
            "protocol": req.protocol,
            // A REST API's own request id is a UUID; its short form is the extended id.
            "requestId": crate::ids::uuid().to_string(),
            "requestTime": clock::apigw_time(req.time),
            "requestTimeEpoch": clock::epoch_ms(req.time),
            "resourceId": req.route_key,
            "resourcePath": req.resource,
            "stage": "$default",
        },
        "pathParameters": or_null(&req.path_parameters),
        "stageVariables": null,
        "body": body,
        "isBase64Encoded": base64,
    })
}

/// The REST API keeps the last value of a repeated header or parameter in
/// the single-value map; `null` when there are none.
fn last_values(map: &BTreeMap<String, Vec<String>>) -> Value {
    if map.is_empty() {
        return Value::Null;
    }
    map.iter()
        .filter_map(|(k, v)| Some((k.clone(), Value::String(v.last()?.clone()))))
        .collect::<serde_json::Map<_, _>>()
        .into()
}

fn or_null<T: serde::Serialize>(map: &BTreeMap<String, T>) -> Value {
    if map.is_empty() {
        Value::Null
    } else {
        json!(map)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gateway::request::tests::sample;
    use aws_lambda_events::apigw::ApiGatewayProxyRequest;

    const AWS_SAMPLE: &str = include_str!("../../tests/fixtures/apigw-v1-request.json");

    #[test]
    fn shape_and_values() {
        let e = event(&sample());
        assert_eq!(e["version"], "1.0");
        assert_eq!(e["resource"], "/my/{rest+}");
        assert_eq!(e["path"], "/my/path");
        assert_eq!(e["httpMethod"], "POST");
        assert_eq!(e["headers"]["header1"], "value2");
        assert_eq!(
            e["multiValueHeaders"]["header1"],
            json!(["value1", "value2"])
        );
        assert_eq!(e["headers"]["cookie"], "cookie1=a; cookie2=b");
        assert_eq!(
            e["queryStringParameters"],
            json!({"parameter1": "value2", "parameter2": "value"})
        );
        assert_eq!(
            e["multiValueQueryStringParameters"],
            json!({"parameter1": ["value1", "value2"], "parameter2": ["value"]})
        );
        assert_eq!(e["pathParameters"], json!({"rest": "path"}));
        let ctx = &e["requestContext"];
        assert_eq!(ctx["identity"]["sourceIp"], "192.0.2.1");
        assert_eq!(ctx["requestTime"], "04/Mar/2020:19:03:58 +0000");
        assert_eq!(ctx["requestTimeEpoch"], 1_583_348_638_390_u64);
        assert_eq!(ctx["resourcePath"], "/my/{rest+}");
        assert_eq!(e["body"], "Hello from Lambda");
        assert_eq!(e["isBase64Encoded"], false);
    }

    #[test]
    fn absent_parts_are_null() {
        let mut r = sample();
        r.raw_query.clear();
        r.path_parameters.clear();
        r.body = bytes::Bytes::new();
        let e = event(&r);
        for null in [
            "queryStringParameters",
            "multiValueQueryStringParameters",
            "pathParameters",
            "stageVariables",
            "body",
        ] {
            assert_eq!(e[null], Value::Null, "{null}");
        }
    }

    #[test]
    fn deserializes_into_aws_lambda_events() {
        let typed: ApiGatewayProxyRequest = serde_json::from_value(event(&sample())).unwrap();
        assert_eq!(typed.path.as_deref(), Some("/my/path"));
        assert_eq!(typed.http_method, axum::http::Method::POST);
        assert_eq!(
            typed.multi_value_headers.get_all("header1").iter().count(),
            2
        );
        assert_eq!(
            typed
                .multi_value_query_string_parameters
                .all("parameter1")
                .unwrap(),
            ["value1", "value2"]
        );
        assert_eq!(
            typed.request_context.identity.source_ip.as_deref(),
            Some("192.0.2.1")
        );
        assert_eq!(typed.path_parameters["rest"], "path");
        let _: ApiGatewayProxyRequest = serde_json::from_str(AWS_SAMPLE).unwrap();
    }

    #[test]
    fn field_set_matches_the_aws_sample() {
        crate::gateway::assert_fields_match(
            &event(&sample()),
            AWS_SAMPLE,
            &[
                "requestContext.authorizer",
                "requestContext.identity.clientCert",
            ],
        );
    }
}
