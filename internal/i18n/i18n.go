// Package i18n holds the languages Mobayilo speaks (issue 22): message
// catalogues with CLDR plurals (go-i18n, one JSON file per language in
// locales/, embedded), the choice of a language from an Accept-Language
// header (x/text/language), and formatting of money, numbers and dates for
// a language. T is the one translate function: templates call it as
// {{t .Lang "key"}} and Go code as i18n.T(lang, "key").
package i18n

import (
	"embed"
	"encoding/json"
	"fmt"
	"io/fs"
	"sort"
	"strings"

	goi18n "github.com/nicksnyder/go-i18n/v2/i18n"
	"golang.org/x/text/language"
)

// Default is the language of a person who told us nothing.
const Default = "en"

// Supported are the languages with a catalogue, in the switcher's order.
var Supported = []string{"en", "fr", "es", "pt", "ar"}

// names are each language's name in itself, for the switcher.
var names = map[string]string{"en": "English", "fr": "Français", "es": "Español", "pt": "Português", "ar": "العربية"}

//go:embed locales/*.json
var files embed.FS

var (
	bundle     = goi18n.NewBundle(language.English)
	localizers = map[string]*goi18n.Localizer{}
	matcher    language.Matcher
	catalogues = map[string]map[string]bool{}   // language -> its keys
	plurals    = map[string]bool{}              // the keys with plural forms (in English)
	messages   = map[string]map[string]string{} // language -> key -> text, of the messages without plurals
)

func init() {
	tags := make([]language.Tag, 0, len(Supported))
	for _, l := range Supported {
		p := "locales/active." + l + ".json"
		if _, err := bundle.LoadMessageFileFS(files, p); err != nil {
			panic(fmt.Sprintf("i18n: %s: %v", p, err))
		}
		keys, err := readKeys(p)
		if err != nil {
			panic(fmt.Sprintf("i18n: %s: %v", p, err))
		}
		catalogues[l] = keys
		localizers[l] = goi18n.NewLocalizer(bundle, l)
		tags = append(tags, language.Make(l))
	}
	matcher = language.NewMatcher(tags)
	buildJSCatalogues()
}

func readKeys(p string) (map[string]bool, error) {
	b, err := fs.ReadFile(files, p)
	if err != nil {
		return nil, err
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, err
	}
	keys := make(map[string]bool, len(m))
	lang := strings.TrimSuffix(strings.TrimPrefix(p, "locales/active."), ".json")
	messages[lang] = map[string]string{}
	for k, v := range m {
		keys[k] = true
		var text string
		if json.Unmarshal(v, &text) == nil {
			messages[lang][k] = text
		}
		if strings.HasSuffix(p, "."+Default+".json") && len(v) > 0 && v[0] == '{' {
			plurals[k] = true
		}
	}
	return keys, nil
}

// Valid reports whether lang is a supported language code.
func Valid(lang string) bool { _, ok := localizers[lang]; return ok }

// Name is a language's name in itself ("Français").
func Name(lang string) string { return names[lang] }

// Dir is the text direction of a language: "rtl" or "ltr".
func Dir(lang string) string {
	if lang == "ar" {
		return "rtl"
	}
	return "ltr"
}

// Match picks the supported language an Accept-Language header prefers
// most, Default when it names none of them.
func Match(acceptLanguage string) string {
	if acceptLanguage == "" {
		return Default
	}
	tags, _, err := language.ParseAcceptLanguage(acceptLanguage)
	if err != nil || len(tags) == 0 {
		return Default
	}
	_, i, conf := matcher.Match(tags...)
	if conf == language.No {
		return Default
	}
	return Supported[i]
}

// T translates key into lang. args are name, value pairs for the message's
// {{.Name}} placeholders; a "Count" value also picks the CLDR plural form
// of a message that has plural forms.
// A key the catalogue lacks comes back as the key itself (the catalogue
// test keeps that from shipping).
func T(lang, key string, args ...any) string {
	l, ok := localizers[lang]
	if !ok {
		l = localizers[Default]
	}
	cfg := goi18n.LocalizeConfig{MessageID: key}
	if len(args) > 0 {
		data := make(map[string]any, len(args)/2)
		for i := 0; i+1 < len(args); i += 2 {
			name, _ := args[i].(string)
			data[name] = args[i+1]
			if name == "Count" && plurals[key] {
				cfg.PluralCount = args[i+1]
			}
		}
		cfg.TemplateData = data
	}
	s, err := l.Localize(&cfg)
	if err != nil {
		return key
	}
	return s
}

// Keys lists the keys of lang's catalogue, sorted (for tests).
func Keys(lang string) []string {
	out := make([]string, 0, len(catalogues[lang]))
	for k := range catalogues[lang] {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// Has reports whether lang's catalogue has key.
func Has(lang, key string) bool { return catalogues[lang][key] }

// Say is Twilio <Say>'s voice and language attributes for lang: an Amazon
// Polly voice of that language (Twilio refuses a voice and a language that
// do not go together); English keeps Twilio's default voice ("", "").
func Say(lang string) (voice, language string) {
	switch lang {
	case "fr":
		return "Polly.Celine", "fr-FR"
	case "es":
		return "Polly.Conchita", "es-ES"
	case "pt":
		return "Polly.Camila", "pt-BR"
	case "ar":
		return "Polly.Zeina", "arb"
	}
	return "", ""
}
