package accounts_test

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/mobayilo/mobayilo/db"
	"github.com/mobayilo/mobayilo/internal/accounts"
	"github.com/mobayilo/mobayilo/internal/testdb"
)

// The browser's zone is kept at sign-up; one the zone database does not
// know is UTC; Settings changes it, refusing unknown names.
func TestTimeZoneFromSignUpAndSettings(t *testing.T) {
	pool := testdb.New(t)
	s, _ := accounts.New(pool, 0)
	ctx := context.Background()
	i := 0
	for zone, want := range map[string]string{"Africa/Lagos": "Africa/Lagos", "": "UTC", "Mars/Olympus": "UTC", "Local": "UTC"} {
		i++
		u, err := s.SignUp(ctx, accounts.SignUpInput{Email: fmt.Sprintf("tz%d@example.com", i), Password: "correct horse",
			DisplayName: "Zed", HomeCountry: "NG", TimeZone: zone})
		if err != nil {
			t.Fatal(err)
		}
		if u.TimeZone != want || accounts.Location(u).String() != want {
			t.Errorf("signed up with the zone %q: kept %q (location %s), want %s", zone, u.TimeZone, accounts.Location(u), want)
		}
	}
	u := signUp(t, s, "mover@example.com")
	moved, err := s.SetTimeZone(ctx, u.ID, " Europe/Paris ")
	if err != nil || moved.TimeZone != "Europe/Paris" {
		t.Fatalf("set Europe/Paris: %q, %v", moved.TimeZone, err)
	}
	for _, bad := range []string{"", "Local", "Europe/Atlantis", "../../etc/passwd"} {
		_, err := s.SetTimeZone(ctx, u.ID, bad)
		var fe accounts.FieldErrors
		if !errors.As(err, &fe) || fe["time_zone"] == "" {
			t.Errorf("set %q: %v, want a time_zone field error", bad, err)
		}
	}
	again, _ := db.New(pool).GetUserByID(ctx, u.ID)
	if again.TimeZone != "Europe/Paris" {
		t.Fatalf("after refused changes the zone is %q", again.TimeZone)
	}
}

func TestCountryFromLanguages(t *testing.T) {
	for header, want := range map[string]string{
		"fr-CI,fr;q=0.9,en;q=0.8": "CI",
		"en-NG":                   "NG",
		"en,fr;q=0.5":             "",
		"yo, en-GB;q=0.7":         "GB",
		"":                        "",
		"not a header":            "",
	} {
		if got := accounts.CountryFromLanguages(header); got != want {
			t.Errorf("%q: %q, want %q", header, got, want)
		}
	}
}

func TestNumberPlans(t *testing.T) {
	if p := accounts.NumberPlan("NG"); p.Lead != "" || p.MinDigits < 7 || p.MaxDigits < p.MinDigits {
		t.Errorf("NG: %+v", p)
	}
	if p := accounts.NumberPlan("JM"); p.Lead == "" || p.MinDigits != 10 {
		t.Errorf("Jamaica shares +1 and is told apart by its area codes: %+v", p)
	}
	if p := accounts.NumberPlan("US"); p.Lead != "" {
		t.Errorf("the main country of +1 needs no lead: %+v", p)
	}
}
