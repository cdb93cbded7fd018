package web

import (
	"net/http"

	"github.com/mobayilo/mobayilo/db"
)

// The Dial tab (GET /call). History is in history.go, Credits in credits.go.

// dialKey is a key of the keypad. Its accessible name is its visible text
// ("2 ABC", "0 +"); holding 0 for + is said in a description.
type dialKey struct {
	Digit, Hint, Long string
}

var dialKeys = []dialKey{
	{"1", "", ""}, {"2", "ABC", ""}, {"3", "DEF", ""},
	{"4", "GHI", ""}, {"5", "JKL", ""}, {"6", "MNO", ""},
	{"7", "PQRS", ""}, {"8", "TUV", ""}, {"9", "WXYZ", ""},
	{"*", "", ""}, {"0", "+", "+"}, {"#", "", ""},
}

// recentNumber is a number of the dialer's Recent list, with its
// contact's name when it is saved.
type recentNumber struct {
	Number, Name string
}

type dialData struct {
	Device string // "simulator" in development, else "twilio"
	Number string
	Keys   []dialKey
	Recent []recentNumber
	// Favourites are the user's favourite contacts, up to 5 (contacts.go).
	Favourites []db.Contact
	// Prices is the URL of the deck's country prices (rates.go), named by
	// the deck's version, so the dialer prices a number as it is typed
	// without the network and refetches only when the deck changed.
	Prices string
	// CapSeconds is how long one call may last (MAX_CALL_SECONDS).
	CapSeconds int64
}

// showCall is the dialer: the number, a keypad, the price line, recent
// numbers and the Call button, enabled only for a number the user can call.
func (s *Server) showCall(w http.ResponseWriter, r *http.Request) {
	q := db.New(s.pool)
	recent, err := q.RecentNumbers(r.Context(), currentUser(r).ID)
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	favourites, err := q.ListFavouriteContacts(r.Context(), currentUser(r).ID)
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	data := dialData{Keys: dialKeys, Number: r.URL.Query().Get("number"), Device: "twilio",
		Prices: s.priceListURL(), CapSeconds: s.rules.MaxCallSeconds, Favourites: favourites}
	if s.sim != nil {
		data.Device = "simulator"
	}
	if len(data.Number) > 40 {
		data.Number = ""
	}
	for _, n := range recent {
		rn := recentNumber{Number: n.PhoneNumber}
		if n.ContactName != nil {
			rn.Name = *n.ContactName
		}
		data.Recent = append(data.Recent, rn)
	}
	s.render(w, r, http.StatusOK, "call", pageData{Tab: "dial", Data: data})
}
