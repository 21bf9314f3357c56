package anon

import "testing"

func TestListID(t *testing.T) {
	if got := ListID("recovery", "Lists.Example.ORG"); got != "<recovery.lists.example.org>" {
		t.Errorf("ListID = %q", got)
	}
}

func TestRobot(t *testing.T) {
	const id = "<recovery.lists.example.org>"
	tests := []struct {
		header string
		want   string
	}{
		{"Subject: hi\r\n", ""},
		{"List-Id: <recovery.lists.example.org>\r\n", RobotLoop},
		{"List-ID: Recovery group <Recovery.Lists.Example.ORG>\r\n", RobotLoop},
		{"List-Id: recovery.lists.example.org\r\n", RobotLoop},
		{"List-Id: <other.lists.example.org>\r\n", ""},
		{"List-Id: <recovery.lists.example.org.evil.example>\r\n", ""},
		{"Auto-Submitted: auto-replied\r\n", RobotAutoSubmitted},
		{"Auto-Submitted: Auto-Generated; owner-email=\"x@y\"\r\n", RobotAutoSubmitted},
		{"auto-submitted: auto-notified (vacation)\r\n", RobotAutoSubmitted},
		{"Auto-Submitted: no\r\n", ""},
		{"Auto-Submitted: No (a human wrote this)\r\n", ""},
		{"Auto-Submitted: (only a comment)\r\n", ""},
		{"Auto-Submitted: no\r\nAuto-Submitted: auto-replied\r\n", RobotAutoSubmitted},
		{"Precedence: bulk\r\n", RobotPrecedence},
		{"Precedence: JUNK\r\n", RobotPrecedence},
		{"Precedence: list (mailing list)\r\n", RobotPrecedence},
		{"Precedence: first-class\r\n", ""},
		{"Precedence: bulky\r\n", ""},
		{"X-Autoreply: yes\r\n", RobotAutoreply},
		{"x-autoreply:\r\n", RobotAutoreply},
		{"X-Autorespond: Out of office\r\n", RobotAutorespond},
		{"X-Auto-Response-Suppress: All\r\n", ""},
	}
	for _, tt := range tests {
		m, err := Parse([]byte("From: a@b.example\r\n" + tt.header + "\r\nbody\r\n"))
		if err != nil {
			t.Fatalf("%q: %v", tt.header, err)
		}
		if got := m.Robot(id); got != tt.want {
			t.Errorf("%q: Robot = %q, want %q", tt.header, got, tt.want)
		}
	}

	m, _ := Parse([]byte("List-Id: <recovery.lists.example.org>\r\n\r\n"))
	if got := m.Robot(""); got != "" {
		t.Errorf("empty listID must skip the loop check, got %q", got)
	}
	if got := m.Robot("recovery.lists.example.org"); got != RobotLoop {
		t.Errorf("listID without brackets: %q", got)
	}
	if got := (*Message)(nil).Robot(id); got != "" {
		t.Errorf("nil message: %q", got)
	}
}
