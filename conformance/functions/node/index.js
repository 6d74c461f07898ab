// Conformance fixture: the behaviours every conformance function implements,
// run by the official Node.js runtime interface client. Dispatches on event.action.
"use strict";

// aws-lambda-ric reports errorType = error.name, so this reports "CustomError".
class CustomError extends Error {
  constructor(message) {
    super(message);
    this.name = "CustomError";
  }
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

exports.handler = async (event, context) => {
  const action = event && typeof event === "object" && !Array.isArray(event) && event.action ? event.action : "echo";
  switch (action) {
    case "echo":
      return event;
    case "context":
      return {
        request_id: context.awsRequestId,
        invoked_function_arn: context.invokedFunctionArn,
        deadline_ms: Date.now() + context.getRemainingTimeInMillis(),
        remaining_ms: context.getRemainingTimeInMillis(),
        function_name: context.functionName,
        function_version: context.functionVersion,
        memory_limit_in_mb: Number(context.memoryLimitInMB),
        log_group_name: context.logGroupName,
        log_stream_name: context.logStreamName,
        client_context: context.clientContext === undefined ? null : context.clientContext,
        identity: context.identity === undefined ? null : context.identity,
        trace_id: process.env._X_AMZN_TRACE_ID || null,
      };
    case "env":
      return { ...process.env };
    case "error":
      throw new CustomError(event.message || "boom");
    case "error_plain":
      throw new Error(event.message || "boom");
    case "sleep":
      await sleep(event.ms || 0);
      return { slept_ms: event.ms || 0, pid: process.pid };
    case "crash":
      process.stdout.write("crashing on purpose\n");
      process.exit(1);
      break;
    case "oom": {
      // Allocate and touch 8 MiB blocks until the memory limit kills us (cap 4 GiB).
      const blocks = [];
      while (blocks.length * 8 < 4096) blocks.push(Buffer.allocUnsafe(8 << 20).fill(1));
      return { allocated_mb: blocks.length * 8 };
    }
    case "log": {
      const n = event.n || 0;
      const marker = event.marker || "MARK";
      for (let i = 0; i < n; i++) {
        process.stdout.write(`${marker} stdout ${i}\n`);
        process.stderr.write(`${marker} stderr ${i}\n`);
      }
      return { logged: n };
    }
    case "log_event":
      // One console.log of several lines: one log event through the telemetry
      // descriptor (`_LAMBDA_TELEMETRY_LOG_FD`), as on Lambda.
      console.log((event.lines || []).join("\n"));
      return { logged: true };
    case "pid":
      return {
        pid: process.pid,
        cwd: process.cwd(),
        init_type: process.env.AWS_LAMBDA_INITIALIZATION_TYPE === undefined ? null : process.env.AWS_LAMBDA_INITIALIZATION_TYPE,
      };
    default: {
      const err = new Error(`unknown action ${JSON.stringify(action)}`);
      err.name = "UnknownAction";
      throw err;
    }
  }
};
