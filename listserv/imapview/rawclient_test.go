package imapview_test

import (
	"bufio"
	"bytes"
	"fmt"
	"net"
	"testing"
	"time"
)

// rawClient speaks IMAP over a bare connection and only finds where each
// command's response ends: it measures the server, not a client library.
type rawClient struct {
	conn net.Conn
	r    *bufio.Reader
	tag  int
}

func dialRaw(tb testing.TB, addr string) *rawClient {
	tb.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { conn.Close() })
	c := &rawClient{conn: conn, r: bufio.NewReaderSize(conn, 1<<16)}
	if _, err := c.r.ReadString('\n'); err != nil {
		tb.Fatal(err)
	}
	return c
}

// cmd sends one command and reads its whole response, returning its size.
func (c *rawClient) cmd(line string) (int, error) {
	c.tag++
	tag := fmt.Sprintf("t%d", c.tag)
	if _, err := fmt.Fprintf(c.conn, "%s %s\r\n", tag, line); err != nil {
		return 0, err
	}
	c.conn.SetReadDeadline(time.Now().Add(time.Minute))
	prefix := []byte(tag + " ")
	n := 0
	for {
		l, err := c.r.ReadSlice('\n')
		if err == bufio.ErrBufferFull {
			n += len(l)
			continue
		}
		if err != nil {
			return n, err
		}
		n += len(l)
		if bytes.HasPrefix(l, prefix) {
			if !bytes.HasPrefix(l[len(prefix):], []byte("OK")) {
				return n, fmt.Errorf("%s: %s", line, l)
			}
			return n, nil
		}
		// A literal {n}: skip its bytes.
		if i := bytes.LastIndexByte(bytes.TrimRight(l, "\r\n"), '{'); i >= 0 && bytes.HasSuffix(bytes.TrimRight(l, "\r\n"), []byte("}")) {
			var size int
			fmt.Sscanf(string(l[i+1:]), "%d", &size)
			if _, err := c.r.Discard(size); err != nil {
				return n, err
			}
			n += size
		}
	}
}
