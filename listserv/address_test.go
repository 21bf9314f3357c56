package listserv

import "testing"

func TestParseAddress(t *testing.T) {
	const d = "lists.example.org"
	ok := map[string]Target{
		"recovery@lists.example.org":                     {Group: "recovery", Role: RolePost},
		"Recovery@LISTS.example.org":                     {Group: "recovery", Role: RolePost},
		"recovery-join@lists.example.org":                {Group: "recovery", Role: RoleJoin},
		"recovery-leave@lists.example.org":               {Group: "recovery", Role: RoleLeave},
		"recovery-request@lists.example.org":             {Group: "recovery", Role: RoleRequest},
		"recovery-owner@lists.example.org":               {Group: "recovery", Role: RoleOwner},
		"recovery-confirm+AbC123@lists.example.org":      {Group: "recovery", Role: RoleConfirm, Tag: "abc123"},
		"recovery-bounces+tok@lists.example.org":         {Group: "recovery", Role: RoleBounce, Tag: "tok"},
		"recovery+quiet-heron@lists.example.org":         {Group: "recovery", Role: RolePrivate, Tag: "quiet-heron"},
		"grief.support-uk@lists.example.org":             {Group: "grief.support-uk", Role: RolePost},
		"grief.support-uk-join@lists.example.org":        {Group: "grief.support-uk", Role: RoleJoin},
		"recovery-bounces+quiet-heron@lists.example.org": {Group: "recovery", Role: RoleBounce, Tag: "quiet-heron"},
	}
	for addr, want := range ok {
		got, good := ParseAddress(addr, d)
		if !good || got != want {
			t.Errorf("ParseAddress(%q) = %+v, %v; want %+v", addr, got, good, want)
		}
		if back := Address(want.Group, want.Role, want.Tag, d); !good || back != lower(addr) {
			t.Errorf("Address(%+v) = %q, want %q", want, back, lower(addr))
		}
	}
	bad := []string{
		"recovery@example.org", "recovery@lists.example.org.evil", "@lists.example.org",
		"recovery", "-x@lists.example.org", ".x@lists.example.org", "x.@lists.example.org",
		"re covery@lists.example.org", "recovery+@lists.example.org", "recovery+a+b@lists.example.org",
		"recovery+a_b@lists.example.org", "recovery-confirm@lists.example.org",
		"a..b@lists.example.org", "recovery+ä@lists.example.org", "recovery\r\n@lists.example.org",
	}
	for _, addr := range bad {
		if got, good := ParseAddress(addr, d); good {
			t.Errorf("ParseAddress(%q) = %+v, want refusal", addr, got)
		}
	}
}

func lower(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c >= 'A' && c <= 'Z' {
			b[i] = c + 32
		}
	}
	return string(b)
}

func TestValidGroupName(t *testing.T) {
	for _, n := range []string{"recovery", "a", "grief.uk", "x-1", "0day"} {
		if !ValidGroupName(n) {
			t.Errorf("%q refused", n)
		}
	}
	for _, n := range []string{"", "A", "x-join", "x-owner", "x-bounces", "x-", "x.", ".x", "-x", "a..b", "a/b", "a b", "ä"} {
		if ValidGroupName(n) {
			t.Errorf("%q accepted", n)
		}
	}
}

func FuzzParseAddress(f *testing.F) {
	for _, s := range []string{"recovery@l.test", "recovery-confirm+abc@l.test", "x+y@l.test", "a-join@L.TEST", "@", "+@l.test"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, addr string) {
		tg, ok := ParseAddress(addr, "l.test")
		if !ok {
			return
		}
		if !ValidGroupName(tg.Group) {
			t.Fatalf("%q gave invalid group %q", addr, tg.Group)
		}
		// What we accept writes back to the same (lower-cased) address.
		back := Address(tg.Group, tg.Role, tg.Tag, "l.test")
		again, ok := ParseAddress(back, "l.test")
		if !ok || again != tg {
			t.Fatalf("%q → %+v → %q → %+v", addr, tg, back, again)
		}
	})
}
