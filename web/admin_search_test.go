package web

import (
	"net/url"
	"testing"

	"github.com/google/uuid"
)

// How the console's search box reads a term: each case names the parts
// set; every other part must be empty.
func TestParseSearchTerm(t *testing.T) {
	id := uuid.MustParse("3fa85f64-5717-4562-b3fc-2c963f66afa6")
	ptr := func(u uuid.UUID) *uuid.UUID { return &u }
	cases := []struct {
		term string
		want searchTerm // Kinds not compared
	}{
		// National format: the trunk 0 dropped, the rest the number's end;
		// the digits also as a part.
		{"0803 123 4567", searchTerm{NationalNumber: "8031234567", NumberPart: "08031234567"}},
		{"(0)803-123-4567", searchTerm{NationalNumber: "8031234567", NumberPart: "08031234567"}},
		// International: the start of the E.164 number.
		{"+234 803 123 4567", searchTerm{NumberPrefix: "2348031234567", NumberPart: "2348031234567"}},
		{"00234 803 123", searchTerm{NumberPrefix: "234803123", NumberPart: "00234803123"}},
		// Partial and US-style numbers: any part (and, all hex, an id's start).
		{"(415) 555-0100", searchTerm{NumberPart: "4155550100"}},
		{"555.0100", searchTerm{NumberPart: "5550100"}},
		{"0100", searchTerm{NumberPart: "0100"}}, // too short to be national
		{"1234567", searchTerm{NumberPart: "1234567", IDFrom: ptr(uuid.MustParse("12345670-0000-0000-0000-000000000000")),
			IDTo: ptr(uuid.MustParse("1234567f-ffff-ffff-ffff-ffffffffffff"))}},
		// Ids: whole, or a start of at least 6 hex digits (any case, dashes
		// ignored), which can also be part of a name.
		{id.String(), searchTerm{IDFrom: &id, IDTo: &id}},
		{"3FA85F64-57", searchTerm{IDFrom: ptr(uuid.MustParse("3fa85f64-5700-0000-0000-000000000000")),
			IDTo: ptr(uuid.MustParse("3fa85f64-57ff-ffff-ffff-ffffffffffff")), Name: "3fa85f64-57"}},
		{"abcdef", searchTerm{IDFrom: ptr(uuid.MustParse("abcdef00-0000-0000-0000-000000000000")),
			IDTo: ptr(uuid.MustParse("abcdefff-ffff-ffff-ffff-ffffffffffff")), Name: "abcdef"}},
		// Names and emails.
		{"Kwame", searchTerm{Name: "kwame"}},
		{"Li", searchTerm{Name: "li"}},
		{"kwame.page", searchTerm{Name: "kwame.page"}},
		{"50%_off", searchTerm{Name: "50%_off"}},
		{"Kwame@Example.com", searchTerm{Email: "kwame@example.com"}},
		{"page@exa", searchTerm{Email: "page@exa"}},
		// Twilio and Stripe ids, partially.
		{"CA1f2e3d", searchTerm{Sid: "CA1f2e3d"}},
		{"pi_3NxY", searchTerm{PaymentIntent: "pi_3NxY"}},
		// Too short, or nothing: no part set.
		{"", searchTerm{}},
		{"   ", searchTerm{}},
		{"123", searchTerm{}},
		{"+23", searchTerm{}},
		{"K", searchTerm{}},
		{"pi_", searchTerm{}},
		{"pi_3N", searchTerm{}},
		{"abc12", searchTerm{Name: "abc12"}}, // 5 hex: a name, not an id
		{"CAfe", searchTerm{Name: "cafe"}},   // CA and 2 hex: a name
		{string(make([]byte, 201)), searchTerm{}},
	}
	for _, c := range cases {
		got := parseSearchTerm(c.term)
		if got.empty() != sameTerm(c.want, searchTerm{}) {
			t.Errorf("%q: empty() = %v, kinds %q", c.term, got.empty(), got.Kinds)
		}
		got.Kinds = nil
		if !sameTerm(got, c.want) {
			t.Errorf("%q:\n got %+v\nwant %+v", c.term, got, c.want)
		}
	}
}

func sameTerm(a, b searchTerm) bool {
	eq := func(x, y *uuid.UUID) bool { return (x == nil) == (y == nil) && (x == nil || *x == *y) }
	return eq(a.IDFrom, b.IDFrom) && eq(a.IDTo, b.IDTo) && a.Email == b.Email && a.Sid == b.Sid && a.PaymentIntent == b.PaymentIntent &&
		a.NumberPrefix == b.NumberPrefix && a.NationalNumber == b.NationalNumber && a.NumberPart == b.NumberPart && a.Name == b.Name
}

func TestLikeEscape(t *testing.T) {
	if got := likeEscape(`50%_off\`); got != `50\%\_off\\` {
		t.Fatalf("likeEscape = %q", got)
	}
}

// The Temporal UI's list links: <ui>/namespaces/<ns>/workflows?query=…,
// the query exactly as written, whatever it holds.
func TestTemporalListLink(t *testing.T) {
	s := &Server{}
	s.cfg.TemporalUIURL, s.cfg.TemporalNamespace = "https://temporal.example/", "prod ns"
	for _, q := range []string{userWorkflowsQuery("0b7c"), countryFailedCallsQuery("NG"), stuckQuery} {
		link := s.temporalListLink(q)
		u, err := url.Parse(link)
		if err != nil {
			t.Fatal(err)
		}
		if u.Scheme != "https" || u.Host != "temporal.example" || u.EscapedPath() != "/namespaces/prod%20ns/workflows" || u.Query().Get("query") != q {
			t.Errorf("link %s: path %s, query %q", link, u.EscapedPath(), u.Query().Get("query"))
		}
	}
	if got := userWorkflowsQuery("0b7c"); got != `UserID = "0b7c"` {
		t.Errorf("user query %s", got)
	}
	if got := countryFailedCallsQuery("NG"); got != `WorkflowType = "Call" AND DestinationCountry = "NG" AND CallStatus = "failed"` {
		t.Errorf("country query %s", got)
	}
	s.cfg.TemporalUIURL = ""
	if got := s.temporalListLink(stuckQuery); got != "" {
		t.Errorf("without a UI URL: %q", got)
	}
}
