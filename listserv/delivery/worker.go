package delivery

import (
	"context"
	"errors"
	"fmt"
	"net"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/emersion/go-smtp"

	"listserv/mailstore"
)

// Transport opens connections that deliver messages.
type Transport interface {
	// Dial opens a connection; a worker keeps it for many messages.
	Dial(ctx context.Context) (Conn, error)
}

// Conn sends messages one transaction at a time.
type Conn interface {
	// Send delivers msg from the envelope sender to one recipient. An
	// error that has a Temporary() bool method reporting false is
	// permanent (a 5xx reply); any other error is retried.
	Send(ctx context.Context, from, to string, msg []byte) error
	// Reset readies the connection after a failed Send; an error means it
	// is no longer usable.
	Reset() error
	Close() error
}

// Permanent reports whether err means "never retry". A network or DNS
// error (a net.Error) is never permanent, whatever its Temporary says: a
// broken pipe or a refused connection is no verdict on the message.
func Permanent(err error) bool {
	var t interface{ Temporary() bool }
	if !errors.As(err, &t) {
		return false
	}
	if _, isNet := t.(net.Error); isNet {
		return false
	}
	return !t.Temporary()
}

// selfRedialer is a Conn that handles its own broken connections (the
// mx transport's pool): after a failed Send the worker neither closes it
// nor retries the Send over a new one.
type selfRedialer interface{ redialsItself() }

// describe is the text recorded as a job's last error: a reply as
// "451 4.3.0 text" (the codes first, as `queue list` shows them), any
// other error as it reads.
func describe(err error) string {
	if se, ok := err.(*smtp.SMTPError); ok {
		s := strconv.Itoa(se.Code)
		if se.EnhancedCode != (smtp.EnhancedCode{}) && se.EnhancedCode != smtp.NoEnhancedCode {
			s += fmt.Sprintf(" %d.%d.%d", se.EnhancedCode[0], se.EnhancedCode[1], se.EnhancedCode[2])
		}
		if se.Message != "" {
			s += " " + strings.ReplaceAll(se.Message, "\n", " ")
		}
		return s
	}
	return err.Error()
}

// maxIdle is how long a worker keeps an unused connection: servers close
// idle clients (Postfix after 300 s), and a dead connection found at the
// next message would cost that message a retry.
const maxIdle = 30 * time.Second

// workerConn is a worker's connection and when it was last used.
type workerConn struct {
	c        Conn
	lastUsed time.Time
}

// worker sends jobs over one connection, dialing it when needed. It stops
// taking jobs when ctx ends: the ones it never started stay queued in the
// store for the next run.
func (q *Queue) worker(ctx context.Context) {
	var wc workerConn
	defer func() {
		if wc.c != nil {
			wc.c.Close()
		}
	}()
	for {
		select {
		case <-ctx.Done():
			return
		case j, ok := <-q.jobs:
			if !ok {
				return
			}
			q.results <- q.attempt(ctx, &wc, j)
		}
	}
}

// attempt makes one delivery attempt and says what became of it. A
// connection kept from earlier messages may have been closed by the
// server meanwhile: when sending over a reused connection fails with
// anything but a permanent reply, the attempt redials once and tries
// again before it counts as a failure.
func (q *Queue) attempt(ctx context.Context, wc *workerConn, j mailstore.Job) mailstore.Result {
	msg, err := q.cache.get(q.store, j.Ref)
	if err != nil {
		if errors.Is(err, mailstore.ErrNotFound) {
			// The post was erased before it was sent: nothing to deliver.
			q.log.Info("delivery dropped: message gone", "job", j.ID, "group", j.Ref.Group)
			return mailstore.Result{Job: j, Outcome: mailstore.Failed, Err: "message no longer in the store"}
		}
		return q.retry(j, err)
	}
	from := q.verp.address(j.Ref.Group, j.MemberID, j.ID)
	if wc.c != nil && time.Since(wc.lastUsed) > maxIdle {
		wc.c.Close()
		wc.c = nil
	}
	for try := 0; ; try++ {
		reused := wc.c != nil
		if !reused {
			c, err := q.opts.Transport.Dial(ctx)
			if err != nil {
				return q.retry(j, err)
			}
			wc.c = c
		}
		err = wc.c.Send(ctx, from, j.Rcpt, msg)
		wc.lastUsed = time.Now()
		if err == nil {
			return mailstore.Result{Job: j, Outcome: mailstore.Delivered}
		}
		stale := staleConn(err)
		if _, ok := wc.c.(selfRedialer); ok {
			stale = false
		}
		if rerr := wc.c.Reset(); rerr != nil || stale {
			wc.c.Close()
			wc.c = nil
		}
		if Permanent(err) {
			q.log.Warn("delivery failed for good", "job", j.ID, "group", j.Ref.Group, "member", j.MemberID, "err", logSafe(err, j.Rcpt))
			return mailstore.Result{Job: j, Outcome: mailstore.Failed, Err: describe(err)}
		}
		if !reused || try > 0 || !stale {
			return q.retry(j, err)
		}
	}
}

// staleConn reports whether err means the connection is gone: a 421
// ("closing connection") or an error that is no SMTP reply at all.
func staleConn(err error) bool {
	var se *smtp.SMTPError
	if errors.As(err, &se) {
		return se.Code == 421
	}
	return true
}

// retry schedules the next attempt, or gives up when the job is too old.
func (q *Queue) retry(j mailstore.Job, err error) mailstore.Result {
	now := time.Now()
	if now.Sub(j.Created) >= q.opts.GiveUpAfter {
		q.log.Warn("delivery given up after retries", "job", j.ID, "group", j.Ref.Group, "member", j.MemberID, "attempts", j.Attempts+1, "err", logSafe(err, j.Rcpt))
		return mailstore.Result{Job: j, Outcome: mailstore.Failed, Err: describe(err)}
	}
	delay := q.opts.RetryInitial
	for i := 0; i < j.Attempts && delay < q.opts.RetryMax; i++ {
		delay *= 2
	}
	delay = min(delay, q.opts.RetryMax)
	q.log.Info("delivery deferred", "job", j.ID, "group", j.Ref.Group, "member", j.MemberID, "attempt", j.Attempts+1, "retry_in", delay, "err", logSafe(err, j.Rcpt))
	return mailstore.Result{Job: j, Outcome: mailstore.Retry, RetryAt: now.Add(delay), Err: describe(err)}
}

// logSafe renders a delivery error for the log. A remote reply often
// quotes the recipient's address ("550 <x@y>: no such user"), so an SMTP
// reply is logged by its codes alone, an error of the mx transport by
// its codes and the kind of its cause (never a host or IP address), and
// any other text has the address and its local part cut out.
func logSafe(err error, rcpt string) string {
	var own interface{ logText() string }
	if errors.As(err, &own) {
		return own.logText()
	}
	var se *smtp.SMTPError
	if errors.As(err, &se) {
		return fmt.Sprintf("remote replied %d %d.%d.%d", se.Code, se.EnhancedCode[0], se.EnhancedCode[1], se.EnhancedCode[2])
	}
	s := err.Error()
	if rcpt == "" {
		return s
	}
	local, _, _ := strings.Cut(rcpt, "@")
	for _, secret := range []string{rcpt, local} {
		if len(secret) < 2 {
			continue
		}
		re := regexp.MustCompile("(?i)" + regexp.QuoteMeta(secret))
		s = re.ReplaceAllString(s, "<recipient>")
	}
	return s
}

// msgCache keeps recently sent messages in memory: one post goes to every
// member, so its bytes are read from the store once, not once per member.
type msgCache struct {
	mu    sync.Mutex
	max   int
	items map[mailstore.MsgRef][]byte
	order []mailstore.MsgRef
}

func newMsgCache(n int) *msgCache {
	return &msgCache{max: n, items: make(map[mailstore.MsgRef][]byte)}
}

func (c *msgCache) get(db *mailstore.DB, ref mailstore.MsgRef) ([]byte, error) {
	c.mu.Lock()
	b, ok := c.items[ref]
	c.mu.Unlock()
	if ok {
		return b, nil
	}
	b, err := db.Message(ref)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	if _, ok := c.items[ref]; !ok {
		if len(c.order) >= c.max {
			delete(c.items, c.order[0])
			c.order = c.order[1:]
		}
		c.items[ref] = b
		c.order = append(c.order, ref)
	}
	c.mu.Unlock()
	return b, nil
}
