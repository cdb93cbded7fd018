package carrier

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"net/http"
	"net/url"
	"regexp"
	"strings"

	"github.com/twilio/twilio-go/client"
	api "github.com/twilio/twilio-go/rest/api/v2010"
)

// Verified caller IDs: Twilio's OutgoingCallerIds. A validation request
// (POST /2010-04-01/Accounts/{Sid}/OutgoingCallerIds.json) answers with a
// six-digit code and has Twilio call the number; the person types the
// code on that call, and Twilio posts the result to the request's
// StatusCallback (VerificationStatus success or failed, OutgoingCallerIdSid
// on success; testdata/twilio/callerid_callback_*.json). A verified number
// may then be a <Dial>'s callerId. Deleting the OutgoingCallerId (DELETE
// .../OutgoingCallerIds/{Sid}.json) takes that back.

// CallerIDs verifies and removes outgoing caller IDs.
type CallerIDs interface {
	RequestValidation(ctx context.Context, req ValidationRequest) (Validation, error)
	// DeleteCallerID removes a verified number; one already gone is not an
	// error.
	DeleteCallerID(ctx context.Context, sid string) error
}

// ValidationRequest is what we ask Twilio to verify.
type ValidationRequest struct {
	PhoneNumber    string // E.164
	FriendlyName   string
	StatusCallback string // where Twilio posts the result
	CallDelay      int    // seconds before Twilio calls, 0..60
}

// Validation is Twilio's answer: the code the person must type, and the
// verification call.
type Validation struct {
	CallSid, ValidationCode string
}

// ValidationRefusedError: Twilio refused the request (a 4xx: the number is
// invalid, or already verified on the account). No retry changes it.
type ValidationRefusedError struct {
	Code    int
	Message string
}

func (e *ValidationRefusedError) Error() string {
	return fmt.Sprintf("carrier: validation refused: %d %s", e.Code, e.Message)
}

// Twilio's error codes the simulator answers with, as Twilio does.
const (
	// ErrorAlreadyVerified: 21450, "Phone number already verified for your
	// account".
	ErrorAlreadyVerified = 21450
	// ErrorInvalidNumber: 21211, "Invalid 'To' Phone Number".
	ErrorInvalidNumber = 21211
)

var _ CallerIDs = (*TwilioCalls)(nil)
var _ CallerIDs = (*Simulator)(nil)

// RequestValidation is twilio-go's CreateValidationRequest.
func (t *TwilioCalls) RequestValidation(ctx context.Context, req ValidationRequest) (Validation, error) {
	if err := ctx.Err(); err != nil {
		return Validation{}, err
	}
	p := (&api.CreateValidationRequestParams{}).SetPhoneNumber(req.PhoneNumber).
		SetStatusCallback(req.StatusCallback).SetStatusCallbackMethod(http.MethodPost).SetCallDelay(req.CallDelay)
	if req.FriendlyName != "" {
		p.SetFriendlyName(req.FriendlyName)
	}
	v, err := t.rc.Api.CreateValidationRequest(p)
	var restErr *client.TwilioRestError
	if errors.As(err, &restErr) && restErr.Status >= 400 && restErr.Status < 500 && restErr.Status != http.StatusTooManyRequests &&
		restErr.Status != http.StatusUnauthorized {
		return Validation{}, &ValidationRefusedError{Code: restErr.Code, Message: restErr.Message}
	}
	if err != nil {
		return Validation{}, fmt.Errorf("carrier: validation request: %w", err)
	}
	if v.ValidationCode == nil || *v.ValidationCode == "" {
		return Validation{}, errors.New("carrier: validation request: no validation_code in the answer")
	}
	out := Validation{ValidationCode: *v.ValidationCode}
	if v.CallSid != nil {
		out.CallSid = *v.CallSid
	}
	return out, nil
}

// DeleteCallerID is twilio-go's DeleteOutgoingCallerId; a 404 is done.
func (t *TwilioCalls) DeleteCallerID(ctx context.Context, sid string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	err := t.rc.Api.DeleteOutgoingCallerId(sid, &api.DeleteOutgoingCallerIdParams{})
	var restErr *client.TwilioRestError
	if errors.As(err, &restErr) && restErr.Status == http.StatusNotFound {
		return nil
	}
	if err != nil {
		return fmt.Errorf("carrier: delete caller id %s: %w", sid, err)
	}
	return nil
}

var e164Pattern = regexp.MustCompile(`^\+[1-9][0-9]{1,14}$`)

// simValidation is a verification call the simulator is "making".
type simValidation struct {
	callSid, code, callback string
}

// ErrNoValidation: no verification call is in progress for the number.
var ErrNoValidation = errors.New("carrier simulator: no verification call to that number")

// RequestValidation does what Twilio does with a validation request: it
// refuses a number already verified on the account (21450) and otherwise
// "calls" the number, awaiting the code (EnterValidationCode). A second
// request for the same number replaces the first call.
func (s *Simulator) RequestValidation(_ context.Context, req ValidationRequest) (Validation, error) {
	if !e164Pattern.MatchString(req.PhoneNumber) {
		return Validation{}, &ValidationRefusedError{Code: ErrorInvalidNumber, Message: "The phone number you are attempting to verify is invalid."}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.callerIDs[req.PhoneNumber]; ok {
		return Validation{}, &ValidationRefusedError{Code: ErrorAlreadyVerified, Message: "Phone number already verified for your account"}
	}
	if s.validations == nil {
		s.validations = map[string]simValidation{}
	}
	v := simValidation{callSid: newSid(), code: sixDigits(), callback: req.StatusCallback}
	s.validations[req.PhoneNumber] = v
	return Validation{CallSid: v.callSid, ValidationCode: v.code}, nil
}

// EnterValidationCode is the person typing digits on the verification call
// to number: Twilio ends the call and posts the signed result to the
// request's StatusCallback, success when the digits are the code (with the
// new OutgoingCallerIdSid) and failed otherwise. verified says which.
func (s *Simulator) EnterValidationCode(ctx context.Context, number, digits string) (verified bool, err error) {
	s.mu.Lock()
	v, ok := s.validations[number]
	delete(s.validations, number)
	var sid string
	if ok && digits == v.code {
		verified, sid = true, "PN"+strings.TrimPrefix(newSid(), "CA")
		if s.callerIDs == nil {
			s.callerIDs = map[string]string{}
		}
		s.callerIDs[number] = sid
	}
	s.mu.Unlock()
	if !ok {
		return false, ErrNoValidation
	}
	if v.callback == "" {
		return verified, nil
	}
	_, err = s.post(ctx, v.callback, s.validationFields(number, v.callSid, sid))
	return verified, err
}

// validationFields are the verification call's status callback, as Twilio
// documents it: the call's standard parameters (an outbound-api call from
// Twilio to the number, completed) with VerificationStatus, and
// OutgoingCallerIdSid when verified (sid "": failed).
func (s *Simulator) validationFields(number, callSid, sid string) url.Values {
	v := url.Values{
		"AccountSid": {s.AccountSID}, "ApiVersion": {"2010-04-01"}, "CallSid": {callSid}, "CallStatus": {"completed"},
		"Called": {number}, "Caller": {validationCaller}, "Direction": {"outbound-api"},
		"From": {validationCaller}, "To": {number}, "VerificationStatus": {"failed"},
	}
	if sid != "" {
		v.Set("VerificationStatus", "success")
		v.Set("OutgoingCallerIdSid", sid)
	}
	return v
}

// validationCaller is the number the simulator's verification calls come
// from (Twilio's own; any number of Twilio's).
const validationCaller = "+15005550006"

// ValidationCallback is a verification call's callback as the simulator
// would post it: for tests against the fixtures.
func (s *Simulator) ValidationCallback(number, callSid, outgoingCallerIDSid string) url.Values {
	return s.validationFields(number, callSid, outgoingCallerIDSid)
}

// DeleteCallerID removes a number the simulator verified.
func (s *Simulator) DeleteCallerID(_ context.Context, sid string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for n, id := range s.callerIDs {
		if id == sid {
			delete(s.callerIDs, n)
		}
	}
	return nil
}

// VerifiedCallerID reports the OutgoingCallerId sid of a number the
// simulator holds verified ("" none).
func (s *Simulator) VerifiedCallerID(number string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.callerIDs[number]
}

// restCreateValidation serves POST .../OutgoingCallerIds.json: 201 with
// Twilio's ValidationRequest shape (testdata/twilio/callerid_validation_request.json).
func (s *Simulator) restCreateValidation(w http.ResponseWriter, r *http.Request) {
	if !s.restAccount(w, r) {
		return
	}
	if err := r.ParseForm(); err != nil || r.PostForm.Get("PhoneNumber") == "" {
		restError(w, http.StatusBadRequest, 21604, "A 'PhoneNumber' is required.")
		return
	}
	f := r.PostForm
	if m := f.Get("StatusCallbackMethod"); m != "" && m != http.MethodPost {
		// Only POST is simulated (our requests use it).
		restError(w, http.StatusBadRequest, 21609, "Invalid StatusCallbackMethod: only POST is simulated")
		return
	}
	v, err := s.RequestValidation(r.Context(), ValidationRequest{PhoneNumber: f.Get("PhoneNumber"), FriendlyName: f.Get("FriendlyName"),
		StatusCallback: f.Get("StatusCallback")})
	var refused *ValidationRefusedError
	if errors.As(err, &refused) {
		restError(w, http.StatusBadRequest, refused.Code, refused.Message)
		return
	}
	if err != nil {
		restError(w, http.StatusInternalServerError, 20500, "Internal Server Error")
		return
	}
	name := f.Get("FriendlyName")
	if name == "" {
		name = f.Get("PhoneNumber")
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusCreated)
	_ = json.NewEncoder(w).Encode(map[string]any{"account_sid": s.AccountSID, "call_sid": v.CallSid, "friendly_name": name,
		"phone_number": f.Get("PhoneNumber"), "validation_code": v.ValidationCode})
}

// restDeleteCallerID serves DELETE .../OutgoingCallerIds/{sid}.json: 204,
// or 404 for a sid the account does not hold.
func (s *Simulator) restDeleteCallerID(w http.ResponseWriter, r *http.Request) {
	if !s.restAccount(w, r) {
		return
	}
	sid := strings.TrimSuffix(r.PathValue("sid"), ".json")
	s.mu.Lock()
	found := false
	for n, id := range s.callerIDs {
		if id == sid {
			delete(s.callerIDs, n)
			found = true
		}
	}
	s.mu.Unlock()
	if !found {
		restError(w, http.StatusNotFound, 20404, "The requested resource /OutgoingCallerIds/"+sid+".json was not found")
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func sixDigits() string {
	n, err := rand.Int(rand.Reader, big.NewInt(1000000))
	if err != nil {
		b := make([]byte, 3)
		_, _ = rand.Read(b)
		return hex.EncodeToString(b)
	}
	return fmt.Sprintf("%06d", n.Int64())
}
