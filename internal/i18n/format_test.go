package i18n

import (
	"math"
	"strings"
	"testing"
	"time"
)

func TestMoneyPerLanguage(t *testing.T) {
	for _, c := range []struct {
		lang  string
		cents int64
		want  string
	}{
		{"en", 500, "$5.00"},
		{"en", 5, "$0.05"},
		{"en", 0, "$0.00"},
		{"en", -1234, "-$12.34"},
		{"en", 123456, "$1,234.56"},
		{"en", 123456789, "$1,234,567.89"},
		{"en", math.MinInt64, "-$92,233,720,368,547,758.08"},
		{"en", math.MaxInt64, "$92,233,720,368,547,758.07"},
		{"fr", 500, "5,00\u00a0$US"},
		{"fr", -1234, "-12,34\u00a0$US"},
		{"fr", 123456, "1\u202f234,56\u00a0$US"},
		{"fr", 123456789, "1\u202f234\u202f567,89\u00a0$US"},
		{"es", 500, "5,00\u00a0US$"},
		{"es", 123456, "1234,56\u00a0US$"}, // CLDR: Spanish groups from five digits
		{"es", 1234567, "12.345,67\u00a0US$"},
		{"es", -50, "-0,50\u00a0US$"},
		{"pt", 500, "US$\u00a05,00"},
		{"pt", 123456, "US$\u00a01.234,56"},
		{"pt", -123456, "-US$\u00a01.234,56"},
		{"ar", 500, "\u200f5.00\u00a0US$\u200e"},
		{"ar", -123456, "\u200f-1,234.56\u00a0US$\u200e"},
		{"xx", 500, "$5.00"}, // unknown: English
	} {
		if got := Money(c.lang, c.cents); got != c.want {
			t.Errorf("Money(%s, %d) = %q, want %q", c.lang, c.cents, got, c.want)
		}
	}
}

func TestMoneyMicrosAndNumbers(t *testing.T) {
	for _, c := range []struct {
		lang   string
		micros int64
		want   string
	}{
		{"en", 12_500, "$0.0125"},
		{"en", 280_000, "$0.28"},
		{"en", 12_501, "$0.0126"}, // rounded up at the fourth decimal
		{"fr", 12_500, "0,0125\u00a0$US"},
		{"pt", 1_000_000, "US$\u00a01,00"},
		{"en", -12_500, "-$0.0125"},
	} {
		if got := MoneyMicros(c.lang, c.micros); got != c.want {
			t.Errorf("MoneyMicros(%s, %d) = %q, want %q", c.lang, c.micros, got, c.want)
		}
	}
	for _, c := range []struct {
		lang string
		n    int64
		want string
	}{
		{"en", 1234567, "1,234,567"}, {"fr", 1234567, "1\u202f234\u202f567"}, {"es", 1234, "1234"},
		{"es", 12345, "12.345"}, {"pt", -1234, "-1.234"}, {"ar", 999, "999"},
	} {
		if got := Number(c.lang, c.n); got != c.want {
			t.Errorf("Number(%s, %d) = %q, want %q", c.lang, c.n, got, c.want)
		}
	}
	for _, c := range []struct {
		lang  string
		cents int64
		want  string
	}{{"en", 500, "$5"}, {"en", 750, "$7.50"}, {"fr", 500, "5\u00a0$US"}, {"pt", 100000, "US$\u00a01.000"}} {
		if got := MoneyShort(c.lang, c.cents); got != c.want {
			t.Errorf("MoneyShort(%s, %d) = %q, want %q", c.lang, c.cents, got, c.want)
		}
	}
	if got := Amount("fr", 550); got != "5,50" {
		t.Errorf("Amount(fr, 550) = %q", got)
	}
}

func TestDatesAndDurations(t *testing.T) {
	at := time.Date(2026, time.March, 7, 9, 5, 0, 0, time.UTC)
	for _, c := range []struct{ lang, date, dateTime string }{
		{"en", "7 March 2026", "7 March 2026, 09:05"},
		{"fr", "7 mars 2026", "7 mars 2026 à 09:05"},
		{"es", "7 de marzo de 2026", "7 de marzo de 2026, 09:05"},
		{"pt", "7 de março de 2026", "7 de março de 2026, 09:05"},
		{"ar", "7 مارس 2026", "7 مارس 2026، 09:05"},
	} {
		if got := Date(c.lang, at); got != c.date {
			t.Errorf("Date(%s) = %q, want %q", c.lang, got, c.date)
		}
		if got := DateTime(c.lang, at); got != c.dateTime {
			t.Errorf("DateTime(%s) = %q, want %q", c.lang, got, c.dateTime)
		}
	}
	if got := ShortDateTime("en", at); got != "7 Mar 2026, 09:05" {
		t.Errorf("ShortDateTime(en) = %q", got)
	}
	if got := ShortDateTime("fr", at); got != "7 mars 2026 à 09:05" {
		t.Errorf("ShortDateTime(fr) = %q", got)
	}
	if got := Duration("en", 65); got != "1 min 05 s" {
		t.Errorf("Duration(en, 65) = %q", got)
	}
	if got := Duration("ar", 42); got != "42 ث" {
		t.Errorf("Duration(ar, 42) = %q", got)
	}
}

func TestMatchAcceptLanguage(t *testing.T) {
	for _, c := range []struct{ header, want string }{
		{"", "en"}, {"fr-FR,fr;q=0.9,en;q=0.8", "fr"}, {"es-MX", "es"}, {"pt-BR,pt;q=0.9", "pt"},
		{"ar-EG", "ar"}, {"de-DE", "en"}, {"de-DE,es;q=0.5", "es"}, {"en-GB,fr;q=0.9", "en"}, {"garbage;;;", "en"},
	} {
		if got := Match(c.header); got != c.want {
			t.Errorf("Match(%q) = %q, want %q", c.header, got, c.want)
		}
	}
}

func TestPluralsFollowCLDR(t *testing.T) {
	for _, c := range []struct {
		lang  string
		n     int
		wants string
	}{
		{"en", 1, "wait 1 minute and"}, {"en", 2, "wait 2 minutes"},
		{"fr", 1, "attendez 1 minute et"}, {"fr", 0, "attendez 0 minute et"}, // French: 0 is singular
		{"ar", 2, "دقيقتين"}, {"ar", 3, "3 دقائق"}, {"ar", 11, "11 دقيقة"},
	} {
		if got := T(c.lang, "auth.throttled", "Count", c.n); !contains(got, c.wants) {
			t.Errorf("T(%s, auth.throttled, %d) = %q, want it to say %q", c.lang, c.n, got, c.wants)
		}
	}
	if got := T("fr", "no.such.key"); got != "no.such.key" {
		t.Errorf("a missing key = %q, want the key", got)
	}
}

func contains(s, sub string) bool { return strings.Contains(s, sub) }
