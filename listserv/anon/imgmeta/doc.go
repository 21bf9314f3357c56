// Package imgmeta removes metadata from images without re-encoding pixels.
//
// Members' photos carry more than pictures: GPS positions, camera and lens
// serial numbers, owner and author names, editing history, capture times.
// Before an attachment is relayed, [Strip] copies the file while leaving
// out every structure that can hold such data, and keeps the coded pixels
// and what is needed to display them (colour profile, colour transform,
// transparency, animation) byte for byte. Nothing is decoded or
// re-encoded, so quality and size are untouched.
//
// The package owns exactly that: recognizing a format by its magic bytes
// ([Detect]) and walking its container. It does no I/O, keeps no state
// and never modifies its input. Errors wrap [ErrMalformed] and never quote
// bytes of the image, so callers may log them. Callers refuse a message
// whose image is malformed rather than relay metadata: the walkers are
// strict about structure (lengths, sizes, terminators) but accept what
// cameras, phones and editors actually write.
//
// Every length field is checked against the input before use; nothing is
// allocated in proportion to a length field, and no walker recurses more
// than one level (WebP animation frames, the HEIF meta box).
//
// # JPEG
//
// Marker segments are walked from SOI to EOI, fill bytes (0xFF padding)
// are skipped, and the entropy-coded data of each scan is copied verbatim
// (stuffed 0xFF00 bytes and RST markers included), so progressive files
// with tables and scans after the first SOS work too. Kept: APP0 JFIF
// (without its thumbnail), APP2 ICC_PROFILE, APP14 Adobe (colour
// transform), tables, frame and scan headers, DRI and the other non-APP
// markers. Dropped, wherever they appear, between scans included: APP1
// (Exif, XMP, extended XMP), APP13 (Photoshop/IPTC), every other APPn
// (MPF, FlashPix, JFXX thumbnails, ...) and COM comments.
//
// Orientation: if an Exif block has an Orientation tag other than 1, the
// first such block is replaced by a minimal, freshly built Exif
// (big-endian TIFF, IFD0 with only the Orientation entry; no GPS, no
// sub-IFDs, no thumbnail), so rotated photos still display upright. This
// adds at most 36 bytes. Orientation in XMP alone is not carried over.
//
// Bytes after EOI are dropped: phones append trailers there (Samsung SEFH
// blocks, motion-photo videos, MPF secondary images, depth maps), which
// carry metadata and a second copy of the scene.
//
// # PNG
//
// The signature and chunks are walked up to IEND; CRCs are copied, not
// verified. Kept: every critical chunk, and the display-relevant ancillary
// chunks gAMA, cHRM, sRGB, iCCP, cICP, sBIT, pHYs, bKGD, tRNS and the APNG
// chunks acTL, fcTL, fdAT. Dropped: tEXt, zTXt, iTXt (XMP), eXIf, tIME and
// every other ancillary chunk (C2PA caBX, private chunks). Bytes after IEND
// are dropped.
//
// # WebP
//
// The RIFF container is rebuilt from the kept chunks: VP8X (with its EXIF
// and XMP flags cleared), VP8, VP8L, ALPH, ICCP, ANIM and ANMF; inside
// ANMF frames only ALPH, VP8 and VP8L are kept. EXIF, "XMP " and unknown
// chunks are dropped, the RIFF size is rewritten and chunks keep their
// even padding. Bytes after the RIFF chunk are dropped.
//
// # HEIF, HEIC and AVIF
//
// Recognized by an ftyp box naming a HEIF brand (heic, heix, heim, heis,
// hevc, hevx, mif1, mif2, msf1, avif, avis, ...) as major or compatible
// brand. Metadata are items of the top-level meta box: items of type
// 'Exif', 'mime' (XMP is application/rdf+xml; every mime item is treated
// as metadata) and 'uri '. Their extents, located through iloc (versions
// 0, 1 and 2; field sizes 0, 4 or 8; construction method 0 = file offsets
// or 1 = inside idat) are overwritten with zeros in a copy. The file is
// not restructured: its length and every offset stay valid, and the items
// remain listed in iinf/iloc, now holding only zeros (the Exif item
// included; its orientation is not needed because HEIF orientation lives
// in the irot/imir properties, which are kept). infe versions other than
// 2 and 3, other iloc versions or sizes, construction method 2, and
// metadata extents outside the payload of a top-level data box (mdat) or
// idat are refused as malformed. Items in other files (data_reference_index
// not 0) are left alone: their bytes are not in this file.
//
// # GIF
//
// Kept: header, colour tables, images, graphic control and plain-text
// extensions, and the application extensions NETSCAPE2.0 and ANIMEXTS1.0
// (looping) and ICCRGBG1012 (colour profile). Dropped: comment extensions,
// the XMP application extension ("XMP DataXMP"), every other application
// or unknown extension, and bytes after the trailer. [Detect] reports it
// as "gif".
//
// # Limits
//
//   - Data hidden in the pixels or in the JPEG entropy-coded data (or an
//     arbitrary unknown critical PNG chunk) cannot be removed without
//     re-encoding; the package does not try.
//   - TIFF, DNG and other raw formats, BMP, JPEG XL, JPEG 2000 and video
//     containers (MP4, MOV) are not recognized: Strip returns them
//     unchanged with format "", and the caller decides.
//   - HEIF: only the top-level meta box is cleaned. Metadata in moov/udta
//     of image sequences, in uuid or free boxes, and item names in infe
//     are left as they are. Auxiliary images (depth maps, thumbnails) are
//     kept: they are pixels.
//   - ICC profiles are kept verbatim; their description and copyright
//     tags name a device or vendor, not a person.
//   - Text inside kept structures (the iCCP profile name, JPEG table
//     segments) is kept.
//   - Strictness: a JPEG without EOI (a truncated upload) or with stray
//     bytes between header segments, a PNG without IEND, a WebP chunk
//     without its pad byte, are refused as malformed. Bytes between
//     markers inside entropy-coded data are copied as they are.
package imgmeta
