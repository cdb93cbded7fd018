package web

import (
	"strings"
	"testing"
)

// TestPlainErrorStripsTheSDKsWrapping: the activity error chain a stuck
// call records reads as the ledger's words, once, with no event ids.
func TestPlainErrorStripsTheSDKsWrapping(t *testing.T) {
	raw := "activity error (type: ChargeCall, scheduledEventID: 90, startedEventID: 91, identity: 1@host): " +
		"ledger: invalid entry: call:c1:charge: the database refused it (no_charge) (type: BillingFailed, retryable: false): " +
		"ledger: invalid entry: call:c1:charge: the database refused it (no_charge)"
	got := plainError(raw)
	if strings.Contains(got, "scheduledEventID") || strings.Contains(got, "retryable") || strings.Count(got, "refused it") != 1 {
		t.Fatalf("plainError: %q", got)
	}
}

// TestExplainStuckSaysWhyWithTheAmount: each kind of stuck call gets its
// own sentence with the charge's amount, and a next step.
func TestExplainStuckSaysWhyWithTheAmount(t *testing.T) {
	for _, c := range []struct{ err, want string }{
		{"ledger: invalid entry: call:c1:charge: the database refused it (no_charge)", "The charge of $0.06 was refused by a rule of the database (no_charge)."},
		{"ledger: already posted under another key: call:c1:charge (transactions_one_charge_per_call)", "The charge of $0.06 was refused: this call already has a charge"},
		{"ledger: idempotency key reused with different content: call:c1:charge", "the ledger already holds a different charge for this call"},
		{"no final status from the carrier", "The carrier never told us how this call ended"},
		{"the call's workflow ended (Terminated) without freeing the call slot", "The call's workflow ended before it billed the call"},
		{"ledger: insufficient funds", "The charge of $0.06 was refused: the balance was too low (it is -$0.04 now)."},
		{"something else", "The charge of $0.06 could not be posted."},
	} {
		r := explainStuck(c.err, 6, -4)
		if !strings.Contains(r.Sentence, c.want) || r.Next == "" {
			t.Errorf("%q: %+v, want %q", c.err, r, c.want)
		}
	}
}
