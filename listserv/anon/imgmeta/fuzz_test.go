package imgmeta

import (
	"bytes"
	"errors"
	"testing"
)

// seeds returns the test images, with and without metadata.
func seeds(t testing.TB) [][]byte {
	plainJ := plainJPEG(t)
	plainP := plainPNG(t)
	plainG := plainGIF(t)
	p := gifBlocksStart(plainG)
	heicFile, _ := heic(heifLayout{ilocVersion: 1, offSize: 4, lenSize: 4, infeVersion: 2})
	heicIdat, _ := heic(heifLayout{ilocVersion: 2, offSize: 8, lenSize: 4, baseSize: 4, idxSize: 8, xmpInIdat: true, infeVersion: 3})
	multiScan, _ := multiScanJPEG()
	ihdr := chunk("IHDR", []byte{0, 0, 0, 1, 0, 0, 0, 1, 8, 0, 0, 0, 0})
	tinyGIF := cat([]byte("GIF89a\x01\x00\x01\x00\x00\x00\x00"), commentExt,
		[]byte{0x2C, 0, 0, 0, 0, 1, 0, 1, 0, 0, 2, 2, 0x44, 0x01, 0, 0x3B})
	tinyHEIC := cat(bbox("ftyp", []byte("avif\x00\x00\x00\x00")), fullbox("meta", 0,
		fullbox("iinf", 0, []byte{0, 1}, fullbox("infe", 2, []byte{0, 1, 0, 0}, []byte("Exif\x00"))),
		fullbox("iloc", 0, []byte{0x44, 0, 0, 1, 0, 1, 0, 0, 0, 1, 0, 0, 0, 0x65, 0, 0, 0, 4})),
		bbox("mdat", []byte("Exif")))
	return [][]byte{
		multiScan,
		withSegments([]byte{0xFF, 0xD8, 0xFF, 0xD9}, exifSeg(8)),
		cat(pngSignature, ihdr, chunk("tEXt", []byte("a\x00b")), chunk("IDAT", nil), chunk("IEND", nil)),
		tinyGIF,
		tinyHEIC,
		riff(vp8x(0x0C), vp8lChunk, exifWebP),
		plainJ,
		cat(withSegments(plainJ, jfifSeg, exifSeg(6), xmpSeg, iccSeg, iptcSeg, comSeg, adobeSeg), trailer),
		plainP,
		cat(afterIHDR(plainP, chunk("tEXt", []byte("Author\x00png-secret-author")), iccpChunk, chunk("eXIf", exifTIFF(3))), trailer),
		plainG,
		cat(plainG[:p], commentExt, loopExt, xmpExt, plainG[p:]),
		riff(vp8x(0x0C), vp8lChunk, exifWebP, xmpWebP),
		riff(vp8x(0x02), riffChunk("ANIM", make([]byte, 6)), riffChunk("ANMF", cat(make([]byte, 16), vp8lChunk))),
		heicFile,
		heicIdat,
	}
}

// FuzzStrip checks that Strip never panics, fails only with ErrMalformed,
// never grows an image (but for the minimal orientation Exif), and that
// stripping its own output changes nothing.
func FuzzStrip(f *testing.F) {
	for _, s := range seeds(f) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		orig := bytes.Clone(data)
		format := Detect(data)
		if format == "" {
			return
		}
		// stripFormat, not Strip: Strip's recover would hide panics.
		out, err := stripFormat(data, format)
		if !bytes.Equal(data, orig) {
			t.Fatal("input modified")
		}
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("error not ErrMalformed: %v", err)
			}
			return
		}
		if len(out) > len(data)+minimalExifLen {
			t.Fatalf("output grew from %d to %d bytes", len(data), len(out))
		}
		if f2 := Detect(out); f2 != format {
			t.Fatalf("output detected as %q, input as %q", f2, format)
		}
		again, err := stripFormat(out, format)
		if err != nil {
			t.Fatalf("stripping the output failed: %v", err)
		}
		if !bytes.Equal(again, out) {
			t.Fatal("Strip is not idempotent")
		}
	})
}

// TestSeedsStripClean runs the fuzz invariants' stronger cousin on every
// seed: no secret survives.
func TestSeedsStripClean(t *testing.T) {
	for i, s := range seeds(t) {
		out, _, err := Strip(s)
		if err != nil {
			t.Fatalf("seed %d: %v", i, err)
		}
		assertNoSecrets(t, out)
	}
}
