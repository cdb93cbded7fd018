package temporalx

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"go.temporal.io/sdk/client"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"
)

// testPKI is a CA, a server certificate for temporal.test and 127.0.0.1,
// and a client certificate, all signed by the CA and written as PEM files.
type testPKI struct {
	caFile, certFile, keyFile string
	caPool                    *x509.CertPool
	server                    tls.Certificate
}

func newTestPKI(t *testing.T) testPKI {
	t.Helper()
	dir := t.TempDir()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	issue := func(serial int64, cn string, usage x509.ExtKeyUsage, dns []string, ips []net.IP) ([]byte, *ecdsa.PrivateKey) {
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		tmpl := &x509.Certificate{SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: cn},
			NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
			KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{usage}, DNSNames: dns, IPAddresses: ips}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
		if err != nil {
			t.Fatal(err)
		}
		return der, key
	}
	write := func(name, typ string, der []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	keyDER := func(k *ecdsa.PrivateKey) []byte {
		b, err := x509.MarshalPKCS8PrivateKey(k)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	p := testPKI{caFile: write("ca.pem", "CERTIFICATE", caDER), caPool: x509.NewCertPool()}
	p.caPool.AddCert(ca)
	clientDER, clientKey := issue(2, "mobayilo-worker", x509.ExtKeyUsageClientAuth, nil, nil)
	p.certFile = write("client.pem", "CERTIFICATE", clientDER)
	p.keyFile = write("client.key", "PRIVATE KEY", keyDER(clientKey))
	serverDER, serverKey := issue(3, "temporal.test", x509.ExtKeyUsageServerAuth, []string{"temporal.test"}, []net.IP{net.ParseIP("127.0.0.1")})
	p.server = tls.Certificate{Certificate: [][]byte{serverDER}, PrivateKey: serverKey}
	return p
}

func TestClientOptionsCarryTLSAndAPIKey(t *testing.T) {
	pki := newTestPKI(t)
	o := Options{Address: "temporal.internal:7233", Namespace: "ns", Logger: zerolog.Nop(),
		Security: Security{CertFile: pki.certFile, KeyFile: pki.keyFile, CAFile: pki.caFile, ServerName: "temporal.test", APIKey: "the-api-key"}}
	opts, err := o.client()
	if err != nil {
		t.Fatal(err)
	}
	cfg := opts.ConnectionOptions.TLS
	if cfg == nil || cfg.ServerName != "temporal.test" || cfg.RootCAs == nil || len(cfg.Certificates) != 1 || cfg.InsecureSkipVerify {
		t.Fatalf("TLS config %+v", cfg)
	}
	leaf, err := x509.ParseCertificate(cfg.Certificates[0].Certificate[0])
	if err != nil || leaf.Subject.CommonName != "mobayilo-worker" {
		t.Fatalf("client certificate %v %v", leaf, err)
	}
	if opts.Credentials == nil {
		t.Fatal("no API key credentials")
	}

	// Plaintext is what no setting gives.
	opts, err = Options{Address: "127.0.0.1:7233", Namespace: "default"}.client()
	if err != nil || opts.ConnectionOptions.TLS != nil || opts.Credentials != nil {
		t.Fatalf("plaintext options: %+v %v", opts.ConnectionOptions, err)
	}

	// A file that is not there, or holds no certificate, is an error naming it.
	for _, s := range []Security{
		{CAFile: filepath.Join(t.TempDir(), "missing.pem")},
		{CAFile: pki.keyFile},
		{CertFile: pki.certFile, KeyFile: pki.caFile},
		{CertFile: pki.certFile},
	} {
		if _, err := (Options{Address: "x:1", Security: s}).client(); err == nil {
			t.Errorf("%+v: no error", s)
		}
	}
}

// TestDialPresentsCertificateAndAPIKey dials a TLS server that demands a
// client certificate from the test CA and records what the client sent: the
// handshake verifies both sides, and every request carries the API key as a
// bearer token.
func TestDialPresentsCertificateAndAPIKey(t *testing.T) {
	pki := newTestPKI(t)
	var mu sync.Mutex
	var peers, auths []string
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		if r.TLS != nil && len(r.TLS.PeerCertificates) > 0 {
			peers = append(peers, r.TLS.PeerCertificates[0].Subject.CommonName)
		}
		auths = append(auths, r.Header.Get("Authorization"))
		mu.Unlock()
		// A trailers-only gRPC answer: UNIMPLEMENTED.
		w.Header().Set("Content-Type", "application/grpc")
		w.Header().Set("Grpc-Status", "12")
		w.Header().Set("Grpc-Message", "test server")
		w.WriteHeader(http.StatusOK)
	}))
	srv.EnableHTTP2 = true
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{pki.server}, ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: pki.caPool}
	srv.StartTLS()
	defer srv.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	o := Options{Address: srv.Listener.Addr().String(), Namespace: "default", Logger: zerolog.Nop(),
		Security: Security{CertFile: pki.certFile, KeyFile: pki.keyFile, CAFile: pki.caFile, ServerName: "temporal.test", APIKey: "the-api-key"}}
	c, err := Dial(ctx, o)
	if err == nil {
		c.Close()
		t.Fatal("the test server answers nothing, yet Dial succeeded")
	}
	if strings.Contains(err.Error(), "the-api-key") {
		t.Fatalf("the error shows the API key: %v", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(peers) == 0 || peers[0] != "mobayilo-worker" {
		t.Fatalf("server saw client certificates %v (dial error: %v)", peers, err)
	}
	for _, a := range auths {
		if a != "Bearer the-api-key" {
			t.Fatalf("a request carried Authorization %q", a)
		}
	}
}

func TestCompressionOffOnlyOnLoopback(t *testing.T) {
	for addr, none := range map[string]bool{
		"127.0.0.1:7233": true, "localhost:7233": true, "[::1]:7233": true,
		"temporal.internal:7233": false, "10.0.0.7:7233": false, "7233": false,
	} {
		opts, err := Options{Address: addr}.client()
		if err != nil {
			t.Fatal(err)
		}
		_, isNone := opts.ConnectionOptions.GrpcCompression.(*client.GrpcCompressionNone)
		if isNone != none {
			t.Errorf("%s: compression off = %v, want %v", addr, isNone, none)
		}
	}
}
