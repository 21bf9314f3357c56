package anon

import (
	"bufio"
	"bytes"

	"github.com/emersion/go-message/textproto"
)

// PreviewText returns the readable text of a message this package wrote
// (an anonymized copy), for notices that quote it: the decoded text of
// its first text/plain part, or "" when it has none (an attachment
// alone). It never fails; a copy it cannot read gives "".
func PreviewText(raw []byte) string {
	end, err := headerEnd(raw)
	if err != nil {
		return ""
	}
	h, err := textproto.ReadHeader(bufio.NewReader(bytes.NewReader(raw[:end])))
	if err != nil {
		return ""
	}
	top, err := (&treeParser{}).parseEntity(h, raw[end:], 0, false)
	if err != nil {
		return ""
	}
	return firstPlain(top)
}

func firstPlain(e *entity) string {
	if e.mi.mediaType == "text/plain" {
		if disp, _ := e.disposition(); disp != "attachment" {
			if b, ok := decodeCTE(e.body, e.mi.cte); ok {
				if s, ok := toUTF8(b, e.mi.params["charset"]); ok {
					return s
				}
			}
		}
	}
	for _, c := range e.children {
		if s := firstPlain(c); s != "" {
			return s
		}
	}
	return ""
}
