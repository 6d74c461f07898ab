//! `flick::http` under a real Runtime API: each event source (HTTP API 2.0,
//! REST 1.0, ALB, Function URL) reaches the axum example as the same request,
//! its answer comes back in the source's own result shape, and an event that
//! is none of them is refused with what arrived. Needs feature `http`.
#![cfg(feature = "http")]

mod support;

use serde_json::{json, Value};
use support::{example, Function, RuntimeApiServer};

fn function(server: &RuntimeApiServer) -> Function {
    Function::start(example("example-http-axum", "example-http-axum"), server)
}

fn v2(method: &str, path: &str, query: &str, domain: &str) -> Value {
    json!({
        "version": "2.0", "routeKey": "$default", "rawPath": path, "rawQueryString": query,
        "headers": {"x-multi": "a,b", "user-agent": "test"},
        "requestContext": {
            "accountId": "123", "apiId": "api", "domainName": domain, "stage": "$default",
            "requestId": "gw-1", "routeKey": "$default",
            "http": {"method": method, "path": path, "protocol": "HTTP/1.1", "sourceIp": "203.0.113.9", "userAgent": "test"},
            "authorizer": {"jwt": {"claims": {"sub": "user-1"}, "scopes": null}}
        },
        "isBase64Encoded": false
    })
}

fn rest(method: &str, path: &str, stage: &str) -> Value {
    json!({
        "resource": "/items/{id}", "path": path, "httpMethod": method,
        "headers": {"x-multi": "b"}, "multiValueHeaders": {"x-multi": ["a", "b"]},
        "queryStringParameters": {"q": "x y"}, "multiValueQueryStringParameters": {"q": ["x y"]},
        "pathParameters": {"id": "7"},
        "requestContext": {
            "resourcePath": "/items/{id}", "httpMethod": method, "stage": stage, "requestId": "gw-2",
            "identity": {"sourceIp": "198.51.100.4"},
            "authorizer": {"claims": {"sub": "user-2"}}
        },
        "body": null, "isBase64Encoded": false
    })
}

fn alb(multi: bool) -> Value {
    let mut event = json!({
        "httpMethod": "GET", "path": "/items/9",
        "requestContext": {"elb": {"targetGroupArn": "arn:aws:elasticloadbalancing:us-east-1:123:targetgroup/t/1"}},
        "body": "", "isBase64Encoded": false
    });
    if multi {
        event["multiValueHeaders"] = json!({"x-forwarded-for": ["192.0.2.1, 10.0.0.1"]});
        event["multiValueQueryStringParameters"] = json!({"q": ["a%20b"]});
    } else {
        event["headers"] = json!({"x-forwarded-for": "192.0.2.1"});
        event["queryStringParameters"] = json!({"q": "a%20b"});
    }
    event
}

fn invoke(server: &RuntimeApiServer, event: &Value) -> Value {
    server.invoke(event.to_string().as_bytes()).json()
}

fn body(result: &Value) -> Value {
    serde_json::from_str(result["body"].as_str().expect("a text body")).expect("a JSON body")
}

#[test]
fn http_api_events_become_requests_and_results_payload_2() {
    let server = RuntimeApiServer::start();
    let _f = function(&server);
    let result = invoke(
        &server,
        &v2(
            "GET",
            "/items/42",
            "a=1&b=x%20y",
            "x.execute-api.us-east-1.amazonaws.com",
        ),
    );
    assert_eq!(result["statusCode"], 200);
    assert_eq!(result["headers"]["content-type"], "application/json");
    assert_eq!(result["isBase64Encoded"], false);
    assert_eq!(
        body(&result),
        json!({"id": "42", "query": {"a": "1", "b": "x y"}})
    );

    let result = invoke(
        &server,
        &v2(
            "GET",
            "/context",
            "",
            "x.execute-api.us-east-1.amazonaws.com",
        ),
    );
    let context = body(&result);
    assert_eq!(context["source"], "HttpApi");
    assert_eq!(context["sourceIp"], "203.0.113.9");
    assert_eq!(context["routeKey"], "$default");
    assert_eq!(context["stage"], "$default");
    assert_eq!(context["claims"], json!({"sub": "user-1"}));
    assert_eq!(context["lambdaRequestId"].as_str().unwrap().len(), 36);
}

#[test]
fn function_url_events_are_told_from_http_api_by_their_domain() {
    let server = RuntimeApiServer::start();
    let _f = function(&server);
    let result = invoke(
        &server,
        &v2("GET", "/context", "", "abc.lambda-url.us-east-1.on.aws"),
    );
    assert_eq!(body(&result)["source"], "FunctionUrl");
}

#[test]
fn rest_events_lose_the_stage_prefix_and_keep_multi_values_payload_1() {
    let server = RuntimeApiServer::start();
    let _f = function(&server);
    let result = invoke(&server, &rest("GET", "/prod/items/7", "prod"));
    assert_eq!(result["statusCode"], 200);
    assert_eq!(
        result["multiValueHeaders"]["content-type"],
        json!(["application/json"])
    );
    assert_eq!(body(&result), json!({"id": "7", "query": {"q": "x y"}}));

    let result = invoke(&server, &rest("GET", "/headers", "prod"));
    assert_eq!(body(&result), json!({"x-multi": ["a", "b"]}));
    assert_eq!(
        result["multiValueHeaders"]["x-reply"],
        json!(["one", "two"])
    );

    let context = body(&invoke(&server, &rest("GET", "/context", "prod")));
    assert_eq!(context["source"], "RestApi");
    assert_eq!(context["sourceIp"], "198.51.100.4");
    assert_eq!(context["routeKey"], "GET /items/{id}");
    assert_eq!(context["stage"], "prod");
    assert_eq!(context["claims"], json!({"sub": "user-2"}));
}

#[test]
fn alb_events_answer_in_the_header_form_they_came_in() {
    let server = RuntimeApiServer::start();
    let _f = function(&server);
    for multi in [false, true] {
        let result = invoke(&server, &alb(multi));
        assert_eq!(result["statusCode"], 200);
        assert_eq!(result["statusDescription"], "200 OK");
        assert_eq!(body(&result), json!({"id": "9", "query": {"q": "a b"}}));
        let headers = if multi {
            "multiValueHeaders"
        } else {
            "headers"
        };
        assert!(
            result[headers]["content-type"].is_string()
                || result[headers]["content-type"].is_array()
        );
    }
    let mut event = alb(true);
    event["path"] = json!("/context");
    let context = body(&invoke(&server, &event));
    assert_eq!(context["source"], "Alb");
    assert_eq!(context["sourceIp"], "192.0.2.1");
}

#[test]
fn an_unrecognised_event_is_refused_with_what_arrived() {
    let server = RuntimeApiServer::start();
    let _f = function(&server);
    let sqs = json!({"Records": [{"eventSource": "aws:sqs", "body": "x"}]});
    let outcome = server.invoke(sqs.to_string().as_bytes());
    let error = outcome.error();
    assert_eq!(error.body["errorType"], "UnrecognizedEvent");
    let message = error.body["errorMessage"].as_str().unwrap();
    assert!(
        message.contains("received an object with keys [Records]"),
        "{message}"
    );
    // The sandbox serves on.
    let result = invoke(&server, &v2("GET", "/hello", "", "x"));
    assert_eq!(result["body"], "hello");
}
