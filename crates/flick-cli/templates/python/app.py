"""{{name}}: a Lambda function run by the official Python runtime interface
client (awslambdaric). `flick invoke {{name}} --data '{"name":"you"}'`
answers {"message": "hello, you"}."""


def handler(event, context):
    name = (event or {}).get("name", "world")
    return {"message": f"hello, {name}"}
