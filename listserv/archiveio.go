package listserv

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/mail"
	"sort"
	"strings"
	"time"

	"listserv/listserv/anon"
	"listserv/mailstore"
)

// Archive export and import, in mbox form (mboxrd: a "From " line starts
// each message, body lines matching ">*From " gain one ">", LF line
// ends). Export writes the archive as members read it: already
// anonymized. Import anonymizes every message on the way in, exactly as
// a post, so a group can bring its history from another list manager:
//
//   - messages are committed in Date order (file order for equal or
//     missing dates), so UIDs follow time; each keeps its own Date (one
//     without gets its neighbour's, one in the future today's);
//   - an author who is a member posts under their alias; any other author
//     becomes a former member (state removed, never receiving mail) with
//     an alias of their own, the same for all their messages in one
//     import, so threads and voices stay readable;
//   - threading is kept: each imported Message-ID is mapped to the new one
//     as posts are, so replies later in the file point at their parents;
//   - nothing is delivered, and robots' mail is imported like the rest
//     (an archive is what it is).
//
// Importing an export of another group works the same way: the other
// group's aliases become this group's former members.

// maxImportMessage caps one message in an imported mbox.
const maxImportMessage = 64 << 20

// ExportArchive writes group's archive to w as an mbox, oldest first, and
// returns how many posts it wrote.
func (s *Service) ExportArchive(ctx context.Context, group string, w io.Writer) (int, error) {
	uids, err := s.store.ArchiveUIDs(group)
	if err != nil {
		return 0, s.storeErr(err, "no such group")
	}
	bw := bufio.NewWriter(w)
	n := 0
	for _, uid := range uids {
		if err := ctx.Err(); err != nil {
			return n, err
		}
		raw, meta, err := s.store.ArchivedPost(group, uid)
		if errors.Is(err, mailstore.ErrNotFound) {
			continue // erased meanwhile
		}
		if err != nil {
			return n, err
		}
		fmt.Fprintf(bw, "From MAILER-DAEMON %s\n", meta.Date.UTC().Format("Mon Jan _2 15:04:05 2006"))
		writeMboxrd(bw, raw)
		n++
	}
	return n, bw.Flush()
}

// writeMboxrd writes one CRLF message with LF line ends, quoting "From "
// lines, and a blank line after it.
func writeMboxrd(w *bufio.Writer, raw []byte) {
	for len(raw) > 0 {
		line, rest, _ := bytes.Cut(raw, []byte("\r\n"))
		raw = rest
		if bytes.HasPrefix(bytes.TrimLeft(line, ">"), []byte("From ")) {
			w.WriteByte('>')
		}
		w.Write(line)
		w.WriteByte('\n')
	}
	w.WriteByte('\n')
}

// readMbox splits an mbox (mboxrd or mboxo, LF or CRLF) into messages
// with CRLF line ends, unquoting ">From " lines.
func readMbox(r io.Reader) ([][]byte, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), maxImportMessage)
	var msgs [][]byte
	var cur *bytes.Buffer
	for sc.Scan() {
		line := bytes.TrimSuffix(sc.Bytes(), []byte("\r"))
		if bytes.HasPrefix(line, []byte("From ")) {
			if cur != nil {
				msgs = append(msgs, finishMboxMessage(cur.Bytes()))
			}
			cur = &bytes.Buffer{}
			continue
		}
		if cur == nil {
			if len(bytes.TrimSpace(line)) == 0 {
				continue
			}
			return nil, errors.New("not an mbox: it does not start with a \"From \" line")
		}
		if bytes.HasPrefix(bytes.TrimLeft(line, ">"), []byte("From ")) && line[0] == '>' {
			line = line[1:]
		}
		if cur.Len()+len(line) > maxImportMessage {
			return nil, fmt.Errorf("a message in the mbox is larger than %d bytes", maxImportMessage)
		}
		cur.Write(line)
		cur.WriteString("\r\n")
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if cur != nil {
		msgs = append(msgs, finishMboxMessage(cur.Bytes()))
	}
	return msgs, nil
}

// finishMboxMessage drops the blank line the mbox puts after a message
// and removes NUL bytes, which no message may carry.
func finishMboxMessage(b []byte) []byte {
	b = bytes.TrimSuffix(b, []byte("\r\n"))
	return bytes.ReplaceAll(b, []byte{0}, nil)
}

// ImportReport says what ImportArchive did.
type ImportReport struct {
	Imported int // posts archived
	Skipped  int // messages that could not be read or anonymized
	Authors  int // former members created for authors who are not members
}

// ImportArchive anonymizes the messages of the mbox r into group's
// archive (see the comment at the top of this file). A message that
// cannot be parsed or anonymized safely is skipped and counted; a store
// failure stops the import (what was committed stays).
func (s *Service) ImportArchive(ctx context.Context, group string, r io.Reader) (ImportReport, error) {
	var rep ImportReport
	if _, err := s.store.Group(group); err != nil {
		return rep, s.storeErr(err, "no such group")
	}
	raws, err := readMbox(r)
	if err != nil {
		return rep, &Error{Kind: Malformed, Public: err.Error(), Err: err}
	}
	type item struct {
		msg  *anon.Message
		date time.Time
	}
	var items []item
	for _, raw := range raws {
		m, err := anon.Parse(raw)
		if err != nil || m.From.Addr == "" {
			rep.Skipped++
			continue
		}
		d, err := mail.ParseDate(m.Header.Get("Date"))
		if err != nil {
			d = time.Time{}
		}
		items = append(items, item{m, d.UTC()})
	}
	// Date order; an undated message keeps its place, dated like the
	// message before it (or after it, at the start of the file); a date
	// in the future is today's, so that retention is not fooled.
	now := s.now().UTC()
	var last time.Time
	for i := range items {
		if items[i].date.After(now) {
			items[i].date = now
		}
		if items[i].date.IsZero() {
			items[i].date = last
		}
		last = items[i].date
	}
	for i := len(items) - 2; i >= 0; i-- {
		if items[i].date.IsZero() {
			items[i].date = items[i+1].date
		}
	}
	sort.SliceStable(items, func(i, j int) bool { return items[i].date.Before(items[j].date) })

	authors := map[string]mailstore.Member{}
	for _, it := range items {
		if err := ctx.Err(); err != nil {
			return rep, err
		}
		m, created, err := s.importAuthor(group, it.msg.From.Addr, authors)
		if err != nil {
			return rep, unavailable(err)
		}
		if created {
			rep.Authors++
		}
		date := it.date
		if date.IsZero() {
			date = s.now().UTC()
		}
		p, err := s.anonymizeAt(group, it.msg, &m, date)
		if err != nil {
			var le *Error
			if errors.As(err, &le) && le.Kind == Unavailable {
				return rep, err
			}
			rep.Skipped++
			continue
		}
		p.NoDelivery = true
		c, err := s.store.CommitPost(indexed(*p))
		if err != nil {
			return rep, unavailable(err)
		}
		rep.Imported++
		s.emit(Event{Kind: PostArchived, Group: group, UID: c.UID})
	}
	s.log.Info("archive imported", "group", group, "posts", rep.Imported, "skipped", rep.Skipped, "former_members", rep.Authors)
	return rep, nil
}

// importAuthor returns the member an imported message is from: the
// current member with that address, or a former member made for it (one
// per address per import).
func (s *Service) importAuthor(group, addr string, seen map[string]mailstore.Member) (mailstore.Member, bool, error) {
	key := strings.ToLower(addr)
	if m, ok := seen[key]; ok {
		return m, false, nil
	}
	m, err := s.store.MemberByAddr(group, addr)
	if errors.Is(err, mailstore.ErrNotFound) {
		m, err = s.knownAuthor(group, addr)
	}
	created := false
	if errors.Is(err, mailstore.ErrNotFound) {
		m, err = s.store.AddMember(group, addr, mailstore.Removed, false, newAlias)
		created = true
	}
	if err != nil {
		return m, false, err
	}
	seen[key] = m
	return m, created, nil
}

// knownAuthor finds who wrote an imported message when the address is no
// current member's: the member behind one of this group's alias
// addresses (an export of this group imported back), or a former member
// with that address (an earlier import, someone who left), so that their
// posts stay theirs, under one alias, and an erasure finds them all.
func (s *Service) knownAuthor(group, addr string) (mailstore.Member, error) {
	at := strings.LastIndexByte(addr, '@')
	if at > 0 && strings.EqualFold(addr[at+1:], s.domain) {
		if slug, ok := strings.CutPrefix(strings.ToLower(addr[:at]), group+"+"); ok {
			return s.store.MemberBySlug(group, slug)
		}
	}
	ms, err := s.store.Members(group)
	if err != nil {
		return mailstore.Member{}, err
	}
	for i := len(ms) - 1; i >= 0; i-- {
		if ms[i].State == mailstore.Removed && mailstore.NormAddr(ms[i].Addr) == mailstore.NormAddr(addr) {
			return ms[i], nil
		}
	}
	return mailstore.Member{}, mailstore.ErrNotFound
}
