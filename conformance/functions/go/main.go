// Conformance fixture: the behaviours every conformance function implements,
// written against the official aws-lambda-go runtime. Dispatches on event.action.
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambdacontext"
)

// CustomError is reported by aws-lambda-go with errorType "CustomError" (its type name).
type CustomError struct{ Message string }

func (e *CustomError) Error() string { return e.Message }

func str(event map[string]interface{}, key, def string) string {
	if v, ok := event[key].(string); ok {
		return v
	}
	return def
}

func num(event map[string]interface{}, key string) int64 {
	if v, ok := event[key].(float64); ok {
		return int64(v)
	}
	return 0
}

func handle(ctx context.Context, raw json.RawMessage) (interface{}, error) {
	var event map[string]interface{}
	_ = json.Unmarshal(raw, &event) // non-object payloads are simply echoed
	action := str(event, "action", "echo")
	switch action {
	case "echo":
		return raw, nil
	case "context":
		lc, _ := lambdacontext.FromContext(ctx)
		deadline, _ := ctx.Deadline()
		var clientContext, identity interface{}
		if lc.ClientContext.Client.InstallationID != "" || len(lc.ClientContext.Custom) > 0 || len(lc.ClientContext.Env) > 0 {
			clientContext = lc.ClientContext
		}
		if lc.Identity.CognitoIdentityID != "" || lc.Identity.CognitoIdentityPoolID != "" {
			identity = lc.Identity
		}
		traceID, _ := ctx.Value("x-amzn-trace-id").(string)
		if traceID == "" {
			traceID = os.Getenv("_X_AMZN_TRACE_ID")
		}
		return map[string]interface{}{
			"request_id":           lc.AwsRequestID,
			"invoked_function_arn": lc.InvokedFunctionArn,
			"deadline_ms":          deadline.UnixMilli(),
			"remaining_ms":         time.Until(deadline).Milliseconds(),
			"function_name":        lambdacontext.FunctionName,
			"function_version":     lambdacontext.FunctionVersion,
			"memory_limit_in_mb":   lambdacontext.MemoryLimitInMB,
			"log_group_name":       lambdacontext.LogGroupName,
			"log_stream_name":      lambdacontext.LogStreamName,
			"client_context":       clientContext,
			"identity":             identity,
			"trace_id":             traceID,
		}, nil
	case "env":
		env := map[string]string{}
		for _, kv := range os.Environ() {
			if i := strings.IndexByte(kv, '='); i >= 0 {
				env[kv[:i]] = kv[i+1:]
			}
		}
		return env, nil
	case "error":
		return nil, &CustomError{Message: str(event, "message", "boom")}
	case "error_plain":
		return nil, fmt.Errorf("%s", str(event, "message", "boom"))
	case "sleep":
		ms := num(event, "ms")
		time.Sleep(time.Duration(ms) * time.Millisecond)
		return map[string]interface{}{"slept_ms": ms, "pid": os.Getpid()}, nil
	case "crash":
		fmt.Println("crashing on purpose")
		os.Exit(1)
	case "oom":
		// Allocate and touch 8 MiB blocks until the memory limit kills us (cap 4 GiB).
		var blocks [][]byte
		const block = 8 << 20
		for len(blocks)*block < 4096<<20 {
			b := make([]byte, block)
			for i := 0; i < block; i += 4096 {
				b[i] = 1
			}
			blocks = append(blocks, b)
		}
		return map[string]interface{}{"allocated_mb": len(blocks) * 8}, nil
	case "log":
		n := num(event, "n")
		marker := str(event, "marker", "MARK")
		for i := int64(0); i < n; i++ {
			fmt.Fprintf(os.Stdout, "%s stdout %d\n", marker, i)
			fmt.Fprintf(os.Stderr, "%s stderr %d\n", marker, i)
		}
		return map[string]interface{}{"logged": n}, nil
	case "pid":
		cwd, _ := os.Getwd()
		var initType interface{}
		if v, ok := os.LookupEnv("AWS_LAMBDA_INITIALIZATION_TYPE"); ok {
			initType = v
		}
		return map[string]interface{}{"pid": os.Getpid(), "cwd": cwd, "init_type": initType}, nil
	}
	return nil, &UnknownAction{action}
}

// UnknownAction is returned for an action this fixture does not implement.
type UnknownAction struct{ Action string }

func (e *UnknownAction) Error() string { return "unknown action " + e.Action }

func main() {
	lambda.Start(handle)
}
