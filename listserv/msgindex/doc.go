// Package msgindex reads an archived post once, when it is archived, and
// produces everything that reading the archive later needs without
// reparsing it (a [mailstore.PostIndex]): the listing (size, dates,
// envelope, the MIME tree with the byte offsets of every part) and the
// searchable text (header and body decoded to UTF-8 and case-folded). The
// words of that text, with where they occur, are indexed afterwards from
// the stored text, many posts per commit ([IndexTerms]). It also answers
// substring searches over text and index ([Searcher]).
//
// It owns the MIME parsing of archived bytes and the text normalization
// that searching relies on ([Fold], [Terms]): the same functions build the
// index and read the queries, so that the two always agree. It is
// protocol-neutral: the IMAP view (listserv/imapview) maps IMAP's part
// numbers, sections and search keys onto what this package returns.
//
// The parser never fails and never panics: a malformed structure is read
// as well as it can be (an unterminated multipart ends at the end of its
// body, a multipart without parts gets one text part covering its body, a
// Content-Type that does not parse is text/plain, nesting deeper than
// [MaxDepth] is left opaque). Body text is decoded from base64 and
// quoted-printable and converted from its charset; text/html is searched
// without its tags. At most [MaxTextBytes] of text per post are indexed.
//
// Searching: a term is a run of letters, digits and combining marks in the
// folded text. A query that is a single term matches exactly the posts
// whose index lists a term containing it (the vocabulary of the group is
// held in memory, so a substring of a term is found too). Any other
// query narrows the candidates with its terms and then reads the
// candidates' text, so the result is always IMAP's substring semantics,
// case-insensitive, over decoded text.
package msgindex
