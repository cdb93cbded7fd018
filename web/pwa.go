package web

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"text/template"
)

// The PWA: a manifest, and a small service worker whose jobs are to show
// the offline page when the network is gone and to keep the Voice SDK once
// the dialer asks (so a call starts without waiting for it). It never
// caches pages or balances: navigations always go to the network, and only
// the offline page and content-hashed assets are kept.

func (s *Server) showManifest(w http.ResponseWriter, r *http.Request) {
	icon := func(name, size, purpose string) map[string]string {
		p, _ := s.assets.Path(name)
		return map[string]string{"src": p, "sizes": size, "type": "image/png", "purpose": purpose}
	}
	svg, _ := s.assets.Path("icon.svg")
	body, err := json.Marshal(map[string]any{
		"id":               "/",
		"name":             "Mobayilo",
		"short_name":       "Mobayilo",
		"description":      "Call any phone in the world from your browser, paid from a prepaid wallet.",
		"start_url":        "/call",
		"scope":            "/",
		"display":          "standalone",
		"orientation":      "portrait",
		"background_color": "#f8fafc",
		"theme_color":      "#065f46",
		"icons": []any{
			icon("icon-192.png", "192x192", "any"),
			icon("icon-512.png", "512x512", "any"),
			icon("icon-512.png", "512x512", "maskable"),
			map[string]string{"src": svg, "sizes": "any", "type": "image/svg+xml"},
		},
	})
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "application/manifest+json")
	w.Header().Set("Cache-Control", "no-cache")
	w.Header().Add("Vary", "Accept-Encoding")
	// Every page's first load fetches it: gzipped, as the assets are.
	if gz := gzipBytes(body); gz != nil && acceptsGzip(r) {
		w.Header().Set("Content-Encoding", "gzip")
		body = gz
	}
	_, _ = w.Write(body)
}

var serviceWorker = template.Must(template.New("sw").Parse(`// Mobayilo's service worker: the offline page, and the content-hashed
// assets the page asks it to keep (the Voice SDK, once the dialer shows a
// number that can be called). Signed-in pages, balances and API answers
// are never cached.
const CACHE = "mobayilo-{{.Version}}";
const OFFLINE_URL = "/offline";
const PRECACHE = {{.Precache}};

self.addEventListener("install", (event) => {
  event.waitUntil(caches.open(CACHE).then((c) => c.addAll(PRECACHE)).then(() => self.skipWaiting()));
});

self.addEventListener("activate", (event) => {
  event.waitUntil(
    caches.keys()
      .then((keys) => Promise.all(keys.filter((k) => k !== CACHE).map((k) => caches.delete(k))))
      .then(() => self.clients.claim())
  );
});

// The dialer asks for the Voice SDK to be kept: only /assets/ (hashed,
// immutable) URLs are taken.
self.addEventListener("message", (event) => {
  const urls = ((event.data && event.data.precache) || []).filter((u) => typeof u === "string" && u.startsWith("/assets/"));
  if (urls.length > 0) {
    event.waitUntil(caches.open(CACHE).then((c) => c.addAll(urls)));
  }
});

self.addEventListener("fetch", (event) => {
  const request = event.request;
  if (request.method !== "GET") return;
  const url = new URL(request.url);
  if (url.origin !== self.location.origin) return;
  if (request.mode === "navigate") {
    event.respondWith(fetch(request).catch(() => caches.match(OFFLINE_URL)));
    return;
  }
  if (url.pathname.startsWith("/assets/")) {
    event.respondWith(caches.match(request).then((hit) => hit || fetch(request)));
  }
});
`))

func (s *Server) showServiceWorker(w http.ResponseWriter, r *http.Request) {
	precache := []string{"/offline"}
	for _, name := range []string{"app.css", "app.js", "icon.svg"} {
		p, err := s.assets.Path(name)
		if err != nil {
			s.serverError(w, r, err)
			return
		}
		precache = append(precache, p)
	}
	list, _ := json.Marshal(precache)
	sum := sha256.Sum256(list)
	var buf bytes.Buffer
	err := serviceWorker.Execute(&buf, map[string]string{"Version": hex.EncodeToString(sum[:6]), "Precache": string(list)})
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "text/javascript; charset=utf-8")
	w.Header().Set("Cache-Control", "no-cache")
	_, _ = buf.WriteTo(w)
}

// showOffline is rendered without a session, so it holds nobody's data.
func (s *Server) showOffline(w http.ResponseWriter, r *http.Request) {
	s.render(w, r, http.StatusOK, "offline", pageData{})
}

func (s *Server) showDevMail(w http.ResponseWriter, r *http.Request) {
	s.render(w, r, http.StatusOK, "devmail", pageData{Data: s.mailbox.Messages()})
}

// voiceSDK is the URL of the Voice SDK's bundle (voice-sdk.js), which the
// page imports to call and the dialer prefetches once it shows a number
// that can be called; "" when the build has none.
func (a *Assets) voiceSDK() string {
	p, err := a.Path("voice-sdk.js")
	if err != nil {
		return ""
	}
	return p
}
