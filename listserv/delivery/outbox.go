package delivery

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Outbox is the development transport: each recipient's mail lands in a
// Maildir, <Dir>/<recipient address>/new/, with a Return-Path header
// holding the envelope sender, as a final delivery would write it. A file
// is fsynced and renamed into new/ before Send returns.
type Outbox struct {
	Dir string
}

// Dial implements Transport.
func (o *Outbox) Dial(ctx context.Context) (Conn, error) { return outboxConn{o}, nil }

type outboxConn struct{ o *Outbox }

func (c outboxConn) Reset() error { return nil }
func (c outboxConn) Close() error { return nil }

// Send writes one Maildir file.
func (c outboxConn) Send(ctx context.Context, from, to string, msg []byte) error {
	box, err := c.o.mailbox(to)
	if err != nil {
		return err
	}
	for _, sub := range []string{"tmp", "new", "cur"} {
		if err := os.MkdirAll(filepath.Join(box, sub), 0o700); err != nil {
			return err
		}
	}
	name := uniqueName()
	tmp := filepath.Join(box, "tmp", name)
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	_, werr := fmt.Fprintf(f, "Return-Path: <%s>\r\n", from)
	if werr == nil {
		_, werr = f.Write(msg)
	}
	if werr == nil {
		werr = f.Sync()
	}
	if cerr := f.Close(); werr == nil {
		werr = cerr
	}
	if werr != nil {
		os.Remove(tmp)
		return werr
	}
	if err := os.Rename(tmp, filepath.Join(box, "new", name)); err != nil {
		return err
	}
	return syncDir(filepath.Join(box, "new"))
}

// mailbox is the recipient's Maildir path. Member addresses are checked
// when added; this refuses anything that could still escape Dir.
func (o *Outbox) mailbox(to string) (string, error) {
	name := strings.ToLower(to)
	if name == "" || name == "." || name == ".." || strings.ContainsAny(name, "/\\\x00") {
		return "", permanentError("recipient cannot name a mailbox")
	}
	return filepath.Join(o.Dir, name), nil
}

func uniqueName() string {
	b := make([]byte, 8)
	rand.Read(b)
	return fmt.Sprintf("%d.%s.listserv", time.Now().UnixNano(), hex.EncodeToString(b))
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}

// permanentError is an error that is never retried.
type permanentError string

func (e permanentError) Error() string   { return string(e) }
func (e permanentError) Temporary() bool { return false }
