package mailstore

import (
	"encoding/binary"
	"errors"
	"time"
)

// Listings are stored in a compact binary form rather than JSON: FETCH of
// a whole mailbox decodes thousands of them, and JSON costs ten times as
// much. The layout is a version byte, then the fixed fields that a
// mailbox summary needs (so that DecodeSummary stops early), then the
// envelope and the part tree. Integers are varints, strings are a length
// and their bytes, lists a count and their items.

const listingVersion = 1

// errCorrupt reports a stored record (a listing, a queue job) that does
// not decode.
var errCorrupt = errors.New("corrupt record")

// maxDepth bounds the part tree when decoding, like the parser that made it.
const maxDepth = 64

// enc and dec are the varint codec of the binary records (listings here,
// queue jobs in queue.go).
type enc struct{ b []byte }

func (e *enc) uint(v uint64) { e.b = binary.AppendUvarint(e.b, v) }
func (e *enc) int(v int64)   { e.b = binary.AppendVarint(e.b, v) }
func (e *enc) str(s string)  { e.uint(uint64(len(s))); e.b = append(e.b, s...) }
func (e *enc) strs(l []string) {
	e.uint(uint64(len(l)))
	for _, s := range l {
		e.str(s)
	}
}

func (e *enc) time(t time.Time) {
	if t.IsZero() {
		e.uint(0)
		return
	}
	_, off := t.Zone()
	e.uint(1)
	e.int(t.Unix())
	e.int(int64(t.Nanosecond()))
	e.int(int64(off))
}

func (e *enc) params(l []Param) {
	e.uint(uint64(len(l)))
	for _, p := range l {
		e.str(p.Name)
		e.str(p.Value)
	}
}

func (e *enc) addrs(l []Address) {
	e.uint(uint64(len(l)))
	for _, a := range l {
		e.str(a.Name)
		e.str(a.Mailbox)
		e.str(a.Host)
	}
}

func (e *enc) envelope(v *Envelope) {
	e.time(v.Date)
	e.str(v.Subject)
	for _, l := range [][]Address{v.From, v.Sender, v.ReplyTo, v.To, v.Cc, v.Bcc} {
		e.addrs(l)
	}
	e.strs(v.InReplyTo)
	e.str(v.MessageID)
}

func (e *enc) part(p *Part) {
	for _, s := range []string{p.Type, p.Subtype, p.ID, p.Description, p.Encoding, p.Disposition, p.Location} {
		e.str(s)
	}
	e.params(p.Params)
	e.params(p.DispParams)
	e.strs(p.Language)
	for _, v := range []int{p.Header, p.Body, p.End, p.Lines} {
		e.uint(uint64(v))
	}
	e.uint(uint64(len(p.Children)))
	for i := range p.Children {
		e.part(&p.Children[i])
	}
	if p.Message == nil {
		e.uint(0)
		return
	}
	e.uint(1)
	e.envelope(&p.Message.Envelope)
	e.part(&p.Message.Body)
}

// EncodeListing returns l's stored form.
func EncodeListing(l *Listing) []byte {
	e := &enc{b: make([]byte, 0, 512)}
	e.b = append(e.b, listingVersion)
	e.uint(uint64(l.Size))
	e.time(l.Archived)
	e.int(int64(l.SentDay))
	e.envelope(&l.Envelope)
	e.part(&l.Body)
	return e.b
}

type dec struct {
	b   []byte
	err error
}

func (d *dec) uint() uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.err = errCorrupt
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *dec) int() int64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.err = errCorrupt
		return 0
	}
	d.b = d.b[n:]
	return v
}

// count reads a list length, refusing one longer than the bytes left
// could hold (each item takes at least one byte).
func (d *dec) count() int {
	n := d.uint()
	if n > uint64(len(d.b)) {
		d.err = errCorrupt
		return 0
	}
	return int(n)
}

func (d *dec) offset() int {
	v := d.uint()
	if v > 1<<40 {
		d.err = errCorrupt
		return 0
	}
	return int(v)
}

func (d *dec) str() string {
	n := d.count()
	if d.err != nil {
		return ""
	}
	s := string(d.b[:n])
	d.b = d.b[n:]
	return s
}

func (d *dec) strs() []string {
	n := d.count()
	if n == 0 {
		return nil
	}
	l := make([]string, n)
	for i := range l {
		l[i] = d.str()
	}
	return l
}

func (d *dec) time() time.Time {
	if d.uint() == 0 {
		return time.Time{}
	}
	sec, nsec, off := d.int(), d.int(), d.int()
	if d.err != nil || off < -86400 || off > 86400 || nsec < 0 || nsec >= 1e9 {
		d.err = errCorrupt
		return time.Time{}
	}
	loc := time.UTC
	if off != 0 {
		loc = time.FixedZone("", int(off))
	}
	return time.Unix(sec, nsec).In(loc)
}

func (d *dec) params() []Param {
	n := d.count()
	if n == 0 {
		return nil
	}
	l := make([]Param, n)
	for i := range l {
		l[i] = Param{d.str(), d.str()}
	}
	return l
}

func (d *dec) addrs() []Address {
	n := d.count()
	if n == 0 {
		return nil
	}
	l := make([]Address, n)
	for i := range l {
		l[i] = Address{d.str(), d.str(), d.str()}
	}
	return l
}

func (d *dec) envelope(v *Envelope) {
	v.Date = d.time()
	v.Subject = d.str()
	for _, l := range []*[]Address{&v.From, &v.Sender, &v.ReplyTo, &v.To, &v.Cc, &v.Bcc} {
		*l = d.addrs()
	}
	v.InReplyTo = d.strs()
	v.MessageID = d.str()
}

func (d *dec) part(p *Part, depth int) {
	if depth > maxDepth {
		d.err = errCorrupt
		return
	}
	for _, s := range []*string{&p.Type, &p.Subtype, &p.ID, &p.Description, &p.Encoding, &p.Disposition, &p.Location} {
		*s = d.str()
	}
	p.Params = d.params()
	p.DispParams = d.params()
	p.Language = d.strs()
	for _, v := range []*int{&p.Header, &p.Body, &p.End, &p.Lines} {
		*v = d.offset()
	}
	if n := d.count(); n > 0 {
		p.Children = make([]Part, n)
		for i := range p.Children {
			d.part(&p.Children[i], depth+1)
		}
	}
	if d.uint() == 1 {
		p.Message = new(Encapsulated)
		d.envelope(&p.Message.Envelope)
		d.part(&p.Message.Body, depth+1)
	}
}

// DecodeListing decodes a stored listing.
func DecodeListing(b []byte) (Listing, error) {
	var l Listing
	d := &dec{b: b}
	d.head(&l)
	d.envelope(&l.Envelope)
	d.part(&l.Body, 0)
	return l, d.err
}

// Summary is the part of a listing that a mailbox keeps in memory for
// every message: enough to answer STATUS and date and size searches.
type Summary struct {
	UID         uint64
	Size        int
	Archived    int64 // unix seconds
	ArchivedDay int32
	SentDay     int32
}

// DecodeSummary decodes only the leading fields of a stored listing.
func DecodeSummary(b []byte) (Summary, error) {
	var l Listing
	d := &dec{b: b}
	d.head(&l)
	return Summary{Size: l.Size, Archived: l.Archived.Unix(), ArchivedDay: l.ArchivedDay(), SentDay: l.SentDay}, d.err
}

// DecodeEnvelope decodes the leading fields and the envelope of a stored
// listing, skipping the part tree.
func DecodeEnvelope(b []byte) (Listing, error) {
	var l Listing
	d := &dec{b: b}
	d.head(&l)
	d.envelope(&l.Envelope)
	return l, d.err
}

func (d *dec) head(l *Listing) {
	if len(d.b) == 0 || d.b[0] != listingVersion {
		d.err = errCorrupt
		return
	}
	d.b = d.b[1:]
	l.Size = d.offset()
	l.Archived = d.time()
	l.SentDay = int32(d.int())
}
