package anon

import (
	"bytes"
	"errors"
	"fmt"
	"net/mail"
	"strings"
	"time"

	"github.com/emersion/go-message/textproto"
)

// ErrParams is wrapped by the errors of [Anonymize] caused by its Params
// (a bug or bad configuration on our side, not the sender's fault).
var ErrParams = errors.New("anon: invalid Params")

// Params says who the anonymized copy is from and where it goes.
type Params struct {
	// Group is the list's local part, e.g. "recovery".
	Group string
	// Domain is the list domain, e.g. "lists.example.org".
	Domain string
	// Hostname is the IMAP host named by List-Archive, e.g.
	// "lists.example.org"; "" omits List-Archive.
	Hostname string
	// AliasName is the author's pseudonym, e.g. "Quiet Heron".
	AliasName string
	// AliasSlug makes the alias address Group+AliasSlug@Domain, e.g.
	// "quiet-heron".
	AliasSlug string
	// MessageID is the copy's new Message-ID without brackets, e.g.
	// "k3j2…@lists.example.org".
	MessageID string
	// Date is the server time of the copy; it is written in UTC ("+0000")
	// because the author's zone says where they live. It must not be zero.
	Date time.Time
	// MapRef maps a Message-ID found in In-Reply-To or References (no
	// brackets) to the ID members know; ok=false drops it. A nil MapRef
	// drops every reference.
	MapRef func(id string) (mapped string, ok bool)
	// AuthorNames are other names the author is known by (the display
	// name their membership last posted with), scrubbed like the name in
	// this message's From: a post sent without a display name still
	// loses the name in its signature.
	AuthorNames []string
	// Member returns the alias (pseudonym and alias address) of the
	// member whose real address is addr, for replacing other members'
	// addresses that appear in the text; ok=false for anyone else. nil
	// replaces only the author's address.
	Member func(addr string) (alias Address, ok bool)
	// Private, when set, writes a private (double-blind) message instead
	// of a list post: From and Reply-To are the author's alias address, To
	// is PrivateTo, and no List-* or Precedence field is written.
	Private bool
	// PrivateTo is the recipient's alias address when Private is set.
	PrivateTo Address
}

// AliasAddr returns the author's alias address, e.g.
// "recovery+quiet-heron@lists.example.org".
func (p Params) AliasAddr() string {
	return p.Group + "+" + p.AliasSlug + "@" + p.Domain
}

// Anonymize writes the anonymized copy of m with CRLF line endings: the
// header of the package documentation and the body from rewriteBody. m is
// not changed. Errors wrap [ErrParams] when p is invalid, or
// [ErrMalformed] when the message cannot be written safely (a header that
// would grow past [MaxHeaderBytes]).
func Anonymize(m *Message, p Params) ([]byte, error) {
	if m == nil {
		return nil, fmt.Errorf("%w: nil message", ErrMalformed)
	}
	p.Domain = strings.ToLower(p.Domain)
	p.Hostname = strings.ToLower(p.Hostname)
	if err := p.validate(); err != nil {
		return nil, err
	}
	sc := newScrubber(m.From, p)
	rw := newRewriter(p, sc)
	top, err := rw.tp.parseEntity(m.Header, m.Body, 0, false)
	if err != nil {
		return nil, err
	}
	rw.assignCIDs(top)
	op, err := rw.rewrite(top, "")
	if err != nil {
		return nil, err
	}
	body := op.body
	if longLine(body) {
		// The rewriter encodes every part it writes; this guards RFC
		// 5322 §2.1.1 (no line over 998 octets) against a bug.
		return nil, malformed("a line is longer than %d octets", maxLine)
	}
	fields := freshFields(m, p, sc)
	fields = append(fields, op.fields...)

	// textproto.Header.Add inserts at the top: add in reverse order.
	var h textproto.Header
	for i := len(fields) - 1; i >= 0; i-- {
		h.Add(fields[i].k, fields[i].v)
	}
	var out bytes.Buffer
	if err := textproto.WriteHeader(&out, h); err != nil {
		// Values are sanitized above; this is a last line of defence
		// against a field that would break the header.
		return nil, fmt.Errorf("%w: header field not writable", ErrMalformed)
	}
	head := fixFieldCase(out.Bytes())
	if len(head) > MaxHeaderBytes {
		return nil, malformed("anonymized header larger than %d bytes", MaxHeaderBytes)
	}
	return append(head, body...), nil
}

// fixFieldCase restores the usual spelling of the field names that
// textproto canonicalizes ("Mime-Version", "Message-Id"). Names only
// start a line, and a value's continuation lines start with a space, so
// the replacement cannot touch a value.
func fixFieldCase(head []byte) []byte {
	for _, f := range [][2]string{{"Mime-Version: ", "MIME-Version: "}, {"Message-Id: ", "Message-ID: "}} {
		canon, name := []byte(f[0]), f[1]
		if bytes.HasPrefix(head, canon) {
			copy(head, name)
		}
		if i := bytes.Index(head, append([]byte("\r\n"), canon...)); i >= 0 {
			copy(head[i+2:], name)
		}
	}
	return head
}

type field struct{ k, v string }

// freshFields returns the fields written before the Content-* ones, in
// the documented order.
func freshFields(m *Message, p Params, sc *scrubber) []field {
	list := "<" + p.Group + "@" + p.Domain + ">"
	from := (&mail.Address{Name: p.AliasName, Address: p.AliasAddr()}).String()
	f := []field{{"MIME-Version", "1.0"}, {"From", from}}
	if p.Private {
		to := (&mail.Address{Name: p.PrivateTo.Name, Address: p.PrivateTo.Addr}).String()
		f = append(f, field{"Reply-To", "<" + p.AliasAddr() + ">"}, field{"To", to})
	} else {
		f = append(f, field{"Reply-To", list}, field{"To", list})
	}
	if s := subject(m, sc); s != "" {
		f = append(f, field{"Subject", s})
	}
	f = append(f,
		field{"Date", p.Date.UTC().Format("Mon, 02 Jan 2006 15:04:05 +0000")},
		field{"Message-ID", "<" + p.MessageID + ">"},
	)
	if v := mapRefs(m.Header.Values("In-Reply-To"), p.MapRef); v != "" {
		f = append(f, field{"In-Reply-To", v})
	}
	if v := mapRefs(m.Header.Values("References"), p.MapRef); v != "" {
		f = append(f, field{"References", v})
	}
	if p.Private {
		return f
	}
	f = append(f,
		field{"List-Id", ListID(p.Group, p.Domain)},
		field{"List-Post", "<mailto:" + p.Group + "@" + p.Domain + ">"},
		field{"List-Help", "<mailto:" + p.Group + "-request@" + p.Domain + "?subject=help>"},
		field{"List-Unsubscribe", "<mailto:" + p.Group + "-leave@" + p.Domain + ">"},
	)
	if p.Hostname != "" {
		f = append(f, field{"List-Archive", "<imap://" + p.Hostname + "/" + p.Group + ">"})
	}
	return append(f, field{"Precedence", "list"})
}
