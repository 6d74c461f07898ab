// Command otlp-receiver is a stand-in for an OpenTelemetry Collector's
// OTLP/HTTP trace receiver in Flick's conformance tests: the Collector's
// released binary cannot be fetched here, so the tests run this instead. It
// decodes requests with the Collector's own pdata module, so it accepts what a
// real Collector accepts, and writes each span as one JSON line that pytest
// can read without an OTLP decoder of its own.
package main

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log"
	"mime"
	"net"
	"net/http"
	"os"
	"sync"

	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"
)

type event struct {
	Name       string         `json:"name"`
	Attributes map[string]any `json:"attributes"`
}

type spanLine struct {
	TraceID       string         `json:"trace_id"`
	SpanID        string         `json:"span_id"`
	ParentSpanID  string         `json:"parent_span_id"`
	Name          string         `json:"name"`
	Kind          string         `json:"kind"`
	StartUnixNano uint64         `json:"start_unix_nano"`
	EndUnixNano   uint64         `json:"end_unix_nano"`
	StatusCode    string         `json:"status_code"`
	StatusMessage string         `json:"status_message"`
	Attributes    map[string]any `json:"attributes"`
	Resource      map[string]any `json:"resource"`
	Scope         string         `json:"scope"`
	Events        []event        `json:"events"`
}

// newHandler returns the receiver's HTTP handler; spans go to out, one JSON
// object per line.
func newHandler(out io.Writer) http.Handler {
	var mu sync.Mutex // requests arrive concurrently; keep their lines whole
	mux := http.NewServeMux()
	// The method in the pattern makes ServeMux answer 405 for other methods
	// on this path and 404 for every other path, as the spec asks.
	mux.HandleFunc("POST /v1/traces", func(w http.ResponseWriter, r *http.Request) {
		// Parse rather than compare, so "application/json; charset=utf-8" works.
		mediaType, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
		req, resp := ptraceotlp.NewExportRequest(), ptraceotlp.NewExportResponse()
		// The exporter decodes the reply in the encoding it sent.
		encoding, unmarshal, marshal := "protobuf", req.UnmarshalProto, resp.MarshalProto
		if mediaType == "application/json" {
			encoding, unmarshal, marshal = "json", req.UnmarshalJSON, resp.MarshalJSON
		} else if mediaType != "application/x-protobuf" {
			http.Error(w, "unsupported content type: "+r.Header.Get("Content-Type"), http.StatusUnsupportedMediaType)
			return
		}
		var body io.Reader = r.Body
		switch r.Header.Get("Content-Encoding") {
		case "", "identity":
		case "gzip":
			zr, err := gzip.NewReader(r.Body)
			if err != nil {
				http.Error(w, "bad gzip body: "+err.Error(), http.StatusBadRequest)
				return
			}
			body = zr
		default:
			http.Error(w, "unsupported content encoding", http.StatusUnsupportedMediaType)
			return
		}
		data, err := io.ReadAll(body)
		if err != nil {
			http.Error(w, "reading body: "+err.Error(), http.StatusBadRequest)
			return
		}
		if err := unmarshal(data); err != nil {
			http.Error(w, "cannot decode "+encoding+" ExportTraceServiceRequest: "+err.Error(), http.StatusBadRequest)
			return
		}

		// Encode the whole request before writing, so one Write per request
		// puts its lines in the file before the client sees the response.
		var buf bytes.Buffer
		enc := json.NewEncoder(&buf)
		td := req.Traces()
		for _, rs := range td.ResourceSpans().All() {
			resource := rs.Resource().Attributes().AsRaw()
			for _, ss := range rs.ScopeSpans().All() {
				for _, s := range ss.Spans().All() {
					events := make([]event, 0, s.Events().Len())
					for _, e := range s.Events().All() {
						events = append(events, event{e.Name(), e.Attributes().AsRaw()})
					}
					err := enc.Encode(spanLine{
						s.TraceID().String(), s.SpanID().String(), s.ParentSpanID().String(),
						s.Name(), s.Kind().String(), uint64(s.StartTimestamp()), uint64(s.EndTimestamp()),
						s.Status().Code().String(), s.Status().Message(), s.Attributes().AsRaw(),
						resource, ss.Scope().Name(), events,
					})
					if err != nil {
						http.Error(w, "encoding span: "+err.Error(), http.StatusInternalServerError)
						return
					}
				}
			}
		}
		mu.Lock()
		_, err = out.Write(buf.Bytes())
		mu.Unlock()
		if err != nil {
			http.Error(w, "writing spans: "+err.Error(), http.StatusInternalServerError)
			return
		}
		log.Printf("received %d spans (%s)", td.SpanCount(), encoding)
		reply, err := marshal()
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", mediaType)
		w.Write(reply)
	})
	return mux
}

func main() {
	listen := flag.String("listen", "127.0.0.1:0", "address to listen on")
	outPath := flag.String("out", "", "JSON-lines file that received spans are appended to (required)")
	flag.Parse()
	log.SetFlags(0)
	if *outPath == "" {
		log.Fatal("otlp-receiver: -out is required")
	}
	out, err := os.OpenFile(*outPath, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		log.Fatal(err)
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		log.Fatal(err)
	}
	// Tests start us on port 0 and read this line to learn the real port.
	fmt.Printf("listening on %s\n", ln.Addr())
	log.Fatal(http.Serve(ln, newHandler(out)))
}
