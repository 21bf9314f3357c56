package imgmeta

// gifKeepApps lists the application extensions kept: animation looping
// (Netscape and its AnimExts twin) and an ICC colour profile. Everything
// else, XMP ("XMP DataXMP") included, is dropped.
var gifKeepApps = map[string]bool{
	"NETSCAPE2.0": true, "ANIMEXTS1.0": true, "ICCRGBG1012": true,
}

// stripGIF copies the header, colour tables, images, graphic control and
// plain-text extensions, and drops comment extensions, unknown extensions
// and application extensions other than those in gifKeepApps. Bytes after
// the trailer are dropped.
func stripGIF(data []byte) ([]byte, error) {
	// Header (6) and logical screen descriptor (7).
	if len(data) < 13 {
		return nil, malformed(fmtGIF, "truncated header")
	}
	pos := 13
	if flags := data[10]; flags&0x80 != 0 {
		pos += 3 << (1 + flags&7)
	}
	if pos > len(data) {
		return nil, malformed(fmtGIF, "truncated colour table")
	}
	out := make([]byte, 0, len(data))
	out = append(out, data[:pos]...)
	images := 0
	for {
		if pos >= len(data) {
			// Some old writers omit the trailer; a file that ends at a
			// block boundary after an image is accepted as is.
			if images == 0 {
				return nil, malformed(fmtGIF, "no image")
			}
			return out, nil
		}
		switch data[pos] {
		case 0x3B: // trailer
			return append(out, 0x3B), nil
		case 0x2C: // image descriptor
			if pos+10 > len(data) {
				return nil, malformed(fmtGIF, "truncated image descriptor")
			}
			end := pos + 10
			if flags := data[pos+9]; flags&0x80 != 0 {
				end += 3 << (1 + flags&7)
			}
			end++ // LZW minimum code size
			if end > len(data) {
				return nil, malformed(fmtGIF, "truncated image")
			}
			end, err := subBlocksEnd(data, end)
			if err != nil {
				return nil, err
			}
			out = append(out, data[pos:end]...)
			pos = end
			images++
		case 0x21: // extension
			if pos+2 > len(data) {
				return nil, malformed(fmtGIF, "truncated extension")
			}
			end, err := subBlocksEnd(data, pos+2)
			if err != nil {
				return nil, err
			}
			keep := false
			switch data[pos+1] {
			case 0xF9, 0x01: // graphic control, plain text: rendering
				keep = true
			case 0xFF: // application: identifier in the first sub-block
				if pos+3+11 <= end && data[pos+2] == 11 {
					keep = gifKeepApps[string(data[pos+3:pos+3+11])]
				}
			}
			if keep {
				out = append(out, data[pos:end]...)
			}
			pos = end
		default:
			return nil, malformed(fmtGIF, "unknown block")
		}
	}
}

// subBlocksEnd returns the offset just past the sub-block sequence (size
// byte, data, ..., zero terminator) starting at pos.
func subBlocksEnd(data []byte, pos int) (int, error) {
	for {
		if pos >= len(data) {
			return 0, malformed(fmtGIF, "truncated data sub-blocks")
		}
		n := int(data[pos])
		pos += 1 + n
		if n == 0 {
			return pos, nil
		}
	}
}
