package receipts_test

import (
	"os"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/mobayilo/mobayilo/internal/ledger"
	"github.com/mobayilo/mobayilo/internal/receipts"
)

func TestReceiptSaysAmountBalanceCardTopUpAndDate(t *testing.T) {
	lagos, err := time.LoadLocation("Africa/Lagos")
	if err != nil {
		t.Fatal(err)
	}
	topup := uuid.MustParse("0b6f2c1e-8d7a-4a43-9c52-3a1f0e5d7b21")
	r := receipts.Receipt{ID: 42, EntryID: 917, Kind: ledger.Purchase, AmountCents: 2005, BalanceAfterCents: 123456,
		TopUpID: &topup, CardLast4: "4242", PostedAt: time.Date(2026, 12, 4, 1, 7, 0, 0, time.UTC),
		To: "ann@example.com", Name: `Ann <b>& Co</b>`, Location: lagos}
	m, err := receipts.Render(r, "https://app.example.com")
	if err != nil {
		t.Fatal(err)
	}
	if m.To != "ann@example.com" || m.Subject != "Receipt: $20.05 added to your Mobayilo balance" || m.MessageID != "receipt-42@app.example.com" {
		t.Fatalf("headers: %q %q %q", m.To, m.Subject, m.MessageID)
	}
	for _, want := range []string{
		"Thank you: we added $20.05 to your Mobayilo balance.",
		"Added:          $20.05\n",
		"Balance after:  $1234.56\n",
		"Card:           ending 4242\n",
		"Top-up:         " + topup.String() + "\n",
		"Date:           4 December 2026, 02:07 WAT\n", // the user's zone
		"Entry:          #917\n",
		"https://app.example.com/credits/topups/" + topup.String(),
		"https://app.example.com/transactions",
	} {
		if !strings.Contains(m.Text, want) {
			t.Errorf("text lacks %q:\n%s", want, m.Text)
		}
	}
	for _, want := range []string{
		"Hello Ann &lt;b&gt;&amp; Co&lt;/b&gt;,", // escaped
		"<td>$20.05</td>", "<td>$1234.56</td>", "<td>ending 4242</td>", "<td>" + topup.String() + "</td>",
		"<td>4 December 2026, 02:07 WAT</td>", `href="https://app.example.com/credits/topups/` + topup.String() + `"`,
	} {
		if !strings.Contains(m.HTML, want) {
			t.Errorf("HTML lacks %q:\n%s", want, m.HTML)
		}
	}
	if strings.Contains(m.HTML, "<b>&") || strings.Contains(m.Text, "calls are paused") {
		t.Errorf("unescaped name, or a negative-balance note on a positive balance")
	}
	// Kept for people to look at (test-output/ is not committed).
	if err := os.MkdirAll("../../test-output", 0o755); err == nil {
		_ = os.WriteFile("../../test-output/receipt_purchase.txt", []byte(m.Subject+"\n\n"+m.Text), 0o644)
		_ = os.WriteFile("../../test-output/receipt_purchase.html", []byte(m.HTML), 0o644)
	}

	// With no card known, none is named; a negative balance says calls wait.
	r.Kind, r.AmountCents, r.BalanceAfterCents, r.CardLast4 = ledger.Dispute, -2005, -5, ""
	m, err = receipts.Render(r, "https://app.example.com")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(m.Text, "Card:") || strings.Contains(m.HTML, "ending") {
		t.Errorf("a card named though none is known:\n%s", m.Text)
	}
	if !strings.Contains(m.Text, "Withdrawn:      $20.05\n") || !strings.Contains(m.Text, "Balance after:  -$0.05\n") ||
		!strings.Contains(m.Text, "calls are paused until you add credit") || m.Subject != "Dispute: $20.05 taken from your Mobayilo balance" {
		t.Errorf("dispute receipt %q:\n%s", m.Subject, m.Text)
	}
}

func TestEveryKindOwedHasAReceiptAndOthersNone(t *testing.T) {
	for _, k := range []ledger.Kind{ledger.Purchase, ledger.CallCharge, ledger.Refund, ledger.Dispute, ledger.Bonus,
		ledger.Adjustment, ledger.DisputeReversal, ledger.RefundFailure} {
		_, err := receipts.Render(receipts.Receipt{ID: 1, Kind: k, AmountCents: 100, PostedAt: time.Now()}, "http://127.0.0.1:8080")
		if owed := receipts.Owed(k); owed != (err == nil) {
			t.Errorf("%s: owed %t, render error %v", k, owed, err)
		}
	}
	if got := receipts.MessageID(7, "http://127.0.0.1:8080"); got != "receipt-7@127.0.0.1" {
		t.Errorf("Message-ID %q", got)
	}
}
