package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/mobayilo/mobayilo/internal/carrier"
	"github.com/mobayilo/mobayilo/workflows"
)

// Answered calls, held in progress until the bench ends them: the carrier
// simulator runs in real time, so an answered call talks until HangUp, and
// then sends its final callbacks at once (SimCall.FinalAt is when the app
// first took one). The charge is seen committed by LISTEN balance_changed
// (NOTIFY at commit, from the wallet's balance trigger): during these
// phases nothing else moves the balances of the users whose calls are
// watched, and every notification is checked against the call's
// call_charge row afterwards.

// liveCall is one answered call in progress.
type liveCall struct {
	u      *user
	callID string
	result chan placed // PlaceCall's outcome, once the call has ended
}

type placed struct {
	sim carrier.SimCall
	err error
}

// answerCall authorizes a call for u (whose slot is free), connects it
// through the carrier simulator (answered, talking), and waits until the
// app has recorded it in progress.
func (a *app) answerCall(ctx context.Context, u *user, setup *recorder) (*liveCall, error) {
	sc, took, err := a.startCall(ctx, u, numberAnswers)
	if err != nil {
		setup.fail(errorKind(err))
		return nil, err
	}
	setup.ok(took)
	c := &liveCall{u: u, callID: sc.CallID, result: make(chan placed, 1)}
	go func() {
		// Talks until hung up (Twilio's timeLimit is MAX_CALL_SECONDS).
		sim, err := a.carrier.PlaceCall(context.WithoutCancel(ctx), sc.Token, sc.CallID, 24*time.Hour, carrier.Faults{})
		c.result <- placed{sim, err}
	}()
	deadline := time.Now().Add(time.Minute)
	for {
		var status string
		_ = a.pool.QueryRow(ctx, `SELECT status FROM calls WHERE id = $1`, sc.CallID).Scan(&status)
		switch status {
		case workflows.StatusInProgress:
			return c, nil
		case workflows.StatusAuthorized, workflows.StatusDialing, workflows.StatusRinging:
		default:
			setup.fail("call " + status + ", not in progress")
			a.carrier.HangUp(sc.CallID)
			return nil, fmt.Errorf("bench: call %s is %s, not in progress", sc.CallID, status)
		}
		if time.Now().After(deadline) {
			setup.fail("not in progress after 1m")
			a.carrier.HangUp(sc.CallID)
			return nil, fmt.Errorf("bench: call %s not in progress after a minute (%s)", sc.CallID, status)
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// answerCalls brings n answered calls in progress, each for a person of
// people, workers at a time; a call that could not be made (counted in
// setup) is tried again for another person, up to 3n attempts in all.
func (a *app) answerCalls(ctx context.Context, people *people, n, workers int, setup *recorder) []*liveCall {
	var mu sync.Mutex
	var live []*liveCall
	reserved, attempts := 0, 0
	next := func() (int, bool) {
		mu.Lock()
		defer mu.Unlock()
		if reserved >= n || attempts >= 3*n {
			return 0, false
		}
		reserved++
		attempts++
		return attempts, true
	}
	closedLoop(ctx, workers, next, func(ctx context.Context, _, _ int) {
		var c *liveCall
		u, err := people.get(ctx, 2*time.Minute)
		if err == nil {
			if c, err = a.answerCall(ctx, u, setup); err != nil {
				people.put(u)
			}
		} else {
			setup.fail("no person with a free slot for 2m")
		}
		mu.Lock()
		defer mu.Unlock()
		if err != nil {
			reserved--
			return
		}
		live = append(live, c)
	})
	return live
}

// chargeWatch tells when each watched call's charge was committed.
type chargeWatch struct {
	conn *pgx.Conn
	pool *pgxpool.Pool

	mu     sync.Mutex
	byUser map[uuid.UUID]string     // user -> watched call
	seen   map[string]time.Time     // call -> notified at
	wait   map[string]chan struct{} // call -> closed when notified
	stop   context.CancelFunc
	done   chan struct{}
}

// watchCharges starts listening; stop it with close.
func watchCharges(ctx context.Context, pool *pgxpool.Pool) (*chargeWatch, error) {
	conn, err := pgx.ConnectConfig(ctx, pool.Config().ConnConfig.Copy())
	if err != nil {
		return nil, err
	}
	if _, err := conn.Exec(ctx, "LISTEN balance_changed"); err != nil {
		conn.Close(ctx)
		return nil, err
	}
	lctx, stop := context.WithCancel(context.WithoutCancel(ctx))
	w := &chargeWatch{conn: conn, pool: pool, byUser: map[uuid.UUID]string{}, seen: map[string]time.Time{},
		wait: map[string]chan struct{}{}, stop: stop, done: make(chan struct{})}
	go w.listen(lctx)
	return w, nil
}

func (w *chargeWatch) listen(ctx context.Context) {
	defer close(w.done)
	for {
		n, err := w.conn.WaitForNotification(ctx)
		if err != nil {
			return
		}
		at := time.Now()
		var p struct {
			UserID uuid.UUID `json:"user_id"`
		}
		if json.Unmarshal([]byte(n.Payload), &p) != nil {
			continue
		}
		w.mu.Lock()
		if call, ok := w.byUser[p.UserID]; ok {
			if _, dup := w.seen[call]; !dup {
				w.seen[call] = at
				close(w.wait[call])
			}
			delete(w.byUser, p.UserID)
		}
		w.mu.Unlock()
	}
}

// add watches c's charge.
func (w *chargeWatch) add(c *liveCall) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.byUser[c.u.id] = c.callID
	w.wait[c.callID] = make(chan struct{})
}

// await returns when c's charge was seen committed, or false after limit.
func (w *chargeWatch) await(ctx context.Context, c *liveCall, limit time.Duration) (time.Time, bool) {
	w.mu.Lock()
	ch := w.wait[c.callID]
	w.mu.Unlock()
	t := time.NewTimer(limit)
	defer t.Stop()
	select {
	case <-ch:
	case <-t.C:
		return time.Time{}, false
	case <-ctx.Done():
		return time.Time{}, false
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.seen[c.callID], true
}

// confirmed keeps the calls among ids that have their call_charge row:
// a notification of anything else is not a charge.
func (w *chargeWatch) confirmed(ctx context.Context, ids []string) (map[string]bool, error) {
	rows, err := w.pool.Query(ctx, `SELECT call_id::text FROM transactions WHERE kind = 'call_charge' AND call_id = ANY($1::uuid[])`, ids)
	if err != nil {
		return nil, err
	}
	out := map[string]bool{}
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return nil, err
		}
		out[id] = true
	}
	rows.Close()
	return out, rows.Err()
}

func (w *chargeWatch) close() {
	w.stop()
	<-w.done
	_ = w.conn.Close(context.Background())
}

// chargeLimit: a final callback whose charge is not committed by then is
// counted an error.
const chargeLimit = 5 * time.Minute

// ended is what became of one call the bench hung up.
type ended struct {
	callID    string
	took      time.Duration // final callback taken -> charge committed
	chargedAt time.Time
	err       string // "" when charged
}

// endCall hangs c up now (the caller hangs up) and waits for its charge.
func (a *app) endCall(ctx context.Context, w *chargeWatch, c *liveCall) ended {
	e := ended{callID: c.callID}
	if !a.carrier.HangUp(c.callID) {
		e.err = "call not in progress at the carrier"
		return e
	}
	var p placed
	select {
	case p = <-c.result:
	case <-ctx.Done():
		e.err = "cancelled"
		return e
	}
	if p.err != nil || p.sim.FinalAt.IsZero() {
		e.err = "final callback not taken"
		return e
	}
	at, ok := w.await(ctx, c, chargeLimit)
	if !ok {
		e.err = "no charge within " + chargeLimit.String()
		return e
	}
	e.took, e.chargedAt = max(at.Sub(p.sim.FinalAt), 0), at
	return e
}

// tally checks every charge seen against its call_charge row (a
// notification of anything else is not a charge) and records the
// outcomes in rec.
func tally(ctx context.Context, w *chargeWatch, out []ended, rec *recorder) error {
	ids := make([]string, len(out))
	for i, e := range out {
		ids[i] = e.callID
	}
	charged, err := w.confirmed(ctx, ids)
	if err != nil {
		return err
	}
	for _, e := range out {
		switch {
		case e.err != "":
			rec.fail(e.err)
		case !charged[e.callID]:
			rec.fail("balance changed without a call_charge row")
		default:
			rec.ok(e.took)
		}
	}
	return nil
}
