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

// Countries lists every country with a phone numbering plan, by name.
func Countries() []Country { return countries() }

// IsCountry reports whether code is one of Countries.
func IsCountry(code string) bool {
	for _, c := range countries() {
		if c.Code == code {
			return true
		}
	}
	return false
}

// CountryName is the English name of an ISO code, or the code itself.
func CountryName(code string) string {
	for _, c := range countries() {
		if c.Code == code {
			return c.Name
		}
	}
	return code
}
