#!/usr/bin/env node
// Conformance client: makes ONE Lambda API call with the AWS SDK for
// JavaScript v3 (@aws-sdk/client-lambda) and prints ONE JSON result line.
//
// Request: a JSON object on stdin (or as the first argument):
//   {"endpoint": "http://127.0.0.1:PORT", "op": "invoke", "FunctionName": "f", ...}
// Ops: invoke, invoke_stream, big_invoke, get_function_configuration,
//   get_function, get_account_settings, list_versions_by_function,
//   list_aliases, get_function_concurrency, get_function_event_invoke_config,
//   get_function_url_config, list_functions, and two operations the host does
//   not serve: get_policy, put_function_concurrency.
// Payload: "Payload" is the raw payload text, sent as is; "PayloadSize": N
//   sends instead a JSON document {"blob":"xxx…"} of exactly N bytes.
// Credentials: fixed dummy ones ("conformance"), unless the request gives
//   "accessKeyId" and "secretAccessKey" (and optionally "sessionToken").
//
// Result on success: the SDK's parsed output fields (Payload decoded as UTF-8
// text, $metadata replaced by requestId). On failure:
//   {"error": {"name", "code", "modeled", "message", "requestId",
//              "httpStatus", "fault", "retryAfterSeconds", "reason", "type"}}
// The exit status is 0 whenever a result was printed, 2 for a bad request.
//
// invoke_stream prints {"StatusCode", "ExecutedVersion",
//   "ResponseStreamContentType", "requestId", "headersMs", "events": [
//   {"PayloadChunk": text, "ms"}, {"InvokeComplete": {ErrorCode, ErrorDetails,
//   LogResult}, "ms"}], "error"?} where ms counts from just before the request
//   was sent; each event is also written to stderr as it arrives.
//
// big_invoke: a 7 MB invoke, then a small one in the same process:
//   {"first": result, "second": result}.

import {
  LambdaClient,
  LambdaServiceException,
  InvokeCommand,
  InvokeWithResponseStreamCommand,
  GetFunctionConfigurationCommand,
  GetFunctionCommand,
  GetAccountSettingsCommand,
  ListVersionsByFunctionCommand,
  ListAliasesCommand,
  GetFunctionConcurrencyCommand,
  GetFunctionEventInvokeConfigCommand,
  GetFunctionUrlConfigCommand,
  ListFunctionsCommand,
  GetPolicyCommand,
  PutFunctionConcurrencyCommand,
} from "@aws-sdk/client-lambda";
import { readFileSync } from "node:fs";

const BIG_PAYLOAD = 7 * 1024 * 1024;

function readRequest() {
  const raw = process.argv[2] ?? readFileSync(0, "utf8");
  return JSON.parse(raw);
}

// The fixed dummy credentials, unless the request names its own (a host
// with access keys checks the signature made with them).
function credentialsOf(req) {
  const credentials = {
    accessKeyId: req.accessKeyId ?? "conformance",
    secretAccessKey: req.secretAccessKey ?? "conformance",
  };
  if (req.sessionToken !== undefined) credentials.sessionToken = req.sessionToken;
  return credentials;
}

function makeClient(req) {
  return new LambdaClient({
    endpoint: req.endpoint,
    region: req.region || "us-east-1",
    credentials: credentialsOf(req),
    maxAttempts: 1, // no retries: every error reaches the caller
    requestHandler: { connectionTimeout: 5000, requestTimeout: (req.timeoutSeconds || 60) * 1000 },
  });
}

function payloadOf(req) {
  if (req.PayloadSize !== undefined) {
    const head = '{"blob":"';
    const tail = '"}';
    return Buffer.from(head + "x".repeat(req.PayloadSize - head.length - tail.length) + tail);
  }
  if (req.Payload === undefined) return undefined;
  if (typeof req.Payload !== "string") throw new Error("Payload must be the payload's text");
  return Buffer.from(req.Payload, "utf8");
}

const text = (bytes) => (bytes === undefined ? null : new TextDecoder("utf-8").decode(bytes));

// The SDK's output with $metadata replaced by the request id.
function plain(out) {
  const { $metadata, ...rest } = out;
  return { ...rest, requestId: $metadata?.requestId ?? null };
}

function describeError(err) {
  const meta = err.$metadata || {};
  const e = {
    name: err.name ?? null,
    // The SDK keeps the wire error code as the error's name; Code if it sets one.
    code: err.Code ?? err.code ?? err.name ?? null,
    // A modelled error has its own class; an unmodelled one is the service's base class.
    modeled: err instanceof LambdaServiceException && err.constructor !== LambdaServiceException,
    class: err.constructor?.name ?? null,
    message: err.message ?? null,
    requestId: meta.requestId ?? null,
    httpStatus: meta.httpStatusCode ?? err.$response?.statusCode ?? null,
    fault: err.$fault ?? null,
  };
  if (err.retryAfterSeconds !== undefined) e.retryAfterSeconds = err.retryAfterSeconds;
  if (err.Reason !== undefined) e.reason = err.Reason;
  if (err.Type !== undefined) e.type = err.Type;
  if (!(err instanceof LambdaServiceException)) e.sdkLevel = true; // network, timeout, parsing
  return { error: e };
}

async function invoke(client, req) {
  const out = await client.send(
    new InvokeCommand({
      FunctionName: req.FunctionName,
      Payload: payloadOf(req),
      InvocationType: req.InvocationType,
      LogType: req.LogType,
      ClientContext: req.ClientContext,
      Qualifier: req.Qualifier,
      TenantId: req.TenantId,
    }),
  );
  return { ...plain(out), Payload: text(out.Payload) };
}

async function invokeStream(client, req) {
  const started = performance.now();
  const ms = () => Math.round((performance.now() - started) * 10) / 10;
  const result = { events: [] };
  let out;
  try {
    out = await client.send(
      new InvokeWithResponseStreamCommand({
        FunctionName: req.FunctionName,
        Payload: payloadOf(req),
        InvocationType: req.InvocationType,
        LogType: req.LogType,
        ClientContext: req.ClientContext,
        Qualifier: req.Qualifier,
        TenantId: req.TenantId,
      }),
    );
  } catch (err) {
    return describeError(err);
  }
  result.headersMs = ms();
  const { EventStream, ...rest } = plain(out);
  Object.assign(result, rest);
  try {
    for await (const ev of EventStream ?? []) {
      let entry;
      if (ev.PayloadChunk) entry = { PayloadChunk: text(ev.PayloadChunk.Payload ?? new Uint8Array()), ms: ms() };
      else if (ev.InvokeComplete) {
        const { ErrorCode = null, ErrorDetails = null, LogResult = null } = ev.InvokeComplete;
        entry = { InvokeComplete: { ErrorCode, ErrorDetails, LogResult }, ms: ms() };
      } else entry = { unknown: ev.$unknown ?? Object.keys(ev), ms: ms() };
      result.events.push(entry);
      process.stderr.write(JSON.stringify(entry) + "\n");
    }
  } catch (err) {
    result.error = describeError(err).error;
    result.error.ms = ms();
  }
  return result;
}

async function call(client, req) {
  const fn = { FunctionName: req.FunctionName };
  const q = req.Qualifier === undefined ? {} : { Qualifier: req.Qualifier };
  switch (req.op) {
    case "invoke":
      return invoke(client, req);
    case "get_function_configuration":
      return plain(await client.send(new GetFunctionConfigurationCommand({ ...fn, ...q })));
    case "get_function":
      return plain(await client.send(new GetFunctionCommand({ ...fn, ...q })));
    case "get_account_settings":
      return plain(await client.send(new GetAccountSettingsCommand({})));
    case "list_versions_by_function":
      return plain(await client.send(new ListVersionsByFunctionCommand(fn)));
    case "list_aliases":
      return plain(await client.send(new ListAliasesCommand(fn)));
    case "get_function_concurrency":
      return plain(await client.send(new GetFunctionConcurrencyCommand(fn)));
    case "get_function_event_invoke_config":
      return plain(await client.send(new GetFunctionEventInvokeConfigCommand({ ...fn, ...q })));
    case "get_function_url_config":
      return plain(await client.send(new GetFunctionUrlConfigCommand({ ...fn, ...q })));
    case "list_functions":
      return plain(await client.send(new ListFunctionsCommand({})));
    case "get_policy":
      return plain(await client.send(new GetPolicyCommand({ ...fn, ...q })));
    case "put_function_concurrency":
      return plain(
        await client.send(
          new PutFunctionConcurrencyCommand({ ...fn, ReservedConcurrentExecutions: req.ReservedConcurrentExecutions ?? 1 }),
        ),
      );
    default:
      throw new UsageError(`unknown op ${JSON.stringify(req.op)}`);
  }
}

class UsageError extends Error {}

async function settle(promise) {
  try {
    return await promise;
  } catch (err) {
    if (err instanceof UsageError) throw err;
    return describeError(err);
  }
}

async function main() {
  let req;
  try {
    req = readRequest();
    if (!req.endpoint || !req.op) throw new UsageError('the request needs "endpoint" and "op"');
  } catch (err) {
    process.stderr.write(`lambda-call: bad request: ${err.message}\n`);
    process.exit(2);
  }
  const client = makeClient(req);
  let result;
  try {
    if (req.op === "invoke_stream") result = await invokeStream(client, req);
    else if (req.op === "big_invoke") {
      const first = await settle(invoke(client, { ...req, Payload: undefined, PayloadSize: req.PayloadSize ?? BIG_PAYLOAD }));
      const second = await settle(invoke(client, { ...req, PayloadSize: undefined, Payload: req.Payload ?? '{"action":"echo","after":"big"}' }));
      result = { first, second };
    } else result = await settle(call(client, req));
  } catch (err) {
    process.stderr.write(`lambda-call: ${err.stack || err}\n`);
    process.exit(2);
  }
  process.stdout.write(JSON.stringify(result) + "\n");
  client.destroy();
}

main();
