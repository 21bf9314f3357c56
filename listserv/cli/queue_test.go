package cli

import (
	"testing"
	"time"
)

func TestErrorCode(t *testing.T) {
	const rcpt = "jo.doe@home.example"
	for in, want := range map[string]string{
		"":                                       "-",
		"451 4.7.1 greylisted, try later":        "451 4.7.1",
		"550 no such user <jo.doe@home.example>": "550",
		"5.1.10 the recipient's domain publishes a null MX: it accepts no mail": "5.1.10",
		"4.4.1 no exchanger accepted a connection (2 tried): dial tcp ...":      "4.4.1",
		"SMTP error 451: try again later":                                       "451", // recorded before codes came first
		"dial tcp home.example:25: connection refused for jo.doe":               "dial tcp <recipient>:25: connection refused for <recipient>",
	} {
		if got := errorCode(in, rcpt); got != want {
			t.Errorf("errorCode(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestAge(t *testing.T) {
	for d, want := range map[time.Duration]string{
		-time.Second:                 "0s",
		42 * time.Second:             "42s",
		12*time.Minute + time.Second: "12m",
		3*time.Hour + 5*time.Minute:  "3h05m",
		50 * time.Hour:               "2d02h",
	} {
		if got := age(d); got != want {
			t.Errorf("age(%v) = %q, want %q", d, got, want)
		}
	}
}
