package anon

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"mime"
	"net/mail"
	"strings"

	"golang.org/x/net/html/charset"
	"golang.org/x/text/unicode/norm"

	"listserv/listserv/anon/htmlclean"
	"listserv/listserv/anon/imgmeta"
)

// outPart is one rewritten entity: the Content-* fields to write and the
// body in its new transfer encoding.
type outPart struct {
	fields []field
	body   []byte
	// html is the cleaned HTML when the part is text/html or a
	// multipart/related whose root is, for generating a text alternative.
	html []byte
}

// rewriter rewrites the MIME tree of one message (see the package
// documentation, "Body").
type rewriter struct {
	p      Params
	sc     *scrubber
	cids   map[string]string // original Content-ID → new one
	serial int               // numbers boundaries and Content-IDs
	seed   string            // hex digest of the new Message-ID
	tp     treeParser        // counts parts across attached messages too
	nested int               // attached messages being rewritten, nested
}

func newRewriter(p Params, sc *scrubber) *rewriter {
	sum := sha256.Sum256([]byte("listserv mime\x00" + p.MessageID))
	return &rewriter{p: p, sc: sc, cids: map[string]string{}, seed: hex.EncodeToString(sum[:])}
}

// assignCIDs gives every part that has a Content-ID a fresh one, before
// any HTML is rewritten (a reference may point forward).
func (r *rewriter) assignCIDs(e *entity) {
	if e.cid != "" {
		if _, ok := r.cids[e.cid]; !ok {
			r.serial++
			r.cids[e.cid] = fmt.Sprintf("part%d.%s@%s", r.serial, r.seed[:16], r.p.Domain)
		}
	}
	for _, c := range e.children {
		r.assignCIDs(c)
	}
}

// cid maps an original Content-ID (as an HTML cid: URL names it) to the
// new one.
func (r *rewriter) cid(old string) (string, bool) {
	v, ok := r.cids[old]
	return v, ok
}

// rewrite returns the new form of e. parent is the media type of the
// enclosing multipart ("" at the top).
func (r *rewriter) rewrite(e *entity, parent string) (outPart, error) {
	mt := e.mi.mediaType
	switch {
	case mt == "multipart/signed":
		// The signature names its signer (an S/MIME certificate carries
		// the address, a PGP signature the key): the signed content goes
		// on alone.
		return r.rewrite(e.children[0], parent)
	case mt == "multipart/encrypted", mt == "application/pkcs7-mime", mt == "application/x-pkcs7-mime":
		return outPart{}, malformed("signed or encrypted S/MIME or PGP content cannot be anonymized: send it unsigned and unencrypted")
	case mt == "application/ms-tnef", mt == "application/vnd.ms-tnef":
		return outPart{}, malformed("Outlook rich text (winmail.dat) cannot be anonymized: send as HTML or plain text")
	case mt == "message/external-body", mt == "message/partial":
		return outPart{}, malformed("%s parts cannot be anonymized", mt)
	case strings.HasPrefix(mt, "multipart/"):
		return r.multipart(e, parent)
	case mt == "message/rfc822", mt == "message/global":
		return r.message(e)
	case strings.HasPrefix(mt, "message/"):
		// Delivery and read reports, feedback reports: header-like text
		// that names people ("Final-Recipient: rfc822; jane@…").
		return r.text(e, parent)
	case mt == "text/plain", mt == "text/html":
		return r.text(e, parent)
	case mt == "text/vcard", mt == "text/x-vcard", mt == "text/directory",
		mt == "application/pgp-keys", mt == "application/pgp-signature",
		mt == "application/pkcs7-signature", mt == "application/x-pkcs7-signature":
		return r.note(e), nil
	case strings.HasPrefix(mt, "text/"):
		return r.text(e, parent)
	}
	return r.opaque(e)
}

// multipart rewrites the children and joins them under a fresh boundary.
// A multipart/alternative without a plain text part gets one generated
// from its HTML; a multipart/related rooted in HTML that is not an
// alternative's part is wrapped in one with a generated text part.
func (r *rewriter) multipart(e *entity, parent string) (outPart, error) {
	mt := e.mi.mediaType
	var kids []outPart
	hasPlain, html := false, []byte(nil)
	for _, c := range e.children {
		op, err := r.rewrite(c, mt)
		if err != nil {
			return outPart{}, err
		}
		if c.mi.mediaType == "text/plain" {
			hasPlain = true
		}
		if html == nil {
			html = op.html
		}
		kids = append(kids, op)
	}
	params := map[string]string{}
	if t := e.mi.params["type"]; t != "" && mt == "multipart/related" {
		params["type"] = t
	}
	if s := e.mi.params["start"]; s != "" && mt == "multipart/related" {
		if ids := msgIDs(s); len(ids) > 0 {
			if n, ok := r.cids[ids[0]]; ok {
				params["start"] = "<" + n + ">"
			}
		}
	}
	if mt == "multipart/alternative" && !hasPlain && html != nil {
		kids = append([]outPart{r.generatedText(html)}, kids...)
	}
	op := r.join(mt, params, kids)
	if mt == "multipart/related" {
		if len(e.children) > 0 && e.children[0].mi.mediaType == "text/html" {
			op.html = kids[0].html
		}
		if op.html != nil && parent != "multipart/alternative" {
			return r.join("multipart/alternative", nil, []outPart{r.generatedText(op.html), op}), nil
		}
	}
	return op, nil
}

// join writes parts as one multipart of type mt with a fresh boundary
// that occurs in none of them.
func (r *rewriter) join(mt string, params map[string]string, kids []outPart) outPart {
	var inner bytes.Buffer
	for _, k := range kids {
		inner.Write(writeFields(k.fields))
		inner.Write(k.body)
	}
	r.serial++
	sum := sha256.Sum256(fmt.Appendf(nil, "%s\x00%d", r.seed, r.serial))
	boundary := "=_ls_" + hex.EncodeToString(sum[:12])
	for bytes.Contains(inner.Bytes(), []byte("--"+boundary)) {
		boundary += "_"
	}
	var b bytes.Buffer
	for _, k := range kids {
		b.WriteString("--" + boundary + "\r\n")
		b.Write(writeFields(k.fields))
		b.Write(k.body)
		// This CRLF belongs to the next delimiter (RFC 2046 §5.1.1).
		b.Write(crlf)
	}
	b.WriteString("--" + boundary + "--\r\n")
	if params == nil {
		params = map[string]string{}
	}
	params["boundary"] = boundary
	return outPart{fields: []field{{"Content-Type", mime.FormatMediaType(mt, params)}}, body: b.Bytes()}
}

// writeFields writes part header fields and the blank line after them.
func writeFields(fs []field) []byte {
	var b bytes.Buffer
	for _, f := range fs {
		b.WriteString(f.k + ": " + f.v + "\r\n")
	}
	b.Write(crlf)
	return b.Bytes()
}

// text rewrites a text part: decoded, converted to UTF-8, scrubbed (plain
// text and HTML as the package documentation says; other text types only
// lose the author's and members' addresses and names), re-encoded. An
// HTML part that is not an alternative's or a related's part gets a
// generated text/plain alternative.
func (r *rewriter) text(e *entity, parent string) (outPart, error) {
	mt := e.mi.mediaType
	raw, ok := decodeCTE(e.body, e.mi.cte)
	if !ok {
		return outPart{}, malformed("a text part has an unknown transfer encoding")
	}
	cs := e.mi.params["charset"]
	if mt == "text/html" && cs == "" {
		_, cs, _ = charset.DetermineEncoding(raw, "text/html")
	}
	s, ok := toUTF8(raw, cs)
	if !ok {
		return outPart{}, malformed("a text part is in a character set this server cannot read")
	}
	// Composed form (NFC): "Jörg" typed on a Mac is o + combining
	// diaeresis, and must still match the name in From.
	s = norm.NFC.String(dropInvisible(s))
	var html []byte
	switch mt {
	case "text/plain":
		s = r.sc.plain(s)
	case "text/html":
		html = htmlclean.Clean([]byte(s), htmlclean.Options{CID: r.cid, Text: r.sc.htmlText, DropSignature: true, SignOff: r.sc.signsOff})
		s = string(html)
	default:
		s = r.sc.replace(s)
	}
	body, cte := encodeText(s)
	params := map[string]string{}
	for _, k := range []string{"format", "delsp", "method"} {
		if v := e.mi.params[k]; v != "" {
			params[k] = v
		}
	}
	ascii := cte == "7bit"
	params["charset"] = "utf-8"
	if declared := strings.ToLower(e.mi.params["charset"]); ascii && (declared == "" || declared == "us-ascii") {
		params["charset"] = "us-ascii"
	}
	op := outPart{body: body, html: html}
	// A part without Content-Type whose text stays ASCII keeps the
	// RFC 2045 defaults rather than gaining fields.
	if e.mi.present || !ascii || mt != "text/plain" {
		op.fields = append(op.fields, r.typeField(e, params))
	}
	if len(op.fields) > 0 || e.mi.cte != "" {
		op.fields = append(op.fields, field{"Content-Transfer-Encoding", cte})
	}
	op.fields = append(op.fields, r.partFields(e)...)
	disp, _ := e.disposition()
	if html != nil && disp != "attachment" && parent != "multipart/alternative" && parent != "multipart/related" {
		return r.join("multipart/alternative", nil, []outPart{r.generatedText(html), op}), nil
	}
	return op, nil
}

// generatedText is the text/plain alternative of cleaned HTML.
func (r *rewriter) generatedText(html []byte) outPart {
	body, cte := encodeText(htmlclean.Text(html))
	cs := "utf-8"
	if cte == "7bit" {
		cs = "us-ascii"
	}
	return outPart{
		fields: []field{
			{"Content-Type", mime.FormatMediaType("text/plain", map[string]string{"charset": cs})},
			{"Content-Transfer-Encoding", cte},
		},
		body: body,
	}
}

// note stands in for a part that identifies its author by what it is (a
// contact card, a public key, a signature): the group is told, in the
// message itself, that something was removed.
func (r *rewriter) note(e *entity) outPart {
	what := "A contact card"
	switch e.mi.mediaType {
	case "application/pgp-keys":
		what = "An OpenPGP key"
	case "application/pgp-signature", "application/pkcs7-signature", "application/x-pkcs7-signature":
		what = "A digital signature"
	}
	text := "[" + what + " was removed here: it names its owner.]\r\n"
	return outPart{
		fields: []field{
			{"Content-Type", "text/plain; charset=us-ascii"},
			{"Content-Transfer-Encoding", "7bit"},
		},
		body: []byte(text),
	}
}

// opaque rewrites any other part (attachments): the content is kept byte
// for byte, except that images lose their metadata; it is written in
// base64 unless it was 7bit-safe text in an identity encoding.
func (r *rewriter) opaque(e *entity) (outPart, error) {
	data, ok := decodeCTE(e.body, e.mi.cte)
	if !ok {
		return outPart{}, malformed("an attachment has an unknown transfer encoding")
	}
	if imgmeta.Detect(data) != "" {
		stripped, _, err := imgmeta.Strip(data)
		if err != nil {
			return outPart{}, malformed("an attached image could not be read to remove its metadata (such as its location)")
		}
		data = stripped
	}
	op := outPart{}
	params := map[string]string{}
	if e.mi.mediaType == "image/svg+xml" {
		// SVG is a document that can load from the network and run
		// script when shown inline: it travels as a plain attachment.
		op.fields = append(op.fields, r.typeFieldAs(e, "application/octet-stream", params))
		op.fields = append(op.fields, r.encodeOpaque(e, data, &op)...)
		if _, name := e.disposition(); name != "" || e.mi.params["name"] != "" {
			if name == "" {
				name = e.mi.params["name"]
			}
			op.fields = append(op.fields, field{"Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": r.filename(name)})})
		} else {
			op.fields = append(op.fields, field{"Content-Disposition", "attachment"})
		}
		return op, nil
	}
	op.fields = append(op.fields, r.typeField(e, params))
	op.fields = append(op.fields, r.encodeOpaque(e, data, &op)...)
	op.fields = append(op.fields, r.partFields(e)...)
	return op, nil
}

// encodeOpaque sets op's body to data, 7bit when it was short-lined
// printable ASCII in an identity encoding, base64 otherwise, and returns
// the Content-Transfer-Encoding field.
func (r *rewriter) encodeOpaque(e *entity, data []byte, op *outPart) []field {
	if identityCTE(e.mi.cte) && printableASCII(data) && bareEOL(data) < 0 && !longLine(data) {
		op.body = data
		return []field{{"Content-Transfer-Encoding", "7bit"}}
	}
	op.body = encodeBase64(data)
	return []field{{"Content-Transfer-Encoding", "base64"}}
}

// message rewrites an attached message (a forward): its header keeps only
// From, To, Cc, Date and Subject, each scrubbed like text, and its body is
// rewritten like a message of its own.
func (r *rewriter) message(e *entity) (outPart, error) {
	raw := e.body
	if !identityCTE(e.mi.cte) {
		// RFC 2046 forbids it, clients do it: an attached message in
		// base64 is read like any other, never carried as opaque bytes.
		var ok bool
		if raw, ok = decodeCTE(e.body, e.mi.cte); !ok {
			return outPart{}, malformed("an attached message has an unknown transfer encoding")
		}
		raw = []byte(normalizeEOL(string(raw)))
	}
	// Attached messages count against the same limits as parts: an
	// attachment nested in an attachment a thousand times is refused
	// before it costs a thousand parses of the rest of the message.
	r.nested++
	defer func() { r.nested-- }()
	if r.nested > maxDepth {
		return outPart{}, malformed("attached messages nested deeper than %d levels", maxDepth)
	}
	h, body, err := splitPart(raw)
	if err != nil {
		return outPart{}, err
	}
	inner, err := r.tp.parseEntity(h, body, 0, false)
	if err != nil {
		return outPart{}, err
	}
	r.assignCIDs(inner)
	op, err := r.rewrite(inner, "")
	if err != nil {
		return outPart{}, err
	}
	var fs []field
	for _, k := range []string{"From", "To", "Cc"} {
		if v := r.addressField(h.Get(k)); v != "" {
			fs = append(fs, field{k, v})
		}
	}
	if d, err := mail.ParseDate(h.Get("Date")); err == nil {
		// In UTC, like our own Date: the zone says where the author lives.
		fs = append(fs, field{"Date", d.UTC().Format("Mon, 02 Jan 2006 15:04:05 +0000")})
	}
	if v := decodeHeaderText(h.Get("Subject")); v != "" {
		fs = append(fs, field{"Subject", encodeHeaderText(truncateUTF8(r.sc.replace(v), maxSubjectBytes))})
	}
	fs = append(fs, field{"MIME-Version", "1.0"})
	fs = append(fs, op.fields...)
	out := outPart{
		fields: append([]field{{"Content-Type", e.mi.mediaType}}, r.partFields(e)...),
		body:   append(writeFields(fs), op.body...),
	}
	return out, nil
}

// addressField rewrites an address field of an attached message: the
// author's and members' mailboxes become their aliases, a stranger keeps
// their address with the name scrubbed. A field that does not parse is
// scrubbed as text. "" when there is nothing to write.
func (r *rewriter) addressField(v string) string {
	if strings.TrimSpace(v) == "" {
		return ""
	}
	p := mail.AddressParser{WordDecoder: wordDecoder()}
	list, err := p.ParseList(fixUTF8(v))
	if err != nil {
		return encodeHeaderText(truncateUTF8(r.sc.replace(decodeHeaderText(v)), maxSubjectBytes))
	}
	var out []string
	for _, a := range list {
		if alias, ok := r.sc.aliasFor(a.Address); ok {
			a = &mail.Address{Name: alias.Name, Address: alias.Addr}
		} else {
			a = &mail.Address{Name: r.sc.replace(fixUTF8(a.Name)), Address: a.Address}
		}
		out = append(out, a.String())
		if len(out) == 50 {
			break
		}
	}
	return strings.Join(out, ",\r\n ") // folded: one mailbox per line
}

// typeField writes e's Content-Type with its media type, the given
// parameters, and its name parameter scrubbed.
func (r *rewriter) typeField(e *entity, params map[string]string) field {
	return r.typeFieldAs(e, e.mi.mediaType, params)
}

// typeFieldAs is typeField with another media type.
func (r *rewriter) typeFieldAs(e *entity, mediaType string, params map[string]string) field {
	if name := e.mi.params["name"]; name != "" {
		params["name"] = r.filename(name)
	}
	v := mime.FormatMediaType(mediaType, params)
	if v == "" {
		v = mime.FormatMediaType(mediaType, nil)
	}
	if v == "" {
		v = "application/octet-stream"
	}
	return field{"Content-Type", v}
}

// partFields writes Content-Disposition (type and scrubbed filename) and
// the fresh Content-ID.
func (r *rewriter) partFields(e *entity) []field {
	var fs []field
	if typ, name := e.disposition(); typ != "" && isToken(typ, "-") {
		params := map[string]string{}
		if name != "" {
			params["filename"] = r.filename(name)
		}
		if v := mime.FormatMediaType(typ, params); v != "" {
			fs = append(fs, field{"Content-Disposition", v})
		}
	}
	if n, ok := r.cids[e.cid]; ok && e.cid != "" {
		fs = append(fs, field{"Content-ID", "<" + n + ">"})
	}
	return fs
}

// maxFilename caps a written filename (UTF-8 bytes).
const maxFilename = 200

// filename returns an attachment's name with the author's address and
// name replaced, control characters removed, cut to maxFilename bytes.
func (r *rewriter) filename(name string) string {
	name = decodeHeaderText(name)
	name = r.sc.replace(name)
	return truncateUTF8(name, maxFilename)
}

// dropInvisible removes the characters that show as nothing and only
// serve, in a post, to split a name so that it is not found: zero width
// space, soft hyphen, word joiner, and a stray byte order mark. (Zero
// width joiners stay: emoji sequences need them.)
func dropInvisible(s string) string {
	if !strings.ContainsAny(s, "\u200b\u00ad\u2060\ufeff") {
		return s
	}
	return strings.Map(func(r rune) rune {
		switch r {
		case '\u200b', '\u00ad', '\u2060', '\ufeff':
			return -1
		}
		return r
	}, s)
}
