package imgmeta

import (
	"bytes"
	"encoding/binary"
	"testing"
)

// riffChunk builds a RIFF chunk, padded to an even size.
func riffChunk(fourcc string, payload []byte) []byte {
	b := append([]byte(fourcc), binary.LittleEndian.AppendUint32(nil, uint32(len(payload)))...)
	b = append(b, payload...)
	if len(payload)%2 == 1 {
		b = append(b, 0)
	}
	return b
}

func riff(chunks ...[]byte) []byte {
	body := cat(chunks...)
	return cat([]byte("RIFF"), binary.LittleEndian.AppendUint32(nil, uint32(4+len(body))), []byte("WEBP"), body)
}

func vp8x(flags byte) []byte {
	return riffChunk("VP8X", []byte{flags, 0, 0, 0, 23, 0, 0, 15, 0, 0})
}

var (
	// The VP8L payload is arbitrary: only the container is walked. Odd
	// length, to exercise padding.
	vp8lChunk = riffChunk("VP8L", []byte("\x2f\x17\xc0\x03\x00pixels"))
	iccpWebP  = riffChunk("ICCP", []byte("fake-icc-profile-bytes"))
	exifWebP  = riffChunk("EXIF", cat(exifTIFF(1), []byte("webp-exif-secret")))
	xmpWebP   = riffChunk("XMP ", []byte("<x:xmpmeta>webp-xmp-secret</x:xmpmeta>"))
)

func TestWebPStripsMetadata(t *testing.T) {
	const icc, alpha, exif, xmp = 0x20, 0x10, 0x08, 0x04
	in := riff(vp8x(icc|alpha|exif|xmp), iccpWebP, vp8lChunk, exifWebP, xmpWebP,
		riffChunk("abcd", []byte("unknown-chunk-secret")))
	in = append(in, trailer...)
	out := mustStrip(t, in, fmtWebP)
	assertNoSecrets(t, out)
	want := riff(vp8x(icc|alpha), iccpWebP, vp8lChunk)
	if !bytes.Equal(out, want) {
		t.Fatalf("got  %q\nwant %q", out, want)
	}
	if got := binary.LittleEndian.Uint32(out[4:]); int(got) != len(out)-8 {
		t.Errorf("RIFF size %d, file %d", got, len(out))
	}
	if out[20]&(exif|xmp) != 0 {
		t.Error("EXIF/XMP flags not cleared")
	}
}

func TestWebPAnimationFrames(t *testing.T) {
	const anim, exif = 0x02, 0x08
	frameHead := make([]byte, 16)
	anmf := func(extra ...[]byte) []byte {
		return riffChunk("ANMF", cat(frameHead, vp8lChunk, cat(extra...)))
	}
	animChunk := riffChunk("ANIM", []byte{0, 0, 0, 0, 0, 0})
	in := riff(vp8x(anim|exif), animChunk, anmf(riffChunk("XYZW", []byte("unknown-chunk-secret"))), anmf(), exifWebP)
	out := mustStrip(t, in, fmtWebP)
	assertNoSecrets(t, out)
	if want := riff(vp8x(anim), animChunk, anmf(), anmf()); !bytes.Equal(out, want) {
		t.Fatalf("got  %q\nwant %q", out, want)
	}
}

func TestWebPNoMetadataUnchanged(t *testing.T) {
	for _, in := range [][]byte{
		riff(vp8lChunk),
		riff(riffChunk("VP8 ", []byte("lossy-frame"))),
		riff(vp8x(0x20), iccpWebP, vp8lChunk),
	} {
		if out := mustStrip(t, in, fmtWebP); !bytes.Equal(out, in) {
			t.Error("image without metadata changed")
		}
	}
}

func TestWebPMalformed(t *testing.T) {
	good := riff(vp8x(0x08), vp8lChunk, exifWebP)
	tooBig := bytes.Clone(good)
	binary.LittleEndian.PutUint32(tooBig[4:], uint32(len(good)))
	chunkPast := bytes.Clone(good)
	binary.LittleEndian.PutUint32(chunkPast[16:], 1<<31)
	noPad := riff(vp8x(0), vp8lChunk)
	noPad = noPad[:len(noPad)-1]
	binary.LittleEndian.PutUint32(noPad[4:], uint32(len(noPad)-8))
	cases := map[string][]byte{
		"RIFF size past end":  tooBig,
		"chunk past end":      chunkPast,
		"missing pad byte":    noPad,
		"short VP8X":          riff(riffChunk("VP8X", []byte{0x08, 0}), vp8lChunk),
		"no image":            riff(exifWebP),
		"RIFF size too small": cat([]byte("RIFF\x02\x00\x00\x00WEBP"), vp8lChunk),
	}
	// A chunk header cut short inside the RIFF size.
	cases["truncated header"] = func() []byte {
		b := cat(riff(vp8lChunk), []byte("EXIF"))
		binary.LittleEndian.PutUint32(b[4:], uint32(len(b)-8))
		return b
	}()
	for name, in := range cases {
		t.Run(name, func(t *testing.T) { mustMalformed(t, in) })
	}
}
