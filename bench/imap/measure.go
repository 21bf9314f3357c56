package main

import (
	"bufio"
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// rawClient speaks IMAP over a bare connection and only finds where each
// response ends (skipping literals): it measures the server.
type rawClient struct {
	conn net.Conn
	r    *bufio.Reader
	tag  int
}

func dialRaw(addr string) (*rawClient, error) {
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		return nil, err
	}
	c := &rawClient{conn: conn, r: bufio.NewReaderSize(conn, 1<<16)}
	if _, err := c.r.ReadString('\n'); err != nil {
		return nil, err
	}
	return c, nil
}

// cmd sends one command and reads its response through the tagged OK.
func (c *rawClient) cmd(line string) error {
	c.tag++
	tag := fmt.Sprintf("t%d", c.tag)
	if _, err := fmt.Fprintf(c.conn, "%s %s\r\n", tag, line); err != nil {
		return err
	}
	c.conn.SetReadDeadline(time.Now().Add(5 * time.Minute))
	prefix := []byte(tag + " ")
	for {
		l, err := c.r.ReadSlice('\n')
		if err == bufio.ErrBufferFull {
			continue
		}
		if err != nil {
			return err
		}
		if bytes.HasPrefix(l, prefix) {
			if !bytes.HasPrefix(l[len(prefix):], []byte("OK")) {
				return fmt.Errorf("%s: %s", line, l)
			}
			return nil
		}
		trimmed := bytes.TrimRight(l, "\r\n")
		if i := bytes.LastIndexByte(trimmed, '{'); i >= 0 && bytes.HasSuffix(trimmed, []byte("}")) {
			var size int
			fmt.Sscanf(string(trimmed[i+1:]), "%d", &size)
			if _, err := c.r.Discard(size); err != nil {
				return err
			}
		}
	}
}

// sessions are the logged-in connections kept open during the run (and
// while memory is read).
var sessions = map[*server]*rawClient{}

func session(a *archive, s *server) (*rawClient, error) {
	if c := sessions[s]; c != nil {
		return c, nil
	}
	c, err := dialRaw(s.addr)
	if err != nil {
		return nil, err
	}
	// Warm-up: a server indexes or loads a mailbox on first use.
	for _, l := range []string{fmt.Sprintf("LOGIN %s %q", reader, a.pass), "SELECT INBOX", "SELECT " + mailbox(s),
		"UID FETCH 1:* (FLAGS ENVELOPE)", "UID SEARCH TEXT warmup"} {
		if err := c.cmd(l); err != nil {
			return nil, err
		}
	}
	sessions[s] = c
	return c, nil
}

// mailbox is where each server holds the archive.
func mailbox(s *server) string {
	if s.name == "dovecot" {
		return "INBOX"
	}
	return group
}

// commandTime times one command on the kept session.
func commandTime(line string) func(*archive, *server) (time.Duration, error) {
	return func(a *archive, s *server) (time.Duration, error) {
		c, err := session(a, s)
		if err != nil {
			return 0, err
		}
		start := time.Now()
		err = c.cmd(line)
		return time.Since(start), err
	}
}

// mbsyncTime times mbsync pulling the whole archive into an empty
// Maildir, and checks the message count.
func mbsyncTime(a *archive, s *server) (time.Duration, error) {
	if _, err := session(a, s); err != nil { // same warm state as the commands
		return 0, err
	}
	// On tmpfs when there is one: the download, not the disk, is compared.
	base := ""
	if st, err := os.Stat("/dev/shm"); err == nil && st.IsDir() {
		base = "/dev/shm"
	}
	dir, err := os.MkdirTemp(base, "mbsync")
	if err != nil {
		return 0, err
	}
	defer os.RemoveAll(dir)
	host, port, _ := net.SplitHostPort(s.addr)
	// FSync no: the download, not the disk, is what is compared.
	conf := fmt.Sprintf(`FSync no

IMAPAccount a
Host %s
Port %s
User %s
Pass %s
SSLType None
AuthMechs LOGIN

IMAPStore remote
Account a

MaildirStore local
Path %s/
Inbox %s/inbox

Channel c
Far :remote:%s
Near :local:archive
Create Near
Sync Pull
SyncState *
`, host, port, reader, a.pass, dir, dir, mailbox(s))
	rc := filepath.Join(dir, "rc")
	if err := os.WriteFile(rc, []byte(conf), 0o600); err != nil {
		return 0, err
	}
	cmd := exec.Command("mbsync", "-q", "-c", rc, "-a")
	cmd.Env = append(os.Environ(), "HOME="+dir)
	start := time.Now()
	out, err := cmd.CombinedOutput()
	d := time.Since(start)
	if err != nil {
		return 0, fmt.Errorf("mbsync: %v: %s", err, out)
	}
	files, _ := filepath.Glob(filepath.Join(dir, "archive", "cur", "*"))
	more, _ := filepath.Glob(filepath.Join(dir, "archive", "new", "*"))
	if got := len(files) + len(more); got != a.n {
		return 0, fmt.Errorf("mbsync stored %d messages, want %d (%s)", got, a.n, strings.TrimSpace(string(out)))
	}
	return d, nil
}
