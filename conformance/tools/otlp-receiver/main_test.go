package main

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"testing"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"
)

// One protobuf request through the handler: the reply must be a protobuf
// ExportTraceServiceResponse and the span must come out as the line pytest reads.
func TestProtobufRoundTrip(t *testing.T) {
	td := ptrace.NewTraces()
	rs := td.ResourceSpans().AppendEmpty()
	rs.Resource().Attributes().PutStr("service.name", "svc")
	ss := rs.ScopeSpans().AppendEmpty()
	ss.Scope().SetName("scope")
	s := ss.Spans().AppendEmpty()
	s.SetTraceID(pcommon.TraceID{0x57, 0x59, 0xe9, 0x88, 0xbd, 0x86, 0x2e, 0x3f, 0xe1, 0xbe, 0x46, 0xa9, 0x94, 0x27, 0x27, 0x93})
	s.SetSpanID(pcommon.SpanID{0x53, 0x99, 0x5c, 0x3f, 0x42, 0xcd, 0x8a, 0xd8})
	s.SetName("invoke")
	s.SetKind(ptrace.SpanKindServer)
	s.SetStartTimestamp(1)
	s.SetEndTimestamp(2)
	s.Status().SetCode(ptrace.StatusCodeError)
	s.Status().SetMessage("boom")
	s.Attributes().PutInt("n", 7)
	s.Events().AppendEmpty().SetName("exception")
	body, err := ptraceotlp.NewExportRequestFromTraces(td).MarshalProto()
	if err != nil {
		t.Fatal(err)
	}

	var out bytes.Buffer
	req := httptest.NewRequest(http.MethodPost, "/v1/traces", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/x-protobuf")
	rec := httptest.NewRecorder()
	newHandler(&out).ServeHTTP(rec, req)

	if rec.Code != http.StatusOK || rec.Header().Get("Content-Type") != "application/x-protobuf" {
		t.Fatalf("status %d, content type %q: %s", rec.Code, rec.Header().Get("Content-Type"), rec.Body)
	}
	if err := ptraceotlp.NewExportResponse().UnmarshalProto(rec.Body.Bytes()); err != nil {
		t.Fatalf("reply is not an ExportTraceServiceResponse: %v", err)
	}
	want := `{"trace_id":"5759e988bd862e3fe1be46a994272793","span_id":"53995c3f42cd8ad8","parent_span_id":"",` +
		`"name":"invoke","kind":"Server","start_unix_nano":1,"end_unix_nano":2,"status_code":"Error",` +
		`"status_message":"boom","attributes":{"n":7},"resource":{"service.name":"svc"},"scope":"scope",` +
		`"events":[{"name":"exception","attributes":{}}]}` + "\n"
	if out.String() != want {
		t.Fatalf("line\n got %s\nwant %s", out.String(), want)
	}
}
