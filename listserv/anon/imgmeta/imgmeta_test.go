package imgmeta

import (
	"bytes"
	"testing"
)

func TestDetect(t *testing.T) {
	heicFile, _ := heic(heifLayout{ilocVersion: 1, offSize: 4, lenSize: 4, infeVersion: 2})
	cases := []struct {
		data []byte
		want string
	}{
		{plainJPEG(t), fmtJPEG},
		{plainPNG(t), fmtPNG},
		{plainGIF(t), fmtGIF},
		{riff(vp8lChunk), fmtWebP},
		{heicFile, fmtHEIC},
		{bbox("ftyp", []byte("avif\x00\x00\x00\x00")), fmtHEIC},
		{bbox("ftyp", []byte("abcd\x00\x00\x00\x00mif1")), fmtHEIC},
		{bbox("ftyp", []byte("isom\x00\x00\x00\x00mp41")), ""}, // MP4 video
		{[]byte("RIFF\x00\x00\x00\x00WAVE"), ""},
		{[]byte("II*\x00"), ""}, // TIFF
		{[]byte{0xFF, 0xD8}, ""},
		{nil, ""},
	}
	for i, c := range cases {
		if got := Detect(c.data); got != c.want {
			t.Errorf("case %d: Detect = %q, want %q", i, got, c.want)
		}
	}
}

func TestUnrecognizedUnchanged(t *testing.T) {
	for _, in := range [][]byte{nil, {}, []byte("hello, world"), []byte("II*\x00\x08\x00\x00\x00")} {
		out, format, err := Strip(in)
		if err != nil || format != "" || !bytes.Equal(out, in) {
			t.Errorf("Strip(%q) = %q, %q, %v", in, out, format, err)
		}
	}
}
