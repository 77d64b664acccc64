package telemetry

import (
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
)

// Retries of a throttled or unavailable collector: exponential from
// retryFirst up to retryMax between attempts, for at most retryTotal per
// batch, and never past the caller's deadline.
const (
	retryFirst = time.Second
	retryMax   = 30 * time.Second
	retryTotal = time.Minute
)

// maxResponseRead bounds what is read of a collector's answer.
const maxResponseRead = 64 << 10

// otlpHTTPClient posts spans to an OTLP/HTTP collector as protobuf, for
// otlptrace.New. It does what otlptracehttp does for sessionhub without
// linking gRPC (see otlpwire.go).
type otlpHTTPClient struct {
	url     string
	header  http.Header
	gzip    bool
	http    *http.Client
	stopped context.Context
	stop    context.CancelFunc
	sleep   func(context.Context, time.Duration) error // replaced in tests
}

var _ otlptrace.Client = (*otlpHTTPClient)(nil)

func newOTLPHTTPClient(url string, opts ExporterOptions) *otlpHTTPClient {
	if opts.timeout == 0 {
		opts.timeout = defaultExportTimeout
	}
	transport := http.DefaultTransport.(*http.Transport).Clone()
	transport.TLSClientConfig = opts.tls
	stopped, stop := context.WithCancel(context.Background())
	header := opts.header.Clone()
	if header == nil {
		header = http.Header{}
	}
	header.Set("Content-Type", "application/x-protobuf")
	header.Set("User-Agent", "OTel OTLP Exporter Go/"+otlptrace.Version())
	if opts.gzip {
		header.Set("Content-Encoding", "gzip")
	}
	return &otlpHTTPClient{
		url:     url,
		header:  header,
		gzip:    opts.gzip,
		http:    &http.Client{Transport: transport, Timeout: opts.timeout},
		stopped: stopped,
		stop:    stop,
		sleep:   sleepContext,
	}
}

func (c *otlpHTTPClient) Start(context.Context) error { return nil }

// Stop interrupts uploads in flight; the batcher has flushed before.
func (c *otlpHTTPClient) Stop(context.Context) error {
	c.stop()
	return nil
}

// UploadTraces posts one batch, retrying while the collector asks to.
func (c *otlpHTTPClient) UploadTraces(ctx context.Context, resourceSpans []*tracepb.ResourceSpans) error {
	body, err := marshalExportRequest(resourceSpans)
	if err != nil {
		return err
	}
	if c.gzip {
		if body, err = gzipped(body); err != nil {
			return err
		}
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	defer context.AfterFunc(c.stopped, cancel)()

	giveUp := time.Now().Add(retryTotal)
	if d, ok := ctx.Deadline(); ok && d.Before(giveUp) {
		giveUp = d
	}
	backoff := retryFirst
	for {
		wait, err := c.post(ctx, body)
		if err == nil || wait < 0 {
			return err
		}
		if wait == 0 {
			// Jitter, so that replicas do not retry in step.
			wait = backoff/2 + rand.N(backoff/2+1)
			backoff = min(2*backoff, retryMax)
		}
		if time.Now().Add(wait).After(giveUp) {
			return fmt.Errorf("%w; giving up, the next try (in %s) would be past the deadline", err, wait.Round(time.Millisecond))
		}
		if sleepErr := c.sleep(ctx, wait); sleepErr != nil {
			return fmt.Errorf("%w; %w while waiting to try again", err, sleepErr)
		}
	}
}

// post sends body once. On failure, wait says when to try again: -1 never,
// 0 after the usual backoff, more when the collector said so (Retry-After).
func (c *otlpHTTPClient) post(ctx context.Context, body []byte) (wait time.Duration, err error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.url, bytes.NewReader(body))
	if err != nil {
		return -1, err
	}
	req.Header = c.header.Clone()
	res, err := c.http.Do(req)
	if err != nil {
		return -1, fmt.Errorf("OTLP export to %s: %w", c.url, err)
	}
	defer res.Body.Close()
	answer, _ := io.ReadAll(io.LimitReader(res.Body, maxResponseRead))
	_, _ = io.Copy(io.Discard, io.LimitReader(res.Body, maxResponseRead)) // lets the connection be reused

	switch res.StatusCode {
	case http.StatusTooManyRequests, http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		return retryAfter(res.Header.Get("Retry-After")), fmt.Errorf("OTLP export to %s: %s%s", c.url, res.Status, excerpt(answer))
	}
	if res.StatusCode < 200 || res.StatusCode > 299 {
		return -1, fmt.Errorf("OTLP export to %s: %s%s", c.url, res.Status, excerpt(answer))
	}
	if strings.HasPrefix(res.Header.Get("Content-Type"), "application/x-protobuf") {
		// The batch is accepted; what the collector dropped is only reported.
		if rejected, msg, err := partialSuccess(answer); err == nil && (rejected != 0 || msg != "") {
			otel.Handle(fmt.Errorf("OTLP export to %s: collector rejected %d spans%s", c.url, rejected, excerpt([]byte(msg))))
		}
	}
	return 0, nil
}

// retryAfter reads a Retry-After value (seconds or an HTTP date); 0 when
// absent or unreadable.
func retryAfter(value string) time.Duration {
	if value == "" {
		return 0
	}
	if s, err := strconv.Atoi(strings.TrimSpace(value)); err == nil {
		if s <= 0 {
			return time.Millisecond // retry at once, but not with the backoff
		}
		return time.Duration(s) * time.Second
	}
	if t, err := http.ParseTime(value); err == nil {
		return max(time.Until(t), time.Millisecond)
	}
	return 0
}

// excerpt is a short, printable prefix of a collector's answer, for errors
// and logs: the body may be long or binary.
func excerpt(answer []byte) string {
	const limit = 120
	s := strings.ToValidUTF8(string(answer[:min(len(answer), 4*limit)]), "")
	s = strings.Map(func(r rune) rune {
		if unicode.IsPrint(r) {
			return r
		}
		return ' '
	}, s)
	s = strings.Join(strings.Fields(s), " ")
	if s == "" {
		return ""
	}
	if r := []rune(s); len(r) > limit {
		s = string(r[:limit]) + "…"
	}
	return ": " + s
}

func gzipped(b []byte) ([]byte, error) {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if _, err := zw.Write(b); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func sleepContext(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
