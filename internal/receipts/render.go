package receipts

import (
	"bytes"
	"embed"
	"fmt"
	htmltemplate "html/template"
	"net/url"
	texttemplate "text/template"
	"time"

	"github.com/google/uuid"

	"github.com/mobayilo/mobayilo/internal/ledger"
	"github.com/mobayilo/mobayilo/internal/mail"
	"github.com/mobayilo/mobayilo/internal/rating"
)

//go:embed templates/receipt.txt templates/receipt.html
var templateFiles embed.FS

// The templates are parsed when the package loads: a broken one fails
// start-up (and every test of this package).
var (
	textTemplate = texttemplate.Must(texttemplate.New("receipt.txt").ParseFS(templateFiles, "templates/receipt.txt"))
	htmlTemplate = htmltemplate.Must(htmltemplate.New("receipt.html").ParseFS(templateFiles, "templates/receipt.html"))
)

// Receipt is what one receipt says, read from its ledger entry.
type Receipt struct {
	ID          int64 // the receipt's own id: its Message-ID
	EntryID     int64 // the ledger entry's id
	Kind        ledger.Kind
	AmountCents int64 // signed from the wallet's side, as posted
	// BalanceAfterCents is the wallet's balance right after the entry.
	BalanceAfterCents int64
	TopUpID           *uuid.UUID
	CardLast4         string // "" when the payment did not say
	PostedAt          time.Time
	To, Name          string
	Location          *time.Location // the user's zone; nil is UTC
}

// wording is how each kind is told.
type wording struct {
	subject string // with the amount
	lead    string // the first sentence, with the amount
	label   string // the amount's row
}

var wordings = map[ledger.Kind]wording{
	ledger.Purchase: {"Receipt: %s added to your Mobayilo balance",
		"Thank you: we added %s to your Mobayilo balance.", "Added"},
	ledger.Refund: {"Refund: %s taken from your Mobayilo balance and sent back to your card",
		"We refunded %s of your top-up: it has been taken from your balance and sent back to the card that paid. Your bank may take 5 to 10 business days to show it.", "Refunded"},
	ledger.Dispute: {"Dispute: %s taken from your Mobayilo balance",
		"Your card's bank disputed a top-up payment and took back %s, so we took the same amount from your balance.", "Withdrawn"},
	ledger.DisputeReversal: {"Dispute closed: %s back in your Mobayilo balance",
		"The dispute over your top-up payment was closed in our favour: the %s taken from your balance is back.", "Returned"},
	ledger.RefundFailure: {"Refund failed: %s back in your Mobayilo balance",
		"A refund of %s to your card did not go through, so the amount is back in your balance.", "Returned"},
}

// view is what the templates render: every amount already formatted from
// integer cents.
type view struct {
	Name, Lead, AmountLabel, Amount, BalanceAfter string
	Negative                                      bool
	CardLast4, TopUpID, Date                      string
	EntryID                                       int64
	TopUpURL, TransactionsURL                     string
}

// Render builds r's email. baseURL is the app's public address (links and
// the Message-ID's domain).
func Render(r Receipt, baseURL string) (mail.Message, error) {
	w, ok := wordings[r.Kind]
	if !ok {
		return mail.Message{}, fmt.Errorf("receipts: no receipt for a %s entry", r.Kind)
	}
	loc := r.Location
	if loc == nil {
		loc = time.UTC
	}
	amount := rating.FormatCents(abs(r.AmountCents))
	v := view{Name: r.Name, Lead: fmt.Sprintf(w.lead, amount), AmountLabel: w.label, Amount: amount,
		BalanceAfter: rating.FormatCents(r.BalanceAfterCents), Negative: r.BalanceAfterCents < 0,
		CardLast4: r.CardLast4, Date: r.PostedAt.In(loc).Format("2 January 2006, 15:04 MST"), EntryID: r.EntryID,
		TransactionsURL: baseURL + "/transactions"}
	if r.TopUpID != nil {
		v.TopUpID = r.TopUpID.String()
		v.TopUpURL = baseURL + "/credits/topups/" + v.TopUpID
	}
	var text, html bytes.Buffer
	if err := textTemplate.Execute(&text, v); err != nil {
		return mail.Message{}, fmt.Errorf("receipts: render text: %w", err)
	}
	if err := htmlTemplate.Execute(&html, v); err != nil {
		return mail.Message{}, fmt.Errorf("receipts: render html: %w", err)
	}
	return mail.Message{To: r.To, Subject: fmt.Sprintf(w.subject, amount), Text: text.String(), HTML: html.String(),
		MessageID: MessageID(r.ID, baseURL)}, nil
}

// MessageID is receipt id's Message-ID: the same every time it is sent.
func MessageID(id int64, baseURL string) string {
	host := "mobayilo.invalid"
	if u, err := url.Parse(baseURL); err == nil && u.Hostname() != "" {
		host = u.Hostname()
	}
	return fmt.Sprintf("receipt-%d@%s", id, host)
}

func abs(c int64) int64 {
	if c < 0 {
		return -c
	}
	return c
}
