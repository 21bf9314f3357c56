package delivery

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base32"
	"encoding/binary"
	"hash"
	"strings"
	"sync"
)

// VERP: every delivery's envelope sender is group-bounces+TOKEN@domain.
// The token names the delivery (member id and job id), never an address,
// and carries an HMAC over those and the group's name, so that a forged
// bounce address is recognized as such, and a token from one group's
// mail is worthless at another group's bounce address (member ids are
// per group). It is lower-case base32, since tokens are matched
// case-insensitively.

var verpEnc = base32.StdEncoding.WithPadding(base32.NoPadding)

const verpMACLen = 8

// VERPToken makes the token for one delivery of group's mail.
func VERPToken(key []byte, group string, memberID, jobID uint64) string {
	return verpToken(hmac.New(sha256.New, key), group, memberID, jobID)
}

func verpToken(m hash.Hash, group string, memberID, jobID uint64) string {
	b := binary.AppendUvarint(make([]byte, 0, 32), memberID)
	b = binary.AppendUvarint(b, jobID)
	b = append(b, verpMAC(m, group, b)...)
	return strings.ToLower(verpEnc.EncodeToString(b))
}

// verpMAC is the token's MAC: HMAC(group in lower case, NUL, body), cut
// to verpMACLen bytes.
func verpMAC(m hash.Hash, group string, body []byte) []byte {
	m.Reset()
	m.Write([]byte(strings.ToLower(group)))
	m.Write([]byte{0})
	m.Write(body)
	return m.Sum(nil)[:verpMACLen]
}

// verpSigner writes VERP addresses for one queue, reusing HMAC states
// (making one costs more than using it).
type verpSigner struct {
	domain string
	pool   sync.Pool
}

func newVERPSigner(key []byte, domain string) *verpSigner {
	v := &verpSigner{domain: domain}
	v.pool.New = func() any { return hmac.New(sha256.New, key) }
	return v
}

func (v *verpSigner) address(group string, memberID, jobID uint64) string {
	m := v.pool.Get().(hash.Hash)
	tok := verpToken(m, group, memberID, jobID)
	v.pool.Put(m)
	return group + "-bounces+" + tok + "@" + v.domain
}

// ParseVERPToken checks a token found at group's bounce address and
// returns what it names.
func ParseVERPToken(key []byte, group, token string) (memberID, jobID uint64, ok bool) {
	b, err := verpEnc.DecodeString(strings.ToUpper(token))
	if err != nil || len(b) <= verpMACLen {
		return 0, 0, false
	}
	body, mac := b[:len(b)-verpMACLen], b[len(b)-verpMACLen:]
	if !hmac.Equal(mac, verpMAC(hmac.New(sha256.New, key), group, body)) {
		return 0, 0, false
	}
	memberID, n := binary.Uvarint(body)
	if n <= 0 {
		return 0, 0, false
	}
	jobID, k := binary.Uvarint(body[n:])
	if k <= 0 || n+k != len(body) {
		return 0, 0, false
	}
	return memberID, jobID, true
}

// VERPAddress is the envelope sender of one delivery.
func VERPAddress(key []byte, group, domain string, memberID, jobID uint64) string {
	return group + "-bounces+" + VERPToken(key, group, memberID, jobID) + "@" + domain
}
