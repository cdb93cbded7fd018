package web

import (
	"encoding/csv"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/rs/zerolog"

	"github.com/mobayilo/mobayilo/db"
)

const (
	transactionsPageSize = 25
	// exportChunkSize is how many entries the CSV export reads per query:
	// a long ledger is streamed a chunk at a time, never held whole.
	exportChunkSize = 1000
)

// entryRow is one ledger entry as the transactions page shows it.
type entryRow struct {
	ID                int64
	Title, Note       string // what the entry was for (describeEntry)
	AmountCents       int64  // signed, from the wallet's side
	BalanceAfterCents int64
	At                time.Time // UTC
	Link              string    // the call or top-up it belongs to, if any
}

// Amount is the signed amount, a credit with a leading +.
func (e entryRow) Amount() string {
	if e.AmountCents > 0 {
		return "+" + Money(e.AmountCents)
	}
	return Money(e.AmountCents)
}

type transactionsData struct {
	Entries []entryRow
	Older   string // the next page's URL, when there is one
}

// showTransactions lists the signed-in user's ledger entries, newest
// first, a page at a time (a keyset cursor: ?before=<entry id>).
func (s *Server) showTransactions(w http.ResponseWriter, r *http.Request) {
	u := currentUser(r)
	p := db.ListWalletEntriesParams{AccountID: u.AccountID, PageSize: transactionsPageSize + 1}
	before, set, ok := readCursor(s, w, r, "your transactions", parseEntryCursor)
	if !ok {
		return
	}
	if set {
		p.BeforeID = &before
	}
	rows, err := db.New(s.pool).ListWalletEntries(r.Context(), p)
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	var data transactionsData
	rows, more := pageOf(rows, transactionsPageSize)
	if more {
		data.Older = olderURL("/transactions", strconv.FormatInt(rows[len(rows)-1].ID, 10))
	}
	data.Entries = make([]entryRow, len(rows))
	for i, e := range rows {
		data.Entries[i] = toEntryRow(e)
	}
	s.render(w, r, http.StatusOK, "transactions", pageData{Tab: "credits", Data: data})
}

// parseEntryCursor reads Transactions' cursor: an entry id.
func parseEntryCursor(s string) (int64, bool) {
	id, err := strconv.ParseInt(s, 10, 64)
	return id, err == nil && id > 0
}

func toEntryRow(e db.ListWalletEntriesRow) entryRow {
	row := entryRow{ID: e.ID, AmountCents: e.AmountCents, BalanceAfterCents: e.BalanceAfterCents, At: e.CreatedAt.UTC()}
	row.Title, row.Note = describeEntry(e)
	switch {
	case e.CallID != nil:
		row.Link = "/calls/" + e.CallID.String()
	case e.TopUpID != nil:
		row.Link = "/credits/topups/" + e.TopUpID.String()
	}
	return row
}

// describeEntry says what an entry was for: a title in words, and the
// note staff or the sign-up left on a bonus or an adjustment (its memo).
func describeEntry(e db.ListWalletEntriesRow) (title, note string) {
	switch e.Kind {
	case "purchase":
		return "Top-up", ""
	case "call_charge":
		if e.CallPhoneNumber != nil {
			return "Call to " + *e.CallPhoneNumber, ""
		}
		return "Call", ""
	case "refund":
		return "Refund", ""
	case "dispute":
		return "Dispute", ""
	case "dispute_reversal":
		return "Dispute won", ""
	case "refund_failure":
		return "Refund failed", ""
	case "bonus":
		// Sign-up bonuses carry this memo (internal/accounts).
		if e.Memo == "Welcome bonus" {
			return e.Memo, ""
		}
		return "Bonus", e.Memo
	case "adjustment":
		return "Adjustment", e.Memo
	}
	return e.Kind, e.Memo
}

// exportTransactions streams the user's whole ledger, newest first, as CSV.
// It reads a chunk at a time with the page's keyset query; each row carries
// its own running balance, so chunks need no shared snapshot.
func (s *Server) exportTransactions(w http.ResponseWriter, r *http.Request) {
	u := currentUser(r)
	q := db.New(s.pool)
	p := db.ListWalletEntriesParams{AccountID: u.AccountID, PageSize: exportChunkSize}
	// The first chunk is read before anything is written, so a failure
	// here is still a clean error page.
	rows, err := q.ListWalletEntries(r.Context(), p)
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	name := "mobayilo-transactions-" + time.Now().UTC().Format(time.DateOnly) + ".csv"
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", `attachment; filename="`+name+`"`)
	w.Header().Set("Cache-Control", "no-store")
	cw := csv.NewWriter(w)
	_ = cw.Write([]string{"id", "created_at", "kind", "description", "amount", "balance_after", "call_id", "topup_id"})
	for {
		for _, e := range rows {
			rec := []string{
				strconv.FormatInt(e.ID, 10),
				e.CreatedAt.UTC().Format(time.RFC3339),
				csvText(e.Kind),
				csvText(csvDescription(e)),
				decimalDollars(e.AmountCents),
				decimalDollars(e.BalanceAfterCents),
				"", "",
			}
			if e.CallID != nil {
				rec[6] = e.CallID.String()
			}
			if e.TopUpID != nil {
				rec[7] = e.TopUpID.String()
			}
			_ = cw.Write(rec)
		}
		cw.Flush()
		if err := cw.Error(); err != nil {
			return // the client went away
		}
		if len(rows) < exportChunkSize {
			return
		}
		p.BeforeID = &rows[len(rows)-1].ID
		if rows, err = q.ListWalletEntries(r.Context(), p); err != nil {
			// The 200 is sent: cut the connection rather than end a file
			// that looks complete but is not.
			zerolog.Ctx(r.Context()).Error().Err(err).Str("path", r.URL.Path).Msg("transactions export")
			panic(http.ErrAbortHandler)
		}
	}
}

// csvDescription is the export's description: the note when there is one
// (the kind column already says it is a bonus or an adjustment), else the
// title.
func csvDescription(e db.ListWalletEntriesRow) string {
	title, note := describeEntry(e)
	if note != "" {
		return note
	}
	return title
}

// decimalDollars writes cents as a plain decimal number of dollars, without
// floats: -28 -> "-0.28", 500 -> "5.00".
func decimalDollars(cents int64) string {
	sign := ""
	u := uint64(cents)
	if cents < 0 {
		sign, u = "-", -u // two's complement: right for math.MinInt64 too
	}
	return fmt.Sprintf("%s%d.%02d", sign, u/100, u%100)
}

// csvText defuses a text cell a spreadsheet would read as a formula (one
// starting with = + - @, or a tab or carriage return) with a leading
// apostrophe. Numeric columns are written without it.
func csvText(s string) string {
	if s != "" {
		switch s[0] {
		case '=', '+', '-', '@', '\t', '\r':
			return "'" + s
		}
	}
	return s
}
