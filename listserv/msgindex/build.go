package msgindex

import (
	"strings"
	"time"

	"listserv/mailstore"
)

// Build reads an archived message (CRLF, as stored) once and returns its
// index. archived is when it enters the archive. Build accepts any bytes.
func Build(raw []byte, archived time.Time) *mailstore.PostIndex {
	p := &parser{raw: raw}
	root := p.entity(0, len(raw), 0, false)
	fields := Fields(raw[:root.Body])
	env := envelope(fields)
	ix := &indexer{raw: raw}
	headerText(&ix.header, fields)
	ix.walk(&root, false)
	l := mailstore.Listing{
		Size:     len(raw),
		Archived: archived.UTC(),
		SentDay:  mailstore.DayOf(archived.UTC()),
		Envelope: env,
		Body:     root,
	}
	if !env.Date.IsZero() {
		l.SentDay = mailstore.DayOf(env.Date)
	}
	return &mailstore.PostIndex{
		Listing:    l,
		HeaderText: ix.header.String(),
		BodyText:   ix.body.String(),
	}
}

// indexer gathers a message's searchable text.
type indexer struct {
	raw          []byte
	header, body strings.Builder
}

// walk adds the body text of part: the MIME headers of parts, the decoded
// text of text parts, and encapsulated messages (header and body).
func (ix *indexer) walk(part *mailstore.Part, withHeader bool) {
	if ix.body.Len() >= MaxTextBytes {
		return
	}
	if withHeader {
		headerText(&ix.body, Fields(ix.raw[part.Header:part.Body]))
	}
	switch {
	case len(part.Children) > 0:
		for i := range part.Children {
			ix.walk(&part.Children[i], true)
		}
	case part.Message != nil:
		ix.walk(&part.Message.Body, true)
	case part.Type == "text":
		s := Fold(decodeBody(ix.raw[part.Body:part.End], part))
		if room := MaxTextBytes - ix.body.Len(); len(s) > room {
			s = s[:room]
		}
		ix.body.WriteString(s)
		ix.body.WriteByte('\n')
	}
}
