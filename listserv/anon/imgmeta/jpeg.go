package imgmeta

import (
	"bytes"
	"encoding/binary"
)

// JPEG marker codes used by the walker (the byte after 0xFF).
const (
	mSOI   = 0xD8
	mEOI   = 0xD9
	mSOS   = 0xDA
	mRST0  = 0xD0
	mRST7  = 0xD7
	mTEM   = 0x01
	mAPP0  = 0xE0
	mAPP1  = 0xE1
	mAPP2  = 0xE2
	mAPP14 = 0xEE
	mAPP15 = 0xEF
	mCOM   = 0xFE
)

var (
	jfifID  = []byte("JFIF\x00")
	iccID   = []byte("ICC_PROFILE\x00")
	adobeID = []byte("Adobe")
	exifID  = []byte("Exif\x00\x00")
)

// stripJPEG copies the marker segments from SOI to EOI, dropping every
// segment that can carry metadata, and the entropy-coded data of each scan
// verbatim. Bytes after EOI (phone trailers, appended motion-photo videos,
// MPF secondary images) are dropped.
func stripJPEG(data []byte) ([]byte, error) {
	if len(data) < 2 || data[0] != 0xFF || data[1] != mSOI {
		return nil, malformed(fmtJPEG, "missing SOI")
	}
	out := make([]byte, 0, len(data))
	out = append(out, 0xFF, mSOI)
	wroteOrientation := false
	pos := 2
	for {
		// A marker is 0xFF, optionally more 0xFF fill bytes, then a code.
		// Fill bytes are not copied: they carry nothing.
		if pos >= len(data) {
			return nil, malformed(fmtJPEG, "missing EOI")
		}
		if data[pos] != 0xFF {
			return nil, malformed(fmtJPEG, "expected a marker")
		}
		for pos < len(data) && data[pos] == 0xFF {
			pos++
		}
		if pos >= len(data) {
			return nil, malformed(fmtJPEG, "missing EOI")
		}
		m := data[pos]
		pos++
		switch {
		case m == mEOI:
			// Everything after EOI is dropped on purpose.
			return append(out, 0xFF, mEOI), nil
		case m == mSOI || m == 0x00:
			return nil, malformed(fmtJPEG, "unexpected marker")
		case m == mTEM || (m >= mRST0 && m <= mRST7):
			// Standalone markers have no length.
			out = append(out, 0xFF, m)
			continue
		}
		if pos+2 > len(data) {
			return nil, malformed(fmtJPEG, "truncated segment length")
		}
		n := int(be.Uint16(data[pos:]))
		if n < 2 || pos+n > len(data) {
			return nil, malformed(fmtJPEG, "segment length out of range")
		}
		payload := data[pos+2 : pos+n]
		seg := data[pos-2 : pos+n] // 0xFF, marker, length, payload
		pos += n

		switch {
		case m == mAPP0:
			if bytes.HasPrefix(payload, jfifID) {
				out = appendJFIF(out, payload)
			}
		case m == mAPP1:
			// Exif, XMP and extended XMP all live in APP1. Only the
			// Exif orientation survives, in a fresh minimal Exif.
			if !wroteOrientation && bytes.HasPrefix(payload, exifID) {
				if o := exifOrientation(payload[len(exifID):]); o > 1 {
					out = appendMinimalExif(out, o)
					wroteOrientation = true
				}
			}
		case m == mAPP2:
			if bytes.HasPrefix(payload, iccID) {
				out = append(out, seg...)
			}
		case m == mAPP14:
			if bytes.HasPrefix(payload, adobeID) {
				out = append(out, seg...)
			}
		case m > mAPP0 && m <= mAPP15, m == mCOM, m >= 0xF0 && m <= 0xFD:
			// Other APPn (Photoshop/IPTC, MPF, FlashPix, Ducky, ...),
			// comments and the JPGn extension markers (0xF0-0xFD, which
			// no baseline or progressive decoder needs): dropped.
		default:
			// Tables, frame headers, DRI, scan headers, JPG extensions.
			out = append(out, seg...)
		}
		if m == mSOS {
			end, err := scanEnd(data, pos)
			if err != nil {
				return nil, err
			}
			out = append(out, data[pos:end]...)
			pos = end
		}
	}
}

// scanEnd returns the offset of the first 0xFF of the marker that ends the
// entropy-coded data starting at pos. Inside entropy data 0xFF is followed
// by 0x00 (byte stuffing) or RST0..RST7; any other code is a real marker
// (EOI, or DHT/SOS/... between progressive scans).
func scanEnd(data []byte, pos int) (int, error) {
	i := pos
	for {
		j := bytes.IndexByte(data[i:], 0xFF)
		if j < 0 {
			return 0, malformed(fmtJPEG, "missing EOI")
		}
		j += i
		k := j + 1
		for k < len(data) && data[k] == 0xFF {
			k++
		}
		if k >= len(data) {
			return 0, malformed(fmtJPEG, "missing EOI")
		}
		if c := data[k]; c == 0x00 || (c >= mRST0 && c <= mRST7) {
			i = k + 1
			continue
		}
		return j, nil
	}
}

// appendJFIF copies a JFIF APP0 segment without its embedded thumbnail: a
// thumbnail shows the picture as it was before any crop.
func appendJFIF(out, payload []byte) []byte {
	// JFIF\0, version(2), units(1), Xdensity(2), Ydensity(2),
	// Xthumbnail(1), Ythumbnail(1): 14 bytes before the thumbnail.
	const head = 14
	if len(payload) < head {
		return out // not a JFIF segment we understand; drop it
	}
	p := payload[:head]
	out = append(out, 0xFF, mAPP0, 0, byte(2+head))
	out = append(out, p[:12]...)
	return append(out, 0, 0) // no thumbnail
}

// exifOrientation returns the Orientation tag (1..8) of IFD0 of the TIFF
// structure tiff, or 0 if absent or unreadable. It never fails: a broken
// Exif is dropped anyway, only the orientation is lost.
func exifOrientation(tiff []byte) int {
	if len(tiff) < 8 {
		return 0
	}
	var bo binary.ByteOrder
	switch string(tiff[:2]) {
	case "II":
		bo = le
	case "MM":
		bo = be
	default:
		return 0
	}
	if bo.Uint16(tiff[2:]) != 42 {
		return 0
	}
	off := uint64(bo.Uint32(tiff[4:]))
	if off+2 > uint64(len(tiff)) {
		return 0
	}
	count := int(bo.Uint16(tiff[off:]))
	for i := 0; i < count; i++ {
		e := off + 2 + uint64(i)*12
		if e+12 > uint64(len(tiff)) {
			return 0
		}
		entry := tiff[e : e+12]
		if bo.Uint16(entry) != 0x0112 {
			continue
		}
		var v uint32
		switch typ := bo.Uint16(entry[2:]); {
		case typ == 3 && bo.Uint32(entry[4:]) >= 1: // SHORT
			v = uint32(bo.Uint16(entry[8:]))
		case typ == 4 && bo.Uint32(entry[4:]) >= 1: // LONG, written by a few tools
			v = bo.Uint32(entry[8:])
		}
		if v >= 1 && v <= 8 {
			return int(v)
		}
		return 0
	}
	return 0
}

// appendMinimalExif writes an APP1 Exif segment holding only IFD0 with a
// single Orientation entry: no other tags, no GPS or Exif sub-IFD, no
// thumbnail.
func appendMinimalExif(out []byte, orientation int) []byte {
	body := []byte{
		'E', 'x', 'i', 'f', 0, 0,
		'M', 'M', 0, 42, 0, 0, 0, 8, // big-endian TIFF, IFD0 at 8
		0, 1, // one entry
		0x01, 0x12, 0, 3, 0, 0, 0, 1, 0, byte(orientation), 0, 0, // Orientation SHORT[1]
		0, 0, 0, 0, // no next IFD
	}
	out = append(out, 0xFF, mAPP1, 0, byte(2+len(body)))
	return append(out, body...)
}

// minimalExifLen is the size of the segment appendMinimalExif writes.
const minimalExifLen = 2 + 2 + 32
