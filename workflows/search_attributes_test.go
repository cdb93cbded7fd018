package workflows_test

import (
	"testing"

	"github.com/mobayilo/mobayilo/workflows"
)

// Search attributes never pass through the payload codec: the Temporal
// server indexes them and its UI shows them in plain text to whoever
// reaches it. So each one is reviewed for personal data before it is
// added; a new attribute fails here until it is listed with what it holds.
// A phone number, an email or a name never qualifies (put those in the
// workflow's input or memo, which the codec encrypts).
// web's TestCallWithTheCodecKeepsNumbersOutOfTemporal checks the values a
// real call sets.
func TestSearchAttributesCarryNoPersonalData(t *testing.T) {
	reviewed := map[string]string{
		"UserID":             "our user's UUID, meaningless outside our database",
		"CallStatus":         "one of the call status words",
		"BillingState":       "one of the billing state words",
		"DestinationCountry": "an ISO country code, never the number",
		"TopUpStatus":        "one of the top-up status words",
	}
	for _, name := range workflows.SearchAttributeNames() {
		if _, ok := reviewed[name]; !ok {
			t.Errorf("search attribute %s is not reviewed: search attributes are stored and shown unencrypted, so list it here only if it can never hold a phone number, an email or a name", name)
		}
	}
}
