package mailstore

import (
	"encoding/json"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Account is what a person has across groups: the one archive password
// their IMAP login uses. It is keyed by the lower-cased address; the hash
// is the service's (a slow password hash), never the password.
type Account struct {
	PassHash string    `json:"pass_hash,omitempty"`
	Updated  time.Time `json:"updated"`
}

var bAccounts = []byte("accounts")

// SetPassword stores a new password hash for addr.
func (db *DB) SetPassword(addr, hash string) error {
	val, err := json.Marshal(Account{PassHash: hash, Updated: time.Now().UTC()})
	if err != nil {
		return err
	}
	return db.update(func(tx *bolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists(bAccounts)
		if err != nil {
			return err
		}
		return b.Put([]byte(NormAddr(addr)), val)
	})
}

// Account returns addr's account, or ErrNotFound.
func (db *DB) Account(addr string) (Account, error) {
	var a Account
	err := db.bolt.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(bAccounts)
		var v []byte
		if b != nil {
			v = b.Get([]byte(NormAddr(addr)))
		}
		if v == nil {
			return fmt.Errorf("account: %w", ErrNotFound)
		}
		return json.Unmarshal(v, &a)
	})
	return a, err
}

// Memberships returns addr's current (non-removed) memberships, by group
// name.
func (db *DB) Memberships(addr string) (map[string]Member, error) {
	out := map[string]Member{}
	err := db.bolt.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bGroups).ForEach(func(name, _ []byte) error {
			gb, err := groupBucket(tx, string(name))
			if err != nil {
				return err
			}
			m, err := memberByAddr(gb, addr)
			if err == nil {
				out[string(name)] = m
			}
			return nil
		})
	})
	return out, err
}
