package web

import "net/http"

// The tabs of the app. Dial and Credits are placeholders until the dialer
// and top-up issues fill them; History is in history.go.

func (s *Server) showCall(w http.ResponseWriter, r *http.Request) {
	s.render(w, r, http.StatusOK, "call", pageData{Tab: "dial"})
}

func (s *Server) showCredits(w http.ResponseWriter, r *http.Request) {
	s.render(w, r, http.StatusOK, "credits", pageData{Tab: "credits"})
}
