package web

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"
	"unicode/utf8"
)

// decodeJSON reads a request body of at most limit bytes that is exactly
// one JSON value into v: a second value, or anything but white space after
// the first, is an error, as is an empty body (io.EOF).
func decodeJSON(w http.ResponseWriter, r *http.Request, limit int64, v any) error {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, limit))
	if err := dec.Decode(v); err != nil {
		return err
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return errors.New("more than one JSON value in the body")
	}
	return nil
}

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
