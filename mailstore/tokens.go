package mailstore

import (
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
)

// A token is the secret in a recipient's -confirm+TOKEN address. The
// store keeps only its SHA-256, so a copy of the database confirms
// nothing. A used token is kept (marked used) until it would have
// expired, so that a second use can be told apart from a forgery.

var bTokens = []byte("tokens")

// TokenKind says what a token confirms.
type TokenKind string

// Token kinds.
const (
	TokJoin        TokenKind = "join"         // requester confirms a join
	TokLeave       TokenKind = "leave"        // member confirms leaving
	TokErase       TokenKind = "erase"        // (former) member confirms erasing their posts
	TokApproveJoin TokenKind = "approve-join" // admin approves a pending member
	TokRejectJoin  TokenKind = "reject-join"  // admin rejects a pending member
	TokApprovePost TokenKind = "approve-post" // admin approves a held post
	TokRejectPost  TokenKind = "reject-post"  // admin rejects a held post (author told)
	TokDiscardPost TokenKind = "discard-post" // admin drops a held post silently
)

// Token is what a token stands for.
type Token struct {
	Kind  TokenKind `json:"kind"`
	Group string    `json:"group"`
	// Addr is the address the token was mailed to (the requester, or the
	// admin it was issued to).
	Addr string `json:"addr"`
	// Item is the pending member's id or the held post's id.
	Item uint64 `json:"item,omitempty"`
	// Intro is a join request's introduction for the admins.
	Intro   string    `json:"intro,omitempty"`
	Expires time.Time `json:"expires"`
	Used    time.Time `json:"used,omitempty"`
}

// TokenState is the outcome of using a token.
type TokenState int

// Token states.
const (
	TokenValid   TokenState = iota // first use, in time: act on it
	TokenUnknown                   // never issued (or purged)
	TokenExpired
	TokenUsed
)

func tokenKey(secret string) []byte {
	sum := sha256.Sum256([]byte("listserv token\x00" + secret))
	return sum[:]
}

// PutTokens stores tokens by their secrets, in one commit.
func (db *DB) PutTokens(secrets []string, toks []Token) error {
	if len(secrets) != len(toks) {
		return fmt.Errorf("mailstore: %d secrets for %d tokens", len(secrets), len(toks))
	}
	vals := make([][]byte, len(toks))
	for i := range toks {
		v, err := json.Marshal(toks[i])
		if err != nil {
			return err
		}
		vals[i] = v
	}
	return db.update(func(tx *bolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists(bTokens)
		if err != nil {
			return err
		}
		for i, s := range secrets {
			if err := b.Put(tokenKey(s), vals[i]); err != nil {
				return err
			}
		}
		return nil
	})
}

// UseToken looks a token up and, when it is valid, marks it used in the
// same commit, so that two concurrent uses cannot both succeed.
func (db *DB) UseToken(secret string, now time.Time) (Token, TokenState, error) {
	var tok Token
	state := TokenUnknown
	err := db.update(func(tx *bolt.Tx) error {
		tok, state = Token{}, TokenUnknown
		b := tx.Bucket(bTokens)
		if b == nil {
			return nil
		}
		key := tokenKey(secret)
		v := b.Get(key)
		if v == nil {
			return nil
		}
		if err := json.Unmarshal(v, &tok); err != nil {
			return err
		}
		switch {
		case !tok.Used.IsZero():
			state = TokenUsed
			return nil
		case now.After(tok.Expires):
			state = TokenExpired
			return nil
		}
		state = TokenValid
		used := tok
		used.Used = now
		nv, err := json.Marshal(used)
		if err != nil {
			return err
		}
		return b.Put(key, nv)
	})
	return tok, state, err
}

// PurgeTokens deletes tokens that expired before cutoff (used or not).
func (db *DB) PurgeTokens(cutoff time.Time) (int, error) {
	n := 0
	err := db.update(func(tx *bolt.Tx) error {
		n = 0
		b := tx.Bucket(bTokens)
		if b == nil {
			return nil
		}
		var dead [][]byte
		err := b.ForEach(func(k, v []byte) error {
			var t Token
			if json.Unmarshal(v, &t) != nil || t.Expires.Before(cutoff) {
				dead = append(dead, clone(k))
			}
			return nil
		})
		if err != nil {
			return err
		}
		for _, k := range dead {
			if err := b.Delete(k); err != nil {
				return err
			}
		}
		n = len(dead)
		return nil
	})
	return n, err
}
