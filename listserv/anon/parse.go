package anon

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"net/mail"
	"strings"

	"github.com/emersion/go-message/textproto"
)

// MaxHeaderBytes caps the header section of an incoming message, blank
// line included. A bigger header makes [Parse] fail with [ErrMalformed].
const MaxHeaderBytes = 64 << 10

// ErrMalformed is wrapped by every error that [Parse] returns, and by the
// errors of [Anonymize] that the message itself causes: the sender should
// get a permanent failure (554). The wrapping error says what was wrong in
// words that never quote the message.
var ErrMalformed = errors.New("anon: malformed message")

// Address is one mailbox.
type Address struct {
	// Addr is local@domain; the domain is lower-cased, the local part is
	// kept as written.
	Addr string
	// Name is the display name, RFC 2047 decoded into UTF-8 (a raw byte
	// that is not UTF-8 is read as windows-1252); "" when there is none.
	Name string
}

// Message is an incoming message parsed once. Body aliases the bytes given
// to [Parse]: do not change them while the Message is in use.
type Message struct {
	// Header is the original header, field order and bytes as received.
	Header textproto.Header
	// Body is the raw bytes after the blank line that ends the header.
	Body []byte
	// From is the first mailbox of the first From field; zero when the
	// field is missing or cannot be parsed.
	From Address
	// MessageID is the first msg-id of the Message-ID field without its
	// angle brackets; "" when absent or invalid.
	MessageID string
}

// Reason returns what an error wrapping ErrMalformed says was wrong, in
// the words of this package, which quote nothing from the message: fit
// for the sender's reply. It is "" for any other error.
func Reason(err error) string {
	if !errors.Is(err, ErrMalformed) {
		return ""
	}
	prefix := ErrMalformed.Error() + ": "
	s := err.Error()
	if i := strings.Index(s, prefix); i >= 0 {
		return s[i+len(prefix):]
	}
	return ""
}

// malformed wraps ErrMalformed with a reason that quotes nothing from the
// message.
func malformed(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrMalformed}, args...)...)
}

// Parse reads raw, a whole message whose lines already end in CRLF. It
// fails with an error wrapping [ErrMalformed] when the message contains a
// NUL byte, a bare CR or LF, no blank line after the header, a header over
// [MaxHeaderBytes], or a header line that is not a field. A missing or
// unparseable From is not an error: Message.From is zero and the caller
// decides.
func Parse(raw []byte) (*Message, error) {
	if i := bytes.IndexByte(raw, 0); i >= 0 {
		return nil, malformed("NUL byte at offset %d", i)
	}
	if i := bareEOL(raw); i >= 0 {
		return nil, malformed("bare CR or LF at offset %d (lines must end in CRLF)", i)
	}
	end, err := headerEnd(raw)
	if err != nil {
		return nil, err
	}
	h, err := textproto.ReadHeader(bufio.NewReader(bytes.NewReader(raw[:end])))
	if err != nil {
		return nil, malformed("header does not parse")
	}
	m := &Message{Header: h, Body: raw[end:]}
	m.From = parseFrom(h.Get("From"))
	if ids := msgIDs(h.Get("Message-Id")); len(ids) > 0 {
		m.MessageID = ids[0]
	}
	return m, nil
}

// bareEOL returns the offset of the first CR not followed by LF or LF not
// preceded by CR, or -1.
func bareEOL(b []byte) int {
	for i, c := range b {
		switch c {
		case '\r':
			if i+1 >= len(b) || b[i+1] != '\n' {
				return i
			}
		case '\n':
			if i == 0 || b[i-1] != '\r' {
				return i
			}
		}
	}
	return -1
}

// headerEnd returns the offset just past the blank line ending the header.
func headerEnd(raw []byte) (int, error) {
	if bytes.HasPrefix(raw, []byte("\r\n")) {
		return 2, nil // empty header
	}
	limit := raw
	if len(limit) > MaxHeaderBytes {
		limit = limit[:MaxHeaderBytes]
	}
	if i := bytes.Index(limit, []byte("\r\n\r\n")); i >= 0 {
		return i + 4, nil
	}
	if len(raw) > MaxHeaderBytes {
		return 0, malformed("header larger than %d bytes", MaxHeaderBytes)
	}
	return 0, malformed("no blank line after the header")
}

// parseFrom returns the first mailbox of a From value, or zero.
func parseFrom(v string) Address {
	if strings.TrimSpace(v) == "" {
		return Address{}
	}
	p := mail.AddressParser{WordDecoder: wordDecoder()}
	list, err := p.ParseList(fixUTF8(v))
	if err != nil || len(list) == 0 {
		return Address{}
	}
	a := list[0]
	at := strings.LastIndexByte(a.Address, '@')
	if at <= 0 || at == len(a.Address)-1 {
		return Address{}
	}
	return Address{
		Addr: a.Address[:at] + "@" + strings.ToLower(a.Address[at+1:]),
		Name: fixUTF8(strings.TrimSpace(a.Name)),
	}
}

// maxIDLen bounds a msg-id we keep or write; longer ones are dropped.
const maxIDLen = 250

// MessageIDs extracts the msg-ids of an In-Reply-To, References or
// Message-ID field value, without brackets, in order; see msgIDs.
func MessageIDs(v string) []string { return msgIDs(v) }

// CitedIDs lists the Message-IDs m's In-Reply-To and References fields
// name, without brackets: the ones Params.MapRef will be asked about.
func (m *Message) CitedIDs() []string {
	var out []string
	for _, field := range []string{"In-Reply-To", "References"} {
		for _, v := range m.Header.Values(field) {
			out = append(out, msgIDs(v)...)
		}
	}
	return out
}

// msgIDs extracts the msg-ids of an In-Reply-To, References or Message-ID
// value, without brackets, in order. It is lenient about what surrounds
// them (comments, phrases, missing spaces) and strict about the ids
// themselves: see validID.
func msgIDs(v string) []string {
	var ids []string
	depth := 0
	for i := 0; i < len(v); i++ {
		switch c := v[i]; {
		case c == '\\' && depth > 0:
			i++ // quoted-pair inside a comment
		case c == '(':
			depth++
		case c == ')' && depth > 0:
			depth--
		case c == '<' && depth == 0:
			j := strings.IndexByte(v[i+1:], '>')
			if j < 0 {
				return ids
			}
			if id := strings.TrimSpace(v[i+1 : i+1+j]); validID(id) {
				ids = append(ids, id)
			}
			i += j + 1
		}
	}
	return ids
}

// validID reports whether id looks like a msg-id we can safely write
// between angle brackets: printable ASCII without specials or spaces,
// exactly one '@' with text on both sides, at most maxIDLen bytes.
func validID(id string) bool {
	if len(id) < 3 || len(id) > maxIDLen {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if c <= ' ' || c >= 0x7f || strings.IndexByte(`<>()[]\",;:`, c) >= 0 {
			return false
		}
	}
	at := strings.IndexByte(id, '@')
	return at > 0 && at < len(id)-1 && strings.Count(id, "@") == 1
}
