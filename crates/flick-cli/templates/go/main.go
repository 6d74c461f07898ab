// {{name}}: a Lambda function written with the official aws-lambda-go.
// `flick invoke {{name}} --data '{"name":"you"}'` answers {"message":"hello, you"}.
package main

import (
	"context"

	"github.com/aws/aws-lambda-go/lambda"
)

type request struct {
	Name string `json:"name"`
}

type response struct {
	Message string `json:"message"`
}

func handle(_ context.Context, r request) (response, error) {
	if r.Name == "" {
		r.Name = "world"
	}
	return response{Message: "hello, " + r.Name}, nil
}

func main() {
	lambda.Start(handle)
}
