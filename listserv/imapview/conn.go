package imapview

import (
	"net"
	"sync"
	"time"
)

// bufConn coalesces a connection's writes. imapserver flushes its writer
// at the end of every response line, so FETCH 1:* on a large mailbox cost
// one write system call per message — a third of its time. bufConn keeps
// what is written until the server next reads (it has answered and waits
// for the client), until flushDelay has passed (unsolicited responses
// during IDLE), until flushSize bytes are pending, or until Close.
type bufConn struct {
	net.Conn

	mu      sync.Mutex
	buf     []byte
	timer   *time.Timer
	err     error // a failed flush: every later write fails with it
	flushTO time.Duration
}

const (
	flushDelay = 2 * time.Millisecond
	flushSize  = 64 << 10
	// flushTimeout bounds a delayed flush to a client that stops reading.
	flushTimeout = 5 * time.Minute
)

func newBufConn(c net.Conn) *bufConn {
	return &bufConn{Conn: c, flushTO: flushTimeout}
}

// Write keeps p for a later flush.
func (c *bufConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err != nil {
		return 0, c.err
	}
	c.buf = append(c.buf, p...)
	if len(c.buf) >= flushSize {
		if err := c.flushLocked(); err != nil {
			return 0, err
		}
		return len(p), nil
	}
	if c.timer == nil {
		c.timer = time.AfterFunc(flushDelay, c.flush)
	}
	return len(p), nil
}

// Read sends what is pending, then reads.
func (c *bufConn) Read(p []byte) (int, error) {
	c.flush()
	return c.Conn.Read(p)
}

// Close sends what is pending, then closes.
func (c *bufConn) Close() error {
	c.mu.Lock()
	if len(c.buf) > 0 && c.err == nil {
		c.Conn.SetWriteDeadline(time.Now().Add(time.Second))
		c.flushLocked()
	}
	c.mu.Unlock()
	return c.Conn.Close()
}

func (c *bufConn) flush() {
	c.mu.Lock()
	c.flushLocked()
	c.mu.Unlock()
}

func (c *bufConn) flushLocked() error {
	if c.timer != nil {
		c.timer.Stop()
		c.timer = nil
	}
	if len(c.buf) == 0 || c.err != nil {
		return c.err
	}
	c.Conn.SetWriteDeadline(time.Now().Add(c.flushTO))
	_, err := c.Conn.Write(c.buf)
	c.Conn.SetWriteDeadline(time.Time{})
	if cap(c.buf) > 4*flushSize {
		c.buf = nil
	} else {
		c.buf = c.buf[:0]
	}
	if err != nil {
		c.err = err
	}
	return err
}
