package load

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os/exec"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"

	"github.com/mobayilo/mobayilo/internal/carrier"
	"github.com/mobayilo/mobayilo/internal/payments"
	"github.com/mobayilo/mobayilo/internal/ratedeck"
	"github.com/mobayilo/mobayilo/internal/rating"
)

// destinations the tool calls: numbers of several countries the sample
// deck prices; the last four digits choose the outcome (0001 busy, 0002
// no answer, 0003 failed, anything else answers).
var destinations = []string{
	"+234803123", // Nigeria mobile (MTN): +234 803 123 xxxx
	"+234701234", // Nigeria mobile
	"+23324123",  // Ghana: +233 24 123 xxxx
	"+25471234",  // Kenya mobile: +254 712 34xxxx
	"+44740012",  // United Kingdom mobile: +44 7400 12xxxx
	"+91987654",  // India: +91 98765 4xxxx
	"+1201234",   // United States: +1 201 234 xxxx
}

// usableDestinations keeps the destinations whose numbers parse and the
// deck prices.
func usableDestinations(deck []deckRate) ([]string, error) {
	var out []string
	for _, d := range destinations {
		ok := true
		for _, suffix := range []string{"4567", "0001", "0002", "0003"} {
			n, err := rating.ParseNumber(d+suffix, "")
			if _, priced := expectedCents(deck, d+suffix, 60); err != nil || n.E164 != d+suffix || !priced {
				ok = false
			}
		}
		if ok {
			out = append(out, d)
		}
	}
	if len(out) == 0 {
		return nil, errors.New("load: no destination number is valid and priced by the sample deck")
	}
	return out, nil
}

// deckRate is one rate of the deck, as the tool reads it.
type deckRate struct {
	prefix                     string
	perMinuteMicros, feeMicros int64
	enabled                    bool
}

// loadDeck reads the sample deck the stack loads, for the tool's own
// pricing of every call.
func loadDeck() ([]deckRate, error) {
	rates, err := ratedeck.Parse(bytes.NewReader(ratedeck.SampleCSV))
	if err != nil {
		return nil, err
	}
	out := make([]deckRate, 0, len(rates))
	for _, r := range rates {
		out = append(out, deckRate{prefix: r.Prefix, perMinuteMicros: r.PerMinuteMicros, feeMicros: r.ConnectionFeeMicros, enabled: r.Enabled})
	}
	return out, nil
}

// expectedCents is what the promise says a call of seconds to number
// costs, worked out here, apart from the app's code: the longest prefix of
// the deck, every started minute at its price plus the connection fee,
// rounded up to a whole cent; nothing for zero seconds.
func expectedCents(deck []deckRate, number string, seconds int64) (int64, bool) {
	digits := strings.TrimPrefix(number, "+")
	var best *deckRate
	for i := range deck {
		r := &deck[i]
		if strings.HasPrefix(digits, r.prefix) && (best == nil || len(r.prefix) > len(best.prefix)) {
			best = r
		}
	}
	if best == nil || !best.enabled {
		return 0, false
	}
	if seconds <= 0 {
		return 0, true
	}
	minutes := seconds / 60
	if seconds%60 != 0 {
		minutes++
	}
	micros := minutes*best.perMinuteMicros + best.feeMicros
	cents := micros / 10_000
	if micros%10_000 != 0 {
		cents++
	}
	return cents, true
}

// driver plays the users, Twilio and Stripe.
type driver struct {
	o     Options
	st    *stack
	deck  []deckRate
	dests []string

	rngMu sync.Mutex
	rng   *rand.Rand

	mu         sync.Mutex
	callRecs   []CallRecord
	topupRecs  []TopupRecord
	notes      []string
	authorize  []time.Duration // POST /calls that authorized
	voice      []time.Duration
	status     []time.Duration
	stuckCalls []stuckCall

	callsDone, topupsDone atomic.Int64
	adjustments           atomic.Int64
	// failures are things the run meant to do and could not (the app
	// refused the tool, a fault did not happen): a run with any is not a
	// pass.
	failures []string
	phase    atomic.Pointer[string]

	admin *user
}

type stuckCall struct {
	callID, userID, email string
	drained               int64
}

func newDriver(o Options, st *stack, deck []deckRate, dests []string, rng *rand.Rand) *driver {
	d := &driver{o: o, st: st, deck: deck, dests: dests, rng: rng}
	st.carrier.Observe = func(path string, took time.Duration) {
		d.mu.Lock()
		defer d.mu.Unlock()
		switch {
		case strings.HasSuffix(path, "/twilio/voice"):
			d.voice = append(d.voice, took)
		case strings.HasSuffix(path, "/twilio/status"):
			d.status = append(d.status, took)
		}
	}
	return d
}

func (d *driver) intn(n int) int {
	d.rngMu.Lock()
	defer d.rngMu.Unlock()
	return d.rng.IntN(n)
}

func (d *driver) chance(p float64) bool {
	d.rngMu.Lock()
	defer d.rngMu.Unlock()
	return d.rng.Float64() < p
}

func (d *driver) calls() []CallRecord {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]CallRecord(nil), d.callRecs...)
}

func (d *driver) topups() []TopupRecord {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]TopupRecord(nil), d.topupRecs...)
}

// progressShare is how much of the planned work is done, 0 to 1.
func (d *driver) progressShare() float64 {
	total := d.o.Calls + d.o.Topups
	if total == 0 {
		return 1
	}
	return float64(d.callsDone.Load()+d.topupsDone.Load()) / float64(total)
}

// user is one simulated person with their own cookies.
type user struct {
	email string
	http  *http.Client
	base  string
}

type plan struct {
	topups []string // outcomes
	calls  []string
}

// plans spreads the top-ups and calls over the users: every user buys
// credit first (one paid top-up at least), and a user's abandoned calls
// come last, since an abandoned call holds the user's one call slot until
// its authorization expires.
func (d *driver) plans() []plan {
	plans := make([]plan, d.o.Users)
	for i := range d.o.Topups {
		u := i % d.o.Users
		outcome := TopupPaid
		if i >= d.o.Users { // a user's first top-up always pays
			switch n := d.intn(100); {
			case n < 15:
				outcome = TopupDeclined
			case n < 20:
				outcome = TopupPaidLost
			}
		}
		plans[u].topups = append(plans[u].topups, outcome)
	}
	for i := range d.o.Calls {
		u := i % d.o.Users
		var outcome string
		switch n := d.intn(100); {
		case n < 65:
			outcome = OutcomeAnswered
		case n < 75:
			outcome = OutcomeBusy
		case n < 83:
			outcome = OutcomeNoAnswer
		case n < 90:
			outcome = OutcomeFailed
		default:
			outcome = OutcomeAbandoned
		}
		plans[u].calls = append(plans[u].calls, outcome)
	}
	for i := range plans {
		var rest, abandoned []string
		for _, c := range plans[i].calls {
			if c == OutcomeAbandoned {
				abandoned = append(abandoned, c)
			} else {
				rest = append(rest, c)
			}
		}
		// One abandoned call per user at most: each would hold the slot.
		if len(abandoned) > 0 {
			rest = append(rest, OutcomeAbandoned)
			for range abandoned[1:] {
				rest = append(rest[:len(rest)-1], OutcomeBusy, OutcomeAbandoned)
			}
		}
		plans[i].calls = rest
	}
	// Billing faults: an answered call of as many users becomes the
	// user's last, since a call stuck in billing holds the user's one call
	// slot until support retries it, after the driving.
	faults := d.o.BillingFaults
	for i := range plans {
		if faults == 0 {
			break
		}
		for j, c := range plans[i].calls {
			if c == OutcomeAnswered {
				calls := append(append([]string(nil), plans[i].calls[:j]...), plans[i].calls[j+1:]...)
				plans[i].calls = append(calls, "stuck")
				faults--
				break
			}
		}
	}
	return plans
}

// drive runs every user's plan, Concurrency users at a time.
func (d *driver) drive(ctx context.Context) error {
	d.setPhase("signing up")
	if d.o.BillingFaults > 0 {
		a, err := d.signUp(ctx, "load-admin")
		if err != nil {
			return err
		}
		cmd := exec.CommandContext(ctx, d.st.bin, "users", "grant-admin", a.email)
		cmd.Env = d.st.env
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("load: grant-admin: %w: %s", err, out)
		}
		d.admin = a
	}
	plans := d.plans()
	d.setPhase("driving")
	work := make(chan int)
	var wg sync.WaitGroup
	var firstErr error
	var errOnce sync.Once
	for range d.o.Concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range work {
				if err := d.runUser(ctx, i, plans[i]); err != nil && ctx.Err() == nil {
					errOnce.Do(func() { firstErr = err })
				}
			}
		}()
	}
	for i := range plans {
		select {
		case work <- i:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			break
		}
	}
	close(work)
	wg.Wait()
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return firstErr
}

func (d *driver) runUser(ctx context.Context, i int, p plan) error {
	u, err := d.signUp(ctx, fmt.Sprintf("load-user-%d", i))
	if err != nil {
		return err
	}
	for _, outcome := range p.topups {
		d.topup(ctx, u, outcome)
		d.topupsDone.Add(1)
	}
	for _, outcome := range p.calls {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		d.call(ctx, u, outcome)
		d.callsDone.Add(1)
	}
	return nil
}

var topupLocation = regexp.MustCompile(`^/credits/topups/([0-9a-f-]{36})$`)

// signUp creates a user through the real sign-up form.
func (d *driver) signUp(ctx context.Context, name string) (*user, error) {
	jar, _ := cookiejar.New(nil)
	u := &user{email: fmt.Sprintf("%s-%d@load.example.com", name, d.o.Seed%1_000_000), base: d.st.webURL,
		http: &http.Client{Jar: jar, Timeout: 30 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
	for attempt := 0; ; attempt++ {
		resp, err := u.post(ctx, "/signup", url.Values{"email": {u.email}, "password": {"load test password"}, "display_name": {name}, "home_country": {"NG"}})
		if err == nil && resp.StatusCode == http.StatusSeeOther {
			break
		}
		if attempt >= 30 || ctx.Err() != nil {
			return nil, fmt.Errorf("load: sign up %s: %v %v", u.email, status(resp), err)
		}
		time.Sleep(time.Second) // the app may be restarting a part
	}
	return u, nil
}

func status(r *http.Response) string {
	if r == nil {
		return "no answer"
	}
	return r.Status
}

func (u *user) post(ctx context.Context, path string, form url.Values) (*http.Response, error) {
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, u.base+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", u.base)
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	resp, err := u.http.Do(req)
	if err == nil {
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	return resp, err
}

// topup buys the smallest package and pays it as outcome says.
func (d *driver) topup(ctx context.Context, u *user, outcome string) {
	amount := int64(500)
	rec := TopupRecord{UserEmail: u.email, AmountCents: amount, Outcome: outcome}
	defer func() {
		d.mu.Lock()
		d.topupRecs = append(d.topupRecs, rec)
		d.mu.Unlock()
	}()
	var resp *http.Response
	var err error
	// A person tries again a few times when the app says it is
	// unavailable (Temporal or Postgres restarting), then gives up.
	for attempt := 0; attempt < 3; attempt++ {
		resp, err = u.post(ctx, "/credits/purchase", url.Values{"package": {"500"}})
		if err == nil && resp.StatusCode == http.StatusSeeOther {
			break
		}
		time.Sleep(2 * time.Second)
	}
	if err != nil || resp.StatusCode != http.StatusSeeOther {
		rec.Outcome = TopupStartFailed
		return
	}
	m := topupLocation.FindStringSubmatch(resp.Header.Get("Location"))
	if m == nil {
		rec.Outcome = TopupStartFailed
		return
	}
	rec.TopupID = m[1]
	pi, ok := d.st.payments.IntentFor(rec.TopupID)
	if !ok {
		// A second tap went back to an open top-up of the same amount.
		d.note("top-up %s: no PaymentIntent at the simulator", rec.TopupID)
		rec.Outcome = TopupStartFailed
		return
	}
	rec.PaymentIntentID = pi.ID
	f := payments.Faults{Copies: d.o.MaxCopies, RandomCopies: true, Shuffle: true, Delay: d.o.Delay, Unrelated: d.chance(0.3)}
	card := payments.CardSucceeds
	switch outcome {
	case TopupDeclined:
		card = payments.CardDeclined
	case TopupPaidLost:
		f.Lose = true
	}
	if err := d.st.payments.Confirm(ctx, pi.ID, card, 0, f); err != nil {
		d.note("top-up %s: confirm: %v", rec.TopupID, err)
	}
	// Paid is what the processor holds, whatever the deliveries did.
	after, _ := d.st.payments.Intent(pi.ID)
	rec.Paid = after.Status == payments.StatusSucceeded
	if rec.Paid {
		// The user waits for the credit before calling (a lost webhook is
		// credited at the payment timeout).
		d.waitBalance(ctx, u)
	}
}

// waitBalance waits a little for the credit, as a person watching the
// page would; a credit whose webhook was lost comes only at the payment
// timeout, and calls meanwhile are refused (and recorded so).
func (d *driver) waitBalance(ctx context.Context, u *user) {
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) && ctx.Err() == nil {
		var b int64
		if err := d.st.pool.QueryRow(ctx, `SELECT a.cached_balance_cents FROM accounts a JOIN users u ON u.id = a.user_id WHERE u.email = $1`, u.email).Scan(&b); err == nil && b > 0 {
			return
		}
		time.Sleep(200 * time.Millisecond)
	}
}

type startedCall struct {
	CallID     string `json:"call_id"`
	Token      string `json:"token"`
	Identity   string `json:"identity"`
	MaxSeconds int64  `json:"max_seconds"`
	Error      *struct {
		Code string `json:"code"`
	} `json:"error"`
}

// call places one call and plays its outcome.
func (d *driver) call(ctx context.Context, u *user, outcome string) {
	stuck := outcome == "stuck"
	if stuck {
		outcome = OutcomeAnswered
	}
	suffix := fmt.Sprintf("%04d", 1000+d.intn(8999))
	switch outcome {
	case OutcomeBusy:
		suffix = "0001"
	case OutcomeNoAnswer:
		suffix = "0002"
	case OutcomeFailed:
		suffix = "0003"
	}
	number := d.dests[d.intn(len(d.dests))] + suffix
	rec := CallRecord{UserEmail: u.email, Number: number, Outcome: outcome}
	defer func() {
		d.mu.Lock()
		d.callRecs = append(d.callRecs, rec)
		d.mu.Unlock()
	}()

	var sc startedCall
	body, _ := json.Marshal(map[string]string{"phone_number": number})
	for attempt := 0; ; attempt++ {
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, u.base+"/calls", bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Origin", u.base)
		req.Header.Set("Sec-Fetch-Site", "same-origin")
		start := time.Now()
		resp, err := u.http.Do(req)
		took := time.Since(start)
		if err != nil {
			if attempt < 3 && ctx.Err() == nil {
				time.Sleep(2 * time.Second)
				continue
			}
			rec.Outcome = OutcomeStartFailed
			return
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		sc = startedCall{}
		_ = json.Unmarshal(b, &sc)
		switch {
		case resp.StatusCode == http.StatusCreated:
			d.mu.Lock()
			d.authorize = append(d.authorize, took)
			d.mu.Unlock()
		case resp.StatusCode == http.StatusConflict && attempt < 120:
			// The previous call still holds the slot (an abandoned one
			// until its authorization expires): wait, as a person would.
			time.Sleep(time.Second)
			continue
		case resp.StatusCode == http.StatusPaymentRequired || resp.StatusCode == http.StatusUnprocessableEntity:
			rec.Outcome = OutcomeRefused
			rec.CallID = sc.CallID
			return
		default:
			// 5xx: the app or one of its parts is down. The call may
			// exist (failed at once); nothing is charged for it.
			if resp.StatusCode >= 500 && attempt < 3 && ctx.Err() == nil {
				time.Sleep(2 * time.Second)
				continue
			}
			if resp.StatusCode < 500 {
				d.fail("POST /calls for %s answered %s: the app refused the tool itself", u.email, resp.Status)
			}
			rec.Outcome = OutcomeStartFailed
			return
		}
		break
	}
	rec.CallID, rec.MaxSeconds = sc.CallID, sc.MaxSeconds
	if outcome == OutcomeAbandoned {
		return
	}
	talk := int64(0)
	if outcome == OutcomeAnswered {
		talk = int64(1 + d.intn(max(int(sc.MaxSeconds)-5, 1)))
		rec.TalkSeconds = talk
	}
	if stuck {
		if err := d.drainWallet(ctx, u, &rec); err != nil {
			d.fail("billing fault on call %s: %v", rec.CallID, err)
		}
	}
	f := carrier.Faults{Copies: d.o.MaxCopies, RandomCopies: true, Shuffle: true, Delay: d.o.Delay, KeepGoing: true,
		DropFinal: d.chance(d.o.Loss)}
	rec.FinalDropped = f.DropFinal
	sim, err := d.st.carrier.PlaceCall(ctx, sc.Token, sc.CallID, time.Duration(talk)*time.Second, f)
	rec.FinalAt = sim.FinalAt
	if err != nil && sim.ChildSid == "" {
		// The voice webhook refused or could not answer: never dialled.
		rec.Outcome = OutcomeNotDialled
		return
	}
	if err != nil {
		// Dialled, then cut off (the run's end): the carrier holds the
		// call as it went, and reconciliation bills it from there.
		rec.FinalDropped = rec.FinalAt.IsZero()
	}
	if outcome == OutcomeAnswered {
		billed := min(talk, sc.MaxSeconds)
		if sim.DurationSeconds != billed {
			d.note("call %s: the carrier reported %d s, the tool expected %d s", rec.CallID, sim.DurationSeconds, billed)
		}
		rec.ExpectedCents, _ = expectedCents(d.deck, number, billed)
	}
}

// drainWallet takes the user's whole balance through the support
// console's manual debit, so the call's charge is refused and the call
// waits, stuck, for support.
func (d *driver) drainWallet(ctx context.Context, u *user, rec *CallRecord) error {
	var userID string
	var balance int64
	if err := d.st.pool.QueryRow(ctx, `SELECT u.id, a.cached_balance_cents FROM users u JOIN accounts a ON a.user_id = u.id WHERE u.email = $1`, u.email).Scan(&userID, &balance); err != nil {
		return err
	}
	if err := d.adjust(ctx, userID, "debit", balance, "load run: billing fault on purpose"); err != nil {
		return err
	}
	rec.StuckOnPurpose = true
	d.mu.Lock()
	d.stuckCalls = append(d.stuckCalls, stuckCall{callID: rec.CallID, userID: userID, email: u.email, drained: balance})
	d.mu.Unlock()
	return nil
}

// adjust posts a manual credit or debit through the support console.
func (d *driver) adjust(ctx context.Context, userID, direction string, cents int64, reason string) error {
	resp, err := d.admin.post(ctx, "/admin/users/"+userID+"/adjust", url.Values{
		"key": {uuid.NewString()}, "direction": {direction}, "amount": {fmt.Sprintf("%d.%02d", cents/100, cents%100)}, "reason": {reason}})
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusSeeOther {
		return fmt.Errorf("adjust %s %d: %s", direction, cents, resp.Status)
	}
	d.adjustments.Add(1)
	return nil
}

// retryStuck waits for the calls stuck on purpose, puts their money back
// and retries their billing through the support console.
func (d *driver) retryStuck(ctx context.Context, limit time.Duration) error {
	d.mu.Lock()
	stuck := append([]stuckCall(nil), d.stuckCalls...)
	d.mu.Unlock()
	if len(stuck) == 0 {
		return nil
	}
	d.setPhase("support: retrying stuck billing")
	var errs []error
	for _, s := range stuck {
		err := waitUntil(ctx, limit, "call "+s.callID+" to be stuck", func() bool {
			var state string
			_ = d.st.pool.QueryRow(ctx, `SELECT billing_state FROM calls WHERE id = $1`, s.callID).Scan(&state)
			return state == "stuck" || state == "charged"
		})
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if err := d.adjust(ctx, s.userID, "credit", s.drained, "load run: money back after a billing fault"); err != nil {
			errs = append(errs, err)
			continue
		}
		resp, err := d.admin.post(ctx, "/admin/calls/"+s.callID+"/retry", nil)
		if err != nil || resp.StatusCode != http.StatusSeeOther {
			errs = append(errs, fmt.Errorf("retry %s: %v %v", s.callID, status(resp), err))
		}
	}
	return errors.Join(errs...)
}

// drain waits until every call of the run is billed or not billable and
// every paid top-up credited, and their workflows have finished, or limit
// passes.
func (d *driver) drain(ctx context.Context, limit time.Duration, running func(context.Context) ([]string, error)) {
	deadline := time.Now().Add(limit)
	d.setPhase("draining: waiting for every workflow to finish")
	var ids []string
	for _, c := range d.calls() {
		if c.CallID != "" {
			ids = append(ids, c.CallID)
		}
	}
	var tids []string
	for _, t := range d.topups() {
		if t.TopupID != "" {
			tids = append(tids, t.TopupID)
		}
	}
	_ = waitUntil(ctx, time.Until(deadline), "the run's calls and top-ups to settle", func() bool {
		var open int
		err := d.st.pool.QueryRow(ctx, `
			SELECT (SELECT count(*) FROM calls WHERE id = ANY($1::uuid[])
			          AND (status IN ('created', 'authorized', 'dialing', 'ringing', 'in_progress') OR billing_state = 'pending'))
			     + (SELECT count(*) FROM topups WHERE id = ANY($2::uuid[]) AND status IN ('created', 'processing', 'failed'))`,
			ids, tids).Scan(&open)
		return err == nil && open == 0
	})
	// Then their workflows: a call's completes just after its charge; a
	// settled top-up's lingers on purpose and is not waited for.
	calls := map[string]bool{}
	for _, id := range ids {
		calls["call-"+id] = true
	}
	_ = waitUntil(ctx, time.Until(deadline), "the run's call workflows to finish", func() bool {
		ids, err := running(ctx)
		if err != nil {
			return false
		}
		for _, id := range ids {
			if calls[id] {
				return false
			}
		}
		return true
	})
}

// fail records something the run meant to do and could not.
func (d *driver) fail(format string, args ...any) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.failures = append(d.failures, fmt.Sprintf(format, args...))
}
