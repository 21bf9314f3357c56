package imgmeta

import (
	"bytes"
	"image"
	"image/color/palette"
	"image/draw"
	"image/gif"
	"testing"
)

// plainGIF encodes testImage with the standard library: no metadata.
func plainGIF(t testing.TB) []byte {
	src := testImage()
	p := image.NewPaletted(src.Bounds(), palette.Plan9)
	draw.Draw(p, p.Rect, src, image.Point{}, draw.Src)
	var buf bytes.Buffer
	if err := gif.Encode(&buf, p, nil); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// gifBlocksStart returns the offset just past the header and global
// colour table.
func gifBlocksStart(g []byte) int {
	pos := 13
	if g[10]&0x80 != 0 {
		pos += 3 << (1 + g[10]&7)
	}
	return pos
}

// subBlocks splits s into GIF data sub-blocks with a terminator.
func subBlocks(s string) []byte {
	var b []byte
	for len(s) > 0 {
		n := min(len(s), 255)
		b = append(b, byte(n))
		b = append(b, s[:n]...)
		s = s[n:]
	}
	return append(b, 0)
}

var (
	loopExt    = cat([]byte{0x21, 0xFF, 11}, []byte("NETSCAPE2.0"), []byte{3, 1, 0, 0, 0})
	commentExt = cat([]byte{0x21, 0xFE}, subBlocks("gif-comment-secret"))
	xmpExt     = cat([]byte{0x21, 0xFF, 11}, []byte("XMP DataXMP"), subBlocks("<x:xmpmeta>gif-xmp-secret</x:xmpmeta>"))
	unknownExt = cat([]byte{0x21, 0x99}, subBlocks("unknown-chunk-secret"))
)

func TestGIFStripsMetadata(t *testing.T) {
	plain := plainGIF(t)
	p := gifBlocksStart(plain)
	in := cat(plain[:p], commentExt, loopExt, xmpExt, unknownExt, plain[p:], trailer)
	out := mustStrip(t, in, fmtGIF)
	assertNoSecrets(t, out)
	if want := cat(plain[:p], loopExt, plain[p:]); !bytes.Equal(out, want) {
		t.Fatal("output differs from the expected blocks")
	}
	// image/gif refuses unknown extensions, so compare with the plain
	// encoding rather than the input.
	assertSamePixels(t, plain, out)
}

func TestGIFNoMetadataUnchanged(t *testing.T) {
	in := plainGIF(t)
	if out := mustStrip(t, in, fmtGIF); !bytes.Equal(out, in) {
		t.Error("image without metadata changed")
	}
}

func TestGIFMalformed(t *testing.T) {
	plain := plainGIF(t)
	p := gifBlocksStart(plain)
	cases := map[string][]byte{
		"truncated header":     plain[:10],
		"truncated colour map": plain[:20],
		"unknown block":        cat(plain[:p], []byte{0x42}, plain[p:]),
		"truncated sub-blocks": plain[:len(plain)-5],
		"truncated extension":  cat(plain[:p], []byte{0x21}),
		"no image, no trailer": plain[:p],
		"truncated descriptor": cat(plain[:p], []byte{0x2C, 0, 0}),
	}
	for name, in := range cases {
		t.Run(name, func(t *testing.T) { mustMalformed(t, in) })
	}
}
