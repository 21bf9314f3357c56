package imgmeta

var pngSignature = []byte("\x89PNG\r\n\x1a\n")

// pngKeep lists the ancillary chunks that affect how the image looks (or,
// for APNG, whether it animates). Every other ancillary chunk is dropped:
// text chunks, eXIf, tIME, C2PA caBX and anything unknown.
var pngKeep = map[string]bool{
	"gAMA": true, "cHRM": true, "sRGB": true, "iCCP": true, "cICP": true,
	"sBIT": true, "pHYs": true, "bKGD": true, "tRNS": true, "PLTE": true,
	"acTL": true, "fcTL": true, "fdAT": true,
}

// stripPNG copies the signature and the chunks worth keeping verbatim (CRC
// included, not verified: a decoder checks it anyway), up to and including
// IEND. Bytes after IEND are dropped.
func stripPNG(data []byte) ([]byte, error) {
	out := make([]byte, 0, len(data))
	out = append(out, pngSignature...)
	pos := len(pngSignature)
	for first := true; ; first = false {
		if pos+8 > len(data) {
			return nil, malformed(fmtPNG, "missing IEND")
		}
		n := uint64(be.Uint32(data[pos:]))
		typ := data[pos+4 : pos+8]
		if n > 1<<31-1 {
			return nil, malformed(fmtPNG, "chunk length out of range")
		}
		end := uint64(pos) + 12 + n
		if end > uint64(len(data)) {
			return nil, malformed(fmtPNG, "chunk past end of data")
		}
		for _, c := range typ {
			if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z') {
				return nil, malformed(fmtPNG, "invalid chunk type")
			}
		}
		name := string(typ)
		if first && name != "IHDR" {
			return nil, malformed(fmtPNG, "first chunk is not IHDR")
		}
		critical := typ[0]&0x20 == 0
		if critical || pngKeep[name] {
			out = append(out, data[pos:end]...)
		}
		pos = int(end)
		if name == "IEND" {
			return out, nil
		}
	}
}
