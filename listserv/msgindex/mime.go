package msgindex

import (
	"bytes"
	"mime"
	"sort"
	"strings"

	"listserv/mailstore"
)

// Limits of the structure parser: deeper nesting is left opaque, and a
// message with more parts keeps the first MaxParts.
const (
	MaxDepth = 20
	MaxParts = 2000
)

// parser walks one message's bytes.
type parser struct {
	raw   []byte
	parts int
}

// entity parses the entity in raw[start:end]. digest says the entity is a
// part of a multipart/digest (its default type is message/rfc822).
func (p *parser) entity(start, end, depth int, digest bool) mailstore.Part {
	p.parts++
	body := start + HeaderEnd(p.raw[start:end])
	fields := Fields(p.raw[start:body])
	part := mailstore.Part{Header: start, Body: body, End: end}
	describe(&part, fields, digest)
	switch {
	case depth >= MaxDepth || p.parts >= MaxParts:
		if part.Multipart() || part.Type == "message" {
			part.Type, part.Subtype, part.Params = "application", "octet-stream", nil
		}
	case part.Multipart():
		p.multipart(&part, depth)
	case part.Type == "message" && (part.Subtype == "rfc822" || part.Subtype == "global"):
		inner := p.entity(body, end, depth+1, false)
		part.Message = &mailstore.Encapsulated{
			Envelope: envelope(Fields(p.raw[body:inner.Body])),
			Body:     inner,
		}
	}
	if part.Type == "text" || part.Message != nil {
		part.Lines = bytes.Count(p.raw[body:end], []byte{'\n'})
	}
	return part
}

// describe fills the part's content fields from its header.
func describe(part *mailstore.Part, fields []HeaderField, digest bool) {
	ct := get(fields, "Content-Type")
	mt, params, err := mime.ParseMediaType(ct)
	if ct == "" || (err != nil && mt == "") || !strings.Contains(mt, "/") {
		mt, params = "text/plain", map[string]string{"charset": "us-ascii"}
		if digest && ct == "" {
			mt, params = "message/rfc822", nil
		}
	}
	part.Type, part.Subtype, _ = strings.Cut(mt, "/")
	part.Params = paramList(ct, params)
	part.ID = get(fields, "Content-ID")
	part.Description = DecodeHeader(get(fields, "Content-Description"))
	part.Encoding = strings.ToLower(get(fields, "Content-Transfer-Encoding"))
	part.Location = get(fields, "Content-Location")
	if cd := get(fields, "Content-Disposition"); cd != "" {
		d, dp, err := mime.ParseMediaType(cd)
		if err == nil || d != "" {
			part.Disposition = d
			part.DispParams = paramList(cd, dp)
		}
	}
	if cl := get(fields, "Content-Language"); cl != "" {
		for _, l := range strings.Split(cl, ",") {
			if l = strings.TrimSpace(l); l != "" {
				part.Language = append(part.Language, l)
			}
		}
	}
}

// paramList orders parameters as the field wrote them (mime returns a
// map) so that the listing is deterministic; past maxOrdered parameters
// they are sorted by name instead.
func paramList(field string, params map[string]string) []mailstore.Param {
	if len(params) == 0 {
		return nil
	}
	out := make([]mailstore.Param, 0, len(params))
	for k, v := range params {
		out = append(out, mailstore.Param{Name: k, Value: v})
	}
	pos := make(map[string]int, len(out))
	lower := strings.ToLower(field)
	for _, p := range out {
		pos[p.Name] = len(lower)
		if len(out) > maxOrdered {
			continue
		}
		if i := strings.Index(lower, p.Name+"="); i >= 0 {
			pos[p.Name] = i
		} else if i := strings.Index(lower, p.Name+"*"); i >= 0 {
			pos[p.Name] = i
		}
	}
	sort.Slice(out, func(i, j int) bool {
		pi, pj := pos[out[i].Name], pos[out[j].Name]
		return pi < pj || pi == pj && out[i].Name < out[j].Name
	})
	return out
}

const maxOrdered = 32

// multipart splits a multipart body at its boundary lines (RFC 2046
// §5.1.1: the line break before a boundary line belongs to the boundary).
func (p *parser) multipart(part *mailstore.Part, depth int) {
	boundary := ""
	for _, prm := range part.Params {
		if prm.Name == "boundary" {
			boundary = prm.Value
		}
	}
	digest := part.Subtype == "digest"
	dash := []byte("--" + boundary)
	partStart := -1
	for i := part.Body; i < part.End && boundary != "" && p.parts < MaxParts; {
		end := lineEnd(p.raw[:part.End], i)
		line := p.raw[i:end]
		if bytes.HasPrefix(line, dash) {
			rest := bytes.TrimRight(line[len(dash):], " \t\r\n")
			closing := bytes.Equal(rest, []byte("--"))
			if closing || len(rest) == 0 {
				if partStart >= 0 {
					stop := max(partStart, trimBreak(p.raw, partStart, i))
					part.Children = append(part.Children, p.entity(partStart, stop, depth+1, digest))
				}
				partStart = end
				if closing {
					partStart = -1
					break
				}
			}
		}
		i = end
	}
	if partStart >= 0 && partStart <= part.End {
		part.Children = append(part.Children, p.entity(partStart, part.End, depth+1, digest))
	}
	if len(part.Children) == 0 {
		// A multipart must have a part: show its whole body as text.
		part.Children = []mailstore.Part{{Type: "text", Subtype: "plain", Header: part.Body, Body: part.Body, End: part.End,
			Params: []mailstore.Param{{Name: "charset", Value: "us-ascii"}},
			Lines:  bytes.Count(p.raw[part.Body:part.End], []byte{'\n'})}}
	}
}

// trimBreak returns i moved back over the line break that ends at i (not
// before lo).
func trimBreak(raw []byte, lo, i int) int {
	if i > lo && raw[i-1] == '\n' {
		i--
		if i > lo && raw[i-1] == '\r' {
			i--
		}
	}
	return i
}
