package listserv

import (
	"bytes"
	"mime"
	"mime/quotedprintable"

	"github.com/emersion/go-message/textproto"

	"listserv/mailstore"
)

// composeServiceMail renders template name for group and writes a
// complete message to one recipient. Header values go through
// textproto.WriteHeader, which refuses CR and LF, and the subject is
// RFC 2047-encoded, so no template value can add a header line.
func (s *Service) composeServiceMail(group, to, name string, data any) ([]byte, error) {
	subject, body, err := s.tmpl.Render(group, name, data)
	if err != nil {
		return nil, err
	}
	var h textproto.Header
	// textproto.Header.Add inserts at the top: add in reverse order.
	fields := [][2]string{
		{"MIME-Version", "1.0"},
		{"From", mime.QEncoding.Encode("utf-8", group+" admins") + " <" + Address(group, RoleOwner, "", s.domain) + ">"},
		{"To", "<" + to + ">"},
		{"Subject", mime.QEncoding.Encode("utf-8", subject)},
		{"Date", s.now().UTC().Format("Mon, 02 Jan 2006 15:04:05 -0700")},
		{"Message-ID", "<" + s.newMessageID() + ">"},
		{"Auto-Submitted", "auto-generated"},
		{"List-Id", s.listID(group)},
		{"Content-Type", "text/plain; charset=utf-8"},
		{"Content-Transfer-Encoding", "quoted-printable"},
	}
	for i := len(fields) - 1; i >= 0; i-- {
		h.Add(fields[i][0], fields[i][1])
	}
	var buf bytes.Buffer
	if err := textproto.WriteHeader(&buf, h); err != nil {
		return nil, err
	}
	qp := quotedprintable.NewWriter(&buf)
	if _, err := qp.Write(crlf([]byte(body))); err != nil {
		return nil, err
	}
	if err := qp.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// crlf turns every line ending into CRLF.
func crlf(b []byte) []byte {
	b = bytes.ReplaceAll(b, []byte("\r\n"), []byte("\n"))
	return bytes.ReplaceAll(b, []byte("\n"), []byte("\r\n"))
}

// welcomeData is what welcome.tmpl sees.
type welcomeData struct {
	Group, Alias, AliasAddress, PostAddress, OwnerAddress string
}

func (s *Service) sendWelcome(group string, m *mailstore.Member) error {
	raw, err := s.composeServiceMail(group, m.Addr, "welcome", welcomeData{
		Group:        group,
		Alias:        m.Alias,
		AliasAddress: Address(group, RolePrivate, m.Slug, s.domain),
		PostAddress:  Address(group, RolePost, "", s.domain),
		OwnerAddress: Address(group, RoleOwner, "", s.domain),
	})
	if err != nil {
		return err
	}
	if err := s.store.Enqueue(group, raw, []mailstore.Recipient{{MemberID: m.ID, Addr: m.Addr}}); err != nil {
		return err
	}
	s.wake()
	return nil
}
