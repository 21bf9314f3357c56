package imgmeta

import (
	"bytes"
	"encoding/binary"
	"testing"
)

// bbox builds an ISO BMFF box.
func bbox(typ string, payload ...[]byte) []byte {
	body := cat(payload...)
	return cat(binary.BigEndian.AppendUint32(nil, uint32(8+len(body))), []byte(typ), body)
}

// fullbox builds an ISO BMFF FullBox with flags 0.
func fullbox(typ string, version byte, payload ...[]byte) []byte {
	return bbox(typ, append([]byte{version, 0, 0, 0}, cat(payload...)...))
}

// uintN appends v as a big-endian integer of size bytes (0, 2, 4 or 8).
func uintN(b []byte, size int, v uint64) []byte {
	for i := size - 1; i >= 0; i-- {
		b = append(b, byte(v>>(8*i)))
	}
	return b
}

var (
	hvcData  = []byte("hvc1-coded-pixels-must-stay")
	exifData = cat([]byte{0, 0, 0, 6}, []byte("Exif\x00\x00"), exifTIFF(6), []byte("heic-exif-secret"))
	xmpData  = []byte("<x:xmpmeta><dc:creator>heic-xmp-secret xmp-secret-author</dc:creator></x:xmpmeta>")
)

// heifLayout selects the iloc encoding of a synthetic HEIC file.
type heifLayout struct {
	ilocVersion                         byte
	offSize, lenSize, baseSize, idxSize int
	xmpInIdat                           bool // construction_method 1
	infeVersion                         byte
}

// heic builds a HEIC file: ftyp, meta (hdlr, pitm, iinf with hvc1, Exif
// and XMP items, iloc, optional idat) and an mdat holding the item data.
// It returns the file and the offset of the hvc1 data.
func heic(l heifLayout) (file []byte, hvcOff int) {
	ftyp := bbox("ftyp", []byte("heic\x00\x00\x00\x00mif1heic"))
	infe := func(id int, typ string, extra string) []byte {
		var idb []byte
		if l.infeVersion == 3 {
			idb = binary.BigEndian.AppendUint32(nil, uint32(id))
		} else {
			idb = binary.BigEndian.AppendUint16(nil, uint16(id))
		}
		return fullbox("infe", l.infeVersion, idb, []byte{0, 0}, []byte(typ), []byte("\x00"+extra))
	}
	iinf := fullbox("iinf", 0, []byte{0, 3},
		infe(1, "hvc1", ""), infe(2, "Exif", ""), infe(3, "mime", "application/rdf+xml\x00"))
	var idat []byte
	if l.xmpInIdat {
		idat = bbox("idat", []byte("pad!"), xmpData)
	}
	build := func(mdatStart int) []byte {
		b := []byte{byte(l.offSize<<4 | l.lenSize), byte(l.baseSize<<4 | l.idxSize)}
		if l.ilocVersion < 2 {
			b = binary.BigEndian.AppendUint16(b, 3)
		} else {
			b = binary.BigEndian.AppendUint32(b, 3)
		}
		// item writes one single-extent item at absolute offset abs
		// (method 0) or at abs within idat's payload (method 1), split
		// between base_offset and extent_offset as the sizes allow.
		item := func(id, method int, abs, n uint64) {
			if l.ilocVersion < 2 {
				b = binary.BigEndian.AppendUint16(b, uint16(id))
			} else {
				b = binary.BigEndian.AppendUint32(b, uint32(id))
			}
			if l.ilocVersion >= 1 {
				b = binary.BigEndian.AppendUint16(b, uint16(method))
			}
			base := uint64(0)
			switch {
			case l.baseSize > 0 && l.offSize == 0:
				base = abs
			case l.baseSize > 0 && method == 0:
				base = uint64(mdatStart)
			}
			b = append(b, 0, 0) // data_reference_index
			b = uintN(b, l.baseSize, base)
			b = append(b, 0, 1) // one extent
			if l.ilocVersion >= 1 {
				b = uintN(b, l.idxSize, 0)
			}
			b = uintN(b, l.offSize, abs-base)
			b = uintN(b, l.lenSize, n)
		}
		m := uint64(mdatStart)
		item(1, 0, m, uint64(len(hvcData)))
		item(2, 0, m+uint64(len(hvcData)), uint64(len(exifData)))
		if l.xmpInIdat {
			item(3, 1, 4, uint64(len(xmpData)))
		} else {
			item(3, 0, m+uint64(len(hvcData)+len(exifData)), uint64(len(xmpData)))
		}
		meta := fullbox("meta", 0,
			fullbox("hdlr", 0, []byte("\x00\x00\x00\x00pict\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00")),
			fullbox("pitm", 0, []byte{0, 1}),
			iinf, fullbox("iloc", l.ilocVersion, b), idat)
		mdat := hvcData
		if !l.xmpInIdat {
			mdat = cat(hvcData, exifData, xmpData)
		} else {
			mdat = cat(hvcData, exifData)
		}
		return cat(ftyp, meta, bbox("mdat", mdat))
	}
	// The iloc size does not depend on the offsets: build once to find
	// where mdat's payload starts, then again with the real offsets.
	first := build(0)
	start := bytes.LastIndex(first, []byte("mdat")) + 4
	return build(start), start
}

func TestHEICStripsMetadata(t *testing.T) {
	layouts := []heifLayout{
		{ilocVersion: 1, offSize: 4, lenSize: 4, infeVersion: 2},
		{ilocVersion: 0, offSize: 4, lenSize: 4, infeVersion: 2},
		{ilocVersion: 1, offSize: 8, lenSize: 8, baseSize: 4, idxSize: 4, infeVersion: 2},
		{ilocVersion: 2, offSize: 4, lenSize: 8, baseSize: 8, infeVersion: 3},
		{ilocVersion: 1, offSize: 4, lenSize: 4, xmpInIdat: true, infeVersion: 2},
		{ilocVersion: 1, offSize: 0, lenSize: 4, baseSize: 4, infeVersion: 2},
	}
	for _, l := range layouts {
		in, hvcOff := heic(l)
		if Detect(in) != fmtHEIC {
			t.Fatalf("%+v: not detected", l)
		}
		if !bytes.Equal(in[hvcOff:hvcOff+len(hvcData)], hvcData) {
			t.Fatalf("%+v: test builder misplaced mdat", l)
		}
		out := mustStrip(t, in, fmtHEIC)
		assertNoSecrets(t, out)
		if bytes.Contains(out, []byte("Exif\x00\x00II")) {
			t.Errorf("%+v: Exif header survived", l)
		}
		if len(out) != len(in) {
			t.Errorf("%+v: length changed", l)
		}
		if !bytes.Equal(out[hvcOff:hvcOff+len(hvcData)], hvcData) {
			t.Errorf("%+v: image item changed", l)
		}
		// Only the metadata bytes changed.
		changed := 0
		for i := range in {
			if in[i] != out[i] {
				changed++
			}
		}
		if changed == 0 || changed > len(exifData)+len(xmpData) {
			t.Errorf("%+v: %d bytes changed", l, changed)
		}
	}
}

func TestHEICNoMetadataUnchanged(t *testing.T) {
	ftyp := bbox("ftyp", []byte("avif\x00\x00\x00\x00mif1avif"))
	iloc := fullbox("iloc", 0, []byte{0x44, 0, 0, 1, 0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 4})
	in := cat(ftyp, fullbox("meta", 0,
		fullbox("iinf", 0, []byte{0, 1}, fullbox("infe", 2, []byte{0, 1, 0, 0}, []byte("av01\x00"))),
		iloc), bbox("mdat", []byte("av01")))
	if out := mustStrip(t, in, fmtHEIC); !bytes.Equal(out, in) {
		t.Error("image without metadata changed")
	}
}

func TestHEICMalformed(t *testing.T) {
	good, _ := heic(heifLayout{ilocVersion: 1, offSize: 4, lenSize: 4, infeVersion: 2})
	iloc := bytes.Index(good, []byte("iloc"))
	patch := func(off int, b ...byte) []byte {
		c := bytes.Clone(good)
		copy(c[off:], b)
		return c
	}
	infe := bytes.Index(good, []byte("infe"))
	// The Exif extent: item 2 starts after item 1 (2+2+2+2+4+4 bytes).
	exifExtent := iloc + 4 + 4 + 2 + 2 + 16 + 2 + 2 + 2 + 2
	cases := map[string][]byte{
		"iloc version 3":     patch(iloc+4, 3),
		"iloc offset size 2": patch(iloc+8, 0x24),
		"infe version 1":     patch(infe+4, 1),
		"extent past end":    patch(exifExtent, 0x7F, 0, 0, 0),
		"extent in meta":     patch(exifExtent, 0, 0, 0, 40),
		"box past end":       good[:len(good)-3],
		"no meta":            bbox("ftyp", []byte("heic\x00\x00\x00\x00mif1heic")),
		"truncated iloc": func() []byte {
			c := bytes.Clone(good)
			binary.BigEndian.PutUint16(c[iloc+6+4:], 400) // item_count
			return c
		}(),
	}
	for name, in := range cases {
		t.Run(name, func(t *testing.T) { mustMalformed(t, in) })
	}
}
