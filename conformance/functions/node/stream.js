// Conformance fixture: response streaming with the official Node.js runtime
// interface client (awslambda.streamifyResponse), for the host's gateway.
// Routes by the event's rawPath:
//   /node/http  HTTP integration form (HttpResponseStream.from): 201, headers
//               and a cookie in the prelude, then "first\n", a 1.5 s pause,
//               "second\n"
//   /node/raw   no prelude: "raw-1\nraw-2\n" as text/plain, the stream is the body
//   /node/fail  prelude, "partial\n", then the handler throws
"use strict";

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

exports.handler = awslambda.streamifyResponse(async (event, responseStream) => {
  const path = event.rawPath;
  if (path === "/node/raw") {
    responseStream.setContentType("text/plain");
    responseStream.write("raw-1\n");
    responseStream.end("raw-2\n");
    return;
  }
  const http = awslambda.HttpResponseStream.from(responseStream, {
    statusCode: path === "/node/fail" ? 200 : 201,
    headers: { "content-type": "text/plain", "x-from": "node" },
    cookies: ["n=1"],
  });
  if (path === "/node/fail") {
    http.write("partial\n");
    await sleep(50);
    throw new Error("the source went away");
  }
  http.write("first\n");
  await sleep(1500);
  http.write("second\n");
  http.end();
});
