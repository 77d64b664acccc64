package webhook

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"
)

// Bounds of one delivery attempt.
const (
	attemptTimeout = 10 * time.Second
	maxBody        = 256 << 10 // a body larger than this is not sent
	maxAnswer      = 64 << 10  // what is read of the receiver's answer
)

// Client POSTs deliveries.
type Client struct {
	http *http.Client
}

// NewClient makes a client; allowPrivate lets it reach private networks
// (WEBHOOK_ALLOW_PRIVATE, for development and tests).
func NewClient(allowPrivate bool) *Client {
	dialer := &net.Dialer{Timeout: 5 * time.Second}
	if !allowPrivate {
		dialer.Control = control
	}
	transport := &http.Transport{
		DialContext:           dialer.DialContext,
		TLSHandshakeTimeout:   5 * time.Second,
		ResponseHeaderTimeout: attemptTimeout,
		MaxIdleConnsPerHost:   4,
		IdleConnTimeout:       60 * time.Second,
		// A proxy from the environment would dial instead of us, past the guard.
		Proxy: nil,
	}
	return &Client{http: &http.Client{
		Transport: transport,
		Timeout:   attemptTimeout,
		// A redirect could lead anywhere: the receiver must answer itself.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
}

// Post sends one attempt of a delivery, signed at now. Any 2xx answer
// acknowledges it; anything else is an error to retry later.
func (c *Client) Post(ctx context.Context, url, secret, deliveryID, eventType string, body []byte, now time.Time) error {
	if len(body) > maxBody {
		return fmt.Errorf("body of %d bytes exceeds %d", len(body), maxBody)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "sessionhub-webhooks/1")
	req.Header.Set(HeaderDelivery, deliveryID)
	req.Header.Set(HeaderEvent, eventType)
	req.Header.Set(HeaderSignature, Sign(secret, now, body))
	res, err := c.http.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(res.Body, maxAnswer))
	if res.StatusCode < 200 || res.StatusCode > 299 {
		return fmt.Errorf("receiver answered %d", res.StatusCode)
	}
	return nil
}
