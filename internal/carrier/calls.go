package carrier

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	twilio "github.com/twilio/twilio-go"
	"github.com/twilio/twilio-go/client"
	api "github.com/twilio/twilio-go/rest/api/v2010"
)

// CallInfo is a call as the carrier's REST API reports it.
type CallInfo struct {
	Sid             string
	Status          string // Twilio's words: queued, ringing, in-progress, completed, busy, no-answer, failed, canceled
	DurationSeconds int64
}

// Calls reads calls from the carrier (to reconcile a call whose final
// callback never came).
type Calls interface {
	FetchCall(ctx context.Context, sid string) (CallInfo, error)
	// DialledLeg finds the leg our <Dial> placed for a parent call; found
	// is false when there is none (it never left Twilio).
	DialledLeg(ctx context.Context, parentSid string) (info CallInfo, found bool, err error)
}

// ErrCallNotFound: the carrier has no call with that SID.
var ErrCallNotFound = errors.New("carrier: no such call")

// TwilioCalls is Calls over twilio-go's Api.FetchCall.
type TwilioCalls struct {
	rc *twilio.RestClient
}

// NewTwilioCalls authenticates with an API key; httpClient may be nil.
func NewTwilioCalls(accountSID, apiKey, apiSecret string, httpClient *http.Client) *TwilioCalls {
	if httpClient == nil {
		httpClient = &http.Client{Timeout: 15 * time.Second}
	}
	c := &client.Client{Credentials: client.NewCredentials(apiKey, apiSecret), HTTPClient: httpClient}
	c.SetAccountSid(accountSID)
	return &TwilioCalls{rc: twilio.NewRestClientWithParams(twilio.ClientParams{Client: c})}
}

// FetchCall returns the call's status and duration.
func (t *TwilioCalls) FetchCall(ctx context.Context, sid string) (CallInfo, error) {
	if err := ctx.Err(); err != nil {
		return CallInfo{}, err
	}
	call, err := t.rc.Api.FetchCall(sid, &api.FetchCallParams{})
	var restErr *client.TwilioRestError
	if errors.As(err, &restErr) && restErr.Status == http.StatusNotFound {
		return CallInfo{}, fmt.Errorf("%w: %s", ErrCallNotFound, sid)
	}
	if err != nil {
		return CallInfo{}, fmt.Errorf("carrier: fetch call %s: %w", sid, err)
	}
	return callInfo(sid, call)
}

// DialledLeg lists the parent's child calls; ours dials one number.
func (t *TwilioCalls) DialledLeg(ctx context.Context, parentSid string) (CallInfo, bool, error) {
	if err := ctx.Err(); err != nil {
		return CallInfo{}, false, err
	}
	limit := 5
	calls, err := t.rc.Api.ListCall(&api.ListCallParams{ParentCallSid: &parentSid, Limit: &limit})
	if err != nil {
		return CallInfo{}, false, fmt.Errorf("carrier: children of %s: %w", parentSid, err)
	}
	if len(calls) == 0 || calls[0].Sid == nil {
		return CallInfo{}, false, nil
	}
	info, err := callInfo(*calls[0].Sid, &calls[0])
	return info, err == nil, err
}

func callInfo(sid string, call *api.ApiV2010Call) (CallInfo, error) {
	info := CallInfo{Sid: sid}
	if call.Status != nil {
		info.Status = *call.Status
	}
	if call.Duration != nil && *call.Duration != "" {
		d, err := strconv.ParseInt(*call.Duration, 10, 64)
		if err != nil {
			return CallInfo{}, fmt.Errorf("carrier: call %s: duration %q: %w", sid, *call.Duration, err)
		}
		info.DurationSeconds = d
	}
	return info, nil
}

// EndCall hangs up a call in progress (support disabling its user): the
// browser's leg is completed, which ends the dialled leg too. A call
// already over is not an error.
func (t *TwilioCalls) EndCall(ctx context.Context, _ string, parentSid string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if parentSid == "" {
		return nil
	}
	_, err := t.rc.Api.UpdateCall(parentSid, (&api.UpdateCallParams{}).SetStatus("completed"))
	var restErr *client.TwilioRestError
	if errors.As(err, &restErr) && (restErr.Status == http.StatusNotFound || restErr.Code == 21220) {
		return nil // gone, or not in progress any more
	}
	if err != nil {
		return fmt.Errorf("carrier: end call %s: %w", parentSid, err)
	}
	return nil
}
