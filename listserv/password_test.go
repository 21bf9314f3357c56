package listserv

import (
	"strings"
	"testing"

	"listserv/mailstore"
)

func TestPasswords(t *testing.T) {
	db, err := mailstore.Open(t.TempDir(), mailstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	s, err := New(Options{Store: db, PasswordCost: 4})
	if err != nil {
		t.Fatal(err)
	}
	if ok, err := s.CheckPassword("a@example.org", ""); ok || err != nil {
		t.Fatalf("no account: ok=%v err=%v", ok, err)
	}
	p1, err := s.ResetPassword("A@example.org")
	if err != nil {
		t.Fatal(err)
	}
	if len(p1) != passwordLen || strings.Trim(p1, passwordAlphabet) != "" {
		t.Fatalf("password %q", p1)
	}
	if a, _ := db.Account("a@example.org"); strings.Contains(a.PassHash, p1) || a.PassHash == "" {
		t.Fatal("the store holds the password, not a hash")
	}
	if ok, _ := s.CheckPassword("a@EXAMPLE.org", p1); !ok {
		t.Fatal("the new password does not work")
	}
	p2, _ := s.ResetPassword("a@example.org")
	if ok, _ := s.CheckPassword("a@example.org", p1); ok || p1 == p2 {
		t.Fatal("the old password still works after a reset")
	}
	if ok, _ := s.CheckPassword("a@example.org", p2); !ok {
		t.Fatal("the second password does not work")
	}
	if ok, _ := s.CheckPassword("b@example.org", p2); ok {
		t.Fatal("a password works for another address")
	}
}
