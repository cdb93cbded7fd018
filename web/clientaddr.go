package web

import (
	"net/http"
	"net/netip"
	"strings"
)

// clientIP is the address a request came from, the one every sign-in
// limit and log line uses. It is the direct peer, unless the peer is one of
// our own proxies (TRUSTED_PROXIES): then X-Forwarded-For is read from the
// right, skipping our proxies, and the first address that is not one is
// the client. Anything left of it was written by the client, who may write
// what they like, so it is never believed; with no trusted proxy set, the
// header is ignored altogether.
func (s *Server) clientIP(r *http.Request) string {
	peer, ok := parseAddr(r.RemoteAddr)
	if !ok {
		return r.RemoteAddr
	}
	if !s.trustedProxy(peer) {
		return peer.String()
	}
	hops := strings.Split(strings.Join(r.Header.Values("X-Forwarded-For"), ","), ",")
	client := peer
	for i := len(hops) - 1; i >= 0; i-- {
		hop, ok := parseAddr(strings.TrimSpace(hops[i]))
		if !ok {
			// A proxy of ours writes addresses; garbage here came from
			// further out. The last hop we could trust is the answer.
			break
		}
		client = hop
		if !s.trustedProxy(hop) {
			break
		}
	}
	return client.String()
}

func (s *Server) trustedProxy(a netip.Addr) bool {
	for _, p := range s.cfg.TrustedProxies {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// parseAddr reads "host:port", "[v6]:port" or a bare address, as IPv4 when
// it is an IPv4-mapped IPv6 address.
func parseAddr(v string) (netip.Addr, bool) {
	if ap, err := netip.ParseAddrPort(v); err == nil {
		return ap.Addr().Unmap(), true
	}
	a, err := netip.ParseAddr(strings.TrimSuffix(strings.TrimPrefix(v, "["), "]"))
	if err != nil {
		return netip.Addr{}, false
	}
	return a.Unmap(), true
}
