// Package bench measures listserv's two throughput paths, in one process
// on loopback, each run on a fresh data directory:
//
//   - BenchmarkIngest/senders=1 and /senders=8: posts acknowledged (SMTP
//     250, that is durably committed with one queued delivery per member)
//     per second, to a group of 100 members, messages of about 3 KB, each
//     sender on its own SMTP connection sending one transaction after
//     another. One op is a round of 1,000 posts. Delivery runs meanwhile
//     (dispatcher, 8 workers, finisher commits), but into a transport
//     that accepts each message at once instead of an SMTP sink: in
//     production the smarthost is another machine, and here its CPU would
//     be taken from ingest on the same two cores (with the sink, ingest
//     measured 3x slower with 1 sender: it measured delivery, which is
//     what Fanout is for). The store contention that delivery causes —
//     outcome commits sharing the committer with posts — is kept.
//   - BenchmarkFanout/workers=8 and /workers=16: a group of 1,000 members,
//     100 posts (one sender); deliveries per second from the first post
//     until the sink has counted all 100,000, through the smarthost
//     transport with that many delivery workers (one SMTP connection
//     each). One op is one such round.
//   - BenchmarkSinkBaseline/conns=8 and /conns=16: the same sink, the
//     same message size and a VERP-length envelope sender, but no store:
//     that many goroutines each send MAIL/RCPT/DATA transactions over one
//     go-smtp client connection, 100,000 in all. This is the ceiling that
//     fan-out can reach on this machine; fan-out ÷ baseline is the
//     figure to watch.
//
// The sink is internal/smtpsink with Discard: it reads each message whole,
// counts it and forgets it.
// Every group has its posts_per_hour limit turned off with the store API,
// so that many posts from 100 members are not refused as a flood.
//
// Run everything three times and print medians and ratios:
//
//	bench/run.sh
//
// or one benchmark directly, e.g.:
//
//	go test -run '^$' -bench 'Fanout' -benchtime=1x -count=3 ./bench/
//
// Each run reports its metric (posts/s or deliveries/s) next to ns/op;
// ns/op is the time of one round and matters less. The numbers depend
// heavily on the machine: compare fan-out with the baseline measured in
// the same run, not with another machine's figures. `go test ./bench/`
// alone runs only TestHarnessSmoke, a tiny version of each path.
package bench
