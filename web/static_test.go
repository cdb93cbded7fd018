package web_test

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"
)

var cssLink = regexp.MustCompile(`href="(/assets/app\.[0-9a-f]{12}\.css)"`)

func TestAssetsAreHashedImmutableAndGzipped(t *testing.T) {
	a := newApp(t, nil)
	b := a.browser()
	page := b.get("/signin")
	m := cssLink.FindStringSubmatch(page.body)
	if m == nil {
		t.Fatalf("no hashed stylesheet link in the page")
	}
	req, _ := http.NewRequest(http.MethodGet, a.srv.URL+m[1], nil)
	req.Header.Set("Accept-Encoding", "gzip")
	r := b.do(req)
	if r.status != 200 || r.header.Get("Cache-Control") != "public, max-age=31536000, immutable" || r.header.Get("Content-Encoding") != "gzip" {
		t.Fatalf("asset: %d %v", r.status, r.header)
	}
	zr, err := gzip.NewReader(strings.NewReader(r.body))
	if err != nil {
		t.Fatal(err)
	}
	css, _ := io.ReadAll(zr)
	if !bytes.Contains(css, []byte(".btn")) {
		t.Fatal("the stylesheet does not hold the app's components")
	}
	// Revalidation by ETag.
	req, _ = http.NewRequest(http.MethodGet, a.srv.URL+m[1], nil)
	req.Header.Set("If-None-Match", r.header.Get("ETag"))
	if r := b.do(req); r.status != http.StatusNotModified {
		t.Fatalf("If-None-Match: %d", r.status)
	}
	if r := b.get("/assets/app.000000000000.css"); r.status != 404 {
		t.Fatalf("unknown hash: %d", r.status)
	}
}

func TestServiceWorkerNeverCachesPages(t *testing.T) {
	a := newApp(t, nil)
	r := a.browser().get("/sw.js")
	if r.status != 200 || !strings.HasPrefix(r.header.Get("Content-Type"), "text/javascript") || r.header.Get("Cache-Control") != "no-cache" {
		t.Fatalf("sw.js: %d %v", r.status, r.header)
	}
	// Navigations go to the network, falling back to the offline page only;
	// the only cache writes are the precache of the offline page and assets,
	// and the hashed assets the page asks for (the Voice SDK).
	for _, want := range []string{`request.mode === "navigate"`, `fetch(request).catch(() => caches.match(OFFLINE_URL))`, `"/offline"`,
		`u.startsWith("/assets/")`} {
		if !strings.Contains(r.body, want) {
			t.Errorf("sw.js lacks %s", want)
		}
	}
	if n := strings.Count(r.body, "cache.put") + strings.Count(r.body, ".put("); n != 0 {
		t.Errorf("sw.js writes responses into the cache (%d places)", n)
	}
	if offline := a.browser().get("/offline"); offline.status != 200 || !strings.Contains(offline.body, "You are offline") {
		t.Fatalf("offline page: %d", offline.status)
	}
}

func TestOfflinePageHoldsNoUserData(t *testing.T) {
	a := newApp(t, nil)
	b := a.browser()
	b.signUp("off@example.com", "correct horse", "Offline Olu")
	r := b.get("/offline")
	if strings.Contains(r.body, "Offline Olu") || strings.Contains(r.body, "balance-chip") {
		t.Fatal("the offline page (kept by the service worker) shows the signed-in user's data")
	}
}

func TestManifestIsInstallable(t *testing.T) {
	a := newApp(t, nil)
	b := a.browser()
	r := b.get("/manifest.webmanifest")
	if r.status != 200 || r.header.Get("Content-Type") != "application/manifest+json" {
		t.Fatalf("manifest: %d %v", r.status, r.header)
	}
	var m struct {
		Name     string `json:"name"`
		StartURL string `json:"start_url"`
		Display  string `json:"display"`
		Icons    []struct {
			Src   string `json:"src"`
			Sizes string `json:"sizes"`
		} `json:"icons"`
	}
	if err := json.Unmarshal([]byte(r.body), &m); err != nil {
		t.Fatal(err)
	}
	if m.Name != "Mobayilo" || m.StartURL != "/call" || m.Display != "standalone" {
		t.Fatalf("manifest %+v", m)
	}
	sizes := map[string]bool{}
	for _, icon := range m.Icons {
		if got := b.get(icon.Src); got.status != 200 {
			t.Errorf("icon %s: %d", icon.Src, got.status)
		}
		sizes[icon.Sizes] = true
	}
	if !sizes["192x192"] || !sizes["512x512"] {
		t.Fatalf("icon sizes %v", sizes)
	}
}

func TestDevMailListsTheResetLink(t *testing.T) {
	// Without a Mailer and without SMTP_HOST, development keeps mail at /dev/mail.
	a := newAppWithDevMailbox(t)
	b := a.browser()
	b.signUp("mail@example.com", "correct horse", "M")
	b.post("/password/forgot", url.Values{"email": {"mail@example.com"}})
	var r response
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if r = a.browser().get("/dev/mail"); strings.Contains(r.body, "Choose a new Mobayilo password") {
			break
		}
	}
	if r.status != 200 || !strings.Contains(r.body, "Choose a new Mobayilo password") || !strings.Contains(r.body, `href="http://`) {
		t.Fatalf("/dev/mail: %d\n%s", r.status, r.body)
	}
}

func TestNoDevMailInProductionShape(t *testing.T) {
	// With a real mailer configured, /dev/mail does not exist.
	a := newApp(t, nil)
	if r := a.browser().get("/dev/mail"); r.status != 404 {
		t.Fatalf("/dev/mail with a real mailer: %d", r.status)
	}
}

// The Voice SDK is a bundle of its own, named to signed-in pages (which
// import it to call, and prefetch it once a number can be called), never
// part of the first load.
func TestVoiceSDKIsABundleLoadedOnlyToCall(t *testing.T) {
	a := newApp(t, nil)
	b := a.browser()
	signedOut := b.get("/signin")
	if strings.Contains(signedOut.body, `name="voice-sdk"`) {
		t.Error("a signed-out page names the Voice SDK")
	}
	js := regexp.MustCompile(`src="(/assets/app\.[0-9a-f]{12}\.js)"`).FindStringSubmatch(signedOut.body)
	if js == nil {
		t.Fatal("no app.js")
	}
	app := b.get(js[1])
	if strings.Contains(app.body, "twilio.com/voice-sdk") || strings.Contains(app.body, "./chunks/") || len(app.body) > 200_000 {
		t.Fatalf("the first bundle carries the Voice SDK or loads chunks (%d bytes)", len(app.body))
	}
	b.signUp("sdk@example.com", "correct horse", "Sdk")
	page := b.get("/call")
	sdk := regexp.MustCompile(`<meta name="voice-sdk" content="(/assets/voice-sdk\.[0-9a-f]{12}\.js)">`).FindStringSubmatch(page.body)
	if sdk == nil {
		t.Fatal("the dialer does not name the Voice SDK's bundle")
	}
	r := b.get(sdk[1])
	if r.status != 200 || r.header.Get("Cache-Control") != "public, max-age=31536000, immutable" || !strings.Contains(r.body, "Device") {
		t.Fatalf("voice SDK %s: %d %v", sdk[1], r.status, r.header)
	}
}
