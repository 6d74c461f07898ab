//! The payload 2.0 event (HTTP API, also Function URLs) of one request.
//!
//! Owns the exact shape: lower-case header names with repeated values joined
//! by `,`, cookies moved out of the headers into their own array, the raw
//! query string beside its parsed, comma-joined parameters, and fields left
//! out (not `null`) when they have nothing to say, as API Gateway sends them.
//! Authorizers and stage variables do not exist on the host, so
//! `requestContext.authorizer`/`authentication` and `stageVariables` are
//! never present.
//!
//! Built with `serde_json` rather than `aws_lambda_events`' types: those
//! types serialize absent fields as `null` and header maps through their own
//! rules, while this module's job is the exact bytes API Gateway sends. The
//! tests read the result back into `aws_lambda_events` to prove it fits.

use serde_json::{json, Map, Value};

use super::request::{GatewayRequest, ACCOUNT_ID, API_ID};
use crate::clock;

pub fn event(req: &GatewayRequest) -> Value {
    let mut cookies = Vec::new();
    let mut headers = Map::new();
    for (name, values) in req.header_values() {
        if name == "cookie" {
            cookies.extend(
                values
                    .iter()
                    .flat_map(|v| v.split(';'))
                    .map(str::trim)
                    .filter(|c| !c.is_empty())
                    .map(|c| Value::String(c.to_string())),
            );
        } else {
            headers.insert(name, Value::String(values.join(",")));
        }
    }

    let mut event = Map::new();
    event.insert("version".into(), json!("2.0"));
    event.insert("routeKey".into(), json!(req.route_key));
    event.insert("rawPath".into(), json!(req.raw_path));
    event.insert("rawQueryString".into(), json!(req.raw_query));
    if !cookies.is_empty() {
        event.insert("cookies".into(), Value::Array(cookies));
    }
    event.insert("headers".into(), Value::Object(headers));
    let query = req.query_values();
    if !query.is_empty() {
        let joined: Map<String, Value> = query
            .into_iter()
            .map(|(k, v)| (k, Value::String(v.join(","))))
            .collect();
        event.insert("queryStringParameters".into(), Value::Object(joined));
    }
    if !req.path_parameters.is_empty() {
        event.insert("pathParameters".into(), json!(req.path_parameters));
    }
    event.insert(
        "requestContext".into(),
        json!({
            "accountId": ACCOUNT_ID,
            "apiId": API_ID,
            "domainName": req.domain_name(),
            "domainPrefix": req.domain_prefix(),
            "http": {
                "method": req.method,
                "path": req.raw_path,
                "protocol": req.protocol,
                "sourceIp": req.source_ip,
                "userAgent": req.user_agent(),
            },
            "requestId": req.request_id,
            "routeKey": req.route_key,
            "stage": "$default",
            "time": clock::apigw_time(req.time),
            "timeEpoch": clock::epoch_ms(req.time),
        }),
    );
    let (body, base64) = match req.event_body() {
        Some((body, base64)) => (Some(body), base64),
        None => (None, false),
    };
    if let Some(body) = body {
        event.insert("body".into(), Value::String(body));
    }
    event.insert("isBase64Encoded".into(), Value::Bool(base64));
    Value::Object(event)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gateway::request::tests::sample;
    use aws_lambda_events::apigw::ApiGatewayV2httpRequest;

    const AWS_SAMPLE: &str = include_str!("../../tests/fixtures/apigw-v2-request.json");

    #[test]
    fn shape_and_values() {
        let e = event(&sample());
        assert_eq!(e["version"], "2.0");
        assert_eq!(e["routeKey"], "ANY /my/{rest+}");
        assert_eq!(e["rawPath"], "/my/path");
        assert_eq!(e["cookies"], json!(["cookie1=a", "cookie2=b"]));
        assert_eq!(e["headers"]["header1"], "value1,value2");
        assert!(e["headers"].get("cookie").is_none());
        assert_eq!(
            e["queryStringParameters"],
            json!({"parameter1": "value1,value2", "parameter2": "value"})
        );
        assert_eq!(e["pathParameters"], json!({"rest": "path"}));
        let ctx = &e["requestContext"];
        assert_eq!(ctx["http"]["sourceIp"], "192.0.2.1");
        assert_eq!(ctx["http"]["userAgent"], "agent/1.0");
        assert_eq!(ctx["domainName"], "api.example.com");
        assert_eq!(ctx["domainPrefix"], "api");
        assert_eq!(ctx["time"], "04/Mar/2020:19:03:58 +0000");
        assert_eq!(ctx["timeEpoch"], 1_583_348_638_390_u64);
        assert_eq!(ctx["requestId"], "c6af9ac6-7b61-11e6-9a41-93e8deadbeef");
        assert_eq!(e["body"], "Hello from Lambda");
        assert_eq!(e["isBase64Encoded"], false);
    }

    #[test]
    fn absent_parts_are_left_out() {
        let mut r = sample();
        r.headers.remove("cookie");
        r.raw_query.clear();
        r.path_parameters.clear();
        r.body = bytes::Bytes::new();
        let e = event(&r);
        for absent in ["cookies", "queryStringParameters", "pathParameters", "body"] {
            assert!(e.get(absent).is_none(), "{absent} should be absent");
        }
        assert_eq!(e["rawQueryString"], "");
        assert_eq!(e["isBase64Encoded"], false);
    }

    #[test]
    fn deserializes_into_aws_lambda_events() {
        let typed: ApiGatewayV2httpRequest = serde_json::from_value(event(&sample())).unwrap();
        assert_eq!(typed.raw_path.as_deref(), Some("/my/path"));
        assert_eq!(typed.cookies.unwrap().len(), 2);
        assert_eq!(
            typed.request_context.http.source_ip.as_deref(),
            Some("192.0.2.1")
        );
        assert_eq!(typed.request_context.time_epoch, 1_583_348_638_390);
        assert_eq!(typed.path_parameters["rest"], "path");
        // The crate splits 2.0's comma-joined values back into a list.
        assert_eq!(
            typed.query_string_parameters.all("parameter1").unwrap(),
            ["value1", "value2"]
        );
        // AWS's own sample reads into the same type, so the two agree on it.
        let _: ApiGatewayV2httpRequest = serde_json::from_str(AWS_SAMPLE).unwrap();
    }

    /// Every field the host sends is one AWS sends, and the only ones AWS
    /// sends that the host does not are those of features it lacks.
    #[test]
    fn field_set_matches_the_aws_sample() {
        crate::gateway::assert_fields_match(
            &event(&sample()),
            AWS_SAMPLE,
            &[
                "requestContext.authentication",
                "requestContext.authorizer",
                "stageVariables",
            ],
        );
    }
}
