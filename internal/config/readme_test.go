package config

import (
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// TestREADMEListsEverySetting holds README's configuration table to the
// settings table: every setting has a row and every row names settings,
// and where a row's description begins with the defaults (one backticked
// value per setting, in order), they are the development defaults.
func TestREADMEListsEverySetting(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(readme), "\n## Configuration\n")
	if !ok {
		t.Fatal("README has no ## Configuration section")
	}
	// The first table of the section is the settings'.
	_, section, _ = strings.Cut(section, "\n| setting |")
	section, _, _ = strings.Cut(section, "\n\n")
	ticked := regexp.MustCompile("`([^`]*)`")
	inREADME := map[string]bool{}
	for _, line := range strings.Split(section, "\n") {
		cols := strings.Split(line, " | ")
		if !strings.HasPrefix(line, "| `") || len(cols) < 2 {
			continue
		}
		var keys []string
		for _, m := range ticked.FindAllStringSubmatch(cols[0], -1) {
			keys = append(keys, m[1])
		}
		desc := strings.TrimSuffix(strings.Join(cols[1:], " | "), " |")
		var defaults []string
		if strings.HasPrefix(desc, "`") {
			// The leading run of backticked values, separated by commas.
			for _, part := range strings.Split(desc, ", ") {
				m := ticked.FindStringSubmatch(part)
				if m == nil || !strings.HasPrefix(part, "`") {
					break
				}
				defaults = append(defaults, m[1])
			}
		}
		for i, key := range keys {
			inREADME[key] = true
			st := lookup(key)
			if st == nil {
				t.Errorf("README's configuration table lists %s, which is no setting", key)
				continue
			}
			if len(defaults) == len(keys) {
				if want := st.def(Development, noEnv); defaults[i] != want {
					t.Errorf("README gives %s the default %q; the settings table says %q", key, defaults[i], want)
				}
			}
		}
	}
	for _, st := range settings {
		if !inREADME[st.key] {
			t.Errorf("setting %s has no row in README's configuration table", st.key)
		}
	}
}

func lookup(key string) *setting {
	i := slices.IndexFunc(settings, func(s setting) bool { return s.key == key })
	if i < 0 {
		return nil
	}
	return &settings[i]
}
