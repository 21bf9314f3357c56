// Package dkimsign signs the mail listserv sends with the list domain's
// DKIM key (RFC 6376), so that posts, private messages and service
// notices authenticate as the list's own mail and pass DMARC for the
// list domain. It wraps github.com/emersion/go-msgauth's dkim.Sign with
// the choices listserv makes: ed25519 or RSA (2048 bits or more) keys in
// PEM PKCS#8 files, relaxed/relaxed canonicalization, SHA-256, and a
// fixed set of signed header fields.
//
// A message must be signed after its last edit: anything that changes a
// signed header or the body afterwards breaks the signature. Headers
// added in front later (Return-Path, Received) do not.
//
// It also makes keys and the DNS TXT record that publishes their public
// half (`listserv dkim keygen`).
package dkimsign

import (
	"crypto"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/emersion/go-msgauth/dkim"
)

// MinRSABits is the smallest RSA key accepted: shorter keys are refused
// by receivers (RFC 8301) and can be factored.
const MinRSABits = 2048

// HeaderKeys are the header fields signed, when present. A field listed
// but absent is signed as absent, so it cannot be added on the way
// without breaking the signature. From must be first (RFC 6376 §5.4).
var HeaderKeys = []string{
	"From", "To", "Subject", "Date", "Message-ID", "Reply-To",
	"In-Reply-To", "References",
	"List-Id", "List-Post", "List-Help", "List-Unsubscribe", "List-Archive",
	"MIME-Version", "Content-Type", "Content-Transfer-Encoding",
}

// Signer signs messages for one domain with one key and selector. A nil
// *Signer signs nothing: Sign returns the message as it is. Its methods
// are safe for concurrent use.
type Signer struct {
	domain, selector string
	key              crypto.Signer
}

// New returns a signer for domain under selector with key, an
// ed25519.PrivateKey or an *rsa.PrivateKey of at least MinRSABits.
func New(domain, selector string, key crypto.Signer) (*Signer, error) {
	domain = strings.ToLower(strings.TrimSuffix(domain, "."))
	if domain == "" {
		return nil, errors.New("dkim: no signing domain")
	}
	if selector == "" {
		return nil, errors.New("dkim: no selector (set dkim.selector)")
	}
	if strings.ContainsAny(selector, " \t;=\"") {
		return nil, fmt.Errorf("dkim: selector %q is not a DNS label", selector)
	}
	if err := checkKey(key); err != nil {
		return nil, err
	}
	return &Signer{domain: domain, selector: selector, key: key}, nil
}

// Load reads a PEM PKCS#8 private key from keyFile and returns a signer
// for domain under selector. Its errors name the file and what is wrong.
func Load(domain, selector, keyFile string) (*Signer, error) {
	b, err := os.ReadFile(keyFile)
	if err != nil {
		return nil, fmt.Errorf("dkim: key file: %w", err)
	}
	key, err := ParseKey(b)
	if err != nil {
		return nil, fmt.Errorf("dkim: key file %s: %w", keyFile, err)
	}
	return New(domain, selector, key)
}

// ParseKey parses a PEM "PRIVATE KEY" block (PKCS#8) holding an ed25519
// or RSA key.
func ParseKey(pemBytes []byte) (crypto.Signer, error) {
	block, _ := pem.Decode(pemBytes)
	if block == nil {
		return nil, errors.New("no PEM block")
	}
	if block.Type != "PRIVATE KEY" {
		return nil, fmt.Errorf("PEM block is %q, want \"PRIVATE KEY\" (PKCS#8; convert with openssl pkcs8 -topk8 -nocrypt)", block.Type)
	}
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, err
	}
	s, ok := k.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("unsupported key type %T", k)
	}
	if err := checkKey(s); err != nil {
		return nil, err
	}
	return s, nil
}

func checkKey(key crypto.Signer) error {
	switch k := key.(type) {
	case ed25519.PrivateKey:
		return nil
	case *rsa.PrivateKey:
		if n := k.N.BitLen(); n < MinRSABits {
			return fmt.Errorf("dkim: RSA key of %d bits, want at least %d", n, MinRSABits)
		}
		return nil
	case nil:
		return errors.New("dkim: no key")
	}
	return fmt.Errorf("dkim: unsupported key type %T (want ed25519 or RSA)", key)
}

// Domain is the signing domain (d=).
func (s *Signer) Domain() string { return s.domain }

// Selector is the key's selector (s=).
func (s *Signer) Selector() string { return s.selector }

// Sign returns msg (CRLF line endings) with a DKIM-Signature header
// field in front. A nil signer returns msg unchanged.
func (s *Signer) Sign(msg []byte) ([]byte, error) {
	if s == nil {
		return msg, nil
	}
	sig, err := dkim.NewSigner(&dkim.SignOptions{
		Domain:                 s.domain,
		Selector:               s.selector,
		Signer:                 s.key,
		Hash:                   crypto.SHA256,
		HeaderCanonicalization: dkim.CanonicalizationRelaxed,
		BodyCanonicalization:   dkim.CanonicalizationRelaxed,
		HeaderKeys:             HeaderKeys,
	})
	if err != nil {
		return nil, err
	}
	if _, err := sig.Write(msg); err != nil {
		sig.Close()
		return nil, fmt.Errorf("dkim: signing: %w", err)
	}
	if err := sig.Close(); err != nil {
		return nil, fmt.Errorf("dkim: signing: %w", err)
	}
	h := sig.Signature()
	out := make([]byte, 0, len(h)+len(msg))
	out = append(out, h...)
	return append(out, msg...), nil
}

// TXT is the DNS TXT record value that publishes the signer's public key.
func (s *Signer) TXT() string {
	v, _ := TXTValue(s.key.Public())
	return v
}

// RecordName is the DNS name the TXT record goes under:
// SELECTOR._domainkey.DOMAIN.
func RecordName(selector, domain string) string {
	return selector + "._domainkey." + strings.TrimSuffix(domain, ".")
}

// ZoneLine is the TXT record as a zone-file line, the value cut into
// quoted strings of at most 255 bytes (the DNS limit of one string; an
// RSA-2048 key is longer) which resolvers join again.
func ZoneLine(selector, domain string, pub crypto.PublicKey) (string, error) {
	v, err := TXTValue(pub)
	if err != nil {
		return "", err
	}
	var parts []string
	for len(v) > 255 {
		parts = append(parts, `"`+v[:255]+`"`)
		v = v[255:]
	}
	parts = append(parts, `"`+v+`"`)
	return RecordName(selector, domain) + " IN TXT " + strings.Join(parts, " "), nil
}

// TXTValue is the DKIM key record for pub (RFC 6376 §3.6.1,
// RFC 8463 for ed25519): "v=DKIM1; k=rsa; p=...".
func TXTValue(pub crypto.PublicKey) (string, error) {
	switch k := pub.(type) {
	case ed25519.PublicKey:
		return "v=DKIM1; k=ed25519; p=" + b64(k), nil
	case *rsa.PublicKey:
		der, err := x509.MarshalPKIXPublicKey(k)
		if err != nil {
			return "", err
		}
		return "v=DKIM1; k=rsa; p=" + b64(der), nil
	}
	return "", fmt.Errorf("dkim: unsupported public key %T", pub)
}

func b64(b []byte) string { return base64.StdEncoding.EncodeToString(b) }
