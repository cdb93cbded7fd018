package i18n

import (
	"encoding/json"
	"strings"
)

// jsShared are the messages the front end says as the templates do (the
// rest of what it says has keys starting "js.", and every call status).
var jsShared = []string{"dial.type_number", "dial.call", "call.mute", "dial.top_up", "call.top_up_note", "money.per_minute"}

// ForJS reports whether the front end's catalogue (JSCatalogue) has key.
func ForJS(key string) bool {
	if strings.HasPrefix(key, "js.") || strings.HasPrefix(key, "call_status.") {
		return true
	}
	for _, k := range jsShared {
		if k == key {
			return true
		}
	}
	return false
}

var jsCatalogues = map[string][]byte{}

// buildJSCatalogues runs once the catalogues are loaded (i18n.go init).
func buildJSCatalogues() {
	for _, l := range Supported {
		strs := map[string]string{}
		for _, k := range Keys(l) {
			if ForJS(k) {
				strs[k] = raw(l, k)
			}
		}
		f := formatOf(l)
		b, err := json.Marshal(map[string]any{
			"lang": l, "dir": Dir(l), "strings": strs,
			"money": map[string]any{"decimal": f.decimal, "sep": f.sep, "minGroup": f.minGroup, "prefix": f.prefix, "suffix": f.suffix, "rlm": l == "ar"},
		})
		if err != nil {
			panic(err)
		}
		jsCatalogues[l] = b
	}
}

// raw is a message's text with its {{.Name}} placeholders left in (the
// front end fills them).
func raw(lang, key string) string {
	return messages[lang][key]
}

// JSCatalogue is the front end's part of lang's catalogue, with lang's
// money format, as JSON (web/assets/src/i18n.js reads it from the page).
func JSCatalogue(lang string) []byte {
	if b, ok := jsCatalogues[lang]; ok {
		return b
	}
	return jsCatalogues[Default]
}
