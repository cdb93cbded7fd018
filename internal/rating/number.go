// Package rating holds the pure arithmetic of what a call costs: phone
// numbers parsed to E.164, the rate deck with longest-prefix lookup, the
// per-started-minute cost, and how long a balance lasts. No I/O.
package rating

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode"

	"github.com/nyaruka/phonenumbers"
)

// NumberType is what kind of line a number is, where the numbering plan
// says.
type NumberType string

const (
	Mobile    NumberType = "mobile"
	FixedLine NumberType = "fixed_line"
	Either    NumberType = "fixed_line_or_mobile"
	TollFree  NumberType = "toll_free"
	Premium   NumberType = "premium_rate"
	Shared    NumberType = "shared_cost"
	VoIP      NumberType = "voip"
	Personal  NumberType = "personal_number"
	Pager     NumberType = "pager"
	UAN       NumberType = "uan"
	Unknown   NumberType = "unknown"
)

// Number is a dialable international number.
type Number struct {
	E164    string     // "+2348031234567"
	Digits  string     // "2348031234567", for prefix matching
	Country string     // ISO 3166-1 alpha-2 of the number, e.g. "NG"
	Type    NumberType // where known
}

// NumberError is why input is not a number we can call, in words a person
// understands.
type NumberError struct {
	Reason  string // machine-readable: empty, invalid_characters, too_short, too_long, invalid, emergency
	Message string
}

func (e *NumberError) Error() string { return "rating: " + e.Message }

// ErrEmergency is wrapped by the error for emergency and short numbers.
var ErrEmergency = errors.New("rating: emergency or short number")

// EmergencyError refuses emergency and short numbers.
type EmergencyError struct{ NumberError }

func (e *EmergencyError) Unwrap() error { return ErrEmergency }

const emergencyMessage = "Mobayilo cannot place emergency calls. Call your local emergency number from a regular phone."

// ParseNumber reads what a person typed: E.164 with +, an international
// number with the 00 prefix, or a national number of homeCountry (an ISO
// code). Spaces, dashes, dots and parentheses are ignored.
func ParseNumber(input, homeCountry string) (Number, error) {
	s := strings.TrimSpace(input)
	if s == "" {
		return Number{}, &NumberError{"empty", "Enter a phone number."}
	}
	if len(s) > 40 {
		return Number{}, &NumberError{"too_long", "That number is too long."}
	}
	var b strings.Builder
	for i, r := range s {
		switch {
		case r >= '0' && r <= '9':
			b.WriteRune(r)
		case r == '+' && i == 0:
			b.WriteRune(r)
		case r == ' ' || r == '-' || r == '.' || r == '(' || r == ')' || r == '/' || unicode.IsSpace(r):
		default:
			return Number{}, &NumberError{"invalid_characters", "A phone number has only digits, and a + at the start."}
		}
	}
	cleaned := b.String()
	digits := strings.TrimPrefix(cleaned, "+")
	if digits == "" {
		return Number{}, &NumberError{"empty", "Enter a phone number."}
	}
	home := strings.ToUpper(homeCountry)

	international := strings.HasPrefix(cleaned, "+") || strings.HasPrefix(cleaned, "00") && len(digits) > 6
	if international && emergencyAfterCountryCode(strings.TrimPrefix(strings.TrimPrefix(cleaned, "+"), "00")) {
		return Number{}, &EmergencyError{NumberError{"emergency", emergencyMessage}}
	}
	if !international {
		// Emergency and short service numbers (911, 112, 999, 000, 110 ...),
		// in the caller's country or anywhere: never a dial. Only an exact
		// emergency number counts: ordinary numbers may start with its digits.
		if isCommonEmergency(digits) || home != "" && phonenumbers.IsEmergencyNumber(digits, home) {
			return Number{}, &EmergencyError{NumberError{"emergency", emergencyMessage}}
		}
		if home == "" {
			return Number{}, &NumberError{"invalid", "Start the number with + and the country code, for example +234 803 123 4567."}
		}
	}
	region := home
	if strings.HasPrefix(cleaned, "00") {
		cleaned = "+" + cleaned[2:]
	}
	if strings.HasPrefix(cleaned, "+") {
		region = "ZZ"
	}
	// A short number typed without a country code that is not a valid
	// subscriber number (some small countries have 4- to 6-digit ones) is
	// never a dial. Emergency numbers were refused above; anything else
	// short ("12345") is most likely a number not finished, and is told so,
	// not warned about emergencies.
	shortService := func() error {
		return &NumberError{"too_short", "That number is too short. Type the whole number, with the area code."}
	}
	pn, err := phonenumbers.Parse(cleaned, region)
	if err != nil && !international && len(digits) <= 6 {
		return Number{}, shortService()
	}
	if err != nil {
		if errors.Is(err, phonenumbers.ErrTooShortNSN) || errors.Is(err, phonenumbers.ErrTooShortAfterIDD) {
			return Number{}, &NumberError{"too_short", "That number is too short."}
		}
		if errors.Is(err, phonenumbers.ErrNumTooLong) {
			return Number{}, &NumberError{"too_long", "That number is too long."}
		}
		return Number{}, &NumberError{"invalid", "That does not look like a phone number. Include the country code, for example +234."}
	}
	country := phonenumbers.GetRegionCodeForNumber(pn)
	national := phonenumbers.GetNationalSignificantNumber(pn)
	if country != "" && phonenumbers.IsEmergencyNumber(national, country) {
		return Number{}, &EmergencyError{NumberError{"emergency", emergencyMessage}}
	}
	if !phonenumbers.IsValidNumber(pn) {
		if !international && len(digits) <= 6 {
			return Number{}, shortService()
		}
		switch phonenumbers.IsPossibleNumberWithReason(pn) {
		case phonenumbers.TOO_SHORT:
			return Number{}, &NumberError{"too_short", "That number is too short."}
		case phonenumbers.TOO_LONG:
			return Number{}, &NumberError{"too_long", "That number is too long."}
		}
		return Number{}, &NumberError{"invalid", fmt.Sprintf("That is not a valid number%s. Check the digits and the country code.", countryHint(country))}
	}
	e164 := phonenumbers.Format(pn, phonenumbers.E164)
	if len(e164) > 16 {
		// E.164 allows 15 digits; some plans list longer service numbers.
		return Number{}, &NumberError{"too_long", "That number is too long."}
	}
	return Number{E164: e164, Digits: strings.TrimPrefix(e164, "+"), Country: country, Type: numberType(phonenumbers.GetNumberType(pn))}, nil
}

func countryHint(country string) string {
	if country == "" {
		return ""
	}
	return " in " + country
}

// emergencyAfterCountryCode reports whether digits (an international number
// without + or 00) is a country code followed by that country's emergency
// number, such as +1 911 or +44 999.
func emergencyAfterCountryCode(digits string) bool {
	for n := 1; n <= 3 && n < len(digits); n++ {
		cc, err := strconv.Atoi(digits[:n])
		if err != nil {
			return false
		}
		region := phonenumbers.GetRegionCodeForCountryCode(cc)
		if region == "" || region == "ZZ" {
			continue
		}
		rest := digits[n:]
		return len(rest) <= 6 && (phonenumbers.IsEmergencyNumber(rest, region) || isCommonEmergency(rest))
	}
	return false
}

// isCommonEmergency catches the numbers people everywhere dial in an
// emergency, whatever their home country.
func isCommonEmergency(digits string) bool {
	switch digits {
	case "112", "911", "999", "000", "110", "119", "100", "101", "102", "108", "118", "190", "193", "911911":
		return true
	}
	return false
}

func numberType(t phonenumbers.PhoneNumberType) NumberType {
	switch t {
	case phonenumbers.MOBILE:
		return Mobile
	case phonenumbers.FIXED_LINE:
		return FixedLine
	case phonenumbers.FIXED_LINE_OR_MOBILE:
		return Either
	case phonenumbers.TOLL_FREE:
		return TollFree
	case phonenumbers.PREMIUM_RATE:
		return Premium
	case phonenumbers.SHARED_COST:
		return Shared
	case phonenumbers.VOIP:
		return VoIP
	case phonenumbers.PERSONAL_NUMBER:
		return Personal
	case phonenumbers.PAGER:
		return Pager
	case phonenumbers.UAN:
		return UAN
	}
	return Unknown
}
