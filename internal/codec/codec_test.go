package codec_test

import (
	"bytes"
	"encoding/base64"
	"errors"
	"strings"
	"testing"

	commonpb "go.temporal.io/api/common/v1"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/temporal"

	"github.com/mobayilo/mobayilo/internal/codec"
)

func key(b byte) string { return base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{b}, 32)) }

func mustCodec(t *testing.T, spec string) *codec.Codec {
	t.Helper()
	keys, err := codec.ParseKeys(spec)
	if err != nil {
		t.Fatal(err)
	}
	return codec.New(keys)
}

type callInput struct {
	PhoneNumber string
	Email       string
}

func TestDataConverterSealsAndOpens(t *testing.T) {
	c := mustCodec(t, "k1:"+key(1))
	dc := c.DataConverter()
	p, err := dc.ToPayload(callInput{PhoneNumber: "+2348031234567", Email: "ada@example.com"})
	if err != nil {
		t.Fatal(err)
	}
	if got := string(p.GetMetadata()[converter.MetadataEncoding]); got != codec.Encoding {
		t.Fatalf("encoding %q, want %q", got, codec.Encoding)
	}
	if got := string(p.GetMetadata()[codec.MetadataKeyID]); got != "k1" {
		t.Fatalf("key id %q", got)
	}
	raw, _ := p.Marshal()
	for _, secret := range []string{"2348031234567", "ada@example.com", "json/plain"} {
		if bytes.Contains(raw, []byte(secret)) {
			t.Fatalf("sealed payload shows %q", secret)
		}
	}
	var back callInput
	if err := dc.FromPayload(p, &back); err != nil {
		t.Fatal(err)
	}
	if back.PhoneNumber != "+2348031234567" || back.Email != "ada@example.com" {
		t.Fatalf("round trip gave %+v", back)
	}
	// Two seals of one value differ (a fresh nonce each time).
	p2, _ := dc.ToPayload(callInput{PhoneNumber: "+2348031234567", Email: "ada@example.com"})
	if bytes.Equal(p.GetData(), p2.GetData()) {
		t.Fatal("two seals of the same value are identical")
	}
}

// A history written before the codec was switched on holds plain JSON
// payloads: they decode unchanged.
func TestPlainPayloadsPassThrough(t *testing.T) {
	plain, err := converter.GetDefaultDataConverter().ToPayload(callInput{PhoneNumber: "+15005550006"})
	if err != nil {
		t.Fatal(err)
	}
	dc := mustCodec(t, "k1:"+key(1)).DataConverter()
	var got callInput
	if err := dc.FromPayload(plain, &got); err != nil || got.PhoneNumber != "+15005550006" {
		t.Fatalf("plain payload through the codec: %+v, %v", got, err)
	}
}

// Rotation: a new key in front encrypts, the old one behind still opens
// what it sealed; dropping the old key makes those payloads fail loudly,
// naming the key.
func TestRotationKeepsOldKeysDecoding(t *testing.T) {
	old := mustCodec(t, "2026-01:"+key(1))
	sealed, err := old.DataConverter().ToPayload("+447700900123")
	if err != nil {
		t.Fatal(err)
	}
	rotated := mustCodec(t, "2026-06:"+key(2)+",2026-01:"+key(1))
	if rotated.KeyID() != "2026-06" {
		t.Fatalf("encrypting key %q", rotated.KeyID())
	}
	var got string
	if err := rotated.DataConverter().FromPayload(sealed, &got); err != nil || got != "+447700900123" {
		t.Fatalf("old payload after rotation: %q, %v", got, err)
	}
	fresh, _ := rotated.DataConverter().ToPayload("x")
	if id := string(fresh.GetMetadata()[codec.MetadataKeyID]); id != "2026-06" {
		t.Fatalf("new payloads sealed with %q", id)
	}
	dropped := mustCodec(t, "2026-06:"+key(2))
	err = dropped.DataConverter().FromPayload(sealed, &got)
	if err == nil || !strings.Contains(err.Error(), `"2026-01"`) {
		t.Fatalf("want an error naming the missing key, got %v", err)
	}
}

func TestTamperedOrRelabelledPayloadsDoNotOpen(t *testing.T) {
	c := mustCodec(t, "a:"+key(1)+",b:"+key(1)) // same secret, other id
	p, _ := c.DataConverter().ToPayload("+2348031234567")
	flipped := &commonpb.Payload{Metadata: p.GetMetadata(), Data: append([]byte(nil), p.GetData()...)}
	flipped.Data[len(flipped.Data)-1] ^= 1
	relabelled := &commonpb.Payload{Metadata: map[string][]byte{
		converter.MetadataEncoding: []byte(codec.Encoding), codec.MetadataKeyID: []byte("b")}, Data: p.GetData()}
	truncated := &commonpb.Payload{Metadata: p.GetMetadata(), Data: p.GetData()[:5]}
	for name, bad := range map[string]*commonpb.Payload{"flipped": flipped, "relabelled": relabelled, "truncated": truncated} {
		if _, err := c.Decode([]*commonpb.Payload{bad}); err == nil {
			t.Errorf("%s payload opened", name)
		}
	}
}

func TestFailureMessagesAreSealed(t *testing.T) {
	c := mustCodec(t, "k1:"+key(1))
	fc := c.FailureConverter()
	f := fc.ErrorToFailure(temporal.NewApplicationError("cannot call +2348031234567", "Refused", "ada@example.com"))
	raw, _ := f.Marshal()
	for _, secret := range []string{"2348031234567", "ada@example.com"} {
		if bytes.Contains(raw, []byte(secret)) {
			t.Fatalf("failure shows %q", secret)
		}
	}
	err := fc.FailureToError(f)
	var appErr *temporal.ApplicationError
	if !errors.As(err, &appErr) || !strings.Contains(appErr.Error(), "+2348031234567") {
		t.Fatalf("decoded failure %v", err)
	}
	var detail string
	if err := appErr.Details(&detail); err != nil || detail != "ada@example.com" {
		t.Fatalf("details %q, %v", detail, err)
	}
}

func TestParseKeys(t *testing.T) {
	keys, err := codec.ParseKeys(" new:" + key(2) + " , old:" + key(1))
	if err != nil || keys.Len() != 2 || strings.Join(keys.IDs(), ",") != "new,old" {
		t.Fatalf("keys %v, %v", keys.IDs(), err)
	}
	keys, err = codec.ParseKeys("")
	if err != nil || keys.Len() != 0 {
		t.Fatalf("empty: %v, %v", keys.IDs(), err)
	}
	if c := codec.New(keys); c != nil {
		t.Fatalf("no keys gave a codec: %v", c)
	}
	short := base64.StdEncoding.EncodeToString([]byte("sixteen bytes!!!"))
	for _, bad := range []string{
		key(1),                         // no id
		":" + key(1),                   // empty id
		"a b:" + key(1),                // bad id
		"k:not base64!",                // not base64
		"k:" + short,                   // 16 bytes
		"k:" + key(1) + ",k:" + key(2), // repeated id
	} {
		if _, err := codec.ParseKeys(bad); err == nil {
			t.Errorf("%q parsed", bad)
		} else if strings.Contains(err.Error(), key(1)) || strings.Contains(err.Error(), key(2)) {
			t.Errorf("error for %q quotes the key: %v", bad, err)
		}
	}
}
