// Package imapview serves the group archives over IMAP (go-imap v2's
// imapserver), in the same process as the rest of the service. It owns
// the mapping from IMAP onto the archive: who may log in, which
// mailboxes a login sees, sequence numbers and UIDs, FETCH sections, the
// SEARCH keys, per-member flags and live updates (IDLE). It stores
// nothing itself: messages, their precomputed listings and search index
// (listserv/msgindex) and each member's flags live in mailstore.
//
// # Mailboxes
//
// A login is a member's address and their archive password
// (listserv.Service.CheckPassword). It sees:
//
//   - INBOX, which IMAP requires. It is always empty and read-only: the
//     service's own mail to a member goes to their real mailbox, and the
//     archive has nothing personal to put here.
//   - one mailbox per group the address is a current member of (active,
//     nomail or suspended; not pending), named after the group. It holds
//     the group's archive: UIDVALIDITY is the group's, fixed for its
//     life, and the UIDs are the archive's, in posting order.
//   - GROUP/Held for the groups it administers: the posts awaiting
//     approval, already anonymized as stored, read-only. Its UIDs are the
//     held posts' ids (a store sequence, never reused) and its
//     UIDVALIDITY is the group's with the top bit flipped (fixed for the
//     group's life, never the archive's). Only waiting posts are in it:
//     a post decided (approved, rejected, discarded, expired) leaves it,
//     and a session that has it selected gets EXPUNGE at its next command
//     that allows one (not during FETCH, STORE or SEARCH) or in IDLE; a
//     newly held post comes as EXISTS. Both are driven by the service's
//     HeldChanged event, never by a timer. It has no flags: FLAGS and
//     PERMANENTFLAGS are empty and every STORE answers NO [CANNOT].
//
// A group the login is not a member of is invisible: LIST does not show
// it, SELECT, EXAMINE and STATUS answer NO [NONEXISTENT] exactly as for a
// group that does not exist. When a membership ends (the service emits
// MembershipChanged after the commit), LIST stops showing the group at
// once, and a session that has it selected gets NO [NOPERM] for every
// command on it; an IDLE on it hears of nothing more. GROUP/Held goes
// the same way when its admin is no longer one.
//
// # What may change
//
// The archive is read-only to clients: APPEND, COPY, MOVE, EXPUNGE (UID
// EXPUNGE), CREATE, DELETE and RENAME answer NO [CANNOT] and change
// nothing. Only flags change, per member, persisted in the store: \Seen,
// \Flagged, \Answered and keywords. \Deleted and \Draft are refused
// (STORE answers NO and changes nothing), since no client can expunge. A
// non-PEEK body FETCH sets \Seen after SELECT, not after EXAMINE; STORE
// after EXAMINE answers NO. CLOSE expunges nothing. Two sessions of the
// same member see each other's flag changes as untagged FETCH responses.
//
// Only the service removes posts: a member's erasure of their posts, and
// the group's archive_days (the PostsRemoved event, after the commit). A
// session that has the archive selected gets one EXPUNGE per removed post
// it knew of, highest sequence number first (each number is right when
// the client reads it), at its next command that allows EXPUNGE (not
// during FETCH, STORE or SEARCH) or at once in IDLE. Until then FETCH of a
// removed post returns nothing for it and text searches do not find it.
// UIDNEXT does not change and removed UIDs are never given again. Posts
// removed by another process (a stopped-data-dir admin command while no
// server runs) are simply absent at the next start.
//
// # Capabilities
//
// IMAP4rev1 with NAMESPACE, ESEARCH (SEARCH RETURN MIN/MAX/COUNT/ALL),
// LIST-EXTENDED, LIST-STATUS, CHILDREN, STATUS=SIZE, and what go-imap adds
// by itself (IDLE, UNSELECT, ENABLE, UTF8=ACCEPT, SASL-IR, LITERAL-,
// AUTH=PLAIN, STARTTLS). Not IMAP4rev2: it implies BINARY, SEARCHRES,
// UIDPLUS and MOVE, which this read-only view does not implement (MOVE is
// still answered, with NO). SEARCH takes every IMAP4rev1 key except
// CONDSTORE's MODSEQ.
//
// # Reading the store
//
// Every post's listing (envelope, MIME tree with byte offsets, sizes,
// dates) and searchable text are computed once when it is archived, so
// FETCH and SEARCH never parse a message: sections are cut out of the
// stored bytes. Each group's summaries (UID, size, dates) are held in
// memory, shared by its sessions, extended after each PostArchived event
// and shrunk after each PostsRemoved event (the search vocabulary is then
// rebuilt, so that no removed post's word stays in memory); a member's
// flags likewise while they have the group selected.
// FETCH reads the store in short transactions of a few dozen posts and
// writes outside them. The term index that SEARCH uses is brought up to
// date in the background, half a second after new posts (and for every
// group at start); posts it does not cover yet are searched by reading
// their text, so results never lag. Responses are written through a
// buffer that is flushed when the server waits for the client, so that
// FETCH 1:* is not one system call per message.
//
// Held posts are not in the archive, so nothing is precomputed for them:
// the first time a group's Held mailbox is opened, its waiting posts are
// read and indexed in memory (msgindex.Build), each once, and FETCH and
// SEARCH are answered from there (held queues are small, a few posts
// that wait days at most). That state is shared by the group's sessions
// and reloaded after each HeldChanged event; each session keeps the posts
// it has announced, so that it can still serve a decided post until it
// may send its EXPUNGE.
//
// # Logins and TLS
//
// A password travels in clear text only on loopback, and only when no
// certificate is configured (development): a connection from any other
// address, or any plaintext connection once tls.cert_file is set, is
// offered STARTTLS and LOGINDISABLED until it has TLS. The implicit-TLS
// listener always allows logins. An address with no current membership
// fails exactly like a wrong password. Failed logins are counted per
// address and per client IP (loopback included): past
// Options.LoginFailures in a minute, further attempts for that address or
// IP are spaced Options.LoginDelay apart, and refused when the wait would
// exceed Options.LoginMaxWait. Logs name connections by a random id and
// never hold an address, a password or an IP.
package imapview
