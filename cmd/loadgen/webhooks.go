package main

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"sync/atomic"
	"time"
)

// slowReceiver is a webhook endpoint that takes its time over every POST,
// to show that sends do not wait for webhooks (they are drawn from the
// agent feed afterwards, in the background).
type slowReceiver struct {
	url      string
	delay    time.Duration
	received atomic.Int64
}

func startSlowReceiver(delay time.Duration) (*slowReceiver, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	r := &slowReceiver{url: "http://" + ln.Addr().String() + "/hook", delay: delay}
	go func() {
		_ = http.Serve(ln, http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
			_, _ = io.Copy(io.Discard, req.Body)
			time.Sleep(r.delay)
			r.received.Add(1)
			w.WriteHeader(http.StatusNoContent)
		}))
	}()
	return r, nil
}

func (r *slowReceiver) report() {
	fmt.Printf("webhook receiver (%s per POST): %d deliveries acknowledged during the run\n", r.delay, r.received.Load())
}
