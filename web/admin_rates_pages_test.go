package web

import (
	"net/url"

	"github.com/mobayilo/mobayilo/internal/ratedeck"
	"github.com/mobayilo/mobayilo/internal/rating"
)

func init() {
	nigeria := rating.Rate{Prefix: "234", Country: "NG", Description: "Nigeria <y>", PerMinuteMicros: 130_000, Enabled: true}
	repriced := nigeria
	repriced.Description, repriced.PerMinuteMicros, repriced.ConnectionFeeMicros, repriced.Enabled = "Nigeria <fixed>", 140_500, 50_000, false
	diff := viewOf(ratedeck.Diff{
		Added:     []ratedeck.Change{{Prefix: "23499", After: rating.Rate{Prefix: "23499", Country: "NG", Description: "Nigeria <y> new", PerMinuteMicros: 200_000, ConnectionFeeMicros: 50_000}}},
		Changed:   []ratedeck.Change{{Prefix: "234", Before: nigeria, After: repriced}},
		Removed:   []ratedeck.Change{{Prefix: "23491", Before: rating.Rate{Prefix: "23491", Country: "NG", Description: "Nigeria <y> gone", PerMinuteMicros: 150_000, Enabled: true}}},
		Unchanged: 3,
	})
	diff.AddedN = diffRowsShown + 7 // "...and 7 more"
	extraPageSamples["admin_rates"] = pageData{Tab: "admin", Form: url.Values{"reason": {"<y>"}},
		Errors: map[string]string{"form": "<y> too long", "deck": "Choose <y>", "reason": "Say why <y>"},
		Data: adminRatesData{Query: "<y>", State: "disabled", Matches: 250, Total: 20_000, Disabled: 12,
			Rates:  []rateRow{rowOf(nigeria), rowOf(repriced)},
			Import: &deckImport{FileName: "<y>.csv", Diff: diff}}}
}
