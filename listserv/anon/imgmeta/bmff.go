package imgmeta

import (
	"bytes"
	"sort"
)

// heifBrands are the ftyp brands of HEIF, HEIC and AVIF still images and
// image sequences.
var heifBrands = map[string]bool{
	"heic": true, "heix": true, "heim": true, "heis": true,
	"hevc": true, "hevx": true, "hevm": true, "hevs": true,
	"mif1": true, "mif2": true, "msf1": true, "avif": true, "avis": true,
	"avio": true,
}

// isHEIF tells whether data starts with an ftyp box naming a HEIF brand,
// as major brand or among the compatible brands.
func isHEIF(data []byte) bool {
	if len(data) < 16 || string(data[4:8]) != "ftyp" {
		return false
	}
	n := int(be.Uint32(data))
	if n < 16 || n > len(data) || n > 4096 {
		return false
	}
	if heifBrands[string(data[8:12])] {
		return true
	}
	// data[12:16] is minor_version; compatible brands follow.
	for p := 16; p+4 <= n; p += 4 {
		if heifBrands[string(data[p:p+4])] {
			return true
		}
	}
	return false
}

// box is one ISO BMFF box: its type and where its header and payload lie
// in the buffer it was read from.
type box struct {
	typ          string
	start        int // first byte of the header
	payloadStart int
	end          int // one past the last payload byte
}

// readBoxes splits buf into boxes. A box of size 0 extends to the end of
// buf; size 1 means a 64-bit size follows the type.
func readBoxes(buf []byte) ([]box, error) {
	var boxes []box
	pos := 0
	for pos < len(buf) {
		if pos+8 > len(buf) {
			return nil, malformed(fmtHEIC, "truncated box header")
		}
		size := uint64(be.Uint32(buf[pos:]))
		typ := string(buf[pos+4 : pos+8])
		hdr := uint64(8)
		switch size {
		case 0:
			size = uint64(len(buf) - pos)
		case 1:
			if pos+16 > len(buf) {
				return nil, malformed(fmtHEIC, "truncated box header")
			}
			size = be.Uint64(buf[pos+8:])
			hdr = 16
		}
		if size < hdr || size > uint64(len(buf)-pos) {
			return nil, malformed(fmtHEIC, "box size out of range")
		}
		boxes = append(boxes, box{typ, pos, pos + int(hdr), pos + int(size)})
		pos += int(size)
	}
	return boxes, nil
}

// span is a byte range [off, off+n) of the file.
type span struct{ off, n uint64 }

// stripBMFF zeroes, in a copy, the bytes of every metadata item (Exif, XMP
// and other mime items, uri items) of the top-level meta box. Nothing is
// moved, so every offset in the file stays valid.
func stripBMFF(data []byte) ([]byte, error) {
	top, err := readBoxes(data)
	if err != nil {
		return nil, err
	}
	var meta *box
	for i := range top {
		if top[i].typ == "meta" {
			if meta != nil {
				return nil, malformed(fmtHEIC, "more than one meta box")
			}
			meta = &top[i]
		}
	}
	if meta == nil {
		return nil, malformed(fmtHEIC, "no meta box")
	}
	// meta is a FullBox: 4 bytes of version and flags, then boxes.
	if meta.end-meta.payloadStart < 4 {
		return nil, malformed(fmtHEIC, "short meta box")
	}
	children, err := readBoxes(data[meta.payloadStart+4 : meta.end])
	if err != nil {
		return nil, err
	}
	base := meta.payloadStart + 4
	var iinf, iloc, idat []byte
	idatOff := 0
	for _, c := range children {
		payload := data[base+c.payloadStart : base+c.end]
		var slot *[]byte
		switch c.typ {
		case "iinf":
			slot = &iinf
		case "iloc":
			slot = &iloc
		case "idat":
			slot = &idat
			idatOff = base + c.payloadStart
		default:
			continue
		}
		if *slot != nil {
			return nil, malformed(fmtHEIC, "duplicate "+c.typ+" box")
		}
		*slot = payload
	}
	if iinf == nil {
		// No item information: there are no items, so no metadata items.
		return data, nil
	}
	ids, err := metadataItems(iinf)
	if err != nil {
		return nil, err
	}
	if len(ids) == 0 {
		return data, nil
	}
	if iloc == nil {
		return nil, malformed(fmtHEIC, "items without iloc box")
	}
	spans, err := itemSpans(iloc, ids, len(data), idat, idatOff)
	if err != nil {
		return nil, err
	}
	// Only zero payload bytes that no walker reads: those of a top-level
	// box other than ftyp and meta (normally mdat), or of idat. Zeroing a
	// box header or the meta box would break the file and make a second
	// pass differ from the first.
	// Top-level boxes come in file order and idat lies inside meta, so
	// inserting idat keeps allowed sorted for the binary search.
	var allowed []span
	for _, b := range top {
		if b.typ == "meta" && idat != nil {
			allowed = append(allowed, span{uint64(idatOff), uint64(len(idat))})
		}
		if b.typ != "ftyp" && b.typ != "meta" {
			allowed = append(allowed, span{uint64(b.payloadStart), uint64(b.end - b.payloadStart)})
		}
	}
	out := bytes.Clone(data)
	for _, s := range spans {
		if !inside(s, allowed) {
			return nil, malformed(fmtHEIC, "metadata item outside a data box")
		}
		clear(out[s.off : s.off+s.n])
	}
	return out, nil
}

// inside tells whether s lies within one of the spans in allowed, which
// are sorted and do not overlap.
func inside(s span, allowed []span) bool {
	// The last span starting at or before s.off is the only candidate.
	i := sort.Search(len(allowed), func(i int) bool { return allowed[i].off > s.off })
	if i == 0 {
		return false
	}
	a := allowed[i-1]
	return s.off+s.n <= a.off+a.n
}

// fullBox splits a FullBox payload into version, flags and the rest.
func fullBox(p []byte) (version byte, rest []byte, ok bool) {
	if len(p) < 4 {
		return 0, nil, false
	}
	return p[0], p[4:], true
}

// metadataItems reads the iinf payload and returns the IDs of the items
// that are metadata: 'Exif', 'mime' (XMP is application/rdf+xml; other
// mime items are descriptive too, never pixels) and 'uri '.
func metadataItems(iinf []byte) (map[uint32]bool, error) {
	v, rest, ok := fullBox(iinf)
	if !ok {
		return nil, malformed(fmtHEIC, "short iinf box")
	}
	switch v {
	case 0:
		if len(rest) < 2 {
			return nil, malformed(fmtHEIC, "short iinf box")
		}
		rest = rest[2:]
	default:
		if len(rest) < 4 {
			return nil, malformed(fmtHEIC, "short iinf box")
		}
		rest = rest[4:]
	}
	// The entry count is not trusted: the infe boxes present are walked.
	entries, err := readBoxes(rest)
	if err != nil {
		return nil, err
	}
	ids := map[uint32]bool{}
	for _, e := range entries {
		if e.typ != "infe" {
			continue
		}
		id, itemType, err := parseInfe(rest[e.payloadStart:e.end])
		if err != nil {
			return nil, err
		}
		switch itemType {
		case "Exif", "mime", "uri ":
			ids[id] = true
		}
	}
	return ids, nil
}

// parseInfe reads the item ID and item_type of an ItemInfoEntry of
// version 2 or 3. The rest (item name, mime content type) is not needed:
// every mime item is dropped, whatever its content type.
func parseInfe(p []byte) (id uint32, itemType string, err error) {
	v, rest, ok := fullBox(p)
	if !ok {
		return 0, "", malformed(fmtHEIC, "short infe box")
	}
	switch v {
	case 2:
		if len(rest) < 2 {
			return 0, "", malformed(fmtHEIC, "short infe box")
		}
		id, rest = uint32(be.Uint16(rest)), rest[2:]
	case 3:
		if len(rest) < 4 {
			return 0, "", malformed(fmtHEIC, "short infe box")
		}
		id, rest = be.Uint32(rest), rest[4:]
	default:
		return 0, "", malformed(fmtHEIC, "unsupported infe version")
	}
	// protection_index(2), then item_type(4).
	if len(rest) < 6 {
		return 0, "", malformed(fmtHEIC, "short infe box")
	}
	return id, string(rest[2:6]), nil
}

// reader reads big-endian integers of 0, 2, 4 or 8 bytes from a slice and
// remembers whether it ran out.
type reader struct {
	b   []byte
	bad bool
}

func (r *reader) uint(size int) uint64 {
	if r.bad || len(r.b) < size {
		r.bad = true
		return 0
	}
	var v uint64
	for _, c := range r.b[:size] {
		v = v<<8 | uint64(c)
	}
	r.b = r.b[size:]
	return v
}

// itemSpans reads the iloc payload and returns the file ranges holding the
// extents of the items in ids. It checks every range against the file (or
// the idat box) and fails on what it cannot locate.
func itemSpans(iloc []byte, ids map[uint32]bool, fileLen int, idat []byte, idatOff int) ([]span, error) {
	v, rest, ok := fullBox(iloc)
	if !ok {
		return nil, malformed(fmtHEIC, "short iloc box")
	}
	if v > 2 {
		return nil, malformed(fmtHEIC, "unsupported iloc version")
	}
	r := &reader{b: rest}
	sizes := r.uint(2)
	offSize, lenSize := int(sizes>>12&0xF), int(sizes>>8&0xF)
	baseSize, idxSize := int(sizes>>4&0xF), int(sizes&0xF)
	if v == 0 {
		idxSize = 0 // reserved in version 0
	}
	for _, s := range []int{offSize, lenSize, baseSize, idxSize} {
		if s != 0 && s != 4 && s != 8 {
			return nil, malformed(fmtHEIC, "unsupported iloc field size")
		}
	}
	var count uint64
	if v < 2 {
		count = r.uint(2)
	} else {
		count = r.uint(4)
	}
	var spans []span
	for i := uint64(0); i < count && !r.bad; i++ {
		var id uint64
		if v < 2 {
			id = r.uint(2)
		} else {
			id = r.uint(4)
		}
		method := uint64(0)
		if v >= 1 {
			method = r.uint(2) & 0xF
		}
		dataRef := r.uint(2)
		baseOff := r.uint(baseSize)
		extents := r.uint(2)
		if idxSize+offSize+lenSize == 0 && extents > 1 {
			// Extents with no fields are all the same (base offset,
			// whole length) and take no bytes: one is enough, and
			// looping over 65535 of them per item would be a cheap
			// way to burn CPU.
			extents = 1
		}
		for e := uint64(0); e < extents && !r.bad; e++ {
			r.uint(idxSize)
			off, n := r.uint(offSize), r.uint(lenSize)
			if r.bad || !ids[uint32(id)] {
				continue
			}
			if dataRef != 0 {
				// The item lives in another file: nothing here to zero.
				continue
			}
			off += baseOff
			if off < baseOff {
				return nil, malformed(fmtHEIC, "item offset overflows")
			}
			var limit uint64
			switch method {
			case 0:
				limit = uint64(fileLen)
			case 1:
				if idat == nil {
					return nil, malformed(fmtHEIC, "idat item without idat box")
				}
				limit = uint64(len(idat))
			default:
				return nil, malformed(fmtHEIC, "unsupported item construction method")
			}
			if off > limit {
				return nil, malformed(fmtHEIC, "item past end of data")
			}
			if n == 0 { // length 0 means "to the end"
				n = limit - off
			}
			if n > limit-off {
				return nil, malformed(fmtHEIC, "item past end of data")
			}
			if method == 1 {
				off += uint64(idatOff)
			}
			spans = append(spans, span{off, n})
		}
	}
	if r.bad {
		return nil, malformed(fmtHEIC, "truncated iloc box")
	}
	return spans, nil
}
