package imgmeta

import (
	"bytes"
	"encoding/binary"
	"errors"
	"image"
	"image/color"
	_ "image/gif"
	_ "image/jpeg"
	_ "image/png"
	"testing"
)

// secrets are planted in test images; none may survive Strip.
var secrets = []string{
	"SERIAL-12345-SECRET",
	"xmp-secret-author",
	"iptc-secret",
	"comment-secret",
	"trailer-secret",
	"png-secret-author",
	"png-itxt-secret",
	"gif-comment-secret",
	"gif-xmp-secret",
	"webp-exif-secret",
	"webp-xmp-secret",
	"heic-exif-secret",
	"heic-xmp-secret",
	"unknown-chunk-secret",
	"between-scans-secret",
	"mpf-secret",
	"jfxx-secret",
}

// gpsLatitude is the GPSLatitude value planted in test Exif blocks: 48°
// 51' 29.64" as three little-endian RATIONALs.
var gpsLatitude = []byte{
	48, 0, 0, 0, 1, 0, 0, 0,
	51, 0, 0, 0, 1, 0, 0, 0,
	0x94, 0x0B, 0, 0, 100, 0, 0, 0,
}

// assertNoSecrets fails if any planted secret, the GPS latitude or an
// Exif header other than the minimal orientation one remains in out.
func assertNoSecrets(t *testing.T, out []byte) {
	t.Helper()
	for _, s := range secrets {
		if bytes.Contains(out, []byte(s)) {
			t.Errorf("secret %q survived", s)
		}
	}
	if bytes.Contains(out, gpsLatitude) {
		t.Error("GPS latitude survived")
	}
	if bytes.Contains(out, []byte("http://ns.adobe.com/")) {
		t.Error("XMP header survived")
	}
}

// testImage returns a small image with distinct pixels, so that any
// re-encoding would show.
func testImage() *image.NRGBA {
	img := image.NewNRGBA(image.Rect(0, 0, 24, 16))
	for y := 0; y < 16; y++ {
		for x := 0; x < 24; x++ {
			img.SetNRGBA(x, y, color.NRGBA{uint8(x * 10), uint8(y * 15), uint8((x + y) * 5), 255})
		}
	}
	return img
}

// assertSamePixels decodes both images and compares every pixel.
func assertSamePixels(t *testing.T, a, b []byte) {
	t.Helper()
	ia, _, err := image.Decode(bytes.NewReader(a))
	if err != nil {
		t.Fatalf("decoding input: %v", err)
	}
	ib, _, err := image.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("decoding output: %v", err)
	}
	if ia.Bounds() != ib.Bounds() {
		t.Fatalf("bounds %v != %v", ia.Bounds(), ib.Bounds())
	}
	r := ia.Bounds()
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := r.Min.X; x < r.Max.X; x++ {
			r1, g1, b1, a1 := ia.At(x, y).RGBA()
			r2, g2, b2, a2 := ib.At(x, y).RGBA()
			if r1 != r2 || g1 != g2 || b1 != b2 || a1 != a2 {
				t.Fatalf("pixel (%d,%d) differs", x, y)
			}
		}
	}
}

// mustStrip runs Strip and checks the format and that the input was not
// modified.
func mustStrip(t *testing.T, in []byte, format string) []byte {
	t.Helper()
	orig := bytes.Clone(in)
	out, f, err := Strip(in)
	if err != nil {
		t.Fatalf("Strip: %v", err)
	}
	if f != format {
		t.Fatalf("format %q, want %q", f, format)
	}
	if !bytes.Equal(in, orig) {
		t.Fatal("Strip modified its input")
	}
	return out
}

// mustMalformed checks that Strip refuses in with ErrMalformed.
func mustMalformed(t *testing.T, in []byte) {
	t.Helper()
	out, _, err := Strip(in)
	if !errors.Is(err, ErrMalformed) {
		t.Fatalf("err = %v, want ErrMalformed", err)
	}
	if out != nil {
		t.Fatal("output returned with an error")
	}
}

// cat concatenates byte slices.
func cat(parts ...[]byte) []byte {
	return bytes.Join(parts, nil)
}

// exifTIFF builds a little-endian TIFF block with IFD0 holding Orientation
// (if orientation > 0), a camera serial and a GPS IFD with a latitude.
func exifTIFF(orientation int) []byte {
	le := binary.LittleEndian
	var b []byte
	u16 := func(v int) { b = le.AppendUint16(b, uint16(v)) }
	u32 := func(v int) { b = le.AppendUint32(b, uint32(v)) }
	entry := func(tag, typ, count, value int) { u16(tag); u16(typ); u32(count); u32(value) }

	serial := "SERIAL-12345-SECRET\x00"
	n := 2
	if orientation > 0 {
		n = 3
	}
	ifd0End := 8 + 2 + 12*n + 4
	serialOff := ifd0End
	gpsOff := serialOff + len(serial)
	latOff := gpsOff + 2 + 2*12 + 4

	b = append(b, 'I', 'I', 42, 0)
	u32(8)
	u16(n)
	if orientation > 0 {
		b = append(b, 0x12, 0x01, 3, 0, 1, 0, 0, 0, byte(orientation), 0, 0, 0)
	}
	entry(0x8825, 4, 1, gpsOff)              // GPS IFD pointer
	entry(0xA431, 2, len(serial), serialOff) // BodySerialNumber
	u32(0)
	b = append(b, serial...)
	u16(2)
	entry(0x0001, 2, 2, 'N') // GPSLatitudeRef "N"
	entry(0x0002, 5, 3, latOff)
	u32(0)
	return append(b, gpsLatitude...)
}
