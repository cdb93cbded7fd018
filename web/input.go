package web

import (
	"net/url"
	"strings"
	"unicode/utf8"
)

// storable reports whether every s can be stored as Postgres text: valid
// UTF-8 without NUL, which Postgres refuses. Input that is not is refused
// with a 4xx at the boundary, before it can become a database error (a 5xx,
// which webhooks would retry forever).
func storable(ss ...string) bool {
	for _, s := range ss {
		if !utf8.ValidString(s) || strings.IndexByte(s, 0) >= 0 {
			return false
		}
	}
	return true
}

// storableValues reports whether every name and value of v is storable.
func storableValues(v url.Values) bool {
	for k, vals := range v {
		if !storable(k) || !storable(vals...) {
			return false
		}
	}
	return true
}
