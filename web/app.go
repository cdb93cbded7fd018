package web

import (
	"net/http"

	"github.com/mobayilo/mobayilo/db"
)

// The Dial tab. History is in history.go, Credits in credits.go.

type dialKey struct {
	Digit, Hint, Long, Label string
}

var dialKeys = []dialKey{
	{"1", "", "", "1"}, {"2", "ABC", "", "2"}, {"3", "DEF", "", "3"},
	{"4", "GHI", "", "4"}, {"5", "JKL", "", "5"}, {"6", "MNO", "", "6"},
	{"7", "PQRS", "", "7"}, {"8", "TUV", "", "8"}, {"9", "WXYZ", "", "9"},
	{"*", "", "", "star"}, {"0", "+", "+", "0, hold for plus"}, {"#", "", "", "hash"},
}

type dialData struct {
	Device string // "simulator" in development, else "twilio"
	Number string
	Keys   []dialKey
	Recent []string
}

// showCall is the dialer: the number, a keypad, the price line, recent
// numbers and the Call button, enabled only for a number the user can call.
func (s *Server) showCall(w http.ResponseWriter, r *http.Request) {
	recent, err := db.New(s.pool).RecentNumbers(r.Context(), currentUser(r).ID)
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	data := dialData{Keys: dialKeys, Number: r.URL.Query().Get("number"), Device: "twilio"}
	if s.sim != nil {
		data.Device = "simulator"
	}
	if len(data.Number) > 40 {
		data.Number = ""
	}
	for _, n := range recent {
		data.Recent = append(data.Recent, n.PhoneNumber)
	}
	s.render(w, r, http.StatusOK, "call", pageData{Tab: "dial", Data: data})
}
