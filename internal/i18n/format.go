package i18n

import (
	"strconv"
	"strings"
	"time"
)

// numberFormat is how a language writes a number and a US dollar amount
// (CLDR, Western digits 0-9 in every language, Arabic included: phone
// numbers and amounts read the same in the keypad and on the page).
type numberFormat struct {
	decimal, sep string
	// minGroup: the fewest integer digits that get group separators
	// (CLDR minimumGroupingDigits: Spanish writes 1234 but 12.345).
	minGroup int
	// prefix, suffix: around the amount; a minus goes before all of it.
	prefix, suffix string
}

const (
	nbsp       = "\u00a0"
	narrowNbsp = "\u202f"
	rlm        = "\u200f"
	lrm        = "\u200e"
)

var formats = map[string]numberFormat{
	"en": {decimal: ".", sep: ",", minGroup: 4, prefix: "$"},
	"fr": {decimal: ",", sep: narrowNbsp, minGroup: 4, suffix: nbsp + "$US"},
	"es": {decimal: ",", sep: ".", minGroup: 5, suffix: nbsp + "US$"},
	"pt": {decimal: ",", sep: ".", minGroup: 4, prefix: "US$" + nbsp},
	// Arabic: a left-to-right mark after "US$" keeps the $ with the US
	// in a right-to-left line (else it shows as "$US").
	"ar": {decimal: ".", sep: ",", minGroup: 4, suffix: nbsp + "US$" + lrm},
}

func formatOf(lang string) numberFormat {
	if f, ok := formats[lang]; ok {
		return f
	}
	return formats[Default]
}

// group writes the digits of n >= 0 with f.s group separator.
func (f numberFormat) group(n uint64) string {
	s := strconv.FormatUint(n, 10)
	if len(s) < f.minGroup {
		return s
	}
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteString(f.sep)
		}
		b.WriteRune(c)
	}
	return b.String()
}

func abs(n int64) (uint64, string) {
	if n < 0 {
		return uint64(-(n + 1)) + 1, "-"
	}
	return uint64(n), ""
}

// Money writes integer cents as US dollars the way lang does, without
// floats: en "$1,234.56", fr "1 234,56 $US", es "1234,56 US$", pt
// "US$ 1.234,56", ar "1,234.56 US$" (with a right-to-left mark first, as
// CLDR has it, so the minus stays in front, and a left-to-right mark last).
func Money(lang string, cents int64) string {
	f := formatOf(lang)
	u, sign := abs(cents)
	s := sign + f.prefix + f.group(u/100) + f.decimal + pad2(u%100) + f.suffix
	if lang == "ar" {
		s = rlm + s
	}
	return s
}

// MoneyShort is Money without the cents of a whole amount, as an offer says
// a package: en "$5", "$7.50", fr "5 $US".
func MoneyShort(lang string, cents int64) string {
	if cents%100 != 0 {
		return Money(lang, cents)
	}
	f := formatOf(lang)
	u, sign := abs(cents)
	s := sign + f.prefix + f.group(u/100) + f.suffix
	if lang == "ar" {
		s = rlm + s
	}
	return s
}

// MoneyMicros writes micro-dollars with 2 to 4 decimals, rounded up at the
// fourth (a rate: "$0.0125"), the way lang does.
func MoneyMicros(lang string, micros int64) string {
	f := formatOf(lang)
	u, sign := abs(micros)
	tenThousandths := (u + 99) / 100
	frac := strconv.FormatUint(10_000+tenThousandths%10_000, 10)[1:]
	for len(frac) > 2 && frac[len(frac)-1] == '0' {
		frac = frac[:len(frac)-1]
	}
	s := sign + f.prefix + f.group(tenThousandths/10_000) + f.decimal + frac + f.suffix
	if lang == "ar" {
		s = rlm + s
	}
	return s
}

// Number writes an integer with lang's group separators.
func Number(lang string, n int64) string {
	u, sign := abs(n)
	return sign + formatOf(lang).group(u)
}

// Amount writes cents as a form's amount in lang ("5.00", fr "5,00"),
// without symbol or grouping.
func Amount(lang string, cents int64) string {
	u, sign := abs(cents)
	return sign + strconv.FormatUint(u/100, 10) + formatOf(lang).decimal + pad2(u%100)
}

func pad2(n uint64) string {
	if n < 10 {
		return "0" + strconv.FormatUint(n, 10)
	}
	return strconv.FormatUint(n, 10)
}

// Date writes t's day, month and year in lang ("2 January 2006", fr
// "2 janvier 2006"); DateTime adds the time, 24-hour ("15:04").
func Date(lang string, t time.Time) string {
	return T(lang, "date.long", "Day", t.Day(), "Month", T(lang, "month."+strconv.Itoa(int(t.Month()))), "Year", t.Year())
}

// DateTime is Date with the hour and minute.
func DateTime(lang string, t time.Time) string {
	return T(lang, "date.time", "Date", Date(lang, t), "Time", t.Format("15:04"))
}

// ShortDateTime is DateTime with the month abbreviated ("2 Jan 2006, 15:04").
func ShortDateTime(lang string, t time.Time) string {
	return T(lang, "date.short_time", "Day", t.Day(), "Month", T(lang, "month_short."+strconv.Itoa(int(t.Month()))), "Year", t.Year(), "Time", t.Format("15:04"))
}

// Duration writes seconds as "1 min 05 s" or "42 s" in lang.
func Duration(lang string, seconds int64) string {
	if seconds < 60 {
		return T(lang, "duration.s", "S", seconds)
	}
	return T(lang, "duration.min_s", "Min", seconds/60, "S", pad2(uint64(seconds%60)))
}
