package server_test

import (
	"bufio"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"listserv/listserv/config"
)

// TestLogsNeverNameClients: connections that go wrong (a DATA transfer
// that times out, IMAP garbage and a hang-up) leave log lines, at debug
// level too, but none names the client's address. The clients dial from
// 127.0.0.2 so that their address differs from the server's own.
func TestLogsNeverNameClients(t *testing.T) {
	e := newEnv(t, setup{config: func(c *config.Config) {
		c.IMAP.Listen = "127.0.0.1:0"
		c.SMTP.DataTimeout = config.Duration{Duration: 300 * time.Millisecond}
	}})
	e.fixture()
	e.secret("127.0.0.2")
	dial := func(addr string) net.Conn {
		t.Helper()
		d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 2)}, Timeout: 5 * time.Second}
		c, err := d.Dial("tcp", addr)
		if err != nil {
			t.Skipf("cannot dial from 127.0.0.2 here: %v", err)
		}
		c.SetDeadline(time.Now().Add(10 * time.Second))
		return c
	}
	// SMTP: a DATA transfer that stalls until the data timeout.
	c := dial(e.srv.SMTPAddr())
	r := bufio.NewReader(c)
	expect := func(code string) {
		t.Helper()
		for {
			line, err := r.ReadString('\n')
			if err != nil {
				t.Fatalf("reading the reply: %v", err)
			}
			if !strings.HasPrefix(line, code) {
				t.Fatalf("reply %q, want %s", line, code)
			}
			if len(line) < 4 || line[3] != '-' {
				return
			}
		}
	}
	expect("220")
	for _, step := range [][2]string{{"EHLO client.test", "250"}, {"MAIL FROM:<alice@example.org>", "250"},
		{"RCPT TO:<" + groupAddr + ">", "250"}, {"DATA", "354"}} {
		fmt.Fprintf(c, "%s\r\n", step[0])
		expect(step[1])
	}
	fmt.Fprintf(c, "Subject: half\r\n\r\nand then nothing")
	expect("451")
	c.Close()

	// IMAP: junk, a half command, a hang-up.
	ic := dial(e.srv.IMAPAddr())
	ir := bufio.NewReader(ic)
	if _, err := ir.ReadString('\n'); err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(ic, "a1 FROBNICATE\r\nb2 LOGIN {5}\r\n")
	time.Sleep(100 * time.Millisecond)
	ic.Close()
	time.Sleep(200 * time.Millisecond)
	if !strings.Contains(e.logs.String(), "message refused") {
		t.Fatalf("the stalled DATA left no log line:\n%s", e.logs.String())
	}
	// The cleanup of newEnv fails the test if "127.0.0.2" is in the log.
}
