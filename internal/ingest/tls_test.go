package ingest_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"io"
	"math/big"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/cspwatch/cspwatch/internal/ingest"
	"github.com/cspwatch/cspwatch/internal/testkit/natstest"
)

// Serve with a TLS config answers HTTPS and refuses plain HTTP.
func TestServeTLS(t *testing.T) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "cspwatch-test"},
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1")},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	ns := natstest.Start(t)
	ns.InstallStream()
	srv, err := ingest.New(ingest.DefaultConfig(), mustCreds(t), ns.Conn(), zerolog.New(io.Discard))
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	tlsCfg := &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}, MinVersion: tls.VersionTLS12}
	go func() { done <- srv.Serve(ctx, ln, tlsCfg, 5*time.Second) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	}()

	roots := x509.NewCertPool()
	roots.AddCert(cert)
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots}}, Timeout: 10 * time.Second}
	body := readFile(t, "testdata/office.xml")
	req, _ := http.NewRequest("POST", "https://"+ln.Addr().String()+"/v1/syncml", bytes.NewReader(body))
	req.Header.Set("Content-Type", syncmlMediaType)
	req.Header.Set("Authorization", "Bearer "+contosoToken)
	res, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, res.Body)
	res.Body.Close()
	if res.StatusCode != 200 {
		t.Fatalf("https status %d", res.StatusCode)
	}
	res, err = http.Get("http://" + ln.Addr().String() + "/healthz")
	if err == nil {
		res.Body.Close()
		if res.StatusCode == 200 {
			t.Fatal("plain HTTP answered on the TLS listener")
		}
	}
}

func mustCreds(t *testing.T) *ingest.Credentials {
	t.Helper()
	c, err := ingest.LoadCredentials("testdata/credentials.json")
	if err != nil {
		t.Fatal(err)
	}
	return c
}
