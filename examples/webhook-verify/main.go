// Command webhook-verify is a sessionhub webhook receiver that checks every
// delivery's signature before trusting it, the way any receiver should:
//
//	Sessionhub-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, t + "." + body)>
//
// It recomputes the HMAC over the raw body with the webhook's secret,
// compares in constant time, refuses timestamps more than five minutes off
// (replayed bodies), and answers 2xx only for deliveries it accepted. A
// delivery may arrive more than once (a retry after a lost answer): the
// Sessionhub-Delivery id, the same on every retry, tells them apart.
//
//	WEBHOOK_SECRET=… ADDR=127.0.0.1:9090 go run ./examples/webhook-verify
//
// It prints "listening on <addr>", then one line per accepted delivery.
package main

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
)

const tolerance = 5 * time.Minute

func main() {
	secret, addr := os.Getenv("WEBHOOK_SECRET"), os.Getenv("ADDR")
	if secret == "" {
		log.Fatal("set WEBHOOK_SECRET")
	}
	if addr == "" {
		addr = "127.0.0.1:9090"
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("listening on", ln.Addr())
	log.Fatal(http.Serve(ln, &receiver{secret: secret, seen: map[string]bool{}}))
}

type receiver struct {
	secret string
	mu     sync.Mutex
	seen   map[string]bool
}

func (rc *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil || r.Method != http.MethodPost {
		http.Error(w, "bad request", http.StatusBadRequest)
		return
	}
	if err := verify(rc.secret, r.Header.Get("Sessionhub-Signature"), body, time.Now()); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	var delivery struct {
		ID   string `json:"id"`
		Type string `json:"type"`
	}
	if err := json.Unmarshal(body, &delivery); err != nil {
		http.Error(w, "body is not JSON", http.StatusBadRequest)
		return
	}
	rc.mu.Lock()
	again := rc.seen[delivery.ID]
	rc.seen[delivery.ID] = true
	rc.mu.Unlock()
	if again {
		fmt.Println("duplicate", delivery.ID) // acknowledged again, handled once
	} else {
		fmt.Println("verified", delivery.ID, delivery.Type)
	}
	w.WriteHeader(http.StatusNoContent)
}

// verify checks the signature header against the raw body.
func verify(secret, header string, body []byte, now time.Time) error {
	var ts string
	var sigs []string
	for part := range strings.SplitSeq(header, ",") {
		k, v, _ := strings.Cut(strings.TrimSpace(part), "=")
		switch k {
		case "t":
			ts = v
		case "v1":
			sigs = append(sigs, v)
		}
	}
	unix, err := strconv.ParseInt(ts, 10, 64)
	if err != nil || len(sigs) == 0 {
		return fmt.Errorf("malformed signature header")
	}
	if d := now.Sub(time.Unix(unix, 0)); d > tolerance || d < -tolerance {
		return fmt.Errorf("timestamp too far from now")
	}
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(ts + "."))
	mac.Write(body)
	want := hex.EncodeToString(mac.Sum(nil))
	for _, s := range sigs {
		if hmac.Equal([]byte(s), []byte(want)) {
			return nil
		}
	}
	return fmt.Errorf("signature does not match")
}
