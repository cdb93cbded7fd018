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

// The deployment files run the app as production: the image sets
// APP_ENV=production (the roles refuse to start without APP_ENV), and so
// does every compose service that runs the binary.
func TestDeployFilesRunAsProduction(t *testing.T) {
	dockerfile, err := os.ReadFile("../../Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`(?m)^ENV APP_ENV=production$`).Match(dockerfile) {
		t.Error("the Dockerfile does not set ENV APP_ENV=production")
	}
	compose, err := os.ReadFile("../../docker-compose.yml")
	if err != nil {
		t.Fatal(err)
	}
	app := regexp.MustCompile(`(?ms)^x-app: &app\n(.*?)\n\S`).FindSubmatch(compose)
	if app == nil {
		t.Fatal("docker-compose.yml has no x-app anchor")
	}
	if !regexp.MustCompile(`(?m)^    APP_ENV: "?production"?$`).Match(app[1]) {
		t.Errorf("the x-app environment does not set APP_ENV: production:\n%s", app[1])
	}
	for _, role := range []string{"migrate", "web", "worker"} {
		svc := regexp.MustCompile(`(?ms)^  ` + role + `:\n(.*?)(\n  [a-z]|\n\S|\z)`).FindSubmatch(compose)
		if svc == nil {
			t.Errorf("docker-compose.yml has no %s service", role)
			continue
		}
		if !strings.Contains(string(svc[1]), "<<: *app") || strings.Contains(string(svc[1]), "APP_ENV") {
			t.Errorf("%s does not take x-app's environment as it is (APP_ENV=production):\n%s", role, svc[1])
		}
	}
}

// Every request reaches the compose file's web service through Docker's
// port publishing, from the network's gateway, so without TRUSTED_PROXIES
// every visitor shares one address and one attacker's failed sign-ins
// lock everyone out. The compose file passes it on, and requires it to be
// said (an address, or none).
func TestComposePassesTrustedProxies(t *testing.T) {
	compose, err := os.ReadFile("../../docker-compose.yml")
	if err != nil {
		t.Fatal(err)
	}
	app := regexp.MustCompile(`(?ms)^x-app: &app\n(.*?)\n\S`).FindSubmatch(compose)
	if app == nil {
		t.Fatal("docker-compose.yml has no x-app anchor")
	}
	if !regexp.MustCompile(`(?m)^    TRUSTED_PROXIES: \$\{TRUSTED_PROXIES:\?[^}]+\}$`).Match(app[1]) {
		t.Errorf("the x-app environment does not require TRUSTED_PROXIES (${TRUSTED_PROXIES:?...}):\n%s", app[1])
	}
}

// The Temporal UI's codec endpoint is called by the staff member's browser,
// with the Mobayilo session cookie (SameSite=Lax), so it decodes only when
// the endpoint is on the same site as the UI. The compose file's UI is on
// loopback (an SSH tunnel), so its default endpoint is web's loopback port
// too, never PUBLIC_BASE_URL (another site: the cookie is not sent and
// every payload stays encrypted).
func TestComposeCodecEndpointIsOnTheUIsSite(t *testing.T) {
	compose, err := os.ReadFile("../../docker-compose.yml")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?ms)^  temporal-ui:\n(.*?)\n  [a-z]`).FindSubmatch(compose)
	if m == nil {
		t.Fatal("docker-compose.yml has no temporal-ui service")
	}
	ui := string(m[1])
	endpoint := regexp.MustCompile(`(?m)^\s+TEMPORAL_CODEC_ENDPOINT: (.*)$`).FindStringSubmatch(ui)
	if endpoint == nil {
		t.Fatalf("temporal-ui has no TEMPORAL_CODEC_ENDPOINT:\n%s", ui)
	}
	if !regexp.MustCompile(`^\$\{TEMPORAL_CODEC_ENDPOINT:-http://127\.0\.0\.1:8080/admin/temporal-codec\}$`).MatchString(endpoint[1]) {
		t.Errorf("temporal-ui's codec endpoint %s: want ${TEMPORAL_CODEC_ENDPOINT:-http://127.0.0.1:8080/admin/temporal-codec}, on the UI's site (loopback)", endpoint[1])
	}
	// web's host ports are a range from 8080 (so it scales with --scale):
	// its first instance is on 8080, and every instance answers the codec.
	if !regexp.MustCompile(`- "127\.0\.0\.1:8080(-80[0-9][0-9])?:8080"`).Match(compose) {
		t.Error("web is not published on 127.0.0.1:8080, where the UI's codec endpoint points")
	}
	if !strings.Contains(string(compose), "TEMPORAL_UI_URL: ${TEMPORAL_UI_URL:-http://127.0.0.1:8233}") {
		t.Error("TEMPORAL_UI_URL's default is not the UI's loopback address (the one origin the codec endpoint answers CORS for)")
	}
}
