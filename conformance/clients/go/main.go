// Conformance client: makes ONE Lambda API call with the AWS SDK for Go v2
// (github.com/aws/aws-sdk-go-v2/service/lambda) and prints ONE JSON result line.
//
// The request is a JSON object on stdin (or the first argument), the same as
// for conformance/clients/js/lambda-call.mjs:
//
//	{"endpoint": "http://127.0.0.1:PORT", "op": "invoke", "FunctionName": "f", ...}
//
// Ops: invoke, invoke_stream, get_function_configuration, get_function,
// get_account_settings, list_versions_by_function, list_aliases,
// get_function_concurrency, get_function_event_invoke_config,
// get_function_url_config, list_functions, and two operations the host does
// not serve: get_policy, put_function_concurrency. "Payload" is the raw
// payload text; "PayloadSize": N sends a JSON document {"blob":"xxx…"} of
// exactly N bytes instead. Credentials: fixed dummy ones ("conformance"),
// unless the request gives "accessKeyId" and "secretAccessKey" (and
// optionally "sessionToken").
//
// On success: the SDK's output fields (Payload as UTF-8 text, ResultMetadata
// replaced by requestId). On failure:
//
//	{"error": {"name", "code", "modeled", "message", "requestId", "httpStatus",
//	           "fault", "retryAfterSeconds", "reason", "type"}}
//
// invoke_stream: {"StatusCode", "ExecutedVersion", "ResponseStreamContentType",
// "requestId", "headersMs", "events": [{"PayloadChunk": text, "ms"},
// {"InvokeComplete": {...}, "ms"}], "error"?}, ms counted from just before the
// request was sent; each event also goes to stderr as it arrives.
// The exit status is 0 whenever a result was printed, 2 for a bad request.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"reflect"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/aws/smithy-go"
	"github.com/aws/smithy-go/middleware"
)

type request struct {
	Endpoint                     string  `json:"endpoint"`
	Op                           string  `json:"op"`
	Region                       string  `json:"region"`
	TimeoutSeconds               int     `json:"timeoutSeconds"`
	FunctionName                 *string `json:"FunctionName"`
	Payload                      *string `json:"Payload"`
	PayloadSize                  int     `json:"PayloadSize"`
	InvocationType               string  `json:"InvocationType"`
	LogType                      string  `json:"LogType"`
	ClientContext                *string `json:"ClientContext"`
	Qualifier                    *string `json:"Qualifier"`
	TenantId                     *string `json:"TenantId"`
	ReservedConcurrentExecutions *int32  `json:"ReservedConcurrentExecutions"`
	AccessKeyID                  *string `json:"accessKeyId"`
	SecretAccessKey              *string `json:"secretAccessKey"`
	SessionToken                 string  `json:"sessionToken"`
}

type result = map[string]any

func main() {
	req, err := readRequest()
	if err == nil && (req.Endpoint == "" || req.Op == "") {
		err = errors.New(`the request needs "endpoint" and "op"`)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "lambda-call-go: bad request: %v\n", err)
		os.Exit(2)
	}
	timeout := time.Duration(req.TimeoutSeconds) * time.Second
	if timeout == 0 {
		timeout = 60 * time.Second
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()

	client := newClient(req)
	var out result
	switch req.Op {
	case "invoke_stream":
		out = invokeStream(ctx, client, req)
		// aws-sdk-go-v2's transport now and then closes the connection under a
		// stream it is still reading ("use of closed network connection" before
		// any event: aws/aws-sdk-go-v2#1825, #2737; the v1 SDK retries that
		// error). The invocations here are idempotent: try such a one once more.
		if brokeBeforeAnyEvent(out) {
			out = invokeStream(ctx, client, req)
			out["retriedAfterClosedConnection"] = true
		}
	default:
		var ok bool
		out, ok, err = call(ctx, client, req)
		if !ok {
			fmt.Fprintf(os.Stderr, "lambda-call-go: %v\n", err)
			os.Exit(2)
		}
		if err != nil {
			out = result{"error": describeError(err)}
		}
	}
	line, err := json.Marshal(out)
	if err != nil {
		fmt.Fprintf(os.Stderr, "lambda-call-go: cannot encode the result: %v\n", err)
		os.Exit(2)
	}
	os.Stdout.Write(append(line, '\n'))
}

func readRequest() (request, error) {
	var raw []byte
	if len(os.Args) > 1 {
		raw = []byte(os.Args[1])
	} else {
		var err error
		if raw, err = io.ReadAll(os.Stdin); err != nil {
			return request{}, err
		}
	}
	var req request
	err := json.Unmarshal(raw, &req)
	return req, err
}

func newClient(req request) *lambda.Client {
	region := req.Region
	if region == "" {
		region = "us-east-1"
	}
	// The fixed dummy credentials, unless the request names its own (a host
	// with access keys checks the signature made with them).
	creds := aws.Credentials{AccessKeyID: "conformance", SecretAccessKey: "conformance",
		SessionToken: req.SessionToken, Source: "conformance"}
	if req.AccessKeyID != nil {
		creds.AccessKeyID = *req.AccessKeyID
	}
	if req.SecretAccessKey != nil {
		creds.SecretAccessKey = *req.SecretAccessKey
	}
	return lambda.New(lambda.Options{
		Region:       region,
		BaseEndpoint: aws.String(req.Endpoint),
		Credentials: aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
			return creds, nil
		}),
		// No retries: every error reaches the caller.
		Retryer:          aws.NopRetryer{},
		RetryMaxAttempts: 1,
	})
}

func payloadOf(req request) []byte {
	if req.PayloadSize > 0 {
		head, tail := `{"blob":"`, `"}`
		return []byte(head + strings.Repeat("x", req.PayloadSize-len(head)-len(tail)) + tail)
	}
	if req.Payload == nil {
		return nil
	}
	return []byte(*req.Payload)
}

// call runs one non-streaming op; ok is false for an unknown op.
func call(ctx context.Context, c *lambda.Client, req request) (out result, ok bool, err error) {
	fn, q := req.FunctionName, req.Qualifier
	var v any
	switch req.Op {
	case "invoke":
		var o *lambda.InvokeOutput
		o, err = c.Invoke(ctx, &lambda.InvokeInput{
			FunctionName:   fn,
			Payload:        payloadOf(req),
			InvocationType: types.InvocationType(req.InvocationType),
			LogType:        types.LogType(req.LogType),
			ClientContext:  req.ClientContext,
			Qualifier:      q,
			TenantId:       req.TenantId,
		})
		if err == nil {
			out = result{
				"StatusCode":      o.StatusCode,
				"FunctionError":   o.FunctionError,
				"LogResult":       o.LogResult,
				"ExecutedVersion": o.ExecutedVersion,
				"Payload":         string(o.Payload),
				"requestId":       requestID(o.ResultMetadata),
			}
		}
		return out, true, err
	case "get_function_configuration":
		v, err = c.GetFunctionConfiguration(ctx, &lambda.GetFunctionConfigurationInput{FunctionName: fn, Qualifier: q})
	case "get_function":
		v, err = c.GetFunction(ctx, &lambda.GetFunctionInput{FunctionName: fn, Qualifier: q})
	case "get_account_settings":
		v, err = c.GetAccountSettings(ctx, &lambda.GetAccountSettingsInput{})
	case "list_versions_by_function":
		v, err = c.ListVersionsByFunction(ctx, &lambda.ListVersionsByFunctionInput{FunctionName: fn})
	case "list_aliases":
		v, err = c.ListAliases(ctx, &lambda.ListAliasesInput{FunctionName: fn})
	case "get_function_concurrency":
		v, err = c.GetFunctionConcurrency(ctx, &lambda.GetFunctionConcurrencyInput{FunctionName: fn})
	case "get_function_event_invoke_config":
		v, err = c.GetFunctionEventInvokeConfig(ctx, &lambda.GetFunctionEventInvokeConfigInput{FunctionName: fn, Qualifier: q})
	case "get_function_url_config":
		v, err = c.GetFunctionUrlConfig(ctx, &lambda.GetFunctionUrlConfigInput{FunctionName: fn, Qualifier: q})
	case "list_functions":
		v, err = c.ListFunctions(ctx, &lambda.ListFunctionsInput{})
	case "get_policy":
		v, err = c.GetPolicy(ctx, &lambda.GetPolicyInput{FunctionName: fn, Qualifier: q})
	case "put_function_concurrency":
		n := req.ReservedConcurrentExecutions
		if n == nil {
			n = aws.Int32(1)
		}
		v, err = c.PutFunctionConcurrency(ctx, &lambda.PutFunctionConcurrencyInput{FunctionName: fn, ReservedConcurrentExecutions: n})
	default:
		return nil, false, fmt.Errorf("unknown op %q", req.Op)
	}
	if err != nil {
		return nil, true, err
	}
	out, err = outputFields(v)
	return out, true, err
}

// outputFields is the SDK's output struct as a JSON object, its
// ResultMetadata replaced by the request id.
func outputFields(v any) (result, error) {
	raw, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	var out result
	if err := json.Unmarshal(raw, &out); err != nil {
		return nil, err
	}
	delete(out, "ResultMetadata")
	if md := reflect.ValueOf(v).Elem().FieldByName("ResultMetadata"); md.IsValid() {
		out["requestId"] = requestID(md.Interface().(middleware.Metadata))
	}
	return out, nil
}

func requestID(md middleware.Metadata) any {
	if id, ok := awsmiddleware.GetRequestIDMetadata(md); ok && id != "" {
		return id
	}
	return nil
}

func describeError(err error) result {
	e := result{"message": err.Error(), "requestId": nil, "httpStatus": nil, "modeled": false}
	var apiErr smithy.APIError
	if errors.As(err, &apiErr) {
		name := fmt.Sprintf("%T", apiErr)
		e["name"] = name[strings.LastIndex(name, ".")+1:]
		e["code"] = apiErr.ErrorCode()
		e["message"] = apiErr.ErrorMessage()
		e["fault"] = apiErr.ErrorFault().String()
		// A modelled error has its own type in the types package; any other
		// is a smithy.GenericAPIError.
		var generic *smithy.GenericAPIError
		e["modeled"] = !errors.As(err, &generic)
	} else {
		var inner error = err
		for errors.Unwrap(inner) != nil {
			inner = errors.Unwrap(inner)
		}
		name := fmt.Sprintf("%T", inner)
		e["name"] = name[strings.LastIndex(name, ".")+1:]
		e["code"] = nil
		e["sdkLevel"] = true // network, timeout, parsing
	}
	var respErr *awshttp.ResponseError
	if errors.As(err, &respErr) {
		if id := respErr.ServiceRequestID(); id != "" {
			e["requestId"] = id
		}
		if status := respErr.HTTPStatusCode(); status != 0 {
			e["httpStatus"] = status
		}
	}
	var throttle *types.TooManyRequestsException
	if errors.As(err, &throttle) {
		if throttle.RetryAfterSeconds != nil {
			e["retryAfterSeconds"] = *throttle.RetryAfterSeconds
		}
		e["reason"] = string(throttle.Reason)
		if throttle.Type != nil {
			e["type"] = *throttle.Type
		}
	}
	return e
}

// brokeBeforeAnyEvent: the stream failed on a locally closed connection
// before it delivered anything.
func brokeBeforeAnyEvent(out result) bool {
	e, _ := out["error"].(result)
	events, _ := out["events"].([]result)
	return e != nil && e["name"] == "errNetClosing" && len(events) == 0
}

func invokeStream(ctx context.Context, c *lambda.Client, req request) result {
	started := time.Now()
	ms := func() float64 { return float64(time.Since(started).Microseconds()/100) / 10 }
	o, err := c.InvokeWithResponseStream(ctx, &lambda.InvokeWithResponseStreamInput{
		FunctionName:   req.FunctionName,
		Payload:        payloadOf(req),
		InvocationType: types.ResponseStreamingInvocationType(req.InvocationType),
		LogType:        types.LogType(req.LogType),
		ClientContext:  req.ClientContext,
		Qualifier:      req.Qualifier,
		TenantId:       req.TenantId,
	})
	if err != nil {
		return result{"error": describeError(err)}
	}
	out := result{
		"headersMs":                 ms(),
		"StatusCode":                o.StatusCode,
		"ExecutedVersion":           o.ExecutedVersion,
		"ResponseStreamContentType": o.ResponseStreamContentType,
		"requestId":                 requestID(o.ResultMetadata),
	}
	events := []result{}
	stream := o.GetStream()
	defer stream.Close()
	for ev := range stream.Events() {
		var entry result
		switch v := ev.(type) {
		case *types.InvokeWithResponseStreamResponseEventMemberPayloadChunk:
			entry = result{"PayloadChunk": string(v.Value.Payload), "ms": ms()}
		case *types.InvokeWithResponseStreamResponseEventMemberInvokeComplete:
			entry = result{"InvokeComplete": result{
				"ErrorCode":    v.Value.ErrorCode,
				"ErrorDetails": v.Value.ErrorDetails,
				"LogResult":    v.Value.LogResult,
			}, "ms": ms()}
		default:
			entry = result{"unknown": fmt.Sprintf("%T", ev), "ms": ms()}
		}
		events = append(events, entry)
		if line, err := json.Marshal(entry); err == nil {
			fmt.Fprintln(os.Stderr, string(line))
		}
	}
	out["events"] = events
	if err := stream.Err(); err != nil {
		e := describeError(err)
		e["ms"] = ms()
		out["error"] = e
	}
	return out
}
