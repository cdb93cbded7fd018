package ratedeck_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/mobayilo/mobayilo/db"
	"github.com/mobayilo/mobayilo/internal/ratedeck"
	"github.com/mobayilo/mobayilo/internal/rating"
	"github.com/mobayilo/mobayilo/internal/testdb"
)

func TestSampleDeckIsValid(t *testing.T) {
	rates, err := ratedeck.Parse(bytes.NewReader(ratedeck.SampleCSV))
	if err != nil {
		t.Fatal(err)
	}
	if len(rates) < 100 {
		t.Fatalf("sample deck has %d rates", len(rates))
	}
	d, _ := rating.NewDeck(rates)
	// Caribbean numbers inside +1 are priced as themselves, not as the US.
	if r, _ := d.Lookup("12685551234"); r.Country != "AG" || r.Enabled {
		t.Fatalf("+1 268 matched %+v", r)
	}
}

func TestParseReportsEveryBadLine(t *testing.T) {
	file := `# a comment
prefix,country,description,per_minute_usd,connection_fee_usd,enabled
234,NG,Nigeria,0.13,0,true
+44,GB,UK,0.02,0,true
33,XX,France,0.02,0,true
49,DE,,0.02,0,true
39,IT,Italy,-0.03,0,true
39,IT,Italy,0.0300001,0,true
61,AU,Australia,0.05,0,maybe
234,NG,Nigeria again,0.13,0,true
86,CN,China,0.03,0
`
	_, err := ratedeck.Parse(strings.NewReader(file))
	var inv *ratedeck.InvalidError
	if !errors.As(err, &inv) {
		t.Fatalf("want InvalidError, got %v", err)
	}
	want := map[int]string{4: "prefix", 5: "country", 6: "description", 7: "per_minute_usd", 8: "per_minute_usd", 9: "enabled", 10: "already on line 3", 11: "fields"}
	got := map[int]string{}
	for _, l := range inv.Lines {
		got[l.Line] = l.Message
	}
	for line, fragment := range want {
		if !strings.Contains(got[line], fragment) {
			t.Errorf("line %d: %q, want it to mention %q", line, got[line], fragment)
		}
	}
	if len(got) != len(want) {
		t.Errorf("reported lines %v", got)
	}
	for _, bad := range []string{"", "# only comments\n", "prefix,country,description,per_minute_usd,connection_fee_usd,enabled\n", "a,b,c\n1,US,x,0.1,0,true\n"} {
		if _, err := ratedeck.Parse(strings.NewReader(bad)); err == nil {
			t.Errorf("accepted %q", bad)
		}
	}
}

func TestParseDollars(t *testing.T) {
	for in, want := range map[string]int64{"0": 0, "0.1234": 123_400, ".5": 500_000, "1": 1_000_000, "12.000001": 12_000_001, "$0.02": 20_000} {
		got, err := rating.ParseDollars(in)
		if err != nil || got != want {
			t.Errorf("ParseUSD(%q) = %d, %v; want %d", in, got, err, want)
		}
		if back, _ := rating.ParseDollars(rating.FormatDollars(want)); back != want {
			t.Errorf("FormatUSD(%d) = %q does not read back", want, rating.FormatDollars(want))
		}
	}
	for _, bad := range []string{"", ".", "-1", "1e3", "0.1234567", "1,5", "abc", "1234567.0"} {
		if _, err := rating.ParseDollars(bad); err == nil {
			t.Errorf("ParseUSD(%q) accepted", bad)
		}
	}
}

func TestReplaceAppliesAWholeDeckAndReportsChanges(t *testing.T) {
	pool := testdb.New(t)
	ctx := context.Background()
	first, _ := ratedeck.Parse(strings.NewReader("prefix,country,description,per_minute_usd,connection_fee_usd,enabled\n234,NG,Nigeria,0.13,0,true\n44,GB,UK,0.02,0,true\n33,FR,France,0.025,0,true\n"))
	d, err := ratedeck.Replace(ctx, pool, first)
	if err != nil || len(d.Added) != 3 {
		t.Fatalf("first import: %+v %v", d, err)
	}
	second, _ := ratedeck.Parse(strings.NewReader("prefix,country,description,per_minute_usd,connection_fee_usd,enabled\n234,NG,Nigeria,0.14,0,true\n44,GB,UK,0.02,0,true\n49,DE,Germany,0.025,0,false\n"))
	d, err = ratedeck.Replace(ctx, pool, second)
	if err != nil {
		t.Fatal(err)
	}
	if len(d.Added) != 1 || d.Added[0].Prefix != "49" || len(d.Changed) != 1 || d.Changed[0].Before.PerMinuteMicros != 130_000 ||
		d.Changed[0].After.PerMinuteMicros != 140_000 || len(d.Removed) != 1 || d.Removed[0].Prefix != "33" || d.Unchanged != 1 {
		t.Fatalf("diff %+v", d)
	}
	if !strings.Contains(d.String(), "~ 234 NG \"Nigeria\" $0.13/min -> $0.14/min") {
		t.Fatalf("diff text:\n%s", d)
	}
	got, err := ratedeck.Load(ctx, db.New(pool))
	if err != nil || len(got) != 3 {
		t.Fatalf("deck after import: %+v %v", got, err)
	}
}

func TestABadFileChangesNothing(t *testing.T) {
	pool := testdb.New(t)
	ctx := context.Background()
	if loaded, err := ratedeck.LoadSampleIfEmpty(ctx, pool); !loaded || err != nil {
		t.Fatalf("sample: %v %v", loaded, err)
	}
	before, _ := ratedeck.Load(ctx, db.New(pool))
	if _, err := ratedeck.Parse(strings.NewReader("prefix,country,description,per_minute_usd,connection_fee_usd,enabled\n1,US,US,0.01,0,true\n2,??,bad,x,0,true\n")); err == nil {
		t.Fatal("bad file accepted")
	}
	if _, err := ratedeck.Replace(ctx, pool, nil); err == nil {
		t.Fatal("an empty deck replaced the deck")
	}
	after, _ := ratedeck.Load(ctx, db.New(pool))
	if len(after) != len(before) {
		t.Fatalf("deck changed from %d to %d rates", len(before), len(after))
	}
	if loaded, _ := ratedeck.LoadSampleIfEmpty(ctx, pool); loaded {
		t.Fatal("the sample was loaded over an existing deck")
	}
}

func TestStoreFollowsChanges(t *testing.T) {
	pool := testdb.New(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s, err := ratedeck.NewStore(ctx, pool, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	if s.Deck().Len() != 0 {
		t.Fatal("empty database, non-empty deck")
	}
	go s.Watch(ctx, 200*time.Millisecond)
	rates, _ := ratedeck.Parse(strings.NewReader("prefix,country,description,per_minute_usd,connection_fee_usd,enabled\n234,NG,Nigeria,0.13,0,true\n"))
	time.Sleep(300 * time.Millisecond) // let the listener start and idle through a timeout
	if _, err := ratedeck.Replace(context.Background(), pool, rates); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		if r, ok := s.Deck().Lookup("2348031234567"); ok && r.PerMinuteMicros == 130_000 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("the store did not pick up the new deck")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// BenchmarkLookup20k measures a longest-prefix lookup on a deck of 20,000
// prefixes (the sample deck plus synthetic 4- to 9-digit ranges).
func BenchmarkLookup20k(b *testing.B) {
	rates, _ := ratedeck.Parse(bytes.NewReader(ratedeck.SampleCSV))
	seen := map[string]bool{}
	for _, r := range rates {
		seen[r.Prefix] = true
	}
	for i := 0; len(rates) < 20_000; i++ {
		p := fmt.Sprintf("2%08d", i*7919)[:4+i%6]
		if seen[p] {
			continue
		}
		seen[p] = true
		rates = append(rates, rating.Rate{Prefix: p, Country: "NG", Description: "synthetic", PerMinuteMicros: 100_000, Enabled: true})
	}
	d, err := rating.NewDeck(rates)
	if err != nil {
		b.Fatal(err)
	}
	numbers := []string{"2348031234567", "14155552671", "442079460018", "12685551234", "919876543210", "23320123456789"}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, ok := d.Lookup(numbers[i%len(numbers)]); !ok {
			b.Fatal("miss")
		}
	}
	b.ReportMetric(float64(d.Len()), "prefixes")
}

// The store's version follows the deck's contents, not its refreshes.
func TestStoreVersionFollowsTheContents(t *testing.T) {
	rates := []rating.Rate{
		{Prefix: "234", Country: "NG", Description: "Nigeria", PerMinuteMicros: 140_000, Enabled: true},
		{Prefix: "44", Country: "GB", Description: "United Kingdom", PerMinuteMicros: 20_000, Enabled: true},
	}
	version := func(rs []rating.Rate) string {
		d, err := rating.NewDeck(rs)
		if err != nil {
			t.Fatal(err)
		}
		return ratedeck.NewFixedStore(d).Version()
	}
	v := version(rates)
	if v == "" || version(rates) != v {
		t.Fatalf("the same deck has versions %q and %q", v, version(rates))
	}
	for name, change := range map[string]func(r *rating.Rate){
		"repriced": func(r *rating.Rate) { r.PerMinuteMicros++ },
		"disabled": func(r *rating.Rate) { r.Enabled = false },
		"fee":      func(r *rating.Rate) { r.ConnectionFeeMicros = 1 },
	} {
		changed := append([]rating.Rate(nil), rates...)
		change(&changed[1])
		if version(changed) == v {
			t.Errorf("a %s rate leaves the version %q", name, v)
		}
	}
	if version(rates[:1]) == v {
		t.Error("a removed rate leaves the version")
	}
}

// SetEnabled writes the flag and the caller's record together: a record that
// fails leaves the rate as it was, and an unknown prefix is db.ErrNotFound.
func TestSetEnabledWritesWithItsRecordOrNotAtAll(t *testing.T) {
	pool := testdb.New(t)
	ctx := context.Background()
	rates, _ := ratedeck.Parse(strings.NewReader("prefix,country,description,per_minute_usd,connection_fee_usd,enabled\n234,NG,Nigeria,0.13,0,true\n"))
	if _, err := ratedeck.Replace(ctx, pool, rates); err != nil {
		t.Fatal(err)
	}
	refused := errors.New("no audit")
	if _, err := ratedeck.SetEnabled(ctx, pool, "234", false, func(*db.Queries, rating.Rate) error { return refused }); !errors.Is(err, refused) {
		t.Fatalf("a failed record: %v", err)
	}
	if got, _ := ratedeck.Load(ctx, db.New(pool)); !got[0].Enabled {
		t.Fatal("disabled although its record failed")
	}
	recorded := ""
	r, err := ratedeck.SetEnabled(ctx, pool, "234", false, func(_ *db.Queries, r rating.Rate) error { recorded = r.Description; return nil })
	if err != nil || r.Enabled || recorded != "Nigeria" {
		t.Fatalf("disable: %+v %v, recorded %q", r, err, recorded)
	}
	if got, _ := ratedeck.Load(ctx, db.New(pool)); got[0].Enabled {
		t.Fatal("still enabled")
	}
	called := false
	if _, err := ratedeck.SetEnabled(ctx, pool, "999", true, func(*db.Queries, rating.Rate) error { called = true; return nil }); !errors.Is(err, db.ErrNotFound) || called {
		t.Fatalf("unknown prefix: %v, record called %t", err, called)
	}
}

// Reprice follows the carrier's costs, adds a dearer range inside one of our
// prefixes, disables what the carrier no longer prices, and changes nothing
// when it is run again with the same costs.
func TestRepriceFollowsCostsOnce(t *testing.T) {
	pool := testdb.New(t)
	ctx := context.Background()
	rates, _ := ratedeck.Parse(strings.NewReader("prefix,country,description,per_minute_usd,connection_fee_usd,enabled\n" +
		"234,NG,Nigeria,0.13,0,true\n23480,NG,Nigeria mobile,0.15,0,true\n44,GB,UK,0.02,0,true\n"))
	if _, err := ratedeck.Replace(ctx, pool, rates); err != nil {
		t.Fatal(err)
	}
	policy := rating.Pricing{MarkupBasisPoints: 3000, MinMarginMicros: 10_000}
	costs := []rating.Cost{{Prefix: "234", Micros: 100_000}, {Prefix: "2349", Micros: 200_000}}
	got, err := ratedeck.Reprice(ctx, pool, policy, "NG", costs)
	if err != nil {
		t.Fatal(err)
	}
	if got.Changed != 1 || got.Added != 1 || got.Disabled != 0 {
		t.Fatalf("first reprice: %+v", got)
	}
	deck, _ := ratedeck.Load(ctx, db.New(pool))
	byPrefix := map[string]rating.Rate{}
	for _, r := range deck {
		byPrefix[r.Prefix] = r
	}
	if byPrefix["234"].PerMinuteMicros != policy.Sell(100_000) || byPrefix["23480"].PerMinuteMicros != policy.Sell(100_000) || byPrefix["2349"].PerMinuteMicros != policy.Sell(200_000) || byPrefix["44"].PerMinuteMicros != 20_000 {
		t.Fatalf("deck after reprice: %+v", byPrefix)
	}
	again, err := ratedeck.Reprice(ctx, pool, policy, "NG", costs)
	if err != nil || again.Changed+again.Added+again.Disabled != 0 {
		t.Fatalf("second reprice changed %+v (%v)", again, err)
	}
	gone, err := ratedeck.Reprice(ctx, pool, policy, "GB", nil)
	if err != nil || gone.Disabled != 1 {
		t.Fatalf("GB without costs: %+v %v", gone, err)
	}
}
