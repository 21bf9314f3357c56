package imgmeta

// VP8X flag bits (first payload byte) announcing metadata chunks.
const (
	vp8xEXIF = 0x08
	vp8xXMP  = 0x04
)

// webpKeep lists the chunks needed to display a WebP file. EXIF, "XMP "
// and unknown chunks are dropped.
var webpKeep = map[string]bool{
	"VP8X": true, "VP8 ": true, "VP8L": true, "ALPH": true,
	"ICCP": true, "ANIM": true, "ANMF": true,
}

// anmfKeep lists the chunks kept inside an ANMF frame's data.
var anmfKeep = map[string]bool{"ALPH": true, "VP8 ": true, "VP8L": true}

// stripWebP rebuilds the RIFF container from the kept chunks, clears the
// EXIF and XMP flags in VP8X and writes the new RIFF size. Bytes after the
// RIFF chunk are dropped.
func stripWebP(data []byte) ([]byte, error) {
	size := uint64(le.Uint32(data[4:]))
	if size < 4 || size > uint64(len(data))-8 {
		return nil, malformed(fmtWebP, "RIFF size out of range")
	}
	out := make([]byte, 0, len(data))
	out = append(out, "RIFF\x00\x00\x00\x00WEBP"...)
	out, err := walkRIFF(out, data[12:8+size], webpKeep, true)
	if err != nil {
		return nil, err
	}
	if len(out) == 12 {
		return nil, malformed(fmtWebP, "no image chunk")
	}
	le.PutUint32(out[4:], uint32(len(out)-8))
	return out, nil
}

// walkRIFF appends to out the chunks of body whose FourCC is in keep.
// Chunks are padded to an even size; the pad byte must be present, as
// libwebp requires. top tells whether body is the file level (where VP8X
// flags are fixed and ANMF frames are walked) or a frame.
func walkRIFF(out, body []byte, keep map[string]bool, top bool) ([]byte, error) {
	pos := 0
	for pos < len(body) {
		if pos+8 > len(body) {
			return nil, malformed(fmtWebP, "truncated chunk header")
		}
		fourcc := string(body[pos : pos+4])
		n := uint64(le.Uint32(body[pos+4:]))
		end := uint64(pos) + 8 + n + n&1
		if end > uint64(len(body)) {
			return nil, malformed(fmtWebP, "chunk past end of RIFF")
		}
		chunk := body[pos:end]
		pos = int(end)
		if !keep[fourcc] {
			continue
		}
		switch {
		case top && fourcc == "VP8X":
			if n < 10 {
				return nil, malformed(fmtWebP, "short VP8X chunk")
			}
			start := len(out)
			out = append(out, chunk...)
			out[start+8] &^= vp8xEXIF | vp8xXMP
		case top && fourcc == "ANMF":
			// 16 bytes of frame header, then the frame's own chunks.
			if n < 16 {
				return nil, malformed(fmtWebP, "short ANMF chunk")
			}
			start := len(out)
			out = append(out, chunk[:8+16]...)
			var err error
			out, err = walkRIFF(out, chunk[8+16:8+n], anmfKeep, false)
			if err != nil {
				return nil, err
			}
			le.PutUint32(out[start+4:], uint32(len(out)-start-8))
		default:
			out = append(out, chunk...)
		}
	}
	return out, nil
}
