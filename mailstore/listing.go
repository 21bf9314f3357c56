package mailstore

import "time"

// Listing is what a mail client lists about an archived post, computed
// once when the post is archived (listserv/msgindex) so that reading the
// archive never reparses a message: its size and dates, the envelope
// fields and the MIME structure with the byte offsets of every part inside
// the stored bytes. It is protocol-neutral; the IMAP view converts it.
type Listing struct {
	// Size is the stored message's length in octets.
	Size int
	// Archived is when the post entered the archive.
	Archived time.Time
	// SentDay is the calendar day of the Date header in its own zone, as
	// days since 1970-01-01 (the archive day when there is no Date).
	SentDay  int32
	Envelope Envelope
	// Body is the top-level entity: the whole message.
	Body Part
}

// ArchivedDay is the calendar day (UTC) the post was archived, as days
// since 1970-01-01.
func (l *Listing) ArchivedDay() int32 { return DayOf(l.Archived.UTC()) }

// DayOf is t's calendar day in t's own location, as days since
// 1970-01-01.
func DayOf(t time.Time) int32 {
	y, m, d := t.Date()
	return int32(time.Date(y, m, d, 0, 0, 0, 0, time.UTC).Unix() / 86400)
}

// Envelope holds a message's header fields that clients show in a list,
// decoded (RFC 2047) to UTF-8.
type Envelope struct {
	// Date is the Date header (zero when absent or unreadable).
	Date    time.Time
	Subject string
	From    []Address
	Sender  []Address
	ReplyTo []Address
	To      []Address
	Cc      []Address
	Bcc     []Address
	// InReplyTo and MessageID are message ids without angle brackets.
	InReplyTo []string
	MessageID string
}

// Address is one mailbox of an address list.
type Address struct {
	Name    string // display name, decoded
	Mailbox string // local part
	Host    string // domain
}

// Param is one parameter of a Content-Type or Content-Disposition field.
type Param struct {
	Name, Value string
}

// Part is one MIME entity. Header, Body and End are byte offsets into the
// stored message: the entity's header runs from Header to Body (blank
// line included) and its body from Body to End.
type Part struct {
	// Type and Subtype are lower-case ("text", "plain").
	Type, Subtype string
	Params        []Param
	ID            string // Content-ID
	Description   string // Content-Description
	Encoding      string // Content-Transfer-Encoding ("" = 7bit)
	Disposition   string // Content-Disposition value ("" = none)
	DispParams    []Param
	Language      []string
	Location      string
	Header        int
	Body          int
	End           int
	// Lines counts the body's lines (text and message parts).
	Lines int
	// Children are the parts of a multipart entity (at least one).
	Children []Part
	// Message is the encapsulated message of a message/rfc822 part.
	Message *Encapsulated
}

// Encapsulated is the message inside a message/rfc822 part: its Body
// entity starts where the part's body starts.
type Encapsulated struct {
	Envelope Envelope
	Body     Part
}

// Multipart reports whether p is a multipart entity.
func (p *Part) Multipart() bool { return p.Type == "multipart" }
