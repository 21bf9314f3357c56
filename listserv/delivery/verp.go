package delivery

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base32"
	"encoding/binary"
	"strings"
)

// VERP: every delivery's envelope sender is group-bounces+TOKEN@domain.
// The token names the delivery (member id and job id), never an address,
// and carries an HMAC so that a forged bounce address is recognized as
// such. It is lower-case base32, since tokens are matched
// case-insensitively.

var verpEnc = base32.StdEncoding.WithPadding(base32.NoPadding)

const verpMACLen = 8

// VERPToken makes the token for one delivery.
func VERPToken(key []byte, memberID, jobID uint64) string {
	b := binary.AppendUvarint(nil, memberID)
	b = binary.AppendUvarint(b, jobID)
	m := hmac.New(sha256.New, key)
	m.Write(b)
	b = append(b, m.Sum(nil)[:verpMACLen]...)
	return strings.ToLower(verpEnc.EncodeToString(b))
}

// ParseVERPToken checks a token and returns what it names.
func ParseVERPToken(key []byte, token string) (memberID, jobID uint64, ok bool) {
	b, err := verpEnc.DecodeString(strings.ToUpper(token))
	if err != nil || len(b) <= verpMACLen {
		return 0, 0, false
	}
	body, mac := b[:len(b)-verpMACLen], b[len(b)-verpMACLen:]
	m := hmac.New(sha256.New, key)
	m.Write(body)
	if !hmac.Equal(mac, m.Sum(nil)[:verpMACLen]) {
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
	return group + "-bounces+" + VERPToken(key, memberID, jobID) + "@" + domain
}
