package graph

import (
	"context"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"sessionhub/models"
)

// Default subscription caps (SPEC §7); Options can change them.
const (
	DefaultSubscriptionsPerConnection = 100
	DefaultSubscriptionsPerCaller     = 1000
)

// RateLimiter is the request rate limit a subscription start counts against.
type RateLimiter interface {
	Allow(caller string, now time.Time) (bool, time.Duration)
}

// subscriptionLimits caps the subscriptions of one WebSocket connection and
// of one caller on this replica, and charges each start to the caller's rate
// limit, so that no caller can exhaust a replica's memory.
type subscriptionLimits struct {
	perConnection, perCaller int
	limiter                  RateLimiter // nil: no rate limit

	mu       sync.Mutex
	byCaller map[string]int
}

func newSubscriptionLimits(opts Options) *subscriptionLimits {
	l := &subscriptionLimits{perConnection: opts.SubscriptionsPerConnection, perCaller: opts.SubscriptionsPerCaller,
		limiter: opts.RateLimiter, byCaller: map[string]int{}}
	if l.perConnection <= 0 {
		l.perConnection = DefaultSubscriptionsPerConnection
	}
	if l.perCaller <= 0 {
		l.perCaller = DefaultSubscriptionsPerCaller
	}
	return l
}

// admit takes a place for a new subscription, or says why there is none.
// The returned func gives the place back; call it once.
func (l *subscriptionLimits) admit(ctx context.Context) (release func(), err error) {
	caller := models.PrincipalFrom(ctx).Caller
	conn := wsConnectionFrom(ctx)
	if conn != nil && l.limiter != nil { // over HTTP (SSE) the request itself was counted
		if ok, wait := l.limiter.Allow(caller, time.Now()); !ok {
			return nil, models.ErrRateLimited(max(1, int((wait+time.Second-1)/time.Second)))
		}
	}
	if conn != nil {
		if n := conn.subscriptions.Add(1); n > int32(l.perConnection) {
			conn.subscriptions.Add(-1)
			return nil, tooManySubscriptions("connection", l.perConnection)
		}
	}
	l.mu.Lock()
	if l.byCaller[caller] >= l.perCaller {
		l.mu.Unlock()
		if conn != nil {
			conn.subscriptions.Add(-1)
		}
		return nil, tooManySubscriptions("caller", l.perCaller)
	}
	l.byCaller[caller]++
	l.mu.Unlock()
	var once sync.Once
	return func() {
		once.Do(func() {
			if conn != nil {
				conn.subscriptions.Add(-1)
			}
			l.mu.Lock()
			if l.byCaller[caller]--; l.byCaller[caller] <= 0 {
				delete(l.byCaller, caller)
			}
			l.mu.Unlock()
		})
	}, nil
}

func tooManySubscriptions(per string, limit int) *models.Error {
	return models.ErrRateLimitedBy("Too many subscriptions: at most "+strconv.Itoa(limit)+" per "+per, per, limit)
}

// wsConnection is what a WebSocket connection's context carries: how many
// subscriptions it runs, and how to close it.
type wsConnection struct {
	subscriptions atomic.Int32
	close         context.CancelFunc
}

type wsConnectionKey struct{}

func wsConnectionFrom(ctx context.Context) *wsConnection {
	c, _ := ctx.Value(wsConnectionKey{}).(*wsConnection)
	return c
}

// streamState carries a subscription's final error, for transports that
// end a stream with a last result rather than an error message of their own.
type streamState struct {
	mu  sync.Mutex
	err *gqlerror.Error
}

func (s *streamState) fail(err *gqlerror.Error) {
	s.mu.Lock()
	s.err = err
	s.mu.Unlock()
}

// take returns the final error once.
func (s *streamState) take() *gqlerror.Error {
	s.mu.Lock()
	defer s.mu.Unlock()
	err := s.err
	s.err = nil
	return err
}

type streamStateKey struct{}

func streamStateFrom(ctx context.Context) *streamState {
	s, _ := ctx.Value(streamStateKey{}).(*streamState)
	return s
}

// withStreamState gives every subscription operation a place for its final error.
func withStreamState(ctx context.Context, next graphql.OperationHandler) graphql.ResponseHandler {
	if op := graphql.GetOperationContext(ctx).Operation; op != nil && op.Operation == ast.Subscription {
		ctx = context.WithValue(ctx, streamStateKey{}, &streamState{})
	}
	return next(ctx)
}

// finalErrors turns the end of a stream that failed into one last result
// carrying the error.
func finalErrors(ctx context.Context, next graphql.ResponseHandler) *graphql.Response {
	resp := next(ctx)
	if resp != nil {
		return resp
	}
	if st := streamStateFrom(ctx); st != nil {
		if err := st.take(); err != nil {
			return &graphql.Response{Errors: gqlerror.List{err}}
		}
	}
	return nil
}
