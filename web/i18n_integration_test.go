package web_test

import (
	"html"
	"net/http"
	"strings"
	"testing"

	"github.com/mobayilo/mobayilo/internal/i18n"
)

// A refused call is told so in the language of the page that placed it
// (the Voice SDK's Lang parameter), with a Polly voice of that language;
// a language we do not have is English, in Twilio's default voice.
func TestVoiceRefusalIsSaidInThePagesLanguage(t *testing.T) {
	e := newCallEnv(t)
	b := e.caller("langue@example.com", 500)
	_, call := b.startCall("+234 803 123 4567")
	voiceURL := e.cfg.PublicBaseURL + "/api/webhooks/twilio/voice"
	// twilio-go writes the attributes in no fixed order: each is looked
	// for alone.
	for _, c := range []struct {
		lang, want string
		attrs      []string
	}{
		{"fr", i18n.T("fr", "twiml.refused"), []string{`voice="Polly.Celine"`, `language="fr-FR"`}},
		{"ar", i18n.T("ar", "twiml.refused"), []string{`voice="Polly.Zeina"`, `language="arb"`}},
		{"xx", i18n.T("en", "twiml.refused"), nil},
	} {
		form := e.voiceFixture(call)
		form.Set("AccountSid", "AC00000000000000000000000000000bad")
		form.Set("Lang", c.lang)
		r := e.postSigned(voiceURL, form)
		if r.status != http.StatusOK || strings.Contains(r.body, "<Dial") || !strings.Contains(html.UnescapeString(r.body), c.want) {
			t.Errorf("%s: %d %s, want it to say %q", c.lang, r.status, r.body, c.want)
		}
		for _, a := range c.attrs {
			if !strings.Contains(r.body, a) {
				t.Errorf("%s: %s, want the Say with %s", c.lang, r.body, a)
			}
		}
		if c.attrs == nil && (strings.Contains(r.body, "voice=") || strings.Contains(r.body, "language=")) {
			t.Errorf("%s: %s, want English's default voice", c.lang, r.body)
		}
	}
	if got := e.callStatus(call.CallID); got != "authorized" {
		t.Fatalf("after refused requests the call is %s, want authorized", got)
	}
}
