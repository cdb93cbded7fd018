package rating

import (
	"fmt"
	"strconv"
	"strings"
)

// BilledMinutes is the number of started minutes in seconds: 0 s bills
// nothing, 1 to 60 s one minute, 61 s two.
func BilledMinutes(seconds int64) int64 {
	if seconds <= 0 {
		return 0
	}
	return (seconds + 59) / 60
}

// CostCents is what a call of seconds costs at r: every started minute at
// the per-minute price, plus the connection fee for a call that connected,
// rounded up to a whole cent. A call of zero seconds costs nothing.
func CostCents(seconds int64, r Rate) int64 {
	minutes := BilledMinutes(seconds)
	if minutes == 0 {
		return 0
	}
	micros := minutes*r.PerMinuteMicros + r.ConnectionFeeMicros
	return (micros + MicrosPerCent - 1) / MicrosPerCent
}

// MaxSeconds is how long a call at r may last on balanceCents: the whole
// minutes the balance covers (after the connection fee), capped at
// ceilingSeconds. Zero means the balance does not cover one minute.
func MaxSeconds(balanceCents int64, r Rate, ceilingSeconds int64) int64 {
	if balanceCents <= 0 || r.PerMinuteMicros <= 0 {
		return 0
	}
	available := balanceCents*MicrosPerCent - r.ConnectionFeeMicros
	if available < r.PerMinuteMicros {
		return 0
	}
	seconds := available / r.PerMinuteMicros * 60
	if ceilingSeconds > 0 && seconds > ceilingSeconds {
		seconds = ceilingSeconds - ceilingSeconds%60
	}
	return seconds
}

// MinimumCents is the balance a call at r needs: one minute plus the
// connection fee, rounded up to a cent.
func MinimumCents(r Rate) int64 { return CostCents(1, r) }

// FormatPerMinute shows a per-minute price in dollars with as many decimals
// as it needs (2 to 4): 135000 µ$ -> "$0.135/min". Integer arithmetic only.
func FormatPerMinute(micros int64) string {
	return FormatMicros(micros) + "/min"
}

// FormatMicros shows micro-dollars as dollars with 2 to 4 decimals, rounded
// up at the fourth.
func FormatMicros(micros int64) string {
	sign := ""
	if micros < 0 {
		sign, micros = "-", -micros
	}
	tenThousandths := (micros + 99) / 100
	dollars, frac := tenThousandths/10_000, tenThousandths%10_000
	s := fmt.Sprintf("%04d", frac)
	for len(s) > 2 && s[len(s)-1] == '0' {
		s = s[:len(s)-1]
	}
	return fmt.Sprintf("%s$%d.%s", sign, dollars, s)
}

// ParseDollars reads a non-negative dollar amount with up to 6 decimals
// ("0.1234", "$1", ".5") into micro-dollars, without floats.
func ParseDollars(s string) (int64, error) {
	whole, frac, _ := strings.Cut(strings.TrimPrefix(strings.TrimSpace(s), "$"), ".")
	if whole == "" && frac == "" || len(frac) > 6 || len(whole) > 6 || !allDigits(whole) || !allDigits(frac) {
		return 0, fmt.Errorf("rating: %q is not an amount in dollars", s)
	}
	w, _ := strconv.ParseInt("0"+whole, 10, 64)
	f, _ := strconv.ParseInt((frac + "000000")[:6], 10, 64)
	return w*1_000_000 + f, nil
}

// FormatDollars writes micro-dollars as an amount ParseDollars reads back.
func FormatDollars(micros int64) string {
	s := strings.TrimRight(fmt.Sprintf("%d.%06d", micros/1_000_000, micros%1_000_000), "0")
	if strings.HasSuffix(s, ".") {
		s += "0"
	}
	return s
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
