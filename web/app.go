package web

import "net/http"

// The four tabs of the app. Dial, History and Credits are placeholders
// until the dialer, call and top-up issues fill them.

func (s *Server) showCall(w http.ResponseWriter, r *http.Request) {
	s.render(w, r, http.StatusOK, "call", pageData{Tab: "dial"})
}

func (s *Server) showHistory(w http.ResponseWriter, r *http.Request) {
	s.render(w, r, http.StatusOK, "history", pageData{Tab: "history"})
}

func (s *Server) showCredits(w http.ResponseWriter, r *http.Request) {
	s.render(w, r, http.StatusOK, "credits", pageData{Tab: "credits"})
}
