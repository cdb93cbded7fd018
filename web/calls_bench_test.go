package web_test

import (
	"context"
	"fmt"
	"net/http"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/mobayilo/mobayilo/internal/carrier"
	"github.com/mobayilo/mobayilo/workflows"
)

// BenchmarkCallWebhooks places 50 concurrent calls through the simulator
// (each callback delivered twice) per iteration, against the real router,
// Postgres, dev server and worker, and reports the voice and status
// webhooks' p50 and p99 answer times and the time until all 50 are billed.
//
//	go test -run '^$' -bench CallWebhooks -benchtime 3x ./web/
func BenchmarkCallWebhooks(b *testing.B) {
	e := newCallEnv(b)
	const calls = 50
	var mu sync.Mutex
	took := map[string][]time.Duration{}
	e.sim.Observe = func(path string, d time.Duration) {
		mu.Lock()
		took[path] = append(took[path], d)
		mu.Unlock()
	}
	browsers := make([]*browser, calls)
	for i := range browsers {
		browsers[i] = e.caller(fmt.Sprintf("bench%d@example.com", i), 100_000)
	}
	var billing []time.Duration
	b.ResetTimer()
	for range b.N {
		start := time.Now()
		var wg sync.WaitGroup
		for _, br := range browsers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				status, call := br.startCall("+234 803 123 4567")
				if status != http.StatusCreated {
					b.Errorf("POST /calls: %d %+v", status, call.Error)
					return
				}
				if _, err := e.sim.PlaceCall(context.Background(), call.Token, call.CallID, 61*time.Second, carrier.Faults{Copies: 2, Shuffle: true}); err != nil {
					b.Error(err)
					return
				}
				if st := e.finish(call.CallID); st.BillingState != workflows.BillingCharged {
					b.Errorf("call %s: %+v", call.CallID, st)
				}
			}()
		}
		wg.Wait()
		billing = append(billing, time.Since(start))
	}
	b.StopTimer()
	for path, name := range map[string]string{"/api/webhooks/twilio/voice": "voice", "/api/webhooks/twilio/status": "status"} {
		d := took[path]
		sort.Slice(d, func(i, j int) bool { return d[i] < d[j] })
		if len(d) == 0 {
			continue
		}
		b.ReportMetric(float64(d[len(d)/2].Microseconds())/1000, name+"-p50-ms")
		b.ReportMetric(float64(d[len(d)*99/100].Microseconds())/1000, name+"-p99-ms")
	}
	sort.Slice(billing, func(i, j int) bool { return billing[i] < billing[j] })
	b.ReportMetric(billing[len(billing)/2].Seconds(), "s/50-calls-billed")
}
