// Package delivery works the durable outbound queue that mailstore keeps:
// a dispatcher hands due jobs to a bounded pool of workers, each worker
// keeps one transport connection open and sends many messages over it,
// and a finisher records outcomes in group commits. A job leaves the
// store only after its delivery succeeded (or failed for good), so a
// crash, even kill -9, means each job is delivered at least once; only the
// jobs in flight at the moment of the crash can arrive twice.
//
// Retries: 4xx replies and connection errors back off exponentially
// (RetryInitial doubling up to RetryMax) until GiveUpAfter; 5xx replies
// fail at once. Both are recorded with the reason.
//
// It logs jobs by id, group and member id, never by address. Each job's
// last error is recorded with its codes first ("451 4.7.1 ..." for a
// reply, "4.4.1 ..." for the transport's own verdict), which is what
// `listserv queue list` shows.
//
// Transports:
//   - Outbox (development) writes a Maildir per recipient.
//   - Smarthost relays everything through one server (STARTTLS or
//     implicit TLS, optional AUTH PLAIN).
//   - MX delivers directly: it looks up the recipient domain's MX records
//     (A/AAAA when there are none; a null MX fails at once, 5.1.10), tries
//     the hosts in preference order (equal preferences shuffled), moving
//     on after a refused connection or an error greeting, and uses
//     STARTTLS whenever offered, opportunistically: an unverifiable
//     certificate is accepted and a failed handshake is retried in clear.
//     It keeps sessions open per recipient domain, shared by all workers
//     and capped per domain (delivery.max_per_domain). Recipients are not
//     grouped into one transaction per domain: every copy has its own
//     VERP envelope sender, so each is its own transaction, and reusing
//     the connection is what saves the round trips. Not implemented yet:
//     MTA-STS and DANE (so TLS to MX hosts resists only passive
//     eavesdropping), a cache of DNS answers or of hosts that failed,
//     REQUIRETLS, and a cap per MX host shared by several domains.
package delivery

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"listserv/mailstore"
)

// Options configure a Queue. Store and Transport are required; zero
// values elsewhere mean the documented defaults.
type Options struct {
	Store     *mailstore.DB
	Transport Transport
	// Domain is the lists' domain, for VERP envelope senders.
	Domain string
	// Workers is the number of concurrent deliveries; 0 means 8.
	Workers int
	// RetryInitial is the first retry delay (0: 1 minute); it doubles up
	// to RetryMax (0: 4 hours).
	RetryInitial, RetryMax time.Duration
	// GiveUpAfter ends retries this long after queueing (0: 5 days).
	GiveUpAfter time.Duration
	// Logger; nil means slog.Default().
	Logger *slog.Logger
	// OnResult, if set, is called after each outcome is committed (tests
	// and metrics).
	OnResult func(mailstore.Result)
}

// Queue delivers the store's queued jobs.
type Queue struct {
	opts    Options
	store   *mailstore.DB
	log     *slog.Logger
	verp    *verpSigner
	wake    chan struct{}
	jobs    chan mailstore.Job
	results chan mailstore.Result
	cache   *msgCache

	mu       sync.Mutex
	inflight map[uint64]struct{}
	// finishing is held (write) from an outcome's commit until its job
	// leaves inflight, and (read) while the dispatcher reads due jobs, so
	// that a read never sees a job that is committed as done but no longer
	// marked in flight (it would be sent twice).
	finishing sync.RWMutex
}

// batch is how many due jobs the dispatcher reads at once.
const batch = 256

// New returns a Queue; call Run to work it.
func New(opts Options) *Queue {
	if opts.Workers <= 0 {
		opts.Workers = 8
	}
	if opts.RetryInitial <= 0 {
		opts.RetryInitial = time.Minute
	}
	if opts.RetryMax <= 0 {
		opts.RetryMax = 4 * time.Hour
	}
	if opts.GiveUpAfter <= 0 {
		opts.GiveUpAfter = 5 * 24 * time.Hour
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	return &Queue{
		opts:     opts,
		store:    opts.Store,
		log:      opts.Logger,
		verp:     newVERPSigner(opts.Store.VERPKey(), opts.Domain),
		wake:     make(chan struct{}, 1),
		jobs:     make(chan mailstore.Job, batch),
		results:  make(chan mailstore.Result, batch*2),
		cache:    newMsgCache(64),
		inflight: make(map[uint64]struct{}),
	}
}

// Wake tells the dispatcher that new jobs may be due. It never blocks.
func (q *Queue) Wake() {
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

// Run works the queue until ctx ends, then lets the workers finish the
// message they are sending and records their outcomes.
func (q *Queue) Run(ctx context.Context) error {
	var workers sync.WaitGroup
	for i := 0; i < q.opts.Workers; i++ {
		workers.Add(1)
		go func() {
			defer workers.Done()
			q.worker(ctx)
		}()
	}
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		q.finisher()
	}()
	err := q.dispatch(ctx)
	close(q.jobs)
	workers.Wait()
	close(q.results)
	<-finished
	return err
}

// dispatch feeds due jobs to the workers.
func (q *Queue) dispatch(ctx context.Context) error {
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		q.finishing.RLock()
		jobs, next, err := q.store.DueJobs(time.Now(), batch, q.isInflight)
		q.finishing.RUnlock()
		if err != nil {
			q.log.Error("queue read failed", "err", err)
			next = time.Now().Add(5 * time.Second)
		}
		for _, j := range jobs {
			q.mu.Lock()
			q.inflight[j.ID] = struct{}{}
			q.mu.Unlock()
			select {
			case q.jobs <- j:
			case <-ctx.Done():
				return nil
			}
		}
		if len(jobs) == batch {
			continue
		}
		wait := time.Hour
		if !next.IsZero() {
			wait = max(time.Until(next), time.Millisecond)
		}
		timer.Reset(wait)
		select {
		case <-ctx.Done():
			return nil
		case <-q.wake:
		case <-timer.C:
		}
	}
}

func (q *Queue) isInflight(id uint64) bool {
	q.mu.Lock()
	_, ok := q.inflight[id]
	q.mu.Unlock()
	return ok
}

// finisher commits outcomes: it takes the first waiting result and every
// other one already queued, and records them in one transaction, so
// commits are shared without waiting for a batch to fill.
func (q *Queue) finisher() {
	var buf []mailstore.Result
	for first := range q.results {
		buf = append(buf[:0], first)
	drain:
		for len(buf) < 4096 {
			select {
			case r, ok := <-q.results:
				if !ok {
					break drain
				}
				buf = append(buf, r)
			default:
				break drain
			}
		}
		q.finishing.Lock()
		err := q.store.Finish(buf)
		for err != nil {
			// The store is unwritable: keep the jobs in flight (they are
			// still queued) and try again; a restart redelivers them.
			q.log.Error("recording delivery outcomes failed; retrying", "n", len(buf), "err", err)
			time.Sleep(time.Second)
			err = q.store.Finish(buf)
		}
		retry := false
		q.mu.Lock()
		for _, r := range buf {
			delete(q.inflight, r.Job.ID)
			retry = retry || r.Outcome == mailstore.Retry
		}
		q.mu.Unlock()
		q.finishing.Unlock()
		if retry {
			q.Wake() // let the dispatcher set its timer for the retry
		}
		if q.opts.OnResult != nil {
			for _, r := range buf {
				q.opts.OnResult(r)
			}
		}
	}
}
