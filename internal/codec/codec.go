// Package codec encrypts Temporal payloads (workflow inputs and results,
// activity arguments, signals, updates, queries, memos and failure
// details) with AES-256-GCM before they leave the process, so the Temporal
// server, its database and its UI hold only ciphertext: the phone numbers
// and emails the workflows carry are readable only by our own roles, and
// by staff through the admin codec endpoint.
//
// Keys are named: every encrypted payload records the id of the key that
// sealed it, and decoding picks the key by that id, so after a rotation the
// old keys keep opening the histories they sealed. A payload without our
// encoding (one written before the codec was switched on) passes through
// unchanged, which is what lets old histories replay.
package codec

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"

	commonpb "go.temporal.io/api/common/v1"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/temporal"
	"google.golang.org/protobuf/proto"
)

const (
	// Encoding is the metadata encoding of a payload this codec sealed.
	Encoding = "binary/encrypted"
	// MetadataKeyID names the key that sealed a payload.
	MetadataKeyID = "encryption-key-id"
	// KeySize is the length of an AES-256 key.
	KeySize = 32
)

// Keys are the codec's named AES-256-GCM keys, in order: the first
// encrypts, every one decrypts. Only ParseKeys makes them, so a Keys value
// is always valid.
type Keys struct {
	ids   []string
	aeads map[string]cipher.AEAD
}

// Len is the number of keys.
func (k Keys) Len() int { return len(k.ids) }

// IDs are the keys' ids, the encrypting one first.
func (k Keys) IDs() []string { return append([]string(nil), k.ids...) }

// ParseKeys reads TEMPORAL_CODEC_KEYS: comma-separated "id:base64" pairs,
// each key 32 bytes (`head -c32 /dev/urandom | base64`). The first key
// encrypts; every key decrypts. An empty string is no keys. Errors name a
// key by its id, never quote it.
func ParseKeys(s string) (Keys, error) {
	k := Keys{aeads: map[string]cipher.AEAD{}}
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		id, b64, ok := strings.Cut(part, ":")
		if !ok {
			return Keys{}, errors.New(`each key must be "id:base64"`)
		}
		if !validID(id) {
			return Keys{}, fmt.Errorf("key id %q must be 1 to 32 letters, digits, '.', '_' or '-'", id)
		}
		if _, dup := k.aeads[id]; dup {
			return Keys{}, fmt.Errorf("key id %q is listed twice", id)
		}
		secret, err := base64.StdEncoding.DecodeString(strings.TrimSpace(b64))
		if err != nil {
			return Keys{}, fmt.Errorf("key %q is not base64", id)
		}
		if len(secret) != KeySize {
			return Keys{}, fmt.Errorf("key %q is %d bytes, want %d (head -c32 /dev/urandom | base64)", id, len(secret), KeySize)
		}
		block, err := aes.NewCipher(secret)
		if err != nil {
			return Keys{}, fmt.Errorf("key %q: %w", id, err)
		}
		aead, err := cipher.NewGCM(block)
		if err != nil {
			return Keys{}, fmt.Errorf("key %q: %w", id, err)
		}
		k.ids = append(k.ids, id)
		k.aeads[id] = aead
	}
	return k, nil
}

func validID(id string) bool {
	if id == "" || len(id) > 32 {
		return false
	}
	for _, r := range id {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '.', r == '_', r == '-':
		default:
			return false
		}
	}
	return true
}

// Codec is a converter.PayloadCodec sealing payloads with the first of its
// keys and opening them with whichever key sealed them.
type Codec struct {
	current string
	aeads   map[string]cipher.AEAD
}

var _ converter.PayloadCodec = (*Codec)(nil)

// New returns the codec of keys, or nil when there are none: no codec,
// payloads stay plain JSON.
func New(keys Keys) *Codec {
	if keys.Len() == 0 {
		return nil
	}
	return &Codec{current: keys.ids[0], aeads: keys.aeads}
}

// KeyID is the id of the key that encrypts.
func (c *Codec) KeyID() string { return c.current }

// additionalData binds a ciphertext to its key id, so relabelling a payload
// with another id fails to open rather than opening under the wrong key.
func additionalData(keyID string) []byte { return []byte("mobayilo/temporal-payload/" + keyID) }

// Encode seals each payload, whole (its metadata too), under the current
// key: metadata encoding binary/encrypted and the key's id, data the nonce
// followed by the ciphertext. A payload already sealed is left as it is.
func (c *Codec) Encode(payloads []*commonpb.Payload) ([]*commonpb.Payload, error) {
	aead := c.aeads[c.current]
	out := make([]*commonpb.Payload, len(payloads))
	for i, p := range payloads {
		if string(p.GetMetadata()[converter.MetadataEncoding]) == Encoding {
			out[i] = p
			continue
		}
		plain, err := proto.Marshal(p)
		if err != nil {
			return payloads, fmt.Errorf("codec: marshal payload: %w", err)
		}
		nonce := make([]byte, aead.NonceSize(), aead.NonceSize()+len(plain)+aead.Overhead())
		if _, err := rand.Read(nonce); err != nil {
			return payloads, fmt.Errorf("codec: nonce: %w", err)
		}
		out[i] = &commonpb.Payload{
			Metadata: map[string][]byte{
				converter.MetadataEncoding: []byte(Encoding),
				MetadataKeyID:              []byte(c.current),
			},
			Data: aead.Seal(nonce, nonce, plain, additionalData(c.current)),
		}
	}
	return out, nil
}

// Decode opens each sealed payload with the key it names; any other
// payload (plain JSON from before the codec, or another encoding) passes
// through unchanged.
func (c *Codec) Decode(payloads []*commonpb.Payload) ([]*commonpb.Payload, error) {
	out := make([]*commonpb.Payload, len(payloads))
	for i, p := range payloads {
		if string(p.GetMetadata()[converter.MetadataEncoding]) != Encoding {
			out[i] = p
			continue
		}
		id := string(p.GetMetadata()[MetadataKeyID])
		aead, ok := c.aeads[id]
		if !ok {
			return payloads, fmt.Errorf("codec: payload sealed with key %q, which TEMPORAL_CODEC_KEYS does not hold", id)
		}
		data := p.GetData()
		if len(data) < aead.NonceSize()+aead.Overhead() {
			return payloads, fmt.Errorf("codec: payload sealed with key %q is truncated", id)
		}
		plain, err := aead.Open(nil, data[:aead.NonceSize()], data[aead.NonceSize():], additionalData(id))
		if err != nil {
			return payloads, fmt.Errorf("codec: payload sealed with key %q does not open: %w", id, err)
		}
		var orig commonpb.Payload
		if err := proto.Unmarshal(plain, &orig); err != nil {
			return payloads, fmt.Errorf("codec: unmarshal payload: %w", err)
		}
		out[i] = &orig
	}
	return out, nil
}

// DataConverter is Temporal's default data converter with every payload
// passed through c. Search attributes never go through a data converter:
// they are stored and shown in plain text, so none may carry personal data.
func (c *Codec) DataConverter() converter.DataConverter {
	return converter.NewCodecDataConverter(converter.GetDefaultDataConverter(), c)
}

// FailureConverter encodes failures' messages and stack traces with c as
// well as their details: an error's text may quote a phone number.
func (c *Codec) FailureConverter() converter.FailureConverter {
	return temporal.NewDefaultFailureConverter(temporal.DefaultFailureConverterOptions{
		DataConverter:          c.DataConverter(),
		EncodeCommonAttributes: true,
	})
}
