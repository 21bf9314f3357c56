package imgmeta

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
)

// Format names returned by Detect and Strip.
const (
	fmtJPEG = "jpeg"
	fmtPNG  = "png"
	fmtWebP = "webp"
	fmtHEIC = "heic"
	fmtGIF  = "gif"
)

// ErrMalformed is returned (wrapped) when data looks like a supported format
// but cannot be walked safely. Callers refuse the message rather than relay
// bytes we could not check, so every walker fails closed.
var ErrMalformed = errors.New("imgmeta: malformed image")

// malformed wraps ErrMalformed with a short reason. Reasons never quote bytes
// of the image, so callers may log them.
func malformed(format, reason string) error {
	return fmt.Errorf("%w: %s: %s", ErrMalformed, format, reason)
}

// Detect names the format of data by its magic bytes only: "jpeg", "png",
// "webp", "heic" (any HEIF/AVIF brand), "gif", or "" if not recognized.
func Detect(data []byte) string {
	switch {
	case len(data) >= 3 && data[0] == 0xFF && data[1] == 0xD8 && data[2] == 0xFF:
		return fmtJPEG
	case bytes.HasPrefix(data, pngSignature):
		return fmtPNG
	case len(data) >= 12 && string(data[0:4]) == "RIFF" && string(data[8:12]) == "WEBP":
		return fmtWebP
	case bytes.HasPrefix(data, []byte("GIF87a")) || bytes.HasPrefix(data, []byte("GIF89a")):
		return fmtGIF
	case isHEIF(data):
		return fmtHEIC
	}
	return ""
}

// Strip returns data without its metadata and the detected format. For an
// unrecognized format it returns data unchanged, "" and nil. It never
// modifies data in place: when anything changes, out is a new slice.
func Strip(data []byte) (out []byte, format string, err error) {
	format = Detect(data)
	if format == "" {
		return data, "", nil
	}
	// The walkers are written to stay in bounds, and the fuzz target calls
	// them without this net. It is only defence in depth: should a bug
	// slip through, the caller refuses the message instead of crashing or
	// relaying unchecked bytes.
	defer func() {
		if r := recover(); r != nil {
			out, err = nil, malformed(format, "internal error while walking")
		}
	}()
	out, err = stripFormat(data, format)
	if err != nil {
		return nil, format, err
	}
	return out, format, nil
}

// stripFormat dispatches to the walker for format without recovering from
// panics, so that fuzzing sees them.
func stripFormat(data []byte, format string) ([]byte, error) {
	switch format {
	case fmtJPEG:
		return stripJPEG(data)
	case fmtPNG:
		return stripPNG(data)
	case fmtWebP:
		return stripWebP(data)
	case fmtHEIC:
		return stripBMFF(data)
	case fmtGIF:
		return stripGIF(data)
	}
	return data, nil
}

var (
	be = binary.BigEndian
	le = binary.LittleEndian
)
