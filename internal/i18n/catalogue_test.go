package i18n

import (
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
)

// TestCataloguesHaveTheSameKeys: every language has every key English has,
// and none English lacks (a key only one language has is a typo or a
// leftover).
func TestCataloguesHaveTheSameKeys(t *testing.T) {
	en := catalogues[Default]
	for _, l := range Supported {
		for k := range en {
			if !catalogues[l][k] {
				t.Errorf("%s: key %q is missing (English has it)", l, k)
			}
		}
		for k := range catalogues[l] {
			if !en[k] {
				t.Errorf("%s: key %q is in no other catalogue than this one (not in English)", l, k)
			}
		}
	}
}

var placeholder = regexp.MustCompile(`\{\{\s*\.([A-Za-z]+)\s*\}\}`)

// TestTranslationsKeepTheirPlaceholders: a translation names the same
// {{.X}} values as English (a renamed one would print "<no value>"), and
// a plural message has every form its language's CLDR rules ask for.
func TestTranslationsKeepTheirPlaceholders(t *testing.T) {
	names := func(s string) string {
		var out []string
		for _, m := range placeholder.FindAllStringSubmatch(s, -1) {
			if m[1] != "Count" {
				out = append(out, m[1])
			}
		}
		sort.Strings(out)
		return strings.Join(dedupe(out), ",")
	}
	for _, k := range Keys(Default) {
		if strings.HasPrefix(k, "month.") {
			continue
		}
		want := names(rawMessage(t, Default, k))
		for _, l := range Supported {
			for _, n := range []int{0, 1, 2, 3, 5, 11, 100, 101} {
				got := T(l, k, "Count", n)
				if got == k {
					t.Errorf("%s: %q does not translate for count %d (a plural form missing?)", l, k, n)
					break
				}
			}
			raw := rawMessage(t, l, k)
			if names(raw) != want {
				t.Errorf("%s: %q names {{%s}}, English {{%s}}", l, k, names(raw), want)
			}
		}
	}
}

func dedupe(s []string) []string {
	out := s[:0]
	for i, v := range s {
		if i == 0 || v != s[i-1] {
			out = append(out, v)
		}
	}
	return out
}

// rawMessage is a message's text as the catalogue has it, every plural
// form together.
func rawMessage(t *testing.T, lang, key string) string {
	t.Helper()
	b, err := fs.ReadFile(files, "locales/active."+lang+".json")
	if err != nil {
		t.Fatal(err)
	}
	i := strings.Index(string(b), `"`+key+`":`)
	if i < 0 {
		return ""
	}
	rest := string(b[i+len(key)+3:])
	if j := strings.Index(rest, "\n \""); j >= 0 {
		rest = rest[:j]
	}
	return rest
}

// Where keys are used: {{t .Lang "key"}} in the templates, the label key
// of (field . "name" "key" ...), and tr(r, "key"), i18n.T(lang, "key"),
// setFlash(r, "key"), errorPage(w, r, status, "title key", "message key")
// in the web handlers. A key used and missing from
// English fails here; TestCataloguesHaveTheSameKeys then asks every other
// language for it.
var (
	templateKey = regexp.MustCompile(`\bt\s+\$?\.Lang\s+"([^"]+)"`)
	fieldKey    = regexp.MustCompile(`\(field\s+\S+\s+"[^"]+"\s+"([^"]+)"`)
	errorKeys   = regexp.MustCompile(`\berrorPage\(w, r, [^,]+,\s*"([^"]+)",\s*"([^"]+)"\)`)
	jsKey       = regexp.MustCompile(`\bt\("([^"]+)"`)
	goKey       = regexp.MustCompile(`(?:\btr\(r,|\bi18n\.T\([^,()]+,|\bsetFlash(?:Error)?\(r,)\s*"([^"]+)"`)
)

func TestEveryKeyUsedIsInTheCatalogue(t *testing.T) {
	root := filepath.Join("..", "..", "web")
	used := map[string]string{} // key -> where
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		name := d.Name()
		if d.IsDir() {
			if name == "node_modules" || name == "dist" || name == "vendor" {
				return filepath.SkipDir
			}
			return nil
		}
		// The support console stays English (issue 22).
		if strings.HasPrefix(name, "admin") || strings.HasSuffix(name, "_test.go") {
			return nil
		}
		var pats []*regexp.Regexp
		switch {
		case strings.HasSuffix(name, ".html"):
			pats = []*regexp.Regexp{templateKey, fieldKey}
		case strings.HasSuffix(name, ".go"):
			pats = []*regexp.Regexp{goKey, errorKeys}
		case strings.HasSuffix(name, ".js") && !strings.HasSuffix(name, ".test.js"):
			pats = []*regexp.Regexp{jsKey}
		default:
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		for _, re := range pats {
			for _, m := range re.FindAllStringSubmatch(string(b), -1) {
				for _, k := range m[1:] {
					used[k] = p
				}
				if re == jsKey && !ForJS(m[1]) {
					t.Errorf("%s uses %q, which the page's front-end catalogue leaves out (js.go ForJS)", p, m[1])
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(used) < 100 {
		t.Fatalf("found only %d keys in use: the scan is broken", len(used))
	}
	for k, where := range used {
		if strings.HasSuffix(k, ".") {
			continue // a prefix ("call_status." + status): web's tests check each
		}
		for _, l := range Supported {
			if !Has(l, k) {
				t.Errorf("%s uses %q, which the %s catalogue lacks", where, k, l)
			}
		}
	}
}

func TestTemplateKeyScanFindsEveryForm(t *testing.T) {
	for _, s := range []string{
		`{{t .Lang "a"}}`, `{{t $.Lang "a"}}`, `{{t $.Lang "a" "N" 1}}`, `{{t .Lang (print "x") }}{{t .Lang "a"}}`,
		`{{if .X}}{{t $.Lang "a"}}{{end}}`, `{{template "x" (t $.Lang "a")}}`,
	} {
		ms := templateKey.FindAllStringSubmatch(s, -1)
		if len(ms) == 0 || ms[len(ms)-1][1] != "a" {
			t.Errorf("%s: no key found", s)
		}
	}
}
