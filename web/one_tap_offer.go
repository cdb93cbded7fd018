package web

import (
	"net/http"
	"slices"

	"github.com/mobayilo/mobayilo/internal/i18n"
	"github.com/mobayilo/mobayilo/internal/payments"
)

// oneTapOffer is what the dialer's low-balance question and the in-call
// bar's last-minute warning offer in one tap (issue 21): the smallest
// package with the user's default saved card, which they post to POST
// /credits/one-tap; empty without a saved card (they link to Credits).
type oneTapOffer struct {
	Package       int64  `json:"package,omitempty"`
	PaymentMethod string `json:"payment_method,omitempty"`
	// Label: "Add $5 with Visa •4242".
	Label string `json:"label,omitempty"`
}

// showOneTapOffer answers GET /credits/one-tap with the signed-in user's
// offer, their own card only. It reads the cards from Stripe (credits.go's
// savedCards), so the browser asks it only once a low balance shows, never
// on POST /calls' path; Stripe unavailable is no offer.
func (s *Server) showOneTapOffer(w http.ResponseWriter, r *http.Request) {
	u := currentUser(r)
	var offer oneTapOffer
	cards, def, _ := s.savedCards(r.Context(), u.ID)
	if i := slices.IndexFunc(cards, func(c payments.Card) bool { return c.ID == def }); i >= 0 && len(s.cfg.TopUpPackages) > 0 {
		c := cards[i]
		offer.Package = slices.Min(s.cfg.TopUpPackages)
		offer.PaymentMethod = c.ID
		lang := langOf(r)
		offer.Label = i18n.T(lang, "one_tap.label", "Amount", i18n.MoneyShort(lang, offer.Package), "Brand", cardBrand(c.Brand), "Last4", c.Last4)
	}
	w.Header().Set("Cache-Control", "no-store")
	s.writeJSON(w, r, http.StatusOK, offer)
}
