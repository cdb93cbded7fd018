package carrier

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/twilio/twilio-go/client/jwt"
)

// A Twilio access token lets a browser place calls through our TwiML App.
// Ours is bound to one call: its identity names the user and the call
// (CallIdentity), so the voice webhook claims only the call the token was
// issued for, and it expires with that call's authorization.

// TokenParams are what an access token is made of.
type TokenParams struct {
	AccountSID, APIKey, APISecret string
	TwiMLAppSID                   string
	Identity                      string // CallIdentity(user identity, call id)
	Until                         time.Time
}

// AccessToken signs a Voice access token valid until p.Until. twilio-go's
// Ttl is raised to at least an hour (jwt.CreateAccessToken), so the expiry
// is set with ValidUntil, which overrides it.
func AccessToken(p TokenParams) (string, error) {
	if p.Until.IsZero() {
		return "", errors.New("carrier: access token: no expiry")
	}
	token := jwt.CreateAccessToken(jwt.AccessTokenParams{
		AccountSid:    p.AccountSID,
		SigningKeySid: p.APIKey,
		Secret:        p.APISecret,
		Identity:      p.Identity,
		ValidUntil:    float64(p.Until.Unix()),
	})
	token.AddGrant(&jwt.VoiceGrant{Outgoing: jwt.Outgoing{ApplicationSid: p.TwiMLAppSID}})
	return token.ToJwt()
}

// callIdentitySep separates the user's identity from the call id: Twilio
// client names may not hold spaces or delimiters; an underscore is safe.
const callIdentitySep = "_"

// CallIdentity is the Twilio Client identity of one call of one user:
// "<user identity>_<call id>". It arrives at the voice webhook as
// From=client:<identity>, set by Twilio from the token, not by the browser.
func CallIdentity(userIdentity, callID string) string {
	return userIdentity + callIdentitySep + callID
}

// ParseCallIdentity splits a CallIdentity; ok is false for anything else.
func ParseCallIdentity(identity string) (userIdentity string, callID uuid.UUID, ok bool) {
	user, id, found := strings.Cut(identity, callIdentitySep)
	if !found || user == "" {
		return "", uuid.UUID{}, false
	}
	callID, err := uuid.Parse(id)
	if err != nil || callID.String() != id {
		return "", uuid.UUID{}, false
	}
	return user, callID, true
}

// TokenClaims are what Twilio reads from an access token.
type TokenClaims struct {
	Identity, TwiMLAppSID string
	Expires               time.Time
}

// ErrBadToken: the access token is not ours, expired, or not a Voice
// token (Twilio's Voice SDK reports 20101 Invalid Access Token, 20104
// Access Token expired).
var ErrBadToken = errors.New("carrier: invalid access token")

// VerifyToken checks an access token as Twilio does: signed with the API
// key's secret, issued by that key for that account, not expired (nor used
// before nbf), with a Voice grant for an outgoing application.
func VerifyToken(token, accountSID, apiKey, apiSecret string) (claims TokenClaims, err error) {
	if apiSecret == "" {
		return claims, fmt.Errorf("%w: no API secret to verify it with", ErrBadToken)
	}
	defer func() {
		// twilio-go's decoder asserts claim types; a token signed with our
		// secret has them, but never panic on input.
		if r := recover(); r != nil {
			err = fmt.Errorf("%w: malformed claims", ErrBadToken)
		}
	}()
	decoded, err := (&jwt.AccessToken{}).FromJwt(token, apiSecret)
	if err != nil {
		return claims, fmt.Errorf("%w: %v", ErrBadToken, err)
	}
	p := decoded.Payload()
	exp, ok := p["exp"].(float64)
	if !ok {
		return claims, fmt.Errorf("%w: no exp", ErrBadToken)
	}
	claims.Expires = time.Unix(int64(exp), 0)
	if !time.Now().Before(claims.Expires) {
		return claims, fmt.Errorf("%w: expired at %s", ErrBadToken, claims.Expires.UTC().Format(time.RFC3339))
	}
	if decoded.AccountSid != accountSID || decoded.SigningKeySid != apiKey {
		return claims, fmt.Errorf("%w: issued by %s for %s", ErrBadToken, decoded.SigningKeySid, decoded.AccountSid)
	}
	claims.Identity = decoded.Identity
	for _, g := range decoded.Grants {
		if v, ok := g.(*jwt.VoiceGrant); ok {
			claims.TwiMLAppSID = v.Outgoing.ApplicationSid
		}
	}
	if claims.Identity == "" || claims.TwiMLAppSID == "" {
		return claims, fmt.Errorf("%w: no identity or no outgoing Voice grant", ErrBadToken)
	}
	return claims, nil
}
