package web_test

import (
	"net/http"
	"testing"
)

// A client cannot choose the id our logs file its request under: every
// request gets an id of ours, shown back in X-Request-Id.
func TestRequestIDIsOursNotTheClients(t *testing.T) {
	a := newApp(t, nil)
	b := a.browser()
	seen := map[string]bool{}
	for range 2 {
		req, _ := http.NewRequest(http.MethodGet, a.srv.URL+"/healthz", nil)
		req.Header.Set("X-Request-Id", "forged-id-from-the-client")
		r := b.do(req)
		id := r.header.Get("X-Request-Id")
		if id == "" || id == "forged-id-from-the-client" {
			t.Fatalf("X-Request-Id answered %q; want an id of our own", id)
		}
		if seen[id] {
			t.Fatalf("request id %q given twice", id)
		}
		seen[id] = true
	}
}
