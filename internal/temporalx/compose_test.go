package temporalx_test

import (
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/mobayilo/mobayilo/workflows"
)

// The compose deployment registers the search attributes itself: a
// workflow started with one it lacks is refused, so its list must name
// every attribute the code uses.
func TestComposeRegistersEverySearchAttribute(t *testing.T) {
	b, err := os.ReadFile("../../docker-compose.yml")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`for name in ([A-Za-z ]+); do`).FindSubmatch(b)
	if m == nil {
		t.Fatal("docker-compose.yml has no search-attribute loop")
	}
	listed := map[string]bool{}
	for _, n := range strings.Fields(string(m[1])) {
		listed[n] = true
	}
	for _, n := range workflows.SearchAttributeNames() {
		if !listed[n] {
			t.Errorf("docker-compose.yml does not register %s", n)
		}
	}
}

// The compose file's Temporal UI is read-only and reachable from loopback
// only: staff change workflows through the audited console.
func TestComposeTemporalUIIsReadOnlyOnLoopback(t *testing.T) {
	b, err := os.ReadFile("../../docker-compose.yml")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?ms)^  temporal-ui:\n(.*?)\n  [a-z]`).FindSubmatch(b)
	if m == nil {
		t.Fatal("docker-compose.yml has no temporal-ui service")
	}
	ui := string(m[1])
	if !regexp.MustCompile(`(?m)^\s+TEMPORAL_DISABLE_WRITE_ACTIONS: "?true"?$`).MatchString(ui) {
		t.Errorf("temporal-ui does not set TEMPORAL_DISABLE_WRITE_ACTIONS=true:\n%s", ui)
	}
	for _, p := range regexp.MustCompile(`(?m)^\s+- "([^"]+)"$`).FindAllStringSubmatch(ui, -1) {
		if !strings.HasPrefix(p[1], "127.0.0.1:") {
			t.Errorf("temporal-ui publishes %s beyond loopback", p[1])
		}
	}
}
