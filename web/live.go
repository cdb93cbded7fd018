package web

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/rs/zerolog"

	"github.com/mobayilo/mobayilo/db"
	"github.com/mobayilo/mobayilo/internal/accounts"
	"github.com/mobayilo/mobayilo/workflows"
)

// liveEvent is one thing a user's open pages should show at once: a row
// that changed (a wallet's balance, a call, a top-up) at its version.
type liveEvent struct {
	kind    string    // the NOTIFY channel: balance_changed, call_changed, topup_changed
	UserID  uuid.UUID `json:"user_id"`
	Version int64     `json:"version"` // the row's live_version (migration 0012)
	// balance_changed
	BalanceCents *int64 `json:"balance_cents,omitempty"`
	// call_changed
	CallID          string    `json:"call_id,omitempty"`
	Status          string    `json:"status,omitempty"`
	BillingState    string    `json:"billing_state,omitempty"`
	CostCents       *int64    `json:"cost_cents,omitempty"`
	DurationSeconds *int32    `json:"duration_seconds,omitempty"`
	Number          string    `json:"number,omitempty"`
	Country         string    `json:"country,omitempty"`
	CreatedAt       time.Time `json:"created_at"`
	CutSeconds      *int32    `json:"cut_seconds,omitempty"`
	CutReason       *string   `json:"cut_reason,omitempty"`
	// topup_changed
	TopUpID        string  `json:"topup_id,omitempty"`
	TopUpStatus    string  `json:"topup_status,omitempty"`
	AmountCents    int64   `json:"amount_cents,omitempty"`
	FailureMessage *string `json:"failure_message,omitempty"`
}

// The channels the hub listens to.
const (
	liveBalance = "balance_changed"
	liveCall    = "call_changed"
	liveTopUp   = "topup_changed"
)

// hub listens to Postgres (LISTEN balance_changed, call_changed,
// topup_changed: NOTIFY fans them out across web instances) and passes
// each event to the streams of its user, here. It also keeps the register of open streams
// (table live_streams) and ends those whose session has ended (watch).
type hub struct {
	pool    *pgxpool.Pool
	log     zerolog.Logger
	mu      sync.Mutex
	subs    map[uuid.UUID]map[*liveStream]struct{}
	streams map[uuid.UUID]*liveStream // by stream id
}

// liveStream is one open /live stream on this instance.
type liveStream struct {
	id, user uuid.UUID
	events   chan liveEvent
	ended    chan struct{} // closed when the stream must end
	// resync asks the stream to send the current state again: the hub
	// listens anew after a lost connection, and NOTIFYs sent meanwhile
	// never reached it.
	resync chan struct{}
	once   sync.Once
}

func (st *liveStream) end() { st.once.Do(func() { close(st.ended) }) }

func newHub(pool *pgxpool.Pool, log zerolog.Logger) *hub {
	return &hub{pool: pool, log: log.With().Str("component", "live").Logger(),
		subs: map[uuid.UUID]map[*liveStream]struct{}{}, streams: map[uuid.UUID]*liveStream{}}
}

// errSessionGone: the session a stream would belong to no longer exists.
var errSessionGone = errors.New("live: the session has ended")

// open registers a stream of user's, on the session whose token it is,
// and pushes out the user's oldest streams beyond keep, on whichever
// instance they are (this one ends its own at once; others at their next
// watch).
func (h *hub) open(ctx context.Context, user uuid.UUID, sessionToken string, passwordChangedAt time.Time, keep int) (*liveStream, error) {
	st := &liveStream{id: uuid.New(), user: user, events: make(chan liveEvent, 16), ended: make(chan struct{}), resync: make(chan struct{}, 1)}
	var evicted []uuid.UUID
	err := db.InTx(ctx, h.pool, func(q *db.Queries) error {
		if err := q.LockUserLiveStreams(ctx, user); err != nil {
			return err
		}
		if err := q.OpenLiveStream(ctx, db.OpenLiveStreamParams{ID: st.id, UserID: user, SessionToken: sessionToken, PasswordChangedAt: passwordChangedAt}); err != nil {
			return err
		}
		var err error
		evicted, err = q.EvictLiveStreams(ctx, db.EvictLiveStreamsParams{UserID: user, Keep: int32(keep)})
		return err
	})
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "23503" { // foreign key: no such session (or user) any more
		return nil, errSessionGone
	}
	if err != nil {
		return nil, fmt.Errorf("live: open stream: %w", err)
	}
	h.mu.Lock()
	if h.subs[user] == nil {
		h.subs[user] = map[*liveStream]struct{}{}
	}
	h.subs[user][st] = struct{}{}
	h.streams[st.id] = st
	for _, id := range evicted {
		if old := h.streams[id]; old != nil {
			old.end()
		}
	}
	h.mu.Unlock()
	if len(evicted) > 0 {
		h.log.Info().Str("user_id", user.String()).Int("closed", len(evicted)).Msg("live streams over the limit closed, oldest first")
	}
	return st, nil
}

// close forgets st, here and in the register.
func (h *hub) close(st *liveStream) {
	h.mu.Lock()
	delete(h.subs[st.user], st)
	if len(h.subs[st.user]) == 0 {
		delete(h.subs, st.user)
	}
	delete(h.streams, st.id)
	h.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := db.New(h.pool).CloseLiveStream(ctx, st.id); err != nil {
		h.log.Warn().Err(err).Msg("forget a closed live stream")
	}
}

// resyncAll asks every stream on this instance to send the current state.
func (h *hub) resyncAll() {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, st := range h.streams {
		select {
		case st.resync <- struct{}{}:
		default: // one is pending already
		}
	}
}

func (h *hub) publish(ev liveEvent) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for st := range h.subs[ev.UserID] {
		select {
		case st.events <- ev:
		default: // a stalled page misses an update, never blocks the others
		}
	}
}

// watch ends, every interval, this instance's streams that may not go on:
// signed out (here or on another instance), disabled, password changed,
// or pushed out by newer streams. One query a round, however many streams.
func (h *hub) watch(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		h.mu.Lock()
		ids := make([]uuid.UUID, 0, len(h.streams))
		for id := range h.streams {
			ids = append(ids, id)
		}
		h.mu.Unlock()
		if len(ids) == 0 {
			continue
		}
		qctx, cancel := context.WithTimeout(ctx, max(every, 10*time.Second))
		valid, err := db.New(h.pool).LiveStreamsStillValid(qctx, ids)
		cancel()
		if err != nil {
			if ctx.Err() == nil {
				h.log.Warn().Err(err).Msg("check live streams' sessions")
			}
			continue
		}
		ok := make(map[uuid.UUID]bool, len(valid))
		for _, id := range valid {
			ok[id] = true
		}
		h.mu.Lock()
		for _, id := range ids {
			if st := h.streams[id]; st != nil && !ok[id] {
				st.end()
			}
		}
		h.mu.Unlock()
	}
}

// run listens until ctx ends, reconnecting after a lost connection.
func (h *hub) run(ctx context.Context) {
	for ctx.Err() == nil {
		err := h.listen(ctx)
		if ctx.Err() != nil {
			return
		}
		h.log.Warn().Err(err).Msg("listen for live events; retrying")
		select {
		case <-ctx.Done():
			return
		case <-time.After(2 * time.Second):
		}
	}
}

func (h *hub) listen(ctx context.Context) error {
	conn, err := h.pool.Acquire(ctx)
	if err != nil {
		return err
	}
	defer conn.Release()
	for _, ch := range []string{liveBalance, liveCall, liveTopUp} {
		if _, err := conn.Exec(ctx, "LISTEN "+ch); err != nil {
			return err
		}
	}
	defer func() { _, _ = conn.Exec(context.WithoutCancel(ctx), "UNLISTEN *") }()
	// Listening again after a lost connection: what changed meanwhile sent
	// NOTIFYs nobody here heard. Every open stream re-sends the current
	// state (versions make that harmless where a page is as new).
	h.resyncAll()
	for {
		n, err := conn.Conn().WaitForNotification(ctx)
		if err != nil {
			return err
		}
		ev := liveEvent{kind: n.Channel}
		if err := json.Unmarshal([]byte(n.Payload), &ev); err != nil {
			h.log.Warn().Err(err).Str("channel", n.Channel).Msg("bad live event")
			continue
		}
		h.publish(ev)
	}
}

// heartbeat is how often an idle stream sends a comment, so proxies and
// phones keep it open.
const heartbeat = 20 * time.Second

// streamLive is the signed-in user's Server-Sent Events stream of Turbo
// Stream actions: their balance, their calls and their top-ups, each at its
// version, as they change. A page opens it once and keeps it across Turbo
// visits (app.js), so it opens again only on a full load or after the
// network dropped it; it then starts with the current state, which the page
// ignores where it already shows as new or newer.
func (s *Server) streamLive(w http.ResponseWriter, r *http.Request) {
	u := currentUser(r)
	rc := http.NewResponseController(w)
	// This request only: the server's write timeout would cut the stream.
	if err := rc.SetWriteDeadline(time.Time{}); err != nil {
		s.serverError(w, r, fmt.Errorf("live: clear write deadline: %w", err))
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no")
	st, err := s.hub.open(r.Context(), u.ID, s.sessions.Token(r.Context()), u.PasswordChangedAt, s.cfg.LiveMaxStreamsPerUser)
	if errors.Is(err, errSessionGone) {
		// 204 tells an EventSource not to reconnect.
		w.WriteHeader(http.StatusNoContent)
		return
	}
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	defer s.hub.close(st)
	w.WriteHeader(http.StatusOK)
	send := func(text string) bool {
		if _, err := fmt.Fprint(w, text); err != nil {
			return false
		}
		return rc.Flush() == nil
	}
	if !send(": live\n\n") {
		return
	}
	loc := accounts.Location(u.User)
	lang := langOf(r)
	// A call's row names its contact as History does (contacts.go); a
	// lookup per call event, which are few.
	contactName := func(number string) string {
		c, err := db.New(s.pool).GetContactByNumber(r.Context(), db.GetContactByNumberParams{UserID: u.ID, PhoneNumber: number})
		if err != nil {
			return ""
		}
		return c.Name
	}
	// What changed while no stream was open (a phone dropping the
	// connection): the current state. Versions make it harmless where the
	// page is as new.
	for _, ev := range s.currentState(r, u) {
		if !send(sse(s.turboStream(ev, loc, lang, contactName))) {
			return
		}
	}
	tick := time.NewTicker(heartbeat)
	defer tick.Stop()
	for {
		select {
		case <-r.Context().Done():
			return
		case <-tick.C:
			if !send(": ping\n\n") {
				return
			}
		case ev := <-st.events:
			if !send(sse(s.turboStream(ev, loc, lang, contactName))) {
				return
			}
		case <-st.resync:
			for _, ev := range s.currentState(r, u) {
				if !send(sse(s.turboStream(ev, loc, lang, contactName))) {
					return
				}
			}
		case <-st.ended:
			// The session ended or newer streams pushed this one out: tell
			// the EventSource to wait an hour before it reconnects (a full
			// page load opens a new one at once), so an old tab does not
			// push out a newer one in turn.
			send("retry: 3600000\n\n")
			return
		}
	}
}

// currentState is the user's balance and, for a call and a top-up of the
// last two hours, their state, as events at their versions.
func (s *Server) currentState(r *http.Request, u *sessionUser) []liveEvent {
	q := db.New(s.pool)
	var out []liveEvent
	if b, err := q.GetLiveBalance(r.Context(), u.AccountID); err == nil {
		out = append(out, liveEvent{kind: liveBalance, UserID: u.ID, BalanceCents: &b.CachedBalanceCents, Version: b.LiveVersion})
	}
	calls, err := q.ListCallsPage(r.Context(), db.ListCallsPageParams{UserID: u.ID, PageSize: 1})
	if err == nil && len(calls) == 1 && time.Since(calls[0].CreatedAt) < 2*time.Hour {
		out = append(out, callEvent(calls[0]))
	}
	topups, err := q.ListTopUpsForUser(r.Context(), db.ListTopUpsForUserParams{UserID: u.ID, Limit: 1})
	if err == nil && len(topups) == 1 && time.Since(topups[0].UpdatedAt) < 2*time.Hour {
		t := topups[0]
		out = append(out, liveEvent{kind: liveTopUp, UserID: u.ID, Version: t.LiveVersion, TopUpID: t.ID.String(), TopUpStatus: t.Status,
			AmountCents: t.AmountCents, FailureMessage: t.FailureMessage})
	}
	return out
}

// callEvent is a call row as its call_changed NOTIFY carries it.
func callEvent(c db.Call) liveEvent {
	return liveEvent{kind: liveCall, UserID: c.UserID, Version: c.LiveVersion, CallID: c.ID.String(), Status: c.Status,
		BillingState: c.BillingState, CostCents: c.CostCents, DurationSeconds: c.DurationSeconds, Number: c.PhoneNumber,
		Country: c.DestinationCountry, CreatedAt: c.CreatedAt, CutSeconds: c.CutSeconds, CutReason: c.CutReason}
}

// turboStream renders an event as the Turbo Stream actions the page
// applies: live-update, live-replace, live-remove and live-refresh (app's
// live.js), each carrying the row's version, so a page element that shows
// that version or a later one is left alone. Times are in loc, the user's
// zone. "" when there is nothing to send.
func (s *Server) turboStream(ev liveEvent, loc *time.Location, lang string, contactName func(number string) string) string {
	var out strings.Builder
	action := func(name, targets, template string) {
		fmt.Fprintf(&out, `<turbo-stream action="%s" targets="%s" version="%d">`, name, attrEscaper.Replace(targets), ev.Version)
		if template != "" || name == "live-update" || name == "live-replace" {
			out.WriteString("<template>" + strings.TrimSpace(template) + "</template>")
		}
		out.WriteString("</turbo-stream>")
	}
	render := func(name string, data any) (string, bool) {
		text, err := s.partial(name, data)
		if err != nil {
			s.log.Warn().Err(err).Str("partial", name).Msg("render a live update")
		}
		return text, err == nil
	}
	switch ev.kind {
	case liveBalance:
		if ev.BalanceCents == nil {
			return ""
		}
		if text, ok := render("balance_value", balanceView{Lang: lang, Cents: *ev.BalanceCents}); ok {
			action("live-update", "[data-balance]", text)
		}
	case liveCall:
		id, err := uuid.Parse(ev.CallID)
		if err != nil {
			return ""
		}
		row := toCallRow(db.Call{ID: id, PhoneNumber: ev.Number, DestinationCountry: ev.Country, Status: ev.Status,
			BillingState: ev.BillingState, CostCents: ev.CostCents, DurationSeconds: ev.DurationSeconds, CreatedAt: ev.CreatedAt,
			LiveVersion: ev.Version, CutSeconds: ev.CutSeconds, CutReason: ev.CutReason}, loc)
		row.Name = contactName(row.Number)
		row.Lang = lang
		if text, ok := render("call_status", row); ok {
			action("live-replace", "[data-call-status='"+row.ID+"']", text)
		}
		if text, ok := render("history_row", row); ok {
			action("live-replace", "#call-row-"+row.ID, text)
		}
		// A call's own page shows its ledger and timeline too: it reloads
		// itself (a Turbo visit; this stream stays open).
		action("live-refresh", "[data-call-detail='"+row.ID+"']", "")
	case liveTopUp:
		return s.topUpStream(ev, lang)
	}
	return out.String()
}

// attrEscaper escapes a double-quoted attribute's value (a CSS selector
// keeps its single quotes readable).
var attrEscaper = strings.NewReplacer(`&`, "&amp;", `"`, "&quot;", `<`, "&lt;")

// partial renders one of the templates/partials.
func (s *Server) partial(name string, data any) (string, error) {
	var buf bytes.Buffer
	err := s.templates["home"].ExecuteTemplate(&buf, name, data)
	return buf.String(), err
}

// sse frames text as one Server-Sent Event (a data line per line).
func sse(text string) string {
	if text == "" {
		return ""
	}
	var b strings.Builder
	for _, line := range strings.Split(text, "\n") {
		b.WriteString("data: " + line + "\n")
	}
	b.WriteString("\n")
	return b.String()
}

// topUpStream updates a top-up's label wherever it is listed and, on its
// own page, its state block; once the top-up is settled the payment form
// goes.
func (s *Server) topUpStream(ev liveEvent, lang string) string {
	id, err := uuid.Parse(ev.TopUpID)
	if err != nil {
		return ""
	}
	version := fmt.Sprintf(` version="%d"`, ev.Version)
	out := `<turbo-stream action="live-update" targets="[data-topup-status='` + id.String() + `']"` + version + `><template>` +
		html.EscapeString(workflows.TopUpLabel(ev.TopUpStatus)) + `</template></turbo-stream>`
	block, err := s.topUpStatusHTML(lang, db.TopUp{ID: id, Status: ev.TopUpStatus, AmountCents: ev.AmountCents, FailureMessage: ev.FailureMessage, LiveVersion: ev.Version})
	if err != nil {
		s.log.Warn().Err(err).Msg("render top-up status")
		return out
	}
	out += `<turbo-stream action="live-replace" targets="#topup-status-` + id.String() + `"` + version + `><template>` + strings.TrimSpace(block) + `</template></turbo-stream>`
	if workflows.IsSettled(ev.TopUpStatus) {
		out += `<turbo-stream action="live-remove" targets="#topup-pay-` + id.String() + `"` + version + `></turbo-stream>`
	}
	return out
}
