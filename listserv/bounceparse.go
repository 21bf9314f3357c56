package listserv

import (
	"bufio"
	"bytes"
	"io"
	"regexp"
	"strings"

	"github.com/emersion/go-message"
	_ "github.com/emersion/go-message/charset" // non-UTF-8 bounce texts
	"github.com/emersion/go-message/textproto"
)

// Reading a bounce: which kind of failure a message to a VERP address
// reports (bounce.go decides what that does to the member).

// bounceKind is what a message to a bounce address is, in increasing
// weight: a report holding several recipients counts as its worst.
type bounceKind int

const (
	notBounce     bounceKind = iota // auto-reply, success report, nothing recognized
	bounceDelayed                   // a delay warning: not counted
	bounceDMARC                     // refused for the author's DMARC policy: not counted
	bounceSoft                      // counts softBounceScore
	bounceHard                      // counts hardBounceScore
)

func (k bounceKind) String() string {
	return [...]string{"none", "delayed", "dmarc", "soft", "hard"}[k]
}

// bounceReport is parseBounce's verdict.
type bounceReport struct {
	kind   bounceKind
	status string // enhanced status code, "5.1.1"; "" when none was found
	why    string // a fixed label for the log, never text from the message
}

func (r bounceReport) score() float64 {
	switch r.kind {
	case bounceHard:
		return hardBounceScore
	case bounceSoft:
		return softBounceScore
	}
	return 0
}

// Limits on what parseBounce reads of a message.
const (
	bounceMaxHeader = 64 << 10 // per header block
	bounceMaxPart   = 64 << 10 // bytes read of one part
	bounceMaxText   = 16 << 10 // human-readable text searched
	bounceMaxParts  = 64
	bounceMaxDepth  = 4
	dsnMaxBlocks    = 100
)

// parseBounce classifies a message sent to a bounce address. It never
// fails: what it cannot read is notBounce.
func parseBounce(raw []byte) bounceReport {
	e, _ := message.ReadWithOptions(bytes.NewReader(raw), &message.ReadOptions{MaxHeaderBytes: bounceMaxHeader})
	if e == nil {
		return bounceReport{why: "unreadable"}
	}
	var sc bounceScan
	sc.walk(e, 0)
	if len(sc.rcpts) > 0 {
		return classifyDSN(sc.rcpts, sc.text.String())
	}
	if sc.mdn {
		return bounceReport{why: "read receipt"}
	}
	subject, _ := e.Header.Text("Subject")
	subject = strings.ToLower(subject)
	if isAutoReply(&e.Header, subject) {
		return bounceReport{why: "auto-reply"}
	}
	if !looksLikeBounce(&e.Header, subject) {
		return bounceReport{why: "not a bounce"}
	}
	return classifyText(subject, sc.text.String())
}

// bounceScan collects, from a MIME tree, the DSN recipient blocks and
// the human-readable text. It does not read a returned message
// (message/rfc822, text/rfc822-headers): that is our own post, whose text
// must not be mistaken for the failure report.
type bounceScan struct {
	parts int
	rcpts []dsnRecipient
	mdn   bool // a disposition notification (read receipt)
	text  strings.Builder
}

func (sc *bounceScan) walk(e *message.Entity, depth int) {
	mt, params, err := e.Header.ContentType()
	if err != nil { // unparsable parameters: keep the media type
		mt, _, _ = strings.Cut(strings.ToLower(mt), ";")
		mt = strings.TrimSpace(mt)
	}
	switch {
	case strings.HasPrefix(mt, "multipart/"):
		if mt == "multipart/report" && strings.EqualFold(params["report-type"], "disposition-notification") {
			sc.mdn = true
			return
		}
		mr := e.MultipartReader()
		if mr == nil || depth >= bounceMaxDepth {
			return
		}
		for sc.parts < bounceMaxParts {
			p, err := mr.NextPart()
			if p == nil {
				_ = err // io.EOF, or a broken structure: stop here
				return
			}
			sc.parts++
			sc.walk(p, depth+1)
		}
	case mt == "message/delivery-status" || mt == "message/global-delivery-status":
		sc.rcpts = append(sc.rcpts, parseDSNFields(readCapped(e.Body))...)
	case mt == "" || mt == "text/plain":
		if room := bounceMaxText - sc.text.Len(); room > 0 {
			t := cutOriginal(readCapped(e.Body))
			if len(t) > room {
				t = t[:room]
			}
			sc.text.Write(t)
			sc.text.WriteByte('\n')
		}
	}
}

func readCapped(r io.Reader) []byte {
	b, _ := io.ReadAll(io.LimitReader(r, bounceMaxPart))
	return b
}

// originalMarkers start the copy of the returned message in a plain-text
// bounce; the text after them is not searched.
var originalMarkers = []string{
	"this is a copy of the message",
	"original message follows",
	"below this line is a copy of the message",
	"----- original message -----",
	"-----original message-----",
	"------ this is a copy of",
	"--- the header of the original message is following. ---",
	"----- transcript of session follows -----\n\n\nreceived:",
}

func cutOriginal(b []byte) []byte {
	low := bytes.ToLower(b)
	end := len(b)
	for _, m := range originalMarkers {
		if i := bytes.Index(low, []byte(m)); i >= 0 && i < end {
			end = i
		}
	}
	return b[:end]
}

// dsnRecipient is one per-recipient block of a delivery-status part.
type dsnRecipient struct {
	action, status, diag string
}

// parseDSNFields reads the blocks of a message/delivery-status body (RFC
// 3464 §2.1: a per-message block, then one block per recipient, each a
// header-like list of fields) and returns the recipient blocks.
func parseDSNFields(body []byte) []dsnRecipient {
	var out []dsnRecipient
	br := bufio.NewReader(bytes.NewReader(body))
	for i := 0; i < dsnMaxBlocks; i++ {
		h, err := textproto.ReadHeader(br)
		if h.Has("Action") || h.Has("Status") {
			out = append(out, dsnRecipient{
				action: strings.ToLower(strings.TrimSpace(h.Get("Action"))),
				status: statusField(h.Get("Status")),
				diag:   h.Get("Diagnostic-Code"),
			})
		}
		if err != nil {
			break // the end, or a line that is no field
		}
	}
	return out
}

// statusField returns the code of a Status field ("5.1.1 (user
// unknown)"), or "".
func statusField(v string) string {
	f := strings.Fields(v)
	if len(f) == 0 || !statusRE.MatchString(f[0]) {
		return ""
	}
	return f[0]
}

var statusRE = regexp.MustCompile(`^[245]\.\d{1,3}\.\d{1,3}$`)

func classifyDSN(rcpts []dsnRecipient, text string) bounceReport {
	best := bounceReport{why: "report of no failure"}
	for _, r := range rcpts {
		if rep := classifyRecipient(r, text); rep.kind > best.kind {
			best = rep
		}
	}
	return best
}

func classifyRecipient(r dsnRecipient, text string) bounceReport {
	status := r.status
	if status == "" {
		status = findStatus(r.diag)
	}
	switch r.action {
	case "failed":
	case "delayed":
		return bounceReport{kind: bounceDelayed, status: status, why: "dsn"}
	case "":
		if status == "" || status[0] == '2' {
			return bounceReport{why: "report of no failure"}
		}
	default: // delivered, relayed, expanded
		return bounceReport{status: status, why: "report of no failure"}
	}
	// The diagnostic, or with none the human-readable part, names DMARC.
	if mentionsDMARC(r.diag) || strings.TrimSpace(r.diag) == "" && strings.HasPrefix(status, "5.7.") && mentionsDMARC(text) {
		return bounceReport{kind: bounceDMARC, status: status, why: "dsn"}
	}
	kind := statusKind(status)
	if kind == notBounce {
		return bounceReport{status: status, why: "report of no failure"}
	}
	return bounceReport{kind: kind, status: status, why: "dsn"}
}

// statusKind classifies a failure's status code; "" (a failure without
// a code) is hard.
func statusKind(status string) bounceKind {
	if status == "" {
		return bounceHard
	}
	sub, det := statusParts(status)
	switch {
	case status[0] == '4':
		return bounceSoft
	case status[0] != '5':
		return notBounce
	case sub == "2" && det == "2", sub == "7":
		return bounceSoft
	}
	return bounceHard
}

// statusParts splits "5.1.1" into subject "1" and detail "1".
func statusParts(status string) (sub, det string) {
	_, rest, _ := strings.Cut(status, ".")
	sub, det, _ = strings.Cut(rest, ".")
	return sub, det
}

func mentionsDMARC(s string) bool { return strings.Contains(strings.ToLower(s), "dmarc") }

var (
	enhancedRE = regexp.MustCompile(`[45]\.\d{1,3}\.\d{1,3}`)
	replyRE    = regexp.MustCompile(`(?m)(?:^|[\s:;(])([45][0-5]\d)[ -]`)
)

// findStatus returns the first enhanced status code in s that is not part
// of a longer dotted number (an IP address, a version).
func findStatus(s string) string {
	for _, loc := range enhancedRE.FindAllStringIndex(s, 20) {
		i, j := loc[0], loc[1]
		if i > 0 && (isDigit(s[i-1]) || s[i-1] == '.') {
			continue
		}
		if j < len(s) && (isDigit(s[j]) || s[j] == '.' && j+1 < len(s) && isDigit(s[j+1])) {
			continue
		}
		return s[i:j]
	}
	return ""
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// The phrases of the heuristic, lower-case. quotaPhrases mean a full
// mailbox (soft); hardPhrases a mailbox that is not there (hard).
var (
	quotaPhrases = []string{
		"quota exceeded", "over quota", "overquota", "exceeded storage", "mailbox full",
		"mailbox is full", "insufficient system storage", "mailbox size limit",
	}
	hardPhrases = []string{
		"user unknown", "unknown user", "no such user", "no such recipient", "unknown recipient",
		"recipient unknown", "mailbox unavailable", "mailbox not found", "mailbox does not exist",
		"does not exist", "address rejected", "invalid recipient", "invalid mailbox",
		"account has been disabled", "account is disabled", "no mailbox here", "unrouteable address",
		"no longer available", "permanent error", "permanent fatal error",
	}
	delayPhrases = []string{
		"has not yet been delivered", "not yet been delivered", "will continue to try",
		"still being retried", "no action is required", "delivery attempts will continue",
	}
	// bounceSubjects are bounce reports' usual subjects.
	bounceSubjects = []string{
		"undeliver", "delivery status notification", "returned mail", "mail delivery fail",
		"delivery failure", "failure notice", "could not be delivered", "returned to sender",
		"delivery has failed", "non-delivery", "nondeliverable", "non remis", "unzustellbar",
		"mail delivery system", "delayed mail", "delivery delayed", "warning: message",
	}
	autoReplySubjects = []string{
		"out of office", "automatic reply", "auto-reply", "autoreply", "auto reply",
		"auto response", "autoresponse", "abwesenheit", "réponse automatique", "respuesta automática",
		"on vacation", "away from the office",
	}
)

func containsAny(s string, subs []string) bool {
	for _, sub := range subs {
		if strings.Contains(s, sub) {
			return true
		}
	}
	return false
}

// looksLikeBounce reports whether a message without a DSN carries the
// marks of a bounce report.
func looksLikeBounce(h *message.Header, subject string) bool {
	from := strings.ToLower(h.Get("From"))
	return strings.Contains(from, "mailer-daemon") || strings.Contains(from, "postmaster@") ||
		strings.Contains(from, "mail delivery") || strings.Contains(from, "mail-daemon") ||
		h.Has("X-Failed-Recipients") || containsAny(subject, bounceSubjects)
}

// isAutoReply reports an auto-reply: a vacation notice and its kin. An
// "Auto-Submitted: auto-replied" alone does not tell (Exim's bounces
// carry it).
func isAutoReply(h *message.Header, subject string) bool {
	if h.Has("X-Autoreply") || h.Has("X-Autorespond") || strings.HasPrefix(subject, "auto:") || strings.HasPrefix(subject, "vacation") {
		return true
	}
	if containsAny(subject, autoReplySubjects) {
		return true
	}
	return strings.EqualFold(strings.TrimSpace(h.Get("Auto-Submitted")), "auto-replied") && !looksLikeBounce(h, subject)
}

// classifyText is the heuristic for a bounce without a DSN: subject
// (lower-case) and the human-readable text before the returned message.
func classifyText(subject, text string) bounceReport {
	low := strings.ToLower(text)
	status := findStatus(text)
	if strings.Contains(subject, "delay") || strings.HasPrefix(subject, "warning:") || containsAny(low, delayPhrases) {
		return bounceReport{kind: bounceDelayed, status: status, why: "text"}
	}
	if status == "" {
		if m := replyRE.FindStringSubmatch(text); m != nil {
			status = m[1][:1] + ".0.0"
		}
	}
	if mentionsDMARC(low) && (strings.HasPrefix(status, "5.7.") || strings.Contains(low, "polic")) {
		return bounceReport{kind: bounceDMARC, status: status, why: "text"}
	}
	switch {
	case containsAny(low, quotaPhrases):
		if status == "" || statusKind(status) == bounceHard {
			status = "4.2.2"
		}
		return bounceReport{kind: bounceSoft, status: status, why: "text: mailbox full"}
	case status != "":
		return bounceReport{kind: statusKind(status), status: status, why: "text: status code"}
	case containsAny(low, hardPhrases):
		return bounceReport{kind: bounceHard, status: "5.0.0", why: "text: phrase"}
	}
	return bounceReport{why: "no failure found"}
}

// failureReport classifies a delivery that failed for good in our own
// SMTP session, from its recorded error ("550 5.1.1 ..."; delivery
// records the reply's codes first). Only a receiving server's verdict on
// the recipient's mailbox counts, told by its enhanced status: no such
// user or domain (x.1.1, x.1.2, x.1.3, x.1.6, x.1.10) and a disabled
// mailbox (x.2.1) hard, a full one (x.2.2) soft. Everything else is no
// fact about the member and counts nothing: a smarthost refusing us
// (535, a sending quota 5.4.5), our sender address (5.1.7/5.1.8), the
// message (5.3.4, 5.6.x), policy (5.7.x), the network (4.4.x given up),
// a post erased while queued.
func failureReport(errText string) (bounceReport, bool) {
	// "550 5.1.1 text" from a reply; "5.1.10 text" from the mx
	// transport's own DNS verdicts (null MX, no such domain).
	status := ""
	f := strings.Fields(errText)
	if len(f) >= 2 && len(f[0]) == 3 && (f[0][0] == '4' || f[0][0] == '5') {
		f = f[1:]
	}
	if len(f) >= 1 && statusRE.MatchString(f[0]) {
		status = f[0]
	}
	if status == "" {
		return bounceReport{}, false
	}
	sub, det := statusParts(status)
	rep := bounceReport{status: status, why: "delivery failed"}
	switch {
	case sub == "1" && (det == "1" || det == "2" || det == "3" || det == "6" || det == "10") && status[0] == '5',
		sub == "2" && det == "1" && status[0] == '5':
		rep.kind = bounceHard
	case sub == "2" && det == "2":
		rep.kind = bounceSoft
	default:
		return bounceReport{}, false
	}
	return rep, true
}
