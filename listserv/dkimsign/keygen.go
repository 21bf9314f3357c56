package dkimsign

import (
	"crypto"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"os"
)

// Key types GenerateKey makes.
const (
	RSA     = "rsa"     // RSA-2048: every receiver verifies it
	Ed25519 = "ed25519" // RFC 8463: small and fast, not yet verified everywhere
)

// GenerateKey makes a new key of type typ (RSA or Ed25519) and returns
// it with its PEM PKCS#8 encoding.
func GenerateKey(typ string) (crypto.Signer, []byte, error) {
	var key crypto.Signer
	switch typ {
	case RSA:
		k, err := rsa.GenerateKey(rand.Reader, MinRSABits)
		if err != nil {
			return nil, nil, err
		}
		key = k
	case Ed25519:
		_, k, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			return nil, nil, err
		}
		key = k
	default:
		return nil, nil, fmt.Errorf("dkim: unknown key type %q (want rsa or ed25519)", typ)
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, nil, err
	}
	return key, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}

// WriteKeyFile writes a PEM key to path, readable by its owner only. It
// refuses to replace an existing file: a key already published in DNS
// must not be lost by a repeated command.
func WriteKeyFile(path string, pemBytes []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	if _, err := f.Write(pemBytes); err != nil {
		f.Close()
		os.Remove(path)
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		os.Remove(path)
		return err
	}
	if err := f.Close(); err != nil {
		os.Remove(path)
		return err
	}
	return nil
}
