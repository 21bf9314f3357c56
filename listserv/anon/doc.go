// Package anon turns a member's post into the copy the rest of the group
// receives: the same words under the author's pseudonym, with nothing else
// that could identify them (SPEC §4).
//
// It owns three steps, all pure functions over bytes:
//
//   - [Parse] reads an incoming message once (CRLF lines, header capped at
//     64 KiB) and extracts what the rest of the pipeline asks about: the
//     author ([Message.From]) and the original Message-ID.
//   - [Message.Robot] tells whether a message comes from a machine (an
//     auto-reply, a bulk mailing, our own list looping back) and must be
//     dropped silently.
//   - [Anonymize] writes the anonymized copy: a header built from an
//     allowlist plus fresh list fields, and the body rebuilt (see Body).
//
// The package does no I/O and keeps no state: it never logs, stores, sends
// or looks anything up. What it needs from the store (the Message-ID map
// used for threading, the alias) comes in through [Params]. Errors and the
// reasons returned by Robot never quote a member's address, name or any
// byte of the message, so callers may log them.
//
// # Header of the anonymized copy
//
// Only these fields are written, in this order (a private message skips
// the List-* fields and Precedence):
//
//	MIME-Version: 1.0
//	From: "Quiet Heron" <recovery+quiet-heron@lists.example.org>
//	Reply-To: <recovery@lists.example.org>
//	To: <recovery@lists.example.org>
//	Subject: (kept: decoded, scrubbed like the body, re-encoded; omitted when blank)
//	Date: (Params.Date in UTC, "+0000")
//	Message-ID: <Params.MessageID>
//	In-Reply-To, References: (mapped through Params.MapRef; omitted when empty)
//	List-Id, List-Post, List-Help, List-Unsubscribe, List-Archive
//	Precedence: list
//	Content-Type, Content-Transfer-Encoding, Content-Disposition, Content-ID: (rewritten, see Body)
//
// Every other field of the original is dropped; where the original has a
// kept field twice, the first counts. A plain ASCII message without
// Content-Type gets none: RFC 2045 defaults (text/plain; charset=us-ascii)
// apply to the copy exactly as they applied to the original.
// Content-Type and Content-Disposition are re-serialized keeping only an
// allowlist of parameters (dates in Content-Disposition reveal the
// author's time zone and are dropped).
//
// Raw 8-bit header text is read as UTF-8 where valid and as windows-1252
// byte by byte elsewhere (what non-UTF-8 clients send in practice), so a
// Latin-1 "Café" survives; control characters become spaces and the
// Subject is cut at 900 bytes. References keeps at most 40 ids (the first
// and the latest). A copy whose header would exceed [MaxHeaderBytes] is
// refused rather than emitted unparseable.
//
// # Body
//
// The body is rebuilt, never copied (rewrite.go): the MIME tree is read
// (mime.go; at most 500 parts, 16 levels) and every part is written anew
// with fresh boundaries ("=_ls_" and a digest of the new Message-ID) and
// fresh Content-IDs ("partN.<digest>@<list domain>"; HTML cid: links and
// multipart/related's start are rewritten to match). Part headers keep
// only Content-Type (media type; charset, format, delsp, method, and name
// scrubbed), Content-Transfer-Encoding, Content-Disposition (type and
// filename, scrubbed) and Content-ID. A multipart's preamble and epilogue
// are dropped: readers never show them.
//
//   - text/plain is decoded (transfer encoding, then charset to UTF-8),
//     scrubbed (below), and written as 7bit when it is ASCII with short
//     lines, quoted-printable UTF-8 otherwise. An unreadable Content-Type
//     is text/plain, as RFC 2045 says.
//   - text/html is decoded the same way and cleaned by package htmlclean:
//     nothing that loads from the network (images, CSS url(), fonts,
//     frames), no scripts or forms, links kept; its text nodes and link
//     targets are scrubbed. HTML that is not already one of an
//     alternative's parts gets a generated text/plain alternative.
//   - Other text types only lose addresses and names (replace).
//   - Images (recognized by their bytes, whatever their declared type)
//     lose their metadata through package imgmeta without re-encoding
//     pixels; an image that cannot be walked makes the message refused,
//     never relayed with its metadata. Other attachments are carried byte
//     for byte (base64, or 7bit when they are short-lined ASCII).
//   - Parts that identify their owner by what they are — contact cards,
//     OpenPGP keys, detached signatures — are replaced by a one-line
//     note saying what was removed; multipart/signed loses its signature
//     and carries its content. Encrypted or opaque-signed content,
//     Outlook's winmail.dat, message/partial and message/external-body
//     are refused (554) with a reason: they cannot be anonymized.
//   - An attached message (message/rfc822, also when sent in base64)
//     keeps only From, To, Cc, Date and Subject, scrubbed, and its body
//     is rewritten like a message. Other message/* parts (delivery and
//     read reports) are scrubbed like text.
//
// # Scrubbing
//
// scrub.go and attrib.go rewrite text (the Subject too):
//
//   - The author's address anywhere (also URL-encoded), their local part
//     when distinctive, their display name, its "Last, First" form and
//     each part of it that has three letters and is not a common word
//     (words.go) become the alias address or name.
//   - The address of any member (Params.Member) becomes that member's
//     alias address, with the display name before it when written
//     "Name <address>"; strangers' addresses are kept.
//   - Plain text loses the signature block (from a "-- " line), a
//     sign-off's trailing lines ("Jane Doe" then a title and a phone,
//     then a blank line) and mobile footers ("Sent from my iPhone").
//     HTML loses the signature blocks mail clients mark.
//   - Attribution lines ("On <date>, <name> <address> wrote:", mutt's,
//     Outlook's From/Sent/To block) name the alias of the person, or
//     "Someone" for a stranger, and lose the date.
//
// Known limits: member display names are never learnt, so a member's
// name written without their address stays; text in a charset nobody
// knows is refused; metadata inside PDF and Office documents is kept
// (see the README's known limits).
package anon
