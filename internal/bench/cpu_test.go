package bench

import (
	"os"
	"testing"
)

func TestParseStatReadsPpidAndTimesPastACommandWithSpaces(t *testing.T) {
	// A command may hold spaces and parentheses: the fields count from the last ')'.
	stat := []byte("4242 (post gres: x) y) S 17 4242 4242 0 -1 4194304 100 0 0 0 250 75 0 0 20 0 1 0 12345 0 0")
	ppid, ticks, ok := parseStat(stat)
	if !ok || ppid != 17 || ticks != 325 {
		t.Fatalf("parseStat = %d, %d, %v; want 17, 325, true", ppid, ticks, ok)
	}
	if _, _, ok := parseStat([]byte("4242 (short) S 1 2")); ok {
		t.Fatal("parseStat accepted a truncated line")
	}
}

func TestGroupsNameTheStacksProcessesOnly(t *testing.T) {
	m := &cpuMeter{self: 100, dbName: "mobayilo_load_bench"}
	cases := []struct {
		p          proc
		descendant bool
		want       string
	}{
		{proc{pid: 100}, false, "bench"},
		{proc{pid: 5, cmdline: []string{"postgres: postgres mobayilo_load_bench 127.0.0.1(5000) idle"}}, false, "postgres"},
		{proc{pid: 6, cmdline: []string{"postgres: postgres test 127.0.0.1(5001) idle"}}, false, ""},
		{proc{pid: 12, cmdline: []string{"postgres: 15/main: postgres mobayilo_load_bench 127.0.0.1(5002) idle"}}, false, "postgres"},
		{proc{pid: 13, cmdline: []string{"postgres: 15/main: checkpointer "}}, false, ""},
		{proc{pid: 7, cmdline: []string{"/work/main/bin/temporal", "server", "start-dev"}}, true, "temporal"},
		{proc{pid: 8, cmdline: []string{"/work/main/bin/temporal", "server", "start-dev"}}, false, ""}, // another's dev server
		{proc{pid: 9, cmdline: []string{"/work/main/bin/mobayilo", "web"}}, true, "web"},
		{proc{pid: 10, cmdline: []string{"/work/main/bin/mobayilo", "worker"}}, true, "worker"},
		{proc{pid: 11, cmdline: []string{"/work/main/bin/mobayilo", "worker"}}, false, ""},
	}
	for _, c := range cases {
		if got := m.group(c.p, c.descendant); got != c.want {
			t.Errorf("group(%v, %v) = %q, want %q", c.p.cmdline, c.descendant, got, c.want)
		}
	}
}

func TestPerRequestDividesEachGroupsTicks(t *testing.T) {
	before := map[string]int64{"temporal": 100, "web": 50, "worker": 20}
	after := map[string]int64{"temporal": 300, "web": 90, "worker": 10, "postgres": 40}
	got := perRequest(before, after, 10)
	// 200 ticks = 2,000 ms over 10 requests; a group that shrank (an exit) counts 0.
	want := map[string]float64{"temporal": 200, "web": 40, "worker": 0, "postgres": 40, "bench": 0, "total": 280}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %v, want %v", k, got[k], v)
		}
	}
	if perRequest(before, after, 0) != nil {
		t.Error("no requests, yet figures")
	}
}

func TestSampleSeesThisProcess(t *testing.T) {
	if _, err := os.Stat("/proc/self/stat"); err != nil {
		t.Skip("no /proc here")
	}
	m := newCPUMeter("postgres://x@127.0.0.1/none")
	// Spend some CPU so the bench group cannot read zero.
	x := 0
	for i := range 50_000_000 {
		x += i % 7
	}
	_ = x
	if m.sample()["bench"] <= 0 {
		t.Fatal("this process's CPU time not read")
	}
}
