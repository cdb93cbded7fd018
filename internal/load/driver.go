package load

import (
	"bytes"
	"cmp"
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
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"

	"github.com/mobayilo/mobayilo/internal/carrier"
	"github.com/mobayilo/mobayilo/internal/payments"
	"github.com/mobayilo/mobayilo/internal/ratedeck"
	"github.com/mobayilo/mobayilo/internal/rating"
	"github.com/mobayilo/mobayilo/workflows"
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
	topUpRecs  []TopUpRecord
	notes      []string
	authorize  []time.Duration // POST /calls that authorized
	voice      []time.Duration
	status     []time.Duration
	stuckCalls []stuckCall
	// billingFaults: what settleDebts found of each, for the report.
	billingFaults []BillingFault
	faults        []time.Time // when a fault (a worker kill) began

	callsDone, topUpsDone atomic.Int64
	adjustments           atomic.Int64
	// failures are things the run meant to do and could not (the app
	// refused the tool, a fault did not happen): a run with any is not a
	// pass.
	failures []string
	phase    atomic.Pointer[string]

	admin *user
	// autoUsers turned auto top-up on (autotopup.go).
	autoUsers []*user

	// live: the pages kept open (-watch-live), their streams open until
	// stopLive.
	live     []*liveWatch
	liveCtx  context.Context
	stopLive context.CancelFunc
}

type stuckCall struct {
	callID, userID, email string
	drained               int64
	u                     *user
}

// faultAt records that a fault began at t.
func (d *driver) faultAt(t time.Time) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.faults = append(d.faults, t)
}

func (d *driver) faultTimes() []time.Time {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]time.Time(nil), d.faults...)
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

func (d *driver) topups() []TopUpRecord {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]TopUpRecord(nil), d.topUpRecs...)
}

// progressShare is how much of the planned work is done, 0 to 1.
func (d *driver) progressShare() float64 {
	total := d.o.Calls + d.o.TopUps
	if total == 0 {
		return 1
	}
	return float64(d.callsDone.Load()+d.topUpsDone.Load()) / float64(total)
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
	// auto: the first top-up saves the card, then auto top-up is on.
	auto bool
}

// plans spreads the top-ups and calls over the users: every user buys
// credit first (one paid top-up at least), and a user's abandoned calls
// come last, since an abandoned call holds the user's one call slot until
// its authorization expires.
func (d *driver) plans() []plan {
	plans := make([]plan, d.o.Users)
	for i := range d.o.TopUps {
		u := i % d.o.Users
		outcome := TopUpPaid
		if i >= d.o.Users { // a user's first top-up always pays
			switch n := d.intn(100); {
			case n < 15:
				outcome = TopUpDeclined
			case n < 20:
				outcome = TopUpPaidLost
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
	// user's last, since its debt refuses the user's next call until
	// support credits the money back, after the driving. The users are
	// those whose money all arrives before the drain: every top-up paid
	// with its webhooks delivered, the fewest first. A top-up paid with
	// its webhooks lost is credited only at the payment timeout, maybe
	// after the drain, and a wallet drained and then credited is not a
	// debt.
	faults := d.o.BillingFaults
	for _, i := range billingFaultOrder(plans) {
		if faults == 0 {
			break
		}
		for j, c := range plans[i].calls {
			if c == OutcomeAnswered {
				calls := append(append([]string(nil), plans[i].calls[:j]...), plans[i].calls[j+1:]...)
				plans[i].calls = append(calls, planStuck)
				faults--
				break
			}
		}
	}
	// Auto top-up: never for a billing fault's user (its debt must stand
	// until support credits it back).
	for i := range plans {
		stuck := false
		for _, c := range plans[i].calls {
			stuck = stuck || c == planStuck
		}
		plans[i].auto = !stuck && len(plans[i].topups) > 0 && d.chance(d.o.AutoTopUp)
	}
	return plans
}

// billingFaultOrder lists the users a billing fault may be played on, best
// first: every top-up paid with its webhooks delivered (no credit left to
// arrive late), the fewest top-ups first, then by index; users with a
// declined or lost top-up come last, as a fallback.
func billingFaultOrder(plans []plan) []int {
	clean := func(p plan) bool {
		for _, t := range p.topups {
			if t != TopUpPaid {
				return false
			}
		}
		return true
	}
	order := make([]int, len(plans))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int {
		ca, cb := clean(plans[a]), clean(plans[b])
		switch {
		case ca && !cb:
			return -1
		case cb && !ca:
			return 1
		}
		return len(plans[a].topups) - len(plans[b].topups)
	})
	return order
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
	if d.o.WatchLive > 0 && d.chance(d.o.WatchLive) {
		d.watchLive(d.liveCtx, u)
	}
	for j, outcome := range p.topups {
		d.topup(ctx, u, outcome, p.auto && j == 0)
		d.topUpsDone.Add(1)
		if p.auto && j == 0 {
			d.turnOnAutoTopUp(ctx, u)
		}
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

var topUpLocation = regexp.MustCompile(`^/credits/topups/([0-9a-f-]{36})$`)

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

// topup buys the smallest package and pays it as outcome says; save
// saves the card that pays.
func (d *driver) topup(ctx context.Context, u *user, outcome string, save bool) {
	amount := int64(500)
	rec := TopUpRecord{UserEmail: u.email, AmountCents: amount, Outcome: outcome}
	defer func() {
		d.mu.Lock()
		d.topUpRecs = append(d.topUpRecs, rec)
		d.mu.Unlock()
	}()
	var resp *http.Response
	var err error
	// A person tries again a few times when the app says it is
	// unavailable (Temporal or Postgres restarting), then gives up.
	for attempt := 0; attempt < 3; attempt++ {
		form := url.Values{"package": {"500"}}
		if save {
			form.Set("save_card", "on")
		}
		resp, err = u.post(ctx, "/credits/purchase", form)
		if err == nil && resp.StatusCode == http.StatusSeeOther {
			break
		}
		time.Sleep(2 * time.Second)
	}
	if err != nil || resp.StatusCode != http.StatusSeeOther {
		rec.Outcome = TopUpStartFailed
		return
	}
	m := topUpLocation.FindStringSubmatch(resp.Header.Get("Location"))
	if m == nil {
		rec.Outcome = TopUpStartFailed
		return
	}
	rec.TopUpID = m[1]
	pi, ok := d.st.payments.IntentFor(rec.TopUpID)
	if !ok {
		// A second tap went back to an open top-up of the same amount.
		d.note("top-up %s: no PaymentIntent at the simulator", rec.TopUpID)
		rec.Outcome = TopUpStartFailed
		return
	}
	rec.PaymentIntentID = pi.ID
	f := payments.Faults{Copies: d.o.MaxCopies, RandomCopies: true, Shuffle: true, Delay: d.o.Delay, Unrelated: d.chance(0.3)}
	card := payments.CardSucceeds
	switch outcome {
	case TopUpDeclined:
		card = payments.CardDeclined
	case TopUpPaidLost:
		f.Lose = true
	}
	if err := d.st.payments.Confirm(ctx, pi.ID, card, 0, f); err != nil {
		d.note("top-up %s: confirm: %v", rec.TopUpID, err)
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

// planStuck is a planned call answered and left stuck in billing (a
// billing fault): a plan's word, not an Outcome; it is played as
// OutcomeAnswered.
const planStuck = "stuck"

// call places one call and plays its outcome.
func (d *driver) call(ctx context.Context, u *user, outcome string) {
	stuck := outcome == planStuck
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
	if stuck {
		// Before the call is authorized (its window is short): the drain
		// must leave a wallet nothing else will move but this call's charge.
		if err := d.settleWallet(ctx, u); err != nil {
			d.fail("billing fault for %s: %v", u.email, err)
			stuck = false // played as an ordinary answered call
		}
	}

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
		case resp.StatusCode == http.StatusConflict && attempt < 360:
			// The previous call still holds the slot (an abandoned one
			// until its authorization expires; one whose web instance was
			// killed before its workflow started until it is 30 s old, when
			// the next POST /calls frees it): wait, as a person would.
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
	// The browser says the call ended (its final callbacks lost), or
	// cancels a call it never connected.
	browserHangUp := !stuck && d.chance(d.o.BrowserHangUp)
	if outcome == OutcomeAbandoned {
		if browserHangUp {
			d.hangUp(ctx, u, &rec)
		}
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
		DropFinal: d.chance(d.o.Loss) || browserHangUp}
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
	if browserHangUp {
		// The person talks (or listens to it ring) before hanging up: the
		// browser's SDK reports the answer once the app has seen it.
		seen := []string{workflows.StatusRinging, workflows.StatusInProgress}
		if outcome == OutcomeAnswered {
			seen = []string{workflows.StatusInProgress}
		}
		d.waitRowStatus(ctx, rec.CallID, append(seen, workflows.StatusCompleted, workflows.StatusBusy, workflows.StatusNoAnswer, workflows.StatusFailed, workflows.StatusCanceled)...)
		d.hangUp(ctx, u, &rec)
	}
}

// waitRowStatus waits up to 30 s for the calls row to reach one of statuses.
func (d *driver) waitRowStatus(ctx context.Context, callID string, statuses ...string) {
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline) && ctx.Err() == nil; time.Sleep(50 * time.Millisecond) {
		var got string
		if err := d.st.pool.QueryRow(ctx, `SELECT status FROM calls WHERE id = $1`, callID).Scan(&got); err == nil && slices.Contains(statuses, got) {
			return
		}
	}
}

// hangUpTarget: a call the browser says has ended should be billed and its
// slot free within this, final callbacks lost or not (3x within
// hangUpTarget of a worker kill). It is a figure the report sets the
// measured times against, with a warning for those over it; never a
// failure: a timing on a shared machine is no CI gate. That each is billed
// and its slot freed at all is checked (CheckHangUps).
const hangUpTarget = 10 * time.Second

// hangUpWatch bounds how long hangUp watches a slot for the figure; a slot
// freed later is only checked after the drain.
const hangUpWatch = 6 * hangUpTarget

// slotFree is true for a calls row that no longer holds its user's one
// call slot (the app's calls_one_active_per_user index, migration 0011).
const slotFree = `slot_released_at IS NOT NULL OR NOT (status IN ('created', 'authorized', 'dialing', 'ringing', 'in_progress')
	OR (status = 'completed' AND billing_state IN ('pending', 'stuck')))`

// hangUp plays the browser telling the app the call ended (the Voice SDK's
// disconnect), then watches the user's call slot until it is free.
func (d *driver) hangUp(ctx context.Context, u *user, rec *CallRecord) {
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, u.base+"/calls/"+rec.CallID+"/hangup", strings.NewReader(`{"reason":"load: browser hang-up"}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Origin", u.base)
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	start := time.Now()
	resp, err := u.http.Do(req)
	if err != nil {
		d.note("call %s: browser hang-up: %v", rec.CallID, err)
		return
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		if resp.StatusCode < 500 {
			d.fail("POST /calls/%s/hangup answered %s", rec.CallID, resp.Status)
		} else {
			d.note("call %s: browser hang-up answered %s", rec.CallID, resp.Status)
		}
		return
	}
	rec.BrowserHangUp, rec.HungUpAt = true, start
	for deadline := start.Add(hangUpWatch); time.Now().Before(deadline) && ctx.Err() == nil; time.Sleep(25 * time.Millisecond) {
		var free bool
		err := d.st.pool.QueryRow(ctx, `SELECT `+slotFree+` FROM calls WHERE id = $1`, rec.CallID).Scan(&free)
		if err == nil && free {
			rec.SlotFreedAt = time.Now()
			return
		}
	}
}

// walletSettleLimit bounds the wait for a billing fault's wallet to settle:
// a top-up credit and an earlier call's reconciliation (max_seconds, ring
// allowance and grace: 90 s in a load run) fit in it.
const walletSettleLimit = 3 * time.Minute

// settleWallet waits, before a billing fault's call, until nothing but
// that call will move the user's wallet: every paid top-up of the user is
// credited (its webhook may still be in flight: waitBalance only waits for
// a positive balance, which the first credit already gives) and every
// earlier call of the user is settled (a charge reconciled late would make
// the drain's debit an overdraft). The top-ups all come before the calls
// in a user's plan, so none starts after this.
func (d *driver) settleWallet(ctx context.Context, u *user) error {
	var paid []string
	for _, t := range d.topups() {
		if t.UserEmail == u.email && t.Paid && t.TopUpID != "" {
			paid = append(paid, t.TopUpID)
		}
	}
	var credited, open int
	err := waitUntil(ctx, walletSettleLimit, "the wallet of "+u.email+" to settle", func() bool {
		err := d.st.pool.QueryRow(ctx, `
			SELECT (SELECT count(*) FROM transactions WHERE kind = 'purchase' AND topup_id = ANY($1::uuid[])),
			       (SELECT count(*) FROM calls c JOIN users u ON u.id = c.user_id WHERE u.email = $2
			          AND (c.status IN ('created', 'authorized', 'dialing', 'ringing', 'in_progress')
			               OR (c.status = 'completed' AND c.billing_state = 'pending')))`,
			paid, u.email).Scan(&credited, &open)
		return err == nil && credited == len(paid) && open == 0
	})
	if err != nil {
		return fmt.Errorf("%w: %d of %d paid top-ups credited, %d earlier calls unsettled", err, credited, len(paid), open)
	}
	return nil
}

// drainWallet takes the user's whole balance through the support
// console's manual debit during the call, so the call's charge exceeds
// the balance: it must post in full all the same, leaving a debt.
func (d *driver) drainWallet(ctx context.Context, u *user, rec *CallRecord) error {
	var userID string
	var balance int64
	if err := d.st.pool.QueryRow(ctx, `SELECT u.id, a.cached_balance_cents FROM users u JOIN accounts a ON a.user_id = u.id WHERE u.email = $1`, u.email).Scan(&userID, &balance); err != nil {
		return err
	}
	if err := d.adjust(ctx, userID, "debit", balance, "load run: billing fault on purpose"); err != nil {
		return err
	}
	rec.DebtOnPurpose = true
	d.mu.Lock()
	d.stuckCalls = append(d.stuckCalls, stuckCall{callID: rec.CallID, userID: userID, email: u.email, drained: balance, u: u})
	d.mu.Unlock()
	return nil
}

// adjust posts a manual credit or debit through the support console. A
// billing fault debits a wallet while its call is going on, on purpose:
// the form says so ("Debit during the call"), as support confirms it.
func (d *driver) adjust(ctx context.Context, userID, direction string, cents int64, reason string) error {
	resp, err := d.admin.post(ctx, "/admin/users/"+userID+"/adjust", url.Values{
		"key": {uuid.NewString()}, "direction": {direction}, "amount": {fmt.Sprintf("%d.%02d", cents/100, cents%100)}, "reason": {reason},
		"during_call": {"yes"}})
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusSeeOther {
		return fmt.Errorf("adjust %s %d: %s", direction, cents, resp.Status)
	}
	d.adjustments.Add(1)
	return nil
}

// settleDebts checks the billing faults: each call whose wallet was
// drained mid-call must be charged in full (never stuck, never capped),
// leaving the wallet below zero right after the charge (the ledger row's
// balance_after, see debt); the debt must refuse the user's next call
// (negative_balance); then support credits the drained money back.
func (d *driver) settleDebts(ctx context.Context, limit time.Duration) error {
	d.mu.Lock()
	debts := append([]stuckCall(nil), d.stuckCalls...)
	d.mu.Unlock()
	if len(debts) == 0 {
		return nil
	}
	want := map[string]int64{}
	for _, c := range d.calls() {
		want[c.CallID] = c.ExpectedCents
	}
	d.setPhase("billing faults: debts")
	var errs []error
	for _, s := range debts {
		var b debt
		err := waitUntil(ctx, limit, "call "+s.callID+" to be billed", func() bool {
			var err error
			b, err = readDebt(ctx, d.st.pool, s.callID)
			return err == nil && (b.BillingState == workflows.BillingStuck || b.BillingState == workflows.BillingCharged)
		})
		f := BillingFault{CallID: s.callID, UserEmail: s.email, DrainedCents: s.drained, ChargeCents: b.ChargeCents,
			BalanceAfterCents: b.BalanceAfterCents, BillingState: b.BillingState}
		switch {
		case err != nil:
			errs = append(errs, err)
		case b.problem(want[s.callID]) != "":
			errs = append(errs, fmt.Errorf("call %s of %s %s", s.callID, s.email, b.problem(want[s.callID])))
		case b.BalanceCents >= 0:
			// Nothing should credit the wallet before support does: the
			// user's top-ups were all credited before the drain.
			errs = append(errs, fmt.Errorf("call %s left the wallet of %s at %d cents, but it holds %d now: a credit landed on the debt before support's, so the refusal of the next call could not be tried",
				s.callID, s.email, b.BalanceAfterCents, b.BalanceCents))
		default:
			// The debt refuses a new call.
			code, callID, err := d.tryCall(ctx, s.u, d.dests[0]+"4567")
			if callID != "" {
				d.mu.Lock()
				d.callRecs = append(d.callRecs, CallRecord{CallID: callID, UserEmail: s.email, Number: d.dests[0] + "4567", Outcome: OutcomeRefused})
				d.mu.Unlock()
			}
			f.NextCall = cmp.Or(code, workflows.StatusAuthorized)
			if err != nil || code != workflows.RefusalNegativeBalance {
				errs = append(errs, fmt.Errorf("a call on the debt of %s (%d cents) answered %q (%v), want negative_balance", s.email, b.BalanceCents, code, err))
			}
		}
		if err := d.adjust(ctx, s.userID, "credit", s.drained, "load run: money back after a billing fault"); err != nil {
			errs = append(errs, err)
		} else {
			f.CreditedBack = true
		}
		d.mu.Lock()
		d.billingFaults = append(d.billingFaults, f)
		d.mu.Unlock()
	}
	return errors.Join(errs...)
}

// tryCall asks for a call and returns the refusal's code ("" when it was
// authorized) and the call id, if one was created.
func (d *driver) tryCall(ctx context.Context, u *user, number string) (string, string, error) {
	body, _ := json.Marshal(map[string]string{"phone_number": number})
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, u.base+"/calls", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Origin", u.base)
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	resp, err := u.http.Do(req)
	if err != nil {
		return "", "", err
	}
	defer resp.Body.Close()
	var sc startedCall
	if err := json.NewDecoder(resp.Body).Decode(&sc); err != nil {
		return "", "", fmt.Errorf("POST /calls answered %s: %w", resp.Status, err)
	}
	if sc.Error == nil {
		return "", sc.CallID, fmt.Errorf("POST /calls answered %s and authorized call %s", resp.Status, sc.CallID)
	}
	return sc.Error.Code, sc.CallID, nil
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
		if t.TopUpID != "" {
			tids = append(tids, t.TopUpID)
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
