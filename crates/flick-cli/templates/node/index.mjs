// {{name}}: a Lambda function run by the official Node.js runtime interface
// client (aws-lambda-ric). `flick invoke {{name}} --data '{"name":"you"}'`
// answers {"message":"hello, you"}.
export const handler = async (event) => ({ message: `hello, ${event?.name ?? "world"}` });
