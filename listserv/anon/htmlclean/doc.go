// Package htmlclean owns the HTML part of an anonymised post: Clean turns
// the HTML a member sent into HTML that is safe to relay to the group, and
// Text renders HTML as the text/plain alternative.
//
// The goal of Clean is that showing the relayed message makes no reader's
// mail client contact anybody (no tracking pixels, remote images, fonts or
// style sheets), that nothing in it can run, and that the author's name and
// address can be rewritten everywhere they appear as text.
//
// # Policy
//
// The input is parsed with the HTML5 parser (golang.org/x/net/html,
// scripting disabled so <noscript> content is markup) and the tree is
// rebuilt under allow lists; anything not known to be harmless goes.
//
// Elements are kept, unwrapped (markup removed, text kept) or dropped with
// their content:
//   - kept: document structure (html, head, body, title), text and
//     formatting elements, lists, tables, blockquote, pre, a, img (see
//     below), style (see CSS). xmp, plaintext and listing become pre.
//   - dropped with content: script, noembed, noframes, iframe, frame,
//     frameset, object, embed, applet, param, portal, fencedframe, template,
//     form controls (input, button, select, textarea, option, optgroup,
//     datalist, keygen), link, meta, base, basefont, bgsound, svg, math,
//     audio, video, source, track, canvas; also comments (Outlook renders
//     markup in conditional comments), doctypes and any non-HTML-namespace
//     element.
//   - unwrapped: noscript, form, picture (its img is then judged alone),
//     dialog, label, and every element not listed (Outlook's o:p, v:*,
//     custom elements).
//
// Attributes are kept only from an allow list of presentational and
// structural ones (align, bgcolor, border, cellpadding, class, color,
// colspan, dir, face, height, id, lang, size, title, width, ...). So every
// on* handler, background, poster, ping, formaction, action, data,
// srcset, sizes, lowsrc, dynsrc, longdesc, usemap, cite, target,
// xmlns:*, xlink:href and any namespaced attribute is removed. Only the
// first occurrence of a duplicated attribute counts, as in browsers. A kept
// value that starts, after trimming spaces and control characters and
// removing tabs and newlines, with javascript:, vbscript:, livescript: or
// data: is removed. Then:
//   - href is kept only on a and area, and only for http://, https://,
//     mailto: and "#fragment" targets; relative and protocol-relative
//     ("//host") URLs are removed, the message has no base URL. Links get
//     rel="noopener noreferrer".
//   - img keeps src only for a cid: URL that Options.CID knows (rewritten
//     to the new Content-ID, percent-encoded as needed) or for
//     data:image/{png,jpeg,gif,webp};base64 whose bytes are such an image
//     (its metadata is removed with imgmeta, as for an attached image).
//     Without a kept src the img is removed and replaced by its alt text,
//     if any.
//   - style is sanitized CSS (below) and removed when nothing survives.
//
// The document always comes out as <!DOCTYPE html><html><head><meta
// charset="utf-8">...</head><body>...</body></html>: any other meta, so any
// other charset declaration, http-equiv refresh or set-cookie, is gone.
//
// # CSS
//
// Style attributes and <style> text go through a small hand-written
// scanner that knows strings, comments, brackets, ";" and "{...}". Comments
// are replaced by a space first. A declaration, selector or @media
// condition is dropped when it contains a backslash (escapes can spell
// "url"), "<", a control character, url(, image(, image-set(, src(,
// @import, @font-face, expression, behavior, -moz-binding, javascript,
// vbscript or progid (anywhere, strings included), or a function not in an
// allow list of colour, maths, gradient, transform, shape and filter
// functions. In a style sheet, qualified rules keep their acceptable
// declarations (nested rules are dropped), @media blocks are recursed into
// (four levels), and every other at-rule is dropped. cid: references in CSS
// are dropped like any url(). The output is rebuilt from the kept pieces
// only.
//
// # Text and signatures
//
// Options.Text is applied to the merged text of every text node (title
// and the sanitized style sheets included) and to every kept attribute
// value (style after sanitizing). For href it is applied to the URL as written and, when that
// contains percent escapes, to its decoded form too (so
// "mailto:alice%40example.org" is rewritten).
//
// Options.DropSignature removes, before the policy runs:
//   - elements with a class token gmail_signature, gmail_signature_prefix
//     (Gmail), moz-signature (Thunderbird) or signature (Yahoo, various
//     webmails), or with id Signature, divRplySignature (Outlook),
//     ms-outlook-mobile-signature (Outlook mobile), AppleMailSignature
//     (Apple Mail on iOS) or _rc_sig (Roundcube);
//   - the "-- " convention: the first line, in any text node outside
//     head/style/script, that is exactly "-- " or "--" + no-break space.
//     That line and everything after it in document order inside its
//     nearest block container (div, p, pre, table, section, ...) is
//     removed. If that leaves the container empty (editors that write one
//     <div> per line), the cut continues after the container one level up,
//     but never out of a blockquote, li, td, th or the body. This is
//     repeated for every delimiter, so quoted messages lose their
//     signatures as well.
//
// Options.SignOff catches signatures nobody marked (signoff.go): the
// document is read as the lines a reader sees (text between <br>s and
// block boundaries); a line the caller recognizes as the author signing
// with their name, starting a block or following a blank line or a
// comma, followed by at most six short lines and then a blank line, a
// blockquote or the end, loses those lines (title, employer, phone).
//
// # Output stability
//
// A reader's client parses Clean's output text, not Clean's tree, and
// html.Render does not promise that the two agree (the input may parse in
// quirks mode while the output is standards mode; misnested markup can
// re-parse differently). Clean therefore re-parses and re-cleans its own
// output until it no longer changes (at most three extra passes, without
// Text or DropSignature, with every cid: already approved). The result is
// a fixed point: Clean(Clean(x)) == Clean(x) when the CID mapping is the
// identity on the new IDs; the fuzz test checks this and the security
// properties on the re-parsed output.
//
// # Known limits
//
//   - Options.Text sees one text node at a time: a name split by markup
//     ("Ali<b>ce</b>") is not matched.
//   - The attribute check for data: also removes harmless text such as
//     title="data: 2024" (we prefer dropping to guessing).
//   - CSS is filtered, not parsed: valid but unusual CSS (escapes,
//     unknown functions, @supports, @keyframes, nesting) is dropped, and a
//     selector may still reveal client behaviour through :hover etc. but
//     cannot fetch anything.
//   - Links (http, https, mailto) are kept: following one is the reader's
//     choice. Kept class and id values may carry client-specific hints.
//   - Signature detection is heuristic: signatures without one of the
//     markers above are kept, and a "-- " line in running text removes the
//     rest of its block. A top-posted reply whose "-- " block sits
//     directly in the body loses whatever follows it, quoted text
//     included (when in doubt we remove).
//   - Markup nested deeper than 512 elements is refused by the parser;
//     Clean then keeps only the text (outside script, style and similar)
//     in an otherwise empty document.
//   - Idempotence holds for the same Options only when Options.CID maps
//     the new IDs to themselves and Options.Text is idempotent; a second
//     DropSignature pass may find a delimiter that the first one created
//     by joining text around a removed comment.
package htmlclean
