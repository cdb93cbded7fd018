package carrier

import (
	"crypto/subtle"
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// The carrier simulator's REST API: the part of Twilio's Voice API the
// worker uses (fetch a call, list a parent's calls, complete a call,
// verify and delete an outgoing caller ID: callerid.go) and
// Twilio's Voice Pricing API v2, so that a worker in another process (the
// load tool's app, `mobayilo dev`'s worker) reconciles and reprices against
// the simulator through the same twilio-go client it would use with Twilio
// (TWILIO_API_BASE).

// RESTHandler serves /2010-04-01/Accounts/{AccountSid}/Calls... and
// /v2/Voice/Countries... with HTTP basic auth as Twilio checks it: the API
// key and its secret, or the account SID and its auth token; anything else
// is 401 (Twilio's error 20003). The account in a path must be the
// simulator's.
func (s *Simulator) RESTHandler() http.Handler {
	mux := http.NewServeMux()
	prefix := "/2010-04-01/Accounts/{account}/Calls"
	mux.HandleFunc("GET "+prefix+"/{sid}", s.restFetch)
	mux.HandleFunc("POST "+prefix+"/{sid}", s.restUpdate)
	mux.HandleFunc("GET "+prefix+".json", s.restList)
	mux.HandleFunc("POST /2010-04-01/Accounts/{account}/OutgoingCallerIds.json", s.restCreateValidation)
	mux.HandleFunc("DELETE /2010-04-01/Accounts/{account}/OutgoingCallerIds/{sid}", s.restDeleteCallerID)
	mux.HandleFunc("GET /v2/Voice/Countries", s.restPriceCountries)
	mux.HandleFunc("GET /v2/Voice/Countries/{iso}", s.restPriceCountry)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !s.restAuthenticated(r) {
			w.Header().Set("WWW-Authenticate", `Basic realm="Twilio API"`)
			restError(w, http.StatusUnauthorized, 20003, "Authentication Error - invalid username")
			return
		}
		mux.ServeHTTP(w, r)
	})
}

func (s *Simulator) restAuthenticated(r *http.Request) bool {
	user, pass, ok := r.BasicAuth()
	if !ok || user == "" || pass == "" {
		return false
	}
	same := func(a, b string) bool { return b != "" && subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1 }
	return (same(user, s.APIKey) && same(pass, s.APISecret)) || (same(user, s.AccountSID) && same(pass, s.AuthToken))
}

func (s *Simulator) restAccount(w http.ResponseWriter, r *http.Request) bool {
	if r.PathValue("account") != s.AccountSID {
		restError(w, http.StatusNotFound, 20404, "The requested resource was not found")
		return false
	}
	return true
}

func (s *Simulator) restFetch(w http.ResponseWriter, r *http.Request) {
	if !s.restAccount(w, r) {
		return
	}
	sid := strings.TrimSuffix(r.PathValue("sid"), ".json")
	info, err := s.FetchCall(r.Context(), sid)
	if err != nil {
		restError(w, http.StatusNotFound, 20404, "The requested resource /Calls/"+sid+".json was not found")
		return
	}
	writeREST(w, restCall(info, ""))
}

func (s *Simulator) restList(w http.ResponseWriter, r *http.Request) {
	if !s.restAccount(w, r) {
		return
	}
	calls := []map[string]any{}
	if parent := r.URL.Query().Get("ParentCallSid"); parent != "" {
		if info, found, _ := s.DialledLeg(r.Context(), parent); found {
			calls = append(calls, restCall(info, parent))
		}
	}
	writeREST(w, map[string]any{"calls": calls, "page": 0, "page_size": 50, "start": 0, "end": len(calls),
		"uri": r.URL.RequestURI(), "next_page_uri": nil, "previous_page_uri": nil})
}

// restUpdate completes a call in progress (Status=completed): the caller
// hangs up.
func (s *Simulator) restUpdate(w http.ResponseWriter, r *http.Request) {
	if !s.restAccount(w, r) {
		return
	}
	sid := strings.TrimSuffix(r.PathValue("sid"), ".json")
	if err := r.ParseForm(); err != nil || r.PostForm.Get("Status") != "completed" {
		restError(w, http.StatusBadRequest, 21218, "Invalid Status")
		return
	}
	s.mu.Lock()
	callID := s.parentToCall[sid]
	s.mu.Unlock()
	if callID == "" || !s.HangUp(callID) {
		restError(w, http.StatusBadRequest, 21220, "Call is not in-progress. Cannot redirect.")
		return
	}
	writeREST(w, map[string]any{"sid": sid, "status": "completed"})
}

func restCall(info CallInfo, parent string) map[string]any {
	m := map[string]any{"sid": info.Sid, "status": info.Status, "duration": nil, "date_created": time.Now().UTC().Format(time.RFC1123Z)}
	if info.Status == "completed" || info.DurationSeconds > 0 {
		m["duration"] = strconv.FormatInt(info.DurationSeconds, 10)
	}
	if parent != "" {
		m["parent_call_sid"] = parent
	}
	return m
}

func writeREST(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}

func restError(w http.ResponseWriter, status, code int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{"code": code, "message": msg, "status": status})
}

// rewriteHost sends every request to base (scheme and host) instead of
// Twilio's API hosts: the simulator's REST API in development and tests.
type rewriteHost struct {
	base *url.URL
	next http.RoundTripper
}

func (t rewriteHost) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.URL.Scheme, r.URL.Host, r.Host = t.base.Scheme, t.base.Host, t.base.Host
	r.URL.Path = strings.TrimSuffix(t.base.Path, "/") + r.URL.Path
	return t.next.RoundTrip(r)
}

// NewTwilioCallsAt is NewTwilioCalls talking to baseURL instead of
// api.twilio.com (the simulator's RESTHandler); baseURL "" is Twilio.
func NewTwilioCallsAt(accountSID, apiKey, apiSecret, baseURL string) (*TwilioCalls, error) {
	if baseURL == "" {
		return NewTwilioCalls(accountSID, apiKey, apiSecret, nil), nil
	}
	u, err := url.Parse(baseURL)
	if err != nil || u.Host == "" {
		return nil, &url.Error{Op: "parse", URL: baseURL, Err: err}
	}
	hc := &http.Client{Timeout: 15 * time.Second, Transport: rewriteHost{base: u, next: http.DefaultTransport}}
	return NewTwilioCalls(accountSID, apiKey, apiSecret, hc), nil
}
