package imgmeta

import (
	"bytes"
	"compress/zlib"
	"encoding/binary"
	"hash/crc32"
	"image/png"
	"testing"
)

// plainPNG encodes testImage with the standard library: no metadata.
func plainPNG(t testing.TB) []byte {
	var buf bytes.Buffer
	if err := png.Encode(&buf, testImage()); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// chunk builds a PNG chunk with a correct CRC.
func chunk(typ string, data []byte) []byte {
	b := binary.BigEndian.AppendUint32(nil, uint32(len(data)))
	b = append(b, typ...)
	b = append(b, data...)
	return binary.BigEndian.AppendUint32(b, crc32.ChecksumIEEE(b[4:]))
}

func deflate(s string) []byte {
	var buf bytes.Buffer
	w := zlib.NewWriter(&buf)
	w.Write([]byte(s))
	w.Close()
	return buf.Bytes()
}

// afterIHDR inserts chunks right after the IHDR chunk (8+25 bytes in).
func afterIHDR(p []byte, chunks ...[]byte) []byte {
	return cat(p[:33], cat(chunks...), p[33:])
}

var (
	iccpChunk = chunk("iCCP", cat([]byte("icc\x00\x00"), deflate("fake-icc-profile-bytes")))
	gamaChunk = chunk("gAMA", []byte{0, 0, 0xB1, 0x8F})
	physChunk = chunk("pHYs", []byte{0, 0, 0x0B, 0x13, 0, 0, 0x0B, 0x13, 1})
)

func TestPNGStripsMetadata(t *testing.T) {
	plain := plainPNG(t)
	in := afterIHDR(plain,
		chunk("tEXt", []byte("Author\x00png-secret-author")),
		iccpChunk,
		chunk("iTXt", []byte("XML:com.adobe.xmp\x00\x00\x00\x00\x00<x:xmpmeta>png-itxt-secret</x:xmpmeta>")),
		chunk("zTXt", cat([]byte("Comment\x00\x00"), deflate("png-ztxt-secret"))),
		gamaChunk,
		chunk("eXIf", exifTIFF(6)),
		chunk("tIME", []byte{0x07, 0xEA, 11, 26, 1, 2, 3}),
		chunk("prVt", []byte("unknown-chunk-secret")),
		physChunk,
	)
	in = append(in, trailer...)
	out := mustStrip(t, in, fmtPNG)
	assertNoSecrets(t, out)
	for _, typ := range []string{"tEXt", "iTXt", "zTXt", "eXIf", "tIME", "prVt"} {
		if bytes.Contains(out, []byte(typ)) {
			t.Errorf("chunk %s survived", typ)
		}
	}
	want := afterIHDR(plain, iccpChunk, gamaChunk, physChunk)
	if !bytes.Equal(out, want) {
		t.Fatal("output differs from the expected chunks")
	}
	assertSamePixels(t, in, out)
	assertSamePixels(t, plain, out)
}

func TestPNGNoMetadataUnchanged(t *testing.T) {
	for _, in := range [][]byte{plainPNG(t), afterIHDR(plainPNG(t), iccpChunk, gamaChunk)} {
		if out := mustStrip(t, in, fmtPNG); !bytes.Equal(out, in) {
			t.Error("image without metadata changed")
		}
	}
}

func TestPNGMalformed(t *testing.T) {
	plain := plainPNG(t)
	past := bytes.Clone(plain)
	binary.BigEndian.PutUint32(past[33:], 1<<30) // IDAT length past the end
	huge := bytes.Clone(plain)
	binary.BigEndian.PutUint32(huge[33:], 0xFFFFFFF0)
	badType := bytes.Clone(plain)
	badType[33+4] = '1'
	cases := map[string][]byte{
		"chunk past end":   past,
		"huge length":      huge,
		"bad chunk type":   badType,
		"missing IEND":     plain[:len(plain)-12],
		"truncated header": plain[:len(plain)-9],
		"signature only":   plain[:8],
		"not IHDR first":   cat(plain[:8], gamaChunk, plain[8:]),
	}
	for name, in := range cases {
		t.Run(name, func(t *testing.T) { mustMalformed(t, in) })
	}
}
