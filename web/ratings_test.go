package web

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// A rating reads the same as JSON (the in-call bar) and as a form; known
// issues only, each once, in the bar's order; a score of 1 to 5.
func TestNewRateCallRequest(t *testing.T) {
	for _, tc := range []struct {
		name, ctype, body string
		score             int
		issues            string // comma-joined; "!" for refused
	}{
		{"json", "application/json", `{"score":4,"issues":["echo"]}`, 4, "echo"},
		{"json ordered once", "application/json", `{"score":2,"issues":["could_not_hear","echo","could_not_hear"]}`, 2, "echo,could_not_hear"},
		{"json no issues", "application/json; charset=utf-8", `{"score":5}`, 5, ""},
		{"form", "application/x-www-form-urlencoded", "score=1&issues=dropped&issues=choppy", 1, "choppy,dropped"},
		{"score 0", "application/json", `{"score":0}`, 0, "!"},
		{"score 6", "application/x-www-form-urlencoded", "score=6", 0, "!"},
		{"no score", "application/x-www-form-urlencoded", "issues=echo", 0, "!"},
		{"unknown issue", "application/json", `{"score":3,"issues":["Echo"]}`, 0, "!"},
		{"not json", "application/json", `score=3`, 0, "!"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodPost, "/calls/x/rating", strings.NewReader(tc.body))
			r.Header.Set("Content-Type", tc.ctype)
			req, msg := newRateCallRequest(httptest.NewRecorder(), r)
			if tc.issues == "!" {
				if msg == "" {
					t.Fatalf("accepted %+v", req)
				}
				return
			}
			if msg != "" || req.Score != tc.score || strings.Join(req.Issues, ",") != tc.issues {
				t.Fatalf("got %+v %q, want %d [%s]", req, msg, tc.score, tc.issues)
			}
		})
	}
}
