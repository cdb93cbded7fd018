package load

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// The load balancer sends each request to the next web instance, skips
// one that refuses connections (killed) without losing the request or its
// body, and streams a Server-Sent Events answer as it is written.
func TestBalancerSpreadsRequestsAndSkipsADeadInstance(t *testing.T) {
	var mu sync.Mutex
	hits := map[string]int{}
	backend := func(name string) *httptest.Server {
		return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/live" {
				w.Header().Set("Content-Type", "text/event-stream")
				_, _ = io.WriteString(w, "data: first\n\n")
				w.(http.Flusher).Flush()
				<-r.Context().Done()
				return
			}
			b, _ := io.ReadAll(r.Body)
			mu.Lock()
			hits[name]++
			mu.Unlock()
			_, _ = io.WriteString(w, name+":"+string(b))
		}))
	}
	a, b := backend("a"), backend("b")
	defer a.Close()
	defer b.Close()
	// A third instance that is down: its port refuses connections.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := l.Addr().String()
	l.Close()

	lb, err := startBalancer([]*instance{{addr: strings.TrimPrefix(a.URL, "http://")}, {addr: strings.TrimPrefix(b.URL, "http://")}, {addr: dead}})
	if err != nil {
		t.Fatal(err)
	}
	defer lb.close()
	for i := range 12 {
		resp, err := http.Post(lb.url+"/x", "text/plain", strings.NewReader("body"))
		if err != nil {
			t.Fatal(err)
		}
		got, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || !strings.HasSuffix(string(got), ":body") {
			t.Fatalf("request %d: %s %q", i, resp.Status, got)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if hits["a"] < 4 || hits["b"] < 4 || hits["a"]+hits["b"] != 12 {
		t.Errorf("spread %v: want both instances used, every request answered", hits)
	}

	resp, err := http.Get(lb.url + "/live")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	line := make(chan string, 1)
	go func() {
		s, _ := bufio.NewReader(resp.Body).ReadString('\n')
		line <- s
	}()
	select {
	case s := <-line:
		if s != "data: first\n" {
			t.Errorf("stream's first line %q", s)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the stream's first event was held back by the balancer")
	}
}
