package bench

import (
	"bytes"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// Where a row's time goes on the machine: the CPU each part of the stack
// used while the row ran, per request. Latency under concurrency on two
// cores follows the CPU a request costs everywhere (the Temporal server,
// web, worker, Postgres), so this is the row's profile, read from /proc:
// the processes this bench started (the dev server, web, worker: its
// descendants), the Postgres backends connected to the run's database, and
// the bench itself (which also runs the floor's worker and the minimal
// voice handler). A process that exits during a row loses its share; the
// stack's processes live the whole run. Linux only: elsewhere, no figures.

// cpuGroups are the groups, in the table's order.
var cpuGroups = []string{"temporal", "web", "worker", "postgres", "bench"}

// clockTicks is USER_HZ, the unit of /proc's times: 100 on every Linux
// architecture Go runs on.
const clockTicks = 100

// cpuMeter samples the groups' CPU time.
type cpuMeter struct {
	self   int
	dbName string // Postgres backends of this database count
}

func newCPUMeter(databaseURL string) *cpuMeter {
	m := &cpuMeter{self: os.Getpid()}
	if u, err := url.Parse(databaseURL); err == nil {
		m.dbName = strings.TrimPrefix(u.Path, "/")
	}
	return m
}

// proc is what /proc/<pid>/stat and cmdline say of one process.
type proc struct {
	pid, ppid int
	ticks     int64 // utime + stime
	cmdline   []string
}

// parseStat reads /proc/<pid>/stat's ppid, utime and stime. The second
// field (the command, in parentheses) may itself hold spaces and ')'.
func parseStat(b []byte) (ppid int, ticks int64, ok bool) {
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, 0, false
	}
	f := strings.Fields(string(b[i+1:]))
	// After the command: state(3) ppid(4) ... utime(14) stime(15).
	if len(f) < 13 {
		return 0, 0, false
	}
	ppid, err1 := strconv.Atoi(f[1])
	ut, err2 := strconv.ParseInt(f[11], 10, 64)
	st, err3 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil || err3 != nil {
		return 0, 0, false
	}
	return ppid, ut + st, true
}

func readProcs() []proc {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	var ps []proc
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		ppid, ticks, ok := parseStat(b)
		if !ok {
			continue
		}
		cl, _ := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		ps = append(ps, proc{pid: pid, ppid: ppid, ticks: ticks, cmdline: strings.Split(strings.TrimRight(string(cl), "\x00"), "\x00")})
	}
	return ps
}

// group names the group a process belongs to, or "".
func (m *cpuMeter) group(p proc, descendant bool) string {
	if p.pid == m.self {
		return "bench"
	}
	if len(p.cmdline) == 0 {
		return ""
	}
	// A backend's title: "postgres: [CLUSTER: ]USER DATABASE HOST(PORT)
	// STATE" (Debian names the cluster, "15/main:").
	if t := strings.Fields(p.cmdline[0]); len(t) >= 3 && t[0] == "postgres:" {
		t = t[1:]
		if strings.HasSuffix(t[0], ":") {
			t = t[1:]
		}
		if len(t) >= 2 && m.dbName != "" && t[1] == m.dbName {
			return "postgres"
		}
		return ""
	}
	if !descendant {
		return ""
	}
	base := filepath.Base(p.cmdline[0])
	switch {
	case strings.HasPrefix(base, "temporal"):
		return "temporal"
	case len(p.cmdline) > 1 && (p.cmdline[1] == "web" || p.cmdline[1] == "worker"):
		return p.cmdline[1]
	}
	return ""
}

// sample is each group's CPU time so far, in ticks.
func (m *cpuMeter) sample() map[string]int64 {
	ps := readProcs()
	parent := make(map[int]int, len(ps))
	for _, p := range ps {
		parent[p.pid] = p.ppid
	}
	descends := func(pid int) bool {
		for i := 0; i < 64 && pid > 1; i++ {
			pid = parent[pid]
			if pid == m.self {
				return true
			}
		}
		return false
	}
	out := map[string]int64{}
	for _, p := range ps {
		if g := m.group(p, descends(p.pid)); g != "" {
			out[g] += p.ticks
		}
	}
	return out
}

// perRequest turns two samples into CPU milliseconds per request, by
// group, with their total; nil when nothing was measured.
func perRequest(before, after map[string]int64, requests int) map[string]float64 {
	if requests <= 0 || before == nil || after == nil {
		return nil
	}
	out := map[string]float64{}
	var total float64
	for _, g := range cpuGroups {
		d := after[g] - before[g]
		if d < 0 {
			d = 0 // a process of the group exited
		}
		ms := float64(d) * 1000 / clockTicks / float64(requests)
		out[g] = ms
		total += ms
	}
	out["total"] = total
	return out
}

// cpuCell prints a row's CPU per request: "total (temporal a, web b, ...)".
func cpuCell(c map[string]float64) string {
	if c == nil {
		return "-"
	}
	parts := make([]string, 0, len(cpuGroups))
	for _, g := range cpuGroups {
		parts = append(parts, fmt.Sprintf("%s %.1f", g, c[g]))
	}
	return fmt.Sprintf("%.1f (%s)", c["total"], strings.Join(parts, ", "))
}
