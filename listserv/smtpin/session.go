package smtpin

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"sync"

	"github.com/emersion/go-smtp"

	"listserv/listserv"
)

// session is one SMTP connection's state. go-smtp runs Data for BDAT in
// a goroutine of its own, which a RSET or the connection's end can race
// with: mu guards the transaction fields.
type session struct {
	srv     *Server
	ip      net.IP
	id      string
	mu      sync.Mutex
	from    string
	hasFrom bool
	target  *listserv.Target
	rcpts   []lmtpRcpt // LMTP: every accepted RCPT, in order (lmtp.go)
	tls     bool       // the connection is encrypted
	user    string     // the authenticated address (submission); never logged

	c       *smtp.Conn
	conn    *connState // failures counted across the connection's sessions
	wrapped bool       // conn belongs to a limitedConn (else: not closable by refused)
}

func (s *session) Reset() {
	s.mu.Lock()
	s.from, s.hasFrom, s.target, s.rcpts = "", false, nil, nil
	s.mu.Unlock()
}

func (s *session) Logout() error { return nil }

func (s *session) Mail(from string, opts *smtp.MailOptions) error {
	s.mu.Lock()
	if s.srv.opts.Submission && s.user == "" {
		s.mu.Unlock()
		return s.refused("MAIL", errAuthRequired)
	}
	s.from, s.hasFrom, s.target, s.rcpts = from, true, nil, nil
	s.mu.Unlock()
	return nil
}

// Rcpt checks to against the service. A refusal is counted against the
// connection (refused), and slowed after the third: s.mu is not held
// meanwhile.
func (s *session) Rcpt(to string, opts *smtp.RcptOptions) error {
	if err := s.rcpt(to); err != nil {
		return s.refused("RCPT", err)
	}
	return nil
}

func (s *session) rcpt(to string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.target != nil && !s.srv.opts.LMTP {
		return s.srv.answer("rcpt", &listserv.Error{Kind: listserv.TooManyRecipients, Public: "one group address per message, please send again for the others"})
	}
	t, err := s.srv.svc.Resolve(context.Background(), to)
	if err != nil {
		s.srv.log.Debug("recipient refused", "conn", s.id, "err", err)
		return s.srv.answer("rcpt", err)
	}
	s.target = &t
	if s.srv.opts.LMTP {
		s.rcpts = append(s.rcpts, lmtpRcpt{to: to, target: t})
	}
	return nil
}

func (s *session) Data(r io.Reader) error {
	if err := s.data(r); err != nil {
		return s.refused("DATA", err)
	}
	return nil
}

func (s *session) data(r io.Reader) error {
	s.mu.Lock()
	env := &listserv.Envelope{MailFrom: s.from, RemoteIP: s.ip, AuthUser: s.user, ConnID: s.id}
	target := s.target
	s.mu.Unlock()
	if target == nil { // a BDAT transfer reset before its Data began
		return errNoTransaction
	}
	env.Target = *target
	raw, err := readData(r)
	if err != nil {
		refusal := dataReply(err)
		// Not err itself: a network error names the client's address.
		s.srv.log.Info("message refused", "conn", s.id, "reason", "data", "reply", refusal.Error())
		return refusal
	}
	return s.srv.answer("data", s.srv.svc.Receive(context.Background(), env, raw))
}

var errNoTransaction = &smtp.SMTPError{Code: 503, EnhancedCode: smtp.EnhancedCode{5, 5, 1}, Message: "no transaction in progress"}

// readData reads the whole DATA body and normalizes line endings.
func readData(r io.Reader) ([]byte, error) {
	var buf bytes.Buffer
	if _, err := buf.ReadFrom(r); err != nil {
		return nil, err
	}
	return NormalizeCRLF(buf.Bytes()), nil
}

// dataReply maps an error while reading DATA.
func dataReply(err error) error {
	var se *smtp.SMTPError
	switch {
	case errors.As(err, &se):
		return se // ErrDataTooLarge: 552 5.3.4
	case errors.Is(err, smtp.ErrTooLongLine):
		return &smtp.SMTPError{Code: 554, EnhancedCode: smtp.EnhancedCode{5, 6, 0}, Message: "a line is over 64 KiB; message refused"}
	default:
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			return &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 4, 2}, Message: "timeout reading the message, please try again"}
		}
		return &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "error reading the message, please try again"}
	}
}

// answer is reply for a refusal at stage ("rcpt", "data"), counted
// through Options.OnRefused.
func (srv *Server) answer(stage string, err error) error {
	r := reply(err)
	if r != nil && srv.opts.OnRefused != nil {
		kind := listserv.Unavailable
		if le := (*listserv.Error)(nil); errors.As(err, &le) {
			kind = le.Kind
		}
		srv.opts.OnRefused(stage, kind.String())
	}
	return r
}

// reply is the one place where the service's errors become SMTP replies.
// go-smtp needs an unwrapped *smtp.SMTPError (it type-asserts); anything
// untyped is a temporary failure, its detail kept for the log.
func reply(err error) error {
	if err == nil {
		return nil
	}
	var le *listserv.Error
	if !errors.As(err, &le) {
		le = &listserv.Error{Kind: listserv.Unavailable, Public: "temporary local problem, please try again later", Err: err}
	}
	code, enh := 451, smtp.EnhancedCode{4, 3, 0}
	switch le.Kind {
	case listserv.NoSuchRecipient:
		code, enh = 550, smtp.EnhancedCode{5, 1, 1}
	case listserv.NotAllowed:
		code, enh = 550, smtp.EnhancedCode{5, 7, 1}
	case listserv.Malformed:
		code, enh = 554, smtp.EnhancedCode{5, 6, 0}
	case listserv.TooLarge:
		code, enh = 552, smtp.EnhancedCode{5, 3, 4}
	case listserv.RateLimited:
		code, enh = 451, smtp.EnhancedCode{4, 7, 1}
	case listserv.TooManyRecipients:
		code, enh = 452, smtp.EnhancedCode{4, 5, 3}
	}
	return &smtp.SMTPError{Code: code, EnhancedCode: enh, Message: le.Public}
}

// NormalizeCRLF turns bare LF and bare CR into CRLF, so that what we
// store and relay has one line ending and no hidden line breaks.
func NormalizeCRLF(b []byte) []byte {
	bare := false
	for i, c := range b {
		if c == '\n' && (i == 0 || b[i-1] != '\r') || c == '\r' && (i+1 == len(b) || b[i+1] != '\n') {
			bare = true
			break
		}
	}
	if !bare {
		return b
	}
	out := make([]byte, 0, len(b)+len(b)/32)
	for i := 0; i < len(b); i++ {
		switch c := b[i]; c {
		case '\r':
			out = append(out, '\r', '\n')
			if i+1 < len(b) && b[i+1] == '\n' {
				i++
			}
		case '\n':
			out = append(out, '\r', '\n')
		default:
			out = append(out, c)
		}
	}
	return out
}
