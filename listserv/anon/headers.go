package anon

import (
	"errors"
	"mime"
	"strings"

	"github.com/emersion/go-message/textproto"
	"golang.org/x/text/unicode/norm"
)

// maxSubjectBytes caps the decoded Subject (UTF-8), so that its encoded
// form stays far below the header cap.
const maxSubjectBytes = 900

// subject returns the Subject to write: the original decoded, with the
// author's address and name replaced by the alias, cut to
// maxSubjectBytes, re-encoded. "" means no Subject field: a missing or
// blank subject stays missing (we do not invent one).
func subject(m *Message, sc *scrubber) string {
	s := norm.NFC.String(decodeHeaderText(m.Header.Get("Subject")))
	if s == "" {
		return ""
	}
	s = sc.replace(s)
	s = strings.TrimSpace(truncateUTF8(s, maxSubjectBytes))
	if s == "" {
		return ""
	}
	return encodeHeaderText(s)
}

// Threading limits: at most maxRefCandidates ids of a field are looked up
// and at most maxRefs written (the first and the latest, RFC 5322 §3.6.4
// suggests keeping those when trimming).
const (
	maxRefCandidates = 200
	maxRefs          = 40
)

// mapRefs rewrites the msg-ids of In-Reply-To or References values
// through mapRef, in order, without duplicates. Ids that mapRef refuses,
// or maps to something that is not a valid msg-id, are dropped. It
// returns "" when nothing survives (the field is then omitted).
func mapRefs(values []string, mapRef func(string) (string, bool)) string {
	if mapRef == nil {
		return ""
	}
	var ids []string
	for _, v := range values {
		ids = append(ids, msgIDs(v)...)
	}
	if len(ids) > maxRefCandidates {
		ids = append(ids[:1], ids[len(ids)-maxRefCandidates+1:]...)
	}
	var out []string
	seen := make(map[string]bool)
	for _, id := range ids {
		mapped, ok := mapRef(id)
		if !ok || !validID(mapped) || seen[mapped] {
			continue
		}
		seen[mapped] = true
		out = append(out, "<"+mapped+">")
	}
	if len(out) > maxRefs {
		out = append(out[:1], out[len(out)-maxRefs+1:]...)
	}
	return strings.Join(out, " ")
}

// Parameters kept in Content-Type and Content-Disposition. Everything
// else is dropped (x-mac-creator, x-unix-mode, creation-date…).
var (
	keptTypeParams = []string{
		"charset", "boundary", "format", "delsp", "reply-type", "name", "type",
		"start", "protocol", "micalg", "report-type", "method", "smime-type",
	}
	keptDispParams = []string{"filename"}
)

// mimeInfo is what the Content-* fields of the original say, as far as
// the copy needs it.
type mimeInfo struct {
	present   bool              // a non-blank Content-Type field exists
	parsed    bool              // and mime.ParseMediaType accepted it
	raw       string            // the original value, written when !parsed
	mediaType string            // lower-case type/subtype when parsed
	params    map[string]string // allowlisted parameters when parsed
	cte       string            // lower-case encoding token, "" if none
	disp      string            // Content-Disposition to write, "" if none
}

// inspectMIME reads the first Content-Type, Content-Transfer-Encoding and
// Content-Disposition fields of h. Later duplicates are ignored.
func inspectMIME(h *textproto.Header) *mimeInfo {
	mi := &mimeInfo{params: map[string]string{}}
	if v := strings.TrimSpace(h.Get("Content-Type")); v != "" {
		mi.present, mi.raw = true, fixUTF8(v)
		t, params, err := mime.ParseMediaType(v)
		if err == nil || errors.Is(err, mime.ErrInvalidMediaParameter) && t != "" {
			// A type with unreadable parameters keeps its type.
			mi.mediaType, mi.params = t, keepParams(params, keptTypeParams)
			mi.parsed = mime.FormatMediaType(t, mi.params) != ""
		}
	}
	if cte := firstKeyword(h.Get("Content-Transfer-Encoding")); isToken(cte, "-") {
		mi.cte = cte
	}
	if v := strings.TrimSpace(h.Get("Content-Disposition")); v != "" {
		t, params, err := mime.ParseMediaType(v)
		switch {
		case err == nil:
			mi.disp = mime.FormatMediaType(t, keepParams(params, keptDispParams))
		case t != "":
			mi.disp = mime.FormatMediaType(t, nil) // parameters unreadable
		}
	}
	return mi
}

func keepParams(params map[string]string, keep []string) map[string]string {
	out := make(map[string]string)
	for _, k := range keep {
		if v, ok := params[k]; ok {
			out[k] = fixUTF8(v)
		}
	}
	return out
}
