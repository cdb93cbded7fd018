package tracing

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"sort"
	"strings"
)

// Span is one span as TRACE_FILE holds it (the OpenTelemetry SDK's stdout
// exporter's JSON): enough to put traces back together.
type Span struct {
	Name    string
	TraceID string
	SpanID  string
	Parent  string // "" for a root span
	Service string
}

// Spans are spans read back from TRACE_FILEs.
type Spans []Span

// stdoutSpan is the part of the exporter's JSON a Span needs.
type stdoutSpan struct {
	Name        string
	SpanContext struct{ TraceID, SpanID string }
	Parent      struct{ TraceID, SpanID string }
	Resource    []struct {
		Key   string
		Value struct{ Value any }
	}
}

// noParent is the span ID of a root span's parent.
const noParent = "0000000000000000"

// Read reads one JSON span per line.
func Read(r io.Reader) (Spans, error) {
	var out Spans
	dec := json.NewDecoder(bufio.NewReader(r))
	for {
		var s stdoutSpan
		if err := dec.Decode(&s); err != nil {
			if errors.Is(err, io.EOF) {
				return out, nil
			}
			// A process killed mid-write leaves a torn last line.
			if errors.Is(err, io.ErrUnexpectedEOF) {
				return out, nil
			}
			return out, fmt.Errorf("tracing: read spans: %w", err)
		}
		sp := Span{Name: s.Name, TraceID: s.SpanContext.TraceID, SpanID: s.SpanContext.SpanID}
		if s.Parent.SpanID != noParent && s.Parent.SpanID != "" {
			sp.Parent = s.Parent.SpanID
		}
		for _, a := range s.Resource {
			if a.Key == "service.name" {
				sp.Service, _ = a.Value.Value.(string)
			}
		}
		out = append(out, sp)
	}
}

// ReadFiles reads every file that exists (a role that never ran wrote
// none).
func ReadFiles(paths ...string) (Spans, error) {
	var out Spans
	for _, p := range paths {
		f, err := os.Open(p)
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, err
		}
		s, err := Read(f)
		f.Close()
		if err != nil {
			return nil, fmt.Errorf("%s: %w", p, err)
		}
		out = append(out, s...)
	}
	return out, nil
}

// Summary is what a run's traces hold: for each kind of trace (named by
// its root span), how many there were and which spans, and of which
// services, most of them reached.
type Summary struct {
	Spans  int         `json:"spans"`
	Traces int         `json:"traces"`
	Roots  []RootTrace `json:"roots"`
}

// RootTrace is the traces that began at one root span name.
type RootTrace struct {
	Root   string `json:"root"`
	Traces int    `json:"traces"`
	// Services: the services a trace of this kind reached, with the share
	// of the traces that reached each.
	Services map[string]float64 `json:"services"`
	// Spans: every span name (Temporal's and the queries' too) with the
	// share of these traces holding it.
	Spans map[string]float64 `json:"spans"`
}

// Summary groups the spans by trace and each trace by its root span.
func (s Spans) Summary() *Summary {
	byTrace := map[string][]Span{}
	for _, sp := range s {
		byTrace[sp.TraceID] = append(byTrace[sp.TraceID], sp)
	}
	roots := map[string]*RootTrace{}
	for _, spans := range byTrace {
		root := ""
		for _, sp := range spans {
			if sp.Parent == "" {
				root = sp.Name
				break
			}
		}
		if root == "" {
			continue // its root was not written (a process killed before it flushed)
		}
		rt := roots[root]
		if rt == nil {
			rt = &RootTrace{Root: root, Services: map[string]float64{}, Spans: map[string]float64{}}
			roots[root] = rt
		}
		rt.Traces++
		services, names := map[string]bool{}, map[string]bool{}
		for _, sp := range spans {
			services[sp.Service], names[sp.Name] = true, true
		}
		for k := range services {
			rt.Services[k]++
		}
		for k := range names {
			rt.Spans[k]++
		}
	}
	out := &Summary{Spans: len(s), Traces: len(byTrace)}
	for _, rt := range roots {
		for k := range rt.Services {
			rt.Services[k] /= float64(rt.Traces)
		}
		for k := range rt.Spans {
			rt.Spans[k] /= float64(rt.Traces)
		}
		out.Roots = append(out.Roots, *rt)
	}
	sort.Slice(out.Roots, func(i, j int) bool { return out.Roots[i].Traces > out.Roots[j].Traces })
	return out
}

// Root is the traces that began at root (zero if none).
func (s *Summary) Root(root string) RootTrace {
	for _, r := range s.Roots {
		if r.Root == root {
			return r
		}
	}
	return RootTrace{Root: root}
}

// Reached is the share of the traces holding a span whose name begins
// with prefix (the first such name's share: names are unique per kind).
func (r RootTrace) Reached(prefix string) float64 {
	best := 0.0
	for name, share := range r.Spans {
		if strings.HasPrefix(name, prefix) && share > best {
			best = share
		}
	}
	return best
}

// Line describes these traces in a sentence: how many, and how many of
// them reached each of the given span name prefixes (a request refused
// early, or a duplicate the inbox dropped, reaches fewer).
func (r RootTrace) Line(prefixes ...string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d traces", r.Traces)
	for _, p := range prefixes {
		fmt.Fprintf(&b, "; %d reach %s", int(math.Round(r.Reached(p)*float64(r.Traces))), p)
	}
	return b.String()
}

// Paths are the traces the app promises, each a root span and the spans
// its traces reach: POST /calls through the update to the authorize
// activity's query and back; a status callback through the inbox to the
// workflow's signal handler; the voice webhook's claim and its signal.
// Also are hops some of its traces reach (an unanswered call's billing).
var Paths = []struct {
	Root  string
	Reach []string
	Also  []string
}{
	{"POST /calls", []string{"UpdateWithStartWorkflow:authorize", "HandleUpdate:authorize", "RunActivity:AuthorizeCall", "db AuthorizeCall"}, nil},
	{"POST /api/webhooks/twilio/voice", []string{"db ClaimCallAndStoreDial", "SignalWorkflow:dialed", "HandleSignal:dialed"}, nil},
	{"POST /api/webhooks/twilio/status", []string{"db StoreStatusCallback", "SignalWorkflow:twilio-status", "HandleSignal:twilio-status", "RunActivity:ChargeCall", "db PostEntry"},
		[]string{"RunActivity:MarkCallBilling"}},
}

// Lines describes the traces of every path in Paths that s holds.
func (s *Summary) Lines() []string {
	var out []string
	for _, p := range Paths {
		if r := s.Root(p.Root); r.Traces > 0 {
			out = append(out, p.Root+": "+r.Line(append(p.Reach, p.Also...)...))
		}
	}
	return out
}
