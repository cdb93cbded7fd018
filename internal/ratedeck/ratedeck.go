// Package ratedeck moves the rate deck between CSV files, Postgres and
// memory: it validates a whole file before anything is applied, replaces the
// deck in one transaction reporting what changed, and keeps an in-memory,
// longest-prefix index (rating.Deck) that is rebuilt whenever the deck
// changes (Postgres LISTEN/NOTIFY on rates_changed).
package ratedeck

import (
	"bytes"
	"context"
	_ "embed"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/mobayilo/mobayilo/db"
	"github.com/mobayilo/mobayilo/internal/accounts"
	"github.com/mobayilo/mobayilo/internal/rating"
)

// SampleCSV is the sample deck for development and tests (sample prices).
//
//go:embed sample-deck.csv
var SampleCSV []byte

// header is the first non-comment line every deck file starts with.
var header = []string{"prefix", "country", "description", "per_minute_usd", "connection_fee_usd", "enabled"}

// LineError is one bad line of a deck file.
type LineError struct {
	Line    int
	Message string
}

func (e LineError) String() string { return fmt.Sprintf("line %d: %s", e.Line, e.Message) }

// InvalidError lists every bad line of a file; nothing was applied.
type InvalidError struct{ Lines []LineError }

func (e *InvalidError) Error() string {
	parts := make([]string, len(e.Lines))
	for i, l := range e.Lines {
		parts[i] = l.String()
	}
	return fmt.Sprintf("ratedeck: %d bad line(s):\n  %s", len(e.Lines), strings.Join(parts, "\n  "))
}

// Parse reads and validates a whole deck file. Lines starting with # and
// blank lines are ignored. It returns every problem at once, by line.
func Parse(r io.Reader) ([]rating.Rate, error) {
	data, err := io.ReadAll(io.LimitReader(r, 64<<20))
	if err != nil {
		return nil, fmt.Errorf("ratedeck: read: %w", err)
	}
	var (
		rates   []rating.Rate
		bad     []LineError
		seen    = map[string]int{}
		sawHead bool
	)
	for i, raw := range strings.Split(strings.ReplaceAll(string(data), "\r\n", "\n"), "\n") {
		line := i + 1
		text := strings.TrimSpace(raw)
		if text == "" || strings.HasPrefix(text, "#") {
			continue
		}
		fields, err := csv.NewReader(strings.NewReader(text)).Read()
		if err != nil {
			bad = append(bad, LineError{line, "not valid CSV: " + err.Error()})
			continue
		}
		for j := range fields {
			fields[j] = strings.TrimSpace(fields[j])
		}
		if !sawHead {
			sawHead = true
			if strings.Join(fields, ",") != strings.Join(header, ",") {
				bad = append(bad, LineError{line, "the header must be: " + strings.Join(header, ",")})
				break
			}
			continue
		}
		if len(fields) != len(header) {
			bad = append(bad, LineError{line, fmt.Sprintf("%d fields, want %d", len(fields), len(header))})
			continue
		}
		rate, problems := parseRow(fields)
		if prev, dup := seen[rate.Prefix]; dup && rate.Prefix != "" {
			problems = append(problems, fmt.Sprintf("prefix %s already on line %d", rate.Prefix, prev))
		}
		if len(problems) > 0 {
			bad = append(bad, LineError{line, strings.Join(problems, "; ")})
			continue
		}
		seen[rate.Prefix] = line
		rates = append(rates, rate)
	}
	if !sawHead && len(bad) == 0 {
		bad = append(bad, LineError{1, "the file is empty; the header must be: " + strings.Join(header, ",")})
	}
	if len(bad) == 0 && len(rates) == 0 {
		bad = append(bad, LineError{1, "the file has no rates; refusing to empty the deck"})
	}
	if len(bad) > 0 {
		return nil, &InvalidError{Lines: bad}
	}
	// NewDeck checks what rows cannot see alone.
	if _, err := rating.NewDeck(rates); err != nil {
		return nil, &InvalidError{Lines: []LineError{{0, err.Error()}}}
	}
	return rates, nil
}

func parseRow(f []string) (rating.Rate, []string) {
	var problems []string
	r := rating.Rate{Prefix: f[0], Country: strings.ToUpper(f[1]), Description: f[2]}
	if !ValidPrefix(r.Prefix) {
		problems = append(problems, fmt.Sprintf("prefix %q must be 1 to 15 digits, without + or a leading 0", f[0]))
	}
	if !accounts.IsCountry(r.Country) {
		problems = append(problems, fmt.Sprintf("country %q is not an ISO country code", f[1]))
	}
	if r.Description == "" || len(r.Description) > 200 {
		problems = append(problems, "description must be 1 to 200 characters")
	}
	var err error
	if r.PerMinuteMicros, err = rating.ParseDollars(f[3]); err != nil || r.PerMinuteMicros <= 0 {
		problems = append(problems, fmt.Sprintf("per_minute_usd %q must be a positive amount like 0.1234", f[3]))
	}
	if r.ConnectionFeeMicros, err = rating.ParseDollars(f[4]); err != nil || r.ConnectionFeeMicros < 0 {
		problems = append(problems, fmt.Sprintf("connection_fee_usd %q must be an amount like 0 or 0.05", f[4]))
	}
	if r.Enabled, err = strconv.ParseBool(f[5]); err != nil {
		problems = append(problems, fmt.Sprintf("enabled %q must be true or false", f[5]))
	}
	return r, problems
}

// ValidPrefix reports whether p can be a rate's prefix: 1 to 15 digits,
// without + or a leading 0.
func ValidPrefix(p string) bool {
	if p == "" || len(p) > 15 || p[0] == '0' {
		return false
	}
	for i := 0; i < len(p); i++ {
		if p[i] < '0' || p[i] > '9' {
			return false
		}
	}
	return true
}

// Diff is what a replacement changed.
type Diff struct {
	Added, Changed, Removed []Change
	Unchanged               int
}

// Change is one prefix's before and after (zero Rate when absent).
type Change struct {
	Prefix        string
	Before, After rating.Rate
}

func (d Diff) Empty() bool { return len(d.Added)+len(d.Changed)+len(d.Removed) == 0 }

// String lists the changes, one per line.
func (d Diff) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d added, %d changed, %d removed, %d unchanged\n", len(d.Added), len(d.Changed), len(d.Removed), d.Unchanged)
	for _, c := range d.Added {
		fmt.Fprintf(&b, "+ %s %s %q %s%s\n", c.Prefix, c.After.Country, c.After.Description, rating.FormatPerMinute(c.After.PerMinuteMicros), enabledNote(c.After))
	}
	for _, c := range d.Changed {
		fmt.Fprintf(&b, "~ %s %s %q %s -> %s%s\n", c.Prefix, c.After.Country, c.After.Description,
			rating.FormatPerMinute(c.Before.PerMinuteMicros), rating.FormatPerMinute(c.After.PerMinuteMicros), enabledNote(c.After))
	}
	for _, c := range d.Removed {
		fmt.Fprintf(&b, "- %s %s %q\n", c.Prefix, c.Before.Country, c.Before.Description)
	}
	return b.String()
}

func enabledNote(r rating.Rate) string {
	if r.Enabled {
		return ""
	}
	return " (disabled)"
}

// The deck's writes. Every change to call_rates goes through Replace,
// Reprice or SetEnabled: each takes the same table lock (an import, the
// pricing sync and an operator's click are serialised) and NOTIFYs
// rates_changed in its own transaction, so every instance rebuilds its index
// at commit.

// Replace makes rates the whole deck, in one transaction, and tells every
// instance to rebuild its index. The file was validated by Parse.
func Replace(ctx context.Context, pool *pgxpool.Pool, rates []rating.Rate) (Diff, error) {
	if _, err := rating.NewDeck(rates); err != nil {
		return Diff{}, err
	}
	if len(rates) == 0 {
		return Diff{}, errors.New("ratedeck: refusing to replace the deck with no rates")
	}
	var diff Diff
	err := write(ctx, pool, func(q *db.Queries) (bool, error) {
		current, err := q.ListRates(ctx)
		if err != nil {
			return false, err
		}
		diff = diffRates(fromRows(current), rates)
		prefixes := make([]string, len(rates))
		for i, r := range rates {
			prefixes[i] = r.Prefix
		}
		if _, err := q.DeleteRatesNotIn(ctx, prefixes); err != nil {
			return false, err
		}
		for _, c := range append(append([]Change{}, diff.Added...), diff.Changed...) {
			if err := upsert(ctx, q, c.After); err != nil {
				return false, err
			}
		}
		return true, nil
	})
	if err != nil {
		return Diff{}, fmt.Errorf("ratedeck: replace: %w", err)
	}
	return diff, nil
}

// Repriced is what Reprice wrote for one country.
type Repriced struct {
	Changed, Added, Disabled, Unchanged int
	Losses                              []rating.Loss // where the carrier's cost had risen above our price
}

// Reprice sets one country's prices from the carrier's costs under policy
// (see rating.Pricing.Reprice), in one transaction. A carrier range is added
// only where no rate has its prefix, in any country: the sync never relabels
// or re-enables an operator's row. Repricing with the same costs twice
// changes nothing the second time, and notifies only when something changed.
func Reprice(ctx context.Context, pool *pgxpool.Pool, policy rating.Pricing, country string, costs []rating.Cost) (Repriced, error) {
	var out Repriced
	err := write(ctx, pool, func(q *db.Queries) (bool, error) {
		rows, err := q.ListRatesByCountry(ctx, country)
		if err != nil {
			return false, err
		}
		rp := policy.Reprice(fromRows(rows), costs)
		for _, list := range [][]rating.Rate{rp.Changed, rp.Disabled} {
			for _, r := range list {
				if err := upsert(ctx, q, r); err != nil {
					return false, err
				}
			}
		}
		added := 0
		for _, r := range rp.Added {
			n, err := q.InsertRateIfAbsent(ctx, db.InsertRateIfAbsentParams{Prefix: r.Prefix, Country: r.Country, Description: r.Description,
				PerMinuteMicros: r.PerMinuteMicros, ConnectionFeeMicros: r.ConnectionFeeMicros, Enabled: r.Enabled})
			if err != nil {
				return false, err
			}
			added += int(n)
		}
		out = Repriced{Changed: len(rp.Changed), Added: added, Disabled: len(rp.Disabled), Unchanged: rp.Unchanged, Losses: rp.Losses}
		return out.Changed+out.Added+out.Disabled > 0, nil
	})
	if err != nil {
		return Repriced{}, fmt.Errorf("ratedeck: reprice %s: %w", country, err)
	}
	return out, nil
}

// SetEnabled enables or disables one prefix and runs also (the caller's
// record of it, such as the audit log) in the same transaction. A prefix
// the deck does not hold is db.ErrNotFound, and nothing is written.
func SetEnabled(ctx context.Context, pool *pgxpool.Pool, prefix string, enabled bool, also func(q *db.Queries, r rating.Rate) error) (rating.Rate, error) {
	var rate rating.Rate
	err := write(ctx, pool, func(q *db.Queries) (bool, error) {
		row, err := q.SetRateEnabled(ctx, db.SetRateEnabledParams{Prefix: prefix, Enabled: enabled})
		if err != nil {
			return false, err
		}
		rate = fromRow(row)
		if also != nil {
			if err := also(q, rate); err != nil {
				return false, err
			}
		}
		return true, nil
	})
	if err != nil {
		return rating.Rate{}, fmt.Errorf("ratedeck: set +%s enabled=%t: %w", prefix, enabled, err)
	}
	return rate, nil
}

// write runs fn in one transaction holding the deck's write lock, and
// NOTIFYs rates_changed (delivered at commit) when fn says it changed
// something.
func write(ctx context.Context, pool *pgxpool.Pool, fn func(q *db.Queries) (changed bool, err error)) error {
	return db.InTx(ctx, pool, func(q *db.Queries) error {
		if _, err := q.DB().Exec(ctx, `LOCK TABLE call_rates IN SHARE ROW EXCLUSIVE MODE`); err != nil {
			return err
		}
		changed, err := fn(q)
		if err != nil || !changed {
			return err
		}
		return q.NotifyRatesChanged(ctx)
	})
}

// upsert writes one rate inside a write's transaction.
func upsert(ctx context.Context, q *db.Queries, r rating.Rate) error {
	return q.UpsertRate(ctx, db.UpsertRateParams{
		Prefix: r.Prefix, Country: r.Country, Description: r.Description,
		PerMinuteMicros: r.PerMinuteMicros, ConnectionFeeMicros: r.ConnectionFeeMicros, Enabled: r.Enabled,
	})
}

// LoadSampleIfEmpty loads the sample deck into an empty deck (dev), and
// reports whether it did.
func LoadSampleIfEmpty(ctx context.Context, pool *pgxpool.Pool) (bool, error) {
	n, err := db.New(pool).CountRates(ctx)
	if err != nil || n > 0 {
		return false, err
	}
	rates, err := Parse(bytes.NewReader(SampleCSV))
	if err != nil {
		return false, err
	}
	_, err = Replace(ctx, pool, rates)
	return err == nil, err
}

// Load reads the deck from Postgres.
func Load(ctx context.Context, q *db.Queries) ([]rating.Rate, error) {
	rows, err := q.ListRates(ctx)
	if err != nil {
		return nil, fmt.Errorf("ratedeck: load: %w", err)
	}
	return fromRows(rows), nil
}

func fromRows(rows []db.CallRate) []rating.Rate {
	out := make([]rating.Rate, len(rows))
	for i, r := range rows {
		out[i] = fromRow(r)
	}
	return out
}

func fromRow(r db.CallRate) rating.Rate {
	return rating.Rate{Prefix: r.Prefix, Country: r.Country, Description: r.Description,
		PerMinuteMicros: r.PerMinuteMicros, ConnectionFeeMicros: r.ConnectionFeeMicros, Enabled: r.Enabled}
}

// DiffOf is what replacing before with after would change.
func DiffOf(before, after []rating.Rate) Diff { return diffRates(before, after) }

func diffRates(before, after []rating.Rate) Diff {
	old := make(map[string]rating.Rate, len(before))
	for _, r := range before {
		old[r.Prefix] = r
	}
	var d Diff
	for _, r := range after {
		prev, ok := old[r.Prefix]
		delete(old, r.Prefix)
		switch {
		case !ok:
			d.Added = append(d.Added, Change{Prefix: r.Prefix, After: r})
		case prev != r:
			d.Changed = append(d.Changed, Change{Prefix: r.Prefix, Before: prev, After: r})
		default:
			d.Unchanged++
		}
	}
	for _, r := range old {
		d.Removed = append(d.Removed, Change{Prefix: r.Prefix, Before: r})
	}
	for _, list := range [][]Change{d.Added, d.Changed, d.Removed} {
		sort.Slice(list, func(i, j int) bool { return list[i].Prefix < list[j].Prefix })
	}
	return d
}
