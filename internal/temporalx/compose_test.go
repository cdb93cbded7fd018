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
