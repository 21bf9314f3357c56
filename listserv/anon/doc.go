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
//     allowlist plus fresh list fields, and a body rewritten by rewriteBody.
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
//	Content-Type, Content-Transfer-Encoding, Content-Disposition: (kept)
//
// Every other field of the original is dropped; where the original has a
// kept field twice, the first counts. A message without
// Content-Type gets none: RFC 2045 defaults (text/plain; charset=us-ascii)
// apply to the copy exactly as they applied to the original, and adding a
// charset would be a guess. Content-Type and Content-Disposition are
// re-serialized keeping only an allowlist of parameters (dates in
// Content-Disposition reveal the author's time zone and are dropped); when
// Content-Type cannot be parsed its value is kept as it was and the body
// is treated as opaque.
//
// Raw 8-bit header text is read as UTF-8 where valid and as windows-1252
// byte by byte elsewhere (what non-UTF-8 clients send in practice), so a
// Latin-1 "Café" survives; control characters become spaces and the
// Subject is cut at 900 bytes. References keeps at most 40 ids (the first
// and the latest). A copy whose header would exceed [MaxHeaderBytes] is
// refused rather than emitted unparseable.
//
// # Body (first cut)
//
// rewriteBody is the single place the body changes. Today it does two
// things. A single-part text/plain body (or one without Content-Type) in
// 7bit, 8bit or no transfer encoding is scrubbed: the author's address
// (anywhere, case-insensitive) becomes the alias address, their whole
// display name (case-insensitive, as a word, even across a line break)
// the alias name, and the signature block (from a line "-- " to the end)
// is removed. Latin-1 and windows-1252 bodies are matched as text, not
// bytes. A multipart body keeps its bytes but gets a fresh top-level
// boundary (client boundaries often embed a host name). Every other body
// (base64, quoted-printable, HTML, the parts inside a multipart) passes
// through unchanged until the MIME rewriter replaces rewriteBody: names
// and addresses there are not scrubbed yet.
package anon
