package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/mobayilo/mobayilo/internal/carrier"
	"github.com/mobayilo/mobayilo/internal/config"
	"github.com/mobayilo/mobayilo/internal/ledger"
)

// app is the stack under measurement, seen from outside: its web role over
// HTTP, its database, and the carrier simulator that plays Twilio to it.
type app struct {
	webURL  string
	cfg     config.Config // secrets the simulators sign with, PUBLIC_BASE_URL
	pool    *pgxpool.Pool
	carrier *carrier.Simulator
	// transport is shared by every simulated person: each has its own
	// cookies, and connections are reused as a browser's would be.
	transport *http.Transport
	runID     string // in every email, so runs on one database never collide
}

func newTransport() *http.Transport {
	return &http.Transport{
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:        2000,
		MaxIdleConnsPerHost: 2000,
		IdleConnTimeout:     90 * time.Second,
	}
}

// user is one simulated person, signed in, with a wallet in credit.
type user struct {
	email     string
	id        uuid.UUID
	accountID uuid.UUID
	http      *http.Client
	// packages not yet bought by this user in this run: a second purchase
	// of one amount within the payment timeout goes back to the open top-up
	// (no workflow), which would measure nothing.
	mu       sync.Mutex
	packages []int64
}

// creditCents is each user's balance: far more than the run's calls cost,
// and enough for MAX_CALL_SECONDS at any rate of the sample deck.
const creditCents = 100_00

// signUp creates a person through the real sign-up form (which signs them
// in) and credits their wallet through the ledger.
func (a *app) signUp(ctx context.Context, n int) (*user, error) {
	jar, _ := cookiejar.New(nil)
	u := &user{email: fmt.Sprintf("bench-%s-%d@bench.example.com", a.runID, n),
		http: &http.Client{Jar: jar, Transport: a.transport, Timeout: 60 * time.Second,
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }},
		packages: append([]int64(nil), a.cfg.TopUpPackages...)}
	form := url.Values{"email": {u.email}, "password": {"bench password " + a.runID}, "display_name": {"Bench " + strconv.Itoa(n)}, "home_country": {"NG"}}
	var last string
	for attempt := 0; ; attempt++ {
		status, _, err := u.post(ctx, a.webURL, "/signup", form)
		if err == nil && status == http.StatusSeeOther {
			break
		}
		last = fmt.Sprintf("%d %v", status, err)
		if attempt >= 5 || ctx.Err() != nil {
			return nil, fmt.Errorf("bench: sign up %s: %s", u.email, last)
		}
		time.Sleep(time.Second)
	}
	err := a.pool.QueryRow(ctx, `SELECT u.id, a.id FROM users u JOIN accounts a ON a.user_id = u.id WHERE u.email = $1`, u.email).Scan(&u.id, &u.accountID)
	if err != nil {
		return nil, fmt.Errorf("bench: find %s: %w", u.email, err)
	}
	_, err = ledger.New(a.pool).Post(ctx, ledger.Entry{Key: "bench:credit:" + u.id.String(), AccountID: u.accountID,
		Kind: ledger.Bonus, AmountCents: creditCents, Memo: "mobayilo bench: credit to call with"})
	if err != nil {
		return nil, fmt.Errorf("bench: credit %s: %w", u.email, err)
	}
	return u, nil
}

// takePackage is a package this user has not bought yet in this run.
func (u *user) takePackage() (int64, bool) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if len(u.packages) == 0 {
		return 0, false
	}
	p := u.packages[0]
	u.packages = u.packages[1:]
	return p, true
}

// post sends a form as the person's browser would and returns the status
// and the Location.
func (u *user) post(ctx context.Context, base, path string, form url.Values) (int, string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+path, strings.NewReader(form.Encode()))
	if err != nil {
		return 0, "", err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	browserHeaders(req, base)
	resp, err := u.http.Do(req)
	if err != nil {
		return 0, "", err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, resp.Header.Get("Location"), nil
}

func browserHeaders(req *http.Request, base string) {
	req.Header.Set("Origin", base)
	req.Header.Set("Sec-Fetch-Site", "same-origin")
}

// startedCall is POST /calls's answer.
type startedCall struct {
	CallID     string `json:"call_id"`
	Token      string `json:"token"`
	MaxSeconds int64  `json:"max_seconds"`
	Error      *struct {
		Code string `json:"code"`
	} `json:"error"`
}

// errStatus is an answer other than the one asked for.
type errStatus struct {
	status int
	code   string
}

func (e *errStatus) Error() string {
	if e.code != "" {
		return fmt.Sprintf("HTTP %d %s", e.status, e.code)
	}
	return fmt.Sprintf("HTTP %d", e.status)
}

// errorKind names an error for the table: "503", "409 call_in_progress",
// "timeout", "transport".
func errorKind(err error) string {
	var es *errStatus
	var ne net.Error
	switch {
	case errors.As(err, &es):
		if es.code != "" {
			return strconv.Itoa(es.status) + " " + es.code
		}
		return strconv.Itoa(es.status)
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		return "timeout"
	case errors.Is(err, errNoDial):
		return "no <Dial>"
	}
	return "transport"
}

// startCall is POST /calls: the person taps Call. It returns the answer
// and how long it took (request sent to body read); any answer but 201 is
// an error.
func (a *app) startCall(ctx context.Context, u *user, number string) (startedCall, time.Duration, error) {
	body, _ := json.Marshal(map[string]string{"phone_number": number})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, a.webURL+"/calls", bytes.NewReader(body))
	if err != nil {
		return startedCall{}, 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	browserHeaders(req, a.webURL)
	start := time.Now()
	resp, err := u.http.Do(req)
	if err != nil {
		return startedCall{}, time.Since(start), err
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	took := time.Since(start)
	if err != nil {
		return startedCall{}, took, err
	}
	var sc startedCall
	_ = json.Unmarshal(b, &sc)
	if resp.StatusCode != http.StatusCreated {
		es := &errStatus{status: resp.StatusCode}
		if sc.Error != nil {
			es.code = sc.Error.Code
		}
		return sc, took, es
	}
	return sc, took, nil
}

// hangUp is the browser's POST /calls/{id}/hangup: here, the person gives
// up before the call is connected, which frees the slot.
func (a *app) hangUp(ctx context.Context, u *user, callID string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, a.webURL+"/calls/"+callID+"/hangup", strings.NewReader(`{"reason":"bench"}`))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	browserHeaders(req, a.webURL)
	resp, err := u.http.Do(req)
	if err != nil {
		return err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		return &errStatus{status: resp.StatusCode}
	}
	return nil
}

// purchase is POST /credits/purchase of a package: the top-up's workflow
// creates the PaymentIntent before the 303 to the payment page.
func (a *app) purchase(ctx context.Context, u *user, cents int64) (time.Duration, error) {
	start := time.Now()
	status, loc, err := u.post(ctx, a.webURL, "/credits/purchase", url.Values{"package": {strconv.FormatInt(cents, 10)}})
	took := time.Since(start)
	if err != nil {
		return took, err
	}
	if status != http.StatusSeeOther || !strings.HasPrefix(loc, "/credits/topups/") {
		return took, &errStatus{status: status}
	}
	return took, nil
}

// activeCallSQL mirrors the calls_one_active_per_user index: the calls that
// hold a user's one slot.
const activeCallSQL = `slot_released_at IS NULL AND (status IN ('created', 'authorized', 'dialing', 'ringing', 'in_progress')
	OR (status = 'completed' AND billing_state IN ('pending', 'stuck')))`

// slotFree reports whether the user holds no call slot (their last call
// was cancelled or billed).
func (a *app) slotFree(ctx context.Context, u *user) bool {
	var busy bool
	err := a.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM calls WHERE user_id = $1 AND `+activeCallSQL+`)`, u.id).Scan(&busy)
	return err == nil && !busy
}

// waitSlotFree waits until the user's slot is free, for at most limit,
// asking less often the longer it is held (many held slots must not load
// the database the bench measures).
func (a *app) waitSlotFree(ctx context.Context, u *user, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	every := 20 * time.Millisecond
	for !a.slotFree(ctx, u) {
		if time.Now().After(deadline) {
			return fmt.Errorf("bench: the call slot of %s still held after %s", u.email, limit)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(every):
		}
		every = min(2*every, time.Second)
	}
	return nil
}

// people hands out users whose call slot is free, one at a time each. A
// user given back waits, apart, until their last call has freed the slot
// (cancelled, or billed); one whose slot stays held (an authorization the
// app granted after answering 503 holds it for the authorization window)
// is left out meanwhile, so the bench never waits on one person.
type people struct {
	a    *app
	ctx  context.Context
	free chan *user
	held atomic.Int64 // given back and not free again yet
}

// heldLimit: how long a given-back user is waited for.
const heldLimit = 15 * time.Minute

func (a *app) people(ctx context.Context, users []*user) *people {
	p := &people{a: a, ctx: ctx, free: make(chan *user, len(users))}
	for _, u := range users {
		p.free <- u
	}
	return p
}

// get is a user whose slot is free now; an error after limit with none.
func (p *people) get(ctx context.Context, limit time.Duration) (*user, error) {
	t := time.NewTimer(limit)
	defer t.Stop()
	for {
		select {
		case u := <-p.free:
			if p.a.slotFree(ctx, u) {
				return u, nil
			}
			p.put(u)
		case <-t.C:
			return nil, fmt.Errorf("bench: no person with a free call slot for %s (%d held)", limit, p.held.Load())
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// put gives u back, to be handed out again once their slot is free.
func (p *people) put(u *user) {
	p.held.Add(1)
	go func() {
		defer p.held.Add(-1)
		if p.a.waitSlotFree(p.ctx, u, heldLimit) == nil {
			p.free <- u
		}
	}()
}

// Numbers the carrier simulator plays (the last four digits decide): a
// Nigerian mobile (the load run's) that answers, and one busy at once
// (never rings: a zero-length call).
const (
	numberAnswers    = "+2348031234567"
	numberBusyAtOnce = "+2348031230004"
)
