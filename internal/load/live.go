package load

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strconv"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
)

// liveWatch is one user's open page: the live stream (GET /live, through
// the load balancer when there are several web instances, so it sits on
// one instance while the webhooks that change the user's wallet land on
// any), reopened a second after it drops, as the page's EventSource does.
// It keeps the newest wallet version the stream showed.
type liveWatch struct {
	u *user

	mu      sync.Mutex
	version int64 // the newest [data-balance] version shown
	opens   int   // streams opened (more than one: it reconnected)
	// calls: each call's updates as the stream showed them.
	calls map[string][]liveSeen
}

// liveSeen is one update of a call the stream showed: when, and on which
// instance's stream, opened when.
type liveSeen struct {
	at, opened time.Time
	instance   string
}

var (
	// balanceVersion finds a wallet update's version in a stream line.
	balanceVersion = regexp.MustCompile(`targets="\[data-balance\]" version="(\d+)"`)
	// callUpdate finds a call's status update.
	callUpdate = regexp.MustCompile(`targets="\[data-call-status='([0-9a-f-]{36})'\]"`)
)

// watchLive opens u's live stream and keeps it open until ctx ends.
func (d *driver) watchLive(ctx context.Context, u *user) *liveWatch {
	w := &liveWatch{u: u, calls: map[string][]liveSeen{}}
	// A client of its own (the user's cookies, no timeout: a stream is
	// long), so the page's requests never wait behind it.
	jar, _ := cookiejar.New(nil)
	base, _ := url.Parse(u.base)
	jar.SetCookies(base, u.http.Jar.Cookies(base))
	c := &http.Client{Jar: jar}
	go func() {
		for ctx.Err() == nil {
			if done := w.stream(ctx, c); done {
				return
			}
			select {
			case <-ctx.Done():
			case <-time.After(time.Second):
			}
		}
	}()
	d.mu.Lock()
	d.live = append(d.live, w)
	d.mu.Unlock()
	return w
}

// stream reads one stream until it ends; done when the app said not to
// reconnect (204: the session is gone).
func (w *liveWatch) stream(ctx context.Context, c *http.Client) (done bool) {
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, w.u.base+"/live", nil)
	req.Header.Set("Accept", "text/event-stream")
	resp, err := c.Do(req)
	if err != nil {
		return false
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusNoContent {
		return true
	}
	if resp.StatusCode != http.StatusOK {
		return false
	}
	w.mu.Lock()
	w.opens++
	w.mu.Unlock()
	opened, instance := time.Now(), resp.Header.Get(instanceHeader)
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		if m := callUpdate.FindStringSubmatch(sc.Text()); m != nil {
			w.mu.Lock()
			w.calls[m[1]] = append(w.calls[m[1]], liveSeen{at: time.Now(), opened: opened, instance: instance})
			w.mu.Unlock()
		}
		if m := balanceVersion.FindStringSubmatch(sc.Text()); m != nil {
			v, _ := strconv.ParseInt(m[1], 10, 64)
			w.mu.Lock()
			if v > w.version {
				w.version = v
			}
			w.mu.Unlock()
		}
	}
	return false
}

// LiveFigures: what the open pages showed.
type LiveFigures struct {
	Pages int `json:"pages"` // users whose page kept the live stream open
	// Current: of them, those whose stream showed their wallet's last
	// version by the end (every charge and credit reached the page, on
	// whichever instance the stream was).
	Current    int `json:"current"`
	Reconnects int `json:"reconnects"` // streams reopened after one dropped (a web instance killed)
	// CrossInstance: calls of these users whose final status callback
	// another web instance took than the one holding the page's stream
	// (open since before the callback); CrossShown: of them, those whose
	// update the stream showed after the callback, pushed across instances
	// through Postgres's NOTIFY. The rest (a stream dropped by a kill just
	// then) are counted, and the wallet's check above still holds them.
	CrossInstance int `json:"cross_instance_calls"`
	CrossShown    int `json:"cross_instance_shown"`
}

// checkLive waits (up to limit) until every watched page shows its
// wallet's version in Postgres, then reports; a page still behind is a
// problem: a change the person would not see.
func checkLive(ctx context.Context, pool *pgxpool.Pool, pages []*liveWatch, calls []CallRecord, lb *balancer, limit time.Duration) (LiveFigures, []Problem) {
	f := LiveFigures{Pages: len(pages)}
	want := map[*liveWatch]int64{}
	for _, w := range pages {
		var v int64
		if err := pool.QueryRow(ctx, `SELECT a.live_version FROM accounts a JOIN users u ON u.id = a.user_id WHERE u.email = $1`, w.u.email).Scan(&v); err != nil {
			continue
		}
		want[w] = v
	}
	deadline := time.Now().Add(limit)
	for {
		behind := 0
		for w, v := range want {
			w.mu.Lock()
			if w.version < v {
				behind++
			}
			w.mu.Unlock()
		}
		if behind == 0 || time.Now().After(deadline) || ctx.Err() != nil {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	if lb != nil {
		byUser := map[string]*liveWatch{}
		for _, w := range pages {
			byUser[w.u.email] = w
		}
		for _, c := range calls {
			w := byUser[c.UserEmail]
			if w == nil || c.CallID == "" || c.FinalAt.IsZero() {
				continue
			}
			took := lb.finalCallbacks(c.CallID)
			w.mu.Lock()
			seen := w.calls[c.CallID]
			w.mu.Unlock()
			// The stream open when the final callback was taken.
			var stream *liveSeen
			for i := range seen {
				if seen[i].opened.Before(c.FinalAt) {
					stream = &seen[i]
				}
			}
			if stream == nil || len(took) == 0 || (len(took) == 1 && took[stream.instance]) {
				continue
			}
			f.CrossInstance++
			for _, x := range seen {
				if x.opened == stream.opened && !x.at.Before(c.FinalAt) {
					f.CrossShown++
					break
				}
			}
		}
	}
	var problems []Problem
	for _, w := range pages {
		w.mu.Lock()
		shown, opens := w.version, w.opens
		w.mu.Unlock()
		f.Reconnects += max(opens-1, 0)
		if v, ok := want[w]; ok && shown >= v {
			f.Current++
		} else if ok {
			problems = append(problems, Problem{Kind: "live", ID: w.u.email,
				Message: fmt.Sprintf("the live stream of %s shows wallet version %d, Postgres holds %d: a change never reached the page", w.u.email, shown, v)})
		}
	}
	return f, problems
}
