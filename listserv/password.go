package listserv

import (
	"crypto/rand"
	"errors"
	"sync"

	"golang.org/x/crypto/bcrypt"

	"listserv/mailstore"
)

// Archive passwords are generated, never chosen: 20 characters from an
// alphabet without look-alikes (about 100 bits), stored as a bcrypt hash.
const (
	passwordAlphabet = "abcdefghijkmnpqrstuvwxyzACDEFGHJKLMNPQRTUVWXYZ2345679"
	passwordLen      = 20
	// DefaultPasswordCost is the bcrypt cost (about 65 ms a hash on the
	// machines we measured; the passwords are random, so this guards
	// against nothing more than a leaked database being cheap to test).
	DefaultPasswordCost = 10
)

// NewPassword draws a password and its bcrypt hash at cost.
func NewPassword(cost int) (plain, hash string, err error) {
	b := make([]byte, passwordLen)
	n := byte(len(passwordAlphabet))
	limit := 256 - 256%int(n) // reject values that would bias the draw
	for i := 0; i < len(b); {
		var c [1]byte
		if _, err := rand.Read(c[:]); err != nil {
			return "", "", err
		}
		if int(c[0]) < limit {
			b[i] = passwordAlphabet[c[0]%n]
			i++
		}
	}
	h, err := bcrypt.GenerateFromPassword(b, cost)
	if err != nil {
		return "", "", err
	}
	return string(b), string(h), nil
}

// ResetPassword gives addr a new archive password and returns it; the
// old one stops working at once.
func (s *Service) ResetPassword(addr string) (string, error) {
	plain, hash, err := NewPassword(s.passCost)
	if err != nil {
		return "", err
	}
	if err := s.store.SetPassword(addr, hash); err != nil {
		return "", err
	}
	return plain, nil
}

// CheckPassword reports whether plain is addr's archive password. It
// takes the same time for an unknown address as for a wrong password, so
// that a login attempt does not tell who has an account.
func (s *Service) CheckPassword(addr, plain string) (bool, error) {
	a, err := s.store.Account(addr)
	if err != nil && !errors.Is(err, mailstore.ErrNotFound) {
		return false, err
	}
	hash := []byte(a.PassHash)
	if len(hash) == 0 {
		hash = s.dummyHash()
	}
	ok := bcrypt.CompareHashAndPassword(hash, []byte(plain)) == nil
	return ok && a.PassHash != "", nil
}

// newDummyHash makes the hash CheckPassword compares against when there
// is no account, to spend the same time as a real comparison. It is made
// on first use: every admin command is a process start.
func newDummyHash(cost int) func() []byte {
	return sync.OnceValue(func() []byte {
		h, _ := bcrypt.GenerateFromPassword([]byte("no account has this password"), cost)
		return h
	})
}
