//go:build benchsmoke

// The bench end to end with tiny counts: it starts the whole stack, so it
// is behind the benchsmoke build tag and out of `make test` and CI. Run it
// with `go test -tags benchsmoke -run TestSmoke ./internal/bench/` (the
// front end built first: `make assets`).

package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

func TestSmoke(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "mobayilo")
	build := exec.Command("go", "build", "-o", bin, "../../cmd/mobayilo")
	build.Stderr = os.Stderr
	if err := build.Run(); err != nil {
		t.Fatalf("build the binary: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	o := Defaults()
	o.Binary, o.Dir, o.Report = bin, filepath.Join(dir, "run"), filepath.Join(dir, "report.json")
	o.DatabaseURL = "postgres://postgres@127.0.0.1:5432/mobayilo_load_bench_smoke?sslmode=disable"
	o.Levels, o.Requests = []int{1, 2}, 4
	o.ChargeCalls, o.Burst, o.MixCalls, o.MixPurchases = 6, 6, 4, 4
	o.Sustain, o.SustainConcurrency = 6*time.Second, 2
	o.VoiceRequests, o.Settle = 3, time.Second
	o.ObserveRounds, o.ObserveRequests = 1, 4
	var out bytes.Buffer
	o.Out, o.Progress = &out, os.Stderr
	rep, err := Run(ctx, o)
	t.Log(out.String())
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"floor_c1", "post_calls_c1", "floor_c2", "post_calls_c2", "final_to_charge",
		"mix_post_calls_unloaded", "mix_purchase_unloaded", "burst_final_to_charge", "mix_post_calls_burst", "mix_purchase_burst",
		"sustained_post_calls", "auth_burst", "voice_r50_after_burst", "minimal_r50_after_burst", "voice_r100_settled", "minimal_r100_settled",
		"post_calls_observe_off", "post_calls_observe_on", "voice_observe_off", "voice_observe_on"}
	for _, k := range want {
		if r := rep.row(k); r.N == 0 {
			t.Errorf("row %s measured nothing (%d errors: %v)", k, r.Errors, r.ErrorKinds)
		}
	}
	if len(rep.Ratios) != len(o.Levels)+2+2*len(o.VoiceRates)+2 {
		t.Errorf("%d ratios", len(rep.Ratios))
	}
	if rep.Sustained == nil || rep.Sustained.Started == 0 {
		t.Errorf("(d) drove no call: %+v", rep.Sustained)
	}
	b, err := os.ReadFile(o.Report)
	if err != nil {
		t.Fatal(err)
	}
	var back Report
	if err := json.Unmarshal(b, &back); err != nil || len(back.Rows) != len(rep.Rows) {
		t.Fatalf("report file: %d rows, %v", len(back.Rows), err)
	}
}
