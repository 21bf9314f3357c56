package imgmeta

import (
	"bytes"
	"image/jpeg"
	"testing"
)

// plainJPEG encodes testImage with the standard library: no metadata.
func plainJPEG(t testing.TB) []byte {
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, testImage(), &jpeg.Options{Quality: 90}); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// seg builds a JPEG marker segment.
func seg(marker byte, payload []byte) []byte {
	n := len(payload) + 2
	return cat([]byte{0xFF, marker, byte(n >> 8), byte(n)}, payload)
}

var (
	jfifSeg  = seg(0xE0, []byte("JFIF\x00\x01\x02\x01\x00\x48\x00\x48\x00\x00"))
	iccSeg   = seg(0xE2, []byte("ICC_PROFILE\x00\x01\x01fake-icc-profile-bytes"))
	adobeSeg = seg(0xEE, []byte("Adobe\x00\x64\x00\x00\x00\x00\x01"))
	xmpSeg   = seg(0xE1, []byte("http://ns.adobe.com/xap/1.0/\x00<x:xmpmeta><dc:creator>xmp-secret-author</dc:creator></x:xmpmeta>"))
	extXMP   = seg(0xE1, []byte("http://ns.adobe.com/xmp/extension/\x000123456789ABCDEF0123456789ABCDEF\x00\x00\x00\x20\x00\x00\x00\x00xmp-secret-author (extended)"))
	iptcSeg  = seg(0xED, []byte("Photoshop 3.0\x008BIM\x04\x04\x00\x00\x00\x00\x00\x0e\x1c\x02\x50\x00\x0biptc-secret"))
	comSeg   = seg(0xFE, []byte("comment-secret"))
	mpfSeg   = seg(0xE2, []byte("MPF\x00mpf-secret"))
	jfxxSeg  = seg(0xE0, []byte("JFXX\x00\x13jfxx-secret"))
	trailer  = []byte("SEFH trailer-secret\x00\x00\x00\x00SEFT")
)

func exifSeg(orientation int) []byte {
	return seg(0xE1, cat([]byte("Exif\x00\x00"), exifTIFF(orientation)))
}

// withSegments inserts segments right after SOI.
func withSegments(jpg []byte, segs ...[]byte) []byte {
	return cat(jpg[:2], cat(segs...), jpg[2:])
}

// betweenScans inserts segments just before EOI, after the entropy data,
// where a progressive JPEG keeps its later scans.
func betweenScans(jpg []byte, segs ...[]byte) []byte {
	n := len(jpg) - 2
	return cat(jpg[:n], cat(segs...), jpg[n:])
}

func TestJPEGStripsMetadata(t *testing.T) {
	plain := plainJPEG(t)
	in := withSegments(plain, jfifSeg, exifSeg(6), xmpSeg, extXMP, iccSeg, iptcSeg, comSeg, adobeSeg, mpfSeg, jfxxSeg)
	in = betweenScans(in, comSeg, seg(0xFE, []byte("between-scans-secret")), xmpSeg)
	in = append(in, trailer...)

	out := mustStrip(t, in, fmtJPEG)
	assertNoSecrets(t, out)
	want := cat(plain[:2], jfifSeg, appendMinimalExif(nil, 6), iccSeg, adobeSeg, plain[2:])
	if !bytes.Equal(out, want) {
		t.Fatalf("output differs from the expected segments:\n got %q\nwant %q", out[:80], want[:80])
	}
	if !bytes.Contains(out, iccSeg) {
		t.Error("ICC profile not kept byte-identical")
	}
	assertSamePixels(t, in, out)
	assertSamePixels(t, plain, out)
}

func TestJPEGOrientation(t *testing.T) {
	plain := plainJPEG(t)
	for _, o := range []int{0, 1, 3, 6, 8} {
		out := mustStrip(t, withSegments(plain, exifSeg(o)), fmtJPEG)
		assertNoSecrets(t, out)
		i := bytes.Index(out, []byte("Exif\x00\x00"))
		if o <= 1 {
			if i >= 0 || !bytes.Equal(out, plain) {
				t.Errorf("orientation %d: want plain output without Exif", o)
			}
			continue
		}
		if i < 0 {
			t.Fatalf("orientation %d lost", o)
		}
		tiff := out[i+6 : i+6+26]
		if got := exifOrientation(tiff); got != o {
			t.Errorf("orientation = %d, want %d", got, o)
		}
		// IFD0 holds exactly one entry (Orientation) and no next IFD.
		if tiff[8] != 0 || tiff[9] != 1 || tiff[10] != 0x01 || tiff[11] != 0x12 {
			t.Errorf("minimal Exif holds more than Orientation: % x", tiff)
		}
		if !bytes.Equal(out, cat(plain[:2], appendMinimalExif(nil, o), plain[2:])) {
			t.Errorf("orientation %d: unexpected output", o)
		}
		assertSamePixels(t, plain, out)
	}
}

func TestJPEGOnlyFirstOrientation(t *testing.T) {
	plain := plainJPEG(t)
	out := mustStrip(t, withSegments(plain, exifSeg(6), exifSeg(3)), fmtJPEG)
	if want := cat(plain[:2], appendMinimalExif(nil, 6), plain[2:]); !bytes.Equal(out, want) {
		t.Error("want one minimal Exif with the first orientation")
	}
}

func TestJPEGNoMetadataUnchanged(t *testing.T) {
	for _, in := range [][]byte{
		plainJPEG(t),
		withSegments(plainJPEG(t), jfifSeg, iccSeg, adobeSeg),
	} {
		if out := mustStrip(t, in, fmtJPEG); !bytes.Equal(out, in) {
			t.Error("image without metadata changed")
		}
	}
}

func TestJPEGThumbnailDroppedFromJFIF(t *testing.T) {
	plain := plainJPEG(t)
	thumb := seg(0xE0, cat([]byte("JFIF\x00\x01\x02\x01\x00\x48\x00\x48\x01\x01"), []byte{1, 2, 3}))
	out := mustStrip(t, withSegments(plain, thumb), fmtJPEG)
	if want := cat(plain[:2], jfifSeg, plain[2:]); !bytes.Equal(out, want) {
		t.Error("JFIF thumbnail not removed")
	}
}

// TestJPEGScanWalk checks the entropy-data scan on a hand-made stream with
// two scans, stuffed bytes, restart markers, fill bytes and metadata
// between the scans.
func TestJPEGScanWalk(t *testing.T) {
	in, want := multiScanJPEG()
	out := mustStrip(t, in, fmtJPEG)
	if !bytes.Equal(out, want) {
		t.Fatalf("got  % x\nwant % x", out, want)
	}
	assertNoSecrets(t, out)
}

// multiScanJPEG returns a tiny hand-made JPEG stream (not decodable) and
// its expected stripped form.
func multiScanJPEG() (in, want []byte) {
	sof := seg(0xC2, []byte{8, 0, 1, 0, 1, 1, 1, 0x11, 0})
	dht := seg(0xC4, []byte{0x00, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 5})
	sos := seg(0xDA, []byte{1, 1, 0, 0, 63, 0})
	scan1 := []byte{0x12, 0xFF, 0x00, 0x34, 0xFF, 0xD0, 0x56, 0xFF, 0xFF, 0x00, 0x78}
	scan2 := []byte{0x9A, 0xFF, 0xD7, 0xBC}
	in = cat([]byte{0xFF, 0xD8}, sof, dht, sos, scan1,
		[]byte{0xFF, 0xFF}, // fill bytes before the next marker
		seg(0xFE, []byte("between-scans-secret")), xmpSeg, dht, sos, scan2,
		[]byte{0xFF, 0xD9}, trailer)
	want = cat([]byte{0xFF, 0xD8}, sof, dht, sos, scan1, dht, sos, scan2, []byte{0xFF, 0xD9})
	return in, want
}

func TestJPEGMalformed(t *testing.T) {
	plain := plainJPEG(t)
	sos := bytes.Index(plain, []byte{0xFF, 0xDA})
	cases := map[string][]byte{
		"truncated length":     {0xFF, 0xD8, 0xFF, 0xE1, 0x00},
		"length past end":      {0xFF, 0xD8, 0xFF, 0xE1, 0x10, 0x00, 'E', 'x'},
		"length below 2":       {0xFF, 0xD8, 0xFF, 0xE1, 0x00, 0x01, 0xFF, 0xD9},
		"garbage between":      {0xFF, 0xD8, 0xFF, 0xFE, 0x00, 0x02, 0x12, 0xFF, 0xD9},
		"second SOI":           {0xFF, 0xD8, 0xFF, 0xD8, 0xFF, 0xD9},
		"no EOI before scan":   {0xFF, 0xD8, 0xFF, 0xFE, 0x00, 0x03, 'x'},
		"only fill bytes":      {0xFF, 0xD8, 0xFF, 0xFF, 0xFF},
		"truncated entropy":    plain[:len(plain)-2],
		"truncated scan start": plain[:sos+20],
	}
	for name, in := range cases {
		t.Run(name, func(t *testing.T) { mustMalformed(t, in) })
	}
}
