package accounts

import (
	"sort"
	"strconv"
	"sync"

	"github.com/nyaruka/phonenumbers"
	"golang.org/x/text/language"
	"golang.org/x/text/language/display"
)

// Country is a place a person can live and call from.
type Country struct {
	Code     string // ISO 3166-1 alpha-2, e.g. "NG"
	Name     string // English name, e.g. "Nigeria"
	DialCode string // e.g. "+234"
}

var countries = sync.OnceValue(func() []Country {
	names := display.English.Regions()
	var out []Country
	for code := range phonenumbers.GetSupportedRegions() {
		region, err := language.ParseRegion(code)
		if err != nil {
			continue
		}
		name := names.Name(region)
		if name == "" || name == code {
			continue
		}
		out = append(out, Country{Code: code, Name: name, DialCode: "+" + strconv.Itoa(phonenumbers.GetCountryCodeForRegion(code))})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
})

var countryByCode = sync.OnceValue(func() map[string]Country {
	out := map[string]Country{}
	for _, c := range countries() {
		out[c.Code] = c
	}
	return out
})

// Countries lists every country with a phone numbering plan, by name.
func Countries() []Country { return countries() }

// LookupCountry is the country of an ISO code, if it is one of Countries.
func LookupCountry(code string) (Country, bool) {
	c, ok := countryByCode()[code]
	return c, ok
}

// IsCountry reports whether code is one of Countries.
func IsCountry(code string) bool {
	_, ok := LookupCountry(code)
	return ok
}

// CountryName is the English name of an ISO code, or the code itself: the
// one name of a country every page, refusal and log shows.
func CountryName(code string) string {
	if c, ok := LookupCountry(code); ok {
		return c.Name
	}
	return code
}

// Plan is what a country's numbering plan tells a dialer before the number
// is complete: which numbers after the calling code are this country's
// (Lead, a regular expression of their first digits, for a calling code
// several countries share; empty for its main country or when the plan
// does not say), and how many digits a national number has.
type Plan struct {
	Lead                 string
	MinDigits, MaxDigits int
}

var plans = sync.OnceValue(func() map[string]Plan {
	out := map[string]Plan{}
	collection, err := phonenumbers.MetadataCollection()
	if err != nil {
		return out
	}
	for _, md := range collection.GetMetadata() {
		var p Plan
		for _, n := range md.GetGeneralDesc().GetPossibleLength() {
			if p.MinDigits == 0 || int(n) < p.MinDigits {
				p.MinDigits = int(n)
			}
			p.MaxDigits = max(p.MaxDigits, int(n))
		}
		if len(phonenumbers.GetRegionCodesForCountryCode(int(md.GetCountryCode()))) > 1 && !md.GetMainCountryForCode() {
			p.Lead = md.GetLeadingDigits()
		}
		out[md.GetId()] = p
	}
	return out
})

// NumberPlan is the numbering plan of an ISO code (zero when unknown).
func NumberPlan(code string) Plan { return plans()[code] }

// CountryFromLanguages is the country of the first of a browser's
// preferred languages that names one (Accept-Language "fr-CI,fr;q=0.9" is
// Côte d'Ivoire), or "" when none does.
func CountryFromLanguages(acceptLanguage string) string {
	tags, _, err := language.ParseAcceptLanguage(acceptLanguage)
	if err != nil {
		return ""
	}
	for _, tag := range tags {
		if region, conf := tag.Region(); conf == language.Exact && IsCountry(region.String()) {
			return region.String()
		}
	}
	return ""
}

// MainCountryForCode is the country a calling code belongs to by default
// (1 is US), or "".
func MainCountryForCode(callingCode int) string {
	if r := phonenumbers.GetRegionCodeForCountryCode(callingCode); r != "ZZ" {
		return r
	}
	return ""
}
