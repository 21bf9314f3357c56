package msgindex

import (
	"net/mail"
	"strings"

	"listserv/listserv/anon"
	"listserv/mailstore"
)

// envelope reads the envelope fields of a header.
func envelope(fields []HeaderField) mailstore.Envelope {
	var e mailstore.Envelope
	if d := get(fields, "Date"); d != "" {
		if t, err := mail.ParseDate(d); err == nil {
			e.Date = t
		}
	}
	e.Subject = DecodeHeader(get(fields, "Subject"))
	e.From = addressList(get(fields, "From"))
	e.Sender = addressList(get(fields, "Sender"))
	e.ReplyTo = addressList(get(fields, "Reply-To"))
	e.To = addressList(get(fields, "To"))
	e.Cc = addressList(get(fields, "Cc"))
	e.Bcc = addressList(get(fields, "Bcc"))
	e.InReplyTo = anon.MessageIDs(get(fields, "In-Reply-To"))
	if ids := anon.MessageIDs(get(fields, "Message-ID")); len(ids) > 0 {
		e.MessageID = ids[0]
	}
	return e
}

var addrParser = &mail.AddressParser{WordDecoder: wordDecoder}

// addressList parses an address list; when the whole list does not parse,
// each comma-separated item that does is kept.
func addressList(v string) []mailstore.Address {
	if v == "" {
		return nil
	}
	list, err := addrParser.ParseList(v)
	if err != nil {
		list = nil
		for _, item := range strings.Split(v, ",") {
			if a, err := addrParser.Parse(item); err == nil {
				list = append(list, a)
			}
		}
	}
	var out []mailstore.Address
	for _, a := range list {
		at := strings.LastIndexByte(a.Address, '@')
		if at < 0 {
			continue
		}
		out = append(out, mailstore.Address{Name: toUTF8(a.Name), Mailbox: a.Address[:at], Host: a.Address[at+1:]})
	}
	return out
}
